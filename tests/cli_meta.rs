//! `multilevel meta` (metafor's rma) end to end: text and JSON reports (insta snapshots), the
//! JSON numbers against the metafor reference (tests/reference/meta, from
//! xtask/r/reference_meta.R), dropped rows, and error messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_multilevel"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn reference_fit(mods: Option<&str>, method: &str, test: &str) -> Value {
    let d: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/meta/bcg.json")).unwrap(),
    )
    .unwrap();
    let model = d["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mods"].as_str() == mods)
        .unwrap()
        .clone();
    model["fits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["method"] == method && f["test"] == test)
        .unwrap()
        .clone()
}

fn close(what: &str, ours: &Value, theirs: f64, tol: f64) {
    let o = ours
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number"));
    assert!(
        (o - theirs).abs() <= tol * theirs.abs(),
        "{what}: ours {o} metafor {theirs}"
    );
}

const BCG: &str = "tests/reference/meta/bcg.csv";

#[test]
fn random_effects_text_report() {
    let text = ok(&[
        "meta", "--data", BCG, "--yi", "yi", "--vi", "vi", "--slab", "slab",
    ]);
    insta::assert_snapshot!("meta_bcg_reml_text", text);
}

#[test]
fn meta_regression_knha_text_report() {
    let text = ok(&[
        "meta",
        "--data",
        BCG,
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--mods",
        "~ ablat + year",
        "--test",
        "knha",
        "--method",
        "DL",
    ]);
    insta::assert_snapshot!("meta_bcg_dl_knha_mods_text", text);
}

#[test]
fn markdown_report() {
    let text = ok(&[
        "meta", "--data", BCG, "--yi", "yi", "--vi", "vi", "--mods", "~ alloc", "--format",
        "markdown",
    ]);
    insta::assert_snapshot!("meta_bcg_alloc_markdown", text);
}

#[test]
fn json_report_matches_metafor() {
    let text = ok(&[
        "meta", "--data", BCG, "--yi", "yi", "--vi", "vi", "--slab", "slab", "--method", "PM",
        "--format", "json",
    ]);
    insta::assert_snapshot!("meta_bcg_pm_json", text);
    let v: Value = serde_json::from_str(&text).unwrap();
    for key in [
        "method",
        "k",
        "estimate",
        "std_error",
        "z",
        "p_value",
        "ci_lower",
        "ci_upper",
        "tau2",
        "i2",
        "h2",
        "q",
        "q_df",
        "q_p",
        "pi_lower",
        "pi_upper",
        "coefficients",
        "studies",
    ] {
        assert!(v.get(key).is_some(), "JSON key {key} missing");
    }
    let r = reference_fit(None, "PM", "z");
    assert_eq!(v["method"], "PM");
    assert_eq!(v["k"], 13);
    close(
        "estimate",
        &v["estimate"],
        r["beta"][0].as_f64().unwrap(),
        1e-6,
    );
    close(
        "std_error",
        &v["std_error"],
        r["se"][0].as_f64().unwrap(),
        1e-6,
    );
    close(
        "p_value",
        &v["p_value"],
        r["pval"][0].as_f64().unwrap(),
        1e-6,
    );
    close("tau2", &v["tau2"], r["tau2"].as_f64().unwrap(), 1e-6);
    close("i2", &v["i2"], r["I2"].as_f64().unwrap(), 1e-6);
    close("q", &v["q"], r["QE"].as_f64().unwrap(), 1e-6);
    close(
        "pi_lower",
        &v["pi_lower"],
        r["pred_pi_lb"].as_f64().unwrap(),
        1e-6,
    );
    close(
        "pi_upper",
        &v["pi_upper"],
        r["pred_pi_ub"].as_f64().unwrap(),
        1e-6,
    );
    close(
        "weight",
        &v["studies"][0]["weight_random"],
        r["weights_random"][0].as_f64().unwrap(),
        1e-6,
    );
}

