//! `multilevel fit --zi` (zero-inflated Poisson and NB2 mixed models) against glmmTMB's
//! references (`xtask/r/reference_zi.R`), its report layout and its bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

const OWLS: &str = "tests/data/owls.csv";
const OWLS_FORMULA: &str =
    "SiblingNegotiation ~ FoodTreatment + SexParent + offset(log(BroodSize)) + (1 | Nest)";

fn reference(name: &str) -> Value {
    let path = format!("tests/reference/zi/{name}.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// One coefficient table of our JSON against glmmTMB's estimates and standard errors.
fn check_rows(rows: &Value, names: &Value, est: &Value, se: &Value) {
    let rows = rows.as_array().unwrap();
    let est = nums(est);
    let se = nums(se);
    assert_eq!(rows.len(), est.len());
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row["term"].as_str().unwrap(), names[k].as_str().unwrap());
        let e = row["estimate"].as_f64().unwrap();
        let s = row["std_error"].as_f64().unwrap();
        assert!((e - est[k]).abs() < 2e-2 * se[k], "{k}: {e} vs {}", est[k]);
        assert!((s / se[k] - 1.0).abs() < 2e-2, "se {k}: {s} vs {}", se[k]);
    }
}

/// The JSON fit against a glmmTMB reference, at issue 18's tolerances.
fn check_json(v: &Value, r: &Value) {
    let ll = r["loglik"].as_f64().unwrap();
    let ours = v["loglik"].as_f64().unwrap();
    assert!((ours - ll).abs() < 1e-4, "logLik {ours} vs glmmTMB {ll}");
    check_rows(&v["fixed"], &r["beta_names"], &r["beta"], &r["se"]);
    check_rows(&v["zi_fixed"], &r["zi_names"], &r["zi_beta"], &r["zi_se"]);
    assert_eq!(v["npar"].as_u64().unwrap(), r["npar"].as_u64().unwrap());
    if let Some(th) = r["nb_theta"].as_f64() {
        // NB2's θ or NB1's φ.
        let key = if r["family"].as_str().unwrap() == "nbinom1" {
            "phi"
        } else {
            "theta"
        };
        let t = &v["family_parameters"][key];
        let e = t["estimate"].as_f64().unwrap();
        let s = t["std_error"].as_f64().unwrap();
        let s_ref = r["nb_theta_se"].as_f64().unwrap();
        assert!((e / th - 1.0).abs() < 1e-3, "theta {e} vs {th}");
        assert!((s / s_ref - 1.0).abs() < 2e-2, "theta se {s} vs {s_ref}");
    }
}

#[test]
fn owls_zero_inflated_poisson_matches_glmmtmb_in_text_and_json() {
    let r = reference("owls_zip");
    let args = [
        "fit", "--data", OWLS, "--factor", "Nest", "--family", "poisson", "--zi", "~1",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json", OWLS_FORMULA]);
    let json = run(&json_args);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    check_json(&v, &r);
    let mut text_args = args.to_vec();
    text_args.push(OWLS_FORMULA);
    let text = run(&text_args);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let out = &text.stdout;
    assert!(out.starts_with(" Family: poisson  ( log )"), "{out}");
    let cond = out.find("Conditional model:\n ").unwrap();
    let zi = out.find("Zero-inflation model:").unwrap();
    assert!(cond < zi, "{out}");
    assert!(out[zi..].contains("(Intercept)"), "{out}");
    // glmmTMB prints logLik -2041 (4 significant digits).
    assert!(out.contains("-2041"), "{out}");
}

#[test]
fn simulated_zero_inflated_nb2_with_a_zi_covariate_matches_glmmtmb() {
    let r = reference("zi_counts_zinb2");
    let json = run(&[
        "fit",
        "--data",
        "tests/data/zi_counts.csv",
        "--factor",
        "site",
        "--family",
        "negative_binomial",
        "--zi",
        "~ z",
        "--format",
        "json",
        "y ~ x + (1 | site)",
    ]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    check_json(&v, &r);
    assert_eq!(v["count_model"].as_str().unwrap(), "nbinom2");
    let sd = v["random"][0]["std_dev"].as_f64().unwrap();
    let sd_ref = r["re_sd"][0].as_f64().unwrap();
    assert!((sd - sd_ref).abs() < 1e-2 * sd_ref, "{sd} vs {sd_ref}");
}

#[test]
fn bad_zero_inflation_input_gets_one_clear_line() {
    // A family without zero-inflation.
    let out = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "binomial",
        "--zi",
        "~1",
        "SiblingNegotiation ~ FoodTreatment + (1 | Nest)",
    ]);
    assert_ne!(out.code, Some(0));
    let err = out.stderr.trim();
    assert!(err.contains("no zero-inflation"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // A zero-inflation formula that is not one-sided.
    let out = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "poisson",
        "--zi",
        "y ~ 1",
        "SiblingNegotiation ~ FoodTreatment + (1 | Nest)",
    ]);
    assert_ne!(out.code, Some(0));
    let err = out.stderr.trim();
    assert!(err.contains("one-sided"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // A response that is not a count.
    let out = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "poisson",
        "--zi",
        "~1",
        "ArrivalTime ~ FoodTreatment + (1 | Nest)",
    ]);
    assert_ne!(out.code, Some(0));
    let err = out.stderr.trim();
    assert!(err.contains("non-negative whole numbers"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn owls_nb1_without_zero_inflation_matches_glmmtmb_nbinom1() {
    let r = reference("owls_nb1");
    let json = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "negative_binomial1",
        "--format",
        "json",
        OWLS_FORMULA,
    ]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    check_json(&v, &r);
    assert_eq!(v["count_model"].as_str().unwrap(), "nbinom1");
    assert!(v["zi_fixed"].as_array().unwrap().is_empty());
    let text = run(&[
        "fit",
        "--data",
        OWLS,
        "--factor",
        "Nest",
        "--family",
        "negative_binomial1",
        OWLS_FORMULA,
    ]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(
        text.stdout
            .contains("Dispersion parameter for nbinom1 family ()"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("Zero-inflation model"),
        "{}",
        text.stdout
    );
}
