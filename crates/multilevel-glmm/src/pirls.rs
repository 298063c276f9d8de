//! Penalized iteratively reweighted least squares and the Laplace / AGQ objectives.
//!
//! At fixed θ (and β, unless β is profiled) the conditional modes `û` maximise
//! `−½ [Σ dᵢ(yᵢ, μᵢ) + ‖u‖²]`, `μ = g⁻¹(offset + Xβ + ZΛu)`, with `dᵢ` the weighted unit
//! deviances. Each PIRLS step forms the working weights `wᵢ = pwᵢ (dμ/dη)² / V(μ)` and the
//! working response `zᵢ = ηᵢ − oᵢ + (yᵢ − μᵢ)/(dμ/dη)` (`oᵢ` = offset, plus `Xβ` when β is
//! fixed), and solves the penalized weighted least-squares problem with the LMM engine's
//! blocked Cholesky factor ([`ProfiledDeviance::update`] + `factor_summary` + `solve`): for u
//! alone (a copy of the design whose `X` has no columns) or for (β, u) jointly (lme4's
//! `nAGQ = 0` stage). Convergence as lme4's `pwrssUpdate`: relative change of the penalized
//! deviance `Σ dᵢ + ‖u‖²` below `tol` (1e-7); an increase triggers up to 20 step halvings
//! towards the previous iterate.
//!
//! Speed without changing the algorithm: models whose random-effects terms are all scalar use
//! [`ScalarPls`] (a diagonal first block and a small dense Schur complement, no general cross
//! products per step); binomial–logit and Poisson–log evaluate μ, dμ/dη and the unit deviance
//! in one fused pass with one `exp` (and one `ln_1p`) per observation; μ at the starting
//! linear predictor (the same for every evaluation of a stage) is computed once; the Laplace
//! objective of binomial (whole counts) and Poisson fits is `Σ dᵢ + C` with the data-only
//! constant `C` computed once (see `family::aic_minus_deviance`); the length-n buffers are
//! reused across iterations and evaluations.
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

use faer::Mat;
use multilevel_design::Design;
use multilevel_lmm::ProfiledDeviance;

use crate::family::{FamilyKind, GlmFamily, LinkKind, aic_minus_deviance, deviance_constant};
use crate::quadrature::GhRule;
use crate::scalar_pls::ScalarPls;

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

/// Λ of each term, `k × k` row-major lower triangular, from θ (lme4's column-major layout).
pub(crate) fn lambda_blocks(design: &Design, theta: &[f64]) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(design.terms.len());
    let mut idx = 0;
    for t in &design.terms {
        let k = t.k;
        let mut lam = vec![0.0; k * k];
        for c in 0..k {
            for r in c..k {
                lam[r * k + c] = theta.get(idx).copied().unwrap_or(0.0);
                idx += 1;
            }
        }
        out.push(lam);
    }
    out
}

/// `b = Λu` per term.
pub(crate) fn b_from_u(design: &Design, lambda: &[Vec<f64>], u: &[Vec<f64>]) -> Vec<Vec<f64>> {
    design
        .terms
        .iter()
        .zip(lambda.iter().zip(u))
        .map(|(t, (lam, uj))| {
            let k = t.k;
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
            b
        })
        .collect()
}

/// `(β, u, Σ dᵢ, ‖u‖²)` of an accepted PIRLS iterate.
type Converged = (Vec<f64>, Vec<Vec<f64>>, f64, f64);

/// Fused per-observation code for the common family–link pairs (same numbers as the generic
/// trait calls, fewer transcendental functions): binomial–logit needs one `exp` and one
/// `ln_1p` per observation for μ, dμ/dη and the unit deviance, Poisson–log one `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    BinomialLogit,
    PoissonLog,
    Generic,
}

