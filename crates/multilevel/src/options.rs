//! The typed options of the fits: what lme4 takes as arguments (`REML`, `weights`,
//! `contrasts`, `nAGQ`, `ddf`, `method`), as enums and validated builders.
//!
//! Each options type has setters that return it (`FitOptions::new().ml().weights("w")`) and a
//! `check()` that says what is wrong before any data are touched (the pattern of linfa's
//! parameter guards); the fitting functions call `check()` themselves.

use std::collections::BTreeMap;

use multilevel_frame::Contrasts;

use crate::{Error, inference};

/// Options of [`crate::lmer`] (and, through [`GlmerOptions`], of [`crate::glmer`]) beyond the
/// formula and the data.
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

impl FitOptions {
    /// lme4's defaults: REML, no weights, default contrasts, conditional variances.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fit by maximum likelihood (lme4's `REML = FALSE`).
    pub fn ml(mut self) -> Self {
        self.reml = false;
        self
    }

    /// REML (`true`, the default) or ML (`false`).
    pub fn reml(mut self, reml: bool) -> Self {
        self.reml = reml;
        self
    }

    /// Prior weights from a column of the data.
    pub fn weights(mut self, column: impl Into<String>) -> Self {
        self.weights = Some(column.into());
        self
    }

    /// The contrasts of one factor column.
    pub fn contrast(mut self, column: impl Into<String>, contrasts: Contrasts) -> Self {
        self.contrasts.insert(column.into(), contrasts);
        self
    }

    /// Compute (`true`, the default) or skip the conditional variances of the random effects.
    pub fn cond_var(mut self, cond_var: bool) -> Self {
        self.cond_var = cond_var;
        self
    }

    /// Check the options before any data are read: column names must not be empty.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the option.
    pub fn check(&self) -> Result<(), Error> {
        if self.weights.as_deref().is_some_and(|w| w.trim().is_empty()) {
            return Err(Error::InvalidOption {
                option: "weights",
                reason: "the column name is empty".into(),
            });
        }
        if self.contrasts.keys().any(|c| c.trim().is_empty()) {
            return Err(Error::InvalidOption {
                option: "contrasts",
                reason: "a column name is empty".into(),
            });
        }
        Ok(())
    }
}

/// How a GLMM's likelihood is approximated (lme4's `nAGQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quadrature {
    /// `nAGQ = 0`: only the first stage, β profiled out by PIRLS (fast, slightly less accurate).
    Fast,
    /// `nAGQ = 1`: the Laplace approximation (lme4's default).
    #[default]
    Laplace,
    /// `nAGQ = n`: adaptive Gauss–Hermite quadrature with `n` points (1 ≤ n ≤ 100; one scalar
    /// random-effects term only). `Agq(1)` is the Laplace approximation.
    Agq(usize),
}

/// Largest number of quadrature points lme4 allows.
pub const MAX_AGQ: usize = 100;

impl Quadrature {
    /// From lme4's `nAGQ`: 0 is [`Quadrature::Fast`], 1 [`Quadrature::Laplace`], more
    /// [`Quadrature::Agq`].
    pub fn from_n_agq(n: usize) -> Self {
        match n {
            0 => Quadrature::Fast,
            1 => Quadrature::Laplace,
            n => Quadrature::Agq(n),
        }
    }

    /// lme4's `nAGQ`.
    pub fn n_agq(self) -> usize {
        match self {
            Quadrature::Fast => 0,
            Quadrature::Laplace => 1,
            Quadrature::Agq(n) => n,
        }
    }

