//! The GLMM's deviance as a function of all its parameters, for profiles.
//!
//! lme4's `getME(fit, "devfun")` of a Laplace or AGQ fit: for given variance parameters θ and
//! fixed effects β, PIRLS finds the conditional modes u (β fixed), and the value is the stage-2
//! objective, `−2 log L(θ, β)` by the Laplace approximation (or adaptive Gauss–Hermite
//! quadrature with the fit's number of points). The profile of a parameter minimises it over
//! the others (`multilevel-inference`'s GLMM profile).

use multilevel_design::Design;

use crate::family::GlmFamily;
use crate::fit::GlmmError;
use crate::pirls::Pirls;
use crate::quadrature::{GhRule, gh_rule};

/// `−2 log L(θ, β)` of a GLMM by the Laplace approximation or AGQ (lme4's stage-2 deviance
/// function), evaluated by PIRLS over u from a fixed starting linear predictor.
pub struct GlmmDeviance<'a> {
    pirls: Pirls<'a>,
    eta0: Vec<f64>,
    rule: Option<GhRule>,
}

impl std::fmt::Debug for GlmmDeviance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlmmDeviance")
            .field("n_agq", &self.rule.as_ref().map_or(1, |r| r.z.len()))
            .finish_non_exhaustive()
    }
}

impl<'a> GlmmDeviance<'a> {
    /// The deviance function of `design` with `family` and `n_agq` quadrature points (1 =
    /// Laplace), PIRLS started from the linear predictor `eta0` (the fit's η̂) at every
    /// evaluation.
    ///
    /// # Errors
    /// [`GlmmError::Quadrature`] for `n_agq = 0` (that fit has no deviance in β) or AGQ on a
    /// model with more than one scalar term; [`GlmmError::BadInput`] when `eta0` does not have
    /// one value per row or the response is a `cbind` with a family other than binomial.
    pub fn new(
        design: &'a Design,
        family: &'a GlmFamily,
        n_agq: usize,
        eta0: Vec<f64>,
    ) -> Result<Self, GlmmError> {
        if n_agq == 0 {
            return Err(GlmmError::Quadrature(
                "a fit with nAGQ = 0 has no deviance function of the fixed effects; hint: refit with the Laplace approximation (nAGQ = 1)".into(),
            ));
        }
        if n_agq > 1 && (design.terms.len() != 1 || design.terms[0].k != 1) {
            return Err(GlmmError::Quadrature(
                "nAGQ > 1 needs a single, scalar random-effects term; hint: use nAGQ = 1".into(),
            ));
        }
        let n = design.nobs();
        if eta0.len() != n {
            return Err(GlmmError::BadInput(format!(
                "the starting linear predictor has {} values for {n} rows",
                eta0.len()
            )));
        }
        let is_binomial = family.family.name() == "binomial";
        let prior: Vec<f64> = design.weights.clone().unwrap_or_else(|| vec![1.0; n]);
        let (pw, ntr) = match (&design.trials, is_binomial) {
            (Some(t), true) => (prior.iter().zip(t).map(|(w, t)| w * t).collect(), t.clone()),
            (Some(_), false) => {
                return Err(GlmmError::BadInput(
                    "a cbind(successes, failures) response needs the binomial family".into(),
                ));
            }
            (None, _) => (prior, vec![1.0; n]),
        };
        let pirls = Pirls::new(design, family, design.y.clone(), pw, ntr);
        Ok(GlmmDeviance {
            pirls,
            eta0,
            rule: (n_agq > 1).then(|| gh_rule(n_agq)),
        })
    }

    /// `−2 log L(θ, β)`; `+∞` where PIRLS fails or the value is not finite.
    pub fn deviance(&mut self, theta: &[f64], beta: &[f64]) -> f64 {
        self.pirls.evaluations += 1;
        match self
            .pirls
            .objective(theta, Some(beta), &self.eta0, self.rule.as_ref())
        {
            Ok(v) if v.is_finite() => v,
            _ => f64::INFINITY,
        }
    }

    /// Evaluations made so far.
    pub fn evaluations(&self) -> usize {
        self.pirls.evaluations
    }
}