/// μ, dμ/dη and V(μ) at the linear predictor a PIRLS run starts from (the same `η₀` for every
/// evaluation of a stage, so they are computed once).
#[derive(Debug, Default)]
struct StartCache {
    eta: Vec<f64>,
    mu: Vec<f64>,
    me: Vec<f64>,
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

/// A GLMM prepared for PIRLS: data, family and the two PLS engines.
pub(crate) struct Pirls<'a> {
    pub design: &'a Design,
    design0: Design,
    pub fam: &'a GlmFamily,
    /// Response (proportions for binomial).
    pub y: Vec<f64>,
    /// Prior weights (times the binomial trials).
    pub pw: Vec<f64>,
    /// Binomial `n` (trials for `cbind`, 1 otherwise).
    pub ntr: Vec<f64>,
    /// Offset (zeros if none).
    pub offset: Vec<f64>,
    /// The LMM engine's PLS for (β, u) and for u alone, built on first use (vector-valued
    /// terms, and the final factor).
    dev_full: Option<ProfiledDeviance>,
    dev_u: Option<ProfiledDeviance>,
    /// The all-scalar-terms PLS for (β, u) and for u alone, when it applies.
    spls_full: Option<ScalarPls>,
    spls_u: Option<ScalarPls>,
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
        let mut design0 = design.clone();
        design0.x = Mat::zeros(n, 0);
        design0.x_names.clear();
        design0.x_assign.clear();
        design0.weights = None;
        design0.offset = None;
        let spls_full = ScalarPls::new(design, true);
        let spls_u = ScalarPls::new(design, false);
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
            design0,
            fam,
            y,
            pw,
            ntr,
            offset,
            dev_full: None,
            dev_u: None,
            spls_full,
            spls_u,
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

    /// `out += ZΛu`.
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

    /// μ, dμ/dη and the weighted unit deviance of observation `i` at `eta` (deviance `NaN`
    /// when η or μ is invalid).
    #[inline]
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
                    let l1 = e.ln_1p();
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

    /// Fill μ and dμ/dη from η; returns `Σ dᵢ` (`NaN` if any η or μ is invalid).
    fn mu_dev_into(&self, eta: &[f64], mu: &mut [f64], me: &mut [f64]) -> f64 {
        let mut dev = 0.0;
        for (i, &e) in eta.iter().enumerate() {
            let (m, d, di) = self.obs(i, e);
            mu[i] = m;
            me[i] = d;
            dev += di;
        }
        dev
    }

    /// `V(μ)`.
    #[inline]
    fn variance(&self, mu: f64) -> f64 {
        match self.fast {
            Fast::BinomialLogit => (mu * (1.0 - mu)).max(f64::EPSILON),
            Fast::PoissonLog => mu,
            Fast::Generic => self.fam.family.variance(mu),
        }
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
        self.start = StartCache {
            eta: eta0.to_vec(),
            mu,
            me,
        };
    }

    /// Run PIRLS at θ from the linear predictor `eta0`: for u with β fixed (`Some`), or for
    /// (β, u) jointly (`None`).
    pub fn run(
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
        buf.eta.copy_from_slice(&self.start.eta);
        buf.mu.copy_from_slice(&self.start.mu);
        buf.me.copy_from_slice(&self.start.me);
        let out = self.run_with(theta, fixed_beta, &mut buf);
        self.buf = buf;
        out
    }

