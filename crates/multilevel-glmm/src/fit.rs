//! Fitting a GLMM the way `glmer` does, and everything lme4 reports after it.
//!
//! 1. Starting values: μ from the family's `initialize` (R's `mustart`), η = g(μ); one PIRLS
//!    run for (β, u) at the starting θ gives the linear predictor every stage-1 evaluation
//!    starts from (lme4's `lp0`).
//! 2. Stage 1 (`nAGQ = 0`): BOBYQA over θ, β profiled by PIRLS, objective
//!    `log|L|² + ‖û‖² + aic`.
//! 3. Stage 2 (`nAGQ ≥ 1`): BOBYQA over (θ, β) on the Laplace or AGQ objective, PIRLS for u
//!    only, starting from stage 1. β is optimised in units of its stage-1 standard errors
//!    (lme4's Nelder–Mead uses the same scaling for its initial simplex), and each scalar
//!    term's θ in units of its approximate standard error (see `theta_scales`), so that the
//!    search starts on a well-scaled problem.
//! 4. Standard errors: from the central-difference Hessian `H` of the stage-2 objective (step
//!    1e-4 as lme4's `deriv12`, two evaluations per off-diagonal pair instead of four; see
//!    `multilevel_lmm::optimizer::central_derivatives`):
//!    `vcov(β̂) = 2 H⁻¹[β, β]`; when the Hessian is not available (singular fit, `nAGQ = 0`,
//!    n ≥ 10⁴ or ≥ 100 parameters) or not positive definite, from the PIRLS factor:
//!    `σ² (R_X'R_X)⁻¹`.
//!
//! lme4's definitions reproduced here: `logLik = −objective/2`; `deviance()` = the sum of
//! squared deviance residuals at the conditional modes (no penalty, no log-determinant — not
//! `−2 logLik`); `AIC = −2 logLik + 2 npar`, `npar = p + length(θ)` (+1 for families with a
//! scale); `σ = 1` for binomial and Poisson, otherwise `√((Pearson χ² + ‖û‖²)/n)` (lme4's
//! `sigmaML` from the penalized weighted residual sum of squares); variance components and
//! conditional variances are scaled by σ².

use multilevel_design::Design;
use multilevel_lmm::optimizer::{Bobyqa, Optimizer, Problem, central_derivatives};
use multilevel_lmm::results::*;
use multilevel_lmm::summaries;
use multilevel_lmm::{LmmOptions, lmer};
use multilevel_numeric::Cholesky;
use multilevel_numeric::dist::{p_chisq_upper, p_norm_two_sided};

use crate::family::{FamilyKind, FamilySpec, GlmFamily};
use crate::pirls::{Pirls, b_from_u};
use crate::quadrature::gh_rule;

/// Errors of the GLMM layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GlmmError {
    /// The formula has no `(… | g)` term.
    #[error(
        "the formula has no random-effects term; hint: add one such as `(1 | group)`, or fit a GLM"
    )]
    NoRandomEffects,
    /// A response, weight or offset value the family cannot use.
    #[error("{0}")]
    BadInput(String),
    /// `nAGQ` is not available for this model.
    #[error("{0}")]
    Quadrature(String),
    /// PIRLS failed at the starting values or at the optimum.
    #[error("{0}; hint: check for complete separation, extreme predictors, or simplify the model")]
    Pirls(String),
    /// The optimiser failed.
    #[error("the optimiser failed: {0}")]
    Optimizer(String),
    /// The Gaussian/identity redirect to the LMM failed.
    #[error("{0}")]
    Lmm(#[from] multilevel_lmm::LmmError),
}

