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

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::blocks::dense;
use crate::blocks::small::{
    TINY_BLOCK, lower_t_mul, small_lower_inverse, spd_inverse_from_lower_inverse,
};
use crate::objective::{FactorSummary, ProfiledDeviance};

/// Dense matrices of the first-term and later-term passes, kept between gradient evaluations
/// (on kb07_1 they are five 265 × 448 blocks per gradient: allocating and zeroing fresh ones
/// cost about a tenth of the gradient in page faults).
pub(crate) struct DenseWork {
    /// `B = [Z_r X]'Z₀` on its pattern (`m × k₀ℓ₀`).
    bd: Mat<f64>,
    /// The `m` for which `bd` holds `B` (`None` before the first pass).
    bd_rows: Option<usize>,
    /// `H = Λ̃_r'B`.
    hd: Mat<f64>,
    /// `BΛ₀`.
    bl: Mat<f64>,
    /// `W = V L₀₀⁻¹`.
    wd: Mat<f64>,
    /// `Y = S⁻¹W`.
    yd: Mat<f64>,
    /// `L₀₀⁻¹` per level (`k₀²` each, row-major).
    linv: Vec<f64>,
    /// `C = Λ̃_r'G̃_rr` (`m × nr`).
    c: Mat<f64>,
}

impl Default for DenseWork {
    fn default() -> Self {
        Self {
            bd: Mat::new(),
            bd_rows: None,
            hd: Mat::new(),
            bl: Mat::new(),
            wd: Mat::new(),
            yd: Mat::new(),
            linv: Vec::new(),
            c: Mat::new(),
        }
    }
}

/// Multiply–adds of the dense first-term pass's per-level products (`2 m k₀ · k₀ℓ₀`) from
/// which its level loop is cut into two halves (kb07_1: 1.8 million in 56 levels, ~100 small
/// products).
const LEVEL_SPLIT_MIN: usize = 1 << 19;

/// Entries above which `DenseWork::c` is released after each gradient rather than kept (the
/// first-term blocks are bounded by [`DENSE_PASS_MAX`]; `C` grows with the dense block, 110 MB on
/// ml1m, where the engine's own `S` is the memory to keep).
const KEEP_MAX: usize = 1 << 22;

impl ProfiledDeviance {
    /// The criterion (REML or ML deviance, as [`Self::objective`]) and its exact gradient with
    /// respect to θ, from one factorization. Counts as one evaluation. When `M(θ)` cannot be
    /// factored the criterion is `+∞` and the gradient NaN.
    ///
    /// With `Ω = Λ̃'G̃Λ̃ + diag(I_q, 0)` (`Λ̃ = diag(Λ, I_p)`, `G̃ = [Z X]'[Z X]`) and `Λ_k = ∂Λ/∂θ_k`
    /// (a 1 at `(b_j + a, b_j + b)` for every level `j` of the term whose template element
    /// `(a, b)` is `θ_k`):
    ///
    /// ```text
    ///   ∂d_R/∂θ_k = 2 Σ_j (Ω⁻¹Λ̃'G̃)[b_j + b, b_j + a] − 2 (n − p) Σ_j (Z'r)[b_j + a] u[b_j + b] / r²
    /// ```
    ///
    /// (REML; for ML `A = Λ'Z'ZΛ + I` replaces `Ω` and `n` replaces `n − p`). Only the diagonal
    /// (term, level) blocks of `Ω⁻¹Λ̃'G̃` are formed, from a selected inverse built on the
    /// blocked factor; `Z'r` comes from the stored cross products. The derivation is in the
    /// source (`gradient.rs`). The cost is about two to three objective evaluations.
    ///
    /// At a boundary (a diagonal θ at 0) the result is the one-sided derivative into the
    /// feasible region (the criterion is smooth in θ there as long as `M` is factorable).
    pub fn gradient(&mut self, theta: &[f64]) -> (f64, Vec<f64>) {
        self.evaluations += 1;
        self.gradient_evaluations += 1;
        let Some(f) = self.factor(theta) else {
            return (f64::INFINITY, vec![f64::NAN; theta.len()]);
        };
        let obj = self.criterion(&f);
        if let Some(g) = self.small_model_gradient(&f, theta.len()) {
            return (obj, g);
        }
        let g = self.gradient_current(&f, theta.len());
        (obj, g)
    }

    /// Number of gradient evaluations since the structure was built.
    pub fn gradient_evaluations(&self) -> usize {
        self.gradient_evaluations
    }

    /// `S⁻¹` of the leading `m × m` part of the current `L_S` into `self.sinv` (both
    /// triangles).
    fn invert_leading(&mut self, m: usize) {
        if self.sinv.nrows() != m {
            self.sinv = Mat::zeros(m, m);
        }
        if m == 0 {
            return;
        }
        if m <= TINY_BLOCK {
            let mut l = vec![0.0; m * m];
            for i in 0..m {
                for j in 0..=i {
                    l[i * m + j] = self.s[(i, j)];
                }
            }
            let li = small_lower_inverse(&l, m);
            let sinv = &mut self.sinv;
            spd_inverse_from_lower_inverse(&li, m, |a, b, v| {
                sinv[(a, b)] = v;
                sinv[(b, a)] = v;
            });
            return;
        }
        let req = faer::linalg::cholesky::llt::inverse::inverse_scratch::<f64>(m, self.par);
        let mem = self.grad_mem.get_or_insert_with(|| MemBuffer::new(req));
        if mem.len() < req.unaligned_bytes_required() + 256 {
            *mem = MemBuffer::new(req);
        }
        let stack = MemStack::new(mem);
        faer::linalg::cholesky::llt::inverse::inverse(
            self.sinv.as_mut(),
            self.s.as_ref().submatrix(0, 0, m, m),
            self.par,
            stack,
        );
        for b in 0..m {
            for a in b + 1..m {
                let v = self.sinv[(a, b)];
                self.sinv[(b, a)] = v;
            }
        }
    }

