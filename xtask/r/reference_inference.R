#!/usr/bin/env Rscript
# Reference numbers for small-sample inference (lmerTest's Satterthwaite tests, pbkrtest's
# Kenward-Roger, lme4's likelihood-ratio comparison and Wald intervals).
#
#   Rscript xtask/r/reference_inference.R [<repo-root>]   (default: the current directory)
#
# Writes tests/reference/inference/<name>.json. Models are fitted to the CSV files that
# xtask/r/reference.R writes (crates/multilevel-datasets/data, tests/data), read back with the
# same rules the Rust side uses: listed columns become factors with levels sorted numerically
# (numeric-looking columns) or byte-wise, integers become doubles.
#
# Per model (kind = "lmm"): the fit's theta/sigma/objective (to check we are at the same
# optimum), lmerTest's summary table (Satterthwaite df, t, p), lmerTest's anova() type III table,
# lmerTest's covariance of the variance parameters (2 H^-1, for diagnostics), Wald intervals
# (confint(method = "Wald")) and, when pbkrtest loads, the Kenward-Roger versions of the
# summary and anova tables. Per comparison (kind = "compare"): lme4's anova(m1, m2) table.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- normalizePath(if (length(args) >= 1) args[[1]] else ".", mustWork = TRUE)
rel <- function(...) file.path(root, ...)
has_kr <- requireNamespace("pbkrtest", quietly = TRUE)

arr <- function(x) I(unname(as.vector(x)))

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

# Data sources: same files and factor columns as reference.R.
sources <- list(
  sleepstudy = list(file = "crates/multilevel-datasets/data/sleepstudy.csv",
                    factors = "Subject", ordered = character(0)),
  Penicillin = list(file = "crates/multilevel-datasets/data/Penicillin.csv",
                    factors = c("plate", "sample"), ordered = character(0)),
  Pastes = list(file = "crates/multilevel-datasets/data/Pastes.csv",
                factors = c("batch", "cask", "sample"), ordered = character(0)),
  cake = list(file = "crates/multilevel-datasets/data/cake.csv",
              factors = c("replicate", "recipe", "temperature"), ordered = "temperature")
)

level_order <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

read_source <- function(name, contrasts = list()) {
  s <- sources[[name]]
  df <- read.csv(rel(s$file), stringsAsFactors = FALSE, na.strings = "NA", check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in s$factors) {
    df[[nm]] <- factor(as.character(df[[nm]]), levels = level_order(df[[nm]]),
                       ordered = nm %in% s$ordered)
  }
  for (nm in names(contrasts)) {
    contrasts(df[[nm]]) <- get(contrasts[[nm]], mode = "function")(nlevels(df[[nm]]))
  }
  df
}

header <- function(spec) {
  s <- sources[[spec$data]]
  contr <- if (is.null(spec$contrasts)) list() else spec$contrasts
  list(name = spec$name, kind = spec$kind, data = list(dataset = spec$data),
       factors = arr(s$factors), ordered = arr(s$ordered),
       contrasts = if (length(contr) == 0) setNames(list(), character(0)) else contr)
}

# Fit, failing on any warning or message (references must come from clean fits).
clean_lmer <- function(formula, df, REML) {
  withCallingHandlers(
    lmerTest::lmer(as.formula(formula), data = df, REML = REML),
    warning = function(w) stop("warning while fitting ", formula, ": ", conditionMessage(w)),
    message = function(m) stop("message while fitting ", formula, ": ", conditionMessage(m))
  )
}

coef_table <- function(tab) {
  list(names = arr(rownames(tab)), estimate = arr(tab[, "Estimate"]),
       se = arr(tab[, "Std. Error"]), df = arr(tab[, "df"]), t = arr(tab[, "t value"]),
       p = arr(tab[, "Pr(>|t|)"]))
}

anova_table <- function(a) {
  list(terms = arr(rownames(a)), sum_sq = arr(a[["Sum Sq"]]), mean_sq = arr(a[["Mean Sq"]]),
       num_df = arr(a[["NumDF"]]), den_df = arr(a[["DenDF"]]), f = arr(a[["F value"]]),
       p = arr(a[["Pr(>F)"]]))
}

