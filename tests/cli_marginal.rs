//! `multilevel gee` and `multilevel robust`: snapshots of the reports, JSON against the R
//! references (tests/reference/marginal/*.json from xtask/r/reference_marginal.R), and the
//! error messages for bad input.
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

fn stdout_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stderr_fail(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn reference(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/marginal").join(name)).unwrap(),
    )
    .unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn gee_text_report() {
    let text = stdout_ok(&[
        "gee",
        "--data",
        "tests/reference/marginal/dietox.csv",
        "--group",
        "Pig",
        "--corstr",
        "ar1",
        "Weight ~ Time + Cu",
    ]);
    insta::assert_snapshot!("gee_dietox_ar1_text", text);
}

#[test]
fn gee_markdown_report() {
    let text = stdout_ok(&[
        "gee",
        "--data",
        "tests/reference/marginal/epil.csv",
        "--group",
        "subject",
        "--family",
        "poisson",
        "--corstr",
        "exchangeable",
        "--format",
        "markdown",
        "y ~ lbase + trt + lage + V4",
    ]);
    insta::assert_snapshot!("gee_epil_exchangeable_markdown", text);
}

#[test]
fn gee_json_matches_geepack() {
    let text = stdout_ok(&[
        "gee",
        "--data",
        "tests/reference/marginal/ohio.csv",
        "--group",
        "id",
        "--family",
        "binomial",
        "--corstr",
        "exchangeable",
        "--format",
        "json",
        "resp ~ age + smoke",
    ]);
    let v: Value = serde_json::from_str(&text).unwrap();
    let refs = reference("gee.json");
    let case = refs["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ohio_exchangeable")
        .unwrap();
    assert_eq!(v["working_correlation"]["structure"], "exchangeable");
    assert!(close(
        v["working_correlation"]["alpha"].as_f64().unwrap(),
        case["alpha"].as_f64().unwrap(),
        1e-5
    ));
    assert!(close(
        v["scale"].as_f64().unwrap(),
        case["scale"].as_f64().unwrap(),
        1e-5
    ));
    assert_eq!(v["clusters"], case["clusters"]);
    assert_eq!(v["nobs"], case["nobs"]);
    for (got, want) in v["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["fixed"].as_array().unwrap())
    {
        assert_eq!(got["term"], want["term"]);
        for (g, w) in [
            ("estimate", "estimate"),
            ("std_error", "std_error"),
            ("wald", "wald"),
        ] {
            assert!(
                close(got[g].as_f64().unwrap(), want[w].as_f64().unwrap(), 1e-5),
                "{} {g}",
                got["term"]
            );
        }
    }
}

#[test]
fn robust_text_reports() {
    let ols = stdout_ok(&[
        "robust",
        "--data",
        "tests/data/hsb82.csv",
        "--cluster",
        "school",
        "mAch ~ ses",
    ]);
    insta::assert_snapshot!("robust_hsb82_ols_cr2_text", ols);
    let lmm = stdout_ok(&[
        "robust",
        "--data",
        "tests/data/hsb82.csv",
        "--cluster",
        "school",
        "--model",
        "lmm",
        "--type",
        "CR1",
        "--format",
        "markdown",
        "mAch ~ ses + (1 | school)",
    ]);
    insta::assert_snapshot!("robust_hsb82_lmm_cr1_markdown", lmm);
}

#[test]
fn robust_json_matches_clubsandwich() {
    let refs = reference("cr.json");
    for (name, model, formula) in [
        ("hsb82_ols", "ols", "mAch ~ ses"),
        ("hsb82_lmm_intercept", "lmm", "mAch ~ ses + (1 | school)"),
    ] {
        let case = refs["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        let text = stdout_ok(&[
            "robust",
            "--data",
            "tests/data/hsb82.csv",
            "--cluster",
            "school",
            "--model",
            model,
            "--type",
            "CR2",
            "--format",
            "json",
            formula,
        ]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["vcov_type"], "CR2");
        for (got, want) in v["fixed"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["types"]["CR2"].as_array().unwrap())
        {
            assert_eq!(got["term"], want["term"]);
            for key in ["estimate", "std_error", "df", "p_value"] {
                assert!(
                    close(
                        got[key].as_f64().unwrap(),
                        want[key].as_f64().unwrap(),
                        1e-4
                    ),
                    "{name} {} {key}",
                    got["term"]
                );
            }
        }
    }
}

#[test]
fn bad_input_gets_one_clear_error() {
    let e = stderr_fail(&[
        "gee",
        "--dataset",
        "sleepstudy",
        "--group",
        "Subject",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    // The library's hint names the setting; the command names its flag.
    assert!(
        e.contains("random-effects terms") && e.contains("hint") && e.contains("--group"),
        "{e}"
    );
    let e = stderr_fail(&[
        "gee",
        "--dataset",
        "sleepstudy",
        "--group",
        "Subjct",
        "Reaction ~ Days",
    ]);
    assert!(e.contains("Subjct") && e.contains("hint"), "{e}");
    let e = stderr_fail(&[
        "gee",
        "--dataset",
        "sleepstudy",
        "--group",
        "Subject",
        "--family",
        "binomial",
        "Reaction ~ Days",
    ]);
    assert!(
        e.contains("Reaction") && e.contains("choose another --family"),
        "{e}"
    );
    let e = stderr_fail(&[
        "robust",
        "--dataset",
        "sleepstudy",
        "--cluster",
        "Subject",
        "--model",
        "lmm",
        "Reaction ~ Days",
    ]);
    assert!(e.contains("--model lmm needs random-effects terms"), "{e}");
    let e = stderr_fail(&[
        "robust",
        "--dataset",
        "sleepstudy",
        "--cluster",
        "Days",
        "--model",
        "lmm",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert!(
        e.contains("not block-diagonal") && e.contains("hint"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = stderr_fail(&[
        "robust",
        "--dataset",
        "sleepstudy",
        "--cluster",
        "Subject",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert!(
        e.contains("random-effects terms") && e.contains("--cluster, or use --model lmm"),
        "{e}"
    );
}