    /// The gradient at the current factor (`f` its summary, `ntheta` the length of θ).
    pub(crate) fn gradient_current(&mut self, f: &FactorSummary, ntheta: usize) -> Vec<f64> {
        let nr = self.nr;
        let p = self.p;
        let k0 = self.k0;
        let l0 = self.l0;
        let m = if self.reml { nr + p } else { nr };
        let (beta, u0, ur) = self.solve_raw();
        let lam0 = self.lambda[0].clone();

        // b = Λu.
        let b0 = crate::summaries::term_b(k0, l0, &lam0, &u0);
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

        // Z'r from the cross products: later terms (zr_r), then the first term (zr0).
        let yrow = self.nt - 1;
        let mut zr_r = vec![0.0; nr];
        for (r, z) in zr_r.iter_mut().enumerate() {
            let col = self.a_rest.col_as_slice(r);
            let mut acc = col[yrow];
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
                let coef = residual_coef(row, nr, &br, &beta);
                for c in 0..k0 {
                    zr[c] -= coef * bv[c];
                }
                if row < nr {
                    let dot: f64 = bv.iter().zip(bl).map(|(x, y)| x * y).sum();
                    zr_r[row] -= dot;
                }
            }
        }

        let nfac = if self.reml {
            (self.n - self.p) as f64
        } else {
            self.n as f64
        };
        let scale = -2.0 * nfac / f.pwrss;
        if self.scalar_terms_away_from_zero() {
            return self.gradient_scalar_terms(m, &zr0, &u0, &zr_r, &ur, scale, ntheta);
        }
        self.invert_leading(m);

        // Σ_j P_tj per term (k × k, row-major) and Σ_j (Z'r)[b_j + a] u[b_j + b].
        let mut psum: Vec<Vec<f64>> = self.terms.iter().map(|t| vec![0.0; t.k * t.k]).collect();
        let mut rsum: Vec<Vec<f64>> = psum.clone();

        let q0 = l0 * k0;
        let mut work = std::mem::take(&mut self.dense_work);
        if let Some(vd) = self
            .vdense
            .as_ref()
            .filter(|_| m > 0 && m * q0 <= DENSE_PASS_MAX)
        {
            self.first_term_dense(m, vd, &mut psum, &mut work);
            for (z, u) in zr0.chunks_exact(k0).zip(u0.chunks_exact(k0)) {
                for (row, &za) in rsum[0].chunks_exact_mut(k0).zip(z) {
                    for (o, ub) in row.iter_mut().zip(u) {
                        *o += za * ub;
                    }
                }
            }
        } else {
            self.first_term_sparse(m, &zr0, &u0, &mut psum, &mut rsum);
        }
        self.later_terms(m, &zr_r, &ur, &mut psum, &mut rsum, &mut work);
        if work.c.nrows() * work.c.ncols() > KEEP_MAX {
            work.c = Mat::new();
        }
        self.dense_work = work;

        // Assemble: θ (row a, column b) of term t.
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

