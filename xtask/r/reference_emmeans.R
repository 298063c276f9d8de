#!/usr/bin/env Rscript
# Reference numbers for estimated marginal means and their contrasts: emmeans' emmeans(),
# pairs() and contrast() on lme4 fits, with Kenward-Roger df (emmeans' default for lmer fits,
# through pbkrtest's vcovAdj and Lb_ddf), Satterthwaite df (lmer.df = "satterthwaite"),
# equal and proportional weights, `by` groups, `at` values of a covariate, Tukey, Holm,
# Bonferroni and unadjusted p-values, and a binomial GLMM on the link and response scales
# (asymptotic df).
#
#   Rscript xtask/r/reference_emmeans.R [<repo-root>]   (default: the current directory)
#
# Reads the unbalanced subsets of lme4's sleepstudy and nlme's Oats and Machines written by
# reference_kr_summary.R (tests/data/kr_*.csv) and lme4's cbpp (the embedded CSV), and writes
# one JSON per model to tests/reference/emmeans/<name>.json: the fit's theta and beta, then
# per case the options and emmeans' summary columns (levels, estimate, SE, df, limits) and,
# for contrasts, the labels, by levels, estimate, SE, df, test statistic and p-value.

suppressPackageStartupMessages({
  library(lme4)
  library(emmeans)
  library(pbkrtest)
  library(lmerTest)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
emm_options(pbkrtest.limit = 1e6, lmerTest.limit = 1e6)

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

# Read a CSV as the Rust side does: listed columns become factors with sorted levels.
read_data <- function(file, factors) {
  df <- read.csv(rel(file), stringsAsFactors = FALSE, check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    df[[nm]] <- factor(as.character(df[[nm]]), levels = level_order(df[[nm]]))
  }
  df
}

clean <- function(expr) {
  withCallingHandlers(expr,
    warning = function(w) stop("warning while fitting: ", conditionMessage(w)),
    message = function(m) stop("message while fitting: ", conditionMessage(m)))
}

# emmeans' summary as plain columns: the grid's factor levels (one array per row), the
# estimate, SE, df and confidence limits.
emm_table <- function(e, level) {
  s <- as.data.frame(summary(e, level = level))
  est <- attr(summary(e), "estName")
  cl <- attr(summary(e), "clNames")
  vars <- c(attr(summary(e), "pri.vars"), attr(summary(e), "by.vars"))
  list(
    variables = arr(vars),
    levels = lapply(seq_len(nrow(s)), function(i) arr(vapply(vars, function(v)
      as.character(s[[v]][i]), ""))),
    estimate_name = est,
    estimate = arr(s[[est]]), se = arr(s$SE), df = arr(s$df),
    lower = arr(s[[cl[1]]]), upper = arr(s[[cl[2]]])
  )
}

con_table <- function(cn) {
  sm <- summary(cn)
  ci <- confint(cn, level = 0.95)
  ci_note <- if (attr(sm, "adjust") == "none") NULL else
    capture.output(print(ci))[grepl("^Conf-level adjustment", capture.output(print(ci)))]
  s <- as.data.frame(sm)
  est <- attr(sm, "estName")
  stat <- intersect(c("t.ratio", "z.ratio"), names(s))
  byv <- attr(sm, "by.vars")
  list(
    adjust = attr(sm, "adjust"),
    by_variables = arr(if (is.null(byv)) character(0) else byv),
    labels = arr(as.character(s$contrast)),
    by = lapply(seq_len(nrow(s)), function(i) arr(vapply(byv, function(v)
      as.character(s[[v]][i]), ""))),
    estimate_name = est,
    estimate = arr(s[[est]]), se = arr(s$SE), df = arr(s$df),
    statistic = arr(s[[stat]]), p = arr(s$p.value),
    # confint() of the contrasts at the same adjustment (Tukey limits for tukey, Bonferroni
    # limits for holm and bonferroni), back-transformed for ratios.
    lower = arr(ci[[attr(ci, "clNames")[1]]]), upper = arr(ci[[attr(ci, "clNames")[2]]]),
    ci_note = ci_note
  )
}

# One case: options for the Rust side and emmeans' answers.
run_case <- function(fit, case) {
  args <- list(fit, specs = case$specs, level = 0.95)
  if (length(case$by)) args$by <- case$by
  if (!is.null(case$at)) args$at <- case$at
  if (!is.null(case$weights)) args$weights <- case$weights
  if (!is.null(case$df)) args$lmer.df <- case$df
  if (!is.null(case$type)) args$type <- case$type
  e <- do.call(emmeans, args)
  out <- list(
    label = case$label, specs = arr(case$specs),
    by = arr(if (is.null(case$by)) character(0) else case$by),
    at = if (is.null(case$at)) setNames(list(), character(0)) else
      lapply(case$at, function(v) arr(v)),
    weights = if (is.null(case$weights)) "equal" else case$weights,
    df_method = if (is.null(case$df)) "kenward-roger" else case$df,
    type = if (is.null(case$type)) "link" else case$type,
    level = 0.95,
    emmeans = emm_table(e, 0.95)
  )
  if (!is.null(case$custom)) {
    cargs <- list(e, method = case$custom)
    if (!is.null(case$adjust)) cargs$adjust <- case$adjust
    cn <- do.call(contrast, cargs)
    out$custom <- lapply(names(case$custom), function(nm) list(name = nm,
      levels = arr(levels(e)[[case$specs]]), weights = arr(case$custom[[nm]])))
    out$contrasts <- con_table(cn)
  }
  if (!is.null(case$contrast)) {
    cargs <- list(e, method = case$contrast)
    if (!is.null(case$adjust)) cargs$adjust <- case$adjust
    if (!is.null(case$type)) cargs$type <- case$type
    cn <- do.call(contrast, cargs)
    out$contrast <- case$contrast
    out$contrasts <- con_table(cn)
  }
  out
}

models <- list(
  list(name = "oats_additive", csv = "tests/data/kr_oats.csv",
       factors = c("Block", "Variety"),
       formula = "yield ~ Variety + nitro + (1 | Block/Variety)",
       cases = list(
         list(label = "Variety KR Tukey", specs = "Variety", contrast = "pairwise"),
         list(label = "Variety Satterthwaite Holm", specs = "Variety", df = "satterthwaite",
              contrast = "pairwise", adjust = "holm"),
         list(label = "Variety at nitro 0.5", specs = "Variety", at = list(nitro = 0.5),
              contrast = "pairwise", adjust = "none"),
         list(label = "Variety custom", specs = "Variety",
              custom = list(GvM = c(1, -1, 0), "GM vs V" = c(0.5, 0.5, -1))),
         list(label = "Variety custom Satterthwaite holm", specs = "Variety",
              df = "satterthwaite", adjust = "holm",
              custom = list(GvV = c(1, 0, -1), MvV = c(0, 1, -1)))
       )),
  list(name = "oats_factorial", csv = "tests/data/kr_oats.csv",
       factors = c("Block", "Variety", "nitro"),
       formula = "yield ~ Variety * nitro + (1 | Block/Variety)",
       cases = list(
         list(label = "Variety equal weights", specs = "Variety", contrast = "pairwise"),
         list(label = "Variety proportional", specs = "Variety", weights = "proportional"),
         list(label = "Variety by nitro", specs = "Variety", by = "nitro",
              contrast = "pairwise", adjust = "bonferroni"),
         list(label = "nitro trt.vs.ctrl", specs = "nitro", contrast = "trt.vs.ctrl",
              adjust = "holm"),
         list(label = "cells Tukey", specs = c("Variety", "nitro"), contrast = "pairwise"),
         list(label = "nitro custom by Variety bonferroni", specs = "nitro", by = "Variety",
              adjust = "bonferroni",
              custom = list(linear = c(-3, -1, 1, 3), "high vs low" = c(-1, 0, 0, 1)))
       )),
  list(name = "machines", csv = "tests/data/kr_machines.csv",
       factors = c("Worker", "Machine"),
       formula = "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)",
       cases = list(
         list(label = "Machine KR Tukey", specs = "Machine", contrast = "pairwise"),
         list(label = "Machine Satterthwaite Tukey", specs = "Machine", df = "satterthwaite",
              contrast = "pairwise")
       )),
  list(name = "sleepstudy_days_factor", csv = "tests/data/kr_sleepstudy.csv",
       factors = c("Subject", "Days"),
       formula = "Reaction ~ Days + (1 | Subject)",
       cases = list(
         list(label = "Days KR Tukey", specs = "Days", contrast = "pairwise"),
         list(label = "Days trt.vs.ctrl none", specs = "Days", contrast = "trt.vs.ctrl",
              adjust = "none")
       )),
  list(name = "cbpp_binomial", dataset = "cbpp", factors = c("herd", "period"),
       family = "binomial",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       cases = list(
         list(label = "period link Tukey", specs = "period", contrast = "pairwise"),
         list(label = "period response Tukey", specs = "period", type = "response",
              contrast = "pairwise")
       ))
)

cat("emmeans references\n")
for (spec in models) {
  file <- if (is.null(spec$dataset)) spec$csv else
    file.path("crates", "multilevel-datasets", "data", paste0(spec$dataset, ".csv"))
  df <- read_data(file, spec$factors)
  fit <- clean(if (is.null(spec$family)) {
    lme4::lmer(as.formula(spec$formula), data = df, REML = TRUE)
  } else {
    glmer(as.formula(spec$formula), data = df, family = spec$family)
  })
  out <- list(
    name = spec$name, kind = if (is.null(spec$family)) "lmm" else "glmm",
    data = if (is.null(spec$dataset)) list(csv = spec$csv) else list(dataset = spec$dataset),
    factors = arr(spec$factors), formula = spec$formula,
    family = if (is.null(spec$family)) "gaussian" else spec$family,
    REML = is.null(spec$family),
    theta = arr(getME(fit, "theta")), beta = arr(fixef(fit)),
    cases = lapply(spec$cases, function(case) run_case(fit, case)),
    versions = list(R = R.version.string, lme4 = packageDescription("lme4")$Version,
                    emmeans = packageDescription("emmeans")$Version,
                    pbkrtest = packageDescription("pbkrtest")$Version,
                    lmerTest = packageDescription("lmerTest")$Version)
  )
  write_json_file(out, rel("tests", "reference", "emmeans", paste0(spec$name, ".json")))
}
