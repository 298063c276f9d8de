//! `multilevel plot`: figures of a linear mixed model fit, written as SVG or PNG.

use crate::fit::{check_response, cli_error};
use anyhow::Result;
use clap::{Args, ValueEnum};
use multilevel::MixedModel;
use multilevel::plot::{Figure, ImageFormat, figures, save};
use std::path::PathBuf;

/// Examples shown by `multilevel plot --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel plot --dataset sleepstudy --kind groups -o groups.png \"Reaction ~ Days + (Days | Subject)\"
  multilevel plot --dataset sleepstudy --kind caterpillar -o ranef.svg \"Reaction ~ Days + (Days | Subject)\"
  multilevel plot --dataset sleepstudy --kind shrinkage -o shrinkage.png \"Reaction ~ Days + (Days | Subject)\"
  multilevel plot --dataset sleepstudy --kind residuals -o resid.png \"Reaction ~ Days + (Days | Subject)\"
  multilevel plot --dataset sleepstudy --kind profile -o profile.svg \"Reaction ~ Days + (Days | Subject)\"
  multilevel plot --dataset Hsb82 --kind boxplot -o schools.png \"mAch ~ ses + (1 | school)\"
  multilevel plot --dataset Hsb82 --kind estimators -o estimators.svg \"mAch ~ ses + (1 | school)\"

The format follows the file name (.svg or .png). Kinds: groups (data and per-group lines of
pooled OLS, random intercept and random intercept + slope; needs `y ~ x + (x | g)`),
caterpillar (conditional modes ± 1.96 √condVar), shrinkage (per-group OLS → mixed-model
coefficients), residuals (residuals vs fitted, normal QQ plots), profile (ζ of every parameter
from the profiled ML deviance, as lme4's profile()), boxplot (the response by group, raw and
centred on the group means), estimators (pooled OLS, between, within and random-effects slopes
over the data and the group means; needs `y ~ x + (1 | g)`).";

/// Kind of figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Data with per-group lines: pooled OLS, (1 | g), (x | g).
    Groups,
    /// Conditional modes with 95 % intervals, sorted.
    Caterpillar,
    /// Per-group OLS estimates moved to the mixed-model coefficients.
    Shrinkage,
    /// Residuals vs fitted and normal QQ plots.
    Residuals,
    /// Profile ζ plots of every parameter.
    Profile,
    /// The response by group as boxplots, raw and centred on the group means.
    Boxplot,
    /// OLS, between, within and random-effects slopes over the data (`y ~ x + (1 | g)`).
    Estimators,
}

/// Arguments of `multilevel plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Model formula in lme4 syntax, e.g. "Reaction ~ Days + (Days | Subject)".
    #[arg(value_name = "FORMULA")]
    pub formula: String,
    /// Data source and fit options.
    #[command(flatten)]
    pub model: crate::args::ModelData,
    /// Family, link and quadrature.
    #[command(flatten)]
    pub glmm: crate::glmm::GlmmChoice,
    /// Kind of figure.
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: Kind,
    /// Output file; the extension (.svg or .png) picks the format.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: PathBuf,
    /// Width in pixels [default: depends on the kind].
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,
    /// Height in pixels [default: depends on the kind].
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,
}

/// Runs `multilevel plot`.
pub fn run(a: &PlotArgs) -> Result<()> {
    // Refuse an unusable file name before any fitting.
    ImageFormat::from_path(&a.output)?;
    a.glmm.check()?;
    if a.glmm.is_glmm() {
        return run_glmm(a);
    }
    let data = a.model.load()?;
    check_response(&a.formula, &data)?;
    let opts = a.model.fit_options();
    let note_dropped = |n: usize| match n {
        0 => {}
        1 => eprintln!("note: 1 row of {} dropped for missing values", data.name()),
        n => eprintln!(
            "note: {n} rows of {} dropped for missing values",
            data.name()
        ),
    };
    if matches!(a.kind, Kind::Groups | Kind::Boxplot | Kind::Estimators) {
        // These figures compute their own lines and models from the design.
        let design = multilevel::build_design(&a.formula, &data, &opts).map_err(cli_error)?;
        note_dropped(design.n_dropped_missing);
        return match a.kind {
            Kind::Boxplot => write(&figures::boxplot(&design)?, a),
            Kind::Estimators => write(&figures::estimators(&design, opts.reml)?, a),
            _ => write(&figures::groups(&design, opts.reml)?, a),
        };
    }
    // One fit serves the other figures.
    let model = multilevel::lmer(&a.formula, &data, &opts).map_err(cli_error)?;
    let design = model.design();
    note_dropped(design.n_dropped_missing);
    let fit = model.summary();
    match a.kind {
        Kind::Groups => write(&figures::groups(design, opts.reml)?, a),
        Kind::Boxplot => write(&figures::boxplot(design)?, a),
        Kind::Estimators => write(&figures::estimators(design, opts.reml)?, a),
        Kind::Caterpillar => write(&figures::caterpillar(fit)?, a),
        Kind::Shrinkage => write(&figures::shrinkage(design, fit)?, a),
        Kind::Residuals => write(&figures::residuals(fit)?, a),
        Kind::Profile => {
            let profile = figures::profile(design, fit, &figures::ProfileOptions::default())?;
            write(&profile, a)
        }
    }
}

/// `plot --family …`: the figures drawn from a GLMM's summary — the conditional modes
/// (caterpillar, on the link scale as lme4's `dotplot(ranef(fit, condVar = TRUE))`) and the
/// response residuals against the fitted means.
fn run_glmm(a: &PlotArgs) -> Result<()> {
    if !matches!(a.kind, Kind::Caterpillar | Kind::Residuals) {
        anyhow::bail!(
            "--kind {} is drawn for linear mixed models only; hint: for a GLMM use --kind caterpillar or --kind residuals",
            match a.kind {
                Kind::Groups => "groups",
                Kind::Shrinkage => "shrinkage",
                Kind::Boxplot => "boxplot",
                Kind::Estimators => "estimators",
                _ => "profile",
            }
        );
    }
    let data = a.model.load()?;
    let model = a.glmm.fit(&a.formula, &data, a.model.fit_options())?;
    let n = model.design().n_dropped_missing;
    if n > 0 {
        eprintln!(
            "note: {n} row(s) of {} dropped for missing values",
            data.name()
        );
    }
    let fit = model.summary();
    match a.kind {
        Kind::Caterpillar => write(&figures::caterpillar(fit)?, a),
        _ => write(&figures::residuals(fit)?, a),
    }
}

fn write<F: Figure>(fig: &F, a: &PlotArgs) -> Result<()> {
    let (w, h) = fig.default_size();
    let size = (a.width.unwrap_or(w), a.height.unwrap_or(h));
    save(fig, &a.output, Some(size))?;
    eprintln!("wrote {} ({} × {} px)", a.output.display(), size.0, size.1);
    Ok(())
}
