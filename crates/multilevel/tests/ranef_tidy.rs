//! Conditional modes with conditional standard deviations against lme4's
//! `ranef(fit, condVar = TRUE)` (`tests/reference/ranef/*.json`, written by
//! `xtask/r/reference_ranef.R`), in broom.mixed's row order: conditional standard deviations
//! 1e-4 relative, modes 1e-5 of the largest mode of the same term (a mode near zero carries the
//! absolute error of the others, from θ̂ agreeing with lme4's to about 1e-6).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel::{FitOptions, MixedModel, dataset, lmer};
use serde_json::Value;

fn check(name: &str) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../tests/reference/ranef/{name}.json"));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let data = dataset(r["data"]["dataset"].as_str().unwrap()).unwrap();
    let m = lmer(
        r["formula"].as_str().unwrap(),
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let rows = m.ranef_tidy();
    let n = r["estimate"].as_array().unwrap().len();
    assert_eq!(rows.len(), n, "{name}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.group, r["group"][i].as_str().unwrap(), "{name} row {i}");
        assert_eq!(row.level, r["level"][i].as_str().unwrap(), "{name} row {i}");
        assert_eq!(row.term, r["term"][i].as_str().unwrap(), "{name} row {i}");
        let (e, s) = (
            r["estimate"][i].as_f64().unwrap(),
            r["std_error"][i].as_f64().unwrap(),
        );
        let scale = (0..n)
            .filter(|&j| r["group"][j] == r["group"][i] && r["term"][j] == r["term"][i])
            .map(|j| r["estimate"][j].as_f64().unwrap().abs())
            .fold(0.0, f64::max);
        assert!(
            (row.estimate - e).abs() <= 1e-5 * scale,
            "{name} row {i}: {} vs {e}",
            row.estimate
        );
        let ours = row.std_error.unwrap();
        assert!(
            (ours - s).abs() <= 1e-4 * s,
            "{name} row {i} sd: {ours} vs {s}"
        );
    }
}

#[test]
fn sleepstudy_intercept_and_slope() {
    check("sleepstudy_slope");
}

#[test]
fn penicillin_two_crossed_terms() {
    check("penicillin_crossed");
}
