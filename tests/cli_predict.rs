//! End-to-end tests of `multilevel predict` and of `fit --ddf kenward-roger`'s adjusted
//! standard errors, against the committed lme4/lmerTest references
//! (`tests/reference/predict`, `tests/reference/kr_summary`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Run, run};
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

/// A clean failure: status 1, one error line naming every needle, no panic.
fn assert_error(r: &Run, needles: &[&str]) {
    assert_eq!(r.code, Some(1), "stderr:\n{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}:\n{}", r.stderr);
    }
}

const SLEEP: &str = "Reaction ~ Days + (Days | Subject)";

#[test]
fn fit_kenward_roger_prints_the_adjusted_standard_errors() {
    let r = reference("tests/reference/kr_summary/sleepstudy_unbalanced.json");
    let out = run(&[
        "fit",
        "--data",
        &path("tests/data/kr_sleepstudy.csv"),
        "--factor",
        "Subject",
        "--ddf",
        "kenward-roger",
        "--format",
        "json",
        SLEEP,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let kr = &r["kenward_roger"];
    for (i, fe) in v["fixed"].as_array().unwrap().iter().enumerate() {
        for (ours, theirs, tol) in [
            ("std_error", "se", 1e-4),
            ("statistic", "t", 1e-4),
            ("df", "df", 5e-3),
            ("p_value", "p", 1e-3),
        ] {
            let a = fe[ours].as_f64().unwrap();
            let b = kr[theirs][i].as_f64().unwrap();
            assert!((a - b).abs() <= tol * b.abs(), "{ours}[{i}]: {a} vs {b}");
        }
        // Not the unadjusted error (they differ by 8e-4 here).
        let u = r["unadjusted_se"][i].as_f64().unwrap();
        let a = fe["std_error"].as_f64().unwrap();
        assert!((a - u).abs() > 2e-4 * u, "se[{i}] is the unadjusted one");
    }
}

fn csv_column(text: &str, name: &str) -> Vec<Option<f64>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let j = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| {
            let f = l.split(',').nth(j).unwrap();
            (!f.is_empty()).then(|| f.parse().unwrap())
        })
        .collect()
}

fn close(ours: &[Option<f64>], theirs: &serde_json::Value, tol: f64) {
    let theirs: Vec<Option<f64>> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(serde_json::Value::as_f64)
        .collect();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        match (a, b) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= tol * b.abs(), "{a} vs {b}"),
            (None, None) => {}
            _ => panic!("{a:?} vs {b:?}"),
        }
    }
}

