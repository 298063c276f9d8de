//! Predictions for new data against lme4's `predict()` (`tests/reference/predict/*.json`,
//! written by `xtask/r/reference_predict.R`): population level (`re.form = NA`), all random
//! effects with new levels allowed, a subset of the random terms, a binomial GLMM on both
//! scales, and the fixed part's standard error. Tolerance 1e-6 relative (the fits agree with
//! lme4 to about that; predictions carry the fit's differences).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel::{
    Error, Family, FitOptions, GlmerOptions, PredictOptions, PredictScale, Prediction, ReForm,
    dataset, glmer, lmer,
};
use serde_json::Value;

const TOL: f64 = 1e-6;
/// Standard errors carry vcov(β̂), which depends on θ̂ more steeply than β̂ does (the fits
/// agree with lme4's to about 1e-5 in θ): 1e-4, the tolerance of every standard error checked
/// against lme4.
const SE_TOL: f64 = 1e-4;
/// glmer's fits (Laplace) agree with ours to about 1e-5 relative in β̂ and θ̂; predictions of
/// the GLMM carry that.
const GLMM_TOL: f64 = 1e-4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference(name: &str) -> Value {
    let p = root().join(format!("tests/reference/predict/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn opt_nums(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

fn new_data(r: &Value) -> multilevel::DataFrame {
    multilevel::read_csv(
        &root().join(r["newdata"].as_str().unwrap()),
        &strings(&r["new_factors"]),
    )
    .unwrap()
}

fn assert_close(what: &str, ours: &[Option<f64>], theirs: &[Option<f64>], tol: f64) {
    assert_eq!(ours.len(), theirs.len(), "{what}: number of rows");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() <= tol * b.abs().max(1e-8),
                "{what} row {}: ours {a} lme4 {b}",
                i + 1
            ),
            (None, None) => {}
            _ => panic!("{what} row {}: ours {a:?} lme4 {b:?}", i + 1),
        }
    }
}

fn opts(re_form: ReForm, allow_new_levels: bool, scale: PredictScale) -> PredictOptions {
    PredictOptions {
        re_form,
        allow_new_levels,
        se_fit: true,
        scale,
    }
}

