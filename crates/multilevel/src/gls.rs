//! The fitted GLS / MMRM model: fixed effects with a residual covariance per subject (nlme's
//! `gls()`, the MMRM).

use crate::{DataFrame, Error};
use multilevel_gls::{GlsFit, GlsOptions};
use std::ops::Deref;

/// A fitted generalized least squares model (`y ~ visit * arm` with a residual structure such
/// as `us(visit | subject)`: the MMRM). Dereferences to its [`GlsFit`] (coefficients with
/// Satterthwaite df, `vcov`, σ, logLik, the residual correlation and standard deviations).
#[derive(Debug, Clone)]
pub struct GeneralizedLeastSquares {
    fit: GlsFit,
}

impl GeneralizedLeastSquares {
    /// Fits the model (see [`gls`]).
    ///
    /// # Errors
    /// As [`gls`].
    pub fn fit(formula: &str, data: &DataFrame, opts: &GlsOptions) -> Result<Self, Error> {
        Ok(GeneralizedLeastSquares {
            fit: multilevel_gls::gls(formula, data, opts)?,
        })
    }

    /// The fit's results.
    pub fn summary(&self) -> &GlsFit {
        &self.fit
    }

    /// The estimated coefficients, `(name, β̂)`.
    pub fn fixef(&self) -> Vec<(String, f64)> {
        self.fit
            .coefficients
            .iter()
            .map(|c| (c.name.clone(), c.estimate))
            .collect()
    }

    /// `vcov(β̂)` (row-major rows).
    pub fn vcov(&self) -> &[Vec<f64>] {
        &self.fit.vcov
    }

    /// The residual standard deviation σ̂ (of the first level when the variances differ).
    pub fn sigma(&self) -> f64 {
        self.fit.sigma
    }

    /// The (restricted) log-likelihood.
    pub fn loglik(&self) -> f64 {
        self.fit.loglik
    }

    /// The fit's results, owned.
    pub fn into_summary(self) -> GlsFit {
        self.fit
    }
}

impl Deref for GeneralizedLeastSquares {
    type Target = GlsFit;
    fn deref(&self) -> &GlsFit {
        &self.fit
    }
}

/// Fits a GLS model with a residual covariance per subject (nlme's `gls(model, correlation =,
/// weights =)`); with `us(visit | subject)` the MMRM of clinical trials.
///
/// ```
/// use multilevel::gls_core::{GlsOptions, ResidualStructure};
///
/// let data = multilevel::dataset("Orthodont")?;
/// let opts = GlsOptions {
///     residual: Some(ResidualStructure::parse("cs(age | Subject)")?),
///     ..GlsOptions::default()
/// };
/// let fit = multilevel::gls("distance ~ age * Sex", &data, &opts)?;
/// assert!((fit.loglik() - (-216.8786)).abs() < 1e-3); // nlme::gls(correlation = corCompSymm)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Formula and data errors, and the structure's input checks (see [`multilevel_gls::gls`]).
pub fn gls(
    formula: &str,
    data: &DataFrame,
    opts: &GlsOptions,
) -> Result<GeneralizedLeastSquares, Error> {
    GeneralizedLeastSquares::fit(formula, data, opts)
}
