//! Kenward–Roger small-sample inference for REML fits (pbkrtest's `vcovAdj`, `Lb_ddf` and
//! `KRmodcomp`; Kenward & Roger 1997, Halekoh & Højsgaard 2014).
//!
//! The marginal covariance of `y` is written as a *linear* function of the variance
//! parameters γ, as pbkrtest does:
//!
//! ```text
//! Σ = Σ_r γ_r G_r,
//! ```
//!
//! where γ holds, for each random-effects term `j`, the elements `c_ab` (`a ≤ b`) of the
//! `k_j × k_j` covariance matrix `C_j = σ² Λ_j Λ_j'` of one level's random effects
//! (variances and covariances), followed by the residual variance σ². For a term element
//! `(a, b)`, `G_r = Z_a Z_b' + Z_b Z_a'` (`Z_a Z_a'` when `a = b`) with `Z_a` the `n × ℓ_j`
//! matrix of the term's column `a` over its levels; the residual has `G = I`. Because Σ is
//! linear in γ the second-derivative terms `R_ij` of Kenward & Roger vanish.
//!
//! With `Φ = (X'Σ⁻¹X)⁻¹`:
//!
//! ```text
//! P_r  = X'Σ⁻¹G_rΣ⁻¹X
//! Q_rs = X'Σ⁻¹G_rΣ⁻¹G_sΣ⁻¹X
//! I_rs = tr(Σ⁻¹G_rΣ⁻¹G_s) − 2 tr(Φ Q_rs) + tr(Φ P_r Φ P_s)     (twice the REML information)
//! W    = 2 I⁻¹                                                  (asymptotic covariance of γ̂)
//! Φ_A  = Φ + 2 Φ [Σ_rs W_rs (Q_rs − P_r Φ P_s)] Φ
//! ```
//!
//! (`I` is pseudo-inverted when its smallest absolute eigenvalue is ≤ 1e-10, as pbkrtest).
//! For a hypothesis `Lβ = 0` of rank `q`, with `Θ = L'(LΦL')⁻¹L`:
//!
//! ```text
//! A₁ = Σ_rs W_rs tr(ΘΦP_rΦ) tr(ΘΦP_sΦ),   A₂ = Σ_rs W_rs tr(ΘΦP_rΦ ΘΦP_sΦ)
//! B  = (A₁ + 6A₂) / (2q),   g = ((q+1)A₁ − (q+4)A₂) / ((q+2)A₂)
//! c₁ = g / (3q + 2(1−g)),  c₂ = (q−g) / (3q + 2(1−g)),  c₃ = (q+2−g) / (3q + 2(1−g))
//! ρ  = (1/q) ((1 − A₂/q) / (1 − c₂B))² (1 + c₁B) / (1 − c₃B)
//! m  = 4 + (q+2) / (qρ − 1)                 (denominator df)
//! λ  = m (1 − A₂/q) / (m − 2)               (F scaling)
//! F  = (Lβ̂)'(LΦ_AL')⁻¹(Lβ̂) / q,   λF ~ F(q, m)
//! ```
//!
//! For a single coefficient (`q = 1`) the test is `t = l'β̂ / √(l'Φ_A l)` on `m` df.
//!
//! ## Dense computation ([`KrAlgorithm::Dense`], the reference implementation)
//!
//! Σ is built as an `n × n` matrix and inverted by a Cholesky factorization, and `Σ⁻¹G_r`
//! is formed for each variance parameter: time `O((m_γ + 1) n³)`, memory `O(m_γ n²)`.
//! Used for `n ≤ 2,000` rows (and refused above 5,000).
//!
//! ## Structured computation ([`KrAlgorithm::Structured`], no `n × n` matrix)
//!
//! Write `Σ = σ²V`, `V = I_n + ZΛΛ'Z'`, with `Z` the `n × q` random-effects matrix (never
//! formed), `Λ` the block-diagonal relative covariance factor and `M = Z'Z` (sparse, `q × q`).
//! With `A = Λ'MΛ + I_q` (positive definite even when Λ is singular), Woodbury's identity
//! gives
//!
//! ```text
//! V⁻¹ = I − Z H Z',   H = Λ A⁻¹ Λ'.
//! ```
//!
//! Every `G_r` of a random-effects term is `Z D_r Z'` with `D_r = I_ℓ ⊗ (E_ab + E_ba)`
//! (`I_ℓ ⊗ E_aa` for a variance) inside the term's block: at most `2ℓ_j` unit entries. So
//! with the `q × q`, `q × p` and `p × p` matrices
//!
//! ```text
//! K = Z'Σ⁻¹Z = σ⁻² (M − M H M),   C = H Z'X,
//! U = Z'Σ⁻¹X = σ⁻² (Z'X − M C),   X'Σ⁻¹X = σ⁻² (X'X − X'Z C),
//! ```
//!
//! the terms of two random-effects parameters `r, s` are
//!
//! ```text
//! tr(Σ⁻¹G_rΣ⁻¹G_s) = tr(D_r K D_s K),   P_r = U' D_r U,   Q_rs = U' D_r K D_s U.
//! ```
//!
//! For the residual parameter `e` (`G = I`) powers of Σ⁻¹ appear. From
//! `V⁻¹Z = Z (I − HM)` and `V⁻¹X = X − ZC`:
//!
//! ```text
//! Z'V⁻²Z = Z'V⁻¹Z (I − HM)
//! Z'V⁻²X = Z'V⁻¹X − Z'V⁻¹Z C
//! X'V⁻²X = X'V⁻¹X − (Z'V⁻¹X)' C
//! X'V⁻³X = (X − ZC)' V⁻¹ (X − ZC)
//!        = X'V⁻¹X − C'Z'V⁻¹X − (Z'V⁻¹X)'C + C'Z'V⁻¹Z C
//! tr(V⁻²) = n − 2 tr(HM) + tr(HMHM) = n − q + tr(A⁻²)      (since Λ'MΛ = A − I)
//! ```
//!
//! and, with `Σ⁻ᵏ = σ⁻²ᵏ V⁻ᵏ`,
//!
//! ```text
//! tr(Σ⁻¹G_rΣ⁻¹) = tr(D_r Z'Σ⁻²Z),   Q_re = U' D_r Z'Σ⁻²X,
//! tr(Σ⁻²),   P_e = X'Σ⁻²X,   Q_ee = X'Σ⁻³X.
//! ```
//!
//! Cost: one dense Cholesky factorization and inverse of `A` (`O(q³)`, multithreaded by
//! faer), sparse products with `M` (`O(nnz(M) q)`), `O(q² p)` products, and
//! `O(nnz(D_r) nnz(D_s))` for each trace; memory about five dense `q × q` matrices, so it
//! is refused above `q = 8,000`. [`KrAlgorithm::Auto`] uses it for `n > 2,000`, where it
//! agrees with the dense version to rounding (checked to 1e-9 relative on the pbkrtest
//! reference models; observed ≤ 2e-11) and with pbkrtest on 4,656- and 10,174-row subsets
//! of Chem97 (df and adjusted se to ~1e-13 relative at lme4's θ̂). On all of Chem97 (31,022
//! rows, `q = 2,541`) it takes 1–3 s on two cores.
//!
//! Prior weights are not supported (pbkrtest has none either); such fits are refused.
//!
//! Use [`kenward_roger_parts`] once and [`KrParts::contrast`] / [`KrParts::f_test`] for many
//! contrasts. [`KenwardRoger`] (the [`DfMethod`]) keeps the parts of the last model it saw,
//! so `add_df` and the ANOVA table compute them once per fit.

