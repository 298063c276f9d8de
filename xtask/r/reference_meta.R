#!/usr/bin/env Rscript
# Reference numbers for random-effects meta-analysis (crate multilevel-meta, `multilevel meta`)
# from metafor's rma().
#
#   Rscript xtask/r/reference_meta.R            (run from the repository root)
#
# Data sets shipped with metafor (package metadat):
#   bcg      dat.bcg, escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg): log risk ratios
#            of tuberculosis, BCG vaccine vs control; moderators ablat (absolute latitude), year,
#            alloc (allocation: random, alternate, systematic).
#   molloy   dat.molloy2014, escalc("ZCOR", ri, ni): Fisher-z correlations between
#            conscientiousness and medication adherence; moderators meanage, design (factor).
#   normand  dat.normand1999, escalc("MD", ...): mean differences in length of stay.
#   hine     dat.hine1989, escalc("RD", ...): risk differences of mortality with lidocaine; a
#            homogeneous set where every estimator but SJ truncates tau^2 at 0.
#
# For each data set, tests/reference/meta/<data>.csv holds slab, yi, vi and the moderators, and
# tests/reference/meta/<data>.json the fits: every method (REML, ML, DL, PM, EB, HE, SJ, FE) x
# test ("z", "knha") x moderator formula. Iterative estimators are run to convergence
# (threshold = 1e-12 for Fisher scoring, tol = 1e-12 for uniroot), so that the reference is the
# root itself rather than metafor's default stopping point (threshold 1e-5, uniroot tol ~1.2e-4);
# `tau2_default` records what the default control gives, for information.
# The model matrix X (metafor's column names, intercept `intrcpt`) is written with each model so
# that the library can be checked without the formula layer.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) setwd(args[1])
out_dir <- "tests/reference/meta"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

tight <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
methods <- c("REML", "ML", "DL", "PM", "EB", "HE", "SJ", "FE")
tests <- c("z", "knha")

num <- function(x) if (is.null(x)) NULL else unname(as.numeric(x))

one_fit <- function(d, mods, method, test) {
  f <- if (is.null(mods)) {
    suppressWarnings(rma(yi, vi, data = d, method = method, test = test, control = tight))
  } else {
    suppressWarnings(rma(yi, vi, mods = as.formula(mods), data = d, method = method,
                         test = test, control = tight))
  }
  f0 <- if (is.null(mods)) {
    suppressWarnings(rma(yi, vi, data = d, method = method, test = test))
  } else {
    suppressWarnings(rma(yi, vi, mods = as.formula(mods), data = d, method = method, test = test))
  }
  pr <- if (f$int.only) predict(f) else predict(f, newmods = f$X[1, -1, drop = FALSE])
  list(
    method = method,
    test = test,
    mods = if (is.null(mods)) NULL else mods,
    k = f$k,
    p = f$p,
    coef_names = I(rownames(f$beta)),
    beta = I(num(f$beta)),
    se = I(num(f$se)),
    zval = I(num(f$zval)),
    pval = I(num(f$pval)),
    ci_lb = I(num(f$ci.lb)),
    ci_ub = I(num(f$ci.ub)),
    vb = unname(f$vb),
    tau2 = num(f$tau2),
    tau2_default = num(f0$tau2),
    se_tau2 = num(f$se.tau2),
    I2 = num(f$I2),
    H2 = num(f$H2),
    R2 = num(f$R2),
    QE = num(f$QE),
    QEp = num(f$QEp),
    QM = num(f$QM),
    QMdf = num(f$QMdf),
    QMp = num(f$QMp),
    fit_stats_ML = num(f$fit.stats$ML),
    fit_stats_REML = num(f$fit.stats$REML),
    weights_random = num(weights(f)),
    weights_fixed = num(100 * (1 / f$vi) / sum(1 / f$vi)),
    pred_x = I(num(if (f$int.only) 1 else f$X[1, ])),
    pred = num(pr$pred),
    pred_se = num(pr$se),
    pred_ci_lb = num(pr$ci.lb),
    pred_ci_ub = num(pr$ci.ub),
    pred_pi_lb = num(pr$pi.lb),
    pred_pi_ub = num(pr$pi.ub)
  )
}

write_set <- function(name, d, mod_cols, mod_list, description) {
  csv <- d[, c("slab", "yi", "vi", mod_cols)]
  csv$yi <- as.numeric(csv$yi)
  csv$vi <- as.numeric(csv$vi)
  write.csv(csv, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE, na = "")
  models <- list()
  for (mods in mod_list) {
    X <- if (is.null(mods)) NULL else model.matrix(as.formula(mods), data = d)
    fits <- list()
    for (m in methods) for (t in tests) fits[[length(fits) + 1]] <- one_fit(d, mods, m, t)
    models[[length(models) + 1]] <- list(
      mods = if (is.null(mods)) NULL else mods,
      x_names = I(if (is.null(X)) "intrcpt" else c("intrcpt", colnames(X)[-1])),
      x_columns = if (is.null(X)) NULL else unname(lapply(seq_len(ncol(X) - 1) + 1, function(j) X[, j])),
      fits = fits
    )
  }
  out <- list(
    name = name,
    description = description,
    metafor_version = as.character(packageVersion("metafor")),
    csv = file.path(out_dir, paste0(name, ".csv")),
    slab = d$slab,
    yi = num(d$yi),
    vi = num(d$vi),
    models = models
  )
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", na = "null"),
             file.path(out_dir, paste0(name, ".json")))
  cat("wrote", name, "\n")
}

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$slab <- paste0(bcg$author, ", ", bcg$year)
write_set("bcg", bcg, c("ablat", "year", "alloc"),
          list(NULL, "~ ablat", "~ ablat + year", "~ alloc"),
          "dat.bcg, escalc('RR', ai = tpos, bi = tneg, ci = cpos, di = cneg)")

molloy <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
molloy$slab <- paste0(molloy$authors, ", ", molloy$year)
write_set("molloy", molloy, c("meanage", "design"),
          list(NULL, "~ meanage + design"),
          "dat.molloy2014, escalc('ZCOR', ri = ri, ni = ni)")

normand <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                  data = dat.normand1999)
normand$slab <- as.character(normand$source)
write_set("normand", normand, character(0), list(NULL),
          "dat.normand1999, escalc('MD', m1i, sd1i, n1i, m2i, sd2i, n2i)")

hine <- escalc("RD", n1i = n1i, n2i = n2i, ai = ai, ci = ci, data = dat.hine1989)
hine$slab <- as.character(hine$source)
write_set("hine", hine, character(0), list(NULL),
          "dat.hine1989, escalc('RD', n1i, n2i, ai, ci)")
