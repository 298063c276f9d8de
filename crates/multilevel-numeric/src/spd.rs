//! One dense Cholesky factorization `A = L L'` of a small symmetric positive-definite matrix
//! (row-major `p × p`, only the lower triangle is read), with the solves, inverse and
//! log-determinant built on it. For the `p × p` cross-products, Hessians and per-group
//! systems of the crates above the LMM (least squares, meta-analysis, GLMM standard errors,
//! figures); the LMM's per-evaluation block kernels are separate.
//!
//! The factor is computed column by column (`l_jj = √(a_jj − Σ_{k<j} l_jk²)`,
//! `l_ij = (a_ij − Σ_{k<j} l_ik l_jk) / l_jj`), each sum subtracted term by term in increasing
//! `k`; a pivot that is not finite or not above `tol · max_i |a_ii|` means the matrix is not
//! (numerically) positive definite.

/// The lower Cholesky factor `L` of a symmetric positive-definite matrix (`A = L L'`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cholesky {
    /// Row-major `p × p`, zero above the diagonal.
    l: Vec<f64>,
    p: usize,
}

impl Cholesky {
    /// Factors `a` (`p × p`, row-major); `None` when a pivot is not finite or not positive.
    pub fn new(a: &[f64], p: usize) -> Option<Self> {
        Self::with_tolerance(a, p, 0.0)
    }

    /// Factors `a` (`p × p`, row-major); `None` when `a` has the wrong length, or a pivot is
    /// not finite or `≤ rel_tol · max_i |a_ii|` (singular relative to the diagonal's scale).
    pub fn with_tolerance(a: &[f64], p: usize, rel_tol: f64) -> Option<Self> {
        if a.len() != p * p {
            return None;
        }
        let scale = (0..p).map(|i| a[i * p + i].abs()).fold(0.0_f64, f64::max);
        let tol = rel_tol * scale.max(f64::MIN_POSITIVE);
        let mut l = vec![0.0; p * p];
        for j in 0..p {
            let mut d = a[j * p + j];
            for k in 0..j {
                d -= l[j * p + k] * l[j * p + k];
            }
            if d.is_nan() || d <= tol || d.is_infinite() {
                return None;
            }
            let djj = d.sqrt();
            l[j * p + j] = djj;
            for i in (j + 1)..p {
                let mut s = a[i * p + j];
                for k in 0..j {
                    s -= l[i * p + k] * l[j * p + k];
                }
                l[i * p + j] = s / djj;
            }
        }
        Some(Cholesky { l, p })
    }

    /// The order `p`.
    pub fn dim(&self) -> usize {
        self.p
    }

    /// The factor `L`, row-major `p × p`, zero above the diagonal.
    pub fn factor(&self) -> &[f64] {
        &self.l
    }

    /// `log det A = 2 Σ log l_ii`.
    pub fn log_det(&self) -> f64 {
        let p = self.p;
        (0..p).map(|i| 2.0 * self.l[i * p + i].ln()).sum()
    }

    /// Solves `L z = b` in place (forward substitution).
    ///
    /// # Panics
    /// If `b.len() != p`.
    pub fn solve_lower_in_place(&self, b: &mut [f64]) {
        let (l, p) = (&self.l, self.p);
        assert_eq!(b.len(), p, "right-hand side of the wrong length");
        for i in 0..p {
            let mut s = b[i];
            for k in 0..i {
                s -= l[i * p + k] * b[k];
            }
            b[i] = s / l[i * p + i];
        }
    }

    /// Solves `L' x = z` in place (back substitution; R's `backsolve(chol(A), z)` with
    /// `chol(A) = L'`).
    ///
    /// # Panics
    /// If `z.len() != p`.
    pub fn solve_upper_in_place(&self, z: &mut [f64]) {
        let (l, p) = (&self.l, self.p);
        assert_eq!(z.len(), p, "right-hand side of the wrong length");
        for i in (0..p).rev() {
            let mut s = z[i];
            for k in (i + 1)..p {
                s -= l[k * p + i] * z[k];
            }
            z[i] = s / l[i * p + i];
        }
    }

