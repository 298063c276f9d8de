#!/usr/bin/env Rscript
# Reference numbers for the multilevel analysis workflow (`multilevel explore`,
# crate multilevel-workflow), on mlmRev's Hsb82 (High School and Beyond): mAch ~ ses by school.
#
#   Rscript xtask/r/reference_workflow.R            (run from the repository root)
#
# Writes tests/data/hsb82.csv (columns school, ses, mAch) and
# tests/reference/workflow/hsb82.json with
#   empty      lmer(mAch ~ 1 + (1 | school), REML): tau2, sigma2, icc, cluster sizes,
#              design effect 1 + (mean size - 1) * icc, effective n = n / deff; also
#              performance::icc()'s adjusted ICC (icc_performance)
#   ols        lm(mAch ~ ses): estimates, naive SEs, CR1 SEs (sandwich::vcovCL(type = "HC1"),
#              i.e. G/(G-1) * (N-1)/(N-K))
#   between    plm(model = "between"): OLS on school means
#   within     plm(model = "within"): school-demeaned OLS, residual df N - G - K
#   random     lmer(mAch ~ ses + (1 | school)) by REML. plm's "random" is the Swamy-Arora GLS,
#              not REML, so the Rust `random` row is compared with lmer; plm's is kept as
#              `random_plm` for information only.
#   hybrid     lmer(mAch ~ ses_within + ses_mean + (1 | school)) by REML, ses_mean = school mean
#              of ses in these data, ses_within = ses - ses_mean
#   hausman    (b_W - b_RE)' (V_W - V_RE)^-1 (b_W - b_RE) with the within fit and the lmer REML
#              fit (what the Rust code computes); `hausman_plm` is plm::phtest(within, random)
#              (Swamy-Arora), for information.

suppressPackageStartupMessages({
  library(lme4)
  library(mlmRev)
  library(plm)
  library(sandwich)
  library(jsonlite)
  library(performance)
})

data(Hsb82, package = "mlmRev")
d <- data.frame(school = as.character(Hsb82$school), ses = Hsb82$ses, mAch = Hsb82$mAch,
                stringsAsFactors = FALSE)
dir.create("tests/data", showWarnings = FALSE, recursive = TRUE)
write.csv(d, "tests/data/hsb82.csv", row.names = FALSE)
d$school <- factor(d$school)

# Empty model.
m0 <- lmer(mAch ~ 1 + (1 | school), data = d, REML = TRUE)
vc <- as.data.frame(VarCorr(m0))
tau2 <- vc$vcov[vc$grp == "school"]
sigma2 <- vc$vcov[vc$grp == "Residual"]
icc <- tau2 / (tau2 + sigma2)
sizes <- as.vector(table(d$school))
n <- nrow(d)
deff <- 1 + (mean(sizes) - 1) * icc
# performance::icc (the "adjusted" ICC of the empty model equals tau2 / (tau2 + sigma2)).
icc_performance <- performance::icc(m0)$ICC_adjusted
empty <- list(levels = length(sizes), n = n, tau2 = tau2, sigma2 = sigma2, icc = icc,
              icc_performance = icc_performance,
              mean_size = mean(sizes), min_size = min(sizes), max_size = max(sizes),
              design_effect = deff, effective_n = n / deff)

coefs <- function(est, se, rse = NULL) {
  out <- list(term = I(names(est)), estimate = I(unname(est)), std_error = I(unname(se)))
  if (!is.null(rse)) out$robust_std_error <- I(unname(rse))
  out
}

# Pooled OLS with naive and CR1 SEs.
ols <- lm(mAch ~ ses, data = d)
v_cl <- vcovCL(ols, cluster = ~school, type = "HC1")
ols_out <- coefs(coef(ols), sqrt(diag(vcov(ols))), sqrt(diag(v_cl)))

pd <- pdata.frame(d, index = c("school"))
pw <- plm(mAch ~ ses, data = pd, model = "within")
pb <- plm(mAch ~ ses, data = pd, model = "between")
pr <- plm(mAch ~ ses, data = pd, model = "random")
within_out <- coefs(coef(pw), sqrt(diag(vcov(pw))))
between_out <- coefs(coef(pb), sqrt(diag(vcov(pb))))
random_plm_out <- coefs(coef(pr), sqrt(diag(vcov(pr))))

# Random effects by REML.
m1 <- lmer(mAch ~ ses + (1 | school), data = d, REML = TRUE)
random_out <- coefs(fixef(m1), sqrt(diag(as.matrix(vcov(m1)))))

# Hybrid (Mundlak / within-between) model.
d$ses_mean <- ave(d$ses, d$school)
d$ses_within <- d$ses - d$ses_mean
m2 <- lmer(mAch ~ ses_within + ses_mean + (1 | school), data = d, REML = TRUE)
hybrid_out <- coefs(fixef(m2), sqrt(diag(as.matrix(vcov(m2)))))

# Hausman with the REML random-effects fit.
b_w <- coef(pw)["ses"]
b_re <- fixef(m1)["ses"]
v_w <- vcov(pw)["ses", "ses", drop = FALSE]
v_re <- as.matrix(vcov(m1))["ses", "ses", drop = FALSE]
dlt <- b_w - b_re
h <- as.numeric(t(dlt) %*% solve(v_w - v_re) %*% dlt)
hausman <- list(statistic = h, df = 1L, p_value = pchisq(h, 1, lower.tail = FALSE))
ph <- phtest(pw, pr)
hausman_plm <- list(statistic = unname(ph$statistic), df = unname(ph$parameter),
                    p_value = ph$p.value)

out <- list(
  source = "mlmRev::Hsb82; Rscript xtask/r/reference_workflow.R",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  plm = as.character(packageVersion("plm")),
                  sandwich = as.character(packageVersion("sandwich"))),
  empty = empty, ols = ols_out, between = between_out, within = within_out,
  random = random_out, random_plm = random_plm_out, hybrid = hybrid_out,
  hausman = hausman, hausman_plm = hausman_plm)
dir.create("tests/reference/workflow", showWarnings = FALSE, recursive = TRUE)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/workflow/hsb82.json")
cat("wrote tests/data/hsb82.csv and tests/reference/workflow/hsb82.json\n")
