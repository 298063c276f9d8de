#!/usr/bin/env Rscript
# Generate the R/lme4 reference material that the Rust test-suite compares against.
#
#   Rscript xtask/r/reference.R [<repo-root>]        (default: the current directory)
#   REFERENCE_SKIP_SLOW=1 Rscript xtask/r/reference.R  (skip the InstEval fit, 1-2 min)
#
# Everything written is deterministic apart from the measured `time_s` fields and last-digit
# noise in some fits: with the reference BLAS, runs of the same script can differ in about the
# 10th significant digit (seen for Penicillin, theta differs by ~1e-10), so compare with a
# tolerance, never bit for bit. Outputs:
#
#   crates/multilevel-datasets/data/<name>.csv   embedded data sets (lme4's sleepstudy, ...)
#   tests/data/InstEval.csv, design_small.csv     data used only by references
#   tests/reference/design/<name>.json            model matrices and random-effect structures
#   tests/reference/lmm/<name>.json               lmer fits
#
# The JSON layout follows the project's reference-file contract (REFERENCE_FORMATS.md); every
# file is written with jsonlite (auto_unbox = TRUE, digits = NA, null/na written as JSON null).
#
# Data flow, chosen so that R sees exactly what the Rust side will see:
#   1. the lme4 data sets are written to CSV;
#   2. every model is fitted to data READ BACK from those CSV files, turning the columns listed
#      in `factors` into factors (levels sorted: numerically for numeric-looking columns,
#      byte-wise (C collation) otherwise) and those in `ordered` into ordered factors (same
#      level order); per-column contrasts come from the spec's `contrasts`;
#   3. the read-back data are checked against lme4's original objects (values and levels), so
#      the "levels as R has them" promise of the contract is verified, not assumed.
#
# Extension points: add a data set to `datasets`, a design check to `design_models` /
# `mm_models`, an LMM to `lmm_models`. GLMM and inference references will get their own spec
# list and writer function (see the end of this file).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

# Byte-wise collation so that character levels sort the same way on every machine (and the
# same way a Rust `sort()` on strings does).
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)

lme4_version <- packageDescription("lme4")$Version
r_version <- R.version.string

# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

# Keep a vector as a JSON array even when it has length 0 or 1 (auto_unbox would turn a
# length-1 vector into a scalar).
arr <- function(x) I(unname(as.vector(x)))

# Write one JSON file in the contract's format.
write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

