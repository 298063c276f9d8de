//! Random-effects meta-analysis and meta-regression, with the numbers of metafor's `rma()`.
//!
//! # Model
//!
//! Study `i = 1..k` reports an effect size `yᵢ` with known sampling variance `vᵢ`. The
//! (mixed-effects) meta-regression model is
//!
//! ```text
//! yᵢ = xᵢ'β + uᵢ + εᵢ,   uᵢ ~ N(0, τ²),   εᵢ ~ N(0, vᵢ)
//! ```
//!
//! with `xᵢ = 1` for the random-effects model without moderators. Given an estimate `τ̂²`, the
//! coefficients are the weighted least-squares estimates `β̂ = (X'WX)⁻¹X'Wy` with
//! `W = diag(1/(vᵢ + τ̂²))` and `Var(β̂) = (X'WX)⁻¹` (times `s²_w` for Knapp–Hartung, see
//! [`Test`]). The fixed-effect model (`FE`) sets `τ² = 0`.
//!
//! # τ² estimators ([`Method`])
//!
//! All use metafor's definitions, with `P = W − WX(X'WX)⁻¹X'W` for the weights named, `p`
//! columns of `X`, and the centred effect sizes `y − ȳ` (as metafor):
//!
//! | method | estimate |
//! |---|---|
//! | `DL` DerSimonian–Laird | `(y'Py − (k − p)) / tr P` with `W = diag(1/vᵢ)` |
//! | `HE` Hedges | `(y'Py − tr(PV)) / (k − p)` with `W = I` (ordinary least squares) |
//! | `SJ` Sidik–Jonkman | `τ₀² y'Py / (k − p)`, `W = diag(1/(vᵢ + τ₀²))`, `τ₀² = Σ(yᵢ − ȳ)²/k` |
//! | `PM` Paule–Mandel | root of `y'P(τ²)y = k − p` (the generalised Q statistic) |
//! | `EB` empirical Bayes | the same root (Morris's iteration converges to it) |
//! | `ML` | maximum likelihood: Fisher scoring `τ² += (y'PPy − Σwᵢ)/Σwᵢ²` |
//! | `REML` | restricted ML: Fisher scoring `τ² += (y'PPy − tr P)/tr(PP)` |
//! | `FE` | `τ² = 0` |
//!
//! Every estimate is truncated at 0. The iterative estimators are iterated to convergence
//! (`|Δτ²| ≤ 10⁻¹² max(1, τ²)`, Paule–Mandel by safeguarded Newton on the Q statistic), which
//! is the root metafor approaches; metafor's default stopping rules (Fisher scoring
//! `threshold = 1e-5`, `uniroot(tol = 1.2e-4)`) can leave τ² some 1e-5 relative away from it.
//! As metafor, ML and REML fall back to `τ² = 0` when the log-likelihood there is higher than
//! at the scoring algorithm's solution.
//!
//! # Entry points
//!
//! - [`rma`]: effect sizes, variances and (optionally) moderator columns; an intercept is
//!   added.
//! - [`rma_matrix`]: a full model matrix, with or without an intercept column.
//! - [`rma_data`]: columns of a [`multilevel_frame::DataFrame`] and a moderator formula
//!   (`~ ablat + factor`), with rows that have missing values dropped and counted.
//! - [`report::render`]: metafor-style text, markdown or JSON.
//!
//! ```
//! use multilevel_meta::{Method, RmaOptions, rma};
//!
//! // dat.bcg: log risk ratios and variances (metafor's escalc("RR")), first 6 studies.
//! let yi = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861];
//! let vi = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069];
//! let fit = rma(&yi, &vi, None, &RmaOptions { method: Method::Dl, ..RmaOptions::default() })?;
//! assert_eq!(fit.k, 6);
//! assert!(fit.tau2 >= 0.0 && fit.ci_lower < fit.estimate && fit.estimate < fit.ci_upper);
//! # Ok::<(), multilevel_meta::MetaError>(())
//! ```

mod data;
mod error;
mod estimate;
mod fit;
mod linalg;
pub mod report;

pub use data::{DataSpec, DroppedRow, MetaData, prepare, rma_data};
pub use error::MetaError;
pub use fit::{rma, rma_matrix};

use serde::{Deserialize, Serialize};

