//! The exact gradient of the profiled criterion with respect to θ.
//!
//! # Notation
//!
//! `Λ̃ = diag(Λ, I_p)`, `G̃ = [Z X]'[Z X]` (weighted, the `y` row and column left out) and
//! `Ω(θ) = Λ̃'G̃Λ̃ + diag(I_q, 0)`, the matrix `M` of the engine without its `y` row and column;
//! `A = Λ'Z'ZΛ + I_q` is its leading `q × q` block. Up to constants,
//!
//! ```text
//!   ML:    d(θ)   = log|A| + n log r²(θ)
//!   REML:  d_R(θ) = log|Ω| + (n − p) log r²(θ).
//! ```
//!
//! # Log-determinant
//!
//! `θ_k`, the element (row `a`, column `b`) of term `t`'s lower-triangular template, enters
//! `Λ` once per level `j` of that term: `Λ_k = ∂Λ/∂θ_k` has a 1 at `(b_j + a, b_j + b)`, with
//! `b_j` the first column of level `j`. As `∂Ω/∂θ_k = Λ̃_k'G̃Λ̃ + Λ̃'G̃Λ̃_k`,
//!
//! ```text
//!   ∂ log|Ω| / ∂θ_k = 2 tr(Ω⁻¹Λ̃'G̃ Λ̃_k) = 2 Σ_j P[b_j + b, b_j + a],   P = Ω⁻¹Λ̃'G̃,
//! ```
//!
//! so only the diagonal (term, level) blocks of `P` are needed, and since `G̃` is sparse they
//! need `Ω⁻¹` only on the block pattern of `G̃` (a selected inverse). With the engine's split
//! into the first term (index 0: `Ω₀₀ = L₀₀L₀₀'` block-diagonal) and the rest (`r`: the later
//! terms and `X`; `Ω_r0 = V L₀₀'`, Schur complement `S = Ω_rr − VV' = L_S L_S'`):
//!
//! ```text
//!   (Ω⁻¹)_rr = S⁻¹,   (Ω⁻¹)_r0 = −S⁻¹W,   (Ω⁻¹)_00 = L₀₀⁻ᵀL₀₀⁻¹ + W'S⁻¹W,   W = V L₀₀⁻¹.
//! ```
//!
//! `S⁻¹` is formed densely from the leading part of `L_S` (the part before `y`, which is last).
//! `W` has the sparsity of `[Z_r X]'Z₀`, and `S⁻¹W` is needed only on that pattern:
//! `Y_j = (S⁻¹W_j)[rows of level j]`, computed level by level. With `B_j` the rows of
//! `[Z_r X]'Z₀` for level `j`, `H₀₀,j = Λ₀'Z₀'Z₀|_j` and `H_r0,j = Λ̃_r'B_j`, the blocks are
//!
//! ```text
//!   first term, level j:  P_j = (L₀₀⁻ᵀL₀₀⁻¹ + W_j'Y_j) H₀₀,j − Y_j'H_r0,j
//!   later term, group R:  P_R = S⁻¹[R, ·] (Λ̃_r'G̃_rr)[·, R] − Σ_i Y_i[R, ·] (B_i[R, ·] Λ₀)'.
//! ```
//!
//! For ML the same formulas hold with `A` in place of `Ω`: the rest block is the later terms
//! only (the leading `nr × nr` part of `L_S`) and the `X` rows are dropped everywhere.
//!
//! # Residual
//!
//! By the envelope theorem (β and u at their conditional optimum, `r = y − Xβ − ZΛu`),
//!
//! ```text
//!   ∂r²/∂θ_k = −2 r'ZΛ_k u = −2 Σ_j (Z'r)[b_j + a] u[b_j + b],
//! ```
//!
//! where `Z'r = Z'y − Z'Xβ − Z'ZΛu` comes from the stored cross products (no pass over the
//! observations) and β, u from one back substitution with the factor. Altogether
//!
//! ```text
//!   ∂d/∂θ_k = ∂ log-det/∂θ_k + (n or n − p) · (∂r²/∂θ_k) / r².
//! ```
//!
//! The cost is a dense inverse of the leading block of `L_S` (about two Cholesky
//! factorizations of it) plus one pass over the sparse off-diagonal pattern per level
//! (`Σ_j |pattern_j|² k₀`, the cost of the downdate `VV'`).
//!
//! # Code
//!
//! This file is the general gradient on the blocked factor ([`Pls::gradient_general`]): β, u,
//! `Z'r` and the assembly of the two parts. The passes that read the selected inverse are
//! kernels: `S⁻¹`, the later terms' blocks and the all-scalar shortcut in
//! [`crate::gradient::selinv`], the first term's levels in [`crate::gradient::first_term`]. The
//! block types of [`crate::factorization`] call it, or their own kernels for small models.

