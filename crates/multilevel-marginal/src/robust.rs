//! Cluster-robust ("sandwich") covariance of regression coefficients, CR0/CR1/CR2, with
//! Satterthwaite (Bell–McCaffrey) degrees of freedom, as clubSandwich's
//! `coef_test(fit, vcov = "CR2", test = "Satterthwaite")`.
//!
//! # Estimator
//! For a model with design `X`, residuals `e = y − Xβ̂` and a *working* covariance `Φ`
//! (block-diagonal by cluster: `Φⱼ = I` for OLS, `Φⱼ = Zⱼ Λ Λ' Zⱼ' + I` for a linear mixed
//! model, the marginal covariance of y up to σ²) with weights `W = Φ⁻¹` and `M = (X'WX)⁻¹`:
//!
//! `V^CR = M [Σⱼ Xⱼ'Wⱼ Aⱼ eⱼ eⱼ' Aⱼ' WⱼXⱼ] M`
//!
//! - CR0: `Aⱼ = I`;
//! - CR1: `Aⱼ = √c I` with Stata's `c = G/(G−1) · (N−1)/(N−p)` (clubSandwich's `CR1S`);
//! - CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018): `Aⱼ = Dⱼ' (Dⱼ Rⱼ Dⱼ')^(−1/2) Dⱼ`
//!   with `Dⱼ'Dⱼ = Φⱼ` and `Rⱼ = Φⱼ − Xⱼ M Xⱼ'` (the covariance of `eⱼ` under the working
//!   model), the symmetric inverse square root with eigenvalues ≤ 1e-12 set to 0. Then
//!   `E[V^CR] = V` exactly when the working model is right. For OLS this is
//!   `Aⱼ = (I − Hⱼⱼ)^(−1/2)`.
//!
//! # Degrees of freedom
//! For the test of coefficient `k` (`c = e_k`) let `gⱼ = Aⱼ Wⱼ Xⱼ M c`, `sⱼ = Xⱼ'gⱼ`. Under the
//! working model `c'V^CR c = Σⱼ (pⱼ'y)²` is a quadratic form whose pieces have covariances
//! `Pⱼₗ = δⱼₗ gⱼ'Φⱼgⱼ − sⱼ' M sₗ`; matching its first two moments to a scaled χ² gives
//! `ν = (Σⱼ Pⱼⱼ)² / Σⱼₗ Pⱼₗ²` (clubSandwich's `Satterthwaite`). The t statistic
//! `β̂ₖ / se` is referred to t(ν).

use crate::linalg::{cholesky_lower, inv_sqrt_psd, select_rows, spd_inverse};
use crate::model::fixed_model;
use crate::{Clusters, MarginalError};
use faer::Mat;
use multilevel_design::Design;
use multilevel_frame::DataFrame;
use multilevel_lmm::FitResult;
use multilevel_numeric::dist::p_t_two_sided as two_sided_t;
use serde::Serialize;

/// Which small-sample correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CrType {
    /// No correction (Liang–Zeger / White).
    #[serde(rename = "CR0")]
    Cr0,
    /// Stata's `G/(G−1) · (N−1)/(N−p)` scaling (clubSandwich's `CR1S`).
    #[serde(rename = "CR1")]
    Cr1,
    /// Bell–McCaffrey bias-reduced linearization.
    #[serde(rename = "CR2")]
    Cr2,
}

impl CrType {
    /// `CR0`, `CR1`, `CR2`.
    pub fn name(self) -> &'static str {
        match self {
            CrType::Cr0 => "CR0",
            CrType::Cr1 => "CR1",
            CrType::Cr2 => "CR2",
        }
    }

    /// Parse `CR0`, `CR1` (or `CR1S`), `CR2`, case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CR0" => Some(CrType::Cr0),
            "CR1" | "CR1S" => Some(CrType::Cr1),
            "CR2" => Some(CrType::Cr2),
            _ => None,
        }
    }
}

