//! `multilevel gee`: generalized estimating equations (crate `multilevel-marginal`, geepack's
//! `geeglm`) with robust sandwich standard errors.

use crate::args::{DataSource, ReportOutput};
use crate::fit::{report_format, write_report};
use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};
use multilevel::marginal::{CorStructure, GeeOptions, MarginalError, Setting, gee, hint_with};
use multilevel_report::Render;

/// Examples shown by `multilevel gee --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel gee --data dietox.csv --group Pig --corstr ar1 \"Weight ~ Time + Cu\"
  multilevel gee --data ohio.csv --group id --family binomial --corstr exchangeable \"resp ~ age + smoke\"
  multilevel gee --dataset sleepstudy --group Subject --format json \"Reaction ~ Days\"

Population-averaged (marginal) effects by GEE, as geepack's geeglm: the scale is estimated (mean
squared Pearson residual), α by geepack's moment estimators, standard errors are robust
(sandwich), and each coefficient gets z = estimate / SE and the Wald χ² = z² with its p-value.
A cluster is every row with the same --group value (geepack uses contiguous runs of equal ids,
the same thing when the data are sorted by the group). The AR(1) working correlation orders the
rows of a cluster as they appear in the data: sort the file by time within cluster first.";

/// GEE family (`--family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeeFamily {
    /// Continuous response, variance φ.
    Gaussian,
    /// 0/1 response (or a two-level factor), variance φμ(1−μ).
    Binomial,
    /// Counts, variance φμ.
    Poisson,
    /// Positive continuous, variance φμ².
    Gamma,
}

/// Working correlation (`--corstr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Corstr {
    /// No correlation within clusters (the GLM estimates with robust SEs).
    Independence,
    /// One common correlation within clusters.
    Exchangeable,
    /// First-order autoregressive in data order within clusters.
    Ar1,
}

/// Arguments of `multilevel gee`.
#[derive(Debug, Args)]
pub struct GeeArgs {
    /// Fixed-effects formula, e.g. "Weight ~ Time + Cu" (no random-effects terms: the cluster
    /// goes in --group).
    #[arg(value_name = "FORMULA")]
    pub formula: String,

    /// The data: --data FILE or --dataset NAME (and --factor COL).
    #[command(flatten)]
    pub source: DataSource,

    /// Column of cluster labels (geepack's `id`).
    #[arg(long, value_name = "COL")]
    pub group: String,

    /// Response family.
    #[arg(long, value_enum, default_value_t = GeeFamily::Gaussian, value_name = "FAMILY")]
    pub family: GeeFamily,

    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,

    /// Working correlation structure.
    #[arg(long, value_enum, default_value_t = Corstr::Independence, value_name = "STRUCTURE")]
    pub corstr: Corstr,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Runs `multilevel gee`.
pub fn run(a: &GeeArgs) -> Result<()> {
    let family_name = match a.family {
        GeeFamily::Gaussian => "gaussian",
        GeeFamily::Binomial => "binomial",
        GeeFamily::Poisson => "poisson",
        GeeFamily::Gamma => "Gamma",
    };
    let family = multilevel::glmm_core::FamilySpec::parse(family_name, a.link.as_deref())
        .map_err(|e| anyhow!("{e}"))?;
    let corstr = match a.corstr {
        Corstr::Independence => CorStructure::Independence,
        Corstr::Exchangeable => CorStructure::Exchangeable,
        Corstr::Ar1 => CorStructure::Ar1,
    };
    let data = a.source.load()?;
    let opts = GeeOptions {
        family,
        corstr,
        ..GeeOptions::default()
    };
    let fit = gee(&a.formula, &data, &a.group, &opts).map_err(gee_error)?;
    let text = fit.render(report_format(a.report.format));
    write_report(&text, a.report.output.as_deref())
}

/// The library names the method's settings in its own words; this command's settings are its
/// flags, so a hint about a setting names the flag.
fn gee_error(e: MarginalError) -> anyhow::Error {
    match e {
        MarginalError::Setting {
            problem,
            check,
            setting,
        } => {
            let advice = match setting {
                Setting::Family => "choose another --family",
                Setting::Link => "try another --link",
                Setting::WorkingCorrelation => "try another --corstr",
                Setting::IndependenceCorrelation => "use --corstr independence",
                Setting::ClusterColumn => {
                    "remove the bar terms: the clusters are named with --group"
                }
            };
            anyhow!("{problem}; hint: {}", hint_with(check.as_deref(), advice))
        }
        other => anyhow!(other),
    }
}
