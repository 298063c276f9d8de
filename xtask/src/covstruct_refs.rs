//! Checks of the random-effect covariance structures (`us()`, `diag()`, `cs()`, `ar1()`)
//! against glmmTMB, nlme and lme4 1.1: every case of `tests/reference/covstruct/cases.json`
//! (written by `xtask/r/reference_covstruct.R`) is refitted and compared.
//!
//! The references are evaluated in R at each engine's estimates with lme4's conventions
//! (log-likelihood or REML log-likelihood `−REMLcrit/2`; standard errors
//! `√diag((X'V⁻¹X)⁻¹)` at the estimates, lme4's `σ²(R_X'R_X)⁻¹`), so they compare with our
//! fit directly. Tolerances: the log-likelihood at least the reference's to 1e-6 relative;
//! β to 1e-3 standard errors; standard errors 2e-3 relative; the term's standard deviations
//! and σ 1e-3 relative, ρ 1e-3 absolute. Parameters are compared only when the engine
//! converged and our log-likelihood is not higher than its by more than the tolerance (then
//! we found a better optimum and the estimates differ legitimately); the parameter count
//! `npar` (logLik's df) must always agree. Where the reference has lmerTest's Satterthwaite
//! df (lme4 1.1's `(1 | g) + (0 + x | g)`, which is `diag(x | g)`), ours agree to 1e-3
//! relative.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use multilevel::{DataFrame, FitOptions, ReadOptions};
use serde_json::Value;

/// Log-likelihood tolerance (relative).
pub const LOGLIK_TOL: f64 = 1e-6;
/// β tolerance in standard errors.
pub const BETA_SE_TOL: f64 = 1e-3;
/// Standard-error tolerance (relative).
pub const SE_TOL: f64 = 2e-3;
/// Tolerance of the structure's standard deviations and σ (relative) and of ρ (absolute).
pub const PARAM_TOL: f64 = 1e-3;
/// Satterthwaite df tolerance (relative; both sides differentiate numerically).
pub const DF_TOL: f64 = 1e-3;

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// Case name and engine (`oats_cs_reml/glmmTMB`).
    pub name: String,
    /// Our log-likelihood and the reference's.
    pub loglik: (f64, f64),
    /// Largest β difference in standard errors.
    pub beta: f64,
    /// Largest relative standard-error difference.
    pub se: f64,
    /// Largest difference of the structure's parameters (sd and σ relative, ρ absolute).
    pub params: f64,
    /// Whether the parameters were compared (engine converged, our optimum not better).
    pub compared: bool,
    /// Failed checks, described.
    pub failures: Vec<String>,
}

