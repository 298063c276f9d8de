#!/usr/bin/env Rscript
# References for de novo simulation and simulation-based power.
#
#   Rscript xtask/r/reference_power.R [<repo-root>]   (default: the current directory)
#
# Writes tests/data/power_schools.csv (the textbook cluster-randomised design: 40 schools of 20
# students, every other school treated, so that the first J schools stay balanced) and tests/reference/power/*.json:
#
# - cluster_randomised.json: the closed-form power of the school-level treatment effect d (in
#   SD units of the outcome, total variance 1, ICC rho) for J schools of m students: the
#   two-sided t test on J - 2 df with noncentrality d / sqrt(4 (1 + (m - 1) rho) / (J m))
#   (the design effect 1 + (m - 1) rho), by pt(., ncp =); beside it the nominal power of OLS
#   that ignores the clustering (power.t.test with n = J m / 2 per arm) and, for J = 40, the
#   power lme4 + lmerTest give by simulating and refitting (simulate(formula, newdata,
#   newparams) and Satterthwaite's t test), a Monte-Carlo estimate with its count.
# - moments_*.json: moments of responses simulated by lme4's simulate(formula, newdata,
#   newparams) over many draws (a Monte-Carlo reference, compared within its error) and the
#   parameters they come from; where a moment has a closed form it is given as well.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
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

# --- the cluster-randomised design ------------------------------------------------------------
J <- 40; m <- 20; rho <- 0.15; d <- 0.30; alpha <- 0.05
schools <- data.frame(school = rep(sprintf("s%02d", 1:J), each = m),
                      treat = rep(rep(c(1, 0), J / 2), each = m))
dir.create(rel("tests/data"), showWarnings = FALSE)
write.csv(schools, rel("tests/data/power_schools.csv"), row.names = FALSE, quote = FALSE)

tau <- sqrt(rho); sigma <- sqrt(1 - rho)
closed_form <- function(J, m) {
  deff <- 1 + (m - 1) * rho
  se <- sqrt(4 * deff / (J * m))
  df <- J - 2
  q <- qt(1 - alpha / 2, df)
  ncp <- d / se
  pt(q, df, ncp = ncp, lower.tail = FALSE) + pt(-q, df, ncp = ncp)
}
sizes <- c(20, 30, 40, 60)
ols <- sapply(sizes, function(J) power.t.test(n = J * m / 2, delta = d, sd = 1,
                                               sig.level = alpha)$power)

# lme4 + lmerTest by simulation at J = 40 (the design as written).
nsim_r <- 1000
sims <- simulate(~ treat + (1 | school), newdata = schools, nsim = nsim_r, seed = 20261207,
                 newparams = list(beta = c(0, d), theta = tau / sigma, sigma = sigma))
reject <- vapply(seq_len(nsim_r), function(s) {
  dat <- schools; dat$y <- sims[[s]]
  f <- suppressMessages(suppressWarnings(lmer(y ~ treat + (1 | school), data = dat)))
  summary(f)$coefficients["treat", "Pr(>|t|)"] < alpha
}, logical(1))

write_json_file(list(
  design = "tests/data/power_schools.csv",
  formula = "y ~ treat + (1 | school)",
  schools = J, students = m, icc = rho, effect = d, alpha = alpha,
  tau = tau, sigma = sigma,
  sizes = arr(sizes),
  closed_form_power = arr(sapply(sizes, closed_form, m = m)),
  ols_nominal_power = arr(ols),
  lmer_simulated = list(schools = J, nsim = nsim_r, rejections = sum(reject),
                        power = mean(reject))
), rel("tests/reference/power/cluster_randomised.json"))

# --- moments of de novo simulations ------------------------------------------------------------
nsim <- 4000
moments_case <- function(name, formula, newdata, design, family, params, summarise,
                         closed = NULL) {
  y <- simulate(formula, newdata = newdata, family = family, newparams = params,
                nsim = nsim, seed = 1)
  ymat <- as.matrix(y)
  s <- summarise(ymat)
  out <- list(name = name, formula = deparse(formula), design = design, nsim = nsim,
              family = if (is.null(family)) "gaussian" else family$family,
              beta = arr(params$beta), theta = arr(params$theta),
              sigma = if (is.null(params$sigma)) 1 else params$sigma,
              moments = lapply(s, function(v) list(mean = v[1], se = v[2])))
  if (!is.null(closed)) out$closed_form <- closed
  write_json_file(out, rel(sprintf("tests/reference/power/moments_%s.json", name)))
}
# mean and Monte-Carlo SE of a per-simulation statistic
mc <- function(v) c(mean(v), sd(v) / sqrt(length(v)))

