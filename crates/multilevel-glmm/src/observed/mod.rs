//! A general Laplace approximation with the observed Hessian (glmmTMB's and ordinal::clmm's,
//! rather than lme4's expected information).
//!
//! # Model
//!
//! `ηᵢ = offᵢ + xᵢ'β + (ZΛ(θ)u)ᵢ`, `u ~ N(0, I_q)`, and the observations are conditionally
//! independent given u with log-likelihood contributions `ℓᵢ(ηᵢ; φ)` — any model whose
//! conditional likelihood depends on the random effects through one linear predictor per
//! observation, with extra parameters φ (thresholds of a cumulative link, a zero-inflation
//! probability's coefficients, a dispersion). [`ConditionalLikelihood`] supplies `ℓᵢ`, `ℓᵢ'` and
//! `ℓᵢ''` (derivatives in `ηᵢ`) for all observations at once, and φ's start, bounds and report.
//!
//! # Inner problem: the conditional modes
//!
//! With `A = ZΛ(θ)` and `h(u) = −2 Σᵢ ℓᵢ(ηᵢ(u)) + ‖u‖²`, the gradient and Hessian in u are
//! `∇h = 2(u − A'g)` and `∇²h = 2(A'WA + I)` with `gᵢ = ℓᵢ'` and `wᵢ = −ℓᵢ''` (the observed
//! information). A Newton step from u is therefore
//!
//! ```text
//! u⁺ = (A'WA + I)⁻¹ A'W (Au + g/w),
//! ```
//!
//! a penalized weighted least-squares problem with working response `zᵢ = (Au)ᵢ + gᵢ/wᵢ`: the
//! same one PIRLS solves, so it goes through the crate's `PenalizedSolver` (one division per
//! level for one scalar term, the scalar-terms solver, or the LMM engine's blocked factor) with β
//! fixed — no new factorization. The step is halved (up to 20 times) while `h` does not
//! decrease; the iteration stops when a full step changes no `uⱼ` by more than 10⁻¹¹ (Newton
//! converges quadratically, so the mode is then exact to rounding: the objective must be a
//! smooth function of the parameters for its finite-difference Hessian).
//!
//! **Non-positive weights.** For log-concave likelihoods (Poisson, binomial, cumulative logit,
//! probit and cloglog links) `wᵢ > 0` everywhere. Otherwise a `wᵢ ≤ 0` (or non-finite) is
//! replaced by the expected information when the likelihood gives one
//! ([`ConditionalLikelihood::expected_weight`]), else by the Levenberg floor
//! `10⁻⁶ · max(1, maxⱼ wⱼ)`: the modified matrix is positive definite, so the step is still a
//! descent direction and step halving converges to a stationary point of `h` (where the
//! gradient, which does not involve w, vanishes). The Laplace log-determinant then uses the
//! observed weights as they are (the exact Hessian of `h`, glmmTMB's) whenever `A'WA + I` is
//! positive definite with them — zero-inflated counts have negative weights for zeros with a
//! large μ, yet a strict maximum — and the guarded weights only when it is not; the number
//! guarded at the optimum is reported ([`ObservedFit::guarded_weights`]).
//!
//! # Outer problem
//!
//! The Laplace approximation of the marginal deviance is
//!
//! ```text
//! −2 log L(φ, β, θ) ≈ −2 Σᵢ ℓᵢ(η̂ᵢ) + ‖û‖² + log|L|²,    LL' = A'ŴA + I,
//! ```
//!
//! (`∫ Πᵢ p(yᵢ|u) φ_q(u) du` with the integrand replaced by its second-order expansion at û).
//! For one scalar random-effects term the levels are independent and adaptive Gauss–Hermite
//! quadrature with `n` nodes per level is available: with `sⱼ = (A'ŴA + I)ⱼⱼ^{−1/2}`,
//!
//! ```text
//! −2 log Lⱼ = −2 log sⱼ − 2 log Σₖ wₖ exp(Sⱼ(ûⱼ + sⱼzₖ) + zₖ²/2),
//! Sⱼ(u) = Σ_{i∈j} ℓᵢ(ηᵢ(u)) − u²/2,
//! ```
//!
//! (the rule `(zₖ, wₖ)` for the standard normal, [`crate::quadrature::gh_rule`]); one node is
//! the Laplace approximation.
//!
//! The objective is minimised over `(φ, β, θ)` jointly by BOBYQA (the crate's optimiser), in
//! two stages: (1) `(φ, β)` at θ = 0, where the model is the fixed-effects one and u drops
//! out; (2) all parameters from there, with φ and β in units of their stage-1 standard errors
//! (from a finite-difference Hessian) so that the trust region is round.
//!
//! # Standard errors
//!
//! As ordinal::clmm: the Hessian of the objective (as `−log L`, i.e. half of the deviance
//! above) in all parameters `(φ, β, θ)` by central differences with step 10⁻⁴ at the optimum
//! (θ components on their bounds left out), inverted whole; the covariance of `(φ, β)` is the
//! corresponding block of the inverse. φ is reported through
//! [`ConditionalLikelihood::report_extra`] with the delta method (at a stationary point the
//! Hessian transforms with the Jacobian alone, so this equals the Hessian in the reported
//! parametrization).

