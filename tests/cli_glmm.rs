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

/// The command-line arguments that load a reference's data.
fn data_args(r: &Value) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(d) = r["data"]["dataset"].as_str() {
        v.extend(["--dataset".to_string(), d.to_string()]);
    } else {
        v.extend([
            "--data".to_string(),
            r["data"]["csv"].as_str().unwrap().to_string(),
        ]);
        for f in r["factors"].as_array().unwrap() {
            v.extend(["--factor".to_string(), f.as_str().unwrap().to_string()]);
        }
    }
    v
}

fn nums(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// `compare`, `anova` and `confint` with `--family` against `anova(m1, m2)`,
/// `car::Anova(fit, type = 3)` and `confint(fit, method = "Wald")` (written by
/// `xtask/r/reference_glmm_inference.R`): log-likelihoods, AIC, BIC, deviance within 1e-4
/// absolute (2e-4 for the sums), χ² of the LRT within 2e-4 absolute, Wald χ² on the scale of
/// √χ² (= |β/se| for one df) within 2e-2 + 2e-2·√χ² (what β within 2e-2 se and se within 2e-2
/// relative allow), p-values within 2e-2 relative, Wald limits within 2e-2 standard errors.
#[test]
fn glmm_compare_anova_and_confint_match_r() {
    let dir = std::path::Path::new("tests/reference/glmm_inference");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    for path in files {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = r["name"].as_str().unwrap();
        let kind = r["kind"].as_str().unwrap();
        let mut args: Vec<String> = vec![kind.to_string()];
        args.extend(data_args(&r));
        args.extend([
            "--family".to_string(),
            r["family"].as_str().unwrap().to_string(),
            "--format".to_string(),
            "json".to_string(),
        ]);
        for f in r["formulas"].as_array().unwrap() {
            args.push(f.as_str().unwrap().to_string());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&argv);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        match kind {
            "compare" => {
                let models = v["models"].as_array().unwrap();
                let field = |k: &str| -> Vec<Option<f64>> {
                    models.iter().map(|m| m[k].as_f64()).collect()
                };
                for (ours, theirs, tol) in [
                    ("loglik", "loglik", 1e-4),
                    ("aic", "aic", 2e-4),
                    ("bic", "bic", 2e-4),
                    ("deviance", "deviance", 2e-4),
                    ("chisq", "chisq", 2e-4),
                    ("npar", "npar", 0.0),
                    ("df", "df", 0.0),
                ] {
                    for (a, b) in field(ours).iter().zip(nums(&r[theirs])) {
                        match (a, b) {
                            (Some(a), Some(b)) => {
                                assert!((a - b).abs() <= tol, "{name}: {ours} {a} vs {b}")
                            }
                            (None, None) => {}
                            _ => panic!("{name}: {ours} {a:?} vs {b:?}"),
                        }
                    }
                }
                for (a, b) in field("p_value").iter().zip(nums(&r["p_value"])) {
                    if let (Some(a), Some(b)) = (a, b) {
                        assert!((a / b - 1.0).abs() < 2e-2, "{name}: p {a} vs {b}");
                    }
                }
            }
            "anova" => {
                let rows = v["rows"].as_array().unwrap();
                let terms: Vec<&str> = rows.iter().map(|x| x["term"].as_str().unwrap()).collect();
                let rterms: Vec<&str> = r["terms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap())
                    .collect();
                assert_eq!(terms, rterms, "{name}");
                for (i, row) in rows.iter().enumerate() {
                    let c = row["chisq"].as_f64().unwrap();
                    let rc = r["chisq"][i].as_f64().unwrap();
                    // On the scale of z = β/se (χ² = z² for one df): β within 2e-2 se and se
                    // within 2e-2 relative move z by at most 2e-2 + 2e-2·z.
                    let (z, rz) = (c.sqrt(), rc.sqrt());
                    assert!(
                        (z - rz).abs() <= 2e-2 + 2e-2 * rz,
                        "{name}: {} chisq {c} vs {rc}",
                        terms[i]
                    );
                    assert_eq!(row["df"].as_f64(), r["df"][i].as_f64(), "{name}: df");
                    let p = row["p_value"].as_f64().unwrap();
                    let rp = r["p_value"][i].as_f64().unwrap();
                    assert!(
                        (p / rp - 1.0).abs() < 2e-2,
                        "{name}: {} p {p} vs {rp}",
                        terms[i]
                    );
                }
            }
            "confint" => {
                let rows = v["intervals"].as_array().unwrap();
                assert_eq!(rows.len(), r["terms"].as_array().unwrap().len(), "{name}");
                for (i, row) in rows.iter().enumerate() {
                    assert_eq!(row["parameter"], r["terms"][i], "{name}");
                    let (lo, hi) = (
                        r["lower"][i].as_f64().unwrap(),
                        r["upper"][i].as_f64().unwrap(),
                    );
                    let se = (hi - lo) / (2.0 * 1.959_963_984_540_054);
                    for (k, rv) in [("lower", lo), ("upper", hi)] {
                        let a = row[k].as_f64().unwrap();
                        assert!((a - rv).abs() < 2e-2 * se, "{name}: {k} {a} vs {rv}");
                    }
                }
            }
            other => panic!("unknown kind {other}"),
        }
    }
}

#[test]
fn glmm_commands_refuse_what_they_cannot_do_in_one_line() {
    let c = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    let r = run(&[
        "confint",
        "--dataset",
        "cbpp",
        "--family",
        "binomial",
        "--method",
        "profile",
        "--nagq",
        "0",
        c,
    ]);
    assert_error(&r, &["--method profile", "--nagq 0", "--method wald"]);
    let r = run(&[
        "plot",
        "--dataset",
        "cbpp",
        "--family",
        "binomial",
        "--kind",
        "groups",
        "-o",
        "x.svg",
        c,
    ]);
    assert_error(&r, &["groups", "caterpillar"]);
    let r = run(&[
        "anova",
        "--dataset",
        "sleepstudy",
        "--nagq",
        "3",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert_error(&r, &["--nagq 3", "--family"]);
}

#[test]
fn glmm_caterpillar_and_residual_figures_are_written() {
    let dir = temp_dir("glmm_plot");
    let c = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    for kind in ["caterpillar", "residuals"] {
        let out = dir.join(format!("{kind}.svg"));
        let o = out.to_string_lossy().into_owned();
        let r = run(&[
            "plot",
            "--dataset",
            "cbpp",
            "--family",
            "binomial",
            "--kind",
            kind,
            "-o",
            &o,
            c,
        ]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{kind}");
        // One point or label per herd (15 herds) in the caterpillar figure.
        if kind == "caterpillar" {
            assert!(svg.matches("<circle").count() >= 15, "{kind}");
        }
    }
}
