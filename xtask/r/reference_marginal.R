#!/usr/bin/env Rscript
# Generate the marginal-model references: geepack's `geeglm` (GEE with sandwich standard errors)
# and clubSandwich's cluster-robust covariances (CR0, CR1S, CR2 with Satterthwaite df) for `lm`
# and `lmer` fits.
#
#   Rscript xtask/r/reference_marginal.R [<repo-root>]     (default: the current directory)
#
# Outputs (all under tests/reference/marginal/):
#   <name>.csv   data sets (dietox and ohio from geepack, epil from MASS, sleepstudy from lme4),
#                each sorted by its cluster (and time within cluster), as geepack requires
#   gee.json     geeglm fits: every family (gaussian, binomial, poisson) with every working
#                correlation (independence, exchangeable, ar1)
#   cr.json      clubSandwich::coef_test(fit, vcov = CR0 | CR1S | CR2, test = "Satterthwaite")
#                for lm and lmer (random-intercept and random-slope) fits
#
# As in the other reference scripts every model is fitted to the data READ BACK from its CSV.
# geeglm is run with a tight convergence tolerance (geese.control(epsilon = 1e-12)) so that the
# references are the solution of the estimating equations rather than geepack's default
# stopping point (epsilon = 1e-4 on the parameter change); the Rust side iterates to 1e-10.
#
# Definitions (checked against geepack's C++ source, gee2.cc):
#   scale = mean of the squared Pearson residuals (no df correction), geeglm's "Estimated Scale"
#   alpha = exchangeable: mean over all within-cluster pairs of r_ij r_ik / scale;
#           ar1: the root of sum over pairs of d a^(d-1) (r_ij r_ik / scale - a^d), d = |j - k|
#   wald  = (estimate / std_error)^2, p_value = P(chi^2_1 > wald)  (geeglm's summary table)
#   CR1   = clubSandwich's CR1S (Stata): CR0 * G (N - 1) / ((G - 1) (N - p))

