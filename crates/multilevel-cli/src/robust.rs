//! `multilevel robust`: OLS or linear-mixed-model fixed effects with cluster-robust (CR0, CR1,
//! CR2) standard errors and Satterthwaite df (crate `multilevel-marginal`, clubSandwich's
//! `coef_test`).

use crate::args::{DataSource, ReportOutput};
use crate::fit::{report_format, write_report};
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use multilevel::marginal::{Clusters, CrType, MarginalError, Setting, lmm_robust, ols_robust};
use multilevel_report::Render;

/// Examples shown by `multilevel robust --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel robust --data hsb82.csv --cluster school \"mAch ~ ses\"
  multilevel robust --data hsb82.csv --cluster school --model lmm --type CR2 \"mAch ~ ses + (1 | school)\"
  multilevel robust --dataset sleepstudy --cluster Subject --type CR1 --format json \"Reaction ~ Days\"

Cluster-robust (sandwich) standard errors as clubSandwich's vcovCR / coef_test: CR0 (no
correction), CR1 (Stata's G/(G-1)·(N-1)/(N-p)), CR2 (Bell–McCaffrey, the default), each with
Satterthwaite (Bell–McCaffrey) df for the t tests. --model ols fits by least squares (working
covariance I); --model lmm fits the mixed model by REML (formula with bar terms) and uses its
marginal covariance ZΛΛ'Z' + I as working covariance. The cluster must contain every random-effects
group (e.g. the grouping factor itself).";

/// Cluster-robust type (`--type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrKind {
    /// No small-sample correction.
    #[value(name = "CR0", alias = "cr0")]
    Cr0,
    /// Stata's G/(G−1)·(N−1)/(N−p).
    #[value(name = "CR1", alias = "cr1")]
    Cr1,
    /// Bell–McCaffrey bias-reduced linearization.
    #[value(name = "CR2", alias = "cr2")]
    Cr2,
}

/// Model (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RobustModel {
    /// Ordinary least squares (R's lm).
    Ols,
    /// Linear mixed model by REML (lme4's lmer).
    Lmm,
}

/// Arguments of `multilevel robust`.
#[derive(Debug, Args)]
pub struct RobustArgs {
    /// Model formula: fixed effects for --model ols ("y ~ x"), lme4 syntax for --model lmm
    /// ("y ~ x + (1 | g)").
    #[arg(value_name = "FORMULA")]
    pub formula: String,

    /// The data: --data FILE or --dataset NAME (and --factor COL).
    #[command(flatten)]
    pub source: DataSource,

    /// Column of cluster labels.
    #[arg(long, value_name = "COL")]
    pub cluster: String,

    /// Small-sample correction.
    #[arg(long = "type", value_enum, default_value_t = CrKind::Cr2, value_name = "TYPE")]
    pub cr_type: CrKind,

    /// Model whose coefficients are tested.
    #[arg(long, value_enum, default_value_t = RobustModel::Ols, value_name = "MODEL")]
    pub model: RobustModel,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Runs `multilevel robust`.
pub fn run(a: &RobustArgs) -> Result<()> {
    let ty = match a.cr_type {
        CrKind::Cr0 => CrType::Cr0,
        CrKind::Cr1 => CrType::Cr1,
        CrKind::Cr2 => CrType::Cr2,
    };
    let data = a.source.load()?;
    let res = match a.model {
        RobustModel::Ols => {
            ols_robust(&a.formula, &data, &a.cluster, ty).map_err(|e| match e {
                // The clusters of this command are its --cluster flag; random effects are
                // --model lmm.
                MarginalError::Setting {
                    problem,
                    setting: Setting::ClusterColumn,
                    ..
                } => anyhow::anyhow!(
                    "{problem}; hint: name the cluster with --cluster, or use --model lmm"
                ),
                other => anyhow::anyhow!(other),
            })?
        }
        RobustModel::Lmm => {
            if multilevel::formula::parse(&a.formula).is_ok_and(|f| !f.has_random()) {
                bail!(
                    "--model lmm needs random-effects terms in the formula, e.g. \"{} + (1 | {})\"; hint: add a bar term, or use --model ols",
                    a.formula.trim(),
                    a.cluster
                );
            }
            crate::fit::check_response(&a.formula, &data)?;
            let opts = multilevel::FitOptions {
                cond_var: false,
                ..multilevel::FitOptions::default()
            };
            let mut prepared = multilevel::prepare_lmm_parts(&a.formula, &data, &opts)?;
            let fit = prepared.model.fit()?;
            let clusters = Clusters::from_column(&data, &a.cluster, &prepared.frame.rows)?;
            lmm_robust(prepared.model.design(), &fit, &clusters, ty)?
        }
    };
    let text = res.render(report_format(a.report.format));
    write_report(&text, a.report.output.as_deref())
}
