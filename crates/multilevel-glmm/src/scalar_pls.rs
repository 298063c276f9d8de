//! Penalized weighted least squares for models whose random-effects terms are all scalar
//! (random intercepts, `(0 + x | g)` slopes): the inner step of PIRLS for cbpp-like and
//! crossed models, without rebuilding the LMM engine's general cross products at every step.
//!
//! With `A = ZΛ` (Λ diagonal per term), working weights `W` and working response `z`, one step
//! solves
//!
//! ```text
//! [A'WA + I   A'WX] [u]   [A'Wz]
//! [X'WA       X'WX] [β] = [X'Wz]
//! ```
//!
//! (without the β rows when β is fixed). The first term's block `A₀'WA₀ + I` is diagonal,
//! `dₗ = 1 + θ₀² Σ_{i∈ℓ} wᵢ z₀ᵢ²`; with `cₗ` the cross products of its level ℓ with the other
//! columns, the rest is the dense Schur complement `S = [A_r'WA_r + I, A_r'WX; X'WA_r, X'WX]
//! − Σₗ cₗcₗ'/dₗ`, factored as `S = L_S L_S'`. Then `log|L|² = Σₗ log dₗ + log|L_S,rr|²`
//! (the random-effects part only, lme4's `ldL2`), `[u_r; β] = S⁻¹(r_rest − Σₗ cₗ r₀ₗ/dₗ)`
//! and `u₀ₗ = (r₀ₗ − cₗ'[u_r; β]) / dₗ`. These are the numbers of the blocked factor in
//! `multilevel-lmm` (same ordering, same pivots), computed in another order of summation.
//!
//! Both cores: the levels of the first term are cut into fixed chunks (contiguous levels
//! holding about [`chunk_len`] observations; the cut depends on the data only). Each chunk
//! sums its observations — level by level, so its `dₗ`, `r₀ₗ`, `cₗ` are its own — and its
//! share `Σ_{ℓ∈chunk}` of every sum over levels into a private copy of `S` and of the
//! right-hand side; the copies are then added in chunk order. The result is therefore the same
//! to the last bit whether the chunks run on one thread or several.
//!
//! Plain loops only, on purpose: faer's AVX-512 kernels leave the upper halves of the vector
//! registers dirty, and the scalar SSE code that runs next in every PIRLS step (`exp`, `log`
//! of libm, for μ and the deviance) then runs several times slower on Xeons
//! (docs/performance-notes.md).

use multilevel_design::Design;
use multilevel_lmm::kernels::cholesky_in_place;
use rayon::prelude::*;

use crate::solver::{PenalizedSolver, PlsStep, solve_lower_in_place, solve_upper_t_in_place};

/// Largest dense block `S` handled here; bigger problems go to the general engine.
pub(crate) const MAX_DENSE: usize = 400;

/// Fewest observations in a chunk of a per-observation pass.
const MIN_CHUNK: usize = 2048;
/// Most chunks of a per-observation pass.
const MAX_CHUNKS: usize = 16;
/// Fewest observations for which the chunks are handed to the thread pool (below, the
/// wake-up of the pool costs more than it saves; the numbers are the same either way).
const PAR_MIN_OBS: usize = 4096;

/// Observations per chunk of a per-observation pass over `n` observations: a function of `n`
/// only, so that sums reduced chunk by chunk do not depend on the number of threads.
pub(crate) fn chunk_len(n: usize) -> usize {
    n.div_ceil(MAX_CHUNKS).max(MIN_CHUNK)
}

/// Whether a pass over `n` observations runs its chunks on the rayon pool.
pub(crate) fn run_parallel(n: usize) -> bool {
    n >= PAR_MIN_OBS && rayon::current_num_threads() > 1
}

/// The data layout shared (read-only) by the chunks.
#[derive(Debug)]
struct Layout {
    /// Number of fixed effects in the problem (0 when β is fixed).
    p: usize,
    /// Random effects after the first term.
    nr: usize,
    /// Size of `S`, `nr + p`.
    m: usize,
    /// Terms after the first.
    nlater: usize,
    /// Observations sorted by first-term level; level ℓ's are `order[lptr[ℓ]..lptr[ℓ + 1]]`.
    order: Vec<u32>,
    lptr: Vec<usize>,
    /// Per level of the first term, the distinct rest random-effect columns it touches
    /// (sorted), `ccol[cptr[ℓ]..cptr[ℓ + 1]]`.
    cptr: Vec<usize>,
    ccol: Vec<u32>,
    /// `X` row-major (`n × p`).
    x_rows: Vec<f64>,
    /// Per observation and later term: its column in the rest block and the index of its
    /// (first-term level, column) cross product among all `cptr`/`ccol` entries; `n × (T − 1)`.
    rcol: Vec<u32>,
    cidx: Vec<u32>,
    /// Whether `V = [cₗ/√dₗ]` is mostly structurally non-zero: then `S −= VV'` is done with
    /// long dot products of the columns of a dense copy of `V`, otherwise as sparse rank-one
    /// updates.
    dense: bool,
    /// Whether every level of the first term touches every rest column (then every entry of
    /// the dense `V` is written at each solve).
    full: bool,
}