    /// The first-term pass level by level on the sparse pattern of `[Z_r X]'Z₀`: adds
    /// `Σ_j P_j` to `psum[0]`, the first-term part `−Σ_i Y_i[R, ·](B_i[R, ·]Λ₀)'` of the later
    /// terms' blocks to `psum[t]`, and `Σ_j (Z'r)_j u_j'` to `rsum[0]`.
    fn first_term_sparse(
        &self,
        m: usize,
        zr0: &[f64],
        u0: &[f64],
        psum: &mut [Vec<f64>],
        rsum: &mut [Vec<f64>],
    ) {
        let nr = self.nr;
        let k0 = self.k0;
        let l0 = self.l0;
        let lam0 = &self.lambda[0];

        // First term, level by level, and the first-term part of the later terms' blocks.
        let kk = k0 * k0;
        let maxrows = (0..l0)
            .map(|l| self.bptr[l + 1] - self.bptr[l])
            .max()
            .unwrap_or(0);
        // W = V L₀₀⁻¹ level by level, same layout as `vval`.
        let mut wval = vec![0.0; self.vval.len()];
        let mut nactive = vec![0usize; l0];
        for (l, nact) in nactive.iter_mut().enumerate() {
            let start = self.bptr[l];
            let rows = &self.brow[start..self.bptr[l + 1]];
            let na = rows.partition_point(|&r| (r as usize) < m);
            *nact = na;
            let li = small_lower_inverse(&self.l00[l * kk..(l + 1) * kk], k0);
            for i in start..start + na {
                let v = &self.vval[i * k0..(i + 1) * k0];
                let wi = &mut wval[i * k0..(i + 1) * k0];
                // w = v L₀₀⁻¹: w[c] = Σ_{c2 ≥ c} v[c2] (L₀₀⁻¹)[c2, c].
                for (c2, &vv) in v.iter().enumerate() {
                    for (o, lv) in wi[..=c2].iter_mut().zip(&li[c2 * k0..=c2 * k0 + c2]) {
                        *o += vv * lv;
                    }
                }
            }
        }
        // The levels of the first term are independent: large problems split them into a
        // fixed number of chunks (set by the amount of work, not by the number of threads)
        // computed on the rayon threads, and the chunk sums are added in chunk order.
        let level_sums = |levels: std::ops::Range<usize>| -> LevelSums {
            let mut y = vec![0.0; maxrows * k0];
            let mut hr = vec![0.0; maxrows * k0];
            let mut blam = vec![0.0; maxrows * k0];
            let mut inner = vec![0.0; kk];
            let mut h00 = vec![0.0; kk];
            let mut p0 = vec![0.0; kk];
            let mut yhr = vec![0.0; kk];
            let mut rsum0 = vec![0.0; kk];
            let mut psum: Vec<Vec<f64>> = self.terms.iter().map(|t| vec![0.0; t.k * t.k]).collect();
            for l in levels {
                let start = self.bptr[l];
                let rows = &self.brow[start..self.bptr[l + 1]];
                let na = nactive[l];
                let rows = &rows[..na];
                let lblk = &self.l00[l * kk..(l + 1) * kk];
                let bvals = &self.bval[start * k0..(start + na) * k0];
                let w = &wval[start * k0..(start + na) * k0];
                // Y_j = S⁻¹[rows, rows] W_j.
                if k0 == 1 {
                    for (i, &r) in rows.iter().enumerate() {
                        let scol = self.sinv.col_as_slice(r as usize);
                        y[i] = rows
                            .iter()
                            .zip(w)
                            .map(|(&r2, wv)| scol[r2 as usize] * wv)
                            .sum();
                    }
                } else {
                    for (i, &r) in rows.iter().enumerate() {
                        let scol = self.sinv.col_as_slice(r as usize);
                        let yi = &mut y[i * k0..(i + 1) * k0];
                        yi.iter_mut().for_each(|v| *v = 0.0);
                        for (i2, &r2) in rows.iter().enumerate() {
                            let sv = scol[r2 as usize];
                            for (yv, wv) in yi.iter_mut().zip(&w[i2 * k0..(i2 + 1) * k0]) {
                                *yv += sv * wv;
                            }
                        }
                    }
                }
                // H_r0,j = Λ̃_r'B_j (row mixing) and B_j Λ₀ (column mixing).
                let mut i = 0;
                while i < na {
                    let r = rows[i] as usize;
                    if r >= nr {
                        hr[i * k0..(i + 1) * k0].copy_from_slice(&bvals[i * k0..(i + 1) * k0]);
                        i += 1;
                        continue;
                    }
                    let rr = self.rest_rows[r];
                    let t = rr.term as usize;
                    let k = self.terms[t].k;
                    let lam = &self.lambda[t];
                    // A whole group of k consecutive rows.
                    for ca in 0..k {
                        let out = &mut hr[(i + ca) * k0..(i + ca + 1) * k0];
                        out.iter_mut().for_each(|v| *v = 0.0);
                        for cc in ca..k {
                            let lv = lam[cc * k + ca];
                            let src = &bvals[(i + cc) * k0..(i + cc + 1) * k0];
                            for (o, b) in out.iter_mut().zip(src) {
                                *o += lv * b;
                            }
                        }
                    }
                    i += k;
                }
                for i in 0..na {
                    let out = &mut blam[i * k0..(i + 1) * k0];
                    out.iter_mut().for_each(|v| *v = 0.0);
                    for c1 in 0..k0 {
                        let bv = bvals[i * k0 + c1];
                        for (o, lv) in out[..=c1].iter_mut().zip(&lam0[c1 * k0..=c1 * k0 + c1]) {
                            *o += bv * lv;
                        }
                    }
                }
                // inner = L₀₀⁻ᵀL₀₀⁻¹ + W_j'Y_j.
                let li = small_lower_inverse(lblk, k0);
                spd_inverse_from_lower_inverse(&li, k0, |a, b, v| {
                    inner[a * k0 + b] = v;
                    inner[b * k0 + a] = v;
                });
                for (wi, yi) in w.chunks_exact(k0).zip(y.chunks_exact(k0)).take(na) {
                    for (row, &wa) in inner.chunks_exact_mut(k0).zip(wi) {
                        for (o, yv) in row.iter_mut().zip(yi) {
                            *o += wa * yv;
                        }
                    }
                }
                // Σ_j Y_j'H_r0,j (subtracted from the first term's sum).
                for (yi, hi) in y.chunks_exact(k0).zip(hr.chunks_exact(k0)).take(na) {
                    for (row, &ya) in yhr.chunks_exact_mut(k0).zip(yi) {
                        for (o, hv) in row.iter_mut().zip(hi) {
                            *o += ya * hv;
                        }
                    }
                }
                // H₀₀ = Λ₀'Z₀'Z₀|_j.
                lower_t_mul(lam0, &self.a00[l * kk..(l + 1) * kk], k0, &mut h00);
                // Σ_j inner_j H₀₀,j.
                for a in 0..k0 {
                    for c in 0..k0 {
                        let iv = inner[a * k0 + c];
                        for (o, hv) in p0[a * k0..(a + 1) * k0]
                            .iter_mut()
                            .zip(&h00[c * k0..(c + 1) * k0])
                        {
                            *o += iv * hv;
                        }
                    }
                }
                for a in 0..k0 {
                    for b in 0..k0 {
                        rsum0[a * k0 + b] += zr0[l * k0 + a] * u0[l * k0 + b];
                    }
                }
                // Later terms: −Y_i[R, ·](B_i[R, ·]Λ₀)'.
                for i in 0..na {
                    let r = rows[i] as usize;
                    if r >= nr {
                        break;
                    }
                    let rr = self.rest_rows[r];
                    let t = rr.term as usize;
                    let k = self.terms[t].k;
                    let comp = r - rr.group_start as usize;
                    let yi = &y[i * k0..(i + 1) * k0];
                    for c in 0..k {
                        let bi = &blam[(i - comp + c) * k0..(i - comp + c + 1) * k0];
                        let dot: f64 = yi.iter().zip(bi).map(|(x, y)| x * y).sum();
                        psum[t][comp * k + c] -= dot;
                    }
                }
            }
            LevelSums {
                psum,
                rsum0,
                p0,
                yhr,
            }
        };
        let work = nactive.iter().sum::<usize>() * kk;
        let nchunks = if work >= self.gradient_chunk_work {
            l0.clamp(1, 8)
        } else {
            1
        };
        let chunks: Vec<std::ops::Range<usize>> = (0..nchunks)
            .map(|c| c * l0 / nchunks..(c + 1) * l0 / nchunks)
            .collect();
        let parts: Vec<LevelSums> = if nchunks > 1 && rayon::current_num_threads() > 1 {
            chunks.into_par_iter().map(level_sums).collect()
        } else {
            chunks.into_iter().map(level_sums).collect()
        };
        let mut p0 = vec![0.0; kk];
        let mut yhr = vec![0.0; kk];
        for part in &parts {
            for (acc, v) in psum.iter_mut().zip(&part.psum) {
                acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
            }
            rsum[0]
                .iter_mut()
                .zip(&part.rsum0)
                .for_each(|(a, b)| *a += b);
            p0.iter_mut().zip(&part.p0).for_each(|(a, b)| *a += b);
            yhr.iter_mut().zip(&part.yhr).for_each(|(a, b)| *a += b);
        }

        for ((s, a), b) in psum[0].iter_mut().zip(&p0).zip(&yhr) {
            *s += a - b;
        }
    }