use multilevel_design::Design;
use multilevel_lmm::optimizer::{Bobyqa, FnProblem, Optimizer, central_derivatives};
use multilevel_lmm::summaries::term_b;
use multilevel_numeric::spd::spd_inverse;

use crate::quadrature::{GhRule, gh_rule};
use crate::solver::{PenalizedSolver, choose};

/// The largest number of random effects for which the Laplace determinant with negative
/// observed weights is formed densely (module documentation: non-positive weights).
pub const MAX_DENSE_EXACT: usize = 2000;

/// `ℓᵢ`, `dℓᵢ/dηᵢ` and `d²ℓᵢ/dηᵢ²` of one observation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LogLikDerivs {
    /// `ℓᵢ(ηᵢ; φ)` (the log-likelihood contribution, prior weight included).
    pub value: f64,
    /// First derivative in `ηᵢ`.
    pub d1: f64,
    /// Second derivative in `ηᵢ`.
    pub d2: f64,
}

/// A conditional log-likelihood `Σᵢ ℓᵢ(ηᵢ; φ)`, one linear predictor per observation (see the
/// module documentation).
pub trait ConditionalLikelihood: Sync {
    /// Number of extra parameters φ (0 for none).
    fn n_extra(&self) -> usize;

    /// `ℓᵢ, ℓᵢ', ℓᵢ''` at `eta` (offset, Xβ and ZΛu included) for every observation into `out`
    /// (same length as `eta`); false when the parameters are invalid or a contribution is not
    /// finite (the objective is then +∞).
    fn derivatives(&self, phi: &[f64], eta: &[f64], out: &mut [LogLikDerivs]) -> bool;

    /// The expected information `E[−ℓᵢ'']` of observation `i` at `eta`, the fallback weight when
    /// the observed one is not positive (default: none, the Levenberg floor is used).
    fn expected_weight(&self, _phi: &[f64], _i: usize, _eta: f64) -> Option<f64> {
        None
    }

    /// Starting φ (length [`ConditionalLikelihood::n_extra`]).
    fn extra_start(&self) -> Vec<f64>;

    /// Bounds on φ for the optimiser (default: none).
    fn extra_bounds(&self) -> (Vec<f64>, Vec<f64>) {
        let m = self.n_extra();
        (vec![f64::NEG_INFINITY; m], vec![f64::INFINITY; m])
    }

    /// The reported parameters of φ and the Jacobian `∂report/∂φ` (row-major, `r × m`);
    /// default: φ itself.
    fn report_extra(&self, phi: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let m = phi.len();
        let mut j = vec![0.0; m * m];
        for a in 0..m {
            j[a * m + a] = 1.0;
        }
        (phi.to_vec(), j)
    }
}

/// Why an observed-Hessian fit failed.
#[derive(Debug, thiserror::Error)]
pub enum ObservedError {
    /// The model cannot be fitted this way (one clear line).
    #[error("{0}")]
    BadInput(String),
    /// The optimiser failed.
    #[error("optimiser: {0}")]
    Optimizer(String),
    /// The objective is not finite at the optimum.
    #[error("{0}")]
    Numerical(String),
}

/// Options of [`fit_observed`].
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedOptions {
    /// Quadrature nodes: 1 for the Laplace approximation, `n > 1` for adaptive Gauss–Hermite
    /// (one scalar random-effects term only).
    pub n_agq: usize,
    /// Maximal Newton iterations of the inner problem.
    pub max_inner: usize,
    /// Compute the Hessian and the covariance of the estimates.
    pub hessian: bool,
}

