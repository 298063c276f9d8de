//! Penalized iteratively reweighted least squares and the Laplace / AGQ objectives.
//!
//! At fixed θ (and β, unless β is profiled) the conditional modes `û` maximise
//! `−½ [Σ dᵢ(yᵢ, μᵢ) + ‖u‖²]`, `μ = g⁻¹(offset + Xβ + ZΛu)`, with `dᵢ` the weighted unit
//! deviances. Each PIRLS step forms the working weights `wᵢ = pwᵢ (dμ/dη)² / V(μ)` and the
//! working response `zᵢ = ηᵢ − oᵢ + (yᵢ − μᵢ)/(dμ/dη)` (`oᵢ` = offset, plus `Xβ` when β is
//! fixed), and solves the penalized weighted least-squares problem through a
//! [`PenalizedSolver`] chosen once per model and stage ([`choose`]: one scalar term, all
//! scalar terms, or the LMM engine's blocked factor): for u alone or for (β, u) jointly
//! (lme4's `nAGQ = 0` stage). Convergence as lme4's `pwrssUpdate`: relative change of the penalized
//! deviance `Σ dᵢ + ‖u‖²` below `tol` (1e-7); an increase triggers up to 20 step halvings
//! towards the previous iterate.
//!
//! Speed without changing the algorithm: models whose random-effects terms are all scalar use
//! the scalar-term solvers (no general cross products per step); binomial–logit and Poisson–log evaluate μ, dμ/dη and the unit deviance
//! in one fused pass with one `exp` (and one `ln`) per observation; μ at the starting
//! linear predictor (the same for every evaluation of a stage) is computed once; the Laplace
//! objective of binomial (whole counts) and Poisson fits is `Σ dᵢ + C` with the data-only
//! constant `C` computed once (see `family::aic_minus_deviance`); the length-n buffers are
//! reused across iterations and evaluations, and an objective evaluation reads η and μ in place.
//! The working weights and residuals at that starting predictor are cached too. Each trial
//! iterate is one pass (η = offset + Xβ + ZΛu, μ, dμ/dη, Σ dᵢ).
//!
//! Both cores: the per-observation passes (working values, the trial iterate, the sums of the
//! PLS step) run over fixed chunks of observations on the rayon pool when n is large, and every
//! sum is reduced chunk by chunk in chunk order. The chunks depend on n (and on the data) only,
//! so a fit gives the same bits on one thread or several (`RAYON_NUM_THREADS`).
//!
//! Laplace objective (lme4's `glmerLaplace`): `log|L|² + ‖û‖² + aic(y, n, μ̂, pw, Σ dᵢ)`, the
//! family's `aic` being −2 × the conditional log-likelihood with its constants, so that
//! `−objective/2` is lme4's `logLik`. `L` is the factor computed in the last PIRLS step (from
//! the weights of the previous iterate), as in lme4.
//!
//! AGQ objective (lme4's `glmerAGQ`, one scalar term): per level `ℓ`,
//! `devc₀ = û² + Σ_{i∈ℓ} dᵢ`, `sd = 1/L_ℓℓ`, and with the rule `(zₖ, wₖ)` for `φ`
//! `mult = Σₖ wₖ exp(−½(devc(û + zₖ sd) − devc₀) + zₖ²/2)`; the objective is
//! `Σ devc₀ + log|L|² − 2 Σ log mult`. It has no `aic` constants, so its `logLik` is not
//! comparable with the Laplace one (lme4 behaves the same way).

use multilevel_design::Design;
use multilevel_lmm::summaries::term_b;

use crate::family::{FamilyKind, GlmFamily, LinkKind, aic_minus_deviance, deviance_constant};
use crate::fastmath;
use crate::quadrature::GhRule;
use crate::scalar_pls::{chunk_len, run_parallel};
use crate::solver::{BlockedPls, PenalizedSolver, PlsStep, choose};
use rayon::prelude::*;

/// The state PIRLS converges to.
#[derive(Debug, Clone)]
pub(crate) struct PirlsState {
    /// Linear predictor (offset included).
    pub eta: Vec<f64>,
    /// Mean.
    pub mu: Vec<f64>,
    /// Spherical random effects per term (sorted term order).
    pub u: Vec<Vec<f64>>,
    /// Fixed effects (profiled or given).
    pub beta: Vec<f64>,
    /// `log|L|²` of the last factorization.
    pub ld_l2: f64,
    /// `‖u‖²`.
    pub usq: f64,
    /// `Σ dᵢ` (sum of weighted unit deviances).
    pub dev: f64,
}

/// `b = Λu` per term.
pub(crate) fn b_from_u(design: &Design, lambda: &[Vec<f64>], u: &[Vec<f64>]) -> Vec<Vec<f64>> {
    design
        .terms
        .iter()
        .zip(lambda.iter().zip(u))
        .map(|(t, (lam, uj))| term_b(t.k, t.nlevels(), lam, uj))
        .collect()
}

/// `(β, u, Σ dᵢ, ‖u‖²)` of an accepted PIRLS iterate.
type Converged = (Vec<f64>, Vec<Vec<f64>>, f64, f64);

/// Fused per-observation code for the common family–link pairs (same numbers as the generic
/// trait calls, fewer transcendental functions): binomial–logit needs one `exp` and one
/// `ln` per observation for μ, dμ/dη and the unit deviance, Poisson–log one `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    BinomialLogit,
    PoissonLog,
    Generic,
}

/// `ln(1 + e)` for `e = exp(−|η|) ∈ (0, 1]`, as `ln` of the rounded sum: its absolute error
/// is at most about one unit in the last place of 1 (≈ 2·10⁻¹⁶), far below the rounding of
/// the deviance sums it enters (each unit deviance is of order one), and libm's `ln` takes a
/// fraction of the time of `ln_1p` (whose extra relative accuracy for tiny `e` the deviance
/// does not need).
#[inline(always)]
fn log_one_plus(e: f64) -> f64 {
    (1.0 + e).ln()
}

/// Below this `e = exp(−|η|)` the binomial mean `min(μ, 1 − μ) = e/(1 + e)` is under machine
/// ε and μ is clamped, as in the family's `linkinv` (`ε/(1 − ε)`, rounded up).
const BINOMIAL_E_MIN: f64 = f64::EPSILON / (1.0 - f64::EPSILON);

/// What the per-observation family code reads (shared by the threads of a pass).
#[derive(Clone, Copy)]
struct ObsCtx<'b> {
    fast: Fast,
    y: &'b [f64],
    pw: &'b [f64],
    dev_const: &'b [f64],
    fam: &'b GlmFamily,
}