/// The τ² estimator (metafor's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Restricted maximum likelihood (metafor's default).
    #[serde(rename = "REML")]
    Reml,
    /// Maximum likelihood.
    #[serde(rename = "ML")]
    Ml,
    /// DerSimonian–Laird (method of moments with inverse-variance weights).
    #[serde(rename = "DL")]
    Dl,
    /// Paule–Mandel (generalised Q statistic equal to its expectation `k − p`).
    #[serde(rename = "PM")]
    Pm,
    /// Empirical Bayes (Morris); numerically the Paule–Mandel root.
    #[serde(rename = "EB")]
    Eb,
    /// Hedges (method of moments with unweighted least squares), also "HO" / Cochran's ANOVA.
    #[serde(rename = "HE")]
    He,
    /// Sidik–Jonkman.
    #[serde(rename = "SJ")]
    Sj,
    /// Fixed-effect (common-effect) model: `τ² = 0`.
    #[serde(rename = "FE")]
    Fe,
}

impl Method {
    /// Every method, in the order metafor's documentation lists them here.
    pub const ALL: [Method; 8] = [
        Method::Reml,
        Method::Ml,
        Method::Dl,
        Method::Pm,
        Method::Eb,
        Method::He,
        Method::Sj,
        Method::Fe,
    ];

    /// The name metafor uses (`REML`, `DL`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Method::Reml => "REML",
            Method::Ml => "ML",
            Method::Dl => "DL",
            Method::Pm => "PM",
            Method::Eb => "EB",
            Method::He => "HE",
            Method::Sj => "SJ",
            Method::Fe => "FE",
        }
    }

    /// Parse a method name, case-insensitively (`EE` and `CE` are accepted for `FE`, `HO`
    /// for `HE`, as in metafor).
    pub fn parse(s: &str) -> Option<Method> {
        match s.trim().to_ascii_uppercase().as_str() {
            "REML" => Some(Method::Reml),
            "ML" => Some(Method::Ml),
            "DL" => Some(Method::Dl),
            "PM" => Some(Method::Pm),
            "EB" => Some(Method::Eb),
            "HE" | "HO" => Some(Method::He),
            "SJ" => Some(Method::Sj),
            "FE" | "EE" | "CE" => Some(Method::Fe),
            _ => None,
        }
    }
}

/// How coefficients are tested (metafor's `test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Test {
    /// Wald z tests and normal-quantile intervals; QM is χ² on `m` df.
    Z,
    /// t tests on `k − p` df without adjusting the standard errors; QM/m is F(m, k − p).
    T,
    /// Knapp–Hartung: as `T`, with `Var(β̂)` multiplied by
    /// `s²_w = Σ wᵢ(yᵢ − xᵢ'β̂)² / (k − p)` (random-effects weights).
    Knha,
    /// Knapp–Hartung with `s²_w` truncated below at 1 (metafor's `"adhoc"`).
    Adhoc,
}

impl Test {
    /// The name metafor uses.
    pub fn name(self) -> &'static str {
        match self {
            Test::Z => "z",
            Test::T => "t",
            Test::Knha => "knha",
            Test::Adhoc => "adhoc",
        }
    }

    /// Parse a test name (`z`, `t`, `knha` / `hksj`, `adhoc`), case-insensitively.
    pub fn parse(s: &str) -> Option<Test> {
        match s.trim().to_ascii_lowercase().as_str() {
            "z" => Some(Test::Z),
            "t" => Some(Test::T),
            "knha" | "hksj" | "kh" => Some(Test::Knha),
            "adhoc" => Some(Test::Adhoc),
            _ => None,
        }
    }

    /// Whether statistics are referred to t / F distributions on `k − p` df.
    pub fn uses_t(self) -> bool {
        !matches!(self, Test::Z)
    }
}

/// Options of [`rma`].
#[derive(Debug, Clone, PartialEq)]
pub struct RmaOptions {
    /// τ² estimator.
    pub method: Method,
    /// Test of the coefficients.
    pub test: Test,
    /// Confidence level in percent (metafor's `level = 95`).
    pub level: f64,
    /// Maximum iterations of the iterative estimators.
    pub max_iter: usize,
}

impl Default for RmaOptions {
    fn default() -> Self {
        RmaOptions {
            method: Method::Reml,
            test: Test::Z,
            level: 95.0,
            max_iter: 10_000,
        }
    }
}

