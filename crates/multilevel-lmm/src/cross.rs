//! Preparing a model: the shapes of the blocks and the cross products of `[Z X y]` from which
//! every evaluation of the profiled criterion starts (`Z₀'Z₀` per level of the first term, the
//! sparse `[Z_r X y]'Z₀` and the dense `A_rr = [Z_r X y]'[Z_r X y]`, kept sparse as well when it
//! has few non-zeros), and what the prepared model reports about itself.

use faer::dyn_stack::MemBuffer;
use faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch;
use faer::{Mat, Par};
use multilevel_design::Design;

use crate::blocks::dense;
use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::sparse::{SparseRest, TileIndex};
use crate::objective::{FactorSummary, ProfiledDeviance};
use crate::pls::{GRADIENT_CHUNK_WORK, PARALLEL_MIN, Pls};

impl ProfiledDeviance {
    /// Prepare the cross products of a design. `reml` selects the criterion.
    ///
    /// The design must have at least one random-effects term (checked by the caller).
    pub fn new(design: &Design, reml: bool) -> Self {
        let pls = Pls::new(design);
        ProfiledDeviance {
            blocks: crate::fast::choose(&pls),
            pls,
            reml,
            covariances: design.terms.iter().map(|t| t.structure.clone()).collect(),
            theta_offsets: design
                .terms
                .iter()
                .scan(0, |off, t| {
                    let o = *off;
                    *off += t.n_theta();
                    Some(o)
                })
                .collect(),
            evaluations: 0,
            gradient_evaluations: 0,
            factored_theta: Vec::new(),
            factored: None,
        }
    }
    /// Replace the response (same `X`, `Z`, weights and offset) and recompute the cross
    /// products. Used to refit simulated responses.
    ///
    /// `y` must have one value per observation of the design.
    pub fn set_response(&mut self, design: &Design, y: &[f64]) {
        self.accumulate(
            design,
            design.weights.as_deref(),
            y,
            design.offset.as_deref(),
        );
    }

    /// Recompute the cross products with other weights, response and offset (same `X` and
    /// `Z`): one step of penalized iteratively reweighted least squares for GLMMs uses the
    /// working weights and working response here. All slices have one value per observation;
    /// weights must be positive.
    pub fn update(
        &mut self,
        design: &Design,
        weights: Option<&[f64]>,
        y: &[f64],
        offset: Option<&[f64]>,
    ) {
        self.accumulate(design, weights, y, offset);
    }

    /// Factor `M(θ)` and return its log-determinants and penalized residual sum of squares
    /// (`None` if the factorization fails). After a success, [`Self::solve`] and
    /// [`Self::rx_inverse`] read the same factor.
    pub fn factor_summary(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        self.factor(theta)
    }

    /// β̂ and the spherical random effects û (one vector per term, sorted term order, `k`
    /// values per level) from the last successful factorization.
    pub fn solve(&self) -> (Vec<f64>, Vec<Vec<f64>>) {
        self.pls.solve_current()
    }

    /// Λ of each term (row-major `k × k`, lower triangular) as set by the last factorization.
    pub fn lambda(&self) -> &[Vec<f64>] {
        &self.pls.lambda
    }

    /// Number of observations.
    pub fn nobs(&self) -> usize {
        self.pls.n
    }

    /// Number of fixed-effects coefficients.
    pub fn p(&self) -> usize {
        self.pls.p
    }

    /// Whether the criterion is REML.
    pub fn reml(&self) -> bool {
        self.reml
    }

    /// Switch between the REML criterion and the ML deviance (the cross products are shared).
    pub fn set_reml(&mut self, reml: bool) {
        self.reml = reml;
    }

    /// Rows of the dense block factored at every evaluation: the random effects after the
    /// first term, then `X` and `y`.
    pub fn dense_block_size(&self) -> usize {
        self.pls.nt
    }

    /// Number of objective evaluations since the structure was built (gradient evaluations
    /// included).
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// `Σ log wᵢ` of the prior weights (0 without weights).
    pub fn log_det_w(&self) -> f64 {
        self.pls.log_det_w
    }

    /// Build every cross product from the design's `X` and `Z` with the given weights,
    /// response and offset. Also forgets the cached factor of [`Self::factor_at`] and what the
    /// gradient's workspace keeps of the cross products: every change of the response, weights
    /// or offset must come through here.
    pub(crate) fn accumulate(
        &mut self,
        design: &Design,
        weights: Option<&[f64]>,
        y: &[f64],
        offset: Option<&[f64]>,
    ) {
        self.factored = None;
        self.blocks.reset();
        self.pls.accumulate(design, weights, y, offset);
    }

    /// Number of gradient evaluations since the structure was built.
    pub fn gradient_evaluations(&self) -> usize {
        self.gradient_evaluations
    }

    /// Diagonal `k × k` blocks of `(L_ZZ L_ZZ')⁻¹ = (Λ'Z'ZΛ + I)⁻¹` for every level of every
    /// term (after a successful factorization), row-major; lme4's conditional variances are
    /// `σ² Λⱼ · block · Λⱼ'`.
    pub fn inverse_diag_blocks(&self) -> Vec<Vec<f64>> {
        self.pls.inverse_diag_blocks()
    }

