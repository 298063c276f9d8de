//! The Kenward–Roger pieces (`Φ`, `P_r`, `Q_rs` and the information) through `q × q` and
//! `p × p` matrices only, never `n × n` (Woodbury identity). The derivation is in the module
//! documentation of `kenward_roger.rs`; the notation here follows it.

use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;
use multilevel_design::Design;

use crate::InferenceError;
use crate::kenward_roger::{Pieces, sigma_blocks};

/// Largest number of random effects `q` for which the structured path forms its dense
/// `q × q` matrices (about five of them, 8 · q² bytes each).
pub(crate) const STRUCTURED_MAX_Q: usize = 8000;

/// The columns of `Z` (in lme4's order: term by term, level by level, element by element)
/// with the blocks of `Λ`.
struct Layout {
    /// First column of the `k × k` diagonal block of `Λ` that column `c` belongs to.
    block_start: Vec<usize>,
    /// Element `a` (0 ≤ a < k) of column `c` within its block.
    elem: Vec<usize>,
    /// Term of column `c`.
    term: Vec<usize>,
    /// `Λ_j` of each term, row-major `k_j × k_j`, lower triangular.
    lam: Vec<Vec<f64>>,
    /// `k_j` of each term.
    k: Vec<usize>,
    /// First column of each term.
    off: Vec<usize>,
}

impl Layout {
    fn new(design: &Design, lams: Vec<Vec<f64>>) -> Self {
        let q = design.q();
        let mut block_start = Vec::with_capacity(q);
        let mut elem = Vec::with_capacity(q);
        let mut term = Vec::with_capacity(q);
        let mut off = Vec::with_capacity(design.terms.len());
        let mut start = 0;
        for (t, tm) in design.terms.iter().enumerate() {
            off.push(start);
            for l in 0..tm.nlevels() {
                for a in 0..tm.k {
                    block_start.push(start + l * tm.k);
                    elem.push(a);
                    term.push(t);
                }
            }
            start += tm.q();
        }
        Layout {
            block_start,
            elem,
            term,
            lam: lams,
            k: design.terms.iter().map(|t| t.k).collect(),
            off,
        }
    }

    /// `Λ[c, d]` (zero outside the diagonal blocks).
    fn lam_at(&self, c: usize, d: usize) -> f64 {
        if self.block_start[c] != self.block_start[d] {
            return 0.0;
        }
        let t = self.term[c];
        self.lam[t][self.elem[c] * self.k[t] + self.elem[d]]
    }

    /// `out = Λ v` for a vector of length `q`.
    fn lam_times(&self, v: &[f64], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate() {
            let t = self.term[c];
            let k = self.k[t];
            let a = self.elem[c];
            let s = self.block_start[c];
            let row = &self.lam[t][a * k..a * k + a + 1];
            *o = row.iter().zip(&v[s..=s + a]).map(|(l, x)| l * x).sum();
        }
    }
}

/// A symmetric sparse `q × q` matrix stored by rows (`M = Z'Z`).
struct SparseSym {
    rows: Vec<Vec<(usize, f64)>>,
}

impl SparseSym {
    /// `out = M v`.
    fn times(&self, v: &[f64], out: &mut [f64]) {
        for (o, row) in out.iter_mut().zip(&self.rows) {
            *o = row.iter().map(|&(j, m)| m * v[j]).sum();
        }
    }

    fn nnz(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// `Z'Z` (sparse), `Z'X` (`q × p`) and `X'X` from the per-row term matrices.
fn cross_products(design: &Design, layout: &Layout) -> (SparseSym, Mat<f64>, Mat<f64>) {
    let n = design.nobs();
    let p = design.p();
    let q = layout.block_start.len();
    let x = &design.x;
    let mut trip: Vec<(usize, usize, f64)> = Vec::new();
    let mut ztx = Mat::<f64>::zeros(q, p);
    let mut cols: Vec<(usize, f64)> = Vec::new();
    for i in 0..n {
        cols.clear();
        for (t, tm) in design.terms.iter().enumerate() {
            let k = tm.k;
            let base = layout.off[t] + tm.refs[i] as usize * k;
            for a in 0..k {
                let z = tm.z[i * k + a];
                if z != 0.0 {
                    cols.push((base + a, z));
                }
            }
        }
        for &(c, zc) in &cols {
            for &(d, zd) in &cols {
                trip.push((c, d, zc * zd));
            }
            for j in 0..p {
                ztx[(c, j)] += zc * x[(i, j)];
            }
        }
    }
    trip.sort_unstable_by_key(|&(c, d, _)| (c, d));
    let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); q];
    for (c, d, v) in trip {
        let row = &mut rows[c];
        match row.last_mut() {
            Some(last) if last.0 == d => last.1 += v,
            _ => row.push((d, v)),
        }
    }
    let xtx = x.transpose() * x;
    (SparseSym { rows }, ztx, xtx)
}

