//! Small models whose random-effects terms are all scalar (`(1 | g)`, `(0 + x | g)`, nested
//! or crossed: Penicillin, Pastes, sleepstudy's `(Days || Subject)`).
//!
//! [`ScalarTerms`] is their block type: [`schur`] forms `V` and the Schur complement `S` in
//! one pass with the arithmetic of the general `compute_v` and `form_schur` (same numbers).
//! [`small_gradient`] is the general path's scalar-term
//! gradient (`∂ log|Ω|/∂θ_t = (2/θ_t)(q_t − tr((Ω⁻¹)_tt))`, see [`crate::gradient`]) without its
//! per-evaluation allocations, for a dense block of at most [`SMALL_BLOCK`] rows: `S⁻¹` of
//! the leading block is formed from an explicit triangular inverse (as the general path does
//! for small blocks in [`Pls::invert_leading`]) instead of faer's blocked kernels, whose set-up
//! dominates on a handful of rows. That inverse rounds differently from faer's, so the
//! gradient agrees with the general path to rounding (~1e-15 relative), not bit for bit.

// Index loops over the small blocks mirror the formulas, and keep the order of every sum
// visibly that of the general path (which these paths must reproduce).
#![allow(clippy::needless_range_loop)]

use crate::blocks::schur::scale_scalar_column;
use crate::blocks::small::TINY_BLOCK;
use crate::factorization::{General, PlsBlocks};
use crate::gradient::selinv::SCALAR_SHORTCUT_MIN_THETA;
use crate::gradient::{GradWork, residual_coef};
use crate::pls::Pls;

/// Largest leading block (`m`) for which the gradient's `S⁻¹` is formed by the explicit
/// small inverse.
const SMALL_BLOCK: usize = TINY_BLOCK;

/// Workspace of the scalar-term gradient, kept across evaluations.
#[derive(Debug, Default)]
pub(crate) struct ScalarWork {
    beta: Vec<f64>,
    u0: Vec<f64>,
    ur: Vec<f64>,
    br: Vec<f64>,
    zr_r: Vec<f64>,
    zr0: Vec<f64>,
    /// Leading `m × m` block of `L_S`, its inverse and `S⁻¹` (row-major, lower triangles).
    l: Vec<f64>,
    li: Vec<f64>,
    sinv: Vec<f64>,
    w: Vec<f64>,
}

/// The blocks of a model whose terms are all scalar, with a sparse `V`.
#[derive(Default)]
pub(crate) struct ScalarTerms {
    work: ScalarWork,
    general: GradWork,
}

impl PlsBlocks for ScalarTerms {
    fn name(&self) -> &'static str {
        "scalar terms"
    }

    /// [`schur`] on one thread; the general kernels when the dense block is large enough for
    /// two (the same numbers).
    fn form_schur(&mut self, pls: &mut Pls) {
        if small_layout(pls) {
            schur(pls);
        } else {
            General::form(pls);
        }
    }

    /// [`small_gradient`] where it applies.
    fn special_gradient(
        &mut self,
        pls: &Pls,
        m: usize,
        scale: f64,
        ntheta: usize,
    ) -> Option<Vec<f64>> {
        small_gradient(pls, &mut self.work, m, scale, ntheta)
    }

    fn general_work(&mut self) -> &mut GradWork {
        &mut self.general
    }
}

/// Whether every term is scalar and the dense block is formed on one thread with the sparse
/// `V` (the case of [`schur`]).
fn small_layout(pls: &Pls) -> bool {
    pls.k0 == 1 && pls.rest_scalar && pls.vdense.is_none() && !pls.two_threads(pls.nt)
}

/// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ` and `S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − VV'` (lower triangle) when
/// every term is scalar ([`small_layout`]), in one pass with the arithmetic of
/// [`Pls::compute_v`] and [`Pls::form_schur`]. Needs `Λ` and `L₀₀` of the current θ.
pub(crate) fn schur(pls: &mut Pls) {
    let nt = pls.nt;
    let nr = pls.nr;
    pls.set_rest_scale();
    for b in 0..nt {
        let dst = pls.s.col_as_slice_mut(b);
        scale_scalar_column(
            b,
            &pls.rest_scale,
            pls.a_rest.as_ref(),
            pls.a_rest_sparse.as_ref(),
            dst,
        );
        if b < nr {
            dst[b] += 1.0;
        }
    }
    let lam0 = pls.lambda[0][0];
    for l in 0..pls.l0 {
        let (start, end) = (pls.bptr[l], pls.bptr[l + 1]);
        let lblk = pls.l00[l];
        for idx in start..end {
            let r = pls.brow[idx] as usize;
            let t = pls.rest_rows[r].term;
            let v = if t == u32::MAX {
                pls.bval[idx]
            } else {
                pls.lambda[t as usize][0] * pls.bval[idx]
            };
            pls.vval[idx] = v * lam0 / lblk;
        }
        let rows = &pls.brow[start..end];
        let vals = &pls.vval[start..end];
        for (bi, &cb) in rows.iter().enumerate() {
            let x = vals[bi];
            let col = pls.s.col_as_slice_mut(cb as usize);
            for (&r, &v) in rows[bi..].iter().zip(&vals[bi..]) {
                col[r as usize] -= v * x;
            }
        }
    }
}