use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;
use multilevel_design::Design;
use multilevel_design::covariance::Covariance;
use multilevel_numeric::dist::p_f_upper;

use crate::InferenceError;
use crate::kr_structured::{STRUCTURED_MAX_Q, structured_pieces};
use crate::linalg::sym_eigen;
use crate::methods::{DfMethod, FTest};
use crate::model::FittedLmm;

/// Smallest absolute eigenvalue of the information below which pbkrtest pseudo-inverts it.
const INFO_COND_TOL: f64 = 1e-10;

/// [`KrAlgorithm::Auto`] uses the dense computation up to this many rows.
pub const KR_DENSE_MAX_N: usize = 2000;

/// The dense computation is refused above this many rows (it holds several `n × n`
/// matrices per variance parameter).
const DENSE_HARD_MAX_N: usize = 5000;

/// How the contrast-free Kenward–Roger quantities are computed (see the module
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KrAlgorithm {
    /// Dense for `n ≤` [`KR_DENSE_MAX_N`] rows or when there are at least as many random
    /// effects as rows; structured otherwise.
    #[default]
    Auto,
    /// The `n × n` reference computation.
    Dense,
    /// Through `q × q` matrices (Woodbury identity), never `n × n`.
    Structured,
    /// From pieces summed over independent blocks of rows by the caller
    /// ([`kenward_roger_from_pieces`]: GLS fits with a residual covariance per subject). An
    /// LMM fit given this choice uses [`KrAlgorithm::Auto`].
    Blocks,
}