/// One model coefficient (metafor's model-results table row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    /// Coefficient name (`intrcpt` for the intercept, as metafor; otherwise R's
    /// `model.matrix` column name).
    pub name: String,
    /// Estimate `β̂ⱼ`.
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// Test statistic `β̂ⱼ / se` (z, or t with `df`).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower confidence limit.
    pub ci_lower: f64,
    /// Upper confidence limit.
    pub ci_upper: f64,
}

/// Omnibus test of the moderators (metafor's QM): `β̂_b' Var(β̂_b)⁻¹ β̂_b` over the
/// coefficients `b` (all but the intercept, or all when there is no intercept or only one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeratorTest {
    /// 0-based indices of the tested coefficients.
    pub coefficients: Vec<usize>,
    /// QM (χ² on `df1`), or QM/m (F on `df1`, `df2`) for t-based tests.
    pub statistic: f64,
    /// Numerator df `m`.
    pub df1: usize,
    /// Denominator df `k − p` for t-based tests.
    pub df2: Option<usize>,
    /// p-value.
    pub p_value: f64,
}

/// One study's data and weights (metafor's `weights()` in percent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyWeight {
    /// Study label (metafor's `slab`).
    pub slab: String,
    /// Effect size.
    pub yi: f64,
    /// Sampling variance.
    pub vi: f64,
    /// Fixed-effect weight `100 (1/vᵢ) / Σ(1/vⱼ)`.
    pub weight_fixed: f64,
    /// Model weight `100 wᵢ / Σwⱼ`, `wᵢ = 1/(vᵢ + τ̂²)`.
    pub weight_random: f64,
}

/// Log-likelihood and information criteria (metafor's `fit.stats`), each under the ML and the
/// REML likelihood evaluated at the fitted τ².
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitStats {
    /// ML log-likelihood `−½(k log 2π + Σ log(vᵢ+τ²) + Σ wᵢeᵢ²)`.
    pub loglik_ml: f64,
    /// ML deviance (relative to the saturated model).
    pub deviance_ml: f64,
    /// `−2 ll + 2 q` with `q = p (+1 for τ²)`.
    pub aic_ml: f64,
    /// `−2 ll + q log k`.
    pub bic_ml: f64,
    /// Small-sample corrected AIC.
    pub aicc_ml: f64,
    /// REML log-likelihood `−½((k−p) log 2π − log|X'X| + Σ log(vᵢ+τ²) + log|X'WX| + Σ wᵢeᵢ²)`.
    pub loglik_reml: f64,
    /// `−2` × REML log-likelihood.
    pub deviance_reml: f64,
    /// REML AIC.
    pub aic_reml: f64,
    /// REML BIC (`log(k − p)`).
    pub bic_reml: f64,
    /// REML AICc.
    pub aicc_reml: f64,
}

/// A predicted (average) effect at moderator values `x₀` (metafor's `predict()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// `x₀'β̂`.
    pub pred: f64,
    /// `√(x₀' Var(β̂) x₀)`.
    pub se: f64,
    /// Confidence interval of the average effect.
    pub ci_lower: f64,
    /// Upper confidence limit.
    pub ci_upper: f64,
    /// Prediction interval for the true effect of a new study: `pred ± crit √(se² + τ²)`.
    pub pi_lower: f64,
    /// Upper prediction limit.
    pub pi_upper: f64,
}

