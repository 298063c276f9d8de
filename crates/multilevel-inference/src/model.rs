//! A fitted linear mixed model with the derivatives small-sample inference needs.

use multilevel_lmm::{FitResult, LinearMixedModel, LmmOptions, Method};

use crate::InferenceError;
use crate::linalg::sym_eigen;
#[cfg(test)]
use crate::numderiv;

/// Relative step of the Jacobian of `vcov(β̂)` (Richardson-extrapolated central differences).
#[cfg(test)]
const JACOBIAN_STEP: f64 = 1e-3;
/// Eigenvalues of the Hessian at or below this are treated as zero (lmerTest's `tol`).
const HESSIAN_TOL: f64 = 1e-8;
/// σ̂ in this range is differentiated on its own scale (as lmerTest does); outside it, on the
/// scale of σ̂ (see `compute_derivatives`).
const SIGMA_UNSCALED_MIN: f64 = 1e-3;
/// Upper end of the range above.
const SIGMA_UNSCALED_MAX: f64 = 1e3;

/// A linear mixed model, its fit, and (computed on first use, then cached) the asymptotic
/// covariance of the variance parameters and the Jacobian of `vcov(β̂)`.
///
/// The variance parameters are lmerTest's `varpar = (θ, σ)`: the relative covariance factor
/// θ in lme4's order followed by the residual standard deviation σ.
#[derive(Debug)]
pub struct FittedLmm {
    model: LinearMixedModel,
    fit: FitResult,
    reml: bool,
    varpar: Vec<f64>,
    derivs: Option<Derivatives>,
    /// Kenward–Roger's contrast-free parts, computed on first use.
    kr: Option<std::sync::Arc<crate::kenward_roger::KrParts>>,
}

/// Cached derivatives at the optimum.
#[derive(Debug, Clone)]
struct Derivatives {
    /// Hessian `H` of the unprofiled deviance w.r.t. varpar, row-major `m × m`.
    hessian: Vec<f64>,
    /// `A = 2 H⁻¹` (pseudo-inverse over eigenvalues above 1e-8), row-major `m × m`.
    vcov_varpar: Vec<f64>,
    /// `∂ vcov(β̂) / ∂ varparᵢ`, one row-major `p × p` matrix per variance parameter.
    jacobian: Vec<Vec<f64>>,
    /// Eigenvalues of `H` at or below the tolerance (reported as a warning).
    small_eigenvalues: Vec<f64>,
}

impl FittedLmm {
    /// Wrap a prepared model and the fit it produced (`model.fit()`, or `model.refit(y)`).
    ///
    /// # Errors
    /// [`InferenceError::Mismatch`] when the fit does not belong to the model (different
    /// number of coefficients or θ, or a GLMM fit). (A σ̂ that is not positive and finite is
    /// an [`InferenceError::NotFinite`] of the derivatives, when they are first needed.)
    pub fn new(model: LinearMixedModel, fit: FitResult) -> Result<Self, InferenceError> {
        let design = model.design();
        check_shape(design, &fit)?;
        let reml = match fit.method {
            Method::Reml => true,
            Method::Ml => false,
            other => {
                return Err(InferenceError::Mismatch(format!(
                    "small-sample inference needs a linear mixed model fitted by REML or ML, not {other:?}"
                )));
            }
        };
        let mut varpar = fit.theta.clone();
        varpar.push(fit.sigma);
        Ok(FittedLmm {
            model,
            fit,
            reml,
            varpar,
            derivs: None,
            kr: None,
        })
    }

    /// Fit a prepared model and wrap it.
    ///
    /// # Errors
    /// The fit's error, or as [`FittedLmm::new`].
    pub fn fit(mut model: LinearMixedModel) -> Result<Self, InferenceError> {
        let fit = model.fit()?;
        Self::new(model, fit)
    }

    /// Build the model from a design with the given options and fit it.
    ///
    /// # Errors
    /// The fit's error, or as [`FittedLmm::new`].
    pub fn from_design(
        design: multilevel_design::Design,
        opts: &LmmOptions,
    ) -> Result<Self, InferenceError> {
        Self::fit(LinearMixedModel::new(design, opts.clone())?)
    }