    /// Check the number of points.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for `Agq(0)` or more than [`MAX_AGQ`] points.
    pub fn check(self) -> Result<(), Error> {
        match self {
            Quadrature::Agq(0) => Err(Error::InvalidOption {
                option: "quadrature",
                reason:
                    "Agq(0) has no quadrature points; hint: Quadrature::Fast is lme4's nAGQ = 0"
                        .into(),
            }),
            Quadrature::Agq(n) if n > MAX_AGQ => Err(Error::InvalidOption {
                option: "quadrature",
                reason: format!(
                    "{n} quadrature points are too many; hint: lme4 allows at most {MAX_AGQ} (25 is plenty)"
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// Options of [`crate::glmer`]: the options every fit shares and the quadrature.
#[derive(Debug, Clone, Default)]
pub struct GlmerOptions {
    /// Weights, contrasts and conditional variances (`reml` is ignored: GLMMs are fitted by
    /// maximum likelihood). Binomial weights are the numbers of trials of a proportion response.
    pub fit: FitOptions,
    /// The approximation of the likelihood.
    pub quadrature: Quadrature,
}

impl GlmerOptions {
    /// lme4's defaults (Laplace).
    pub fn new() -> Self {
        Self::default()
    }

    /// The approximation of the likelihood.
    pub fn quadrature(mut self, quadrature: Quadrature) -> Self {
        self.quadrature = quadrature;
        self
    }

    /// Weights, contrasts and conditional variances.
    pub fn fit_options(mut self, fit: FitOptions) -> Self {
        self.fit = fit;
        self
    }

    /// Check the options (see [`FitOptions::check`] and [`Quadrature::check`]).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the option.
    pub fn check(&self) -> Result<(), Error> {
        self.fit.check()?;
        self.quadrature.check()
    }
}

/// Method for the denominator degrees of freedom of the fixed-effect t and F tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ddf {
    /// Satterthwaite's approximation, lmerTest's default: for a contrast `l`,
    /// `ν = 2 (l'Cl)² / (g'Ag)` with `C = vcov(β̂)`, `gᵢ = l' ∂C/∂varparᵢ l` and `A` the
    /// asymptotic covariance of the variance parameters (see [`inference`]).
    Satterthwaite,
    /// Kenward–Roger's approximation (pbkrtest; REML fits only): adjusted covariance of β̂ and
    /// the df of its scaled F / t tests (computed through q×q matrices via Woodbury for large
    /// data, densely for small).
    KenwardRoger,
    /// No df and no p-values (lme4's `summary`).
    None,
}

impl Ddf {
    /// The name of the method as lmerTest prints it (`Satterthwaite`), `None` for [`Ddf::None`].
    pub fn display_name(self) -> Option<&'static str> {
        match self {
            Ddf::Satterthwaite => Some("Satterthwaite"),
            Ddf::KenwardRoger => Some("Kenward-Roger"),
            Ddf::None => None,
        }
    }

    /// The inference method, `None` for [`Ddf::None`].
    pub(crate) fn method(self) -> Option<&'static dyn inference::DfMethod> {
        match self {
            Ddf::Satterthwaite => Some(&inference::Satterthwaite),
            Ddf::KenwardRoger => Some(&inference::KenwardRoger),
            Ddf::None => None,
        }
    }
}

/// How confidence intervals are computed (lme4's `confint(fit, method = ...)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IntervalMethod {
    /// β̂ ± z·se for the fixed effects.
    Wald,
    /// Profile likelihood for the standard deviations, correlations, σ and the fixed effects.
    Profile,
    /// Parametric bootstrap percentile intervals (`nsim` refits, reproducible from `seed`).
    Bootstrap {
        /// Number of simulated responses.
        nsim: usize,
        /// Seed of the random number streams (results do not depend on the thread count).
        seed: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrature_maps_n_agq_both_ways_and_checks_the_range() {
        for n in [0, 1, 2, 25, 100] {
            assert_eq!(Quadrature::from_n_agq(n).n_agq(), n);
        }
        assert_eq!(Quadrature::from_n_agq(0), Quadrature::Fast);
        assert_eq!(Quadrature::from_n_agq(1), Quadrature::Laplace);
        assert!(Quadrature::Agq(100).check().is_ok());
        assert!(Quadrature::Agq(101).check().is_err());
        assert!(Quadrature::Agq(0).check().is_err());
    }

    #[test]
    fn option_builders_set_and_check_fields() {
        let o = FitOptions::new().ml().weights("w").cond_var(false);
        assert!(!o.reml && !o.cond_var);
        assert_eq!(o.weights.as_deref(), Some("w"));
        assert!(o.check().is_ok());
        assert!(FitOptions::new().weights(" ").check().is_err());
        let g = GlmerOptions::new().quadrature(Quadrature::Agq(500));
        assert!(g.check().is_err());
        assert!(!format!("{:?}", g.check()).contains("--"));
    }
}