impl Default for ObservedOptions {
    fn default() -> Self {
        ObservedOptions {
            n_agq: 1,
            max_inner: 100,
            hessian: true,
        }
    }
}

/// The conditional modes at one parameter value.
#[derive(Debug, Clone)]
pub struct Modes {
    /// Spherical modes û per term (sorted term order).
    pub u: Vec<Vec<f64>>,
    /// Linear predictor at the modes (offset included).
    pub eta: Vec<f64>,
    /// `Σᵢ ℓᵢ(η̂ᵢ)`.
    pub loglik_cond: f64,
    /// `‖û‖²`.
    pub usq: f64,
    /// `log|L|²` with the (guarded) weights at û.
    pub ld_l2: f64,
    /// The weights `wᵢ` at û (after the guard).
    pub w: Vec<f64>,
    /// How many weights were guarded at û.
    pub guarded: usize,
    /// Newton iterations taken.
    pub iterations: usize,
}

/// The inner problem and the objective of one model (see the module documentation).
pub struct ObservedLaplace<'a, L: ConditionalLikelihood + ?Sized> {
    design: &'a Design,
    lik: &'a L,
    solver: Box<dyn PenalizedSolver>,
    offset: Vec<f64>,
    /// Warm start of the modes (the last converged ones).
    u_start: Vec<Vec<f64>>,
    max_inner: usize,
    derivs: Vec<LogLikDerivs>,
    /// Objective evaluations so far.
    pub evaluations: usize,
}

impl<'a, L: ConditionalLikelihood + ?Sized> ObservedLaplace<'a, L> {
    /// Prepare for `design` (its X, offset and random-effects terms; its response and weights
    /// are the likelihood's business) and the likelihood `lik`.
    pub fn new(design: &'a Design, lik: &'a L) -> Self {
        let n = design.nobs();
        ObservedLaplace {
            design,
            lik,
            solver: choose(design, false),
            offset: design.offset.clone().unwrap_or_else(|| vec![0.0; n]),
            u_start: design.terms.iter().map(|t| vec![0.0; t.q()]).collect(),
            max_inner: 100,
            derivs: vec![LogLikDerivs::default(); n],
            evaluations: 0,
        }
    }

    /// `offset + Xβ`.
    fn eta_fixed(&self, beta: &[f64]) -> Vec<f64> {
        let mut out = self.offset.clone();
        let x = &self.design.x;
        for (a, b) in beta.iter().enumerate().take(x.ncols()) {
            if *b == 0.0 {
                continue;
            }
            for (o, v) in out.iter_mut().zip(x.col_as_slice(a)) {
                *o += v * b;
            }
        }
        out
    }

    /// `out = base + ZΛu`.
    fn eta_from(&self, lambda: &[Vec<f64>], u: &[Vec<f64>], base: &[f64], out: &mut [f64]) {
        out.copy_from_slice(base);
        for ((t, lam), uj) in self.design.terms.iter().zip(lambda).zip(u) {
            let b = term_b(t.k, t.nlevels(), lam, uj);
            let k = t.k;
            for (i, e) in out.iter_mut().enumerate() {
                let l = t.refs[i] as usize;
                let mut acc = 0.0;
                for c in 0..k {
                    acc += t.z[i * k + c] * b[l * k + c];
                }
                *e += acc;
            }
        }
    }

    /// `Σᵢ ℓᵢ` at `eta` (derivatives left in `self.derivs`), `None` when invalid.
    fn loglik(&mut self, phi: &[f64], eta: &[f64]) -> Option<f64> {
        if !self.lik.derivatives(phi, eta, &mut self.derivs) {
            return None;
        }
        let s: f64 = self.derivs.iter().map(|d| d.value).sum();
        s.is_finite().then_some(s)
    }

    /// Guarded weights from `self.derivs` (see the module documentation); the count guarded.
    fn weights(&self, phi: &[f64], eta: &[f64], w: &mut [f64]) -> usize {
        let mut guarded = 0;
        let mut wmax: f64 = 0.0;
        for (wi, d) in w.iter_mut().zip(&self.derivs) {
            *wi = -d.d2;
            if wi.is_finite() && *wi > wmax {
                wmax = *wi;
            }
        }
        let floor = 1e-6 * wmax.max(1.0);
        for (i, wi) in w.iter_mut().enumerate() {
            if !(wi.is_finite() && *wi > 0.0) {
                guarded += 1;
                *wi = self
                    .lik
                    .expected_weight(phi, i, eta[i])
                    .filter(|e| e.is_finite() && *e > 0.0)
                    .unwrap_or(floor);
            }
        }
        guarded
    }

