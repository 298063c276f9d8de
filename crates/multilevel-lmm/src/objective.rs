//! The profiled deviance of a linear mixed model, evaluated through a blocked Cholesky factor.
//!
//! # The model
//!
//! `y = Xβ + Zb + ε`, `b = Λ(θ)u`, `u ~ N(0, σ²I_q)`, `ε ~ N(0, σ²W⁻¹)` with prior weights `W`.
//! Rows are scaled by `√wᵢ` once, so below `X`, `Z` and `y` mean the weighted ones (and `y`
//! has the offset subtracted).
//!
//! # Penalized least squares
//!
//! For fixed θ the conditional modes and β minimise `‖y − Xβ − ZΛu‖² + ‖u‖²`. Write
//! `A = [Z X y]'[Z X y]` (computed once per fit) and the symmetric matrix
//!
//! ```text
//!       ⎡ Λ'Z'ZΛ + I   Λ'Z'X   Λ'Z'y ⎤                ⎡ L_ZZ             ⎤
//!   M = ⎢ X'ZΛ          X'X     X'y   ⎥  = L L',   L = ⎢ L_XZ  L_XX        ⎥
//!       ⎣ y'ZΛ          y'X     y'y   ⎦                ⎣ c_Z'  c_X'   r    ⎦
//! ```
//!
//! Then `r²` is the penalized residual sum of squares, and with
//! `log|L_ZZ|² = 2 Σ log diag(L_ZZ)`, `log|R_X|² = 2 Σ log diag(L_XX)` and
//! `log|W| = Σ log wᵢ` the profiled criteria are (Bates et al. 2015, eqs. 34 and 41)
//!
//! ```text
//!   ML deviance      d(θ)   = log|L_ZZ|² − log|W| + n (1 + log(2π r² / n))
//!   REML criterion   d_R(θ) = log|L_ZZ|² + log|R_X|² − log|W| + (n − p)(1 + log(2π r² / (n − p)))
//! ```
//!
//! β and u are never solved for during the optimisation: everything is read off `L`.
//!
//! # Blocks
//!
//! Random-effects terms are sorted by number of levels, largest first. The first term's block
//! `Λ₀'Z₀'Z₀Λ₀ + I` is block-diagonal with one `k₀ × k₀` block per level, so its factor `L₀₀`
//! is too (no fill-in). Everything after it — the other terms, `X` and `y` — forms one dense
//! Schur complement
//!
//! ```text
//!   S = Λᵣ'A_rr Λᵣ (+ I on the random-effects part) − V V',   V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ,
//! ```
//!
//! where `V` keeps the sparsity of `Z_r'Z₀` (one short list of rows per level of the first
//! term), and `S = L_S L_S'` is factored densely. This is the layout MixedModels.jl uses for
//! crossed designs (the block after the first fills in); nested designs pay a little for a
//! dense block that could stay sparse, which is cheap while the later terms have few levels.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use multilevel_design::Design;
use rayon::prelude::*;

use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::schur::{SchurParts, scale_scalar_column};
use crate::blocks::small::{
    TINY_BLOCK, level_mix_into, lower_t_mul, rows_times_into, small_lower_inverse,
    small_lower_inverse_into, spd_inverse_from_lower_inverse,
};
use crate::blocks::sparse::{SparseRest, TileIndex};
use crate::blocks::{dense, levels, rows, schur};

mod gradient;
mod scalar;
mod single;

/// Size of the dense block from which its formation and Cholesky factor use two threads
/// (below it the thread hand-offs cost more than they save on the 2-core machine).
const PARALLEL_MIN: usize = 640;

/// Multiply–adds from which a dense product of the Schur block (`VV'` when `V` is kept dense,
/// the gradient's `S⁻¹W`) is cut into two halves on two threads even when the block is
/// smaller than [`PARALLEL_MIN`] (kb07_1: 16 and 31 million, for a block of 265).
const PRODUCT_PARALLEL_MIN: usize = 8_000_000;

/// Log-determinants and residual of one factorization of `M(θ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorSummary {
    /// `log|L_ZZ|²`.
    pub ld_l2: f64,
    /// `log|R_X|²`.
    pub ld_rx2: f64,
    /// Penalized residual sum of squares `r²`.
    pub pwrss: f64,
}