# Shortest decimal text (15, 16 or 17 significant digits) that reads back as the same double.
num_text <- function(x) {
  out <- sprintf("%.15g", x)
  for (d in c(16, 17)) {
    bad <- !is.na(x) & as.numeric(out) != x
    if (!any(bad)) break
    out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  out[is.na(x)] <- "NA"
  out
}

# Write a data frame as CSV: header, no row names, "NA" for missing, doubles at full
# precision, factors as their labels. Fields are not quoted; we check none needs quoting.
write_data_csv <- function(df, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  out <- df
  for (nm in names(out)) {
    col <- out[[nm]]
    if (is.factor(col)) {
      out[[nm]] <- as.character(col)
    } else if (is.double(col)) {
      out[[nm]] <- num_text(col)
    }
    txt <- as.character(out[[nm]])
    if (any(grepl("[\",\r\n]", txt[!is.na(txt)]))) stop("column ", nm, " would need quoting")
  }
  write.csv(out, path, row.names = FALSE, na = "NA", quote = FALSE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

# Sorted level set the way the Rust side builds it: numeric order when every value parses as
# a number, byte order otherwise.
sorted_levels <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

# A text factor with its levels in byte order (as the Rust side sorts them), unordered.
as_sorted_factor <- function(x) {
  x <- as.character(x)
  factor(x, levels = sort(unique(x), method = "radix"))
}

# Read a CSV written above and convert the listed columns to (ordered) factors.
read_data_csv <- function(path, factors = character(0), ordered = character(0)) {
  df <- read.csv(path, stringsAsFactors = FALSE, na.strings = "NA", check.names = FALSE)
  # The Rust side holds every numeric column as f64: do the same (read.csv makes integers).
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in union(factors, ordered)) {
    if (!nm %in% names(df)) stop("no column ", nm, " in ", path)
    lev <- sorted_levels(df[[nm]])
    df[[nm]] <- factor(as.character(df[[nm]]), levels = lev, ordered = nm %in% ordered)
  }
  df
}

# The read-back data must equal lme4's object: same values, same factor levels and ordering.
# With `level_order_may_differ`, only the level SET must agree (see InstEval below).
check_same_data <- function(read_back, original, name, level_order_may_differ = FALSE) {
  original <- as.data.frame(original)
  if (!identical(names(read_back), names(original))) stop(name, ": column names differ")
  for (nm in names(original)) {
    a <- read_back[[nm]]
    b <- original[[nm]]
    if (is.factor(b)) {
      if (!is.factor(a)) stop(name, "$", nm, ": R has a factor, the CSV reading does not")
      same_levels <- if (level_order_may_differ) setequal(levels(a), levels(b)) else identical(levels(a), levels(b))
      if (!same_levels) stop(name, "$", nm, ": factor levels differ")
      if (!identical(is.ordered(a), is.ordered(b))) stop(name, "$", nm, ": orderedness differs")
      if (!identical(as.character(a), as.character(b))) stop(name, "$", nm, ": values differ")
    } else {
      if (!isTRUE(all.equal(as.numeric(a), as.numeric(b), tolerance = 0))) {
        stop(name, "$", nm, ": values differ")
      }
    }
  }
  invisible(TRUE)
}

# ---------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------

# Every data set a reference may use. `embedded = TRUE` ones go to the datasets crate and are
# named {"dataset": name} in JSON; the others go to tests/data and are named {"csv": path}.
# `factors` lists every factor column (ordered ones included); `ordered` the ordered ones.
datasets <- list(
  sleepstudy = list(embedded = TRUE, data = function() lme4::sleepstudy,
                    factors = c("Subject"), ordered = character(0)),
  Dyestuff = list(embedded = TRUE, data = function() lme4::Dyestuff,
                  factors = c("Batch"), ordered = character(0)),
  Dyestuff2 = list(embedded = TRUE, data = function() lme4::Dyestuff2,
                   factors = c("Batch"), ordered = character(0)),
  Penicillin = list(embedded = TRUE, data = function() lme4::Penicillin,
                    factors = c("plate", "sample"), ordered = character(0)),
  Pastes = list(embedded = TRUE, data = function() lme4::Pastes,
                factors = c("batch", "cask", "sample"), ordered = character(0)),
  cake = list(embedded = TRUE, data = function() lme4::cake,
              factors = c("replicate", "recipe", "temperature"), ordered = c("temperature")),
  cbpp = list(embedded = TRUE, data = function() lme4::cbpp,
              factors = c("herd", "period"), ordered = character(0)),
  # mlmRev's Hsb82 (High School and Beyond, 7,185 students in 160 schools) and nlme's Orthodont
  # (growth of 27 children measured at ages 8-14). Factors are written as text, so their levels
  # are sorted (Catholic < Public, Female < Male) on both sides.
  Hsb82 = list(embedded = TRUE, data = function() {
    d <- mlmRev::Hsb82
    school <- as.numeric(as.character(d$school))
    data.frame(school = factor(school, levels = sort(unique(school))),
               minrty = as_sorted_factor(d$minrty), sx = as_sorted_factor(d$sx), ses = d$ses,
               mAch = d$mAch, meanses = d$meanses, sector = as_sorted_factor(d$sector),
               cses = d$cses)
  }, factors = c("school", "minrty", "sx", "sector"), ordered = character(0)),
  Orthodont = list(embedded = TRUE, data = function() {
    d <- nlme::Orthodont
    data.frame(distance = d$distance, age = d$age, Subject = as_sorted_factor(d$Subject),
               Sex = as_sorted_factor(d$Sex))
  }, factors = c("Subject", "Sex"), ordered = character(0)),
  # lme4's InstEval$dept has levels in a non-sorted order ("15", "5", "10", ...). The references
  # use the CSV with sorted levels, as the Rust side reads it; only the order of the dept random
  # effects (and of Zt's rows) depends on this, and the JSON lists the levels in the order used.
  InstEval = list(embedded = FALSE, data = function() lme4::InstEval,
                  factors = c("s", "d", "studage", "lectage", "service", "dept"),
                  ordered = c("studage", "lectage"), level_order_may_differ = TRUE),
  # A small hand-made data set for model.matrix checks (no random numbers: the values are
  # closed-form functions of the row index, so the file is the same on every platform).
  design_small = list(embedded = FALSE, data = function() {
    i <- 1:24
    data.frame(
      y = round(2 + 0.7 * sin(1.3 * i) + 0.05 * i, 4),
      x = round(1.5 * sin(1.7 * i) + i / 12, 4),
      z = round(exp(cos(0.9 * i)) + 0.25, 4),
      f = factor(c("a", "b", "c")[(i %% 3) + 1]),
      g = factor(c("p", "q")[((i %/% 3) %% 2) + 1]),
      h = factor(paste0("h", ((7 * i) %% 4) + 1))
    )
  }, factors = c("f", "g", "h"), ordered = character(0))
)

dataset_path <- function(name) {
  if (datasets[[name]]$embedded) {
    file.path("crates", "multilevel-datasets", "data", paste0(name, ".csv"))
  } else {
    file.path("tests", "data", paste0(name, ".csv"))
  }
}

# The JSON description of a data source: {"dataset": name} or {"csv": path}.
data_json <- function(name) {
  if (datasets[[name]]$embedded) list(dataset = name) else list(csv = dataset_path(name))
}

write_all_datasets <- function() {
  cat("data sets\n")
  for (name in names(datasets)) {
    ds <- datasets[[name]]
    write_data_csv(as.data.frame(ds$data()), rel(dataset_path(name)))
    back <- read_data_csv(rel(dataset_path(name)), ds$factors, ds$ordered)
    check_same_data(back, ds$data(), name, isTRUE(ds$level_order_may_differ))
  }
}

# Data exactly as the Rust side will build it, optionally with extra ordered columns and
# per-column contrasts (contrasts = list(col = "contr.sum"), applied with `contrasts<-`).
load_data <- function(name, ordered_extra = character(0), contrasts = list()) {
  ds <- datasets[[name]]
  df <- read_data_csv(rel(dataset_path(name)), ds$factors, union(ds$ordered, ordered_extra))
  for (nm in names(contrasts)) {
    contrasts(df[[nm]]) <- get(contrasts[[nm]], mode = "function")(nlevels(df[[nm]]))
  }
  df
}

# ---------------------------------------------------------------------------------------------
# Design references
# ---------------------------------------------------------------------------------------------

# Column-compressed sparse matrix → 0-based (i, j, x) triplets in column-major order.
sparse_triplets <- function(m) {
  m <- as(m, "CsparseMatrix")
  m <- as(m, "generalMatrix")
  list(nrow = nrow(m), ncol = ncol(m),
       i = arr(m@i),
       j = arr(rep(seq_len(ncol(m)) - 1L, diff(m@p))),
       x = arr(m@x))
}

# JSON description of lme4's reTrms (random-effect terms, in lme4's order: sorted by number of
# levels, decreasing).
reterms_json <- function(rt) {
  fl_assign <- attr(rt$flist, "assign")
  list(
    flist_names = arr(names(rt$flist)),
    cnms = lapply(seq_along(rt$cnms), function(k) {
      list(group = names(rt$cnms)[k], names = arr(rt$cnms[[k]]))
    }),
    nlevels = arr(vapply(fl_assign, function(a) nlevels(rt$flist[[a]]), integer(1))),
    levels = lapply(fl_assign, function(a) arr(levels(rt$flist[[a]]))),
    theta = arr(rt$theta),
    lower = arr(ifelse(is.finite(rt$lower), rt$lower, NA)),
    Zt = sparse_triplets(rt$Zt)
  )
}

# Fields shared by every reference: name, formula, data source, factor columns, contrasts.
header_json <- function(spec) {
  ds <- datasets[[spec$data]]
  ordered <- union(ds$ordered, if (is.null(spec$ordered)) character(0) else spec$ordered)
  contr <- if (is.null(spec$contrasts)) list() else spec$contrasts
  list(
    name = spec$name,
    formula = spec$formula,
    data = data_json(spec$data),
    factors = arr(union(ds$factors, ordered)),
    ordered = arr(ordered),
    contrasts = if (length(contr) == 0) setNames(list(), character(0)) else contr
  )
}

spec_data <- function(spec) {
  load_data(spec$data,
            ordered_extra = if (is.null(spec$ordered)) character(0) else spec$ordered,
            contrasts = if (is.null(spec$contrasts)) list() else spec$contrasts)
}

matrix_json <- function(X) {
  list(n = nrow(X), x_names = arr(colnames(X)), x = unname(as.matrix(X)),
       x_assign = arr(attr(X, "assign")))
}

# Mixed-model design: X (after lme4's rank check) and reTrms from lFormula.
write_design <- function(spec) {
  df <- spec_data(spec)
  lf <- lFormula(as.formula(spec$formula), data = df)
  out <- c(header_json(spec), matrix_json(lf$X), list(reterms = reterms_json(lf$reTrms)))
  write_json_file(out, rel("tests", "reference", "design", paste0(spec$name, ".json")))
}

# Fixed-effects-only design: stats::model.matrix (no rank-drop), reterms null.
write_mm <- function(spec) {
  df <- spec_data(spec)
  X <- model.matrix(as.formula(spec$formula), data = df)
  out <- c(header_json(spec), matrix_json(X), list(reterms = NULL))
  write_json_file(out, rel("tests", "reference", "design", paste0(spec$name, ".json")))
}

design_models <- list(
  list(name = "sleepstudy_slope", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "sleepstudy_uncorr", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days || Subject)"),
  list(name = "penicillin_crossed", data = "Penicillin",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list(name = "pastes_nested", data = "Pastes",
       formula = "strength ~ 1 + (1 | batch/cask)"),
  list(name = "cake_interaction", data = "cake",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)")
)

mm_models <- list(
  list(name = "mm_x_times_f", data = "design_small", formula = "y ~ x * f"),
  list(name = "mm_square", data = "design_small", formula = "y ~ (x + f + g)^2"),
  list(name = "mm_transforms", data = "design_small",
       formula = "y ~ I(x^2) + log(z) + poly(x, 2) + scale(x)"),
  list(name = "mm_contr_sum", data = "design_small", formula = "y ~ f",
       contrasts = list(f = "contr.sum")),
  list(name = "mm_contr_helmert", data = "design_small", formula = "y ~ f",
       contrasts = list(f = "contr.helmert")),
  list(name = "mm_ordered_poly", data = "design_small", formula = "y ~ h", ordered = c("h")),
  list(name = "mm_no_intercept", data = "design_small", formula = "y ~ 0 + f"),
  list(name = "mm_interaction_only", data = "design_small", formula = "y ~ f:g"),
  list(name = "mm_minus_one", data = "design_small", formula = "y ~ x + f - 1")
)

# ---------------------------------------------------------------------------------------------
# LMM references
# ---------------------------------------------------------------------------------------------

# Fit once, collecting (not printing) warnings and messages from lme4.
fit_lmer <- function(formula, df, REML, weights) {
  warns <- character(0)
  msgs <- character(0)
  elapsed <- system.time({
    fit <- withCallingHandlers(
      {
        if (is.null(weights)) {
          lmer(formula, data = df, REML = REML)
        } else {
          # lmer evaluates `weights` in the data frame (non-standard evaluation).
          df$.weights <- df[[weights]]
          lmer(formula, data = df, REML = REML, weights = .weights)
        }
      },
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      },
      message = function(m) {
        msgs <<- c(msgs, trimws(conditionMessage(m)))
        invokeRestart("muffleMessage")
      })
  })[["elapsed"]]
  list(fit = fit, elapsed = elapsed, warnings = unique(warns), messages = unique(msgs))
}

# Random effects per lme4 grouping factor (as ranef() gives them: with `||` the two terms for
# the same factor are one entry whose `terms` list all its columns), with conditional SDs.
ranef_json <- function(fit) {
  re <- ranef(fit, condVar = TRUE)
  lapply(names(re), function(g) {
    d <- re[[g]]
    pv <- attr(d, "postVar")
    # postVar is a q × q × nlevels array; older/newer lme4 versions may give one array per
    # term (a list) when a factor has several terms: handle both.
    diag_sd <- function(a) {
      q <- dim(a)[1]
      n <- dim(a)[3]
      sds <- vapply(seq_len(n), function(k) sqrt(diag(matrix(a[, , k], q, q))), numeric(q))
      matrix(sds, nrow = n, ncol = q, byrow = TRUE)   # rows = levels, columns = terms
    }
    condsd <- if (is.list(pv)) do.call(cbind, lapply(pv, diag_sd)) else diag_sd(pv)
    condsd <- matrix(condsd, nrow = nrow(d))
    list(group = g, terms = arr(colnames(d)), levels = arr(rownames(d)),
         layout = "values[level][term]",
         values = unname(as.matrix(d)), condsd = unname(condsd))
  })
}

varcorr_json <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  lapply(seq_len(nrow(vc)), function(k) {
    list(grp = vc$grp[k],
         var1 = if (is.na(vc$var1[k])) NULL else vc$var1[k],
         var2 = if (is.na(vc$var2[k])) NULL else vc$var2[k],
         vcov = vc$vcov[k], sdcor = vc$sdcor[k])
  })
}

write_lmm <- function(spec) {
  df <- spec_data(spec)
  form <- as.formula(spec$formula)
  reps <- if (is.null(spec$reps)) 3L else spec$reps
  runs <- lapply(seq_len(reps), function(r) fit_lmer(form, df, spec$REML, spec$weights))
  run <- runs[[length(runs)]]
  fit <- run$fit
  ll <- logLik(fit)
  V <- as.matrix(vcov(fit))
  X <- getME(fit, "X")
  dropped <- names(attr(X, "col.dropped"))
  if (is.null(dropped)) dropped <- character(0)
  q <- quantile(residuals(fit, type = "pearson", scaled = TRUE))
  out <- c(header_json(spec), list(
    REML = spec$REML,
    weights = spec$weights,
    lme4_version = lme4_version,
    r_version = r_version,
    nobs = nobs(fit),
    ngrps = as.list(ngrps(fit)),
    objective = if (spec$REML) REMLcrit(fit) else deviance(fit),
    loglik = as.numeric(ll),
    aic = AIC(fit),
    bic = BIC(fit),
    npar = attr(ll, "df"),
    df_resid = df.residual(fit),
    theta = arr(getME(fit, "theta")),
    theta_names = arr(names(getME(fit, "theta"))),
    sigma = sigma(fit),
    singular = isSingular(fit),
    beta = arr(fixef(fit)),
    beta_names = arr(names(fixef(fit))),
    dropped = arr(dropped),
    se = arr(sqrt(diag(V))),
    vcov = unname(V),
    varcorr = varcorr_json(fit),
    ranef = ranef_json(fit),
    fitted_head = arr(head(unname(fitted(fit)), 10)),
    resid_head = arr(head(unname(residuals(fit)), 10)),
    scaled_resid_quantiles = arr(q),
    feval = fit@optinfo$feval,
    optimizer = fit@optinfo$optimizer,
    lme4_warnings = arr(run$warnings),
    lme4_messages = arr(unique(c(run$messages, fit@optinfo$conv$lme4$messages))),
    time_reps = length(runs),
    time_s = round(median(vapply(runs, function(r) r$elapsed, numeric(1))), 4)
  ))
  write_json_file(out, rel("tests", "reference", "lmm", paste0(spec$name, ".json")))
  if (length(out$lme4_warnings) + length(out$lme4_messages) > 0) {
    cat("    lme4 said:", paste(c(run$warnings, out$lme4_messages), collapse = " | "), "\n")
  }
}

# Each spec: name (file stem), data (a key of `datasets`), formula, REML, weights (a column
# name or NULL), optionally reps (timing repetitions, default 3), ordered, contrasts.
lmm <- function(name, data, formula, REML = TRUE, weights = NULL, reps = 3L, slow = FALSE) {
  list(name = name, data = data, formula = formula, REML = REML, weights = weights, reps = reps,
       slow = slow)
}

lmm_models <- list(
  lmm("sleepstudy_slope_reml", "sleepstudy", "Reaction ~ Days + (Days | Subject)"),
  lmm("sleepstudy_slope_ml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", REML = FALSE),
  lmm("sleepstudy_intercept_reml", "sleepstudy", "Reaction ~ Days + (1 | Subject)"),
  lmm("sleepstudy_intercept_ml", "sleepstudy", "Reaction ~ Days + (1 | Subject)", REML = FALSE),
  lmm("sleepstudy_uncorr_reml", "sleepstudy", "Reaction ~ Days + (Days || Subject)"),
  lmm("sleepstudy_uncorr_ml", "sleepstudy", "Reaction ~ Days + (Days || Subject)", REML = FALSE),
  lmm("dyestuff_reml", "Dyestuff", "Yield ~ 1 + (1 | Batch)"),
  lmm("dyestuff_ml", "Dyestuff", "Yield ~ 1 + (1 | Batch)", REML = FALSE),
  lmm("dyestuff2_reml_singular", "Dyestuff2", "Yield ~ 1 + (1 | Batch)"),
  lmm("penicillin_crossed_reml", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  lmm("pastes_nested_reml", "Pastes", "strength ~ 1 + (1 | batch/cask)"),
  lmm("cake_interaction_reml", "cake", "angle ~ recipe * temperature + (1 | recipe:replicate)"),
  lmm("cbpp_weights_reml", "cbpp", "incidence / size ~ period + (1 | herd)", weights = "size"),
  lmm("sleepstudy_offset_reml", "sleepstudy", "Reaction ~ Days + offset(2 * Days) + (1 | Subject)"),
  lmm("sleepstudy_rankdef_reml", "sleepstudy", "Reaction ~ Days + I(2 * Days) + (1 | Subject)"),
  # Growth curves (Orthodont: distance by age, Sex constant within Subject), with time coded
  # from baseline (age 8) and from the midpoint (age 11); the age-by-Sex terms are cross-level
  # interactions. The quadratic one is fitted by ML.
  lmm("orthodont_growth_baseline_reml", "Orthodont",
      "distance ~ I(age - 8) * Sex + (I(age - 8) | Subject)"),
  lmm("orthodont_growth_midpoint_reml", "Orthodont",
      "distance ~ I(age - 11) * Sex + (I(age - 11) | Subject)"),
  lmm("orthodont_quadratic_ml", "Orthodont",
      "distance ~ (I(age - 11) + I((age - 11)^2)) * Sex + (I(age - 11) | Subject)", REML = FALSE),
  # High School and Beyond: the classic cross-level interaction cses:sector with the school
  # mean of ses as a level-2 predictor and a random slope of cses.
  lmm("hsb82_crosslevel_reml", "Hsb82", "mAch ~ cses * sector + meanses + (cses | school)"),
  lmm("insteval_ml", "InstEval", "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
      REML = FALSE, reps = 1L, slow = TRUE)
)

# REFERENCE_SKIP_SLOW=1 skips the slow fits (their existing JSON files are left untouched).
skip_slow <- nzchar(Sys.getenv("REFERENCE_SKIP_SLOW"))

# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------

t0 <- proc.time()[["elapsed"]]
cat("R:", r_version, "| lme4:", lme4_version, "| root:", root, "\n")
write_all_datasets()
cat("design references\n")
invisible(lapply(design_models, write_design))
invisible(lapply(mm_models, write_mm))
cat("LMM references\n")
for (spec in lmm_models) {
  if (isTRUE(spec$slow) && skip_slow) {
    cat("  skipped (slow)", spec$name, "\n")
  } else {
    write_lmm(spec)
  }
}
# Future sections (GLMM, inference) go here: a `glmm_models` spec list plus a `write_glmm`
# writer producing tests/reference/glmm/<name>.json, following the same pattern.
cat(sprintf("done in %.1f s\n", proc.time()[["elapsed"]] - t0))
