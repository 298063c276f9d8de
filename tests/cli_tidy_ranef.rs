//! `fit --tidy FILE --tidy-effects ran_vals`: the conditional modes and their conditional
//! standard deviations against lme4's `ranef(fit, condVar = TRUE)`
//! (`tests/reference/ranef`, written by `xtask/r/reference_ranef.R`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{run, temp_dir};
use std::path::PathBuf;

#[test]
fn tidy_ran_vals_matches_lme4_conditional_modes_and_sds() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/reference/ranef/penicillin_crossed.json"))
            .unwrap(),
    )
    .unwrap();
    let dir = temp_dir("tidy_ran_vals");
    let file = dir.join("tidy.json");
    let out = run(&[
        "fit",
        "--dataset",
        "Penicillin",
        "--tidy",
        file.to_str().unwrap(),
        "--tidy-effects",
        "ran_vals",
        r["formula"].as_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), r["estimate"].as_array().unwrap().len());
    let max_mode = r["estimate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap().abs())
        .fold(0.0, f64::max);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["effect"], "ran_vals");
        assert_eq!(row["group"], r["group"][i]);
        assert_eq!(row["level"], r["level"][i]);
        assert_eq!(row["term"], r["term"][i]);
        let e = r["estimate"][i].as_f64().unwrap();
        assert!((row["estimate"].as_f64().unwrap() - e).abs() <= 1e-5 * max_mode);
        let s = r["std_error"][i].as_f64().unwrap();
        assert!((row["std.error"].as_f64().unwrap() - s).abs() <= 1e-4 * s);
    }
    // The default layout (no ran_vals) has no level column.
    let csv = dir.join("tidy.csv");
    let out = run(&[
        "fit",
        "--dataset",
        "Penicillin",
        "--tidy",
        csv.to_str().unwrap(),
        r["formula"].as_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("effect,group,term,estimate"), "{text}");
}