/// The working covariance of the model, cluster by cluster.
#[derive(Debug, Clone)]
pub enum WorkingCovariance {
    /// `Φⱼ = I` (OLS).
    Identity,
    /// One `nⱼ × nⱼ` matrix per cluster, rows in the order of [`Clusters::members`].
    Blocks(Vec<Mat<f64>>),
}

/// One coefficient with its cluster-robust test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobustCoef {
    /// Column name of `X`.
    pub term: String,
    /// β̂.
    pub estimate: f64,
    /// Cluster-robust standard error.
    pub std_error: f64,
    /// `t = β̂ / se`.
    pub statistic: f64,
    /// Satterthwaite (Bell–McCaffrey) degrees of freedom.
    pub df: f64,
    /// Two-sided p-value from t(df).
    pub p_value: f64,
    /// The model's own (non-robust) standard error.
    pub model_std_error: f64,
}

/// Cluster-robust coefficient table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobustResult {
    /// `ols` or `lmm`.
    pub model: String,
    /// The formula as given.
    pub formula: String,
    /// Data name.
    pub data_name: String,
    /// Correction used.
    pub cr_type: CrType,
    /// Coefficients.
    pub fixed: Vec<RobustCoef>,
    /// Cluster-robust covariance, `p × p` row-major.
    pub vcov: Vec<f64>,
    /// Name of the cluster column.
    pub cluster_name: String,
    /// Number of clusters.
    pub clusters: usize,
    /// Number of observations.
    pub nobs: usize,
    /// Rows dropped for missing values.
    pub n_dropped_missing: usize,
    /// Columns of the model matrix dropped as aliased (linearly dependent on earlier columns,
    /// R's `NA` coefficients).
    pub dropped_columns: Vec<String>,
}

/// OLS (`lm`) of a fixed-effects formula with cluster-robust standard errors, clustering by
/// column `cluster`.
///
/// # Errors
/// Formula and data errors, random-effects terms in the formula, a rank-deficient design.
pub fn ols_robust(
    formula: &str,
    data: &DataFrame,
    cluster: &str,
    cr_type: CrType,
) -> Result<RobustResult, MarginalError> {
    let m = fixed_model(formula, data, cluster, "cluster-robust OLS")?;
    ols_robust_design(&m.design, &m.clusters, cr_type)
}

/// [`ols_robust`] on a prepared design.
///
/// # Errors
/// A `cbind` response, weights, a singular `X'X`.
pub fn ols_robust_design(
    design: &Design,
    clusters: &Clusters,
    cr_type: CrType,
) -> Result<RobustResult, MarginalError> {
    if design.trials.is_some() || design.weights.is_some() {
        return Err(MarginalError::Input(
            "cluster-robust OLS takes an unweighted numeric response; hint: drop the weights or the cbind() response".to_string(),
        ));
    }
    let n = design.nobs();
    let p = design.p();
    no_coefficients(p)?;
    let x = &design.x;
    let xtx = x.transpose() * x;
    let m = spd_inverse(&xtx, "X'X")?;
    let off = |i: usize| {
        design
            .offset
            .as_ref()
            .and_then(|o| o.get(i).copied())
            .unwrap_or(0.0)
    };
    let xty: Vec<f64> = (0..p)
        .map(|a| (0..n).map(|i| x[(i, a)] * (design.y[i] - off(i))).sum())
        .collect();
    let beta: Vec<f64> = (0..p)
        .map(|a| (0..p).map(|b| m[(a, b)] * xty[b]).sum())
        .collect();
    let resid: Vec<f64> = (0..n)
        .map(|i| design.y[i] - off(i) - (0..p).map(|a| x[(i, a)] * beta[a]).sum::<f64>())
        .collect();
    let rss: f64 = resid.iter().map(|e| e * e).sum();
    let s2 = rss / (n as f64 - p as f64);
    let model_se: Vec<f64> = (0..p).map(|a| (s2 * m[(a, a)]).max(0.0).sqrt()).collect();
    let cr = cluster_robust(x, &resid, clusters, &WorkingCovariance::Identity, cr_type)?;
    Ok(assemble(
        "ols", design, clusters, cr_type, &beta, &model_se, cr,
    ))
}

