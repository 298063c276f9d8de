//! The one place a [`FitResult`] is assembled, for linear and generalized linear mixed models
//! and for evaluations at a given θ.
//!
//! A fit at θ̂ ends with β̂, `vcov(β̂)`, Λ(θ̂), the conditional modes b̂ = Λû, σ and the
//! criterion; everything lme4 reports is derived from those the same way whatever the model:
//!
//! - coefficient table: `se = √vcov(β̂)ᵢᵢ`, statistic `β̂ᵢ / se`, the correlation matrix
//!   `vcov(β̂)ᵢⱼ / √(vcov(β̂)ᵢᵢ vcov(β̂)ⱼⱼ)`;
//! - information criteria: `logLik = −objective/2`, `AIC = objective + 2 npar`,
//!   `BIC = objective + log(n) npar`, residual df `n − npar`;
//! - variance components `σ² ΛⱼΛⱼ'`, the conditional modes per grouping factor and the
//!   grouping factors (see [`crate::summaries`]).
//!
//! Each step of [`FitResultBuilder`] fills its part; a step not taken leaves its fields empty
//! (an evaluation at a given θ has no random-effect tables, for instance).

use multilevel_design::Design;

use crate::results::*;
use crate::summaries;

/// Builds a [`FitResult`] step by step (see the module documentation).
#[derive(Debug, Clone)]
pub struct FitResultBuilder<'a> {
    design: &'a Design,
    result: FitResult,
}

impl FitResult {
    /// Start a result for a fit of `design` by `method`: formula, data name, number of
    /// observations and dropped rows come from the design; the family is Gaussian with the
    /// identity link until [`FitResultBuilder::family`] says otherwise.
    pub fn builder(design: &Design, method: Method) -> FitResultBuilder<'_> {
        FitResultBuilder {
            design,
            result: FitResult {
                formula: design.formula.clone(),
                data_name: design.data_name.clone(),
                family: "gaussian".into(),
                link: "identity".into(),
                method,
                nobs: design.nobs(),
                n_dropped_missing: design.n_dropped_missing,
                groups: Vec::new(),
                fixed: Vec::new(),
                vcov: Vec::new(),
                random: Vec::new(),
                correlations: Vec::new(),
                structures: Vec::new(),
                residual: None,
                theta: Vec::new(),
                sigma: f64::NAN,
                loglik: f64::NAN,
                objective: f64::NAN,
                deviance: None,
                aic: f64::NAN,
                bic: f64::NAN,
                npar: 0,
                df_resid: f64::NAN,
                ranef: Vec::new(),
                fitted: Vec::new(),
                residuals: Vec::new(),
                scaled_residuals: [f64::NAN; 5],
                fixed_correlation: Vec::new(),
                converged: true,
                singular: false,
                warnings: Vec::new(),
                optimizer: OptimizerInfo {
                    name: "none".into(),
                    evaluations: 0,
                    message: String::new(),
                },
                family_parameters: Vec::new(),
            },
        }
    }
}