/// The Kenward–Roger quantities of a fit that do not depend on the contrast.
#[derive(Debug, Clone)]
pub struct KrParts {
    /// Number of fixed-effect coefficients `p`.
    pub p: usize,
    /// `Φ = (X'Σ⁻¹X)⁻¹`, row-major `p × p` (equals `vcov(β̂)`).
    pub phi: Vec<f64>,
    /// The adjusted covariance `Φ_A`, row-major `p × p`.
    pub phi_adj: Vec<f64>,
    /// `P_r = X'Σ⁻¹G_rΣ⁻¹X` for each variance parameter, row-major `p × p`.
    pub p_mats: Vec<Vec<f64>>,
    /// `W`, the asymptotic covariance of the variance parameters γ, row-major.
    pub w: Vec<f64>,
    /// β̂.
    pub beta: Vec<f64>,
    /// σ̂² (for lmerTest-style sums of squares).
    pub sigma2: f64,
    /// The computation used ([`KrAlgorithm::Dense`] or [`KrAlgorithm::Structured`]).
    pub algorithm: KrAlgorithm,
}

/// A Kenward–Roger F test of `Lβ = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct KrTest {
    /// Rank `q` of `L`.
    pub num_df: f64,
    /// Denominator df `m`.
    pub den_df: f64,
    /// Scaling `λ`.
    pub scaling: f64,
    /// Unscaled `F = (Lβ̂)'(LΦ_AL')⁻¹(Lβ̂) / q`.
    pub f_unscaled: f64,
    /// `λF`, compared with `F(q, m)`.
    pub f_scaled: f64,
    /// `P(F(q, m) > λF)`.
    pub p_value: f64,
}

fn mat_to_vec(m: &Mat<f64>) -> Vec<f64> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut v = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            v.push(m[(i, j)]);
        }
    }
    v
}

fn vec_to_mat(v: &[f64], r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |i, j| v[i * c + j])
}

/// `tr(A B)` for square matrices.
fn trace_prod(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let n = a.nrows();
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..n {
            s += a[(i, j)] * b[(j, i)];
        }
    }
    s
}

fn trace(a: &Mat<f64>) -> f64 {
    (0..a.nrows()).map(|i| a[(i, i)]).sum()
}

/// Symmetric (pseudo-)inverse by eigen-decomposition; eigenvalues with absolute value at or
/// below `tol · max|λ|` are dropped. Returns the inverse and the rank.
fn sym_pinv(a: &[f64], k: usize, rel_tol: f64) -> (Vec<f64>, usize) {
    let (vals, vecs) = sym_eigen(a, k);
    let maxabs = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut inv = vec![0.0; k * k];
    let mut rank = 0;
    for (c, &lam) in vals.iter().enumerate() {
        if lam.abs() > rel_tol * maxabs && lam.abs() > 0.0 {
            rank += 1;
            for i in 0..k {
                for j in 0..k {
                    inv[i * k + j] += vecs[i * k + c] * vecs[j * k + c] / lam;
                }
            }
        }
    }
    (inv, rank)
}

/// `Λ_j` (row-major, lower triangular, from θ's column-major layout) and
/// `C_j = σ²Λ_jΛ_j'` of one random-effects term.
pub(crate) struct TermBlock {
    /// `Λ_j`, row-major `k × k`.
    pub(crate) lam: Vec<f64>,
    /// `C_j`, row-major `k × k`.
    pub(crate) cov: Vec<f64>,
    /// For a structured term (`diag`, `cs`, `ar1`), the symmetric `k × k` matrices `S_r`
    /// (row-major) with `G_r = Z_j (I_ℓ ⊗ S_r) Z_j'`, one per variance parameter of the term;
    /// `None` for the unstructured term, whose parameters are the elements of `C_j`.
    pub(crate) bases: Option<Vec<Vec<f64>>>,
}

/// The `S_r` of a structured term (see [`TermBlock::bases`]): `E_aa` per column for `diag`
/// (`I` when homogeneous), whose `C_j` is linear in its variances; otherwise the derivatives
/// `∂(Λ_jΛ_j')/∂θ_r = Λ_rΛ_j' + Λ_jΛ_r'` at the estimate, which span the tangent space of the
/// structure's covariances there (up to the scale σ², which is immaterial: the linear
/// Kenward–Roger quantities do not depend on how the variance parameters are parametrised,
/// only on the span of the `G_r`).
fn structured_bases(cov_t: &dyn Covariance, theta: &[f64], lam: &[f64]) -> Vec<Vec<f64>> {
    let k = cov_t.k();
    if cov_t.name() == "diag" {
        if cov_t.homogeneous() == Some(true) {
            let mut s = vec![0.0; k * k];
            for a in 0..k {
                s[a * k + a] = 1.0;
            }
            return vec![s];
        }
        return (0..k)
            .map(|a| {
                let mut s = vec![0.0; k * k];
                s[a * k + a] = 1.0;
                s
            })
            .collect();
    }
    let mut d = vec![0.0; k * k];
    (0..cov_t.n_theta())
        .map(|r| {
            cov_t.lambda_derivative_into(theta, r, &mut d);
            let mut s = vec![0.0; k * k];
            for a in 0..k {
                for b in 0..k {
                    s[a * k + b] = (0..k)
                        .map(|c| d[a * k + c] * lam[b * k + c] + lam[a * k + c] * d[b * k + c])
                        .sum();
                }
            }
            s
        })
        .collect()
}

