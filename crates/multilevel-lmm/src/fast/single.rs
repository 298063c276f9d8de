//! The block type of a model with a single random-effects term whose blocks are tiny
//! (`k₀ ≤ 3`, e.g. sleepstudy's `(Days | Subject)`): [`SingleTerm`], its Schur block and its
//! gradient.
//!
//! With one term there are no later random effects (`n_r = 0`): the dense block holds only
//! `X` and `y`, and the rest block of the gradient ([`crate::gradient`]) is `X` alone (REML)
//! or empty (ML). The general formulas then reduce, level `j` by level, to
//!
//! ```text
//!   P_j = (L₀₀,j⁻ᵀL₀₀,j⁻¹ + W_j'Y_j) Λ₀'(Z₀'Z₀)_j − Y_j'B_j,
//!   W_j = V_j L₀₀,j⁻¹ (rows of X),   Y_j = (R_X'R_X)⁻¹ W_j on the rows of level j's pattern,
//! ```
//!
//! and `u₀`, `b₀ = Λ₀u₀` and `Z'r` of a level need only that level's blocks. This module runs
//! the same arithmetic, in the same order, as the general path, but in one pass over the
//! levels with fixed-size `k₀ × k₀` arrays and a workspace kept across evaluations (no
//! allocation per level or per evaluation besides the returned vector). On sleepstudy
//! (18 levels, `k₀ = 2`, `p = 2`) the general path spent most of its time allocating small
//! vectors and in loops over run-time sizes.

// Index loops over the small blocks mirror the formulas, and keep the order of every sum
// visibly that of the general path (which these paths must reproduce).
#![allow(clippy::needless_range_loop)]

use crate::blocks::small::{
    TINY_BLOCK, level_mix_into, rows_times_into, small_lower_inverse_into,
    spd_inverse_from_lower_inverse,
};
use crate::factorization::{General, PlsBlocks};
use crate::fast::scalar::{self, ScalarWork};
use crate::gradient::GradWork;
use crate::gradient::selinv::SCALAR_SHORTCUT_MIN_THETA;
use crate::pls::Pls;

/// Workspace of the single-term gradient, kept across evaluations.
#[derive(Debug, Default)]
pub(crate) struct SingleWork {
    /// β for the centred response (`p`).
    beta: Vec<f64>,
    /// Leading `m × m` block of `L_S`, then its inverse (row-major).
    l: Vec<f64>,
    li: Vec<f64>,
    /// `S⁻¹` on the leading `m × m` block, both triangles (row-major).
    sinv: Vec<f64>,
    /// `W_j` and `Y_j` of one level (`rows × k₀`).
    w: Vec<f64>,
    y: Vec<f64>,
}

/// The blocks of a model with one random-effects term of `K ≤ 3` columns and a sparse `V`:
/// the dense block is `X` and `y` only, formed in one pass over the levels ([`schur_k`]), and
/// the gradient is the general one reduced to `n_r = 0` with fixed-size `K × K` arrays
/// ([`gradient_k`]). For `K = 1` away from `θ = 0` the all-scalar identity of
/// [`crate::fast::scalar`] gives the gradient instead, as for the other all-scalar models.
#[derive(Default)]
pub(crate) struct SingleTerm<const K: usize> {
    work: SingleWork,
    scalar: ScalarWork,
    general: GradWork,
}

impl<const K: usize> PlsBlocks for SingleTerm<K> {
    fn name(&self) -> &'static str {
        "single term"
    }

    /// [`schur_k`] on one thread; the general kernels when the dense block is large enough
    /// for two (the same numbers).
    fn form_schur(&mut self, pls: &mut Pls) {
        if pls.nr != 0 || pls.vdense.is_some() || pls.two_threads(pls.nt) {
            General::form(pls);
        } else {
            schur_k::<K>(pls);
        }
    }

    /// [`gradient_k`] while the general path would run on one thread without the dense `V`
    /// (and, for `K = 1`, near `θ = 0`, where the scalar identity is not used); the numbers
    /// are those of the general path.
    fn special_gradient(
        &mut self,
        pls: &Pls,
        m: usize,
        scale: f64,
        ntheta: usize,
    ) -> Option<Vec<f64>> {
        let single = pls.nr == 0
            && m <= TINY_BLOCK
            && pls.vdense.is_none()
            && pls.brow.len() * K * K < pls.gradient_chunk_work
            && !(K == 1
                && pls
                    .lambda
                    .first()
                    .and_then(|l| l.first())
                    .is_some_and(|v| v.abs() >= SCALAR_SHORTCUT_MIN_THETA));
        if single {
            return Some(gradient_k::<K>(pls, &mut self.work, m, scale, ntheta));
        }
        if K == 1 {
            scalar::small_gradient(pls, &mut self.scalar, m, scale, ntheta)
        } else {
            None
        }
    }

    fn general_work(&mut self) -> &mut GradWork {
        &mut self.general
    }
}

