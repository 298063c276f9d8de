//! The blocked penalized least-squares system: the cross products of `[Z X y]` in the block
//! layout of [`crate::blocks`] and the blocked Cholesky factor of `M(θ)` they give at a θ.
//!
//! ```text
//!       ⎡ L₀₀            ⎤   first term: block-diagonal, one k₀ × k₀ block per level
//!   L = ⎢ V     L_S      ⎥   V: sparse rows (a short list per level of the first term)
//!       ⎣                ⎦   L_S: the dense block of the later terms, X and y
//! ```
//!
//! [`Pls`] holds the data and the factor; it knows nothing of the criterion (REML or ML) built
//! on it. The kernels that form and read the factor are methods on it in the modules above
//! ([`crate::assemble`], [`crate::solve`], the gradient's passes in `blocks::grad_*` and
//! [`crate::gradient`]), and the block types of [`crate::factorization`] choose among them.

use faer::dyn_stack::MemBuffer;
use faer::{Mat, Par};

use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::sparse::{SparseRest, TileIndex};

/// Size of the dense block from which its formation and Cholesky factor use two threads
/// (below it the thread hand-offs cost more than they save on the 2-core machine).
pub(crate) const PARALLEL_MIN: usize = 640;

/// Multiply–adds from which a dense product of the Schur block (`VV'` when `V` is kept dense,
/// the gradient's `S⁻¹W`) is cut into two halves on two threads even when the block is
/// smaller than [`PARALLEL_MIN`] (kb07_1: 16 and 31 million, for a block of 265).
pub(crate) const PRODUCT_PARALLEL_MIN: usize = 8_000_000;

/// Work (`Σ_j |pattern_j| k₀²`) from which the gradient's first-term levels are split into
/// chunks computed on the rayon threads (kb07's maximal model has ~10⁶).
pub(crate) const GRADIENT_CHUNK_WORK: usize = 200_000;

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

/// The cross products of `[Z X y]` in block layout and the workspace holding the blocked
/// factor of `M(θ)` at the last θ.
pub(crate) struct Pls {
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
    /// ([`GRADIENT_CHUNK_WORK`]).
    pub(crate) gradient_chunk_work: usize,
    /// Scratch for small per-level blocks (`2 k_max²`).
    pub(crate) small: Vec<f64>,
    /// Row-major copy of a tiny dense block while it is factored.
    pub(crate) tiny: Vec<f64>,
    pub(crate) mem: MemBuffer,
    pub(crate) par: Par,
}

impl Pls {
    /// Whether work on a dense block of `size` rows uses two threads: from
    /// [`PARALLEL_MIN`] rows on, unless rayon has a single thread (`RAYON_NUM_THREADS=1`).
    pub(crate) fn two_threads(&self, size: usize) -> bool {
        size >= self.parallel_min && rayon::current_num_threads() > 1
    }

    /// Whether a dense product on a block of `size` rows with `work` multiply–adds is cut into
    /// two halves ([`crate::blocks::dense::syrk_lower_sub`], [`crate::blocks::dense::matmul_halves`]):
    /// from [`PARALLEL_MIN`] rows or [`PRODUCT_PARALLEL_MIN`] multiply–adds on. The choice
    /// depends on the sizes only, so the numbers do not depend on the number of threads; the
    /// halves run on two threads unless rayon has one.
    pub(crate) fn halved_product(&self, size: usize, work: usize) -> bool {
        size >= self.parallel_min || work >= PRODUCT_PARALLEL_MIN
    }
}
