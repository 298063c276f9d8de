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

use faer::dyn_stack::MemBuffer;
use faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch;
use faer::{Mat, Par};
use multilevel_design::Design;

use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::schur::SchurParts;
use crate::blocks::sparse::{SparseRest, TileIndex};
use crate::blocks::{dense, levels, rows, schur};
use crate::cross::constant_column;

/// Size of the dense block from which its formation and Cholesky factor use two threads
/// (below it the thread hand-offs cost more than they save on the 2-core machine).
pub(crate) const PARALLEL_MIN: usize = 640;

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
    pub(crate) reml: bool,
    pub(crate) n: usize,
    pub(crate) p: usize,
    pub(crate) terms: Vec<TermShape>,
    /// Random effects of the first term, `k₀ · ℓ₀`.
    pub(crate) k0: usize,
    pub(crate) l0: usize,
    /// Random effects after the first term.
    pub(crate) nr: usize,
    /// Size of the dense block, `nr + p + 1`.
    pub(crate) nt: usize,
    /// `Z₀'Z₀` per level, `k₀ × k₀` row-major blocks.
    pub(crate) a00: Vec<f64>,
    /// Observations sorted by level of the first term, and where each level starts.
    pub(crate) level_order: Vec<usize>,
    pub(crate) level_start: Vec<usize>,
    /// Per level of the first term, the rows of `[Z_r X y]'Z₀` that are structurally non-zero.
    pub(crate) bptr: Vec<usize>,
    pub(crate) brow: Vec<u32>,
    /// `brow.len() × k₀` values of `[Z_r X y]'Z₀`, row-major.
    pub(crate) bval: Vec<f64>,
    /// `[Z_r X y]'[Z_r X y]`, `nt × nt`, symmetric (both triangles stored).
    pub(crate) a_rest: Mat<f64>,
    /// The non-zeros of `a_rest` when there are few (see [`SparseRest`]); `S` is then formed
    /// from them.
    pub(crate) a_rest_sparse: Option<SparseRest>,
    /// Levels of the first term reaching into each column block of `S` (sparse downdate),
    /// rebuilt when the block width or the pattern (`accumulate`) changes.
    pub(crate) tile_index: TileIndex,
    pub(crate) rest_rows: Vec<RestRow>,
    /// Whether every later term is scalar (then `Λᵣ` is diagonal).
    pub(crate) rest_scalar: bool,
    pub(crate) log_det_w: f64,
    /// A constant column `(j, c)` of `X` (the intercept), if any. The response is centred
    /// before the cross products are formed (`y − m`, with `m` its weighted mean), which leaves
    /// the criterion unchanged (the shift is absorbed by `β_j += m / c`) but keeps `y'y` small,
    /// so `r²`, found by subtraction inside the Cholesky factor, keeps its digits on large data.
    pub(crate) const_col: Option<(usize, f64)>,
    /// The shift `m` applied to the response.
    pub(crate) y_shift: f64,
    // ---- workspace, overwritten by every evaluation ----
    /// Λ of each term, `k × k` row-major lower triangular.
    pub(crate) lambda: Vec<Vec<f64>>,
    /// `L₀₀`, one `k₀ × k₀` row-major lower-triangular block per level.
    pub(crate) l00: Vec<f64>,
    /// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ`, same layout as `bval`.
    pub(crate) vval: Vec<f64>,
    /// The dense block; after an evaluation its lower triangle holds `L_S`.
    pub(crate) s: Mat<f64>,
    /// `V` stored densely (`nt × k₀ℓ₀`) when `[Z_r X y]'Z₀` is dense enough that one
    /// matrix product beats the level-by-level sparse downdate.
    pub(crate) vdense: Option<Mat<f64>>,
    /// Diagonal of Λᵣ (then 1 for the X and y rows) when every later term is scalar.
    pub(crate) rest_scale: Vec<f64>,
    /// Width of the column blocks in which `S` is formed (`nt` when `S` is small).
    pub(crate) tile_width: usize,
    /// Size of the dense block from which two threads are used ([`PARALLEL_MIN`]).
    pub(crate) parallel_min: usize,
    /// Work from which the gradient's first-term pass is split into chunks
    /// ([`crate::gradient::GRADIENT_CHUNK_WORK`]).
    pub(crate) gradient_chunk_work: usize,
    /// Scratch for small per-level blocks (`2 k_max²`).
    pub(crate) small: Vec<f64>,
    /// Row-major copy of a tiny dense block while it is factored.
    pub(crate) tiny: Vec<f64>,
    pub(crate) mem: MemBuffer,
    pub(crate) par: Par,
    pub(crate) evaluations: usize,
    /// Gradient evaluations (each also counts as an objective evaluation).
    pub(crate) gradient_evaluations: usize,
    /// Gradient workspace: `S⁻¹` on the leading block (see [`gradient`]).
    pub(crate) sinv: Mat<f64>,
    /// Gradient workspace: `L_S⁻¹` on the leading block (scalar-term shortcut).
    pub(crate) linv: Mat<f64>,
    /// Scratch of the dense inverse.
    pub(crate) grad_mem: Option<MemBuffer>,
    /// Workspace of the general gradient's dense passes ([`gradient`]).
    pub(crate) dense_work: crate::gradient::DenseWork,
    /// Workspace of the single-term gradient ([`single`]).
    pub(crate) single: crate::fast::single::SingleWork,
    /// Workspace of the small all-scalar-terms gradient ([`scalar`]).
    pub(crate) scalar: crate::fast::scalar::ScalarWork,
    /// θ and summary of the last successful factorization, while the factor in the workspace
    /// is still that one (cleared when a factorization starts or the cross products change).
    pub(crate) factored_theta: Vec<f64>,
    pub(crate) factored: Option<FactorSummary>,
    /// Whether the small-model fast paths ([`single`], [`scalar`]) may be used (tests turn
    /// them off to compare with the general path).
    pub(crate) small_paths: bool,
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
            gradient_chunk_work: crate::gradient::GRADIENT_CHUNK_WORK,
            small: vec![0.0; 2 * kmax * kmax],
            tiny: Vec::new(),
            mem,
            par,
            evaluations: 0,
            gradient_evaluations: 0,
            sinv: Mat::zeros(0, 0),
            linv: Mat::zeros(0, 0),
            grad_mem: None,
            dense_work: crate::gradient::DenseWork::default(),
            single: crate::fast::single::SingleWork::default(),
            scalar: crate::fast::scalar::ScalarWork::default(),
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

    /// Fill `Λ` of every term from θ (column-major lower triangle per term, lme4's layout).
    pub(crate) fn set_lambda(&mut self, theta: &[f64]) {
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

    pub(crate) fn criterion(&self, f: &FactorSummary) -> f64 {
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
    pub(crate) fn two_threads(&self, size: usize) -> bool {
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
    pub(crate) fn set_rest_scale(&mut self) {
        let d = &mut self.rest_scale;
        d.clear();
        d.resize(self.nt, 1.0);
        for (r, rr) in self.rest_rows.iter().enumerate().take(self.nr) {
            d[r] = self.lambda[rr.term as usize][0];
        }
    }

    /// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ` per level of the first term (same layout as `bval`; also into
    /// the dense copy when there is one).
    pub(crate) fn compute_v(&mut self, tmp: &mut [f64]) {
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
    pub(crate) fn form_schur(&mut self) {
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
