#!/usr/bin/env Rscript
# Generate the ordinal (cumulative link mixed model) references: ordinal::clmm.
#
#   Rscript xtask/r/reference_ordinal.R [<repo-root>]     (default: the current directory)
#
# Outputs:
#   tests/data/<name>.csv                 the data sets (exported from ordinal, or simulated with
#                                         a fixed seed)
#   tests/reference/ordinal/<name>.json   clmm fits
#
# Data flow as in reference_glmm.R: each data set is written to CSV first and every model is
# fitted to the data READ BACK from that CSV; the response is read as an ordered factor whose
# levels are its distinct values in numeric order (levels never observed are not levels).
#
# What clmm computes (ordinal 2019.12-10 / 2022.11-16, R/clmm.R): P(Y <= j | u) =
# F(alpha_j - x'beta - z'u) with "flexible" thresholds alpha; the Laplace (nAGQ = 1) or adaptive
# Gauss-Hermite (nAGQ > 1) approximation of the marginal likelihood with the observed Hessian of
# the conditional log-likelihood in u; nlminb over (alpha, beta, ST) with ST the random-effect
# standard deviations (lower bound 0). vcov: the inverse of deriv12's central-difference
# Hessian (step 1e-4) of -logLik in all of (alpha, beta, ST) at the optimum. max_grad: the
# largest absolute gradient entry of that computation.

suppressPackageStartupMessages({
  library(ordinal)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)

arr <- function(x) I(unname(as.vector(x)))

write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                pretty = TRUE, matrix = "rowmajor")
  writeLines(txt, path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}

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

read_data_csv <- function(path, factors = character(0), response) {
  df <- read.csv(path, stringsAsFactors = FALSE, na.strings = "NA", check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) {
    lev <- sorted_levels(df[[nm]])
    df[[nm]] <- factor(as.character(df[[nm]]), levels = lev)
  }
  df[[response]] <- factor(df[[response]], levels = sort(unique(df[[response]])),
                           ordered = TRUE)
  df
}

datasets <- list(
  # ordinal's soup: sureness ratings (1-6) of 185 respondents on reference and test products.
  soup = list(factors = c("PROD", "RESP"), response = "SURENESS", make = function() {
    data("soup", package = "ordinal", envir = environment())
    d <- soup[, c("SURENESS", "PROD", "RESP")]
    d$SURENESS <- as.double(as.character(d$SURENESS))
    d
  }),
  # ordinal's wine: bitterness ratings (1-5) by 9 judges.
  wine = list(factors = c("temp", "contact", "judge"), response = "rating", make = function() {
    data("wine", package = "ordinal", envir = environment())
    d <- wine[, c("rating", "temp", "contact", "judge")]
    d$rating <- as.double(as.character(d$rating))
    d
  }),
  # A simulated Likert survey: 80 respondents x 6 items on a 5-point scale, a respondent-level
  # group and a covariate, respondent and item intercepts (sd 0.9 and 0.5); seed fixed. The
  # category 4 is recoded to 5 in `likert_gap` (an empty middle category).
  likert = list(factors = c("id", "item", "group"), response = "answer", make = function() {
    set.seed(20261207)
    nid <- 80; nit <- 6
    id <- rep(seq_len(nid), each = nit)
    item <- rep(seq_len(nit), times = nid)
    group <- ifelse(rep(seq_len(nid) %% 2, each = nit) == 1, "treated", "control")
    x <- round(rnorm(nid * nit), 3)
    u <- rnorm(nid, sd = 0.9)
    v <- rnorm(nit, sd = 0.5)
    eta <- 0.6 * x + 0.7 * (group == "treated") + u[id] + v[item]
    cuts <- c(-1.5, -0.3, 0.8, 2.0)
    latent <- eta + rlogis(nid * nit)
    answer <- as.double(findInterval(latent, cuts) + 1)
    data.frame(answer = answer, x = x, group = group, id = sprintf("R%02d", id),
               item = sprintf("I%d", item))
  }),
  likert_gap = list(factors = c("id", "group"), response = "answer", make = function() {
    set.seed(777)
    nid <- 40; nit <- 5
    id <- rep(seq_len(nid), each = nit)
    group <- ifelse(rep(seq_len(nid) %% 2, each = nit) == 1, "treated", "control")
    x <- round(rnorm(nid * nit), 3)
    u <- rnorm(nid, sd = 0.8)
    latent <- 0.5 * x + 0.6 * (group == "treated") + u[id] + rnorm(nid * nit)
    answer <- as.double(findInterval(latent, c(-1, 0, 0.7, 1.5)) + 1)
    answer[answer == 4] <- 5
    data.frame(answer = answer, x = x, group = group, id = sprintf("R%02d", id))
  })
)

