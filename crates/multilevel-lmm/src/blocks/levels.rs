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
