#!/usr/bin/env Rscript
# Generate the residual-covariance (GLS / MMRM) references: nlme's `gls()` with the
# correlation structures corAR1, corCompSymm, corSymm and corARMA (Toeplitz) and the variance
# function varIdent, fitted by REML and ML.
#
#   Rscript xtask/r/reference_gls.R [<repo-root>]     (default: the current directory)
#
# Outputs:
#   tests/reference/gls/orthodont.csv    nlme's Orthodont with `occasion` (1-4) and `agef`
#   tests/reference/gls/bodyweight.csv   nlme's BodyWeight with `week` (1-11, the position of
#                                        Time among its 11 values) and `Timef`
#   tests/data/mmrm_trial.csv            a simulated two-arm, 6-visit trial with dropout,
#                                        intermittently missing visits and missing responses
#   tests/reference/gls/gls.json         the fits
#
# Our structures and their nlme counterparts (the `residual` and `residual_variance` fields
# are the specs our side parses):
#   ar1(t | s)   corAR1(form = ~ t | s)          rho^|t_i - t_j| over integer positions
#   cs(t | s)    corCompSymm(form = ~ 1 | s)
#   us(f | s)    corSymm(form = ~ i | s) + varIdent(form = ~ 1 | f), i the position of f's level
#   toep(f | s)  corARMA(form = ~ i | s, p = q - 1) (a stationary AR(q-1) spans every
#                positive-definite Toeplitz correlation matrix of order q)
#   toeph(f | s) the same + varIdent(form = ~ 1 | f)
#   ident(g)     varIdent(form = ~ 1 | g)
# Unstructured is the MMRM of the `mmrm` package (not installed here), which nlme's
# corSymm + varIdent fits with the same likelihood.
#
# Per fit: logLik, beta, vcov(beta) (nlme: s^2 (X'R^-1 X)^-1 with s^2 = RSS/(N - p) under
# REML AND under ML; our side, as lme4 and mmrm, uses the ML estimate RSS/N under ML, so the
# checks scale nlme's ML standard errors by sqrt((N - p)/N)), sigma (nlme's estimate: RSS/N
# under ML), the correlation matrix of a subject observed at every
# position (`cor_matrix`, rows and columns in position order), and the residual standard
# deviation of every level of the variance factor (`level_sd`: sigma times varIdent's ratio).
# As in the other reference scripts every model is fitted to the data READ BACK from its CSV.
#
# Satterthwaite df: mmrm (whose definition we follow) is not installed here. Compound symmetry
# with rho > 0 is the same model as a random intercept per subject, and lmerTest's
# Satterthwaite df (Hessian of the deviance in the covariance parameters, Jacobian of
# vcov(beta)) are invariant to that reparametrisation, so for the cs fits the df of
# lmerTest::lmer(y ~ x + (1 | subject)) are recorded as `satterthwaite_df` (with its logLik,
# `lmer_logLik`, to show the two fits are the same model).

suppressPackageStartupMessages({
  library(nlme)
  library(lmerTest)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)
outdir <- rel("tests", "reference", "gls")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

write_json_file <- function(obj, path) {
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE)
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

write_data <- function(df, path) {
  write.csv(df, path, row.names = FALSE, na = "")
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
  read.csv(path, stringsAsFactors = TRUE)
}

# ---- data ----
orth <- as.data.frame(Orthodont)
orth <- data.frame(Subject = as.character(orth$Subject), Sex = as.character(orth$Sex),
                   age = orth$age, distance = orth$distance)
orth$occasion <- as.integer((orth$age - 6) / 2)
orth$agef <- sprintf("a%02d", orth$age)
orth <- orth[order(orth$Subject, orth$age), ]
orth <- write_data(orth, file.path(outdir, "orthodont.csv"))

bw <- as.data.frame(BodyWeight)
bw <- data.frame(Rat = as.integer(as.character(bw$Rat)), Diet = paste0("d", bw$Diet),
                 Time = bw$Time, weight = bw$weight)
bw$week <- match(bw$Time, sort(unique(bw$Time)))
bw$Timef <- sprintf("t%02d", bw$Time)
bw <- bw[order(bw$Rat, bw$Time), ]
bw <- write_data(bw, file.path(outdir, "bodyweight.csv"))

# The simulated trial: 240 subjects, two arms, 6 visits; unstructured covariance (SDs rising
# from 2 to 4.5, correlations decaying with lag but not geometrically); dropout after each
# visit with probability 0.06, 4% of the remaining visits missing intermittently, 1% of the
# responses missing (the row kept with an empty y).
set.seed(20261207)
nsub <- 240
q <- 6
sds <- c(2, 2.5, 3, 3.5, 4, 4.5)
lagcor <- c(1, 0.75, 0.6, 0.52, 0.47, 0.44)
C <- outer(1:q, 1:q, function(i, j) lagcor[abs(i - j) + 1])
S <- diag(sds) %*% C %*% diag(sds)
L <- t(chol(S))
rows <- list()
for (s in seq_len(nsub)) {
  arm <- if (s %% 2 == 0) "active" else "placebo"
  mu <- 20 + (0:(q - 1)) * (if (arm == "active") -1.2 else -0.5)
  y <- mu + drop(L %*% rnorm(q))
  last <- q
  for (v in 1:(q - 1)) if (runif(1) < 0.06) { last <- v; break }
  keep <- seq_len(last)
  keep <- keep[keep == 1 | runif(length(keep)) > 0.04]
  yy <- y[keep]
  yy[runif(length(yy)) < 0.01] <- NA
  rows[[s]] <- data.frame(subject = sprintf("S%03d", s), arm = arm,
                          visit = sprintf("V%d", keep), visit_index = keep,
                          y = round(yy, 3))
}
trial <- do.call(rbind, rows)
trial <- write_data(trial, rel("tests", "data", "mmrm_trial.csv"))

# ---- fits ----
ctl <- glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-12,
                  returnObject = TRUE)

