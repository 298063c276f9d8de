//! The dense Schur block `S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − VV'` of the rows after the first
//! term: its scale/inflate kernel (a column of `Λᵣ'A_rr Λᵣ`, `+ I` on the random-effects part,
//! from the dense or the sparse `A_rr`) and its rank downdate by the sparse rows `V` of the
//! first term's levels (or by one symmetric product when `V` is kept dense).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::blocks::dense;
use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::sparse::{SparseRest, TileIndex};

/// The read-only inputs of [`form_columns`], shared by the column blocks.
pub(crate) struct SchurParts<'a> {
    pub(crate) nt: usize,
    pub(crate) nr: usize,
    pub(crate) k0: usize,
    pub(crate) a_rest: MatRef<'a, f64>,
    pub(crate) rest_rows: &'a [RestRow],
    pub(crate) rest_scalar: bool,
    pub(crate) rest_scale: &'a [f64],
    pub(crate) lambda: &'a [Vec<f64>],
    pub(crate) terms: &'a [TermShape],
    pub(crate) bptr: &'a [usize],
    pub(crate) brow: &'a [u32],
    pub(crate) vval: &'a [f64],
    /// The non-zeros of `A_rr` when it is sparse (then `a_rest` is not read).
    pub(crate) sparse: Option<&'a SparseRest>,
    /// Which levels of the first term reach into each column block (sparse downdate only).
    pub(crate) tiles: &'a TileIndex,
}

