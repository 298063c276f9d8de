#!/usr/bin/env Rscript
# A direct check of two ordinal::clmm references that `cargo xtask validate-ordinal` does not
# compare in full (see EXCLUDED and LOGLIK_NOT_COMPARED in xtask/src/ordinal_refs.rs): the
# Laplace approximation of a cumulative link model with one scalar random intercept, computed
# per group in plain R (the mode of S(u) = sum log P(y | u) - u^2/2 by optimize, its curvature by
# central differences), at clmm's estimates and at ours.
#
#   Rscript xtask/r/check_ordinal_laplace.R [<repo-root>]
#
# Printed (2026-12-07, ordinal 2022.11.16):
#   likert_gap (probit): clmm logLik -221.19577; direct Laplace at clmm's estimates -221.18403,
#     at ours -221.18392 (= ours).
#   wine_cloglog: clmm logLik -82.72936; direct Laplace at clmm's estimates -88.87773 with
#     F(x) = 1 - exp(-exp(x)) and -82.72920 with F(x) = exp(-exp(-x)); at our estimates -81.54125
#     with 1 - exp(-exp(x)) (= ours). clm's cloglog (no random effects) is 1 - exp(-exp(x)).
suppressPackageStartupMessages(library(ordinal))
args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."

laplace <- function(y, id, eta, th, s, F) {
  cuts <- c(-Inf, th, Inf)
  tot <- 0
  for (j in levels(id)) {
    w <- which(id == j)
    S <- function(u) sum(log(F(cuts[y[w] + 1] - eta[w] - s * u) - F(cuts[y[w]] - eta[w] - s * u))) - u^2 / 2
    u <- suppressWarnings(optimize(function(u) -S(u), c(-10, 10), tol = 1e-12))$minimum
    h <- 1e-4
    H <- -(S(u + h) - 2 * S(u) + S(u - h)) / h^2
    tot <- tot + S(u) - 0.5 * log(H)
  }
  tot
}

# likert_gap, probit.
d <- read.csv(file.path(root, "tests/data/likert_gap.csv"), stringsAsFactors = TRUE)
d$answer <- factor(d$answer, ordered = TRUE)
d$id <- factor(d$id)
fm <- clmm(answer ~ x + group + (1 | id), data = d, link = "probit")
y <- as.integer(d$answer)
eta_of <- function(b) b[1] * d$x + b[2] * (d$group == "treated")
cat(sprintf("likert_gap: clmm %.5f; direct at clmm's estimates %.5f; at ours %.5f\n",
            logLik(fm), laplace(y, d$id, eta_of(fm$beta), fm$Theta, fm$ST$id[1], pnorm),
            laplace(y, d$id, eta_of(c(0.46587752824279816, 0.7002715904406253)),
                    c(-1.1807525739041733, -0.32742216354811116, 0.39990449883571777),
                    0.9235816312444743, pnorm)))

# wine, cloglog.
d <- read.csv(file.path(root, "tests/data/wine.csv"), stringsAsFactors = TRUE)
d$rating <- factor(d$rating, ordered = TRUE)
d$judge <- factor(d$judge)
fm <- clmm(rating ~ temp + contact + (1 | judge), data = d, link = "cloglog")
fc <- clm(rating ~ temp + contact, data = d, link = "cloglog")
y <- as.integer(d$rating)
eta_of <- function(b) b[1] * (d$temp == "warm") + b[2] * (d$contact == "yes")
cloglog <- function(x) 1 - exp(-exp(x))
loglog <- function(x) exp(-exp(-x))
cuts <- c(-Inf, fc$Theta, Inf)
cat(sprintf("wine clm cloglog: clm %.5f; 1 - exp(-exp(x)) at clm's estimates %.5f\n", logLik(fc),
            sum(log(cloglog(cuts[y + 1] - eta_of(fc$beta)) - cloglog(cuts[y] - eta_of(fc$beta))))))
cat(sprintf("wine clmm cloglog: clmm %.5f; direct at clmm's estimates %.5f (1 - exp(-exp(x))), %.5f (exp(-exp(-x)))\n",
            logLik(fm), laplace(y, d$judge, eta_of(fm$beta), fm$Theta, fm$ST$judge[1], cloglog),
            laplace(y, d$judge, eta_of(fm$beta), fm$Theta, fm$ST$judge[1], loglog)))
cat(sprintf("wine cloglog at our estimates: %.5f\n",
            laplace(y, d$judge, eta_of(c(2.0474455258837, 1.2246778762007584)),
                    c(-1.7873377816454175, 0.5295774537359119, 2.3570848603216694, 3.4922881129757175),
                    0.7915157811295205, cloglog)))