/// Cluster-robust standard errors for the fixed effects of a fitted linear mixed model
/// (clubSandwich's `vcovCR` on an `lmerMod`): the working covariance is the model's marginal
/// covariance `Φⱼ = ZⱼΛΛ'Zⱼ' + I` (σ² cancels), `W = Φ⁻¹`, residuals `y − Xβ̂`.
///
/// Every level of every random-effects grouping factor must lie within one cluster (the
/// clusters are the grouping factor itself or coarser), so that Φ is block-diagonal by cluster.
///
/// # Errors
/// Weights, random effects that cross clusters, a fit that does not belong to the design.
pub fn lmm_robust(
    design: &Design,
    fit: &FitResult,
    clusters: &Clusters,
    cr_type: CrType,
) -> Result<RobustResult, MarginalError> {
    let n = design.nobs();
    let p = design.p();
    no_coefficients(p)?;
    if clusters.nobs() != n || fit.fixed.len() != p || fit.theta.len() != design.n_theta() {
        return Err(MarginalError::Input(
            "the fit, the design and the clusters do not match (different rows or coefficients); hint: fit the model to the same data".to_string(),
        ));
    }
    if design.weights.is_some() {
        return Err(MarginalError::Input(
            "cluster-robust standard errors for weighted mixed models are not supported; hint: drop --weights".to_string(),
        ));
    }
    let blocks = lmm_working_blocks(design, &fit.theta, clusters)?;
    let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    let off = |i: usize| {
        design
            .offset
            .as_ref()
            .and_then(|o| o.get(i).copied())
            .unwrap_or(0.0)
    };
    let resid: Vec<f64> = (0..n)
        .map(|i| design.y[i] - off(i) - (0..p).map(|a| design.x[(i, a)] * beta[a]).sum::<f64>())
        .collect();
    let model_se: Vec<f64> = fit.fixed.iter().map(|f| f.std_error).collect();
    let cr = cluster_robust(
        &design.x,
        &resid,
        clusters,
        &WorkingCovariance::Blocks(blocks),
        cr_type,
    )?;
    Ok(assemble(
        "lmm", design, clusters, cr_type, &beta, &model_se, cr,
    ))
}

/// `Φⱼ = ZⱼΛ(θ)Λ(θ)'Zⱼ' + I` for every cluster.
///
/// # Errors
/// A random-effects level whose rows fall in more than one cluster.
pub fn lmm_working_blocks(
    design: &Design,
    theta: &[f64],
    clusters: &Clusters,
) -> Result<Vec<Mat<f64>>, MarginalError> {
    // T = ΛΛ' per term, Λ from the term's covariance structure.
    let mut ts = Vec::with_capacity(design.terms.len());
    for (t, lam_rows) in design.terms.iter().zip(design.lambdas(theta)) {
        let k = t.k;
        let lam = Mat::<f64>::from_fn(k, k, |r, c| lam_rows[r * k + c]);
        ts.push(&lam * lam.transpose());
        // nesting check
        let mut owner: Vec<Option<usize>> = vec![None; t.nlevels()];
        for (i, &lvl) in t.refs.iter().enumerate() {
            let c = clusters.code[i];
            match owner.get_mut(lvl as usize) {
                Some(slot @ None) => *slot = Some(c),
                Some(Some(o)) if *o != c => {
                    return Err(MarginalError::Input(format!(
                        "level `{}` of the random-effects factor `{}` occurs in clusters `{}` and `{}` of `{}`, so the model's covariance is not block-diagonal by cluster; hint: cluster by `{}` or by a factor that contains it",
                        t.levels.get(lvl as usize).map_or("?", String::as_str),
                        t.group,
                        clusters.labels.get(*o).map_or("?", String::as_str),
                        clusters.labels.get(c).map_or("?", String::as_str),
                        clusters.name,
                        t.group
                    )));
                }
                _ => {}
            }
        }
    }
    let mut blocks = Vec::with_capacity(clusters.len());
    for rows in &clusters.members {
        let m = rows.len();
        let mut phi = Mat::<f64>::identity(m, m);
        for (t, tt) in design.terms.iter().zip(&ts) {
            let k = t.k;
            for (a, &ia) in rows.iter().enumerate() {
                for (b, &ib) in rows.iter().enumerate() {
                    if t.refs[ia] != t.refs[ib] {
                        continue;
                    }
                    let mut s = 0.0;
                    for u in 0..k {
                        for v in 0..k {
                            s += t.z[ia * k + u] * tt[(u, v)] * t.z[ib * k + v];
                        }
                    }
                    phi[(a, b)] += s;
                }
            }
        }
        blocks.push(phi);
    }
    Ok(blocks)
}

