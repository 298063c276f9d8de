//! Satterthwaite degrees of freedom for the coefficients (the `mmrm` package's definition).
//!
//! With `φ = (x, log σ²)` the covariance parameters (unconstrained), `Φ(φ) = σ²A(x)⁻¹` the
//! covariance of `β̂`, and `W = 2H⁻¹` the asymptotic covariance of `φ̂` (`H` the Hessian of the
//! −2 log-likelihood criterion at fixed `σ²`, restricted under REML, at the estimate), the df
//! of a contrast `c` are
//!
//! ```text
//! ν = 2 (c'Φc)² / (g'Wg),    gₖ = ∂(c'Φc)/∂φₖ .
//! ```
//!
//! `ν` does not depend on how `φ` is parametrised (the Jacobians of a reparametrisation cancel
//! between `g` and `W`). `H` and `g` are central finite differences with step 1e-3 on the
//! unconstrained scale (truncation error ~1e-6 relative; a smaller step lets the rounding of
//! the criterion, ~1e-12 of its value, into the second differences).

use crate::objective::Objective;
use multilevel_lmm::optimizer::central_derivatives;
use multilevel_numeric::spd::spd_inverse;

const STEP: f64 = 1e-3;

/// What the df need of a model: the criterion at a fixed `σ²` and the diagonal of
/// `vcov(β̂)/σ²` at covariance parameters `x` (unconstrained scale).
pub(crate) trait DfCriterion {
    /// Number of coefficients.
    fn n_coef(&self) -> usize;
    /// The −2 log-likelihood (restricted under REML) at `x` and `log σ²` (`+∞` where it is
    /// not defined).
    fn at_sigma(&mut self, x: &[f64], log_sigma2: f64) -> f64;
    /// The diagonal of `vcov(β̂)/σ²` at `x`; `None` where it is not defined.
    fn unscaled_variances(&mut self, x: &[f64]) -> Option<Vec<f64>>;
}

impl DfCriterion for Objective {
    fn n_coef(&self) -> usize {
        self.p
    }
    fn at_sigma(&mut self, x: &[f64], log_sigma2: f64) -> f64 {
        Objective::at_sigma(self, x, log_sigma2)
    }
    fn unscaled_variances(&mut self, x: &[f64]) -> Option<Vec<f64>> {
        let p = self.p;
        let inv = self.pieces(x)?.chol_a.inverse();
        Some((0..p).map(|j| inv[j * p + j]).collect())
    }
}

/// The Satterthwaite df of every coefficient `βⱼ` (contrast `eⱼ`), or a warning saying why
/// they could not be computed. With `sigma_fixed` σ² is no parameter (`φ = x`).
pub(crate) fn satterthwaite_df(
    obj: &mut dyn DfCriterion,
    theta: &[f64],
    sigma2: f64,
    sigma_fixed: bool,
) -> Result<Vec<f64>, String> {
    let m = theta.len();
    let p = obj.n_coef();
    let mut phi = theta.to_vec();
    if !sigma_fixed {
        phi.push(sigma2.ln());
    }
    let k = phi.len();
    if k == 0 {
        return Err(
            "the Satterthwaite df could not be computed: no covariance parameters".to_string(),
        );
    }
    let fixed_ls = sigma2.ln();
    let mut f = |v: &[f64]| {
        let (x, ls) = v.split_at(m);
        obj.at_sigma(x, ls.first().copied().unwrap_or(fixed_ls))
    };
    let f0 = f(&phi);
    let (_, h) = central_derivatives(&mut f, &phi, f0, STEP);
    let Some(h_inv) = spd_inverse(&h, k, 1e-12) else {
        return Err(
            "the Satterthwaite df could not be computed: the Hessian of the covariance parameters is not positive definite (a correlation or variance at its boundary?)".to_string(),
        );
    };
    // Φ's diagonal at x ± δ eₖ (σ² fixed), and its derivative in log σ² (Φ itself).
    let mut diag_at = |x: &[f64]| -> Option<Vec<f64>> {
        let v = obj.unscaled_variances(x)?;
        Some(v.iter().map(|d| sigma2 * d).collect())
    };
    let v0 = diag_at(theta).ok_or("the Satterthwaite df could not be computed")?;
    let mut grads = vec![vec![0.0; k]; p];
    let mut xx = theta.to_vec();
    for c in 0..m {
        xx[c] = theta[c] + STEP;
        let plus = diag_at(&xx);
        xx[c] = theta[c] - STEP;
        let minus = diag_at(&xx);
        xx[c] = theta[c];
        let (Some(plus), Some(minus)) = (plus, minus) else {
            return Err("the Satterthwaite df could not be computed (the criterion is not defined next to the estimate)".to_string());
        };
        for j in 0..p {
            grads[j][c] = (plus[j] - minus[j]) / (2.0 * STEP);
        }
    }
    if !sigma_fixed {
        for j in 0..p {
            grads[j][m] = v0[j];
        }
    }
    let mut out = Vec::with_capacity(p);
    for j in 0..p {
        let g = &grads[j];
        let mut q = 0.0;
        for a in 0..k {
            for b in 0..k {
                q += g[a] * 2.0 * h_inv[a * k + b] * g[b];
            }
        }
        out.push(2.0 * v0[j] * v0[j] / q);
    }
    Ok(out)
}