impl FitResultBuilder<'_> {
    /// The family and link names as R prints them (`binomial`, `logit`).
    pub fn family(mut self, family: &str, link: &str) -> Self {
        self.result.family = family.to_string();
        self.result.link = link.to_string();
        self
    }

    /// The fixed effects β̂ with `vcov(β̂)` (row-major `p × p`): the coefficient table, with
    /// `p_value(statistic)` as each coefficient's p-value (`None` for lme4's t table, a normal
    /// two-sided p-value for glmer's z table), and the correlation matrix of β̂. Names come
    /// from the design's columns of `X`.
    pub fn coefficients(
        mut self,
        beta: &[f64],
        vcov: Vec<f64>,
        p_value: impl Fn(f64) -> Option<f64>,
    ) -> Self {
        let p = beta.len();
        let names = &self.design.x_names;
        self.result.fixed = beta
            .iter()
            .enumerate()
            .map(|(a, &est)| {
                let se = vcov[a * p + a].sqrt();
                let statistic = est / se;
                FixedEffect {
                    term: names.get(a).cloned().unwrap_or_default(),
                    estimate: est,
                    std_error: se,
                    statistic,
                    df: None,
                    p_value: p_value(statistic),
                }
            })
            .collect();
        let mut corr = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..p {
                corr[a * p + b] = vcov[a * p + b] / (vcov[a * p + a] * vcov[b * p + b]).sqrt();
            }
        }
        self.result.fixed_correlation = corr;
        self.result.vcov = vcov;
        self
    }

    /// θ̂ in the design's layout.
    pub fn theta(mut self, theta: Vec<f64>) -> Self {
        self.result.theta = theta;
        self
    }

    /// The scale σ and its square σ² as the fit computed them (whichever came first, the other
    /// is derived from it, so both are taken to keep their last bits); `residual` says whether
    /// the family estimates the scale (then the result reports the residual variance and
    /// standard deviation).
    pub fn scale(mut self, sigma: f64, sigma2: f64, residual: bool) -> Self {
        self.result.sigma = sigma;
        self.result.residual = residual.then_some(Residual {
            variance: sigma2,
            std_dev: sigma,
        });
        self
    }

    /// The minimised criterion (REML criterion, ML deviance or −2 log-likelihood), lme4's
    /// `deviance()` and the number of parameters: log-likelihood `−objective/2`, AIC, BIC and
    /// the residual df `max(n − npar, 0)`.
    pub fn criterion(mut self, objective: f64, deviance: Option<f64>, npar: usize) -> Self {
        let n = self.result.nobs;
        self.result.objective = objective;
        self.result.loglik = -objective / 2.0;
        self.result.deviance = deviance;
        self.result.aic = objective + 2.0 * npar as f64;
        self.result.bic = objective + (n as f64).ln() * npar as f64;
        self.result.npar = npar;
        self.result.df_resid = n.saturating_sub(npar) as f64;
        self
    }

    /// Override the residual df (glmer reports `n − npar` even when negative).
    pub fn df_resid(mut self, df_resid: f64) -> Self {
        self.result.df_resid = df_resid;
        self
    }

    /// The random effects at θ̂: Λⱼ per term (row-major `k × k`), the conditional modes
    /// b̂ⱼ = Λⱼûⱼ per term (level-major), optionally the diagonal blocks of
    /// `(Λ'Z'WZΛ + I)⁻¹` for the conditional variances, and σ²: variance components,
    /// correlations, conditional-mode tables and the grouping factors.
    pub fn random_effects(
        mut self,
        lambda: &[Vec<f64>],
        b_terms: &[Vec<f64>],
        blocks: Option<&[Vec<f64>]>,
        sigma2: f64,
    ) -> Self {
        let d = self.design;
        let (random, correlations) = summaries::variance_components(d, lambda, sigma2);
        self.result.random = random;
        self.result.correlations = correlations;
        self.result.ranef = summaries::ranef_tables(d, lambda, b_terms, blocks, sigma2);
        self.result.groups = summaries::groups(d);
        self
    }

    /// Fitted values and response residuals, and the five-number summary of the scaled
    /// (Pearson) residuals.
    pub fn response(mut self, fitted: Vec<f64>, residuals: Vec<f64>, scaled: &[f64]) -> Self {
        self.result.fitted = fitted;
        self.result.residuals = residuals;
        self.result.scaled_residuals = summaries::five_numbers(scaled);
        self
    }

    /// Whether the fit converged, whether it is singular, its warnings in the order they are
    /// reported, and what the optimiser did.
    pub fn status(
        mut self,
        converged: bool,
        singular: bool,
        warnings: Vec<String>,
        optimizer: OptimizerInfo,
    ) -> Self {
        self.result.converged = converged;
        self.result.singular = singular;
        self.result.warnings = warnings;
        self.result.optimizer = optimizer;
        self
    }

    /// The result.
    pub fn build(mut self) -> FitResult {
        self.result.structures = summaries::term_structures(self.design, &self.result.theta);
        self.result
    }
}
