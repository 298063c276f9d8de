//! The Schur block and the gradient of the profiled criterion for a model with a single
//! random-effects term whose blocks are tiny (`k₀ ≤ 3`, e.g. sleepstudy's `(Days | Subject)`).
//!
//! With one term there are no later random effects (`n_r = 0`): the dense block holds only
//! `X` and `y`, and the rest block of the gradient ([`super::gradient`]) is `X` alone (REML)
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
use crate::gradient::SCALAR_SHORTCUT_MIN_THETA;
use crate::objective::{FactorSummary, ProfiledDeviance};

/// Workspace of [`ProfiledDeviance::single_term_gradient`], kept across evaluations.
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

impl ProfiledDeviance {
    /// The gradient at the current factor by a fast path for small models: one term with
    /// `k₀ ≤ 3` ([`Self::single_term_gradient`], the general path's numbers) or small models
    /// whose terms are all scalar (`scalar.rs`, equal to rounding); `None` when neither
    /// applies and the general path runs.
    pub(crate) fn small_model_gradient(
        &mut self,
        f: &FactorSummary,
        ntheta: usize,
    ) -> Option<Vec<f64>> {
        if !self.small_paths {
            return None;
        }
        self.single_term_gradient(f, ntheta)
            .or_else(|| self.scalar_terms_small_gradient(f, ntheta))
    }

    /// The gradient at the current factor when the model has one random-effects term with
    /// `k₀ ≤ 3` (and the general path would run on one thread without the dense `V`);
    /// `None` otherwise. The numbers are those of the general path.
    fn single_term_gradient(&mut self, f: &FactorSummary, ntheta: usize) -> Option<Vec<f64>> {
        let k0 = self.k0;
        // The dense block is X alone (REML) or empty (ML): at most TINY_BLOCK rows, where the
        // general path also inverts by the hand-written kernel.
        let m = if self.reml { self.p } else { 0 };
        if self.nr != 0
            || m > TINY_BLOCK
            || self.vdense.is_some()
            || self.brow.len() * k0 * k0 >= self.gradient_chunk_work
        {
            return None;
        }
        if k0 == 1
            && self
                .lambda
                .first()
                .and_then(|l| l.first())
                .is_some_and(|v| v.abs() >= SCALAR_SHORTCUT_MIN_THETA)
        {
            return None;
        }
        match k0 {
            1 => Some(self.single_term_gradient_k::<1>(f, ntheta)),
            2 => Some(self.single_term_gradient_k::<2>(f, ntheta)),
            3 => Some(self.single_term_gradient_k::<3>(f, ntheta)),
            _ => None,
        }
    }

    fn single_term_gradient_k<const K: usize>(
        &mut self,
        f: &FactorSummary,
        ntheta: usize,
    ) -> Vec<f64> {
        let p = self.p;
        let nt = self.nt;
        let l0 = self.l0;
        let m = if self.reml { p } else { 0 };
        let kk = K * K;
        let mut ws = std::mem::take(&mut self.single);

        // β: L_XX' β = c_X (the dense block is X then y).
        let s = self.s.as_ref();
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
            row.copy_from_slice(&self.lambda[0][r * K..(r + 1) * K]);
        }
        let maxrows = (0..l0)
            .map(|l| self.bptr[l + 1] - self.bptr[l])
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
            let (start, end) = (self.bptr[l], self.bptr[l + 1]);
            let rows = &self.brow[start..end];
            let vals = &self.vval[start * K..end * K];
            let bvals = &self.bval[start * K..end * K];
            let mut lblk = [[0.0; K]; K];
            let mut a00 = [[0.0; K]; K];
            for r in 0..K {
                lblk[r].copy_from_slice(&self.l00[l * kk + r * K..l * kk + (r + 1) * K]);
                a00[r].copy_from_slice(&self.a00[l * kk + r * K..l * kk + (r + 1) * K]);
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
        self.single = ws;

        let nfac = if self.reml {
            (self.n - self.p) as f64
        } else {
            self.n as f64
        };
        let scale = -2.0 * nfac / f.pwrss;
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
}

impl ProfiledDeviance {
    /// `V = A_r0 Λ₀ L₀₀⁻ᵀ` and `S = A_rr − VV'` (lower triangle) when the model has one
    /// random-effects term with `k₀ ≤ 3` and the sparse `V` (the dense block is then `X` and
    /// `y` only): the work of [`Self::compute_v`] and [`Self::form_schur`] in one pass over the
    /// levels, with the same arithmetic in the same order. Returns `false` (nothing done) for
    /// other models. Needs `Λ` and `L₀₀` of the current θ.
    pub(crate) fn single_term_schur(&mut self) -> bool {
        if self.nr != 0 || self.vdense.is_some() || self.two_threads(self.nt) {
            return false;
        }
        match self.k0 {
            1 => self.single_term_schur_k::<1>(),
            2 => self.single_term_schur_k::<2>(),
            3 => self.single_term_schur_k::<3>(),
            _ => return false,
        }
        true
    }

