//! Profile-likelihood intervals of a GLMM (lme4's `confint(fit, method = "profile")` for a
//! `glmer` fit: `profile.merMod` with `devfun2`).
//!
//! The parameters are lme4's: the standard deviations and correlations of the random effects
//! (no σ: the binomial and Poisson families have none, and lme4 refuses to profile GLMMs whose
//! scale is estimated) and the fixed effects β. The deviance is the fit's own
//! `d(θ, β) = −2 log L` by the Laplace approximation or AGQ
//! ([`multilevel_glmm::GlmmDeviance`], lme4's `getME(fit, "devfun")`). For parameter `φ`,
//!
//! ```text
//! ζ(φ) = sign(φ − φ̂) · √(min_{all other parameters} d − d̂)
//! ```
//!
//! and the limits at level `1 − α` are the `φ` where `ζ = ∓ z_{1−α/2}`, found as for linear
//! mixed models (stepping out, then regula falsi; lme4 interpolates a spline through a grid).
//! Unlike the LMM, β is not profiled out in closed form: every inner minimisation is over the
//! other variance parameters and all of β together (BOBYQA in coordinates scaled by the
//! parameters' standard errors, warm-started from the previous point of the same profile).

use multilevel_design::Design;
use multilevel_glmm::{GlmFamily, GlmmDeviance, GlmmFit};
use multilevel_lmm::optimizer::{Bobyqa, FnProblem, NelderMead, Optimizer};

use crate::InferenceError;
use crate::confint::Interval;
use crate::profile::{ProfileParameter, limits};
use crate::varpar::{sv_is_sd, sv_names, sv_to_theta, theta_to_sv};

/// The signed square-root profile `ζ` of every parameter of a GLMM (see the module
/// documentation).
pub struct GlmmProfiler<'a> {
    design: &'a Design,
    dev: GlmmDeviance<'a>,
    /// Number of standard deviations and correlations.
    nsv: usize,
    is_sd: Vec<bool>,
    /// All parameters at the optimum: sd/cor, then β.
    x_hat: Vec<f64>,
    /// Scale of each coordinate in the inner minimisations.
    scale: Vec<f64>,
    base: f64,
    params: Vec<ProfileParameter>,
    warm: Vec<Vec<f64>>,
    /// The side of the estimate (−1, +1) of the last evaluation of each parameter: a change of
    /// side restarts the warm start from the optimum.
    side: Vec<f64>,
}

impl std::fmt::Debug for GlmmProfiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlmmProfiler")
            .field("params", &self.params)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The deviance at the parameter vector `x` (sd/cor then β); `+∞` outside the parameter space.
fn deviance_at(design: &Design, dev: &mut GlmmDeviance<'_>, nsv: usize, x: &[f64]) -> f64 {
    let mut sv: Vec<f64> = x[..nsv].to_vec();
    sv.push(1.0);
    match sv_to_theta(design, &sv) {
        Some((theta, _)) => dev.deviance(&theta, &x[nsv..]),
        None => f64::INFINITY,
    }
}

