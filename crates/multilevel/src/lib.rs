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
//! | t and F tests with df, type III ANOVA, LRT | [`inference`] | lmerTest, `anova.merMod` |
//! | text / JSON / markdown reports | [`report`] | `summary.merMod` |
//!
//! ```
//! use multilevel::{FitOptions, dataset, lmer};
//!
//! let data = dataset("sleepstudy")?;
//! let fit = lmer("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default())?;
//! assert!((fit.objective - 1743.628).abs() < 1e-3); // REML criterion, as lme4
//! assert_eq!(fit.fixed[1].term, "Days");
//! println!("{}", multilevel::report::render(&fit, multilevel::report::Format::Text));
//! # Ok::<(), multilevel::Error>(())
//! ```
//!
//! [`lmer`] returns a fitted [`LinearMixedModel`]: fit once, then ask it. It reports t values
//! without df, as lme4; lmerTest's tests are opt-in: [`LinearMixedModel::summary_with_df`]
//! adds Satterthwaite (or Kenward–Roger) df and p-values to the coefficients,
//! [`LinearMixedModel::anova`] gives the type III F tests of the terms,
//! [`LinearMixedModel::compare`] the likelihood-ratio test of nested models (lme4's
//! `anova(m1, m2)`), [`LinearMixedModel::confint`] the intervals:
//!
//! ```
//! use multilevel::{Ddf, FitOptions, dataset, lmer};
//!
//! let cake = dataset("cake")?;
//! let mut m = lmer(
//!     "angle ~ recipe * temperature + (1 | recipe:replicate)",
//!     &cake,
//!     &FitOptions::default(),
//! )?;
//! let table = m.anova(Ddf::Satterthwaite)?;
//! assert_eq!(table[1].term, "temperature");
//! assert!((table[1].den_df - 210.0).abs() < 0.1); // lmerTest: 210
//!
//! let sleep = dataset("sleepstudy")?;
//! let m1 = lmer("Reaction ~ Days + (1 | Subject)", &sleep, &FitOptions::default())?;
//! let m2 = lmer("Reaction ~ Days + (Days | Subject)", &sleep, &FitOptions::default())?;
//! let lrt = m1.compare(&m2)?;
//! assert!(lrt.refitted); // REML fits are refitted by ML first
//! assert!((lrt.rows[1].chisq.unwrap_or(0.0) - 42.139).abs() < 1e-2); // lme4: 42.139
//! # Ok::<(), multilevel::Error>(())
//! ```
//!
//! GLMMs take a typed family and options: `glmer(formula, &data, Family::Binomial,
//! &GlmerOptions::new().quadrature(Quadrature::Agq(25)))` (see [`glmer`]).

pub mod emmeans;
mod glmm;
mod gls;
mod mixed;
mod model;
mod options;
mod ordinal;
pub mod power;
pub mod predict;
pub mod simulate;
mod varcomp_text;
mod zeroinfl;

pub use emmeans::{
    Adjust, ContrastRow, CustomContrast, EmmContrast, EmmRow, EmmWeights, EmmeansOptions,
    EmmeansResult,
};
pub use glmm::{GeneralizedLinearMixedModel, NbSearch, glmer, glmer_nb};
pub use gls::{GeneralizedLeastSquares, gls};
pub use mixed::{MixedModel, RanefRow};
pub use model::{CoefTable, LinearMixedModel};
pub use multilevel_glmm::ordinal::OrdinalLink;
pub use multilevel_glmm::zeroinfl::ZiCount;
pub use multilevel_glmm::{
    Family as CustomFamily, FamilyKind as Family, FamilySpec, GlmFamily, Link as CustomLink,
    LinkKind as Link, LinkNotAllowed,
};
pub use options::{Ddf, FitOptions, GlmerOptions, IntervalMethod, MAX_AGQ, Quadrature};
pub use ordinal::{ClmmOptions, CumulativeLinkMixedModel, OrdinalCoef, clmm};
pub use power::{
    Along, BetaSpec, CoefTest, DeNovo, GroupSdCor, NewParams, PowerOptions, PowerResult, PowerRow,
    PowerTest, power,
};
pub use predict::{PredictOptions, PredictScale, Prediction, ReForm};
pub use simulate::{SimulateOptions, SimulateReForm};
pub use zeroinfl::{ZeroInflatedModel, ZiOptions, zero_inflated};