/// Options of a GLMM fit (lme4's `glmer` arguments and `glmerControl`).
#[derive(Debug, Clone)]
pub struct GlmmOptions {
    /// Number of adaptive Gauss–Hermite quadrature points: 1 = Laplace (default), 0 = stage 1
    /// only (β profiled by PIRLS), > 1 AGQ (one scalar random-effects term only), at most 100.
    pub n_agq: usize,
    /// PIRLS tolerance on the relative change of the penalized deviance (lme4's `tolPwrss`).
    pub tol_pwrss: f64,
    /// Maximal PIRLS iterations.
    pub max_pirls: usize,
    /// Compute the finite-difference Hessian (SEs, convergence check); `None` = lme4's rule
    /// (n < 10⁴ and fewer than 100 parameters).
    pub calc_derivs: Option<bool>,
    /// Compute conditional variances of the random effects.
    pub cond_var: bool,
    /// Pearson χ²/df above which the overdispersion warning is added (binomial with more
    /// than one trial, and Poisson).
    pub overdispersion_threshold: f64,
}

impl Default for GlmmOptions {
    fn default() -> Self {
        GlmmOptions {
            n_agq: 1,
            tol_pwrss: 1e-7,
            max_pirls: 100,
            calc_derivs: None,
            cond_var: true,
            overdispersion_threshold: 1.5,
        }
    }
}

/// Pearson χ² overdispersion check.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overdispersion {
    /// Σ Pearson residuals².
    pub chisq: f64,
    /// Residual degrees of freedom, n − npar.
    pub df: f64,
    /// χ² / df.
    pub ratio: f64,
    /// Upper-tail p-value of χ² on df degrees of freedom.
    pub p_value: f64,
}

/// Where vcov(β̂) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VcovSource {
    /// 2·H⁻¹ of the finite-difference Hessian of the objective.
    Hessian,
    /// σ²(R_X'R_X)⁻¹ from the PIRLS factor.
    Rx,
}

/// A GLMM fit: the shared [`FitResult`] plus GLMM-specific vectors.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GlmmFit {
    /// The plain-data result (`fitted` = μ̂, `residuals` = response residuals y − μ̂).
    pub result: FitResult,
    /// Linear predictor η̂ (offset included).
    pub eta: Vec<f64>,
    /// Fitted means μ̂ (response scale).
    pub mu: Vec<f64>,
    /// Deviance residuals `sign(y − μ̂) √dᵢ` (lme4's default `residuals()`).
    pub deviance_residuals: Vec<f64>,
    /// Pearson residuals `(y − μ̂) √(pw / V(μ̂))`.
    pub pearson_residuals: Vec<f64>,
    /// Response residuals `y − μ̂`.
    pub response_residuals: Vec<f64>,
    /// Σ Pearson residuals².
    pub pearson_chisq: f64,
    /// ‖û‖².
    pub u_sq: f64,
    /// Overdispersion check (binomial with trials > 1 and Poisson only).
    pub overdispersion: Option<Overdispersion>,
    /// Source of vcov(β̂).
    pub vcov_source: VcovSource,
    /// Objective at the end of stage 1 (nAGQ = 0).
    pub stage1_objective: f64,
    /// Objective evaluations in stage 1 and stage 2.
    pub stage_evaluations: [usize; 2],
}

/// Fit a GLMM (lme4's `glmer(formula, data, family, nAGQ)`), returning the shared result.
///
/// # Errors
/// See [`GlmmError`].
pub fn glmer(
    design: Design,
    family: &FamilySpec,
    opts: &GlmmOptions,
) -> Result<FitResult, GlmmError> {
    Ok(glmer_full(design, &family.build(), opts)?.result)
}

struct Cost<'p, 'a> {
    pirls: &'p mut Pirls<'a>,
    kind: CostKind,
}

enum CostKind {
    /// Stage 1: θ, β profiled, start from `eta0`.
    Profiled { eta0: Vec<f64> },
    /// Stage 2: (θ, x) with β = β₀ + s∘x.
    Joint {
        ntheta: usize,
        theta0: Vec<f64>,
        tscale: Vec<f64>,
        beta0: Vec<f64>,
        scale: Vec<f64>,
        eta0: Vec<f64>,
        rule: Option<crate::quadrature::GhRule>,
    },
}