impl<'a> GlmmProfiler<'a> {
    /// Set up the profiles of the GLMM `fit` of `design` with `family` and `n_agq` quadrature
    /// points (the fit's), polishing the optimum first.
    ///
    /// # Errors
    /// [`InferenceError::Mismatch`] for a family with an estimated scale (as lme4), a fit with
    /// `nAGQ = 0`, or a fit that does not belong to the design; [`InferenceError::NotFinite`]
    /// when the deviance at the estimates is not finite.
    pub fn new(
        design: &'a Design,
        family: &'a GlmFamily,
        fit: &GlmmFit,
        n_agq: usize,
    ) -> Result<Self, InferenceError> {
        if family.family.has_scale() {
            return Err(InferenceError::Mismatch(format!(
                "profile intervals of a GLMM need a family without a scale parameter (binomial, Poisson, negative binomial with its θ fixed), not {}; hint: use Wald intervals",
                family.family.name()
            )));
        }
        let r = &fit.result;
        crate::model::check_shape(design, r)?;
        let dev = GlmmDeviance::new(design, family, n_agq, fit.eta.clone())
            .map_err(|e| InferenceError::Mismatch(e.to_string()))?;
        let mut sv = theta_to_sv(design, &r.theta, 1.0);
        sv.pop();
        let nsv = sv.len();
        let mut is_sd = sv_is_sd(design);
        is_sd.pop();
        let mut names = sv_names(design);
        names.pop();
        let beta: Vec<f64> = r.fixed.iter().map(|f| f.estimate).collect();
        let mut x_hat = sv.clone();
        x_hat.extend_from_slice(&beta);
        let mut scale: Vec<f64> = (0..nsv)
            .map(|i| {
                if is_sd[i] {
                    // sd(σ̂_b) of a GLMM is typically a third of σ̂_b or more.
                    0.3 * sv[i].max(0.05)
                } else {
                    0.2
                }
            })
            .collect();
        scale.extend(r.fixed.iter().map(|f| {
            if f.std_error.is_finite() && f.std_error > 0.0 {
                f.std_error
            } else {
                0.1 * f.estimate.abs().max(1e-2)
            }
        }));
        let mut params: Vec<ProfileParameter> = Vec::with_capacity(x_hat.len());
        for (i, name) in names.into_iter().enumerate() {
            params.push(ProfileParameter {
                name,
                estimate: sv[i],
                bounds: if is_sd[i] {
                    (0.0, f64::INFINITY)
                } else {
                    (-1.0, 1.0)
                },
                step: if is_sd[i] { 0.5 * scale[i] } else { 0.1 },
            });
        }
        for (j, f) in r.fixed.iter().enumerate() {
            params.push(ProfileParameter {
                name: f.term.clone(),
                estimate: f.estimate,
                bounds: (f64::NEG_INFINITY, f64::INFINITY),
                step: 0.5 * scale[nsv + j],
            });
        }
        let mut profiler = GlmmProfiler {
            design,
            dev,
            nsv,
            is_sd,
            x_hat,
            scale,
            base: f64::INFINITY,
            params,
            warm: Vec::new(),
            side: Vec::new(),
        };
        let at_hat = profiler.eval(&profiler.x_hat.clone());
        if !at_hat.is_finite() {
            return Err(InferenceError::NotFinite(
                "the GLMM deviance at the estimates".into(),
            ));
        }
        // Polish: the profile's base must be the minimum of the same function the profiles
        // minimise (the fit's optimiser stops within its tolerance of it).
        let all: Vec<usize> = (0..profiler.x_hat.len()).collect();
        let (_, polished) = profiler.minimize_over(&all, &profiler.x_hat.clone());
        profiler.base = at_hat.min(polished);
        profiler.warm = vec![profiler.x_hat.clone(); profiler.params.len()];
        profiler.side = vec![0.0; profiler.params.len()];
        Ok(profiler)
    }

    /// The parameters, in lme4's order (`sd_…`/`cor_…` per term, then β).
    pub fn parameters(&self) -> &[ProfileParameter] {
        &self.params
    }

    /// The deviance at the optimum (the profiles' base).
    pub fn base_deviance(&self) -> f64 {
        self.base
    }

    /// Deviance evaluations so far.
    pub fn evaluations(&self) -> usize {
        self.dev.evaluations()
    }

    fn eval(&mut self, x: &[f64]) -> f64 {
        deviance_at(self.design, &mut self.dev, self.nsv, x)
    }

