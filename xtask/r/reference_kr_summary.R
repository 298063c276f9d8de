#!/usr/bin/env Rscript
# Reference numbers for the Kenward-Roger coefficient table of a fit: lmerTest's
# summary(fit, ddf = "Kenward-Roger"), whose standard errors, t values and p-values come from
# pbkrtest's adjusted covariance of the fixed effects (vcovAdj, Phi_A) and whose df are
# pbkrtest's Lb_ddf. On balanced data Phi_A equals vcov(fit); the models here are unbalanced
# so that the adjustment shows.
#
#   Rscript xtask/r/reference_kr_summary.R [<repo-root>]   (default: the current directory)
#
# Writes the data (deterministic row subsets of lme4's sleepstudy and nlme's Machines and Oats)
# to tests/data/kr_*.csv and one JSON per model to tests/reference/kr_summary/<name>.json:
# theta, sigma, the REML criterion, lmerTest's Kenward-Roger table (estimate, se, df, t, p) and,
# for comparison, the unadjusted standard errors sqrt(diag(vcov(fit))).
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

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

write_csv_file <- function(df, name) {
  path <- rel("tests", "data", name)
  write.csv(df, path, row.names = FALSE)
  cat("  wrote tests/data/", name, "\n", sep = "")
  file.path("tests", "data", name)
}

# The data: every 7th row of sleepstudy dropped; 9 of Machines' 54 rows dropped (cells with 1,
# 2 and 3 replicates); 7 of Oats' 72 plots dropped.
sleep <- lme4::sleepstudy
sleep <- sleep[setdiff(seq_len(nrow(sleep)), seq(3, nrow(sleep), by = 7)), ]
sleep <- data.frame(Reaction = sleep$Reaction, Days = sleep$Days,
                    Subject = as.integer(as.character(sleep$Subject)))
mach <- nlme::Machines
mach <- mach[-c(1, 5, 9, 20, 21, 30, 37, 44, 52), ]
mach <- data.frame(Worker = as.integer(as.character(mach$Worker)),
                   Machine = as.character(mach$Machine), score = mach$score)
oats <- nlme::Oats
oats <- oats[-c(2, 11, 23, 35, 48, 60, 71), ]
oats <- data.frame(Block = as.character(oats$Block), Variety = as.character(oats$Variety),
                   nitro = oats$nitro, yield = oats$yield)

files <- list(
  sleepstudy = list(csv = write_csv_file(sleep, "kr_sleepstudy.csv"), factors = "Subject"),
  machines = list(csv = write_csv_file(mach, "kr_machines.csv"),
                  factors = c("Worker", "Machine")),
  oats = list(csv = write_csv_file(oats, "kr_oats.csv"), factors = c("Block", "Variety"))
)

level_order <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

read_data <- function(src) {
  df <- read.csv(rel(src$csv), stringsAsFactors = FALSE, check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in src$factors) {
    df[[nm]] <- factor(as.character(df[[nm]]), levels = level_order(df[[nm]]))
  }
  df
}

clean_lmer <- function(formula, df) {
  withCallingHandlers(
    lmerTest::lmer(as.formula(formula), data = df, REML = TRUE),
    warning = function(w) stop("warning while fitting ", formula, ": ", conditionMessage(w)),
    message = function(m) stop("message while fitting ", formula, ": ", conditionMessage(m))
  )
}

specs <- list(
  list(name = "sleepstudy_unbalanced", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "machines_unbalanced", data = "machines",
       formula = "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)"),
  list(name = "oats_unbalanced", data = "oats",
       formula = "yield ~ Variety + nitro + (1 | Block/Variety)")
)

cat("Kenward-Roger summary references\n")
for (spec in specs) {
  src <- files[[spec$data]]
  df <- read_data(src)
  fit <- clean_lmer(spec$formula, df)
  kr <- summary(fit, ddf = "Kenward-Roger")$coefficients
  out <- list(
    name = spec$name, kind = "kr_summary",
    data = list(csv = src$csv), factors = arr(src$factors), ordered = arr(character(0)),
    formula = spec$formula, REML = TRUE,
    theta = arr(getME(fit, "theta")), sigma = sigma(fit), objective = unname(REMLcrit(fit)),
    unadjusted_se = arr(sqrt(diag(as.matrix(vcov(fit))))),
    kenward_roger = list(names = arr(rownames(kr)), estimate = arr(kr[, "Estimate"]),
                         se = arr(kr[, "Std. Error"]), df = arr(kr[, "df"]),
                         t = arr(kr[, "t value"]), p = arr(kr[, "Pr(>|t|)"])),
    versions = list(R = R.version.string, lme4 = packageDescription("lme4")$Version,
                    lmerTest = packageDescription("lmerTest")$Version,
                    pbkrtest = packageDescription("pbkrtest")$Version)
  )
  write_json_file(out, rel("tests", "reference", "kr_summary", paste0(spec$name, ".json")))
}
