//! What every fitted mixed model answers the same way, LMM or GLMM: the [`MixedModel`] trait.

use multilevel_design::Design;
use multilevel_formula::Formula;
use multilevel_frame::ModelFrame;

use crate::model::{CoefTable, coef_tables};
use crate::{FitResult, RanefTable};

/// A fitted mixed model (lme4's `merMod`): the questions whose answers read the same off an LMM
/// and a GLMM — β̂, θ̂, σ̂, `vcov(β̂)`, the conditional modes, the per-level coefficients, the
/// log-likelihood. Implemented by [`crate::LinearMixedModel`] and
/// [`crate::GeneralizedLinearMixedModel`]; each adds what is its own (df and F tests, fitted
/// means and the residual types of a family).
///
/// ```
/// use multilevel::{FitOptions, MixedModel, dataset, lmer};
///
/// let data = dataset("sleepstudy")?;
/// let m = lmer("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default())?;
/// assert_eq!(m.fixef_names(), ["(Intercept)", "Days"]);
/// assert!((m.fixef()[1] - 10.467).abs() < 1e-3); // lme4: 10.467
/// # Ok::<(), multilevel::Error>(())
/// ```
pub trait MixedModel {
    /// The fit's results (plain data: what the reports render).
    fn summary(&self) -> &FitResult;

    /// The design: `X`, the random-effects terms with their covariance, θ's layout.
    fn design(&self) -> &Design;

    /// The parsed formula.
    fn formula(&self) -> &Formula;

    /// The model frame (evaluated variables, complete cases).
    fn frame(&self) -> &ModelFrame;

    /// The conditional modes of the random effects per grouping factor (lme4's `ranef()`),
    /// with their conditional variances when the fit computed them.
    fn ranef(&self) -> &[RanefTable] {
        &self.summary().ranef
    }

    /// The coefficients per level of each grouping factor on the linear-predictor scale: fixed
    /// effects plus random effects (lme4's `coef()`).
    fn coef(&self) -> Vec<CoefTable> {
        coef_tables(self.summary(), &self.design().x_names)
    }

    /// β̂, in the order of [`MixedModel::fixef_names`] (lme4's `fixef()`).
    fn fixef(&self) -> Vec<f64> {
        self.summary().fixed.iter().map(|f| f.estimate).collect()
    }

    /// The names of the fixed-effect coefficients (columns of `X`).
    fn fixef_names(&self) -> &[String] {
        &self.design().x_names
    }

    /// `vcov(β̂)`, row-major `p × p`.
    fn vcov(&self) -> &[f64] {
        &self.summary().vcov
    }

    /// θ̂, lme4's relative covariance parameters (`getME(fit, "theta")`).
    fn theta(&self) -> &[f64] {
        &self.summary().theta
    }

    /// σ̂: the residual standard deviation of an LMM, the dispersion's square root of a GLMM
    /// (1 for the binomial and Poisson families).
    fn sigma(&self) -> f64 {
        self.summary().sigma
    }

    /// The log-likelihood (REML or ML for an LMM; the Laplace or adaptive Gauss–Hermite
    /// approximation for a GLMM).
    fn loglik(&self) -> f64 {
        self.summary().loglik
    }

    /// The response the model was fitted to (for `cbind(s, f)`, the proportions).
    fn response(&self) -> &[f64] {
        &self.design().y
    }

    /// Number of observations used.
    fn nobs(&self) -> usize {
        self.design().nobs()
    }

    /// The cross-level interactions among the fixed effects (see
    /// [`crate::workflow::cross_level_interactions`]), used by the reports to label them.
    fn cross_level_interactions(&self) -> Vec<crate::workflow::CrossLevelTerm> {
        crate::workflow::cross_level_interactions(self.formula(), self.frame())
    }
}

impl MixedModel for crate::LinearMixedModel {
    fn summary(&self) -> &FitResult {
        self.inner().fit_result()
    }
    fn design(&self) -> &Design {
        self.inner().model().design()
    }
    fn formula(&self) -> &Formula {
        self.parts().0
    }
    fn frame(&self) -> &ModelFrame {
        self.parts().1
    }
}

impl MixedModel for crate::GeneralizedLinearMixedModel {
    fn summary(&self) -> &FitResult {
        &self.glmm_fit().result
    }
    fn design(&self) -> &Design {
        self.design_ref()
    }
    fn formula(&self) -> &Formula {
        self.parts().0
    }
    fn frame(&self) -> &ModelFrame {
        self.parts().1
    }
}
