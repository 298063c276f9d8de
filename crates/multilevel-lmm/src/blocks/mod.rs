//! The block types of the blocked Cholesky factor of `M(θ)` and their kernels.
//!
//! ```text
//!       ⎡ L₀₀            ⎤   first term: block-diagonal, one k₀ × k₀ block per level
//!   L = ⎢ V     L_S      ⎥   V: sparse rows (a short list per level of the first term)
//!       ⎣                ⎦   L_S: the dense block of the later terms, X and y
//! ```
//!
//! - [`layout`]: where the rows come from (terms, groups of the rest block);
//! - [`small`]: row-major `k × k` kernels and the one Cholesky kernel of the small dense blocks;
//! - [`levels`]: the block-diagonal first term (scale/inflate `Λ₀'A₀₀Λ₀ + I`, factor);
//! - [`rows`]: the sparse rows `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ`;
//! - [`schur`]: the dense block `S = Λᵣ'A_rr Λᵣ + I − VV'` (scale/inflate and rank downdate);
//! - [`sparse`]: the sparse `A_rr` and the column-block index of the downdate;
//! - [`dense`]: the factor of `S` (small, faer's, or panel-blocked on two threads) and its
//!   products on two threads;
//!
//! All are leaves: they take slices and matrices, and read neither the PLS system nor the
//! objective, which compose them through the block types of [`crate::factorization`]. The
//! gradient's kernels, which read the PLS system, live beside the gradient in
//! [`crate::gradient`].

pub(crate) mod dense;
pub(crate) mod layout;
pub(crate) mod levels;
pub(crate) mod rows;
pub(crate) mod schur;
pub(crate) mod small;
pub(crate) mod sparse;