impl ObsCtx<'_> {
    /// The weighted unit deviance of [`ObsCtx::obs`] for binomial–logit, given `e = exp(−|η|)`
    /// and `l1 = ln(1 + e)` from the batched pass [`fastmath::exp_ln1p_neg_abs`] (the same
    /// formula; `e` and `l1` within a few ulp of libm's). μ is clamped into `[ε, 1 − ε]` when
    /// `e < `[`BINOMIAL_E_MIN`], which is where `min(μ, 1 − μ) = e/(1 + e) < ε`.
    #[inline(always)]
    fn dev_binomial_logit(&self, i: usize, eta: f64, e: f64, l1: f64) -> f64 {
        const EPS: f64 = f64::EPSILON;
        if !eta.is_finite() {
            return f64::NAN;
        }
        let (y, wt) = (self.y[i], self.pw[i]);
        if e >= BINOMIAL_E_MIN {
            let lp = eta.min(0.0) - l1;
            let lq = -eta.max(0.0) - l1;
            2.0 * wt * (self.dev_const[i] - y * lp - (1.0 - y) * lq)
        } else {
            let inv = 1.0 / (1.0 + e);
            let p = if eta >= 0.0 { inv } else { e * inv };
            self.fam.family.dev_resid(y, p.clamp(EPS, 1.0 - EPS), wt)
        }
    }

    /// [`ObsCtx::dev_binomial_logit`] for every observation in one branch-free, vectorisable
    /// pass (`x` in observation order, `l = ln(1 + exp(−|x|))`), without the clamping of μ:
    /// the caller takes the scalar function where `x` is not finite or `e < `[`BINOMIAL_E_MIN`].
    fn binomial_logit_devs(&self, x: &[f64], l: &[f64], out: &mut [f64]) {
        let obs = self.y.iter().zip(self.pw).zip(self.dev_const);
        for ((o, (&x, &l1)), ((&y, &wt), &c)) in out.iter_mut().zip(x.iter().zip(l)).zip(obs) {
            let lp = x.min(0.0) - l1;
            let lq = -x.max(0.0) - l1;
            *o = 2.0 * wt * (c - y * lp - (1.0 - y) * lq);
        }
    }

    /// [`ObsCtx::dev_poisson_log`] for every observation in one vectorisable pass (`m = exp(x)`
    /// from [`fastmath::exp_clamped`]): valid where `x ∈ [−708, 709]` and `m ≥ ε`; the caller
    /// takes the scalar function elsewhere.
    fn poisson_log_devs(&self, x: &[f64], m: &[f64], out: &mut [f64]) {
        let obs = self.y.iter().zip(self.pw).zip(self.dev_const);
        for ((o, (&x, &m)), ((&y, &wt), &c)) in out.iter_mut().zip(x.iter().zip(m)).zip(obs) {
            *o = 2.0 * wt * (c - y * x + m);
        }
    }

    /// The weighted unit deviance of [`ObsCtx::obs`] for Poisson–log, given `m = exp(η)` for
    /// `η ∈ [−708, 709]` from the batched pass [`fastmath::exp_clamped`] (libm's `exp` is taken
    /// here outside that range).
    #[inline(always)]
    fn dev_poisson_log(&self, i: usize, eta: f64, m: f64) -> f64 {
        if !eta.is_finite() {
            return f64::NAN;
        }
        let m = if (-708.0..=709.0).contains(&eta) {
            m
        } else {
            eta.exp()
        };
        let mu = m.max(f64::EPSILON);
        if !mu.is_finite() {
            return f64::NAN;
        }
        let (y, wt) = (self.y[i], self.pw[i]);
        if mu == m {
            2.0 * wt * (self.dev_const[i] - y * eta + mu)
        } else {
            self.fam.family.dev_resid(y, mu, wt)
        }
    }

    /// μ, dμ/dη and the weighted unit deviance of observation `i` at `eta` (deviance `NaN`
    /// when η or μ is invalid).
    #[inline(always)]
    fn obs(&self, i: usize, eta: f64) -> (f64, f64, f64) {
        const EPS: f64 = f64::EPSILON;
        match self.fast {
            Fast::BinomialLogit => {
                if !eta.is_finite() {
                    return (f64::NAN, f64::NAN, f64::NAN);
                }
                let e = (-eta.abs()).exp();
                let inv = 1.0 / (1.0 + e);
                let p = if eta >= 0.0 { inv } else { e * inv };
                let mu = p.clamp(EPS, 1.0 - EPS);
                let me = (e * inv * inv).max(EPS);
                let (y, wt) = (self.y[i], self.pw[i]);
                let dev = if mu == p {
                    // log μ = min(η, 0) − log(1 + e), log(1 − μ) = −max(η, 0) − log(1 + e).
                    let l1 = log_one_plus(e);
                    let lp = eta.min(0.0) - l1;
                    let lq = -eta.max(0.0) - l1;
                    2.0 * wt * (self.dev_const[i] - y * lp - (1.0 - y) * lq)
                } else {
                    self.fam.family.dev_resid(y, mu, wt)
                };
                (mu, me, dev)
            }
            Fast::PoissonLog => {
                if !eta.is_finite() {
                    return (f64::NAN, f64::NAN, f64::NAN);
                }
                let m = eta.exp();
                let mu = m.max(EPS);
                if !mu.is_finite() {
                    return (mu, mu, f64::NAN);
                }
                let (y, wt) = (self.y[i], self.pw[i]);
                let dev = if mu == m {
                    2.0 * wt * (self.dev_const[i] - y * eta + mu)
                } else {
                    self.fam.family.dev_resid(y, mu, wt)
                };
                (mu, mu, dev)
            }
            Fast::Generic => {
                let link = &self.fam.link;
                let fam = &self.fam.family;
                let mu = link.inverse(eta);
                let me = link.mu_eta(eta);
                let dev = if !link.valid_eta(eta) || !fam.valid_mu(mu) {
                    f64::NAN
                } else {
                    fam.dev_resid(self.y[i], mu, self.pw[i])
                };
                (mu, me, dev)
            }
        }
    }
}

impl ObsCtx<'_> {
    /// [`ObsCtx::obs`] over a run of observations starting at `off`: fills `mu` and `me`
    /// (μ and dμ/dη) from `eta` and returns the sum of the unit deviances, in observation
    /// order. For binomial–logit and Poisson–log the exponentials and logarithms are taken in
    /// one vectorised pass first ([`fastmath`], within a few ulp of libm's), written into
    /// `mu` and `me` and turned into μ and dμ/dη in place.
    fn obs_chunk(&self, off: usize, eta: &[f64], mu: &mut [f64], me: &mut [f64]) -> f64 {
        const EPS: f64 = f64::EPSILON;
        let mut dev = 0.0;
        match self.fast {
            Fast::BinomialLogit => {
                fastmath::exp_ln1p_neg_abs(eta, mu, me);
                for (k, ((&x, m_io), d_io)) in eta.iter().zip(mu.iter_mut()).zip(me).enumerate() {
                    let (e, l1) = (*m_io, *d_io);
                    if !x.is_finite() {
                        (*m_io, *d_io) = (f64::NAN, f64::NAN);
                        dev += f64::NAN;
                        continue;
                    }
                    let inv = 1.0 / (1.0 + e);
                    let p = if x >= 0.0 { inv } else { e * inv };
                    let m = p.clamp(EPS, 1.0 - EPS);
                    *m_io = m;
                    *d_io = (e * inv * inv).max(EPS);
                    dev += self.dev_binomial_logit(off + k, x, e, l1);
                }
            }
            Fast::PoissonLog => {
                fastmath::exp_clamped(eta, mu);
                for (k, ((&x, m_io), d_io)) in eta.iter().zip(mu.iter_mut()).zip(me).enumerate() {
                    let d = self.dev_poisson_log(off + k, x, *m_io);
                    let m = if (-708.0..=709.0).contains(&x) {
                        *m_io
                    } else {
                        x.exp()
                    };
                    let m = m.max(EPS);
                    *m_io = m;
                    *d_io = m;
                    dev += d;
                }
            }
            Fast::Generic => {
                for (k, ((&x, m_io), d_io)) in eta.iter().zip(mu.iter_mut()).zip(me).enumerate() {
                    let (m, d, di) = self.obs(off + k, x);
                    (*m_io, *d_io) = (m, d);
                    dev += di;
                }
            }
        }
        dev
    }
}

