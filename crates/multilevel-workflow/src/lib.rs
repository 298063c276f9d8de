//! # multilevel-workflow
//!
//! The first steps of a multilevel analysis, in one call ([`explore`]):
//!
//! 1. **How clustered is the response?** For every grouping factor `g`, the empty
//!    random-intercept model `y ~ 1 + (1 | g)` is fitted by REML, giving the between-group
//!    variance τ², the within-group variance σ², the intraclass correlation
//!    `ICC = τ² / (τ² + σ²)`, the cluster sizes, Kish's design effect
//!    `deff = 1 + (n̄ − 1)·ICC` (n̄ the mean cluster size), the effective sample size `n / deff`
//!    and `√deff`, the factor by which naive standard errors of a grand mean are too small.
//!    The ICC's confidence interval is a parametric bootstrap of the empty model: responses are
//!    simulated from the fit (`β̂₀ + u_g + e`, `u ~ N(0, τ̂²)`, `e ~ N(0, σ̂²)`), refitted by REML
//!    ([`multilevel_lmm::LinearMixedModel::refit`]) and the percentile interval of the
//!    replicated ICCs is reported ([`ExploreOptions::bootstrap`] replicates, fixed seed).
//! 2. **Do the estimators agree?** Each slope is estimated five ways with the first grouping
//!    factor as the cluster:
//!    - `ols`: pooled OLS, with the naive SE and the CR1 cluster-robust SE (Stata's small-sample
//!      factor `G/(G−1)·(N−1)/(N−K)`, K the number of coefficients incl. the intercept);
//!    - `between`: OLS on the group means (one row per group, unweighted);
//!    - `within`: fixed effects, OLS on the group-demeaned data, SEs with the residual df
//!      `N − G − K` (K slopes) that account for the absorbed group means, as plm;
//!    - `random`: the REML random-intercept model `y ~ x₁ + … + (1 | g)`;
//!    - `hybrid`: Mundlak's within–between model, `y ~ (x − x̄_g) + x̄_g + (1 | g)` by REML, whose
//!      `_within` slopes equal the fixed-effects slopes and whose `_mean` slopes are the
//!      between-group (contextual + within) effects.
//! 3. **Hausman test** of the random-effects assumption: `H = (b_W − b_RE)'[V_W − V_RE]⁻¹(b_W − b_RE)`
//!    on the slopes, χ² with df = number of slopes. When `V_W − V_RE` is not positive definite a
//!    generalised inverse is used (eigen-decomposition keeping the positive eigenvalues; df =
//!    their number) and [`Hausman::note`] says so. `b_RE` comes from the REML random-intercept
//!    fit by default, or ([`ReEstimator::SwamyArora`]) from plm's default random-effects
//!    estimator, Swamy and Arora's feasible GLS for unbalanced panels (Baltagi and Chang 1994):
//!    with N rows, G groups of sizes T_g, K slopes and p = K + 1 coefficients,
//!    σ̂²_ν = e_W'e_W / (N − G − K) from the within fit; the between regression on the N-row
//!    scale (every row replaced by its group means, ȳ_g on `(1, x̄_g)`) gives `e_B` and
//!    σ̂²_μ = (e_B'e_B − (G − p) σ̂²_ν) / (N − tr[(Σ T_g a_g a_g')⁻¹ Σ T_g² a_g a_g']) with
//!    `a_g = (1, x̄_g)` (0 when negative); then `θ_g = 1 − √(σ̂²_ν / (T_g σ̂²_μ + σ̂²_ν))`, OLS
//!    of `y − θ_g ȳ_g` on `X − θ_g X̄_g` gives `b_RE` and `V_RE = s² (X*'X*)⁻¹` with
//!    `s² = RSS*/(N − p)`. [`Hausman::re_estimator`] says which was used.
//!
//! The report is plain data (serde) with a text and a markdown renderer ([`render_text`],
//! [`render_markdown`]).

pub mod levels;
mod linalg;
mod render;

use multilevel_frame::{Column, DataFrame, FrameOptions, ModelFrame, format_r_number};
use multilevel_lmm::{FitResult, LinearMixedModel, LmmError, LmmOptions};
use multilevel_numeric::SplitMix64;
use multilevel_numeric::stats::quantile_sorted as quantile;
use serde::{Deserialize, Serialize};

pub use levels::{CrossLevelTerm, cross_level_interactions};
pub use render::{render_markdown, render_text};

/// Errors of the workflow, each naming the column, the model or the group concerned, with a hint.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A column named in the call is not in the data.
    #[error("{data}: no column named `{column}`; hint: the columns are {available}")]
    UnknownColumn {
        /// Data name.
        data: String,
        /// The missing column.
        column: String,
        /// Comma-separated column names of the data.
        available: String,
    },
    /// The response or a predictor is a factor.
    #[error(
        "{data}: column `{column}` ({role}) is a factor but must be numeric; hint: explore takes numeric predictors only, code a factor as 0/1 indicator columns"
    )]
    NotNumeric {
        /// Data name.
        data: String,
        /// The column.
        column: String,
        /// `response` or `predictor`.
        role: String,
    },
    /// No grouping factor given.
    #[error(
        "no grouping factor given; hint: name at least one column of cluster labels (e.g. `school`) among the grouping factors"
    )]
    NoGroups,
    /// Too few complete rows or groups.
    #[error("{0}")]
    TooLittleData(String),
    /// The simple formula `y ~ x1 + x2` could not be read.
    #[error("formula `{formula}`: {message}")]
    Formula {
        /// The formula text.
        formula: String,
        /// What is wrong, with a hint.
        message: String,
    },
    /// A term of the simple formula is not a plain column (an interaction, a transformation, an
    /// offset or a random-effects term). The grouping factors are given apart from the formula.
    #[error(
        "formula `{formula}`: term `{term}` is not a column name; hint: explore takes plain numeric predictors (no interactions, transformations or random-effects terms); the grouping factors are named apart from the formula"
    )]
    NotAColumn {
        /// The formula text.
        formula: String,
        /// The offending term as written.
        term: String,
    },
    /// A least-squares fit had a singular cross-product matrix.
    #[error(
        "the {method} estimator is not identified: its predictors are collinear (or constant); hint: drop one of the collinear predictors"
    )]
    Singular {
        /// Estimator name.
        method: String,
    },
    /// A mixed model could not be set up or fitted.
    #[error("mixed model `{model}`: {message}")]
    Model {
        /// The model, in lme4 syntax on the user's column names.
        model: String,
        /// The underlying error message.
        message: String,
    },
}

