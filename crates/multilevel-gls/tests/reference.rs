//! A fast check against nlme's `gls` (a subset of `tests/reference/gls/gls.json`, written by
//! `xtask/r/reference_gls.R`) and `lme` with a residual structure (a subset of
//! `tests/reference/gls/lme.json`, `xtask/r/reference_lme_residual.R`); `cargo xtask validate`
//! checks every case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_frame::{DataFrame, ReadOptions};
use multilevel_gls::{GlsOptions, ResidualStructure, VarianceFunction, gls};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn case(name: &str) -> Value {
    let file = if name.contains("_ri_") || name.contains("_rs_") || name.starts_with("chick_") {
        "lme.json"
    } else {
        "gls.json"
    };
    let text = std::fs::read_to_string(root().join("tests/reference/gls").join(file)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}

fn check(name: &str) {
    let c = case(name);
    let data = DataFrame::read_csv(
        &root().join(c["data"].as_str().unwrap()),
        &ReadOptions::default(),
    )
    .unwrap();
    let opts = GlsOptions {
        residual: c["residual"]
            .as_str()
            .map(|s| ResidualStructure::parse(s).unwrap()),
        variance: c["residual_variance"]
            .as_str()
            .map(|s| VarianceFunction::parse(s).unwrap()),
        reml: c["reml"].as_bool().unwrap(),
        ..GlsOptions::default()
    };
    let fit = gls(c["formula"].as_str().unwrap(), &data, &opts).unwrap();
    let want_ll = c["logLik"].as_f64().unwrap();
    // logLik to 1e-6 relative, or ours higher.
    assert!(
        fit.loglik - want_ll > -1e-6 * want_ll.abs(),
        "{name}: logLik {} vs {want_ll}",
        fit.loglik
    );
    // nlme's vcov uses RSS/(N − p) under ML too; ours (lme4's and mmrm's) the ML RSS/N.
    let (n, p) = (
        fit.counts.observations as f64,
        fit.coefficients.len() as f64,
    );
    // nlme's lme uses the ML σ under ML (lme4's convention); only gls needs the scaling.
    let lme = c["random"].is_array();
    let se_scale = if fit.reml || lme {
        1.0
    } else {
        ((n - p) / n).sqrt()
    };
    for coef in &fit.coefficients {
        let b = c["beta"][&coef.name].as_f64().unwrap();
        let se = c["se"][&coef.name].as_f64().unwrap() * se_scale;
        assert!(
            (coef.estimate - b).abs() <= 1e-3 * se,
            "{name}: β {} {} vs {b}",
            coef.name,
            coef.estimate
        );
        assert!(
            (coef.std_error - se).abs() <= 2e-3 * se,
            "{name}: SE {} {} vs {se}",
            coef.name,
            coef.std_error
        );
    }
    // Satterthwaite df of the cs fits: lmerTest's on the equivalent random-intercept model.
    if let Some(dfs) = c["satterthwaite_df"].as_object() {
        for coef in &fit.coefficients {
            let want = dfs[&coef.name].as_f64().unwrap();
            let got = coef.df.unwrap();
            assert!(
                (got - want).abs() <= 1e-3 * want,
                "{name}: df {} {got} vs {want}",
                coef.name
            );
        }
    }
    let sigma = c["sigma"].as_f64().unwrap();
    assert!((fit.sigma - sigma).abs() <= 1e-3 * sigma, "{name}: σ");
    if let Some(rows) = c["cor_matrix"].as_array() {
        let cm = &fit.correlation.as_ref().unwrap().matrix;
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.as_array().unwrap().iter().enumerate() {
                let want = v.as_f64().unwrap();
                assert!(
                    (cm[i][j] - want).abs() <= 1e-3,
                    "{name}: cor[{i}][{j}] {} vs {want}",
                    cm[i][j]
                );
            }
        }
    }
    for re in c["random"].as_array().into_iter().flatten() {
        let want = re["sd"].as_f64().unwrap();
        let got = fit
            .random
            .iter()
            .find(|r| r.group == re["group"] && r.name == re["name"])
            .unwrap()
            .sd;
        // A variance on its boundary: nlme's log-SD parametrisation stops short of 0 (an SD
        // below 1% of σ); then ours must be below that too.
        let boundary = want < 1e-2 * sigma;
        assert!(
            (got - want).abs() <= 1e-3 * want || (boundary && got < 1e-2 * sigma),
            "{name}: random SD {} {got} vs {want}",
            re["name"]
        );
    }
    if lme {
        assert_eq!(fit.n_parameters as f64, c["df"].as_f64().unwrap(), "{name}");
    }
    if let Some(sds) = c["level_sd"].as_object() {
        let ours = if fit.level_sd.is_empty() {
            &fit.visit_sd
        } else {
            &fit.level_sd
        };
        for (level, v) in sds {
            let want = v.as_f64().unwrap();
            let got = ours.iter().find(|n| &n.name == level).unwrap().value;
            assert!(
                (got - want).abs() <= 1e-3 * want,
                "{name}: sd {level} {got} vs {want}"
            );
        }
    }
}

#[test]
fn orthodont_compound_symmetry_reml_and_ml() {
    check("orthodont_cs_reml");
    check("orthodont_cs_ml");
}

#[test]
fn orthodont_unstructured_reml() {
    check("orthodont_us_reml");
}

#[test]
fn bodyweight_ar1_with_per_diet_variances_ml() {
    check("bodyweight_ar1_ident_ml");
}

#[test]
fn trial_unstructured_mmrm_reml() {
    check("trial_us_reml");
}

#[test]
fn bodyweight_compound_symmetry_satterthwaite_df_reml() {
    check("bodyweight_cs_reml");
}

#[test]
fn bodyweight_random_intercept_and_ar1_residuals_reml() {
    check("bodyweight_ri_ar1_reml");
}

#[test]
fn bodyweight_random_slope_and_ar1_residuals_ml() {
    check("bodyweight_rs_ar1_ml");
}

#[test]
fn orthodont_random_intercept_and_per_sex_variances_ml() {
    check("orthodont_ri_ident_ml");
}

#[test]
fn chickweight_diet_intercept_and_compound_symmetry_within_chicks_reml() {
    check("chick_diet_cs_reml");
}