pub use multilevel_datasets as datasets;
pub use multilevel_design as design;
pub use multilevel_formula as formula;
pub use multilevel_frame as frame;
pub use multilevel_glmm as glmm_core;
pub use multilevel_gls as gls_core;
pub use multilevel_inference as inference;
pub use multilevel_lmm as lmm;
pub use multilevel_marginal as marginal;
pub use multilevel_meta as meta;
pub use multilevel_numeric as numeric;
pub use multilevel_plot as plot;
pub use multilevel_report as report;
pub use multilevel_workflow as workflow;

pub use multilevel_design::Design;
pub use multilevel_frame::{Contrasts, DataFrame, ReadOptions};
pub use multilevel_lmm::{
    Correlation, FitResult, FixedEffect, GroupInfo, LmmOptions, Method, OptimizerInfo, RanefTable,
    Residual, VarComp,
};

/// Any error of the pipeline, with a message that names what went wrong, where, and a hint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A linear mixed model was asked for with a factor (text) response.
    #[error(
        "the response `{response}` is a factor with {levels} levels, but a linear mixed model needs a numeric response; hint: for a two-level outcome fit a binomial GLMM (glmer), otherwise check the column"
    )]
    FactorResponse {
        /// Response label.
        response: String,
        /// Number of levels.
        levels: usize,
    },
    /// A link the family does not allow.
    #[error("{0}")]
    Link(#[from] LinkNotAllowed),
    /// An option that cannot be used (see the options' `check()`).
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong, with a hint.
        reason: String,
    },
    /// A question the model cannot answer (e.g. profile intervals of a GLMM).
    #[error("{0}")]
    Unsupported(String),
    /// The GLMM fit failed.
    #[error("{0}")]
    Glmm(#[from] multilevel_glmm::GlmmError),
    /// An observed-Hessian Laplace fit (ordinal models) failed.
    #[error("{0}")]
    Observed(#[from] multilevel_glmm::observed::ObservedError),
    /// The formula does not parse.
    #[error("{0}")]
    Formula(#[from] multilevel_formula::FormulaError),
    /// The data could not be read.
    #[error("{0}")]
    Data(#[from] multilevel_frame::DataError),
    /// The formula does not fit the data (unknown column, bad values, ...).
    #[error("{0}")]
    Frame(#[from] multilevel_frame::FrameError),
    /// New data for a prediction do not fit the model's recipe (a missing column, an unseen
    /// level).
    #[error("{0}")]
    NewData(Box<multilevel_frame::NewDataError>),
    /// The design could not be built.
    #[error("{0}")]
    Design(#[from] multilevel_design::DesignError),
    /// The fit failed.
    #[error("{0}")]
    Fit(#[from] multilevel_lmm::LmmError),
    /// A GLS (residual covariance structure) fit failed.
    #[error("{0}")]
    Gls(Box<multilevel_gls::GlsError>),
    /// Degrees of freedom, F tests or model comparisons could not be computed.
    #[error("{0}")]
    Inference(#[from] multilevel_inference::InferenceError),
    /// An ANOVA table was asked for without a df method.
    #[error(
        "the type III ANOVA table needs denominator df; hint: use Ddf::Satterthwaite (the default) or Ddf::KenwardRoger"
    )]
    AnovaNeedsDdf,
    /// No embedded data set of that name.
    #[error("no embedded data set named `{name}`; hint: available data sets are {available}")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// Comma-separated names of the embedded data sets.
        available: String,
    },
}

impl From<multilevel_gls::GlsError> for Error {
    fn from(e: multilevel_gls::GlsError) -> Self {
        Error::Gls(Box::new(e))
    }
}

impl From<multilevel_frame::NewDataError> for Error {
    fn from(e: multilevel_frame::NewDataError) -> Self {
        Error::NewData(Box::new(e))
    }
}

/// Parse a formula and evaluate its model frame on `data` (the first half of lme4's
/// `lFormula`).
pub(crate) fn parse_and_frame(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
) -> Result<(multilevel_formula::Formula, multilevel_frame::ModelFrame), Error> {
    let parsed = multilevel_formula::parse(formula)?;
    let frame_opts = multilevel_frame::FrameOptions {
        weights: opts.weights.clone(),
        contrasts: opts.contrasts.clone(),
        ..multilevel_frame::FrameOptions::default()
    };
    let frame = multilevel_frame::ModelFrame::new(&parsed, data, &frame_opts)?;
    Ok((parsed, frame))
}

/// A linear mixed model needs a numeric response; a factor (text) response is refused rather
/// than silently coded 0/1.
pub(crate) fn check_lmm_response(frame: &multilevel_frame::ModelFrame) -> Result<(), Error> {
    if let Some(multilevel_frame::ResponseValues::Factor { levels, .. }) = &frame.response {
        return Err(Error::FactorResponse {
            response: frame.response_label.clone().unwrap_or_default(),
            levels: levels.len(),
        });
    }
    Ok(())
}

/// Parse a formula and build the design of a linear mixed model on `data` (lme4's
/// `lFormula`).
pub fn build_design(formula: &str, data: &DataFrame, opts: &FitOptions) -> Result<Design, Error> {
    let (parsed, frame) = parse_and_frame(formula, data, opts)?;
    check_lmm_response(&frame)?;
    let mut design = multilevel_design::build_design(&parsed, &frame)?;
    design.formula = formula.to_string();
    Ok(design)
}

/// The stages of a prepared (not yet fitted) linear mixed model, kept for inference: the
/// parsed formula and model frame are what [`inference::type3_contrasts`] needs beside the
/// design held by the model.
#[derive(Debug)]
pub struct PreparedLmm {
    /// The parsed formula.
    pub formula: multilevel_formula::Formula,
    /// The model frame (evaluated variables, complete cases).
    pub frame: multilevel_frame::ModelFrame,
    /// The model, ready to fit.
    pub model: multilevel_lmm::LinearMixedModel,
}

/// Parse, build the model frame and the design, and set up the model without fitting it;
/// unlike [`prepare_lmm`] the formula and the frame are returned too.
pub fn prepare_lmm_parts(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
) -> Result<PreparedLmm, Error> {
    let (parsed, frame) = parse_and_frame(formula, data, opts)?;
    check_lmm_response(&frame)?;
    let mut design = multilevel_design::build_design(&parsed, &frame)?;
    design.formula = formula.to_string();
    let model = multilevel_lmm::LinearMixedModel::new(design, lmm_options(opts))?;
    Ok(PreparedLmm {
        formula: parsed,
        frame,
        model,
    })
}

/// Fit a linear mixed model and add denominator df and p-values to its coefficients
/// (lmerTest's `summary(lmer(...))`); a thin wrapper over [`LinearMixedModel::summary_with_df`].
/// With [`Ddf::None`] this is the summary of [`lmer`].
///
/// ```
/// use multilevel::{Ddf, FitOptions, dataset, lmer_with_df};
///
/// let data = dataset("sleepstudy")?;
/// let fit = lmer_with_df("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default(),
///     Ddf::Satterthwaite)?;
/// let df = fit.fixed[1].df.unwrap_or(f64::NAN);
/// assert!((df - 17.0).abs() < 0.01); // lmerTest: 17.00
/// # Ok::<(), multilevel::Error>(())
/// ```
pub fn lmer_with_df(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
    ddf: Ddf,
) -> Result<FitResult, Error> {
    lmer(formula, data, opts)?.summary_with_df(ddf)
}

/// Fit a linear mixed model and test each fixed-effects term (lmerTest's `anova(fit)`, type
/// III); a thin wrapper over [`LinearMixedModel::anova`]. Returns the summary with df and
/// p-values of the coefficients, and the table.
///
/// # Errors
/// [`Error::AnovaNeedsDdf`] for [`Ddf::None`]; the pipeline's errors otherwise.
pub fn anova_type3(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
    ddf: Ddf,
) -> Result<(FitResult, Vec<inference::AnovaRow>), Error> {
    if ddf == Ddf::None {
        return Err(Error::AnovaNeedsDdf);
    }
    let mut model = lmer(formula, data, opts)?;
    let fit = model.summary_with_df(ddf)?;
    let rows = model.anova(ddf)?;
    Ok((fit, rows))
}

/// Fit several models to the same data and compare them by likelihood-ratio tests (lme4's
/// `anova(m1, m2, ...)`); a thin wrapper over [`LinearMixedModel::compare_all`].
///
/// # Errors
/// Fewer than two formulas, models on different rows, and the pipeline's errors.
pub fn compare_models(
    formulas: &[&str],
    data: &DataFrame,
    opts: &FitOptions,
) -> Result<inference::LrtTable, Error> {
    let models = formulas
        .iter()
        .map(|f| lmer(f, data, opts))
        .collect::<Result<Vec<_>, _>>()?;
    LinearMixedModel::compare_all(&models.iter().collect::<Vec<_>>())
}

/// Added to a likelihood-ratio table when the models differ in their random effects.
pub const BOUNDARY_NOTE: &str = "the models differ in their random effects: a variance tested at 0 lies on the boundary of its range, where the χ² reference does not hold, so these p-values are conservative (too large; for one variance, halving the p-value is the usual correction)";

/// Add [`BOUNDARY_NOTE`] when the models' numbers of θ differ.
pub(crate) fn add_boundary_note(
    table: &mut inference::LrtTable,
    mut n_theta: impl Iterator<Item = usize>,
) {
    if let Some(first) = n_theta.next()
        && n_theta.any(|n| n != first)
    {
        table.notes.push(BOUNDARY_NOTE.to_string());
    }
}

/// Prepare a linear mixed model without fitting it (for refits and bootstrap).
pub fn prepare_lmm(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
) -> Result<multilevel_lmm::LinearMixedModel, Error> {
    let design = build_design(formula, data, opts)?;
    Ok(multilevel_lmm::LinearMixedModel::new(
        design,
        lmm_options(opts),
    )?)
}

pub(crate) fn lmm_options(opts: &FitOptions) -> LmmOptions {
    LmmOptions {
        reml: opts.reml,
        cond_var: opts.cond_var,
        ..LmmOptions::default()
    }
}

/// Fit a linear mixed model (lme4's `lmer(formula, data, REML = opts.reml)`): the fitted
/// [`LinearMixedModel`] (which dereferences to its [`FitResult`]).
///
/// # Errors
/// The pipeline's errors.
pub fn lmer(formula: &str, data: &DataFrame, opts: &FitOptions) -> Result<LinearMixedModel, Error> {
    LinearMixedModel::fit(formula, data, opts)
}

/// Fit a linear mixed model and compute confidence intervals at `level` (e.g. 0.95); a thin
/// wrapper over [`LinearMixedModel::confint`] (conditional variances are not computed).
///
/// # Errors
/// The pipeline's errors; a level outside (0, 1).
pub fn confint(
    formula: &str,
    data: &DataFrame,
    opts: &FitOptions,
    method: IntervalMethod,
    level: f64,
) -> Result<(FitResult, Vec<multilevel_inference::Interval>), Error> {
    let fit_opts = FitOptions {
        cond_var: false,
        ..opts.clone()
    };
    let model = lmer(formula, data, &fit_opts)?;
    let intervals = model.confint(method, level)?;
    Ok((model.into_summary(), intervals))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_factor_response_is_refused_for_a_linear_mixed_model() {
        let data = DataFrame::new("t")
            .with_strings("y", &["a", "b", "a", "b", "a", "b", "b", "a"])
            .unwrap()
            .with_strings("g", &["g1", "g1", "g2", "g2", "g3", "g3", "g4", "g4"])
            .unwrap();
        let err = lmer("y ~ 1 + (1 | g)", &data, &FitOptions::default()).unwrap_err();
        assert!(matches!(err, Error::FactorResponse { levels: 2, .. }));
        // The library names its own API, never a command-line flag.
        assert!(err.to_string().contains("binomial GLMM"));
        assert!(!err.to_string().contains("--"));
    }
}