/// A prepared linear mixed model: cross products of `[Z X y]` and the workspace to evaluate
/// the profiled REML criterion or ML deviance at any θ.
pub struct ProfiledDeviance {
    reml: bool,
    n: usize,
    p: usize,
    pub(crate) terms: Vec<TermShape>,
    /// Random effects of the first term, `k₀ · ℓ₀`.
    k0: usize,
    l0: usize,
    /// Random effects after the first term.
    nr: usize,
    /// Size of the dense block, `nr + p + 1`.
    nt: usize,
    /// `Z₀'Z₀` per level, `k₀ × k₀` row-major blocks.
    a00: Vec<f64>,
    /// Observations sorted by level of the first term, and where each level starts.
    level_order: Vec<usize>,
    level_start: Vec<usize>,
    /// Per level of the first term, the rows of `[Z_r X y]'Z₀` that are structurally non-zero.
    bptr: Vec<usize>,
    brow: Vec<u32>,
    /// `brow.len() × k₀` values of `[Z_r X y]'Z₀`, row-major.
    bval: Vec<f64>,
    /// `[Z_r X y]'[Z_r X y]`, `nt × nt`, symmetric (both triangles stored).
    a_rest: Mat<f64>,
    /// The non-zeros of `a_rest` when there are few (see [`SparseRest`]); `S` is then formed
    /// from them.
    a_rest_sparse: Option<SparseRest>,
    /// Levels of the first term reaching into each column block of `S` (sparse downdate),
    /// rebuilt when the block width or the pattern (`accumulate`) changes.
    tile_index: TileIndex,
    rest_rows: Vec<RestRow>,
    /// Whether every later term is scalar (then `Λᵣ` is diagonal).
    rest_scalar: bool,
    log_det_w: f64,
    /// A constant column `(j, c)` of `X` (the intercept), if any. The response is centred
    /// before the cross products are formed (`y − m`, with `m` its weighted mean), which leaves
    /// the criterion unchanged (the shift is absorbed by `β_j += m / c`) but keeps `y'y` small,
    /// so `r²`, found by subtraction inside the Cholesky factor, keeps its digits on large data.
    const_col: Option<(usize, f64)>,
    /// The shift `m` applied to the response.
    y_shift: f64,
    // ---- workspace, overwritten by every evaluation ----
    /// Λ of each term, `k × k` row-major lower triangular.
    pub(crate) lambda: Vec<Vec<f64>>,
    /// `L₀₀`, one `k₀ × k₀` row-major lower-triangular block per level.
    pub(crate) l00: Vec<f64>,
    /// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ`, same layout as `bval`.
    vval: Vec<f64>,
    /// The dense block; after an evaluation its lower triangle holds `L_S`.
    pub(crate) s: Mat<f64>,
    /// `V` stored densely (`nt × k₀ℓ₀`) when `[Z_r X y]'Z₀` is dense enough that one
    /// matrix product beats the level-by-level sparse downdate.
    vdense: Option<Mat<f64>>,
    /// Diagonal of Λᵣ (then 1 for the X and y rows) when every later term is scalar.
    rest_scale: Vec<f64>,
    /// Width of the column blocks in which `S` is formed (`nt` when `S` is small).
    tile_width: usize,
    /// Size of the dense block from which two threads are used ([`PARALLEL_MIN`]).
    parallel_min: usize,
    /// Work from which the gradient's first-term pass is split into chunks
    /// ([`gradient::GRADIENT_CHUNK_WORK`]).
    gradient_chunk_work: usize,
    /// Scratch for small per-level blocks (`2 k_max²`).
    small: Vec<f64>,
    /// Row-major copy of a tiny dense block while it is factored.
    tiny: Vec<f64>,
    mem: MemBuffer,
    par: Par,
    evaluations: usize,
    /// Gradient evaluations (each also counts as an objective evaluation).
    gradient_evaluations: usize,
    /// Gradient workspace: `S⁻¹` on the leading block (see [`gradient`]).
    sinv: Mat<f64>,
    /// Gradient workspace: `L_S⁻¹` on the leading block (scalar-term shortcut).
    linv: Mat<f64>,
    /// Scratch of the dense inverse.
    grad_mem: Option<MemBuffer>,
    /// Workspace of the general gradient's dense passes ([`gradient`]).
    dense_work: gradient::DenseWork,
    /// Workspace of the single-term gradient ([`single`]).
    single: single::SingleWork,
    /// Workspace of the small all-scalar-terms gradient ([`scalar`]).
    scalar: scalar::ScalarWork,
    /// θ and summary of the last successful factorization, while the factor in the workspace
    /// is still that one (cleared when a factorization starts or the cross products change).
    factored_theta: Vec<f64>,
    factored: Option<FactorSummary>,
    /// Whether the small-model fast paths ([`single`], [`scalar`]) may be used (tests turn
    /// them off to compare with the general path).
    small_paths: bool,
}

