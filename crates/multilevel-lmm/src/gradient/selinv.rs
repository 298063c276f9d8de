//! Selected parts of `Ω⁻¹` for the gradient, read off the blocked factor: `S⁻¹` on the
//! leading block of `L_S`, the later terms' blocks `S⁻¹[R, ·](Λ̃_r'G̃_rr)[·, R]`, and the
//! diagonal-only shortcut when every term is scalar (see [`crate::gradient`] for the maths).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::blocks::small::{TINY_BLOCK, small_lower_inverse, spd_inverse_from_lower_inverse};
use crate::pls::Pls;

/// Smallest `|θ_t|` for which the gradient uses the scalar-term identity
/// `∂ log|Ω|/∂θ_t = (2/θ_t)(q_t − tr((Ω⁻¹)_tt))` (see [`Pls::scalar_terms_inverse`]).
pub(crate) const SCALAR_SHORTCUT_MIN_THETA: f64 = 1e-3;

impl Pls {
    /// `S⁻¹` of the leading `m × m` part of the current `L_S` into `sinv` (both
    /// triangles).
    pub(crate) fn invert_leading(
        &self,
        m: usize,
        sinv: &mut Mat<f64>,
        grad_mem: &mut Option<MemBuffer>,
    ) {
        if sinv.nrows() != m {
            *sinv = Mat::zeros(m, m);
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
            spd_inverse_from_lower_inverse(&li, m, |a, b, v| {
                sinv[(a, b)] = v;
                sinv[(b, a)] = v;
            });
            return;
        }
        let req = faer::linalg::cholesky::llt::inverse::inverse_scratch::<f64>(m, self.par);
        let mem = grad_mem.get_or_insert_with(|| MemBuffer::new(req));
        if mem.len() < req.unaligned_bytes_required() + 256 {
            *mem = MemBuffer::new(req);
        }
        let stack = MemStack::new(mem);
        faer::linalg::cholesky::llt::inverse::inverse(
            sinv.as_mut(),
            self.s.as_ref().submatrix(0, 0, m, m),
            self.par,
            stack,
        );
        for b in 0..m {
            for a in b + 1..m {
                let v = sinv[(a, b)];
                sinv[(b, a)] = v;
            }
        }
    }

    /// The later terms' `S⁻¹[R, ·](Λ̃_r'G̃_rr)[·, R]` into `psum[t]` and
    /// `Σ_R (Z'r)_R u_R'` into `rsum[t]`, group by group.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn later_terms(
        &self,
        sinv: &Mat<f64>,
        m: usize,
        zr_r: &[f64],
        ur: &[f64],
        psum: &mut [Vec<f64>],
        rsum: &mut [Vec<f64>],
        c: &mut Mat<f64>,
    ) {
        let nr = self.nr;
        if nr == 0 {
            return;
        }
        // C = Λ̃_r'G̃_rr on the first m rows and the nr random-effect columns.
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
                sinv.as_ref().subcols(g, k).transpose(),
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
    pub(crate) fn lambda_t_block(&self, src: MatRef<'_, f64>, mut dst: MatMut<'_, f64>) {
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

    /// Whether the scalar-term shortcut ([`Self::scalar_terms_inverse`]) applies: every term
    /// has one column per level and every `|θ_t|` is at least [`SCALAR_SHORTCUT_MIN_THETA`]
    /// (the identity divides by `θ_t`; near 0 the general formula is the accurate one).
    pub(crate) fn scalar_terms_away_from_zero(&self) -> bool {
        self.terms.iter().all(|t| t.k == 1)
            && self.lambda.iter().all(|l| {
                l.first()
                    .is_some_and(|v| v.abs() >= SCALAR_SHORTCUT_MIN_THETA)
            })
    }

    /// The log-determinant part of the gradient when every term is scalar (`Λ_t = θ_t I` on term `t`'s `q_t` columns) and
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
    ///
    /// This kernel forms `S⁻¹` on the lower triangle of the leading `m × m` block into `sinv`
    /// (with `linv = L_S⁻¹` as scratch) and returns the first term's `tr((Ω⁻¹)₀₀)`; the later
    /// terms' traces are read off the diagonal of `sinv`.
    pub(crate) fn scalar_terms_inverse(
        &self,
        m: usize,
        sinv: &mut Mat<f64>,
        linv: &mut Mat<f64>,
    ) -> f64 {
        if sinv.nrows() != m {
            *sinv = Mat::zeros(m, m);
        }
        if linv.nrows() != m {
            *linv = Mat::zeros(m, m);
        }
        if m > 0 {
            // S⁻¹ = L_S⁻ᵀ L_S⁻¹ on the lower triangle (both factors triangular).
            faer::linalg::triangular_inverse::invert_lower_triangular(
                linv.as_mut(),
                self.s.as_ref().submatrix(0, 0, m, m),
                self.par,
            );
            triangular::matmul(
                sinv.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                linv.transpose(),
                BlockStructure::TriangularUpper,
                linv.as_ref(),
                BlockStructure::TriangularLower,
                1.0,
                self.par,
            );
        }
        let sinv = &*sinv;
        // First term: tr((Ω⁻¹)₀₀) = Σ_j (1/L₀₀,j² + w_j'S⁻¹w_j) on the pattern of w_j. The quadratic forms read scattered entries of S⁻¹ (on ml1m 4·10⁸
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
        per_level.iter().sum()
    }
}
