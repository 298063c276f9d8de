//! Comparison with geepack (`geeglm`) and clubSandwich (`coef_test`) references made by
//! xtask/r/reference_marginal.R (tests/reference/marginal/*.json).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_glmm::FamilySpec;
use multilevel_marginal::{
    Clusters, CorStructure, CrType, GeeOptions, MarginalError, Setting, gee, lmm_robust, ols_robust,
};
use serde_json::Value;
use std::path::PathBuf;

fn refdir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/marginal")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(refdir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn read(rel: &str) -> DataFrame {
    DataFrame::read_csv(&refdir().join(rel), &ReadOptions::default()).unwrap()
}

fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn check(what: &str, got: f64, want: f64, tol: f64, abs_floor: f64) {
    let err = (got - want).abs();
    if std::env::var("MARGINAL_VERBOSE").is_ok() {
        eprintln!("{what}: rel err {:.2e}", rel_err(got, want));
    }
    assert!(
        err <= tol * want.abs() || err <= abs_floor,
        "{what}: got {got}, want {want} (rel err {:.3e})",
        rel_err(got, want)
    );
}

#[test]
fn gee_matches_geepack() {
    let refs = load("gee.json");
    let cases = refs["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let data = read(case["data"].as_str().unwrap());
        let opts = GeeOptions {
            family: FamilySpec::parse(case["family"].as_str().unwrap(), case["link"].as_str())
                .unwrap(),
            corstr: CorStructure::parse(case["corstr"].as_str().unwrap()).unwrap(),
            ..GeeOptions::default()
        };
        let fit = gee(
            case["formula"].as_str().unwrap(),
            &data,
            case["cluster"].as_str().unwrap(),
            &opts,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fit.nobs as u64, case["nobs"].as_u64().unwrap(), "{name}");
        assert_eq!(
            fit.clusters as u64,
            case["clusters"].as_u64().unwrap(),
            "{name}"
        );
        check(
            &format!("{name} scale"),
            fit.scale,
            case["scale"].as_f64().unwrap(),
            1e-5,
            1e-12,
        );
        match case["alpha"].as_f64() {
            Some(a) => check(
                &format!("{name} alpha"),
                fit.working_correlation.alpha.unwrap(),
                a,
                1e-5,
                1e-7,
            ),
            None => assert!(fit.working_correlation.alpha.is_none()),
        }
        let fixed = case["fixed"].as_array().unwrap();
        assert_eq!(fit.fixed.len(), fixed.len(), "{name}");
        for (got, want) in fit.fixed.iter().zip(fixed) {
            assert_eq!(got.term, want["term"].as_str().unwrap(), "{name}");
            let w = |k: &str| want[k].as_f64().unwrap();
            check(
                &format!("{name} {} estimate", got.term),
                got.estimate,
                w("estimate"),
                1e-6,
                1e-10,
            );
            check(
                &format!("{name} {} se", got.term),
                got.std_error,
                w("std_error"),
                1e-5,
                1e-12,
            );
            check(
                &format!("{name} {} wald", got.term),
                got.wald,
                w("wald"),
                1e-4,
                1e-10,
            );
            check(
                &format!("{name} {} p", got.term),
                got.p_value,
                w("p_value"),
                1e-4,
                1e-12,
            );
        }
    }
}

#[test]
fn cluster_robust_matches_clubsandwich() {
    let refs = load("cr.json");
    let cases = refs["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let data = read(case["data"].as_str().unwrap());
        let formula = case["formula"].as_str().unwrap();
        let cluster = case["cluster"].as_str().unwrap();
        for (key, ty) in [
            ("CR0", CrType::Cr0),
            ("CR1", CrType::Cr1),
            ("CR2", CrType::Cr2),
        ] {
            let res = match case["model"].as_str().unwrap() {
                "ols" => ols_robust(formula, &data, cluster, ty).unwrap(),
                _ => {
                    let parsed = multilevel_formula::parse(formula).unwrap();
                    let frame = ModelFrame::new(&parsed, &data, &FrameOptions::default()).unwrap();
                    let design = multilevel_design::build_design(&parsed, &frame).unwrap();
                    let opts = multilevel_lmm::LmmOptions {
                        cond_var: false,
                        ..Default::default()
                    };
                    let fit = multilevel_lmm::lmer(design.clone(), &opts).unwrap();
                    let clusters = Clusters::from_column(&data, cluster, &frame.rows).unwrap();
                    lmm_robust(&design, &fit, &clusters, ty).unwrap()
                }
            };
            assert_eq!(res.clusters as u64, case["clusters"].as_u64().unwrap());
            let rows = case["types"][key].as_array().unwrap();
            assert_eq!(rows.len(), res.fixed.len());
            for (got, want) in res.fixed.iter().zip(rows) {
                let w = |k: &str| want[k].as_f64().unwrap();
                let what = format!("{name} {key} {}", got.term);
                assert_eq!(got.term, want["term"].as_str().unwrap(), "{what}");
                check(
                    &format!("{what} estimate"),
                    got.estimate,
                    w("estimate"),
                    1e-6,
                    1e-10,
                );
                check(
                    &format!("{what} se"),
                    got.std_error,
                    w("std_error"),
                    1e-5,
                    1e-12,
                );
                check(&format!("{what} t"), got.statistic, w("t"), 1e-5, 1e-10);
                check(&format!("{what} df"), got.df, w("df"), 1e-4, 1e-8);
                check(&format!("{what} p"), got.p_value, w("p_value"), 1e-4, 1e-12);
            }
        }
    }
}

/// Errors that another setting may avoid say so in the library's words and carry the setting, so
/// that a front end can name its own option for it.
#[test]
fn setting_errors_name_the_setting() {
    let data = read("dietox.csv");
    let opts = GeeOptions {
        family: FamilySpec::parse("binomial", None).unwrap(),
        ..GeeOptions::default()
    };
    let e = gee("Weight ~ Time", &data, "Pig", &opts).unwrap_err();
    assert!(
        matches!(
            &e,
            MarginalError::Setting {
                setting: Setting::Family,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("check the response `Weight`, or choose another family")
            && !text.contains("--"),
        "{text}"
    );
    let e = ols_robust("Weight ~ Time + (1 | Pig)", &data, "Pig", CrType::Cr2).unwrap_err();
    assert!(
        matches!(
            &e,
            MarginalError::Setting {
                setting: Setting::ClusterColumn,
                ..
            }
        ),
        "{e:?}"
    );
}