/// Options of [`explore`].
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// Parametric-bootstrap replicates for the ICC interval (0 = no interval).
    pub bootstrap: usize,
    /// Seed of the bootstrap's random numbers (SplitMix64 + Box–Muller), fixed so reports are
    /// reproducible.
    pub seed: u64,
    /// Confidence level of the ICC interval.
    pub level: f64,
    /// The random-effects estimator of the Hausman test.
    pub re_estimator: ReEstimator,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            bootstrap: 200,
            seed: 20_240_601,
            level: 0.95,
            re_estimator: ReEstimator::Reml,
        }
    }
}

/// Clustering summary of one grouping factor, from the empty REML model `y ~ 1 + (1 | g)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Grouping column.
    pub name: String,
    /// Number of groups (levels present in the complete rows).
    pub levels: usize,
    /// Mean cluster size n̄ = N / G.
    pub mean_size: f64,
    /// Smallest cluster.
    pub min_size: usize,
    /// Largest cluster.
    pub max_size: usize,
    /// Between-group variance τ² (REML).
    pub between_variance: f64,
    /// Within-group (residual) variance σ² (REML).
    pub within_variance: f64,
    /// Intraclass correlation τ² / (τ² + σ²).
    pub icc: f64,
    /// Percentile parametric-bootstrap interval of the ICC, `[lower, upper]` (null when not
    /// computed).
    pub icc_ci: Option<[f64; 2]>,
    /// Kish's design effect 1 + (n̄ − 1)·ICC.
    pub design_effect: f64,
    /// Effective sample size N / deff.
    pub effective_n: f64,
    /// √deff: how many times too small a naive standard error of the mean is.
    pub sqrt_design_effect: f64,
}

/// Estimator of a row of [`ExploreReport::estimators`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// Pooled ordinary least squares.
    Ols,
    /// OLS on the group means.
    Between,
    /// Fixed effects (group-demeaned OLS).
    Within,
    /// REML random-intercept mixed model.
    Random,
    /// Mundlak's within–between mixed model.
    Hybrid,
}

impl Estimator {
    /// The name used in JSON and in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Ols => "ols",
            Estimator::Between => "between",
            Estimator::Within => "within",
            Estimator::Random => "random",
            Estimator::Hybrid => "hybrid",
        }
    }
}

/// One coefficient of one estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatorRow {
    /// The estimator.
    pub method: Estimator,
    /// Coefficient name: `(Intercept)`, a predictor, or for the hybrid model `x_within` /
    /// `x_mean`.
    pub term: String,
    /// Estimate.
    pub estimate: f64,
    /// Model-based standard error.
    pub std_error: f64,
    /// CR1 cluster-robust standard error (pooled OLS only; null elsewhere).
    pub robust_std_error: Option<f64>,
}

/// Hausman test of the random-effects slopes against the within slopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hausman {
    /// H = (b_W − b_RE)'[V_W − V_RE]⁻(b_W − b_RE).
    pub statistic: f64,
    /// Degrees of freedom (number of slopes, or of positive eigenvalues with a generalised
    /// inverse).
    pub df: usize,
    /// Upper-tail χ² p-value.
    pub p_value: f64,
    /// Slopes compared.
    pub terms: Vec<String>,
    /// Set when a generalised inverse was needed.
    pub note: Option<String>,
    /// One-line reading at the 5% level.
    pub conclusion: String,
    /// The random-effects estimator whose slopes were compared (with its variance
    /// components for Swamy–Arora).
    pub re_estimator: String,
}

/// The random-effects estimator of the Hausman test ([`ExploreOptions::re_estimator`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReEstimator {
    /// The REML random-intercept fit `y ~ x + (1 | g)` (the `random` row of the report).
    #[default]
    Reml,
    /// Swamy–Arora feasible GLS, plm's default `random.method = "swar"` (reproduces
    /// `plm::phtest(within, random)`).
    SwamyArora,
}

/// One level of a multilevel variance partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionRow {
    /// Level: a grouping factor (outer to inner) or `Residual`.
    pub level: String,
    /// Variance component.
    pub variance: f64,
    /// Share of the total variance (for a grouping level, that level's ICC).
    pub share: f64,
}

/// Everything [`explore`] computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploreReport {
    /// Data name.
    pub data_name: String,
    /// Response column.
    pub response: String,
    /// Predictor columns.
    pub predictors: Vec<String>,
    /// Complete rows used.
    pub nobs: usize,
    /// Rows dropped for a missing response, predictor or group.
    pub n_dropped: usize,
    /// Grouping factor used as the cluster of the estimators (the first one).
    pub cluster: String,
    /// Clustering summary per grouping factor.
    pub groups: Vec<GroupSummary>,
    /// How the ICC interval was computed.
    pub icc_ci_method: String,
    /// Coefficients of all estimators.
    pub estimators: Vec<EstimatorRow>,
    /// Hausman test (null without slopes that vary within groups).
    pub hausman: Option<Hausman>,
    /// With several grouping factors: the variance partition of the joint empty model
    /// `y ~ 1 + (1 | g₁) + (1 | g₂) + …`, groups taken as nested in the order given (outer first;
    /// an inner group is identified within its outer groups), residual last.
    pub partition: Option<Vec<PartitionRow>>,
    /// Remarks (dropped rows, predictors without within-group variation, ...).
    pub notes: Vec<String>,
}

