//! Checks of the zero-inflated count mixed models against glmmTMB: every
//! `tests/reference/zi/*.json` (written by `xtask/r/reference_zi.R`) is refitted through the
//! facade's `zero_inflated` and compared.
//!
//! Tolerances (issue 18): logLik within 1e-4 absolute; β and β_zi within 2e-2 standard errors;
//! their standard errors within 2e-2 relative; the dispersion (NB2's θ, NB1's φ) within 1e-3
//! relative and its standard error within 2e-2 relative. Our standard errors are the inverse finite-difference Hessian of
//! the Laplace objective `−log L` in (β, β_zi, log θ or log φ, random-effects θ), glmmTMB's are
//! `sdreport`'s inverse Hessian in (β, β_zi, log θ or log φ, log sd): the β blocks agree at the optimum
//! whatever the random-effects parametrization. Timings: ours measured here (median of 3
//! fits), glmmTMB's as recorded by the R script.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use multilevel::{DataFrame, ReadOptions, ZiCount, ZiOptions};
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
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        _ => Vec::new(),
    }
}

fn num(v: &Value, what: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| anyhow!("reference has no number `{what}`"))
}

/// Largest `|ours − ref| / se` and largest `|ours_se / se − 1|` over a coefficient table;
/// `None` when the names or lengths differ.
fn compare_rows(
    rows: &[multilevel::OrdinalCoef],
    names: &[String],
    est: &[f64],
    se: &[f64],
) -> Option<(f64, f64)> {
    if rows.len() != est.len() || rows.len() != se.len() || !rows.iter().map(|r| &r.term).eq(names)
    {
        return None;
    }
    let mut d_b = 0.0f64;
    let mut d_se = 0.0f64;
    for ((r, b), s) in rows.iter().zip(est).zip(se) {
        d_b = d_b.max((r.estimate - b).abs() / s);
        d_se = d_se.max((r.std_error / s - 1.0).abs());
    }
    Some((d_b, d_se))
}

/// Refit every zero-inflation reference; returns (passed, total).
///
/// # Errors
/// Unreadable reference files or data, or a fit that fails.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/zi");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    println!(
        "{:<18} {:>14} {:>14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8}  status",
        "glmmTMB reference",
        "logLik",
        "TMB logLik",
        "ΔlogLik",
        "β/SE",
        "SE rel",
        "θnb rel",
        "sd rel",
        "ours ms",
        "TMB ms",
        "×TMB"
    );
    let mut passed = 0;
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        let r: Value = serde_json::from_str(&text)?;
        let name = r["name"].as_str().unwrap_or("?").to_string();
        let opts = ReadOptions {
            factor_columns: strings(&r["factors"]),
            ordered_columns: Vec::new(),
        };
        let csv = r["data"]["csv"]
            .as_str()
            .ok_or_else(|| anyhow!("{name}: no data.csv"))?;
        let data = DataFrame::read_csv(&root.join(csv), &opts)?;
        let formula = r["formula"].as_str().unwrap_or_default();
        let count = match r["family"].as_str() {
            Some("poisson") => ZiCount::Poisson,
            Some("nbinom2") => ZiCount::NegativeBinomial2,
            Some("nbinom1") => ZiCount::NegativeBinomial1,
            other => return Err(anyhow!("{name}: family {other:?}")),
        };
        let zopts = ZiOptions {
            count,
            zi_formula: r["zi_formula"].as_str().map(str::to_string),
            ..ZiOptions::default()
        };
        let mut times = Vec::new();
        let mut model = None;
        for _ in 0..3 {
            let t = Instant::now();
            let m = multilevel::zero_inflated(formula, &data, &zopts)?;
            times.push(t.elapsed().as_secs_f64());
            model = Some(m);
        }
        times.sort_by(f64::total_cmp);
        let secs = times[1];
        let m = model.ok_or_else(|| anyhow!("{name}: no fit"))?;
        let ll_ref = num(&r["loglik"], "loglik")?;
        let d_ll = m.loglik() - ll_ref;
        let cond = compare_rows(
            &m.fixed,
            &strings(&r["beta_names"]),
            &f64s(&r["beta"]),
            &f64s(&r["se"]),
        );
        let zi = compare_rows(
            &m.zi_fixed,
            &strings(&r["zi_names"]),
            &f64s(&r["zi_beta"]),
            &f64s(&r["zi_se"]),
        );
        let (mut d_beta, mut d_se) = (f64::INFINITY, f64::INFINITY);
        if let (Some(c), Some(z)) = (cond, zi) {
            d_beta = c.0.max(z.0);
            d_se = c.1.max(z.1);
        }
        // NB2's θ or NB1's φ: 1e-3 relative, its standard error 2e-2 relative (0 for Poisson).
        let d_theta = match (&m.nb_theta, r["nb_theta"].as_f64()) {
            (Some(t), Some(th)) => {
                let se = num(&r["nb_theta_se"], "nb_theta_se")?;
                let d = (t.estimate / th - 1.0).abs();
                d_se = d_se.max((t.std_error / se - 1.0).abs());
                d
            }
            (None, None) => 0.0,
            _ => f64::INFINITY,
        };
        let sd = f64s(&r["re_sd"]);
        let d_sd = m
            .random
            .iter()
            .map(|v| v.std_dev)
            .zip(&sd)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1e-2))
            .fold(0.0f64, f64::max);
        let ok = d_ll.abs() < 1e-4 && d_beta < 2e-2 && d_se < 2e-2 && d_theta < 1e-3;
        passed += usize::from(ok);
        let t_ref = num(&r["time_s"], "time_s")?;
        println!(
            "{:<18} {:>14.6} {:>14.6} {:>+9.1e} {:>8.1e} {:>8.1e} {:>8.1e} {:>8.1e} {:>9.1} {:>9.0} {:>7.0}×  {}",
            name,
            m.loglik(),
            ll_ref,
            d_ll,
            d_beta,
            d_se,
            d_theta,
            d_sd,
            secs * 1e3,
            t_ref * 1e3,
            t_ref / secs,
            if ok { "ok" } else { "FAIL" }
        );
    }
    Ok((passed, files.len()))
}
