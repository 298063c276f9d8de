//! The gradient's pass over the first term's levels: the blocks `P_j` of `Ω⁻¹Λ̃'G̃` for every
//! level `j` of the first term (block-diagonal `L₀₀`) and the first-term part of the later
//! terms' blocks, from `S⁻¹` on the leading block and the sparse rows `V` (see
//! [`crate::gradient`] for the derivation). Two kernels give the same sums: level by level on
//! the sparse pattern of `[Z_r X]'Z₀`, and with dense `m × k₀ℓ₀` blocks when `V` is kept dense.

use faer::{Accum, Mat, MatMut, Par};
use rayon::prelude::*;

use crate::blocks::dense;
use crate::blocks::small::{lower_t_mul, small_lower_inverse, spd_inverse_from_lower_inverse};
use crate::pls::Pls;

/// Dense matrices of the first-term and later-term passes, kept between gradient evaluations
/// (on kb07_1 they are five 265 × 448 blocks per gradient: allocating and zeroing fresh ones
/// cost about a tenth of the gradient in page faults).
pub(crate) struct DenseWork {
    /// `B = [Z_r X]'Z₀` on its pattern (`m × k₀ℓ₀`).
    pub(crate) bd: Mat<f64>,
    /// The `m` for which `bd` holds `B` (`None` before the first pass).
    pub(crate) bd_rows: Option<usize>,
    /// `H = Λ̃_r'B`.
    pub(crate) hd: Mat<f64>,
    /// `BΛ₀`.
    pub(crate) bl: Mat<f64>,
    /// `W = V L₀₀⁻¹`.
    pub(crate) wd: Mat<f64>,
    /// `Y = S⁻¹W`.
    pub(crate) yd: Mat<f64>,
    /// `L₀₀⁻¹` per level (`k₀²` each, row-major).
    pub(crate) linv: Vec<f64>,
    /// `C = Λ̃_r'G̃_rr` (`m × nr`).
    pub(crate) c: Mat<f64>,
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

/// Largest `m · k₀ℓ₀` (entries of each dense `m × k₀ℓ₀` matrix of the dense first-term pass,
/// [`Pls::first_term_dense`]) for which that pass is used.
pub(crate) const DENSE_PASS_MAX: usize = 4_000_000;

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

impl Pls {
    /// The first-term pass level by level on the sparse pattern of `[Z_r X]'Z₀`: adds
    /// `Σ_j P_j` to `psum[0]`, the first-term part `−Σ_i Y_i[R, ·](B_i[R, ·]Λ₀)'` of the later
    /// terms' blocks to `psum[t]`, and `Σ_j (Z'r)_j u_j'` to `rsum[0]`.
    pub(crate) fn first_term_sparse(
        &self,
        sinv: &Mat<f64>,
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
                        let scol = sinv.col_as_slice(r as usize);
                        y[i] = rows
                            .iter()
                            .zip(w)
                            .map(|(&r2, wv)| scol[r2 as usize] * wv)
                            .sum();
                    }
                } else {
                    for (i, &r) in rows.iter().enumerate() {
                        let scol = sinv.col_as_slice(r as usize);
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
    pub(crate) fn first_term_dense(
        &self,
        sinv: &Mat<f64>,
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
            dense::matmul_halves(yd.as_mut(), sinv.as_ref(), wd.as_ref());
        } else {
            faer::linalg::matmul::matmul(
                yd.as_mut(),
                Accum::Replace,
                sinv.as_ref(),
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
}