/// Reads the simple formula `y ~ x1 + x2` with the formula parser (numeric columns, no
/// interactions, transformations or random terms): returns the response and the predictors in
/// formula order; the intercept (`1`, `0`, `-1`) is ignored and backquotes are removed.
pub fn parse_simple_formula(formula: &str) -> Result<(String, Vec<String>), WorkflowError> {
    use multilevel_formula::{Expr, Response};
    let err = |message: String| WorkflowError::Formula {
        formula: formula.to_string(),
        message,
    };
    let parsed = multilevel_formula::parse(formula).map_err(|e| err(e.to_string()))?;
    let response = match &parsed.response {
        Some(Response::Expr(Expr::Var(name))) => name.clone(),
        Some(r) => {
            return Err(err(format!(
                "the response `{}` is not a column name; hint: explore takes a numeric column as the response, e.g. \"mAch ~ ses\"",
                r.to_expr()
            )));
        }
        None => {
            return Err(err(
                "no response before `~`; hint: e.g. \"mAch ~ ses\"".to_string()
            ));
        }
    };
    let not_a_column = |label: &str| WorkflowError::NotAColumn {
        formula: formula.to_string(),
        term: label.to_string(),
    };
    if let Some(r) = parsed.random.first() {
        return Err(not_a_column(&format!("(… | {})", r.group_label)));
    }
    if let Some(o) = parsed.offsets.first() {
        return Err(not_a_column(&format!("offset({o})")));
    }
    parsed
        .fixed
        .terms
        .iter()
        .map(|t| match t.variables.as_slice() {
            [Expr::Var(name)] => Ok(name.clone()),
            _ => Err(not_a_column(&t.label())),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|predictors| (response, predictors))
}

/// The groups of a column as compact codes `0..G` (sorted by label) plus the labels.
struct Grouping {
    codes: Vec<usize>,
    labels: Vec<String>,
}

impl Grouping {
    fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0usize; self.labels.len()];
        for &c in &self.codes {
            s[c] += 1;
        }
        s
    }

    /// Group means of `v`.
    fn means(&self, v: &[f64]) -> Vec<f64> {
        let mut sum = vec![0.0; self.labels.len()];
        let mut cnt = vec![0.0; self.labels.len()];
        for (&c, &x) in self.codes.iter().zip(v) {
            sum[c] += x;
            cnt[c] += 1.0;
        }
        sum.iter().zip(&cnt).map(|(s, n)| s / n).collect()
    }
}

fn grouping(col: &Column, rows: &[usize]) -> Grouping {
    let raw: Vec<String> = rows
        .iter()
        .map(|&r| match col {
            Column::Numeric(v) => v
                .get(r)
                .copied()
                .flatten()
                .map(format_r_number)
                .unwrap_or_default(),
            Column::Factor(f) => f
                .codes
                .get(r)
                .copied()
                .flatten()
                .and_then(|c| f.levels.get(c as usize))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    let mut labels: Vec<String> = raw.clone();
    labels.sort();
    labels.dedup();
    let codes = raw
        .iter()
        .map(|s| labels.binary_search(s).unwrap_or(0))
        .collect();
    Grouping { codes, labels }
}

/// A random-intercept model fitted on internal column names (`y`, `x1`, …, `g`).
struct MixedFit {
    model: LinearMixedModel,
    fit: FitResult,
}

fn fit_mixed(
    display: &str,
    columns: &[(String, Vec<f64>)],
    group: &Grouping,
    formula: &str,
) -> Result<MixedFit, WorkflowError> {
    fit_mixed_groups(display, columns, &[("g", group)], formula)
}

/// [`fit_mixed`] with several grouping factors under the given internal names.
fn fit_mixed_groups(
    display: &str,
    columns: &[(String, Vec<f64>)],
    groups: &[(&str, &Grouping)],
    formula: &str,
) -> Result<MixedFit, WorkflowError> {
    let model_err = |message: String| WorkflowError::Model {
        model: display.to_string(),
        message,
    };
    let mut df = DataFrame::new("explore");
    for (name, v) in columns {
        df = df
            .with_numeric(name, v.clone())
            .map_err(|e| model_err(e.to_string()))?;
    }
    for (name, group) in groups {
        let codes: Vec<u32> = group.codes.iter().map(|&c| c as u32).collect();
        df = df
            .with_factor(name, codes, group.labels.clone())
            .map_err(|e| model_err(e.to_string()))?;
    }
    let parsed = multilevel_formula::parse(formula).map_err(|e| model_err(e.to_string()))?;
    let mf = ModelFrame::new(&parsed, &df, &FrameOptions::default())
        .map_err(|e| model_err(e.to_string()))?;
    let design =
        multilevel_design::build_design(&parsed, &mf).map_err(|e| model_err(e.to_string()))?;
    let opts = LmmOptions {
        reml: true,
        cond_var: false,
        ..LmmOptions::default()
    };
    let mut model =
        LinearMixedModel::new(design, opts).map_err(|e: LmmError| model_err(e.to_string()))?;
    let fit = model.fit().map_err(|e| model_err(e.to_string()))?;
    Ok(MixedFit { model, fit })
}

/// τ² and σ² of a random-intercept fit.
fn variance_components(fit: &FitResult) -> (f64, f64) {
    let tau2 = fit.random.first().map_or(0.0, |v| v.variance);
    let sigma2 = fit
        .residual
        .as_ref()
        .map_or(fit.sigma * fit.sigma, |r| r.variance);
    (tau2, sigma2)
}

fn summarise_group(
    name: &str,
    response: &str,
    y: &[f64],
    group: &Grouping,
    opts: &ExploreOptions,
    notes: &mut Vec<String>,
) -> Result<GroupSummary, WorkflowError> {
    let display = format!("{response} ~ 1 + (1 | {name})");
    let columns = vec![("y".to_string(), y.to_vec())];
    let MixedFit { mut model, fit } = fit_mixed(&display, &columns, group, "y ~ 1 + (1 | g)")?;
    let (tau2, sigma2) = variance_components(&fit);
    let icc = tau2 / (tau2 + sigma2);
    let sizes = group.sizes();
    let n = y.len();
    let g = group.labels.len();
    let mean_size = n as f64 / g as f64;
    let deff = 1.0 + (mean_size - 1.0) * icc;
    let icc_ci = if opts.bootstrap > 0 {
        let beta0 = fit.fixed.first().map_or(0.0, |f| f.estimate);
        let (tau, sigma) = (tau2.sqrt(), sigma2.sqrt());
        let mut rng = SplitMix64::new(opts.seed);
        // Grown per replicate: a huge request must not reserve all its memory up front.
        let mut reps = Vec::with_capacity(opts.bootstrap.min(4096));
        let mut failed = 0usize;
        for _ in 0..opts.bootstrap {
            let u: Vec<f64> = (0..g).map(|_| tau * rng.normal_cos()).collect();
            let ystar: Vec<f64> = group
                .codes
                .iter()
                .map(|&c| beta0 + u[c] + sigma * rng.normal_cos())
                .collect();
            match model.refit(&ystar) {
                Ok(f) => {
                    let (t, s) = variance_components(&f);
                    reps.push(t / (t + s));
                }
                Err(_) => failed += 1,
            }
        }
        if failed > 0 {
            notes.push(format!(
                "{failed} of {} bootstrap refits of the empty model by `{name}` failed and were left out of the ICC interval",
                opts.bootstrap
            ));
        }
        reps.sort_by(f64::total_cmp);
        let alpha = (1.0 - opts.level) / 2.0;
        (!reps.is_empty()).then(|| [quantile(&reps, alpha), quantile(&reps, 1.0 - alpha)])
    } else {
        None
    };
    Ok(GroupSummary {
        name: name.to_string(),
        levels: g,
        mean_size,
        min_size: sizes.iter().copied().min().unwrap_or(0),
        max_size: sizes.iter().copied().max().unwrap_or(0),
        between_variance: tau2,
        within_variance: sigma2,
        icc,
        icc_ci,
        design_effect: deff,
        effective_n: n as f64 / deff,
        sqrt_design_effect: deff.sqrt(),
    })
}

fn numeric_column<'a>(
    data: &'a DataFrame,
    column: &str,
    role: &str,
) -> Result<&'a [Option<f64>], WorkflowError> {
    data.numeric_values(column)
        .map_err(|_| unknown(data, column))?
        .ok_or_else(|| WorkflowError::NotNumeric {
            data: data.name().to_string(),
            column: column.to_string(),
            role: role.to_string(),
        })
}