    /// `log|A'WA + I|` of the Laplace approximation at the modes: `ld_guarded` (the solver's,
    /// with the guarded weights) when no weight was guarded, otherwise the determinant with the
    /// observed weights `wᵢ = −ℓᵢ''` as they are (`self.derivs` at the modes), some of them
    /// negative, when `A'WA + I` is still positive definite (the mode is then a strict maximum
    /// of the integrand and this is the exact Hessian, glmmTMB's); `ld_guarded` otherwise.
    ///
    /// One scalar term: `A'WA + I` is diagonal, `1 + θ² Σ_{i∈l} wᵢzᵢ²` per level. Otherwise the
    /// dense `q × q` matrix is formed from the rows of `A = ZΛ` and factored (at most
    /// [`MAX_DENSE_EXACT`] random effects; beyond that the guarded determinant is kept).
    fn laplace_ld(&self, lambda: &[Vec<f64>], ld_guarded: f64, guarded: usize) -> f64 {
        if guarded == 0 {
            return ld_guarded;
        }
        self.exact_ld(lambda).unwrap_or(ld_guarded)
    }

    /// `log|A'WA + I|` with the unguarded observed weights; `None` when not positive definite
    /// or too large (see [`ObservedLaplace::laplace_ld`]).
    fn exact_ld(&self, lambda: &[Vec<f64>]) -> Option<f64> {
        let terms = &self.design.terms;
        if let ([t], [lam]) = (terms.as_slice(), lambda)
            && t.k == 1
        {
            let th2 = lam.first().copied().unwrap_or(0.0).powi(2);
            let mut a = vec![0.0; t.nlevels()];
            for (i, d) in self.derivs.iter().enumerate() {
                a[t.refs[i] as usize] += -d.d2 * t.z[i] * t.z[i];
            }
            let mut ld = 0.0;
            for v in a {
                let l2 = 1.0 + th2 * v;
                if !(l2.is_finite() && l2 > 0.0) {
                    return None;
                }
                ld += l2.ln();
            }
            return Some(ld);
        }
        self.dense_ld(lambda)
    }

    /// `log|A'WA + I|` with `wᵢ = −ℓᵢ''` from `self.derivs`, the matrix formed densely from the
    /// rows of `A = ZΛ` (any terms); `None` when not positive definite or larger than
    /// [`MAX_DENSE_EXACT`].
    fn dense_ld(&self, lambda: &[Vec<f64>]) -> Option<f64> {
        let terms = &self.design.terms;
        let q: usize = terms.iter().map(|t| t.q()).sum();
        if q > MAX_DENSE_EXACT {
            return None;
        }
        let mut m = vec![0.0; q * q];
        for j in 0..q {
            m[j * q + j] = 1.0;
        }
        // Row i of A: for each term, k entries (z_i'Λ)_c at columns off + l·k + c.
        let mut idx: Vec<usize> = Vec::new();
        let mut val: Vec<f64> = Vec::new();
        for (i, d) in self.derivs.iter().enumerate() {
            idx.clear();
            val.clear();
            let mut off = 0;
            for (t, lam) in terms.iter().zip(lambda) {
                let k = t.k;
                let l = t.refs[i] as usize;
                for c in 0..k {
                    let mut acc = 0.0;
                    for r in c..k {
                        acc += t.z[i * k + r] * lam[r * k + c];
                    }
                    idx.push(off + l * k + c);
                    val.push(acc);
                }
                off += t.q();
            }
            let w = -d.d2;
            for (a, &ia) in idx.iter().enumerate() {
                for (b, &ib) in idx.iter().enumerate() {
                    m[ia * q + ib] += w * val[a] * val[b];
                }
            }
        }
        let mut ld = 0.0;
        let ok = multilevel_lmm::kernels::cholesky_in_place(&mut m, q, |p| {
            ld += p.ln();
        });
        (ok && ld.is_finite()).then_some(ld)
    }

