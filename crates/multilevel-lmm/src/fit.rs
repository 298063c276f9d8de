//! Fitting a linear mixed model: optimise θ, then compute everything lme4 reports.

use multilevel_design::Design;

use crate::objective::ProfiledDeviance;
use crate::optimizer::{Bobyqa, Optimizer, Problem, ProjectedLbfgs, central_derivatives};
use crate::results::*;
use crate::summaries;

/// Largest absolute response value fitted (its square, summed over the rows and multiplied by
/// θ², must stay far below f64's 1.8e308); the reciprocal is the smallest non-zero one.
const RESPONSE_MAGNITUDE_MAX: f64 = 1e100;

/// Errors of the LMM layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LmmError {
    /// The formula has no `(… | g)` term.
    #[error(
        "the formula has no random-effects term; hint: add one such as `(1 | group)`, or use ordinary least squares for a model without random effects"
    )]
    NoRandomEffects,
    /// Not enough observations for the fixed effects.
    #[error(
        "{n} observations are not enough for {p} fixed-effect coefficients (REML needs n > p); hint: simplify the fixed part of the formula"
    )]
    TooFewObservations {
        /// Observations.
        n: usize,
        /// Fixed-effect coefficients.
        p: usize,
    },
    /// A response or weight value the model cannot use.
    #[error("{0}")]
    BadInput(String),
    /// The optimiser failed.
    #[error("the optimiser failed: {0}")]
    Optimizer(String),
    /// The objective could not be evaluated at the optimum.
    #[error(
        "the model could not be factored at the optimum (θ = {theta:?}); hint: check for collinear predictors or a degenerate random-effects structure"
    )]
    Factorization {
        /// θ where the factorization failed.
        theta: Vec<f64>,
    },
}

/// Which optimiser to use for θ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptimizerChoice {
    /// Chosen from the number of θ and the size of the dense block (see
    /// [`OptimizerChoice::resolve`]).
    #[default]
    Auto,
    /// Powell's BOBYQA, derivative-free with bounds (lme4's default).
    Bobyqa,
    /// Projected L-BFGS with the analytic gradient of the profiled criterion
    /// ([`crate::optimizer::ProjectedLbfgs`], reported as `lbfgsb`).
    QuasiNewton,
}

/// Number of θ from which [`OptimizerChoice::Auto`] always uses the quasi-Newton method.
pub const AUTO_QUASI_NEWTON_MIN_THETA: usize = 4;

/// Largest dense block (later random effects + `X` + `y`) for which [`OptimizerChoice::Auto`]
/// uses the quasi-Newton method with 2 or 3 θ. A gradient costs a dense inverse of that block;
/// on InstEval (a 1 150-row block, 3 θ) that makes a gradient four objective evaluations and
/// BOBYQA the faster method, while on small blocks the gradient method needs 2–7× fewer
/// evaluations (sleepstudy 22 vs 54, Oxboys 18 vs 122).
pub const AUTO_QUASI_NEWTON_MAX_DENSE_BLOCK: usize = 256;

impl OptimizerChoice {
    /// The optimiser actually used (resolves `Auto`) for `ntheta` parameters and a dense
    /// block of `dense_block` rows ([`ProfiledDeviance::dense_block_size`]): quasi-Newton from
    /// [`AUTO_QUASI_NEWTON_MIN_THETA`] θ on, or with 2–3 θ when the dense block has at most
    /// [`AUTO_QUASI_NEWTON_MAX_DENSE_BLOCK`] rows; BOBYQA otherwise (one θ: a derivative-free
    /// search needs only 15–25 evaluations).
    pub fn resolve(self, ntheta: usize, dense_block: usize) -> OptimizerChoice {
        match self {
            OptimizerChoice::Auto
                if ntheta >= AUTO_QUASI_NEWTON_MIN_THETA
                    || (ntheta >= 2 && dense_block <= AUTO_QUASI_NEWTON_MAX_DENSE_BLOCK) =>
            {
                OptimizerChoice::QuasiNewton
            }
            OptimizerChoice::Auto => OptimizerChoice::Bobyqa,
            c => c,
        }
    }

