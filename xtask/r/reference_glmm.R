#!/usr/bin/env Rscript
# Generate the lme4 `glmer` reference fits that the GLMM tests compare against.
#
#   Rscript xtask/r/reference_glmm.R [<repo-root>]     (default: the current directory)
#
# Outputs:
#   tests/data/<name>.csv              data sets made here (simulated with a fixed seed, derived
#                                      from lme4's cbpp, or exported from mlmRev)
#   tests/reference/glmm/<name>.json   glmer fits
#
# Data flow as in reference.R: every data set is written to CSV first and every model is fitted
# to the data READ BACK from that CSV (factor columns listed in `factors`, levels sorted
# numerically when every level looks like a number, byte-wise otherwise), so R sees exactly
# what the Rust side sees. Timings (`time_s`) are the median of `reps` fits.
#
# Definitions recorded in each JSON file (lme4 1.1-x, checked numerically below):
#   objective = -2 * logLik(fit) = the value of glmer's deviance function at the optimum, i.e.
#               for nAGQ = 1: log|L|^2 + ||u||^2 + family$aic(y, n, mu, wt, dev)
#               (the conditional -2 log-likelihood including its constants) and for nAGQ > 1:
#               sum of deviance residuals + ||u||^2 + log|L|^2 - 2 sum log(quadrature factors)
#               (no aic constants: logLik is not comparable across nAGQ = 1 and nAGQ > 1).
#   deviance  = deviance(fit) = sum of squared deviance residuals at the conditional modes
#               (no penalty, no log-determinant): NOT -2 * logLik for GLMMs.
#   sigma     = 1 for binomial/Poisson; otherwise sqrt((Pearson chi^2 + ||u||^2) / n).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)

lme4_version <- packageDescription("lme4")$Version
r_version <- R.version.string

arr <- function(x) I(unname(as.vector(x)))

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

# Shortest decimal text that reads back as the same double.
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

