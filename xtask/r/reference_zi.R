#!/usr/bin/env Rscript
# Generate the zero-inflated count GLMM references: glmmTMB (1.1.5) with `ziformula`, Poisson,
# nbinom2 and nbinom1 conditional models (and nbinom1 without zero-inflation, ziformula ~0).
#
#   Rscript xtask/r/reference_zi.R [<repo-root>]     (default: the current directory)
#
# Outputs:
#   tests/data/zi_counts.csv         a simulated zero-inflated study (fixed seed, written here)
#   tests/reference/zi/<name>.json   glmmTMB fits
#
# tests/data/owls.csv (glmmTMB's Owls, written by reference_negbin.R) is read, not rewritten:
# its `SiblingNegotiation` column is what glmmTMB's examples call NCalls.
#
# Data flow as in the other reference scripts: every model is fitted to the data READ BACK from
# the CSV, so R sees exactly what the Rust side sees.
#
# What glmmTMB computes: the Laplace approximation of the marginal likelihood with the exact
# (observed) Hessian of the joint log-density in the random effects (TMB), maximised over
# (beta, betazi, betad = log theta for nbinom2, theta = log sd of the random effects) by nlminb;
# standard errors from sdreport: the inverse of the (finite-difference of the exact gradient)
# Hessian of -logLik in all those parameters. vcov(fit)$cond / $zi are its blocks; the
# dispersion's (sigma(fit): theta for nbinom2, var = mu + mu^2/theta; phi for nbinom1,
# var = mu (1 + phi)) standard error is the delta method on betad = log sigma.

