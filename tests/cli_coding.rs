//! `--relevel COL=LEVEL` and `--contrasts COL=CODING` against lme4 fits with `relevel()` and
//! `contrasts = list(COL = "contr.*")` (`tests/reference/coding`, written by
//! `xtask/r/reference_coding.R`): coefficient names, estimates (1e-6 relative) and standard
//! errors (1e-4), and the coding named in the report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_error, run};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference(name: &str) -> serde_json::Value {
    let p = root().join(format!("tests/reference/coding/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn fit_json(r: &serde_json::Value) -> serde_json::Value {
    let data = root().join(r["data"]["csv"].as_str().unwrap());
    let data = data.to_string_lossy().into_owned();
    let mut args: Vec<String> = vec!["fit".into(), "--data".into(), data];
    for f in r["factors"].as_array().unwrap() {
        args.push("--factor".into());
        args.push(f.as_str().unwrap().into());
    }
    for (c, l) in r["relevel"].as_object().unwrap() {
        args.push("--relevel".into());
        args.push(format!("{c}={}", l.as_str().unwrap()));
    }
    for (c, k) in r["contrasts"].as_object().unwrap() {
        args.push("--contrasts".into());
        args.push(format!("{c}={}", k.as_str().unwrap()));
    }
    args.extend([
        "--ddf".into(),
        "none".into(),
        "--format".into(),
        "json".into(),
    ]);
    args.push(r["formula"].as_str().unwrap().into());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&a);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn check(name: &str) {
    let r = reference(name);
    let v = fit_json(&r);
    let fixed = v["fixed"].as_array().unwrap();
    let names: Vec<&str> = fixed.iter().map(|f| f["term"].as_str().unwrap()).collect();
    let theirs: Vec<&str> = r["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(names, theirs, "{name}");
    for (i, f) in fixed.iter().enumerate() {
        let (b, se) = (r["beta"][i].as_f64().unwrap(), r["se"][i].as_f64().unwrap());
        let ours = f["estimate"].as_f64().unwrap();
        assert!(
            (ours - b).abs() <= 1e-6 * b.abs().max(1e-3),
            "{name} {}: {ours} vs {b}",
            names[i]
        );
        let s = f["std_error"].as_f64().unwrap();
        assert!(
            (s - se).abs() <= 1e-4 * se,
            "{name} {} se: {s} vs {se}",
            names[i]
        );
    }
    let coding = &v["coding"];
    for (c, k) in r["contrasts"].as_object().unwrap() {
        assert_eq!(
            coding["contrasts"][c],
            format!("contr.{}", k.as_str().unwrap())
        );
    }
    for (c, l) in r["relevel"].as_object().unwrap() {
        assert_eq!(&coding["reference_levels"][c], l);
    }
}

#[test]
fn relevel_matches_lme4_after_relevel() {
    check("oats_relevel");
}

#[test]
fn sum_contrasts_match_lme4() {
    check("oats_sum");
}

#[test]
fn helmert_after_relevel_matches_lme4() {
    check("machines_helmert_relevel");
}

#[test]
fn text_report_names_the_coding_and_bad_codings_get_one_line() {
    let data = root().join("tests/data/kr_machines.csv");
    let data = data.to_string_lossy().into_owned();
    let f = "score ~ Machine + (1 | Worker)";
    let base = ["fit", "--data", data.as_str(), "--factor", "Worker"];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.push(f);
        run(&a)
    };
    let ok = with(&["--contrasts", "Machine=sum", "--relevel", "Machine=B"]);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert!(
        ok.stdout
            .contains("Factor coding: Machine = contr.sum; Machine reference \"B\""),
        "{}",
        ok.stdout
    );
    assert_error(
        &with(&["--relevel", "Machine=Z"]),
        &["no level \"Z\"", "A, B, C"],
    );
    assert_error(&with(&["--relevel", "score=1"]), &["numeric, not a factor"]);
    assert_error(
        &with(&["--contrasts", "score=sum"]),
        &["`score` is numeric", "--factor score"],
    );
    assert_error(
        &with(&["--contrasts", "Nope=sum"]),
        &["--contrasts", "Nope"],
    );
    let bad = with(&["--contrasts", "Machine=deviation"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("treatment, sum, helmert or poly"),
        "{}",
        bad.stderr
    );
}
