//! Checks of multilevel's numbers against lme4: the committed reference fits
//! (`tests/reference/lmm/*.json`, written by `xtask/r/reference.R`) and the published
//! benchmark suite (`suite.tsv` beside the repository).
//!
//! Comparisons follow lme4's own tests: a vector `a` matches the reference `b` when
//! `Σ|aᵢ − bᵢ| / Σ|bᵢ| ≤ tol` (R's `all.equal` mean relative difference), with
//! `tol = 5e-5` for parameters; the objective must agree to 1e-6 relative or be lower. When our
//! objective is lower than lme4's by more than that, parameter differences are reported but do
//! not fail the check (we found a better optimum).

pub mod after_refs;
pub mod bench;
pub mod bench_gls;
pub mod covstruct_refs;
pub mod docs;
pub mod glmm_interval_refs;
pub mod glmm_refs;
pub mod gls_refs;
pub mod inference_refs;
pub mod kr_gls_refs;
pub mod marginal_refs;
pub mod meta_refs;
pub mod negbin_refs;
pub mod ordinal_refs;
pub mod power_refs;
pub mod workflow_refs;
pub mod zi_refs;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use multilevel::{DataFrame, FitOptions, FitResult, ReadOptions};
use serde_json::Value;

/// Parameter tolerance (mean relative difference).
pub const PARAM_TOL: f64 = 5e-5;
/// Parameter tolerance when our objective is lower than lme4's.
pub const PARAM_TOL_BETTER: f64 = 1e-3;
/// Objective tolerance (relative).
pub const OBJECTIVE_TOL: f64 = 1e-6;

/// R's `all.equal` mean relative difference of `ours` from `reference`.
pub fn mean_rel_diff(ours: &[f64], reference: &[f64]) -> f64 {
    if ours.len() != reference.len() {
        return f64::INFINITY;
    }
    let num: f64 = ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).sum();
    let den: f64 = reference.iter().map(|b| b.abs()).sum();
    if den == 0.0 { num } else { num / den }
}

/// One compared quantity.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was compared.
    pub what: String,
    /// Mean relative difference (or absolute, for exact checks: 0 or 1).
    pub diff: f64,
    /// Whether it passes.
    pub pass: bool,
}

/// The outcome of one reference model.
#[derive(Debug, Clone)]
pub struct RefOutcome {
    /// Reference name.
    pub name: String,
    /// Our objective.
    pub objective: f64,
    /// lme4's objective.
    pub reference_objective: f64,
    /// Our fit time in seconds.
    pub seconds: f64,
    /// lme4's fit time in seconds (measured in R).
    pub lme4_seconds: f64,
    /// Our evaluations.
    pub evaluations: usize,
    /// lme4's evaluations.
    pub lme4_evaluations: usize,
    /// Individual checks.
    pub checks: Vec<Check>,
}