/// One chunk of first-term levels `[la, lb)`: its per-level sums and its private share of `S`.
#[derive(Debug)]
struct Chunk {
    la: usize,
    lb: usize,
    /// `dₗ`, `r₀ₗ`, `cₗ` (rest part, indexed as `ccol` from `cptr[la]`; X part `nlc × p`).
    d: Vec<f64>,
    r0: Vec<f64>,
    cval: Vec<f64>,
    cx: Vec<f64>,
    /// This chunk's share of `S` (`m × m` column-major, lower triangle) and of the rhs.
    s: Vec<f64>,
    rhs: Vec<f64>,
    /// Dense `V` of the chunk's levels, column-major (`m` columns of `nlc`; dense layout only).
    v: Vec<f64>,
    /// `Σ log dₗ` over the chunk; `false` when some `dₗ` is not positive and finite.
    ld: f64,
    ok: bool,
    /// `u₀` of the chunk's levels.
    u0: Vec<f64>,
    /// Scratch: `X'WX` (`p × p`, lower triangle) and the level's `cₗ` X part.
    xx: Vec<f64>,
    cxl: Vec<f64>,
}

/// The PLS workspace of an all-scalar-terms model (see the module documentation).
#[derive(Debug)]
pub(crate) struct ScalarPls {
    lay: Layout,
    /// Offset of each later term in the rest block (index 0 unused).
    rest_off: Vec<usize>,
    chunks: Vec<Chunk>,
    /// Merged `S` (column-major, lower triangle) and right-hand side.
    s: Vec<f64>,
    rhs: Vec<f64>,
    /// `S` row-major, then its Cholesky factor `L` (lower triangle).
    tri: Vec<f64>,
}

impl ScalarPls {
    /// Prepare for `design` (all terms scalar); `with_x` includes the β rows.
    /// `None` when a term is not scalar or the dense block would be too large.
    pub(crate) fn new(design: &Design, with_x: bool) -> Option<Self> {
        Self::with_chunk_len(design, with_x, chunk_len(design.nobs()))
    }

