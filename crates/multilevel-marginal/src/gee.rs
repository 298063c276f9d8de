//! Generalized estimating equations (Liang & Zeger 1986) as geepack's `geeglm` solves them.
//!
//! # Model
//! The marginal mean of observation `j` of cluster `i` is `μᵢⱼ = g⁻¹(ηᵢⱼ)`, `η = offset + Xβ`,
//! with variance `φ·v(μᵢⱼ)` (`v` the family's variance function, `φ` the scale) and a working
//! correlation `R(α)` within each cluster:
//!
//! - independence: `R = I`;
//! - exchangeable: `Rⱼₖ = α` for `j ≠ k`;
//! - AR(1): `Rⱼₖ = α^|j−k|`, where `j, k` are the positions of the rows within their cluster in
//!   data order (geepack's default `waves`).
//!
//! # Estimating equations (geepack's defaults: identity links for scale and correlation)
//! With Pearson residuals `rᵢⱼ = (yᵢⱼ − μᵢⱼ)/√v(μᵢⱼ)` and `Dᵢ = diag(dμ/dη / √v) Xᵢ`:
//!
//! - β: `Σᵢ Dᵢ' Rᵢ⁻¹ rᵢ = 0` (Fisher scoring steps `Δβ = (Σ D'R⁻¹D)⁻¹ Σ D'R⁻¹r`);
//! - scale: `φ = Σ r² / N` — the mean squared Pearson residual, *no* `N − p` correction;
//! - α: exchangeable `α = Σᵢ Σⱼ<ₖ rᵢⱼ rᵢₖ / φ ÷ Σᵢ nᵢ(nᵢ−1)/2` (over all within-cluster
//!   pairs); AR(1) the root of `Σ_pairs d α^(d−1) (rᵢⱼ rᵢₖ/φ − α^d) = 0`, `d = |j − k|`, over
//!   all pairs (not only neighbours), which is what geepack's Gauss–Newton update of α solves.
//!
//! geepack alternates one step for β, φ and α until the largest change is below its `epsilon`;
//! this solver does the same to a tight tolerance (default 1e-10), so it lands on the same
//! solution (geepack's default stopping rule, `epsilon = 1e-4`, can leave ~1e-6 relative
//! differences in the last digits).
//!
//! # Standard errors
//! The robust ("sandwich", geepack's `san.se`) covariance
//! `V = B⁻¹ (Σᵢ Uᵢ Uᵢ') B⁻¹` with `B = Σᵢ Dᵢ'Rᵢ⁻¹Dᵢ` and `Uᵢ = Dᵢ'Rᵢ⁻¹rᵢ` (φ cancels); the
//! model-based ("naive") covariance is `φ B⁻¹`. Tests are Wald tests, `W = (β̂/se)²` on 1 df,
//! as geeglm's summary prints them, equivalently `z = β̂/se` against N(0, 1).

use crate::linalg::spd_inverse;
use crate::model::fixed_model;
use crate::{Clusters, MarginalError, Setting};
use faer::Mat;
use multilevel_design::Design;
use multilevel_frame::DataFrame;
use multilevel_glmm::{FamilyKind, FamilySpec, GlmFamily, LinkKind};
use serde::Serialize;

/// Working correlation structure (geepack's `corstr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CorStructure {
    /// `R = I`: the GEE estimates are the GLM estimates.
    Independence,
    /// One common correlation α between any two observations of a cluster.
    Exchangeable,
    /// `α^|j−k|` between the j-th and k-th observation of a cluster (data order).
    Ar1,
}

impl CorStructure {
    /// geepack's name (`independence`, `exchangeable`, `ar1`).
    pub fn name(self) -> &'static str {
        match self {
            CorStructure::Independence => "independence",
            CorStructure::Exchangeable => "exchangeable",
            CorStructure::Ar1 => "ar1",
        }
    }

    /// Parse geepack's name (case-insensitive; `ar(1)` accepted).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "independence" | "ind" => Some(CorStructure::Independence),
            "exchangeable" | "exch" | "compound-symmetry" => Some(CorStructure::Exchangeable),
            "ar1" | "ar(1)" => Some(CorStructure::Ar1),
            _ => None,
        }
    }
}

