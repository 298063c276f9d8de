#!/usr/bin/env Rscript
# Generate the references for mixed models with a residual covariance structure: nlme's
# `lme(fixed, random = ~ ... | g, correlation = corAR1/corCompSymm, weights = varIdent)`,
# fitted by REML and ML.
#
#   Rscript xtask/r/reference_lme_residual.R [<repo-root>]     (default: the current directory)
#
# Inputs (written by reference_gls.R): tests/reference/gls/orthodont.csv, bodyweight.csv.
# Outputs:
#   tests/reference/gls/chickweight.csv  R's ChickWeight with `Chick` (c1 … c50), `Diet`
#                                        (d1 … d4) and `tpos` (1-12, the position of Time
#                                        among its 12 values)
#   tests/reference/gls/lme.json         the fits
#
# Our side parses `formula` (lme4 syntax: the fixed part and the random terms), `residual`
# and `residual_variance` (as in reference_gls.R). The nlme counterparts:
#   ar1(t | s)   corAR1(form = ~ t | s)
#   cs(t | s)    corCompSymm(form = ~ 1 | g/s)  (s nested in the random-effects factor g)
#   ident(f)     varIdent(form = ~ 1 | f)
#
# Per fit: logLik, beta, vcov(beta) (nlme's lme uses sigma^2 (X'V^-1 X)^-1 with the ML sigma
# under ML, lme4's convention, so no rescaling), sigma, the correlation matrix of a subject
# observed at every position, the residual SD per level of the variance factor, and the
# random effects' standard deviations and correlations (`random`: group, name, sd;
# `random_cor`: group, the two names, the correlation). Every model is fitted to the data
# READ BACK from its CSV.

