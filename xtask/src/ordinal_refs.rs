//! Checks of the cumulative link mixed models against ordinal::clmm: every
//! `tests/reference/ordinal/*.json` (written by `xtask/r/reference_ordinal.R`) is refitted
//! through the facade's `clmm` and compared.
//!
//! Tolerances (issue 18): logLik within 1e-4 absolute, β within 2e-2 standard errors, standard
//! errors (slopes and thresholds) within 2e-2 relative, thresholds within 1e-3 relative (or
//! 1e-3 absolute for a threshold within 1 of zero, where a relative error is meaningless).
//! Timings: ours measured here (median of 3 fits), clmm's as recorded by the R script (mean of
//! its repetitions on the same machine).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use multilevel::{ClmmOptions, DataFrame, OrdinalLink, ReadOptions};
use serde_json::Value;

/// References left out of the count, with the reason (printed by [`validate`]).
///
/// `xtask/r/check_ordinal_laplace.R` recomputes the Laplace approximation directly in R (per
/// group: the mode by `optimize`, the curvature by central differences) to show both.
const EXCLUDED: &[(&str, &str)] = &[(
    "wine_cloglog",
    "clmm 2022.11.16's cloglog fit is the Laplace approximation of the loglog CDF exp(-exp(-x)) \
     (direct Laplace at clmm's estimates: -82.7292 with it vs clmm's -82.7294; -88.8777 with \
     1 - exp(-exp(x))), while clm's cloglog is 1 - exp(-exp(x)); ours is 1 - exp(-exp(x)) \
     (direct Laplace at our estimates -81.54125 = ours)",
)];

/// References whose logLik is not compared (their parameters are), with the reason.
const LOGLIK_NOT_COMPARED: &[(&str, &str)] = &[(
    "likert_gap",
    "clmm's logLik (-221.19577) is 0.0118 below the Laplace approximation computed directly in \
     R at clmm's own estimates (-221.18403; its modes agree with clmm's ranef), which ours \
     reproduces at our estimates (-221.18392 direct vs -221.18392 ours)",
)];

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

/// Refit every ordinal reference; returns (passed, total), the excluded ones ([`EXCLUDED`])
/// not counted.
///
/// # Errors
/// Unreadable reference files or data, or a fit that fails.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/ordinal");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    println!(
        "{:<18} {:>14} {:>14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8}  status",
        "clmm reference",
        "logLik",
        "clmm logLik",
        "ΔlogLik",
        "β/SE",
        "SE rel",
        "thr rel",
        "sd rel",
        "ours ms",
        "clmm ms",
        "×clmm"
    );
    let mut passed = 0;
    let mut excluded = 0;
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        let r: Value = serde_json::from_str(&text)?;
        let name = r["name"].as_str().unwrap_or("?").to_string();
        if let Some((_, why)) = EXCLUDED.iter().find(|(n, _)| *n == name) {
            println!("{name:<18} excluded: {why}");
            excluded += 1;
            continue;
        }
        let loglik_skipped = LOGLIK_NOT_COMPARED.iter().find(|(n, _)| *n == name);
        let opts = ReadOptions {
            factor_columns: strings(&r["factors"]),
            ordered_columns: Vec::new(),
        };
        let csv = r["data"]["csv"]
            .as_str()
            .ok_or_else(|| anyhow!("{name}: no data.csv"))?;
        let data = DataFrame::read_csv(&root.join(csv), &opts)?;
        let formula = r["formula"].as_str().unwrap_or_default();
        let link = r["link"]
            .as_str()
            .and_then(OrdinalLink::parse)
            .ok_or_else(|| anyhow!("{name}: no link"))?;
        let copts = ClmmOptions {
            link,
            n_agq: r["nAGQ"].as_u64().unwrap_or(1) as usize,
            ..ClmmOptions::default()
        };
        let mut times = Vec::new();
        let mut model = None;
        for _ in 0..3 {
            let t = Instant::now();
            let m = multilevel::clmm(formula, &data, &copts)?;
            times.push(t.elapsed().as_secs_f64());
            model = Some(m);
        }
        times.sort_by(f64::total_cmp);
        let secs = times[1];
        let m = model.ok_or_else(|| anyhow!("{name}: no fit"))?;
        let ll_ref = num(&r["loglik"], "loglik")?;
        let d_ll = m.loglik() - ll_ref;
        let beta = f64s(&r["beta"]);
        let se = f64s(&r["se"]);
        let th = f64s(&r["thresholds"]);
        let th_se = f64s(&r["threshold_se"]);
        let sd = f64s(&r["re_sd"]);
        let mut d_beta = 0.0f64;
        let mut d_se = 0.0f64;
        let mut d_th = 0.0f64;
        for ((fx, b), s) in m.fixed.iter().zip(&beta).zip(&se) {
            d_beta = d_beta.max((fx.estimate - b).abs() / s);
            d_se = d_se.max((fx.std_error / s - 1.0).abs());
        }
        for ((t, b), s) in m.thresholds.iter().zip(&th).zip(&th_se) {
            d_th = d_th.max((t.estimate - b).abs() / b.abs().max(1.0));
            d_se = d_se.max((t.std_error / s - 1.0).abs());
        }
        let names_ok = m
            .thresholds
            .iter()
            .map(|t| t.term.clone())
            .eq(strings(&r["threshold_names"]))
            && m.fixed
                .iter()
                .map(|t| t.term.clone())
                .eq(strings(&r["beta_names"]));
        let ours_sd: Vec<f64> = m.random.iter().map(|v| v.std_dev).collect();
        let d_sd = ours_sd
            .iter()
            .zip(&sd)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1e-2))
            .fold(0.0f64, f64::max);
        let ok = (d_ll.abs() < 1e-4 || loglik_skipped.is_some())
            && d_beta < 2e-2
            && d_se < 2e-2
            && d_th < 1e-3
            && names_ok
            && m.fixed.len() == beta.len()
            && m.thresholds.len() == th.len();
        passed += usize::from(ok);
        let t_clmm = num(&r["time_s"], "time_s")?;
        println!(
            "{:<18} {:>14.6} {:>14.6} {:>+9.1e} {:>8.1e} {:>8.1e} {:>8.1e} {:>8.1e} {:>9.1} {:>9.0} {:>7.0}×  {}",
            name,
            m.loglik(),
            ll_ref,
            d_ll,
            d_beta,
            d_se,
            d_th,
            d_sd,
            secs * 1e3,
            t_clmm * 1e3,
            t_clmm / secs,
            if ok { "ok" } else { "FAIL" }
        );
        if let Some((_, why)) = loglik_skipped {
            println!("{:<18} logLik not compared: {why}", "");
        }
    }
    Ok((passed, files.len() - excluded))
}