impl CaseOutcome {
    /// Whether every check passed.
    pub fn pass(&self) -> bool {
        self.failures.is_empty()
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// The cases of the reference file.
///
/// # Errors
/// The file is missing or not JSON.
pub fn cases(root: &Path) -> Result<Vec<Value>> {
    let path = root.join("tests/reference/covstruct/cases.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    Ok(v["cases"].as_array().cloned().unwrap_or_default())
}

/// Refit one case and compare.
///
/// # Errors
/// The data cannot be read or the model cannot be fitted.
pub fn check_case(root: &Path, case: &Value) -> Result<CaseOutcome> {
    let dir = root.join("tests/reference/covstruct");
    let name = format!(
        "{}/{}",
        case["name"].as_str().unwrap_or("?"),
        case["engine"].as_str().unwrap_or("?")
    );
    let data = DataFrame::read_csv(
        &dir.join(case["data"].as_str().unwrap_or_default()),
        &ReadOptions::default(),
    )?;
    let formula = case["formula"]
        .as_str()
        .ok_or_else(|| anyhow!("{name}: no formula"))?;
    let reml = case["reml"].as_bool().unwrap_or(true);
    let opts = if reml {
        FitOptions::new()
    } else {
        FitOptions::new().ml()
    };
    let mut model = multilevel::lmer(formula, &data, &opts).map_err(|e| anyhow!("{name}: {e}"))?;
    let fit = multilevel::MixedModel::summary(&model).clone();
    let want_ll = case["loglik"].as_f64().unwrap_or(f64::NAN);
    let mut failures = Vec::new();
    // lme4's REML logLik is −REMLcrit/2, ours too.
    let ours_ll = fit.loglik;
    let rel = (ours_ll - want_ll) / want_ll.abs();
    if rel.is_nan() || rel < -LOGLIK_TOL {
        failures.push(format!("logLik {ours_ll} below {want_ll} (rel {rel:.2e})"));
    }
    let npar = case["npar"].as_u64().unwrap_or(0) as usize;
    if fit.npar != npar {
        failures.push(format!("npar {} vs {npar}", fit.npar));
    }
    let converged = case["converged"].as_bool().unwrap_or(true);
    let compared = converged && rel <= LOGLIK_TOL;

    let beta_want = nums(&case["beta"]);
    let se_want = nums(&case["se"]);
    let names: Vec<String> = case["beta_names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut beta_diff: f64 = 0.0;
    let mut se_diff: f64 = 0.0;
    for ((n, b), s) in names.iter().zip(&beta_want).zip(&se_want) {
        let Some(fe) = fit.fixed.iter().find(|f| &f.term == n) else {
            failures.push(format!("no coefficient {n}"));
            continue;
        };
        beta_diff = beta_diff.max((fe.estimate - b).abs() / s);
        se_diff = se_diff.max((fe.std_error - s).abs() / s);
    }
    let sd_want = nums(&case["sd"]);
    let sd_ours: Vec<f64> = fit.random.iter().map(|v| v.std_dev).collect();
    let mut params: f64 = 0.0;
    if sd_ours.len() == sd_want.len() {
        for (a, b) in sd_ours.iter().zip(&sd_want) {
            params = params.max((a - b).abs() / b.abs().max(1e-8));
        }
    } else {
        failures.push(format!(
            "{} standard deviations vs {}",
            sd_ours.len(),
            sd_want.len()
        ));
    }
    let sigma_want = case["sigma"].as_f64().unwrap_or(f64::NAN);
    params = params.max((fit.sigma - sigma_want).abs() / sigma_want);
    if let Some(rho) = case["rho"].as_f64() {
        let ours = fit.correlations.first().map_or(f64::NAN, |c| c.corr);
        params = params.max((ours - rho).abs());
    }
    // lmerTest's Satterthwaite df, through the structure's parameters.
    if let Some(want) = case.get("satterthwaite_df").map(nums) {
        let with_df = model
            .summary_with_df(multilevel::Ddf::Satterthwaite)
            .map_err(|e| anyhow!("{name}: {e}"))?;
        for (fe, w) in with_df.fixed.iter().zip(&want) {
            let d = fe.df.map_or(f64::INFINITY, |v| (v - w).abs() / w);
            if d.is_nan() || d > DF_TOL {
                failures.push(format!(
                    "Satterthwaite df of {} differs by {d:.2e}",
                    fe.term
                ));
            }
        }
    }
    if compared {
        if beta_diff.is_nan() || beta_diff > BETA_SE_TOL {
            failures.push(format!("β differs by {beta_diff:.2e} SE"));
        }
        if se_diff.is_nan() || se_diff > SE_TOL {
            failures.push(format!("SE differs by {se_diff:.2e}"));
        }
        if params.is_nan() || params > PARAM_TOL {
            failures.push(format!("structure parameters differ by {params:.2e}"));
        }
    }
    Ok(CaseOutcome {
        name,
        loglik: (ours_ll, want_ll),
        beta: beta_diff,
        se: se_diff,
        params,
        compared,
        failures,
    })
}

/// Refit every case, print a table, return `(passed, total)`.
///
/// # Errors
/// The reference file cannot be read.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let all = cases(root)?;
    println!(
        "{:<34} {:>15} {:>15} {:>9} {:>9} {:>9}  status",
        "covariance-structure reference", "logLik", "reference", "β/SE", "SE", "params"
    );
    let mut passed = 0;
    for case in &all {
        match check_case(root, case) {
            Ok(o) => {
                if o.pass() {
                    passed += 1;
                }
                let status = match (o.pass(), o.compared) {
                    (true, true) => "PASS".to_string(),
                    (true, false) => {
                        "PASS (logLik only: engine not converged or ours higher)".into()
                    }
                    (false, _) => format!("FAIL {}", o.failures.join("; ")),
                };
                println!(
                    "{:<34} {:>15.6} {:>15.6} {:>9.2e} {:>9.2e} {:>9.2e}  {status}",
                    o.name, o.loglik.0, o.loglik.1, o.beta, o.se, o.params
                );
            }
            Err(e) => println!("{:<34} ERROR {e:#}", case["name"].as_str().unwrap_or("?")),
        }
    }
    Ok((passed, all.len()))
}

/// Refit every GLMM case of `glmm_cases.json` (Laplace, binomial) and compare: the
/// log-likelihood at least glmmTMB's to 1e-6 relative, β to 1e-3 of glmmTMB's standard
/// errors and the term's standard deviations to 1e-3 relative (when glmmTMB converged and our
/// optimum is not higher), the parameter count exactly. Returns the failures per case.
///
/// # Errors
/// The reference file cannot be read.
pub fn check_glmm_cases(root: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let path = root.join("tests/reference/covstruct/glmm_cases.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    let mut out = Vec::new();
    for case in v["cases"].as_array().into_iter().flatten() {
        let name = case["name"].as_str().unwrap_or("?").to_string();
        let mut failures = Vec::new();
        let family = match case["family"].as_str() {
            Some("binomial") => multilevel::Family::Binomial,
            Some("poisson") => multilevel::Family::Poisson,
            other => {
                out.push((name, vec![format!("family {other:?} not handled")]));
                continue;
            }
        };
        let data = DataFrame::read_csv(
            &root.join(case["data"].as_str().unwrap_or_default()),
            &ReadOptions::default(),
        )?;
        let model = multilevel::glmer(
            case["formula"].as_str().unwrap_or_default(),
            &data,
            family,
            &multilevel::GlmerOptions::new(),
        );
        let model = match model {
            Ok(m) => m,
            Err(e) => {
                out.push((name, vec![format!("fit failed: {e}")]));
                continue;
            }
        };
        let fit = multilevel::MixedModel::summary(&model);
        let want = case["loglik"].as_f64().unwrap_or(f64::NAN);
        let rel = (fit.loglik - want) / want.abs();
        if rel.is_nan() || rel < -LOGLIK_TOL {
            failures.push(format!(
                "logLik {} below {want} (rel {rel:.2e})",
                fit.loglik
            ));
        }
        let npar = case["npar"].as_u64().unwrap_or(0) as usize;
        if fit.npar != npar {
            failures.push(format!("npar {} vs {npar}", fit.npar));
        }
        if case["converged"].as_bool().unwrap_or(false) && rel <= LOGLIK_TOL {
            let names: Vec<&str> = case["beta_names"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for ((n, b), s) in names.iter().zip(nums(&case["beta"])).zip(nums(&case["se"])) {
                let d = fit
                    .fixed
                    .iter()
                    .find(|f| f.term == *n)
                    .map_or(f64::INFINITY, |f| (f.estimate - b).abs() / s);
                if d.is_nan() || d > BETA_SE_TOL {
                    failures.push(format!("β {n} differs by {d:.2e} SE"));
                }
            }
            let sd_want = nums(&case["sd"]);
            let sd_ours: Vec<f64> = fit.random.iter().map(|r| r.std_dev).collect();
            if sd_ours.len() != sd_want.len() {
                failures.push("number of standard deviations".into());
            }
            for (a, b) in sd_ours.iter().zip(&sd_want) {
                let d = (a - b).abs() / b;
                if d.is_nan() || d > PARAM_TOL {
                    failures.push(format!("sd {a} vs {b}"));
                }
            }
        }
        out.push((name, failures));
    }
    Ok(out)
}
