//! The general kernels assembling the blocks of `M(θ)` below the first term from the cross
//! products at θ: the sparse rows `V` and the dense Schur block `S` (the kernels are in
//! [`crate::blocks`]).

use crate::blocks::rows;
use crate::blocks::schur::{self, SchurParts};
use crate::blocks::sparse::TileIndex;
use crate::pls::Pls;

impl Pls {
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