impl ObsCtx<'_> {
    /// The weighted unit deviance `d[i]` of every observation at `x[i]` (the deviance-only
    /// pass of the AGQ quadrature). For binomial–logit and Poisson–log the transcendental
    /// functions go through one vectorised pass into the scratch `e` and `l`
    /// ([`fastmath`]), the deviances through another, and the few observations where μ is
    /// clamped or `x` is out of range are redone by the scalar functions; other families use
    /// [`ObsCtx::obs`]. All slices have the length of `x`.
    fn unit_devs(&self, x: &[f64], e: &mut [f64], l: &mut [f64], d: &mut [f64]) {
        match self.fast {
            Fast::BinomialLogit => {
                fastmath::exp_ln1p_neg_abs(x, e, l);
                self.binomial_logit_devs(x, l, d);
                let scratch = x.iter().zip(e.iter()).zip(l.iter());
                for (i, (o, ((&xi, &ei), &li))) in d.iter_mut().zip(scratch).enumerate() {
                    if !(xi.is_finite() && ei >= BINOMIAL_E_MIN) {
                        *o = self.dev_binomial_logit(i, xi, ei, li);
                    }
                }
            }
            Fast::PoissonLog => {
                fastmath::exp_clamped(x, e);
                self.poisson_log_devs(x, e, d);
                for (i, (o, (&xi, &mi))) in d.iter_mut().zip(x.iter().zip(e.iter())).enumerate() {
                    if !((-708.0..=709.0).contains(&xi) && mi >= f64::EPSILON) {
                        *o = self.dev_poisson_log(i, xi, mi);
                    }
                }
            }
            Fast::Generic => {
                for (i, (o, &xi)) in d.iter_mut().zip(x).enumerate() {
                    *o = self.obs(i, xi).2;
                }
            }
        }
    }
}

/// One random-effects term's contribution to η in [`Pirls::trial`].
enum TermEta<'b> {
    /// `η += zᵢ θ u_ℓ`.
    Scalar {
        th: f64,
        refs: &'b [u32],
        z: &'b [f64],
        u: &'b [f64],
    },
    /// `η += Zᵢ b_ℓ` with `b = Λu` per level (`k` columns).
    Vector {
        k: usize,
        refs: &'b [u32],
        z: &'b [f64],
        b: Vec<f64>,
    },
}

/// Working weights `wᵢ = pwᵢ (dμ/dη)² / V(μ)` and response `zᵢ = ηᵢ − baseᵢ + (yᵢ − μᵢ)/(dμ/dη)`
/// at `[η, μ, dμ/dη]`, in fixed chunks (on the thread pool for large n); `false` if any is
/// not finite.
fn working(ctx: ObsCtx<'_>, cur: [&[f64]; 3], base: &[f64], w: &mut [f64], z: &mut [f64]) -> bool {
    match ctx.fast {
        Fast::BinomialLogit => working_with(
            |mu| (mu * (1.0 - mu)).max(f64::EPSILON),
            ctx,
            cur,
            base,
            w,
            z,
        ),
        Fast::PoissonLog => working_with(|mu| mu, ctx, cur, base, w, z),
        Fast::Generic => working_with(|mu| ctx.fam.family.variance(mu), ctx, cur, base, w, z),
    }
}

/// [`working`] with the variance function `var` (one loop per family, which the compiler can
/// vectorise for the built-in ones).
fn working_with<V: Fn(f64) -> f64 + Sync>(
    var: V,
    ctx: ObsCtx<'_>,
    cur: [&[f64]; 3],
    base: &[f64],
    w: &mut [f64],
    z: &mut [f64],
) -> bool {
    let [eta, mu, me] = cur;
    let n = w.len();
    let ch = chunk_len(n);
    let run = |c: usize, w: &mut [f64], z: &mut [f64]| -> bool {
        let r = c * ch..c * ch + w.len();
        let mut finite = true;
        let inputs = eta[r.clone()]
            .iter()
            .zip(&mu[r.clone()])
            .zip(&me[r.clone()])
            .zip(&base[r.clone()])
            .zip(ctx.y[r.clone()].iter().zip(&ctx.pw[r]));
        for ((wo, zo), ((((&e, &m), &d), &b), (&y, &pw))) in
            w.iter_mut().zip(z.iter_mut()).zip(inputs)
        {
            let wi = (pw * d * d / var(m)).max(0.0);
            let zi = e - b + (y - m) / d;
            finite &= wi.is_finite() & zi.is_finite();
            *wo = wi;
            *zo = zi;
        }
        finite
    };
    if run_parallel(n) {
        w.par_chunks_mut(ch)
            .zip(z.par_chunks_mut(ch))
            .enumerate()
            .map(|(c, (w, z))| run(c, w, z))
            .reduce(|| true, |a, b| a & b)
    } else {
        w.chunks_mut(ch)
            .zip(z.chunks_mut(ch))
            .enumerate()
            .fold(true, |a, (c, (w, z))| run(c, w, z) & a)
    }
}

/// [`working`] at the start of a run, from the cached weights and `(y − μ)/(dμ/dη)` of the
/// start: `z = η₀ − base + r` (the same numbers as [`working`] at the start).
fn working_start(start: &StartCache, base: &[f64], w: &mut [f64], z: &mut [f64]) -> bool {
    let n = w.len();
    let ch = chunk_len(n);
    let run = |c: usize, zc: &mut [f64]| -> bool {
        let r = c * ch..c * ch + zc.len();
        let mut finite = true;
        for (zo, ((&e, &b), &rr)) in zc.iter_mut().zip(
            start.eta[r.clone()]
                .iter()
                .zip(&base[r.clone()])
                .zip(&start.r[r]),
        ) {
            let zi = e - b + rr;
            finite &= zi.is_finite();
            *zo = zi;
        }
        finite
    };
    w.copy_from_slice(&start.w);
    let finite = if run_parallel(n) {
        z.par_chunks_mut(ch)
            .enumerate()
            .map(|(c, zc)| run(c, zc))
            .reduce(|| true, |a, b| a & b)
    } else {
        z.chunks_mut(ch)
            .enumerate()
            .fold(true, |a, (c, zc)| run(c, zc) & a)
    };
    finite && start.w_finite
}

