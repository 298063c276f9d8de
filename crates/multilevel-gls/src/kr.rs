//! Kenward–Roger inference for GLS fits: the adjusted covariance `Φ_A` of `β̂` and the df of
//! each coefficient (Kenward & Roger 1997), with the second-derivative terms `R_ij` left out
//! (the "linear" variant: mmrm's `"Kenward-Roger-Linear"`, SAS's `DDFM=KR(LINEARCOV)`).
//!
//! The covariance of `y` is `Σ = σ²R(x)`, block diagonal over the subjects. With the
//! covariance parameters `φ = (x, log σ²)` (`φ = x` when `σ` is fixed) and
//! `Gₖ = ∂Σ/∂φₖ` (block diagonal too), the pieces are sums over the subjects `s`:
//!
//! ```text
//! Φ⁻¹  = Σₛ Xₛ'Σₛ⁻¹Xₛ
//! Pₖ   = Σₛ Xₛ'Σₛ⁻¹GₖₛΣₛ⁻¹Xₛ
//! Qₖₗ  = Σₛ Xₛ'Σₛ⁻¹GₖₛΣₛ⁻¹GₗₛΣₛ⁻¹Xₛ
//! tₖₗ  = Σₛ tr(Σₛ⁻¹GₖₛΣₛ⁻¹Gₗₛ)
//! ```
//!
//! and `W`, `Φ_A` and the df follow as in `multilevel_inference::kenward_roger`. Without the
//! `R_ij` the result does not depend on how `φ` is parametrised (the Jacobians of a
//! reparametrisation cancel between `W` and the `Pₖ`, `Qₖₗ`), so it is computed in the
//! optimiser's unconstrained `x`; for a structure that is linear in some parametrisation
//! (compound symmetry in (σ²ρ, σ²(1 − ρ)), unstructured and Toeplitz in the covariances,
//! independent rows with `ident(f)` variances) it is exactly Kenward & Roger's estimator and
//! pbkrtest's. `Gₖ` for a correlation or standard-deviation parameter is a central difference
//! of `Σₛ` with step 1e-5 on the unconstrained scale (truncation ~1e-10 relative); `G` for
//! `log σ²` is `Σ` itself.
//!
//! Subjects whose rows have the same positions and variance levels share `Σₛ` and its
//! derivatives (a *pattern*); a pattern's sums go through `Tₐᵦ = Σₛ xₛₐxₛᵦ'` (`xₛₐ` the row `a`
//! of `Xₛ`), so `Xₛ'MXₛ` summed over the pattern is `Σₐᵦ Mₐᵦ Tₐᵦ` for any `M`.

use crate::layout::RowCodes;
use crate::structure::{Evaluated, Shape};
use multilevel_inference::{KrParts, kenward_roger_from_pieces};
use multilevel_numeric::spd::Cholesky;
use std::collections::HashMap;

/// Builds a block's covariance `Σ_b` and its derivatives `G_kb` from the block's rows.
pub(crate) type BlockBuilder<'a> = dyn Fn(&[usize]) -> (Vec<f64>, Vec<Vec<f64>>) + 'a;

/// Step of the central differences of `Σₛ` on the unconstrained scale.
const STEP: f64 = 1e-5;

/// The rows of one pattern and the subjects' cross products `Tₐᵦ`.
struct Group {
    position: Vec<i64>,
    var_level: Vec<u32>,
    count: usize,
    /// `Tₐᵦ` at `(a · n + b) · p²`, each `p × p` row-major.
    t: Vec<f64>,
}

/// The relative block `Rₛ` of a pattern at evaluated parameters, row-major `n × n`.
fn block(e: &Evaluated, position: &[i64], var_level: &[u32]) -> Vec<f64> {
    let n = position.len();
    let mut r = vec![0.0; n * n];
    for a in 0..n {
        let sa = e.sd(position[a], var_level[a]);
        for b in 0..n {
            let sb = e.sd(position[b], var_level[b]);
            r[a * n + b] = sa * sb * e.correlation(position[a], position[b], a == b);
        }
    }
    r
}

/// `C = A B` for row-major `n × n` matrices.
fn mat_mul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// `out += Σₐᵦ Mₐᵦ Tₐᵦ` (`p × p`).
fn contract(m: &[f64], t: &[f64], n: usize, p: usize, out: &mut [f64]) {
    let pp = p * p;
    for ab in 0..n * n {
        let w = m[ab];
        if w == 0.0 {
            continue;
        }
        let tab = &t[ab * pp..(ab + 1) * pp];
        for (o, v) in out.iter_mut().zip(tab) {
            *o += w * v;
        }
    }
}