    /// Minimise the deviance over the coordinates `free` from `x0` (the others held at `x0`'s
    /// values): the minimiser (full vector) and the minimum.
    fn minimize_over(&mut self, free: &[usize], x0: &[f64]) -> (Vec<f64>, f64) {
        let m = free.len();
        if m == 0 {
            let v = self.eval(x0);
            return (x0.to_vec(), v);
        }
        let s: Vec<f64> = free.iter().map(|&k| self.scale[k]).collect();
        let mut lower = vec![f64::NEG_INFINITY; m];
        let mut upper = vec![f64::INFINITY; m];
        for (a, &k) in free.iter().enumerate() {
            if k < self.nsv {
                let (lo, hi) = if self.is_sd[k] {
                    (0.0, f64::INFINITY)
                } else {
                    (-1.0, 1.0)
                };
                lower[a] = (lo - x0[k]) / s[a];
                upper[a] = (hi - x0[k]) / s[a];
            }
        }
        let design = self.design;
        let nsv = self.nsv;
        let dev = &mut self.dev;
        let mut full = x0.to_vec();
        let f = |z: &[f64]| -> f64 {
            for (a, &k) in free.iter().enumerate() {
                full[k] = x0[k] + s[a] * z[a];
            }
            deviance_at(design, dev, nsv, &full)
        };
        let start = vec![0.0; m];
        let out = if m >= 2 {
            Bobyqa::with_radii(0.1, 1e-7).minimize(&mut FnProblem(f), &start, &lower, &upper)
        } else {
            NelderMead::new(vec![0.1], 1e-12, 5_000).minimize(
                &mut FnProblem(f),
                &start,
                &lower,
                &upper,
            )
        };
        match out {
            Ok(o) => {
                let mut x = x0.to_vec();
                for (a, &k) in free.iter().enumerate() {
                    x[k] = x0[k] + s[a] * o.x[a];
                }
                (x, o.value)
            }
            Err(_) => (x0.to_vec(), f64::INFINITY),
        }
    }

    /// Start the inner minimisations of parameter `i` from the optimum again.
    pub fn reset(&mut self, i: usize) {
        if i < self.warm.len() {
            self.warm[i] = self.x_hat.clone();
        }
    }

    /// `ζ` of parameter `i` at value `v` (the others minimised, warm-started from the previous
    /// call for this parameter); NaN for an unknown `i`.
    pub fn zeta(&mut self, i: usize, v: f64) -> f64 {
        let Some(est) = self.params.get(i).map(|p| p.estimate) else {
            return f64::NAN;
        };
        let side = (v - est).signum();
        if side != self.side[i] {
            self.warm[i] = self.x_hat.clone();
            self.side[i] = side;
        }
        let mut x0 = self.warm[i].clone();
        x0[i] = v;
        let free: Vec<usize> = (0..x0.len()).filter(|&k| k != i).collect();
        let (x, d) = self.minimize_over(&free, &x0);
        if d.is_finite() {
            self.warm[i] = x;
        }
        (v - est).signum() * (d - self.base).max(0.0).sqrt()
    }
}

/// Profile-likelihood confidence intervals of a GLMM (lme4's `confint(fit, method =
/// "profile", level)`): the standard deviations and correlations of the random effects, then
/// the fixed effects, in lme4's order. `n_agq` is the fit's number of quadrature points.
///
/// # Errors
/// [`InferenceError::BadLevel`] unless `0 < level < 1`; those of [`GlmmProfiler::new`].
pub fn glmm_profile_confint(
    design: &Design,
    family: &GlmFamily,
    fit: &GlmmFit,
    n_agq: usize,
    level: f64,
) -> Result<Vec<Interval>, InferenceError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(InferenceError::BadLevel(level));
    }
    let z = multilevel_numeric::dist::qnorm(0.5 + level / 2.0);
    let mut profiler = GlmmProfiler::new(design, family, fit, n_agq)?;
    let params = profiler.parameters().to_vec();
    let progress = crate::progress::bar(params.len(), "profile", "parameters");
    let intervals: Vec<Interval> = params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            profiler.reset(i);
            let lim = limits(
                |v| profiler.zeta(i, v),
                p.estimate,
                p.step,
                z,
                p.bounds.0,
                p.bounds.1,
            );
            if let Some(bar) = &progress {
                bar.inc(1);
            }
            Interval {
                term: p.name,
                lower: lim.lower,
                upper: lim.upper,
            }
        })
        .collect();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(intervals)
}
