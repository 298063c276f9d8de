//! End-to-end tests of custom contrasts in `multilevel emmeans` (`--contrast`,
//! `--contrast-file`, `--contrast-ci`) against the committed emmeans references, and of
//! `explore --re-estimator swar` against plm's `phtest`.

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
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

const OATS: &str = "yield ~ Variety + nitro + (1 | Block/Variety)";

fn oats(extra: &[&str]) -> common::Run {
    let data = path("tests/data/kr_oats.csv");
    let mut args = vec![
        "emmeans", "--data", &data, "--factor", "Block", "--factor", "Variety", "--specs",
        "Variety",
    ];
    args.extend_from_slice(extra);
    args.push(OATS);
    run(&args)
}

#[test]
fn custom_contrasts_from_expressions_and_a_file_match_emmeans() {
    let r = reference("tests/reference/emmeans/oats_additive.json");
    let case = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "Variety custom")
        .unwrap();
    let c = &case["contrasts"];
    let out = oats(&[
        "--contrast",
        "Golden Rain - Marvellous",
        "--contrast",
        "0.5*Golden Rain + 0.5*Marvellous - Victory",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["adjust"], "none");
    let rows = v["contrasts"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1]["contrast"],
        "0.5*Golden Rain + 0.5*Marvellous - Victory"
    );
    for (i, k) in rows.iter().enumerate() {
        assert!(rel(k["estimate"].as_f64().unwrap(), nums(&c["estimate"])[i]) < 1e-6);
        assert!(rel(k["std_error"].as_f64().unwrap(), nums(&c["se"])[i]) < 1e-4);
        assert!(rel(k["df"].as_f64().unwrap(), nums(&c["df"])[i]) < 5e-3);
        assert!(rel(k["p_value"].as_f64().unwrap(), nums(&c["p"])[i]) < 1e-4);
        assert!(rel(k["lower"].as_f64().unwrap(), nums(&c["lower"])[i]) < 1e-4);
        assert!(rel(k["upper"].as_f64().unwrap(), nums(&c["upper"])[i]) < 1e-4);
    }
    // The same contrasts as a matrix file, with the names of the reference.
    let dir = std::env::temp_dir().join(format!("ml-contrasts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("contrasts.csv");
    std::fs::write(
        &file,
        "contrast,Golden Rain,Marvellous,Victory\nGvM,1,-1,0\nGM vs V,0.5,0.5,-1\n",
    )
    .unwrap();
    let f = file.to_string_lossy().into_owned();
    let out = oats(&["--contrast-file", &f, "--format", "csv"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let block = out.stdout.split("\n\n").nth(1).unwrap();
    let mut lines = block.lines();
    assert_eq!(
        lines.next(),
        Some("contrast,estimate,std_error,df,statistic,p_value,lower,upper")
    );
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], c["labels"][i].as_str().unwrap());
        assert!(rel(cells[1].parse().unwrap(), nums(&c["estimate"])[i]) < 1e-6);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tukey_confidence_limits_of_pairs_match_confint() {
    let r = reference("tests/reference/emmeans/oats_additive.json");
    let c = &r["cases"][0]["contrasts"];
    let out = oats(&["--pairwise", "--contrast-ci"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("lower.CL"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Conf-level adjustment: tukey method for comparing a family of 3 estimates"),
        "{}",
        out.stdout
    );
    let json = oats(&["--pairwise", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    for (i, k) in v["contrasts"].as_array().unwrap().iter().enumerate() {
        let se = k["std_error"].as_f64().unwrap();
        // R's qtukey stops at 1e-4 in q.
        assert!((k["lower"].as_f64().unwrap() - nums(&c["lower"])[i]).abs() < 1e-4 * se.max(1.0));
        assert!((k["upper"].as_f64().unwrap() - nums(&c["upper"])[i]).abs() < 1e-4 * se.max(1.0));
    }
}

#[test]
fn custom_contrasts_name_bad_levels_and_conflicts() {
    let out = oats(&["--contrast", "Golden Rain - Gold"]);
    assert_error(&out, &["`gold`", "golden rain, marvellous, victory"]);
    let out = oats(&["--contrast", "x*Golden Rain - Victory"]);
    assert_error(&out, &["--contrast", "weight"]);
    let out = oats(&["--contrast", "Golden Rain - Victory", "--adjust", "tukey"]);
    assert_error(&out, &["tukey", "pairwise"]);
    let out = oats(&["--contrast-ci"]);
    assert_error(&out, &["--contrast-ci"]);
}

#[test]
fn explore_swamy_arora_hausman_reproduces_plm() {
    let r = reference("tests/reference/workflow/hsb82.json");
    let data = path("tests/data/hsb82.csv");
    let out = run(&[
        "explore",
        "--data",
        &data,
        "--group",
        "school",
        "--bootstrap",
        "0",
        "--re-estimator",
        "swar",
        "--format",
        "json",
        "mAch ~ ses",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let h = &v["hausman"];
    assert!(
        rel(
            h["statistic"].as_f64().unwrap(),
            r["hausman_plm"]["statistic"].as_f64().unwrap()
        ) < 1e-6
    );
    assert!(
        h["re_estimator"]
            .as_str()
            .unwrap()
            .starts_with("Swamy–Arora")
    );
    let text = run(&[
        "explore",
        "--data",
        &data,
        "--group",
        "school",
        "--bootstrap",
        "0",
        "mAch ~ ses",
    ]);
    assert!(
        text.stdout.contains("random-effects estimator: REML"),
        "{}",
        text.stdout
    );
}