    /// As [`ScalarPls::new`] with chunks of about `target` observations.
    fn with_chunk_len(design: &Design, with_x: bool, target: usize) -> Option<Self> {
        if design.terms.is_empty() || design.terms.iter().any(|t| t.k != 1) {
            return None;
        }
        let n = design.nobs();
        let p = if with_x { design.p() } else { 0 };
        let t0 = &design.terms[0];
        let l0 = t0.nlevels();
        let mut rest_off = vec![0; design.terms.len()];
        let mut nr = 0;
        for (j, t) in design.terms.iter().enumerate().skip(1) {
            rest_off[j] = nr;
            nr += t.nlevels();
        }
        let m = nr + p;
        if m > MAX_DENSE || t0.refs.iter().any(|&r| r as usize >= l0) {
            return None;
        }
        let mut lptr = vec![0usize; l0 + 1];
        for &r in &t0.refs {
            lptr[r as usize + 1] += 1;
        }
        for l in 0..l0 {
            lptr[l + 1] += lptr[l];
        }
        let mut order = vec![0u32; n];
        let mut next = lptr.clone();
        for (i, &r) in t0.refs.iter().enumerate() {
            order[next[r as usize]] = i as u32;
            next[r as usize] += 1;
        }
        let mut mark = vec![usize::MAX; nr];
        let mut cptr = Vec::with_capacity(l0 + 1);
        let mut ccol = Vec::new();
        cptr.push(0);
        for l in 0..l0 {
            let start = ccol.len();
            for &i in &order[lptr[l]..lptr[l + 1]] {
                for (j, t) in design.terms.iter().enumerate().skip(1) {
                    let c = rest_off[j] + t.refs[i as usize] as usize;
                    if mark[c] != l {
                        mark[c] = l;
                        ccol.push(c as u32);
                    }
                }
            }
            ccol[start..].sort_unstable();
            cptr.push(ccol.len());
        }
        let nlater = design.terms.len() - 1;
        let mut rcol = vec![0u32; n * nlater];
        let mut cidx = vec![0u32; n * nlater];
        let mut pos = vec![0u32; nr];
        for l in 0..l0 {
            let (cs, ce) = (cptr[l], cptr[l + 1]);
            for (k, &c) in ccol[cs..ce].iter().enumerate() {
                pos[c as usize] = (cs + k) as u32;
            }
            for &i in &order[lptr[l]..lptr[l + 1]] {
                let i = i as usize;
                for (j, t) in design.terms.iter().enumerate().skip(1) {
                    let c = rest_off[j] + t.refs[i] as usize;
                    rcol[i * nlater + j - 1] = c as u32;
                    cidx[i * nlater + j - 1] = pos[c];
                }
            }
        }
        let mut x_rows = vec![0.0; n * p];
        for a in 0..p {
            for (i, v) in design.x.col_as_slice(a).iter().enumerate() {
                x_rows[i * p + a] = *v;
            }
        }
        let nnz = ccol.len() + l0 * p;
        let dense = m >= 8 && 5 * nnz >= m * l0 && m * l0 <= 20_000_000;
        let full = ccol.len() == nr * l0;
        // Chunks: contiguous levels, cut once a chunk holds `target` observations.
        let mut bounds = vec![0usize];
        let mut acc = 0;
        for l in 0..l0 {
            acc += lptr[l + 1] - lptr[l];
            if acc >= target.max(1) && l + 1 < l0 {
                bounds.push(l + 1);
                acc = 0;
            }
        }
        bounds.push(l0);
        let chunks = bounds
            .windows(2)
            .map(|b| {
                let (la, lb) = (b[0], b[1]);
                let nlc = lb - la;
                Chunk {
                    la,
                    lb,
                    d: vec![0.0; nlc],
                    r0: vec![0.0; nlc],
                    cval: vec![0.0; cptr[lb] - cptr[la]],
                    cx: vec![0.0; nlc * p],
                    s: vec![0.0; m * m],
                    rhs: vec![0.0; m],
                    v: if dense {
                        vec![0.0; m * nlc]
                    } else {
                        Vec::new()
                    },
                    ld: 0.0,
                    ok: true,
                    u0: vec![0.0; nlc],
                    xx: vec![0.0; p * p],
                    cxl: vec![0.0; p],
                }
            })
            .collect();
        Some(ScalarPls {
            lay: Layout {
                p,
                nr,
                m,
                nlater,
                order,
                lptr,
                cptr,
                ccol,
                x_rows,
                rcol,
                cidx,
                dense,
                full,
            },
            rest_off,
            chunks,
            s: vec![0.0; m * m],
            rhs: vec![0.0; m],
            tri: vec![0.0; m * m],
        })
    }