/// Check the random-effects terms against `n` and θ and return each term's `Λ_j` and `C_j`.
pub(crate) fn sigma_blocks(
    design: &Design,
    theta: &[f64],
    sigma2: f64,
) -> Result<Vec<TermBlock>, InferenceError> {
    let n = design.nobs();
    if theta.len() != design.n_theta() {
        return Err(InferenceError::Mismatch(format!(
            "the fit has {} θ but the model has {}",
            theta.len(),
            design.n_theta()
        )));
    }
    if design.x.nrows() != n {
        return Err(InferenceError::Mismatch(format!(
            "X has {} rows but the response has {n}",
            design.x.nrows()
        )));
    }
    let mut out = Vec::with_capacity(design.terms.len());
    let mut off = 0;
    for term in &design.terms {
        let k = term.k;
        if term.refs.len() != n || term.z.len() != n * k {
            return Err(InferenceError::Mismatch(format!(
                "random-effects term for {} does not have {n} rows",
                term.group
            )));
        }
        if let Some(&r) = term.refs.iter().find(|&&r| r as usize >= term.nlevels()) {
            return Err(InferenceError::Mismatch(format!(
                "level code {r} out of range for grouping factor {}",
                term.group
            )));
        }
        let cov_t = term.covariance();
        let mut lam = vec![0.0; k * k];
        let theta_t = theta.get(off..off + cov_t.n_theta()).unwrap_or(&[]);
        cov_t.lambda_into(theta_t, &mut lam);
        let bases = if term.structure.is_unstructured() {
            None
        } else {
            Some(structured_bases(cov_t, theta_t, &lam))
        };
        off += cov_t.n_theta();
        let mut cov = vec![0.0; k * k];
        for a in 0..k {
            for b in 0..k {
                cov[a * k + b] =
                    sigma2 * (0..k).map(|c| lam[a * k + c] * lam[b * k + c]).sum::<f64>();
            }
        }
        out.push(TermBlock { lam, cov, bases });
    }
    Ok(out)
}

/// The contrast-free pieces both computations produce: `Φ`, the `P_r`, the `Q_rs` for
/// `r ≤ s` (at index `r · m_γ + s`) and the information matrix `I` (row-major), variance
/// parameters in the order of the module documentation (residual last).
pub(crate) struct Pieces {
    pub(crate) phi: Mat<f64>,
    pub(crate) ps: Vec<Mat<f64>>,
    pub(crate) qs: Vec<Option<Mat<f64>>>,
    pub(crate) info: Vec<f64>,
}

