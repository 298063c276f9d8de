#!/usr/bin/env Rscript
# Reference conditional modes with their conditional standard deviations: lme4's
# ranef(fit, condVar = TRUE), laid out as broom.mixed's tidy(fit, effects = "ran_vals")
# (group, level, term, estimate, std.error = the square root of the postVar diagonal),
# ordered by grouping factor, then term, then level.
#
#   Rscript xtask/r/reference_ranef.R [<repo-root>]   (default: the current directory)
#
# Writes tests/reference/ranef/<name>.json for sleepstudy (a correlated intercept and slope)
# and Penicillin (two crossed intercept terms), read from the embedded CSVs.

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

read_data <- function(dataset, factors) {
  df <- read.csv(rel("crates", "multilevel-datasets", "data", paste0(dataset, ".csv")),
                 stringsAsFactors = FALSE, check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    df[[nm]] <- factor(as.character(df[[nm]]), levels = level_order(df[[nm]]))
  }
  df
}

specs <- list(
  list(name = "sleepstudy_slope", dataset = "sleepstudy", factors = "Subject",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "penicillin_crossed", dataset = "Penicillin", factors = c("plate", "sample"),
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)")
)

cat("ranef references\n")
for (spec in specs) {
  df <- read_data(spec$dataset, spec$factors)
  fit <- lmer(as.formula(spec$formula), data = df, REML = TRUE)
  re <- ranef(fit, condVar = TRUE)
  rows <- list()
  for (g in names(re)) {
    tab <- re[[g]]
    pv <- attr(tab, "postVar")
    for (j in seq_along(tab)) {
      for (i in seq_len(nrow(tab))) {
        rows[[length(rows) + 1]] <- list(group = g, level = rownames(tab)[i],
                                         term = names(tab)[j], estimate = tab[i, j],
                                         std_error = sqrt(pv[j, j, i]))
      }
    }
  }
  out <- list(
    name = spec$name, data = list(dataset = spec$dataset), factors = arr(spec$factors),
    formula = spec$formula, theta = arr(getME(fit, "theta")),
    group = arr(vapply(rows, `[[`, "", "group")),
    level = arr(vapply(rows, `[[`, "", "level")),
    term = arr(vapply(rows, `[[`, "", "term")),
    estimate = arr(vapply(rows, `[[`, 0, "estimate")),
    std_error = arr(vapply(rows, `[[`, 0, "std_error")),
    versions = list(R = R.version.string, lme4 = packageDescription("lme4")$Version)
  )
  write_json_file(out, rel("tests", "reference", "ranef", paste0(spec$name, ".json")))
}