models <- list(
  list(name = "soup_logit", data = "soup", formula = SURENESS ~ PROD + (1 | RESP),
       link = "logit", nAGQ = 1),
  list(name = "soup_probit_agq5", data = "soup", formula = SURENESS ~ PROD + (1 | RESP),
       link = "probit", nAGQ = 5),
  list(name = "wine_logit", data = "wine", formula = rating ~ temp + contact + (1 | judge),
       link = "logit", nAGQ = 1),
  list(name = "wine_logit_agq10", data = "wine", formula = rating ~ temp + contact + (1 | judge),
       link = "logit", nAGQ = 10),
  list(name = "wine_probit", data = "wine", formula = rating ~ temp + contact + (1 | judge),
       link = "probit", nAGQ = 1),
  list(name = "wine_probit_agq10", data = "wine", formula = rating ~ temp + contact + (1 | judge),
       link = "probit", nAGQ = 10),
  list(name = "wine_cloglog", data = "wine", formula = rating ~ temp + contact + (1 | judge),
       link = "cloglog", nAGQ = 1),
  list(name = "likert_logit", data = "likert", formula = answer ~ x + group + (1 | id),
       link = "logit", nAGQ = 1),
  list(name = "likert_crossed", data = "likert",
       formula = answer ~ x + group + (1 | id) + (1 | item), link = "logit", nAGQ = 1),
  list(name = "likert_gap", data = "likert_gap", formula = answer ~ x + group + (1 | id),
       link = "probit", nAGQ = 1)
)

frames <- list()
for (nm in names(datasets)) {
  spec <- datasets[[nm]]
  path <- rel("tests/data", paste0(nm, ".csv"))
  write_data_csv(spec$make(), path)
  frames[[nm]] <- read_data_csv(path, spec$factors, spec$response)
}

for (m in models) {
  cat(m$name, "\n")
  d <- frames[[m$data]]
  fit_once <- function() clmm(m$formula, data = d, link = m$link, nAGQ = m$nAGQ)
  fit <- fit_once()
  reps <- 3
  t0 <- proc.time()[["elapsed"]]
  for (r in seq_len(reps)) fit_once()
  time_s <- (proc.time()[["elapsed"]] - t0) / reps
  v <- vcov(fit)
  se <- sqrt(diag(v))
  na <- length(fit$alpha)
  nb <- length(fit$beta)
  ranef_list <- ranef(fit)
  st <- unlist(fit$ST)
  out <- list(
    name = m$name,
    formula = paste(deparse(m$formula), collapse = " "),
    data = list(csv = paste0("tests/data/", m$data, ".csv")),
    factors = arr(datasets[[m$data]]$factors),
    response = datasets[[m$data]]$response,
    link = m$link,
    nAGQ = m$nAGQ,
    ordinal_version = as.character(packageVersion("ordinal")),
    r_version = R.version.string,
    nobs = fit$dims$nobs,
    loglik = as.numeric(logLik(fit)),
    aic = AIC(fit),
    edf = fit$dims$edf,
    y_levels = arr(fit$y.levels),
    threshold_names = arr(names(fit$alpha)),
    thresholds = arr(fit$alpha),
    threshold_se = arr(se[seq_len(na)]),
    beta_names = arr(names(fit$beta)),
    beta = arr(fit$beta),
    se = arr(se[na + seq_len(nb)]),
    vcov = unname(v[seq_len(na + nb), seq_len(na + nb), drop = FALSE]),
    re_groups = arr(names(fit$ST)),
    re_sd = arr(st),
    ranef = lapply(names(ranef_list), function(g) list(group = g,
      levels = arr(rownames(ranef_list[[g]])), values = arr(ranef_list[[g]][, 1]))),
    niter = fit$info$niter,
    max_grad = max(abs(fit$gradient)),
    time_reps = reps,
    time_s = time_s
  )
  write_json_file(out, rel("tests/reference/ordinal", paste0(m$name, ".json")))
}
