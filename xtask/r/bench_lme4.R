#!/usr/bin/env Rscript
# Time lme4's lmer() and glmer() on the models of `cargo xtask bench-lme4`, inside R.
#
#   Rscript xtask/r/bench_lme4.R <spec.json> <out.json>
#
# <spec.json> is written by xtask/src/bench.rs: an array of models, each with
#   name      model name (echoed back)
#   kind      "lmer" (default), "glmer", or "lmertest" (summary(lmerTest::lmer(...)): the fit and
#             lmerTest's Satterthwaite df, its default, timed together)
#   csv       absolute path of the CSV file (the same file the Rust side reads)
#   factors   columns to turn into factors (besides text columns, which always are)
#   formula   lme4 formula
#   reml      TRUE for REML, FALSE for ML (lmer only)
#   family    R family function name, canonical link (glmer only: "binomial", "poisson")
#   nAGQ      glmer's nAGQ (glmer only)
#   reps      maximum number of timed fits
#   budget    seconds: stop repeating once the timed fits have used this much
#   single    seconds: when the first fit takes at least this long it is the only timed fit;
#             otherwise it is an untimed warm-up (loads lazily loaded code, warms caches)
#   run       FALSE to skip the model (only its name is echoed back)
#
# For every model the script writes to <out.json> the elapsed seconds of each timed fit
# (system.time(lmer(...))["elapsed"]: R start-up, package loading and reading the CSV are NOT
# included), their median, lme4's evaluation count (fit@optinfo$feval), the objective
# (REML criterion or ML deviance, i.e. -2 logLik under the fit's method; for glmer -2 logLik),
# theta, and any warnings or messages (such as lme4's "boundary (singular) fit").
# lmer() runs with lme4's defaults (lmerControl(): BOBYQA, convergence checks on), exactly what a
# user calling lmer() pays for; conditional variances are not computed (lme4 computes them only in
# ranef(condVar = TRUE)). glmer() runs with glmerControl() defaults (bobyqa for stage 1,
# Nelder_Mead for stage 2; optinfo$feval counts stage 2 only).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) {
  stop("usage: Rscript bench_lme4.R <spec.json> <out.json>")
}
spec <- fromJSON(args[[1]], simplifyVector = FALSE)

read_data <- function(m) {
  d <- read.csv(m$csv, stringsAsFactors = TRUE)
  for (f in unlist(m$factors)) {
    if (!f %in% names(d)) stop(sprintf("%s: no column %s in %s", m$name, f, m$csv))
    d[[f]] <- factor(d[[f]])
  }
  d
}

fit_once <- function(m, formula, data) {
  warns <- character()
  call <- if (identical(m$kind, "glmer")) {
    fam <- match.fun(m$family)()
    nagq <- as.integer(m$nAGQ)
    function() glmer(formula, data = data, family = fam, nAGQ = nagq)
  } else if (identical(m$kind, "lmertest")) {
    reml <- isTRUE(m$reml)
    function() {
      fit <- lmerTest::lmer(formula, data = data, REML = reml)
      s <- summary(fit)
      if (is.null(s$coefficients)) stop("lmerTest summary without coefficients")
      fit
    }
  } else {
    reml <- isTRUE(m$reml)
    function() lmer(formula, data = data, REML = reml)
  }
  t <- system.time(
    fit <- withCallingHandlers(
      call(),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      },
      message = function(w) {
        warns <<- c(warns, trimws(conditionMessage(w)))
        invokeRestart("muffleMessage")
      }
    )
  )[["elapsed"]]
  list(fit = fit, elapsed = t, warnings = warns)
}

blas <- tryCatch(extSoftVersion()[["BLAS"]], error = function(e) "")
if (!nzchar(blas)) blas <- tryCatch(La_library(), error = function(e) "")

# Written after every model, so that the models done so far survive an interruption.
write_out <- function(results) {
  out <- list(
    r_version = R.version.string,
    lme4_version = as.character(packageVersion("lme4")),
    matrix_version = as.character(packageVersion("Matrix")),
    blas = blas,
    models = results
  )
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                    pretty = TRUE), args[[2]])
}

results <- list()
for (m in spec) {
  if (!isTRUE(m$run)) {
    results[[length(results) + 1]] <- list(name = m$name, run = FALSE)
    next
  }
  cat(sprintf("lme4: %s ... ", m$name))
  data <- read_data(m)
  formula <- as.formula(m$formula)
  # The first fit doubles as warm-up: when it takes at least `single` seconds it is the only
  # (timed) fit, otherwise it is discarded and the fit is repeated.
  last <- fit_once(m, formula, data)
  times <- last$elapsed
  if (last$elapsed < m$single) {
    times <- numeric()
    repeat {
      last <- fit_once(m, formula, data)
      times <- c(times, last$elapsed)
      if (length(times) >= m$reps || sum(times) >= m$budget) break
    }
  }
  fit <- last$fit
  objective <- -2 * as.numeric(logLik(fit))
  cat(sprintf("median %.4f s over %d fit(s), %d evaluations, objective %.6f\n",
              median(times), length(times), fit@optinfo$feval, objective))
  results[[length(results) + 1]] <- list(
    name = m$name,
    run = TRUE,
    times = I(times),
    median = median(times),
    feval = fit@optinfo$feval,
    optimizer = fit@optinfo$optimizer,
    objective = objective,
    theta = I(unname(getME(fit, "theta"))),
    warnings = I(unique(last$warnings))
  )
  rm(data, fit, last)
  invisible(gc())
  write_out(results)
}

write_out(results)
