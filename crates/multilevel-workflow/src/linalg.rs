//! Small dense linear algebra for the workflow's least-squares fits and the Hausman test
//! (matrices of a few predictors: row-major `Vec<f64>`, `p × p`).

/// Inverse of a symmetric positive-definite `p × p` matrix by Cholesky, `None` when a pivot is
/// not above `1e-12` times the largest diagonal element: the matrix is singular or numerically
/// so.
pub(crate) fn spd_inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    multilevel_numeric::spd::spd_inverse(a, p, 1e-12)
}

/// Eigen-decomposition of a symmetric `p × p` matrix by cyclic Jacobi rotations: returns the
/// eigenvalues and the eigenvectors as the columns of a row-major matrix.
pub(crate) fn sym_eigen(a: &[f64], p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; p * p];
    for i in 0..p {
        v[i * p + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * p + j] * m[i * p + j])
            .sum();
        let total: f64 = m.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for q in 1..p {
            for r in 0..q {
                let apq = m[r * p + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * p + q] - m[r * p + r]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // Rotate rows/columns r and q: M ← JᵀMJ, V ← VJ.
                for k in 0..p {
                    let mkr = m[k * p + r];
                    let mkq = m[k * p + q];
                    m[k * p + r] = c * mkr - s * mkq;
                    m[k * p + q] = s * mkr + c * mkq;
                }
                for k in 0..p {
                    let mrk = m[r * p + k];
                    let mqk = m[q * p + k];
                    m[r * p + k] = c * mrk - s * mqk;
                    m[q * p + k] = s * mrk + c * mqk;
                }
                for k in 0..p {
                    let vkr = v[k * p + r];
                    let vkq = v[k * p + q];
                    v[k * p + r] = c * vkr - s * vkq;
                    v[k * p + q] = s * vkr + c * vkq;
                }
            }
        }
    }
    let values = (0..p).map(|i| m[i * p + i]).collect();
    (values, v)
}

/// Ordinary least squares of `y` on the columns of `x` (`n × p`, row-major):
/// `(β̂, (X'X)⁻¹, residuals)`, `None` when `X'X` is singular.
pub(crate) fn ols(x: &[f64], y: &[f64], p: usize) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let n = y.len();
    let mut xtx = vec![0.0; p * p];
    let mut xty = vec![0.0; p];
    for i in 0..n {
        let row = &x[i * p..(i + 1) * p];
        for a in 0..p {
            xty[a] += row[a] * y[i];
            for b in 0..=a {
                xtx[a * p + b] += row[a] * row[b];
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            xtx[b * p + a] = xtx[a * p + b];
        }
    }
    let inv = spd_inverse(&xtx, p)?;
    let beta: Vec<f64> = (0..p)
        .map(|a| (0..p).map(|b| inv[a * p + b] * xty[b]).sum())
        .collect();
    let resid = (0..n)
        .map(|i| {
            let row = &x[i * p..(i + 1) * p];
            y[i] - row.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>()
        })
        .collect();
    Some((beta, inv, resid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_and_eigen_of_a_known_matrix() {
        let a = [4.0, 1.0, 1.0, 3.0];
        let inv = spd_inverse(&a, 2).unwrap_or_default();
        // det = 11
        let expected = [3.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 4.0 / 11.0];
        for (x, e) in inv.iter().zip(expected) {
            assert!((x - e).abs() < 1e-14);
        }
        let (vals, vecs) = sym_eigen(&a, 2);
        let mut sorted = vals.clone();
        sorted.sort_by(f64::total_cmp);
        let disc = (1.0_f64 + 4.0).sqrt();
        assert!((sorted[0] - (3.5 - disc / 2.0 * 1.0)).abs() < 1e-12);
        assert!((sorted[1] - (3.5 + disc / 2.0)).abs() < 1e-12);
        // A v = λ v for each column.
        for (j, lambda) in vals.iter().enumerate() {
            for i in 0..2 {
                let av: f64 = (0..2).map(|k| a[i * 2 + k] * vecs[k * 2 + j]).sum();
                assert!((av - lambda * vecs[i * 2 + j]).abs() < 1e-12);
            }
        }
        assert!(spd_inverse(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
    }
}