write_data_csv <- function(df, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  out <- df
  for (nm in names(out)) {
    col <- out[[nm]]
    if (is.factor(col)) out[[nm]] <- as.character(col)
    else if (is.double(col)) out[[nm]] <- num_text(col)
  }
  write.csv(out, path, row.names = FALSE, na = "NA", quote = FALSE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

sorted_levels <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}

read_data_csv <- function(path, factors = character(0)) {
  df <- read.csv(path, stringsAsFactors = FALSE, na.strings = "NA", check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    lev <- sorted_levels(df[[nm]])
    df[[nm]] <- factor(as.character(df[[nm]]), levels = lev)
  }
  df
}

# ---------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------

# `embedded = TRUE`: the CSV already lives in the datasets crate (written by reference.R).
datasets <- list(
  cbpp = list(embedded = TRUE, factors = c("herd", "period")),
  # cbpp with an observation-level random effect: `obs` is the row number as a factor, so
  # (1 | obs) adds one normal effect per herd-period count, a standard way to absorb binomial
  # overdispersion (Harrison 2014; used in lme4's own cbpp examples).
  cbpp_obs = list(embedded = FALSE, factors = c("herd", "period", "obs"), make = function() {
    d <- as.data.frame(lme4::cbpp)
    d$obs <- factor(seq_len(nrow(d)))
    d
  }),
  # Poisson counts, two crossed grouping factors (24 subjects x 10 items, every pair once),
  # a covariate x and an exposure-type covariate; seed fixed.
  poisson_crossed = list(embedded = FALSE, factors = c("subj", "item"), make = function() {
    set.seed(20240511)
    ns <- 24; ni <- 10
    d <- expand.grid(s = seq_len(ns), i = seq_len(ni))
    d$subj <- sprintf("S%02d", d$s)
    d$item <- sprintf("I%02d", d$i)
    d$x <- round(rnorm(nrow(d)), 3)
    us <- rnorm(ns, sd = 0.5)
    vi <- rnorm(ni, sd = 0.3)
    eta <- 0.8 + 0.35 * d$x + us[d$s] + vi[d$i]
    d$y <- as.double(rpois(nrow(d), exp(eta)))
    d[, c("y", "x", "subj", "item")]
  }),
  # Gamma responses with a log link: 20 groups x 12 observations, shape 4.
  gamma_log = list(embedded = FALSE, factors = c("g"), make = function() {
    set.seed(7321)
    ng <- 20; m <- 12
    g <- rep(seq_len(ng), each = m)
    x <- round(runif(ng * m, -1, 1), 3)
    u <- rnorm(ng, sd = 0.4)
    mu <- exp(1 + 0.5 * x + u[g])
    y <- round(rgamma(ng * m, shape = 4, scale = mu / 4), 5)
    data.frame(y = y, x = x, g = sprintf("G%02d", g))
  }),
  # mlmRev's Contraception (Bangladesh fertility survey 1988): binary `use` (N/Y), with
  # ch = any living children, as in Bates' lme4 book.
  Contraception = list(embedded = FALSE, factors = c("district", "use", "livch", "urban", "ch"),
                       make = function() {
    data("Contraception", package = "mlmRev", envir = environment())
    d <- as.data.frame(Contraception)
    d$ch <- factor(ifelse(d$livch != "0", "Y", "N"))
    d[, c("district", "use", "livch", "age", "urban", "ch")]
  })
)

dataset_path <- function(name) {
  if (datasets[[name]]$embedded) file.path("crates", "multilevel-datasets", "data", paste0(name, ".csv"))
  else file.path("tests", "data", paste0(name, ".csv"))
}
data_json <- function(name) {
  if (datasets[[name]]$embedded) list(dataset = name) else list(csv = dataset_path(name))
}
write_datasets <- function() {
  cat("data sets\n")
  for (name in names(datasets)) {
    ds <- datasets[[name]]
    if (!ds$embedded) write_data_csv(ds$make(), rel(dataset_path(name)))
  }
}
load_data <- function(name) read_data_csv(rel(dataset_path(name)), datasets[[name]]$factors)

# ---------------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------------

family_object <- function(family, link) {
  switch(family,
         binomial = binomial(link = link),
         poisson = poisson(link = link),
         Gamma = Gamma(link = link),
         inverse.gaussian = inverse.gaussian(link = link),
         gaussian = gaussian(link = link),
         stop("unknown family ", family))
}

fit_glmer <- function(form, df, fam, nAGQ, weights) {
  warns <- character(0)
  msgs <- character(0)
  fit <- NULL
  elapsed <- system.time({
    fit <- withCallingHandlers({
      if (is.null(weights)) glmer(form, data = df, family = fam, nAGQ = nAGQ)
      else glmer(form, data = df, family = fam, nAGQ = nAGQ, weights = df[[weights]])
    }, warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }, message = function(m) {
      msgs <<- c(msgs, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    })
  })[["elapsed"]]
  list(fit = fit, elapsed = elapsed, warnings = unique(warns), messages = unique(msgs))
}

ranef_json <- function(fit) {
  re <- ranef(fit, condVar = TRUE)
  lapply(names(re), function(g) {
    d <- re[[g]]
    pv <- attr(d, "postVar")
    diag_sd <- function(a) {
      q <- dim(a)[1]
      n <- dim(a)[3]
      sds <- vapply(seq_len(n), function(k) sqrt(diag(matrix(a[, , k], q, q))), numeric(q))
      matrix(sds, nrow = n, ncol = q, byrow = TRUE)
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

write_glmm <- function(spec) {
  df <- load_data(spec$data)
  form <- as.formula(spec$formula)
  fam <- family_object(spec$family, spec$link)
  reps <- if (is.null(spec$reps)) 3L else spec$reps
  runs <- lapply(seq_len(reps), function(r) fit_glmer(form, df, fam, spec$nAGQ, spec$weights))
  run <- runs[[length(runs)]]
  fit <- run$fit
  ll <- logLik(fit)
  V <- as.matrix(vcov(fit))
  V_rx <- suppressWarnings(as.matrix(vcov(fit, use.hessian = FALSE)))
  u <- getME(fit, "u")
  pear <- residuals(fit, type = "pearson")
  # The definitions documented at the top of this file, checked on this fit.
  useSc <- getME(fit, "devcomp")$dims[["useSc"]]
  if (useSc) {
    s2 <- (sum(pear^2) + sum(u^2)) / nobs(fit)
    if (abs(sigma(fit)^2 - s2) > 1e-8 * s2) stop(spec$name, ": sigma definition does not hold")
  }
  if (abs(deviance(fit) - sum(residuals(fit, type = "deviance")^2)) > 1e-8 * deviance(fit))
    stop(spec$name, ": deviance definition does not hold")
  if (abs(-2 * as.numeric(ll) - fit@devcomp$cmp[["dev"]]) > 1e-8 * abs(fit@devcomp$cmp[["dev"]]))
    stop(spec$name, ": logLik definition does not hold")
  q <- quantile(residuals(fit, type = "pearson", scaled = TRUE))
  ds <- datasets[[spec$data]]
  out <- list(
    name = spec$name,
    formula = spec$formula,
    data = data_json(spec$data),
    factors = arr(ds$factors),
    ordered = arr(character(0)),
    contrasts = setNames(list(), character(0)),
    family = spec$family,
    link = spec$link,
    nAGQ = spec$nAGQ,
    weights = spec$weights,
    lme4_version = lme4_version,
    r_version = r_version,
    nobs = nobs(fit),
    ngrps = as.list(ngrps(fit)),
    objective = -2 * as.numeric(ll),
    loglik = as.numeric(ll),
    aic = AIC(fit),
    bic = BIC(fit),
    deviance = deviance(fit),
    npar = attr(ll, "df"),
    df_resid = df.residual(fit),
    theta = arr(getME(fit, "theta")),
    theta_names = arr(names(getME(fit, "theta"))),
    sigma = sigma(fit),
    singular = isSingular(fit),
    beta = arr(fixef(fit)),
    beta_names = arr(names(fixef(fit))),
    se = arr(sqrt(diag(V))),
    se_rx = arr(sqrt(diag(V_rx))),
    vcov = unname(V),
    varcorr = varcorr_json(fit),
    ranef = ranef_json(fit),
    u_sq = sum(u^2),
    pearson_chisq = sum(pear^2),
    fitted_head = arr(head(unname(fitted(fit)), 10)),
    eta_head = arr(head(unname(predict(fit, type = "link")), 10)),
    resid_dev_head = arr(head(unname(residuals(fit, type = "deviance")), 10)),
    resid_pearson_head = arr(head(unname(pear), 10)),
    resid_response_head = arr(head(unname(residuals(fit, type = "response")), 10)),
    scaled_resid_quantiles = arr(q),
    feval = fit@optinfo$feval,
    optimizer = arr(fit@optinfo$optimizer),
    lme4_warnings = arr(run$warnings),
    lme4_messages = arr(unique(c(run$messages, fit@optinfo$conv$lme4$messages))),
    time_reps = length(runs),
    time_s = round(median(vapply(runs, function(r) r$elapsed, numeric(1))), 4)
  )
  write_json_file(out, rel("tests", "reference", "glmm", paste0(spec$name, ".json")))
  if (length(out$lme4_warnings) + length(out$lme4_messages) > 0)
    cat("    lme4 said:", paste(c(run$warnings, out$lme4_messages), collapse = " | "), "\n")
}

glmm <- function(name, data, formula, family, link, nAGQ = 1L, weights = NULL, reps = 3L) {
  list(name = name, data = data, formula = formula, family = family, link = link,
       nAGQ = nAGQ, weights = weights, reps = reps)
}

cbpp_form <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
glmm_models <- list(
  glmm("cbpp_laplace", "cbpp", cbpp_form, "binomial", "logit"),
  glmm("cbpp_agq25", "cbpp", cbpp_form, "binomial", "logit", nAGQ = 25L),
  glmm("cbpp_probit", "cbpp", cbpp_form, "binomial", "probit"),
  glmm("cbpp_cloglog_agq9", "cbpp", cbpp_form, "binomial", "cloglog", nAGQ = 9L),
  glmm("cbpp_proportion_weights", "cbpp", "incidence / size ~ period + (1 | herd)",
       "binomial", "logit", weights = "size"),
  glmm("cbpp_obs", "cbpp_obs",
       "cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)", "binomial", "logit"),
  glmm("poisson_crossed", "poisson_crossed", "y ~ x + (1 | subj) + (1 | item)", "poisson", "log"),
  glmm("gamma_log", "gamma_log", "y ~ x + (1 | g)", "Gamma", "log"),
  glmm("contraception_slope", "Contraception", "use ~ age + ch + urban + (urban | district)",
       "binomial", "logit", reps = 1L)
)

t0 <- proc.time()[["elapsed"]]
cat("R:", r_version, "| lme4:", lme4_version, "| root:", root, "\n")
write_datasets()
cat("GLMM references\n")
for (spec in glmm_models) write_glmm(spec)
cat(sprintf("done in %.1f s\n", proc.time()[["elapsed"]] - t0))