/// The dense `n × n` computation (the reference implementation).
fn dense_pieces(design: &Design, theta: &[f64], sigma2: f64) -> Result<Pieces, InferenceError> {
    let n = design.nobs();
    if n > DENSE_HARD_MAX_N {
        return Err(InferenceError::Mismatch(format!(
            "the dense Kenward–Roger computation needs several {n} × {n} matrices \
             (limit {DENSE_HARD_MAX_N} rows); hint: use KrAlgorithm::Auto or Satterthwaite"
        )));
    }
    let blocks = sigma_blocks(design, theta, sigma2)?;

    // Rows of each level of each term, and the G_r matrices.
    let mut sigma = Mat::<f64>::zeros(n, n);
    let mut gs: Vec<Mat<f64>> = Vec::new();
    for (term, block) in design.terms.iter().zip(&blocks) {
        let k = term.k;
        let cov = &block.cov;
        let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); term.nlevels()];
        for (i, &r) in term.refs.iter().enumerate() {
            if let Some(slot) = by_level.get_mut(r as usize) {
                slot.push(i);
            }
        }
        let z = |i: usize, a: usize| term.z[i * k + a];
        for rows in &by_level {
            for &i in rows {
                for &i2 in rows {
                    let mut s = 0.0;
                    for a in 0..k {
                        for b in 0..k {
                            s += z(i, a) * cov[a * k + b] * z(i2, b);
                        }
                    }
                    sigma[(i, i2)] += s;
                }
            }
        }
        if let Some(bases) = &block.bases {
            for basis in bases {
                let mut g = Mat::<f64>::zeros(n, n);
                for rows in &by_level {
                    for &i in rows {
                        for &i2 in rows {
                            let mut v = 0.0;
                            for a in 0..k {
                                for b in 0..k {
                                    v += z(i, a) * basis[a * k + b] * z(i2, b);
                                }
                            }
                            g[(i, i2)] += v;
                        }
                    }
                }
                gs.push(g);
            }
            continue;
        }
        for a in 0..k {
            for b in a..k {
                let mut g = Mat::<f64>::zeros(n, n);
                for rows in &by_level {
                    for &i in rows {
                        for &i2 in rows {
                            g[(i, i2)] += if a == b {
                                z(i, a) * z(i2, a)
                            } else {
                                z(i, a) * z(i2, b) + z(i, b) * z(i2, a)
                            };
                        }
                    }
                }
                gs.push(g);
            }
        }
    }
    for i in 0..n {
        sigma[(i, i)] += sigma2;
    }
    gs.push(Mat::<f64>::identity(n, n));
    let ng = gs.len();

    let sigma_inv = sigma
        .llt(faer::Side::Lower)
        .map_err(|_| {
            InferenceError::Numerical("the marginal covariance Σ is not positive definite".into())
        })?
        .inverse();
    drop(sigma);
    let x = &design.x;
    let t = &sigma_inv * x; // Σ⁻¹X, n × p
    let xtsx = x.transpose() * &t;
    let phi = xtsx
        .llt(faer::Side::Lower)
        .map_err(|_| InferenceError::Numerical("X'Σ⁻¹X is not positive definite".into()))?
        .inverse();

    // H_r = G_r Σ⁻¹, O_r = G_r Σ⁻¹ X, P_r = X'Σ⁻¹ G_r Σ⁻¹ X.
    let hs: Vec<Mat<f64>> = gs.iter().map(|g| g * &sigma_inv).collect();
    let os: Vec<Mat<f64>> = gs.iter().map(|g| g * &t).collect();
    drop(gs);
    let ps: Vec<Mat<f64>> = os.iter().map(|o| t.transpose() * o).collect();
    // Q_rs for r ≤ s, stored at index r * ng + s.
    let mut qs: Vec<Option<Mat<f64>>> = vec![None; ng * ng];
    for r in 0..ng {
        let left = os[r].transpose() * &sigma_inv;
        for s in r..ng {
            qs[r * ng + s] = Some(&left * &os[s]);
        }
    }
    let mut info = vec![0.0; ng * ng];
    for r in 0..ng {
        for s in r..ng {
            let v = trace_prod(&hs[r], &hs[s]);
            info[r * ng + s] = v;
            info[s * ng + r] = v;
        }
    }
    Ok(Pieces { phi, ps, qs, info })
}

/// `W` and `Φ_A` from the pieces (shared by both computations).
fn finish(
    pieces: Pieces,
    beta: Vec<f64>,
    sigma2: f64,
    algorithm: KrAlgorithm,
) -> Result<KrParts, InferenceError> {
    let Pieces {
        phi,
        ps,
        qs,
        info: ktrace,
    } = pieces;
    let p = phi.nrows();
    let ng = ps.len();
    let q_at = |r: usize, s: usize| -> Result<&Mat<f64>, InferenceError> {
        qs.get(r * ng + s)
            .and_then(Option::as_ref)
            .ok_or_else(|| InferenceError::Numerical("internal: missing Q matrix".into()))
    };
    let mut info = vec![0.0; ng * ng];
    for r in 0..ng {
        let phi_pr = &phi * &ps[r];
        for s in r..ng {
            let phi_q = trace_prod(&phi, q_at(r, s)?);
            let phi_ps = &phi * &ps[s];
            let v = ktrace[r * ng + s] - 2.0 * phi_q + trace_prod(&phi_pr, &phi_ps);
            info[r * ng + s] = v;
            info[s * ng + r] = v;
        }
    }
    if info.iter().any(|v| !v.is_finite()) {
        return Err(InferenceError::NotFinite(
            "the information matrix of the variance parameters".into(),
        ));
    }
    let (vals, _) = sym_eigen(&info, ng);
    let min_abs = vals.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let (inv, _) = if min_abs > INFO_COND_TOL {
        sym_pinv(&info, ng, 0.0)
    } else {
        sym_pinv(&info, ng, f64::EPSILON.sqrt())
    };
    let w: Vec<f64> = inv.iter().map(|v| 2.0 * v).collect();

    let mut uu = Mat::<f64>::zeros(p, p);
    for r in 0..ng {
        for s in r + 1..ng {
            let term = q_at(r, s)? - &ps[r] * &phi * &ps[s];
            uu += w[r * ng + s] * term;
        }
    }
    let uu_t = uu.transpose().to_owned();
    uu += uu_t;
    for r in 0..ng {
        let term = q_at(r, r)? - &ps[r] * &phi * &ps[r];
        uu += w[r * ng + r] * term;
    }
    let phi_adj = &phi + 2.0 * (&phi * &uu * &phi);

    Ok(KrParts {
        p,
        phi: mat_to_vec(&phi),
        phi_adj: mat_to_vec(&phi_adj),
        p_mats: ps.iter().map(mat_to_vec).collect(),
        w,
        beta,
        sigma2,
        algorithm,
    })
}

