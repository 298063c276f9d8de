//! # multilevel
//!
//! Mixed-effects (multilevel, hierarchical) models in Rust that give the numbers lme4 gives.
//!
//! The pipeline is lme4's, one crate per stage, and each stage can be run alone:
//!
//! | stage | crate | lme4 |
//! |---|---|---|
//! | formula text → terms | [`formula`] | `findbars`, `terms` |
//! | data → model frame | [`frame`] | `model.frame`, `na.omit` |
//! | model frame → `X`, `Z` terms, θ layout | [`design`] | `lFormula`, `mkReTrms` |
//! | profiled deviance, optimiser, results | [`lmm`] | `mkLmerDevfun`, `optimizeLmer`, `mkMerMod` |
//! | text / JSON / markdown reports | [`report`] | `summary.merMod` |
//!
//! ```
//! use multilevel::{FitOptions, dataset, lmer};
//!
//! let data = dataset("sleepstudy")?;
//! let fit = lmer("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default())?;
//! assert!((fit.objective - 1743.628).abs() < 1e-3); // REML criterion, as lme4
//! assert_eq!(fit.fixed[1].term, "Days");
//! println!("{}", multilevel::report::render_text(&fit));
//! # Ok::<(), multilevel::Error>(())
//! ```

use std::collections::BTreeMap;

pub use multilevel_datasets as datasets;
pub use multilevel_design as design;
pub use multilevel_formula as formula;
pub use multilevel_frame as frame;
pub use multilevel_lmm as lmm;
pub use multilevel_report as report;

pub use multilevel_design::Design;
pub use multilevel_frame::{Contrasts, DataFrame, ReadOptions};
pub use multilevel_lmm::{
    Correlation, FitResult, FixedEffect, GroupInfo, LinearMixedModel, LmmOptions, Method,
    OptimizerInfo, RanefTable, Residual, VarComp,
};

/// Any error of the pipeline, with a message that names what went wrong, where, and a hint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The formula does not parse.
    #[error("{0}")]
    Formula(#[from] multilevel_formula::FormulaError),
    /// The data could not be read.
    #[error("{0}")]
    Data(#[from] multilevel_frame::DataError),
    /// The formula does not fit the data (unknown column, bad values, ...).
    #[error("{0}")]
    Frame(#[from] multilevel_frame::FrameError),
    /// The design could not be built.
    #[error("{0}")]
    Design(#[from] multilevel_design::DesignError),
    /// The fit failed.
    #[error("{0}")]
    Fit(#[from] multilevel_lmm::LmmError),
    /// No embedded data set of that name.
    #[error("no embedded data set named `{name}`; hint: available data sets are {available}")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// Comma-separated names of the embedded data sets.
        available: String,
    },
}

/// Options of [`lmer`] beyond the formula and the data.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// REML (default, as lme4) or ML.
    pub reml: bool,
    /// Column of prior weights.
    pub weights: Option<String>,
    /// Contrasts per factor column (default treatment; polynomial for ordered factors).
    pub contrasts: BTreeMap<String, Contrasts>,
    /// Compute conditional variances of the random effects (lme4's `condVar`).
    pub cond_var: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            reml: true,
            weights: None,
            contrasts: BTreeMap::new(),
            cond_var: true,
        }
    }
}

/// Parse a formula and build the design on `data` (lme4's `lFormula`).
pub fn build_design(formula: &str, data: &DataFrame, opts: &FitOptions) -> Result<Design, Error> {
    let parsed = multilevel_formula::parse(formula)?;
    let frame_opts = multilevel_frame::FrameOptions {
        weights: opts.weights.clone(),
        contrasts: opts.contrasts.clone(),
    };
    let mf = multilevel_frame::ModelFrame::new(&parsed, data, &frame_opts)?;
    let mut design = multilevel_design::build_design(&parsed, &mf)?;
    design.formula = formula.to_string();
    Ok(design)
}

/// Prepare a linear mixed model without fitting it (for refits and bootstrap).
pub fn prepare_lmm(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
) -> Result<LinearMixedModel, Error> {
    let design = build_design(formula, data, opts)?;
    Ok(LinearMixedModel::new(design, lmm_options(opts))?)
}

fn lmm_options(opts: &FitOptions) -> LmmOptions {
    LmmOptions {
        reml: opts.reml,
        cond_var: opts.cond_var,
        ..LmmOptions::default()
    }
}

/// Fit a linear mixed model (lme4's `lmer(formula, data, REML = opts.reml)`).
pub fn lmer(formula: &str, data: &DataFrame, opts: &FitOptions) -> Result<FitResult, Error> {
    let design = build_design(formula, data, opts)?;
    Ok(multilevel_lmm::lmer(design, &lmm_options(opts))?)
}

/// Load an embedded data set by name (case-insensitive), with its factor columns set up.
pub fn dataset(name: &str) -> Result<DataFrame, Error> {
    let Some(d) = multilevel_datasets::get(name) else {
        return Err(Error::UnknownDataset {
            name: name.to_string(),
            available: multilevel_datasets::all()
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let opts = ReadOptions {
        factor_columns: d.factors.iter().map(|s| s.to_string()).collect(),
        ordered_columns: d.ordered.iter().map(|s| s.to_string()).collect(),
    };
    Ok(DataFrame::from_csv_str(d.name, d.csv, &opts)?)
}

/// Read a CSV file; `factors` are numeric columns to treat as factors.
pub fn read_csv(path: &std::path::Path, factors: &[String]) -> Result<DataFrame, Error> {
    let opts = ReadOptions {
        factor_columns: factors.to_vec(),
        ordered_columns: Vec::new(),
    };
    Ok(DataFrame::read_csv(path, &opts)?)
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