#[test]
fn json_meta_regression_matches_metafor() {
    let text = ok(&[
        "meta", "--data", BCG, "--yi", "yi", "--vi", "vi", "--mods", "~ ablat", "--test", "knha",
        "--format", "json",
    ]);
    let v: Value = serde_json::from_str(&text).unwrap();
    let r = reference_fit(Some("~ ablat"), "REML", "knha");
    let coefs = v["coefficients"].as_array().unwrap();
    assert_eq!(coefs.len(), 2);
    assert_eq!(coefs[1]["name"], "ablat");
    for (j, c) in coefs.iter().enumerate() {
        close(
            "estimate",
            &c["estimate"],
            r["beta"][j].as_f64().unwrap(),
            1e-5,
        );
        close("se", &c["std_error"], r["se"][j].as_f64().unwrap(), 1e-5);
        close("t", &c["statistic"], r["zval"][j].as_f64().unwrap(), 1e-5);
        close("p", &c["p_value"], r["pval"][j].as_f64().unwrap(), 1e-5);
    }
    assert_eq!(v["df"], 11);
    close(
        "QM (F)",
        &v["moderators"]["statistic"],
        r["QM"].as_f64().unwrap(),
        1e-5,
    );
    close("R2", &v["r2"], r["R2"].as_f64().unwrap(), 1e-5);
    assert!(v["pi_lower"].is_null());
}

#[test]
fn missing_rows_are_reported_and_output_file_written() {
    let dir = std::env::temp_dir().join(format!("multilevel-meta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("gaps.csv");
    std::fs::write(
        &csv,
        "study,y,v,x\nA,0.10,0.04,1\nB,0.35,0.09,NA\nC,,0.01,3\nD,0.52,0.0225,4\nE,0.20,0.05,5\nF,0.05,0.0625,6\n",
    )
    .unwrap();
    let out_path = dir.join("report.txt");
    let stdout = ok(&[
        "meta",
        "--data",
        csv.to_str().unwrap(),
        "--yi",
        "y",
        "--vi",
        "v",
        "--mods",
        "x",
        "--slab",
        "study",
        "--method",
        "DL",
        "--output",
        out_path.to_str().unwrap(),
    ]);
    assert!(stdout.is_empty());
    let report = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        report.contains(
            "2 of 6 rows dropped for missing values: line 3 (missing x); line 4 (missing y)"
        ),
        "{report}"
    );
    assert!(report.contains("Mixed-Effects Model (k = 4; tau^2 estimator: DL)"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_are_one_clear_message() {
    let cases: [(&[&str], &str); 4] = [
        (&["meta", "--data", BCG, "--yi", "yii", "--vi", "vi"], "yii"),
        (
            &["meta", "--data", BCG, "--yi", "yi", "--vi", "slab"],
            "must be numeric",
        ),
        (
            &[
                "meta",
                "--data",
                BCG,
                "--yi",
                "yi",
                "--vi",
                "vi",
                "--mods",
                "~ latitude",
            ],
            "latitude",
        ),
        (
            &[
                "meta", "--data", BCG, "--yi", "yi", "--vi", "ablat", "--level", "120",
            ],
            "--level 120",
        ),
    ];
    for (args, needle) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Non-positive variances name the line and the study.
    let dir = std::env::temp_dir().join(format!("multilevel-meta-neg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("neg.csv");
    std::fs::write(&csv, "study,y,v\nA,0.1,0.04\nB,0.2,0\nC,0.3,0.02\n").unwrap();
    let out = run(&[
        "meta",
        "--data",
        csv.to_str().unwrap(),
        "--yi",
        "y",
        "--vi",
        "v",
        "--slab",
        "study",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("study B") && err.contains("line 3"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
    // --vi and --sei together is a usage error.
    let out = run(&[
        "meta", "--data", BCG, "--yi", "yi", "--vi", "vi", "--sei", "vi",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