impl Problem for Cost<'_, '_> {
    fn value(&mut self, par: &[f64]) -> f64 {
        let p = &mut *self.pirls;
        p.evaluations += 1;
        let v = match &self.kind {
            CostKind::Profiled { eta0 } => {
                p.objective(par, None, eta0, None).unwrap_or(f64::INFINITY)
            }
            CostKind::Joint {
                ntheta,
                theta0,
                tscale,
                beta0,
                scale,
                eta0,
                rule,
            } => {
                let theta: Vec<f64> = theta0
                    .iter()
                    .zip(tscale)
                    .zip(&par[..*ntheta])
                    .map(|((t, s), x)| t + s * x)
                    .collect();
                let beta: Vec<f64> = beta0
                    .iter()
                    .zip(scale)
                    .zip(&par[*ntheta..])
                    .map(|((b, s), x)| b + s * x)
                    .collect();
                joint_objective(p, &theta, &beta, eta0, rule.as_ref())
            }
        };
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

fn joint_objective(
    p: &mut Pirls<'_>,
    theta: &[f64],
    beta: &[f64],
    eta0: &[f64],
    rule: Option<&crate::quadrature::GhRule>,
) -> f64 {
    p.objective(theta, Some(beta), eta0, rule)
        .unwrap_or(f64::INFINITY)
}

/// Minimise one stage's objective from `start` over `lower ≤ x ≤ upper`: the minimiser, the
/// minimum, the termination message and whether the optimiser converged.
fn run_stage(
    optimizer: &dyn Optimizer,
    mut cost: Cost<'_, '_>,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
) -> Result<(Vec<f64>, f64, String, bool), GlmmError> {
    let out = optimizer
        .minimize(&mut cost, start, lower, upper)
        .map_err(|e| GlmmError::Optimizer(e.to_string()))?;
    let message = out.message();
    let converged = out.converged();
    Ok((out.x, out.value, message, converged))
}

/// Scales of the θ coordinates for stage 2, so that a unit step in every coordinate changes
/// the objective by about one unit, as a unit step of β in its standard errors does.
///
/// With θ in its own units the objective is often 10³–10⁴ times more curved along θ than
/// along β (in standard errors), and BOBYQA then needs many evaluations to follow the narrow
/// valley along which θ and the intercept trade off (141 instead of ~45 on a 2,000 × 50
/// crossed Poisson model). For a scalar term with levels ℓ and working-weight sums
/// `aₗ = Σ_{i∈ℓ} wᵢ zᵢ²` at the stage-1 optimum, the conditional modes behave like
/// independent `b̂ₗ ~ N(0, θ² + 1/aₗ)`, whose deviance has curvature
/// `c = Σₗ 4θ²/(θ² + 1/aₗ)²` in θ; the scale is `√(2/c)` (for a Gaussian model with many
/// observations per level, `θ/√(2J)` with J levels), clamped to `[10⁻⁴, 1]`. Entries of
/// vector-valued terms, and θ = 0, keep the scale 1.
fn theta_scales(design: &Design, theta: &[f64], w: &[f64]) -> Vec<f64> {
    let mut out = vec![1.0; theta.len()];
    let mut idx = 0;
    for t in &design.terms {
        let nt = t.n_theta();
        if t.k == 1
            && let Some(&th) = theta.get(idx)
            && th != 0.0
            && w.len() == t.refs.len()
        {
            let mut a = vec![0.0; t.nlevels()];
            for ((&r, &z), &wi) in t.refs.iter().zip(&t.z).zip(w) {
                if let Some(al) = a.get_mut(r as usize) {
                    *al += wi * z * z;
                }
            }
            let th2 = th * th;
            let c: f64 = a
                .iter()
                .filter(|&&al| al > 0.0)
                .map(|&al| {
                    let v = th2 + 1.0 / al;
                    4.0 * th2 / (v * v)
                })
                .sum();
            if c.is_finite() && c > 0.0 {
                out[idx] = (2.0 / c).sqrt().clamp(1e-4, 1.0);
            }
        }
        idx += nt;
    }
    out
}

/// Fit a GLMM with any [`GlmFamily`] (custom families and links included) and return the
/// full GLMM result.
///
/// # Errors
/// See [`GlmmError`].
pub fn glmer_full(
    design: Design,
    family: &GlmFamily,
    opts: &GlmmOptions,
) -> Result<GlmmFit, GlmmError> {
    if design.terms.is_empty() {
        return Err(GlmmError::NoRandomEffects);
    }
    if family.is_gaussian_identity() {
        // lme4's glmer hands gaussian(identity) to lmer (REML) with a deprecation warning.
        let mut r = lmer(design, &LmmOptions::default())?;
        r.warnings.push(
            "family gaussian with the identity link is a linear mixed model: fitted by REML as lmer() does".into(),
        );
        let n = r.nobs;
        return Ok(GlmmFit {
            eta: r.fitted.clone(),
            mu: r.fitted.clone(),
            deviance_residuals: r.residuals.clone(),
            pearson_residuals: r.residuals.clone(),
            response_residuals: r.residuals.clone(),
            pearson_chisq: r.residuals.iter().map(|v| v * v).sum(),
            u_sq: f64::NAN,
            overdispersion: None,
            vcov_source: VcovSource::Rx,
            stage1_objective: r.objective,
            stage_evaluations: [r.optimizer.evaluations, 0],
            result: FitResult { nobs: n, ..r },
        });
    }
    if opts.n_agq > 100 {
        return Err(GlmmError::Quadrature(format!(
            "nAGQ = {} is too large; hint: use at most 100 quadrature points (25 is plenty)",
            opts.n_agq
        )));
    }
    if opts.n_agq > 1 && (design.terms.len() != 1 || design.terms[0].k != 1) {
        return Err(GlmmError::Quadrature(
            "nAGQ > 1 is only available for models with a single, scalar random-effects term; hint: use nAGQ = 1 (Laplace)".into(),
        ));
    }
    let n = design.nobs();
    let p = design.p();
    let fam = &family.family;
    let is_binomial = fam.name() == "binomial";
    // Response, prior weights and binomial n as R's family$initialize sets them up.
    let prior: Vec<f64> = design.weights.clone().unwrap_or_else(|| vec![1.0; n]);
    if let Some(i) = prior.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(GlmmError::BadInput(format!(
            "prior weight in model row {} is {} but weights must be non-negative and finite; hint: fix or drop that row",
            i + 1,
            prior[i]
        )));
    }
    let (pw, ntr): (Vec<f64>, Vec<f64>) = match (&design.trials, is_binomial) {
        (Some(t), true) => (prior.iter().zip(t).map(|(w, t)| w * t).collect(), t.clone()),
        (Some(_), false) => {
            return Err(GlmmError::BadInput(format!(
                "a cbind(successes, failures) response needs the binomial family, not {}; hint: use family binomial",
                fam.name()
            )));
        }
        (None, _) => (prior.clone(), vec![1.0; n]),
    };
    let y = design.y.clone();
    // cbind(successes, failures): both must be whole numbers (glmer only warns; a fractional
    // count is almost always a data error, so it is refused here with the row named).
    if let (Some(t), true) = (&design.trials, is_binomial)
        && let Some(i) = (0..n).find(|&i| {
            let s = y[i] * t[i];
            (s - s.round()).abs() > 1e-8 * t[i].max(1.0) || (t[i] - t[i].round()).abs() > 1e-8
        })
    {
        return Err(GlmmError::BadInput(format!(
            "response `{}` in model row {}: cbind() needs whole numbers of successes and failures, got {} successes of {} trials; hint: check those columns (for proportions use the proportion as the response and --weights for the trials)",
            design.response_name,
            i + 1,
            y[i] * t[i],
            t[i]
        )));
    }
    for (i, &v) in y.iter().enumerate() {
        fam.check_y(v).map_err(|m| {
            GlmmError::BadInput(format!(
                "response `{}` in model row {}: {m}",
                design.response_name,
                i + 1
            ))
        })?;
    }
    if let Some(off) = &design.offset
        && let Some(i) = off.iter().position(|v| !v.is_finite())
    {
        return Err(GlmmError::BadInput(format!(
            "offset in model row {} is not finite; hint: fix or drop that row",
            i + 1
        )));
    }
    let mstart: Vec<f64> = match &design.trials {
        Some(t) if is_binomial => t.clone(),
        _ => prior.clone(),
    };
    let eta_start: Vec<f64> = (0..n)
        .map(|i| family.link.link(fam.mu_start(y[i], mstart[i])))
        .collect();
    if let Some(i) = eta_start.iter().position(|e| !family.link.valid_eta(*e)) {
        return Err(GlmmError::BadInput(format!(
            "cannot find valid starting values: the {} link of the starting mean in model row {} is invalid; hint: check the response values for this link",
            family.link.name(),
            i + 1
        )));
    }
    let bernoulli = is_binomial && ntr.iter().all(|&t| t == 1.0) && prior.iter().all(|&w| w == 1.0);

    let mut pirls = Pirls::new(&design, family, y.clone(), pw.clone(), ntr.clone());
    pirls.tol = opts.tol_pwrss;
    pirls.maxit = opts.max_pirls;
    let theta_start = design.theta_start();
    let lower = design.theta_lower();
    let upper = design.theta_upper();
    let init = pirls
        .run(&theta_start, None, &eta_start)
        .map_err(|e| GlmmError::Pirls(format!("PIRLS failed at the starting values: {e}")))?;

    // ---- stage 1 ----
    let (theta1, f1, msg1, ok1) = {
        let cost = Cost {
            pirls: &mut pirls,
            kind: CostKind::Profiled {
                eta0: init.eta.clone(),
            },
        };
        run_stage(
            &Bobyqa::with_radii(0.2, 2e-7),
            cost,
            &theta_start,
            &lower,
            &upper,
        )?
    };
    let evals1 = pirls.evaluations;
    let s1 = pirls
        .run(&theta1, None, &init.eta)
        .map_err(|e| GlmmError::Pirls(format!("PIRLS failed at the stage-1 optimum: {e}")))?;
    let ntheta = theta1.len();

    let (theta, beta, fval, message, ok_opt, state, rule) = if opts.n_agq == 0 {
        (
            theta1.clone(),
            s1.beta.clone(),
            f1,
            msg1,
            ok1,
            s1.clone(),
            None,
        )
    } else {
        // ---- stage 2 ----
        let (rx1, _) = pirls.final_factor(&theta1, &s1).ok_or_else(|| {
            GlmmError::Pirls("the PLS factor failed at the stage-1 optimum".into())
        })?;
        let scale: Vec<f64> = (0..p)
            .map(|a| {
                let s = rx1[a * p + a].sqrt();
                if s.is_finite() && s > 0.0 {
                    s.min(10.0)
                } else {
                    1.0
                }
            })
            .collect();
        let rule = if opts.n_agq > 1 {
            Some(gh_rule(opts.n_agq))
        } else {
            None
        };
        let eta0 = s1.eta.clone();
        // `final_factor` left the working weights at the stage-1 optimum in `pirls.w`.
        let tscale = theta_scales(&design, &theta1, &pirls.w);
        let mut start = vec![0.0; ntheta];
        start.extend(std::iter::repeat_n(0.0, p));
        let mut lower2: Vec<f64> = lower
            .iter()
            .zip(&theta1)
            .zip(&tscale)
            .map(|((l, t), s)| (l - t) / s)
            .collect();
        lower2.extend(std::iter::repeat_n(f64::NEG_INFINITY, p));
        let mut upper2: Vec<f64> = upper
            .iter()
            .zip(&theta1)
            .zip(&tscale)
            .map(|((u, t), s)| (u - t) / s)
            .collect();
        upper2.extend(std::iter::repeat_n(f64::INFINITY, p));
        let (par, fval, message, ok) = {
            let cost = Cost {
                pirls: &mut pirls,
                kind: CostKind::Joint {
                    ntheta,
                    theta0: theta1.clone(),
                    tscale: tscale.clone(),
                    beta0: s1.beta.clone(),
                    scale: scale.clone(),
                    eta0: eta0.clone(),
                    rule: rule.clone(),
                },
            };
            // Both blocks are in units of their approximate standard errors, so the final trust
            // radius of 10⁻⁶ is a millionth of a standard error: the deviance is then flat to
            // ~10⁻¹² (logLik agrees to 10 decimals with a radius of 10⁻⁷, which took 7–10
            // more evaluations on the benchmark models).
            run_stage(
                &Bobyqa::with_radii(0.05, 1e-6),
                cost,
                &start,
                &lower2,
                &upper2,
            )?
        };
        let theta: Vec<f64> = theta1
            .iter()
            .zip(&tscale)
            .zip(&par[..ntheta])
            .map(|((t, s), x)| t + s * x)
            .collect();
        let beta: Vec<f64> = s1
            .beta
            .iter()
            .zip(&scale)
            .zip(&par[ntheta..])
            .map(|((b, s), x)| b + s * x)
            .collect();
        let state = pirls
            .run(&theta, Some(&beta), &eta0)
            .map_err(|e| GlmmError::Pirls(format!("PIRLS failed at the optimum: {e}")))?;
        (
            theta,
            beta,
            fval,
            message,
            ok,
            state,
            rule.map(|r| (r, eta0)),
        )
    };
    let evals2 = pirls.evaluations - evals1;

    // ---- derivatives (stage 2 only, as lme4) ----
    let singular_par = theta.iter().zip(&lower).any(|(t, l)| (t - l) < 1e-4)
        || theta.iter().zip(&upper).any(|(t, u)| (u - t) < 1e-4);
    let npar_opt = ntheta + p;
    let calc = opts.calc_derivs.unwrap_or(n < 10_000 && npar_opt < 100);
    let mut warnings = Vec::new();
    let mut converged = ok_opt;
    if !ok_opt {
        warnings.push(format!("the optimiser did not converge: {message}"));
    }
    let mut hess_vcov: Option<Vec<f64>> = None;
    if opts.n_agq > 0 && calc && !singular_par {
        let mut x0 = theta.clone();
        x0.extend_from_slice(&beta);
        let eta0 = rule
            .as_ref()
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| s1.eta.clone());
        let r = rule.as_ref().map(|(r, _)| r.clone());
        let mut f = |x: &[f64]| -> f64 {
            joint_objective(&mut pirls, &x[..ntheta], &x[ntheta..], &eta0, r.as_ref())
        };
        let (g, h) = central_derivatives(&mut f, &x0, fval, 1e-4);
        if let Some(msg) = check_conv(&g, &h, npar_opt) {
            converged = false;
            warnings.push(msg);
        }
        if let Some(hi) = Cholesky::new(&h, npar_opt)
            .map(|c| c.inverse())
            .or_else(|| general_inverse(&h, npar_opt))
        {
            let mut v = vec![0.0; p * p];
            for a in 0..p {
                for b in 0..p {
                    v[a * p + b] = hi[(ntheta + a) * npar_opt + ntheta + b]
                        + hi[(ntheta + b) * npar_opt + ntheta + a];
                }
            }
            if v.iter().all(|x| x.is_finite()) && Cholesky::new(&v, p).is_some() {
                hess_vcov = Some(v);
            }
        }
        if hess_vcov.is_none() {
            warnings.push("variance-covariance matrix computed from finite-difference Hessian is not positive definite or contains NA values: falling back to var-cov estimated from RX".into());
        }
    }

