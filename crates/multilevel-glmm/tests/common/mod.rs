//! Shared helpers of the GLMM integration tests: load an lme4 reference, build its design.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};

use multilevel_design::{Design, DesignOptions, build_design_with};
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_glmm::{FamilySpec, GlmmOptions};
use serde_json::Value;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `tests/reference/glmm/*.json`, sorted.
pub fn reference_files() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/reference/glmm");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn f64s(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        _ => Vec::new(),
    }
}

/// Load a reference JSON and build its design, family and options.
pub fn load(path: &Path) -> (Value, Design, FamilySpec, GlmmOptions) {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let opts = ReadOptions {
        factor_columns: strings(&r["factors"]),
        ordered_columns: strings(&r["ordered"]),
    };
    let data = if let Some(name) = r["data"]["dataset"].as_str() {
        let d = multilevel_datasets::get(name).unwrap();
        DataFrame::from_csv_str(d.name, d.csv, &opts).unwrap()
    } else {
        let csv = r["data"]["csv"].as_str().unwrap();
        DataFrame::read_csv(&repo_root().join(csv), &opts).unwrap()
    };
    let text = r["formula"].as_str().unwrap();
    let formula = multilevel_formula::parse(text).unwrap();
    let fo = FrameOptions {
        weights: r["weights"].as_str().map(str::to_string),
        ..FrameOptions::default()
    };
    let mf = ModelFrame::new(&formula, &data, &fo).unwrap();
    let mut design = build_design_with(&formula, &mf, &DesignOptions { allow_n: true }).unwrap();
    design.formula = text.to_string();
    let fam = FamilySpec::parse(r["family"].as_str().unwrap(), r["link"].as_str()).unwrap();
    let gopts = GlmmOptions {
        n_agq: r["nAGQ"].as_u64().unwrap_or(1) as usize,
        ..GlmmOptions::default()
    };
    (r, design, fam, gopts)
}

/// Largest relative difference `|a − b| / max(|b|, floor)`.
pub fn max_rel(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}
