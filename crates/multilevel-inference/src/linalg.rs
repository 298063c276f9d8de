//! Small dense linear algebra on row-major `Vec<f64>` matrices (sizes are the number of
//! fixed effects or variance parameters, so a few dozen at most).

/// Quadratic form `a' M a` with `M` row-major `k × k`.
pub(crate) fn qform(a: &[f64], m: &[f64]) -> f64 {
    let k = a.len();
    let mut acc = 0.0;
    for i in 0..k {
        let mut row = 0.0;
        for j in 0..k {
            row += m[i * k + j] * a[j];
        }
        acc += a[i] * row;
    }
    acc
}

/// Least-squares coefficients `B` (`p × m`) of the columns of `Y` (`n × m`, given as columns)
/// on the columns of `X` (`n × p`, given as columns) by modified Gram–Schmidt QR. Columns of
/// `X` that are (numerically, relative tolerance `tol`) linear combinations of earlier ones get
/// zero coefficients; `X` is expected to have full column rank for uniqueness.
pub(crate) fn lstsq_columns(x: &[Vec<f64>], y: &[Vec<f64>], tol: f64) -> Vec<Vec<f64>> {
    let p = x.len();
    let (q, r, kept) = qr_columns(x, tol);
    // Coefficients for the kept columns: R b = Q'y, then scatter.
    y.iter()
        .map(|col| {
            let qty: Vec<f64> = q.iter().map(|qc| dot(qc, col)).collect();
            let nk = kept.len();
            let mut b = vec![0.0; nk];
            for i in (0..nk).rev() {
                let mut acc = qty[i];
                for j in i + 1..nk {
                    acc -= r[i][j] * b[j];
                }
                b[i] = acc / r[i][i];
            }
            let mut full = vec![0.0; p];
            for (i, &c) in kept.iter().enumerate() {
                full[c] = b[i];
            }
            full
        })
        .collect()
}

/// Residuals of the least-squares fit of each column of `Y` on the columns of `X` (R's
/// `resid(lm.fit(X, Y))`): the projection of `Y` onto the orthogonal complement of the span
/// of `X`. Rank-deficient `X` is fine.
pub(crate) fn lstsq_residuals(x: &[Vec<f64>], y: &[Vec<f64>], tol: f64) -> Vec<Vec<f64>> {
    let (q, _, _) = qr_columns(x, tol);
    y.iter()
        .map(|col| {
            let mut r = col.clone();
            // Two passes of projection for numerical orthogonality.
            for _ in 0..2 {
                for qc in &q {
                    let c = dot(qc, &r);
                    for (ri, qi) in r.iter_mut().zip(qc) {
                        *ri -= c * qi;
                    }
                }
            }
            r
        })
        .collect()
}

type Qr = (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<usize>);

/// Thin QR of the columns of `X` by modified Gram–Schmidt with re-orthogonalization; columns
/// whose remaining norm is below `tol` times their original norm are skipped. Returns the
/// orthonormal columns `Q`, the upper-triangular `R` (over the kept columns) and the kept
/// column indices.
fn qr_columns(x: &[Vec<f64>], tol: f64) -> Qr {
    let mut q: Vec<Vec<f64>> = Vec::new();
    let mut r: Vec<Vec<f64>> = Vec::new();
    let mut kept = Vec::new();
    let nk_max = x.len();
    for (c, col) in x.iter().enumerate() {
        let norm0 = dot(col, col).sqrt();
        let mut v = col.clone();
        let mut coefs = vec![0.0; nk_max];
        for _ in 0..2 {
            for (i, qc) in q.iter().enumerate() {
                let d = dot(qc, &v);
                coefs[i] += d;
                for (vi, qi) in v.iter_mut().zip(qc) {
                    *vi -= d * qi;
                }
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm0 == 0.0 || norm <= tol * norm0 {
            continue;
        }
        let i = q.len();
        coefs[i] = norm;
        for vi in v.iter_mut() {
            *vi /= norm;
        }
        q.push(v);
        kept.push(c);
        // Store column i of R as row-major rows later: r[row][col].
        for (row, rrow) in r.iter_mut().enumerate() {
            rrow.push(coefs[row]);
        }
        let mut new_row = vec![0.0; i];
        new_row.push(norm);
        r.push(new_row);
    }
    // r[row] currently has entries for columns row..; pad to square upper-triangular with
    // full-length rows indexed by kept-column position.
    let nk = q.len();
    let mut rr = vec![vec![0.0; nk]; nk];
    for (row, rrow) in r.iter().enumerate() {
        for (col, &v) in rrow.iter().enumerate() {
            if col >= row && col < nk {
                rr[row][col] = v;
            }
        }
    }
    (q, rr, kept)
}

/// Dot product.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// R's `zapsmall(x, digits = 7)` in place: every element rounded to `7 − ceiling(log10(max|x|))`
/// decimal places (at least 0), so values tiny relative to the largest become exactly zero
/// (numeric's [`multilevel_numeric::fmt::zapsmall`]).
pub(crate) fn zapsmall(x: &mut [f64]) {
    let z = multilevel_numeric::fmt::zapsmall(x, 7);
    x.copy_from_slice(&z);
}

pub(crate) use multilevel_numeric::eigen::sym_eigen;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_and_residuals() {
        // y = 2 + 3x exactly, plus a second column with noise-free residual structure.
        let x = vec![
            vec![1.0; 4],
            vec![0.0, 1.0, 2.0, 3.0],
            vec![0.0, 2.0, 4.0, 6.0],
        ];
        let y = vec![vec![2.0, 5.0, 8.0, 11.0], vec![1.0, 0.0, 0.0, 1.0]];
        let b = lstsq_columns(&x, &y, 1e-7);
        assert!((b[0][0] - 2.0).abs() < 1e-12 && (b[0][1] - 3.0).abs() < 1e-12);
        assert_eq!(b[0][2], 0.0); // aliased column
        let r = lstsq_residuals(&x, &y, 1e-7);
        assert!(r[0].iter().all(|v| v.abs() < 1e-12));
        // Residual of (1,0,0,1) on (1, x): mean 0.5, slope 0 → (0.5, −0.5, −0.5, 0.5).
        for (got, want) in r[1].iter().zip([0.5, -0.5, -0.5, 0.5]) {
            assert!((got - want).abs() < 1e-12);
        }
    }

    #[test]
    fn zapsmall_like_r() {
        let mut v = [1.0, 1e-9, -0.333333333333];
        zapsmall(&mut v);
        assert_eq!(v, [1.0, 0.0, -0.3333333]);
    }
}
