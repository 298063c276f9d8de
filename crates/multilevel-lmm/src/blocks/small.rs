//! Kernels of small dense blocks, `k × k` and row-major: the per-level blocks of the first
//! term (`k₀ × k₀`), the dense block when it is tiny, and small products with a term's
//! lower-triangular `Λ` template.
//!
//! [`cholesky_in_place`] is the one Cholesky kernel of all of them.

// Index loops over the small blocks mirror the formulas and fix the order of every sum.
#![allow(clippy::needless_range_loop)]

/// Dense blocks of at most this many rows are factored and inverted by these kernels (a plain
/// Cholesky, a triangular inverse) rather than faer's, whose setup costs more than the
/// arithmetic at this size; the small-model gradient paths use the same bound.
pub(crate) const TINY_BLOCK: usize = 24;

/// `out = Λ' A Λ` for small `k × k` row-major matrices (`Λ` lower triangular); `t` is
/// scratch of at least `k²`.
pub(crate) fn sandwich_into(a: &[f64], lam: &[f64], k: usize, out: &mut [f64], t: &mut [f64]) {
    // t = A Λ
    for r in 0..k {
        for c in 0..k {
            let mut acc = 0.0;
            for m in c..k {
                acc += a[r * k + m] * lam[m * k + c];
            }
            t[r * k + c] = acc;
        }
    }
    lower_t_mul(lam, t, k, out);
}

/// `out = Λ'B` for `k × k` row-major matrices (`Λ` lower triangular).
pub(crate) fn lower_t_mul(lam: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
    for r in 0..k {
        for c in 0..k {
            let mut acc = 0.0;
            for m in r..k {
                acc += lam[m * k + r] * b[m * k + c];
            }
            out[r * k + c] = acc;
        }
    }
}

/// The Cholesky kernel of the small dense blocks (a level's `k × k` block of the first term,
/// the dense block when it has at most [`TINY_BLOCK`] rows, a small Hessian): `A = LL'` in place
/// on the row-major `k × k` matrix `a` (lower triangle read, `L` written there, the strict upper
/// triangle zeroed). `pivot(d_j)` receives each pivot `d_j = L[j, j]²` before its square root.
/// Returns `false` when a pivot is not positive (or NaN); `a` is then partly overwritten.
///
/// Column `j`: `d_j = A[j, j] − Σ_{m<j} L[j, m]²` and
/// `L[i, j] = (A[i, j] − Σ_{m<j} L[i, m] L[j, m]) / √d_j`, each sum subtracted term by term in
/// increasing `m` (the order of the textbook form, which every caller's numbers depend on).
#[inline]
pub(crate) fn cholesky_in_place(a: &mut [f64], k: usize, mut pivot: impl FnMut(f64)) -> bool {
    let Some(a) = a.get_mut(..k * k) else {
        return false;
    };
    for j in 0..k {
        // Row j of L (columns < j are done), then the rows below it.
        let (rowj, below) = a[j * k..].split_at_mut(k);
        let mut d = rowj[j];
        for x in &rowj[..j] {
            d -= x * x;
        }
        if d <= 0.0 || d.is_nan() {
            return false;
        }
        pivot(d);
        let d = d.sqrt();
        rowj[j] = d;
        rowj[j + 1..].fill(0.0);
        let done = &rowj[..j];
        for row in below.chunks_exact_mut(k) {
            let mut acc = row[j];
            for (x, y) in row[..j].iter().zip(done) {
                acc -= x * y;
            }
            row[j] = acc / d;
        }
    }
    true
}

/// [`cholesky_in_place`] returning `log|A| = 2 Σ log diag(L)`, or `None` if a pivot is not
/// positive.
pub(crate) fn small_cholesky(a: &mut [f64], k: usize) -> Option<f64> {
    let mut ld = 0.0;
    let ok = cholesky_in_place(a, k, |d| ld += 2.0 * d.sqrt().ln());
    ok.then_some(ld)
}

/// Inverse of a small row-major lower-triangular matrix.
pub(crate) fn small_lower_inverse(l: &[f64], k: usize) -> Vec<f64> {
    let mut inv = vec![0.0; k * k];
    small_lower_inverse_into(l, k, &mut inv);
    inv
}

/// [`small_lower_inverse`] into `inv` (`k × k`, row-major): writes the lower triangle only.
pub(crate) fn small_lower_inverse_into(l: &[f64], k: usize, inv: &mut [f64]) {
    for j in 0..k {
        inv[j * k + j] = 1.0 / l[j * k + j];
        for i in j + 1..k {
            let mut acc = 0.0;
            for m in j..i {
                acc -= l[i * k + m] * inv[m * k + j];
            }
            inv[i * k + j] = acc / l[i * k + i];
        }
    }
}

