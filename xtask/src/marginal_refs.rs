//! Checks of `multilevel-marginal` against geepack and clubSandwich: every case of
//! `tests/reference/marginal/gee.json` and `cr.json` (written by
//! `xtask/r/reference_marginal.R`) is refitted and compared.
//!
//! Tolerances: β 1e-6 relative, standard errors 1e-5 relative, α and scale 1e-5 relative,
//! Satterthwaite df 1e-4 relative.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use multilevel::marginal::{
    Clusters, CorStructure, CrType, GeeOptions, gee, lmm_robust, ols_robust,
};
use multilevel::{DataFrame, FitOptions, ReadOptions};
use serde_json::Value;

/// Largest relative difference of `ours` from `want` (∞ on length mismatch).
fn max_rel(ours: &[f64], want: &[f64]) -> f64 {
    if ours.len() != want.len() {
        return f64::INFINITY;
    }
    ours.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-12))
        .fold(0.0, f64::max)
}

fn col(rows: &Value, key: &str) -> Vec<f64> {
    rows.as_array()
        .map(|a| {
            a.iter()
                .map(|r| r[key].as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .unwrap_or_default()
}

fn read(dir: &Path, rel: &str) -> Result<DataFrame> {
    Ok(DataFrame::read_csv(
        &dir.join(rel),
        &ReadOptions::default(),
    )?)
}

fn load(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Refit every reference case, print a table, return `(passed, total)`.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/marginal");
    let mut passed = 0;
    let mut total = 0;
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}  status",
        "marginal reference", "β", "SE", "α/scale", "df"
    );
    let gee_refs = load(&dir.join("gee.json"))?;
    for case in gee_refs["cases"].as_array().into_iter().flatten() {
        total += 1;
        let name = case["name"].as_str().unwrap_or("?");
        let res = (|| -> Result<(f64, f64, f64)> {
            let data = read(&dir, case["data"].as_str().unwrap_or_default())?;
            let family = multilevel::glmm_core::FamilySpec::parse(
                case["family"].as_str().unwrap_or_default(),
                case["link"].as_str(),
            )
            .map_err(|e| anyhow!(e))?;
            let corstr = CorStructure::parse(case["corstr"].as_str().unwrap_or_default())
                .ok_or_else(|| anyhow!("unknown corstr"))?;
            let opts = GeeOptions {
                family,
                corstr,
                ..GeeOptions::default()
            };
            let fit = gee(
                case["formula"].as_str().unwrap_or_default(),
                &data,
                case["cluster"].as_str().unwrap_or_default(),
                &opts,
            )?;
            let b = max_rel(
                &fit.fixed.iter().map(|f| f.estimate).collect::<Vec<_>>(),
                &col(&case["fixed"], "estimate"),
            );
            let s = max_rel(
                &fit.fixed.iter().map(|f| f.std_error).collect::<Vec<_>>(),
                &col(&case["fixed"], "std_error"),
            );
            let mut ours = vec![fit.scale];
            let mut want = vec![case["scale"].as_f64().unwrap_or(f64::NAN)];
            if let Some(a) = case["alpha"].as_f64() {
                ours.push(fit.working_correlation.alpha.unwrap_or(f64::NAN));
                want.push(a);
            }
            Ok((b, s, max_rel(&ours, &want)))
        })();
        match res {
            Ok((b, s, a)) => {
                let ok = b <= 1e-6 && s <= 1e-5 && a <= 1e-5;
                passed += usize::from(ok);
                println!(
                    "{:<34} {b:>9.1e} {s:>9.1e} {a:>9.1e} {:>9}  {}",
                    format!("gee {name}"),
                    "-",
                    if ok { "ok" } else { "FAIL" }
                );
            }
            Err(e) => println!("{:<34} error: {e}", format!("gee {name}")),
        }
    }
    let cr_refs = load(&dir.join("cr.json"))?;
    for case in cr_refs["cases"].as_array().into_iter().flatten() {
        let name = case["name"].as_str().unwrap_or("?");
        for (key, ty) in [
            ("CR0", CrType::Cr0),
            ("CR1", CrType::Cr1),
            ("CR2", CrType::Cr2),
        ] {
            total += 1;
            let res = (|| -> Result<(f64, f64, f64)> {
                let data = read(&dir, case["data"].as_str().unwrap_or_default())?;
                let formula = case["formula"].as_str().unwrap_or_default();
                let cluster = case["cluster"].as_str().unwrap_or_default();
                let r = if case["model"] == "ols" {
                    ols_robust(formula, &data, cluster, ty)?
                } else {
                    let opts = FitOptions {
                        cond_var: false,
                        ..FitOptions::default()
                    };
                    let mut prepared = multilevel::prepare_lmm_parts(formula, &data, &opts)?;
                    let fit = prepared.model.fit()?;
                    let clusters = Clusters::from_column(&data, cluster, &prepared.frame.rows)?;
                    lmm_robust(prepared.model.design(), &fit, &clusters, ty)?
                };
                let rows = &case["types"][key];
                Ok((
                    max_rel(
                        &r.fixed.iter().map(|f| f.estimate).collect::<Vec<_>>(),
                        &col(rows, "estimate"),
                    ),
                    max_rel(
                        &r.fixed.iter().map(|f| f.std_error).collect::<Vec<_>>(),
                        &col(rows, "std_error"),
                    ),
                    max_rel(
                        &r.fixed.iter().map(|f| f.df).collect::<Vec<_>>(),
                        &col(rows, "df"),
                    ),
                ))
            })();
            let label = format!("{key} {name}");
            match res {
                Ok((b, s, d)) => {
                    let ok = b <= 1e-6 && s <= 1e-5 && d <= 1e-4;
                    passed += usize::from(ok);
                    println!(
                        "{label:<34} {b:>9.1e} {s:>9.1e} {:>9} {d:>9.1e}  {}",
                        "-",
                        if ok { "ok" } else { "FAIL" }
                    );
                }
                Err(e) => println!("{label:<34} error: {e}"),
            }
        }
    }
    Ok((passed, total))
}
