//! The sparse rows of the blocked factor below the first term: `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ`, one
//! short list of rows per level of the first term (the structurally non-zero rows of
//! `[Z_r X y]'Z₀`), `k₀` values per row, row-major. They downdate the dense block
//! (`S −= VV'`, see [`crate::blocks::schur`]).

use faer::Mat;

use crate::blocks::layout::{RestRow, TermShape};
use crate::blocks::small::{level_mix_into, rows_times_into};

/// The read-only inputs of [`compute_v`].
pub(crate) struct VInputs<'a> {
    /// Columns per level of the first term.
    pub k0: usize,
    /// Levels of the first term.
    pub l0: usize,
    /// Start of each level's rows in `brow` (`l0 + 1` values).
    pub bptr: &'a [usize],
    /// Rows of the rest block, ascending within each level.
    pub brow: &'a [u32],
    /// `[Z_r X y]'Z₀` on the pattern, `brow.len() × k₀` row-major.
    pub bval: &'a [f64],
    /// Origin of each row of the rest block.
    pub rest_rows: &'a [RestRow],
    /// Shapes of the terms.
    pub terms: &'a [TermShape],
    /// `Λ` of each term (`k × k` row-major lower triangular).
    pub lambda: &'a [Vec<f64>],
    /// `L₀₀`, one `k₀ × k₀` block per level.
    pub l00: &'a [f64],
}

/// `V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ` per level of the first term into `vval` (same layout as `bval`;
/// also into the dense copy `vdense`, `nt × k₀ℓ₀`, when there is one). `tmp` is scratch of at
/// least `2 k₀²`.
pub(crate) fn compute_v(
    inp: &VInputs<'_>,
    vval: &mut [f64],
    vdense: Option<&mut Mat<f64>>,
    tmp: &mut [f64],
) {
    match inp.k0 {
        2 => compute_v_k::<2>(inp, vval, vdense, tmp),
        3 => compute_v_k::<3>(inp, vval, vdense, tmp),
        4 => compute_v_k::<4>(inp, vval, vdense, tmp),
        5 => compute_v_k::<5>(inp, vval, vdense, tmp),
        6 => compute_v_k::<6>(inp, vval, vdense, tmp),
        7 => compute_v_k::<7>(inp, vval, vdense, tmp),
        8 => compute_v_k::<8>(inp, vval, vdense, tmp),
        _ => compute_v_k::<0>(inp, vval, vdense, tmp),
    }
}

/// [`compute_v`] with `k₀ = K0` known at compile time (so the loops over a row's `k₀` values
/// become straight vector code), or `K0 = 0` for any `k₀`. Same arithmetic whatever `K0`.
fn compute_v_k<const K0: usize>(
    inp: &VInputs<'_>,
    vval: &mut [f64],
    mut vdense: Option<&mut Mat<f64>>,
    tmp: &mut [f64],
) {
    let k0 = if K0 == 0 { inp.k0 } else { K0 };
    for l in 0..inp.l0 {
        let (start, end) = (inp.bptr[l], inp.bptr[l + 1]);
        // Row mixing by Λⱼ' for rows of later vector terms; scalar scaling otherwise.
        let mut idx = start;
        while idx < end {
            let r = inp.brow[idx] as usize;
            let rr = inp.rest_rows[r];
            if rr.term == u32::MAX {
                vval[idx * k0..(idx + 1) * k0].copy_from_slice(&inp.bval[idx * k0..(idx + 1) * k0]);
                idx += 1;
                continue;
            }
            let lam = &inp.lambda[rr.term as usize];
            let k = inp.terms[rr.term as usize].k;
            if k == 1 {
                let d = lam[0];
                for (o, b) in vval[idx * k0..(idx + 1) * k0]
                    .iter_mut()
                    .zip(&inp.bval[idx * k0..(idx + 1) * k0])
                {
                    *o = d * b;
                }
                idx += 1;
                continue;
            }
            // A whole group of k consecutive rows (all components are present):
            // row ca of the group is Σ_{cc ≥ ca} Λⱼ[cc, ca] · (row cc), k₀ values at a time.
            let src = &inp.bval[idx * k0..(idx + k) * k0];
            let dst = &mut vval[idx * k0..(idx + k) * k0];
            for (ca, out) in dst.chunks_exact_mut(k0).enumerate() {
                out.iter_mut().for_each(|v| *v = 0.0);
                for (cc, row) in src.chunks_exact(k0).enumerate().skip(ca) {
                    let w = lam[cc * k + ca];
                    for (o, b) in out.iter_mut().zip(row) {
                        *o += w * b;
                    }
                }
            }
            idx += k;
        }
        // Column mixing by Λ₀ and the solve with L₀₀: v ← L₀₀⁻¹ (v Λ₀)', i.e. the row
        // v times M = Λ₀ L₀₀⁻ᵀ (one k₀ × k₀ matrix per level, so the rows are independent
        // products instead of dependent triangular solves).
        let lam0 = &inp.lambda[0];
        let lblk = &inp.l00[l * k0 * k0..(l + 1) * k0 * k0];
        if k0 == 1 {
            for v in &mut vval[start..end] {
                *v = *v * lam0[0] / lblk[0];
            }
        } else {
            let (scratch, mix) = tmp.split_at_mut(k0 * k0);
            level_mix_into(lam0, lblk, k0, scratch, mix);
            rows_times_into(&mut vval[start * k0..end * k0], mix, k0, scratch);
        }
        if let Some(vd) = vdense.as_mut() {
            for idx in start..end {
                let r = inp.brow[idx] as usize;
                for c in 0..k0 {
                    vd[(r, l * k0 + c)] = vval[idx * k0 + c];
                }
            }
        }
    }
}
