//! Precomputed structure that makes forming the dense Schur block `S` cheap when its inputs are
//! sparse (see `super::schur`).
//!
//! * [`SparseRest`]: the non-zeros of `A_rr = [Z_r X y]'[Z_r X y]` column by column. For the
//!   random-effects part this is usually very sparse (with crossed scalar terms `Z_j'Z_j` is
//!   diagonal), while the dense copy of `A_rr` is `nt²` values: scaling the dense copy streams
//!   the whole lower triangle at every evaluation, whereas zeroing the column of `S` and
//!   scattering the few non-zeros writes the same numbers at a fraction of the cost.
//! * [`TileIndex`]: for every column block ("tile") of `S`, the levels of the first term whose
//!   rows of `V` reach into it, each with the position of its first such row, so the sparse
//!   downdate of a tile visits only those levels and needs no search.

use crate::blocks::layout::RestRow;
use faer::Mat;

/// `A_rr` is kept sparse only when its stored entries are at most this fraction (1/`n`) of the
/// lower triangle; otherwise the dense copy is read directly.
const SPARSE_REST_MAX_FILL: usize = 8;

/// The entries of `A_rr` that are not zero, by column. Column `b` holds the rows from the
/// first row of `b`'s (term, level) group down (for scalar terms, the `X` and `y` columns: from
/// `b` down, i.e. the lower triangle; for a vector term also the group's entries above the
/// diagonal, which the column mixing by `Λⱼ` reads).
#[derive(Debug, Clone, Default)]
pub(crate) struct SparseRest {
    /// Start of each column's entries in `row` and `val` (`nt + 1` values).
    pub colptr: Vec<usize>,
    /// Row of each entry, ascending within a column.
    pub row: Vec<u32>,
    /// Value of each entry.
    pub val: Vec<f64>,
}

impl SparseRest {
    /// The non-zeros of the symmetric `a_rest` (both triangles stored), or `None` when there are
    /// more than `1/SPARSE_REST_MAX_FILL` of the lower triangle (then the dense scaling is as
    /// cheap). Zeros are left out by value: an entry that is exactly zero scales to zero.
    pub fn build(a_rest: &Mat<f64>, rest_rows: &[RestRow]) -> Option<Self> {
        let nt = a_rest.nrows();
        if nt == 0 || rest_rows.len() != nt || a_rest.ncols() != nt {
            return None;
        }
        let limit = nt * (nt + 1) / 2 / SPARSE_REST_MAX_FILL;
        let mut nnz = 0usize;
        for (b, rb) in rest_rows.iter().enumerate() {
            let col = a_rest.col_as_slice(b);
            nnz += col[rb.group_start as usize..]
                .iter()
                .filter(|v| **v != 0.0)
                .count();
            if nnz > limit {
                return None;
            }
        }
        let mut out = SparseRest {
            colptr: Vec::with_capacity(nt + 1),
            row: Vec::with_capacity(nnz),
            val: Vec::with_capacity(nnz),
        };
        out.colptr.push(0);
        for (b, rb) in rest_rows.iter().enumerate() {
            let gs = rb.group_start as usize;
            let col = a_rest.col_as_slice(b);
            for (a, &v) in col.iter().enumerate().skip(gs) {
                if v != 0.0 {
                    out.row.push(a as u32);
                    out.val.push(v);
                }
            }
            out.colptr.push(out.row.len());
        }
        Some(out)
    }

    /// Rows and values of column `b`.
    #[inline]
    pub fn col(&self, b: usize) -> (&[u32], &[f64]) {
        let (s, e) = (self.colptr[b], self.colptr[b + 1]);
        (&self.row[s..e], &self.val[s..e])
    }
}

/// For each column block of width `width`, the levels of the first term with a row of `V` in
/// the block, ascending, each with the index (into `brow`) of its first row in the block.
#[derive(Debug, Clone, Default)]
pub(crate) struct TileIndex {
    /// Tile width the index was built for (0: not built; the engine resets the index when
    /// the pattern changes).
    pub width: usize,
    /// Start of each tile's entries (`ntiles + 1` values).
    pub ptr: Vec<usize>,
    /// Level of the first term.
    pub level: Vec<u32>,
    /// Index into `brow` of the level's first row in the tile.
    pub first: Vec<usize>,
}

impl TileIndex {
    /// Whether the index was built for tiles of `width` columns.
    pub fn fits(&self, width: usize) -> bool {
        self.width == width && !self.ptr.is_empty()
    }

    /// Build the index for `nt` columns in tiles of `width` from the per-level sorted rows
    /// `brow[bptr[l]..bptr[l + 1]]`.
    pub fn build(nt: usize, width: usize, bptr: &[usize], brow: &[u32]) -> Self {
        let width = width.max(1);
        let ntiles = nt.div_ceil(width);
        let nlevels = bptr.len().saturating_sub(1);
        // Count, then fill tile by tile (levels visited in ascending order, so each tile's
        // list is sorted by level).
        let mut ptr = vec![0usize; ntiles + 1];
        let each_start = |l: usize, f: &mut dyn FnMut(usize, usize)| {
            let mut last_tile = usize::MAX;
            for (idx, &r) in brow.iter().enumerate().take(bptr[l + 1]).skip(bptr[l]) {
                let tile = r as usize / width;
                if tile != last_tile {
                    f(tile, idx);
                    last_tile = tile;
                }
            }
        };
        for l in 0..nlevels {
            each_start(l, &mut |tile, _| ptr[tile + 1] += 1);
        }
        for t in 0..ntiles {
            ptr[t + 1] += ptr[t];
        }
        let total = ptr[ntiles];
        let mut level = vec![0u32; total];
        let mut first = vec![0usize; total];
        let mut next = ptr.clone();
        for l in 0..nlevels {
            each_start(l, &mut |tile, idx| {
                level[next[tile]] = l as u32;
                first[next[tile]] = idx;
                next[tile] += 1;
            });
        }
        TileIndex {
            width,
            ptr,
            level,
            first,
        }
    }

    /// The `(level, first row index)` pairs of tile `t`.
    #[inline]
    pub fn tile(&self, t: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (s, e) = (self.ptr[t], self.ptr[t + 1]);
        self.level[s..e]
            .iter()
            .zip(&self.first[s..e])
            .map(|(&l, &f)| (l as usize, f))
    }
}
