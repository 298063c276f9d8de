//! Profile-likelihood confidence intervals (lme4's `confint(fit, method = "profile")`).
//!
//! lme4 profiles the **ML deviance** whatever the criterion of the fit (its `profile()` starts
//! with `refitML`), so a REML fit gets the limits of its ML refit; this module does the same.
//! With `d̂` the ML deviance at the ML optimum, the signed square-root profile of a parameter
//! `φ` is
//!
//! ```text
//! ζ(φ) = sign(φ − φ̂) · √(min_{other parameters} d(φ, …) − d̂)
//! ```
//!
//! and the limits at level `1 − α` are the `φ` where `ζ = ∓ z_{1−α/2}`. They are found by
//! stepping away from `φ̂` until `ζ` crosses the target, then by safeguarded regula falsi (the
//! Illinois variant) on `ζ(φ) − target`. lme4 instead evaluates `ζ` on a grid and
//! interpolates with splines, so its limits carry a small interpolation error (well below
//! 1e-3 relative on the references).
//!
//! The parameters are lme4's: the Sv-scale variance parameters (standard deviations and
//! correlations of each random-effects term, see [`crate::varpar`], then σ; labels
//! `sd_(Intercept)|Subject`, `cor_Days.(Intercept)|Subject`, `sigma`) and the fixed effects.
//!
//! - **Variance parameters.** The unprofiled ML deviance
//!   `d(θ, σ) = log|L_θ|² − Σ log wᵢ + r²(θ)/σ² + n log(2πσ²)` (β at its conditional optimum)
//!   is written in the Sv parameters; one is fixed and the others are minimised by
//!   Nelder–Mead (warm-started from the previous profile point, restarted until it stalls).
//!   A standard deviation whose profile does not reach the lower target before 0 gets the
//!   lower limit 0; a correlation that does not reach it before ±1 gets ±1.
//! - **Fixed effects.** `β_j` is fixed by moving `x_j β_j` into the response (an offset) and
//!   dropping column `j` of `X`; the profiled ML deviance of that model is minimised over θ.

use multilevel_design::Design;
use multilevel_lmm::optimizer::{FnProblem, NelderMead, Optimizer};
use multilevel_lmm::{FitResult, LmmOptions, Method, ProfiledDeviance};

use crate::InferenceError;
use crate::confint::Interval;
use crate::varpar::{sv_is_sd, sv_names, sv_to_theta, theta_to_sv};

/// Minimise `f` from `x0` without bounds: the minimiser and the minimum.
fn minimize_unbounded(
    optimizer: &dyn Optimizer,
    f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
) -> (Vec<f64>, f64) {
    let lower = vec![f64::NEG_INFINITY; x0.len()];
    let upper = vec![f64::INFINITY; x0.len()];
    match optimizer.minimize(&mut FnProblem(f), x0, &lower, &upper) {
        Ok(out) => (out.x, out.value),
        // Not reached: the bounds are built to match `x0` and are never empty.
        Err(_) => (x0.to_vec(), f64::INFINITY),
    }
}

/// Root of `g` in `[a, b]` with `g(a)`, `g(b)` of opposite signs (Illinois regula falsi,
/// with bisection when it stalls).
fn find_root<G: FnMut(f64) -> f64>(
    mut g: G,
    mut a: f64,
    mut ga: f64,
    mut b: f64,
    mut gb: f64,
) -> f64 {
    let mut side = 0i32;
    for it in 0..200 {
        let mut c = if it % 8 == 7 {
            0.5 * (a + b)
        } else {
            (a * gb - b * ga) / (gb - ga)
        };
        if !c.is_finite() || c <= a.min(b) || c >= a.max(b) {
            c = 0.5 * (a + b);
        }
        let gc = g(c);
        if gc == 0.0 || (b - a).abs() <= 1e-11 * (1.0 + c.abs()) {
            return c;
        }
        if (gc > 0.0) == (gb > 0.0) {
            b = c;
            gb = gc;
            if side == -1 {
                ga *= 0.5;
            }
            side = -1;
        } else {
            a = c;
            ga = gc;
            if side == 1 {
                gb *= 0.5;
            }
            side = 1;
        }
    }
    0.5 * (a + b)
}

