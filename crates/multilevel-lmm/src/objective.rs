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
use faer::{Mat, Par};
use multilevel_design::CovarianceSpec;

use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::sparse::{SparseRest, TileIndex};
use crate::blocks::{dense, levels};

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
    /// Each term's covariance structure (θ → Λ).
    pub(crate) covariances: Vec<CovarianceSpec>,
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
    /// Size of the dense block from which two threads are used ([`crate::assemble::PARALLEL_MIN`]).
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
    /// Gradient workspace: `S⁻¹` on the leading block (see [`crate::gradient`]).
    pub(crate) sinv: Mat<f64>,
    /// Gradient workspace: `L_S⁻¹` on the leading block (scalar-term shortcut).
    pub(crate) linv: Mat<f64>,
    /// Scratch of the dense inverse.
    pub(crate) grad_mem: Option<MemBuffer>,
    /// Workspace of the general gradient's dense passes ([`crate::gradient`]).
    pub(crate) dense_work: crate::gradient::DenseWork,
    /// Workspace of the single-term gradient ([`crate::fast::single`]).
    pub(crate) single: crate::fast::single::SingleWork,
    /// Workspace of the small all-scalar-terms gradient ([`crate::fast::scalar`]).
    pub(crate) scalar: crate::fast::scalar::ScalarWork,
    /// θ and summary of the last successful factorization, while the factor in the workspace
    /// is still that one (cleared when a factorization starts or the cross products change).
    pub(crate) factored_theta: Vec<f64>,
    pub(crate) factored: Option<FactorSummary>,
    /// Whether the small-model fast paths ([`crate::fast`]) may be used (tests turn
    /// them off to compare with the general path).
    pub(crate) small_paths: bool,
}

impl ProfiledDeviance {
    /// Fill `Λ` of every term from its share of θ through the term's covariance structure.
    pub(crate) fn set_lambda(&mut self, theta: &[f64]) {
        let parts = self.terms.iter().zip(&self.covariances);
        for ((shape, cov), lam) in parts.zip(self.lambda.iter_mut()) {
            let cov = cov.as_covariance();
            let th = theta
                .get(shape.theta_offset..shape.theta_offset + cov.n_theta())
                .unwrap_or(&[]);
            cov.lambda_into(th, lam);
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
}