/// The result of a meta-analysis (plain data; serialises to the JSON report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaResult {
    /// τ² estimator.
    pub method: Method,
    /// Test of the coefficients.
    pub test: Test,
    /// Confidence level in percent.
    pub level: f64,
    /// Number of studies used.
    pub k: usize,
    /// Number of coefficients.
    pub p: usize,
    /// Moderator formula, if any (as given).
    pub mods: Option<String>,
    /// Pooled estimate (the first coefficient: the intercept of a meta-regression).
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Its test statistic (z, or t on `df` for t-based tests).
    pub z: f64,
    /// Its two-sided p-value.
    pub p_value: f64,
    /// Its lower confidence limit.
    pub ci_lower: f64,
    /// Its upper confidence limit.
    pub ci_upper: f64,
    /// Every coefficient.
    pub coefficients: Vec<Coefficient>,
    /// `Var(β̂)`, `p × p`, row-major.
    pub vcov: Vec<f64>,
    /// Degrees of freedom of t tests and intervals (`k − p`), `None` for z tests.
    pub df: Option<usize>,
    /// Knapp–Hartung factor `s²_w` applied to `Var(β̂)` (1 unless `knha`/`adhoc`).
    pub s2w: f64,
    /// Estimated (residual) heterogeneity variance τ².
    pub tau2: f64,
    /// `√τ²`.
    pub tau: f64,
    /// Standard error of τ² (metafor's formula for the method), `None` for `FE`.
    pub se_tau2: Option<f64>,
    /// I² in percent: `100 τ²/(τ² + ṽ)`, `ṽ = (k − p)/tr P` (FE: `100 (Q − (k−p))/Q`, ≥ 0).
    pub i2: f64,
    /// H² = `τ²/ṽ + 1` (FE: `Q/(k − p)`).
    pub h2: f64,
    /// Pseudo-R² in percent (meta-regression with an intercept): the proportional reduction of
    /// τ² from the model without moderators, truncated at 0 (FE: weighted least-squares
    /// adjusted R²).
    pub r2: Option<f64>,
    /// Cochran's Q (QE with moderators): `Σ (1/vᵢ)(yᵢ − xᵢ'β̂_FE)²`.
    pub q: f64,
    /// Its df `k − p`.
    pub q_df: usize,
    /// Its p-value (χ²).
    pub q_p: f64,
    /// Omnibus test of moderators (meta-regression only).
    pub moderators: Option<ModeratorTest>,
    /// Prediction interval of a new study's true effect (random-effects model without
    /// moderators; `None` otherwise, as metafor prints none for fixed-effect models).
    pub pi_lower: Option<f64>,
    /// Upper prediction limit.
    pub pi_upper: Option<f64>,
    /// Log-likelihoods and information criteria.
    pub fit_stats: FitStats,
    /// Per-study data and weights, in data order.
    pub studies: Vec<StudyWeight>,
    /// Iterations of the τ² algorithm (0 for closed forms).
    pub iterations: usize,
    /// Model-matrix columns dropped because they were redundant (aliased).
    pub dropped_columns: Vec<String>,
    /// Rows of the data left out for missing values (data layer; empty for [`rma`]).
    pub dropped_rows: Vec<DroppedRow>,
    /// Number of rows in the data before dropping (equals `k` for [`rma`]).
    pub k_all: usize,
}

impl MetaResult {
    /// The predicted average effect, its confidence interval and the prediction interval at
    /// moderator values `x0` (one value per coefficient, including the intercept's 1), as
    /// metafor's `predict(fit, newmods = ...)`.
    ///
    /// # Errors
    /// [`MetaError::PredictLength`] when `x0` does not have `p` values.
    pub fn predict(&self, x0: &[f64]) -> Result<Prediction, MetaError> {
        let p = self.p;
        if x0.len() != p {
            return Err(MetaError::PredictLength {
                expected: p,
                found: x0.len(),
            });
        }
        let pred: f64 = x0
            .iter()
            .zip(&self.coefficients)
            .map(|(x, c)| x * c.estimate)
            .sum();
        let mut var = 0.0;
        for i in 0..p {
            for j in 0..p {
                var += x0[i] * self.vcov.get(i * p + j).copied().unwrap_or(f64::NAN) * x0[j];
            }
        }
        let se = var.max(0.0).sqrt();
        let crit = self.crit();
        Ok(Prediction {
            pred,
            se,
            ci_lower: pred - crit * se,
            ci_upper: pred + crit * se,
            pi_lower: pred - crit * (var + self.tau2).sqrt(),
            pi_upper: pred + crit * (var + self.tau2).sqrt(),
        })
    }

    /// The critical value of intervals: normal, or t on `k − p` df.
    pub fn crit(&self) -> f64 {
        let alpha = 1.0 - self.level / 100.0;
        match self.df {
            Some(df) => multilevel_numeric::dist::crit_t(alpha, df as f64),
            None => multilevel_numeric::dist::crit_norm(alpha),
        }
    }

    /// Whether the model has moderators (more than the intercept).
    pub fn is_meta_regression(&self) -> bool {
        self.moderators.is_some()
    }
}