    fn single_term_schur_k<const K: usize>(&mut self) {
        let nt = self.nt;
        let kk = K * K;
        // S = A_rr on the lower triangle (Λ̃_r is the identity on the X and y rows).
        for b in 0..nt {
            let src = self.a_rest.col_as_slice(b);
            let dst = self.s.col_as_slice_mut(b);
            dst[b..nt].copy_from_slice(&src[b..nt]);
        }
        for l in 0..self.l0 {
            let (start, end) = (self.bptr[l], self.bptr[l + 1]);
            let lblock = &self.l00[l * kk..(l + 1) * kk];
            // v ← L₀₀⁻¹ (b Λ₀)' = b M (M = Λ₀L₀₀⁻ᵀ) for every row of the level's pattern, as
            // `compute_v` does it.
            let (bv, vv) = (
                &self.bval[start * K..end * K],
                &mut self.vval[start * K..end * K],
            );
            if K == 1 {
                for (v, b) in vv.iter_mut().zip(bv) {
                    *v = b * self.lambda[0][0] / lblock[0];
                }
            } else {
                let (mut scratch, mut m) = ([0.0; 9], [0.0; 9]);
                level_mix_into(&self.lambda[0], lblock, K, &mut scratch[..kk], &mut m[..kk]);
                vv.copy_from_slice(bv);
                rows_times_into(vv, &m[..kk], K, &mut scratch);
            }
            // S −= V_l V_l' on the lower triangle.
            let rows = &self.brow[start..end];
            let vals = &self.vval[start * K..end * K];
            for (bi, &cb) in rows.iter().enumerate() {
                let vb = &vals[bi * K..(bi + 1) * K];
                let col = self.s.col_as_slice_mut(cb as usize);
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testing::design_with;
    use multilevel_design::Design;

    /// The criterion, gradient, β and u by the fast paths and by the general path, for REML
    /// and ML. `exact`: the numbers must be the same bit for bit, else to 1e-12 relative.
    /// `fast_gradient`: a fast gradient path must apply (else only the fast Schur block does).
    fn compare(d: &Design, thetas: &[&[f64]], exact: bool, fast_gradient: bool) {
        for reml in [true, false] {
            let mut fast = ProfiledDeviance::new(d, reml);
            let mut general = ProfiledDeviance::new(d, reml);
            general.small_paths = false;
            for theta in thetas {
                let (f1, g1) = fast.gradient(theta);
                let (f2, g2) = general.gradient(theta);
                let (b1, u1) = fast.solve();
                let (b2, u2) = general.solve();
                let close = |a: f64, b: f64| {
                    if exact {
                        a == b
                    } else {
                        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
                    }
                };
                assert_eq!(f1, f2, "criterion, reml {reml}, θ {theta:?}");
                assert!(
                    g1.iter().zip(&g2).all(|(a, b)| close(*a, *b)),
                    "gradient, reml {reml}, θ {theta:?}: {g1:?} vs {g2:?}"
                );
                assert_eq!(b1, b2);
                assert_eq!(u1, u2);
                assert_eq!(fast.objective(theta), general.objective(theta));
                // The comparison is of two different paths: the fast one did apply here.
                let fs = fast.factor(theta).expect("factor");
                assert_eq!(
                    fast.small_model_gradient(&fs, theta.len()).is_some(),
                    fast_gradient,
                    "fast gradient path for reml {reml}, θ {theta:?}"
                );
            }
        }
    }

    #[test]
    fn single_term_path_equals_the_general_path() {
        for weights in [false, true] {
            let d = design_with(weights, 90, &[(9, 2)]);
            compare(
                &d,
                &[&[0.6, 0.1, 0.3], &[1.2, -0.4, 0.0], &[0.0, 0.0, 0.5]],
                true,
                true,
            );
            // k₀ = 3: the k = 2 design with a third column (1, z, z²/4 + a wobble).
            let mut d = design_with(weights, 90, &[(9, 2)]);
            let t = &mut d.terms[0];
            t.z =
                t.z.chunks_exact(2)
                    .enumerate()
                    .flat_map(|(i, r)| [r[0], r[1], 0.25 * r[1] * r[1] + (i % 4) as f64 * 0.3])
                    .collect();
            t.k = 3;
            t.col_names.push("c2".into());
            compare(&d, &[&[0.6, 0.1, 0.3, 0.8, -0.2, 0.4]], true, true);
            // A scalar term near 0 (the scalar identity is not used there).
            let d = design_with(weights, 80, &[(9, 1)]);
            compare(&d, &[&[5e-4], &[0.0]], true, true);
        }
    }

    #[test]
    fn scalar_terms_path_equals_the_general_path() {
        for weights in [false, true] {
            let d = design_with(weights, 80, &[(9, 1)]);
            compare(&d, &[&[0.6], &[-1.3]], false, true);
            let d = design_with(weights, 150, &[(12, 1), (7, 1), (5, 1)]);
            compare(&d, &[&[0.6, 1.4, 0.2], &[-0.6, 1.4, -0.2]], false, true);
            // One θ near 0: the general formula (through the fast Schur complement).
            compare(&d, &[&[0.6, 5e-4, 0.2]], false, false);
        }
    }
}