/// The robust covariance and the df of each coefficient.
#[derive(Debug, Clone)]
pub struct CrCovariance {
    /// `V^CR`, `p × p`.
    pub vcov: Mat<f64>,
    /// Satterthwaite df per coefficient.
    pub df: Vec<f64>,
}

/// The cluster-robust covariance of the estimator `β̂ = M X'W y` and the Satterthwaite df of
/// each coefficient's t test (module docs). `resid` is `y − Xβ̂`.
///
/// # Errors
/// Fewer than 2 clusters, a singular `X'WX`, a working block that is not positive definite.
pub fn cluster_robust(
    x: &Mat<f64>,
    resid: &[f64],
    clusters: &Clusters,
    working: &WorkingCovariance,
    cr_type: CrType,
) -> Result<CrCovariance, MarginalError> {
    let n = x.nrows();
    let p = x.ncols();
    let g = clusters.len();
    if g < 2 || clusters.nobs() != n || resid.len() != n {
        return Err(MarginalError::Input(
            "cluster-robust standard errors need at least 2 clusters and one cluster label per observation; hint: check the cluster column".to_string(),
        ));
    }
    // Per cluster: X_j, Φ_j, W_j.
    let xs: Vec<Mat<f64>> = clusters.members.iter().map(|r| select_rows(x, r)).collect();
    let (phis, ws): (Vec<Mat<f64>>, Vec<Mat<f64>>) = match working {
        WorkingCovariance::Identity => clusters
            .members
            .iter()
            .map(|r| {
                (
                    Mat::identity(r.len(), r.len()),
                    Mat::identity(r.len(), r.len()),
                )
            })
            .unzip(),
        WorkingCovariance::Blocks(b) => {
            if b.len() != g {
                return Err(MarginalError::Input(
                    "one working covariance block per cluster is needed".to_string(),
                ));
            }
            let mut ws = Vec::with_capacity(g);
            for phi in b {
                ws.push(spd_inverse(phi, "a cluster's working covariance")?);
            }
            (b.clone(), ws)
        }
    };
    let mut xtwx = Mat::<f64>::zeros(p, p);
    let wxs: Vec<Mat<f64>> = ws.iter().zip(&xs).map(|(w, xj)| w * xj).collect();
    for (xj, wxj) in xs.iter().zip(&wxs) {
        xtwx += xj.transpose() * wxj;
    }
    let m = spd_inverse(&xtwx, "X'WX")?;

    // Adjustment matrices A_j.
    let c1 = {
        let nn = n as f64;
        let gg = g as f64;
        gg / (gg - 1.0) * (nn - 1.0) / (nn - p as f64)
    };
    let mut adj: Vec<Mat<f64>> = Vec::with_capacity(g);
    for (xj, phi) in xs.iter().zip(&phis) {
        let nj = xj.nrows();
        let a = match cr_type {
            CrType::Cr0 => Mat::identity(nj, nj),
            CrType::Cr1 => {
                let mut a = Mat::<f64>::identity(nj, nj);
                for i in 0..nj {
                    a[(i, i)] = c1.sqrt();
                }
                a
            }
            CrType::Cr2 => {
                let r = phi - xj * &m * xj.transpose();
                let l = cholesky_lower(phi, "a cluster's working covariance")?; // Φ = LL', D = L'
                let inner = l.transpose() * &r * &l;
                let isq = inv_sqrt_psd(&inner)?;
                &l * &isq * l.transpose()
            }
        };
        adj.push(a);
    }

    // Meat and V.
    let mut meat = Mat::<f64>::zeros(p, p);
    for ((rows, wxj), a) in clusters.members.iter().zip(&wxs).zip(&adj) {
        let e = Mat::<f64>::from_fn(rows.len(), 1, |i, _| resid[rows[i]]);
        let comp = wxj.transpose() * (a * &e); // p × 1
        meat += &comp * comp.transpose();
    }
    let vcov = &m * &meat * &m;

    // Satterthwaite df: G_j = A_j W_j X_j M (n_j × p; column k is g_j for coefficient k).
    let mut diag_terms = Mat::<f64>::zeros(g, p); // g_j'Φ_j g_j
    let mut ss: Vec<Mat<f64>> = Vec::with_capacity(g); // s_j = X_j'G_j (p × p; column k)
    for j in 0..g {
        let gj = &adj[j] * &wxs[j] * &m;
        let phig = &phis[j] * &gj;
        for k in 0..p {
            let mut s = 0.0;
            for i in 0..gj.nrows() {
                s += gj[(i, k)] * phig[(i, k)];
            }
            diag_terms[(j, k)] = s;
        }
        ss.push(xs[j].transpose() * &gj);
    }
    let mut df = vec![f64::NAN; p];
    for (k, dfk) in df.iter_mut().enumerate() {
        // S: p × G with columns s_j (for coefficient k); MS = M S.
        let s = Mat::<f64>::from_fn(p, g, |a, j| ss[j][(a, k)]);
        let ms = &m * &s;
        // P_jl = δ_jl d_j − s_j' M s_l
        let mut trace = 0.0;
        let mut sumsq = 0.0;
        let q = s.transpose() * &ms; // G × G, q_jl = s_j'Ms_l
        for j in 0..g {
            for l in 0..g {
                let mut v = -q[(j, l)];
                if j == l {
                    v += diag_terms[(j, k)];
                    trace += v;
                }
                sumsq += v * v;
            }
        }
        *dfk = trace * trace / sumsq;
    }
    Ok(CrCovariance { vcov, df })
}

