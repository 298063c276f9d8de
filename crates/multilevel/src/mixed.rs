//! What every fitted mixed model answers the same way, LMM or GLMM: the [`MixedModel`] trait.

use multilevel_design::Design;
use multilevel_formula::Formula;
use multilevel_frame::ModelFrame;

use crate::model::{CoefTable, coef_tables};
use crate::{FitResult, RanefTable};

/// One conditional mode with its conditional standard deviation (a row of broom.mixed's
/// `tidy(fit, effects = "ran_vals")`).
#[derive(Debug, Clone, PartialEq)]
pub struct RanefRow {
    /// Grouping factor.
    pub group: String,
    /// Level of the grouping factor.
    pub level: String,
    /// Random-effect column (`(Intercept)`, `Days`).
    pub term: String,
    /// The conditional mode.
    pub estimate: f64,
    /// The conditional standard deviation, when computed.
    pub std_error: Option<f64>,
}

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

    /// The conditional modes as one row per (grouping factor, term, level), with the
    /// conditional standard deviation (the square root of the diagonal of lme4's `postVar`,
    /// `ranef(fit, condVar = TRUE)`): broom.mixed's `tidy(fit, effects = "ran_vals")`, ordered
    /// by grouping factor, then term, then level. `std_error` is `None` when the fit did not
    /// compute conditional variances ([`crate::FitOptions::cond_var`]).
    ///
    /// ```
    /// use multilevel::{FitOptions, MixedModel, dataset, lmer};
    ///
    /// let data = dataset("sleepstudy")?;
    /// let m = lmer("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default())?;
    /// let rows = m.ranef_tidy();
    /// assert_eq!(rows.len(), 36);
    /// assert_eq!((rows[0].level.as_str(), rows[0].term.as_str()), ("308", "(Intercept)"));
    /// assert!(rows[0].std_error.is_some());
    /// # Ok::<(), multilevel::Error>(())
    /// ```
    fn ranef_tidy(&self) -> Vec<RanefRow> {
        let mut out = Vec::new();
        for t in &self.summary().ranef {
            let k = t.terms.len();
            for (j, term) in t.terms.iter().enumerate() {
                for (i, level) in t.levels.iter().enumerate() {
                    out.push(RanefRow {
                        group: t.group.clone(),
                        level: level.clone(),
                        term: term.clone(),
                        estimate: t
                            .values
                            .get(i)
                            .and_then(|v| v.get(j))
                            .copied()
                            .unwrap_or(f64::NAN),
                        std_error: t
                            .cond_var
                            .get(i)
                            .and_then(|v| v.get(j * k + j))
                            .map(|v| v.max(0.0).sqrt()),
                    });
                }
            }
        }
        out
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