# Random intercept: the treated and control means, the variance of a row, the covariance of
# two rows of one school (per simulation, over the design's rows).
within_cov <- function(col, g) {
  # mean over schools of the product of centred pairs within a school
  num <- 0; cnt <- 0
  for (s in unique(g)) {
    v <- col[g == s]
    n <- length(v)
    num <- num + (sum(v)^2 - sum(v^2)); cnt <- cnt + n * (n - 1)
  }
  num / cnt
}
moments_case("intercept", ~ treat + (1 | school), schools, "tests/data/power_schools.csv", NULL,
             list(beta = c(0, d), theta = tau / sigma, sigma = sigma),
             function(y) list(
               mean_treated = mc(colMeans(y[schools$treat == 1, , drop = FALSE])),
               mean_control = mc(colMeans(y[schools$treat == 0, , drop = FALSE])),
               second_moment_control = mc(colMeans(y[schools$treat == 0, , drop = FALSE]^2)),
               within_school_product_control = mc(apply(y[schools$treat == 0, , drop = FALSE], 2,
                 within_cov, g = schools$school[schools$treat == 0]))),
             closed = list(mean_treated = d, mean_control = 0,
                           second_moment_control = tau^2 + sigma^2,
                           within_school_product_control = tau^2))

# Random intercept and slope on a sleepstudy-like design: the variance of a row at Days = 0
# and Days = 9 (second moment about the known mean).
sleep <- expand.grid(Days = 0:9, Subject = sprintf("p%02d", 1:18))
write.csv(sleep, rel("tests/data/power_sleep_design.csv"), row.names = FALSE, quote = FALSE)
sd0 <- 24.7; sd1 <- 5.9; r <- 0.07; sig <- 25.6
L <- t(chol(matrix(c(sd0^2, r * sd0 * sd1, r * sd0 * sd1, sd1^2), 2))) / sig
th <- L[lower.tri(L, diag = TRUE)]
beta_s <- c(251.4, 10.5)
moments_case("slope", ~ Days + (Days | Subject), sleep, "tests/data/power_sleep_design.csv", NULL,
             list(beta = beta_s, theta = th, sigma = sig),
             function(y) {
               c0 <- y[sleep$Days == 0, , drop = FALSE] - beta_s[1]
               c9 <- y[sleep$Days == 9, , drop = FALSE] - beta_s[1] - 9 * beta_s[2]
               list(var_day0 = mc(colMeans(c0^2)), var_day9 = mc(colMeans(c9^2)),
                    cov_day0_day9 = mc(colMeans(c0 * c9)))
             },
             closed = list(var_day0 = sd0^2 + sig^2,
                           var_day9 = sd0^2 + 81 * sd1^2 + 18 * r * sd0 * sd1 + sig^2,
                           cov_day0_day9 = sd0^2 + 9 * r * sd0 * sd1))

# Binomial (logit) random intercept: the success rate by arm (no closed form).
moments_case("binomial", ~ treat + (1 | school), schools, "tests/data/power_schools.csv",
             binomial(),
             list(beta = c(-1, 0.5), theta = 0.8),
             function(y) list(
               mean_treated = mc(colMeans(y[schools$treat == 1, , drop = FALSE])),
               mean_control = mc(colMeans(y[schools$treat == 0, , drop = FALSE]))))

# Poisson (log) random intercept: E y = exp(eta + tau^2 / 2), E y^2 = E y + exp(2 eta + 2 tau^2).
moments_case("poisson", ~ treat + (1 | school), schools, "tests/data/power_schools.csv",
             poisson(),
             list(beta = c(0.5, 0.4), theta = 0.5),
             function(y) list(
               mean_treated = mc(colMeans(y[schools$treat == 1, , drop = FALSE])),
               mean_control = mc(colMeans(y[schools$treat == 0, , drop = FALSE])),
               second_moment_control = mc(colMeans(y[schools$treat == 0, , drop = FALSE]^2))),
             closed = list(mean_treated = exp(0.9 + 0.125), mean_control = exp(0.5 + 0.125),
                           second_moment_control = exp(0.5 + 0.125) + exp(1 + 0.5)))
