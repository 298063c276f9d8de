//! Small dense linear algebra for `p × p` cross-products (p = number of coefficients).
//!
//! The `k × k` matrices of metafor's formulas (`P = W − W X (X'WX)⁻¹ X'W`) are never formed:
//! every quantity the estimators need is a trace or quadratic form that reduces to `p × p`
//! products (see [`Wls`]).

use multilevel_numeric::Cholesky;
use multilevel_numeric::spd::symmetrize;

/// `X' diag(d) X` (`p × p`, row-major) for the columns `x` of `X`.
pub(crate) fn crossprod(x: &[Vec<f64>], d: &[f64]) -> Vec<f64> {
    let p = x.len();
    let mut m = vec![0.0; p * p];
    for a in 0..p {
        for b in a..p {
            let s: f64 = x[a]
                .iter()
                .zip(&x[b])
                .zip(d)
                .map(|((xa, xb), di)| xa * xb * di)
                .sum();
            m[a * p + b] = s;
            m[b * p + a] = s;
        }
    }
    m
}

/// Relative pivot tolerance of the Cholesky factorizations: a pivot `≤ 1e-13 · max |a_ii|`
/// means the matrix is singular.
pub(crate) const PIVOT_TOL: f64 = 1e-13;

/// The inverse of a symmetric positive definite matrix from its Cholesky factor, with the two
/// triangles averaged (rounding).
pub(crate) fn inverse_sym(chol: &Cholesky) -> Vec<f64> {
    let mut inv = chol.inverse();
    symmetrize(&mut inv, chol.dim());
    inv
}

/// `tr(A B)` of two symmetric `p × p` matrices.
pub(crate) fn trace_prod(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `A B` of two `p × p` matrices (row-major).
pub(crate) fn matmul(a: &[f64], b: &[f64], p: usize) -> Vec<f64> {
    let mut c = vec![0.0; p * p];
    for i in 0..p {
        for k in 0..p {
            let aik = a[i * p + k];
            for j in 0..p {
                c[i * p + j] += aik * b[k * p + j];
            }
        }
    }
    c
}

/// A weighted least-squares fit `β̂ = (X'WX)⁻¹ X'W y` with `W = diag(w)`, and the traces of
/// `P = W − W X (X'WX)⁻¹ X'W` that metafor's estimators use.
///
/// With `A = (X'WX)⁻¹` and `e = y − Xβ̂`: `Py = W e`, so `y'Py = Σ wᵢeᵢ²` and
/// `y'PPy = Σ wᵢ²eᵢ²`; `tr(P D) = Σ wᵢdᵢ − tr(A X' diag(w²d) X)` and
/// `tr(P D₁ P D₂) = Σ wᵢ²d₁ᵢd₂ᵢ − 2 tr(A X' diag(w³d₁d₂) X) + tr(A M₁ A M₂)` with
/// `Mⱼ = X' diag(w² dⱼ) X`, for diagonal `D`, `D₁`, `D₂`.
pub(crate) struct Wls<'a> {
    x: &'a [Vec<f64>],
    /// The weights.
    pub w: Vec<f64>,
    /// `(X'WX)⁻¹`, row-major.
    pub a: Vec<f64>,
    /// Cholesky factor of `X'WX`.
    pub chol: Cholesky,
    /// `β̂`.
    pub beta: Vec<f64>,
    /// Residuals `y − Xβ̂`.
    pub resid: Vec<f64>,
}

impl<'a> Wls<'a> {
    /// Fit; `None` when `X'WX` is not positive definite.
    pub fn new(x: &'a [Vec<f64>], y: &[f64], w: Vec<f64>) -> Option<Self> {
        let p = x.len();
        let m = crossprod(x, &w);
        let chol = Cholesky::with_tolerance(&m, p, PIVOT_TOL)?;
        let a = inverse_sym(&chol);
        let xwy: Vec<f64> = x
            .iter()
            .map(|c| {
                c.iter()
                    .zip(y)
                    .zip(&w)
                    .map(|((xi, yi), wi)| xi * yi * wi)
                    .sum()
            })
            .collect();
        let beta: Vec<f64> = (0..p)
            .map(|i| (0..p).map(|j| a[i * p + j] * xwy[j]).sum())
            .collect();
        let resid = y
            .iter()
            .enumerate()
            .map(|(i, yi)| yi - x.iter().zip(&beta).map(|(c, b)| c[i] * b).sum::<f64>())
            .collect();
        Some(Wls {
            x,
            w,
            a,
            chol,
            beta,
            resid,
        })
    }

    fn p(&self) -> usize {
        self.x.len()
    }

