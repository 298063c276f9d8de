//! The Kenward–Roger coefficient table of a fitted model against lmerTest's
//! `summary(fit, ddf = "Kenward-Roger")` (`tests/reference/kr_summary/*.json`, written by
//! `xtask/r/reference_kr_summary.R`): standard errors from pbkrtest's adjusted covariance Φ_A,
//! t = β̂/se, Kenward–Roger df and the p-value of t on those df. The data are unbalanced row
//! subsets, so Φ_A differs from `vcov(β̂)` and the test tells adjusted from unadjusted errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel::inference::KenwardRoger;
use multilevel::{Ddf, FitOptions, MixedModel, inference, lmer, prepare_lmm};
use serde_json::Value;

const NAMES: [&str; 3] = [
    "sleepstudy_unbalanced",
    "machines_unbalanced",
    "oats_unbalanced",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference(name: &str) -> Value {
    let p = root().join(format!("tests/reference/kr_summary/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn data(r: &Value) -> multilevel::DataFrame {
    let factors: Vec<String> = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    multilevel::read_csv(&root().join(r["data"]["csv"].as_str().unwrap()), &factors).unwrap()
}

/// Compare a coefficient table with lmerTest's at the given tolerances (se, t; df; p).
fn check(name: &str, fit: &multilevel::FitResult, r: &Value, tol: (f64, f64, f64)) {
    let kr = &r["kenward_roger"];
    let names: Vec<&str> = kr["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    let terms: Vec<&str> = fit.fixed.iter().map(|f| f.term.as_str()).collect();
    assert_eq!(terms, names, "{name}: coefficient names");
    let (est, se, df, t, p) = (
        nums(&kr["estimate"]),
        nums(&kr["se"]),
        nums(&kr["df"]),
        nums(&kr["t"]),
        nums(&kr["p"]),
    );
    for (i, fe) in fit.fixed.iter().enumerate() {
        let what = format!("{name} {}", fe.term);
        assert!(rel(fe.estimate, est[i]) < tol.0, "{what}: estimate");
        assert!(
            rel(fe.std_error, se[i]) < tol.0,
            "{what}: se ours {} lmerTest {}",
            fe.std_error,
            se[i]
        );
        assert!(
            rel(fe.statistic, t[i]) < tol.0,
            "{what}: t ours {} lmerTest {}",
            fe.statistic,
            t[i]
        );
        let ours_df = fe.df.unwrap();
        assert!(
            rel(ours_df, df[i]) < tol.1,
            "{what}: df ours {ours_df} lmerTest {}",
            df[i]
        );
        let ours_p = fe.p_value.unwrap();
        assert!(
            rel(ours_p, p[i]) < tol.2,
            "{what}: p ours {ours_p} lmerTest {}",
            p[i]
        );
    }
}

/// At lme4's θ̂ only the Kenward–Roger computations differ: tight tolerances. The adjusted
/// errors must be the ones lmerTest prints, not `√vcov(β̂)ᵢᵢ` (the references are chosen so
/// that the two differ by more than the tolerance for at least one coefficient per model).
#[test]
fn kenward_roger_summary_at_lme4_theta_uses_the_adjusted_covariance() {
    for name in NAMES {
        let r = reference(name);
        let model = prepare_lmm(
            r["formula"].as_str().unwrap(),
            &data(&r),
            &FitOptions::default(),
        )
        .unwrap();
        let mut fitted = inference::FittedLmm::at_theta(model, &nums(&r["theta"])).unwrap();
        let mut fit = fitted.fit_result().clone();
        inference::add_df(&mut fitted, &mut fit, &KenwardRoger).unwrap();
        check(name, &fit, &r, (1e-6, 1e-5, 1e-5));
        let unadjusted = nums(&r["unadjusted_se"]);
        let se = nums(&r["kenward_roger"]["se"]);
        let widest = se
            .iter()
            .zip(&unadjusted)
            .map(|(a, u)| rel(*a, *u))
            .fold(0.0, f64::max);
        assert!(
            widest > 1e-5,
            "{name}: the reference does not show the adjustment"
        );
        // vcov stays the unadjusted covariance (lmerTest's vcov(fit)).
        let p = fit.fixed.len();
        for (i, u) in unadjusted.iter().enumerate() {
            assert!(rel(fit.vcov[i * p + i].sqrt(), *u) < 1e-6, "{name}: vcov");
        }
    }
}

/// The fitted object's `summary_with_df(Ddf::KenwardRoger)`, from our own optimum: the fit's
/// agreement with lme4 (θ̂ within ~1e-5) bounds the tolerances.
#[test]
fn summary_with_kenward_roger_df_matches_lmertest() {
    for name in NAMES {
        let r = reference(name);
        let mut m = lmer(
            r["formula"].as_str().unwrap(),
            &data(&r),
            &FitOptions::default(),
        )
        .unwrap();
        let fit = m.summary_with_df(Ddf::KenwardRoger).unwrap();
        check(name, &fit, &r, (1e-4, 5e-3, 1e-3));
        assert_eq!(fit.vcov, m.vcov());
    }
}