    /// Evaluate the model at a given θ instead of optimising it: β̂(θ), σ̂(θ) and
    /// `vcov(β̂)` are read off the factorization at θ, exactly as a fit ending at θ would
    /// report them. The [`FitResult`] holds only what inference needs (coefficients, vcov, θ,
    /// σ, criterion, log-likelihood); random effects, fitted values and residuals are empty.
    ///
    /// Use it to separate the accuracy of the df computations from optimiser differences,
    /// e.g. to compare with lmerTest at lme4's θ̂.
    ///
    /// # Errors
    /// [`InferenceError::Mismatch`] for a θ of the wrong length; [`InferenceError::Numerical`]
    /// when `M(θ)` cannot be factored.
    pub fn at_theta(mut model: LinearMixedModel, theta: &[f64]) -> Result<Self, InferenceError> {
        let design = model.design();
        if theta.len() != design.n_theta() {
            return Err(InferenceError::Mismatch(format!(
                "θ has {} values but the model has {}",
                theta.len(),
                design.n_theta()
            )));
        }
        let n = design.nobs();
        let dev = model.deviance_function();
        let reml = dev.reml();
        let p = dev.p();
        let fs = dev.factor_summary(theta).ok_or_else(|| {
            InferenceError::Numerical(format!("the model cannot be factored at θ = {theta:?}"))
        })?;
        let (reml_crit, ml_dev) = dev.criteria(&fs);
        let sigma2 = fs.pwrss / if reml { (n - p) as f64 } else { n as f64 };
        let (beta, _) = dev.solve();
        let vcov: Vec<f64> = dev.rx_inverse().into_iter().map(|v| v * sigma2).collect();
        let objective = if reml { reml_crit } else { ml_dev };
        let npar = p + theta.len() + 1;
        let fit = FitResult::builder(model.design(), if reml { Method::Reml } else { Method::Ml })
            .coefficients(&beta, vcov, |_| None)
            .theta(theta.to_vec())
            .scale(sigma2.sqrt(), sigma2, true)
            .criterion(objective, Some(ml_dev), npar)
            .status(
                true,
                false,
                vec!["evaluated at a given θ, not optimised".into()],
                multilevel_lmm::OptimizerInfo {
                    name: "none".into(),
                    evaluations: 0,
                    message: "evaluated at a given θ".into(),
                },
            )
            .build();
        Self::new(model, fit)
    }

    /// The fit.
    pub fn fit_result(&self) -> &FitResult {
        &self.fit
    }

    /// The fit, mutable (e.g. for [`crate::add_df`] on the owned copy).
    pub fn fit_result_mut(&mut self) -> &mut FitResult {
        &mut self.fit
    }

    /// The prepared model.
    pub fn model(&self) -> &LinearMixedModel {
        &self.model
    }

    /// The model and its fit, taken apart (e.g. to refit the model to a new response).
    pub fn into_parts(self) -> (LinearMixedModel, FitResult) {
        (self.model, self.fit)
    }

    /// lme4's `confint(fit, method = "Wald")`: `β̂ᵢ ± z seᵢ` (see [`crate::wald_confint`]).
    ///
    /// # Errors
    /// [`InferenceError::BadLevel`] unless `0 < level < 1`.
    pub fn wald_confint(&self, level: f64) -> Result<Vec<crate::Interval>, InferenceError> {
        crate::wald_confint(&self.fit, level)
    }

    /// lme4's `confint(fit, method = "profile")` (see [`crate::profile_confint`]).
    ///
    /// # Errors
    /// As [`crate::profile_confint`].
    pub fn profile_confint(&self, level: f64) -> Result<Vec<crate::Interval>, InferenceError> {
        crate::profile_confint(self.model.design(), &self.fit, level)
    }

    /// lme4's parametric `bootMer` from this fit (see [`crate::bootstrap`]).
    ///
    /// # Errors
    /// As [`crate::bootstrap`].
    pub fn bootstrap(
        &self,
        nsim: usize,
        seed: u64,
        threads: Option<usize>,
    ) -> Result<crate::BootstrapResult, InferenceError> {
        crate::bootstrap(&self.model, &self.fit, nsim, seed, threads)
    }

    /// Whether the fit is by REML.
    pub fn reml(&self) -> bool {
        self.reml
    }

    /// The variance parameters `(θ̂, σ̂)`.
    pub fn varpar(&self) -> &[f64] {
        &self.varpar
    }

    /// β̂.
    pub fn beta(&self) -> Vec<f64> {
        self.fit.fixed.iter().map(|f| f.estimate).collect()
    }

