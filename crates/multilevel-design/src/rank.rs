//! Detection of aliased (linearly dependent) columns as lme4 does it.
//!
//! lme4's `chkRank.drop.cols` calls R's `qr(X, tol = 1e-7, LAPACK = FALSE)`, i.e. LINPACK
//! `dqrdc2`, a Householder QR with *limited* column pivoting: columns are processed left to
//! right, and a column whose norm, after removing its projection on the columns already
//! accepted, has fallen below `tol` times its original norm is moved to the end and never
//! used as a pivot. The accepted columns keep their original order; the moved ones are
//! dropped. (A column of zeros counts as having original norm 1, so it is always dropped.)
//! This is *not* a max-norm pivoted QR, which would prefer different columns.

/// lme4's tolerance for the rank check of `X` (`chkRank.drop.cols(X, tol = 1e-7)`).
pub const RANK_TOL: f64 = 1e-7;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four accumulators: faster, and no less accurate than one running sum.
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Indices of the columns R's `qr(…, tol)` with limited pivoting keeps, in their original
/// order; the others are aliased with earlier columns.
///
/// Column `j` (all columns of equal length `n`) is kept iff
/// `‖(I − QQ')x_j‖ ≥ tol · ‖x_j‖`, where `Q` is an orthonormal basis of the columns kept before
/// it (and `‖x_j‖` is replaced by 1 for a zero column). The projection is computed by classical
/// Gram–Schmidt with one re-orthogonalisation (numerically as orthogonal as Householder).
/// At most `n` columns are kept. Cost `O(n · p · rank)`; memory one extra `n × rank` basis.
pub fn kept_columns(columns: &[Vec<f64>], tol: f64) -> Vec<usize> {
    let n = columns.first().map_or(0, Vec::len);
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut kept = Vec::new();
    for (j, x) in columns.iter().enumerate() {
        if basis.len() >= n {
            break;
        }
        let norm0 = dot(x, x).sqrt();
        let reference = if norm0 == 0.0 { 1.0 } else { norm0 };
        let mut r = x.clone();
        for _pass in 0..2 {
            let coefs: Vec<f64> = basis.iter().map(|q| dot(q, &r)).collect();
            for (q, c) in basis.iter().zip(&coefs) {
                r.iter_mut().zip(q).for_each(|(ri, qi)| *ri -= c * qi);
            }
        }
        let norm = dot(&r, &r).sqrt();
        if norm.is_finite() && norm >= tol * reference && norm > 0.0 {
            r.iter_mut().for_each(|v| *v /= norm);
            basis.push(r);
            kept.push(j);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiple_of_earlier_column_is_dropped_earlier_kept() {
        let a = vec![1.0, 2.0, 3.0, 4.0, 5.0];
        let b = vec![1.0, 0.0, 1.0, 0.0, 1.0];
        let c: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        let d = vec![0.0, 1.0, 0.0, 0.0, 2.0];
        assert_eq!(
            kept_columns(&[a.clone(), b.clone(), c.clone(), d.clone()], RANK_TOL),
            vec![0, 1, 3]
        );
        // the earlier of two aliased columns wins, whichever has the larger norm
        assert_eq!(kept_columns(&[c, b, a, d], RANK_TOL), vec![0, 1, 3]);
    }

    #[test]
    fn zero_column_and_sum_of_indicators_dropped() {
        let one = vec![1.0; 6];
        let f1 = vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let f2 = vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let f3 = vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let zero = vec![0.0; 6];
        // intercept + all three indicators: the last indicator is the aliased one
        assert_eq!(
            kept_columns(&[one, f1, f2, f3, zero], RANK_TOL),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn tolerance_is_relative_to_original_norm() {
        // second column = first + tiny perturbation: relative residual 1e-9 < 1e-7 → dropped
        let a = vec![1.0, 1.0, 1.0, 1.0];
        let b = vec![1.0, 1.0 + 1e-9, 1.0, 1.0];
        assert_eq!(kept_columns(&[a.clone(), b], RANK_TOL), vec![0]);
        // relative residual 1e-5 > 1e-7 → kept
        let c = vec![1.0, 1.0 + 1e-5, 1.0, 1.0];
        assert_eq!(kept_columns(&[a, c], RANK_TOL), vec![0, 1]);
        // a small but independent column is kept (scale does not matter)
        let tiny = vec![1e-12, -1e-12, 0.0, 0.0];
        assert_eq!(kept_columns(&[vec![1.0; 4], tiny], RANK_TOL), vec![0, 1]);
    }

    #[test]
    fn never_more_columns_than_rows() {
        let cols = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        assert_eq!(kept_columns(&cols, RANK_TOL), vec![0, 1]);
    }
}