/// Compute `Φ`, `Φ_A`, the `P_r` and `W` of a REML fit (see the module documentation),
/// choosing the computation by size ([`KrAlgorithm::Auto`]).
///
/// # Errors
/// [`InferenceError::Mismatch`] for an ML fit, a fit with prior weights, or a model too
/// large for both computations; [`InferenceError::Numerical`] when Σ or `X'Σ⁻¹X` is not
/// positive definite.
pub fn kenward_roger_parts(model: &FittedLmm) -> Result<KrParts, InferenceError> {
    kenward_roger_parts_with(model, KrAlgorithm::Auto)
}

/// [`kenward_roger_parts`] with a chosen computation.
///
/// # Errors
/// As [`kenward_roger_parts`]; [`KrAlgorithm::Dense`] above 5,000 rows and
/// [`KrAlgorithm::Structured`] above 8,000 random effects are refused.
pub fn kenward_roger_parts_with(
    model: &FittedLmm,
    algorithm: KrAlgorithm,
) -> Result<KrParts, InferenceError> {
    if !model.reml() {
        return Err(InferenceError::Mismatch(
            "Kenward–Roger needs a REML fit; hint: refit with REML or use Satterthwaite".into(),
        ));
    }
    let design = model.model().design();
    if design.weights.is_some() {
        return Err(InferenceError::Mismatch(
            "Kenward–Roger is not implemented for fits with prior weights (pbkrtest has no \
             weights either); hint: use Satterthwaite"
                .into(),
        ));
    }
    let fit = model.fit_result();
    let sigma2 = fit.sigma * fit.sigma;
    let algorithm = match algorithm {
        KrAlgorithm::Auto | KrAlgorithm::Blocks => {
            let (n, q) = (design.nobs(), design.q());
            if n <= KR_DENSE_MAX_N || (q >= n && n <= DENSE_HARD_MAX_N) || q > STRUCTURED_MAX_Q {
                KrAlgorithm::Dense
            } else {
                KrAlgorithm::Structured
            }
        }
        other => other,
    };
    let pieces = match algorithm {
        KrAlgorithm::Structured => structured_pieces(design, &fit.theta, sigma2)?,
        _ => dense_pieces(design, &fit.theta, sigma2)?,
    };
    finish(pieces, model.beta(), sigma2, algorithm)
}

/// The Kenward–Roger quantities of a model whose covariance `Σ(φ)` is differentiated by the
/// caller, for any covariance parameters `φ` (the derivatives `G_r = ∂Σ/∂φ_r` need not be
/// constant: the second-derivative terms `R_rs` of Kenward & Roger are left out, the
/// "linear" variant, which does not depend on how `φ` is parametrised).
///
/// - `phi`: `Φ = (X'Σ⁻¹X)⁻¹`, row-major `p × p`;
/// - `p_mats[r]`: `P_r = X'Σ⁻¹G_rΣ⁻¹X`, row-major `p × p`;
/// - `q_mats[r · m + s]` for `r ≤ s`: `Q_rs = X'Σ⁻¹G_rΣ⁻¹G_sΣ⁻¹X` (entries with `r > s`
///   are not read and may be empty);
/// - `traces[r · m + s]`: `tr(Σ⁻¹G_rΣ⁻¹G_s)` (symmetric, all entries);
///
/// with `m = p_mats.len()`.
///
/// # Errors
/// [`InferenceError::Mismatch`] for pieces of inconsistent sizes;
/// [`InferenceError::NotFinite`] for a non-finite information matrix.
pub fn kenward_roger_from_pieces(
    phi: &[f64],
    p: usize,
    p_mats: &[Vec<f64>],
    q_mats: &[Vec<f64>],
    traces: &[f64],
    beta: Vec<f64>,
    sigma2: f64,
) -> Result<KrParts, InferenceError> {
    let m = p_mats.len();
    let bad = |what: &str| InferenceError::Mismatch(format!("Kenward–Roger pieces: {what}"));
    if phi.len() != p * p || beta.len() != p {
        return Err(bad("Φ or β̂ does not have p entries"));
    }
    if p_mats.iter().any(|v| v.len() != p * p) || q_mats.len() != m * m || traces.len() != m * m {
        return Err(bad("a P, Q or trace array has the wrong size"));
    }
    let mut qs: Vec<Option<Mat<f64>>> = vec![None; m * m];
    for r in 0..m {
        for s in r..m {
            let q = &q_mats[r * m + s];
            if q.len() != p * p {
                return Err(bad("a Q matrix is not p × p"));
            }
            qs[r * m + s] = Some(vec_to_mat(q, p, p));
        }
    }
    let pieces = Pieces {
        phi: vec_to_mat(phi, p, p),
        ps: p_mats.iter().map(|v| vec_to_mat(v, p, p)).collect(),
        qs,
        info: traces.to_vec(),
    };
    finish(pieces, beta, sigma2, KrAlgorithm::Blocks)
}