    /// The conditional modes at `(φ, β, θ)` by Newton's method with step halving.
    pub fn modes(&mut self, phi: &[f64], beta: &[f64], theta: &[f64]) -> Option<Modes> {
        let n = self.design.nobs();
        let lambda = self.design.lambdas(theta);
        let base = self.eta_fixed(beta);
        let mut u = self.u_start.clone();
        if self.design.terms.is_empty() {
            let ll = self.loglik(phi, &base)?;
            let mut w = vec![0.0; n];
            let guarded = self.weights(phi, &base, &mut w);
            return Some(Modes {
                u,
                eta: base,
                loglik_cond: ll,
                usq: 0.0,
                ld_l2: 0.0,
                w,
                guarded,
                iterations: 0,
            });
        }
        let mut eta = vec![0.0; n];
        self.eta_from(&lambda, &u, &base, &mut eta);
        let mut ll = self.loglik(phi, &eta);
        if ll.is_none() {
            // The warm start may be invalid for these parameters: restart from u = 0.
            u.iter_mut()
                .for_each(|v| v.iter_mut().for_each(|x| *x = 0.0));
            self.eta_from(&lambda, &u, &base, &mut eta);
            ll = self.loglik(phi, &eta);
        }
        let mut ll = ll?;
        let mut usq: f64 = u.iter().flatten().map(|v| v * v).sum();
        let mut w = vec![0.0; n];
        let mut z = vec![0.0; n];
        let mut eta_try = vec![0.0; n];
        for it in 0..self.max_inner {
            let guarded = self.weights(phi, &eta, &mut w);
            // Working response relative to offset + Xβ: (Au)ᵢ + gᵢ/wᵢ.
            for i in 0..n {
                z[i] = eta[i] - base[i] + self.derivs[i].d1 / w[i];
            }
            let step = self.solver.solve(self.design, theta, &w, &z)?;
            let change = step
                .u
                .iter()
                .flatten()
                .zip(u.iter().flatten())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            if change <= 1e-11 {
                self.u_start = u.clone();
                self.evaluations += 1;
                let ld_l2 = self.laplace_ld(&lambda, step.ld_l2, guarded);
                return Some(Modes {
                    u,
                    eta,
                    loglik_cond: ll,
                    usq,
                    ld_l2,
                    w,
                    guarded,
                    iterations: it,
                });
            }
            let pdev_old = -2.0 * ll + usq;
            let mut frac = 1.0;
            let mut accepted = false;
            for _ in 0..20 {
                let cand: Vec<Vec<f64>> = u
                    .iter()
                    .zip(&step.u)
                    .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + frac * (y - x)).collect())
                    .collect();
                self.eta_from(&lambda, &cand, &base, &mut eta_try);
                if let Some(ll_try) = self.loglik(phi, &eta_try) {
                    let usq_try: f64 = cand.iter().flatten().map(|v| v * v).sum();
                    let pdev = -2.0 * ll_try + usq_try;
                    if pdev <= pdev_old + 1e-12 * pdev_old.abs().max(1.0) {
                        u = cand;
                        ll = ll_try;
                        usq = usq_try;
                        std::mem::swap(&mut eta, &mut eta_try);
                        accepted = true;
                        break;
                    }
                }
                frac *= 0.5;
            }
            if !accepted {
                // No decrease along the Newton direction: the mode is as accurate as
                // rounding allows. Recompute the derivatives at u for the weights.
                self.loglik(phi, &eta)?;
                let guarded = self.weights(phi, &eta, &mut w);
                let step = self.solver.solve(self.design, theta, &w, &z)?;
                self.u_start = u.clone();
                self.evaluations += 1;
                let ld_l2 = self.laplace_ld(&lambda, step.ld_l2, guarded);
                return Some(Modes {
                    u,
                    eta,
                    loglik_cond: ll,
                    usq,
                    ld_l2,
                    w,
                    guarded,
                    iterations: it + 1,
                });
            }
            // Derivatives at the accepted point for the next iteration.
            self.loglik(phi, &eta)?;
        }
        None
    }

    /// The Laplace objective `−2 Σℓ + ‖û‖² + log|L|²` at `(φ, β, θ)`, or the AGQ one with
    /// `rule` (one scalar term); +∞ where it cannot be evaluated.
    pub fn objective(
        &mut self,
        phi: &[f64],
        beta: &[f64],
        theta: &[f64],
        rule: Option<&GhRule>,
    ) -> f64 {
        let Some(m) = self.modes(phi, beta, theta) else {
            return f64::INFINITY;
        };
        let v = match rule {
            Some(r) if r.z.len() > 1 => self.agq(phi, beta, theta, &m, r),
            _ => -2.0 * m.loglik_cond + m.usq + m.ld_l2,
        };
        if v.is_finite() { v } else { f64::INFINITY }
    }

    /// Adaptive Gauss–Hermite objective for one scalar term (module documentation).
    fn agq(&mut self, phi: &[f64], beta: &[f64], theta: &[f64], m: &Modes, rule: &GhRule) -> f64 {
        let Some(t) = self.design.terms.first() else {
            return -2.0 * m.loglik_cond + m.usq + m.ld_l2;
        };
        let n = self.design.nobs();
        let th = theta.first().copied().unwrap_or(0.0);
        let nl = t.nlevels();
        let Some(u) = m.u.first() else {
            return f64::NAN;
        };
        let mut hdiag = vec![1.0; nl];
        for i in 0..n {
            hdiag[t.refs[i] as usize] += th * th * m.w[i] * t.z[i] * t.z[i];
        }
        let sd: Vec<f64> = hdiag.iter().map(|h| 1.0 / h.sqrt()).collect();
        // Sⱼ at the modes, per level.
        let mut s0: Vec<f64> = u.iter().map(|v| -0.5 * v * v).collect();
        if !self.lik.derivatives(phi, &m.eta, &mut self.derivs) {
            return f64::NAN;
        }
        for i in 0..n {
            s0[t.refs[i] as usize] += self.derivs[i].value;
        }
        let base = self.eta_fixed(beta);
        let mut eta_k = vec![0.0; n];
        let mut sk = vec![0.0; nl];
        let mut mult = vec![0.0; nl];
        for (&zk, &wk) in rule.z.iter().zip(&rule.w) {
            if zk == 0.0 {
                mult.iter_mut().for_each(|v| *v += wk);
                continue;
            }
            for i in 0..n {
                let l = t.refs[i] as usize;
                eta_k[i] = base[i] + t.z[i] * th * (u[l] + zk * sd[l]);
            }
            if !self.lik.derivatives(phi, &eta_k, &mut self.derivs) {
                return f64::NAN;
            }
            for (l, s) in sk.iter_mut().enumerate() {
                let ul = u[l] + zk * sd[l];
                *s = -0.5 * ul * ul;
            }
            for i in 0..n {
                sk[t.refs[i] as usize] += self.derivs[i].value;
            }
            for l in 0..nl {
                mult[l] += wk * (sk[l] - s0[l] + 0.5 * zk * zk).exp();
            }
        }
        let mut total = 0.0;
        for l in 0..nl {
            total += hdiag[l].ln() - 2.0 * s0[l] - 2.0 * mult[l].ln();
        }
        total
    }
}

