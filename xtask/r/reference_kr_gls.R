#!/usr/bin/env Rscript
# Generate the Kenward–Roger references for GLS fits with a residual structure and for
# structured random-effects terms, through models that lme4 fits as well (pbkrtest and
# lmerTest have no GLS and no structured terms):
#
#   GLS with cs(t | s) (compound symmetry, ρ ≥ 0)   ≡ lmer(y ~ x + (1 | s))
#   (1 | g) with cs(t | s), s nested in g (ρ ≥ 0)   ≡ lmer(y ~ x + (1 | g) + (1 | s))
#   diag(x | g)                                     ≡ lmer(y ~ x + (1 | g) + (0 + x | g))
#   cs(0 + f | g, hom = TRUE)  (ρ ≥ 0)              ≡ lmer(y ~ f + (1 | g) + (1 | g:f))
#   diag(0 + f | g, hom = TRUE)                     ≡ lmer(y ~ f + (1 | g:f))
#
#   Rscript xtask/r/reference_kr_gls.R [<repo-root>]     (default: the current directory)
#
# Inputs: the CSVs written by reference_gls.R, reference_lme_residual.R and
# reference_covstruct.R (tests/reference/gls/*.csv, tests/reference/covstruct/*.csv).
# Outputs: tests/reference/kr_gls/oats_plots.csv (Oats with `plot` = Block:Variety) and
# tests/reference/kr_gls/cases.json. Per case: `kind` ("gls": `formula` with
# `residual`; "lmm": `formula` with structured terms), the lme4 formula fitted, β̂, the
# unadjusted standard errors, the Kenward–Roger adjusted standard errors
# √diag(pbkrtest::vcovAdj) and lmerTest's Kenward–Roger df
# (summary(fit, ddf = "Kenward-Roger")), the REML log-likelihood and the variance components
# (so that ρ ≥ 0 can be seen).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
root <- normalizePath(root, mustWork = TRUE)
rel <- function(...) file.path(root, ...)
outdir <- rel("tests", "reference", "kr_gls")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

read <- function(path) {
  d <- read.csv(rel(path), stringsAsFactors = TRUE)
  for (nm in c("Rat", "Chick", "Subject", "Block")) {
    if (!is.null(d[[nm]])) d[[nm]] <- factor(d[[nm]])
  }
  d
}

# The split-plot Oats data with a plot column (Block × Variety): lme's random intercept per
# Block with compound-symmetric residuals within a plot is lme4's (1 | Block) + (1 | Block:Variety).
oats <- read.csv(rel("tests/reference/covstruct/oats.csv"), stringsAsFactors = TRUE)
oats$plot <- paste(oats$Block, oats$Variety, sep = ":")
write.csv(oats, file.path(outdir, "oats_plots.csv"), row.names = FALSE)
cat("  wrote tests/reference/kr_gls/oats_plots.csv\n")

cases <- list(
  list(name = "orthodont_gls_cs", kind = "gls", data = "tests/reference/gls/orthodont.csv",
       formula = "distance ~ age * Sex", residual = "cs(occasion | Subject)",
       lme4 = "distance ~ age * Sex + (1 | Subject)"),
  list(name = "bodyweight_gls_cs", kind = "gls", data = "tests/reference/gls/bodyweight.csv",
       formula = "weight ~ Time * Diet", residual = "cs(week | Rat)",
       lme4 = "weight ~ Time * Diet + (1 | Rat)"),
  list(name = "chickweight_gls_cs", kind = "gls", data = "tests/reference/gls/chickweight.csv",
       formula = "weight ~ Time * Diet", residual = "cs(tpos | Chick)",
       lme4 = "weight ~ Time * Diet + (1 | Chick)"),
  list(name = "sleepstudy_gls_cs", kind = "gls", data = "tests/reference/covstruct/sleepstudy.csv",
       formula = "Reaction ~ Days", residual = "cs(Days | Subject)",
       lme4 = "Reaction ~ Days + (1 | Subject)"),
  list(name = "oats_lme_cs", kind = "gls", data = "tests/reference/kr_gls/oats_plots.csv",
       formula = "yield ~ nitro + Variety + (1 | Block)", residual = "cs(nitro | plot)",
       lme4 = "yield ~ nitro + Variety + (1 | Block) + (1 | Block:Variety)"),
  list(name = "sleepstudy_diag", kind = "lmm", data = "tests/reference/covstruct/sleepstudy.csv",
       formula = "Reaction ~ Days + diag(Days | Subject)", residual = NULL,
       lme4 = "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
  list(name = "bodyweight_diag", kind = "lmm", data = "tests/reference/covstruct/bodyweight.csv",
       formula = "weight ~ Time * Diet + diag(Time | Rat)", residual = NULL,
       lme4 = "weight ~ Time * Diet + (1 | Rat) + (0 + Time | Rat)"),
  list(name = "oats_cs_hom", kind = "lmm", data = "tests/reference/covstruct/oats.csv",
       formula = "yield ~ nitro + Variety + cs(0 + Variety | Block, hom = TRUE)", residual = NULL,
       lme4 = "yield ~ nitro + Variety + (1 | Block) + (1 | Block:Variety)"),
  list(name = "oats_diag_hom", kind = "lmm", data = "tests/reference/covstruct/oats.csv",
       formula = "yield ~ nitro + Variety + diag(0 + Variety | Block, hom = TRUE)", residual = NULL,
       lme4 = "yield ~ nitro + Variety + (1 | Block:Variety)")
)

out <- list()
for (cs in cases) {
  d <- read(cs$data)
  ctrl <- lmerControl(optimizer = "bobyqa",
                      optCtrl = list(maxfun = 1e5, rhobeg = 2e-3, rhoend = 1e-10))
  fit <- lmerTest::lmer(as.formula(cs$lme4), data = d, REML = TRUE, control = ctrl)
  sm <- summary(fit, ddf = "Kenward-Roger")$coefficients
  adj <- as.matrix(pbkrtest::vcovAdj(fit))
  vc <- as.data.frame(VarCorr(fit))
  out[[length(out) + 1]] <- list(
    name = cs$name, kind = cs$kind, data = cs$data, formula = cs$formula,
    residual = cs$residual, lme4 = cs$lme4,
    names = rownames(sm),
    beta = unname(fixef(fit)),
    se = unname(sqrt(diag(as.matrix(vcov(fit))))),
    se_kr = unname(sqrt(diag(adj))),
    df_kr = unname(sm[, "df"]),
    loglik_reml = as.numeric(logLik(fit)),
    variances = lapply(seq_len(nrow(vc)), function(i)
      list(group = vc$grp[i], name = ifelse(is.na(vc$var1[i]), "", vc$var1[i]),
           variance = vc$vcov[i])))
  cat(sprintf("  %-22s df %s\n", cs$name, paste(format(sm[, "df"], digits = 6), collapse = " ")))
}

versions <- list(R = R.version.string,
                 lme4 = as.character(packageVersion("lme4")),
                 lmerTest = as.character(packageVersion("lmerTest")),
                 pbkrtest = as.character(packageVersion("pbkrtest")))
path <- file.path(outdir, "cases.json")
writeLines(toJSON(list(generator = "xtask/r/reference_kr_gls.R", versions = versions,
                       cases = out),
                  auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           path, useBytes = TRUE)
cat("  wrote", sub(paste0(root, "/"), "", path, fixed = TRUE), "\n")
