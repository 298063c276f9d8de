//! Block types specialised for small models ([`crate::factorization::PlsBlocks`]): one term
//! with `k₀ ≤ 3` ([`single`]) and all-scalar terms ([`scalar`]). Each runs the general path's
//! arithmetic (the same numbers, or equal to rounding where stated) with fixed-size kernels and
//! without its per-evaluation allocations. [`choose`] picks the block type of a model once,
//! from its layout.

pub(crate) mod scalar;
pub(crate) mod single;

use crate::factorization::{General, PlsBlocks};
use crate::pls::Pls;

/// The block type of a model's layout: [`single::SingleTerm`] for one term with `k₀ ≤ 3`,
/// [`scalar::ScalarTerms`] when every term is scalar, else [`General`] (also whenever `V` is
/// kept dense). The specialisations fall back to the general kernels where they do not apply
/// at an evaluation (two threads on a large dense block; a θ near 0).
pub(crate) fn choose(pls: &Pls) -> Box<dyn PlsBlocks> {
    if pls.vdense.is_some() {
        return Box::new(General::default());
    }
    if pls.nr == 0 {
        match pls.k0 {
            1 => return Box::new(single::SingleTerm::<1>::default()),
            2 => return Box::new(single::SingleTerm::<2>::default()),
            3 => return Box::new(single::SingleTerm::<3>::default()),
            _ => {}
        }
    }
    if pls.k0 == 1 && pls.rest_scalar {
        return Box::new(scalar::ScalarTerms::default());
    }
    Box::new(General::default())
}