suppressPackageStartupMessages({
  library(geepack)
  library(clubSandwich)
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)
outdir <- rel("tests", "reference", "marginal")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

write_json_file <- function(obj, path) {
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE)
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

write_data <- function(df, name) {
  path <- file.path(outdir, paste0(name, ".csv"))
  write.csv(df, path, row.names = FALSE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
  read.csv(path, stringsAsFactors = TRUE)
}

# ---- data ----
data(dietox, package = "geepack")
dietox <- dietox[order(dietox$Pig, dietox$Time), c("Pig", "Cu", "Time", "Weight")]
dietox$Pig <- as.integer(as.character(dietox$Pig))
dietox <- write_data(dietox, "dietox")

data(ohio, package = "geepack")
ohio <- ohio[order(ohio$id, ohio$age), ]
ohio <- write_data(ohio, "ohio")

epil <- MASS::epil
epil <- epil[order(epil$subject, epil$period), c("y", "trt", "lbase", "lage", "V4", "subject", "period")]
epil <- write_data(epil, "epil")

sleep <- lme4::sleepstudy
sleep$Subject <- as.integer(as.character(sleep$Subject))
sleep <- write_data(sleep, "sleepstudy")
sleep$Subject <- factor(sleep$Subject)

hsb <- read.csv(rel("tests", "data", "hsb82.csv"), stringsAsFactors = TRUE)
hsb$school <- factor(hsb$school)

# ---- GEE ----
gee_cases <- list(
  list(data = "dietox", formula = "Weight ~ Time + Cu", id = "Pig", family = "gaussian"),
  list(data = "ohio", formula = "resp ~ age + smoke", id = "id", family = "binomial"),
  list(data = "epil", formula = "y ~ lbase + trt + lage + V4", id = "subject", family = "poisson")
)
frames <- list(dietox = dietox, ohio = ohio, epil = epil)
gee_out <- list()
for (cs in gee_cases) {
  for (corstr in c("independence", "exchangeable", "ar1")) {
    d <- frames[[cs$data]]
    d$.id <- d[[cs$id]]
    fam <- get(cs$family)()
    fit <- geeglm(as.formula(cs$formula), id = .id, data = d, family = fam, corstr = corstr,
                  control = geese.control(epsilon = 1e-12, maxit = 200))
    co <- summary(fit)$coefficients
    alpha <- if (corstr == "independence") NULL else unname(fit$geese$alpha[[1]])
    name <- paste(cs$data, corstr, sep = "_")
    cat(name, ": alpha", if (is.null(alpha)) "-" else alpha, " scale", fit$geese$gamma, "\n")
    gee_out[[length(gee_out) + 1]] <- list(
      name = name, data = paste0(cs$data, ".csv"), formula = cs$formula, cluster = cs$id,
      family = cs$family, link = fam$link, corstr = corstr,
      nobs = nrow(d), clusters = length(unique(d$.id)),
      scale = unname(fit$geese$gamma[[1]]), alpha = alpha,
      fixed = lapply(seq_len(nrow(co)), function(i) list(
        term = rownames(co)[i], estimate = co[i, "Estimate"], std_error = co[i, "Std.err"],
        wald = co[i, "Wald"], p_value = co[i, "Pr(>|W|)"])),
      error = fit$geese$error
    )
  }
}
write_json_file(list(geepack_version = as.character(packageVersion("geepack")),
                     r_version = R.version.string, cases = gee_out),
                file.path(outdir, "gee.json"))

# ---- cluster-robust covariance ----
cr_cases <- list(
  list(name = "sleepstudy_ols", data = "sleepstudy.csv", model = "ols",
       formula = "Reaction ~ Days", cluster = "Subject", frame = sleep),
  list(name = "sleepstudy_lmm_intercept", data = "sleepstudy.csv", model = "lmm",
       formula = "Reaction ~ Days + (1 | Subject)", cluster = "Subject", frame = sleep),
  list(name = "sleepstudy_lmm_slope", data = "sleepstudy.csv", model = "lmm",
       formula = "Reaction ~ Days + (Days | Subject)", cluster = "Subject", frame = sleep),
  list(name = "hsb82_ols", data = "../../data/hsb82.csv", model = "ols",
       formula = "mAch ~ ses", cluster = "school", frame = hsb),
  list(name = "hsb82_lmm_intercept", data = "../../data/hsb82.csv", model = "lmm",
       formula = "mAch ~ ses + (1 | school)", cluster = "school", frame = hsb)
)
cr_out <- list()
for (cs in cr_cases) {
  d <- cs$frame
  fit <- if (cs$model == "ols") lm(as.formula(cs$formula), data = d) else
    lmer(as.formula(cs$formula), data = d, REML = TRUE)
  types <- list()
  for (ty in c("CR0", "CR1S", "CR2")) {
    ct <- coef_test(fit, vcov = ty, cluster = d[[cs$cluster]], test = "Satterthwaite")
    key <- if (ty == "CR1S") "CR1" else ty
    types[[key]] <- lapply(seq_len(nrow(ct)), function(i) list(
      term = as.character(ct$Coef[i]), estimate = ct$beta[i], std_error = ct$SE[i],
      t = ct$tstat[i], df = ct$df_Satt[i], p_value = ct$p_Satt[i]))
  }
  cat(cs$name, ": CR2 se", sapply(types$CR2, function(r) r$std_error), "\n")
  cr_out[[length(cr_out) + 1]] <- list(
    name = cs$name, data = cs$data, model = cs$model, formula = cs$formula,
    cluster = cs$cluster, nobs = nrow(d), clusters = length(unique(d[[cs$cluster]])),
    types = types)
}
write_json_file(list(clubSandwich_version = as.character(packageVersion("clubSandwich")),
                     lme4_version = as.character(packageVersion("lme4")),
                     r_version = R.version.string, cases = cr_out),
                file.path(outdir, "cr.json"))