    /// One PLS solve at θ (one value per term) with working weights `w` and response `z`:
    /// `(β, u per term, log|L|²)`, or `None` when `S` is not positive definite.
    pub(crate) fn solve(
        &mut self,
        design: &Design,
        theta: &[f64],
        w: &[f64],
        z: &[f64],
    ) -> Option<(Vec<f64>, Vec<Vec<f64>>, f64)> {
        let lay = &self.lay;
        let (p, nr, m) = (lay.p, lay.nr, lay.m);
        let th: Vec<f64> = (0..design.terms.len())
            .map(|j| theta.get(j).copied().unwrap_or(0.0))
            .collect();
        let par = run_parallel(w.len()) && self.chunks.len() > 1;
        // Per chunk: observation sums and the chunk's share of the Schur complement.
        let work = |c: &mut Chunk| c.accumulate(lay, design, &th, w, z);
        if par {
            self.chunks.par_iter_mut().for_each(work);
        } else {
            self.chunks.iter_mut().for_each(work);
        }
        if self.chunks.iter().any(|c| !c.ok) {
            return None;
        }
        // Ordered reduction of the chunks' shares.
        let s = &mut self.s;
        s.fill(0.0);
        self.rhs.fill(0.0);
        let mut ld = 0.0;
        for c in &self.chunks {
            for b in 0..m {
                for (t, v) in s[b * m + b..(b + 1) * m]
                    .iter_mut()
                    .zip(&c.s[b * m + b..(b + 1) * m])
                {
                    *t += v;
                }
            }
            for (t, v) in self.rhs.iter_mut().zip(&c.rhs) {
                *t += v;
            }
            ld += c.ld;
        }
        for c in 0..nr {
            s[c * m + c] += 1.0;
        }
        // S = L L' by the LMM's small-block kernel on a row-major copy of the lower triangle
        // (`s` holds it column-major), then L L' [u_r; β] = rhs.
        let tri = &mut self.tri;
        tri.resize(m * m, 0.0);
        for j in 0..m {
            for (i, v) in s[j * m + j..(j + 1) * m].iter().enumerate() {
                tri[(j + i) * m + j] = *v;
            }
        }
        let mut finite = true;
        if !cholesky_in_place(tri, m, |d| finite &= d.is_finite()) || !finite {
            return None;
        }
        for j in 0..nr {
            ld += 2.0 * tri[j * m + j].ln();
        }
        let mut sol = self.rhs.clone();
        solve_lower_in_place(tri, m, &mut sol);
        solve_upper_t_in_place(tri, m, &mut sol);
        // u₀ by back substitution through the diagonal block, chunk by chunk
        // (O(nnz) work: not worth another round trip to the thread pool.)
        for c in &mut self.chunks {
            c.back_substitute(lay, &sol);
        }
        let mut u0 = Vec::with_capacity(design.terms[0].nlevels());
        for c in &self.chunks {
            u0.extend_from_slice(&c.u0);
        }
        let mut u = Vec::with_capacity(design.terms.len());
        u.push(u0);
        for (j, t) in design.terms.iter().enumerate().skip(1) {
            let off = self.rest_off[j];
            u.push(sol[off..off + t.nlevels()].to_vec());
        }
        let beta = sol[nr..nr + p].to_vec();
        Some((beta, u, ld))
    }
}

impl PenalizedSolver for ScalarPls {
    fn solve(&mut self, design: &Design, theta: &[f64], w: &[f64], z: &[f64]) -> Option<PlsStep> {
        let (beta, u, ld_l2) = ScalarPls::solve(self, design, theta, w, z)?;
        Some(PlsStep { beta, u, ld_l2 })
    }
}

impl Chunk {
    /// Sum the chunk's observations (level by level) and subtract its levels' share of the
    /// Schur complement from its private `S` and right-hand side.
    fn accumulate(&mut self, lay: &Layout, design: &Design, th: &[f64], w: &[f64], z: &[f64]) {
        let (p, nr, m) = (lay.p, lay.nr, lay.m);
        self.s.fill(0.0);
        self.rhs.fill(0.0);
        self.cval.fill(0.0);
        self.xx.fill(0.0);
        self.ok = true;
        self.ld = 0.0;
        let terms = &design.terms;
        let ok = if terms.len() == 2 {
            let (z0, z1) = (&terms[0].z[..], &terms[1].z[..]);
            let th01 = (th[0], th[1]);
            match p {
                0 => self.sum_obs_two::<0>(lay, z0, z1, th01, w, z),
                1 => self.sum_obs_two::<1>(lay, z0, z1, th01, w, z),
                2 => self.sum_obs_two::<2>(lay, z0, z1, th01, w, z),
                3 => self.sum_obs_two::<3>(lay, z0, z1, th01, w, z),
                4 => self.sum_obs_two::<4>(lay, z0, z1, th01, w, z),
                5 => self.sum_obs_two::<5>(lay, z0, z1, th01, w, z),
                6 => self.sum_obs_two::<6>(lay, z0, z1, th01, w, z),
                _ => self.sum_obs(lay, design, th, w, z),
            }
        } else {
            self.sum_obs(lay, design, th, w, z)
        };
        if !ok {
            self.ok = false;
            return;
        }
        let s = &mut self.s;
        let rhs = &mut self.rhs;
        let cval = &mut self.cval;
        let xx = &self.xx;
        let c0 = lay.cptr[self.la];
        for a in 0..p {
            for b in 0..=a {
                s[(nr + b) * m + nr + a] += xx[a * p + b];
            }
        }
        // The chunk's levels' share of rhs −= Σₗ cₗ r₀ₗ/dₗ and of log|L|².
        for l in self.la..self.lb {
            let ll = l - self.la;
            let (cs, ce) = (lay.cptr[l] - c0, lay.cptr[l + 1] - c0);
            let r = self.r0[ll] * (1.0 / self.d[ll]);
            for (k, &c) in lay.ccol[cs + c0..ce + c0].iter().enumerate() {
                rhs[c as usize] -= cval[cs + k] * r;
            }
            for a in 0..p {
                rhs[nr + a] -= self.cx[ll * p + a] * r;
            }
            self.ld += self.d[ll].ln();
        }
        // ... and of S −= Σₗ cₗcₗ'/dₗ.
        let nlc = self.lb - self.la;
        if lay.dense {
            let v = &mut self.v;
            if !lay.full {
                v.fill(0.0);
            }
            for l in self.la..self.lb {
                let ll = l - self.la;
                let sc = 1.0 / self.d[ll].sqrt();
                let (cs, ce) = (lay.cptr[l], lay.cptr[l + 1]);
                // Column-major: V[ℓ, a] at v[a nlc + ℓ].
                for (k, &c) in lay.ccol[cs..ce].iter().enumerate() {
                    v[c as usize * nlc + ll] = cval[cs - c0 + k] * sc;
                }
                for a in 0..p {
                    v[(nr + a) * nlc + ll] = self.cx[ll * p + a] * sc;
                }
            }
            syrk_lower_sub(v, m, nlc, s);
        } else {
            let mut ent: Vec<(usize, f64)> = Vec::new();
            for l in self.la..self.lb {
                let ll = l - self.la;
                let (cs, ce) = (lay.cptr[l], lay.cptr[l + 1]);
                let inv = 1.0 / self.d[ll];
                ent.clear();
                ent.extend(
                    lay.ccol[cs..ce]
                        .iter()
                        .zip(&cval[cs - c0..ce - c0])
                        .map(|(&c, &v)| (c as usize, v)),
                );
                ent.extend((0..p).map(|a| (nr + a, self.cx[ll * p + a])));
                // ent is sorted by column (ccol sorted, then the X columns).
                for (bi, &(cb, vb)) in ent.iter().enumerate() {
                    let f = vb * inv;
                    let col = &mut s[cb * m..(cb + 1) * m];
                    for &(ca, va) in &ent[bi..] {
                        col[ca] -= va * f;
                    }
                }
            }
        }
    }