    /// The first-term pass when the engine keeps `V` dense (`vd`, `nt × k₀ℓ₀`): the per-level
    /// blocks become columns of dense `m × k₀ℓ₀` matrices, `B = [Z_r X]'Z₀` (first `m` rows),
    /// `H = Λ̃_r'B`, `BΛ₀` and `W = V L₀₀⁻¹` (level by level), and one product `Y = S⁻¹W`. Then
    ///
    /// ```text
    ///   Σ_j P_j  = Σ_j (L₀₀,j⁻ᵀL₀₀,j⁻¹ + W_j'Y_j) H₀₀,j − Σ_j Y_j'H_j
    ///   later term, group R:  −[Y (BΛ₀)'][R, R]
    /// ```
    ///
    /// with `W_j'Y_j`, `Y_j'H_j` small products of column blocks and only the diagonal
    /// `k × k` blocks of `Y(BΛ₀)'` formed (one small product per group). Same sums as
    /// [`Self::first_term_sparse`], without its per-level scattered reads.
    fn first_term_dense(
        &self,
        m: usize,
        vd: &Mat<f64>,
        psum: &mut [Vec<f64>],
        work: &mut DenseWork,
    ) {
        let nr = self.nr;
        let k0 = self.k0;
        let l0 = self.l0;
        let q0 = k0 * l0;
        let kk = k0 * k0;
        let lam0 = &self.lambda[0];
        // B on its pattern (rows are sorted, so a level's rows below m come first).
        let DenseWork {
            bd,
            bd_rows,
            hd,
            bl,
            wd,
            yd,
            linv,
            ..
        } = work;
        // B depends on the cross products only: filled once and kept (DenseWork is reset
        // whenever they change).
        if *bd_rows != Some(m) {
            *bd = Mat::zeros(m, q0);
            for l in 0..l0 {
                for idx in self.bptr[l]..self.bptr[l + 1] {
                    let r = self.brow[idx] as usize;
                    if r >= m {
                        break;
                    }
                    for c in 0..k0 {
                        bd[(r, l * k0 + c)] = self.bval[idx * k0 + c];
                    }
                }
            }
            *bd_rows = Some(m);
        }
        // H = Λ̃_r'B column by column; BΛ₀ and W = V L₀₀⁻¹ as combinations of a level's
        // columns: (BΛ₀)[:, c] = Σ_{c1 ≥ c} B[:, c1] Λ₀[c1, c], W[:, c] = Σ_{c1 ≥ c} V[:, c1] L₀₀⁻¹[c1, c].
        hd.resize_with(m, q0, |_, _| 0.0);
        bl.resize_with(m, q0, |_, _| 0.0);
        wd.resize_with(m, q0, |_, _| 0.0);
        linv.resize(l0 * kk, 0.0);
        self.lambda_t_block(bd.as_ref(), hd.as_mut());
        for l in 0..l0 {
            let li = small_lower_inverse(&self.l00[l * kk..(l + 1) * kk], k0);
            for c in 0..k0 {
                let col = l * k0 + c;
                let bcol = bl.col_as_slice_mut(col);
                let wcol = wd.col_as_slice_mut(col);
                for c1 in c..k0 {
                    let lv = lam0[c1 * k0 + c];
                    let wv = li[c1 * k0 + c];
                    let src_b = bd.col_as_slice(l * k0 + c1);
                    let src_v = &vd.col_as_slice(l * k0 + c1)[..m];
                    let pairs = bcol.iter_mut().zip(src_b).zip(wcol.iter_mut().zip(src_v));
                    if c1 == c {
                        // The first term of each sum overwrites the column (no zeroing pass).
                        for ((o, x), (ow, v)) in pairs {
                            *o = lv * x;
                            *ow = wv * v;
                        }
                    } else {
                        for ((o, x), (ow, v)) in pairs {
                            *o += lv * x;
                            *ow += wv * v;
                        }
                    }
                }
            }
            linv[l * kk..(l + 1) * kk].copy_from_slice(&li);
        }
        // Y = S⁻¹W.
        yd.resize_with(m, q0, |_, _| 0.0);
        if self.halved_product(m, m * m * q0) {
            dense::matmul_halves(yd.as_mut(), self.sinv.as_ref(), wd.as_ref());
        } else {
            faer::linalg::matmul::matmul(
                yd.as_mut(),
                Accum::Replace,
                self.sinv.as_ref(),
                wd.as_ref(),
                1.0,
                self.par,
            );
        }
        // First term, level by level: inner = L₀₀⁻ᵀL₀₀⁻¹ + W_j'Y_j, Σ inner H₀₀,j − Σ Y_j'H_j.
        // Levels are independent: above LEVEL_SPLIT_MIN the pass is cut into two halves (by
        // size only, so the sums do not depend on the thread count) run on the dense pool.
        let (wd, yd, hd, linv) = (&*wd, &*yd, &*hd, &*linv);
        let level_pass = |levels: std::ops::Range<usize>| -> (Vec<f64>, Mat<f64>) {
            let mut inner = Mat::<f64>::zeros(k0, k0);
            let mut yhr = Mat::<f64>::zeros(k0, k0);
            let mut h00 = vec![0.0; kk];
            let mut p0 = vec![0.0; kk];
            for l in levels {
                let li = &linv[l * kk..(l + 1) * kk];
                spd_inverse_from_lower_inverse(li, k0, |a, b, v| {
                    inner[(a, b)] = v;
                    inner[(b, a)] = v;
                });
                let wj = wd.as_ref().subcols(l * k0, k0);
                let yj = yd.as_ref().subcols(l * k0, k0);
                let hj = hd.as_ref().subcols(l * k0, k0);
                faer::linalg::matmul::matmul(
                    inner.as_mut(),
                    Accum::Add,
                    wj.transpose(),
                    yj,
                    1.0,
                    Par::Seq,
                );
                faer::linalg::matmul::matmul(
                    yhr.as_mut(),
                    Accum::Add,
                    yj.transpose(),
                    hj,
                    1.0,
                    Par::Seq,
                );
                lower_t_mul(lam0, &self.a00[l * kk..(l + 1) * kk], k0, &mut h00);
                for a in 0..k0 {
                    for c in 0..k0 {
                        let iv = inner[(a, c)];
                        for (o, hv) in p0[a * k0..(a + 1) * k0]
                            .iter_mut()
                            .zip(&h00[c * k0..(c + 1) * k0])
                        {
                            *o += iv * hv;
                        }
                    }
                }
            }
            (p0, yhr)
        };
        let (p0, yhr) = if 2 * m * k0 * q0 >= LEVEL_SPLIT_MIN && l0 >= 2 {
            let half = l0 / 2;
            let (mut first, mut second) = (None, None);
            dense::join2(
                || first = Some(level_pass(0..half)),
                || second = Some(level_pass(half..l0)),
            );
            match (first, second) {
                (Some((mut p0, mut yhr)), Some((p1, y1))) => {
                    p0.iter_mut().zip(&p1).for_each(|(a, b)| *a += b);
                    yhr += &y1;
                    (p0, yhr)
                }
                _ => level_pass(0..l0),
            }
        } else {
            level_pass(0..l0)
        };
        for a in 0..k0 {
            for b in 0..k0 {
                psum[0][a * k0 + b] += p0[a * k0 + b] - yhr[(a, b)];
            }
        }
        // Later terms: the diagonal blocks of Y(BΛ₀)', column by column.
        let mut offsets = Vec::new();
        let mut size = 0;
        let mut g = 0;
        while g < nr {
            let k = self.terms[self.rest_rows[g].term as usize].k;
            offsets.push(size);
            size += k * k;
            g += k;
        }
        // One k × k product Y[R, ·] (BΛ₀)[R, ·]' per group R (row-major into `blocks`).
        let mut blocks = vec![0.0; size];
        let mut g = 0;
        for &off in &offsets {
            let k = self.terms[self.rest_rows[g].term as usize].k;
            let blk = MatMut::from_row_major_slice_mut(&mut blocks[off..off + k * k], k, k);
            faer::linalg::matmul::matmul(
                blk,
                Accum::Replace,
                yd.as_ref().subrows(g, k),
                bl.as_ref().subrows(g, k).transpose(),
                1.0,
                Par::Seq,
            );
            g += k;
        }
        let mut g = 0;
        for &off in &offsets {
            let t = self.rest_rows[g].term as usize;
            let k = self.terms[t].k;
            for (o, v) in psum[t].iter_mut().zip(&blocks[off..off + k * k]) {
                *o -= v;
            }
            g += k;
        }
    }