    /// The optimiser of this choice (resolved as [`OptimizerChoice::resolve`]) for `ntheta`
    /// parameters and a dense block of `dense_block` rows: [`ProjectedLbfgs`] with its
    /// defaults, or [`Bobyqa`] with the trust-region radii of `opts`.
    pub fn optimizer(
        self,
        ntheta: usize,
        dense_block: usize,
        opts: &LmmOptions,
    ) -> Box<dyn Optimizer> {
        match self.resolve(ntheta, dense_block) {
            OptimizerChoice::QuasiNewton => Box::new(ProjectedLbfgs::default()),
            _ => Box::new(Bobyqa::with_radii(
                opts.rho_begin,
                opts.rho_end.min(opts.rho_begin),
            )),
        }
    }
}

/// Options of an LMM fit.
#[derive(Debug, Clone)]
pub struct LmmOptions {
    /// REML (lme4's default) or ML.
    pub reml: bool,
    /// Compute conditional variances of the random effects (lme4's `condVar`). They cost a
    /// dense inverse of the later blocks, so benchmarks that match `lmer()` turn them off.
    pub cond_var: bool,
    /// Check the gradient and Hessian at the optimum by finite differences (lme4's
    /// `checkConv`); done when there are at most 20 θ.
    pub check_convergence: bool,
    /// Optimiser.
    pub optimizer: OptimizerChoice,
    /// Initial trust-region radius of BOBYQA (θ is on the scale of σ-relative standard
    /// deviations, started at 1).
    pub rho_begin: f64,
    /// Final trust-region radius of BOBYQA (the accuracy asked of θ).
    pub rho_end: f64,
}

impl Default for LmmOptions {
    fn default() -> Self {
        LmmOptions {
            reml: true,
            cond_var: true,
            check_convergence: true,
            optimizer: OptimizerChoice::Auto,
            rho_begin: 0.2,
            rho_end: 2e-7,
        }
    }
}

/// A prepared linear mixed model: the design plus the cross products, ready to be fitted and
/// refitted (same structure, new response) as lme4's `refit()`.
#[derive(Debug)]
pub struct LinearMixedModel {
    design: Design,
    dev: ProfiledDeviance,
    opts: LmmOptions,
}

/// The criterion `d(θ)` as an optimisation problem; one factorization gives both the value
/// and the gradient.
struct Criterion<'a>(&'a mut ProfiledDeviance);

impl Problem for Criterion<'_> {
    fn value(&mut self, theta: &[f64]) -> f64 {
        self.0.objective(theta)
    }

    fn has_gradient(&self) -> bool {
        true
    }

    fn value_and_gradient(&mut self, theta: &[f64], gradient: &mut [f64]) -> f64 {
        let (f, g) = self.0.gradient(theta);
        gradient.copy_from_slice(&g);
        f
    }
}

/// Dense-block size from which the convergence check differentiates the criterion instead
/// of the analytic gradient (ml1m's 3,708-row block: a gradient costs ~4 evaluations).
const OBJECTIVE_CHECK_MIN_BLOCK: usize = 2000;

/// Fit a linear mixed model to a design (lme4's `lmer`).
pub fn lmer(design: Design, opts: &LmmOptions) -> Result<FitResult, LmmError> {
    LinearMixedModel::new(design, opts.clone())?.fit()
}

