//! Helpers shared by the integration tests that compare with R's reference JSON.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use multilevel_design::{Design, build_design};
use multilevel_formula::Formula;
use multilevel_frame::{Contrasts, DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_lmm::LmmOptions;
use serde_json::Value;

/// Strings of a JSON array.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Numbers of a JSON array (NaN for nulls).
pub fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// Relative difference of `a` from `b`.
pub fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

/// Formula, model frame and design of a reference model (embedded data set, its factors and
/// contrasts), with the LMM options for REML or ML.
pub fn prepare(r: &Value, formula: &str, reml: bool) -> (Formula, ModelFrame, Design, LmmOptions) {
    let name = r["data"]["dataset"].as_str().unwrap();
    let ds = multilevel_datasets::get(name).unwrap();
    let opts = ReadOptions {
        factor_columns: strings(&r["factors"]),
        ordered_columns: strings(&r["ordered"]),
    };
    let data = DataFrame::from_csv_str(ds.name, ds.csv, &opts).unwrap();
    let mut contrasts = BTreeMap::new();
    if let Some(map) = r["contrasts"].as_object() {
        for (k, v) in map {
            let c = match v.as_str().unwrap() {
                "contr.sum" => Contrasts::Sum,
                "contr.helmert" => Contrasts::Helmert,
                "contr.poly" => Contrasts::Poly,
                _ => Contrasts::Treatment,
            };
            contrasts.insert(k.clone(), c);
        }
    }
    let f = multilevel_formula::parse(formula).unwrap();
    let frame = ModelFrame::new(
        &f,
        &data,
        &FrameOptions {
            weights: None,
            contrasts,
            ..FrameOptions::default()
        },
    )
    .unwrap();
    let mut design = build_design(&f, &frame).unwrap();
    design.formula = formula.to_string();
    let lopts = LmmOptions {
        reml,
        ..LmmOptions::default()
    };
    (f, frame, design, lopts)
}