    /// Solves `A x = b` in place (`L z = b`, then `L' x = z`).
    ///
    /// # Panics
    /// If `b.len() != p`.
    pub fn solve_in_place(&self, b: &mut [f64]) {
        self.solve_lower_in_place(b);
        self.solve_upper_in_place(b);
    }

    /// `A⁻¹` (row-major), column by column from `A x = e_c`. The two triangles agree only up
    /// to rounding; see [`symmetrize`].
    pub fn inverse(&self) -> Vec<f64> {
        let p = self.p;
        let mut inv = vec![0.0; p * p];
        let mut x = vec![0.0; p];
        for c in 0..p {
            x.fill(0.0);
            x[c] = 1.0;
            self.solve_in_place(&mut x);
            for (i, xi) in x.iter().enumerate() {
                inv[i * p + c] = *xi;
            }
        }
        inv
    }
}

/// `A⁻¹` of a symmetric positive-definite `p × p` row-major matrix through its Cholesky factor
/// (relative pivot tolerance `rel_tol`, see [`Cholesky::with_tolerance`]); `None` when `a` is
/// not (numerically) positive definite.
pub fn spd_inverse(a: &[f64], p: usize, rel_tol: f64) -> Option<Vec<f64>> {
    Cholesky::with_tolerance(a, p, rel_tol).map(|c| c.inverse())
}

/// Replaces both triangles of a square row-major `p × p` matrix by their mean,
/// `(m_ab + m_ba) / 2`, removing the rounding asymmetry of a computed inverse.
pub fn symmetrize(m: &mut [f64], p: usize) {
    for a in 0..p {
        for b in (a + 1)..p {
            let s = 0.5 * (m[a * p + b] + m[b * p + a]);
            m[a * p + b] = s;
            m[b * p + a] = s;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const A: [f64; 9] = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];

    #[test]
    fn factor_reproduces_the_matrix() {
        let c = Cholesky::new(&A, 3).unwrap();
        let l = c.factor();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - A[i * 3 + j]).abs() < 1e-14);
            }
            for j in (i + 1)..3 {
                assert_eq!(l[i * 3 + j], 0.0);
            }
        }
        // det = 4·(2·3 − 0.25) − 2·(2·3 − 0.3) + 0.6·(1 − 1.2) = 11.48
        assert!((c.log_det() - 11.48f64.ln()).abs() < 1e-14);
    }

    #[test]
    fn inverse_and_solve() {
        let c = Cholesky::new(&A, 3).unwrap();
        let mut inv = c.inverse();
        symmetrize(&mut inv, 3);
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| A[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((s - f64::from(u8::from(i == j))).abs() < 1e-14);
            }
        }
        let mut b = vec![1.0, -2.0, 0.5];
        c.solve_in_place(&mut b);
        let back: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|k| A[i * 3 + k] * b[k]).sum())
            .collect();
        for (x, y) in back.iter().zip([1.0, -2.0, 0.5]) {
            assert!((x - y).abs() < 1e-14);
        }
        assert_eq!(spd_inverse(&A, 3, 1e-12).unwrap(), c.inverse());
    }

    #[test]
    fn singular_and_indefinite_are_rejected() {
        assert!(Cholesky::new(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
        assert!(Cholesky::new(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(Cholesky::new(&[f64::NAN], 1).is_none());
        assert!(Cholesky::new(&[f64::INFINITY], 1).is_none());
        assert!(Cholesky::new(&[1.0, 0.0, 0.0], 2).is_none());
        // Positive but negligible next to the scale: singular at a relative tolerance.
        assert!(Cholesky::with_tolerance(&[1.0, 0.0, 0.0, 1e-14], 2, 1e-12).is_none());
        assert!(Cholesky::new(&[1.0, 0.0, 0.0, 1e-14], 2).is_some());
        assert!(Cholesky::new(&[], 0).is_some());
    }
}