fn check_lmm(name: &str) -> (Prediction, Prediction) {
    let r = reference(name);
    let data = dataset(r["data"]["dataset"].as_str().unwrap()).unwrap();
    let m = lmer(
        r["formula"].as_str().unwrap(),
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let new = new_data(&r);
    let pop = m
        .predict(&new, &opts(ReForm::None, false, PredictScale::Link))
        .unwrap();
    assert_close(
        &format!("{name} re.form = NA"),
        &pop.fit,
        &opt_nums(&r["population"]),
        TOL,
    );
    assert_close(
        &format!("{name} se"),
        pop.se_fit.as_ref().unwrap(),
        &opt_nums(&r["se_fixed_link"]),
        SE_TOL,
    );
    let all = m
        .predict(&new, &opts(ReForm::All, true, PredictScale::Link))
        .unwrap();
    assert_close(
        &format!("{name} re.form = NULL"),
        &all.fit,
        &opt_nums(&r["all_new_levels"]),
        TOL,
    );
    if let Some(partial) = r.get("partial") {
        let t = partial["re_form"].as_str().unwrap().to_string();
        let p = m
            .predict(
                &new,
                &opts(ReForm::Terms(vec![t]), true, PredictScale::Link),
            )
            .unwrap();
        assert_close(
            &format!("{name} partial"),
            &p.fit,
            &opt_nums(&partial["values"]),
            TOL,
        );
    }
    (pop, all)
}

#[test]
fn sleepstudy_predictions_match_lme4() {
    let (pop, all) = check_lmm("sleepstudy_slope");
    // Row 6 has no Days: no prediction, listed. Row 7 has no Subject: population level when
    // new levels are allowed (as lme4), and it needs no Subject at the population level.
    assert_eq!(pop.missing_rows, [5]);
    assert_eq!(all.missing_rows, [5]);
    // Row 5 (Subject 999) and row 7 (Subject missing) have no random effect.
    assert_eq!(all.n_new_levels, 2);
}

#[test]
fn transforms_use_the_training_statistics() {
    // scale(Days) with the training mean and sd, I(Days^2), log response.
    check_lmm("sleepstudy_transforms");
    // poly(temp, 2) continued to new temperatures; the grouping factor recipe:replicate
    // with a new combination.
    check_lmm("cake_poly");
}

#[test]
fn partial_re_form_matches_lme4() {
    check_lmm("penicillin_crossed");
}

#[test]
fn binomial_predictions_on_both_scales_match_lme4() {
    let r = reference("cbpp_binomial");
    let data = dataset("cbpp").unwrap();
    let m = glmer(
        r["formula"].as_str().unwrap(),
        &data,
        Family::Binomial,
        &GlmerOptions::default(),
    )
    .unwrap();
    let new = new_data(&r);
    for (scale, pop_key, all_key, se_key) in [
        (
            PredictScale::Link,
            "population",
            "all_new_levels",
            "se_fixed_link",
        ),
        (
            PredictScale::Response,
            "population_response",
            "all_new_levels_response",
            "se_fixed_response",
        ),
    ] {
        let pop = m.predict(&new, &opts(ReForm::None, false, scale)).unwrap();
        assert_close(pop_key, &pop.fit, &opt_nums(&r[pop_key]), GLMM_TOL);
        assert_close(
            se_key,
            pop.se_fit.as_ref().unwrap(),
            &opt_nums(&r[se_key]),
            SE_TOL,
        );
        let all = m.predict(&new, &opts(ReForm::All, true, scale)).unwrap();
        assert_close(all_key, &all.fit, &opt_nums(&r[all_key]), GLMM_TOL);
        // Our own β̂: the population level is exactly X β̂ (identity of the computation).
        let beta = multilevel::MixedModel::fixef(&m);
        if scale == PredictScale::Link {
            // Row 1: herd 1 in period 1, the reference level: η = β̂₀.
            assert!((pop.fit[0].unwrap() - beta[0]).abs() < 1e-12);
        }
    }
}

#[test]
fn predicting_the_training_data_gives_the_fitted_values() {
    let data = dataset("sleepstudy").unwrap();
    let m = lmer(
        "Reaction ~ Days + (Days | Subject)",
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let p = m.predict(&data, &PredictOptions::default()).unwrap();
    for (a, b) in p.fit.iter().zip(m.fitted()) {
        assert!((a.unwrap() - b).abs() < 1e-9);
    }
    assert!(p.se_fit.is_none() && p.missing_rows.is_empty());
}

#[test]
fn bad_new_data_get_one_clear_error() {
    let data = dataset("sleepstudy").unwrap();
    let m = lmer(
        "Reaction ~ Days + (Days | Subject)",
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    // A column the formula uses is missing.
    let no_days = multilevel::DataFrame::new("new.csv")
        .with_factor("Subject", vec![0], vec!["308".into()])
        .unwrap();
    let e = m.predict(&no_days, &PredictOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::NewData(_)), "{msg}");
    assert!(msg.contains("new.csv") && msg.contains("`Days`"), "{msg}");
    // An unseen level without allow_new_levels.
    let new_subject = multilevel::DataFrame::new("new.csv")
        .with_numeric("Days", vec![1.0])
        .unwrap()
        .with_factor("Subject", vec![0], vec!["999".into()])
        .unwrap();
    let e = m
        .predict(&new_subject, &PredictOptions::default())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("\"999\"") && msg.contains("`Subject`"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1);
    // A random term the model does not have.
    let e = m
        .predict(
            &data,
            &PredictOptions {
                re_form: ReForm::Terms(vec!["(1 | Days)".into()]),
                ..PredictOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("no random term (1 | Days)")
            && e.to_string().contains("(Days | Subject)"),
        "{e}"
    );
}
