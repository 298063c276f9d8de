//! Small models whose random-effects terms are all scalar (`(1 | g)`, `(0 + x | g)`, nested
//! or crossed: Penicillin, Pastes, sleepstudy's `(Days || Subject)`).
//!
//! [`ProfiledDeviance::scalar_terms_schur`] forms `V` and the Schur complement `S` in one pass
//! with the arithmetic of the general `compute_v` and `form_schur` (same numbers).
//! [`ProfiledDeviance::scalar_terms_small_gradient`] is the general path's scalar-term
//! gradient (`∂ log|Ω|/∂θ_t = (2/θ_t)(q_t − tr((Ω⁻¹)_tt))`, see `gradient.rs`) without its
//! per-evaluation allocations, for a dense block of at most [`SMALL_BLOCK`] rows: `S⁻¹` of
//! the leading block is formed from an explicit triangular inverse (as the general path does
//! for small blocks in `invert_leading`) instead of faer's blocked kernels, whose set-up
//! dominates on a handful of rows. That inverse rounds differently from faer's, so the
//! gradient agrees with the general path to rounding (~1e-15 relative), not bit for bit.

// Index loops over the small blocks mirror the formulas, and keep the order of every sum
// visibly that of the general path (which these paths must reproduce).
#![allow(clippy::needless_range_loop)]

use crate::blocks::schur::scale_scalar_column;
use crate::blocks::small::TINY_BLOCK;
use crate::objective::{FactorSummary, ProfiledDeviance};

/// Largest leading block (`m`) for which the gradient's `S⁻¹` is formed by the explicit
/// small inverse.
const SMALL_BLOCK: usize = TINY_BLOCK;

use crate::gradient::{SCALAR_SHORTCUT_MIN_THETA, residual_coef};

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

impl ProfiledDeviance {
    /// Whether every term is scalar and the dense block is formed on one thread with the
    /// sparse `V` (the case of [`Self::scalar_terms_schur`]).
    fn scalar_small_layout(&self) -> bool {
        self.k0 == 1 && self.rest_scalar && self.vdense.is_none() && !self.two_threads(self.nt)
    }

    /// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ` and `S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − VV'` (lower triangle) when
    /// every term is scalar, in one pass with the arithmetic of [`Self::compute_v`] and
    /// [`Self::form_schur`]. Returns `false` (nothing done) for other models. Needs `Λ` and
    /// `L₀₀` of the current θ.
    pub(crate) fn scalar_terms_schur(&mut self) -> bool {
        if !self.scalar_small_layout() {
            return false;
        }
        let nt = self.nt;
        let nr = self.nr;
        self.set_rest_scale();
        for b in 0..nt {
            let dst = self.s.col_as_slice_mut(b);
            scale_scalar_column(
                b,
                &self.rest_scale,
                self.a_rest.as_ref(),
                self.a_rest_sparse.as_ref(),
                dst,
            );
            if b < nr {
                dst[b] += 1.0;
            }
        }
        let lam0 = self.lambda[0][0];
        for l in 0..self.l0 {
            let (start, end) = (self.bptr[l], self.bptr[l + 1]);
            let lblk = self.l00[l];
            for idx in start..end {
                let r = self.brow[idx] as usize;
                let t = self.rest_rows[r].term;
                let v = if t == u32::MAX {
                    self.bval[idx]
                } else {
                    self.lambda[t as usize][0] * self.bval[idx]
                };
                self.vval[idx] = v * lam0 / lblk;
            }
            let rows = &self.brow[start..end];
            let vals = &self.vval[start..end];
            for (bi, &cb) in rows.iter().enumerate() {
                let x = vals[bi];
                let col = self.s.col_as_slice_mut(cb as usize);
                for (&r, &v) in rows[bi..].iter().zip(&vals[bi..]) {
                    col[r as usize] -= v * x;
                }
            }
        }
        true
    }

    /// The gradient at the current factor when every term is scalar, every `|θ_t| ≥ 1e-3`
    /// and the leading block has at most [`SMALL_BLOCK`] rows; `None` otherwise.
    pub(crate) fn scalar_terms_small_gradient(
        &mut self,
        f: &FactorSummary,
        ntheta: usize,
    ) -> Option<Vec<f64>> {
        let nr = self.nr;
        let p = self.p;
        let m = if self.reml { nr + p } else { nr };
        if !self.scalar_small_layout()
            || m > SMALL_BLOCK
            || !self.terms.iter().all(|t| t.k == 1)
            || !self.lambda.iter().all(|l| {
                l.first()
                    .is_some_and(|v| v.abs() >= SCALAR_SHORTCUT_MIN_THETA)
            })
        {
            return None;
        }
        let l0 = self.l0;
        let mut ws = std::mem::take(&mut self.scalar);
        self.solve_raw_into(&mut ws.beta, &mut ws.u0, &mut ws.ur);
        let (beta, u0, ur) = (&ws.beta, &ws.u0, &ws.ur);
        let lam0 = self.lambda[0][0];

        // b = Λu of the later terms, then Z'r from the cross products (as gradient_current).
        ws.br.clear();
        ws.br
            .extend((0..nr).map(|r| 0.0 + self.lambda[self.rest_rows[r].term as usize][0] * ur[r]));
        let br = &ws.br;
        let yrow = self.nt - 1;
        ws.zr_r.clear();
        ws.zr_r.extend((0..nr).map(|r| {
            let col = self.a_rest.col_as_slice(r);
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
            let mut zr = 0.0 - self.a00[l] * bl;
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let row = self.brow[idx] as usize;
                let bv = self.bval[idx];
                let coef = residual_coef(row, nr, br, beta);
                zr -= coef * bv;
                if row < nr {
                    zr_r[row] -= bv * bl;
                }
            }
            ws.zr0[l] = zr;
        }
        let nfac = if self.reml {
            (self.n - self.p) as f64
        } else {
            self.n as f64
        };
        let scale = -2.0 * nfac / f.pwrss;

        // S⁻¹ = L_S⁻ᵀL_S⁻¹ on the leading m × m block (lower triangle, row-major).
        ws.l.resize(m * m, 0.0);
        ws.li.resize(m * m, 0.0);
        ws.sinv.resize(m * m, 0.0);
        for j in 0..m {
            let col = self.s.col_as_slice(j);
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
            let dl = self.l00[l];
            let start = self.bptr[l];
            let rows = &self.brow[start..self.bptr[l + 1]];
            let na = rows.partition_point(|&r| (r as usize) < m);
            ws.w.clear();
            ws.w.extend(self.vval[start..start + na].iter().map(|v| v / dl));
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
        for (t, shape) in self.terms.iter().enumerate() {
            let theta = self.lambda[t][0];
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
        self.scalar = ws;
        Some(grad)
    }
}
