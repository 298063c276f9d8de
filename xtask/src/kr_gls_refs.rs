//! Kenward–Roger checks of GLS fits and of structured random-effects terms against pbkrtest /
//! lmerTest on equivalent lme4 models (`tests/reference/kr_gls/cases.json`, written by
//! `xtask/r/reference_kr_gls.R`): a GLS with compound-symmetric residuals (ρ ≥ 0) is lme4's
//! random-intercept model; `diag(x | g)` is `(1 | g) + (0 + x | g)`; `cs(0 + f | g, hom =
//! TRUE)` is `(1 | g) + (1 | g:f)`; `diag(0 + f | g, hom = TRUE)` is `(1 | g:f)`.
//!
//! Compared per coefficient: the Kenward–Roger df (1e-3 relative) and the adjusted standard
//! errors `√diag(Φ_A)` (1e-4 relative); β̂ to 1e-3·SE as a check that the fits agree.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use multilevel::gls_core::{GlsDf, GlsOptions, ResidualStructure};
use multilevel::{DataFrame, Ddf, FitOptions, ReadOptions};
use serde_json::Value;

/// The relative tolerance of the df.
const DF_TOL: f64 = 1e-3;
/// The relative tolerance of the adjusted standard errors.
const SE_TOL: f64 = 1e-4;
/// The tolerance of β̂, in units of its standard error.
const BETA_TOL: f64 = 1e-3;

/// Ours per coefficient: (name, β̂, adjusted SE, df).
type Coefs = Vec<(String, f64, f64, Option<f64>)>;

fn ours(root: &Path, case: &Value) -> Result<Coefs> {
    let data = DataFrame::read_csv(
        &root.join(case["data"].as_str().unwrap_or_default()),
        &ReadOptions::default(),
    )?;
    let formula = case["formula"].as_str().unwrap_or_default();
    if case["kind"].as_str() == Some("gls") {
        let opts = GlsOptions {
            residual: case["residual"]
                .as_str()
                .map(ResidualStructure::parse)
                .transpose()?,
            df: GlsDf::KenwardRoger,
            ..GlsOptions::default()
        };
        let fit = multilevel::gls(formula, &data, &opts)?;
        if let Some(w) = fit.warnings.first() {
            return Err(anyhow!("{w}"));
        }
        return Ok(fit
            .coefficients
            .iter()
            .map(|c| (c.name.clone(), c.estimate, c.std_error, c.df))
            .collect());
    }
    let mut model = multilevel::lmer(formula, &data, &FitOptions::new())?;
    let fit = model.summary_with_df(Ddf::KenwardRoger)?;
    Ok(fit
        .fixed
        .iter()
        .map(|f| (f.term.clone(), f.estimate, f.std_error, f.df))
        .collect())
}

/// Refit every case, print a table, return `(passed, total)`.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let path = root.join("tests/reference/kr_gls/cases.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let refs: Value = serde_json::from_str(&text)?;
    println!(
        "{:<24} {:>10} {:>10} {:>10}  status",
        "Kenward-Roger reference", "β/SE", "KR SE", "KR df"
    );
    let (mut passed, mut total) = (0, 0);
    for case in refs["cases"].as_array().into_iter().flatten() {
        total += 1;
        let name = case["name"].as_str().unwrap_or("?");
        let nums = |key: &str| -> Vec<f64> {
            case[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect()
        };
        let (beta, se, se_kr, df_kr) = (nums("beta"), nums("se"), nums("se_kr"), nums("df_kr"));
        match ours(root, case) {
            Ok(coefs) if coefs.len() == beta.len() => {
                let (mut db, mut ds, mut dd) = (0.0f64, 0.0f64, 0.0f64);
                for (j, (_, b, s, d)) in coefs.iter().enumerate() {
                    db = db.max((b - beta[j]).abs() / se[j]);
                    ds = ds.max((s - se_kr[j]).abs() / se_kr[j]);
                    dd = dd.max(d.map_or(f64::INFINITY, |d| (d - df_kr[j]).abs() / df_kr[j]));
                }
                let ok = db <= BETA_TOL && ds <= SE_TOL && dd <= DF_TOL;
                passed += usize::from(ok);
                println!(
                    "{name:<24} {db:>10.1e} {ds:>10.1e} {dd:>10.1e}  {}",
                    if ok { "ok" } else { "FAIL" }
                );
            }
            Ok(coefs) => println!(
                "{name:<24} error: {} coefficients, the reference has {}",
                coefs.len(),
                beta.len()
            ),
            Err(e) => println!("{name:<24} error: {e}"),
        }
    }
    Ok((passed, total))
}
