//! End-to-end tests of `multilevel emmeans` against the committed emmeans references
//! (`tests/reference/emmeans`, written by `xtask/r/reference_emmeans.R`), and its bad-input
//! messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_error, run};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path(rel: &str) -> String {
    root().join(rel).to_string_lossy().into_owned()
}

fn reference(rel: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(rel)).unwrap()).unwrap()
}

fn nums(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

const OATS: &str = "yield ~ Variety + nitro + (1 | Block/Variety)";

#[test]
fn json_means_and_tukey_contrasts_match_emmeans() {
    let r = reference("tests/reference/emmeans/oats_additive.json");
    let case = &r["cases"][0];
    let data = path("tests/data/kr_oats.csv");
    let out = run(&[
        "emmeans",
        "--data",
        &data,
        "--factor",
        "Block",
        "--factor",
        "Variety",
        "--specs",
        "Variety",
        "--pairwise",
        "--format",
        "json",
        OATS,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["df_method"], "kenward-roger");
    let means = v["emmeans"].as_array().unwrap();
    let e = &case["emmeans"];
    for (i, m) in means.iter().enumerate() {
        assert_eq!(m["Variety"], e["levels"][i][0]);
        assert!(rel(m["emmean"].as_f64().unwrap(), nums(&e["estimate"])[i]) < 1e-6);
        assert!(rel(m["std_error"].as_f64().unwrap(), nums(&e["se"])[i]) < 1e-4);
        assert!(rel(m["df"].as_f64().unwrap(), nums(&e["df"])[i]) < 1e-4);
        assert!(rel(m["lower"].as_f64().unwrap(), nums(&e["lower"])[i]) < 1e-4);
    }
    let c = &case["contrasts"];
    let contrasts = v["contrasts"].as_array().unwrap();
    assert_eq!(contrasts.len(), 3);
    assert_eq!(v["adjust"], "tukey");
    for (i, k) in contrasts.iter().enumerate() {
        assert_eq!(k["contrast"], c["labels"][i]);
        assert!(rel(k["estimate"].as_f64().unwrap(), nums(&c["estimate"])[i]) < 1e-6);
        assert!(rel(k["p_value"].as_f64().unwrap(), nums(&c["p"])[i]) < 1e-4);
    }
}

#[test]
fn text_output_is_emmeans_layout_and_response_scale_is_back_transformed() {
    let out = run(&[
        "emmeans",
        "--dataset",
        "cbpp",
        "--factor",
        "period",
        "--family",
        "binomial",
        "--specs",
        "period",
        "--type",
        "response",
        "--pairwise",
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let r = reference("tests/reference/emmeans/cbpp_binomial.json");
    let prob = nums(&r["cases"][1]["emmeans"]["estimate"]);
    assert!(out.stdout.contains(" period    prob"), "{}", out.stdout);
    assert!(out.stdout.contains("asymp.LCL"));
    assert!(out.stdout.contains("period1 / period2"));
    assert!(out.stdout.contains("odds.ratio"));
    // The first mean as printed (5 significant digits) is emmeans' prob.
    let first: f64 = out
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((first - prob[0]).abs() < 1e-5, "{first} vs {}", prob[0]);
}

#[test]
fn csv_has_means_then_contrasts() {
    let data = path("tests/data/kr_machines.csv");
    let out = run(&[
        "emmeans",
        "--data",
        &data,
        "--factor",
        "Worker",
        "--specs",
        "Machine",
        "--pairwise",
        "--adjust",
        "holm",
        "--ddf",
        "satterthwaite",
        "--format",
        "csv",
        "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let blocks: Vec<&str> = out.stdout.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{}", out.stdout);
    assert!(blocks[0].starts_with("Machine,emmean,std_error,df,lower,upper"));
    assert_eq!(blocks[0].lines().count(), 4);
    assert!(blocks[1].starts_with("contrast,estimate,std_error,df,statistic,p_value"));
    assert_eq!(blocks[1].trim_end().lines().count(), 4);
}

#[test]
fn bad_specs_and_at_get_one_clear_line() {
    let data = path("tests/data/kr_oats.csv");
    let base = [
        "emmeans", "--data", &data, "--factor", "Block", "--factor", "Variety",
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.push(OATS);
        run(&a)
    };
    assert_error(
        &with(&["--specs", "nitro"]),
        &["`nitro` is numeric", "make it a factor", "`at`"],
    );
    assert_error(
        &with(&["--specs", "Block"]),
        &[
            "`Block` is not a variable of the fixed-effects terms",
            "Variety",
        ],
    );
    assert_error(
        &with(&["--specs", "Variety", "--at", "nitro=abc"]),
        &["--at nitro=abc", "hint"],
    );
    assert_error(
        &with(&["--specs", "Variety", "--trt-vs-ctrl", "--adjust", "tukey"]),
        &["Tukey", "pairwise"],
    );
    assert_error(
        &with(&["--specs", "Variety", "--ml"]),
        &["REML", "--ddf satterthwaite"],
    );
}
