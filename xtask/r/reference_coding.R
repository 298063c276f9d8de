#!/usr/bin/env Rscript
# Reference fits for factor codings chosen without code: lme4 fits after relevel() and with
# contrasts = list(f = "contr.sum" / "contr.helmert"), whose fixed effects (names, estimates,
# standard errors) the command line's --relevel and --contrasts must reproduce.
#
#   Rscript xtask/r/reference_coding.R [<repo-root>]   (default: the current directory)
#
# Reads tests/data/kr_oats.csv and tests/data/kr_machines.csv (written by
# reference_kr_summary.R) and writes tests/reference/coding/<name>.json.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- normalizePath(if (length(args) >= 1) args[[1]] else ".", mustWork = TRUE)
rel <- function(...) file.path(root, ...)
arr <- function(x) I(unname(as.vector(x)))

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

level_order <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

read_data <- function(file, factors) {
  df <- read.csv(rel(file), stringsAsFactors = FALSE, check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    df[[nm]] <- factor(as.character(df[[nm]]), levels = level_order(df[[nm]]))
  }
  df
}

specs <- list(
  list(name = "oats_relevel", csv = "tests/data/kr_oats.csv", factors = c("Block", "Variety"),
       formula = "yield ~ Variety + nitro + (1 | Block/Variety)",
       relevel = list(Variety = "Victory"), contrasts = list()),
  list(name = "oats_sum", csv = "tests/data/kr_oats.csv", factors = c("Block", "Variety"),
       formula = "yield ~ Variety * nitro + (1 | Block/Variety)",
       relevel = list(), contrasts = list(Variety = "sum")),
  list(name = "machines_helmert_relevel", csv = "tests/data/kr_machines.csv",
       factors = c("Worker", "Machine"),
       formula = "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)",
       relevel = list(Machine = "C"), contrasts = list(Machine = "helmert"))
)

cat("coding references\n")
for (spec in specs) {
  df <- read_data(spec$csv, spec$factors)
  for (nm in names(spec$relevel)) df[[nm]] <- relevel(df[[nm]], ref = spec$relevel[[nm]])
  ctr <- lapply(spec$contrasts, function(k) paste0("contr.", k))
  fit <- if (length(ctr)) {
    lmer(as.formula(spec$formula), data = df, REML = TRUE, contrasts = ctr)
  } else {
    lmer(as.formula(spec$formula), data = df, REML = TRUE)
  }
  out <- list(
    name = spec$name, data = list(csv = spec$csv), factors = arr(spec$factors),
    formula = spec$formula,
    relevel = if (length(spec$relevel)) spec$relevel else setNames(list(), character(0)),
    contrasts = if (length(spec$contrasts)) spec$contrasts else setNames(list(), character(0)),
    names = arr(names(fixef(fit))), beta = arr(fixef(fit)),
    se = arr(sqrt(diag(as.matrix(vcov(fit))))), objective = unname(REMLcrit(fit)),
    versions = list(R = R.version.string, lme4 = packageDescription("lme4")$Version)
  )
  write_json_file(out, rel("tests", "reference", "coding", paste0(spec$name, ".json")))
}