cases <- list(
  list(name = "orthodont_cs", data = "orthodont", formula = "distance ~ age * Sex",
       residual = "cs(age | Subject)", residual_variance = NULL,
       cor = quote(corCompSymm(form = ~ 1 | Subject)), wts = NULL, pos = "occasion"),
  list(name = "orthodont_ar1", data = "orthodont", formula = "distance ~ age * Sex",
       residual = "ar1(occasion | Subject)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ occasion | Subject)), wts = NULL, pos = "occasion"),
  list(name = "orthodont_us", data = "orthodont", formula = "distance ~ agef * Sex",
       residual = "us(agef | Subject)", residual_variance = NULL,
       cor = quote(corSymm(form = ~ occasion | Subject)),
       wts = quote(varIdent(form = ~ 1 | agef)), vf = "agef", pos = "occasion"),
  list(name = "orthodont_toep", data = "orthodont", formula = "distance ~ age * Sex",
       residual = "toep(agef | Subject)", residual_variance = NULL,
       cor = quote(corARMA(form = ~ occasion | Subject, p = 3)), wts = NULL, pos = "occasion"),
  list(name = "orthodont_toeph", data = "orthodont", formula = "distance ~ age * Sex",
       residual = "toeph(agef | Subject)", residual_variance = NULL,
       cor = quote(corARMA(form = ~ occasion | Subject, p = 3)),
       wts = quote(varIdent(form = ~ 1 | agef)), vf = "agef", pos = "occasion"),
  list(name = "orthodont_ident", data = "orthodont", formula = "distance ~ age * Sex",
       residual = NULL, residual_variance = "ident(Sex)",
       cor = NULL, wts = quote(varIdent(form = ~ 1 | Sex)), vf = "Sex"),
  list(name = "orthodont_cs_ident", data = "orthodont", formula = "distance ~ age * Sex",
       residual = "cs(age | Subject)", residual_variance = "ident(Sex)",
       cor = quote(corCompSymm(form = ~ 1 | Subject)),
       wts = quote(varIdent(form = ~ 1 | Sex)), vf = "Sex", pos = "occasion"),
  list(name = "bodyweight_ar1", data = "bodyweight", formula = "weight ~ Time * Diet",
       residual = "ar1(week | Rat)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ week | Rat)), wts = NULL, pos = "week"),
  list(name = "bodyweight_cs", data = "bodyweight", formula = "weight ~ Time * Diet",
       residual = "cs(Time | Rat)", residual_variance = NULL,
       cor = quote(corCompSymm(form = ~ 1 | Rat)), wts = NULL, pos = "week"),
  list(name = "bodyweight_ar1_ident", data = "bodyweight", formula = "weight ~ Time * Diet",
       residual = "ar1(week | Rat)", residual_variance = "ident(Diet)",
       cor = quote(corAR1(form = ~ week | Rat)),
       wts = quote(varIdent(form = ~ 1 | Diet)), vf = "Diet", pos = "week"),
  list(name = "trial_us", data = "trial", formula = "y ~ visit * arm",
       residual = "us(visit | subject)", residual_variance = NULL,
       cor = quote(corSymm(form = ~ visit_index | subject)),
       wts = quote(varIdent(form = ~ 1 | visit)), vf = "visit", pos = "visit_index"),
  list(name = "trial_toeph", data = "trial", formula = "y ~ visit * arm",
       residual = "toeph(visit | subject)", residual_variance = NULL,
       cor = quote(corARMA(form = ~ visit_index | subject, p = 5)),
       wts = quote(varIdent(form = ~ 1 | visit)), vf = "visit", pos = "visit_index"),
  list(name = "trial_ar1", data = "trial", formula = "y ~ visit * arm",
       residual = "ar1(visit_index | subject)", residual_variance = NULL,
       cor = quote(corAR1(form = ~ visit_index | subject)), wts = NULL, pos = "visit_index"),
  list(name = "trial_cs", data = "trial", formula = "y ~ visit * arm",
       residual = "cs(visit | subject)", residual_variance = NULL,
       cor = quote(corCompSymm(form = ~ 1 | subject)), wts = NULL, pos = "visit_index")
)

datasets <- list(orthodont = orth, bodyweight = bw, trial = trial)
files <- list(orthodont = "tests/reference/gls/orthodont.csv",
              bodyweight = "tests/reference/gls/bodyweight.csv",
              trial = "tests/data/mmrm_trial.csv")
`%||%` <- function(a, b) if (is.null(a)) b else a
subject_of <- function(case) sub(".*\\| *([A-Za-z_]+)\\).*", "\\1", case$residual)

out <- list()
for (case in cases) {
  for (method in c("REML", "ML")) {
    d <- datasets[[case$data]]
    args <- list(model = as.formula(case$formula), data = d, method = method,
                 control = ctl, na.action = na.omit)
    if (!is.null(case$cor)) args$correlation <- eval(case$cor)
    if (!is.null(case$wts)) args$weights <- eval(case$wts)
    t0 <- proc.time()[["elapsed"]]
    fit <- do.call(gls, args)
    elapsed <- proc.time()[["elapsed"]] - t0
    cm <- NULL
    if (!is.null(case$cor)) {
      # a subject observed at every position (the most rows, first in the data)
      dd <- fit$data <- NULL
      used <- d[complete.cases(d[, all.vars(as.formula(case$formula))]), ]
      subj <- subject_of(case)
      counts <- table(used[[subj]])
      full <- names(counts)[counts == max(counts)][1]
      cms <- corMatrix(fit$modelStruct$corStruct)
      m <- cms[[full]]
      ord <- order(used[[case$pos]][used[[subj]] == full])
      cm <- unname(m[ord, ord, drop = FALSE])
    }
    level_sd <- NULL
    if (!is.null(case$wts)) {
      ratios <- coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
      level_sd <- as.list(fit$sigma * ratios)
    }
    v <- vcov(fit)
    sdf <- NULL
    lmer_ll <- NULL
    if (grepl("^cs\\(", case$residual %||% "") && is.null(case$wts)) {
      subj <- subject_of(case)
      lf <- as.formula(paste(case$formula, "+ (1 |", subj, ")"))
      lm1 <- lmerTest::lmer(lf, data = d, REML = method == "REML",
                            control = lme4::lmerControl(optimizer = "bobyqa"))
      sdf <- as.list(summary(lm1)$coefficients[, "df"])
      lmer_ll <- as.numeric(logLik(lm1))
    }
    out[[length(out) + 1]] <- list(
      name = paste0(case$name, "_", tolower(method)),
      data = files[[case$data]],
      formula = case$formula,
      residual = case$residual,
      residual_variance = case$residual_variance,
      reml = method == "REML",
      nobs = fit$dims$N,
      logLik = as.numeric(logLik(fit)),
      df = attr(logLik(fit), "df"),
      sigma = fit$sigma,
      beta = as.list(coef(fit)),
      se = as.list(sqrt(diag(v))),
      vcov = unname(v),
      cor_matrix = cm,
      level_sd = level_sd,
      satterthwaite_df = sdf,
      lmer_logLik = lmer_ll,
      r_seconds = elapsed
    )
    cat(sprintf("  %-28s %-4s logLik %.6f\n", case$name, method, as.numeric(logLik(fit))))
  }
}
write_json_file(list(generator = "xtask/r/reference_gls.R",
                     nlme = as.character(packageVersion("nlme")),
                     cases = out),
                file.path(outdir, "gls.json"))