    /// `(R_X'R_X)⁻¹` from the current factor, `p × p` row-major (vcov(β̂) = σ² times this).
    pub fn rx_inverse(&self) -> Vec<f64> {
        self.pls.rx_inverse()
    }

    /// β̂ and the spherical random effects (see [`Self::solve`]).
    pub(crate) fn solve_current(&self) -> (Vec<f64>, Vec<Vec<f64>>) {
        self.pls.solve_current()
    }

    /// Use the general block type whatever the layout (tests compare it with the
    /// specialisations).
    #[cfg(test)]
    pub(crate) fn use_general_blocks(&mut self) {
        self.blocks = Box::new(crate::factorization::General::default());
    }

    /// Use the block type of the layout ([`crate::fast::choose`]).
    #[cfg(test)]
    pub(crate) fn use_chosen_blocks(&mut self) {
        self.blocks = crate::fast::choose(&self.pls);
    }

    /// The block type's own gradient kernel at the current factor, if it applies.
    #[cfg(test)]
    pub(crate) fn special_gradient(
        &mut self,
        f: &FactorSummary,
        ntheta: usize,
    ) -> Option<Vec<f64>> {
        let (m, scale) = self.gradient_shape(f);
        self.blocks.special_gradient(&self.pls, m, scale, ntheta)
    }
}

impl Pls {
    /// The block layout of a design and its cross products (from the design's weights,
    /// response and offset).
    fn new(design: &Design) -> Self {
        let n = design.nobs();
        let p = design.p();
        let mut terms = Vec::with_capacity(design.terms.len());
        let mut theta_offset = 0;
        let mut rest_offset = 0;
        for (j, t) in design.terms.iter().enumerate() {
            terms.push(TermShape {
                k: t.k,
                nlevels: t.nlevels(),
                theta_offset,
                rest_offset: if j == 0 { None } else { Some(rest_offset) },
            });
            theta_offset += t.k * (t.k + 1) / 2;
            if j > 0 {
                rest_offset += t.q();
            }
        }
        let nr = rest_offset;
        let nt = nr + p + 1;
        let k0 = terms.first().map_or(1, |t| t.k);
        let l0 = terms.first().map_or(0, |t| t.nlevels);

        let mut rest_rows = Vec::with_capacity(nt);
        for (j, t) in terms.iter().enumerate().skip(1) {
            if let Some(off) = t.rest_offset {
                for level in 0..t.nlevels {
                    for _ in 0..t.k {
                        rest_rows.push(RestRow {
                            term: j as u32,
                            group_start: (off + level * t.k) as u32,
                        });
                    }
                }
            }
        }
        for r in nr..nt {
            rest_rows.push(RestRow {
                term: u32::MAX,
                group_start: r as u32,
            });
        }
        let rest_scalar = terms.iter().skip(1).all(|t| t.k == 1);
        let kmax = terms.iter().map(|t| t.k).max().unwrap_or(1);

        let lambda = terms.iter().map(|t| vec![0.0; t.k * t.k]).collect();
        // faer's kernels run sequentially: its parallel ones were no faster on the Schur block
        // and slowed later rayon work in the same process (docs/performance-notes.md); the engine
        // splits the large dense products itself (blocks::dense).
        let par = Par::Seq;
        // Scratch for faer's Cholesky of the whole block, or of one panel of the blocked one.
        let mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
            nt.max(dense::PANEL),
            par,
            Default::default(),
        ));
        let mut pls = Pls {
            n,
            p,
            terms,
            k0,
            l0,
            nr,
            nt,
            a00: vec![0.0; l0 * k0 * k0],
            level_order: Vec::new(),
            level_start: Vec::new(),
            bptr: Vec::new(),
            brow: Vec::new(),
            bval: Vec::new(),
            a_rest: Mat::zeros(nt, nt),
            a_rest_sparse: None,
            tile_index: TileIndex::default(),
            rest_rows,
            rest_scalar,
            log_det_w: 0.0,
            const_col: constant_column(&design.x),
            y_shift: 0.0,
            lambda,
            l00: vec![0.0; l0 * k0 * k0],
            vval: Vec::new(),
            s: Mat::zeros(nt, nt),
            vdense: None,
            rest_scale: Vec::with_capacity(nt),
            tile_width: if nt > 512 { 64 } else { nt },
            parallel_min: PARALLEL_MIN,
            gradient_chunk_work: GRADIENT_CHUNK_WORK,
            small: vec![0.0; 2 * kmax * kmax],
            tiny: Vec::new(),
            mem,
            par,
        };
        pls.accumulate(
            design,
            design.weights.as_deref(),
            &design.y,
            design.offset.as_deref(),
        );
        pls
    }

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

impl std::fmt::Debug for ProfiledDeviance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfiledDeviance")
            .field("reml", &self.reml)
            .field("n", &self.pls.n)
            .field("p", &self.pls.p)
            .field("terms", &self.pls.terms)
            .field("dense_block", &self.pls.nt)
            .field("blocks", &self.blocks.name())
            .field("evaluations", &self.evaluations)
            .finish_non_exhaustive()
    }
}