    /// The later terms' `S⁻¹[R, ·](Λ̃_r'G̃_rr)[·, R]` into `psum[t]` and
    /// `Σ_R (Z'r)_R u_R'` into `rsum[t]`, group by group.
    fn later_terms(
        &self,
        m: usize,
        zr_r: &[f64],
        ur: &[f64],
        psum: &mut [Vec<f64>],
        rsum: &mut [Vec<f64>],
        work: &mut DenseWork,
    ) {
        let nr = self.nr;
        if nr == 0 {
            return;
        }
        // C = Λ̃_r'G̃_rr on the first m rows and the nr random-effect columns.
        let c = &mut work.c;
        c.resize_with(m, nr, |_, _| 0.0);
        self.lambda_t_block(self.a_rest.as_ref().submatrix(0, 0, m, nr), c.as_mut());
        let mut blk = Mat::<f64>::zeros(0, 0);
        let mut g = 0;
        while g < nr {
            let rr = self.rest_rows[g];
            let t = rr.term as usize;
            let k = self.terms[t].k;
            // (S⁻¹C)[R, R] = S⁻¹[·, R]'C[·, R] (S⁻¹ is symmetric).
            if blk.nrows() != k {
                blk = Mat::zeros(k, k);
            }
            faer::linalg::matmul::matmul(
                blk.as_mut(),
                Accum::Replace,
                self.sinv.as_ref().subcols(g, k).transpose(),
                c.as_ref().subcols(g, k),
                1.0,
                Par::Seq,
            );
            for a in 0..k {
                for b in 0..k {
                    psum[t][a * k + b] += blk[(a, b)];
                    rsum[t][a * k + b] += zr_r[g + a] * ur[g + b];
                }
            }
            g += k;
        }
    }