#[test]
fn predict_matches_lme4_in_csv_and_json() {
    let r = reference("tests/reference/predict/sleepstudy_slope.json");
    let new = path("tests/data/predict_sleepstudy_slope.csv");
    let base = [
        "predict",
        "--dataset",
        "sleepstudy",
        "--newdata",
        new.as_str(),
        "--factor",
        "Subject",
    ];
    let mut args = base.to_vec();
    args.extend(["--re-form", "none", "--se", SLEEP]);
    let out = run(&args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    close(&csv_column(&out.stdout, "fit"), &r["population"], 1e-6);
    close(
        &csv_column(&out.stdout, "se_fit"),
        &r["se_fixed_link"],
        1e-4,
    );
    // The row without Days is counted on stderr.
    assert!(out.stderr.contains("1 of 7 rows"), "{}", out.stderr);

    let mut args = base.to_vec();
    args.extend([
        "--allow-new-levels",
        "--keep-columns",
        "--format",
        "json",
        SLEEP,
    ]);
    let out = run(&args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["kind"], "predict");
    assert_eq!(v["n"], 7);
    assert_eq!(v["missing_rows"], serde_json::json!([6]));
    let rows = v["predictions"].as_array().unwrap();
    let fit: Vec<Option<f64>> = rows.iter().map(|x| x["fit"].as_f64()).collect();
    close(&fit, &r["all_new_levels"], 1e-6);
    assert_eq!(rows[4]["Subject"], "999");
    assert_eq!(rows[1]["Days"], 2.5);

    let mut args = base.to_vec();
    args.extend(["--format", "markdown", "--re-form", "none", SLEEP]);
    let out = run(&args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("| fit |"), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 9);
}

#[test]
fn predict_glmm_on_the_response_scale() {
    let r = reference("tests/reference/predict/cbpp_binomial.json");
    let out = run(&[
        "predict",
        "--dataset",
        "cbpp",
        "--newdata",
        &path("tests/data/predict_cbpp_binomial.csv"),
        "--factor",
        "herd",
        "--factor",
        "period",
        "--family",
        "binomial",
        "--type",
        "response",
        "--allow-new-levels",
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    close(
        &csv_column(&out.stdout, "fit"),
        &r["all_new_levels_response"],
        1e-4,
    );
}

#[test]
fn predict_bad_new_data_gets_one_clear_line() {
    let new = path("tests/data/predict_sleepstudy_slope.csv");
    // Subject 999 without --allow-new-levels: the level and the flag.
    let out = run(&[
        "predict",
        "--dataset",
        "sleepstudy",
        "--newdata",
        &new,
        "--factor",
        "Subject",
        SLEEP,
    ]);
    assert_error(&out, &["\"999\"", "`Subject`", "--allow-new-levels"]);
    // A column the formula uses is missing from the new data.
    let out = run(&[
        "predict",
        "--dataset",
        "sleepstudy",
        "--newdata",
        &path("tests/data/predict_penicillin_crossed.csv"),
        SLEEP,
    ]);
    assert_error(&out, &["predict_penicillin_crossed.csv", "`Days`"]);
    // A --re-form that is not a term of the model.
    let out = run(&[
        "predict",
        "--dataset",
        "sleepstudy",
        "--newdata",
        &new,
        "--re-form",
        "(1 | Days)",
        SLEEP,
    ]);
    assert_error(&out, &["(1 | Days)", "(Days | Subject)"]);
}

#[test]
fn simulate_is_reproducible_and_has_one_column_per_draw() {
    let args = [
        "simulate",
        "--dataset",
        "sleepstudy",
        "--nsim",
        "3",
        "--seed",
        "5",
        SLEEP,
    ];
    let a = run(&args);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    let b = run(&args);
    assert_eq!(a.stdout, b.stdout);
    let mut lines = a.stdout.lines();
    assert_eq!(lines.next(), Some("row,sim_1,sim_2,sim_3"));
    assert_eq!(lines.count(), 180);
    let out = run(&[
        "simulate",
        "--dataset",
        "cbpp",
        "--family",
        "binomial",
        "--nsim",
        "2",
        "--re-form",
        "all",
        "--format",
        "json",
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["simulations"].as_array().unwrap().len(), 2);
    assert_eq!(v["rows"].as_array().unwrap().len(), 56);
    let out = run(&["simulate", "--dataset", "sleepstudy", "--nsim", "0", SLEEP]);
    assert_error(&out, &["--nsim 0"]);
}

#[test]
fn fit_augment_writes_the_used_rows_and_lists_the_dropped_ones() {
    let dir = std::env::temp_dir().join(format!("multilevel-augment-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("aug.csv");
    let out = run(&[
        "fit",
        "--data",
        &path("tests/data/kr_sleepstudy.csv"),
        "--factor",
        "Subject",
        "--augment",
        &file.to_string_lossy(),
        "--format",
        "json",
        SLEEP,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let b0 = v["fixed"][0]["estimate"].as_f64().unwrap();
    let b1 = v["fixed"][1]["estimate"].as_f64().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("row,Reaction,Days,Subject,.fitted,.resid,.fixed")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 154);
    for r in &rows {
        let num = |k: usize| r[k].parse::<f64>().unwrap();
        // .fitted + .resid is the response; .fixed is the population level β̂₀ + β̂₁ Days.
        assert!((num(4) + num(5) - num(1)).abs() < 1e-9);
        assert!((num(6) - (b0 + b1 * num(2))).abs() < 1e-9);
    }
    assert!(!out.stderr.contains("were not used"));
    // A row with a missing value is left out and listed.
    let csv = dir.join("missing.csv");
    std::fs::write(
        &csv,
        "y,x,g\n1,1,a\n2,,a\n3,2,b\n2,3,b\n4,4,c\n3,2,c\n5,1,a\n",
    )
    .unwrap();
    let out = run(&[
        "fit",
        "--data",
        &csv.to_string_lossy(),
        "--augment",
        &file.to_string_lossy(),
        "y ~ x + (1 | g)",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("1 rows of") && out.stderr.contains("rows 2"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 7);
    assert!(!text.lines().any(|l| l.starts_with("2,")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fit_tidy_and_glance_tables_hold_the_fit() {
    let dir = std::env::temp_dir().join(format!("multilevel-tidy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tidy = dir.join("tidy.csv");
    let tidy_json = dir.join("tidy.json");
    let glance = dir.join("glance.json");
    let out = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--tidy",
        &tidy.to_string_lossy(),
        "--glance",
        &glance.to_string_lossy(),
        "--format",
        "json",
        SLEEP,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let text = std::fs::read_to_string(&tidy).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "effect,group,term,estimate,std.error,statistic,df,p.value"
    );
    // 2 fixed effects, 2 standard deviations and 1 correlation of Subject, the residual sd.
    assert_eq!(lines.len(), 7);
    assert!(lines[1].starts_with("fixed,,(Intercept),"));
    assert!(lines[3].starts_with("ran_pars,Subject,sd__(Intercept),"));
    assert!(lines[5].starts_with("ran_pars,Subject,cor__(Intercept).Days,"));
    assert!(lines[6].starts_with("ran_pars,Residual,sd__Observation,"));
    // The same numbers as the report (which prints them through its own number formatting).
    let same = |a: f64, b: &serde_json::Value| {
        let b = b.as_f64().unwrap();
        assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
    };
    let days: Vec<&str> = lines[2].split(',').collect();
    same(days[3].parse().unwrap(), &v["fixed"][1]["estimate"]);
    same(days[6].parse().unwrap(), &v["fixed"][1]["df"]);
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&glance).unwrap()).unwrap();
    assert_eq!(g["nobs"], 180);
    same(g["logLik"].as_f64().unwrap(), &v["loglik"]);
    same(g["AIC"].as_f64().unwrap(), &v["aic"]);
    // JSON tidy: null group for the fixed effects.
    let out = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--tidy",
        &tidy_json.to_string_lossy(),
        SLEEP,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tidy_json).unwrap()).unwrap();
    assert!(t[0]["group"].is_null());
    assert_eq!(t[5]["term"], "sd__Observation");
    let _ = std::fs::remove_dir_all(&dir);
}
