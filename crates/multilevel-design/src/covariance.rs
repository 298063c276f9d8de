//! The relative covariance of one random-effects term and its parametrisation by θ.
//!
//! A term with `k` random effects per level has covariance `Σ = σ² Λ(θ) Λ(θ)'`, where `σ` is
//! the residual standard deviation and `Λ(θ)` a `k × k` matrix depending on the term's share
//! of θ. A [`Covariance`] is one parametrisation of `Λ`: how many θ elements it takes, their
//! bounds and start, `Λ(θ)` and `∂Λ/∂θₚ`, and the map between θ and the standard deviations
//! and correlations that `VarCorr`, profiles and the bootstrap report.
//!
//! Every `k × k` matrix here is dense and row-major: element `(r, c)` is at `r · k + c`.
//!
//! [`Unstructured`] is lme4's `us` parametrisation: `Λ` is lower triangular and θ lists its
//! lower triangle column by column. A term's structure is stored as a serialisable
//! [`CovarianceSpec`] on the [`crate::ReTerm`]; callers use it through the trait
//! ([`crate::ReTerm::covariance`]).

use std::fmt::Debug;

mod structured;

pub use structured::{Ar1, CompoundSymmetry, Diagonal};

/// Why standard deviations and correlations could not be turned into θ.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CovarianceError {
    /// The parameter vector does not have the structure's length.
    #[error("expected {expected} variance parameters for the term but got {got}")]
    Length {
        /// Length the structure needs.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The residual standard deviation is not finite and positive.
    #[error("the residual standard deviation must be finite and positive, got {0}")]
    Sigma(f64),
    /// A standard deviation is negative or not finite.
    #[error("a standard deviation must be finite and ≥ 0, got {0}")]
    StdDev(f64),
    /// A correlation is outside [−1, 1] or not finite.
    #[error("a correlation must lie in [-1, 1], got {0}")]
    Correlation(f64),
    /// The correlations do not form a positive semi-definite matrix.
    #[error("the correlations do not form a positive semi-definite matrix")]
    NotSemiDefinite,
}

/// One entry of a structure's vector of standard deviations and correlations (lme4's "Sv"
/// scale), in terms of the columns of the term's model matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdCorParam {
    /// The standard deviation of the random effect of column `.0`.
    Sd(usize),
    /// The correlation of the random effects of columns `.0` (row) and `.1` (column).
    Cor(usize, usize),
}

/// A parametrisation of a random-effects term's relative covariance factor `Λ(θ)`.
///
/// θ here is the term's own slice of the model's θ. Methods taking output slices write
/// exactly as many elements as documented; a θ shorter than [`Covariance::n_theta`] reads as
/// zeros where it is missing (callers check lengths where θ comes from outside).
pub trait Covariance: Send + Sync + Debug {
    /// Short name of the structure for reports and formulas (`us`, `diag`, `cs`, `ar1`).
    fn name(&self) -> &'static str;
    /// For a structure with standard-deviation parameters: whether they are one shared
    /// (`hom = TRUE`) rather than one per column; `None` for the unstructured term.
    fn homogeneous(&self) -> Option<bool> {
        None
    }
    /// Number of random effects per level (the order of `Λ`).
    fn k(&self) -> usize;
    /// Number of θ elements.
    fn n_theta(&self) -> usize;
    /// Lower bounds of the θ elements.
    fn theta_lower(&self) -> Vec<f64>;
    /// Upper bounds of the θ elements (`+∞` unless the structure bounds them, e.g. a
    /// correlation parameter at 1).
    fn theta_upper(&self) -> Vec<f64> {
        vec![f64::INFINITY; self.n_theta()]
    }
    /// Starting θ of the optimiser.
    fn theta_start(&self) -> Vec<f64>;
    /// `Λ(θ)` into `out` (`k × k`, row-major; every element is written).
    fn lambda_into(&self, theta: &[f64], out: &mut [f64]);
    /// `∂Λ/∂θₚ` at θ into `out` (`k × k`, row-major; every element is written). Constant in θ
    /// for structures linear in θ.
    fn lambda_derivative_into(&self, theta: &[f64], p: usize, out: &mut [f64]);
    /// Chain rule from `Λ` to θ: given `g = ∂f/∂Λ` (`k × k`, row-major), writes
    /// `∂f/∂θₚ = Σᵣ꜀ gᵣ꜀ ∂Λᵣ꜀/∂θₚ` into `out` (length [`Covariance::n_theta`]).
    fn theta_gradient_from_lambda(&self, theta: &[f64], g: &[f64], out: &mut [f64]) {
        let k = self.k();
        let mut d = vec![0.0; k * k];
        for (p, o) in out.iter_mut().enumerate().take(self.n_theta()) {
            self.lambda_derivative_into(theta, p, &mut d);
            *o = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        }
    }
    /// Rewrites θ into its canonical representative among the θ giving the same `ΛΛ'` (the
    /// criterion depends on θ only through it). The default leaves θ as it is.
    fn canonicalize(&self, _theta: &mut [f64]) {}
    /// Columns whose random effect has a variance on its boundary at θ: the θ elements bounded
    /// below by 0 that are below `tol` (lme4's `isSingular`), named by the column they scale.
    fn singular_columns(&self, theta: &[f64], tol: f64) -> Vec<usize>;
    /// The standard deviations and correlations the structure reports as its variance
    /// parameters, in their order (length [`Covariance::n_theta`]).
    fn sd_cor_params(&self) -> Vec<SdCorParam>;
    /// θ and σ → the standard deviations and correlations of `σ²ΛΛ'` listed by
    /// [`Covariance::sd_cor_params`], into `out`. A correlation with a zero standard deviation
    /// is reported as 0.
    fn theta_to_sd_cor(&self, theta: &[f64], sigma: f64, out: &mut [f64]);
    /// The inverse of [`Covariance::theta_to_sd_cor`]: θ into `out` (length
    /// [`Covariance::n_theta`]).
    ///
    /// # Errors
    /// σ not positive, a standard deviation negative, a correlation outside [−1, 1], or
    /// correlations that no θ of the structure reproduces.
    fn sd_cor_to_theta(
        &self,
        sd_cor: &[f64],
        sigma: f64,
        out: &mut [f64],
    ) -> Result<(), CovarianceError>;
}