write_lmm <- function(spec) {
  df <- read_source(spec$data, if (is.null(spec$contrasts)) list() else spec$contrasts)
  fit <- clean_lmer(spec$formula, df, spec$REML)
  sat <- summary(fit)$coefficients
  a3 <- anova(fit, type = 3)
  level <- 0.95
  ci <- confint(fit, method = "Wald", level = level)
  ci <- ci[rownames(ci) %in% names(fixef(fit)), , drop = FALSE]
  out <- c(header(spec), list(
    formula = spec$formula, REML = spec$REML,
    theta = arr(getME(fit, "theta")), sigma = sigma(fit),
    objective = unname(if (spec$REML) REMLcrit(fit) else deviance(fit)),
    vcov_varpar = unname(as.matrix(fit@vcov_varpar)),
    satterthwaite = coef_table(sat),
    anova3 = anova_table(a3),
    wald = list(level = level, names = arr(rownames(ci)), lower = arr(ci[, 1]),
                upper = arr(ci[, 2]))
  ))
  if (has_kr && spec$REML) {
    kr <- summary(fit, ddf = "Kenward-Roger")$coefficients
    out$kenward_roger <- list(coefficients = coef_table(kr),
                              anova3 = anova_table(anova(fit, type = 3, ddf = "Kenward-Roger")))
  }
  out$versions <- list(R = R.version.string,
                       lme4 = packageDescription("lme4")$Version,
                       lmerTest = packageDescription("lmerTest")$Version,
                       pbkrtest = if (has_kr) packageDescription("pbkrtest")$Version else NULL)
  write_json_file(out, rel("tests", "reference", "inference", paste0(spec$name, ".json")))
}

# lme4's anova(m1, m2): the REML fits are refitted by ML (lme4 does this by default).
write_compare <- function(spec) {
  df <- read_source(spec$data)
  if (length(spec$formulas) != 2) stop("comparisons of two models only")
  m1 <- clean_lmer(spec$formulas[[1]], df, spec$REML)
  m2 <- clean_lmer(spec$formulas[[2]], df, spec$REML)
  a <- suppressMessages(anova(m1, m2, refit = TRUE))
  dev_col <- intersect(c("deviance", "-2*log(L)"), names(a))[1]
  out <- c(header(spec), list(
    formulas = arr(spec$formulas), REML = spec$REML, refit = TRUE,
    table = list(models = arr(rownames(a)), npar = arr(a[["npar"]]), aic = arr(a[["AIC"]]),
                 bic = arr(a[["BIC"]]), loglik = arr(a[["logLik"]]),
                 deviance = arr(a[[dev_col]]), chisq = arr(a[["Chisq"]]),
                 df = arr(a[["Df"]]), p = arr(a[["Pr(>Chisq)"]])),
    versions = list(R = R.version.string, lme4 = packageDescription("lme4")$Version)
  ))
  write_json_file(out, rel("tests", "reference", "inference", paste0(spec$name, ".json")))
}

lmm_specs <- list(
  list(name = "sleepstudy_slope_reml", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)", REML = TRUE),
  list(name = "sleepstudy_slope_ml", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)", REML = FALSE),
  list(name = "penicillin_crossed_reml", data = "Penicillin",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", REML = TRUE),
  list(name = "pastes_cask_reml", data = "Pastes",
       formula = "strength ~ cask + (1 | batch) + (1 | sample)", REML = TRUE),
  list(name = "cake_interaction_reml", data = "cake",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", REML = TRUE),
  list(name = "cake_interaction_sum_reml", data = "cake",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", REML = TRUE,
       contrasts = list(recipe = "contr.sum"))
)
compare_specs <- list(
  list(name = "compare_sleepstudy", data = "sleepstudy", REML = TRUE,
       formulas = c("Reaction ~ Days + (1 | Subject)", "Reaction ~ Days + (Days | Subject)"))
)

cat("inference references\n")
for (spec in lmm_specs) write_lmm(c(spec, kind = "lmm"))
for (spec in compare_specs) write_compare(c(spec, kind = "compare"))
