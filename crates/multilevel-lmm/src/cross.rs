//! The cross products of `[Z X y]` from which every evaluation of the profiled criterion
//! starts: `Z₀'Z₀` per level of the first term, the sparse `[Z_r X y]'Z₀` and the dense
//! `A_rr = [Z_r X y]'[Z_r X y]` (kept sparse as well when it has few non-zeros).

use faer::Mat;
use multilevel_design::Design;

use crate::blocks::sparse::{SparseRest, TileIndex};
use crate::objective::ProfiledDeviance;

impl ProfiledDeviance {
    /// Build every cross product from the design's `X` and `Z` with the given weights,
    /// response and offset. Also forgets the cached factor of [`Self::factor_at`] and the
    /// gradient's workspace (which keeps a copy of `[Z_r X]'Z₀`): every change of the
    /// response, weights or offset must come through here.
    pub(crate) fn accumulate(
        &mut self,
        design: &Design,
        weights: Option<&[f64]>,
        y: &[f64],
        offset: Option<&[f64]>,
    ) {
        self.factored = None;
        self.dense_work = crate::gradient::DenseWork::default();
        let n = self.n;
        let p = self.p;
        let nr = self.nr;
        let k0 = self.k0;
        let sw: Vec<f64> = match weights {
            Some(w) => w.iter().map(|v| v.sqrt()).collect(),
            None => vec![1.0; n],
        };
        self.log_det_w = match weights {
            Some(w) => w.iter().map(|v| v.ln()).sum(),
            None => 0.0,
        };
        self.y_shift = if self.const_col.is_some() && n > 0 {
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..n {
                let w = sw[i] * sw[i];
                num += w * (y[i] - offset.map_or(0.0, |o| o[i]));
                den += w;
            }
            if den > 0.0 { num / den } else { 0.0 }
        } else {
            0.0
        };
        let shift = self.y_shift;
        let yv: Vec<f64> = (0..n)
            .map(|i| {
                let off = offset.map_or(0.0, |o| o[i]);
                (y[i] - off - shift) * sw[i]
            })
            .collect();

        // Entries of row i of [Z_r X y] (weighted): (column in the rest block, value).
        let mut entries: Vec<(u32, f64)> = Vec::with_capacity(nr.min(64) + p + 1);
        let fill_entries = |i: usize, out: &mut Vec<(u32, f64)>| {
            out.clear();
            for (t, shape) in design.terms.iter().zip(self.terms.iter()).skip(1) {
                if let Some(off) = shape.rest_offset {
                    let base = off + t.refs[i] as usize * t.k;
                    for c in 0..t.k {
                        out.push(((base + c) as u32, t.z[i * t.k + c] * sw[i]));
                    }
                }
            }
            for a in 0..p {
                out.push(((nr + a) as u32, design.x[(i, a)] * sw[i]));
            }
            out.push(((nr + p) as u32, yv[i]));
        };

        // A_rest = [Z_r X y]'[Z_r X y], lower triangle.
        let nt = self.nt;
        let mut a_rest = std::mem::replace(&mut self.a_rest, Mat::zeros(0, 0));
        if a_rest.nrows() == nt && a_rest.ncols() == nt {
            for b in 0..nt {
                a_rest.col_as_slice_mut(b).fill(0.0);
            }
        } else {
            a_rest = Mat::zeros(nt, nt);
        }
        for i in 0..n {
            fill_entries(i, &mut entries);
            for (bi, &(cb, vb)) in entries.iter().enumerate() {
                let col = a_rest.col_as_slice_mut(cb as usize);
                for &(ca, va) in &entries[bi..] {
                    col[ca as usize] += va * vb;
                }
            }
        }
        // Mirror to a full symmetric matrix (the scaling reads whole columns).
        for b in 0..nt {
            for a in b + 1..nt {
                let v = a_rest[(a, b)];
                a_rest[(b, a)] = v;
            }
        }
        self.a_rest_sparse = SparseRest::build(&a_rest, &self.rest_rows);
        self.a_rest = a_rest;

        // First term: Z₀'Z₀ blocks and the sparse [Z_r X y]'Z₀, level by level. The pattern
        // (which rows of [Z_r X y]'Z₀ are non-zero for each level) depends only on Z, so it is
        // found once; later calls (new response or weights: refits, PIRLS steps) refill values.
        let Some(t0) = design.terms.first() else {
            return;
        };
        let l0 = self.l0;
        if self.level_start.len() != l0 + 1 {
            let mut count = vec![0usize; l0 + 1];
            for &r in &t0.refs {
                count[r as usize + 1] += 1;
            }
            for l in 0..l0 {
                count[l + 1] += count[l];
            }
            let mut order = vec![0usize; n];
            let mut next = count.clone();
            for (i, &r) in t0.refs.iter().enumerate() {
                order[next[r as usize]] = i;
                next[r as usize] += 1;
            }
            let mut mark = vec![u32::MAX; nt];
            let mut bptr = Vec::with_capacity(l0 + 1);
            let mut brow: Vec<u32> = Vec::new();
            bptr.push(0);
            for l in 0..l0 {
                let start = brow.len();
                for &i in &order[count[l]..count[l + 1]] {
                    fill_entries(i, &mut entries);
                    for &(c, _) in &entries {
                        if mark[c as usize] != l as u32 {
                            mark[c as usize] = l as u32;
                            brow.push(c);
                        }
                    }
                }
                brow[start..].sort_unstable();
                bptr.push(brow.len());
            }
            self.vval = vec![0.0; brow.len() * k0];
            // Dense V when at least a fifth of it is structurally non-zero and it fits in ~400 MB.
            let dense_size = nt * l0 * k0;
            self.vdense =
                if nt >= 32 && dense_size <= 50_000_000 && 5 * brow.len() * k0 >= dense_size {
                    Some(Mat::zeros(nt, l0 * k0))
                } else {
                    None
                };
            self.level_order = order;
            self.level_start = count;
            self.bptr = bptr;
            self.brow = brow;
            self.tile_index = TileIndex::default();
        }
        let mut a00 = std::mem::take(&mut self.a00);
        a00.clear();
        a00.resize(l0 * k0 * k0, 0.0);
        let mut bval = std::mem::take(&mut self.bval);
        bval.clear();
        bval.resize(self.brow.len() * k0, 0.0);
        let mut position = vec![0u32; nt];
        let mut z0 = vec![0.0; k0];
        for l in 0..l0 {
            let start = self.bptr[l];
            for (pos, &c) in self.brow[start..self.bptr[l + 1]].iter().enumerate() {
                position[c as usize] = pos as u32;
            }
            let block = &mut a00[l * k0 * k0..(l + 1) * k0 * k0];
            for &i in &self.level_order[self.level_start[l]..self.level_start[l + 1]] {
                for (c, z) in z0.iter_mut().enumerate() {
                    *z = t0.z[i * k0 + c] * sw[i];
                }
                for r in 0..k0 {
                    for c in 0..k0 {
                        block[r * k0 + c] += z0[r] * z0[c];
                    }
                }
                fill_entries(i, &mut entries);
                for &(c, v) in &entries {
                    let row = start + position[c as usize] as usize;
                    for (cc, z) in z0.iter().enumerate() {
                        bval[row * k0 + cc] += v * z;
                    }
                }
            }
        }
        self.a00 = a00;
        self.bval = bval;
    }
}

/// The first column of `X` whose entries are all equal and non-zero, with that value.
pub(crate) fn constant_column(x: &Mat<f64>) -> Option<(usize, f64)> {
    (0..x.ncols()).find_map(|j| {
        let c = *x.col_as_slice(j).first()?;
        (c != 0.0 && x.col_as_slice(j).iter().all(|&v| v == c)).then_some((j, c))
    })
}