    /// The chunk's observation sums, level by level (any number of terms and of fixed
    /// effects): `dₗ`, `r₀ₗ`, `cₗ`, and the observations' parts of its `S` and rhs (`X'WX` in
    /// `xx`). `false` when some `dₗ` is not positive and finite.
    fn sum_obs(&mut self, lay: &Layout, design: &Design, th: &[f64], w: &[f64], z: &[f64]) -> bool {
        let (p, nr, m, nlater) = (lay.p, lay.nr, lay.m, lay.nlater);
        let terms = &design.terms;
        let t0 = &terms[0];
        let th0 = th[0];
        let c0 = lay.cptr[self.la];
        let s = &mut self.s;
        let rhs = &mut self.rhs;
        let cval = &mut self.cval;
        let xx = &mut self.xx;
        let cxl = &mut self.cxl;
        for l in self.la..self.lb {
            let ll = l - self.la;
            let (mut dl, mut rl) = (0.0, 0.0);
            cxl.fill(0.0);
            for &i in &lay.order[lay.lptr[l]..lay.lptr[l + 1]] {
                let i = i as usize;
                let wi = w[i];
                if wi == 0.0 {
                    continue;
                }
                let zi = z[i];
                let a0 = th0 * t0.z[i];
                let wa0 = wi * a0;
                dl += wa0 * a0;
                rl += wa0 * zi;
                let xr = &lay.x_rows[i * p..(i + 1) * p];
                for (a, &xa) in xr.iter().enumerate() {
                    cxl[a] += wa0 * xa;
                    let wxa = wi * xa;
                    rhs[nr + a] += wxa * zi;
                    let row = &mut xx[a * p..a * p + a + 1];
                    for (r, &xb) in row.iter_mut().zip(xr) {
                        *r += wxa * xb;
                    }
                }
                let rc = &lay.rcol[i * nlater..(i + 1) * nlater];
                let ci = &lay.cidx[i * nlater..(i + 1) * nlater];
                for j in 1..terms.len() {
                    let c = rc[j - 1] as usize;
                    let v = th[j] * terms[j].z[i];
                    let wv = wi * v;
                    cval[ci[j - 1] as usize - c0] += wa0 * v;
                    rhs[c] += wv * zi;
                    let col = &mut s[c * m..(c + 1) * m];
                    col[c] += wv * v;
                    for j2 in j + 1..terms.len() {
                        col[rc[j2 - 1] as usize] += wv * th[j2] * terms[j2].z[i];
                    }
                    for (cv, &xa) in col[nr..].iter_mut().zip(xr) {
                        *cv += wv * xa;
                    }
                }
            }
            let dv = dl + 1.0;
            if !(dv > 0.0 && dv.is_finite()) {
                return false;
            }
            self.d[ll] = dv;
            self.r0[ll] = rl;
            self.cx[ll * p..(ll + 1) * p].copy_from_slice(cxl);
        }
        true
    }

