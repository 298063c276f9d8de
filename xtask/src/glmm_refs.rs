//! Checks of `multilevel-glmm` against lme4's `glmer`: every `tests/reference/glmm/*.json`
//! (written by `xtask/r/reference_glmm.R`) is refitted and compared.
//!
//! Tolerances (the project's GLMM issue): logLik within 1e-4 of lme4's (or higher: a better
//! optimum), β within 1e-3 relative (unless our logLik is higher), standard errors within 1e-2
//! relative, θ within 1e-3 relative (unless better), deviance within 1e-4 relative.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use multilevel::design::{DesignOptions, build_design_with};
use multilevel::frame::{FrameOptions, ModelFrame};
use multilevel::{DataFrame, ReadOptions};
use multilevel_glmm::{FamilySpec, GlmmOptions, glmer_full};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// Largest `|a − b| / max(|b|, floor)` (∞ on a length mismatch).
fn max_rel(a: &[f64], b: &[f64], floor: f64) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

/// One compared reference.
#[derive(Debug, Clone)]
pub struct GlmmOutcome {
    /// Reference name.
    pub name: String,
    /// Our logLik.
    pub loglik: f64,
    /// lme4's logLik.
    pub reference_loglik: f64,
    /// Max relative difference of β.
    pub beta: f64,
    /// Max relative difference of the standard errors.
    pub se: f64,
    /// Max relative difference of θ.
    pub theta: f64,
    /// Our fit time (design included), seconds.
    pub seconds: f64,
    /// lme4's median fit time, seconds.
    pub lme4_seconds: f64,
    /// Failed checks.
    pub failures: Vec<String>,
}

/// Fit one reference file and compare.
pub fn check_glmm_reference(root: &Path, path: &Path) -> Result<GlmmOutcome> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let r: Value = serde_json::from_str(&text)?;
    let opts = ReadOptions {
        factor_columns: strings(&r["factors"]),
        ordered_columns: strings(&r["ordered"]),
    };
    let data = if let Some(name) = r["data"]["dataset"].as_str() {
        let d = multilevel::datasets::get(name).ok_or_else(|| anyhow!("no dataset {name}"))?;
        DataFrame::from_csv_str(d.name, d.csv, &opts)?
    } else if let Some(csv) = r["data"]["csv"].as_str() {
        DataFrame::read_csv(&root.join(csv), &opts)?
    } else {
        return Err(anyhow!("reference has no data"));
    };
    let formula_text = r["formula"].as_str().unwrap_or_default();
    let family = FamilySpec::parse(
        r["family"].as_str().unwrap_or("binomial"),
        r["link"].as_str(),
    )
    .map_err(|e| anyhow!(e))?;
    let gopts = GlmmOptions {
        n_agq: r["nAGQ"].as_u64().unwrap_or(1) as usize,
        ..GlmmOptions::default()
    };
    let start = Instant::now();
    let formula = multilevel::formula::parse(formula_text)?;
    let fo = FrameOptions {
        weights: r["weights"].as_str().map(str::to_string),
        ..FrameOptions::default()
    };
    let mf = ModelFrame::new(&formula, &data, &fo)?;
    let mut design = build_design_with(&formula, &mf, &DesignOptions { allow_n: true })?;
    design.formula = formula_text.to_string();
    let fit = glmer_full(design, &family.build(), &gopts)?;
    let seconds = start.elapsed().as_secs_f64();
    let res = &fit.result;
    let reference_loglik = r["loglik"].as_f64().unwrap_or(f64::NAN);
    let dll = res.loglik - reference_loglik;
    let better = dll > 1e-6;
    let beta: Vec<f64> = res.fixed.iter().map(|f| f.estimate).collect();
    let se: Vec<f64> = res.fixed.iter().map(|f| f.std_error).collect();
    let d_beta = max_rel(&beta, &f64s(&r["beta"]), 1e-2);
    let d_se = max_rel(&se, &f64s(&r["se"]), 1e-8);
    let d_theta = max_rel(&res.theta, &f64s(&r["theta"]), 1e-2);
    let d_dev = max_rel(
        &[res.deviance.unwrap_or(f64::NAN)],
        &[r["deviance"].as_f64().unwrap_or(f64::NAN)],
        1.0,
    );
    let mut failures = Vec::new();
    if dll.is_nan() || dll < -1e-4 {
        failures.push(format!("logLik differs by {dll:.3e}"));
    }
    if d_beta > 1e-3 && !better {
        failures.push(format!("beta {d_beta:.2e}"));
    }
    if d_theta > 1e-3 && !better {
        failures.push(format!("theta {d_theta:.2e}"));
    }
    if d_se > 1e-2 {
        failures.push(format!("se {d_se:.2e}"));
    }
    if d_dev > 1e-4 {
        failures.push(format!("deviance {d_dev:.2e}"));
    }
    Ok(GlmmOutcome {
        name: r["name"].as_str().unwrap_or_default().to_string(),
        loglik: res.loglik,
        reference_loglik,
        beta: d_beta,
        se: d_se,
        theta: d_theta,
        seconds,
        lme4_seconds: r["time_s"].as_f64().unwrap_or(f64::NAN),
        failures,
    })
}

/// Refit every GLMM reference under `root/tests/reference/glmm`, print a table, and return
/// `(passed, total)`.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/glmm");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    println!(
        "{:<26} {:>15} {:>15} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}  status",
        "GLMM reference",
        "logLik",
        "lme4 logLik",
        "ΔlogLik",
        "β",
        "SE",
        "θ",
        "ours ms",
        "lme4 ms",
        "speedup"
    );
    let mut passed = 0;
    for f in &files {
        match check_glmm_reference(root, f) {
            Ok(o) => {
                let ok = o.failures.is_empty();
                passed += usize::from(ok);
                println!(
                    "{:<26} {:>15.6} {:>15.6} {:>+9.1e} {:>8.1e} {:>8.1e} {:>8.1e} {:>9.2} {:>9.1} {:>6.0}×  {}",
                    o.name,
                    o.loglik,
                    o.reference_loglik,
                    o.loglik - o.reference_loglik,
                    o.beta,
                    o.se,
                    o.theta,
                    o.seconds * 1e3,
                    o.lme4_seconds * 1e3,
                    o.lme4_seconds / o.seconds,
                    if ok {
                        "ok".to_string()
                    } else {
                        format!("FAIL: {}", o.failures.join("; "))
                    }
                );
            }
            Err(e) => println!("{:<26} ERROR: {e}", f.display()),
        }
    }
    println!("GLMM references: {passed}/{} pass", files.len());
    Ok((passed, files.len()))
}
