//! Small dense linear algebra for the workflow's least-squares fits and the Hausman test
//! (matrices of a few predictors: row-major `Vec<f64>`, `p × p`).

/// Inverse of a symmetric positive-definite `p × p` matrix by Cholesky, `None` when a pivot is
/// not above `1e-12` times the largest diagonal element: the matrix is singular or numerically
/// so.
pub(crate) fn spd_inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    multilevel_numeric::spd::spd_inverse(a, p, 1e-12)
}

pub(crate) use multilevel_numeric::eigen::sym_eigen;

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