/// The result of [`fit_observed`].
#[derive(Debug, Clone)]
pub struct ObservedFit {
    /// Extra parameters φ (optimiser's parametrization).
    pub phi: Vec<f64>,
    /// Reported extra parameters ([`ConditionalLikelihood::report_extra`]).
    pub extra: Vec<f64>,
    /// Standard errors of the reported extra parameters (NaN without a Hessian).
    pub extra_se: Vec<f64>,
    /// Fixed effects.
    pub beta: Vec<f64>,
    /// Their standard errors (NaN without a Hessian).
    pub beta_se: Vec<f64>,
    /// Covariance of `(reported extra, β)`, row-major (empty without a Hessian).
    pub vcov: Vec<f64>,
    /// Covariance parameters θ.
    pub theta: Vec<f64>,
    /// `Λⱼ(θ)` per term.
    pub lambda: Vec<Vec<f64>>,
    /// Spherical conditional modes at the optimum.
    pub u: Vec<Vec<f64>>,
    /// Random effects `b = Λu` per term.
    pub b: Vec<Vec<f64>>,
    /// Linear predictor at the modes.
    pub eta: Vec<f64>,
    /// The approximate marginal log-likelihood.
    pub loglik: f64,
    /// The minimised objective (`−2 log L`).
    pub deviance: f64,
    /// Gradient of `−log L` at the optimum (finite differences, all parameters in the order
    /// φ, β, θ; θ on a bound left out), clmm's `max.grad` is its largest absolute entry.
    pub gradient: Vec<f64>,
    /// Hessian of `−log L` in the same parameters (row-major; empty without it).
    pub hessian: Vec<f64>,
    /// The number of θ components on their bounds (a singular fit).
    pub theta_on_bound: usize,
    /// Quadrature nodes (1: Laplace).
    pub n_agq: usize,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Inner Newton iterations at the optimum.
    pub inner_iterations: usize,
    /// Weights guarded at the optimum (module documentation).
    pub guarded_weights: usize,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// The optimiser's message.
    pub message: String,
}

