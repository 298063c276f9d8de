#!/usr/bin/env Rscript
# Reference numbers for profile-likelihood confidence intervals (lme4's
# confint(fit, method = "profile")).
#
#   Rscript xtask/r/reference_intervals.R [<repo-root>]   (default: the current directory)
#
# Writes tests/reference/intervals/<name>.json. Data are read from the CSV files in
# crates/multilevel-datasets/data with the rules of xtask/r/reference.R (listed columns become
# factors with levels sorted numerically or byte-wise; integers become doubles).
#
# lme4 profiles the ML deviance even for REML fits (profile.merMod calls devfun2, which starts
# with refitML), so the limits of a REML fit are those of its ML refit. The parameters are
# lme4's: .sig01, .sig02, ... (per term, the lower triangle of the matrix with standard
# deviations on the diagonal and correlations off it, column by column, terms in lme4's order),
# .sigma, then the fixed effects. confint() interpolates the signed square-root deviance ζ
# (splines through the profile points) at ±qnorm((1 + level) / 2).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- normalizePath(if (length(args) >= 1) args[[1]] else ".", mustWork = TRUE)
rel <- function(...) file.path(root, ...)
arr <- function(x) I(unname(as.vector(x)))

level_order <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

read_source <- function(file, factors) {
  df <- read.csv(rel(file), stringsAsFactors = FALSE, na.strings = "NA", check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) df[[nm]] <- factor(as.character(df[[nm]]), levels = level_order(df[[nm]]))
  df
}

specs <- list(
  list(name = "sleepstudy_slope", dataset = "sleepstudy", factors = "Subject",
       file = "crates/multilevel-datasets/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "sleepstudy_intercept", dataset = "sleepstudy", factors = "Subject",
       file = "crates/multilevel-datasets/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (1 | Subject)"),
  list(name = "dyestuff", dataset = "Dyestuff", factors = "Batch",
       file = "crates/multilevel-datasets/data/Dyestuff.csv",
       formula = "Yield ~ 1 + (1 | Batch)"),
  # Singular fit (θ̂ = 0): the lower limit of the standard deviation is the boundary 0.
  list(name = "dyestuff2", dataset = "Dyestuff2", factors = "Batch",
       file = "crates/multilevel-datasets/data/Dyestuff2.csv",
       formula = "Yield ~ 1 + (1 | Batch)")
)

for (s in specs) {
  df <- read_source(s$file, s$factors)
  for (reml in c(TRUE, FALSE)) {
    fit <- lmer(as.formula(s$formula), data = df, REML = reml)
    ci <- confint(fit, method = "profile", level = 0.95, oldNames = FALSE)
    ci_old <- confint(fit, method = "profile", level = 0.95, oldNames = TRUE)
    ml <- refitML(fit)
    out <- list(
      name = s$name, formula = s$formula, data = list(dataset = s$dataset),
      factors = arr(s$factors), reml = reml, level = 0.95,
      lme4_version = as.character(packageVersion("lme4")),
      theta = arr(getME(fit, "theta")), sigma = sigma(fit),
      ml_deviance = deviance(ml), ml_theta = arr(getME(ml, "theta")), ml_sigma = sigma(ml),
      params = arr(rownames(ci_old)), labels = arr(rownames(ci)),
      lower = arr(ci[, 1]), upper = arr(ci[, 2])
    )
    path <- rel("tests/reference/intervals",
                paste0(s$name, if (reml) "_reml" else "_ml", ".json"))
    dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
    writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), path, useBytes = TRUE)
    cat("  wrote", path, "\n")
  }
}
