#!/usr/bin/env Rscript
# Time R's fits of the GLS / lme-with-residual-structure / structured-term models that
# `cargo xtask bench-gls` times on our side (one run; the Rust side writes the case list and
# reads the result).
#
#   Rscript xtask/r/bench_gls.R <repo-root> <cases.tsv> <out.json>
#
# cases.tsv (tab-separated, header): name, engine (`gls`, `lme` or `glmmTMB`), data (CSV
# path relative to the root), formula (ours: lme4 syntax, structured terms for glmmTMB),
# residual, residual_variance (empty when none), reml (TRUE/FALSE).
#
# Our structures in nlme's terms (the same as xtask/r/reference_gls.R and
# reference_lme_residual.R use):
#   ar1(t | s)   corAR1(form = ~ t | s)
#   cs(t | s)    corCompSymm(form = ~ 1 | s)          (~ 1 | g/s with a random term on g ≠ s)
#   us(f | s)    corSymm(form = ~ i | s) + varIdent(form = ~ 1 | f), i the index of f's level
#   toep(f | s)  corARMA(form = ~ i | s, p = q - 1);  toeph: + varIdent(form = ~ 1 | f)
#   ident(f)     varIdent(form = ~ 1 | f)            (varComb with the structure's varIdent)
#
# Timed: one call of gls()/lme()/glmmTMB() on data in memory (system.time elapsed), the median
# of repeated fits (up to 20, about 2 s in all), one fit where a fit takes more than 2 s.
# Written per case: seconds, reps, logLik (to show that the fit is the same model as ours).

suppressPackageStartupMessages({
  library(nlme)
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
root <- normalizePath(args[[1]], mustWork = TRUE)
cases <- read.delim(args[[2]], stringsAsFactors = FALSE, na.strings = "", quote = "")
out_path <- args[[3]]

ctl <- lmeControl(maxIter = 500, msMaxIter = 500, niterEM = 100, returnObject = TRUE)
gctl <- glsControl(maxIter = 500, msMaxIter = 500, returnObject = TRUE)

parse_struct <- function(s) {
  m <- regmatches(s, regexec("^\\s*([a-z0-9]+)\\((.*)\\|(.*)\\)\\s*$", s))[[1]]
  list(kind = m[2], time = trimws(m[3]), subject = trimws(m[4]))
}

time_fit <- function(f) {
  t1 <- system.time(fit <- f())[["elapsed"]]
  if (t1 > 2) return(list(seconds = t1, reps = 1L, fit = fit))
  reps <- max(3L, min(20L, as.integer(ceiling(2 / max(t1, 1e-3)))))
  ts <- vapply(seq_len(reps), function(i) system.time(f())[["elapsed"]], numeric(1))
  list(seconds = median(ts), reps = reps, fit = fit)
}

res <- list()
for (i in seq_len(nrow(cases))) {
  cs <- cases[i, ]
  d <- read.csv(file.path(root, cs$data), stringsAsFactors = TRUE)
  reml <- as.logical(cs$reml)
  f <- as.formula(cs$formula)
  t <- tryCatch({
    if (cs$engine == "glmmTMB") {
      time_fit(function() glmmTMB(f, data = d, REML = reml))
    } else {
      fixed <- lme4::nobars(f)
      bars <- lme4::findbars(f)
      cor <- NULL
      wts <- list()
      if (!is.na(cs$residual)) {
        st <- parse_struct(cs$residual)
        g_sub <- st$subject
        if (length(bars) > 0) {
          grp <- deparse(bars[[1]][[3]])
          if (grp != st$subject) g_sub <- paste0(grp, "/", st$subject)
        }
        d[[st$subject]] <- factor(d[[st$subject]])
        if (st$kind %in% c("us", "toep", "toeph")) {
          d$.idx <- as.integer(factor(d[[st$time]]))
          q <- nlevels(factor(d[[st$time]]))
        }
        cor <- switch(st$kind,
          ar1 = eval(bquote(corAR1(form = ~ .(as.name(st$time)) | .(as.name(st$subject))))),
          cs = eval(parse(text = sprintf("corCompSymm(form = ~ 1 | %s)", g_sub))),
          us = eval(bquote(corSymm(form = ~ .idx | .(as.name(st$subject))))),
          toep = , toeph = eval(bquote(corARMA(form = ~ .idx | .(as.name(st$subject)), p = .(q - 1L)))))
        if (st$kind %in% c("us", "toeph"))
          wts[[length(wts) + 1]] <- eval(bquote(varIdent(form = ~ 1 | .(as.name(st$time)))))
      }
      if (!is.na(cs$residual_variance)) {
        vf <- trimws(sub("^ident\\((.*)\\)$", "\\1", cs$residual_variance))
        wts[[length(wts) + 1]] <- eval(bquote(varIdent(form = ~ 1 | .(as.name(vf)))))
      }
      w <- if (length(wts) == 0) NULL else if (length(wts) == 1) wts[[1]] else do.call(varComb, wts)
      method <- if (reml) "REML" else "ML"
      if (cs$engine == "lme") {
        random <- as.formula(paste("~", deparse(bars[[1]])))
        time_fit(function() lme(fixed, random = random, data = d, correlation = cor,
                                weights = w, method = method, control = ctl,
                                na.action = na.omit))
      } else {
        time_fit(function() gls(fixed, data = d, correlation = cor, weights = w,
                                method = method, control = gctl, na.action = na.omit))
      }
    }
  }, error = function(e) { message(cs$name, ": ", conditionMessage(e)); NULL })
  if (is.null(t)) next
  res[[cs$name]] <- list(seconds = t$seconds, reps = t$reps,
                         logLik = as.numeric(logLik(t$fit)),
                         engine = cs$engine)
  cat(sprintf("  %-34s %9.4f s (%d reps)  logLik %.4f\n", cs$name, t$seconds, t$reps,
              as.numeric(logLik(t$fit))))
}
versions <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                 glmmTMB = as.character(packageVersion("glmmTMB")))
writeLines(toJSON(list(versions = versions, fits = res), auto_unbox = TRUE, digits = NA,
                  pretty = TRUE), out_path)
