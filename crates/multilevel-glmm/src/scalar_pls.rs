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
//! Plain loops only, on purpose: faer's AVX-512 kernels leave the upper halves of the vector
//! registers dirty, and the scalar SSE code that runs next in every PIRLS step (`exp`, `log`
//! of libm, for μ and the deviance) then runs several times slower on the Xeons this was
//! measured on (a whole crossed-binomial fit went from 0.2 s to 2 s).

use multilevel_design::Design;

/// Largest dense block `S` handled here; bigger problems go to the general engine.
pub(crate) const MAX_DENSE: usize = 400;

/// The PLS workspace of an all-scalar-terms model (see the module documentation).
#[derive(Debug)]
pub(crate) struct ScalarPls {
    /// Number of fixed effects in the problem (0 when β is fixed).
    p: usize,
    /// Levels of the first term.
    l0: usize,
    /// Random effects after the first term.
    nr: usize,
    /// Offset of each later term in the rest block (index 0 unused).
    rest_off: Vec<usize>,
    /// Per level of the first term, the distinct rest random-effect columns it touches.
    cptr: Vec<usize>,
    ccol: Vec<u32>,
    /// `X` row-major (`n × p`).
    x_rows: Vec<f64>,
    // ---- workspace ----
    d: Vec<f64>,
    r0: Vec<f64>,
    cval: Vec<f64>,
    cx: Vec<f64>,
    /// Size of `S`, `nr + p`.
    m: usize,
    /// Dense `S`, `m × m` column-major, lower triangle used.
    s: Vec<f64>,
    rhs: Vec<f64>,
    /// `V = [cₗ/√dₗ]` as a dense `m × ℓ₀` matrix stored by rows (each row contiguous over
    /// the levels), when most of it is structurally non-zero: `S −= VV'` is then a set of
    /// long dot products.
    vdense: Option<Vec<f64>>,
    /// Per observation and later term: its column in the rest block and the index of its
    /// (first-term level, column) cross product in `cval`; `n × (T − 1)`.
    rcol: Vec<u32>,
    cidx: Vec<u32>,
    /// Scratch for `X'WX` (`p × p`, lower triangle).
    xx: Vec<f64>,
}