    /// `y'Py = Σ wᵢ eᵢ²`.
    pub fn rss(&self) -> f64 {
        self.w.iter().zip(&self.resid).map(|(w, e)| w * e * e).sum()
    }

    /// `y'PPy = Σ wᵢ² eᵢ²`.
    pub fn rss2(&self) -> f64 {
        self.w
            .iter()
            .zip(&self.resid)
            .map(|(w, e)| w * w * e * e)
            .sum()
    }

    /// `tr(P D)` for `D = diag(d)`.
    pub fn tr_p(&self, d: &[f64]) -> f64 {
        let sw: f64 = self.w.iter().zip(d).map(|(w, d)| w * d).sum();
        let dd: Vec<f64> = self.w.iter().zip(d).map(|(w, d)| w * w * d).collect();
        sw - trace_prod(&self.a, &crossprod(self.x, &dd))
    }

    /// `tr(P D₁ P D₂)` for diagonal `D₁ = diag(d1)`, `D₂ = diag(d2)`.
    pub fn tr_pdpd(&self, d1: &[f64], d2: &[f64]) -> f64 {
        let p = self.p();
        let s: f64 = self
            .w
            .iter()
            .zip(d1.iter().zip(d2))
            .map(|(w, (a, b))| w * w * a * b)
            .sum();
        let d3: Vec<f64> = self
            .w
            .iter()
            .zip(d1.iter().zip(d2))
            .map(|(w, (a, b))| w * w * w * a * b)
            .collect();
        let t2 = trace_prod(&self.a, &crossprod(self.x, &d3));
        let m1: Vec<f64> = self.w.iter().zip(d1).map(|(w, d)| w * w * d).collect();
        let m2: Vec<f64> = self.w.iter().zip(d2).map(|(w, d)| w * w * d).collect();
        let am1 = matmul(&self.a, &crossprod(self.x, &m1), p);
        let am2 = matmul(&self.a, &crossprod(self.x, &m2), p);
        // tr(AM₁ AM₂) = Σᵢⱼ (AM₁)ᵢⱼ (AM₂)ⱼᵢ
        let mut t3 = 0.0;
        for i in 0..p {
            for j in 0..p {
                t3 += am1[i * p + j] * am2[j * p + i];
            }
        }
        s - 2.0 * t2 + t3
    }

    /// `log det(X'WX)`.
    pub fn log_det(&self) -> f64 {
        self.chol.log_det()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The trace identities against explicitly formed `P` on a small example.
    #[test]
    fn traces_match_explicit_p() {
        let x = vec![vec![1.0; 5], vec![0.3, -1.2, 2.0, 0.7, 1.1]];
        let y = [0.5, -0.1, 1.3, 0.2, 0.9];
        let w = vec![2.0, 0.5, 1.5, 3.0, 0.8];
        let d1 = [0.1, 0.4, 0.2, 0.3, 0.5];
        let d2 = [1.0, 2.0, 0.5, 0.25, 4.0];
        let fit = Wls::new(&x, &y, w.clone()).unwrap();
        let k = 5;
        // P explicitly.
        let mut pm = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                let mut s = 0.0;
                for a in 0..2 {
                    for b in 0..2 {
                        s += x[a][i] * fit.a[a * 2 + b] * x[b][j];
                    }
                }
                pm[i * k + j] = if i == j { w[i] } else { 0.0 } - w[i] * s * w[j];
            }
        }
        let ypy: f64 = (0..k)
            .map(|i| (0..k).map(|j| y[i] * pm[i * k + j] * y[j]).sum::<f64>())
            .sum();
        assert!((ypy - fit.rss()).abs() < 1e-12);
        let tr_pd: f64 = (0..k).map(|i| pm[i * k + i] * d1[i]).sum();
        assert!((tr_pd - fit.tr_p(&d1)).abs() < 1e-12);
        let mut t = 0.0;
        for i in 0..k {
            for j in 0..k {
                t += pm[i * k + j] * d1[j] * pm[j * k + i] * d2[i];
            }
        }
        assert!((t - fit.tr_pdpd(&d1, &d2)).abs() < 1e-12);
    }

    #[test]
    fn inverse_is_inverse() {
        let m = vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let l = Cholesky::with_tolerance(&m, 3, PIVOT_TOL).unwrap();
        let inv = inverse_sym(&l);
        let id = matmul(&m, &inv, 3);
        for i in 0..3 {
            for j in 0..3 {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((id[i * 3 + j] - e).abs() < 1e-12);
            }
        }
        assert!(Cholesky::with_tolerance(&[1.0, 1.0, 1.0, 1.0], 2, PIVOT_TOL).is_none());
    }
}
