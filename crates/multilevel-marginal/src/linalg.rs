//! Small dense helpers on top of faer.

use crate::MarginalError;
use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;

/// Inverse of a symmetric positive-definite matrix; `what` names it in the error.
pub(crate) fn spd_inverse(a: &Mat<f64>, what: &str) -> Result<Mat<f64>, MarginalError> {
    let llt = a.llt(faer::Side::Lower).map_err(|_| {
        MarginalError::Numerical(format!(
            "{what} is not positive definite; hint: check for predictors that are constant or collinear within the data used"
        ))
    })?;
    Ok(llt.inverse())
}

/// Lower Cholesky factor `L` (`A = LL'`) of a symmetric positive-definite matrix.
pub(crate) fn cholesky_lower(a: &Mat<f64>, what: &str) -> Result<Mat<f64>, MarginalError> {
    let llt = a
        .llt(faer::Side::Lower)
        .map_err(|_| MarginalError::Numerical(format!("{what} is not positive definite")))?;
    Ok(llt.L().to_owned())
}

/// `A^{-1/2}` of a symmetric positive semi-definite matrix by its eigendecomposition, with
/// eigenvalues ≤ 1e-12 mapped to 0 (clubSandwich's `matrix_power(x, -1/2)`).
pub(crate) fn inv_sqrt_psd(a: &Mat<f64>) -> Result<Mat<f64>, MarginalError> {
    let n = a.nrows();
    let eig = a.self_adjoint_eigen(faer::Side::Lower).map_err(|_| {
        MarginalError::Numerical(
            "the eigendecomposition of a CR2 adjustment matrix failed".to_string(),
        )
    })?;
    let u = eig.U();
    let s = eig.S().column_vector();
    let mut out = Mat::<f64>::zeros(n, n);
    for k in 0..n {
        let l = s[k];
        if l <= 1e-12 {
            continue;
        }
        let f = 1.0 / l.sqrt();
        for j in 0..n {
            let ujk = u[(j, k)] * f;
            if ujk == 0.0 {
                continue;
            }
            for i in 0..n {
                out[(i, j)] += u[(i, k)] * ujk;
            }
        }
    }
    Ok(out)
}

/// The rows `rows` of `x`.
pub(crate) fn select_rows(x: &Mat<f64>, rows: &[usize]) -> Mat<f64> {
    Mat::from_fn(rows.len(), x.ncols(), |i, j| x[(rows[i], j)])
}
