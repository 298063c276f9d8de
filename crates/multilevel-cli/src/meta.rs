//! `multilevel meta`: random-effects meta-analysis and meta-regression of effect sizes with
//! known sampling variances (crate `multilevel-meta`, metafor's `rma()`).

use crate::args::{DataSource, ReportOutput};
use crate::fit::{report_format, write_report};
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use multilevel::meta::{DataSpec, Method, RmaOptions, Test, rma_data};
use multilevel_report::Render;

/// Examples shown by `multilevel meta --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel meta --data bcg.csv --yi yi --vi vi --slab slab
  multilevel meta --data bcg.csv --yi yi --vi vi --mods \"~ ablat + year\" --test knha
  multilevel meta --data trials.csv --yi logor --sei se --method DL --format json

The model is y_i = x_i'b + u_i + e_i with u_i ~ N(0, tau^2) and e_i ~ N(0, v_i), v_i known
(metafor's rma). tau^2 estimators: REML (default), ML, DL, PM, EB, HE, SJ; FE fixes tau^2 = 0.
--mods takes a one-sided formula of moderators (factors and interactions as in R). --test knha
uses Knapp-Hartung t and F tests on k - p df. Rows with a missing effect size, variance or
moderator are dropped and reported.";

/// τ² estimator (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Restricted maximum likelihood.
    #[value(name = "REML", alias = "reml")]
    Reml,
    /// Maximum likelihood.
    #[value(name = "ML", alias = "ml")]
    Ml,
    /// DerSimonian-Laird.
    #[value(name = "DL", alias = "dl")]
    Dl,
    /// Paule-Mandel.
    #[value(name = "PM", alias = "pm")]
    Pm,
    /// Empirical Bayes (equals Paule-Mandel).
    #[value(name = "EB", alias = "eb")]
    Eb,
    /// Hedges.
    #[value(name = "HE", alias = "he")]
    He,
    /// Sidik-Jonkman.
    #[value(name = "SJ", alias = "sj")]
    Sj,
    /// Fixed-effect model (tau^2 = 0).
    #[value(name = "FE", alias = "fe", alias = "EE", alias = "ee")]
    Fe,
}

impl MethodArg {
    fn to_lib(self) -> Method {
        match self {
            MethodArg::Reml => Method::Reml,
            MethodArg::Ml => Method::Ml,
            MethodArg::Dl => Method::Dl,
            MethodArg::Pm => Method::Pm,
            MethodArg::Eb => Method::Eb,
            MethodArg::He => Method::He,
            MethodArg::Sj => Method::Sj,
            MethodArg::Fe => Method::Fe,
        }
    }
}

/// Test of the coefficients (`--test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestArg {
    /// Wald z tests, chi-square QM.
    Z,
    /// t tests on k - p df without adjustment.
    T,
    /// Knapp-Hartung adjusted t and F tests.
    #[value(alias = "hksj")]
    Knha,
    /// Knapp-Hartung with the adjustment factor truncated below at 1.
    Adhoc,
}

/// Arguments of `multilevel meta`.
#[derive(Debug, Args)]
pub struct MetaArgs {
    /// The data: --data FILE or --dataset NAME (and --factor COL).
    #[command(flatten)]
    pub source: DataSource,

    /// Column of effect sizes.
    #[arg(long, value_name = "COL")]
    pub yi: String,

    /// Column of sampling variances.
    #[arg(
        long,
        value_name = "COL",
        required_unless_present = "sei",
        conflicts_with = "sei"
    )]
    pub vi: Option<String>,

    /// Column of standard errors (instead of --vi; vi = sei^2).
    #[arg(long, value_name = "COL")]
    pub sei: Option<String>,

    /// tau^2 estimator.
    #[arg(long, value_enum, default_value_t = MethodArg::Reml, value_name = "METHOD")]
    pub method: MethodArg,

    /// Moderators as a one-sided formula, e.g. "~ ablat + year" (meta-regression).
    #[arg(long, value_name = "FORMULA")]
    pub mods: Option<String>,

    /// Column of study labels.
    #[arg(long, value_name = "COL")]
    pub slab: Option<String>,

    /// Test of the coefficients: z, or knha (Knapp-Hartung), t, adhoc.
    #[arg(long, value_enum, default_value_t = TestArg::Z, value_name = "TEST")]
    pub test: TestArg,

    /// Confidence level, a fraction as for `confint --level` (0.95); a value from 1 to 100 is
    /// still read as a percentage, with a deprecation note.
    #[arg(long, default_value_t = 0.95, value_name = "LEVEL")]
    pub level: f64,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Runs `multilevel meta`.
pub fn run(a: &MetaArgs) -> Result<()> {
    let level_percent = meta_level_percent(a.level)?;
    let data = a.source.load()?;
    let spec = DataSpec {
        yi: a.yi.clone(),
        vi: a.vi.clone(),
        sei: a.sei.clone(),
        mods: a.mods.clone(),
        slab: a.slab.clone(),
    };
    let opts = RmaOptions {
        method: a.method.to_lib(),
        test: match a.test {
            TestArg::Z => Test::Z,
            TestArg::T => Test::T,
            TestArg::Knha => Test::Knha,
            TestArg::Adhoc => Test::Adhoc,
        },
        level: level_percent,
        ..RmaOptions::default()
    };
    let fit = rma_data(&data, &spec, &opts)?;
    write_report(
        &fit.render(report_format(a.report.format)),
        a.report.output.as_deref(),
    )
}

/// `--level` as the percentage the meta-analysis takes: a fraction in (0, 1) as everywhere else
/// (`confint --level 0.95`); the older percentage form (1 to 100) is accepted with a
/// deprecation note; anything else is refused.
fn meta_level_percent(level: f64) -> Result<f64> {
    if level > 0.0 && level < 1.0 {
        return Ok(100.0 * level);
    }
    if (1.0..100.0).contains(&level) {
        eprintln!(
            "note: --level {level} read as {level}%; --level takes a fraction as in confint (--level {}), the percentage form is deprecated",
            level / 100.0
        );
        return Ok(level);
    }
    bail!(
        "--level {level} is not a confidence level; hint: give a fraction between 0 and 1, e.g. --level 0.95"
    );
}