pub(crate) mod first_term;
pub(crate) mod selinv;
mod vcov;

use faer::Mat;
use faer::dyn_stack::MemBuffer;

use crate::gradient::first_term::{DENSE_PASS_MAX, DenseWork};
use crate::pls::Pls;

/// Entries above which `DenseWork::c` is released after each gradient rather than kept (the
/// first-term blocks are bounded by [`DENSE_PASS_MAX`]; `C` grows with the dense block, 110 MB on
/// ml1m, where the engine's own `S` is the memory to keep).
const KEEP_MAX: usize = 1 << 22;

/// Workspace of the general gradient, kept between evaluations: `S⁻¹` on the leading block,
/// `L_S⁻¹` (scalar-term shortcut), the dense inverse's scratch, and the dense first-term pass's
/// blocks.
pub(crate) struct GradWork {
    sinv: Mat<f64>,
    linv: Mat<f64>,
    mem: Option<MemBuffer>,
    dense: DenseWork,
}

impl Default for GradWork {
    fn default() -> Self {
        Self {
            sinv: Mat::zeros(0, 0),
            linv: Mat::zeros(0, 0),
            mem: None,
            dense: DenseWork::default(),
        }
    }
}

/// The coefficient of row `row` of the stacked `[b_r; β; y]` in the residual
/// `r = y − Xβ − Z_r b_r − …`, as the gradient's `Z'r` sums read it: `b_r[row]` for a later
/// random effect (`row < nr`), `β[row − nr]` for a column of `X`, and `−1` for `y`.
#[inline(always)]
pub(crate) fn residual_coef(row: usize, nr: usize, br: &[f64], beta: &[f64]) -> f64 {
    if row < nr {
        br[row]
    } else {
        beta.get(row - nr).copied().unwrap_or(-1.0)
    }
}

impl Pls {
    /// The gradient at the current factor: `m` rows of the rest block enter `Ω` (`nr + p` for
    /// REML, `nr` for ML), `scale = −2 (n − p or n) / r²` multiplies `∂r²/∂θ`, `ntheta` is the
    /// length of θ.
    pub(crate) fn gradient_general(
        &self,
        work: &mut GradWork,
        m: usize,
        scale: f64,
        ntheta: usize,
    ) -> Vec<f64> {
        let (nr, k0, l0) = (self.nr, self.k0, self.l0);
        let (beta, u0, ur) = self.solve_raw();
        let (zr0, zr_r) = self.residual_cross(&beta, &u0, &ur);

        // All-scalar terms: ∂ log|Ω|/∂θ_t = (2/θ_t)(q_t − tr((Ω⁻¹)_tt)).
        if self.scalar_terms_away_from_zero() {
            let tr0 = self.scalar_terms_inverse(m, &mut work.sinv, &mut work.linv);
            let sinv = &work.sinv;
            let r0: f64 = zr0.iter().zip(&u0).map(|(z, u)| z * u).sum();
            let mut grad = vec![0.0; ntheta];
            for (t, shape) in self.terms.iter().enumerate() {
                let theta = self.lambda[t].first().copied().unwrap_or(1.0);
                let (q, tr, rs) = match shape.rest_offset {
                    None => (self.l0 as f64, tr0, r0),
                    Some(off) => {
                        let mut tr = 0.0;
                        let mut rs = 0.0;
                        for g in off..off + shape.nlevels {
                            tr += sinv[(g, g)];
                            rs += zr_r[g] * ur[g];
                        }
                        (shape.nlevels as f64, tr, rs)
                    }
                };
                if let Some(gv) = grad.get_mut(shape.theta_offset) {
                    *gv = 2.0 * (q - tr) / theta + scale * rs;
                }
            }
            return grad;
        }

        // Otherwise the selected inverse: S⁻¹, then Σ_j P_tj per term (k × k, row-major) and
        // Σ_j (Z'r)[b_j + a] u[b_j + b].
        self.invert_leading(m, &mut work.sinv, &mut work.mem);
        let mut psum: Vec<Vec<f64>> = self.terms.iter().map(|t| vec![0.0; t.k * t.k]).collect();
        let mut rsum: Vec<Vec<f64>> = psum.clone();
        let q0 = l0 * k0;
        if let Some(vd) = self
            .vdense
            .as_ref()
            .filter(|_| m > 0 && m * q0 <= DENSE_PASS_MAX)
        {
            self.first_term_dense(&work.sinv, m, vd, &mut psum, &mut work.dense);
            for (z, u) in zr0.chunks_exact(k0).zip(u0.chunks_exact(k0)) {
                for (row, &za) in rsum[0].chunks_exact_mut(k0).zip(z) {
                    for (o, ub) in row.iter_mut().zip(u) {
                        *o += za * ub;
                    }
                }
            }
        } else {
            self.first_term_sparse(&work.sinv, m, &zr0, &u0, &mut psum, &mut rsum);
        }
        if nr > 0 {
            let c = &mut work.dense.c;
            self.later_terms(&work.sinv, m, &zr_r, &ur, &mut psum, &mut rsum, c);
        }
        if work.dense.c.nrows() * work.dense.c.ncols() > KEEP_MAX {
            work.dense.c = Mat::new();
        }

        // ∂d/∂θ for θ (row a, column b) of term t.
        let mut grad = vec![0.0; ntheta];
        for (t, shape) in self.terms.iter().enumerate() {
            let k = shape.k;
            let mut idx = shape.theta_offset;
            for b in 0..k {
                for a in b..k {
                    if let Some(gv) = grad.get_mut(idx) {
                        *gv = 2.0 * psum[t][b * k + a] + scale * rsum[t][a * k + b];
                    }
                    idx += 1;
                }
            }
        }
        grad
    }

