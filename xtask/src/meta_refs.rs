//! Validation of `multilevel-meta` against metafor's `rma()`: every
//! `tests/reference/meta/*.json` (written by `xtask/r/reference_meta.R`).
//!
//! Unlike the crate's own test (which feeds metafor's model matrix), this goes through the data
//! layer the CLI uses: the committed CSV is read, the moderator formula is turned into a model
//! matrix by the frame and design crates, and every method × test is fitted. Each number must
//! agree to 1e-6 relative (1e-5 for the iterative estimators ML, REML, PM, EB).

use std::path::Path;

use anyhow::{Context, Result};
use multilevel::frame::{DataFrame, ReadOptions};
use multilevel::meta::{DataSpec, MetaResult, Method, RmaOptions, Test, rma_data};
use serde_json::Value;

/// Tolerance of closed-form estimators.
pub const TOL: f64 = 1e-6;
/// Tolerance of the iterative estimators.
pub const TOL_ITERATIVE: f64 = 1e-5;

fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        _ => Vec::new(),
    }
}

/// Largest relative difference over the pairs (∞ when lengths differ or one side is NaN).
fn max_rel(ours: &[f64], theirs: &[f64]) -> f64 {
    if ours.len() != theirs.len() {
        return f64::INFINITY;
    }
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| {
            if a == b {
                0.0
            } else if *b == 0.0 {
                // τ² on the boundary: absolute.
                (a - b).abs() * 1e6
            } else {
                let d = (a - b).abs() / b.abs();
                if d.is_nan() { f64::INFINITY } else { d }
            }
        })
        .fold(0.0, f64::max)
}

/// Our numbers and metafor's, in matching order.
fn pairs(fit: &MetaResult, r: &Value) -> (Vec<f64>, Vec<f64>) {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut push = |o: Vec<f64>, t: Vec<f64>| {
        ours.extend(o);
        theirs.extend(t);
    };
    let c = &fit.coefficients;
    push(c.iter().map(|x| x.estimate).collect(), nums(&r["beta"]));
    push(c.iter().map(|x| x.std_error).collect(), nums(&r["se"]));
    push(c.iter().map(|x| x.statistic).collect(), nums(&r["zval"]));
    push(c.iter().map(|x| x.p_value).collect(), nums(&r["pval"]));
    push(c.iter().map(|x| x.ci_lower).collect(), nums(&r["ci_lb"]));
    push(c.iter().map(|x| x.ci_upper).collect(), nums(&r["ci_ub"]));
    push(vec![fit.tau2], nums(&r["tau2"]));
    if let Some(se) = r["se_tau2"].as_f64() {
        push(vec![fit.se_tau2.unwrap_or(f64::NAN)], vec![se]);
    }
    push(vec![fit.i2, fit.h2, fit.q, fit.q_p], {
        let mut v = nums(&r["I2"]);
        v.extend(nums(&r["H2"]));
        v.extend(nums(&r["QE"]));
        v.extend(nums(&r["QEp"]));
        v
    });
    if let Some(r2) = r["R2"].as_f64() {
        push(vec![fit.r2.unwrap_or(f64::NAN)], vec![r2]);
    }
    if let Some(m) = &fit.moderators {
        push(vec![m.statistic, m.p_value], {
            let mut v = nums(&r["QM"]);
            v.extend(nums(&r["QMp"]));
            v
        });
    }
    if let (Some(lo), Some(hi)) = (fit.pi_lower, fit.pi_upper) {
        push(vec![lo, hi], {
            let mut v = nums(&r["pred_pi_lb"]);
            v.extend(nums(&r["pred_pi_ub"]));
            v
        });
    }
    push(
        fit.studies.iter().map(|s| s.weight_random).collect(),
        nums(&r["weights_random"]),
    );
    let fs = &fit.fit_stats;
    push(
        vec![fs.loglik_ml, fs.loglik_reml, fs.aic_ml, fs.aic_reml],
        vec![
            nums(&r["fit_stats_ML"])
                .first()
                .copied()
                .unwrap_or(f64::NAN),
            nums(&r["fit_stats_REML"])
                .first()
                .copied()
                .unwrap_or(f64::NAN),
            nums(&r["fit_stats_ML"]).get(2).copied().unwrap_or(f64::NAN),
            nums(&r["fit_stats_REML"])
                .get(2)
                .copied()
                .unwrap_or(f64::NAN),
        ],
    );
    (ours, theirs)
}

/// Check every reference; prints one line per data set and moderator formula. Returns
/// `(passing fits, fits)`.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/meta");
    let files = crate::reference_files(&dir)?;
    println!(
        "{:<10} {:<18} {:>5} {:>12}  result",
        "metafor", "mods", "fits", "max.rel"
    );
    let mut pass = 0;
    let mut total = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).with_context(|| f.display().to_string())?;
        let d: Value = serde_json::from_str(&text)?;
        let name = d["name"].as_str().unwrap_or_default().to_string();
        let csv = root.join(d["csv"].as_str().unwrap_or_default());
        let data = DataFrame::read_csv(&csv, &ReadOptions::default())?;
        for model in d["models"].as_array().into_iter().flatten() {
            let mods = model["mods"].as_str().map(str::to_string);
            let spec = DataSpec {
                yi: "yi".into(),
                vi: Some("vi".into()),
                sei: None,
                mods: mods.clone(),
                slab: Some("slab".into()),
            };
            let mut worst: f64 = 0.0;
            let mut n_pass = 0;
            let mut n = 0;
            let mut errors = Vec::new();
            for r in model["fits"].as_array().into_iter().flatten() {
                n += 1;
                let method = Method::parse(r["method"].as_str().unwrap_or_default());
                let test = Test::parse(r["test"].as_str().unwrap_or_default());
                let (Some(method), Some(test)) = (method, test) else {
                    errors.push("unknown method or test".to_string());
                    continue;
                };
                let opts = RmaOptions {
                    method,
                    test,
                    ..RmaOptions::default()
                };
                match rma_data(&data, &spec, &opts) {
                    Ok(fit) => {
                        let (ours, theirs) = pairs(&fit, r);
                        let diff = max_rel(&ours, &theirs);
                        let tol = if matches!(
                            method,
                            Method::Ml | Method::Reml | Method::Pm | Method::Eb
                        ) {
                            TOL_ITERATIVE
                        } else {
                            TOL
                        };
                        worst = worst.max(diff);
                        if diff <= tol {
                            n_pass += 1;
                        } else {
                            errors.push(format!(
                                "{} {}: max rel diff {diff:.2e}",
                                method.name(),
                                test.name()
                            ));
                        }
                    }
                    Err(e) => errors.push(format!("{} {}: {e}", method.name(), test.name())),
                }
            }
            println!(
                "{:<10} {:<18} {:>5} {:>12.2e}  {}",
                name,
                mods.as_deref().unwrap_or("~ 1"),
                n,
                worst,
                if n_pass == n { "PASS" } else { "FAIL" }
            );
            for e in errors {
                println!("    {e}");
            }
            pass += n_pass;
            total += n;
        }
    }
    Ok((pass, total))
}