impl LinearMixedModel {
    /// Validate the design and precompute the cross products.
    pub fn new(design: Design, opts: LmmOptions) -> Result<Self, LmmError> {
        if design.terms.is_empty() {
            return Err(LmmError::NoRandomEffects);
        }
        let n = design.nobs();
        let p = design.p();
        if n <= p {
            return Err(LmmError::TooFewObservations { n, p });
        }
        if let Some(i) = design.y.iter().position(|v| !v.is_finite()) {
            return Err(LmmError::BadInput(format!(
                "response value in model row {} is not finite; hint: remove or fix that row",
                i + 1
            )));
        }
        let y_max = design.y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if y_max > RESPONSE_MAGNITUDE_MAX || (y_max > 0.0 && y_max < 1.0 / RESPONSE_MAGNITUDE_MAX) {
            return Err(LmmError::BadInput(format!(
                "the response `{}` reaches {y_max:.3e} in absolute value, beyond what the cross products of the fit can hold in double precision (1e-100 to 1e100); hint: rescale the response (e.g. divide it by 1e{:.0}); every estimate scales with it",
                design.response_name,
                y_max.log10().round()
            )));
        }
        if let Some(w) = &design.weights
            && let Some(i) = w.iter().position(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(LmmError::BadInput(format!(
                "prior weight in model row {} is {} but weights must be positive and finite; hint: drop rows with zero weight before fitting",
                i + 1,
                w[i]
            )));
        }
        let dev = ProfiledDeviance::new(&design, opts.reml);
        Ok(LinearMixedModel { design, dev, opts })
    }

    /// The design being fitted.
    pub fn design(&self) -> &Design {
        &self.design
    }

    /// The criterion (REML or ML deviance) at θ.
    pub fn objective(&mut self, theta: &[f64]) -> f64 {
        self.dev.objective(theta)
    }

    /// Access to the prepared profiled deviance.
    pub fn deviance_function(&mut self) -> &mut ProfiledDeviance {
        &mut self.dev
    }

    /// Refit with a new response vector (same `X`, `Z`, weights, offset), as lme4's `refit`.
    pub fn refit(&mut self, y: &[f64]) -> Result<FitResult, LmmError> {
        if y.len() != self.design.nobs() {
            return Err(LmmError::BadInput(format!(
                "refit needs {} response values, got {}",
                self.design.nobs(),
                y.len()
            )));
        }
        self.design.y = y.to_vec();
        self.dev.set_response(&self.design, y);
        self.fit()
    }

    /// Optimise θ and assemble the results. The optimiser is chosen by
    /// [`LmmOptions::optimizer`] (see [`OptimizerChoice::resolve`]); the result records which
    /// one ran (`bobyqa` or `lbfgsb`) and how many evaluations it made (a gradient evaluation
    /// counts as one: it includes the objective).
    pub fn fit(&mut self) -> Result<FitResult, LmmError> {
        let lower = self.design.theta_lower();
        let upper = self.design.theta_upper();
        let start = self.design.theta_start();
        let evals_before = self.dev.evaluations();
        // A structured term (diag, cs, ar1) has a box for θ (ρ bounded on both sides), which
        // `Auto` searches with BOBYQA, as lme4 2.0 does.
        let structured = !self.design.all_unstructured();
        let choice = match self.opts.optimizer {
            OptimizerChoice::Auto if structured => OptimizerChoice::Bobyqa,
            c => c,
        };
        let optimizer = choice.optimizer(lower.len(), self.dev.dense_block_size(), &self.opts);
        // A gradient method searches an unstructured model without bounds: the criterion is
        // invariant to the sign of each column of Λ, so the search runs on all of ℝⁿ (a
        // projection onto θ_diag ≥ 0 can land exactly on 0, where the derivative along that θ
        // vanishes by symmetry and the search stalls); the signs are made canonical afterwards.
        // BOBYQA keeps lme4's bounds, and so does a gradient method on a structured model.
        let unbounded = optimizer.uses_gradient() && !structured;
        let lower = if unbounded {
            vec![f64::NEG_INFINITY; lower.len()]
        } else {
            lower
        };
        let out = optimizer
            .minimize(&mut Criterion(&mut self.dev), &start, &lower, &upper)
            .map_err(|e| match summaries::scale_warning(&self.design) {
                // The likely cause, in lme4's words, as the hint.
                Some(w) => LmmError::Optimizer(format!("{e}; hint: {w}")),
                None => LmmError::Optimizer(e.to_string()),
            })?;
        let converged_opt = out.converged();
        let mut message = out.message();
        if out.gradient_evaluations > 0 {
            message = format!(
                "{message} ({} gradient evaluations)",
                out.gradient_evaluations
            );
        }
        let theta = if unbounded {
            self.canonical_theta(out.x)
        } else {
            out.x
        };
        let name = optimizer.name().to_string();
        let evaluations = self.dev.evaluations() - evals_before;
        self.assemble(theta, evaluations, message, converged_opt, &name)
    }