suppressPackageStartupMessages({
  library(glmmTMB)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)

arr <- function(x) I(unname(as.vector(if (is.null(x)) numeric(0) else x)))

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

num_text <- function(x) {
  out <- sprintf("%.15g", x)
  for (d in c(16, 17)) {
    bad <- !is.na(x) & as.numeric(out) != x
    if (!any(bad)) break
    out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  out[is.na(x)] <- "NA"
  out
}

write_data_csv <- function(df, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  out <- df
  for (nm in names(out)) {
    col <- out[[nm]]
    if (is.factor(col)) out[[nm]] <- as.character(col)
    else if (is.double(col)) out[[nm]] <- num_text(col)
  }
  write.csv(out, path, row.names = FALSE, na = "NA", quote = FALSE)
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

datasets <- list(
  # A zero-inflated count study: 40 sites x 10 visits; counts NB2 (theta = 3) with
  # log mu = 0.7 + 0.5 x + u_site (sd 0.6), structural zeros with logit pi = -0.8 + 1.0 z.
  zi_counts = list(factors = c("site"), write = TRUE, make = function() {
    set.seed(20261208)
    ng <- 40; m <- 10
    g <- rep(seq_len(ng), each = m)
    x <- round(rnorm(ng * m), 3)
    z <- round(rnorm(ng * m), 3)
    u <- rnorm(ng, sd = 0.6)
    mu <- exp(0.7 + 0.5 * x + u[g])
    pz <- plogis(-0.8 + 1.0 * z)
    y <- ifelse(runif(ng * m) < pz, 0, rnbinom(ng * m, size = 3, mu = mu))
    data.frame(y = as.double(y), x = x, z = z, site = sprintf("S%02d", g))
  }),
  owls = list(factors = c("Nest", "FoodTreatment", "SexParent"), write = FALSE)
)
dataset_path <- function(name) file.path("tests", "data", paste0(name, ".csv"))
load_data <- function(name) read_data_csv(rel(dataset_path(name)), datasets[[name]]$factors)

quiet <- function(expr) {
  warns <- character(0)
  val <- withCallingHandlers(expr, warning = function(w) {
    warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning")
  }, message = function(m) invokeRestart("muffleMessage"))
  list(value = val, warnings = unique(warns))
}

write_zi <- function(spec) {
  df <- load_data(spec$data)
  form <- as.formula(spec$formula)
  ziform <- as.formula(spec$zi)
  fam <- switch(spec$family, poisson = poisson, nbinom2 = nbinom2, nbinom1 = nbinom1)
  times <- numeric(spec$reps)
  for (r in seq_len(spec$reps)) {
    times[r] <- system.time(run <- quiet(glmmTMB(form, ziformula = ziform, data = df,
                                                 family = fam)))[["elapsed"]]
  }
  tm <- run$value
  ll <- logLik(tm)
  V <- vcov(tm)
  sdr <- tm$sdr
  nb_theta <- NULL
  nb_theta_se <- NULL
  if (spec$family %in% c("nbinom2", "nbinom1")) {
    lth_se <- sqrt(diag(sdr$cov.fixed))[names(sdr$par.fixed) == "betad"]
    nb_theta <- sigma(tm)
    nb_theta_se <- sigma(tm) * lth_se
  }
  out <- list(
    name = spec$name,
    formula = spec$formula,
    zi_formula = spec$zi,
    data = list(csv = dataset_path(spec$data)),
    factors = arr(datasets[[spec$data]]$factors),
    family = spec$family,
    link = "log",
    glmmTMB_version = packageDescription("glmmTMB")$Version,
    r_version = R.version.string,
    nobs = nobs(tm),
    loglik = as.numeric(ll),
    npar = attr(ll, "df"),
    aic = AIC(tm),
    bic = BIC(tm),
    df_resid = df.residual(tm),
    beta = arr(fixef(tm)$cond),
    beta_names = arr(names(fixef(tm)$cond)),
    se = arr(sqrt(diag(V$cond))),
    zi_beta = arr(fixef(tm)$zi),
    zi_names = arr(names(fixef(tm)$zi)),
    zi_se = arr(if (is.null(V$zi)) numeric(0) else sqrt(diag(V$zi))),
    nb_theta = nb_theta,
    nb_theta_se = nb_theta_se,
    re_sd = arr(sqrt(unlist(lapply(VarCorr(tm)$cond, function(v) diag(v))))),
    par_fixed = arr(sdr$par.fixed),
    par_fixed_names = arr(names(sdr$par.fixed)),
    max_grad = max(abs(sdr$gradient.fixed)),
    pdHess = sdr$pdHess,
    warnings = arr(run$warnings),
    time_reps = spec$reps,
    time_s = round(median(times), 4)
  )
  write_json_file(out, rel("tests", "reference", "zi", paste0(spec$name, ".json")))
  if (length(run$warnings)) cat("    glmmTMB said:", paste(run$warnings, collapse = " | "), "\n")
}

zi <- function(name, data, formula, zi, family, reps = 3L)
  list(name = name, data = data, formula = formula, zi = zi, family = family, reps = reps)
owls_f <- "SiblingNegotiation ~ FoodTreatment + SexParent + offset(log(BroodSize)) + (1 | Nest)"
models <- list(
  zi("owls_zip", "owls", owls_f, "~1", "poisson"),
  zi("owls_zinb2", "owls", owls_f, "~1", "nbinom2"),
  zi("owls_zinb2_food", "owls", owls_f, "~FoodTreatment", "nbinom2"),
  zi("zi_counts_zip", "zi_counts", "y ~ x + (1 | site)", "~z", "poisson"),
  zi("zi_counts_zinb2", "zi_counts", "y ~ x + (1 | site)", "~z", "nbinom2"),
  zi("owls_nb1", "owls", owls_f, "~0", "nbinom1"),
  zi("owls_zinb1", "owls", owls_f, "~1", "nbinom1"),
  zi("zi_counts_zinb1", "zi_counts", "y ~ x + (1 | site)", "~z", "nbinom1")
)

t0 <- proc.time()[["elapsed"]]
cat("R:", R.version.string, "| glmmTMB:", packageDescription("glmmTMB")$Version, "\n")
for (name in names(datasets)) {
  if (isTRUE(datasets[[name]]$write)) write_data_csv(datasets[[name]]$make(), rel(dataset_path(name)))
}
for (spec in models) write_zi(spec)
cat(sprintf("done in %.1f s\n", proc.time()[["elapsed"]] - t0))