/// `M = Λ₀ L⁻ᵀ` (`k × k`, row-major) for a level of the first term whose factor block is `l`
/// (`L = chol(Λ₀'A_jΛ₀ + I)`): a row `v` of `Λᵣ'A_r0` (one level's `k` columns) becomes the
/// row `v M` of `V = Λᵣ'A_r0 Λ₀ L⁻ᵀ`. `linv` (`k²`) receives `L⁻¹` (lower triangle). Entry by entry,
/// `M[a, c] = Σ_{j ≤ min(a, c)} Λ₀[a, j] (L⁻¹)[c, j]`.
pub(crate) fn level_mix_into(lam0: &[f64], l: &[f64], k: usize, linv: &mut [f64], m: &mut [f64]) {
    small_lower_inverse_into(l, k, linv);
    for a in 0..k {
        for c in 0..k {
            let mut acc = 0.0;
            for j in 0..=a.min(c) {
                acc += lam0[a * k + j] * linv[c * k + j];
            }
            m[a * k + c] = acc;
        }
    }
}

/// `v ← v M` for every row `v` (length `k`) of the row-major `rows`, with `m` a row-major
/// `k × k` matrix; each entry is summed over the rows of `m` in order, from 0 (`out` is `k`
/// values of scratch). Sizes up to 8 run with the size known at compile time (same arithmetic).
pub(crate) fn rows_times_into(rows: &mut [f64], m: &[f64], k: usize, out: &mut [f64]) {
    fn fixed<const K: usize>(rows: &mut [f64], m: &[f64]) {
        let Some(m) = m.get(..K * K) else {
            return;
        };
        for v in rows.chunks_exact_mut(K) {
            let mut out = [0.0; K];
            for (&x, mrow) in v.iter().zip(m.chunks_exact(K)) {
                for (o, mv) in out.iter_mut().zip(mrow) {
                    *o += x * mv;
                }
            }
            v.copy_from_slice(&out);
        }
    }
    match k {
        2 => fixed::<2>(rows, m),
        3 => fixed::<3>(rows, m),
        4 => fixed::<4>(rows, m),
        5 => fixed::<5>(rows, m),
        6 => fixed::<6>(rows, m),
        7 => fixed::<7>(rows, m),
        8 => fixed::<8>(rows, m),
        _ => {
            let out = &mut out[..k];
            for v in rows.chunks_exact_mut(k) {
                out.iter_mut().for_each(|o| *o = 0.0);
                for (&x, mrow) in v.iter().zip(m.chunks_exact(k)) {
                    for (o, mv) in out.iter_mut().zip(mrow) {
                        *o += x * mv;
                    }
                }
                v.copy_from_slice(out);
            }
        }
    }
}

/// `S⁻¹ = L⁻ᵀL⁻¹` of `S = LL'` from the row-major lower-triangular inverse `li` (`m × m`):
/// `put(a, b, (S⁻¹)_ab)` for every `b ≤ a` (the caller mirrors it).
pub(crate) fn spd_inverse_from_lower_inverse(
    li: &[f64],
    m: usize,
    mut put: impl FnMut(usize, usize, f64),
) {
    for a in 0..m {
        for b in 0..=a {
            let mut acc = 0.0;
            for i in a..m {
                acc += li[i * m + a] * li[i * m + b];
            }
            put(a, b, acc);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn small_cholesky_factors_and_rejects() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let ld = small_cholesky(&mut a, 2).unwrap();
        assert!((a[0] - 2.0).abs() < 1e-15 && (a[2] - 1.0).abs() < 1e-15);
        assert!((a[3] - 2f64.sqrt()).abs() < 1e-15 && a[1] == 0.0);
        assert!((ld - 8f64.ln()).abs() < 1e-14);
        let mut bad = vec![1.0, 2.0, 2.0, 1.0];
        assert!(small_cholesky(&mut bad, 2).is_none());
        let inv = small_lower_inverse(&a, 2);
        // L · L⁻¹ = I
        assert!((a[0] * inv[0] - 1.0).abs() < 1e-15);
        assert!((a[2] * inv[0] + a[3] * inv[2]).abs() < 1e-15);
    }

    /// The kernel against a plain dense reference: `L L'` reproduces `A` on a 5 × 5 SPD
    /// matrix, and the pivots are the squared diagonal.
    #[test]
    fn cholesky_kernel_reproduces_the_matrix() {
        let k = 5;
        let g: Vec<f64> = (0..k * k)
            .map(|i| ((i * 7 + 3) % 11) as f64 - 5.0)
            .collect();
        let mut a = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                a[i * k + j] = (0..k).map(|m| g[i * k + m] * g[j * k + m]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let mut l = a.clone();
        let mut pivots = Vec::new();
        assert!(cholesky_in_place(&mut l, k, |d| pivots.push(d)));
        for i in 0..k {
            assert!((pivots[i] - l[i * k + i] * l[i * k + i]).abs() < 1e-9 * pivots[i]);
            for j in 0..k {
                let llt: f64 = (0..k).map(|m| l[i * k + m] * l[j * k + m]).sum();
                assert!((llt - a[i * k + j]).abs() < 1e-9 * (1.0 + a[i * k + j].abs()));
            }
        }
    }
}