/// θ with its diagonal elements made non-negative (the deviance is searched over `|θ_diag|`).
fn fold_theta(design: &Design, x: &[f64]) -> Vec<f64> {
    let lower = design.theta_lower();
    x.iter()
        .zip(&lower)
        .map(|(v, l)| if *l == 0.0 { v.abs() } else { *v })
        .collect()
}

/// Unprofiled ML deviance `d(θ, σ)` of a prepared structure.
fn ml_deviance(dev: &mut ProfiledDeviance, theta: &[f64], sigma: f64) -> f64 {
    let Some(f) = dev.factor_summary(theta) else {
        return f64::INFINITY;
    };
    let n = dev.nobs() as f64;
    let s2 = sigma * sigma;
    f.ld_l2 - dev.log_det_w() + f.pwrss / s2 + n * (2.0 * std::f64::consts::PI * s2).ln()
}

/// One-dimensional profile: `zeta(v)` and the search for both limits.
pub(crate) struct Limits {
    pub(crate) lower: f64,
    pub(crate) upper: f64,
}

/// Search the crossings of `zeta` with `∓z` starting from `est` with initial step `h`;
/// `lo_bound`/`hi_bound` are the ends of the parameter range (the limit is the bound when
/// `ζ` does not reach the target before it).
pub(crate) fn limits<Z: FnMut(f64) -> f64>(
    mut zeta: Z,
    est: f64,
    h: f64,
    z: f64,
    lo_bound: f64,
    hi_bound: f64,
) -> Limits {
    let mut out = [f64::NAN; 2];
    for (slot, dir) in [(0usize, -1.0f64), (1, 1.0)] {
        let target = dir * z;
        let bound = if dir < 0.0 { lo_bound } else { hi_bound };
        let mut prev = est;
        let mut gprev = -target; // ζ(est) = 0
        let mut step = h;
        let mut found = None;
        for _ in 0..60 {
            let mut next = est + dir * step;
            let at_bound = if dir < 0.0 {
                next <= bound
            } else {
                next >= bound
            };
            if at_bound {
                next = bound;
            }
            let g = zeta(next) - target;
            if !g.is_finite() {
                // Outside the region where the model can be evaluated: treat as the bound.
                found = Some(next);
                break;
            }
            if (g > 0.0) != (gprev > 0.0) {
                found = Some(find_root(|v| zeta(v) - target, prev, gprev, next, g));
                break;
            }
            if at_bound {
                found = Some(bound);
                break;
            }
            prev = next;
            gprev = g;
            step *= 1.6;
        }
        out[slot] = found.unwrap_or(f64::NAN);
    }
    Limits {
        lower: out[0],
        upper: out[1],
    }
}

/// One of lme4's profile parameters: a standard deviation or correlation of the random
/// effects, σ, or a fixed effect.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileParameter {
    /// lme4's name (`sd_(Intercept)|Subject`, `cor_Days.(Intercept)|Subject`, `sigma`, or the
    /// column of `X`).
    pub name: String,
    /// The value at the ML optimum.
    pub estimate: f64,
    /// The range of the parameter (`[0, ∞)` for a standard deviation, `[−1, 1]` for a
    /// correlation, unbounded for a fixed effect).
    pub bounds: (f64, f64),
    /// A sensible first step away from the estimate when searching the profile.
    pub step: f64,
}

/// The reduced model of the fixed effect being profiled: column `j` of `X` dropped, its
/// structure prepared once.
struct FixedProfile {
    j: usize,
    reduced: Design,
    dev: ProfiledDeviance,
    xj: Vec<f64>,
    y: Vec<f64>,
}

/// The signed square-root profile `ζ` of every parameter of a linear mixed model at its ML
/// optimum (lme4's `profile(fit)`; see the module documentation). [`profile_confint`] finds the
/// crossings of `ζ` with `∓z`; figures sample it on a grid.
pub struct Profiler<'a> {
    design: &'a Design,
    dev: ProfiledDeviance,
    theta_hat: Vec<f64>,
    sv_hat: Vec<f64>,
    is_sd: Vec<bool>,
    base: f64,
    params: Vec<ProfileParameter>,
    /// Warm start of the inner minimisation of each parameter (the other Sv parameters, or θ).
    warm: Vec<Vec<f64>>,
    fixed: Option<FixedProfile>,
}

