#!/usr/bin/env Rscript
# Generate the references of the random-effect covariance structures (lme4 2.0's `us()`,
# `diag()`, `cs()`, `ar1()` terms) from glmmTMB, nlme and lme4 1.1.
#
#   Rscript xtask/r/reference_covstruct.R [<repo-root>]     (default: the current directory)
#
# Outputs (under tests/reference/covstruct/):
#   <name>.csv   the data sets (sleepstudy from lme4; Oats and BodyWeight from nlme,
#                ChickWeight from R's datasets at times 0, 4, ..., 20), each fitted here after being READ BACK from its CSV
#   cases.json   one entry per (model, engine, REML/ML)
#   glmm_cases.json  GLMMs (Laplace) with a structured term, from glmmTMB
#
# Syntax and defaults: every case's `formula` is lme4 2.0's syntax as multilevel reads it
# (diag and cs heterogeneous by default, ar1 homogeneous; `hom = TRUE` for one shared standard
# deviation). The engines' own spellings are recorded as `engine_call`:
#   glmmTMB 1.1.5: diag() and cs() are heterogeneous, ar1() homogeneous -- the same defaults;
#   nlme: pdDiag = diag, pdIdent = diag(hom = TRUE), pdCompSymm = cs(hom = TRUE);
#   lme4 1.1: (1 | g) + (0 + x | g) = diag(x | g); (x | g) = us(x | g) = cs(x | g) for 2 columns.
#
# Convention of the numbers (so that like is compared with like):
#   `loglik` is the log-likelihood (ML) or lme4's REML log-likelihood (-REMLcrit/2) evaluated
#   HERE from the engine's estimates: V = Z G Z' + sigma^2 I built from the engine's covariance
#   matrix and sigma, beta the GLS estimate under V,
#     ML:   -1/2 [n log(2 pi) + log|V| + r'V^-1 r]
#     REML: the ML expression + p/2 log(2 pi) - 1/2 log|X'V^-1 X|   (lme4's REML criterion).
#   `engine_loglik` is what the engine itself reports (nlme's REML adds 1/2 log|X'X|).
#   `se` is lme4's convention sqrt(diag((X'V^-1 X)^-1)) at the estimates (nlme's ML SEs are
#   larger by sqrt(N/(N-p)); glmmTMB's come from the joint Hessian): computed here from V.
#   `sd` are the standard deviations of the term's random effects (sqrt of diag of sigma^2
#   Lambda Lambda'), `rho` the structure's correlation (lag-1 / common correlation; null for
#   diag and us), `sigma` the residual standard deviation, `npar` the number of parameters
#   (fixed effects + covariance parameters + sigma), as logLik's df. The lme4 cases of REML
#   fits also carry lmerTest's Satterthwaite df of each coefficient (`satterthwaite_df`).
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(nlme)
  library(jsonlite)
  library(Matrix)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
outdir <- file.path(root, "tests", "reference", "covstruct")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

write_data <- function(df, name) {
  path <- file.path(outdir, paste0(name, ".csv"))
  write.csv(df, path, row.names = FALSE)
  cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
  read.csv(path, stringsAsFactors = TRUE)
}

# ---- data ----
sleep <- as.data.frame(lme4::sleepstudy)
sleep$Subject <- paste0("S", as.character(sleep$Subject))
sleep <- write_data(sleep, "sleepstudy")

oats <- as.data.frame(nlme::Oats)
oats <- data.frame(Block = paste0("B", as.character(oats$Block)),
                   Variety = as.character(oats$Variety),
                   nitro = oats$nitro, yield = oats$yield)
oats <- write_data(oats, "oats")

bw <- as.data.frame(nlme::BodyWeight)
bw <- data.frame(weight = bw$weight, Time = bw$Time,
                 Rat = paste0("R", as.character(bw$Rat)), Diet = paste0("D", as.character(bw$Diet)))
bw <- write_data(bw, "bodyweight")

cw <- as.data.frame(datasets::ChickWeight)
cw <- cw[cw$Time %in% c(0, 4, 8, 12, 16, 20), ]
cw <- data.frame(weight = cw$weight, Timef = sprintf("T%02d", cw$Time),
                 Chick = paste0("C", as.character(cw$Chick)), Diet = paste0("D", as.character(cw$Diet)))