impl ProfiledDeviance {
    /// Prepare the cross products of a design. `reml` selects the criterion.
    ///
    /// The design must have at least one random-effects term (checked by the caller).
    pub fn new(design: &Design, reml: bool) -> Self {
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
            theta_offset += t.n_theta();
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
        // faer's kernels run sequentially. Measured on the 2-core development machine, they were
        // faster than faer's parallel ones even on InstEval's 1,145-row block (2.34 s vs 2.66 s
        // per fit), and after faer's parallel kernels had run, rayon work elsewhere in the same
        // process (the GLMM's chunked PIRLS sums) became ~7× slower (`cargo xtask bench-lme4
        // --models insteval,glmm_binomial`).
        let par = Par::Seq;
        // Scratch for faer's Cholesky of the whole block, or of one panel of the blocked one.
        let mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
            nt.max(dense::PANEL),
            par,
            Default::default(),
        ));
        let mut dev = ProfiledDeviance {
            reml,
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
            gradient_chunk_work: gradient::GRADIENT_CHUNK_WORK,
            small: vec![0.0; 2 * kmax * kmax],
            tiny: Vec::new(),
            mem,
            par,
            evaluations: 0,
            gradient_evaluations: 0,
            sinv: Mat::zeros(0, 0),
            linv: Mat::zeros(0, 0),
            grad_mem: None,
            dense_work: gradient::DenseWork::default(),
            single: single::SingleWork::default(),
            scalar: scalar::ScalarWork::default(),
            factored_theta: Vec::new(),
            factored: None,
            small_paths: true,
        };
        dev.accumulate(
            design,
            design.weights.as_deref(),
            &design.y,
            design.offset.as_deref(),
        );
        dev
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
        self.solve_current()
    }

    /// Λ of each term (row-major `k × k`, lower triangular) as set by the last factorization.
    pub fn lambda(&self) -> &[Vec<f64>] {
        &self.lambda
    }

    /// Number of observations.
    pub fn nobs(&self) -> usize {
        self.n
    }

    /// Number of fixed-effects coefficients.
    pub fn p(&self) -> usize {
        self.p
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
        self.nt
    }

    /// Number of objective evaluations since the structure was built (gradient evaluations
    /// included).
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// `Σ log wᵢ` of the prior weights (0 without weights).
    pub fn log_det_w(&self) -> f64 {
        self.log_det_w
    }

    /// Build every cross product from the design's `X` and `Z` with the given weights,
    /// response and offset. Also forgets the cached factor of [`Self::factor_at`] and the
    /// gradient's workspace (which keeps a copy of `[Z_r X]'Z₀`): every change of the
    /// response, weights or offset must come through here.
    fn accumulate(
        &mut self,
        design: &Design,
        weights: Option<&[f64]>,
        y: &[f64],
        offset: Option<&[f64]>,
    ) {
        self.factored = None;
        self.dense_work = gradient::DenseWork::default();
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

    /// Fill `Λ` of every term from θ (column-major lower triangle per term, lme4's layout).
    fn set_lambda(&mut self, theta: &[f64]) {
        for (shape, lam) in self.terms.iter().zip(self.lambda.iter_mut()) {
            let k = shape.k;
            let mut idx = shape.theta_offset;
            lam.iter_mut().for_each(|v| *v = 0.0);
            for c in 0..k {
                for r in c..k {
                    lam[r * k + c] = theta[idx];
                    idx += 1;
                }
            }
        }
    }

    /// The criterion at θ: the REML criterion or the ML deviance. Returns `+∞` when the
    /// factorization fails (θ outside the region where `M` is positive definite numerically).
    pub fn objective(&mut self, theta: &[f64]) -> f64 {
        self.evaluations += 1;
        match self.factor(theta) {
            Some(f) => self.criterion(&f),
            None => f64::INFINITY,
        }
    }

    /// Both criteria from one factorization: `(REML criterion, ML deviance)`.
    pub fn criteria(&self, f: &FactorSummary) -> (f64, f64) {
        self.criterion_both(f)
    }

    pub(crate) fn criterion_both(&self, f: &FactorSummary) -> (f64, f64) {
        let n = self.n as f64;
        let np = (self.n - self.p) as f64;
        let two_pi = 2.0 * std::f64::consts::PI;
        let ml = f.ld_l2 - self.log_det_w + n * (1.0 + (two_pi * f.pwrss / n).ln());
        let reml = f.ld_l2 + f.ld_rx2 - self.log_det_w + np * (1.0 + (two_pi * f.pwrss / np).ln());
        (reml, ml)
    }

    fn criterion(&self, f: &FactorSummary) -> f64 {
        let (reml, ml) = self.criterion_both(f);
        if self.reml { reml } else { ml }
    }

    /// Form and factor `M(θ)`; returns its log-determinants and `r²`, or `None` if a pivot
    /// is not positive.
    pub(crate) fn factor(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        self.factored = None;
        let summary = self.factor_uncached(theta)?;
        self.factored_theta.clear();
        self.factored_theta.extend_from_slice(theta);
        self.factored = Some(summary);
        Some(summary)
    }

    /// [`Self::factor`], unless the factor in the workspace is already that of exactly this
    /// θ (then its summary is returned without refactoring: the same numbers). The cache is
    /// cleared by [`Self::accumulate`], the one place where the cross products change.
    pub(crate) fn factor_at(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        match self.factored {
            Some(f) if self.factored_theta.as_slice() == theta => Some(f),
            _ => self.factor(theta),
        }
    }

    fn factor_uncached(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        self.set_lambda(theta);
        let kk = self.k0 * self.k0;
        // L₀₀: per level, chol(Λ₀'A₀₀Λ₀ + I).
        let mut tmp = std::mem::take(&mut self.small);
        let first = levels::factor_levels(
            &self.a00[..self.l0 * kk],
            &self.lambda[0],
            self.k0,
            &mut self.l00[..self.l0 * kk],
            &mut tmp,
        );
        let Some(mut ld_l2) = first else {
            self.small = tmp;
            return None;
        };

        // V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ, then S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − V V' (lower triangle).
        if !(self.small_paths && (self.single_term_schur() || self.scalar_terms_schur())) {
            self.compute_v(&mut tmp);
            self.form_schur();
        }
        self.small = tmp;

        // Dense Cholesky of S.
        let nt = self.nt;
        let two = self.two_threads(nt);
        if !dense::factor(&mut self.s, two, &mut self.mem, &mut self.tiny) {
            return None;
        }
        let mut ld_rx2 = 0.0;
        for r in 0..self.nr {
            ld_l2 += 2.0 * self.s[(r, r)].ln();
        }
        for r in self.nr..nt - 1 {
            ld_rx2 += 2.0 * self.s[(r, r)].ln();
        }
        let rr = self.s[(nt - 1, nt - 1)];
        let summary = FactorSummary {
            ld_l2,
            ld_rx2,
            pwrss: rr * rr,
        };
        if summary.ld_l2.is_finite() && summary.ld_rx2.is_finite() && summary.pwrss > 0.0 {
            Some(summary)
        } else {
            None
        }
    }

    /// Whether work on a dense block of `size` rows uses two threads: from
    /// [`PARALLEL_MIN`] rows on, unless rayon has a single thread (`RAYON_NUM_THREADS=1`).
    fn two_threads(&self, size: usize) -> bool {
        size >= self.parallel_min && rayon::current_num_threads() > 1
    }

    /// Whether a dense product on a block of `size` rows with `work` multiply–adds is cut into
    /// two halves ([`dense::syrk_lower_sub`], [`dense::matmul_halves`]): from [`PARALLEL_MIN`]
    /// rows or [`PRODUCT_PARALLEL_MIN`] multiply–adds on. The choice depends on the sizes only,
    /// so the numbers do not depend on the number of threads; the halves run on two threads
    /// unless rayon has one.
    pub(crate) fn halved_product(&self, size: usize, work: usize) -> bool {
        size >= self.parallel_min || work >= PRODUCT_PARALLEL_MIN
    }

    /// `rest_scale = diag(Λ̃ᵣ)` when every later term is scalar: the θ of each random-effect
    /// row's term, 1 on the `X` and `y` rows.
    fn set_rest_scale(&mut self) {
        let d = &mut self.rest_scale;
        d.clear();
        d.resize(self.nt, 1.0);
        for (r, rr) in self.rest_rows.iter().enumerate().take(self.nr) {
            d[r] = self.lambda[rr.term as usize][0];
        }
    }

    /// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ` per level of the first term (same layout as `bval`; also into
    /// the dense copy when there is one).
    fn compute_v(&mut self, tmp: &mut [f64]) {
        let inp = rows::VInputs {
            k0: self.k0,
            l0: self.l0,
            bptr: &self.bptr,
            brow: &self.brow,
            bval: &self.bval,
            rest_rows: &self.rest_rows,
            terms: &self.terms,
            lambda: &self.lambda,
            l00: &self.l00,
        };
        rows::compute_v(&inp, &mut self.vval, self.vdense.as_mut(), tmp);
    }

    /// The Schur complement `S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − VV'` (lower triangle), formed in
    /// blocks of `tile_width` columns: each block is scaled from `A_rr` and then downdated by
    /// every level of the first term (so the scattered updates land in a few hundred kilobytes
    /// at a time; on ml1m `S` is 110 MB and the downdate has ~10⁸ terms). Column blocks are
    /// independent, so large blocks are spread over the rayon threads; each column is written
    /// by one task in the same order, whatever the number of threads. With a dense `V` the
    /// downdate is one symmetric product instead.
    ///
    /// When `A_rr` is sparse ([`SparseRest`]: crossed scalar terms make `Z_j'Z_j` diagonal)
    /// each column is zeroed and only its non-zeros are scaled in, instead of streaming the
    /// dense lower triangle of `A_rr`; and a block's downdate visits only the levels listed
    /// for it in [`TileIndex`] (no search per level and block). Both give the same numbers as
    /// the dense sweep: the same products, summed in the same order.
    fn form_schur(&mut self) {
        let nt = self.nt;
        if self.rest_scalar {
            self.set_rest_scale();
        }
        let parallel = self.two_threads(nt);
        let sparse = self.vdense.is_none();
        let width = self.tile_width.clamp(1, nt.max(1));
        if sparse && !self.tile_index.fits(width) {
            self.tile_index = TileIndex::build(nt, width, &self.bptr, &self.brow);
        }
        let parts = SchurParts {
            nt,
            nr: self.nr,
            k0: self.k0,
            a_rest: self.a_rest.as_ref(),
            rest_rows: &self.rest_rows,
            rest_scalar: self.rest_scalar,
            rest_scale: &self.rest_scale,
            lambda: &self.lambda,
            terms: &self.terms,
            bptr: &self.bptr,
            brow: &self.brow,
            vval: &self.vval,
            sparse: self.a_rest_sparse.as_ref(),
            tiles: &self.tile_index,
        };
        schur::form_columns(&parts, self.s.as_mut(), width, parallel, sparse);
        if let Some(vd) = self.vdense.as_ref() {
            let halved = self.halved_product(nt, nt * nt / 2 * vd.ncols());
            schur::downdate_dense(self.s.as_mut(), vd.as_ref(), halved, self.par);
        }
    }

    /// Read β, the spherical random effects u and `b = Λu` off the current factor (call after
    /// a successful [`ProfiledDeviance::factor`] at θ̂).
    pub(crate) fn solve_current(&self) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (mut beta, u0, ur) = self.solve_raw();
        // Undo the centring of the response (the random effects are unaffected).
        if let Some((j, c)) = self.const_col {
            beta[j] += self.y_shift / c;
        }
        let mut u = Vec::with_capacity(self.terms.len());
        u.push(u0);
        for t in self.terms.iter().skip(1) {
            let off = t.rest_offset.unwrap_or(0);
            u.push(ur[off..off + t.q_len()].to_vec());
        }
        (beta, u)
    }

    /// β (for the centred response), `u₀` (first term, `k₀ℓ₀`) and `u_r` (later terms, `nr`)
    /// from the current factor: back substitution with `L'`.
    pub(crate) fn solve_raw(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut beta, mut u0, mut ur) = (Vec::new(), Vec::new(), Vec::new());
        self.solve_raw_into(&mut beta, &mut u0, &mut ur);
        (beta, u0, ur)
    }

    /// [`Self::solve_raw`] into caller-owned vectors (resized; no other allocation).
    pub(crate) fn solve_raw_into(&self, beta: &mut Vec<f64>, u0: &mut Vec<f64>, ur: &mut Vec<f64>) {
        let nr = self.nr;
        let p = self.p;
        let nt = self.nt;
        let k0 = self.k0;
        let s = &self.s;
        // β: L_XX' β = c_X.
        beta.clear();
        beta.extend((0..p).map(|a| s[(nt - 1, nr + a)]));
        for a in (0..p).rev() {
            let mut acc = beta[a];
            for b in a + 1..p {
                acc -= s[(nr + b, nr + a)] * beta[b];
            }
            beta[a] = acc / s[(nr + a, nr + a)];
        }
        // u_r: L_rr' u_r = c_r − L_Xr' β.
        ur.clear();
        ur.extend((0..nr).map(|r| {
            let mut acc = s[(nt - 1, r)];
            for (a, b) in beta.iter().enumerate() {
                acc -= s[(nr + a, r)] * b;
            }
            acc
        }));
        for r in (0..nr).rev() {
            let col = s.col_as_slice(r);
            let mut acc = ur[r];
            for c in r + 1..nr {
                acc -= col[c] * ur[c];
            }
            ur[r] = acc / col[r];
        }
        // u₀ per level: L₀₀' u₀ = c₀ − L_X0' β − L_r0' u_r, solved in place.
        u0.clear();
        u0.resize(self.l0 * k0, 0.0);
        for l in 0..self.l0 {
            let rhs = &mut u0[l * k0..(l + 1) * k0];
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let r = self.brow[idx] as usize;
                let v = &self.vval[idx * k0..(idx + 1) * k0];
                let coef = if r < nr {
                    -ur[r]
                } else if r < nr + p {
                    -beta[r - nr]
                } else {
                    1.0
                };
                for c in 0..k0 {
                    rhs[c] += coef * v[c];
                }
            }
            let lblk = &self.l00[l * k0 * k0..(l + 1) * k0 * k0];
            for c in (0..k0).rev() {
                let mut acc = rhs[c];
                for cc in c + 1..k0 {
                    acc -= lblk[cc * k0 + c] * rhs[cc];
                }
                rhs[c] = acc / lblk[c * k0 + c];
            }
        }
    }

    /// Diagonal `k × k` blocks of `(L_ZZ L_ZZ')⁻¹ = (Λ'Z'ZΛ + I)⁻¹` for every level of every
    /// term (after a successful factorization), row-major; lme4's conditional variances are
    /// `σ² Λⱼ · block · Λⱼ'`.
    pub fn inverse_diag_blocks(&self) -> Vec<Vec<f64>> {
        let nr = self.nr;
        let k0 = self.k0;
        // L_rr⁻¹, dense lower triangular.
        let mut linv = Mat::<f64>::identity(nr, nr);
        if nr > 0 {
            solve_lower_triangular_in_place(
                self.s.as_ref().submatrix(0, 0, nr, nr),
                linv.as_mut(),
                self.par,
            );
        }
        let mut out = Vec::with_capacity(self.terms.len());
        // First term: L₀₀⁻ᵀ(I + W'W)L₀₀⁻¹ with W = L_rr⁻¹ L_r0.
        let mut blocks0 = vec![0.0; self.l0 * k0 * k0];
        let mut g = vec![0.0; nr * k0];
        for l in 0..self.l0 {
            g.iter_mut().for_each(|v| *v = 0.0);
            for idx in self.bptr[l]..self.bptr[l + 1] {
                let r = self.brow[idx] as usize;
                if r >= nr {
                    break;
                }
                for c in 0..k0 {
                    let v = self.vval[idx * k0 + c];
                    for i in r..nr {
                        g[i * k0 + c] += linv[(i, r)] * v;
                    }
                }
            }
            // inner = I + G'G (k₀ × k₀)
            let mut inner = vec![0.0; k0 * k0];
            for a in 0..k0 {
                inner[a * k0 + a] = 1.0;
                for b in 0..k0 {
                    let mut acc = 0.0;
                    for i in 0..nr {
                        acc += g[i * k0 + a] * g[i * k0 + b];
                    }
                    inner[a * k0 + b] += acc;
                }
            }
            // L₀₀⁻¹ explicitly (small), then L⁻ᵀ inner L⁻¹.
            let lblk = &self.l00[l * k0 * k0..(l + 1) * k0 * k0];
            let li = small_lower_inverse(lblk, k0);
            let blk = &mut blocks0[l * k0 * k0..(l + 1) * k0 * k0];
            for a in 0..k0 {
                for b in 0..k0 {
                    let mut acc = 0.0;
                    for i in 0..k0 {
                        for j in 0..k0 {
                            acc += li[i * k0 + a] * inner[i * k0 + j] * li[j * k0 + b];
                        }
                    }
                    blk[a * k0 + b] = acc;
                }
            }
        }
        out.push(blocks0);
        // Later terms: (L_rr⁻¹[:, g])'(L_rr⁻¹[:, g]).
        for t in self.terms.iter().skip(1) {
            let off = t.rest_offset.unwrap_or(0);
            let k = t.k;
            let mut blocks = vec![0.0; t.nlevels * k * k];
            for l in 0..t.nlevels {
                for a in 0..k {
                    for b in 0..k {
                        let ca = off + l * k + a;
                        let cb = off + l * k + b;
                        let mut acc = 0.0;
                        for i in ca.max(cb)..nr {
                            acc += linv[(i, ca)] * linv[(i, cb)];
                        }
                        blocks[(l * k + a) * k + b] = acc;
                    }
                }
            }
            out.push(blocks);
        }
        out
    }

    /// `(R_X'R_X)⁻¹` from the current factor, `p × p` row-major (vcov(β̂) = σ² times this).
    pub fn rx_inverse(&self) -> Vec<f64> {
        let p = self.p;
        let nr = self.nr;
        let l: Vec<f64> = (0..p * p)
            .map(|idx| {
                let (i, j) = (idx / p, idx % p);
                if j <= i {
                    self.s[(nr + i, nr + j)]
                } else {
                    0.0
                }
            })
            .collect();
        let li = small_lower_inverse(&l, p);
        let mut out = vec![0.0; p * p];
        spd_inverse_from_lower_inverse(&li, p, |a, b, v| {
            out[a * p + b] = v;
            out[b * p + a] = v;
        });
        out
    }
}