    // ---- final quantities ----
    let has_scale = fam.has_scale();
    let mu = state.mu.clone();
    let eta = state.eta.clone();
    let mut pearson = vec![0.0; n];
    let mut devres = vec![0.0; n];
    let mut resp = vec![0.0; n];
    for i in 0..n {
        let r = y[i] - mu[i];
        resp[i] = r;
        pearson[i] = r * (pw[i] / fam.variance(mu[i])).sqrt();
        let d = fam.dev_resid(y[i], mu[i], pw[i]).max(0.0);
        devres[i] = if r < 0.0 { -d.sqrt() } else { d.sqrt() };
    }
    let pearson_chisq: f64 = pearson.iter().map(|v| v * v).sum();
    let sigma = if has_scale {
        ((pearson_chisq + state.usq) / n as f64).sqrt()
    } else {
        1.0
    };
    let sigma2 = sigma * sigma;
    let (rxinv, blocks) = pirls
        .final_factor(&theta, &state)
        .ok_or_else(|| GlmmError::Pirls("the PLS factor failed at the optimum".into()))?;
    let (vcov, vcov_source) = match hess_vcov {
        Some(v) => (v, VcovSource::Hessian),
        None => (rxinv.iter().map(|v| v * sigma2).collect(), VcovSource::Rx),
    };
    let npar = p + ntheta + usize::from(has_scale);
    let objective = fval;
    let deviance: f64 = devres.iter().map(|v| v * v).sum();
    let df_resid = n as f64 - npar as f64;