/// Options of [`gee`] and [`gee_fit`].
#[derive(Debug, Clone, Copy)]
pub struct GeeOptions {
    /// Family and link (gaussian, binomial, poisson or Gamma; any link R allows).
    pub family: FamilySpec,
    /// Working correlation.
    pub corstr: CorStructure,
    /// Convergence tolerance on the largest change of β, φ, α in one iteration (relative to
    /// `max(1, |value|)`).
    pub tol: f64,
    /// Maximum number of iterations.
    pub max_iter: usize,
}

impl Default for GeeOptions {
    fn default() -> Self {
        GeeOptions {
            family: FamilySpec::new(FamilyKind::Gaussian, LinkKind::Identity),
            corstr: CorStructure::Independence,
            tol: 1e-10,
            max_iter: 200,
        }
    }
}

/// One coefficient of a GEE fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeeCoef {
    /// Column name of `X`.
    pub term: String,
    /// β̂.
    pub estimate: f64,
    /// Robust (sandwich) standard error.
    pub std_error: f64,
    /// `z = β̂ / se`.
    pub statistic: f64,
    /// Wald χ² on 1 df, `z²` (geeglm's `Wald`).
    pub wald: f64,
    /// Two-sided p-value, `P(χ²₁ > W)` (geeglm's `Pr(>|W|)`).
    pub p_value: f64,
    /// Model-based ("naive") standard error, `√(φ B⁻¹)ᵢᵢ`.
    pub naive_std_error: f64,
}

/// Estimated working correlation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkingCorrelation {
    /// The structure.
    pub structure: CorStructure,
    /// α (none for independence).
    pub alpha: Option<f64>,
}

/// Result of a GEE fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeeResult {
    /// The formula as given.
    pub formula: String,
    /// Data name (file or data set).
    pub data_name: String,
    /// Response label.
    pub response: String,
    /// Family name as R prints it.
    pub family: String,
    /// Link name.
    pub link: String,
    /// Coefficients with robust standard errors.
    pub fixed: Vec<GeeCoef>,
    /// Robust covariance of β̂, `p × p` row-major.
    pub vcov: Vec<f64>,
    /// Working correlation and α.
    pub working_correlation: WorkingCorrelation,
    /// Scale parameter φ (mean squared Pearson residual).
    pub scale: f64,
    /// Name of the cluster column.
    pub cluster_name: String,
    /// Number of clusters.
    pub clusters: usize,
    /// Smallest and largest cluster size.
    pub cluster_sizes: (usize, usize),
    /// Number of observations used.
    pub nobs: usize,
    /// Rows dropped for missing values.
    pub n_dropped_missing: usize,
    /// Columns of the model matrix dropped as aliased (linearly dependent on earlier columns,
    /// R's `NA` coefficients).
    pub dropped_columns: Vec<String>,
    /// Iterations used.
    pub iterations: usize,
}

/// Fit a GEE from a fixed-effects formula (`y ~ x1 + x2`), clustering by column `cluster`
/// (geepack's `geeglm(formula, id = cluster, data, family, corstr)` with the data sorted by
/// the cluster column; see [`Clusters`] for how clusters and AR(1) order are defined).
///
/// # Errors
/// Formula and data errors; random-effects terms in the formula; a `cbind()` response; a
/// response outside the family's range; no convergence.
pub fn gee(
    formula: &str,
    data: &DataFrame,
    cluster: &str,
    opts: &GeeOptions,
) -> Result<GeeResult, MarginalError> {
    let m = fixed_model(formula, data, cluster, "GEE")?;
    // Check the response here too, where a bad value can be named by its line in the data.
    check_response(&m.design, opts, |i| match m.rows.get(i) {
        Some(&r) => data.location(r).to_string(),
        None => format!("observation {} of the model", i + 1),
    })?;
    gee_fit(&m.design, &m.clusters, opts)
}

/// Every response value must lie in the family's range; `locate(i)` names model row `i`.
fn check_response(
    design: &Design,
    opts: &GeeOptions,
    locate: impl Fn(usize) -> String,
) -> Result<(), MarginalError> {
    let fam: GlmFamily = opts.family.build();
    for (i, &y) in design.y.iter().enumerate() {
        if let Err(why) = fam.family.check_y(y) {
            return Err(MarginalError::Setting {
                problem: format!("{}, {}: {why}", design.data_name, locate(i)),
                check: Some(format!("check the response `{}`", design.response_name)),
                setting: Setting::Family,
            });
        }
    }
    Ok(())
}

