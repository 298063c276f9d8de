//! `multilevel explore`: the first steps of a multilevel analysis (crate
//! `multilevel-workflow`): ICC and design effect per grouping factor, the pooled OLS, between,
//! within, random-effects and hybrid estimates side by side, and the Hausman test.

use crate::args::OutputFormat;
use crate::fit::{load_data, write_report};
use anyhow::Result;
use clap::Args;
use multilevel::workflow::{
    ExploreOptions, explore, parse_simple_formula, render_markdown, render_text,
};
use std::path::PathBuf;

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
model, and the Hausman test of within against random-effects slopes. Predictors must be
numeric columns; rows with a missing value are dropped.";

/// Arguments of `multilevel explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Response and numeric predictors, e.g. "mAch ~ ses" (no random-effects terms: the
    /// grouping factors go in --group).
    #[arg(value_name = "FORMULA")]
    pub formula: String,

    /// CSV file with a header row (missing values: empty or NA).
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "dataset",
        required_unless_present = "dataset"
    )]
    pub data: Option<PathBuf>,

    /// Embedded data set (see `multilevel datasets`).
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,

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

    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Runs `multilevel explore`.
pub fn run(a: &ExploreArgs) -> Result<()> {
    let (response, predictors) = parse_simple_formula(&a.formula)?;
    // Grouping columns of numbers are cluster labels: the workflow accepts them as they are.
    let data = load_data(a.data.as_deref(), a.dataset.as_deref(), &[])?;
    let opts = ExploreOptions {
        bootstrap: a.bootstrap,
        seed: a.seed,
        ..ExploreOptions::default()
    };
    let report = explore(&data, &response, &predictors, &a.groups, &opts)?;
    let text = match a.format {
        OutputFormat::Text => render_text(&report),
        OutputFormat::Markdown => render_markdown(&report),
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
    };
    write_report(&text, a.output.as_deref())
}
