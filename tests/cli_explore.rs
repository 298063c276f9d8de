//! `multilevel explore` on mlmRev's Hsb82 against R (tests/reference/workflow/hsb82.json from
//! xtask/r/reference_workflow.R).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_multilevel"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn explore_json_matches_r_reference() {
    let out = run(&[
        "explore",
        "--data",
        "tests/data/hsb82.csv",
        "--group",
        "school",
        "--bootstrap",
        "50",
        "--format",
        "json",
        "mAch ~ ses",
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/workflow/hsb82.json")).unwrap(),
    )
    .unwrap();
    let g = &v["groups"][0];
    for key in [
        "name",
        "levels",
        "mean_size",
        "icc",
        "icc_ci",
        "design_effect",
        "effective_n",
    ] {
        assert!(g.get(key).is_some(), "groups[0].{key} missing");
    }
    assert_eq!(g["name"], "school");
    assert_eq!(g["levels"], reference["empty"]["levels"]);
    let icc = g["icc"].as_f64().unwrap();
    let r_icc = reference["empty"]["icc"].as_f64().unwrap();
    assert!(
        (icc - r_icc).abs() / r_icc < 1e-4,
        "ICC {icc} vs lme4 {r_icc}"
    );
    let ci = g["icc_ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < icc && icc < ci[1].as_f64().unwrap());
    let deff = g["design_effect"].as_f64().unwrap();
    let r_deff = reference["empty"]["design_effect"].as_f64().unwrap();
    assert!((deff - r_deff).abs() / r_deff < 1e-4);
    let est = v["estimators"].as_array().unwrap();
    for key in [
        "method",
        "term",
        "estimate",
        "std_error",
        "robust_std_error",
    ] {
        assert!(
            est.iter().all(|e| e.get(key).is_some()),
            "estimators[].{key}"
        );
    }
    let within = est
        .iter()
        .find(|e| e["method"] == "within" && e["term"] == "ses")
        .unwrap();
    let r_within = reference["within"]["estimate"][0].as_f64().unwrap();
    assert!((within["estimate"].as_f64().unwrap() - r_within).abs() / r_within < 1e-6);
    for key in ["statistic", "df", "p_value", "note"] {
        assert!(v["hausman"].get(key).is_some(), "hausman.{key}");
    }
    assert_eq!(v["hausman"]["df"], 1);
}

#[test]
fn explore_text_and_errors() {
    let out = run(&[
        "explore",
        "--data",
        "tests/data/hsb82.csv",
        "--group",
        "school",
        "--bootstrap",
        "0",
        "mAch ~ ses",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Hausman test") && text.contains("hybrid") && text.contains("ses_mean"));

    let bad = run(&[
        "explore",
        "--data",
        "tests/data/hsb82.csv",
        "--group",
        "schol",
        "mAch ~ ses",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("`schol`") && err.contains("hint"), "{err}");

    let bad = run(&[
        "explore",
        "--data",
        "tests/data/hsb82.csv",
        "--group",
        "school",
        "mAch ~ ses + (1 | school)",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--group"));
}
