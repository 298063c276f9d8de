//! `multilevel fit --residual …` (GLS / MMRM): the JSON report against nlme's `gls`
//! (tests/reference/gls/gls.json from xtask/r/reference_gls.R), the text report's parts, and
//! one clear line for each kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{GOOD_CSV, assert_error, run, temp_dir, write};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/reference/gls/gls.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}

fn trial() -> String {
    root()
        .join("tests/data/mmrm_trial.csv")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn mmrm_json_matches_nlme_and_counts_the_data() {
    let r = run(&[
        "fit",
        "--data",
        &trial(),
        "--residual",
        "us(visit | subject)",
        "--format",
        "json",
        "y ~ visit * arm",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let want = reference("trial_us_reml");
    let ll = j["loglik"].as_f64().unwrap();
    let want_ll = want["logLik"].as_f64().unwrap();
    assert!(ll - want_ll > -1e-6 * want_ll.abs(), "{ll} vs {want_ll}");
    for row in j["fixed"].as_array().unwrap() {
        let term = row["term"].as_str().unwrap();
        let se = want["se"][term].as_f64().unwrap();
        let b = want["beta"][term].as_f64().unwrap();
        assert!(
            (row["estimate"].as_f64().unwrap() - b).abs() <= 1e-3 * se,
            "{term}"
        );
        assert!(
            (row["std_error"].as_f64().unwrap() - se).abs() <= 2e-3 * se,
            "{term}"
        );
        assert!(row["df"].as_f64().unwrap() > 100.0, "{term}");
    }
    let cm = want["cor_matrix"].as_array().unwrap();
    let ours = j["residual"]["correlation"].as_array().unwrap();
    assert_eq!(ours.len(), 6);
    for (i, row) in cm.iter().enumerate() {
        for (k, v) in row.as_array().unwrap().iter().enumerate() {
            let got = ours[i][k].as_f64().unwrap();
            assert!((got - v.as_f64().unwrap()).abs() <= 1e-3, "cor[{i}][{k}]");
        }
    }
    assert_eq!(j["residual"]["sd_by_visit"].as_array().unwrap().len(), 6);
    // The trial's CSV: 240 subjects, 13 empty responses (dropped), 1193 rows used.
    assert_eq!(j["counts"]["observations"], 1193);
    assert_eq!(j["counts"]["rows_dropped"], 13);
    assert_eq!(j["counts"]["visits"], 6);
    assert_eq!(j["method"], "REML");
    let one_visit = j["counts"]["subjects_with_one_visit"].as_u64().unwrap();
    assert!(one_visit > 0);
}

#[test]
fn text_and_markdown_reports_show_the_structure() {
    let text = run(&[
        "fit",
        "--dataset",
        "Orthodont",
        "--residual",
        "cs(age | Subject)",
        "--residual-variance",
        "ident(Sex)",
        "--ml",
        "distance ~ age * Sex",
    ]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    for needle in [
        "Generalized least squares fit by maximum likelihood",
        "Residual: cs(age | Subject) (compound symmetry), ident(Sex)",
        "27 subjects",
        "rho = ",
        "Residual standard deviation by level (ident(Sex)):",
        "Satterthwaite df",
    ] {
        assert!(text.stdout.contains(needle), "{needle}:\n{}", text.stdout);
    }
    let want = reference("orthodont_cs_ident_ml");
    let ll = format!("{:.3}", want["logLik"].as_f64().unwrap()); // -208.326, 6 digits as printed
    assert!(text.stdout.contains(&ll), "{ll}:\n{}", text.stdout);
    let md = run(&[
        "fit",
        "--dataset",
        "Orthodont",
        "--factor",
        "age",
        "--residual",
        "toeph(age | Subject)",
        "--format",
        "markdown",
        "distance ~ Sex",
    ]);
    assert_eq!(md.code, Some(0), "{}", md.stderr);
    assert!(md.stdout.contains("## Generalized least squares (REML)"));
    assert!(md.stdout.contains("**Residual SD by visit**"));
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = temp_dir("gls_bad");
    // A structure that needs a factor, on a numeric column.
    let r = run(&[
        "fit",
        "--dataset",
        "Orthodont",
        "--residual",
        "us(age | Subject)",
        "distance ~ Sex",
    ]);
    assert_error(&r, &["us(age | Subject)", "factor", "--factor age"]);
    // AR(1) on positions that are not integers.
    let frac = write(
        &dir,
        "frac.csv",
        "y,t,s\n1,1,a\n2,1.5,a\n3,1,b\n2,2,b\n1,1,c\n4,2,c\n",
    );
    let r = run(&["fit", "--data", &frac, "--residual", "ar1(t | s)", "y ~ 1"]);
    assert_error(&r, &["integer positions", "line 3", "1.5"]);
    // A subject with two rows at one visit.
    let dup = write(
        &dir,
        "dup.csv",
        "y,t,s\n1,1,a\n2,1,a\n3,1,b\n2,2,b\n1,1,c\n4,2,c\n",
    );
    let r = run(&["fit", "--data", &dup, "--residual", "cs(t | s)", "y ~ 1"]);
    assert_error(&r, &["subject `a`", "two rows", "line 2", "line 3"]);
    // More covariance parameters than the data support.
    let few = write(
        &dir,
        "few.csv",
        "y,v,s\n1,V1,a\n2,V2,a\n3,V3,b\n2,V1,b\n1,V2,c\n",
    );
    let r = run(&["fit", "--data", &few, "--residual", "us(v | s)", "y ~ 1"]);
    assert_error(&r, &["covariance parameters"]);
    // Random-effects terms with a residual structure: not supported yet.
    let good = write(&dir, "good.csv", GOOD_CSV);
    let r = run(&[
        "fit",
        "--data",
        &good,
        "--residual",
        "ar1(x | g)",
        "y ~ x + (1 | g)",
    ]);
    assert_error(&r, &["random-effects terms", "not supported yet"]);
    // A malformed structure.
    let r = run(&["fit", "--data", &good, "--residual", "ar1(x)", "y ~ x"]);
    assert_error(&r, &["--residual", "time | subject"]);
    // An unknown column.
    let r = run(&[
        "fit",
        "--data",
        &good,
        "--residual",
        "cs(x | nope)",
        "y ~ x",
    ]);
    assert_error(&r, &["nope"]);
    let _ = std::fs::remove_dir_all(&dir);
}