/// One variance parameter of a random-effects term as `G_r = Z D_r Z'`: the nonzero
/// entries `(i, j, w)` of `D_r` (`I_ℓ ⊗ (E_ab + E_ba)`, or `I_ℓ ⊗ E_aa`, with `w = 1` for
/// the unstructured term; `I_ℓ ⊗ S_r` for a structured term's `S_r`).
fn d_patterns(
    design: &Design,
    layout: &Layout,
    bases: &[Option<Vec<Vec<f64>>>],
) -> Vec<Vec<(usize, usize, f64)>> {
    let mut out = Vec::new();
    for (t, tm) in design.terms.iter().enumerate() {
        let k = tm.k;
        if let Some(Some(list)) = bases.get(t) {
            for basis in list {
                let mut pat = Vec::new();
                for l in 0..tm.nlevels() {
                    let s = layout.off[t] + l * k;
                    for a in 0..k {
                        for b in 0..k {
                            let w = basis[a * k + b];
                            if w != 0.0 {
                                pat.push((s + a, s + b, w));
                            }
                        }
                    }
                }
                out.push(pat);
            }
            continue;
        }
        for a in 0..k {
            for b in a..k {
                let mut pat = Vec::with_capacity(tm.nlevels() * if a == b { 1 } else { 2 });
                for l in 0..tm.nlevels() {
                    let s = layout.off[t] + l * k;
                    pat.push((s + a, s + b, 1.0));
                    if a != b {
                        pat.push((s + b, s + a, 1.0));
                    }
                }
                out.push(pat);
            }
        }
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `p × p` matrix `Σ_{(i,j,w)} w a[i,:]' b[j,:]` over the pattern.
fn pattern_cross(pat: &[(usize, usize, f64)], a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    let p = a.ncols();
    let mut out = Mat::<f64>::zeros(p, p);
    for &(i, j, w) in pat {
        for u in 0..p {
            let ai = w * a[(i, u)];
            for v in 0..p {
                out[(u, v)] += ai * b[(j, v)];
            }
        }
    }
    out
}

/// `Φ`, `P_r`, `Q_rs` and the information through `q × q` matrices (see the module
/// documentation of `kenward_roger.rs`, "Structured computation").
pub(crate) fn structured_pieces(
    design: &Design,
    theta: &[f64],
    sigma2: f64,
) -> Result<Pieces, InferenceError> {
    let n = design.nobs();
    let p = design.p();
    let q = design.q();
    if q > STRUCTURED_MAX_Q {
        return Err(InferenceError::Mismatch(format!(
            "Kenward–Roger needs dense {q} × {q} matrices for this model's {q} random effects \
             (limit {STRUCTURED_MAX_Q}); hint: use Satterthwaite"
        )));
    }
    let blocks = sigma_blocks(design, theta, sigma2)?;
    let bases: Vec<Option<Vec<Vec<f64>>>> = blocks.iter().map(|b| b.bases.clone()).collect();
    let layout = Layout::new(design, blocks.into_iter().map(|b| b.lam).collect());
    let (m, ztx, xtx) = cross_products(design, &layout);

    // A = Λ'MΛ + I.
    let mut a = Mat::<f64>::identity(q, q);
    for (i, row) in m.rows.iter().enumerate() {
        let bi = layout.block_start[i];
        for &(j, v) in row {
            let bj = layout.block_start[j];
            for c in bi..=i {
                let lic = layout.lam_at(i, c);
                if lic == 0.0 {
                    continue;
                }
                for d in bj..=j {
                    let ljd = layout.lam_at(j, d);
                    if ljd != 0.0 {
                        a[(c, d)] += lic * v * ljd;
                    }
                }
            }
        }
    }
    let a_inv = a
        .llt(faer::Side::Lower)
        .map_err(|_| InferenceError::Numerical("Λ'Z'ZΛ + I is not positive definite".into()))?
        .inverse();
    drop(a);
    let tr_a_inv2 = a_inv.squared_norm_l2();

    // H = Λ A⁻¹ Λ' (A⁻¹ symmetric: H = Λ (Λ A⁻¹)').
    let mut h = Mat::<f64>::zeros(q, q);
    {
        let mut s = Mat::<f64>::zeros(q, q);
        for j in 0..q {
            layout.lam_times(a_inv.col_as_slice(j), s.col_as_slice_mut(j));
        }
        drop(a_inv);
        let st = s.transpose().to_owned();
        drop(s);
        for j in 0..q {
            layout.lam_times(st.col_as_slice(j), h.col_as_slice_mut(j));
        }
    }
    // C = H Z'X, G = H M (so that V⁻¹Z = Z(I − G)).
    let c_mat = &h * &ztx;
    let mut g = Mat::<f64>::zeros(q, q);
    for (j, row) in m.rows.iter().enumerate() {
        let col = g.col_as_slice_mut(j);
        for &(i, v) in row {
            for (o, hv) in col.iter_mut().zip(h.col_as_slice(i)) {
                *o += v * hv;
            }
        }
    }
    drop(h);
    // K' = Z'V⁻¹Z = M − M G.
    let mut kp = Mat::<f64>::zeros(q, q);
    for j in 0..q {
        let mut tmp = vec![0.0; q];
        m.times(g.col_as_slice(j), &mut tmp);
        let col = kp.col_as_slice_mut(j);
        for (o, t) in col.iter_mut().zip(&tmp) {
            *o = -t;
        }
        for &(i, v) in &m.rows[j] {
            col[i] += v;
        }
    }
    // Z'V⁻¹X = Z'X − M C, X'V⁻¹X = X'X − (Z'X)'C.
    let mut zvx = ztx.clone();
    for u in 0..p {
        let mut tmp = vec![0.0; q];
        m.times(c_mat.col_as_slice(u), &mut tmp);
        for (o, t) in zvx.col_as_slice_mut(u).iter_mut().zip(&tmp) {
            *o -= t;
        }
    }
    let xvx = &xtx - ztx.transpose() * &c_mat;
    // V⁻¹X = X − Z C: Z'V⁻²X = Z'V⁻¹X − K'C, X'V⁻²X = X'V⁻¹X − (Z'V⁻¹X)'C,
    // X'V⁻³X = X'V⁻¹X − C'(Z'V⁻¹X) − (Z'V⁻¹X)'C + C'K'C.
    let kc = &kp * &c_mat;
    let zv2x = &zvx - &kc;
    let zvx_t_c = zvx.transpose() * &c_mat;
    let xv2x = &xvx - &zvx_t_c;
    let xv3x = &xvx - zvx_t_c.transpose() - &zvx_t_c + c_mat.transpose() * &kc;
    let tr_v2 = n as f64 - q as f64 + tr_a_inv2;

    // Scale to Σ = σ²V.
    let s1 = 1.0 / sigma2;
    let s2 = s1 * s1;
    let k_mat = &kp * s1;
    let u = &zvx * s1;
    let u2 = &zv2x * s2;
    let xsx = &xvx * s1;
    let x2 = &xv2x * s2;
    let x3 = &xv3x * (s2 * s1);
    let t2 = tr_v2 * s2;
    // Z'Σ⁻²Z at (j, i) = (K'(I − G))[j, i] / σ⁴.
    let k2_at = |j: usize, i: usize| -> f64 {
        (kp[(j, i)] - dot(kp.col_as_slice(j), g.col_as_slice(i))) * s2
    };

    let phi = xsx
        .llt(faer::Side::Lower)
        .map_err(|_| InferenceError::Numerical("X'Σ⁻¹X is not positive definite".into()))?
        .inverse();

    let pats = d_patterns(design, &layout, &bases);
    let nr = pats.len();
    let ng = nr + 1;
    let mut ps: Vec<Mat<f64>> = pats.iter().map(|pat| pattern_cross(pat, &u, &u)).collect();
    ps.push(x2);
    // K D_s U for each random parameter s (q × p).
    let kdu: Vec<Mat<f64>> = pats
        .iter()
        .map(|pat| {
            let mut out = Mat::<f64>::zeros(q, p);
            for &(kk, l, w) in pat {
                let kcol = k_mat.col_as_slice(kk);
                for v in 0..p {
                    let ulv = w * u[(l, v)];
                    if ulv != 0.0 {
                        for (o, kv) in out.col_as_slice_mut(v).iter_mut().zip(kcol) {
                            *o += kv * ulv;
                        }
                    }
                }
            }
            out
        })
        .collect();
    let mut qs: Vec<Option<Mat<f64>>> = vec![None; ng * ng];
    let mut info = vec![0.0; ng * ng];
    for r in 0..nr {
        for s in r..nr {
            // Q_rs = U'D_r K D_s U; tr(Σ⁻¹G_rΣ⁻¹G_s) = tr(D_r K D_s K).
            qs[r * ng + s] = Some(pattern_cross(&pats[r], &u, &kdu[s]));
            let mut tr = 0.0;
            for &(i, j, wr) in &pats[r] {
                for &(kk, l, ws) in &pats[s] {
                    tr += wr * ws * (k_mat[(j, kk)] * k_mat[(l, i)]);
                }
            }
            info[r * ng + s] = tr;
        }
        // Q_re = U'D_r Z'Σ⁻²X; tr(Σ⁻¹G_rΣ⁻¹) = tr(D_r Z'Σ⁻²Z).
        qs[r * ng + nr] = Some(pattern_cross(&pats[r], &u, &u2));
        info[r * ng + nr] = pats[r].iter().map(|&(i, j, w)| w * k2_at(j, i)).sum();
    }
    qs[nr * ng + nr] = Some(x3);
    info[nr * ng + nr] = t2;
    for r in 0..ng {
        for s in 0..r {
            info[r * ng + s] = info[s * ng + r];
        }
    }
    // Sanity: M must have been non-empty when there are random effects.
    if q > 0 && m.nnz() == 0 {
        return Err(InferenceError::Mismatch(
            "the random-effects model matrix Z is all zero".into(),
        ));
    }
    Ok(Pieces { phi, ps, qs, info })
}