    /// `dst = Λ̃_r' src` for a block whose rows are the first `dst.nrows()` rows of the rest
    /// block (ending on a group boundary): `Λ_t'` on each `k`-row group of a later term (one
    /// small product per group for vector terms), the identity on the `X` rows.
    fn lambda_t_block(&self, src: MatRef<'_, f64>, mut dst: MatMut<'_, f64>) {
        let m = dst.nrows();
        let n = dst.ncols();
        let mut g = 0;
        while g < m {
            let rr = self.rest_rows[g];
            if rr.term == u32::MAX {
                dst.rb_mut().row_mut(g).copy_from(src.row(g));
                g += 1;
                continue;
            }
            let t = rr.term as usize;
            let k = self.terms[t].k;
            let lam = &self.lambda[t];
            if k == 1 {
                let d = lam[0];
                for j in 0..n {
                    dst[(g, j)] = d * src[(g, j)];
                }
            } else {
                faer::linalg::matmul::matmul(
                    dst.rb_mut().submatrix_mut(g, 0, k, n),
                    Accum::Replace,
                    MatRef::from_row_major_slice(lam, k, k).transpose(),
                    src.submatrix(g, 0, k, n),
                    1.0,
                    Par::Seq,
                );
            }
            g += k;
        }
    }
}

impl ProfiledDeviance {
    /// Whether the scalar-term shortcut ([`Self::gradient_scalar_terms`]) applies: every term
    /// has one column per level and every `|θ_t|` is at least [`SCALAR_SHORTCUT_MIN_THETA`]
    /// (the identity divides by `θ_t`; near 0 the general formula is the accurate one).
    fn scalar_terms_away_from_zero(&self) -> bool {
        self.terms.iter().all(|t| t.k == 1)
            && self.lambda.iter().all(|l| {
                l.first()
                    .is_some_and(|v| v.abs() >= SCALAR_SHORTCUT_MIN_THETA)
            })
    }

    /// The gradient when every term is scalar (`Λ_t = θ_t I` on term `t`'s `q_t` columns) and
    /// no `θ_t` is near 0. Then `Λ̃ E_t = θ_t E_t` (`E_t = ∂Λ̃/∂θ_t`, the projection on term
    /// `t`), so
    ///
    /// ```text
    ///   ∂ log|Ω|/∂θ_t = 2 tr(Ω⁻¹Λ̃'G̃Λ̃ E_t)/θ_t = 2 tr(Ω⁻¹(Ω − diag(I_q, 0)) E_t)/θ_t
    ///                 = (2/θ_t) (q_t − tr((Ω⁻¹)_tt)),
    /// ```
    ///
    /// and only diagonal elements of `Ω⁻¹` are needed: for a later term `diag(S⁻¹)`, for the
    /// first term `tr((Ω⁻¹)₀₀) = Σ_j (1/L₀₀,j² + w_j'S⁻¹w_j)` with `w_j = v_j / L₀₀,j` the sparse
    /// column of `W = V L₀₀⁻¹` (only `S⁻¹` on the pattern of `w_j` is read). `S⁻¹ = L_S⁻ᵀL_S⁻¹`
    /// is formed from one triangular inverse and one triangular product, and none of the
    /// per-level products `S⁻¹W`, `Λ̃_r'G̃_rr` of the general path are needed (on InstEval's
    /// 3-term ML model the gradient costs about 2.5 objectives instead of about 4). The
    /// residual part is the general one (`Σ_j (Z'r)_j u_j` per term).
    #[allow(clippy::too_many_arguments)]
    fn gradient_scalar_terms(
        &mut self,
        m: usize,
        zr0: &[f64],
        u0: &[f64],
        zr_r: &[f64],
        ur: &[f64],
        scale: f64,
        ntheta: usize,
    ) -> Vec<f64> {
        if self.sinv.nrows() != m {
            self.sinv = Mat::zeros(m, m);
        }
        if self.linv.nrows() != m {
            self.linv = Mat::zeros(m, m);
        }
        if m > 0 {
            // S⁻¹ = L_S⁻ᵀ L_S⁻¹ on the lower triangle (both factors triangular).
            faer::linalg::triangular_inverse::invert_lower_triangular(
                self.linv.as_mut(),
                self.s.as_ref().submatrix(0, 0, m, m),
                self.par,
            );
            triangular::matmul(
                self.sinv.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                self.linv.transpose(),
                BlockStructure::TriangularUpper,
                self.linv.as_ref(),
                BlockStructure::TriangularLower,
                1.0,
                self.par,
            );
        }
        let sinv = &self.sinv;
        // First term: tr((Ω⁻¹)₀₀) = Σ_j (1/L₀₀,j² + w_j'S⁻¹w_j) on the pattern of w_j, and
        // Σ_j (Z'r)_j u_j. The quadratic forms read scattered entries of S⁻¹ (on ml1m 4·10⁸
        // of them in a 110 MB matrix), so large problems compute them on the rayon threads;
        // the per-level terms are then summed in level order, the same whatever the number of
        // threads.
        let level_term = |l: usize, w: &mut Vec<f64>| -> f64 {
            let d = self.l00[l];
            let start = self.bptr[l];
            let rows = &self.brow[start..self.bptr[l + 1]];
            let na = rows.partition_point(|&r| (r as usize) < m);
            w.clear();
            w.extend(self.vval[start..start + na].iter().map(|v| v / d));
            let mut acc = 0.0;
            for (j, &rj) in rows[..na].iter().enumerate() {
                // Column r_j of S⁻¹ below the diagonal (rows are sorted ascending).
                let col = sinv.col_as_slice(rj as usize);
                let mut cross = 0.0;
                for (&ri, wi) in rows[j + 1..na].iter().zip(&w[j + 1..]) {
                    cross += col[ri as usize] * wi;
                }
                acc += w[j] * (w[j] * col[rj as usize] + 2.0 * cross);
            }
            1.0 / (d * d) + acc
        };
        let per_level: Vec<f64> = if self.two_threads(m) {
            (0..self.l0)
                .into_par_iter()
                .with_min_len(64)
                .map_init(Vec::new, |w, l| level_term(l, w))
                .collect()
        } else {
            let mut w = Vec::new();
            (0..self.l0).map(|l| level_term(l, &mut w)).collect()
        };
        let tr0: f64 = per_level.iter().sum();
        let r0: f64 = zr0.iter().zip(u0).map(|(z, u)| z * u).sum();
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
        grad
    }
}