    /// `Z'r = Z'y − Z'Xβ − Z'ZΛu` from the stored cross products: the first term's (`k₀ℓ₀`)
    /// and the later terms' (`nr`).
    fn residual_cross(&self, beta: &[f64], u0: &[f64], ur: &[f64]) -> (Vec<f64>, Vec<f64>) {
        self.cross_with_z(1.0, beta, u0, ur)
    }

    /// `Z'(w y − Xβ − ZΛu)` from the stored cross products, as [`Self::residual_cross`]
    /// (which is `w = 1`): the first term's (`k₀ℓ₀`) and the later terms' (`nr`).
    fn cross_with_z(
        &self,
        y_weight: f64,
        beta: &[f64],
        u0: &[f64],
        ur: &[f64],
    ) -> (Vec<f64>, Vec<f64>) {
        let (nr, k0, l0) = (self.nr, self.k0, self.l0);
        let p = self.p;
        // b = Λu.
        let b0 = crate::summaries::term_b(k0, l0, &self.lambda[0], u0);
        let mut br = vec![0.0; nr];
        for (r, v) in br.iter_mut().enumerate() {
            let rr = self.rest_rows[r];
            let gs = rr.group_start as usize;
            let t = rr.term as usize;
            let k = self.terms[t].k;
            let lam = &self.lambda[t];
            let comp = r - gs;
            let mut acc = 0.0;
            for c in 0..=comp {
                acc += lam[comp * k + c] * ur[gs + c];
            }
            *v = acc;
        }
        // Later terms (zr_r), then the first term (zr0), which also completes zr_r.
        let yrow = self.nt - 1;
        let mut zr_r = vec![0.0; nr];
        for (r, z) in zr_r.iter_mut().enumerate() {
            let col = self.a_rest.col_as_slice(r);
            let mut acc = y_weight * col[yrow];
            for (a, be) in beta.iter().enumerate() {
                acc -= col[nr + a] * be;
            }
            for (c, bv) in col[..nr].iter().zip(&br) {
                acc -= c * bv;
            }
            *z = acc;
        }
        let mut zr0 = vec![0.0; l0 * k0];
        for l in 0..l0 {
            let a00 = &self.a00[l * k0 * k0..(l + 1) * k0 * k0];
            let bl = &b0[l * k0..(l + 1) * k0];
            let zr = &mut zr0[l * k0..(l + 1) * k0];
            for c in 0..k0 {
                let mut acc = 0.0;
                for c2 in 0..k0 {
                    acc -= a00[c * k0 + c2] * bl[c2];
                }
                zr[c] = acc;
            }
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let row = self.brow[idx] as usize;
                let bv = &self.bval[idx * k0..(idx + 1) * k0];
                let coef = if row < nr + p {
                    residual_coef(row, nr, &br, beta)
                } else {
                    -y_weight
                };
                for c in 0..k0 {
                    zr[c] -= coef * bv[c];
                }
                if row < nr {
                    let dot: f64 = bv.iter().zip(bl).map(|(x, y)| x * y).sum();
                    zr_r[row] -= dot;
                }
            }
        }
        (zr0, zr_r)
    }
}

#[cfg(test)]
mod tests;