cw <- write_data(cw, "chickweight")

# ---- likelihood at given estimates, lme4's conventions ----
# `zform` is the lme4 1.1 formula of the same random-effects columns, unstructured, used only
# to build Z (columns level by level, k per level); `Sigma` the k x k covariance of one level.
evaluate <- function(fixed, zform, data, Sigma, sigma, reml) {
  lf <- lFormula(zform, data)
  Z <- t(as.matrix(lf$reTrms$Zt))
  X <- model.matrix(fixed, data)
  y <- model.response(model.frame(fixed, data))
  nl <- ncol(Z) / nrow(Sigma)
  G <- kronecker(diag(nl), Sigma)
  V <- Z %*% G %*% t(Z) + sigma^2 * diag(nrow(Z))
  Vi <- solve(V)
  XtViX <- t(X) %*% Vi %*% X
  beta <- solve(XtViX, t(X) %*% Vi %*% y)
  r <- y - X %*% beta
  n <- nrow(X); p <- ncol(X)
  ll <- -0.5 * (n * log(2 * pi) + as.numeric(determinant(V)$modulus) + sum(r * (Vi %*% r)))
  if (reml) ll <- ll + p / 2 * log(2 * pi) - 0.5 * as.numeric(determinant(XtViX)$modulus)
  list(loglik = ll, beta = setNames(as.numeric(beta), colnames(X)),
       se = sqrt(diag(solve(XtViX))))
}

cases <- list()
add <- function(name, data_name, formula, reml, engine, engine_call, fixed, zform, data,
                Sigma, sigma, rho, engine_loglik, ncov, converged = TRUE) {
  ev <- evaluate(fixed, zform, data, Sigma, sigma, reml)
  cases[[length(cases) + 1]] <<- list(
    name = paste0(name, if (reml) "_reml" else "_ml"), data = paste0(data_name, ".csv"),
    formula = formula, reml = reml, engine = engine, engine_call = engine_call,
    loglik = ev$loglik, engine_loglik = engine_loglik,
    beta_names = names(ev$beta), beta = unname(ev$beta), se = unname(ev$se),
    sd = unname(sqrt(diag(Sigma))), rho = if (is.null(rho)) NA else rho, sigma = sigma,
    npar = length(ev$beta) + ncov + 1, converged = converged)
  cat(sprintf("  %-34s %-8s logLik %.6f (engine %.6f)%s\n", cases[[length(cases)]]$name,
              engine, ev$loglik, engine_loglik, if (converged) "" else "  NOT CONVERGED"))
}

tmb_cov <- function(m, g) {
  vc <- VarCorr(m)$cond[[g]]
  S <- vc[, , drop = FALSE]
  attributes(S) <- attributes(S)[c("dim", "dimnames")]
  S
}
tmb_rho <- function(S) { R <- cov2cor(S); R[2, 1] }
nlme_cov <- function(m) {
  S <- as.matrix(m$modelStruct$reStruct[[1]]) * m$sigma^2
  S
}

fit_tmb <- function(name, data_name, formula, tmb_formula, fixed, zform, data, reml, rho, ncov) {
  # A convergence warning marks the case: the Rust side then only requires a log-likelihood
  # at least as high, not the same estimates.
  warned <- FALSE
  m <- withCallingHandlers(
    glmmTMB(tmb_formula, data = data, REML = reml,
            control = glmmTMBControl(optCtrl = list(iter.max = 1e4, eval.max = 1e4))),
    warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") })
  g <- names(VarCorr(m)$cond)[1]
  S <- tmb_cov(m, g)
  add(name, data_name, formula, reml, "glmmTMB", deparse(tmb_formula), fixed, zform, data,
      S, sigma(m), if (rho) tmb_rho(S) else NULL, as.numeric(logLik(m)), ncov,
      converged = !warned && is.finite(as.numeric(logLik(m))))
}

fit_nlme <- function(name, data_name, formula, fixed, random, zform, data, reml, rho, ncov) {
  m <- lme(fixed, data = data, random = random, method = if (reml) "REML" else "ML",
           control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10,
                                msTol = 1e-12, niterEM = 100))
  S <- nlme_cov(m)
  add(name, data_name, formula, reml, "nlme", paste(deparse(random), collapse = ""), fixed,
      zform, data, S, m$sigma, if (rho) cov2cor(S)[2, 1] else NULL, as.numeric(logLik(m)), ncov)
}