/// A model without fixed-effects coefficients (`y ~ 0`) has nothing to test.
fn no_coefficients(p: usize) -> Result<(), MarginalError> {
    if p == 0 {
        return Err(MarginalError::Input(
            "the model has no fixed-effects coefficients; hint: add predictors or an intercept"
                .to_string(),
        ));
    }
    Ok(())
}

fn assemble(
    model: &str,
    design: &Design,
    clusters: &Clusters,
    cr_type: CrType,
    beta: &[f64],
    model_se: &[f64],
    cr: CrCovariance,
) -> RobustResult {
    let p = beta.len();
    let fixed = (0..p)
        .map(|a| {
            let se = cr.vcov[(a, a)].max(0.0).sqrt();
            let t = beta[a] / se;
            let df = cr.df[a];
            RobustCoef {
                term: design.x_names.get(a).cloned().unwrap_or_default(),
                estimate: beta[a],
                std_error: se,
                statistic: t,
                df,
                p_value: two_sided_t(t, df),
                model_std_error: model_se.get(a).copied().unwrap_or(f64::NAN),
            }
        })
        .collect();
    let mut vcov = Vec::with_capacity(p * p);
    for a in 0..p {
        for b in 0..p {
            vcov.push(cr.vcov[(a, b)]);
        }
    }
    RobustResult {
        model: model.to_string(),
        formula: design.formula.clone(),
        data_name: design.data_name.clone(),
        cr_type,
        fixed,
        vcov,
        cluster_name: clusters.name.clone(),
        clusters: clusters.len(),
        nobs: design.nobs(),
        n_dropped_missing: design.n_dropped_missing,
        dropped_columns: design.dropped_columns.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// With the CR2 adjustment, `Aⱼ Rⱼ Aⱼ = Φⱼ` for the working covariance `Φ` and the
    /// residual covariance `Rⱼ = Φⱼ − XⱼMXⱼ'`: the CR2 meat is unbiased under the working model.
    #[test]
    fn cr2_adjustment_is_unbiased_under_the_working_model() {
        let n = 12;
        let x = Mat::from_fn(n, 2, |i, j| {
            if j == 0 {
                1.0
            } else {
                (i as f64 * 0.37).sin() + i as f64 * 0.1
            }
        });
        let labels: Vec<String> = (0..n).map(|i| format!("g{}", i % 4)).collect();
        let clusters = Clusters::from_labels("g", &labels);
        // A random-intercept-like working covariance.
        let blocks: Vec<Mat<f64>> = clusters
            .members
            .iter()
            .map(|r| Mat::from_fn(r.len(), r.len(), |a, b| if a == b { 1.8 } else { 0.8 }))
            .collect();
        let ws: Vec<Mat<f64>> = blocks
            .iter()
            .map(|b| spd_inverse(b, "b").unwrap())
            .collect();
        let xs: Vec<Mat<f64>> = clusters
            .members
            .iter()
            .map(|r| select_rows(&x, r))
            .collect();
        let mut xtwx = Mat::<f64>::zeros(2, 2);
        for (xj, w) in xs.iter().zip(&ws) {
            xtwx += xj.transpose() * w * xj;
        }
        let m = spd_inverse(&xtwx, "m").unwrap();
        for (xj, phi) in xs.iter().zip(&blocks) {
            let r = phi - xj * &m * xj.transpose();
            let l = cholesky_lower(phi, "phi").unwrap();
            let a = &l * inv_sqrt_psd(&(l.transpose() * &r * &l)).unwrap() * l.transpose();
            let ara = &a * &r * &a;
            for i in 0..phi.nrows() {
                for j in 0..phi.ncols() {
                    assert!((ara[(i, j)] - phi[(i, j)]).abs() < 1e-10);
                }
            }
        }
        // CR0 ≤ CR2 for the slope here (CR2 inflates the residuals), and CR1 is CR0 scaled.
        let resid: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
        let w = WorkingCovariance::Blocks(blocks);
        let v0 = cluster_robust(&x, &resid, &clusters, &w, CrType::Cr0).unwrap();
        let v1 = cluster_robust(&x, &resid, &clusters, &w, CrType::Cr1).unwrap();
        let v2 = cluster_robust(&x, &resid, &clusters, &w, CrType::Cr2).unwrap();
        let c = 4.0 / 3.0 * 11.0 / 10.0;
        assert!((v1.vcov[(1, 1)] / v0.vcov[(1, 1)] - c).abs() < 1e-12);
        assert!(v2.vcov[(1, 1)] > v0.vcov[(1, 1)]);
        assert!(
            v2.df.iter().all(|d| *d > 0.0 && *d <= 3.0 + 1e-9),
            "{:?}",
            v2.df
        );
    }

    #[test]
    fn t_p_values() {
        assert!((two_sided_t(2.0, 10.0) - 0.073_388_034_770_740_8).abs() < 1e-9);
        assert!(two_sided_t(1.0, f64::NAN).is_nan());
    }
}