impl RefOutcome {
    /// Whether every check passes.
    pub fn pass(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        _ => Vec::new(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Load the data a reference names: an embedded data set or a CSV relative to the repo root.
pub fn load_reference_data(root: &Path, r: &Value) -> Result<DataFrame> {
    let factors = strings(&r["factors"]);
    let ordered = strings(&r["ordered"]);
    let opts = ReadOptions {
        factor_columns: factors,
        ordered_columns: ordered,
    };
    if let Some(name) = r["data"]["dataset"].as_str() {
        let d = multilevel::datasets::get(name).ok_or_else(|| anyhow!("no dataset {name}"))?;
        Ok(DataFrame::from_csv_str(d.name, d.csv, &opts)?)
    } else if let Some(csv) = r["data"]["csv"].as_str() {
        let path = root.join(csv);
        let df = DataFrame::read_csv(&path, &opts)?;
        Ok(df)
    } else {
        Err(anyhow!("reference has no data"))
    }
}

/// Fit one LMM reference and compare.
pub fn check_lmm_reference(root: &Path, path: &Path) -> Result<RefOutcome> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let r: Value = serde_json::from_str(&text)?;
    let data = load_reference_data(root, &r)?;
    let formula = r["formula"].as_str().unwrap_or_default();
    let mut opts = FitOptions {
        reml: r["REML"].as_bool().unwrap_or(true),
        weights: r["weights"].as_str().map(str::to_string),
        ..FitOptions::default()
    };
    if let Some(map) = r["contrasts"].as_object() {
        for (k, v) in map {
            let c = match v.as_str().unwrap_or_default() {
                "contr.sum" => multilevel::Contrasts::Sum,
                "contr.helmert" => multilevel::Contrasts::Helmert,
                "contr.poly" => multilevel::Contrasts::Poly,
                _ => multilevel::Contrasts::Treatment,
            };
            opts.contrasts.insert(k.clone(), c);
        }
    }
    let start = Instant::now();
    let fit = multilevel::lmer(formula, &data, &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    let checks = compare_fit(&fit, &r);
    Ok(RefOutcome {
        name: r["name"].as_str().unwrap_or_default().to_string(),
        objective: fit.objective,
        reference_objective: r["objective"].as_f64().unwrap_or(f64::NAN),
        seconds,
        lme4_seconds: r["time_s"].as_f64().unwrap_or(f64::NAN),
        evaluations: fit.optimizer.evaluations,
        lme4_evaluations: r["feval"].as_u64().unwrap_or(0) as usize,
        checks,
    })
}

/// Compare a fit with an lme4 reference JSON object.
pub fn compare_fit(fit: &FitResult, r: &Value) -> Vec<Check> {
    let mut checks = Vec::new();
    let ref_obj = r["objective"].as_f64().unwrap_or(f64::NAN);
    let rel_obj = (fit.objective - ref_obj) / ref_obj.abs().max(1.0);
    let obj_ok = rel_obj <= OBJECTIVE_TOL;
    let better = rel_obj < 0.0;
    checks.push(Check {
        what: "objective".into(),
        diff: rel_obj,
        pass: obj_ok,
    });
    let param = |checks: &mut Vec<Check>, what: &str, ours: Vec<f64>, reference: Vec<f64>| {
        let diff = mean_rel_diff(&ours, &reference);
        checks.push(Check {
            what: what.to_string(),
            diff,
            pass: diff <= PARAM_TOL || (better && diff <= PARAM_TOL_BETTER),
        });
    };
    param(&mut checks, "theta", fit.theta.clone(), f64s(&r["theta"]));
    param(
        &mut checks,
        "beta",
        fit.fixed.iter().map(|f| f.estimate).collect(),
        f64s(&r["beta"]),
    );
    param(
        &mut checks,
        "se",
        fit.fixed.iter().map(|f| f.std_error).collect(),
        f64s(&r["se"]),
    );
    param(&mut checks, "sigma", vec![fit.sigma], f64s(&r["sigma"]));
    param(&mut checks, "loglik", vec![fit.loglik], f64s(&r["loglik"]));
    param(&mut checks, "aic", vec![fit.aic], f64s(&r["aic"]));
    param(&mut checks, "bic", vec![fit.bic], f64s(&r["bic"]));
    // Variance components and correlations, in lme4's order.
    let mut ref_var = Vec::new();
    let mut ref_corr = Vec::new();
    if let Some(vc) = r["varcorr"].as_array() {
        for e in vc {
            if e["grp"].as_str() == Some("Residual") {
                continue;
            }
            if e["var2"].is_null() {
                ref_var.push(e["vcov"].as_f64().unwrap_or(f64::NAN));
            } else {
                ref_corr.push(e["sdcor"].as_f64().unwrap_or(f64::NAN));
            }
        }
    }
    param(
        &mut checks,
        "variances",
        fit.random.iter().map(|v| v.variance).collect(),
        ref_var,
    );
    if !ref_corr.is_empty() {
        param(
            &mut checks,
            "correlations",
            fit.correlations.iter().map(|c| c.corr).collect(),
            ref_corr,
        );
    }
    // BLUPs and conditional SDs per grouping factor.
    if let Some(ranefs) = r["ranef"].as_array() {
        for e in ranefs {
            let group = e["group"].as_str().unwrap_or_default();
            let Some(ours) = fit.ranef.iter().find(|t| t.group == group) else {
                checks.push(Check {
                    what: format!("ranef {group}"),
                    diff: f64::INFINITY,
                    pass: false,
                });
                continue;
            };
            let levels_ok = strings(&e["levels"]) == ours.levels;
            checks.push(Check {
                what: format!("ranef {group} levels"),
                diff: if levels_ok { 0.0 } else { 1.0 },
                pass: levels_ok,
            });
            let reference: Vec<f64> = e["values"]
                .as_array()
                .map(|rows| rows.iter().flat_map(f64s).collect())
                .unwrap_or_default();
            let mine: Vec<f64> = ours.values.iter().flatten().copied().collect();
            param(&mut checks, &format!("ranef {group}"), mine, reference);
            let ref_sd: Vec<f64> = e["condsd"]
                .as_array()
                .map(|rows| rows.iter().flat_map(f64s).collect())
                .unwrap_or_default();
            let k = ours.terms.len();
            let my_sd: Vec<f64> = ours
                .cond_var
                .iter()
                .flat_map(|m| {
                    (0..k).map(move |a| m.get(a * k + a).copied().unwrap_or(f64::NAN).sqrt())
                })
                .collect();
            if !ref_sd.is_empty() {
                param(&mut checks, &format!("condsd {group}"), my_sd, ref_sd);
            }
        }
    }
    param(
        &mut checks,
        "fitted_head",
        fit.fitted.iter().take(10).copied().collect(),
        f64s(&r["fitted_head"]),
    );
    param(
        &mut checks,
        "resid_head",
        fit.residuals.iter().take(10).copied().collect(),
        f64s(&r["resid_head"]),
    );
    param(
        &mut checks,
        "scaled_residuals",
        fit.scaled_residuals.to_vec(),
        f64s(&r["scaled_resid_quantiles"]),
    );
    let exact = |what: &str, ok: bool, checks: &mut Vec<Check>| {
        checks.push(Check {
            what: what.into(),
            diff: if ok { 0.0 } else { 1.0 },
            pass: ok,
        })
    };
    exact(
        "nobs",
        r["nobs"].as_u64() == Some(fit.nobs as u64),
        &mut checks,
    );
    exact(
        "singular",
        r["singular"].as_bool() == Some(fit.singular),
        &mut checks,
    );
    exact(
        "beta names",
        strings(&r["beta_names"]) == fit.fixed.iter().map(|f| f.term.clone()).collect::<Vec<_>>(),
        &mut checks,
    );
    if let Some(ngrps) = r["ngrps"].as_object() {
        let ok = ngrps.iter().all(|(g, n)| {
            fit.groups
                .iter()
                .any(|gi| &gi.name == g && Some(gi.levels as u64) == n.as_u64())
        });
        exact("ngrps", ok, &mut checks);
    }
    checks
}

/// Every `*.json` under `dir`, sorted.
pub fn reference_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// One row of the benchmark suite.
#[derive(Debug, Clone)]
pub struct SuiteRow {
    /// Model id.
    pub id: String,
    /// Data path relative to the suite folder.
    pub data: String,
    /// Formula.
    pub formula: String,
    /// Best known ML deviance.
    pub best: f64,
}

/// Read `suite.tsv`.
pub fn read_suite(dir: &Path) -> Result<Vec<SuiteRow>> {
    let text = std::fs::read_to_string(dir.join("suite.tsv"))
        .with_context(|| format!("reading {}", dir.join("suite.tsv").display()))?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        rows.push(SuiteRow {
            id: f[0].into(),
            data: f[1].into(),
            formula: f[2].into(),
            best: f[3].trim().parse().unwrap_or(f64::NAN),
        });
    }
    Ok(rows)
}

/// Outcome of one suite model.
#[derive(Debug, Clone)]
pub struct SuiteOutcome {
    /// The row.
    pub row: SuiteRow,
    /// Our ML deviance (NaN on failure).
    pub objective: f64,
    /// Seconds for the fit (design included).
    pub seconds: f64,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Number of θ.
    pub n_theta: usize,
    /// Error message if the fit failed.
    pub error: Option<String>,
}

impl SuiteOutcome {
    /// `objective − best`.
    pub fn excess(&self) -> f64 {
        self.objective - self.row.best
    }
    /// At or below the published best (which is rounded to 6 decimals).
    pub fn at_or_below(&self) -> bool {
        self.excess() <= 1e-6
    }
    /// Within 1e-6 relative of the published best (or below it).
    pub fn within_rel(&self) -> bool {
        self.excess() <= OBJECTIVE_TOL * self.row.best.abs().max(1.0)
    }
}

/// Fit one suite model by ML.
pub fn fit_suite_row(dir: &Path, row: &SuiteRow) -> SuiteOutcome {
    let start = Instant::now();
    let result = (|| -> Result<FitResult> {
        let data = DataFrame::read_csv(&dir.join(&row.data), &ReadOptions::default())?;
        let opts = FitOptions {
            reml: false,
            cond_var: false,
            ..FitOptions::default()
        };
        Ok(multilevel::lmer(&row.formula, &data, &opts)?.into_summary())
    })();
    let seconds = start.elapsed().as_secs_f64();
    match result {
        Ok(fit) => SuiteOutcome {
            row: row.clone(),
            objective: fit.objective,
            seconds,
            evaluations: fit.optimizer.evaluations,
            n_theta: fit.theta.len(),
            error: None,
        },
        Err(e) => SuiteOutcome {
            row: row.clone(),
            objective: f64::NAN,
            seconds,
            evaluations: 0,
            n_theta: 0,
            error: Some(e.to_string()),
        },
    }
}

/// Build (but do not fit) the design of every suite model; returns `(id, error)` per row.
pub fn suite_designs(dir: &Path) -> Result<Vec<(String, Option<String>)>> {
    let rows = read_suite(dir)?;
    Ok(rows
        .iter()
        .map(|row| {
            let res = (|| -> Result<()> {
                let data = DataFrame::read_csv(&dir.join(&row.data), &ReadOptions::default())?;
                let opts = FitOptions {
                    reml: false,
                    ..FitOptions::default()
                };
                multilevel::build_design(&row.formula, &data, &opts)?;
                Ok(())
            })();
            (row.id.clone(), res.err().map(|e| e.to_string()))
        })
        .collect())
}
