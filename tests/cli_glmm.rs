//! The CLI's GLMM paths beyond `fit`'s families: the negative binomial (`--family
//! negative_binomial`, lme4's `glmer.nb`) against its R reference, and its bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

const OWLS: &str = "tests/data/owls.csv";
const OWLS_FORMULA: &str =
    "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)";

fn reference(name: &str) -> Value {
    let path = format!("tests/reference/negbin/{name}.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn negative_binomial_fit_prints_glmer_nb_summary_and_json_theta() {
    let r = reference("owls_nb");
    let text = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "negative_binomial",
        OWLS_FORMULA,
    ]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    // glmer.nb's header: the family with θ to 4 decimals, then the link.
    assert!(
        text.stdout.contains(&format!(
            " Family: {}  ( log )",
            r["family_name"].as_str().unwrap()
        )),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("(Laplace Approximation) ['glmerMod']"));
    let json = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "negative_binomial",
        "--format",
        "json",
        OWLS_FORMULA,
    ]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let th = v["family_parameters"]["theta"]["estimate"]
        .as_f64()
        .unwrap();
    let se = v["family_parameters"]["theta"]["std_error"]
        .as_f64()
        .unwrap();
    let th_ref = r["nb_theta"].as_f64().unwrap();
    assert!((th / th_ref - 1.0).abs() < 1e-3, "{th} vs {th_ref}");
    let se_ref = r["nb_theta_se"].as_f64().unwrap();
    assert!((se / se_ref - 1.0).abs() < 2e-2, "{se} vs {se_ref}");
    assert_eq!(v["npar"].as_f64(), r["npar"].as_f64());
    let ll = r["loglik_fresh"].as_f64().unwrap();
    assert!((v["loglik"].as_f64().unwrap() - ll).abs() < 1e-4);
}

#[test]
fn negative_binomial_refuses_non_counts_and_other_links() {
    let dir = temp_dir("nb_bad");
    let csv = write(
        &dir,
        "counts.csv",
        "y,g\n0,a\n3,a\n2.5,a\n1,b\n0,b\n2,b\n7,c\n12,c\n1,c\n",
    );
    let r = run(&[
        "fit",
        "--data",
        &csv,
        "--family",
        "negative_binomial",
        "y ~ 1 + (1 | g)",
    ]);
    assert_error(&r, &["row 3", "whole counts", "2.5"]);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    let csv = write(&dir, "neg.csv", "y,g\n0,a\n3,a\n-2,a\n1,b\n0,b\n2,b\n");
    let r = run(&[
        "fit",
        "--data",
        &csv,
        "--family",
        "negative_binomial",
        "y ~ 1 + (1 | g)",
    ]);
    assert_error(&r, &["row 3", "-2"]);
    let r = run(&[
        "fit",
        "--data",
        &csv,
        "--family",
        "negative_binomial",
        "--link",
        "logit",
        "y ~ 1 + (1 | g)",
    ]);
    assert_error(&r, &["logit", "log, sqrt, identity"]);
}