    /// θ in each term's canonical form (for an unstructured term: every column of Λ signed so
    /// that its diagonal element is ≥ 0; the criterion does not change), and the elements
    /// bounded below by 0 that are below 1e-7 in magnitude set to 0 when that does not raise the
    /// criterion (a variance on its boundary).
    fn canonical_theta(&mut self, mut theta: Vec<f64>) -> Vec<f64> {
        let mut off = 0;
        for t in &self.design.terms {
            let n = t.n_theta();
            if let Some(th) = theta.get_mut(off..off + n) {
                t.covariance().canonicalize(th);
            }
            off += n;
        }
        // The elements bounded below by 0 (the diagonal of an unstructured Λ).
        let diag: Vec<usize> = (self.design.theta_lower().iter().enumerate())
            .filter(|(_, l)| **l == 0.0)
            .map(|(i, _)| i)
            .collect();
        let mut best = self.dev.objective(&theta);
        for i in diag {
            if let Some(&v) = theta.get(i)
                && v != 0.0
                && v.abs() < 1e-7
            {
                theta[i] = 0.0;
                let f = self.dev.objective(&theta);
                if f <= best {
                    best = f;
                } else {
                    theta[i] = v;
                }
            }
        }
        theta
    }

    fn assemble(
        &mut self,
        theta: Vec<f64>,
        evaluations: usize,
        message: String,
        converged_opt: bool,
        optimizer_name: &str,
    ) -> Result<FitResult, LmmError> {
        let reml = self.opts.reml;
        let d = &self.design;
        let n = d.nobs();
        let p = d.p();
        // canonical_theta's last evaluation is usually at θ̂ already.
        let summary = self
            .dev
            .factor_at(&theta)
            .ok_or_else(|| LmmError::Factorization {
                theta: theta.clone(),
            })?;
        // The criterion as the optimiser saw it (r² read off the factor): the convergence
        // check differences against this value.
        let objective_factor = {
            let (reml_crit, ml_dev) = self.dev.criterion_both(&summary);
            if reml { reml_crit } else { ml_dev }
        };
        let (beta, u) = self.dev.solve_current();
        let rxinv = self.dev.rx_inverse();
        let inv_blocks = if self.opts.cond_var {
            Some(self.dev.inverse_diag_blocks())
        } else {
            None
        };
        let lambda = self.dev.lambda().to_vec();

        // b = Λu per term, per level.
        let b_terms: Vec<Vec<f64>> = d
            .terms
            .iter()
            .zip(lambda.iter().zip(&u))
            .map(|(t, (lam, uj))| summaries::term_b(t.k, t.nlevels(), lam, uj))
            .collect();

        // Fitted values and residuals on the response scale.
        let mut fitted = vec![0.0; n];
        for (i, f) in fitted.iter_mut().enumerate() {
            let mut acc = d.offset.as_ref().map_or(0.0, |o| o[i]);
            for (a, be) in beta.iter().enumerate() {
                acc += d.x[(i, a)] * be;
            }
            for (t, b) in d.terms.iter().zip(&b_terms) {
                let l = t.refs[i] as usize;
                for c in 0..t.k {
                    acc += t.z[i * t.k + c] * b[l * t.k + c];
                }
            }
            *f = acc;
        }
        let residuals: Vec<f64> = d.y.iter().zip(&fitted).map(|(y, f)| y - f).collect();

        // The reported criterion, σ² and vcov use r² = Σ wᵢ rᵢ² + ‖u‖² summed from the
        // residuals at (β̂, û), as lme4 reports it. The factor's last pivot gives the same r²
        // in exact arithmetic, but it is y'y minus a long chain of updates: with a million
        // observations (the suite's ml1m) its rounding error reaches ~10⁻¹¹ of r², 10⁻⁵ in the
        // deviance. The sum of squares is stationary in (β, u), so solving errors enter it only
        // to second order. (A non-finite sum keeps the factor's value.)
        let weighted_rss: f64 = match d.weights.as_ref() {
            Some(w) => residuals.iter().zip(w).map(|(r, w)| w * r * r).sum(),
            None => residuals.iter().map(|r| r * r).sum(),
        };
        let pwrss_direct = weighted_rss + u.iter().flatten().map(|v| v * v).sum::<f64>();
        let summary = if pwrss_direct.is_finite() && pwrss_direct > 0.0 {
            crate::objective::FactorSummary {
                pwrss: pwrss_direct,
                ..summary
            }
        } else {
            summary
        };
        let (reml_crit, ml_dev) = self.dev.criterion_both(&summary);
        let objective = if reml { reml_crit } else { ml_dev };
        let sigma2 = summary.pwrss / if reml { (n - p) as f64 } else { n as f64 };
        let sigma = sigma2.sqrt();
        let vcov: Vec<f64> = rxinv.iter().map(|v| v * sigma2).collect();
        let scaled: Vec<f64> = residuals
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let w = d.weights.as_ref().map_or(1.0, |w| w[i]);
                r * w.sqrt() / sigma
            })
            .collect();

        // Warnings about the data, then singularity (lme4's isSingular: θ on its bound).
        let mut warnings = summaries::design_warnings(d);
        let singular_terms = summaries::singular_terms(d, &theta);
        let singular = !singular_terms.is_empty();
        if singular {
            warnings.push(summaries::singular_warning(&singular_terms));
        }

        // Convergence check by finite differences (skipped for singular fits, as lme4 does).
        let mut converged = converged_opt;
        if !converged_opt {
            warnings.push(format!("the optimiser did not converge: {message}"));
        }
        if self.opts.check_convergence && !singular && theta.len() <= 20 {
            if let Some(msg) = self.check_convergence(&theta, objective_factor) {
                converged = false;
                warnings.push(msg);
            }
            // Restore the factor at θ̂ (the check evaluated nearby points; the gradient
            // form ends at θ̂, so there this is free).
            let _ = self.dev.factor_at(&theta);
        }

        let npar = p + theta.len() + 1;
        let d = &self.design;
        Ok(
            FitResult::builder(d, if reml { Method::Reml } else { Method::Ml })
                .coefficients(&beta, vcov, |_| None)
                .scale(sigma, sigma2, true)
                .criterion(objective, Some(ml_dev), npar)
                .random_effects(&lambda, &b_terms, inv_blocks.as_deref(), sigma2)
                .response(fitted, residuals, &scaled)
                .status(
                    converged,
                    singular,
                    warnings,
                    OptimizerInfo {
                        name: optimizer_name.into(),
                        evaluations,
                        message,
                    },
                )
                .theta(theta)
                .build(),
        )
    }

    /// lme4's `checkConv`: the gradient `g` of the criterion at θ̂ (projected: a component on
    /// its lower bound that points out of the feasible region counts as 0) and its Hessian
    /// `H`. Warn when `max |chol(H)⁻¹ g| > 2e-3`, or when `H` is not positive definite.
    ///
    /// Usually `g` is the analytic gradient and `H[:, j] = (g(θ̂ + h e_j) − g(θ̂)) / h`
    /// (forward differences of it, `h = 1e-4`; θ has no upper bounds, so the step stays
    /// feasible), symmetrized: `1 + nθ` gradients, with an O(h) relative error in `H` far
    /// below what the test can see. When the dense block has [`OBJECTIVE_CHECK_MIN_BLOCK`]
    /// rows or more and there are at most 3 θ away from their bounds, one gradient costs
    /// about four criterion evaluations (it needs the dense inverse), and `g` and `H` come
    /// from central differences of the criterion instead (lme4's own method): `2nθ` axis
    /// points and two diagonal points per pair (see [`crate::optimizer::central_derivatives`]).
    fn check_convergence(&mut self, theta: &[f64], f0: f64) -> Option<String> {
        let m = theta.len();
        let h = 1e-4;
        let lower = self.design.theta_lower();
        let upper = self.design.theta_upper();
        let by_criterion = self.dev.dense_block_size() >= OBJECTIVE_CHECK_MIN_BLOCK
            && m <= 3
            && theta.iter().zip(&lower).all(|(t, lo)| t - h >= *lo)
            && theta.iter().zip(&upper).all(|(t, up)| t + h <= *up);
        let (raw, mut hess) = if by_criterion {
            let dev = &mut self.dev;
            central_derivatives(&mut |x: &[f64]| dev.objective(x), theta, f0, h)
        } else {
            // The gradients at the shifted points first and the one at θ̂ last, so that the
            // factor left in the workspace is that of θ̂.
            // A θ within h of an upper bound (a structured term's ρ) is stepped down instead,
            // so every point stays in the box.
            let steps: Vec<f64> = (theta.iter().zip(&upper))
                .map(|(t, u)| if t + h > *u { -h } else { h })
                .collect();
            let mut x = theta.to_vec();
            let shifted: Vec<Vec<f64>> = (0..m)
                .map(|j| {
                    x[j] = theta[j] + steps[j];
                    let (_, gp) = self.dev.gradient(&x);
                    x[j] = theta[j];
                    gp
                })
                .collect();
            let (_, raw) = self.dev.gradient(theta);
            let mut hess = vec![0.0; m * m];
            for (j, gp) in shifted.iter().enumerate() {
                for i in 0..m {
                    hess[i * m + j] = (gp[i] - raw[i]) / steps[j];
                }
            }
            (raw, hess)
        };
        let mut grad = raw.clone();
        for (g, (t, (lo, up))) in grad
            .iter_mut()
            .zip(theta.iter().zip(lower.iter().zip(&upper)))
        {
            if (*t <= *lo && *g > 0.0) || (*t >= *up && *g < 0.0) {
                *g = 0.0;
            }
        }
        for i in 0..m {
            for j in 0..i {
                let v = 0.5 * (hess[i * m + j] + hess[j * m + i]);
                hess[i * m + j] = v;
                hess[j * m + i] = v;
            }
        }
        if grad.iter().chain(hess.iter()).any(|v| !v.is_finite()) {
            return Some(
                "convergence check: the gradient or Hessian at the optimum is not finite".into(),
            );
        }
        let mut l = hess.clone();
        match crate::blocks::small::small_cholesky(&mut l, m) {
            None => Some(
                "Model failed to converge: the Hessian at the optimum is not positive definite; hint: the model may be nearly unidentifiable — simplify the random effects or rescale predictors".into(),
            ),
            Some(_) => {
                // chol(H) in R is the upper factor U = L', so solve(U, g) is a back solve.
                let mut s = grad.clone();
                for i in (0..m).rev() {
                    let mut acc = s[i];
                    for j in i + 1..m {
                        acc -= l[j * m + i] * s[j];
                    }
                    s[i] = acc / l[i * m + i];
                }
                let max = s.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                if max > 2e-3 {
                    Some(format!(
                        "Model failed to converge with max|grad| = {max:.6} (tol = 0.002); hint: rescale predictors or simplify the random effects"
                    ))
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::summaries::five_numbers;
    use multilevel_design::{CovarianceSpec, ReTerm};

    #[test]
    fn five_numbers_follow_r_quantile_type_7() {
        // R: quantile(1:10) = 1, 3.25, 5.5, 7.75, 10
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(five_numbers(&v), [1.0, 3.25, 5.5, 7.75, 10.0]);
        assert!(five_numbers(&[]).iter().all(|x| x.is_nan()));
    }

    /// Random-intercept data with a known structure: 12 groups of 6.
    fn design() -> Design {
        let n = 72;
        let g: Vec<u32> = (0..n).map(|i| (i / 6) as u32).collect();
        let x: Vec<f64> = (0..n).map(|i| (i % 6) as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                10.0 + 2.0 * x[i]
                    + ((g[i] * 7 % 5) as f64 - 2.0)
                    + ((i * 13 % 7) as f64 - 3.0) * 0.4
            })
            .collect();
        Design {
            formula: "y ~ x + (1 | g)".into(),
            response_name: "y".into(),
            y,
            trials: None,
            x: faer::Mat::from_fn(n, 2, |i, j| if j == 0 { 1.0 } else { x[i] }),
            x_names: vec!["(Intercept)".into(), "x".into()],
            x_assign: vec![0, 1],
            fixed_term_labels: vec!["(Intercept)".into(), "x".into()],
            dropped_columns: vec![],
            terms: vec![ReTerm {
                group: "g".into(),
                levels: (0..12).map(|l| format!("g{l}")).collect(),
                refs: g,
                k: 1,
                z: vec![1.0; n],
                col_names: vec!["(Intercept)".into()],
                formula_order: 0,
                structure: CovarianceSpec::unstructured(1),
            }],
            weights: None,
            offset: None,
            n_dropped_missing: 3,
            data_name: "test".into(),
        }
    }

    #[test]
    fn refit_with_the_same_response_reproduces_the_fit() {
        let d = design();
        let y = d.y.clone();
        let mut m = LinearMixedModel::new(d, LmmOptions::default()).unwrap();
        let a = m.fit().unwrap();
        let b = m.refit(&y).unwrap();
        assert_eq!(a.theta, b.theta);
        assert_eq!(a.objective, b.objective);
        // A shifted response moves only the intercept.
        let shifted: Vec<f64> = y.iter().map(|v| v + 100.0).collect();
        let c = m.refit(&shifted).unwrap();
        assert!((c.fixed[0].estimate - a.fixed[0].estimate - 100.0).abs() < 1e-6);
        assert!((c.fixed[1].estimate - a.fixed[1].estimate).abs() < 1e-8);
        assert!((c.objective - a.objective).abs() < 1e-8);
        assert!(m.refit(&y[..10]).is_err());
    }

    #[test]
    fn fit_reports_lme4_quantities_consistently() {
        let fit = lmer(design(), &LmmOptions::default()).unwrap();
        assert_eq!(fit.npar, 4);
        assert!((fit.loglik + fit.objective / 2.0).abs() < 1e-12);
        assert!((fit.aic - (fit.objective + 8.0)).abs() < 1e-9);
        assert!((fit.residual.as_ref().unwrap().std_dev - fit.sigma).abs() < 1e-12);
        // Fitted + residual = response.
        let d = design();
        for i in 0..d.nobs() {
            assert!((fit.fitted[i] + fit.residuals[i] - d.y[i]).abs() < 1e-9);
        }
        assert_eq!(fit.warnings[0], "3 rows with missing values dropped");
        // The reported criterion (r² from the residuals) is the optimiser's (r² from the
        // factor) up to rounding, and σ² is that r² over n − p (REML): r² = Σ rᵢ² + ‖u‖²
        // with u = b/θ for this one scalar term.
        let mut m = LinearMixedModel::new(design(), LmmOptions::default()).unwrap();
        let at_factor = m.objective(&fit.theta);
        assert!((fit.objective - at_factor).abs() <= 1e-10 * at_factor.abs());
        let rss: f64 = fit.residuals.iter().map(|r| r * r).sum();
        let th = fit.theta[0];
        let usq: f64 = fit.ranef[0]
            .values
            .iter()
            .map(|b| (b[0] / th).powi(2))
            .sum();
        let r2 = fit.sigma * fit.sigma * (d.nobs() - d.p()) as f64;
        assert!(
            (rss + usq - r2).abs() <= 1e-12 * r2,
            "{} vs {r2}",
            rss + usq
        );
        assert_eq!(fit.groups[0].levels, 12);
        assert_eq!(fit.ranef[0].values.len(), 12);
        assert!(fit.converged);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut d = design();
        d.terms.clear();
        assert_eq!(
            LinearMixedModel::new(d, LmmOptions::default()).unwrap_err(),
            LmmError::NoRandomEffects
        );
        let mut d = design();
        d.weights = Some(vec![0.0; 72]);
        assert!(matches!(
            LinearMixedModel::new(d, LmmOptions::default()),
            Err(LmmError::BadInput(_))
        ));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod optimizer_tests {
    use super::*;

    #[test]
    fn auto_resolves_by_theta_count_and_block_size() {
        use OptimizerChoice::*;
        assert_eq!(Auto.resolve(1, 3), Bobyqa);
        assert_eq!(Auto.resolve(3, 3), QuasiNewton);
        assert_eq!(Auto.resolve(3, 1200), Bobyqa);
        assert_eq!(Auto.resolve(72, 1200), QuasiNewton);
        assert_eq!(Bobyqa.resolve(72, 3), Bobyqa);
        assert_eq!(QuasiNewton.resolve(1, 3), QuasiNewton);
    }

    #[test]
    fn quasi_newton_and_bobyqa_reach_the_same_optimum() {
        // Crossed vector terms (7 θ), REML and ML, with weights; a response with clear
        // random intercepts and slopes for the first two terms, so that the optimum is interior.
        let mut d = crate::testing::design_with(true, 240, &[(12, 2), (8, 2), (5, 1)]);
        let mut seed = 11u64;
        let mut unif = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let effects: Vec<Vec<f64>> = d
            .terms
            .iter()
            .map(|t| (0..t.q()).map(|_| 2.0 * unif()).collect())
            .collect();
        for i in 0..d.nobs() {
            let mut v = 3.0 + 0.5 * d.x[(i, 1)] + unif();
            for (t, e) in d.terms.iter().zip(&effects) {
                let l = t.refs[i] as usize;
                for c in 0..t.k {
                    v += t.z[i * t.k + c] * e[l * t.k + c];
                }
            }
            d.y[i] = v;
        }
        for reml in [true, false] {
            let fit_with = |optimizer| {
                let opts = LmmOptions {
                    reml,
                    optimizer,
                    ..LmmOptions::default()
                };
                lmer(d.clone(), &opts).unwrap()
            };
            let qn = fit_with(OptimizerChoice::QuasiNewton);
            let bq = fit_with(OptimizerChoice::Bobyqa);
            assert_eq!(qn.optimizer.name, "lbfgsb");
            assert_eq!(bq.optimizer.name, "bobyqa");
            assert!(
                qn.objective <= bq.objective + 1e-7 * bq.objective.abs(),
                "{} vs {}",
                qn.objective,
                bq.objective
            );
            assert!(qn.optimizer.evaluations < bq.optimizer.evaluations);
            assert!(qn.theta.iter().zip(&d.theta_lower()).all(|(t, l)| t >= l));
            let auto = fit_with(OptimizerChoice::Auto);
            assert_eq!(auto.optimizer.name, "lbfgsb");
        }
    }
}