/// The gradient at the current factor for one term of `K` columns (`m` rows of `X` in the
/// dense block's leading part: `p` for REML, 0 for ML).
fn gradient_k<const K: usize>(
    pls: &Pls,
    ws: &mut SingleWork,
    m: usize,
    scale: f64,
    ntheta: usize,
) -> Vec<f64> {
    let p = pls.p;
    let nt = pls.nt;
    let l0 = pls.l0;
    let kk = K * K;

    // β: L_XX' β = c_X (the dense block is X then y).
    let s = pls.s.as_ref();
    ws.beta.clear();
    ws.beta.extend((0..p).map(|a| s[(nt - 1, a)]));
    let beta = &mut ws.beta;
    for a in (0..p).rev() {
        let mut acc = beta[a];
        for b in a + 1..p {
            acc -= s[(b, a)] * beta[b];
        }
        beta[a] = acc / s[(a, a)];
    }

    // S⁻¹ = L_S⁻ᵀL_S⁻¹ on the leading m × m block.
    ws.l.resize(m * m, 0.0);
    ws.li.resize(m * m, 0.0);
    ws.sinv.resize(m * m, 0.0);
    for i in 0..m {
        for j in 0..=i {
            ws.l[i * m + j] = s[(i, j)];
        }
    }
    small_lower_inverse_into(&ws.l, m, &mut ws.li);
    {
        let sinv = &mut ws.sinv;
        spd_inverse_from_lower_inverse(&ws.li, m, |a, b, v| {
            sinv[a * m + b] = v;
            sinv[b * m + a] = v;
        });
    }

    let mut lam0 = [[0.0; K]; K];
    for (r, row) in lam0.iter_mut().enumerate() {
        row.copy_from_slice(&pls.lambda[0][r * K..(r + 1) * K]);
    }
    let maxrows = (0..l0)
        .map(|l| pls.bptr[l + 1] - pls.bptr[l])
        .max()
        .unwrap_or(0);
    if ws.w.len() < maxrows * K {
        ws.w.resize(maxrows * K, 0.0);
        ws.y.resize(maxrows * K, 0.0);
    }

    let mut yhr = [[0.0; K]; K];
    let mut p0 = [[0.0; K]; K];
    let mut rsum0 = [[0.0; K]; K];
    for l in 0..l0 {
        let (start, end) = (pls.bptr[l], pls.bptr[l + 1]);
        let rows = &pls.brow[start..end];
        let vals = &pls.vval[start * K..end * K];
        let bvals = &pls.bval[start * K..end * K];
        let mut lblk = [[0.0; K]; K];
        let mut a00 = [[0.0; K]; K];
        for r in 0..K {
            lblk[r].copy_from_slice(&pls.l00[l * kk + r * K..l * kk + (r + 1) * K]);
            a00[r].copy_from_slice(&pls.a00[l * kk + r * K..l * kk + (r + 1) * K]);
        }

        // u₀ of this level: L₀₀' u = c₀ − L_X0' β.
        let mut u = [0.0; K];
        for (&r, v) in rows.iter().zip(vals.chunks_exact(K)) {
            let r = r as usize;
            let coef = if r < p { -ws.beta[r] } else { 1.0 };
            for c in 0..K {
                u[c] += coef * v[c];
            }
        }
        for c in (0..K).rev() {
            let mut acc = u[c];
            for cc in c + 1..K {
                acc -= lblk[cc][c] * u[cc];
            }
            u[c] = acc / lblk[c][c];
        }
        // b = Λ₀u, then Z'r of the level = Z₀'y − Z₀'Xβ − Z₀'Z₀ b.
        let mut b = [0.0; K];
        for r in 0..K {
            let mut acc = 0.0;
            for c in 0..=r {
                acc += lam0[r][c] * u[c];
            }
            b[r] = acc;
        }
        let mut zr = [0.0; K];
        for c in 0..K {
            let mut acc = 0.0;
            for c2 in 0..K {
                acc -= a00[c][c2] * b[c2];
            }
            zr[c] = acc;
        }
        for (&r, bv) in rows.iter().zip(bvals.chunks_exact(K)) {
            let r = r as usize;
            let coef = if r < p { ws.beta[r] } else { -1.0 };
            for c in 0..K {
                zr[c] -= coef * bv[c];
            }
        }

        // L₀₀⁻¹ and W = V L₀₀⁻¹ on the active rows (those of X for REML).
        let mut li = [[0.0; K]; K];
        for j in 0..K {
            li[j][j] = 1.0 / lblk[j][j];
            for i in j + 1..K {
                let mut acc = 0.0;
                for mm in j..i {
                    acc -= lblk[i][mm] * li[mm][j];
                }
                li[i][j] = acc / lblk[i][i];
            }
        }
        let na = rows.partition_point(|&r| (r as usize) < m);
        for i in 0..na {
            let v = &vals[i * K..(i + 1) * K];
            let mut wi = [0.0; K];
            for c2 in 0..K {
                for c in 0..=c2 {
                    wi[c] += v[c2] * li[c2][c];
                }
            }
            ws.w[i * K..(i + 1) * K].copy_from_slice(&wi);
        }
        // Y = S⁻¹[rows, rows] W.
        for i in 0..na {
            let r = rows[i] as usize;
            let mut yi = [0.0; K];
            for i2 in 0..na {
                let sv = ws.sinv[rows[i2] as usize * m + r];
                for c in 0..K {
                    yi[c] += sv * ws.w[i2 * K + c];
                }
            }
            ws.y[i * K..(i + 1) * K].copy_from_slice(&yi);
        }
        // inner = L₀₀⁻ᵀL₀₀⁻¹ + W'Y.
        let mut inner = [[0.0; K]; K];
        for a in 0..K {
            for b in 0..K {
                let mut acc = 0.0;
                for r in a.max(b)..K {
                    acc += li[r][a] * li[r][b];
                }
                inner[a][b] = acc;
            }
        }
        for i in 0..na {
            for a in 0..K {
                let wa = ws.w[i * K + a];
                for b in 0..K {
                    inner[a][b] += wa * ws.y[i * K + b];
                }
            }
        }
        // Σ Y'B over the active rows.
        for i in 0..na {
            for a in 0..K {
                let ya = ws.y[i * K + a];
                for b in 0..K {
                    yhr[a][b] += ya * bvals[i * K + b];
                }
            }
        }
        // H₀₀ = Λ₀'(Z₀'Z₀)_j and Σ inner H₀₀.
        let mut h00 = [[0.0; K]; K];
        for r in 0..K {
            for c in 0..K {
                let mut acc = 0.0;
                for mm in r..K {
                    acc += lam0[mm][r] * a00[mm][c];
                }
                h00[r][c] = acc;
            }
        }
        for a in 0..K {
            for c in 0..K {
                let iv = inner[a][c];
                for b in 0..K {
                    p0[a][b] += iv * h00[c][b];
                }
            }
        }
        for a in 0..K {
            for b in 0..K {
                rsum0[a][b] += zr[a] * u[b];
            }
        }
    }

    let mut grad = vec![0.0; ntheta];
    let mut idx = 0;
    for b in 0..K {
        for a in b..K {
            if let Some(gv) = grad.get_mut(idx) {
                *gv = 2.0 * (p0[b][a] - yhr[b][a]) + scale * rsum0[a][b];
            }
            idx += 1;
        }
    }
    grad
}