impl SchurParts<'_> {
    /// Column `b` of `Λᵣ'A_rr Λᵣ` (+1 on the diagonal of the random-effects part) into `scol`,
    /// from the first row of `b`'s (term, level) group down. `t` is `nt` scratch values and
    /// `seen` `nt` marks (both unused when every later term is scalar; `t` must be zero on
    /// entry when `A_rr` is sparse, and is left so).
    fn scale_column(&self, b: usize, scol: &mut [f64], t: &mut [f64], seen: &mut [u32]) {
        if let Some(sp) = self.sparse {
            self.scale_column_sparse(sp, b, scol, t, seen);
        } else {
            self.scale_column_dense(b, scol, t);
        }
        if b < self.nr {
            scol[b] += 1.0;
        }
    }

    /// [`Self::scale_column`] from the sparse `A_rr`: the column is zeroed and only the
    /// non-zeros are scaled into it (the same products, in the same order, as the dense
    /// version; the skipped terms are exact zeros).
    fn scale_column_sparse(
        &self,
        sp: &SparseRest,
        b: usize,
        scol: &mut [f64],
        t: &mut [f64],
        seen: &mut [u32],
    ) {
        let nt = self.nt;
        if self.rest_scalar {
            scale_scalar_column(b, self.rest_scale, self.a_rest, Some(sp), scol);
            return;
        }
        let rb = self.rest_rows[b];
        let gs = rb.group_start as usize;
        scol[gs..nt].fill(0.0);
        // t = A Λᵣ e_b, scattered: columns b.. of b's group, weighted by Λⱼ[c, b] (an X or y
        // column is its own group, with weight 1).
        let (lam, k): (&[f64], usize) = if rb.term == u32::MAX {
            (&[1.0], 1)
        } else {
            let j = rb.term as usize;
            (&self.lambda[j], self.terms[j].k)
        };
        let mix = |c: usize| lam[(c - gs) * k + (b - gs)];
        let (first_col, last_col) = (b, gs + k);
        for c in first_col..last_col {
            let w = mix(c);
            if w == 0.0 {
                continue;
            }
            let (rows, vals) = sp.col(c);
            for (&a, &v) in rows.iter().zip(vals) {
                t[a as usize] += w * v;
            }
        }
        // S e_b = Λᵣ't on every (term, level) group t touches; then clear t there.
        let stamp = b as u32 + 1;
        for c in first_col..last_col {
            if mix(c) == 0.0 {
                continue;
            }
            for &a in sp.col(c).0 {
                let ra = self.rest_rows[a as usize];
                let g = ra.group_start as usize;
                if seen[g] == stamp {
                    continue;
                }
                seen[g] = stamp;
                let len = if ra.term == u32::MAX {
                    1
                } else {
                    self.terms[ra.term as usize].k
                };
                lambda_t_rows(self.rest_rows, self.terms, self.lambda, t, scol, g..g + len);
            }
        }
        for c in first_col..last_col {
            for &a in sp.col(c).0 {
                t[a as usize] = 0.0;
            }
        }
    }

    /// [`Self::scale_column`] from the dense `A_rr`.
    fn scale_column_dense(&self, b: usize, scol: &mut [f64], t: &mut [f64]) {
        let nt = self.nt;
        let a_col = |c: usize| -> &[f64] {
            self.a_rest
                .col(c)
                .try_as_col_major()
                .map_or(&[][..], |col| col.as_slice())
        };
        if self.rest_scalar {
            scale_scalar_column(b, self.rest_scale, self.a_rest, None, scol);
        } else {
            // Column mixing t = A Λᵣ e_b (rows from the group start on), then row mixing
            // S e_b = Λᵣ't.
            let rb = self.rest_rows[b];
            let gs = rb.group_start as usize;
            let tcol = &mut t[gs..nt];
            if rb.term == u32::MAX {
                tcol.copy_from_slice(&a_col(b)[gs..]);
            } else {
                let lam = &self.lambda[rb.term as usize];
                let k = self.terms[rb.term as usize].k;
                let cb = b - gs;
                tcol.iter_mut().for_each(|v| *v = 0.0);
                for c in cb..k {
                    let w = lam[c * k + cb];
                    if w == 0.0 {
                        continue;
                    }
                    for (tv, a) in tcol.iter_mut().zip(&a_col(gs + c)[gs..]) {
                        *tv += w * a;
                    }
                }
            }
            lambda_t_rows(self.rest_rows, self.terms, self.lambda, t, scol, gs..nt);
        }
    }

    /// `S[:, c₀..c₀+w] −= Σ_l V_l V_l'` on the lower triangle of the columns in `cols`, which
    /// are column block `tile` of [`Self::tiles`] (only the levels listed there reach into it;
    /// they are visited in ascending order, as a sweep over all levels would).
    fn downdate_columns(&self, tile: usize, c0: usize, mut cols: MatMut<'_, f64>) {
        let k0 = self.k0;
        let c1 = c0 + cols.ncols();
        for (l, first) in self.tiles.tile(tile) {
            let end = self.bptr[l + 1];
            if k0 == 1 {
                self.downdate_scalar_level(first, end, c0, cols.rb_mut());
                continue;
            }
            for bi in first..end {
                let cb = self.brow[bi] as usize;
                if cb >= c1 {
                    break;
                }
                let vb = &self.vval[bi * k0..(bi + 1) * k0];
                let col = column_mut(cols.rb_mut(), cb - c0);
                for (ai, &r) in self.brow.iter().enumerate().take(end).skip(bi) {
                    let va = &self.vval[ai * k0..(ai + 1) * k0];
                    let dot: f64 = va.iter().zip(vb).map(|(x, y)| x * y).sum();
                    col[r as usize] -= dot;
                }
            }
        }
    }

    /// The downdate by one level of a scalar first term (`k₀ = 1`): `S[r, c] −= v_r v_c` for
    /// the level's rows `c` in the block (from `brow[first]` on) and its rows `r ≥ c`. Two
    /// columns are updated per sweep over the rows, which halves the loads of row indices and
    /// values; every entry still receives exactly one product per level.
    fn downdate_scalar_level(
        &self,
        first: usize,
        end: usize,
        c0: usize,
        mut cols: MatMut<'_, f64>,
    ) {
        let c1 = c0 + cols.ncols();
        let rows = &self.brow[..end];
        let vals = &self.vval[..end];
        let mut bi = first;
        while bi < end && (rows[bi] as usize) < c1 {
            let cb = rows[bi] as usize;
            let x = vals[bi];
            if bi + 1 < end && (rows[bi + 1] as usize) < c1 {
                // Rows are sorted and distinct within a level, so cb < cb2.
                let cb2 = rows[bi + 1] as usize;
                let x2 = vals[bi + 1];
                let (left, right) = cols.rb_mut().split_at_col_mut(cb2 - c0);
                let col = column_mut(left, cb - c0);
                let col2 = column_mut(right, 0);
                col[cb] -= x * x;
                for (&r, &v) in rows[bi + 1..].iter().zip(&vals[bi + 1..]) {
                    let r = r as usize;
                    col[r] -= v * x;
                    col2[r] -= v * x2;
                }
                bi += 2;
            } else {
                let col = column_mut(cols.rb_mut(), cb - c0);
                for (&r, &v) in rows[bi..].iter().zip(&vals[bi..]) {
                    col[r as usize] -= v * x;
                }
                bi += 1;
            }
        }
    }
}

/// Column `b` of `Λᵣ'A_rr Λᵣ` when every later term is scalar (`Λᵣ = diag(d)`, `d = 1` on the
/// `X` and `y` rows): `dst[a] = d_a d_b A[a, b]` for `a ≥ b`, read from the non-zeros of `A_rr`
/// when `sparse` is given (the other entries are written as zeros), else from the dense copy.
pub(crate) fn scale_scalar_column(
    b: usize,
    d: &[f64],
    a_rest: MatRef<'_, f64>,
    sparse: Option<&SparseRest>,
    dst: &mut [f64],
) {
    let nt = d.len();
    let db = d[b];
    match sparse {
        Some(sp) => {
            dst[b..nt].fill(0.0);
            let (rows, vals) = sp.col(b);
            for (&a, &v) in rows.iter().zip(vals) {
                let a = a as usize;
                dst[a] = d[a] * db * v;
            }
        }
        None => {
            let Some(src) = a_rest.col(b).try_as_col_major().map(|c| c.as_slice()) else {
                return;
            };
            for a in b..nt {
                dst[a] = d[a] * db * src[a];
            }
        }
    }
}