/// The working weights and residuals at the linear predictor a PIRLS run starts from (the
/// same `η₀` for every evaluation of a stage, so they are computed once).
#[derive(Debug, Default)]
struct StartCache {
    eta: Vec<f64>,
    /// Working weights at the start, whether all are finite, and `(y − μ)/(dμ/dη)`.
    w: Vec<f64>,
    w_finite: bool,
    r: Vec<f64>,
}

/// Per-run buffers of length n, kept between evaluations to avoid reallocating them.
#[derive(Debug, Default)]
struct Buffers {
    /// The part of η that PIRLS does not estimate (offset, plus Xβ when β is fixed).
    base: Vec<f64>,
    /// Accepted iterate: η, μ, dμ/dη.
    eta: Vec<f64>,
    mu: Vec<f64>,
    me: Vec<f64>,
    /// Trial iterate.
    eta_try: Vec<f64>,
    mu_try: Vec<f64>,
    me_try: Vec<f64>,
}

/// One quadrature node's pass over the observations (see [`Pirls::agq`]): what it reads, and
/// per-observation scratch reused from node to node.
struct NodePass<'b> {
    refs: &'b [u32],
    /// `θ zᵢ`.
    tz: &'b [f64],
    /// η at the conditional modes.
    eta: &'b [f64],
    /// Conditional standard deviation of each level's mode, `1/L_ℓℓ`.
    sd: &'b [f64],
    /// The shifted linear predictor `xᵢ = ηᵢ + θ zᵢ zₖ sdₗ` of the current node.
    x: Vec<f64>,
    /// Scratch of [`ObsCtx::unit_devs`].
    e: Vec<f64>,
    l: Vec<f64>,
    /// The unit deviances at `x` (or at η, for the mode's own deviance).
    d: Vec<f64>,
}

impl NodePass<'_> {
    /// Fills `x` for the node `zk` (NaN for an observation whose level has no `sd`).
    fn shift(&mut self, zk: f64) {
        let sd = self.sd;
        for (x, ((&r, &tz), &eta)) in self
            .x
            .iter_mut()
            .zip(self.refs.iter().zip(self.tz).zip(self.eta))
        {
            let sl = sd.get(r as usize).copied().unwrap_or(f64::NAN);
            *x = eta + tz * zk * sl;
        }
    }

    /// `devcₗ += Σ_{i∈ℓ} dᵢ`.
    fn add_per_level(&self, devc: &mut [f64]) {
        for (&r, &d) in self.refs.iter().zip(&self.d) {
            if let Some(dc) = devc.get_mut(r as usize) {
                *dc += d;
            }
        }
    }
}

/// A GLMM prepared for PIRLS: data, family and the penalized least-squares solvers.
pub(crate) struct Pirls<'a> {
    pub design: &'a Design,
    pub fam: &'a GlmFamily,
    /// Response (proportions for binomial).
    pub y: Vec<f64>,
    /// Prior weights (times the binomial trials).
    pub pw: Vec<f64>,
    /// Binomial `n` (trials for `cbind`, 1 otherwise).
    pub ntr: Vec<f64>,
    /// Offset (zeros if none).
    pub offset: Vec<f64>,
    /// The PLS solvers for (β, u) and for u alone, chosen on first use ([`choose`]).
    solver_full: Option<Box<dyn PenalizedSolver>>,
    solver_u: Option<Box<dyn PenalizedSolver>>,
    /// The blocked solver for the covariances at the optimum when the (β, u) solver is
    /// another one.
    final_blocked: Option<BlockedPls>,
    /// PIRLS tolerance on the relative change of the penalized deviance.
    pub tol: f64,
    /// Maximal PIRLS iterations.
    pub maxit: usize,
    /// Objective evaluations so far.
    pub evaluations: usize,
    /// Working weights of the last factorization.
    pub w: Vec<f64>,
    z: Vec<f64>,
    fast: Fast,
    /// μ-free part of the unit deviance per observation (fast paths only, see
    /// [`crate::family::deviance_constant`]).
    dev_const: Vec<f64>,
    /// `aic − Σ dᵢ` when it does not depend on μ (binomial with whole counts, Poisson).
    aic_offset: Option<f64>,
    start: StartCache,
    buf: Buffers,
}

impl<'a> Pirls<'a> {
    pub fn new(
        design: &'a Design,
        fam: &'a GlmFamily,
        y: Vec<f64>,
        pw: Vec<f64>,
        ntr: Vec<f64>,
    ) -> Self {
        let n = design.nobs();
        let offset = design.offset.clone().unwrap_or_else(|| vec![0.0; n]);
        let kinds = (fam.family.builtin_kind(), fam.link.builtin_kind());
        let fast = match kinds {
            (Some(FamilyKind::Binomial), Some(LinkKind::Logit)) => Fast::BinomialLogit,
            (Some(FamilyKind::Poisson), Some(LinkKind::Log)) => Fast::PoissonLog,
            _ => Fast::Generic,
        };
        let dev_const = match kinds.0 {
            Some(k) if fast != Fast::Generic => y
                .iter()
                .map(|&v| deviance_constant(k, v).unwrap_or(f64::NAN))
                .collect(),
            _ => Vec::new(),
        };
        let aic_offset = kinds.0.and_then(|k| aic_minus_deviance(k, &y, &ntr, &pw));
        Pirls {
            design,
            fam,
            y,
            pw,
            ntr,
            offset,
            solver_full: None,
            solver_u: None,
            final_blocked: None,
            tol: 1e-7,
            maxit: 100,
            evaluations: 0,
            w: vec![0.0; n],
            z: vec![0.0; n],
            fast,
            dev_const,
            aic_offset,
            start: StartCache::default(),
            buf: Buffers::default(),
        }
    }

    /// `out += Xβ`.
    fn add_x_beta(&self, beta: &[f64], out: &mut [f64]) {
        let x = &self.design.x;
        for (a, b) in beta.iter().enumerate() {
            if *b == 0.0 {
                continue;
            }
            let col = x.col_as_slice(a);
            for (o, v) in out.iter_mut().zip(col) {
                *o += v * b;
            }
        }
    }

    /// `out += ZΛu` (the reference for [`Pirls::trial`]'s η in the tests).
    #[cfg(test)]
    fn add_z_lambda_u(&self, lambda: &[Vec<f64>], u: &[Vec<f64>], out: &mut [f64]) {
        for ((t, lam), uj) in self.design.terms.iter().zip(lambda).zip(u) {
            let k = t.k;
            if k == 1 {
                let th = lam.first().copied().unwrap_or(0.0);
                for ((e, &l), &z) in out.iter_mut().zip(&t.refs).zip(&t.z) {
                    *e += z * th * uj[l as usize];
                }
                continue;
            }
            // b = Λu per level, then η += Z b.
            let mut b = vec![0.0; t.q()];
            for l in 0..t.nlevels() {
                for r in 0..k {
                    let mut acc = 0.0;
                    for c in 0..=r {
                        acc += lam[r * k + c] * uj[l * k + c];
                    }
                    b[l * k + r] = acc;
                }
            }
            for (i, e) in out.iter_mut().enumerate() {
                let l = t.refs[i] as usize;
                for c in 0..k {
                    *e += t.z[i * k + c] * b[l * k + c];
                }
            }
        }
    }

