//! Plain-data results of a mixed-model fit. Reports, JSON and bindings all read these structs.

use serde::{Deserialize, Serialize};

/// Estimation criterion of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Restricted maximum likelihood (lme4's default for `lmer`).
    #[serde(rename = "REML")]
    Reml,
    /// Maximum likelihood.
    #[serde(rename = "ML")]
    Ml,
    /// Laplace approximation (GLMM, `nAGQ = 1`).
    Laplace,
    /// Adaptive Gauss–Hermite quadrature (GLMM, `nAGQ > 1`).
    #[serde(rename = "AGQ")]
    Agq,
}

/// A grouping factor and its number of levels (`Number of obs: 180, groups: Subject, 18`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Grouping-factor name as lme4 prints it.
    pub name: String,
    /// Number of levels.
    pub levels: usize,
}

/// One fixed-effect coefficient with its test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedEffect {
    /// Column name of `X` (`(Intercept)`, `Days`).
    pub term: String,
    /// β̂.
    pub estimate: f64,
    /// √vcov(β̂)ᵢᵢ.
    pub std_error: f64,
    /// estimate / std_error (t for LMMs, z for GLMMs).
    pub statistic: f64,
    /// Denominator degrees of freedom, when a df method was applied.
    pub df: Option<f64>,
    /// Two-sided p-value, when available.
    pub p_value: Option<f64>,
}

/// Variance and standard deviation of one random effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarComp {
    /// Grouping factor.
    pub group: String,
    /// Random-effect column (`(Intercept)`, `Days`).
    pub term: String,
    /// Variance σ²·(ΛΛ')ᵢᵢ.
    pub variance: f64,
    /// Standard deviation.
    pub std_dev: f64,
}

/// Correlation between two random effects of the same term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Grouping factor.
    pub group: String,
    /// First random effect.
    pub term1: String,
    /// Second random effect.
    pub term2: String,
    /// Correlation.
    pub corr: f64,
}

/// The covariance structure of one random-effects term that is not unstructured (lme4 2.0's
/// `diag`, `cs`, `ar1`), with its parameters on the reported scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermStructure {
    /// Grouping factor.
    pub group: String,
    /// The term's random-effect columns (`(Intercept)`, `Days`).
    pub columns: Vec<String>,
    /// Structure name: `diag`, `cs` or `ar1`.
    pub structure: String,
    /// One shared standard deviation (`hom = TRUE`) rather than one per column.
    pub hom: bool,
    /// Number of covariance parameters the structure estimates (its share of θ).
    pub n_parameters: usize,
    /// The structure's correlation ρ (`cs`: between any two columns; `ar1`: between adjacent
    /// columns), when it has one.
    pub rho: Option<f64>,
}

/// Residual variance of a Gaussian model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Residual {
    /// σ².
    pub variance: f64,
    /// σ.
    pub std_dev: f64,
}

/// Conditional modes (BLUPs) of one random-effects term, lme4's `ranef(fit, condVar = TRUE)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RanefTable {
    /// Grouping factor.
    pub group: String,
    /// Random-effect columns of the term.
    pub terms: Vec<String>,
    /// Level labels.
    pub levels: Vec<String>,
    /// `values[level][column]`: the conditional mode b̂ = Λû.
    pub values: Vec<Vec<f64>>,
    /// `cond_var[level]`: the `k × k` conditional covariance, row-major.
    pub cond_var: Vec<Vec<f64>>,
}

/// What the optimiser did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerInfo {
    /// Optimiser name (`bobyqa`, `lbfgs`).
    pub name: String,
    /// Number of objective evaluations.
    pub evaluations: usize,
    /// Optimiser's final message.
    pub message: String,
}

/// The fit of a linear or generalized linear mixed model as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitResult {
    /// The formula as given.
    pub formula: String,
    /// Data source name.
    pub data_name: String,
    /// Response family (`gaussian`, `binomial`, ...).
    pub family: String,
    /// Link function (`identity`, `logit`, ...).
    pub link: String,
    /// Estimation criterion.
    pub method: Method,
    /// Number of observations used.
    pub nobs: usize,
    /// Rows removed for missing values.
    pub n_dropped_missing: usize,
    /// Grouping factors in lme4's print order.
    pub groups: Vec<GroupInfo>,
    /// Fixed effects.
    pub fixed: Vec<FixedEffect>,
    /// vcov(β̂), `p × p`, row-major.
    pub vcov: Vec<f64>,
    /// Variance components in formula order.
    pub random: Vec<VarComp>,
    /// Correlations of random effects within terms.
    pub correlations: Vec<Correlation>,
    /// The terms with a covariance structure other than the unstructured one, in formula
    /// order (empty when every term is unstructured).
    #[serde(default)]
    pub structures: Vec<TermStructure>,
    /// Residual variance (`None` for families without a scale).
    pub residual: Option<Residual>,
    /// θ at the optimum (lme4's order: terms sorted by number of levels).
    pub theta: Vec<f64>,
    /// σ (1 for binomial and Poisson).
    pub sigma: f64,
    /// lme4's `logLik()`.
    pub loglik: f64,
    /// The criterion minimised: REML criterion, ML deviance, or −2·loglik for GLMMs.
    pub objective: f64,
    /// lme4's `deviance()` (ML deviance; for GLMMs the sum of deviance residuals + penalty).
    pub deviance: Option<f64>,
    /// AIC = −2·logLik + 2·npar.
    pub aic: f64,
    /// BIC = −2·logLik + log(n)·npar.
    pub bic: f64,
    /// Number of estimated parameters (p + length(θ) + 1 for LMMs).
    pub npar: usize,
    /// Residual degrees of freedom, n − npar.
    pub df_resid: f64,
    /// Conditional modes per term.
    pub ranef: Vec<RanefTable>,
    /// Fitted values Xβ̂ + Zb̂ (+ offset).
    pub fitted: Vec<f64>,
    /// Response residuals y − fitted.
    pub residuals: Vec<f64>,
    /// Min, 1Q, median, 3Q, max of the scaled (Pearson) residuals.
    pub scaled_residuals: [f64; 5],
    /// Correlation matrix of the fixed effects, `p × p`, row-major.
    pub fixed_correlation: Vec<f64>,
    /// Whether the optimiser converged and the convergence checks passed.
    pub converged: bool,
    /// Whether the fit is singular (a diagonal θ below 1e-4).
    pub singular: bool,
    /// Warnings in plain words (dropped rows, dropped columns, singular fit, convergence).
    pub warnings: Vec<String>,
    /// Optimiser run.
    pub optimizer: OptimizerInfo,
    /// Estimated parameters of the response distribution beyond the mean (the negative
    /// binomial's θ); empty for the other families.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub family_parameters: Vec<FamilyParameter>,
}

/// An estimated parameter of the response distribution (e.g. the negative binomial's θ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyParameter {
    /// Name (`theta`).
    pub name: String,
    /// Estimate.
    pub estimate: f64,
    /// Standard error, when available.
    pub std_error: Option<f64>,
}