suppressPackageStartupMessages({
  library(nlme)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)
outdir <- rel("tests", "reference", "gls")

write_json_file <- function(obj, path) {
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE)
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

orth <- read.csv(file.path(outdir, "orthodont.csv"), stringsAsFactors = TRUE)
bw <- read.csv(file.path(outdir, "bodyweight.csv"), stringsAsFactors = TRUE)
bw$Rat <- factor(bw$Rat)

cw <- as.data.frame(ChickWeight)
cw <- data.frame(Chick = paste0("c", as.character(cw$Chick)),
                 Diet = paste0("d", as.character(cw$Diet)),
                 Time = cw$Time, weight = cw$weight)
cw$tpos <- match(cw$Time, sort(unique(cw$Time)))
cw <- cw[order(cw$Chick, cw$Time), ]
path <- file.path(outdir, "chickweight.csv")
write.csv(cw, path, row.names = FALSE, na = "")
cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
cw <- read.csv(path, stringsAsFactors = TRUE)

ctl <- lmeControl(maxIter = 500, msMaxIter = 500, niterEM = 100, tolerance = 1e-10,
                  msTol = 1e-12, returnObject = TRUE)

cases <- list(
  list(name = "bodyweight_ri_ar1", data = "bodyweight", fixed = "weight ~ Time * Diet",
       random = "~ 1 | Rat", ours = "weight ~ Time * Diet + (1 | Rat)",
       residual = "ar1(week | Rat)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ week | Rat)), wts = NULL, subj = "Rat", pos = "week"),
  list(name = "bodyweight_rs_ar1", data = "bodyweight", fixed = "weight ~ Time * Diet",
       random = "~ Time | Rat", ours = "weight ~ Time * Diet + (Time | Rat)",
       residual = "ar1(week | Rat)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ week | Rat)), wts = NULL, subj = "Rat", pos = "week"),
  list(name = "bodyweight_ri_ident", data = "bodyweight", fixed = "weight ~ Time * Diet",
       random = "~ 1 | Rat", ours = "weight ~ Time * Diet + (1 | Rat)",
       residual = NULL, residual_variance = "ident(Diet)",
       cor = NULL, wts = quote(varIdent(form = ~ 1 | Diet))),
  list(name = "orthodont_ri_ar1", data = "orthodont", fixed = "distance ~ age * Sex",
       random = "~ 1 | Subject", ours = "distance ~ age * Sex + (1 | Subject)",
       residual = "ar1(occasion | Subject)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ occasion | Subject)), wts = NULL, subj = "Subject",
       pos = "occasion"),
  list(name = "orthodont_ri_ident", data = "orthodont", fixed = "distance ~ age * Sex",
       random = "~ 1 | Subject", ours = "distance ~ age * Sex + (1 | Subject)",
       residual = NULL, residual_variance = "ident(Sex)",
       cor = NULL, wts = quote(varIdent(form = ~ 1 | Sex))),
  list(name = "orthodont_ri_ar1_ident", data = "orthodont", fixed = "distance ~ age * Sex",
       random = "~ 1 | Subject", ours = "distance ~ age * Sex + (1 | Subject)",
       residual = "ar1(occasion | Subject)", residual_variance = "ident(Sex)",
       cor = quote(corAR1(form = ~ occasion | Subject)),
       wts = quote(varIdent(form = ~ 1 | Sex)), subj = "Subject", pos = "occasion"),
  list(name = "chick_ri_ar1", data = "chickweight", fixed = "weight ~ Time * Diet",
       random = "~ 1 | Chick", ours = "weight ~ Time * Diet + (1 | Chick)",
       residual = "ar1(tpos | Chick)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ tpos | Chick)), wts = NULL, subj = "Chick", pos = "tpos"),
  list(name = "chick_diet_cs", data = "chickweight", fixed = "weight ~ Time",
       random = "~ 1 | Diet", ours = "weight ~ Time + (1 | Diet)",
       residual = "cs(Time | Chick)", residual_variance = NULL,
       cor = quote(corCompSymm(form = ~ 1 | Diet/Chick)), wts = NULL, subj = "Chick",
       pos = "tpos")
)

datasets <- list(orthodont = orth, bodyweight = bw, chickweight = cw)
files <- list(orthodont = "tests/reference/gls/orthodont.csv",
              bodyweight = "tests/reference/gls/bodyweight.csv",
              chickweight = "tests/reference/gls/chickweight.csv")

out <- list()
for (case in cases) {
  for (method in c("REML", "ML")) {
    d <- datasets[[case$data]]
    args <- list(fixed = as.formula(case$fixed), random = as.formula(case$random), data = d,
                 method = method, control = ctl)
    if (!is.null(case$cor)) args$correlation <- eval(case$cor)
    if (!is.null(case$wts)) args$weights <- eval(case$wts)
    t0 <- proc.time()[["elapsed"]]
    fit <- do.call(lme, args)
    elapsed <- proc.time()[["elapsed"]] - t0
    cm <- NULL
    if (!is.null(case$cor)) {
      # a subject observed at every position (the most rows, first in the data)
      counts <- table(d[[case$subj]])
      full <- names(counts)[counts == max(counts)][1]
      cms <- corMatrix(fit$modelStruct$corStruct)
      key <- grep(paste0("(^|/)", full, "$"), names(cms), value = TRUE)[1]
      m <- cms[[key]]
      ord <- order(d[[case$pos]][d[[case$subj]] == full])
      cm <- unname(m[ord, ord, drop = FALSE])
    }
    level_sd <- NULL
    if (!is.null(case$wts)) {
      ratios <- coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
      level_sd <- as.list(fit$sigma * ratios)
    }
    group <- sub(".*\\| *", "", case$random)
    re <- pdMatrix(fit$modelStruct$reStruct)[[1]] * fit$sigma^2
    sds <- sqrt(diag(re))
    random <- lapply(seq_along(sds), function(i)
      list(group = group, name = names(sds)[i], sd = unname(sds[i])))
    random_cor <- list()
    if (length(sds) > 1) {
      for (i in 2:length(sds)) for (j in 1:(i - 1)) {
        random_cor[[length(random_cor) + 1]] <- list(
          group = group, a = names(sds)[j], b = names(sds)[i],
          value = re[i, j] / (sds[i] * sds[j]))
      }
    }
    v <- vcov(fit)
    out[[length(out) + 1]] <- list(
      name = paste0(case$name, "_", tolower(method)),
      data = files[[case$data]],
      formula = case$ours,
      residual = case$residual,
      residual_variance = case$residual_variance,
      reml = method == "REML",
      nobs = fit$dims$N,
      logLik = as.numeric(logLik(fit)),
      df = attr(logLik(fit), "df"),
      sigma = fit$sigma,
      beta = as.list(fixef(fit)),
      se = as.list(sqrt(diag(v))),
      vcov = unname(v),
      cor_matrix = cm,
      level_sd = level_sd,
      random = random,
      random_cor = random_cor,
      r_seconds = elapsed
    )
    cat(sprintf("  %-28s %-4s logLik %.6f\n", case$name, method, as.numeric(logLik(fit))))
  }
}
write_json_file(list(generator = "xtask/r/reference_lme_residual.R",
                     nlme = as.character(packageVersion("nlme")),
                     cases = out),
                file.path(outdir, "lme.json"))
