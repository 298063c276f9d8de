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

use crate::family::GlmFamily;
use crate::quadrature::GhRule;

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
    dev_full: ProfiledDeviance,
    dev_u: ProfiledDeviance,
    /// PIRLS tolerance on the relative change of the penalized deviance.
    pub tol: f64,
    /// Maximal PIRLS iterations.
    pub maxit: usize,
    /// Objective evaluations so far.
    pub evaluations: usize,
    /// Working weights of the last factorization.
    pub w: Vec<f64>,
    z: Vec<f64>,
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
        let dev_full = ProfiledDeviance::new(design, false);
        let dev_u = ProfiledDeviance::new(&design0, false);
        let offset = design.offset.clone().unwrap_or_else(|| vec![0.0; n]);
        Pirls {
            design,
            design0,
            fam,
            y,
            pw,
            ntr,
            offset,
            dev_full,
            dev_u,
            tol: 1e-7,
            maxit: 100,
            evaluations: 0,
            w: vec![0.0; n],
            z: vec![0.0; n],
        }
    }

    /// `Xβ`.
    pub fn x_beta(&self, beta: &[f64]) -> Vec<f64> {
        let x = &self.design.x;
        let mut out = vec![0.0; self.design.nobs()];
        for (a, b) in beta.iter().enumerate() {
            if *b == 0.0 {
                continue;
            }
            let col = x.col_as_slice(a);
            for (o, v) in out.iter_mut().zip(col) {
                *o += v * b;
            }
        }
        out
    }

    /// `ZΛu` added to `base`.
    fn linpred(&self, base: &[f64], lambda: &[Vec<f64>], u: &[Vec<f64>]) -> Vec<f64> {
        let b = b_from_u(self.design, lambda, u);
        let mut eta = base.to_vec();
        for (t, bj) in self.design.terms.iter().zip(&b) {
            let k = t.k;
            for (i, e) in eta.iter_mut().enumerate() {
                let l = t.refs[i] as usize;
                for c in 0..k {
                    *e += t.z[i * k + c] * bj[l * k + c];
                }
            }
        }
        eta
    }

    /// μ and `Σ dᵢ` at η (`NaN` deviance if η or μ is invalid).
    pub fn mu_dev(&self, eta: &[f64]) -> (Vec<f64>, f64) {
        let link = &self.fam.link;
        let fam = &self.fam.family;
        let mut dev = 0.0;
        let mu: Vec<f64> = eta
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let m = link.inverse(e);
                if !link.valid_eta(e) || !fam.valid_mu(m) {
                    dev = f64::NAN;
                }
                dev += fam.dev_resid(self.y[i], m, self.pw[i]);
                m
            })
            .collect();
        (mu, dev)
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
        let lambda = lambda_blocks(self.design, theta);
        // Base of the linear predictor that the PLS problem does not estimate.
        let base: Vec<f64> = match fixed_beta {
            Some(b) => self
                .x_beta(b)
                .iter()
                .zip(&self.offset)
                .map(|(a, o)| a + o)
                .collect(),
            None => self.offset.clone(),
        };
        let mut eta = eta0.to_vec();
        let (mut mu, _) = self.mu_dev(&eta);
        let mut oldpdev = f64::MAX;
        let mut prev: Option<(Vec<f64>, Vec<Vec<f64>>)> = None;
        let mut ld_l2 = f64::NAN;
        let mut state: Option<Converged> = None;
        let mut converged = false;
        for _ in 0..self.maxit {
            {
                let link = &self.fam.link;
                let fam = &self.fam.family;
                for i in 0..n {
                    let me = link.mu_eta(eta[i]);
                    let v = fam.variance(mu[i]);
                    self.w[i] = (self.pw[i] * me * me / v).max(0.0);
                    self.z[i] = eta[i] - base[i] + (self.y[i] - mu[i]) / me;
                }
            }
            if self.w.iter().chain(self.z.iter()).any(|v| !v.is_finite()) {
                return Err("non-finite working weights or response in PIRLS".into());
            }
            let (b, u) = if fixed_beta.is_some() && self.single_scalar() {
                let (u, ld) = self.scalar_pls(theta);
                ld_l2 = ld;
                (Vec::new(), vec![u])
            } else {
                let (dev, dsgn) = match fixed_beta {
                    Some(_) => (&mut self.dev_u, &self.design0),
                    None => (&mut self.dev_full, self.design),
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
            let eval = |beta: &[f64], u: &[Vec<f64>], this: &Self| {
                let mut base2 = base.clone();
                if fixed_beta.is_none() {
                    for (o, v) in base2.iter_mut().zip(this.x_beta(beta)) {
                        *o += v;
                    }
                }
                let eta = this.linpred(&base2, &lambda, u);
                let (mu, dev) = this.mu_dev(&eta);
                let usq: f64 = u.iter().flatten().map(|v| v * v).sum();
                (eta, mu, dev, usq)
            };
            let (mut e, mut m, mut d, mut usq) = eval(&beta, &u, self);
            let mut pdev = d + usq;
            if ((oldpdev - pdev) / pdev).abs() < self.tol {
                eta = e;
                mu = m;
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
                        (e, m, d, usq) = eval(&beta, &u, self);
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
            eta = e;
            mu = m;
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
            eta,
            mu,
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
        s.ld_l2
            + s.usq
            + self
                .fam
                .family
                .aic(&self.y, &self.ntr, &s.mu, &self.pw, s.dev)
    }

    /// lme4's AGQ objective at a u-only PIRLS state (one scalar random-effects term).
    pub fn agq(&self, theta: &[f64], s: &PirlsState, rule: &GhRule) -> f64 {
        let Some(t) = self.design.terms.first() else {
            return f64::NAN;
        };
        let th = theta.first().copied().unwrap_or(0.0);
        let nl = t.nlevels();
        let fam = &self.fam.family;
        let link = &self.fam.link;
        let u = &s.u[0];
        let mut devc0: Vec<f64> = u.iter().map(|v| v * v).collect();
        let mut lsq = vec![1.0; nl];
        for i in 0..self.design.nobs() {
            let l = t.refs[i] as usize;
            devc0[l] += fam.dev_resid(self.y[i], s.mu[i], self.pw[i]);
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
                let m = link.inverse(e);
                devc[l] += fam.dev_resid(self.y[i], m, self.pw[i]);
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
        self.dev_full
            .update(self.design, Some(&self.w), &self.z, None);
        self.dev_full.factor_summary(theta)?;
        Some((
            self.dev_full.rx_inverse(),
            self.dev_full.inverse_diag_blocks(),
        ))
    }
}
