//! The covariance-structure terms from the command line: VarCorr text in lme4 2.0's layout,
//! the JSON `structures` key, parameter counts, and one clear line for each bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_error, run};

const OATS: &str = "tests/reference/covstruct/oats.csv";
const SLEEP: &str = "tests/reference/covstruct/sleepstudy.csv";

fn path(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compound_symmetry_prints_its_correlation_once() {
    let r = run(&[
        "fit",
        "yield ~ nitro + Variety + cs(0 + Variety | Block)",
        "--data",
        &path(OATS),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // glmmTMB 1.1.5 prints the same ρ for this model: `0.685 (cs)`.
    let lines: Vec<&str> = r.stdout.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains("VarietyGolden Rain"))
        .expect("the term's first row");
    assert!(lines[first].ends_with("0.685 (cs)"), "{}", lines[first]);
    assert!(!lines[first + 1].contains("(cs)"));
    assert!(
        !r.stdout.contains("0.69"),
        "no correlation matrix:\n{}",
        r.stdout
    );
}

#[test]
fn structures_are_in_the_json_and_counted_as_parameters() {
    let r = run(&[
        "fit",
        "yield ~ nitro + Variety + ar1(0 + Variety | Block)",
        "--data",
        &path(OATS),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let s = &v["structures"][0];
    assert_eq!(s["structure"], "ar1");
    assert_eq!(s["hom"], true);
    assert_eq!(s["n_parameters"], 2);
    // 4 fixed effects, the AR(1) term's SD and ρ, σ (glmmTMB's logLik df: 7).
    assert_eq!(v["npar"], 7);
    assert_eq!(v["theta"].as_array().map(Vec::len), Some(2));
    // An unstructured fit has no `structures` key.
    let r = run(&[
        "fit",
        "Reaction ~ Days + (Days | Subject)",
        "--data",
        &path(SLEEP),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert!(v.get("structures").is_none());
    assert_eq!(v["npar"], 6);
}

#[test]
fn diagonal_term_has_no_correlation_column_and_one_group_label() {
    let r = run(&[
        "fit",
        "Reaction ~ Days + diag(Days | Subject)",
        "--data",
        &path(SLEEP),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .contains(" Groups   Name        Variance Std.Dev.\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Subject.1"));
}

#[test]
fn bad_structure_terms_get_one_clear_line() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "Reaction ~ Days + toep(Days | Subject)",
            &["unknown covariance structure", "toep"],
        ),
        (
            "Reaction ~ Days + cs(Days | Subject, hom = maybe)",
            &["hom", "TRUE or FALSE", "column"],
        ),
        (
            "Reaction ~ Days + cs(Days | Subject, het = TRUE)",
            &["no argument `het`"],
        ),
        (
            "Reaction ~ Days + diag(Days || Subject)",
            &["`||` cannot be used inside `diag"],
        ),
        (
            "Reaction ~ Days + ar1(1 | Subject)",
            &["ar1", "at least 2 columns"],
        ),
    ];
    for (f, needles) in cases {
        let r = run(&["fit", f, "--data", &path(SLEEP)]);
        assert_error(&r, needles);
    }
}