/// Fit `(φ, β, θ)` by minimising the Laplace (or AGQ) objective (module documentation).
///
/// # Errors
/// [`ObservedError`] for AGQ with other than one scalar term, an optimiser failure, or a
/// non-finite objective at the start or optimum.
pub fn fit_observed<L: ConditionalLikelihood + ?Sized>(
    design: &Design,
    lik: &L,
    opts: &ObservedOptions,
) -> Result<ObservedFit, ObservedError> {
    let n_agq = opts.n_agq.max(1);
    if n_agq > 1 && !(design.terms.len() == 1 && design.terms[0].k == 1) {
        return Err(ObservedError::BadInput(format!(
            "adaptive Gauss-Hermite quadrature (--nagq {n_agq}) needs exactly one scalar random-effects term, such as (1 | g); hint: use --nagq 1 (Laplace)"
        )));
    }
    let rule = (n_agq > 1).then(|| gh_rule(n_agq));
    let mut lap = ObservedLaplace::new(design, lik);
    lap.max_inner = opts.max_inner;
    let m = lik.n_extra();
    let p = design.p();
    let ntheta = design.n_theta();
    let (phi_lo, phi_hi) = lik.extra_bounds();
    let phi0 = lik.extra_start();
    let theta_zero = vec![0.0; ntheta];

    // ---- stage 1: (φ, β) at θ = 0 ----
    let mut x1: Vec<f64> = phi0.clone();
    x1.extend(std::iter::repeat_n(0.0, p));
    let mut lo1 = phi_lo.clone();
    lo1.extend(std::iter::repeat_n(f64::NEG_INFINITY, p));
    let mut hi1 = phi_hi.clone();
    hi1.extend(std::iter::repeat_n(f64::INFINITY, p));
    if !lap
        .objective(&phi0, &x1[m..], &theta_zero, None)
        .is_finite()
    {
        return Err(ObservedError::Numerical(
            "the log-likelihood is not finite at the starting values; hint: check the response"
                .into(),
        ));
    }
    let out1 = {
        let mut f1 = |x: &[f64]| lap.objective(&x[..m], &x[m..], &theta_zero, None);
        Bobyqa::with_radii(0.5, 1e-6)
            .minimize(&mut FnProblem(&mut f1), &x1, &lo1, &hi1)
            .map_err(|e| ObservedError::Optimizer(e.to_string()))?
    };
    let x1 = out1.x;
    // Scales of φ and β: their stage-1 standard errors √(2/Hⱼⱼ) of the deviance's Hessian.
    let scale: Vec<f64> = {
        let mut f = |x: &[f64]| lap.objective(&x[..m], &x[m..], &theta_zero, None);
        let fx = f(&x1);
        let (_, h) = central_derivatives(&mut f, &x1, fx, 1e-4);
        let k = x1.len();
        (0..k)
            .map(|j| {
                let s = (2.0 / h[j * k + j]).sqrt();
                if s.is_finite() && s > 0.0 {
                    s.min(10.0)
                } else {
                    1.0
                }
            })
            .collect()
    };

    // ---- stage 2: everything, φ and β scaled ----
    let theta_lo = design.theta_lower();
    let theta_hi = design.theta_upper();
    let theta_start = design.theta_start();
    let nfe = m + p;
    let unscale = |z: &[f64]| -> Vec<f64> {
        let mut x: Vec<f64> = x1
            .iter()
            .zip(&scale)
            .zip(&z[..nfe])
            .map(|((a, s), v)| a + s * v)
            .collect();
        x.extend_from_slice(&z[nfe..]);
        x
    };
    let mut z0 = vec![0.0; nfe];
    z0.extend_from_slice(&theta_start);
    let mut lo2: Vec<f64> = (0..nfe)
        .map(|j| {
            let l = if j < m { phi_lo[j] } else { f64::NEG_INFINITY };
            (l - x1[j]) / scale[j]
        })
        .collect();
    lo2.extend_from_slice(&theta_lo);
    let mut hi2: Vec<f64> = (0..nfe)
        .map(|j| {
            let h = if j < m { phi_hi[j] } else { f64::INFINITY };
            (h - x1[j]) / scale[j]
        })
        .collect();
    hi2.extend_from_slice(&theta_hi);
    // Start the modes afresh for stage 2.
    lap.u_start = design.terms.iter().map(|t| vec![0.0; t.q()]).collect();
    let out2 = {
        let mut f2 = |z: &[f64]| {
            let x = unscale(z);
            lap.objective(&x[..m], &x[m..nfe], &x[nfe..], rule.as_ref())
        };
        Bobyqa::with_radii(0.2, 1e-7)
            .minimize(&mut FnProblem(&mut f2), &z0, &lo2, &hi2)
            .map_err(|e| ObservedError::Optimizer(e.to_string()))?
    };
    let converged = out2.converged();
    let message = out2.message();
    let x = unscale(&out2.x);
    let phi = x[..m].to_vec();
    let beta = x[m..nfe].to_vec();
    let theta = x[nfe..].to_vec();
    let deviance = lap.objective(&phi, &beta, &theta, rule.as_ref());
    if !deviance.is_finite() {
        return Err(ObservedError::Numerical(
            "the objective is not finite at the optimum".into(),
        ));
    }
    let modes = lap.modes(&phi, &beta, &theta).ok_or_else(|| {
        ObservedError::Numerical("the conditional modes failed at the optimum".into())
    })?;

    // ---- Hessian of −log L in (φ, β, θ free) ----
    let free: Vec<usize> = (0..x.len())
        .filter(|&j| {
            j < nfe || {
                let t = j - nfe;
                (theta[t] - theta_lo[t]) >= 1e-4 && (theta_hi[t] - theta[t]) >= 1e-4
            }
        })
        .collect();
    let theta_on_bound = x.len() - free.len();
    let (extra, jac) = lik.report_extra(&phi);
    let r = extra.len();
    let mut extra_se = vec![f64::NAN; r];
    let mut beta_se = vec![f64::NAN; p];
    let mut vcov = Vec::new();
    let mut gradient = Vec::new();
    let mut hessian = Vec::new();
    if opts.hessian {
        let xf: Vec<f64> = free.iter().map(|&j| x[j]).collect();
        let mut f = |v: &[f64]| {
            let mut full = x.clone();
            for (&j, &vj) in free.iter().zip(v) {
                full[j] = vj;
            }
            0.5 * lap.objective(&full[..m], &full[m..nfe], &full[nfe..], rule.as_ref())
        };
        let (g, h) = central_derivatives(&mut f, &xf, 0.5 * deviance, 1e-4);
        let k = xf.len();
        if let Some(inv) = spd_inverse(&h, k, 1e-12) {
            // Covariance of φ and β: the first nfe rows/columns of the inverse; then the
            // delta method for φ → reported extra parameters.
            let c = |a: usize, b: usize| inv[a * k + b];
            let d = r + p;
            vcov = vec![0.0; d * d];
            // J_full = blockdiag(jac (r × m), I_p).
            let jrow = |row: usize, col: usize| -> f64 {
                if row < r {
                    if col < m { jac[row * m + col] } else { 0.0 }
                } else if col >= m && col - m == row - r {
                    1.0
                } else {
                    0.0
                }
            };
            for a in 0..d {
                for b in 0..d {
                    let mut acc = 0.0;
                    for s in 0..nfe {
                        let ja = jrow(a, s);
                        if ja == 0.0 {
                            continue;
                        }
                        for t in 0..nfe {
                            acc += ja * c(s, t) * jrow(b, t);
                        }
                    }
                    vcov[a * d + b] = acc;
                }
            }
            for a in 0..r {
                extra_se[a] = vcov[a * d + a].sqrt();
            }
            for a in 0..p {
                beta_se[a] = vcov[(r + a) * d + r + a].sqrt();
            }
        }
        gradient = g;
        hessian = h;
    }
    let lambda = design.lambdas(&theta);
    let b = design
        .terms
        .iter()
        .zip(lambda.iter().zip(&modes.u))
        .map(|(t, (lam, uj))| term_b(t.k, t.nlevels(), lam, uj))
        .collect();
    Ok(ObservedFit {
        phi,
        extra,
        extra_se,
        beta,
        beta_se,
        vcov,
        theta,
        lambda,
        u: modes.u,
        b,
        eta: modes.eta,
        loglik: -0.5 * deviance,
        deviance,
        gradient,
        hessian,
        theta_on_bound,
        n_agq,
        evaluations: lap.evaluations,
        inner_iterations: modes.iterations,
        guarded_weights: modes.guarded,
        converged,
        message,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