    /// [`Chunk::sum_obs`] for two terms and `P` fixed effects, with the fixed-effects sums in
    /// registers (same operations in the same order, so the same numbers).
    fn sum_obs_two<const P: usize>(
        &mut self,
        lay: &Layout,
        z0: &[f64],
        z1: &[f64],
        (th0, th1): (f64, f64),
        w: &[f64],
        z: &[f64],
    ) -> bool {
        let (nr, m) = (lay.nr, lay.m);
        let c0 = lay.cptr[self.la];
        let mut xx = [[0.0f64; P]; P];
        let mut rx = [0.0f64; P];
        for l in self.la..self.lb {
            let ll = l - self.la;
            let (mut dl, mut rl) = (0.0, 0.0);
            let mut cxl = [0.0f64; P];
            for &i in &lay.order[lay.lptr[l]..lay.lptr[l + 1]] {
                let i = i as usize;
                let wi = w[i];
                if wi == 0.0 {
                    continue;
                }
                let zi = z[i];
                let a0 = th0 * z0[i];
                let wa0 = wi * a0;
                dl += wa0 * a0;
                rl += wa0 * zi;
                let mut xr = [0.0f64; P];
                xr.copy_from_slice(&lay.x_rows[i * P..(i + 1) * P]);
                for a in 0..P {
                    cxl[a] += wa0 * xr[a];
                    let wxa = wi * xr[a];
                    rx[a] += wxa * zi;
                    for b in 0..=a {
                        xx[a][b] += wxa * xr[b];
                    }
                }
                let c = lay.rcol[i] as usize;
                let v = th1 * z1[i];
                let wv = wi * v;
                self.cval[lay.cidx[i] as usize - c0] += wa0 * v;
                self.rhs[c] += wv * zi;
                let col = &mut self.s[c * m..(c + 1) * m];
                col[c] += wv * v;
                for (cv, &xa) in col[nr..].iter_mut().zip(&xr) {
                    *cv += wv * xa;
                }
            }
            let dv = dl + 1.0;
            if !(dv > 0.0 && dv.is_finite()) {
                return false;
            }
            self.d[ll] = dv;
            self.r0[ll] = rl;
            self.cx[ll * P..(ll + 1) * P].copy_from_slice(&cxl);
        }
        for (a, (row, r)) in xx.iter().zip(rx).enumerate() {
            self.rhs[nr + a] += r;
            self.xx[a * P..a * P + a + 1].copy_from_slice(&row[..=a]);
        }
        true
    }

    /// `u₀ₗ = (r₀ₗ − cₗ'[u_r; β]) / dₗ` for the chunk's levels.
    fn back_substitute(&mut self, lay: &Layout, sol: &[f64]) {
        let (p, nr) = (lay.p, lay.nr);
        let c0 = lay.cptr[self.la];
        for l in self.la..self.lb {
            let ll = l - self.la;
            let (cs, ce) = (lay.cptr[l], lay.cptr[l + 1]);
            let mut acc = self.r0[ll];
            for (&c, &v) in lay.ccol[cs..ce].iter().zip(&self.cval[cs - c0..ce - c0]) {
                acc -= v * sol[c as usize];
            }
            for a in 0..p {
                acc -= self.cx[ll * p + a] * sol[nr + a];
            }
            self.u0[ll] = acc / self.d[ll];
        }
    }
}

