#!/usr/bin/env Rscript
# Generate the negative binomial (NB2) GLMM references: lme4's `glmer.nb`, with glmmTMB's
# `nbinom2` fit of the same model alongside (a different Laplace approximation, see below).
#
#   Rscript xtask/r/reference_negbin.R [<repo-root>]     (default: the current directory)
#
# Outputs:
#   tests/data/<name>.csv                data sets made here (simulated with a fixed seed, or
#                                        exported from glmmTMB)
#   tests/reference/negbin/<name>.json   glmer.nb fits (+ the glmmTMB nbinom2 fit, `glmmtmb`)
#
# Data flow as in reference_glmm.R: each data set is written to CSV first and every model is
# fitted to the data READ BACK from that CSV, so R sees exactly what the Rust side sees.
#
# What glmer.nb computes (lme4 1.1-x, R/glmernb.R):
#   1. a Poisson glmer fit g0 of the same formula;
#   2. theta0 = MASS::theta.ml(y, fitted(g0), limit = 20, eps = 1e-4);
#   3. glmer with MASS::negative.binomial(theta0), then optimize() over t = log(theta) in
#      log(theta0) + c(-3, 3) (tol 5e-5) of -2 logLik of the refit with negative.binomial(exp(t)):
#      for fixed theta, the Laplace objective log|L|^2 + ||u||^2 + family$aic (PIRLS with the
#      expected-information working weights); the reported fit is the refit at the optimum.
#   loglik_fresh: glmer's Laplace deviance function at theta_hat evaluated afresh at the fit's
#   (theta_RE, beta): the stored logLik is the PIRLS state left by the optimiser's last,
#   warm-started evaluation and can differ from it by ~1e-4.
#   logLik's df counts theta (npar = p + length(theta_RE) + 1); df.resid = n - npar; sigma = 1;
#   vcov(beta) is glmer's (Hessian of the Laplace objective at fixed theta).
#   theta_se: glmer.nb reports none. Here: the curvature of the profiled deviance
#   D(t) = -2 logLik(refit at theta = exp(t)) at t_hat by the central difference with step
#   h = 0.02: var(t_hat) = 2 / D''(t_hat), se(theta) = theta * sqrt(var(t_hat)).
# glmmTMB's nbinom2 integrates the random effects by the Laplace approximation with the
# observed (exact) Hessian and maximises over theta jointly; its logLik differs from
# glmer.nb's by ~1e-3 to 1e-1 (different approximation), its theta's standard error is the
# delta method on log(theta) from the joint Hessian.

suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(MASS)
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
  # An overdispersed count study: 30 clinics x 8 visits, a treatment factor and a covariate,
  # clinic intercepts sd 0.5, NB2 counts with theta = 2.5; seed fixed.
  nb_counts = list(factors = c("clinic", "trt"), make = function() {
    set.seed(20261207)
    ng <- 30; m <- 8
    g <- rep(seq_len(ng), each = m)
    trt <- ifelse(rep(seq_len(ng) %% 2, each = m) == 1, "active", "control")
    x <- round(rnorm(ng * m), 3)
    u <- rnorm(ng, sd = 0.5)
    mu <- exp(1.2 + 0.4 * x - 0.5 * (trt == "active") + u[g])
    y <- as.double(rnbinom(ng * m, size = 2.5, mu = mu))
    data.frame(y = y, x = x, trt = trt, clinic = sprintf("C%02d", g))
  }),
  # glmmTMB's Owls (Roulin & Bersier 2007): sibling negotiation calls per nest visit.
  owls = list(factors = c("Nest", "FoodTreatment", "SexParent"), make = function() {
    data("Owls", package = "glmmTMB", envir = environment())
    d <- as.data.frame(Owls)
    d$SiblingNegotiation <- as.double(d$SiblingNegotiation)
    d$BroodSize <- as.double(d$BroodSize)
    d[, c("Nest", "FoodTreatment", "SexParent", "ArrivalTime", "SiblingNegotiation",
          "BroodSize")]
  })
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