impl std::fmt::Debug for ProfiledDeviance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfiledDeviance")
            .field("reml", &self.reml)
            .field("n", &self.n)
            .field("p", &self.p)
            .field("terms", &self.terms)
            .field("dense_block", &self.nt)
            .field("evaluations", &self.evaluations)
            .finish_non_exhaustive()
    }
}

/// The first column of `X` whose entries are all equal and non-zero, with that value.
fn constant_column(x: &Mat<f64>) -> Option<(usize, f64)> {
    (0..x.ncols()).find_map(|j| {
        let c = *x.col_as_slice(j).first()?;
        (c != 0.0 && x.col_as_slice(j).iter().all(|&v| v == c)).then_some((j, c))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use multilevel_design::ReTerm;

    /// Deterministic pseudo-random numbers in [0, 1).
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A small crossed design: a vector term (k = 2) with 7 levels, a vector term (k = 2)
    /// with 4 levels and a scalar term with 3 levels; X = [1, x].
    pub(crate) fn design(weights: bool) -> Design {
        design_with(weights, 60, &[(7, 2), (4, 2), (3, 1)])
    }

    pub(crate) fn design_with(weights: bool, n: usize, spec: &[(usize, usize)]) -> Design {
        let mut seed = 7u64;
        let x: Vec<f64> = (0..n).map(|_| lcg(&mut seed) * 4.0).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| 3.0 + 0.5 * x[i] + (i % 7) as f64 * 0.3 + lcg(&mut seed))
            .collect();
        let term = |levels: usize, k: usize, order: usize, seed: &mut u64| ReTerm {
            group: format!("g{levels}"),
            levels: (0..levels).map(|l| format!("L{l}")).collect(),
            refs: (0..n)
                .map(|i| ((i * (order + 3) + i / 5) % levels) as u32)
                .collect(),
            k,
            z: (0..n)
                .flat_map(|i| {
                    let mut row = vec![1.0];
                    for c in 1..k {
                        row.push(if c == 1 {
                            x[i] + lcg(seed) * 0.1
                        } else {
                            lcg(seed) * 2.0 - 1.0
                        });
                    }
                    row
                })
                .collect(),
            col_names: (0..k).map(|c| format!("c{c}")).collect(),
            formula_order: order,
        };
        let terms = spec
            .iter()
            .enumerate()
            .map(|(o, &(levels, k))| term(levels, k, o, &mut seed))
            .collect();
        Design {
            formula: "test".into(),
            response_name: "y".into(),
            y,
            trials: None,
            x: Mat::from_fn(n, 2, |i, j| if j == 0 { 1.0 } else { x[i] }),
            x_names: vec!["(Intercept)".into(), "x".into()],
            x_assign: vec![0, 1],
            fixed_term_labels: vec!["(Intercept)".into(), "x".into()],
            dropped_columns: vec![],
            terms,
            weights: weights.then(|| (0..n).map(|i| 0.5 + (i % 3) as f64).collect()),
            offset: None,
            n_dropped_missing: 0,
            data_name: "test".into(),
        }
    }

    /// The criteria computed the slow way: dense Z, dense Λ, dense Cholesky of M(θ).
    fn brute_force(d: &Design, theta: &[f64]) -> (f64, f64) {
        let n = d.nobs();
        let p = d.p();
        let q = d.q();
        let w: Vec<f64> = d.weights.clone().unwrap_or_else(|| vec![1.0; n]);
        // Z Λ, column by column.
        let mut zl = Mat::<f64>::zeros(n, q);
        let mut off = 0;
        let mut toff = 0;
        for t in &d.terms {
            let k = t.k;
            let mut lam = vec![0.0; k * k];
            let mut idx = toff;
            for c in 0..k {
                for r in c..k {
                    lam[r * k + c] = theta[idx];
                    idx += 1;
                }
            }
            for i in 0..n {
                let l = t.refs[i] as usize;
                for c in 0..k {
                    let mut acc = 0.0;
                    for r in 0..k {
                        acc += t.z[i * k + r] * lam[r * k + c];
                    }
                    zl[(i, off + l * k + c)] = acc;
                }
            }
            off += t.q();
            toff += t.n_theta();
        }
        let m = q + p + 1;
        let row = |i: usize, c: usize| -> f64 {
            let sw = w[i].sqrt();
            sw * if c < q {
                zl[(i, c)]
            } else if c < q + p {
                d.x[(i, c - q)]
            } else {
                d.y[i]
            }
        };
        let mut big = Mat::<f64>::zeros(m, m);
        for a in 0..m {
            for b in 0..m {
                big[(a, b)] = (0..n).map(|i| row(i, a) * row(i, b)).sum::<f64>()
                    + if a == b && a < q { 1.0 } else { 0.0 };
            }
        }
        let l = big.llt(faer::Side::Lower).unwrap();
        let lm = l.L();
        let ld_l2: f64 = (0..q).map(|i| 2.0 * lm[(i, i)].ln()).sum();
        let ld_rx2: f64 = (q..q + p).map(|i| 2.0 * lm[(i, i)].ln()).sum();
        let pwrss = lm[(m - 1, m - 1)].powi(2);
        let ldw: f64 = w.iter().map(|v| v.ln()).sum();
        let (nf, npf) = (n as f64, (n - p) as f64);
        let two_pi = 2.0 * std::f64::consts::PI;
        let ml = ld_l2 - ldw + nf * (1.0 + (two_pi * pwrss / nf).ln());
        let reml = ld_l2 + ld_rx2 - ldw + npf * (1.0 + (two_pi * pwrss / npf).ln());
        (reml, ml)
    }

    #[test]
    fn blocked_objective_equals_dense_computation() {
        for weights in [false, true] {
            let d = design(weights);
            let mut dev = ProfiledDeviance::new(&d, true);
            for theta in [
                vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
                vec![0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9],
                vec![0.0, 0.5, 0.2, 0.3, -0.4, 0.0, 2.0],
            ] {
                let (reml, ml) = brute_force(&d, &theta);
                dev.set_reml(true);
                let ours_reml = dev.objective(&theta);
                dev.set_reml(false);
                let ours_ml = dev.objective(&theta);
                assert!(
                    (ours_reml - reml).abs() < 1e-9 * reml.abs(),
                    "{ours_reml} vs {reml}"
                );
                assert!((ours_ml - ml).abs() < 1e-9 * ml.abs(), "{ours_ml} vs {ml}");
            }
        }
    }

    #[test]
    fn dense_off_diagonal_path_and_large_blocks_agree_with_dense_computation() {
        // 40 levels first (scalar), then 16 levels of a vector term: a 35 × 35 dense block,
        // the dense V path and faer's Cholesky.
        let d = design_with(true, 120, &[(40, 1), (16, 2)]);
        let mut dev = ProfiledDeviance::new(&d, false);
        assert!(dev.vdense.is_some());
        let theta = [0.8, 1.1, -0.2, 0.6];
        let (_, ml) = brute_force(&d, &theta);
        let ours = dev.objective(&theta);
        assert!((ours - ml).abs() < 1e-9 * ml.abs(), "{ours} vs {ml}");
    }

    #[test]
    fn two_thread_schur_and_cholesky_equal_the_sequential_ones() {
        // Sparse V with a vector term in the dense block, and a dense V; forcing the parallel
        // path (blocked Cholesky, column blocks on the rayon pool) on these small blocks.
        for spec in [&[(90, 1), (60, 2), (30, 1)][..], &[(40, 1), (16, 2)][..]] {
            let d = design_with(true, 400, spec);
            let mut dev = ProfiledDeviance::new(&d, false);
            let theta: Vec<f64> = (0..d.n_theta()).map(|i| 0.9 - 0.15 * i as f64).collect();
            dev.tile_width = 7;
            let seq = dev.objective(&theta);
            dev.parallel_min = 0;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            let par = pool.install(|| dev.objective(&theta));
            assert!((seq - par).abs() < 1e-10 * seq.abs(), "{seq} vs {par}");
            let (_, ml) = brute_force(&d, &theta);
            assert!((par - ml).abs() < 1e-9 * ml.abs(), "{par} vs {ml}");
        }
    }

    #[test]
    fn tiled_sparse_downdate_equals_untiled() {
        let d = design_with(false, 400, &[(90, 1), (60, 2), (30, 1)]);
        let mut dev = ProfiledDeviance::new(&d, true);
        assert!(dev.vdense.is_none());
        let theta = [0.8, 1.1, -0.2, 0.6, 0.3];
        dev.tile_width = dev.nt;
        let whole = dev.objective(&theta);
        dev.tile_width = 7;
        let tiled = dev.objective(&theta);
        assert!(
            (whole - tiled).abs() < 1e-10 * whole.abs(),
            "{whole} vs {tiled}"
        );
        let (reml, _) = brute_force(&d, &theta);
        assert!(
            (whole - reml).abs() < 1e-9 * reml.abs(),
            "{whole} vs {reml}"
        );
    }

    #[test]
    fn sparse_cross_products_and_tile_index_give_the_dense_numbers() {
        // Crossed scalar terms (Z_j'Z_j diagonal) and a vector term in the dense block: A_rr is
        // kept sparse; S formed from it, tiled or not, must give the numbers of the dense copy
        // bit for bit (on one thread, and on two: the two Cholesky kernels differ by rounding).
        for spec in [
            &[(200, 1), (150, 1), (3, 1)][..],
            &[(200, 1), (100, 2), (3, 1)][..],
        ] {
            let d = design_with(true, 600, spec);
            let mut dev = ProfiledDeviance::new(&d, false);
            assert!(dev.a_rest_sparse.is_some() && dev.vdense.is_none());
            let theta: Vec<f64> = (0..d.n_theta()).map(|i| 0.9 - 0.15 * i as f64).collect();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            let (mut seq, mut par) = (Vec::new(), Vec::new());
            for sparse in [true, false] {
                if !sparse {
                    dev.a_rest_sparse = None;
                }
                for width in [dev.nt, 7, 16] {
                    dev.tile_width = width;
                    dev.parallel_min = PARALLEL_MIN;
                    for small in [true, false] {
                        dev.small_paths = small;
                        seq.push(dev.objective(&theta).to_bits());
                    }
                    dev.parallel_min = 0;
                    par.push(pool.install(|| dev.objective(&theta)).to_bits());
                }
            }
            assert!(seq.iter().all(|r| *r == seq[0]) && par.iter().all(|r| *r == par[0]));
            let (seq, par) = (f64::from_bits(seq[0]), f64::from_bits(par[0]));
            assert!((seq - par).abs() < 1e-10 * seq.abs(), "{seq} vs {par}");
            let (_, ml) = brute_force(&d, &theta);
            assert!((seq - ml).abs() < 1e-9 * ml.abs(), "{seq} vs {ml}");
        }
    }

    #[test]
    fn tile_index_lists_each_level_once_per_block_it_reaches() {
        // Level 0 has rows 1, 2, 9; level 1 rows 3, 4; level 2 none; level 3 row 9.
        let bptr = [0, 3, 5, 5, 6];
        let brow = [1u32, 2, 9, 3, 4, 9];
        let idx = TileIndex::build(10, 4, &bptr, &brow);
        let tiles: Vec<Vec<(usize, usize)>> = (0..3).map(|t| idx.tile(t).collect()).collect();
        assert_eq!(tiles[0], vec![(0, 0), (1, 3)]);
        assert_eq!(tiles[1], vec![(1, 4)]);
        assert_eq!(tiles[2], vec![(0, 2), (3, 5)]);
        assert!(idx.fits(4) && !idx.fits(5));
    }

    #[test]
    fn objective_is_invariant_to_the_sign_of_lambda_columns() {
        let d = design(false);
        let mut dev = ProfiledDeviance::new(&d, false);
        let a = dev.objective(&[0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9]);
        // Flip the sign of the first column of the first term's Λ (elements 0 and 1).
        let b = dev.objective(&[-0.7, 0.3, 0.4, 1.3, 0.2, 0.5, 0.9]);
        assert!((a - b).abs() < 1e-9 * a.abs());
    }

    #[test]
    fn set_response_matches_a_fresh_structure() {
        let d = design(true);
        let mut dev = ProfiledDeviance::new(&d, true);
        let y2: Vec<f64> = d.y.iter().map(|v| v * 1.5 - 2.0).collect();
        dev.set_response(&d, &y2);
        let mut d2 = d.clone();
        d2.y = y2;
        let mut fresh = ProfiledDeviance::new(&d2, true);
        let theta = [0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9];
        assert_eq!(dev.objective(&theta), fresh.objective(&theta));
    }
}