/// `S[a, b] −= Σₗ V[ℓ, a] V[ℓ, b]` for `a ≥ b` (`S` `m × m` column-major, `V` `k × m`
/// column-major: column `a` is `v[a k..(a + 1) k]`): dot products of columns of `V`, two by
/// two columns at a time ([`dot_2x2`]) so that every value loaded serves two products, each
/// summed in four interleaved partial sums that the compiler keeps in vector registers.
/// Every entry is summed in the same order ([`dot`]'s), whichever kernel computes it.
fn syrk_lower_sub(v: &[f64], m: usize, k: usize, s: &mut [f64]) {
    let col = |a: usize| &v[a * k..(a + 1) * k];
    let mut b = 0;
    while b + 1 < m {
        let (y0, y1) = (col(b), col(b + 1));
        let d = dot_2x2(y0, y1, y0, y1);
        s[b * m + b] -= d[0];
        s[b * m + b + 1] -= d[1];
        s[(b + 1) * m + b + 1] -= d[3];
        let mut a = b + 2;
        while a + 1 < m {
            let r = dot_2x2(col(a), col(a + 1), y0, y1);
            s[b * m + a] -= r[0];
            s[b * m + a + 1] -= r[1];
            s[(b + 1) * m + a] -= r[2];
            s[(b + 1) * m + a + 1] -= r[3];
            a += 2;
        }
        if a < m {
            s[b * m + a] -= dot(col(a), y0);
            s[(b + 1) * m + a] -= dot(col(a), y1);
        }
        b += 2;
    }
    if b < m {
        s[b * m + b] -= dot(col(b), col(b));
    }
}

/// `Σₗ x[ℓ] y[ℓ]` as four partial sums over `ℓ ≡ 0, 1, 2, 3 (mod 4)`, combined as
/// `(s₀ + s₁) + (s₂ + s₃)`, then the last `len mod 4` terms in order.
#[inline(always)]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let body = n - n % 4;
    let mut acc = [0.0f64; 4];
    for (xa, ya) in x[..body].chunks_exact(4).zip(y[..body].chunks_exact(4)) {
        for j in 0..4 {
            acc[j] += xa[j] * ya[j];
        }
    }
    let mut t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (a, b) in x[body..n].iter().zip(&y[body..n]) {
        t += a * b;
    }
    t
}

