//! `multilevel fit --residual …`: a GLS / MMRM fit (fixed effects with a residual covariance
//! per subject), or with random-effects terms nlme's `lme(…, correlation =, weights =)`, and
//! `--sigma` (a fixed residual standard deviation), rendered as text, JSON or markdown.

use crate::args::{Ddf, Family, FitArgs};
use crate::fit::{report_format, write_report};
use anyhow::{Result, anyhow, bail};
use multilevel::gls_core::{GlsDf, GlsError, GlsOptions, ResidualStructure, VarianceFunction};
use multilevel_report::Render;

/// Runs `multilevel fit` with `--residual`, `--residual-variance` and/or `--sigma`.
pub fn run(a: &FitArgs) -> Result<()> {
    check_options(a)?;
    let residual = a
        .residual
        .as_deref()
        .map(ResidualStructure::parse)
        .transpose()
        .map_err(|e| anyhow!("--residual: {e}"))?;
    let variance = a
        .residual_variance
        .as_deref()
        .map(VarianceFunction::parse)
        .transpose()
        .map_err(|e| anyhow!("--residual-variance: {e}"))?;
    let opts = GlsOptions {
        residual,
        variance,
        reml: !a.model.ml,
        df: match a.ddf {
            None | Some(Ddf::Satterthwaite) => GlsDf::Satterthwaite,
            Some(Ddf::None) => GlsDf::None,
            Some(Ddf::KenwardRoger) => GlsDf::KenwardRoger,
        },
        sigma: a.sigma,
        weights: a.model.weights.clone(),
    };
    let data = a.model.load()?;
    let fit = multilevel::gls(&a.formula, &data, &opts).map_err(gls_error)?;
    let report = fit.summary().render(report_format(a.report.format));
    if a.report.format != crate::args::OutputFormat::Text || a.report.output.is_some() {
        for w in &fit.warnings {
            eprintln!("warning: {w}");
        }
    }
    write_report(&report, a.report.output.as_deref())
}

/// Options of `fit` that a GLS fit does not take, refused before reading any data.
fn check_options(a: &FitArgs) -> Result<()> {
    let refuse = |flag: &str, why: &str| -> Result<()> {
        bail!("{flag} cannot be combined with --residual/--residual-variance/--sigma: {why}")
    };
    if a.family != Family::Gaussian || a.link.is_some() || a.nagq.is_some() {
        refuse(
            "--family/--link/--nagq",
            "residual covariance structures are fitted for Gaussian responses only; hint: drop them for a GLS/MMRM fit",
        )?;
    }
    if a.model.weights.is_some() && a.sigma.is_none() {
        refuse(
            "--weights",
            "prior weights are not supported in a GLS fit; hint: use --residual-variance \"ident(f)\" for a variance per level",
        )?;
    }
    if a.augment.is_some() || a.tidy.is_some() || a.glance.is_some() {
        refuse(
            "--augment/--tidy/--glance",
            "these tables are written for mixed models only so far; hint: use --format json for the GLS fit's numbers",
        )?;
    }
    Ok(())
}

/// A library error in the words of the command line.
fn gls_error(e: multilevel::Error) -> anyhow::Error {
    match e {
        multilevel::Error::Gls(g) => match *g {
            GlsError::NotFactor {
                structure,
                column,
                why,
            } => anyhow!(
                "`{structure}` needs `{column}` to be a factor ({why}), but it is a numeric column; hint: add --factor {column}"
            ),
            g => multilevel::Error::Gls(Box::new(g)).into(),
        },
        e => e.into(),
    }
}