fit_lme4 <- function(name, data_name, formula, lme4_formula, fixed, zform, data, reml, ncov) {
  m <- lmer(lme4_formula, data = data, REML = reml,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10)))
  vc <- VarCorr(m)
  k <- sum(sapply(vc, nrow))
  # Assemble the per-level covariance of the columns of `zform` from the separate terms.
  S <- as.matrix(Matrix::bdiag(lapply(vc, function(v) { a <- v[, , drop = FALSE]; attributes(a) <- attributes(a)[c("dim", "dimnames")]; a })))
  add(name, data_name, formula, reml, "lme4", deparse(lme4_formula), fixed, zform, data, S,
      sigma(m), NULL, as.numeric(logLik(m)), ncov)
  # lmerTest's Satterthwaite df (REML fits), through the same variance parameters.
  if (reml) {
    mt <- lmerTest::as_lmerModLmerTest(m)
    cases[[length(cases)]]$satterthwaite_df <<- unname(summary(mt)$coefficients[, "df"])
  }
}

for (reml in c(TRUE, FALSE)) {
  # sleepstudy
  fx <- Reaction ~ Days; zf <- Reaction ~ Days + (Days | Subject)
  fit_tmb("sleep_diag", "sleepstudy", "Reaction ~ Days + diag(Days | Subject)",
          Reaction ~ Days + diag(Days | Subject), fx, zf, sleep, reml, FALSE, 2)
  fit_nlme("sleep_diag", "sleepstudy", "Reaction ~ Days + diag(Days | Subject)",
           fx, list(Subject = pdDiag(~ Days)), zf, sleep, reml, FALSE, 2)
  fit_lme4("sleep_diag", "sleepstudy", "Reaction ~ Days + diag(Days | Subject)",
           Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), fx, zf, sleep, reml, 2)
  fit_nlme("sleep_diag_hom", "sleepstudy", "Reaction ~ Days + diag(Days | Subject, hom = TRUE)",
           fx, list(Subject = pdIdent(~ Days)), zf, sleep, reml, FALSE, 1)
  fit_nlme("sleep_cs_hom", "sleepstudy", "Reaction ~ Days + cs(Days | Subject, hom = TRUE)",
           fx, list(Subject = pdCompSymm(~ Days)), zf, sleep, reml, TRUE, 2)
  fit_tmb("sleep_cs", "sleepstudy", "Reaction ~ Days + cs(Days | Subject)",
          Reaction ~ Days + cs(Days | Subject), fx, zf, sleep, reml, TRUE, 3)
  # Oats: one random effect per variety within a block.
  fx <- yield ~ nitro + Variety; zf <- yield ~ nitro + Variety + (0 + Variety | Block)
  fit_tmb("oats_cs", "oats", "yield ~ nitro + Variety + cs(0 + Variety | Block)",
          yield ~ nitro + Variety + cs(0 + Variety | Block), fx, zf, oats, reml, TRUE, 4)
  fit_nlme("oats_cs_hom", "oats", "yield ~ nitro + Variety + cs(0 + Variety | Block, hom = TRUE)",
           fx, list(Block = pdCompSymm(~ Variety - 1)), zf, oats, reml, TRUE, 2)
  fit_tmb("oats_diag", "oats", "yield ~ nitro + Variety + diag(0 + Variety | Block)",
          yield ~ nitro + Variety + diag(0 + Variety | Block), fx, zf, oats, reml, FALSE, 3)
  fit_nlme("oats_diag", "oats", "yield ~ nitro + Variety + diag(0 + Variety | Block)",
           fx, list(Block = pdDiag(~ Variety - 1)), zf, oats, reml, FALSE, 3)
  fit_nlme("oats_diag_hom", "oats", "yield ~ nitro + Variety + diag(0 + Variety | Block, hom = TRUE)",
           fx, list(Block = pdIdent(~ Variety - 1)), zf, oats, reml, FALSE, 1)
  fit_tmb("oats_ar1", "oats", "yield ~ nitro + Variety + ar1(0 + Variety | Block)",
          yield ~ nitro + Variety + ar1(0 + Variety | Block), fx, zf, oats, reml, TRUE, 2)
  # BodyWeight: independent intercept and slope per rat.
  fx <- weight ~ Time * Diet; zf <- weight ~ Time * Diet + (Time | Rat)
  fit_tmb("bodyweight_diag", "bodyweight", "weight ~ Time * Diet + diag(Time | Rat)",
          weight ~ Time * Diet + diag(Time | Rat), fx, zf, bw, reml, FALSE, 2)
  fit_nlme("bodyweight_diag", "bodyweight", "weight ~ Time * Diet + diag(Time | Rat)",
           fx, list(Rat = pdDiag(~ Time)), zf, bw, reml, FALSE, 2)
  # ChickWeight at six time points: each diet's growth curve around the mean one, AR(1)
  # over the time factor. (Per chick, `ar1(0 + Timef | Chick)` has as many random effects as
  # observations, which lme4 refuses and we do too.)
  fx <- weight ~ Timef; zf <- weight ~ Timef + (0 + Timef | Diet)
  fit_tmb("chick_ar1", "chickweight", "weight ~ Timef + ar1(0 + Timef | Diet)",
          weight ~ Timef + ar1(0 + Timef | Diet), fx, zf, cw, reml, TRUE, 2)
}