    /// The per-observation family context.
    fn ctx(&self) -> ObsCtx<'_> {
        ObsCtx {
            fast: self.fast,
            y: &self.y,
            pw: &self.pw,
            dev_const: &self.dev_const,
            fam: self.fam,
        }
    }

    /// Fill μ and dμ/dη from η; returns `Σ dᵢ` (`NaN` if any η or μ is invalid).
    fn mu_dev_into(&self, eta: &[f64], mu: &mut [f64], me: &mut [f64]) -> f64 {
        self.ctx().obs_chunk(0, eta, mu, me)
    }

    /// Make the start cache hold μ and dμ/dη at `eta0`.
    fn prepare_start(&mut self, eta0: &[f64]) {
        if self.start.eta.as_slice() == eta0 && !eta0.is_empty() {
            return;
        }
        let n = eta0.len();
        let mut mu = vec![0.0; n];
        let mut me = vec![0.0; n];
        self.mu_dev_into(eta0, &mut mu, &mut me);
        let mut w = vec![0.0; n];
        let mut r = vec![0.0; n];
        let zero = vec![0.0; n];
        // With base 0 and η 0, `working` leaves (y − μ)/(dμ/dη) in z.
        working(self.ctx(), [&zero, &mu, &me], &zero, &mut w, &mut r);
        let w_finite = w.iter().all(|v| v.is_finite());
        self.start = StartCache {
            eta: eta0.to_vec(),
            w,
            w_finite,
            r,
        };
    }

    /// Run PIRLS at θ from the linear predictor `eta0`: for u with β fixed (`Some`), or for
    /// (β, u) jointly (`None`). The state's η and μ are left empty (they are in `buf`).
    fn run_inner(
        &mut self,
        theta: &[f64],
        fixed_beta: Option<&[f64]>,
        eta0: &[f64],
    ) -> Result<PirlsState, String> {
        let n = self.design.nobs();
        self.prepare_start(eta0);
        let mut buf = std::mem::take(&mut self.buf);
        for v in [
            &mut buf.base,
            &mut buf.eta,
            &mut buf.mu,
            &mut buf.me,
            &mut buf.eta_try,
            &mut buf.mu_try,
            &mut buf.me_try,
        ] {
            v.resize(n, 0.0);
        }
        let out = self.run_with(theta, fixed_beta, &mut buf);
        self.buf = buf;
        out
    }

    /// [`Pirls::run`] with η and μ of the converged state copied out of the buffers.
    pub fn run(
        &mut self,
        theta: &[f64],
        fixed_beta: Option<&[f64]>,
        eta0: &[f64],
    ) -> Result<PirlsState, String> {
        let mut s = self.run_inner(theta, fixed_beta, eta0)?;
        s.eta = self.buf.eta.clone();
        s.mu = self.buf.mu.clone();
        Ok(s)
    }

    /// PIRLS as [`Pirls::run`], then the Laplace objective (`rule` `None`) or the AGQ one,
    /// reading η and μ in place (no copy of the length-n vectors per evaluation).
    pub fn objective(
        &mut self,
        theta: &[f64],
        fixed_beta: Option<&[f64]>,
        eta0: &[f64],
        rule: Option<&GhRule>,
    ) -> Result<f64, String> {
        let mut s = self.run_inner(theta, fixed_beta, eta0)?;
        s.eta = std::mem::take(&mut self.buf.eta);
        s.mu = std::mem::take(&mut self.buf.mu);
        let v = match rule {
            Some(r) => self.agq(theta, &s, r),
            None => self.laplace(&s),
        };
        self.buf.eta = s.eta;
        self.buf.mu = s.mu;
        Ok(v)
    }

    fn run_with(
        &mut self,
        theta: &[f64],
        fixed_beta: Option<&[f64]>,
        buf: &mut Buffers,
    ) -> Result<PirlsState, String> {
        let lambda = self.design.lambdas(theta);
        // Base of the linear predictor that the PLS problem does not estimate.
        buf.base.copy_from_slice(&self.offset);
        if let Some(b) = fixed_beta {
            self.add_x_beta(b, &mut buf.base);
        }
        let mut oldpdev = f64::MAX;
        let mut prev: Option<(Vec<f64>, Vec<Vec<f64>>)> = None;
        let mut ld_l2 = f64::NAN;
        let mut state: Option<Converged> = None;
        let mut converged = false;
        for it in 0..self.maxit {
            let ctx = ObsCtx {
                fast: self.fast,
                y: &self.y,
                pw: &self.pw,
                dev_const: &self.dev_const,
                fam: self.fam,
            };
            // The first iterate is the start (cached per stage, not copied).
            let finite = if it == 0 {
                working_start(&self.start, &buf.base, &mut self.w, &mut self.z)
            } else {
                let cur = [&buf.eta[..], &buf.mu[..], &buf.me[..]];
                working(ctx, cur, &buf.base, &mut self.w, &mut self.z)
            };
            if !finite {
                return Err("non-finite working weights or response in PIRLS".into());
            }
            let design = self.design;
            let solver = match fixed_beta {
                Some(_) => &mut self.solver_u,
                None => &mut self.solver_full,
            }
            .get_or_insert_with(|| choose(design, fixed_beta.is_none()));
            let PlsStep {
                beta: b,
                u,
                ld_l2: ld,
            } = solver
                .solve(design, theta, &self.w, &self.z)
                .ok_or_else(|| "the penalized least-squares factorization failed".to_string())?;
            ld_l2 = ld;
            let mut beta = match fixed_beta {
                Some(fb) => fb.to_vec(),
                None => b,
            };
            let mut u = u;
            // η, μ and Σ dᵢ of a trial (β, u) into the trial buffers; returns (Σ dᵢ, ‖u‖²).
            let eval = |beta: &[f64], u: &[Vec<f64>], this: &Self, buf: &mut Buffers| {
                let dev = this.trial(&lambda, fixed_beta.is_none().then_some(beta), u, buf);
                let usq: f64 = u.iter().flatten().map(|v| v * v).sum();
                (dev, usq)
            };
            let (mut d, mut usq) = eval(&beta, &u, self, buf);
            let mut pdev = d + usq;
            if ((oldpdev - pdev) / pdev).abs() < self.tol {
                std::mem::swap(&mut buf.eta, &mut buf.eta_try);
                std::mem::swap(&mut buf.mu, &mut buf.mu_try);
                std::mem::swap(&mut buf.me, &mut buf.me_try);
                state = Some((beta, u, d, usq));
                converged = true;
                break;
            }
            if pdev.is_nan() || pdev > oldpdev {
                if let Some((pb, pu)) = &prev {
                    for _ in 0..20 {
                        if !(pdev.is_nan() || pdev > oldpdev) {
                            break;
                        }
                        for (x, p) in beta.iter_mut().zip(pb) {
                            *x = (*x + p) / 2.0;
                        }
                        for (uj, pj) in u.iter_mut().zip(pu) {
                            for (x, p) in uj.iter_mut().zip(pj) {
                                *x = (*x + p) / 2.0;
                            }
                        }
                        (d, usq) = eval(&beta, &u, self, buf);
                        pdev = d + usq;
                    }
                }
                if pdev.is_nan() {
                    return Err("PIRLS produced an invalid mean (NaN deviance)".into());
                }
                if pdev - oldpdev > self.tol {
                    return Err("PIRLS step halvings failed to reduce the deviance".into());
                }
            }
            std::mem::swap(&mut buf.eta, &mut buf.eta_try);
            std::mem::swap(&mut buf.mu, &mut buf.mu_try);
            std::mem::swap(&mut buf.me, &mut buf.me_try);
            oldpdev = pdev;
            state = Some((beta.clone(), u.clone(), d, usq));
            prev = Some((beta, u));
        }
        if !converged {
            return Err(format!(
                "PIRLS did not converge in {} iterations",
                self.maxit
            ));
        }
        let (beta, u, dev, usq) = state.ok_or("PIRLS made no step")?;
        // η and μ stay in the buffers; `run` copies them out, `objective` reads them there.
        Ok(PirlsState {
            eta: Vec::new(),
            mu: Vec::new(),
            u,
            beta,
            ld_l2,
            usq,
            dev,
        })
    }

    /// The trial iterate in one pass over the observations: `η = base (+ Xβ) + ZΛu` (in the
    /// order of [`Pirls::add_x_beta`] and [`Pirls::add_z_lambda_u`], so η is the same to the
    /// bit), μ and dμ/dη into the trial buffers; returns `Σ dᵢ`, summed within fixed chunks of
    /// observations ([`chunk_len`]) and then over the chunks in order — the same whether the
    /// chunks run on one thread or several.
    fn trial(
        &self,
        lambda: &[Vec<f64>],
        beta: Option<&[f64]>,
        u: &[Vec<f64>],
        buf: &mut Buffers,
    ) -> f64 {
        let Buffers {
            base,
            eta_try,
            mu_try,
            me_try,
            ..
        } = buf;
        let n = base.len();
        let ctx = self.ctx();
        let x = &self.design.x;
        let xb: Vec<(&[f64], f64)> = beta
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0.0)
            .map(|(a, &b)| (x.col_as_slice(a), b))
            .collect();
        let terms: Vec<TermEta<'_>> = self
            .design
            .terms
            .iter()
            .zip(lambda)
            .zip(u)
            .map(|((t, lam), uj)| {
                if t.k == 1 {
                    TermEta::Scalar {
                        th: lam.first().copied().unwrap_or(0.0),
                        refs: &t.refs,
                        z: &t.z,
                        u: uj,
                    }
                } else {
                    TermEta::Vector {
                        k: t.k,
                        refs: &t.refs,
                        z: &t.z,
                        b: term_b(t.k, t.nlevels(), lam, uj),
                    }
                }
            })
            .collect();
        // Two scalar terms (the usual crossed model), read without the match per term.
        type Scal<'t> = (f64, &'t [u32], &'t [f64], &'t [f64]);
        let two: Option<[Scal<'_>; 2]> = match terms.as_slice() {
            [
                TermEta::Scalar {
                    th: ta,
                    refs: ra,
                    z: za,
                    u: ua,
                },
                TermEta::Scalar {
                    th: tb,
                    refs: rb,
                    z: zb,
                    u: ub,
                },
            ] => Some([(*ta, *ra, *za, *ua), (*tb, *rb, *zb, *ub)]),
            _ => None,
        };
        let ch = chunk_len(n);
        let base = &base[..];
        let run = |c: usize, eta: &mut [f64], mu: &mut [f64], me: &mut [f64]| -> f64 {
            let off = c * ch;
            for (k, e_out) in eta.iter_mut().enumerate() {
                let i = off + k;
                let mut e = base[i];
                for &(col, b) in &xb {
                    e += col[i] * b;
                }
                if let Some([(ta, ra, za, ua), (tb, rb, zb, ub)]) = two {
                    e += za[i] * ta * ua[ra[i] as usize];
                    e += zb[i] * tb * ub[rb[i] as usize];
                } else {
                    for t in &terms {
                        match t {
                            TermEta::Scalar { th, refs, z, u } => {
                                e += z[i] * th * u[refs[i] as usize];
                            }
                            TermEta::Vector { k, refs, z, b } => {
                                let l = refs[i] as usize;
                                for c in 0..*k {
                                    e += z[i * k + c] * b[l * k + c];
                                }
                            }
                        }
                    }
                }
                *e_out = e;
            }
            ctx.obs_chunk(off, eta, mu, me)
        };
        let parts: Vec<f64> = if run_parallel(n) {
            eta_try
                .par_chunks_mut(ch)
                .zip(mu_try.par_chunks_mut(ch))
                .zip(me_try.par_chunks_mut(ch))
                .enumerate()
                .map(|(c, ((e, m), d))| run(c, e, m, d))
                .collect()
        } else {
            eta_try
                .chunks_mut(ch)
                .zip(mu_try.chunks_mut(ch))
                .zip(me_try.chunks_mut(ch))
                .enumerate()
                .map(|(c, ((e, m), d))| run(c, e, m, d))
                .collect()
        };
        parts.iter().fold(0.0, |a, b| a + b)
    }

    /// lme4's Laplace objective at a PIRLS state.
    pub fn laplace(&self, s: &PirlsState) -> f64 {
        let aic = match self.aic_offset {
            Some(c) => s.dev + c,
            None => self
                .fam
                .family
                .aic(&self.y, &self.ntr, &s.mu, &self.pw, s.dev),
        };
        s.ld_l2 + s.usq + aic
    }

    /// lme4's AGQ objective at a u-only PIRLS state (one scalar random-effects term).
    ///
    /// The quadrature passes (one per non-zero node, each over all observations) are the cost
    /// of an AGQ evaluation. Each runs in loops over the observations: the shifted η
    /// ([`NodePass::shift`]), the unit deviances ([`ObsCtx::unit_devs`], vectorised for
    /// binomial–logit and Poisson–log) and their sums per level ([`NodePass::add_per_level`]).
    pub fn agq(&self, theta: &[f64], s: &PirlsState, rule: &GhRule) -> f64 {
        let Some(t) = self.design.terms.first() else {
            return f64::NAN;
        };
        let th = theta.first().copied().unwrap_or(0.0);
        let nl = t.nlevels();
        let n = self.design.nobs();
        let (Some(u), true) = (s.u.first(), t.refs.len() == n && s.eta.len() == n) else {
            return f64::NAN;
        };
        let ctx = self.ctx();
        let mut lsq = vec![1.0; nl];
        for i in 0..n {
            lsq[t.refs[i] as usize] += th * th * self.w[i] * t.z[i] * t.z[i];
        }
        let sd: Vec<f64> = lsq.iter().map(|v| 1.0 / v.sqrt()).collect();
        // θ zᵢ, the first product of the node's shift θ zᵢ zₖ sdₗ.
        let tz: Vec<f64> = t.z.iter().map(|z| th * z).collect();
        let mut mult = vec![0.0; nl];
        let mut devc = vec![0.0; nl];
        let mut pass = NodePass {
            refs: &t.refs,
            tz: &tz,
            eta: &s.eta,
            sd: &sd,
            x: vec![0.0; n],
            e: vec![0.0; n],
            l: vec![0.0; n],
            d: vec![0.0; n],
        };
        // At the modes: ‖u‖² and the unit deviances at η, per level (the same pass as the
        // nodes', so that the differences d − d₀ are of like with like).
        let mut devc0: Vec<f64> = u.iter().map(|v| v * v).collect();
        ctx.unit_devs(&s.eta, &mut pass.e, &mut pass.l, &mut pass.d);
        pass.add_per_level(&mut devc0);
        for k in 0..rule.z.len() {
            let zk = rule.z[k];
            if zk == 0.0 {
                mult.iter_mut().for_each(|m| *m += rule.w[k]);
                continue;
            }
            for ((d, &ul), &sl) in devc.iter_mut().zip(u).zip(&sd) {
                let uk = ul + zk * sl;
                *d = uk * uk;
            }
            pass.shift(zk);
            ctx.unit_devs(&pass.x, &mut pass.e, &mut pass.l, &mut pass.d);
            pass.add_per_level(&mut devc);
            let c = rule.w[k] / (2.0 * std::f64::consts::PI).sqrt();
            for ((m, &d), &d0) in mult.iter_mut().zip(&devc).zip(&devc0) {
                *m += fastmath::exp(-0.5 * (d - d0) - rule.ldnorm[k]) * c;
            }
        }
        let sum0: f64 = devc0.iter().sum();
        let lm: f64 = mult.iter().map(|m| m.ln()).sum();
        sum0 + s.ld_l2 - 2.0 * lm
    }

    /// The full-X PLS factor at a converged state (weights and working response at μ̂):
    /// returns `(R_X'R_X)⁻¹` and the diagonal blocks of `(L L')⁻¹` per term.
    pub fn final_factor(
        &mut self,
        theta: &[f64],
        s: &PirlsState,
    ) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
        let n = self.design.nobs();
        let link = &self.fam.link;
        let fam = &self.fam.family;
        for i in 0..n {
            let me = link.mu_eta(s.eta[i]);
            let v = fam.variance(s.mu[i]);
            self.w[i] = (self.pw[i] * me * me / v).max(0.0);
            self.z[i] = s.eta[i] - self.offset[i] + (self.y[i] - s.mu[i]) / me;
        }
        let design = self.design;
        let blocked = match self.solver_full.as_mut().and_then(|s| s.blocked()) {
            Some(b) => b,
            None => self
                .final_blocked
                .get_or_insert_with(|| BlockedPls::new(design, true)),
        };
        blocked.covariances(design, theta, &self.w, &self.z)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use crate::family::FamilySpec;
    use faer::Mat;
    use multilevel_design::{CovarianceSpec, ReTerm};

    /// A linear congruential generator in [0, 1) for the test designs (also used by the
    /// scalar-term solver's tests).
    pub(crate) fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A scalar term (9 levels), a vector term (5 levels, intercept and slope) and X = [1, x].
    fn design(n: usize) -> Design {
        let mut seed = 3u64;
        let x: Vec<f64> = (0..n).map(|_| lcg(&mut seed) * 2.0 - 1.0).collect();
        let scalar = ReTerm {
            group: "a".into(),
            levels: (0..9).map(|l| format!("A{l}")).collect(),
            refs: (0..n).map(|i| ((i * 7 + i / 5) % 9) as u32).collect(),
            k: 1,
            z: vec![1.0; n],
            col_names: vec!["(Intercept)".into()],
            formula_order: 0,
            structure: CovarianceSpec::unstructured(1),
        };
        let vector = ReTerm {
            group: "b".into(),
            levels: (0..5).map(|l| format!("B{l}")).collect(),
            refs: (0..n).map(|i| (i % 5) as u32).collect(),
            k: 2,
            z: (0..n).flat_map(|i| [1.0, x[i]]).collect(),
            col_names: vec!["(Intercept)".into(), "x".into()],
            formula_order: 1,
            structure: CovarianceSpec::unstructured(2),
        };
        let y = (0..n).map(|_| (lcg(&mut seed) * 4.0).floor()).collect();
        let offset = Some((0..n).map(|_| lcg(&mut seed) * 0.2).collect());
        intercept_slope_design(
            "y ~ x + (1 | a) + (x | b)",
            &x,
            y,
            vec![scalar, vector],
            offset,
        )
    }

    /// A design with `X = [1, x]` (columns `(Intercept)` and `x`), the given response, random
    /// terms and offset (also used by the scalar-term solver's tests).
    pub(crate) fn intercept_slope_design(
        formula: &str,
        x: &[f64],
        y: Vec<f64>,
        terms: Vec<ReTerm>,
        offset: Option<Vec<f64>>,
    ) -> Design {
        let n = x.len();
        let mut xm = Mat::zeros(n, 2);
        for i in 0..n {
            xm[(i, 0)] = 1.0;
            xm[(i, 1)] = x[i];
        }
        Design {
            formula: formula.into(),
            response_name: "y".into(),
            y,
            trials: None,
            x: xm,
            x_names: vec!["(Intercept)".into(), "x".into()],
            x_assign: vec![0, 1],
            fixed_term_labels: vec!["(Intercept)".into(), "x".into()],
            dropped_columns: Vec::new(),
            terms,
            weights: None,
            offset,
            n_dropped_missing: 0,
            data_name: "test".into(),
        }
    }

    #[test]
    fn the_fused_trial_pass_equals_the_term_by_term_sums() {
        let n = 5000;
        let d = design(n);
        let fam = FamilySpec::poisson().build();
        let p = Pirls::new(&d, &fam, d.y.clone(), vec![1.0; n], vec![1.0; n]);
        let theta = [0.7, 0.9, -0.2, 0.4];
        let lambda = d.lambdas(&theta);
        let mut seed = 17u64;
        let u = vec![
            (0..9).map(|_| lcg(&mut seed) - 0.5).collect::<Vec<f64>>(),
            (0..10).map(|_| lcg(&mut seed) - 0.5).collect(),
        ];
        let beta = [0.3, -0.6];
        for fixed in [false, true] {
            let mut buf = Buffers::default();
            for v in [
                &mut buf.base,
                &mut buf.eta_try,
                &mut buf.mu_try,
                &mut buf.me_try,
            ] {
                v.resize(n, 0.0);
            }
            buf.base.copy_from_slice(&p.offset);
            if fixed {
                p.add_x_beta(&beta, &mut buf.base);
            }
            // Reference: offset (+ Xβ) + ZΛu column by column, then μ and Σ dᵢ in one sum.
            let mut eta = buf.base.clone();
            if !fixed {
                p.add_x_beta(&beta, &mut eta);
            }
            p.add_z_lambda_u(&lambda, &u, &mut eta);
            let (mut mu, mut me) = (vec![0.0; n], vec![0.0; n]);
            let dev = p.mu_dev_into(&eta, &mut mu, &mut me);
            let run = |threads: usize, buf: &mut Buffers| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| p.trial(&lambda, (!fixed).then_some(&beta[..]), &u, buf))
            };
            let dev1 = run(1, &mut buf);
            for i in 0..n {
                assert_eq!(buf.eta_try[i].to_bits(), eta[i].to_bits(), "eta {i}");
                assert_eq!(buf.mu_try[i].to_bits(), mu[i].to_bits(), "mu {i}");
                assert_eq!(buf.me_try[i].to_bits(), me[i].to_bits(), "mu.eta {i}");
            }
            // Σ dᵢ is summed per chunk: equal up to rounding, and the same on any pool.
            assert!((dev1 - dev).abs() <= 1e-12 * dev.abs(), "{dev1} vs {dev}");
            let dev2 = run(2, &mut buf);
            assert_eq!(dev1.to_bits(), dev2.to_bits());
        }
    }

    #[test]
    fn deviance_only_paths_equal_the_fused_observation_code() {
        let n = 400;
        let d = design(n);
        let mut seed = 23u64;
        let etas: Vec<f64> = (0..n)
            .map(|i| match i % 50 {
                0 => 40.0,
                1 => -40.0,
                2 => 750.0,
                3 => -750.0,
                _ => (lcg(&mut seed) - 0.5) * 12.0,
            })
            .collect();
        // The batched transcendental passes of the AGQ loop.
        let (mut e1, mut l1, mut m1) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        fastmath::exp_ln1p_neg_abs(&etas, &mut e1, &mut l1);
        fastmath::exp_clamped(&etas, &mut m1);
        let close = |a: f64, b: f64| {
            a.to_bits() == b.to_bits() || (a - b).abs() <= 1e-14 * b.abs().max(1.0)
        };
        let same_or_both_nan =
            |a: f64, b: f64| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * b.abs();
        let bin = FamilySpec::parse("binomial", None).unwrap().build();
        let yb: Vec<f64> = (0..n).map(|i| (i % 5) as f64 / 4.0).collect();
        let pb = Pirls::new(&d, &bin, yb, vec![4.0; n], vec![4.0; n]);
        let pois = FamilySpec::poisson().build();
        let pp = Pirls::new(&d, &pois, d.y.clone(), vec![1.0; n], vec![1.0; n]);
        let (mut vb, mut vp) = (vec![0.0; n], vec![0.0; n]);
        pb.ctx().binomial_logit_devs(&etas, &l1, &mut vb);
        pp.ctx().poisson_log_devs(&etas, &m1, &mut vp);
        // The AGQ's deviance-only pass, with its scalar fix-ups: every unit deviance as the
        // scalar code's (NaN where that is NaN).
        for (ctx, fam) in [(pb.ctx(), "binomial"), (pp.ctx(), "poisson")] {
            let (mut e, mut l, mut dv) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            ctx.unit_devs(&etas, &mut e, &mut l, &mut dv);
            for (i, &x) in etas.iter().enumerate() {
                let want = ctx.obs(i, x).2;
                assert!(
                    (dv[i].is_nan() && want.is_nan()) || close(dv[i], want),
                    "{fam} η = {x}: {} vs {want}",
                    dv[i]
                );
            }
        }
        // The chunked pass of PIRLS: μ, dμ/dη and Σ dᵢ as the scalar code, to a few ulp.
        for (ctx, fam) in [(pb.ctx(), "binomial"), (pp.ctx(), "poisson")] {
            let (mut mu, mut me) = (vec![0.0; n], vec![0.0; n]);
            let sum = ctx.obs_chunk(0, &etas, &mut mu, &mut me);
            let mut reference = 0.0;
            for (i, &e) in etas.iter().enumerate() {
                let (m, d, di) = ctx.obs(i, e);
                reference += di;
                let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || close(a, b);
                assert!(same(mu[i], m) && same(me[i], d), "{fam} η = {e}");
            }
            assert!(
                same_or_both_nan(sum, reference),
                "{fam}: {sum} vs {reference}"
            );
        }
        for (i, &e) in etas.iter().enumerate() {
            let (cb, cp) = (pb.ctx(), pp.ctx());
            let (db, dp) = (
                cb.dev_binomial_logit(i, e, e1[i], l1[i]),
                cp.dev_poisson_log(i, e, m1[i]),
            );
            assert!(
                close(db, cb.obs(i, e).2),
                "η = {e}: {db} vs {}",
                cb.obs(i, e).2
            );
            assert!(
                close(dp, cp.obs(i, e).2),
                "η = {e}: {dp} vs {}",
                cp.obs(i, e).2
            );
            // The vectorised passes, where the AGQ loop takes them.
            if e1[i] >= BINOMIAL_E_MIN {
                assert_eq!(vb[i].to_bits(), db.to_bits(), "η = {e}");
            } else {
                assert!(e.abs() > 36.0, "η = {e}");
            }
            if (-708.0..=709.0).contains(&e) && m1[i] >= f64::EPSILON {
                assert_eq!(vp[i].to_bits(), dp.to_bits(), "η = {e}");
            }
            // The fused binomial deviance agrees with the family's own to rounding.
            let mu = cb.obs(i, e).0;
            let reference = bin.family.dev_resid(pb.y[i], mu, pb.pw[i]);
            assert!((cb.obs(i, e).2 - reference).abs() <= 1e-12 * reference.abs().max(1.0));
        }
    }

    #[test]
    fn the_cached_start_gives_the_working_values_of_the_start() {
        let n = 3000;
        let d = design(n);
        let fam = FamilySpec::poisson().build();
        let mut p = Pirls::new(&d, &fam, d.y.clone(), vec![1.0; n], vec![1.0; n]);
        let eta0: Vec<f64> = d.y.iter().map(|y| (y + 0.1f64).ln()).collect();
        p.prepare_start(&eta0);
        let (mut mu, mut me) = (vec![0.0; n], vec![0.0; n]);
        p.mu_dev_into(&eta0, &mut mu, &mut me);
        let base: Vec<f64> = p.offset.iter().map(|o| o + 0.25).collect();
        let (mut w1, mut z1, mut w2, mut z2) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        assert!(working(p.ctx(), [&eta0, &mu, &me], &base, &mut w1, &mut z1));
        assert!(working_start(&p.start, &base, &mut w2, &mut z2));
        for i in 0..n {
            assert_eq!(w1[i].to_bits(), w2[i].to_bits());
            assert_eq!(z1[i].to_bits(), z2[i].to_bits());
        }
    }
}