/// The serialisable description of a term's covariance structure; it hands out the structure
/// as a [`Covariance`] trait object.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum CovarianceSpec {
    /// lme4's unstructured (`us`) lower-triangular Cholesky parametrisation.
    Unstructured(Unstructured),
    /// lme4 2.0's `diag`: independent effects.
    Diagonal(Diagonal),
    /// lme4 2.0's `cs`: compound symmetry.
    CompoundSymmetry(CompoundSymmetry),
    /// lme4 2.0's `ar1`: first-order autoregressive correlation over the columns.
    Ar1(Ar1),
}

impl CovarianceSpec {
    /// The unstructured parametrisation of a term with `k` random effects per level.
    pub fn unstructured(k: usize) -> Self {
        Self::Unstructured(Unstructured { k })
    }

    /// The structure as a trait object.
    pub fn as_covariance(&self) -> &dyn Covariance {
        match self {
            Self::Unstructured(c) => c,
            Self::Diagonal(c) => c,
            Self::CompoundSymmetry(c) => c,
            Self::Ar1(c) => c,
        }
    }

    /// Whether θ is the lower triangle of `Λ` itself (the unstructured term), so that a
    /// derivative with respect to `Λ`'s lower triangle is already one with respect to θ.
    pub fn is_unstructured(&self) -> bool {
        matches!(self, Self::Unstructured(_))
    }
}

/// lme4's unstructured covariance (`us`): `Λ` is a general lower-triangular `k × k` matrix
/// and θ its `k(k+1)/2` lower-triangular elements column by column,
/// `θ = (Λ₀₀, Λ₁₀, …, Λ₍ₖ₋₁₎₀, Λ₁₁, …, Λ₍ₖ₋₁₎₍ₖ₋₁₎)`. The diagonal is bounded below by 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unstructured {
    /// Number of random effects per level.
    pub k: usize,
}

impl Unstructured {
    /// The `(row, column)` of `Λ` each θ element sets, in θ's order.
    fn positions(&self) -> impl Iterator<Item = (usize, usize)> {
        let k = self.k;
        (0..k).flat_map(move |c| (c..k).map(move |r| (r, c)))
    }
}