impl ScalarPls {
    /// Prepare for `design` (all terms scalar); `with_x` includes the β rows.
    /// `None` when a term is not scalar or the dense block would be too large.
    pub(crate) fn new(design: &Design, with_x: bool) -> Option<Self> {
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
        if m > MAX_DENSE {
            return None;
        }
        let mut count = vec![0usize; l0 + 1];
        for &r in &t0.refs {
            count[r as usize + 1] += 1;
        }
        for l in 0..l0 {
            count[l + 1] += count[l];
        }
        let mut order = vec![0u32; n];
        let mut next = count.clone();
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
            for &i in &order[count[l]..count[l + 1]] {
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
            for &i in &order[count[l]..count[l + 1]] {
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
        let vdense =
            (m >= 8 && 5 * nnz >= m * l0 && m * l0 <= 20_000_000).then(|| vec![0.0; m * l0]);
        Some(ScalarPls {
            p,
            l0,
            nr,
            rest_off,
            cval: vec![0.0; ccol.len()],
            cptr,
            ccol,
            x_rows,
            d: vec![0.0; l0],
            r0: vec![0.0; l0],
            cx: vec![0.0; l0 * p],
            m,
            s: vec![0.0; m * m],
            rhs: vec![0.0; m],
            vdense,
            rcol,
            cidx,
            xx: vec![0.0; p * p],
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
        let (p, l0, nr, m) = (self.p, self.l0, self.nr, self.m);
        let terms = &design.terms;
        let th0 = theta.first().copied().unwrap_or(0.0);
        let t0 = &terms[0];
        self.s.fill(0.0);
        self.rhs.fill(0.0);
        self.d.fill(0.0);
        self.r0.fill(0.0);
        self.cval.fill(0.0);
        self.cx.fill(0.0);
        self.xx.fill(0.0);
        let nlater = terms.len() - 1;
        let th: Vec<f64> = (0..terms.len())
            .map(|j| theta.get(j).copied().unwrap_or(0.0))
            .collect();
        // One pass over the observations: the first term's diagonal and cross products, the
        // rest block's own cross products (lower triangle) and the right-hand side.
        let s = &mut self.s;
        let rhs = &mut self.rhs;
        // Sums over a run of observations in the same first-term level are kept locally and
        // flushed when the level changes (data are usually grouped, so this is rare).
        let mut cur = usize::MAX;
        let (mut dl, mut rl) = (0.0, 0.0);
        let mut cxl = vec![0.0; p];
        let flush = |cur: usize,
                     dl: f64,
                     rl: f64,
                     cxl: &mut [f64],
                     d: &mut [f64],
                     r0: &mut [f64],
                     cx: &mut [f64]| {
            if cur != usize::MAX {
                d[cur] += dl;
                r0[cur] += rl;
                for (c, v) in cx[cur * p..(cur + 1) * p].iter_mut().zip(cxl.iter_mut()) {
                    *c += *v;
                    *v = 0.0;
                }
            }
        };
        for i in 0..w.len() {
            let wi = w[i];
            if wi == 0.0 {
                continue;
            }
            let zi = z[i];
            let l = t0.refs[i] as usize;
            if l != cur {
                flush(
                    cur,
                    dl,
                    rl,
                    &mut cxl,
                    &mut self.d,
                    &mut self.r0,
                    &mut self.cx,
                );
                cur = l;
                dl = 0.0;
                rl = 0.0;
            }
            let a0 = th0 * t0.z[i];
            let wa0 = wi * a0;
            dl += wa0 * a0;
            rl += wa0 * zi;
            let xr = &self.x_rows[i * p..(i + 1) * p];
            for (a, &xa) in xr.iter().enumerate() {
                cxl[a] += wa0 * xa;
                let wxa = wi * xa;
                rhs[nr + a] += wxa * zi;
                let row = &mut self.xx[a * p..a * p + a + 1];
                for (r, &xb) in row.iter_mut().zip(xr) {
                    *r += wxa * xb;
                }
            }
            let rc = &self.rcol[i * nlater..(i + 1) * nlater];
            let ci = &self.cidx[i * nlater..(i + 1) * nlater];
            for j in 1..terms.len() {
                let c = rc[j - 1] as usize;
                let v = th[j] * terms[j].z[i];
                let wv = wi * v;
                self.cval[ci[j - 1] as usize] += wa0 * v;
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
        flush(
            cur,
            dl,
            rl,
            &mut cxl,
            &mut self.d,
            &mut self.r0,
            &mut self.cx,
        );
        for l in 0..l0 {
            self.d[l] += 1.0;
            if !(self.d[l] > 0.0 && self.d[l].is_finite()) {
                return None;
            }
        }
        for a in 0..p {
            for b in 0..=a {
                s[(nr + b) * m + nr + a] += self.xx[a * p + b];
            }
        }
        for c in 0..nr {
            self.s[c * m + c] += 1.0;
        }
        // Schur complement of the first term: S −= Σₗ cₗcₗ'/dₗ, rhs −= Σₗ cₗ r₀ₗ/dₗ.
        for l in 0..l0 {
            let (cs, ce) = (self.cptr[l], self.cptr[l + 1]);
            let inv = 1.0 / self.d[l];
            let r = self.r0[l] * inv;
            for (k, &c) in self.ccol[cs..ce].iter().enumerate() {
                self.rhs[c as usize] -= self.cval[cs + k] * r;
            }
            for a in 0..p {
                self.rhs[nr + a] -= self.cx[l * p + a] * r;
            }
        }
        if let Some(v) = self.vdense.as_mut() {
            v.fill(0.0);
            for l in 0..l0 {
                let sc = 1.0 / self.d[l].sqrt();
                let (cs, ce) = (self.cptr[l], self.cptr[l + 1]);
                for (k, &c) in self.ccol[cs..ce].iter().enumerate() {
                    v[c as usize * l0 + l] = self.cval[cs + k] * sc;
                }
                for a in 0..p {
                    v[(nr + a) * l0 + l] = self.cx[l * p + a] * sc;
                }
            }
            for b in 0..m {
                let vb = &v[b * l0..(b + 1) * l0];
                for a in b..m {
                    self.s[b * m + a] -= dot(&v[a * l0..(a + 1) * l0], vb);
                }
            }
        } else {
            let mut ent: Vec<(usize, f64)> = Vec::new();
            for l in 0..l0 {
                let (cs, ce) = (self.cptr[l], self.cptr[l + 1]);
                let inv = 1.0 / self.d[l];
                ent.clear();
                ent.extend(
                    self.ccol[cs..ce]
                        .iter()
                        .zip(&self.cval[cs..ce])
                        .map(|(&c, &v)| (c as usize, v)),
                );
                ent.extend((0..p).map(|a| (nr + a, self.cx[l * p + a])));
                // ent is sorted by column (ccol sorted, then the X columns).
                for (bi, &(cb, vb)) in ent.iter().enumerate() {
                    let f = vb * inv;
                    let col = &mut self.s[cb * m..(cb + 1) * m];
                    for &(ca, va) in &ent[bi..] {
                        col[ca] -= va * f;
                    }
                }
            }
        }
        // Dense Cholesky S = L L' (lower, in place; column j of L in s[j m..]), right-looking.
        let s = &mut self.s;
        for j in 0..m {
            let dj = s[j * m + j];
            if !(dj > 0.0 && dj.is_finite()) {
                return None;
            }
            let dj = dj.sqrt();
            s[j * m + j] = dj;
            for i in j + 1..m {
                s[j * m + i] /= dj;
            }
            let (done, rest) = s.split_at_mut((j + 1) * m);
            let lj = &done[j * m..(j + 1) * m];
            for k in j + 1..m {
                let f = lj[k];
                if f == 0.0 {
                    continue;
                }
                let col = &mut rest[(k - j - 1) * m..(k - j) * m];
                for i in k..m {
                    col[i] -= lj[i] * f;
                }
            }
        }
        let mut ld: f64 = self.d.iter().map(|v| v.ln()).sum();
        for j in 0..nr {
            ld += 2.0 * s[j * m + j].ln();
        }
        // Solve L L' sol = rhs.
        let mut sol = self.rhs.clone();
        for j in 0..m {
            sol[j] /= s[j * m + j];
            let f = sol[j];
            for i in j + 1..m {
                sol[i] -= s[j * m + i] * f;
            }
        }
        for i in (0..m).rev() {
            let mut acc = sol[i];
            for k in i + 1..m {
                acc -= s[i * m + k] * sol[k];
            }
            sol[i] = acc / s[i * m + i];
        }
        // u₀ by back substitution through the diagonal block.
        let mut u0 = vec![0.0; l0];
        for (l, u) in u0.iter_mut().enumerate() {
            let (cs, ce) = (self.cptr[l], self.cptr[l + 1]);
            let mut acc = self.r0[l];
            for (k, &c) in self.ccol[cs..ce].iter().enumerate() {
                acc -= self.cval[cs + k] * sol[c as usize];
            }
            for a in 0..p {
                acc -= self.cx[l * p + a] * sol[nr + a];
            }
            *u = acc / self.d[l];
        }
        let mut u = Vec::with_capacity(terms.len());
        u.push(u0);
        for (j, t) in terms.iter().enumerate().skip(1) {
            let off = self.rest_off[j];
            u.push(sol[off..off + t.nlevels()].to_vec());
        }
        let beta = sol[nr..].to_vec();
        Some((beta, u, ld))
    }
}

/// `Σ aᵢbᵢ` with four running sums (lets the compiler use vector registers).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use faer::Mat;
    use multilevel_design::ReTerm;
    use multilevel_lmm::ProfiledDeviance;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

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
        };
        let mut xm = Mat::zeros(n, 2);
        for i in 0..n {
            xm[(i, 0)] = 1.0;
            xm[(i, 1)] = x[i];
        }
        Design {
            formula: "y ~ x + (1 | a) + (1 | b) + (0 + x | c)".into(),
            response_name: "y".into(),
            y: (0..n).map(|_| lcg(&mut seed)).collect(),
            trials: None,
            x: xm,
            x_names: vec!["(Intercept)".into(), "x".into()],
            x_assign: vec![0, 1],
            fixed_term_labels: vec!["(Intercept)".into(), "x".into()],
            dropped_columns: Vec::new(),
            terms: vec![
                term(11, 3, false, 0),
                term(6, 5, false, 1),
                term(4, 1, true, 2),
            ],
            weights: None,
            offset: None,
            n_dropped_missing: 0,
            data_name: "test".into(),
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
            for dense in [true, false] {
                let mut sp = ScalarPls::new(&d, with_x).unwrap();
                if dense {
                    let (m, l0) = (sp.m, sp.l0);
                    sp.vdense = Some(vec![0.0; m * l0]);
                } else {
                    sp.vdense = None;
                }
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
}