/// Work (`Σ_j |pattern_j| k₀²`) from which the first term's levels are split into chunks
/// computed on the rayon threads (kb07's maximal model has ~10⁶).
pub(crate) const GRADIENT_CHUNK_WORK: usize = 200_000;

/// Largest `m · k₀ℓ₀` (entries of each dense `m × k₀ℓ₀` matrix of the dense first-term pass,
/// [`ProfiledDeviance::first_term_dense`]) for which that pass is used.
const DENSE_PASS_MAX: usize = 4_000_000;

/// Partial sums of the first-term pass of the gradient over a range of levels.
struct LevelSums {
    /// `Σ_j P_tj` contributions of the later terms (`−Y_i[R, ·](B_i[R, ·]Λ₀)'`).
    psum: Vec<Vec<f64>>,
    /// `Σ_j (Z'r)_j u_j'` of the first term.
    rsum0: Vec<f64>,
    /// `Σ_j inner_j H₀₀,j`.
    p0: Vec<f64>,
    /// `Σ_j Y_j'H_r0,j`.
    yhr: Vec<f64>,
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

/// Smallest `|θ_t|` for which the gradient uses the scalar-term identity
/// `∂ log|Ω|/∂θ_t = (2/θ_t)(q_t − tr((Ω⁻¹)_tt))` (see `gradient_scalar_terms`).
pub(crate) const SCALAR_SHORTCUT_MIN_THETA: f64 = 1e-3;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testing::{design, design_with};
    use multilevel_design::Design;

    /// Central differences of the objective, step `h`.
    fn numeric(dev: &mut ProfiledDeviance, theta: &[f64], h: f64) -> Vec<f64> {
        let mut x = theta.to_vec();
        (0..theta.len())
            .map(|i| {
                x[i] = theta[i] + h;
                let fp = dev.objective(&x);
                x[i] = theta[i] - h;
                let fm = dev.objective(&x);
                x[i] = theta[i];
                (fp - fm) / (2.0 * h)
            })
            .collect()
    }

    #[test]
    fn chunked_level_pass_equals_the_single_pass() {
        // A vector first term (k₀ = 2) and a vector later term: the general path. Forcing the
        // chunked first-term pass on the rayon threads must give the same gradient.
        let d = design_with(true, 300, &[(40, 2), (12, 2), (6, 1)]);
        let theta = [0.9, 0.2, 0.7, 1.1, -0.3, 0.5, 0.8];
        let mut dev = ProfiledDeviance::new(&d, true);
        // The chunked pass is the sparse one.
        dev.vdense = None;
        let (f1, g1) = dev.gradient(&theta);
        dev.gradient_chunk_work = 0;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (f2, g2) = pool.install(|| dev.gradient(&theta));
        assert_eq!(f1, f2);
        for (a, b) in g1.iter().zip(&g2) {
            assert!((a - b).abs() <= 1e-10 * (1.0 + a.abs()), "{g1:?} vs {g2:?}");
        }
    }

    #[test]
    fn dense_first_term_pass_equals_the_sparse_pass() {
        // Vector first term (k₀ = 2) with a dense V: the dense pass (one product S⁻¹W) and the
        // level-by-level sparse pass give the same gradient, REML and ML.
        let d = design_with(true, 300, &[(20, 2), (12, 2), (5, 1)]);
        let theta = [0.9, 0.2, 0.7, 1.1, -0.3, 0.5, 0.8];
        for reml in [true, false] {
            let mut dev = ProfiledDeviance::new(&d, reml);
            assert!(dev.vdense.is_some());
            let (f1, g1) = dev.gradient(&theta);
            dev.vdense = None;
            let (f2, g2) = dev.gradient(&theta);
            assert!((f1 - f2).abs() <= 1e-10 * f1.abs());
            for (a, b) in g1.iter().zip(&g2) {
                assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{g1:?} vs {g2:?}");
            }
        }
        // And both equal central differences (the dense path, a near-singular Λ₀ included).
        check(&d, &theta);
        check(&d, &[0.9, 0.2, 1e-3, 1.1, -0.3, 0.0, 0.8]);
    }