/// The gradient at the current factor when every term is scalar, every `|θ_t| ≥ 1e-3`
/// and the leading block has at most [`SMALL_BLOCK`] rows; `None` otherwise. `m`, `scale`
/// and `ntheta` are those of [`Pls::gradient_general`].
pub(crate) fn small_gradient(
    pls: &Pls,
    ws: &mut ScalarWork,
    m: usize,
    scale: f64,
    ntheta: usize,
) -> Option<Vec<f64>> {
    let nr = pls.nr;
    if !small_layout(pls)
        || m > SMALL_BLOCK
        || !pls.terms.iter().all(|t| t.k == 1)
        || !pls.lambda.iter().all(|l| {
            l.first()
                .is_some_and(|v| v.abs() >= SCALAR_SHORTCUT_MIN_THETA)
        })
    {
        return None;
    }
    let l0 = pls.l0;
    pls.solve_raw_into(&mut ws.beta, &mut ws.u0, &mut ws.ur);
    let (beta, u0, ur) = (&ws.beta, &ws.u0, &ws.ur);
    let lam0 = pls.lambda[0][0];

    // b = Λu of the later terms, then Z'r from the cross products (as gradient_current).
    ws.br.clear();
    ws.br
        .extend((0..nr).map(|r| 0.0 + pls.lambda[pls.rest_rows[r].term as usize][0] * ur[r]));
    let br = &ws.br;
    let yrow = pls.nt - 1;
    ws.zr_r.clear();
    ws.zr_r.extend((0..nr).map(|r| {
        let col = pls.a_rest.col_as_slice(r);
        let mut acc = col[yrow];
        for (a, be) in beta.iter().enumerate() {
            acc -= col[nr + a] * be;
        }
        for (c, bv) in col[..nr].iter().zip(br) {
            acc -= c * bv;
        }
        acc
    }));
    let zr_r = &mut ws.zr_r;
    ws.zr0.clear();
    ws.zr0.resize(l0, 0.0);
    for l in 0..l0 {
        let bl = 0.0 + lam0 * u0[l];
        let mut zr = 0.0 - pls.a00[l] * bl;
        for idx in pls.bptr[l]..pls.bptr[l + 1] {
            let row = pls.brow[idx] as usize;
            let bv = pls.bval[idx];
            let coef = residual_coef(row, nr, br, beta);
            zr -= coef * bv;
            if row < nr {
                zr_r[row] -= bv * bl;
            }
        }
        ws.zr0[l] = zr;
    }

    // S⁻¹ = L_S⁻ᵀL_S⁻¹ on the leading m × m block (lower triangle, row-major).
    ws.l.resize(m * m, 0.0);
    ws.li.resize(m * m, 0.0);
    ws.sinv.resize(m * m, 0.0);
    for j in 0..m {
        let col = pls.s.col_as_slice(j);
        for i in j..m {
            ws.l[i * m + j] = col[i];
        }
    }
    {
        // li holds L⁻¹ transposed (row j = column j of L⁻¹), so that both products below
        // run over contiguous rows.
        let (l, li) = (&ws.l, &mut ws.li);
        for j in 0..m {
            let row = &mut li[j * m..(j + 1) * m];
            row[j] = 1.0 / l[j * m + j];
            for i in j + 1..m {
                let (done, rest) = row.split_at_mut(i);
                let mut acc = 0.0;
                for (a, b) in l[i * m + j..i * m + i].iter().zip(&done[j..i]) {
                    acc -= a * b;
                }
                rest[0] = acc / l[i * m + i];
            }
        }
        // S⁻¹[a, b] = Σ_{i ≥ a} L⁻¹[i, a] L⁻¹[i, b].
        for a in 0..m {
            let ra = &li[a * m + a..(a + 1) * m];
            for b in 0..=a {
                let rb = &li[b * m + a..(b + 1) * m];
                let mut acc = 0.0;
                for (x, y) in ra.iter().zip(rb) {
                    acc += x * y;
                }
                ws.sinv[a * m + b] = acc;
            }
        }
    }
    let sinv = &ws.sinv;

    // First term: tr((Ω⁻¹)₀₀) = Σ_j (1/L₀₀,j² + w_j'S⁻¹w_j) on the pattern of w_j.
    let mut tr0 = 0.0;
    for l in 0..l0 {
        let dl = pls.l00[l];
        let start = pls.bptr[l];
        let rows = &pls.brow[start..pls.bptr[l + 1]];
        let na = rows.partition_point(|&r| (r as usize) < m);
        ws.w.clear();
        ws.w.extend(pls.vval[start..start + na].iter().map(|v| v / dl));
        let w = &ws.w;
        let mut acc = 0.0;
        for (j, &rj) in rows[..na].iter().enumerate() {
            let rj = rj as usize;
            let mut cross = 0.0;
            for (&ri, wi) in rows[j + 1..na].iter().zip(&w[j + 1..]) {
                cross += sinv[ri as usize * m + rj] * wi;
            }
            acc += w[j] * (w[j] * sinv[rj * m + rj] + 2.0 * cross);
        }
        tr0 += 1.0 / (dl * dl) + acc;
    }
    let r0: f64 = ws.zr0.iter().zip(u0).map(|(z, u)| z * u).sum();
    let mut grad = vec![0.0; ntheta];
    for (t, shape) in pls.terms.iter().enumerate() {
        let theta = pls.lambda[t][0];
        let (q, tr, rs) = match shape.rest_offset {
            None => (l0 as f64, tr0, r0),
            Some(off) => {
                let mut tr = 0.0;
                let mut rs = 0.0;
                for g in off..off + shape.nlevels {
                    tr += sinv[g * m + g];
                    rs += zr_r[g] * ur[g];
                }
                (shape.nlevels as f64, tr, rs)
            }
        };
        if let Some(gv) = grad.get_mut(shape.theta_offset) {
            *gv = 2.0 * (q - tr) / theta + scale * rs;
        }
    }
    Some(grad)
}
