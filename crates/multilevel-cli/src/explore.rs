//! `multilevel explore`: the first steps of a multilevel analysis (crate
//! `multilevel-workflow`): ICC and design effect per grouping factor, the pooled OLS, between,
//! within, random-effects and hybrid estimates side by side, and the Hausman test.

use crate::args::{DataSource, ReportOutput};
use crate::fit::{report_format, write_report};
use anyhow::Result;
use clap::Args;
use multilevel::workflow::{ExploreOptions, WorkflowError, explore, parse_simple_formula};
use multilevel_report::Render;

/// Examples shown by `multilevel explore --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel explore --data hsb82.csv --group school \"mAch ~ ses\"
  multilevel explore --data pupils.csv --group school --group class --format json \"score ~ ses + iq\"

For every --group: the empty model y ~ 1 + (1 | group) by REML, its ICC with a parametric-bootstrap
interval, the design effect 1 + (mean cluster size - 1) * ICC and the effective sample size.
Several --group columns are nested in the order given, outer first (class 1 of school A and class
1 of school B are different classes), and the joint empty model y ~ 1 + (1 | school) +
(1 | class) partitions the variance across all levels (each level's share is its ICC).
With the first --group as the cluster: pooled OLS (naive and CR1 cluster-robust SEs), between
(OLS on group means), within (fixed effects), random effects (REML) and the hybrid (Mundlak)
model, and the Hausman test of within against random-effects slopes: by default the REML
random-intercept slopes; --re-estimator swar uses plm's default Swamy–Arora GLS, which reproduces
plm::phtest(within, random). The report says which estimator the test used. Predictors must be
numeric columns; rows with a missing value are dropped.";

/// The random-effects estimator of the Hausman test (`--re-estimator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReEstimatorArg {
    /// The REML random-intercept fit (the report's `random` row).
    Reml,
    /// Swamy–Arora feasible GLS, plm's default random effects.
    Swar,
}

/// Arguments of `multilevel explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Response and numeric predictors, e.g. "mAch ~ ses" (no random-effects terms: the
    /// grouping factors go in --group).
    #[arg(value_name = "FORMULA")]
    pub formula: String,

    /// The data: --data FILE or --dataset NAME (and --factor COL).
    #[command(flatten)]
    pub source: DataSource,

    /// Grouping factor (column of cluster labels); repeat for nested levels, outer first. The
    /// first is the cluster of the estimators.
    #[arg(long = "group", value_name = "COL", required = true)]
    pub groups: Vec<String>,

    /// Parametric-bootstrap replicates for the ICC interval (0: no interval).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub bootstrap: usize,

    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 20_240_601, value_name = "N")]
    pub seed: u64,

    /// Random-effects estimator of the Hausman test: reml (default) or swar (plm's default).
    #[arg(long, value_enum, default_value_t = ReEstimatorArg::Reml, value_name = "METHOD")]
    pub re_estimator: ReEstimatorArg,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Runs `multilevel explore`.
pub fn run(a: &ExploreArgs) -> Result<()> {
    // The ICC interval is a 95% percentile interval (`ExploreOptions::level`).
    crate::bounds::check_replicates(
        "--bootstrap",
        a.bootstrap,
        ExploreOptions::default().level,
        true,
    )?;
    let (response, predictors) = parse_simple_formula(&a.formula).map_err(explore_error)?;
    // Grouping columns of numbers are cluster labels: the workflow accepts them as they are.
    let data = a.source.load()?;
    let opts = ExploreOptions {
        bootstrap: a.bootstrap,
        seed: a.seed,
        re_estimator: match a.re_estimator {
            ReEstimatorArg::Reml => multilevel::workflow::ReEstimator::Reml,
            ReEstimatorArg::Swar => multilevel::workflow::ReEstimator::SwamyArora,
        },
        ..ExploreOptions::default()
    };
    let report = explore(&data, &response, &predictors, &a.groups, &opts).map_err(explore_error)?;
    let text = report.render(report_format(a.report.format));
    write_report(&text, a.report.output.as_deref())
}

/// The workflow's errors in the command's words: its grouping factors are `--group`.
fn explore_error(e: WorkflowError) -> anyhow::Error {
    match e {
        WorkflowError::NoGroups => anyhow::anyhow!(
            "no grouping factor given; hint: name at least one column of cluster labels with --group (e.g. --group school)"
        ),
        WorkflowError::NotAColumn { formula, term } => anyhow::anyhow!(
            "formula `{formula}`: term `{term}` is not a column name; hint: explore takes plain numeric predictors (no interactions, transformations or random-effects terms); the grouping factors are given with --group"
        ),
        other => anyhow::anyhow!(other),
    }
}
