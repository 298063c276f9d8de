//! The first term's block `Λ₀'Z₀'Z₀Λ₀ + I`: block-diagonal with one `k₀ × k₀` block per level,
//! so its factor `L₀₀` is too (no fill-in). Scalar terms (`k₀ = 1`) make it diagonal.

use crate::blocks::small::{cholesky_in_place, sandwich_into};

/// `L₀₀`: per level `j`, `chol(Λ₀'A₀₀,ⱼΛ₀ + I)` into `l00` (`k₀ × k₀` row-major blocks, as
/// `a00`), returning `log|L₀₀|² = 2 Σ log diag(L₀₀)`, or `None` when a pivot is not positive.
/// `tmp` is scratch of at least `k₀²`.
///
/// The scale/inflate step is written out for `k₀ = 1` (`λ²a + 1`) and `k₀ = 2` (random
/// intercept and slope); larger blocks use the general sandwich. For `k₀ ≤ 2` the
/// log-determinant is accumulated as a product of pivots (one logarithm per 32 levels; each
/// pivot product is ≥ 1 and below 1e9 in any sane model, so 32 of them cannot overflow).
pub(crate) fn factor_levels(
    a00: &[f64],
    lam0: &[f64],
    k0: usize,
    l00: &mut [f64],
    tmp: &mut [f64],
) -> Option<f64> {
    let kk = k0 * k0;
    let mut ld_l2 = 0.0;
    let mut prod = 1.0f64;
    let mut nprod = 0;
    for (a, out) in a00.chunks_exact(kk).zip(l00.chunks_exact_mut(kk)) {
        match k0 {
            1 => {
                // The 1 × 1 Cholesky factor of λ²a + 1 ≥ 1.
                let v = lam0[0] * lam0[0] * a[0] + 1.0;
                out[0] = v.sqrt();
                prod *= v;
            }
            2 => {
                let (la, lb, lc) = (lam0[0], lam0[2], lam0[3]);
                let (p, q, r) = (a[0], a[1], a[3]);
                out[0] = la * (p * la + q * lb) + lb * (q * la + r * lb) + 1.0;
                out[2] = lc * (la * q + lb * r);
                out[3] = r * lc * lc + 1.0;
                let mut pivots = 1.0;
                if !cholesky_in_place(out, 2, |d| pivots *= d) {
                    return None;
                }
                prod *= pivots;
            }
            _ => {
                sandwich_into(a, lam0, k0, out, tmp);
                for d in 0..k0 {
                    out[d * k0 + d] += 1.0;
                }
                let mut ld = 0.0;
                if !cholesky_in_place(out, k0, |d| ld += 2.0 * d.sqrt().ln()) {
                    return None;
                }
                ld_l2 += ld;
                continue;
            }
        }
        nprod += 1;
        if nprod == 32 {
            ld_l2 += prod.ln();
            prod = 1.0;
            nprod = 0;
        }
    }
    Some(ld_l2 + prod.ln())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// `Λ'AΛ + I` for a `k × k` row-major `A` and lower-triangular `Λ`, the plain way.
    fn dense_reference(a: &[f64], lam: &[f64], k: usize) -> Vec<f64> {
        let mut m = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                let mut acc = 0.0;
                for r in 0..k {
                    for c in 0..k {
                        acc += lam[r * k + i] * a[r * k + c] * lam[c * k + j];
                    }
                }
                m[i * k + j] = acc + if i == j { 1.0 } else { 0.0 };
            }
        }
        m
    }

    /// Every level block of every size (the written-out `k = 1`, `k = 2` and the general
    /// sandwich) against the dense reference: `L L' = Λ'AΛ + I` and the log-determinant.
    #[test]
    fn level_blocks_match_a_dense_reference() {
        for k in 1..=4 {
            let levels = 40;
            let kk = k * k;
            let mut a00 = vec![0.0; levels * kk];
            for (l, blk) in a00.chunks_exact_mut(kk).enumerate() {
                // Z'Z of a few rows with entries from a fixed sequence.
                for obs in 0..(k + 2) {
                    let z: Vec<f64> = (0..k)
                        .map(|c| (((l * 7 + obs * 3 + c * 5) % 11) as f64 - 4.0) * 0.3)
                        .collect();
                    for r in 0..k {
                        for c in 0..k {
                            blk[r * k + c] += z[r] * z[c];
                        }
                    }
                }
            }
            let mut lam = vec![0.0; kk];
            for r in 0..k {
                for c in 0..=r {
                    lam[r * k + c] = if r == c { 0.8 + 0.1 * r as f64 } else { -0.3 };
                }
            }
            let mut l00 = vec![0.0; levels * kk];
            let mut tmp = vec![0.0; 2 * kk];
            let ld = factor_levels(&a00, &lam, k, &mut l00, &mut tmp).unwrap();
            let mut ld_ref = 0.0;
            for (a, l) in a00.chunks_exact(kk).zip(l00.chunks_exact(kk)) {
                let m = dense_reference(a, &lam, k);
                for i in 0..k {
                    ld_ref += 2.0 * l[i * k + i].ln();
                    for j in 0..k {
                        let llt: f64 = (0..k).map(|c| l[i * k + c] * l[j * k + c]).sum();
                        assert!((llt - m[i * k + j]).abs() < 1e-12 * (1.0 + m[i * k + j].abs()));
                        if j > i {
                            assert_eq!(l[i * k + j], 0.0);
                        }
                    }
                }
            }
            assert!(
                (ld - ld_ref).abs() < 1e-10 * ld_ref.abs(),
                "{k}: {ld} vs {ld_ref}"
            );
        }
    }

    /// The written-out `k = 2` scale step gives the general sandwich's factor bit for bit.
    #[test]
    fn two_by_two_scale_equals_the_general_sandwich() {
        let a = [2.5, -0.7, -0.7, 1.9];
        let lam = [0.9, 0.0, -0.35, 0.6];
        let mut fast = [0.0; 4];
        let mut tmp = [0.0; 8];
        factor_levels(&a, &lam, 2, &mut fast, &mut tmp).unwrap();
        let mut general = [0.0; 4];
        sandwich_into(&a, &lam, 2, &mut general, &mut tmp);
        general[0] += 1.0;
        general[3] += 1.0;
        assert!(cholesky_in_place(&mut general, 2, |_| {}));
        assert_eq!(fast, general);
    }
}