    let lambda = design.lambdas(&theta);
    let b_terms = b_from_u(&design, &lambda, &state.u);

    // ---- warnings ----
    let mut all = summaries::design_warnings(&design);
    all.append(&mut warnings);
    warnings = all;
    let singular_terms = summaries::singular_terms(&design, &theta);
    let singular = !singular_terms.is_empty();
    if singular {
        warnings.push(summaries::singular_warning(&singular_terms));
    }
    let overdispersion = if fam.fixed_dispersion() && !bernoulli && df_resid > 0.0 {
        let ratio = pearson_chisq / df_resid;
        let p_value = p_chisq_upper(pearson_chisq, df_resid);
        if ratio > opts.overdispersion_threshold {
            // For counts the usual next model is the negative binomial (variance μ + μ²/θ).
            let hint = if fam.builtin_kind() == Some(FamilyKind::Poisson) {
                "try a negative binomial model, or add an observation-level random effect such as `(1 | obs)`"
            } else {
                "add an observation-level random effect such as `(1 | obs)` or use a family with a dispersion parameter"
            };
            warnings.push(format!(
                "overdispersion: Pearson chi-squared / residual df = {ratio:.3} ({pearson_chisq:.2} on {df_resid} df, p = {p_value:.3e}); hint: {hint}"
            ));
        }
        Some(Overdispersion {
            chisq: pearson_chisq,
            df: df_resid,
            ratio,
            p_value,
        })
    } else {
        None
    };
    let scaled: Vec<f64> = pearson.iter().map(|v| v / sigma).collect();
    let method = if opts.n_agq > 1 {
        Method::Agq
    } else {
        Method::Laplace
    };
    let result = FitResult::builder(&design, method)
        .family(fam.name(), family.link.name())
        .coefficients(&beta, vcov, |z| Some(p_norm_two_sided(z)))
        .theta(theta.clone())
        .scale(sigma, sigma2, has_scale)
        .criterion(objective, Some(deviance), npar)
        .df_resid(df_resid)
        .random_effects(
            &lambda,
            &b_terms,
            opts.cond_var.then_some(blocks.as_slice()),
            sigma2,
        )
        .response(mu.clone(), resp.clone(), &scaled)
        .status(
            converged,
            singular,
            warnings,
            OptimizerInfo {
                name: if opts.n_agq == 0 {
                    "bobyqa (nAGQ = 0)".into()
                } else {
                    "bobyqa + bobyqa".into()
                },
                evaluations: evals1 + evals2,
                message,
            },
        )
        .build();
    Ok(GlmmFit {
        result,
        eta,
        mu,
        deviance_residuals: devres,
        pearson_residuals: pearson,
        response_residuals: resp,
        pearson_chisq,
        u_sq: state.usq,
        overdispersion,
        vcov_source,
        stage1_objective: f1,
        stage_evaluations: [evals1, evals2],
    })
}