    /// `vcov(β̂) = σ̂² (R_X'R_X)⁻¹`, row-major `p × p`.
    pub fn vcov_beta(&self) -> &[f64] {
        &self.fit.vcov
    }

    /// Number of fixed-effect coefficients.
    pub fn p(&self) -> usize {
        self.fit.fixed.len()
    }

    /// The deviance as a function of `varpar = (θ, σ)`, not profiled over σ (lmerTest's
    /// `devfun_vp`), from one factorization at θ:
    ///
    /// ```text
    /// ML:   d(θ, σ) = log|L_θ|² + n log(2πσ²) + r²(θ)/σ²
    /// REML: d(θ, σ) = log|L_θ|² + log|R_X|² + (n − p) log(2πσ²) + r²(θ)/σ²
    /// ```
    ///
    /// (`− log|W|` is added with prior weights so that at σ = σ̂(θ) this equals the profiled
    /// criterion). `None` when `M(θ)` cannot be factored or σ ≤ 0.
    pub fn varpar_deviance(&mut self, varpar: &[f64]) -> Option<f64> {
        let (theta, sigma) = split_varpar(varpar)?;
        let reml = self.reml;
        let dev = self.model.deviance_function();
        let fs = dev.factor_summary(theta)?;
        let n = dev.nobs() as f64;
        let p = dev.p() as f64;
        let s2 = sigma * sigma;
        let two_pi_s2 = (2.0 * std::f64::consts::PI * s2).ln();
        let base = fs.ld_l2 - dev.log_det_w() + fs.pwrss / s2;
        Some(if reml {
            base + fs.ld_rx2 + (n - p) * two_pi_s2
        } else {
            base + n * two_pi_s2
        })
    }

    /// `vcov(β̂)(θ, σ) = σ² (R_X'R_X)⁻¹(θ)` as a row-major vector (lmerTest's `get_covbeta`).
    pub fn vcov_beta_at(&mut self, varpar: &[f64]) -> Option<Vec<f64>> {
        let (theta, sigma) = split_varpar(varpar)?;
        let dev = self.model.deviance_function();
        dev.factor_summary(theta)?;
        let s2 = sigma * sigma;
        Some(dev.rx_inverse().into_iter().map(|v| v * s2).collect())
    }

    /// Compute (once) the Hessian, `A = 2H⁻¹` and the Jacobian of `vcov(β̂)`.
    fn derivatives(&mut self) -> Result<&Derivatives, InferenceError> {
        if self.derivs.is_none() {
            let d = self.compute_derivatives()?;
            self.derivs = Some(d);
        }
        self.derivs
            .as_ref()
            .ok_or_else(|| InferenceError::Numerical("derivatives unavailable".into()))
    }

    fn compute_derivatives(&mut self) -> Result<Derivatives, InferenceError> {
        if !(self.fit.sigma.is_finite() && self.fit.sigma > 0.0) {
            return Err(InferenceError::NotFinite(format!(
                "residual standard deviation σ̂ = {}",
                self.fit.sigma
            )));
        }
        let m = self.varpar.len();
        // The Hessian is taken in (θ, s) with σ = unit·s. For σ̂ in [1e-3, 1e3], unit = 1
        // (lmerTest's coordinates); outside it unit = σ̂, so that the eigenvalue cut-off of H
        // sees a σ-coordinate of order 1 and no σ⁴ under- or overflows: a response on a scale
        // of 1e-12 gets the df it gets at scale 1 (the model is scale-equivariant).
        let sigma_hat = self.fit.sigma;
        let unit = if (SIGMA_UNSCALED_MIN..=SIGMA_UNSCALED_MAX).contains(&sigma_hat) {
            1.0
        } else {
            sigma_hat
        };
        let x = self.varpar.clone();
        // The Jacobian first: it reads the factor at θ̂ that the fit left in the workspace.
        let jacobian = self.analytic_jacobian(&x);
        let hessian = self.analytic_hessian(&x, unit);
        // Leave the factor at θ̂ for anyone reading the model afterwards.
        let theta = self.fit.theta.clone();
        let _ = self.model.deviance_function().factor_summary(&theta);
        let hessian = hessian.ok_or_else(|| {
            InferenceError::Numerical(
                "the deviance could not be evaluated near the optimum to form its Hessian".into(),
            )
        })?;
        let jacobian = jacobian.ok_or_else(|| {
            InferenceError::Numerical(
                "vcov(β) could not be evaluated near the optimum to form its Jacobian".into(),
            )
        })?;
        let (vals, vecs) = sym_eigen(&hessian, m);
        let mut vcov_varpar = vec![0.0; m * m];
        let mut small = Vec::new();
        for (c, &lam) in vals.iter().enumerate() {
            if lam > HESSIAN_TOL {
                for i in 0..m {
                    for j in 0..m {
                        vcov_varpar[i * m + j] += 2.0 * vecs[i * m + c] * vecs[j * m + c] / lam;
                    }
                }
            } else {
                small.push(lam);
            }
        }
        // Back to σ: ∂/∂σ = (1/unit) ∂/∂s, and A = 2H⁻¹ transforms as a covariance (× unit per
        // σ index). The Jacobian of vcov(β̂) is in σ already.
        let mut hessian = hessian;
        if unit != 1.0 {
            let last = m - 1;
            for i in 0..m {
                for j in 0..m {
                    let k = usize::from(i == last) + usize::from(j == last);
                    let f = unit.powi(k as i32);
                    hessian[i * m + j] /= f;
                    vcov_varpar[i * m + j] *= f;
                }
            }
        }
        Ok(Derivatives {
            hessian,
            vcov_varpar,
            jacobian,
            small_eigenvalues: small,
        })
    }

