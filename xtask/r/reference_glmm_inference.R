#!/usr/bin/env Rscript
# References for GLMM inference from the command line: likelihood-ratio comparisons of nested
# GLMMs (lme4's anova(m1, m2)), Wald chi-squared tests per term (car::Anova(fit, type = 3))
# and Wald intervals (confint(fit, method = "Wald")), for binomial glmer fits on cbpp and
# negative binomial glmer.nb fits on Owls (the data written by reference_negbin.R).
#
#   Rscript xtask/r/reference_glmm_inference.R [<repo-root>]   (default: the current directory)
#
# Output: tests/reference/glmm_inference/<name>.json. Definitions recorded:
#   compare: per model npar (logLik's df; glmer.nb counts theta), AIC, BIC, logLik,
#            deviance = -2 logLik (lme4 1.1-31's anova column), Chisq = 2 (logLik_k -
#            logLik_{k-1}), Df = npar_k - npar_{k-1}, p = upper chi^2(Df) tail.
#   anova:   car::Anova(type = 3): per term (intercept included) beta_T' V_TT^-1 beta_T on
#            |T| df, V = vcov(fit); also recomputed here by hand from vcov and the assign
#            attribute of the model matrix (`chisq_by_hand`), the same numbers.
#   confint: confint(fit, method = "Wald", level = 0.95) rows of the fixed effects.
# For glmer.nb fits, numbers are read from the fit object (logLik as stored); its logLik can
# differ from a fresh evaluation of glmer's deviance function by ~1e-4 (see
# reference_negbin.R), so the comparisons with it allow that much more.

suppressPackageStartupMessages({
  library(lme4)
  library(car)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
args <- commandArgs(trailingOnly = TRUE)
root <- normalizePath(if (length(args) >= 1) args[[1]] else ".", mustWork = TRUE)
rel <- function(...) file.path(root, ...)
arr <- function(x) I(unname(as.vector(x)))
write_json_file <- function(obj, path) {
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  writeLines(toJSON(obj, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                    pretty = TRUE), path, useBytes = TRUE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
}
sorted_levels <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) return(as.character(sort(u)))
  sort(as.character(u), method = "radix")
}
read_data_csv <- function(path, factors) {
  df <- read.csv(path, stringsAsFactors = FALSE, check.names = FALSE)
  for (nm in names(df)) if (is.integer(df[[nm]])) df[[nm]] <- as.double(df[[nm]])
  for (nm in factors) df[[nm]] <- factor(as.character(df[[nm]]), levels = sorted_levels(df[[nm]]))
  df
}

cbpp_df <- read_data_csv(rel("crates", "multilevel-datasets", "data", "cbpp.csv"), c("herd", "period"))
owls_df <- read_data_csv(rel("tests", "data", "owls.csv"), c("Nest", "FoodTreatment", "SexParent"))
sources <- list(
  cbpp = list(df = cbpp_df, data = list(dataset = "cbpp"), factors = c("herd", "period")),
  owls = list(df = owls_df, data = list(csv = "tests/data/owls.csv"),
              factors = c("Nest", "FoodTreatment", "SexParent"))
)
fit_one <- function(form, src, family) {
  df <- sources[[src]]$df
  suppressMessages(suppressWarnings(
    if (family == "negative_binomial") glmer.nb(as.formula(form), data = df)
    else glmer(as.formula(form), data = df, family = family)))
}
header <- function(name, kind, src, family, formulas) {
  list(name = name, kind = kind, data = sources[[src]]$data, factors = arr(sources[[src]]$factors),
       family = family, formulas = arr(formulas),
       lme4_version = packageDescription("lme4")$Version,
       car_version = packageDescription("car")$Version, r_version = R.version.string)
}

write_compare <- function(name, src, family, formulas) {
  fits <- lapply(formulas, fit_one, src = src, family = family)
  a <- do.call(anova, unname(fits))
  out <- header(name, "compare", src, family, formulas)
  out$npar <- arr(a$npar); out$aic <- arr(a$AIC); out$bic <- arr(a$BIC)
  out$loglik <- arr(a$logLik); out$deviance <- arr(a$deviance)
  out$chisq <- arr(a$Chisq); out$df <- arr(a$Df); out$p_value <- arr(a[["Pr(>Chisq)"]])
  write_json_file(out, rel("tests", "reference", "glmm_inference", paste0(name, ".json")))
}

write_anova <- function(name, src, family, formula) {
  fit <- fit_one(formula, src, family)
  a <- car::Anova(fit, type = 3)
  V <- as.matrix(vcov(fit)); b <- fixef(fit)
  asg <- attr(getME(fit, "X"), "assign")
  by_hand <- vapply(sort(unique(asg)), function(t) {
    j <- which(asg == t)
    as.numeric(t(b[j]) %*% solve(V[j, j, drop = FALSE], b[j]))
  }, numeric(1))
  stopifnot(max(abs(by_hand - a$Chisq) / a$Chisq) < 1e-8)
  out <- header(name, "anova", src, family, formula)
  out$terms <- arr(rownames(a)); out$chisq <- arr(a$Chisq); out$df <- arr(a$Df)
  out$p_value <- arr(a[["Pr(>Chisq)"]]); out$chisq_by_hand <- arr(by_hand)
  write_json_file(out, rel("tests", "reference", "glmm_inference", paste0(name, ".json")))
}

write_confint <- function(name, src, family, formula) {
  fit <- fit_one(formula, src, family)
  ci <- confint(fit, method = "Wald", level = 0.95)
  ci <- ci[names(fixef(fit)), , drop = FALSE]
  out <- header(name, "confint", src, family, formula)
  out$terms <- arr(rownames(ci)); out$lower <- arr(ci[, 1]); out$upper <- arr(ci[, 2])
  write_json_file(out, rel("tests", "reference", "glmm_inference", paste0(name, ".json")))
}

cbpp0 <- "cbind(incidence, size - incidence) ~ 1 + (1 | herd)"
cbpp1 <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
owls0 <- "SiblingNegotiation ~ FoodTreatment + SexParent + offset(log(BroodSize)) + (1 | Nest)"
owls1 <- "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)"
write_compare("cbpp_compare", "cbpp", "binomial", c(cbpp0, cbpp1))
write_anova("cbpp_anova", "cbpp", "binomial", cbpp1)
write_confint("cbpp_confint", "cbpp", "binomial", cbpp1)
write_compare("owls_nb_compare", "owls", "negative_binomial", c(owls0, owls1))
write_anova("owls_nb_anova", "owls", "negative_binomial", owls1)
write_confint("owls_nb_confint", "owls", "negative_binomial", owls1)
