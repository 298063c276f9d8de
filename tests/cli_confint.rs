//! `multilevel confint` against lme4's `confint()` (profile) and its own reproducibility (boot).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_multilevel"))
        .args(args)
        .output()
        .expect("the multilevel binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn profile_intervals_match_lme4_confint() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/intervals/sleepstudy_slope_reml.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ours = json(&[
        "confint",
        "--dataset",
        "sleepstudy",
        "--format",
        "json",
        "Reaction ~ Days + (Days | Subject)",
    ]);
    let rows = ours["intervals"].as_array().unwrap();
    let labels = reference["labels"].as_array().unwrap();
    assert_eq!(rows.len(), labels.len());
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row["parameter"], labels[k]);
        for side in ["lower", "upper"] {
            let a = row[side].as_f64().unwrap();
            let b = reference[side][k].as_f64().unwrap();
            assert!(
                (a - b).abs() <= 1e-3 * b.abs().max(1e-2),
                "{} {side}: {a} vs lme4 {b}",
                labels[k]
            );
        }
    }
}

#[test]
fn bootstrap_intervals_are_reproducible_from_the_seed() {
    let args = [
        "confint",
        "--dataset",
        "Dyestuff",
        "--method",
        "boot",
        "--nsim",
        "60",
        "--seed",
        "7",
        "--format",
        "json",
        "Yield ~ 1 + (1 | Batch)",
    ];
    let a = json(&args);
    let b = json(&args);
    assert_eq!(a, b);
    let rows = a["intervals"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| r["lower"].as_f64() <= r["upper"].as_f64())
    );
    let (code, _, err) = run(&[
        "confint",
        "--dataset",
        "Dyestuff",
        "--level",
        "1.5",
        "Yield ~ 1 + (1 | Batch)",
    ]);
    assert_eq!(code, Some(1));
    assert!(!err.contains("panicked"), "{err}");
}