    fn check(d: &Design, theta: &[f64]) {
        for reml in [true, false] {
            let mut dev = ProfiledDeviance::new(d, reml);
            let (f, g) = dev.gradient(theta);
            assert_eq!(f, dev.objective(theta));
            let num = numeric(&mut dev, theta, 1e-5);
            let scale = num.iter().fold(1.0f64, |a, v| a.max(v.abs()));
            for (i, (a, b)) in g.iter().zip(&num).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-6 * scale,
                    "reml {reml}, θ {theta:?}, component {i}: analytic {a} vs numeric {b}\n{g:?}\n{num:?}"
                );
            }
        }
    }

    #[test]
    fn gradient_matches_central_differences_on_crossed_vector_terms() {
        for weights in [false, true] {
            let d = design(weights);
            check(&d, &[0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9]);
            check(&d, &[1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        }
    }

    #[test]
    fn gradient_matches_central_differences_for_scalar_and_dense_layouts() {
        // Scalar first term with a dense V; a vector later term.
        let d = design_with(true, 120, &[(40, 1), (16, 2)]);
        check(&d, &[0.8, 1.1, -0.2, 0.6]);
        // Sparse V, three terms.
        let d = design_with(false, 400, &[(90, 1), (60, 2), (30, 1)]);
        check(&d, &[0.8, 1.1, -0.2, 0.6, 0.3]);
        // One scalar term, one vector term.
        let d = design_with(false, 80, &[(9, 1)]);
        check(&d, &[0.6]);
        let d = design_with(true, 80, &[(9, 2)]);
        check(&d, &[0.6, 0.1, 0.3]);
        // Scalar terms only: the shortcut (every |θ_t| ≥ 1e-3), with a sparse and a dense V,
        // and the general formula when one θ_t is near 0 or negative and small.
        let d = design_with(false, 150, &[(12, 1), (7, 1), (5, 1)]);
        check(&d, &[0.6, 1.4, 0.2]);
        check(&d, &[-0.6, 1.4, -0.2]);
        check(&d, &[0.6, 5e-4, 0.2]);
        let d = design_with(true, 120, &[(40, 1), (16, 1)]);
        check(&d, &[0.8, 1.1]);
        check(&d, &[0.8, 2e-4]);
    }

    /// θ for terms of the given sizes: diagonal template entries between 0.5 and 1.2, small
    /// off-diagonal ones (column-major lower triangle, as the engine orders them).
    fn theta_for(ks: &[usize]) -> Vec<f64> {
        let mut theta = Vec::new();
        for &k in ks {
            for b in 0..k {
                for a in b..k {
                    let i = theta.len() as f64;
                    theta.push(if a == b {
                        0.5 + 0.7 * ((i * 0.37) % 1.0)
                    } else {
                        0.3 * ((i * 0.61) % 1.0) - 0.15
                    });
                }
            }
        }
        theta
    }

    #[test]
    fn gradient_matches_central_differences_for_wide_vector_terms() {
        // k₀ = 4 and a k = 3 later term (the fixed-size row products), and k₀ = 9 (the
        // general-size one), each with a dense V.
        let d = design_with(true, 400, &[(12, 4), (6, 3)]);
        check(&d, &theta_for(&[4, 3]));
        let d = design_with(false, 600, &[(10, 9)]);
        check(&d, &theta_for(&[9]));
    }

    #[test]
    fn kept_workspace_matches_a_fresh_engine() {
        // The dense first-term pass keeps `B` between gradients: switching REML/ML (a different
        // number of rows) and a new response must give what a fresh engine gives.
        let mut d = design_with(true, 300, &[(20, 2), (12, 2), (5, 1)]);
        let theta = [0.9, 0.2, 0.7, 1.1, -0.3, 0.5, 0.8];
        let mut dev = ProfiledDeviance::new(&d, false);
        assert!(dev.vdense.is_some());
        let _ = dev.gradient(&theta);
        dev.set_reml(true);
        assert_eq!(
            dev.gradient(&theta),
            ProfiledDeviance::new(&d, true).gradient(&theta)
        );
        let y2: Vec<f64> =
            d.y.iter()
                .enumerate()
                .map(|(i, v)| v * 0.5 + (i % 4) as f64)
                .collect();
        dev.set_response(&d, &y2);
        d.y = y2;
        assert_eq!(
            dev.gradient(&theta),
            ProfiledDeviance::new(&d, true).gradient(&theta)
        );
    }

    #[test]
    fn gradient_with_offset_and_near_the_boundary() {
        let mut d = design(true);
        d.offset = Some((0..d.nobs()).map(|i| (i % 5) as f64 * 0.2).collect());
        check(&d, &[0.7, -0.3, 1e-3, 1.3, 0.2, 0.5, 0.9]);
        check(&d, &[0.05, 0.3, 0.4, 0.002, 0.2, 0.5, 0.01]);
    }

    #[test]
    fn one_sided_derivative_at_the_boundary() {
        let d = design(false);
        let theta = [0.7, -0.3, 0.0, 1.3, 0.2, 0.5, 0.0];
        for reml in [true, false] {
            let mut dev = ProfiledDeviance::new(&d, reml);
            let (f0, g) = dev.gradient(&theta);
            for i in [2, 6] {
                let h = 1e-6;
                let mut x = theta.to_vec();
                x[i] = h;
                let f1 = dev.objective(&x);
                x[i] = 2.0 * h;
                let f2 = dev.objective(&x);
                // Second-order one-sided difference.
                let num = (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * h);
                assert!(
                    (g[i] - num).abs() < 1e-4 * g[i].abs().max(1.0),
                    "{i}: {} vs {num}",
                    g[i]
                );
            }
        }
    }
}