/// lme4's `checkConv` gradient test: `max min(|chol(H)⁻¹ g|, |g|) > 2e-3`, or a Hessian
/// that is not positive definite.
fn check_conv(g: &[f64], h: &[f64], m: usize) -> Option<String> {
    if g.iter().chain(h).any(|v| !v.is_finite()) {
        return Some(
            "convergence check: the gradient or Hessian at the optimum is not finite".into(),
        );
    }
    let Some(l) = Cholesky::new(h, m) else {
        return Some("Model failed to converge: degenerate Hessian (not positive definite); hint: rescale predictors or simplify the model".into());
    };
    // chol(H) in R is U = L'; solve(U, g) is a back substitution.
    let mut s = g.to_vec();
    l.solve_upper_in_place(&mut s);
    let max = s
        .iter()
        .zip(g)
        .map(|(a, b)| a.abs().min(b.abs()))
        .fold(0.0f64, f64::max);
    (max > 2e-3).then(|| {
        format!(
            "Model failed to converge with max|grad| = {max:.6} (tol = 0.002); hint: rescale predictors or simplify the model"
        )
    })
}

/// Inverse of a general (symmetric, possibly indefinite) matrix by Gauss–Jordan with partial
/// pivoting; `None` if singular.
fn general_inverse(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut inv = vec![0.0; k * k];
    for i in 0..k {
        inv[i * k + i] = 1.0;
    }
    for c in 0..k {
        let piv = (c..k).max_by(|&i, &j| m[i * k + c].abs().total_cmp(&m[j * k + c].abs()))?;
        if m[piv * k + c].abs() < 1e-300 {
            return None;
        }
        for j in 0..k {
            m.swap(c * k + j, piv * k + j);
            inv.swap(c * k + j, piv * k + j);
        }
        let d = m[c * k + c];
        for j in 0..k {
            m[c * k + j] /= d;
            inv[c * k + j] /= d;
        }
        for i in 0..k {
            if i != c {
                let f = m[i * k + c];
                if f != 0.0 {
                    for j in 0..k {
                        m[i * k + j] -= f * m[c * k + j];
                        inv[i * k + j] -= f * inv[c * k + j];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use faer::Mat;
    use multilevel_design::{CovarianceSpec, ReTerm};

    fn design_with(levels: usize, per_level: usize, k: usize) -> Design {
        let n = levels * per_level;
        let term = ReTerm {
            group: "g".into(),
            levels: (0..levels).map(|l| format!("L{l}")).collect(),
            refs: (0..n).map(|i| (i / per_level) as u32).collect(),
            k,
            z: vec![1.0; n * k],
            col_names: (0..k).map(|c| format!("c{c}")).collect(),
            formula_order: 0,
            structure: CovarianceSpec::unstructured(k),
        };
        let mut x = Mat::zeros(n, 1);
        for i in 0..n {
            x[(i, 0)] = 1.0;
        }
        Design {
            formula: "y ~ 1 + (1 | g)".into(),
            response_name: "y".into(),
            y: vec![0.0; n],
            trials: None,
            x,
            x_names: vec!["(Intercept)".into()],
            x_assign: vec![0],
            fixed_term_labels: vec!["(Intercept)".into()],
            dropped_columns: Vec::new(),
            terms: vec![term],
            weights: None,
            offset: None,
            n_dropped_missing: 0,
            data_name: "test".into(),
        }
    }

    #[test]
    fn theta_scales_approach_the_gaussian_standard_error_and_fall_back_to_one() {
        // Many observations per level: sd(θ̂) ≈ θ/√(2J).
        let d = design_with(50, 2000, 1);
        let w = vec![1.0; d.nobs()];
        let s = theta_scales(&d, &[0.8], &w);
        let gauss = 0.8 / (2.0f64 * 50.0).sqrt();
        assert!((s[0] / gauss - 1.0).abs() < 0.01, "{} vs {gauss}", s[0]);
        // Less information per level: a larger scale than the many-observation limit.
        let few = design_with(50, 2, 1);
        let s_few = theta_scales(&few, &[0.8], &vec![0.25; few.nobs()]);
        assert!(s_few[0] > 2.0 * gauss && s_few[0] <= 1.0, "{}", s_few[0]);
        // θ = 0 (no curvature) and vector-valued terms keep the scale 1.
        assert_eq!(theta_scales(&d, &[0.0], &w), vec![1.0]);
        let v = design_with(10, 5, 2);
        assert_eq!(
            theta_scales(&v, &[0.5, 0.1, 0.4], &vec![1.0; v.nobs()]),
            vec![1.0; 3]
        );
    }
}