    /// Hessian of [`FittedLmm::varpar_deviance`] at `varpar = (θ, σ)`, row-major, from the
    /// exact gradient with respect to θ:
    ///
    /// ```text
    ///   d(θ, σ) = log|Ω(θ)| + c log(2πσ²) + r²(θ)/σ²       (c = n − p for REML, n for ML)
    ///   ∂²d/∂σ²    = 6r²/σ⁴ − 2c/σ²
    ///   ∂²d/∂θᵢ∂σ  = −2 (∂r²/∂θᵢ)/σ³
    ///   ∂²d/∂θᵢ∂θⱼ = central differences in θⱼ of ∂d/∂θᵢ at fixed σ, symmetrised.
    /// ```
    ///
    /// `2·dim(θ)` gradient evaluations (and `∂r²/∂θ` at the point, from one back
    /// substitution), where numDeriv's Richardson-extrapolated
    /// differences of the deviance (lmerTest's way) need `8m + 16·m(m − 1)/2` evaluations for
    /// `m = dim(θ) + 1`. `None` when the model cannot be factored near the point.
    ///
    /// The last coordinate is `s = σ/unit` (`unit = 1`: σ itself): with `r̃² = r²/unit²` the σ
    /// parts read `6r̃²/s⁴ − 2c/s²` and `−2 (∂r̃²/∂θᵢ)/s³`, of order 1 when `unit = σ̂`.
    fn analytic_hessian(&mut self, varpar: &[f64], unit: f64) -> Option<Vec<f64>> {
        let (theta, sigma) = split_varpar(varpar)?;
        let reml = self.reml;
        let dev = self.model.deviance_function();
        let nfac = if reml {
            (dev.nobs() - dev.p()) as f64
        } else {
            dev.nobs() as f64
        };
        // σ² = unit²·s²; the weight 1/σ² formed without squaring σ (no overflow near 1e154).
        let s = sigma / unit;
        let s2 = s * s;
        let weight = (1.0 / unit) * (1.0 / unit) / s2;
        let nt = theta.len();
        let m = nt + 1;
        let (f0, dr2) = dev.pwrss_gradient(theta)?;
        let unit2 = unit * unit;
        let dr2: Vec<f64> = dr2.iter().map(|v| v / unit2).collect();
        let pwrss = f0.pwrss / unit2;
        if dr2.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut h = vec![0.0; m * m];
        let mut tt = theta.to_vec();
        for j in 0..nt {
            let step = gradient_step(theta[j]);
            tt[j] = theta[j] + step;
            let (_, gp) = dev.weighted_gradient(&tt, weight)?;
            tt[j] = theta[j] - step;
            let (_, gm) = dev.weighted_gradient(&tt, weight)?;
            tt[j] = theta[j];
            for i in 0..nt {
                let d = (gp.get(i)? - gm.get(i)?) / (2.0 * step);
                if !d.is_finite() {
                    return None;
                }
                h[i * m + j] = d;
            }
        }
        for i in 0..nt {
            for j in 0..i {
                let v = 0.5 * (h[i * m + j] + h[j * m + i]);
                h[i * m + j] = v;
                h[j * m + i] = v;
            }
            let cross = -2.0 * dr2[i] / (s2 * s);
            h[i * m + nt] = cross;
            h[nt * m + i] = cross;
        }
        h[nt * m + nt] = 6.0 * pwrss / (s2 * s2) - 2.0 * nfac / s2;
        Some(h)
    }

