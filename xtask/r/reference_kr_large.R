#!/usr/bin/env Rscript
# Kenward-Roger references for a large data set: mlmRev::Chem97,
# `score ~ gcsecnt + (1 | school) + (1 | lea)` (REML).
#
#   Rscript xtask/r/reference_kr_large.R [<repo-root>]   (default: the current directory)
#
# (A subdirectory, so that the per-file checks of tests/reference/inference/*.json do not
# see this reference of another shape.) Writes
#   tests/data/Chem97.csv                           lea, school, score, gcsecnt (31,022 rows)
#   tests/reference/inference/kr/chem97.json       the full-data lme4 fit (theta, sigma, beta,
#                                                   se), and pbkrtest's Kenward-Roger df / adjusted
#                                                   se for the subsets of rows with lea <= lea_max
#                                                   (n > 4,000 and n > 10,000, so the structured
#                                                   path is used).
#
# pbkrtest (0.5.2) forms the n x n inverse of Sigma densely and one dense n x n product
# G_r Sigma^-1 per variance parameter: for the full 31,022 rows that is >= 5 matrices of
# 7.7 GB, more than this machine has, so the full-data KR numbers are not computed here unless
# KR_FULL=1 is set in the environment (then they go to the "full_kenward_roger" key).
# Data are re-read from the CSV so that R and the Rust tests use the same parsed numbers.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- normalizePath(if (length(args) >= 1) args[[1]] else ".", mustWork = TRUE)
rel <- function(...) file.path(root, ...)
arr <- function(x) I(unname(as.vector(x)))

csv <- rel("tests", "data", "Chem97.csv")
if (requireNamespace("mlmRev", quietly = TRUE)) {
  d0 <- mlmRev::Chem97
  out_csv <- data.frame(lea = as.integer(as.character(d0$lea)),
                        school = as.integer(as.character(d0$school)),
                        score = d0$score, gcsecnt = d0$gcsecnt)
  write.csv(out_csv, csv, row.names = FALSE, quote = FALSE)
  cat("  wrote tests/data/Chem97.csv (", file.size(csv), "bytes )\n")
} else if (!file.exists(csv)) {
  stop("mlmRev is not installed and tests/data/Chem97.csv does not exist")
}

read_chem <- function() {
  df <- read.csv(csv, stringsAsFactors = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in c("lea", "school")) {
    df[[nm]] <- factor(as.character(df[[nm]]),
                       levels = as.character(sort(unique(df[[nm]]))))
  }
  df
}

formula <- score ~ gcsecnt + (1 | school) + (1 | lea)
df <- read_chem()

kr_table <- function(fit) {
  V <- pbkrtest::vcovAdj(fit)
  p <- length(fixef(fit))
  dfs <- vapply(seq_len(p), function(i) {
    L <- matrix(0, 1, p)
    L[1, i] <- 1
    pbkrtest::Lb_ddf(L, vcov(fit), V)
  }, numeric(1))
  list(names = arr(names(fixef(fit))), estimate = arr(fixef(fit)),
       se = arr(sqrt(diag(as.matrix(V)))), df = arr(dfs))
}

t0 <- proc.time()[["elapsed"]]
full <- lme4::lmer(formula, data = df, REML = TRUE)
fit_secs <- proc.time()[["elapsed"]] - t0

# Subsets: the first leas (numeric order) until more than 4,000 and 10,000 rows.
counts <- table(as.numeric(as.character(df$lea)))
subset_ref <- function(min_rows) {
  lea_max <- as.numeric(names(counts))[which(cumsum(counts) > min_rows)[1]]
  sub <- df[as.numeric(as.character(df$lea)) <= lea_max, ]
  sub$lea <- droplevels(sub$lea)
  sub$school <- droplevels(sub$school)
  sfit <- lme4::lmer(formula, data = sub, REML = TRUE)
  t0 <- proc.time()[["elapsed"]]
  skr <- kr_table(sfit)
  kr_secs <- proc.time()[["elapsed"]] - t0
  list(lea_max = lea_max, n = nrow(sub), q = sum(sapply(ranef(sfit), nrow)),
       theta = arr(getME(sfit, "theta")), sigma = sigma(sfit),
       objective = unname(REMLcrit(sfit)), kenward_roger = skr, kr_seconds = kr_secs)
}
subsets <- lapply(c(4000, 10000), subset_ref)

out <- list(
  name = "kr_chem97", data = list(file = "tests/data/Chem97.csv"),
  factors = arr(c("lea", "school")),
  formula = "score ~ gcsecnt + (1 | school) + (1 | lea)", REML = TRUE,
  full = list(n = nrow(df), theta = arr(getME(full, "theta")), sigma = sigma(full),
              objective = unname(REMLcrit(full)), beta = arr(fixef(full)),
              se = arr(sqrt(diag(as.matrix(vcov(full))))), fit_seconds = fit_secs),
  subsets = subsets
)
if (identical(Sys.getenv("KR_FULL"), "1")) {
  out$full_kenward_roger <- kr_table(full)
}
out$versions <- list(R = R.version.string, lme4 = packageDescription("lme4")$Version,
                     pbkrtest = packageDescription("pbkrtest")$Version)
path <- rel("tests", "reference", "inference", "kr", "chem97.json")
dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
txt <- toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE)
writeLines(txt, path, useBytes = TRUE)
cat("  wrote tests/reference/inference/kr/chem97.json\n")