impl Covariance for Unstructured {
    fn name(&self) -> &'static str {
        "us"
    }

    fn k(&self) -> usize {
        self.k
    }

    fn n_theta(&self) -> usize {
        self.k * (self.k + 1) / 2
    }

    fn theta_lower(&self) -> Vec<f64> {
        self.positions()
            .map(|(r, c)| if r == c { 0.0 } else { f64::NEG_INFINITY })
            .collect()
    }

    fn theta_start(&self) -> Vec<f64> {
        self.positions()
            .map(|(r, c)| if r == c { 1.0 } else { 0.0 })
            .collect()
    }

    fn lambda_into(&self, theta: &[f64], out: &mut [f64]) {
        let k = self.k;
        out.iter_mut().for_each(|v| *v = 0.0);
        for ((r, c), &t) in self.positions().zip(theta) {
            if let Some(o) = out.get_mut(r * k + c) {
                *o = t;
            }
        }
    }

    fn lambda_derivative_into(&self, _theta: &[f64], p: usize, out: &mut [f64]) {
        let k = self.k;
        out.iter_mut().for_each(|v| *v = 0.0);
        if let Some((r, c)) = self.positions().nth(p)
            && let Some(o) = out.get_mut(r * k + c)
        {
            *o = 1.0;
        }
    }

    fn theta_gradient_from_lambda(&self, _theta: &[f64], g: &[f64], out: &mut [f64]) {
        let k = self.k;
        for ((r, c), o) in self.positions().zip(out.iter_mut()) {
            *o = g.get(r * k + c).copied().unwrap_or(0.0);
        }
    }

    /// Flips the sign of every column of `Λ` whose diagonal element is negative (`ΛΛ'` does
    /// not change), so the diagonal is ≥ 0 as the bounds require.
    fn canonicalize(&self, theta: &mut [f64]) {
        let mut idx = 0;
        for c in 0..self.k {
            // Column c holds θ[idx .. idx + k − c], its diagonal first.
            let len = self.k - c;
            if let Some(col) = theta.get_mut(idx..idx + len)
                && col[0] < 0.0
            {
                col.iter_mut().for_each(|v| *v = -*v);
            }
            idx += len;
        }
    }

    fn singular_columns(&self, theta: &[f64], tol: f64) -> Vec<usize> {
        self.positions()
            .zip(theta)
            .filter(|&((r, c), v)| r == c && *v < tol)
            .map(|((_, c), _)| c)
            .collect()
    }

    fn sd_cor_params(&self) -> Vec<SdCorParam> {
        self.positions()
            .map(|(r, c)| {
                if r == c {
                    SdCorParam::Sd(r)
                } else {
                    SdCorParam::Cor(r, c)
                }
            })
            .collect()
    }

    fn theta_to_sd_cor(&self, theta: &[f64], sigma: f64, out: &mut [f64]) {
        let k = self.k;
        let mut lam = vec![0.0; k * k];
        self.lambda_into(theta, &mut lam);
        // Σᵣ꜀ = σ² (ΛΛ')ᵣ꜀.
        let cov = |r: usize, c: usize| -> f64 {
            (0..k).map(|m| lam[r * k + m] * lam[c * k + m]).sum::<f64>() * sigma * sigma
        };
        for ((r, c), o) in self.positions().zip(out.iter_mut()) {
            *o = if r == c {
                cov(r, r).sqrt()
            } else {
                let d = (cov(r, r) * cov(c, c)).sqrt();
                if d > 0.0 { cov(r, c) / d } else { 0.0 }
            };
        }
    }

    /// Rebuilds the correlation matrix, takes its Cholesky factor `L` (semi-definite allowed:
    /// a zero pivot gives a zero column) and sets `Λ = diag(sd) L / σ`.
    fn sd_cor_to_theta(
        &self,
        sd_cor: &[f64],
        sigma: f64,
        out: &mut [f64],
    ) -> Result<(), CovarianceError> {
        let k = self.k;
        let n = self.n_theta();
        if sd_cor.len() != n || out.len() != n {
            return Err(CovarianceError::Length {
                expected: n,
                got: sd_cor.len(),
            });
        }
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(CovarianceError::Sigma(sigma));
        }
        let mut sd = vec![0.0; k];
        let mut cor = vec![0.0; k * k];
        for ((r, c), &v) in self.positions().zip(sd_cor) {
            if r == c {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(CovarianceError::StdDev(v));
                }
                sd[r] = v;
                cor[r * k + r] = 1.0;
            } else {
                if !(v.is_finite() && (-1.0..=1.0).contains(&v)) {
                    return Err(CovarianceError::Correlation(v));
                }
                cor[r * k + c] = v;
                cor[c * k + r] = v;
            }
        }
        let mut l = vec![0.0; k * k];
        for c in 0..k {
            let mut d = cor[c * k + c];
            for m in 0..c {
                d -= l[c * k + m] * l[c * k + m];
            }
            if d < -1e-12 {
                return Err(CovarianceError::NotSemiDefinite);
            }
            let d = d.max(0.0).sqrt();
            l[c * k + c] = d;
            for r in c + 1..k {
                let mut v = cor[r * k + c];
                for m in 0..c {
                    v -= l[r * k + m] * l[c * k + m];
                }
                l[r * k + c] = if d > 0.0 { v / d } else { 0.0 };
            }
        }
        for ((r, c), o) in self.positions().zip(out.iter_mut()) {
            *o = sd[r] * l[r * k + c] / sigma;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_bounds_and_start() {
        let us = Unstructured { k: 3 };
        assert_eq!(us.name(), "us");
        assert_eq!(us.n_theta(), 6);
        let inf = f64::NEG_INFINITY;
        assert_eq!(us.theta_lower(), [0.0, inf, inf, 0.0, inf, 0.0]);
        assert_eq!(us.theta_start(), [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(
            us.sd_cor_params(),
            [
                SdCorParam::Sd(0),
                SdCorParam::Cor(1, 0),
                SdCorParam::Cor(2, 0),
                SdCorParam::Sd(1),
                SdCorParam::Cor(2, 1),
                SdCorParam::Sd(2),
            ]
        );
        let spec = CovarianceSpec::unstructured(3);
        assert_eq!(spec.as_covariance().n_theta(), 6);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<CovarianceSpec>(&json).unwrap(), spec);
    }

    #[test]
    fn lambda_is_the_column_major_lower_triangle() {
        let us = Unstructured { k: 3 };
        let theta = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut lam = vec![f64::NAN; 9];
        us.lambda_into(&theta, &mut lam);
        #[rustfmt::skip]
        let expected = [
            1.0, 0.0, 0.0,
            2.0, 4.0, 0.0,
            3.0, 5.0, 6.0,
        ];
        assert_eq!(lam, expected);
        // A short θ reads as zeros.
        us.lambda_into(&theta[..2], &mut lam);
        assert_eq!(lam, [1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let us = Unstructured { k: 3 };
        let theta = [0.9, -0.4, 0.2, 1.3, 0.7, 0.5];
        let h = 1e-6;
        let (mut lp, mut lm, mut d) = (vec![0.0; 9], vec![0.0; 9], vec![0.0; 9]);
        for p in 0..theta.len() {
            let mut t = theta;
            t[p] = theta[p] + h;
            us.lambda_into(&t, &mut lp);
            t[p] = theta[p] - h;
            us.lambda_into(&t, &mut lm);
            us.lambda_derivative_into(&theta, p, &mut d);
            for i in 0..9 {
                let fd = (lp[i] - lm[i]) / (2.0 * h);
                assert!(
                    (fd - d[i]).abs() < 1e-9,
                    "p {p}, entry {i}: {fd} vs {}",
                    d[i]
                );
            }
        }
    }

    /// The unstructured chain rule agrees with the trait's generic one built on
    /// `lambda_derivative_into`.
    #[test]
    fn chain_rule_agrees_with_the_generic_one() {
        #[derive(Debug)]
        struct Generic(Unstructured);
        impl Covariance for Generic {
            fn name(&self) -> &'static str {
                self.0.name()
            }
            fn k(&self) -> usize {
                self.0.k()
            }
            fn n_theta(&self) -> usize {
                self.0.n_theta()
            }
            fn theta_lower(&self) -> Vec<f64> {
                self.0.theta_lower()
            }
            fn theta_start(&self) -> Vec<f64> {
                self.0.theta_start()
            }
            fn lambda_into(&self, theta: &[f64], out: &mut [f64]) {
                self.0.lambda_into(theta, out);
            }
            fn lambda_derivative_into(&self, theta: &[f64], p: usize, out: &mut [f64]) {
                self.0.lambda_derivative_into(theta, p, out);
            }
            fn singular_columns(&self, theta: &[f64], tol: f64) -> Vec<usize> {
                self.0.singular_columns(theta, tol)
            }
            fn sd_cor_params(&self) -> Vec<SdCorParam> {
                self.0.sd_cor_params()
            }
            fn theta_to_sd_cor(&self, theta: &[f64], sigma: f64, out: &mut [f64]) {
                self.0.theta_to_sd_cor(theta, sigma, out);
            }
            fn sd_cor_to_theta(
                &self,
                sd_cor: &[f64],
                sigma: f64,
                out: &mut [f64],
            ) -> Result<(), CovarianceError> {
                self.0.sd_cor_to_theta(sd_cor, sigma, out)
            }
        }
        let us = Unstructured { k: 3 };
        let theta = [0.9, -0.4, 0.2, 1.3, 0.7, 0.5];
        let g: Vec<f64> = (0..9).map(|i| 0.3 * i as f64 - 1.1).collect();
        let (mut a, mut b) = (vec![0.0; 6], vec![0.0; 6]);
        us.theta_gradient_from_lambda(&theta, &g, &mut a);
        Generic(us).theta_gradient_from_lambda(&theta, &g, &mut b);
        assert_eq!(a, b);
        assert_eq!(a, [g[0], g[3], g[6], g[4], g[7], g[8]]);
    }

    #[test]
    fn sd_cor_round_trip() {
        let us = Unstructured { k: 2 };
        let theta = [0.9, 0.3, 0.2];
        let mut sv = [0.0; 3];
        us.theta_to_sd_cor(&theta, 2.0, &mut sv);
        // sd₁ = 2·0.9, sd₂ = 2·√(0.09+0.04), cor = 0.3·0.9 / (0.9·√0.13).
        assert!((sv[0] - 1.8).abs() < 1e-12);
        assert!((sv[2] - 2.0 * 0.13f64.sqrt()).abs() < 1e-12);
        assert!((sv[1] - 0.3 / 0.13f64.sqrt()).abs() < 1e-12);
        let mut back = [0.0; 3];
        us.sd_cor_to_theta(&sv, 2.0, &mut back).unwrap();
        for (a, b) in back.iter().zip(theta) {
            assert!((a - b).abs() < 1e-12, "{back:?}");
        }

        let us = Unstructured { k: 3 };
        let theta = [0.9, -0.4, 0.2, 1.3, 0.7, 0.5];
        let mut sv = [0.0; 6];
        us.theta_to_sd_cor(&theta, 0.7, &mut sv);
        let mut back = [0.0; 6];
        us.sd_cor_to_theta(&sv, 0.7, &mut back).unwrap();
        for (a, b) in back.iter().zip(theta) {
            assert!((a - b).abs() < 1e-12, "{back:?}");
        }
    }

    #[test]
    fn invalid_sd_cor_is_refused() {
        let us = Unstructured { k: 2 };
        let mut out = [0.0; 3];
        assert_eq!(
            us.sd_cor_to_theta(&[1.0, 0.5, 1.0], 0.0, &mut out),
            Err(CovarianceError::Sigma(0.0))
        );
        assert_eq!(
            us.sd_cor_to_theta(&[-1.0, 0.5, 1.0], 1.0, &mut out),
            Err(CovarianceError::StdDev(-1.0))
        );
        assert_eq!(
            us.sd_cor_to_theta(&[1.0, 1.5, 1.0], 1.0, &mut out),
            Err(CovarianceError::Correlation(1.5))
        );
        assert!(matches!(
            us.sd_cor_to_theta(&[1.0, 0.5], 1.0, &mut out),
            Err(CovarianceError::Length { .. })
        ));
        let us3 = Unstructured { k: 3 };
        let mut out3 = [0.0; 6];
        // cor(1,0) = cor(2,0) = 0.9 and cor(2,1) = −0.9 is not positive semi-definite.
        assert_eq!(
            us3.sd_cor_to_theta(&[1.0, 0.9, 0.9, 1.0, -0.9, 1.0], 1.0, &mut out3),
            Err(CovarianceError::NotSemiDefinite)
        );
    }

    #[test]
    fn canonical_signs_and_singular_columns() {
        let us = Unstructured { k: 2 };
        let mut theta = [-0.5, 0.3, -0.2];
        us.canonicalize(&mut theta);
        assert_eq!(theta, [0.5, -0.3, 0.2]);
        assert_eq!(us.singular_columns(&[0.5, 0.3, 1e-6], 1e-4), [1]);
        assert!(us.singular_columns(&[0.5, 0.3, 0.2], 1e-4).is_empty());
    }
}