fn unknown(data: &DataFrame, column: &str) -> WorkflowError {
    WorkflowError::UnknownColumn {
        data: data.name().to_string(),
        column: column.to_string(),
        available: data.column_names().join(", "),
    }
}

/// Run the exploratory multilevel workflow: clustering summaries for every grouping factor,
/// the five estimators of the predictors' slopes clustered by the first grouping factor, and the
/// Hausman test (see the crate documentation for the formulas).
///
/// `response` and `predictors` must be numeric columns; `groups` may be factor or numeric
/// columns (numbers are cluster labels). Rows with a missing value in any of them are dropped.
///
/// # Errors
/// Unknown or non-numeric columns, no grouping factor, fewer than 3 groups or too few rows for
/// the models, collinear predictors, and failures of the mixed-model fits.
pub fn explore(
    data: &DataFrame,
    response: &str,
    predictors: &[String],
    groups: &[String],
    opts: &ExploreOptions,
) -> Result<ExploreReport, WorkflowError> {
    if groups.is_empty() {
        return Err(WorkflowError::NoGroups);
    }
    let ycol = numeric_column(data, response, "response")?;
    let xcols = predictors
        .iter()
        .map(|p| numeric_column(data, p, "predictor"))
        .collect::<Result<Vec<_>, _>>()?;
    let gcols = groups
        .iter()
        .map(|g| data.column(g).ok_or_else(|| unknown(data, g)))
        .collect::<Result<Vec<_>, _>>()?;
    let nrows = data.nrows();
    let rows: Vec<usize> = (0..nrows)
        .filter(|&r| {
            ycol.get(r).copied().flatten().is_some()
                && xcols.iter().all(|c| c.get(r).copied().flatten().is_some())
                && gcols.iter().all(|c| !c.is_missing(r))
        })
        .collect();
    let n = rows.len();
    let mut notes = Vec::new();
    if n < nrows {
        notes.push(format!(
            "{} of {nrows} rows dropped for a missing value in the response, a predictor or a grouping factor",
            nrows - n
        ));
    }
    let y: Vec<f64> = rows
        .iter()
        .map(|&r| ycol.get(r).copied().flatten().unwrap_or(f64::NAN))
        .collect();
    let xs: Vec<Vec<f64>> = xcols
        .iter()
        .map(|c| {
            rows.iter()
                .map(|&r| c.get(r).copied().flatten().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    // Several grouping factors are nested in the order given: an inner group is identified
    // within its outer groups (classes `1`, `2` of different schools are different classes).
    let groupings = nest(&gcols.iter().map(|c| grouping(c, &rows)).collect::<Vec<_>>());
    let k = predictors.len();
    for (name, g) in groups.iter().zip(&groupings) {
        if g.labels.len() < 3 {
            return Err(WorkflowError::TooLittleData(format!(
                "grouping factor `{name}` has {} group(s) in the {n} complete rows; hint: a multilevel analysis needs several groups (at least 3, better 20 or more)",
                g.labels.len()
            )));
        }
        if n <= g.labels.len() + k + 1 {
            return Err(WorkflowError::TooLittleData(format!(
                "{n} complete rows in {} groups of `{name}` leave no within-group degrees of freedom for {k} predictor(s); hint: the groups need several observations each",
                g.labels.len()
            )));
        }
    }

    let mut summaries = Vec::with_capacity(groups.len());
    for (name, g) in groups.iter().zip(&groupings) {
        summaries.push(summarise_group(name, response, &y, g, opts, &mut notes)?);
    }

    let cluster_name = &groups[0];
    let cluster = &groupings[0];
    let mut estimators = Vec::new();
    let hausman = estimate_all(
        response,
        predictors,
        cluster_name,
        cluster,
        &y,
        &xs,
        opts.re_estimator,
        &mut estimators,
        &mut notes,
    )?;
    if groups.len() > 1 {
        notes.push(format!(
            "the estimators and the Hausman test use the first grouping factor, `{cluster_name}`, as the cluster"
        ));
    }
    let icc_ci_method = if opts.bootstrap > 0 {
        format!(
            "{:.0}% percentile interval of {} parametric-bootstrap REML refits of the empty model (seed {})",
            opts.level * 100.0,
            opts.bootstrap,
            opts.seed
        )
    } else {
        "not computed".to_string()
    };
    let partition = if groupings.len() > 1 {
        Some(variance_partition(response, groups, &groupings, &y)?)
    } else {
        None
    };
    Ok(ExploreReport {
        data_name: data.name().to_string(),
        response: response.to_string(),
        predictors: predictors.to_vec(),
        nobs: n,
        n_dropped: nrows - n,
        cluster: cluster_name.clone(),
        groups: summaries,
        icc_ci_method,
        estimators,
        hausman,
        partition,
        notes,
    })
}

/// Each grouping identified within all the ones before it (outer first): its labels become
/// `outer:…:own`, so repeated inner labels in different outer groups are different groups.
fn nest(groupings: &[Grouping]) -> Vec<Grouping> {
    let n = groupings.first().map_or(0, |g| g.codes.len());
    (0..groupings.len())
        .map(|j| {
            if j == 0 {
                return Grouping {
                    codes: groupings[0].codes.clone(),
                    labels: groupings[0].labels.clone(),
                };
            }
            let raw: Vec<String> = (0..n)
                .map(|i| {
                    groupings[..=j]
                        .iter()
                        .map(|h| h.labels[h.codes[i]].as_str())
                        .collect::<Vec<_>>()
                        .join(":")
                })
                .collect();
            let mut labels = raw.clone();
            labels.sort();
            labels.dedup();
            let codes = raw
                .iter()
                .map(|s| labels.binary_search(s).unwrap_or(0))
                .collect();
            Grouping { codes, labels }
        })
        .collect()
}

/// The joint empty model of nested groupings (outer first) and each level's share.
fn variance_partition(
    response: &str,
    names: &[String],
    nested: &[Grouping],
    y: &[f64],
) -> Result<Vec<PartitionRow>, WorkflowError> {
    let internal: Vec<String> = (0..nested.len()).map(|j| format!("g{j}")).collect();
    let formula = format!(
        "y ~ 1 + {}",
        internal
            .iter()
            .map(|g| format!("(1 | {g})"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let display = format!(
        "{response} ~ 1 + {}",
        names
            .iter()
            .map(|g| format!("(1 | {g})"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let groups: Vec<(&str, &Grouping)> = internal
        .iter()
        .map(String::as_str)
        .zip(nested.iter())
        .collect();
    let MixedFit { fit, .. } = fit_mixed_groups(
        &display,
        &[("y".to_string(), y.to_vec())],
        &groups,
        &formula,
    )?;
    let mut rows: Vec<PartitionRow> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let variance = fit
            .random
            .iter()
            .find(|v| v.group == internal[j])
            .map_or(0.0, |v| v.variance);
        rows.push(PartitionRow {
            level: name.clone(),
            variance,
            share: 0.0,
        });
    }
    let sigma2 = fit.residual.as_ref().map_or(0.0, |r| r.variance);
    rows.push(PartitionRow {
        level: "Residual".into(),
        variance: sigma2,
        share: 0.0,
    });
    let total: f64 = rows.iter().map(|r| r.variance).sum();
    for r in &mut rows {
        r.share = if total > 0.0 { r.variance / total } else { 0.0 };
    }
    Ok(rows)
}

fn row(
    method: Estimator,
    term: &str,
    estimate: f64,
    std_error: f64,
    robust: Option<f64>,
) -> EstimatorRow {
    EstimatorRow {
        method,
        term: term.to_string(),
        estimate,
        std_error,
        robust_std_error: robust,
    }
}

/// Design matrix `[1, x₁, …, x_k]`, row-major.
fn with_intercept(xs: &[Vec<f64>], n: usize) -> Vec<f64> {
    let p = xs.len() + 1;
    let mut x = vec![0.0; n * p];
    for i in 0..n {
        x[i * p] = 1.0;
        for (j, c) in xs.iter().enumerate() {
            x[i * p + j + 1] = c[i];
        }
    }
    x
}

fn terms_with_intercept(predictors: &[String]) -> Vec<String> {
    std::iter::once("(Intercept)".to_string())
        .chain(predictors.iter().cloned())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn estimate_all(
    response: &str,
    predictors: &[String],
    cluster_name: &str,
    cluster: &Grouping,
    y: &[f64],
    xs: &[Vec<f64>],
    re_estimator: ReEstimator,
    out: &mut Vec<EstimatorRow>,
    notes: &mut Vec<String>,
) -> Result<Option<Hausman>, WorkflowError> {
    let n = y.len();
    let k = predictors.len();
    let p = k + 1;
    let g = cluster.labels.len();
    let terms = terms_with_intercept(predictors);

    // Pooled OLS, naive and CR1 SEs.
    let x = with_intercept(xs, n);
    let (beta, inv, resid) = linalg::ols(&x, y, p).ok_or(WorkflowError::Singular {
        method: "pooled OLS".into(),
    })?;
    let rss: f64 = resid.iter().map(|e| e * e).sum();
    let s2 = rss / (n - p) as f64;
    let mut scores = vec![0.0; g * p];
    for i in 0..n {
        let c = cluster.codes[i];
        for a in 0..p {
            scores[c * p + a] += x[i * p + a] * resid[i];
        }
    }
    let mut meat = vec![0.0; p * p];
    for c in 0..g {
        let sc = &scores[c * p..(c + 1) * p];
        for a in 0..p {
            for b in 0..p {
                meat[a * p + b] += sc[a] * sc[b];
            }
        }
    }
    let factor = g as f64 / (g - 1) as f64 * (n - 1) as f64 / (n - p) as f64;
    for a in 0..p {
        // (B M B)_aa with B = (X'X)⁻¹.
        let mut v = 0.0;
        for b in 0..p {
            for d in 0..p {
                v += inv[a * p + b] * meat[b * p + d] * inv[d * p + a];
            }
        }
        out.push(row(
            Estimator::Ols,
            &terms[a],
            beta[a],
            (s2 * inv[a * p + a]).sqrt(),
            Some((factor * v).sqrt()),
        ));
    }

    // Between: OLS on group means.
    let ybar = cluster.means(y);
    let xbars: Vec<Vec<f64>> = xs.iter().map(|c| cluster.means(c)).collect();
    if g > p {
        let xb = with_intercept(&xbars, g);
        match linalg::ols(&xb, &ybar, p) {
            Some((b, inv_b, r)) => {
                let s2b = r.iter().map(|e| e * e).sum::<f64>() / (g - p) as f64;
                for a in 0..p {
                    out.push(row(
                        Estimator::Between,
                        &terms[a],
                        b[a],
                        (s2b * inv_b[a * p + a]).sqrt(),
                        None,
                    ));
                }
            }
            None => notes.push(format!(
                "the between estimator is not identified: the group means of the predictors are collinear across the {g} groups of `{cluster_name}`"
            )),
        }
    } else {
        notes.push(format!(
            "the between estimator needs more groups of `{cluster_name}` ({g}) than coefficients ({p})"
        ));
    }

    // Within: group-demeaned OLS, predictors that vary within groups only.
    let demean = |v: &[f64], means: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(&cluster.codes)
            .map(|(x, &c)| x - means[c])
            .collect()
    };
    let yw = demean(y, &ybar);
    let mut varying = Vec::new();
    let mut xw = Vec::new();
    for (j, c) in xs.iter().enumerate() {
        let w = demean(c, &xbars[j]);
        let ss: f64 = w.iter().map(|v| v * v).sum();
        let total: f64 = c.iter().map(|v| v * v).sum();
        if ss > 1e-20 * total.max(1.0) {
            varying.push(j);
            xw.push(w);
        } else {
            notes.push(format!(
                "`{}` does not vary within groups of `{cluster_name}` (a group-level predictor): it has no within estimate and is left out of the Hausman test",
                predictors[j]
            ));
        }
    }
    let kw = varying.len();
    let mut within: Option<(Vec<f64>, Vec<f64>)> = None;
    let mut sigma2_nu = f64::NAN;
    if kw > 0 {
        let mut xm = vec![0.0; n * kw];
        for i in 0..n {
            for (j, w) in xw.iter().enumerate() {
                xm[i * kw + j] = w[i];
            }
        }
        let (b, inv_w, r) = linalg::ols(&xm, &yw, kw).ok_or(WorkflowError::Singular {
            method: "within (fixed-effects)".into(),
        })?;
        let s2w = r.iter().map(|e| e * e).sum::<f64>() / (n - g - kw) as f64;
        sigma2_nu = s2w;
        let vw: Vec<f64> = inv_w.iter().map(|v| v * s2w).collect();
        for (j, &col) in varying.iter().enumerate() {
            out.push(row(
                Estimator::Within,
                &predictors[col],
                b[j],
                vw[j * kw + j].sqrt(),
                None,
            ));
        }
        within = Some((b, vw));
    }

    // Random effects by REML.
    let mut columns = vec![("y".to_string(), y.to_vec())];
    let mut rhs = Vec::new();
    for (j, c) in xs.iter().enumerate() {
        columns.push((format!("x{}", j + 1), c.clone()));
        rhs.push(format!("x{}", j + 1));
    }
    let fixed_rhs = if rhs.is_empty() {
        "1".to_string()
    } else {
        rhs.join(" + ")
    };
    let user_rhs = if predictors.is_empty() {
        "1".to_string()
    } else {
        predictors.join(" + ")
    };
    let re = fit_mixed(
        &format!("{response} ~ {user_rhs} + (1 | {cluster_name})"),
        &columns,
        cluster,
        &format!("y ~ {fixed_rhs} + (1 | g)"),
    )?
    .fit;
    let internal_name = |t: &str| -> String {
        t.strip_prefix('x')
            .and_then(|s| s.parse::<usize>().ok())
            .and_then(|j| predictors.get(j.wrapping_sub(1)).cloned())
            .unwrap_or_else(|| t.to_string())
    };
    for f in &re.fixed {
        out.push(row(
            Estimator::Random,
            &internal_name(&f.term),
            f.estimate,
            f.std_error,
            None,
        ));
    }

    // Hybrid (Mundlak): within parts of the varying predictors + group means of all.
    if k > 0 {
        let mut hcols = vec![("y".to_string(), y.to_vec())];
        let mut hrhs = Vec::new();
        let mut hnames = Vec::new();
        for (j, &col) in varying.iter().enumerate() {
            hcols.push((format!("w{}", col + 1), xw[j].clone()));
            hrhs.push(format!("w{}", col + 1));
            hnames.push(format!("{}_within", predictors[col]));
        }
        for (j, xb) in xbars.iter().enumerate() {
            let v: Vec<f64> = cluster.codes.iter().map(|&c| xb[c]).collect();
            hcols.push((format!("m{}", j + 1), v));
            hrhs.push(format!("m{}", j + 1));
            hnames.push(format!("{}_mean", predictors[j]));
        }
        let display = format!("{response} ~ {} + (1 | {cluster_name})", hnames.join(" + "));
        match fit_mixed(
            &display,
            &hcols,
            cluster,
            &format!("y ~ {} + (1 | g)", hrhs.join(" + ")),
        ) {
            Ok(h) => {
                for f in &h.fit.fixed {
                    let name = match hrhs.iter().position(|t| *t == f.term) {
                        Some(i) => hnames[i].clone(),
                        None => f.term.clone(),
                    };
                    out.push(row(Estimator::Hybrid, &name, f.estimate, f.std_error, None));
                }
                for w in &h.fit.warnings {
                    notes.push(format!("hybrid model: {w}"));
                }
            }
            Err(e) => notes.push(format!("the hybrid model could not be fitted: {e}")),
        }
    }
    for w in &re.warnings {
        notes.push(format!("random-effects model: {w}"));
    }

    // Hausman on the varying slopes.
    let Some((bw, vw)) = within else {
        return Ok(None);
    };
    let (b_re, v_re, described) = match re_estimator {
        ReEstimator::Reml => (
            re.fixed.iter().map(|f| f.estimate).collect::<Vec<f64>>(),
            re.vcov.clone(),
            format!("REML random-intercept fit {response} ~ {user_rhs} + (1 | {cluster_name})"),
        ),
        ReEstimator::SwamyArora => {
            let (b, v, s2mu) =
                swamy_arora(cluster, y, xs, sigma2_nu).ok_or(WorkflowError::Singular {
                    method: "Swamy–Arora random effects".into(),
                })?;
            if s2mu == 0.0 {
                notes.push(
                    "Swamy–Arora: the between-group variance estimate is negative and is set to 0 (the GLS is then pooled OLS)".into(),
                );
            }
            (
                b,
                v,
                format!(
                    "Swamy–Arora GLS (plm's default random.method = \"swar\"; idiosyncratic variance {}, individual variance {})",
                    format_r_number(signif(sigma2_nu, 6)),
                    format_r_number(signif(s2mu, 6))
                ),
            )
        }
    };
    let pre = b_re.len();
    let mut d = vec![0.0; kw];
    let mut v = vec![0.0; kw * kw];
    for (a, &ca) in varying.iter().enumerate() {
        let ia = ca + 1;
        let bre = b_re.get(ia).copied().unwrap_or(f64::NAN);
        d[a] = bw[a] - bre;
        for (b, &cb) in varying.iter().enumerate() {
            let ib = cb + 1;
            let vre = v_re.get(ia * pre + ib).copied().unwrap_or(f64::NAN);
            v[a * kw + b] = vw[a * kw + b] - vre;
        }
    }
    let terms: Vec<String> = varying.iter().map(|&j| predictors[j].clone()).collect();
    let mut h = hausman_test(&d, &v, kw, terms);
    h.re_estimator = described;
    Ok(Some(h))
}

/// `x` to `digits` significant digits (R's `signif`).
fn signif(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = digits - 1 - x.abs().log10().floor() as i32;
    let f = 10f64.powi(e);
    (x * f).round() / f
}

/// Swamy–Arora feasible GLS for an unbalanced one-way panel (see the crate documentation):
/// the coefficients (intercept first), their covariance `p × p` and σ̂²_μ; `None` when a
/// cross-product matrix is singular.
fn swamy_arora(
    cluster: &Grouping,
    y: &[f64],
    xs: &[Vec<f64>],
    sigma2_nu: f64,
) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let n = y.len();
    let g = cluster.labels.len();
    let p = xs.len() + 1;
    if !sigma2_nu.is_finite() || n <= p {
        return None;
    }
    let sizes: Vec<f64> = cluster.sizes().iter().map(|&t| t as f64).collect();
    let ybar = cluster.means(y);
    let xbars: Vec<Vec<f64>> = xs.iter().map(|c| cluster.means(c)).collect();
    // a_g = (1, x̄_g); A = Σ T_g a_g a_g' (the between regression on the N-row scale),
    // B = Σ T_g² a_g a_g'.
    let a_of = |c: usize| -> Vec<f64> {
        std::iter::once(1.0)
            .chain(xbars.iter().map(|xb| xb[c]))
            .collect()
    };
    let mut a = vec![0.0; p * p];
    let mut b = vec![0.0; p * p];
    let mut aty = vec![0.0; p];
    for c in 0..g {
        let ag = a_of(c);
        let t = sizes[c];
        for i in 0..p {
            aty[i] += t * ag[i] * ybar[c];
            for j in 0..p {
                a[i * p + j] += t * ag[i] * ag[j];
                b[i * p + j] += t * t * ag[i] * ag[j];
            }
        }
    }
    let a_inv = linalg::spd_inverse(&a, p)?;
    let beta_b: Vec<f64> = (0..p)
        .map(|i| (0..p).map(|j| a_inv[i * p + j] * aty[j]).sum())
        .collect();
    let rss_b: f64 = (0..g)
        .map(|c| {
            let ag = a_of(c);
            let fit: f64 = ag.iter().zip(&beta_b).map(|(x, b)| x * b).sum();
            sizes[c] * (ybar[c] - fit).powi(2)
        })
        .sum();
    let trace: f64 = (0..p)
        .map(|i| (0..p).map(|j| a_inv[i * p + j] * b[j * p + i]).sum::<f64>())
        .sum();
    let s2mu = ((rss_b - (g as f64 - p as f64) * sigma2_nu) / (n as f64 - trace)).max(0.0);
    // Quasi-demeaned regression.
    let theta: Vec<f64> = sizes
        .iter()
        .map(|t| 1.0 - (sigma2_nu / (t * s2mu + sigma2_nu)).sqrt())
        .collect();
    let mut xstar = vec![0.0; n * p];
    let mut ystar = vec![0.0; n];
    for i in 0..n {
        let c = cluster.codes[i];
        let th = theta[c];
        ystar[i] = y[i] - th * ybar[c];
        xstar[i * p] = 1.0 - th;
        for (j, (col, xb)) in xs.iter().zip(&xbars).enumerate() {
            xstar[i * p + j + 1] = col[i] - th * xb[c];
        }
    }
    let (beta, inv, resid) = linalg::ols(&xstar, &ystar, p)?;
    let s2 = resid.iter().map(|e| e * e).sum::<f64>() / (n - p) as f64;
    Some((beta, inv.iter().map(|v| v * s2).collect(), s2mu))
}

/// Hausman statistic from the difference of the slopes `d` and of their covariances `v`
/// (`k × k`), with a generalised inverse when `v` is not positive definite.
fn hausman_test(d: &[f64], v: &[f64], k: usize, terms: Vec<String>) -> Hausman {
    let (vals, vecs) = linalg::sym_eigen(v, k);
    let max = vals.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let tol = 1e-10 * max.max(f64::MIN_POSITIVE);
    let mut statistic = 0.0;
    let mut df = 0usize;
    for (j, &lambda) in vals.iter().enumerate() {
        if lambda > tol {
            let proj: f64 = (0..k).map(|i| vecs[i * k + j] * d[i]).sum();
            statistic += proj * proj / lambda;
            df += 1;
        }
    }
    let note = (df < k).then(|| {
        format!(
            "V_W − V_RE is not positive definite ({} of {k} eigenvalues ≤ 0): a generalised inverse (eigen-decomposition keeping the positive eigenvalues) was used, with df = {df}",
            k - df
        )
    });
    let p_value = if df == 0 {
        f64::NAN
    } else {
        multilevel_numeric::dist::p_chisq_upper(statistic, df as f64)
    };
    let conclusion = if !p_value.is_finite() {
        "the Hausman test could not be computed (no positive eigenvalue of V_W − V_RE)".to_string()
    } else if p_value < 0.05 {
        "within and random-effects slopes differ (p < 0.05): random effects inconsistent, use within or the hybrid model".to_string()
    } else {
        "no evidence that the slopes differ (p ≥ 0.05): random effects consistent".to_string()
    };
    Hausman {
        statistic,
        df,
        p_value,
        terms,
        note,
        conclusion,
        re_estimator: String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn library_errors_name_no_command_line_flags() {
        for formula in ["mAch ~ ses + (1 | school)", "mAch ~ ses * sector"] {
            let e = parse_simple_formula(formula).unwrap_err().to_string();
            assert!(e.contains("hint") && !e.contains("--"), "{e}");
        }
        assert!(!WorkflowError::NoGroups.to_string().contains("--"));
    }

    #[test]
    fn simple_formula_reads_response_and_predictors() {
        let (y, xs) = parse_simple_formula("mAch ~ 1 + ses + `x 2`").unwrap();
        assert_eq!(y, "mAch");
        assert_eq!(xs, vec!["ses".to_string(), "x 2".to_string()]);
        assert!(parse_simple_formula("y ~ x + (1 | g)").is_err());
        assert!(parse_simple_formula("y x").is_err());
        // The formula parser reads the terms: interactions, transformations, offsets and a
        // transformed response are refused; a repeated predictor counts once.
        for bad in [
            "y ~ x:z",
            "y ~ x * z",
            "y ~ log(x)",
            "y ~ x + offset(z)",
            "log(y) ~ x",
            "~ x",
        ] {
            assert!(parse_simple_formula(bad).is_err(), "{bad}");
        }
        let (_, xs) = parse_simple_formula("y ~ 0 + b + a + b").unwrap();
        assert_eq!(xs, vec!["b".to_string(), "a".to_string()]);
        let (_, none) = parse_simple_formula("y ~ 1").unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn hausman_uses_generalised_inverse_when_not_positive_definite() {
        // V = diag(2, -1): only the first direction counts.
        let h = hausman_test(
            &[2.0, 5.0],
            &[2.0, 0.0, 0.0, -1.0],
            2,
            vec!["a".into(), "b".into()],
        );
        assert_eq!(h.df, 1);
        assert!((h.statistic - 2.0).abs() < 1e-12);
        assert!(h.note.is_some());
        let full = hausman_test(&[1.0, 1.0], &[1.0, 0.5, 0.5, 1.0], 2, vec![]);
        // d' V⁻¹ d with V⁻¹ = [[4/3, -2/3], [-2/3, 4/3]] → 4/3.
        assert!((full.statistic - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(full.df, 2);
        assert!(full.note.is_none());
    }

    #[test]
    fn quantile_matches_r_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!((quantile(&v, 1.0) - 4.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod synthetic_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// 30 schools × 8 pupils, classes nested in schools (2 per school), a pupil-level `x` and a
    /// school-level `z`; one missing response.
    fn data() -> DataFrame {
        let mut rng = SplitMix64::new(7);
        let (mut y, mut x, mut z, mut school, mut class) = (vec![], vec![], vec![], vec![], vec![]);
        for s in 0..30 {
            let u = rng.normal_cos();
            let zs = (s % 5) as f64;
            for i in 0..8 {
                let xi = rng.normal_cos() + 0.3 * u;
                y.push(Some(1.0 + 0.5 * xi + 0.2 * zs + u + rng.normal_cos()));
                x.push(xi);
                z.push(zs);
                school.push(format!("s{s:02}"));
                class.push(format!("s{s:02}c{}", i % 2));
            }
        }
        y[3] = None;
        let school: Vec<&str> = school.iter().map(String::as_str).collect();
        let class: Vec<&str> = class.iter().map(String::as_str).collect();
        DataFrame::new("synthetic")
            .with_numeric_opt("y", y)
            .unwrap()
            .with_numeric("x", x)
            .unwrap()
            .with_numeric("z", z)
            .unwrap()
            .with_strings("school", &school)
            .unwrap()
            .with_strings("class", &class)
            .unwrap()
    }

    #[test]
    fn group_level_predictor_and_two_groupings() {
        let r = explore(
            &data(),
            "y",
            &["x".into(), "z".into()],
            &["school".into(), "class".into()],
            &ExploreOptions {
                bootstrap: 20,
                ..ExploreOptions::default()
            },
        )
        .unwrap();
        assert_eq!(r.nobs, 239);
        assert_eq!(r.n_dropped, 1);
        assert_eq!(r.groups.len(), 2);
        assert_eq!(r.groups[0].levels, 30);
        assert_eq!(r.groups[1].levels, 60);
        assert_eq!((r.groups[0].min_size, r.groups[0].max_size), (7, 8));
        for g in &r.groups {
            assert!((g.effective_n * g.design_effect - 239.0).abs() < 1e-9);
            assert!(g.icc > 0.0 && g.icc < 1.0);
        }
        // z is constant within schools: no within row, no hybrid z_within, Hausman on x alone.
        let within: Vec<&str> = r
            .estimators
            .iter()
            .filter(|e| e.method == Estimator::Within)
            .map(|e| e.term.as_str())
            .collect();
        assert_eq!(within, vec!["x"]);
        let hybrid: Vec<&str> = r
            .estimators
            .iter()
            .filter(|e| e.method == Estimator::Hybrid)
            .map(|e| e.term.as_str())
            .collect();
        assert_eq!(hybrid, vec!["(Intercept)", "x_within", "x_mean", "z_mean"]);
        let h = r.hausman.as_ref().unwrap();
        assert_eq!(h.terms, vec!["x".to_string()]);
        assert_eq!(h.df, 1);
        assert!(r.notes.iter().any(|n| n.contains("`z` does not vary")));
        assert!(r.notes.iter().any(|n| n.contains("first grouping factor")));
        assert!(r.notes.iter().any(|n| n.contains("1 of 240 rows dropped")));
        // Within slope from the hybrid model equals the fixed-effects slope (Mundlak).
        let w = r
            .estimators
            .iter()
            .find(|e| e.method == Estimator::Within)
            .unwrap();
        let hw = r.estimators.iter().find(|e| e.term == "x_within").unwrap();
        assert!((w.estimate - hw.estimate).abs() < 1e-6 * w.estimate.abs().max(1.0));
    }

    #[test]
    fn no_predictors_gives_clustering_and_intercepts_only() {
        let r = explore(
            &data(),
            "y",
            &[],
            &["school".into()],
            &ExploreOptions {
                bootstrap: 0,
                ..ExploreOptions::default()
            },
        )
        .unwrap();
        assert!(r.hausman.is_none());
        assert!(r.groups[0].icc_ci.is_none());
        assert!(r.estimators.iter().all(|e| e.term == "(Intercept)"));
        // Pooled OLS intercept is the mean; between intercept the mean of group means.
        let ys: Vec<f64> = match data().column("y") {
            Some(Column::Numeric(v)) => v.iter().flatten().copied().collect(),
            _ => unreachable!(),
        };
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let ols = &r.estimators[0];
        assert_eq!(ols.method, Estimator::Ols);
        assert!((ols.estimate - mean).abs() < 1e-10);
        let sd =
            (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (ys.len() - 1) as f64).sqrt();
        assert!((ols.std_error - sd / (ys.len() as f64).sqrt()).abs() < 1e-10);
        let text = render_text(&r);
        assert!(text.contains("not computed"));
    }
}