/// `V = A_r0 Λ₀ L₀₀⁻ᵀ` and `S = A_rr − VV'` (lower triangle) for one term of `K` columns and
/// the sparse `V` (the dense block is then `X` and `y` only): the work of the general
/// `compute_v` and `form_schur` in one pass over the levels, with the same arithmetic in the
/// same order. Needs `Λ` and `L₀₀` of the current θ.
fn schur_k<const K: usize>(pls: &mut Pls) {
    let nt = pls.nt;
    let kk = K * K;
    // S = A_rr on the lower triangle (Λ̃_r is the identity on the X and y rows).
    for b in 0..nt {
        let src = pls.a_rest.col_as_slice(b);
        let dst = pls.s.col_as_slice_mut(b);
        dst[b..nt].copy_from_slice(&src[b..nt]);
    }
    for l in 0..pls.l0 {
        let (start, end) = (pls.bptr[l], pls.bptr[l + 1]);
        let lblock = &pls.l00[l * kk..(l + 1) * kk];
        // v ← L₀₀⁻¹ (b Λ₀)' = b M (M = Λ₀L₀₀⁻ᵀ) for every row of the level's pattern, as
        // `compute_v` does it.
        let (bv, vv) = (
            &pls.bval[start * K..end * K],
            &mut pls.vval[start * K..end * K],
        );
        if K == 1 {
            for (v, b) in vv.iter_mut().zip(bv) {
                *v = b * pls.lambda[0][0] / lblock[0];
            }
        } else {
            let (mut scratch, mut m) = ([0.0; 9], [0.0; 9]);
            level_mix_into(&pls.lambda[0], lblock, K, &mut scratch[..kk], &mut m[..kk]);
            vv.copy_from_slice(bv);
            rows_times_into(vv, &m[..kk], K, &mut scratch);
        }
        // S −= V_l V_l' on the lower triangle.
        let rows = &pls.brow[start..end];
        let vals = &pls.vval[start * K..end * K];
        for (bi, &cb) in rows.iter().enumerate() {
            let vb = &vals[bi * K..(bi + 1) * K];
            let col = pls.s.col_as_slice_mut(cb as usize);
            for (&r, va) in rows[bi..].iter().zip(vals[bi * K..].chunks_exact(K)) {
                let mut dot = 0.0;
                for c in 0..K {
                    dot += va[c] * vb[c];
                }
                col[r as usize] -= dot;
            }
        }
    }
}