/// `[x₀·y₀, x₁·y₀, x₀·y₁, x₁·y₁]`, each summed exactly as [`dot`] does.
#[inline(always)]
fn dot_2x2(x0: &[f64], x1: &[f64], y0: &[f64], y1: &[f64]) -> [f64; 4] {
    let n = x0.len().min(x1.len()).min(y0.len()).min(y1.len());
    let body = n - n % 4;
    let mut a00 = [0.0f64; 4];
    let mut a10 = [0.0f64; 4];
    let mut a01 = [0.0f64; 4];
    let mut a11 = [0.0f64; 4];
    for (((p0, p1), q0), q1) in x0[..body]
        .chunks_exact(4)
        .zip(x1[..body].chunks_exact(4))
        .zip(y0[..body].chunks_exact(4))
        .zip(y1[..body].chunks_exact(4))
    {
        for j in 0..4 {
            a00[j] += p0[j] * q0[j];
            a10[j] += p1[j] * q0[j];
            a01[j] += p0[j] * q1[j];
            a11[j] += p1[j] * q1[j];
        }
    }
    let fold = |a: [f64; 4]| (a[0] + a[1]) + (a[2] + a[3]);
    let mut r = [fold(a00), fold(a10), fold(a01), fold(a11)];
    for l in body..n {
        r[0] += x0[l] * y0[l];
        r[1] += x1[l] * y0[l];
        r[2] += x0[l] * y1[l];
        r[3] += x1[l] * y1[l];
    }
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use faer::Mat;
    use multilevel_design::{CovarianceSpec, ReTerm};
    use multilevel_lmm::ProfiledDeviance;

    use crate::pirls::tests::{intercept_slope_design, lcg};

    /// Three crossed scalar terms (11, 6 and 4 levels; the last a slope on x) and X = [1, x],
    /// levels not grouped in row order.
    fn design(n: usize) -> Design {
        let mut seed = 11u64;
        let x: Vec<f64> = (0..n).map(|_| lcg(&mut seed) * 3.0 - 1.0).collect();
        let term = |levels: usize, mult: usize, slope: bool, order: usize| ReTerm {
            group: format!("g{levels}"),
            levels: (0..levels).map(|l| format!("L{l}")).collect(),
            refs: (0..n)
                .map(|i| ((i * mult + i / 7) % levels) as u32)
                .collect(),
            k: 1,
            z: (0..n).map(|i| if slope { x[i] } else { 1.0 }).collect(),
            col_names: vec![if slope {
                "x".into()
            } else {
                "(Intercept)".into()
            }],
            formula_order: order,
            structure: CovarianceSpec::unstructured(1),
        };
        let y = (0..n).map(|_| lcg(&mut seed)).collect();
        let terms = vec![
            term(11, 3, false, 0),
            term(6, 5, false, 1),
            term(4, 1, true, 2),
        ];
        intercept_slope_design(
            "y ~ x + (1 | a) + (1 | b) + (0 + x | c)",
            &x,
            y,
            terms,
            None,
        )
    }

    /// Use the dense (`V` by rows) or the sparse (rank-one updates) Schur complement.
    fn force_layout(sp: &mut ScalarPls, dense: bool) {
        sp.lay.dense = dense;
        sp.lay.full = false;
        let m = sp.lay.m;
        for c in &mut sp.chunks {
            c.v = if dense {
                vec![0.0; m * (c.lb - c.la)]
            } else {
                Vec::new()
            };
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn scalar_pls_matches_the_blocked_lmm_factor() {
        let d = design(150);
        let mut seed = 5u64;
        let w: Vec<f64> = (0..150).map(|_| 0.2 + lcg(&mut seed)).collect();
        let z: Vec<f64> = (0..150).map(|_| lcg(&mut seed) * 2.0 - 1.0).collect();
        let theta = [0.8, 1.3, 0.4];
        let mut d0 = d.clone();
        d0.x = Mat::zeros(150, 0);
        d0.x_names.clear();
        d0.x_assign.clear();
        for (dsgn, with_x) in [(&d, true), (&d0, false)] {
            let mut engine = ProfiledDeviance::new(dsgn, false);
            engine.update(dsgn, Some(&w), &z, None);
            let summary = engine.factor_summary(&theta).unwrap();
            let (beta_ref, u_ref) = engine.solve();
            for (dense, chunk) in [(true, 10_000), (false, 10_000), (true, 20), (false, 7)] {
                let mut sp = ScalarPls::with_chunk_len(&d, with_x, chunk).unwrap();
                assert_eq!(sp.chunks.len() > 1, chunk < 150);
                force_layout(&mut sp, dense);
                let (beta, u, ld) = sp.solve(&d, &theta, &w, &z).unwrap();
                assert!(close(ld, summary.ld_l2), "{ld} vs {}", summary.ld_l2);
                assert_eq!(beta.len(), beta_ref.len());
                for (a, b) in beta.iter().zip(&beta_ref) {
                    assert!(close(*a, *b), "beta {a} vs {b} (with_x {with_x})");
                }
                for (uj, rj) in u.iter().zip(&u_ref) {
                    assert_eq!(uj.len(), rj.len());
                    for (a, b) in uj.iter().zip(rj) {
                        assert!(close(*a, *b), "u {a} vs {b} (dense {dense})");
                    }
                }
            }
        }
    }

    #[test]
    fn vector_terms_and_large_blocks_are_left_to_the_general_engine() {
        let mut d = design(40);
        assert!(ScalarPls::new(&d, true).is_some());
        d.terms[1].k = 2;
        assert!(ScalarPls::new(&d, true).is_none());
        let mut big = design(40);
        big.terms[1].levels = (0..MAX_DENSE + 1).map(|l| format!("L{l}")).collect();
        assert!(ScalarPls::new(&big, true).is_none());
    }

    #[test]
    fn a_negative_weight_that_breaks_positive_definiteness_is_reported() {
        let d = design(60);
        let w = vec![-5.0; 60];
        let z = vec![1.0; 60];
        let mut sp = ScalarPls::new(&d, true).unwrap();
        assert!(sp.solve(&d, &[1.0, 1.0, 1.0], &w, &z).is_none());
    }

    #[test]
    fn chunked_solve_is_bit_identical_on_one_or_several_threads() {
        let n = 6000;
        let d = design(n);
        let mut seed = 9u64;
        let w: Vec<f64> = (0..n).map(|_| 0.2 + lcg(&mut seed)).collect();
        let z: Vec<f64> = (0..n).map(|_| lcg(&mut seed) * 2.0 - 1.0).collect();
        let theta = [0.8, 1.3, 0.4];
        let run = |threads: usize, dense: bool| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                assert_eq!(run_parallel(n), threads > 1);
                let mut sp = ScalarPls::new(&d, true).unwrap();
                assert!(sp.chunks.len() > 1);
                force_layout(&mut sp, dense);
                sp.solve(&d, &theta, &w, &z).unwrap()
            })
        };
        for dense in [true, false] {
            let (b1, u1, ld1) = run(1, dense);
            let (b2, u2, ld2) = run(3, dense);
            assert_eq!(ld1.to_bits(), ld2.to_bits());
            for (a, b) in b1
                .iter()
                .zip(&b2)
                .chain(u1.iter().flatten().zip(u2.iter().flatten()))
            {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
    }
}