    /// `∂ vcov(β̂)/∂ varparᵢ` at `varpar = (θ, σ)`, exact: `σ² ∂(R_X'R_X)⁻¹/∂θᵢ` from one
    /// factorization ([`multilevel_lmm::ProfiledDeviance::rx_inverse_jacobian`]) and
    /// `∂/∂σ = 2σ (R_X'R_X)⁻¹`.
    fn analytic_jacobian(&mut self, varpar: &[f64]) -> Option<Vec<Vec<f64>>> {
        let (theta, sigma) = split_varpar(varpar)?;
        let dev = self.model.deviance_function();
        let s2 = sigma * sigma;
        let mut jac = dev.rx_inverse_jacobian(theta)?;
        for d in &mut jac {
            d.iter_mut().for_each(|v| *v *= s2);
        }
        jac.push(
            dev.rx_inverse()
                .into_iter()
                .map(|v| 2.0 * sigma * v)
                .collect(),
        );
        jac.iter().flatten().all(|v| v.is_finite()).then_some(jac)
    }

    /// Hessian of [`FittedLmm::varpar_deviance`] at `(θ̂, σ̂)`, row-major.
    ///
    /// # Errors
    /// [`InferenceError::Numerical`] when the deviance cannot be evaluated near the optimum.
    pub fn hessian(&mut self) -> Result<Vec<f64>, InferenceError> {
        Ok(self.derivatives()?.hessian.clone())
    }

    /// Asymptotic covariance of the variance parameters, `A = 2H⁻¹` (lmerTest's
    /// `vcov_varpar`; a pseudo-inverse over the eigenvalues of `H` above 1e-8).
    ///
    /// # Errors
    /// As [`FittedLmm::hessian`].
    pub fn vcov_varpar(&mut self) -> Result<Vec<f64>, InferenceError> {
        Ok(self.derivatives()?.vcov_varpar.clone())
    }

    /// `∂ vcov(β̂) / ∂ varparᵢ` for each variance parameter (lmerTest's `Jac_list`).
    ///
    /// # Errors
    /// As [`FittedLmm::hessian`].
    pub fn jacobian(&mut self) -> Result<Vec<Vec<f64>>, InferenceError> {
        Ok(self.derivatives()?.jacobian.clone())
    }

    /// Warnings about the derivatives (eigenvalues of `H` that are zero or negative, as
    /// lmerTest warns "Model may not have converged ...").
    ///
    /// # Errors
    /// As [`FittedLmm::hessian`].
    pub fn derivative_warnings(&mut self) -> Result<Vec<String>, InferenceError> {
        let d = self.derivatives()?;
        Ok(d.small_eigenvalues
            .iter()
            .map(|v| {
                format!(
                    "the Hessian of the deviance w.r.t. (θ, σ) has an eigenvalue {v:.1e} at or below 1e-8; the model may not have converged, and Satterthwaite df ignore that direction"
                )
            })
            .collect())
    }

    /// `A`, the Jacobian and `vcov(β̂)` in one borrow, for the df methods.
    /// Kenward–Roger's contrast-free parts of this fit ([`crate::kenward_roger_parts`]),
    /// computed once and shared by every contrast and F test of the model.
    pub(crate) fn kr_parts(
        &mut self,
    ) -> Result<std::sync::Arc<crate::kenward_roger::KrParts>, InferenceError> {
        if let Some(p) = &self.kr {
            return Ok(std::sync::Arc::clone(p));
        }
        let parts = std::sync::Arc::new(crate::kenward_roger::kenward_roger_parts(self)?);
        self.kr = Some(std::sync::Arc::clone(&parts));
        Ok(parts)
    }

    pub(crate) fn satterthwaite_parts(
        &mut self,
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), InferenceError> {
        let d = self.derivatives()?;
        Ok((d.vcov_varpar.clone(), d.jacobian.clone()))
    }
}

