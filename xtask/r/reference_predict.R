#!/usr/bin/env Rscript
# Reference predictions for new data: lme4's predict(fit, newdata, re.form, allow.new.levels,
# type) for LMMs and a binomial GLMM, with new data holding known and unseen grouping levels,
# values between and beyond the training values, and a row with a missing value.
#
#   Rscript xtask/r/reference_predict.R [<repo-root>]   (default: the current directory)
#
# Writes the new data to tests/data/predict_*.csv and one JSON per model to
# tests/reference/predict/<name>.json: the fit (theta, beta), the new data file, and per
# prediction setting the predictions (null where R gives NA). The standard error of the
# fixed-effect part is sqrt(diag(X vcov X')) from R's model.matrix of the new data (through
# the model's terms and their predvars), times |mu.eta(eta)| on the response scale.
# Training data are read back from the embedded CSVs with the same rules as the Rust side.

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

# Read a CSV as the Rust side does: listed columns become factors with sorted levels; a new
# data file gets the training levels plus its own unseen ones (appended), as R's predict
# matches by label.
read_data <- function(file, factors, train = NULL) {
  df <- read.csv(file, stringsAsFactors = FALSE, na.strings = c("NA", ""),
                 check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    lv <- level_order(df[[nm]])
    if (!is.null(train)) lv <- union(levels(train[[nm]]), lv)
    df[[nm]] <- factor(as.character(df[[nm]]), levels = lv)
  }
  df
}

write_new <- function(df, name) {
  path <- rel("tests", "data", name)
  write.csv(df, path, row.names = FALSE, na = "")
  cat("  wrote tests/data/", name, "\n", sep = "")
  file.path("tests", "data", name)
}

clean <- function(expr) {
  withCallingHandlers(expr,
    warning = function(w) stop("warning while fitting: ", conditionMessage(w)),
    message = function(m) stop("message while fitting: ", conditionMessage(m)))
}

# The fixed part's standard error on the link scale, NA where the row has a missing value.
fixed_se <- function(fit, newdata) {
  tt <- delete.response(terms(fit, fixed.only = TRUE))
  old <- options(na.action = "na.pass")
  on.exit(options(old))
  mf <- model.frame(tt, newdata, na.action = na.pass)
  X <- model.matrix(tt, mf, contrasts.arg = attr(getME(fit, "X"), "contrasts"))
  X <- X[, colnames(getME(fit, "X")), drop = FALSE]
  sqrt(rowSums((X %*% as.matrix(vcov(fit))) * X))
}

specs <- list(
  list(name = "sleepstudy_slope", dataset = "sleepstudy", factors = "Subject",
       formula = "Reaction ~ Days + (Days | Subject)", family = NULL,
       new = data.frame(Days = c(0, 2.5, 9, 12, 4, NA, 1),
                        Subject = c(308, 309, 372, 308, 999, 330, NA))),
  list(name = "sleepstudy_transforms", dataset = "sleepstudy", factors = "Subject",
       formula = "log(Reaction) ~ scale(Days) + I(Days^2) + (1 | Subject)", family = NULL,
       new = data.frame(Days = c(0, 3.5, 10, 7), Subject = c(331, 308, 335, 999))),
  list(name = "cake_poly", dataset = "cake", factors = c("replicate", "recipe", "temperature"),
       formula = "angle ~ recipe + poly(temp, 2) + (1 | recipe:replicate)", family = NULL,
       new = data.frame(replicate = c(1, 15, 3, 16), recipe = c("A", "C", "B", "A"),
                        temp = c(175, 180, 212.5, 230))),
  list(name = "penicillin_crossed", dataset = "Penicillin", factors = c("plate", "sample"),
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", family = NULL,
       partial = "~(1 | plate)",
       new = data.frame(plate = c("a", "x", "k", "b"), sample = c("F", "A", "zz", "C"))),
  list(name = "cbpp_binomial", dataset = "cbpp", factors = c("herd", "period"),
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       family = "binomial",
       new = data.frame(herd = c(1, 5, 15, 99, 3), period = c(1, 2, 4, 3, 2),
                        incidence = 0, size = 1))
)

# The data sets' training factor columns (for reading the new data).
cat("predict references\n")
for (spec in specs) {
  src <- rel("crates", "multilevel-datasets", "data", paste0(spec$dataset, ".csv"))
  train <- read_data(src, spec$factors)
  if (spec$dataset == "cake") {
    train$temperature <- factor(train$temperature, levels = levels(train$temperature),
                                ordered = TRUE)
  }
  fit <- clean(if (is.null(spec$family)) {
    lmer(as.formula(spec$formula), data = train, REML = TRUE)
  } else {
    glmer(as.formula(spec$formula), data = train, family = spec$family)
  })
  csv <- write_new(spec$new, paste0("predict_", spec$name, ".csv"))
  new_factors <- intersect(spec$factors, names(spec$new))
  newdata <- read_data(rel(csv), new_factors, train)
  pred <- function(...) arr(predict(fit, newdata = newdata, na.action = na.pass, ...))
  out <- list(
    name = spec$name, kind = if (is.null(spec$family)) "lmm" else "glmm",
    data = list(dataset = spec$dataset), factors = arr(spec$factors),
    ordered = arr(if (spec$dataset == "cake") "temperature" else character(0)),
    formula = spec$formula, family = if (is.null(spec$family)) "gaussian" else spec$family,
    REML = is.null(spec$family), newdata = csv, new_factors = arr(new_factors),
    theta = arr(getME(fit, "theta")), beta = arr(fixef(fit)),
    population = pred(re.form = NA),
    all_new_levels = pred(re.form = NULL, allow.new.levels = TRUE)
  )
  se <- fixed_se(fit, newdata)
  out$se_fixed_link <- arr(se)
  if (!is.null(spec$partial)) {
    out$partial <- list(re_form = sub("^~", "", spec$partial),
                        values = pred(re.form = as.formula(spec$partial),
                                      allow.new.levels = TRUE))
  }
  if (!is.null(spec$family)) {
    eta <- predict(fit, newdata = newdata, na.action = na.pass, re.form = NA)
    out$population_response <- pred(re.form = NA, type = "response")
    out$all_new_levels_response <- pred(re.form = NULL, allow.new.levels = TRUE,
                                        type = "response")
    out$se_fixed_response <- arr(se * abs(family(fit)$mu.eta(eta)))
  }
  out$versions <- list(R = R.version.string, lme4 = packageDescription("lme4")$Version)
  write_json_file(out, rel("tests", "reference", "predict", paste0(spec$name, ".json")))
}