write_nb <- function(spec) {
  df <- load_data(spec$data)
  form <- as.formula(spec$formula)
  reps <- spec$reps
  times <- numeric(reps)
  for (r in seq_len(reps)) {
    times[r] <- system.time(run <- quiet(glmer.nb(form, data = df)))[["elapsed"]]
  }
  fit <- run$value
  ll <- logLik(fit)
  th <- getME(fit, "glmer.nb.theta")
  V <- as.matrix(vcov(fit))
  u <- getME(fit, "u")
  # The profiled deviance's curvature in log(theta) (see the header).
  h <- 0.02
  dev_at <- function(t) -2 * as.numeric(logLik(suppressWarnings(lme4:::refitNB(fit, theta = exp(t)))))
  d0 <- -2 * as.numeric(ll)
  dp <- dev_at(log(th) + h)
  dm <- dev_at(log(th) - h)
  d2 <- (dp - 2 * d0 + dm) / h^2
  theta_se <- th * sqrt(2 / d2)
  # glmer's deviance function at theta_hat, evaluated afresh at glmer.nb's own estimates: the
  # logLik stored in the fit comes from PIRLS warm-started along the Nelder-Mead path and can
  # sit ~1e-4 above this value (nb_counts: -519.08476 stored, -519.08487 fresh).
  dd <- suppressWarnings(glmer(form, data = df, family = MASS::negative.binomial(th),
                               devFunOnly = TRUE))
  loglik_fresh <- -dd(c(getME(fit, "theta"), fixef(fit))) / 2
  # glmmTMB nbinom2, same model.
  ttimes <- numeric(reps)
  for (r in seq_len(reps)) {
    ttimes[r] <- system.time(trun <- quiet(glmmTMB(form, data = df, family = nbinom2)))[["elapsed"]]
  }
  tm <- trun$value
  tll <- logLik(tm)
  sdr <- tm$sdr
  lth_se <- sqrt(diag(sdr$cov.fixed))[names(sdr$par.fixed) == "betad"]
  q <- quantile(residuals(fit, type = "pearson", scaled = TRUE))
  out <- list(
    name = spec$name,
    formula = spec$formula,
    data = list(csv = dataset_path(spec$data)),
    factors = arr(datasets[[spec$data]]$factors),
    family = "negative_binomial",
    link = "log",
    lme4_version = packageDescription("lme4")$Version,
    glmmTMB_version = packageDescription("glmmTMB")$Version,
    r_version = R.version.string,
    nobs = nobs(fit),
    ngrps = as.list(ngrps(fit)),
    family_name = family(fit)$family,
    nb_theta = th,
    nb_theta_se = theta_se,
    nb_theta_se_step = h,
    nb_profile_deviance = arr(c(dm, d0, dp)),
    objective = -2 * as.numeric(ll),
    loglik = as.numeric(ll),
    loglik_fresh = loglik_fresh,
    aic = AIC(fit),
    bic = BIC(fit),
    deviance = deviance(fit),
    npar = attr(ll, "df"),
    df_resid = df.residual(fit),
    theta = arr(getME(fit, "theta")),
    sigma = sigma(fit),
    beta = arr(fixef(fit)),
    beta_names = arr(names(fixef(fit))),
    se = arr(sqrt(diag(V))),
    vcov = unname(V),
    u_sq = sum(u^2),
    pearson_chisq = sum(residuals(fit, type = "pearson")^2),
    fitted_head = arr(head(unname(fitted(fit)), 10)),
    resid_dev_head = arr(head(unname(residuals(fit, type = "deviance")), 10)),
    scaled_resid_quantiles = arr(q),
    nevals = attr(fit, "nevals"),
    lme4_warnings = arr(run$warnings),
    time_reps = reps,
    time_s = round(median(times), 4),
    glmmtmb = list(
      loglik = as.numeric(tll),
      npar = attr(tll, "df"),
      beta = arr(fixef(tm)$cond),
      se = arr(sqrt(diag(vcov(tm)$cond))),
      theta = sigma(tm),
      theta_se = sigma(tm) * lth_se,
      re_sd = arr(sqrt(unlist(lapply(VarCorr(tm)$cond, function(v) diag(v))))),
      warnings = arr(trun$warnings),
      time_s = round(median(ttimes), 4)
    )
  )
  write_json_file(out, rel("tests", "reference", "negbin", paste0(spec$name, ".json")))
  if (length(run$warnings)) cat("    lme4 said:", paste(run$warnings, collapse = " | "), "\n")
}

nb <- function(name, data, formula, reps = 3L) list(name = name, data = data, formula = formula, reps = reps)
models <- list(
  nb("nb_counts", "nb_counts", "y ~ x + trt + (1 | clinic)"),
  nb("owls_nb", "owls",
     "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)",
     reps = 1L)
)

t0 <- proc.time()[["elapsed"]]
cat("R:", R.version.string, "| lme4:", packageDescription("lme4")$Version, "\n")
for (name in names(datasets)) write_data_csv(datasets[[name]]$make(), rel(dataset_path(name)))
for (spec in models) write_nb(spec)
cat(sprintf("done in %.1f s\n", proc.time()[["elapsed"]] - t0))