/// Step of the central differences of the gradient in θⱼ: relative to θⱼ, absolute near 0
/// (where a diagonal θ may sit at its bound; the criterion is even in it, so both sides exist).
fn gradient_step(theta: f64) -> f64 {
    (1e-4 * theta.abs()).max(1e-5)
}

fn split_varpar(varpar: &[f64]) -> Option<(&[f64], f64)> {
    let (sigma, theta) = varpar.split_last()?;
    if *sigma <= 0.0 || !sigma.is_finite() {
        return None;
    }
    Some((theta, *sigma))
}

/// The fit belongs to the design: as many coefficients and θ as the model has.
///
/// # Errors
/// [`InferenceError::Mismatch`] naming both counts.
pub(crate) fn check_shape(
    design: &multilevel_design::Design,
    fit: &FitResult,
) -> Result<(), InferenceError> {
    if fit.fixed.len() != design.p() || fit.theta.len() != design.n_theta() {
        return Err(InferenceError::Mismatch(format!(
            "the fit has {} coefficients and {} θ but the model has {} and {}",
            fit.fixed.len(),
            fit.theta.len(),
            design.p(),
            design.n_theta()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};

    fn fitted(dataset: &str, factors: &[&str], formula: &str, reml: bool) -> FittedLmm {
        let ds = multilevel_datasets::get(dataset).unwrap();
        let opts = ReadOptions {
            factor_columns: factors.iter().map(|s| s.to_string()).collect(),
            ordered_columns: Vec::new(),
        };
        let data = DataFrame::from_csv_str(ds.name, ds.csv, &opts).unwrap();
        let f = multilevel_formula::parse(formula).unwrap();
        let frame = ModelFrame::new(&f, &data, &FrameOptions::default()).unwrap();
        let design = multilevel_design::build_design(&f, &frame).unwrap();
        let lopts = LmmOptions {
            reml,
            ..LmmOptions::default()
        };
        FittedLmm::from_design(design, &lopts).unwrap()
    }

    /// The exact Hessian (gradient differences, closed-form σ parts) and Jacobian agree with
    /// numDeriv-style Richardson-extrapolated differences of the deviance and of vcov(β̂).
    fn check(mut m: FittedLmm, what: &str) {
        let x = m.varpar().to_vec();
        let k = x.len();
        let h = m.analytic_hessian(&x, 1.0).expect("analytic Hessian");
        let hn = numderiv::hessian(&mut |v: &[f64]| m.varpar_deviance(v), &x).expect("numeric");
        let hscale = hn.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for (i, (a, b)) in h.iter().zip(&hn).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * hscale,
                "{what}: H[{},{}] exact {a} numeric {b}",
                i / k,
                i % k
            );
        }
        let j = m.analytic_jacobian(&x).expect("analytic Jacobian");
        let jn = numderiv::jacobian(&mut |v: &[f64]| m.vcov_beta_at(v), &x, JACOBIAN_STEP)
            .expect("numeric");
        assert_eq!(j.len(), jn.len());
        for (d, (a, b)) in j.iter().zip(&jn).enumerate() {
            let scale = b.iter().fold(1e-12f64, |s, v| s.max(v.abs()));
            for (e, (u, v)) in a.iter().zip(b).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-7 * scale,
                    "{what}: ∂vcov/∂varpar[{d}] entry {e}: exact {u} numeric {v}"
                );
            }
        }
    }

    #[test]
    fn exact_derivatives_match_numerical_ones() {
        check(
            fitted(
                "sleepstudy",
                &["Subject"],
                "Reaction ~ Days + (Days | Subject)",
                true,
            ),
            "sleepstudy REML",
        );
        check(
            fitted(
                "sleepstudy",
                &["Subject"],
                "Reaction ~ Days + (Days | Subject)",
                false,
            ),
            "sleepstudy ML",
        );
        check(
            fitted(
                "Penicillin",
                &["plate", "sample"],
                "diameter ~ 1 + (1 | plate) + (1 | sample)",
                true,
            ),
            "Penicillin",
        );
        check(
            fitted(
                "sleepstudy",
                &["Subject"],
                "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
                true,
            ),
            "sleepstudy uncorrelated",
        );
        check(
            fitted(
                "sleepstudy",
                &["Subject"],
                "Reaction ~ Days + diag(Days | Subject)",
                true,
            ),
            "sleepstudy diag()",
        );
    }
}