    fn run_with(
        &mut self,
        theta: &[f64],
        fixed_beta: Option<&[f64]>,
        buf: &mut Buffers,
    ) -> Result<PirlsState, String> {
        let n = self.design.nobs();
        let lambda = lambda_blocks(self.design, theta);
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
        for _ in 0..self.maxit {
            let mut finite = true;
            for i in 0..n {
                let me = buf.me[i];
                let v = self.variance(buf.mu[i]);
                let w = (self.pw[i] * me * me / v).max(0.0);
                let z = buf.eta[i] - buf.base[i] + (self.y[i] - buf.mu[i]) / me;
                finite &= w.is_finite() & z.is_finite();
                self.w[i] = w;
                self.z[i] = z;
            }
            if !finite {
                return Err("non-finite working weights or response in PIRLS".into());
            }
            let (b, u) = if fixed_beta.is_some() && self.single_scalar() {
                let (u, ld) = self.scalar_pls(theta);
                ld_l2 = ld;
                (Vec::new(), vec![u])
            } else if let Some(sp) = match fixed_beta {
                Some(_) => self.spls_u.as_mut(),
                None => self.spls_full.as_mut(),
            } {
                let (b, u, ld) =
                    sp.solve(self.design, theta, &self.w, &self.z)
                        .ok_or_else(|| {
                            "the penalized least-squares factorization failed".to_string()
                        })?;
                ld_l2 = ld;
                (b, u)
            } else {
                let design = self.design;
                let (dev, dsgn) = match fixed_beta {
                    Some(_) => (
                        self.dev_u
                            .get_or_insert_with(|| ProfiledDeviance::new(&self.design0, false)),
                        &self.design0,
                    ),
                    None => (
                        self.dev_full
                            .get_or_insert_with(|| ProfiledDeviance::new(design, false)),
                        design,
                    ),
                };
                dev.update(dsgn, Some(&self.w), &self.z, None);
                let summary = dev.factor_summary(theta).ok_or_else(|| {
                    "the penalized least-squares factorization failed".to_string()
                })?;
                ld_l2 = summary.ld_l2;
                dev.solve()
            };
            let mut beta = match fixed_beta {
                Some(fb) => fb.to_vec(),
                None => b,
            };
            let mut u = u;
            // η, μ and Σ dᵢ of a trial (β, u) into the trial buffers; returns (Σ dᵢ, ‖u‖²).
            let eval = |beta: &[f64], u: &[Vec<f64>], this: &Self, buf: &mut Buffers| {
                buf.eta_try.copy_from_slice(&buf.base);
                if fixed_beta.is_none() {
                    this.add_x_beta(beta, &mut buf.eta_try);
                }
                this.add_z_lambda_u(&lambda, u, &mut buf.eta_try);
                let dev = this.mu_dev_into(&buf.eta_try, &mut buf.mu_try, &mut buf.me_try);
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
        Ok(PirlsState {
            eta: buf.eta.clone(),
            mu: buf.mu.clone(),
            u,
            beta,
            ld_l2,
            usq,
            dev,
        })
    }

    /// Whether the model has exactly one scalar random-effects term (then the u-only PLS
    /// problem is diagonal and is solved level by level).
    fn single_scalar(&self) -> bool {
        self.design.terms.len() == 1 && self.design.terms[0].k == 1
    }

    /// The u-only PLS solution for one scalar term from the current working weights and
    /// response: per level `L² = θ² Σ wᵢzᵢ² + 1`, `u = θ Σ wᵢzᵢ·workᵢ / L²`; returns
    /// `(u, log|L|²)`. Same numbers as the general blocked factor, without forming it.
    fn scalar_pls(&self, theta: &[f64]) -> (Vec<f64>, f64) {
        let t = &self.design.terms[0];
        let th = theta.first().copied().unwrap_or(0.0);
        let nl = t.nlevels();
        let mut a = vec![0.0; nl];
        let mut r = vec![0.0; nl];
        for i in 0..self.design.nobs() {
            let l = t.refs[i] as usize;
            let wz = self.w[i] * t.z[i];
            a[l] += wz * t.z[i];
            r[l] += wz * self.z[i];
        }
        let mut ld = 0.0;
        let u = a
            .iter()
            .zip(&r)
            .map(|(a, r)| {
                let l2 = th * th * a + 1.0;
                ld += l2.ln();
                th * r / l2
            })
            .collect();
        (u, ld)
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
    pub fn agq(&self, theta: &[f64], s: &PirlsState, rule: &GhRule) -> f64 {
        let Some(t) = self.design.terms.first() else {
            return f64::NAN;
        };
        let th = theta.first().copied().unwrap_or(0.0);
        let nl = t.nlevels();
        let u = &s.u[0];
        let mut devc0: Vec<f64> = u.iter().map(|v| v * v).collect();
        let mut lsq = vec![1.0; nl];
        for i in 0..self.design.nobs() {
            let l = t.refs[i] as usize;
            devc0[l] += self.obs(i, s.eta[i]).2;
            lsq[l] += th * th * self.w[i] * t.z[i] * t.z[i];
        }
        let sd: Vec<f64> = lsq.iter().map(|v| 1.0 / v.sqrt()).collect();
        let mut mult = vec![0.0; nl];
        let mut devc = vec![0.0; nl];
        for k in 0..rule.z.len() {
            let zk = rule.z[k];
            if zk == 0.0 {
                mult.iter_mut().for_each(|m| *m += rule.w[k]);
                continue;
            }
            for (l, d) in devc.iter_mut().enumerate() {
                let uk = u[l] + zk * sd[l];
                *d = uk * uk;
            }
            for i in 0..self.design.nobs() {
                let l = t.refs[i] as usize;
                let e = s.eta[i] + th * t.z[i] * zk * sd[l];
                devc[l] += self.obs(i, e).2;
            }
            let c = rule.w[k] / (2.0 * std::f64::consts::PI).sqrt();
            for l in 0..nl {
                mult[l] += (-0.5 * (devc[l] - devc0[l]) - rule.ldnorm[k]).exp() * c;
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
        let dev = self
            .dev_full
            .get_or_insert_with(|| ProfiledDeviance::new(design, false));
        dev.update(design, Some(&self.w), &self.z, None);
        dev.factor_summary(theta)?;
        Some((dev.rx_inverse(), dev.inverse_diag_blocks()))
    }
}
