#!/usr/bin/env Rscript
# Generate the GLMM interval references: lme4's profile-likelihood intervals
# (`confint(fit, method = "profile")`) and its parametric-bootstrap percentile intervals
# (`bootMer` + boot's percentile rule, as `confint(fit, method = "boot")`) for glmer fits.
#
#   Rscript xtask/r/reference_glmm_intervals.R [<repo-root>]   (default: the current directory)
#
# Output: tests/reference/glmm_intervals/<name>.json
#
# What lme4 1.1-31 computes (R/profile.R, `profile.merMod` and `devfun2`):
#   the parameters are the standard deviations / correlations of the random effects (no sigma
#   for binomial and Poisson) and the fixed effects; the deviance is glmer's own deviance
#   function of (theta, beta) (the Laplace approximation, PIRLS over u only); each parameter
#   is fixed on a grid and all the others are re-optimised; zeta = sign * sqrt(dev - dev_hat);
#   the limits are read off an interpolating spline of the inverse profile.
# Bootstrap: bootMer(fit, FUN, nsim, seed, use.u = FALSE, type = "parametric") simulates
#   responses from the fitted model with new random effects and refits; FUN returns the sd/cor
#   parameters and the fixed effects. Our streams are not R's, so only the distribution can
#   agree: the JSON holds R's percentile limits, the replicates' means and standard deviations,
#   and a Monte-Carlo standard error of each limit (the half distance between the order
#   statistics at p -/+ sqrt(p (1 - p) / R), a binomial-interval estimate of one standard error
#   of a sample quantile). The Rust check allows 4 combined Monte-Carlo standard errors.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)
arr <- function(x) I(unname(as.vector(x)))

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

sorted_levels <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

read_data_csv <- function(path, factors = character(0)) {
  df <- read.csv(path, stringsAsFactors = FALSE, na.strings = "NA", check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    lev <- sorted_levels(df[[nm]])
    df[[nm]] <- factor(as.character(df[[nm]]), levels = lev)
  }
  df
}

# The sd/cor parameters (lme4's Sv order: per term the lower triangle column by column, sds on
# the diagonal) and the fixed effects of a fit.
sv_beta <- function(fit) {
  sv <- lme4:::Cv_to_Sv(getME(fit, "theta"), lengths(fit@cnms))
  c(sv, fixef(fit))
}

# lme4's labels in the `oldNames = FALSE` style used by the Rust side.
sv_names <- function(fit) {
  out <- character(0)
  for (g in seq_along(fit@cnms)) {
    cn <- fit@cnms[[g]]
    grp <- names(fit@cnms)[g]
    k <- length(cn)
    for (c in seq_len(k)) for (r in c:k) {
      out <- c(out, if (r == c) sprintf("sd_%s|%s", cn[r], grp)
                    else sprintf("cor_%s.%s|%s", cn[r], cn[c], grp))
    }
  }
  out
}

perc <- function(v, p) {
  # boot's norm.inter percentile (what confint(method = "boot") reports).
  boot:::norm.inter(v, p)[, 2]
}

mc_se <- function(v, p) {
  r <- length(v)
  d <- sqrt(p * (1 - p) / r)
  s <- sort(v)
  lo <- s[max(1, floor(r * (p - d)))]
  hi <- s[min(r, ceiling(r * (p + d)))]
  (hi - lo) / 2
}

models <- list(
  list(name = "cbpp", dataset = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       family = "binomial", factors = c("herd", "period"), nsim = 1000, seed = 20261207),
  list(name = "poisson_crossed", csv = "tests/data/poisson_crossed.csv",
       formula = "y ~ x + (1 | subj) + (1 | item)", family = "poisson",
       factors = c("subj", "item"), nsim = 1000, seed = 20261208)
)

for (spec in models) {
  cat(spec$name, "\n")
  if (!is.null(spec$csv)) {
    df <- read_data_csv(rel(spec$csv), spec$factors)
    names(df)[names(df) == "Y"] <- "y"
    data_field <- list(csv = spec$csv)
  } else {
    df <- get(spec$dataset, envir = asNamespace("lme4"))
    data_field <- list(dataset = spec$dataset)
  }
  fam <- get(spec$family)()
  fit <- glmer(as.formula(spec$formula), data = df, family = fam)
  nms <- c(sv_names(fit), names(fixef(fit)))
  t_prof <- system.time(pr <- profile(fit))[["elapsed"]]
  ci <- confint(pr, level = 0.95)
  t_boot <- system.time(bb <- suppressWarnings(suppressMessages(
    bootMer(fit, FUN = sv_beta, nsim = spec$nsim, seed = spec$seed, use.u = FALSE,
            type = "parametric"))))[["elapsed"]]
  reps <- bb$t[stats::complete.cases(bb$t), , drop = FALSE]
  boot <- lapply(seq_along(nms), function(j) {
    v <- reps[, j]
    list(term = nms[j], lower = perc(v, 0.025), upper = perc(v, 0.975),
         lower_mc_se = mc_se(v, 0.025), upper_mc_se = mc_se(v, 0.975),
         mean = mean(v), sd = sd(v))
  })
  out <- list(
    name = spec$name,
    formula = spec$formula,
    data = data_field,
    factors = arr(spec$factors),
    family = spec$family,
    lme4_version = packageDescription("lme4")$Version,
    r_version = R.version.string,
    loglik = as.numeric(logLik(fit)),
    estimates = arr(sv_beta(fit)),
    level = 0.95,
    profile = lapply(seq_along(nms), function(j)
      list(term = nms[j], lower = unname(ci[j, 1]), upper = unname(ci[j, 2]))),
    profile_time_s = t_prof,
    boot_nsim = spec$nsim,
    boot_ok = nrow(reps),
    boot_seed = spec$seed,
    boot = boot,
    boot_time_s = t_boot
  )
  write_json_file(out, rel("tests", "reference", "glmm_intervals", paste0(spec$name, ".json")))
}
