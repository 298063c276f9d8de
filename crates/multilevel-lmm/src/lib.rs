//! Linear mixed models fitted by REML or ML through the profiled deviance (lme4's `lmer`).
//!
//! - [`objective`]: the profiled REML criterion / ML deviance `d(θ)` from a blocked Cholesky
//!   factor, and its exact gradient (`ProfiledDeviance::gradient`);
//! - [`optimizer`]: one `Optimizer` trait over a `Problem` (BOBYQA, projected L-BFGS,
//!   Nelder–Mead), used for θ here and by the GLMM and the profiles;
//! - [`fit`]: the fit and everything lme4 reports after it;
//! - [`from_cross`]: the PLS system and a fit from given cross products of `[Z X y]` (no rows);
//! - [`results`]: plain-data results shared with the report and inference layers;
//! - [`kernels`]: the block kernels that other crates share (the GLMM's PIRLS).

mod assemble;
pub(crate) mod blocks;
pub mod build;
mod cross;
mod factorization;
mod fast;
pub mod fit;
pub mod from_cross;
mod gradient;
pub mod objective;
pub mod optimizer;
mod pls;
pub mod results;
mod solve;
pub mod summaries;
#[cfg(test)]
mod testing;

/// The kernels of the blocked factor that other crates share, so that a GLMM's penalized
/// least-squares step factors its blocks with the same arithmetic as the LMM's.
pub mod kernels {
    /// The Cholesky kernel of the small dense blocks: `A = LL'` in place on the row-major
    /// `k × k` matrix `a` (lower triangle read, `L` written there, the strict upper triangle
    /// zeroed); `pivot(d_j)` receives each pivot `d_j = L[j, j]²` before its square root.
    /// `false` when a pivot is not positive (or NaN); `a` is then partly overwritten.
    ///
    /// Column `j`: `d_j = A[j, j] − Σ_{m<j} L[j, m]²` and
    /// `L[i, j] = (A[i, j] − Σ_{m<j} L[i, m] L[j, m]) / √d_j`, each sum subtracted term by
    /// term in increasing `m`.
    #[inline]
    pub fn cholesky_in_place(a: &mut [f64], k: usize, pivot: impl FnMut(f64)) -> bool {
        crate::blocks::small::cholesky_in_place(a, k, pivot)
    }
}

pub use build::FitResultBuilder;
pub use fit::{
    AUTO_QUASI_NEWTON_MAX_DENSE_BLOCK, AUTO_QUASI_NEWTON_MIN_THETA, LinearMixedModel, LmmError,
    LmmOptions, OptimizerChoice, lmer,
};
pub use from_cross::{CrossProducts, PairCross, TermCross, fit_cross_products};
pub use objective::ProfiledDeviance;
pub use results::*;
