//! The eigen-decomposition of a small symmetric matrix (the matrices of a few fixed effects or
//! variance parameters), shared by the inference and workflow crates.

/// Eigen-decomposition of a symmetric `k × k` row-major matrix by cyclic Jacobi rotations.
/// Returns `(values, vectors)` with eigenvalues in decreasing order (as R's `eigen`) and the
/// eigenvectors as the columns of the row-major `vectors`.
pub fn sym_eigen(a: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    // Symmetrize.
    for i in 0..k {
        for j in 0..i {
            let v = 0.5 * (m[i * k + j] + m[j * k + i]);
            m[i * k + j] = v;
            m[j * k + i] = v;
        }
    }
    let mut v = vec![0.0; k * k];
    for i in 0..k {
        v[i * k + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * k + j] * m[i * k + j])
            .sum();
        let total: f64 = m.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = m[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let app = m[p * k + p];
                let aqq = m[q * k + q];
                let tau = (aqq - app) / (2.0 * apq);
                let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                let t = if tau == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = t * c;
                for r in 0..k {
                    let mrp = m[r * k + p];
                    let mrq = m[r * k + q];
                    m[r * k + p] = c * mrp - s * mrq;
                    m[r * k + q] = s * mrp + c * mrq;
                }
                for r in 0..k {
                    let mpr = m[p * k + r];
                    let mqr = m[q * k + r];
                    m[p * k + r] = c * mpr - s * mqr;
                    m[q * k + r] = s * mpr + c * mqr;
                }
                for r in 0..k {
                    let vrp = v[r * k + p];
                    let vrq = v[r * k + q];
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| m[b * k + b].total_cmp(&m[a * k + a]));
    let values: Vec<f64> = order.iter().map(|&i| m[i * k + i]).collect();
    let mut vectors = vec![0.0; k * k];
    for (newc, &oldc) in order.iter().enumerate() {
        for r in 0..k {
            vectors[r * k + newc] = v[r * k + oldc];
        }
    }
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 1.0];
        let (vals, vecs) = sym_eigen(&a, 3);
        assert!(vals[0] >= vals[1] && vals[1] >= vals[2]);
        for i in 0..3 {
            for j in 0..3 {
                let mut acc = 0.0;
                for m in 0..3 {
                    acc += vecs[i * 3 + m] * vals[m] * vecs[j * 3 + m];
                }
                assert!((acc - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }
}