/// Fit a GEE to a fixed-effects design with the given clusters (one per design row).
///
/// # Errors
/// As [`gee`].
pub fn gee_fit(
    design: &Design,
    clusters: &Clusters,
    opts: &GeeOptions,
) -> Result<GeeResult, MarginalError> {
    let n = design.nobs();
    let p = design.p();
    if clusters.nobs() != n {
        return Err(MarginalError::Input(format!(
            "{} cluster labels for {n} observations; hint: give one cluster label per model row",
            clusters.nobs()
        )));
    }
    if design.trials.is_some() {
        return Err(MarginalError::Input(
            "GEE with a `cbind(successes, failures)` response is not supported; hint: expand the data to one 0/1 row per trial".to_string(),
        ));
    }
    if design.weights.is_some() {
        return Err(MarginalError::Input(
            "GEE with prior weights is not supported; hint: drop the weights".to_string(),
        ));
    }
    if opts.family.family == FamilyKind::InverseGaussian {
        return Err(MarginalError::Input(
            "the inverse Gaussian family is not available for GEE (as in geepack); hint: use gaussian, binomial, poisson or Gamma".to_string(),
        ));
    }
    if p == 0 {
        return Err(MarginalError::Input(
            "the model has no coefficients; hint: add predictors or an intercept".to_string(),
        ));
    }
    check_response(design, opts, |i| {
        format!("observation {} of the model", i + 1)
    })?;
    let fam: GlmFamily = opts.family.build();
    let offset = |i: usize| {
        design
            .offset
            .as_ref()
            .and_then(|o| o.get(i).copied())
            .unwrap_or(0.0)
    };

    // ---- starting values: one weighted least-squares step from the family's starting means
    let mut beta = {
        let mut xtwx = Mat::<f64>::zeros(p, p);
        let mut xtwz = vec![0.0; p];
        for i in 0..n {
            let y = design.y[i];
            let mu = fam.family.mu_start(y, 1.0);
            let eta = fam.link.link(mu);
            let me = fam.link.mu_eta(eta);
            let var = fam.family.variance(mu);
            let w = me * me / var;
            let z = eta - offset(i) + (y - mu) / me;
            for a in 0..p {
                let xa = design.x[(i, a)];
                xtwz[a] += w * xa * z;
                for b in 0..p {
                    xtwx[(a, b)] += w * xa * design.x[(i, b)];
                }
            }
        }
        let inv = spd_inverse(&xtwx, "X'WX of the starting fit")?;
        (0..p)
            .map(|a| (0..p).map(|b| inv[(a, b)] * xtwz[b]).sum())
            .collect::<Vec<f64>>()
    };

    let mut alpha = 0.0;
    let mut phi = 1.0;
    let mut state = State::new(n);
    let mut iterations = 0;
    let mut converged = false;
    for it in 0..opts.max_iter {
        iterations = it + 1;
        state.update(design, &fam, &beta, &offset)?;
        // β step with the current α
        let (h, g, _) = score_and_info(design, clusters, &state, opts.corstr, alpha, false);
        let hinv = spd_inverse(&h, "the GEE information matrix Σ D'R⁻¹D")?;
        let mut change = 0.0f64;
        for a in 0..p {
            let d: f64 = (0..p).map(|b| hinv[(a, b)] * g[b]).sum();
            change = change.max(d.abs() / beta[a].abs().max(1.0));
            beta[a] += d;
        }
        // φ and α at the new β
        state.update(design, &fam, &beta, &offset)?;
        let new_phi = state.r.iter().map(|r| r * r).sum::<f64>() / n as f64;
        change = change.max((new_phi - phi).abs() / phi.abs().max(1.0));
        phi = new_phi;
        let new_alpha = estimate_alpha(clusters, &state.r, phi, opts.corstr, alpha)?;
        change = change.max((new_alpha - alpha).abs());
        alpha = new_alpha;
        if !change.is_finite() {
            return Err(MarginalError::Setting {
                problem: "the GEE iterations diverged (non-finite estimates)".to_string(),
                check: Some("check for separation or extreme predictor values".to_string()),
                setting: Setting::IndependenceCorrelation,
            });
        }
        if change <= opts.tol {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(MarginalError::Setting {
            problem: format!(
                "the GEE iterations did not converge in {} iterations",
                opts.max_iter
            ),
            check: Some("check for separation or collinear predictors".to_string()),
            setting: Setting::IndependenceCorrelation,
        });
    }
    check_alpha(clusters, opts.corstr, alpha)?;

    // ---- sandwich at the solution
    state.update(design, &fam, &beta, &offset)?;
    let (b, _, meat) = score_and_info(design, clusters, &state, opts.corstr, alpha, true);
    let binv = spd_inverse(&b, "the GEE information matrix Σ D'R⁻¹D")?;
    let tmp = &binv * &meat;
    let v = &tmp * &binv;
    let fixed = (0..p)
        .map(|a| {
            let se = v[(a, a)].max(0.0).sqrt();
            let z = beta[a] / se;
            let wald = z * z;
            // P(χ²₁ > z²) = 2Φ(−|z|) = erfc(|z|/√2), accurate far into the tail.
            let p_value = multilevel_numeric::dist::p_norm_two_sided(z);
            GeeCoef {
                term: design.x_names.get(a).cloned().unwrap_or_default(),
                estimate: beta[a],
                std_error: se,
                statistic: z,
                wald,
                p_value,
                naive_std_error: (phi * binv[(a, a)]).max(0.0).sqrt(),
            }
        })
        .collect();
    let mut vcov = Vec::with_capacity(p * p);
    for a in 0..p {
        for bb in 0..p {
            vcov.push(v[(a, bb)]);
        }
    }
    Ok(GeeResult {
        formula: design.formula.clone(),
        data_name: design.data_name.clone(),
        response: design.response_name.clone(),
        family: opts.family.family.name().to_string(),
        link: opts.family.link.name().to_string(),
        fixed,
        vcov,
        working_correlation: WorkingCorrelation {
            structure: opts.corstr,
            alpha: (opts.corstr != CorStructure::Independence).then_some(alpha),
        },
        scale: phi,
        cluster_name: clusters.name.clone(),
        clusters: clusters.len(),
        cluster_sizes: clusters.size_range(),
        nobs: n,
        n_dropped_missing: design.n_dropped_missing,
        dropped_columns: design.dropped_columns.clone(),
        iterations,
    })
}

/// Per-observation quantities at the current β: Pearson residuals `r` and the factor
/// `(dμ/dη)/√v` of the rows of `D`.
struct State {
    r: Vec<f64>,
    d: Vec<f64>,
}

impl State {
    fn new(n: usize) -> Self {
        State {
            r: vec![0.0; n],
            d: vec![0.0; n],
        }
    }

    fn update(
        &mut self,
        design: &Design,
        fam: &GlmFamily,
        beta: &[f64],
        offset: &dyn Fn(usize) -> f64,
    ) -> Result<(), MarginalError> {
        for i in 0..design.nobs() {
            let eta = offset(i)
                + beta
                    .iter()
                    .enumerate()
                    .map(|(a, b)| design.x[(i, a)] * b)
                    .sum::<f64>();
            if !fam.link.valid_eta(eta) {
                return Err(MarginalError::Setting {
                    problem: format!(
                        "the linear predictor left the range of the {} link at observation {}",
                        fam.link.name(),
                        i + 1
                    ),
                    check: Some("check the predictors".to_string()),
                    setting: Setting::Link,
                });
            }
            let mu = fam.link.inverse(eta);
            let var = fam.family.variance(mu);
            if !(var > 0.0 && var.is_finite()) {
                return Err(MarginalError::Setting {
                    problem: format!(
                        "the variance function is not positive at observation {} (μ = {mu})",
                        i + 1
                    ),
                    check: None,
                    setting: Setting::Link,
                });
            }
            let sv = var.sqrt();
            self.r[i] = (design.y[i] - mu) / sv;
            self.d[i] = fam.link.mu_eta(eta) / sv;
        }
        Ok(())
    }
}

/// `R⁻¹ v` for the working correlation of a cluster of size `v.len()` (closed forms).
fn apply_rinv(corstr: CorStructure, alpha: f64, v: &[f64]) -> Vec<f64> {
    let m = v.len();
    match corstr {
        CorStructure::Independence => v.to_vec(),
        _ if m <= 1 || alpha == 0.0 => v.to_vec(),
        CorStructure::Exchangeable => {
            // R = (1−α)I + α11' ⇒ R⁻¹ = [I − α/(1 + (m−1)α) 11'] / (1−α)
            let s: f64 = v.iter().sum();
            let c = alpha / (1.0 + (m as f64 - 1.0) * alpha);
            v.iter().map(|x| (x - c * s) / (1.0 - alpha)).collect()
        }
        CorStructure::Ar1 => {
            // R⁻¹ = tridiag(−α; 1, 1+α², …, 1+α², 1; −α) / (1 − α²)
            let f = 1.0 / (1.0 - alpha * alpha);
            (0..m)
                .map(|j| {
                    let diag = if j == 0 || j + 1 == m {
                        1.0
                    } else {
                        1.0 + alpha * alpha
                    };
                    let mut s = diag * v[j];
                    if j > 0 {
                        s -= alpha * v[j - 1];
                    }
                    if j + 1 < m {
                        s -= alpha * v[j + 1];
                    }
                    f * s
                })
                .collect()
        }
    }
}

/// `B = Σ D'R⁻¹D`, the score `Σ D'R⁻¹r` and (if `meat`) `Σ UᵢUᵢ'`.
fn score_and_info(
    design: &Design,
    clusters: &Clusters,
    state: &State,
    corstr: CorStructure,
    alpha: f64,
    meat: bool,
) -> (Mat<f64>, Vec<f64>, Mat<f64>) {
    let p = design.p();
    let mut h = Mat::<f64>::zeros(p, p);
    let mut g = vec![0.0; p];
    let mut mm = Mat::<f64>::zeros(p, p);
    for rows in &clusters.members {
        let r: Vec<f64> = rows.iter().map(|&i| state.r[i]).collect();
        let rinv_r = apply_rinv(corstr, alpha, &r);
        let dcols: Vec<Vec<f64>> = (0..p)
            .map(|a| {
                rows.iter()
                    .map(|&i| state.d[i] * design.x[(i, a)])
                    .collect()
            })
            .collect();
        let rinv_d: Vec<Vec<f64>> = dcols.iter().map(|c| apply_rinv(corstr, alpha, c)).collect();
        let mut u = vec![0.0; p];
        for a in 0..p {
            u[a] = dcols[a].iter().zip(&rinv_r).map(|(x, y)| x * y).sum();
            g[a] += u[a];
            for b in 0..p {
                h[(a, b)] += dcols[a]
                    .iter()
                    .zip(&rinv_d[b])
                    .map(|(x, y)| x * y)
                    .sum::<f64>();
            }
        }
        if meat {
            for a in 0..p {
                for b in 0..p {
                    mm[(a, b)] += u[a] * u[b];
                }
            }
        }
    }
    (h, g, mm)
}

/// The moment estimate of α at Pearson residuals `r` and scale `phi` (see the module docs);
/// `start` seeds the AR(1) Gauss–Newton iterations.
fn estimate_alpha(
    clusters: &Clusters,
    r: &[f64],
    phi: f64,
    corstr: CorStructure,
    start: f64,
) -> Result<f64, MarginalError> {
    match corstr {
        CorStructure::Independence => Ok(0.0),
        CorStructure::Exchangeable => {
            let mut num = 0.0;
            let mut npairs = 0.0;
            for rows in &clusters.members {
                let s: f64 = rows.iter().map(|&i| r[i]).sum();
                let ss: f64 = rows.iter().map(|&i| r[i] * r[i]).sum();
                num += (s * s - ss) / 2.0;
                let m = rows.len() as f64;
                npairs += m * (m - 1.0) / 2.0;
            }
            if npairs == 0.0 {
                return Err(no_pairs());
            }
            Ok(num / phi / npairs)
        }
        CorStructure::Ar1 => {
            // Sums of the products rᵢⱼrᵢₖ/φ and counts of the pairs by lag d = k − j.
            let maxm = clusters.members.iter().map(Vec::len).max().unwrap_or(0);
            let mut sum = vec![0.0; maxm];
            let mut count = vec![0.0; maxm];
            for rows in &clusters.members {
                for (j, &a) in rows.iter().enumerate() {
                    for (k, &b) in rows.iter().enumerate().skip(j + 1) {
                        sum[k - j] += r[a] * r[b] / phi;
                        count[k - j] += 1.0;
                    }
                }
            }
            if count.iter().sum::<f64>() == 0.0 {
                return Err(no_pairs());
            }
            // Gauss–Newton on Σ_d d α^(d−1) (S_d − N_d α^d) = 0.
            let mut a = start.clamp(-0.999, 0.999);
            for _ in 0..200 {
                let mut num = 0.0;
                let mut den = 0.0;
                for d in 1..maxm {
                    let e = d as f64 * a.powi(d as i32 - 1);
                    num += e * (sum[d] - count[d] * a.powi(d as i32));
                    den += count[d] * e * e;
                }
                if den <= 0.0 || !num.is_finite() {
                    break;
                }
                let step = num / den;
                a += step;
                if step.abs() < 1e-14 {
                    break;
                }
            }
            Ok(a)
        }
    }
}

fn no_pairs() -> MarginalError {
    MarginalError::Setting {
        problem:
            "every cluster has a single observation, so the working correlation cannot be estimated"
                .to_string(),
        check: Some("check the cluster column".to_string()),
        setting: Setting::IndependenceCorrelation,
    }
}

/// The working correlation must be positive definite for every cluster size.
fn check_alpha(clusters: &Clusters, corstr: CorStructure, alpha: f64) -> Result<(), MarginalError> {
    let (_, maxm) = clusters.size_range();
    let ok = match corstr {
        CorStructure::Independence => true,
        CorStructure::Exchangeable => alpha < 1.0 && alpha > -1.0 / (maxm.max(2) as f64 - 1.0),
        CorStructure::Ar1 => alpha.abs() < 1.0,
    };
    if ok {
        Ok(())
    } else {
        Err(MarginalError::Setting {
            problem: format!(
                "the estimated {} correlation α = {alpha} does not give a positive-definite working correlation for clusters of {maxm} observations",
                corstr.name()
            ),
            check: None,
            setting: Setting::WorkingCorrelation,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dense_r(corstr: CorStructure, alpha: f64, m: usize) -> Mat<f64> {
        Mat::from_fn(m, m, |j, k| match corstr {
            _ if j == k => 1.0,
            CorStructure::Independence => 0.0,
            CorStructure::Exchangeable => alpha,
            CorStructure::Ar1 => alpha.powi((j as i32 - k as i32).abs()),
        })
    }

    #[test]
    fn closed_form_inverses_match_dense_solves() {
        let v = [0.3, -1.2, 2.0, 0.7, -0.1];
        for corstr in [
            CorStructure::Exchangeable,
            CorStructure::Ar1,
            CorStructure::Independence,
        ] {
            for alpha in [0.35, -0.2, 0.9] {
                let r = dense_r(corstr, alpha, v.len());
                let got = apply_rinv(corstr, alpha, &v);
                // R · (R⁻¹v) must give v back.
                for j in 0..v.len() {
                    let back: f64 = (0..v.len()).map(|k| r[(j, k)] * got[k]).sum();
                    assert!(
                        (back - v[j]).abs() < 1e-12,
                        "{corstr:?} α={alpha}: {back} vs {}",
                        v[j]
                    );
                }
            }
        }
    }

    #[test]
    fn ar1_alpha_solves_its_estimating_equation() {
        let labels: Vec<String> = (0..12).map(|i| format!("c{}", i / 4)).collect();
        let clusters = Clusters::from_labels("g", &labels);
        let r = [
            0.5, 0.9, 0.4, -0.2, -1.0, -0.6, -0.9, -0.1, 1.3, 0.8, 1.1, 0.2,
        ];
        let phi = r.iter().map(|x| x * x).sum::<f64>() / r.len() as f64;
        let a = estimate_alpha(&clusters, &r, phi, CorStructure::Ar1, 0.0).unwrap();
        let mut ee = 0.0;
        for rows in &clusters.members {
            for j in 0..rows.len() {
                for k in j + 1..rows.len() {
                    let d = (k - j) as i32;
                    ee +=
                        f64::from(d) * a.powi(d - 1) * (r[rows[j]] * r[rows[k]] / phi - a.powi(d));
                }
            }
        }
        assert!(ee.abs() < 1e-10, "estimating equation at α = {a}: {ee}");
        let e = estimate_alpha(&clusters, &r, phi, CorStructure::Exchangeable, 0.0).unwrap();
        let mut num = 0.0;
        for rows in &clusters.members {
            for j in 0..rows.len() {
                for k in j + 1..rows.len() {
                    num += r[rows[j]] * r[rows[k]] / phi;
                }
            }
        }
        assert!((e - num / 18.0).abs() < 1e-12);
    }
}