impl<'a> Profiler<'a> {
    /// Refit `design` by ML (as lme4's `refitML`), polish the optimum and set up the profiles.
    /// `fit` (REML or ML) supplies the standard errors that scale the first steps.
    ///
    /// # Errors
    /// [`InferenceError::Mismatch`] when the fit does not belong to the design or is not an
    /// LMM fit; the ML refit's error.
    pub fn new(design: &'a Design, fit: &FitResult) -> Result<Self, InferenceError> {
        if !matches!(fit.method, Method::Reml | Method::Ml) {
            return Err(InferenceError::Mismatch(format!(
                "profile intervals need a linear mixed model fitted by REML or ML, not {:?}",
                fit.method
            )));
        }
        crate::model::check_shape(design, fit)?;
        // ML optimum: refit by ML (lme4's refitML), then polish with Nelder–Mead on θ.
        let opts = LmmOptions {
            reml: false,
            cond_var: false,
            check_convergence: false,
            ..LmmOptions::default()
        };
        let mut ml = multilevel_lmm::LinearMixedModel::new(design.clone(), opts)?;
        let mlfit = ml.fit()?;
        let mut dev = ProfiledDeviance::new(design, false);
        let nth = design.n_theta();
        let (theta_hat, base) = minimize_unbounded(
            &NelderMead::new(vec![0.05; nth], 1e-12, 20_000),
            |x| dev.objective(&fold_theta(design, x)),
            &mlfit.theta,
        );
        let theta_hat = fold_theta(design, &theta_hat);
        // The profile's deviances read r² off the factor: so must its base (the fit reports
        // r² summed from residuals, which differs by rounding, ~1e-5 on a million rows).
        let base = base.min(dev.objective(&mlfit.theta));
        let Some(fs) = dev.factor_summary(&theta_hat) else {
            return Err(InferenceError::Numerical(
                "the ML optimum could not be factored".into(),
            ));
        };
        let sigma_hat = (fs.pwrss / design.nobs() as f64).sqrt();
        let (beta_hat, _) = dev.solve();
        let sv_hat = theta_to_sv(design, &theta_hat, sigma_hat);
        let is_sd = sv_is_sd(design);
        let nsv = sv_hat.len();
        let mut params: Vec<ProfileParameter> = sv_names(design)
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let est = sv_hat[i];
                let (step, bounds) = if i + 1 == nsv {
                    (0.1 * est, (1e-6 * est, f64::INFINITY))
                } else if is_sd[i] {
                    (0.1 * est.max(1e-3), (0.0, f64::INFINITY))
                } else {
                    (0.1, (-1.0, 1.0))
                };
                ProfileParameter {
                    name,
                    estimate: est,
                    bounds,
                    step,
                }
            })
            .collect();
        for (j, &bj) in beta_hat.iter().enumerate().take(design.p()) {
            let se = fit.fixed[j].std_error;
            params.push(ProfileParameter {
                name: design.x_names[j].clone(),
                estimate: bj,
                bounds: (f64::NEG_INFINITY, f64::INFINITY),
                step: if se.is_finite() && se > 0.0 {
                    0.5 * se
                } else {
                    0.1 * bj.abs().max(1e-3)
                },
            });
        }
        let mut profiler = Profiler {
            design,
            dev,
            theta_hat,
            sv_hat,
            is_sd,
            base,
            params,
            warm: Vec::new(),
            fixed: None,
        };
        profiler.warm = (0..profiler.params.len())
            .map(|i| profiler.start(i))
            .collect();
        Ok(profiler)
    }

    /// The parameters, in lme4's order (`sd_…`/`cor_…` per term, `sigma`, then β).
    pub fn parameters(&self) -> &[ProfileParameter] {
        &self.params
    }

    /// The warm start of parameter `i` at the optimum.
    fn start(&self, i: usize) -> Vec<f64> {
        let nsv = self.sv_hat.len();
        if i < nsv {
            (0..nsv)
                .filter(|&j| j != i)
                .map(|j| self.sv_hat[j])
                .collect()
        } else {
            self.theta_hat.clone()
        }
    }

    /// Start the inner minimisations of parameter `i` from the optimum again (e.g. before
    /// walking the profile in the other direction).
    pub fn reset(&mut self, i: usize) {
        if i < self.params.len() {
            self.warm[i] = self.start(i);
        }
    }

    /// `ζ` of parameter `i` at value `v`: the other parameters are minimised (warm-started
    /// from the previous call for this parameter). NaN for an unknown `i`.
    pub fn zeta(&mut self, i: usize, v: f64) -> f64 {
        let nsv = self.sv_hat.len();
        let Some(est) = self.params.get(i).map(|p| p.estimate) else {
            return f64::NAN;
        };
        let design = self.design;
        let d = if i < nsv {
            let steps: Vec<f64> = (0..nsv)
                .filter(|&j| j != i)
                .map(|j| {
                    if self.is_sd[j] {
                        0.05 * self.sv_hat[j].max(1e-3)
                    } else {
                        0.05
                    }
                })
                .collect();
            let Profiler {
                dev, is_sd, warm, ..
            } = self;
            let eval = |r: &[f64]| -> f64 {
                let mut sv = Vec::with_capacity(nsv);
                let mut it = r.iter();
                for (j, &sd) in is_sd.iter().enumerate() {
                    let x = if j == i {
                        v
                    } else {
                        *it.next().unwrap_or(&0.0)
                    };
                    sv.push(if sd { x.abs() } else { x });
                }
                match sv_to_theta(design, &sv) {
                    Some((theta, sigma)) => ml_deviance(dev, &theta, sigma),
                    None => f64::INFINITY,
                }
            };
            let (r, d) = minimize_unbounded(&NelderMead::new(steps, 1e-11, 20_000), eval, &warm[i]);
            if d.is_finite() {
                warm[i] = r;
            }
            d
        } else {
            let j = i - nsv;
            if self.fixed.as_ref().is_none_or(|f| f.j != j) {
                self.fixed = Some(FixedProfile::new(design, j));
            }
            let Profiler { fixed, warm, .. } = self;
            let Some(fp) = fixed.as_mut() else {
                return f64::NAN;
            };
            for (r, yr) in fp.y.iter_mut().enumerate() {
                *yr = design.y[r] - fp.xj[r] * v;
            }
            fp.dev.set_response(&fp.reduced, &fp.y);
            let nth = design.n_theta();
            let (t, d) = minimize_unbounded(
                &NelderMead::new(vec![0.05; nth], 1e-11, 20_000),
                |x| fp.dev.objective(&fold_theta(design, x)),
                &warm[i],
            );
            if d.is_finite() {
                warm[i] = t;
            }
            d
        };
        (v - est).signum() * (d - self.base).max(0.0).sqrt()
    }
}

