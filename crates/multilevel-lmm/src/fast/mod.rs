//! Specialisations of the Schur block and the gradient for small models, chosen per evaluation
//! when they apply: one term with `k₀ ≤ 3` ([`single`]) and all-scalar terms ([`scalar`]). Each
//! runs the general path's arithmetic (the same numbers, or equal to rounding where stated)
//! without its per-evaluation allocations.

pub(crate) mod scalar;
pub(crate) mod single;