impl KrParts {
    fn check_rows(&self, l: &[Vec<f64>]) -> Result<(), InferenceError> {
        if l.is_empty() {
            return Err(InferenceError::BadContrast(
                "the contrast matrix has no rows".into(),
            ));
        }
        for row in l {
            if row.len() != self.p {
                return Err(InferenceError::BadContrast(format!(
                    "a contrast has {} entries but the model has {} fixed-effect coefficients",
                    row.len(),
                    self.p
                )));
            }
            if row.iter().any(|v| !v.is_finite()) {
                return Err(InferenceError::BadContrast(
                    "a contrast has a non-finite entry".into(),
                ));
            }
        }
        Ok(())
    }

    /// Denominator df `m` and scaling `λ` for `Lβ = 0` (pbkrtest's `Lb_ddf` and the
    /// `F.scaling` of `KRmodcomp`), with `q` the rank of `L`.
    ///
    /// # Errors
    /// A malformed or zero `L`.
    pub fn ddf_scaling(&self, l: &[Vec<f64>]) -> Result<(f64, f64, usize), InferenceError> {
        self.check_rows(l)?;
        let p = self.p;
        let k = l.len();
        let lm = Mat::from_fn(k, p, |i, j| l[i][j]);
        let phi = vec_to_mat(&self.phi, p, p);
        let lpl = &lm * &phi * lm.transpose();
        let (lpl_inv, q) = sym_pinv(&mat_to_vec(&lpl), k, f64::EPSILON.sqrt());
        if q == 0 {
            return Err(InferenceError::BadContrast(
                "the contrast matrix has rank 0 (all its rows are zero)".into(),
            ));
        }
        let theta = lm.transpose() * vec_to_mat(&lpl_inv, k, k) * &lm;
        let theta_phi = &theta * &phi;
        let us: Vec<Mat<f64>> = self
            .p_mats
            .iter()
            .map(|pr| &theta_phi * vec_to_mat(pr, p, p) * &phi)
            .collect();
        let ng = us.len();
        let (mut a1, mut a2) = (0.0, 0.0);
        for i in 0..ng {
            for j in i..ng {
                let e = if i == j { 1.0 } else { 2.0 };
                let wij = self.w[i * ng + j];
                a1 += e * wij * trace(&us[i]) * trace(&us[j]);
                a2 += e * wij * trace_prod(&us[i], &us[j]);
            }
        }
        let qf = q as f64;
        let b = (a1 + 6.0 * a2) / (2.0 * qf);
        let g = ((qf + 1.0) * a1 - (qf + 4.0) * a2) / ((qf + 2.0) * a2);
        let d = 3.0 * qf + 2.0 * (1.0 - g);
        let (c1, c2, c3) = (g / d, (qf - g) / d, (qf + 2.0 - g) / d);
        let mut v0 = 1.0 + c1 * b;
        if v0.abs() < 1e-10 {
            v0 = 0.0;
        }
        let v1 = 1.0 - c2 * b;
        let v2 = 1.0 - c3 * b;
        let ratio = (1.0 - a2 / qf) / v1;
        let rho = ratio * ratio * v0 / v2 / qf;
        let m = 4.0 + (qf + 2.0) / (qf * rho - 1.0);
        let lambda = m * (1.0 - a2 / qf) / (m - 2.0);
        Ok((m, lambda, q))
    }