impl FixedProfile {
    fn new(design: &Design, j: usize) -> Self {
        let p = design.p();
        let mut reduced = design.clone();
        let keep: Vec<usize> = (0..p).filter(|&a| a != j).collect();
        reduced.x = faer::Mat::from_fn(design.nobs(), p - 1, |r, c| design.x[(r, keep[c])]);
        reduced.x_names = keep.iter().map(|&a| design.x_names[a].clone()).collect();
        let xj: Vec<f64> = (0..design.nobs()).map(|r| design.x[(r, j)]).collect();
        let dev = ProfiledDeviance::new(&reduced, false);
        FixedProfile {
            j,
            reduced,
            dev,
            xj,
            y: vec![0.0; design.nobs()],
        }
    }
}

/// Profile-likelihood confidence intervals (lme4's `confint(fit, method = "profile",
/// level)`) for the Sv-scale variance parameters and the fixed effects, in lme4's order
/// (`sd_…`/`cor_…` per term, `sigma`, then β).
///
/// `design` is the design the fit came from; `fit` may be a REML or an ML fit (the profile is
/// of the ML deviance either way, as in lme4).
///
/// # Errors
/// [`InferenceError::BadLevel`] unless `0 < level < 1`; [`InferenceError::Mismatch`] when the
/// fit does not belong to the design or is not an LMM fit; the ML refit's error.
pub fn profile_confint(
    design: &Design,
    fit: &FitResult,
    level: f64,
) -> Result<Vec<Interval>, InferenceError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(InferenceError::BadLevel(level));
    }
    let z = multilevel_numeric::dist::qnorm(0.5 + level / 2.0);
    let mut profiler = Profiler::new(design, fit)?;
    let params = profiler.parameters().to_vec();
    let progress = crate::progress::bar(params.len(), "profile", "parameters");
    let intervals: Vec<Interval> = params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
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