# ---- GLMM (Laplace): glmmTMB's Laplace log-likelihood and estimates ----
# Written to glmm_cases.json. glmmTMB's standard errors come from the joint Hessian of
# (beta, theta), as glmer's do; the check compares logLik (ours at least as high, 1e-6
# relative), beta (1e-3 of glmmTMB's SE) and the standard deviations (1e-3 relative).
contra <- read.csv(file.path(root, "tests", "data", "Contraception.csv"), stringsAsFactors = TRUE)
contra$district <- factor(contra$district)
glmm_cases <- list()
add_glmm <- function(name, data_rel, formula, tmb_formula, family, data) {
  warned <- FALSE
  m <- withCallingHandlers(glmmTMB(tmb_formula, data = data, family = family),
                           warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") })
  g <- names(VarCorr(m)$cond)[1]
  S <- tmb_cov(m, g)
  glmm_cases[[length(glmm_cases) + 1]] <<- list(
    name = name, data = data_rel, formula = formula, family = family$family,
    link = family$link, engine = "glmmTMB", engine_call = deparse(tmb_formula),
    loglik = as.numeric(logLik(m)), beta_names = names(fixef(m)$cond),
    beta = unname(fixef(m)$cond), se = unname(sqrt(diag(vcov(m)$cond))),
    sd = unname(sqrt(diag(S))), npar = as.integer(attr(logLik(m), "df")),
    converged = !warned)
  cat(sprintf("  %-34s %-8s logLik %.6f\n", name, "glmmTMB", as.numeric(logLik(m))))
}
add_glmm("contraception_diag", "tests/data/Contraception.csv",
         "use ~ age + urban + diag(urban | district)",
         use ~ age + urban + diag(urban | district), binomial(), contra)
writeLines(toJSON(list(generator = "xtask/r/reference_covstruct.R", cases = glmm_cases),
                  auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           file.path(outdir, "glmm_cases.json"), useBytes = TRUE)
cat("  wrote tests/reference/covstruct/glmm_cases.json (", length(glmm_cases), "cases )\n")

txt <- toJSON(list(generator = "xtask/r/reference_covstruct.R",
                   versions = list(R = R.version.string,
                                   lme4 = as.character(packageVersion("lme4")),
                                   glmmTMB = as.character(packageVersion("glmmTMB")),
                                   nlme = as.character(packageVersion("nlme"))),
                   cases = cases),
              auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE)
writeLines(txt, file.path(outdir, "cases.json"), useBytes = TRUE)
cat("  wrote tests/reference/covstruct/cases.json (", length(cases), "cases )\n")