/// The Kenward–Roger parts of a GLS fit at its estimate: `x` the model matrix accessor
/// (`n × p`), `theta` the unconstrained covariance parameters, `sigma2` the residual variance,
/// `sigma_fixed` whether `σ` is a parameter. `Err` carries a sentence saying why the parts
/// could not be computed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gls_kenward_roger(
    x: &dyn Fn(usize, usize) -> f64,
    p: usize,
    codes: &RowCodes,
    shape: &Shape,
    theta: &[f64],
    sigma2: f64,
    sigma_fixed: bool,
    beta: Vec<f64>,
) -> Result<KrParts, String> {
    let m = theta.len();
    let k = m + usize::from(!sigma_fixed);
    if k == 0 {
        return Err("the Kenward–Roger df could not be computed: the model has no covariance parameters (σ fixed and no structure); its t statistics are z statistics".to_string());
    }
    // Group the subjects by pattern, summing Tₐᵦ.
    let mut index: HashMap<(Vec<i64>, Vec<u32>), usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for rows in &codes.subjects {
        if rows.is_empty() {
            continue;
        }
        let position: Vec<i64> = rows
            .iter()
            .map(|&i| codes.position.get(i).copied().unwrap_or(0))
            .collect();
        let var_level: Vec<u32> = rows
            .iter()
            .map(|&i| codes.var_level.get(i).copied().unwrap_or(0))
            .collect();
        let n = rows.len();
        let key = (position, var_level);
        let g = match index.get(&key) {
            Some(&g) => g,
            None => {
                groups.push(Group {
                    position: key.0.clone(),
                    var_level: key.1.clone(),
                    count: 0,
                    t: vec![0.0; n * n * p * p],
                });
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let Some(gr) = groups.get_mut(g) else {
            continue;
        };
        gr.count += 1;
        let xs: Vec<Vec<f64>> = rows
            .iter()
            .map(|&i| (0..p).map(|c| x(i, c)).collect())
            .collect();
        for a in 0..n {
            for b in 0..n {
                let base = (a * n + b) * p * p;
                for u in 0..p {
                    let xau = xs[a][u];
                    if xau == 0.0 {
                        continue;
                    }
                    let dst = &mut gr.t[base + u * p..base + (u + 1) * p];
                    for (d, xbv) in dst.iter_mut().zip(&xs[b]) {
                        *d += xau * xbv;
                    }
                }
            }
        }
    }

    let e0 = shape.evaluate(theta);
    let mut shifted = Vec::with_capacity(m);
    let mut xx = theta.to_vec();
    for c in 0..m {
        xx[c] = theta[c] + STEP;
        let plus = shape.evaluate(&xx);
        xx[c] = theta[c] - STEP;
        let minus = shape.evaluate(&xx);
        xx[c] = theta[c];
        shifted.push((plus, minus));
    }

    let pp = p * p;
    let mut a_mat = vec![0.0; pp];
    let mut p_mats = vec![vec![0.0; pp]; k];
    let mut q_mats = vec![Vec::new(); k * k];
    for r in 0..k {
        for s in r..k {
            q_mats[r * k + s] = vec![0.0; pp];
        }
    }
    let mut traces = vec![0.0; k * k];
    for g in &groups {
        let n = g.position.len();
        let v: Vec<f64> = block(&e0, &g.position, &g.var_level)
            .iter()
            .map(|r| sigma2 * r)
            .collect();
        let chol = Cholesky::new(&v, n).ok_or_else(|| {
            "the Kenward–Roger df could not be computed: a subject's covariance block is not positive definite at the estimate".to_string()
        })?;
        let vinv = chol.inverse();
        // Gₖ of this pattern.
        let mut gs: Vec<Vec<f64>> = Vec::with_capacity(k);
        for (plus, minus) in &shifted {
            let bp = block(plus, &g.position, &g.var_level);
            let bm = block(minus, &g.position, &g.var_level);
            gs.push(
                bp.iter()
                    .zip(&bm)
                    .map(|(a, b)| sigma2 * (a - b) / (2.0 * STEP))
                    .collect(),
            );
        }
        if !sigma_fixed {
            gs.push(v.clone());
        }
        // Hₖ = Σ⁻¹Gₖ, Fₖ = HₖΣ⁻¹ = Σ⁻¹GₖΣ⁻¹.
        let hs: Vec<Vec<f64>> = gs.iter().map(|gk| mat_mul(&vinv, gk, n)).collect();
        let fs: Vec<Vec<f64>> = hs.iter().map(|h| mat_mul(h, &vinv, n)).collect();
        let count = g.count as f64;
        contract(&vinv, &g.t, n, p, &mut a_mat);
        for r in 0..k {
            contract(&fs[r], &g.t, n, p, &mut p_mats[r]);
            for s in r..k {
                let mrs = mat_mul(&hs[r], &fs[s], n);
                contract(&mrs, &g.t, n, p, &mut q_mats[r * k + s]);
                let mut tr = 0.0;
                for a in 0..n {
                    for b in 0..n {
                        tr += hs[r][a * n + b] * hs[s][b * n + a];
                    }
                }
                traces[r * k + s] += count * tr;
                if s != r {
                    traces[s * k + r] += count * tr;
                }
            }
        }
    }
    let phi = Cholesky::new(&a_mat, p)
        .ok_or_else(|| {
            "the Kenward–Roger df could not be computed: X'Σ⁻¹X is not positive definite"
                .to_string()
        })?
        .inverse();
    kenward_roger_from_pieces(&phi, p, &p_mats, &q_mats, &traces, beta, sigma2)
        .map_err(|e| format!("the Kenward–Roger df could not be computed: {e}"))
}

/// The Kenward–Roger parts of a model whose rows fall into independent blocks (the
/// covariance between blocks is zero), each block's `Σ_b` and `G_kb` built densely by
/// `build(rows)` (`Σ_b` then the `K` matrices `G_kb`, each row-major over `rows`). Per block:
/// `B = Σ_b⁻¹X_b`, `C_k = G_kbB`, `P_k += B'C_k`, `Q_kl += C_k'Σ_b⁻¹C_l`, and the traces
/// `tr(Σ_b⁻¹G_kbΣ_b⁻¹G_lb)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dense_blocks_kenward_roger(
    x: &dyn Fn(usize, usize) -> f64,
    p: usize,
    blocks: &[Vec<usize>],
    k: usize,
    build: &BlockBuilder<'_>,
    beta: Vec<f64>,
    sigma2: f64,
) -> Result<KrParts, String> {
    let pp = p * p;
    let mut a_mat = vec![0.0; pp];
    let mut p_mats = vec![vec![0.0; pp]; k];
    let mut q_mats = vec![Vec::new(); k * k];
    for r in 0..k {
        for s in r..k {
            q_mats[r * k + s] = vec![0.0; pp];
        }
    }
    let mut traces = vec![0.0; k * k];
    // `out (c × p) = M (c × n) · N (n × p)`, row-major.
    let mul = |m: &[f64], nmat: &[f64], c: usize, n: usize, cols: usize| -> Vec<f64> {
        let mut out = vec![0.0; c * cols];
        for i in 0..c {
            for l in 0..n {
                let v = m[i * n + l];
                if v == 0.0 {
                    continue;
                }
                for j in 0..cols {
                    out[i * cols + j] += v * nmat[l * cols + j];
                }
            }
        }
        out
    };
    // `out (p × p) += Aᵀ B` for `n × p` matrices.
    let add_tn = |a: &[f64], b: &[f64], n: usize, out: &mut [f64]| {
        for l in 0..n {
            for u in 0..p {
                let v = a[l * p + u];
                if v == 0.0 {
                    continue;
                }
                for w in 0..p {
                    out[u * p + w] += v * b[l * p + w];
                }
            }
        }
    };
    for rows in blocks {
        let n = rows.len();
        if n == 0 {
            continue;
        }
        let (sigma, gs) = build(rows);
        if gs.len() != k {
            return Err("internal: wrong number of covariance derivatives".to_string());
        }
        let chol = Cholesky::new(&sigma, n).ok_or_else(|| {
            "the Kenward–Roger df could not be computed: the covariance of a block of rows is not positive definite at the estimate".to_string()
        })?;
        let sinv = chol.inverse();
        let xb: Vec<f64> = rows
            .iter()
            .flat_map(|&i| (0..p).map(move |c| x(i, c)))
            .collect();
        let b = mul(&sinv, &xb, n, n, p);
        add_tn(&xb, &b, n, &mut a_mat);
        let cs: Vec<Vec<f64>> = gs.iter().map(|g| mul(g, &b, n, n, p)).collect();
        let ds: Vec<Vec<f64>> = cs.iter().map(|c| mul(&sinv, c, n, n, p)).collect();
        let hs: Vec<Vec<f64>> = gs.iter().map(|g| mul(&sinv, g, n, n, n)).collect();
        for r in 0..k {
            add_tn(&b, &cs[r], n, &mut p_mats[r]);
            for s in r..k {
                add_tn(&cs[r], &ds[s], n, &mut q_mats[r * k + s]);
                let mut tr = 0.0;
                for a in 0..n {
                    for c in 0..n {
                        tr += hs[r][a * n + c] * hs[s][c * n + a];
                    }
                }
                traces[r * k + s] += tr;
                if s != r {
                    traces[s * k + r] += tr;
                }
            }
        }
    }
    let phi = Cholesky::new(&a_mat, p)
        .ok_or_else(|| {
            "the Kenward–Roger df could not be computed: X'Σ⁻¹X is not positive definite"
                .to_string()
        })?
        .inverse();
    kenward_roger_from_pieces(&phi, p, &p_mats, &q_mats, &traces, beta, sigma2)
        .map_err(|e| format!("the Kenward–Roger df could not be computed: {e}"))
}