    /// For one contrast `l`: `(l'β̂, √(l'Φ_A l), m)`.
    ///
    /// # Errors
    /// A malformed or zero contrast.
    pub fn contrast(&self, l: &[f64]) -> Result<(f64, f64, f64), InferenceError> {
        let rows = vec![l.to_vec()];
        let (m, _, _) = self.ddf_scaling(&rows)?;
        let p = self.p;
        let var: f64 = (0..p)
            .map(|a| {
                (0..p)
                    .map(|b| l[a] * self.phi_adj[a * p + b] * l[b])
                    .sum::<f64>()
            })
            .sum();
        if var.is_nan() || var <= 0.0 {
            return Err(InferenceError::NotFinite(format!(
                "the adjusted variance of the contrast is {var}"
            )));
        }
        let est: f64 = l.iter().zip(&self.beta).map(|(a, b)| a * b).sum();
        Ok((est, var.sqrt(), m))
    }

    /// The Kenward–Roger F test of `Lβ = 0`.
    ///
    /// # Errors
    /// A malformed or zero `L`, or a singular `LΦ_AL'`.
    pub fn f_test(&self, l: &[Vec<f64>]) -> Result<KrTest, InferenceError> {
        let (m, lambda, q) = self.ddf_scaling(l)?;
        let p = self.p;
        let k = l.len();
        let lm = Mat::from_fn(k, p, |i, j| l[i][j]);
        let adj = vec_to_mat(&self.phi_adj, p, p);
        let v = &lm * &adj * lm.transpose();
        let (v_inv, _) = sym_pinv(&mat_to_vec(&v), k, f64::EPSILON.sqrt());
        let lb: Vec<f64> = l
            .iter()
            .map(|row| row.iter().zip(&self.beta).map(|(a, b)| a * b).sum())
            .collect();
        let mut quad = 0.0;
        for i in 0..k {
            for j in 0..k {
                quad += lb[i] * v_inv[i * k + j] * lb[j];
            }
        }
        let qf = q as f64;
        let f_unscaled = quad / qf;
        let f_scaled = lambda * f_unscaled;
        let p_value = p_f_upper(f_scaled, qf, m);
        Ok(KrTest {
            num_df: qf,
            den_df: m,
            scaling: lambda,
            f_unscaled,
            f_scaled,
            p_value,
        })
    }
}

/// Kenward–Roger df and adjusted standard error `√(l'Φ_A l)` of one contrast `l` of a REML
/// fit (for `l = eᵢ`, the df of coefficient `i`'s t test as pbkrtest / lmerTest give it).
///
/// # Errors
/// As [`kenward_roger_parts`]; a malformed or zero contrast.
pub fn kenward_roger_df(model: &FittedLmm, l: &[f64]) -> Result<(f64, f64), InferenceError> {
    let parts = kenward_roger_parts(model)?;
    let (_, se, df) = parts.contrast(l)?;
    Ok((df, se))
}

/// Kenward–Roger as a [`DfMethod`], as lmerTest's `ddf = "Kenward-Roger"` reports it:
/// `t = l'β̂ / √(l'Φ_A l)` on `m` df, and for a `q`-row `L` the *unscaled*
/// `F = (Lβ̂)'(LΦ_AL')⁻¹(Lβ̂)/q` (pbkrtest's `FtestU` statistic) with its p-value from
/// `F(q, m)`, `m` being pbkrtest's df. pbkrtest's own scaled test `λF ~ F(q, m)` is
/// [`KrParts::f_test`]'s `f_scaled` / `p_value`.
///
/// The contrast-free [`KrParts`] are kept in the [`FittedLmm`] after the first call, so every
/// coefficient in [`crate::add_df`] and every term of [`crate::anova_type3`] share them.
#[derive(Debug, Clone, Copy, Default)]
pub struct KenwardRoger;

impl DfMethod for KenwardRoger {
    fn name(&self) -> &str {
        "Kenward-Roger"
    }

    fn adjusts_covariance(&self) -> bool {
        true
    }

    fn contrast_df(
        &self,
        model: &mut FittedLmm,
        l: &[f64],
    ) -> Result<(f64, f64, f64), InferenceError> {
        model.kr_parts()?.contrast(l)
    }

    fn contrast_dfs(
        &self,
        model: &mut FittedLmm,
        ls: &[Vec<f64>],
    ) -> Result<Vec<(f64, f64, f64)>, InferenceError> {
        let parts = model.kr_parts()?;
        ls.iter().map(|l| parts.contrast(l)).collect()
    }

    fn contrast_f(&self, model: &mut FittedLmm, l: &[Vec<f64>]) -> Result<FTest, InferenceError> {
        let parts = model.kr_parts()?;
        let t = parts.f_test(l)?;
        let p_value = p_f_upper(t.f_unscaled, t.num_df, t.den_df);
        Ok(FTest {
            f_value: t.f_unscaled,
            num_df: t.num_df,
            den_df: t.den_df,
            p_value,
            mean_sq: t.f_unscaled * parts.sigma2,
            sum_sq: t.f_unscaled * parts.sigma2 * t.num_df,
        })
    }
}