/// `dst[r] = (Λ̃ᵣ' src)[r]` for the rows `r` in `rows` of the rest block, which must start and
/// end on (term, level) group boundaries: `Λⱼ'` within each group of a later term, the
/// identity on the `X` and `y` rows.
pub(crate) fn lambda_t_rows(
    rest_rows: &[RestRow],
    terms: &[TermShape],
    lambda: &[Vec<f64>],
    src: &[f64],
    dst: &mut [f64],
    rows: std::ops::Range<usize>,
) {
    let mut a = rows.start;
    while a < rows.end {
        let ra = rest_rows[a];
        if ra.term == u32::MAX {
            dst[a] = src[a];
            a += 1;
            continue;
        }
        let lam = &lambda[ra.term as usize];
        let k = terms[ra.term as usize].k;
        for c in 0..k {
            let mut acc = 0.0;
            for cc in c..k {
                acc += lam[cc * k + c] * src[a + cc];
            }
            dst[a + c] = acc;
        }
        a += k;
    }
}

/// Column `j` of a column-major block as a slice (faer's matrices store columns contiguously;
/// the empty slice is never returned for them).
pub(crate) fn column_mut(m: MatMut<'_, f64>, j: usize) -> &mut [f64] {
    m.col_mut(j)
        .try_as_col_major_mut()
        .map_or(&mut [][..], |c| c.as_slice_mut())
}

/// `S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − VV'` (lower triangle) with the sparse downdate, formed in
/// blocks of `width` columns: each block is scaled from `A_rr` and then downdated by every
/// level of the first term (so the scattered updates land in a few hundred kilobytes at a
/// time; on ml1m `S` is 110 MB and the downdate has ~10⁸ terms). Column blocks are
/// independent, so with `parallel` they are spread over the rayon threads; each column is
/// written by one task in the same order, whatever the number of threads. With `downdate`
/// false only the scaled `Λᵣ'A_rr Λᵣ + [I 0; 0 0]` is written (the dense `V` is then
/// subtracted by [`downdate_dense`]).
///
/// When `A_rr` is sparse ([`SparseRest`]: crossed scalar terms make `Z_j'Z_j` diagonal) each
/// column is zeroed and only its non-zeros are scaled in, instead of streaming the dense lower
/// triangle of `A_rr`; and a block's downdate visits only the levels listed for it in
/// [`TileIndex`] (no search per level and block). Both give the same numbers as the dense
/// sweep: the same products, summed in the same order.
pub(crate) fn form_columns(
    parts: &SchurParts<'_>,
    s: MatMut<'_, f64>,
    width: usize,
    parallel: bool,
    downdate: bool,
) {
    let nt = parts.nt;
    let run = |(blk, mut cols): (usize, MatMut<'_, f64>)| {
        let c0 = blk * width;
        let vector = !parts.rest_scalar;
        let mut scratch = vec![0.0; if vector { nt } else { 0 }];
        let mut seen = vec![
            0u32;
            if vector && parts.sparse.is_some() {
                nt
            } else {
                0
            }
        ];
        for j in 0..cols.ncols() {
            let col = column_mut(cols.rb_mut(), j);
            parts.scale_column(c0 + j, col, &mut scratch, &mut seen);
        }
        if downdate {
            parts.downdate_columns(blk, c0, cols);
        }
    };
    if parallel {
        s.par_col_chunks_mut(width).enumerate().for_each(run);
    } else {
        let mut rest = s;
        let mut blk = 0;
        while rest.ncols() > 0 {
            let take = width.min(rest.ncols());
            let (cols, tail) = rest.split_at_col_mut(take);
            run((blk, cols));
            rest = tail;
            blk += 1;
        }
    }
}

/// `S −= V V'` on the lower triangle for the dense `V` (`nt × k₀ℓ₀`): cut into two halves of
/// equal work when `halved` ([`dense::syrk_lower_sub`]), else one product.
pub(crate) fn downdate_dense(s: MatMut<'_, f64>, vd: MatRef<'_, f64>, halved: bool, par: Par) {
    if halved {
        dense::syrk_lower_sub(s, vd);
    } else {
        triangular::matmul(
            s,
            BlockStructure::TriangularLower,
            Accum::Add,
            vd,
            BlockStructure::Rectangular,
            vd.transpose(),
            BlockStructure::Rectangular,
            -1.0,
            par,
        );
    }
}
