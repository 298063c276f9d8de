//! The workflow on mlmRev's Hsb82 (mAch ~ ses by school) against R: lme4 for the empty and
//! mixed models, plm for within/between, sandwich::vcovCL(type = "HC1") for CR1
//! (reference from xtask/r/reference_workflow.R).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_frame::{DataFrame, ReadOptions};
use multilevel_workflow::{Estimator, ExploreOptions, ExploreReport, explore};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(root().join("tests/reference/workflow/hsb82.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report() -> &'static ExploreReport {
    static R: OnceLock<ExploreReport> = OnceLock::new();
    R.get_or_init(|| {
        let data = DataFrame::read_csv(
            &root().join("tests/data/hsb82.csv"),
            &ReadOptions::default(),
        )
        .unwrap();
        explore(
            &data,
            "mAch",
            &["ses".to_string()],
            &["school".to_string()],
            &ExploreOptions::default(),
        )
        .unwrap()
    })
}

fn close(ours: f64, theirs: f64, rel: f64, what: &str) {
    let err = (ours - theirs).abs() / theirs.abs().max(1e-12);
    assert!(
        err < rel,
        "{what}: ours {ours}, R {theirs}, relative error {err:e}"
    );
}

fn rows(method: Estimator) -> Vec<&'static multilevel_workflow::EstimatorRow> {
    report()
        .estimators
        .iter()
        .filter(|r| r.method == method)
        .collect()
}

fn compare_block(method: Estimator, key: &str, rel: f64) {
    let r = reference();
    let block = &r[key];
    let ours = rows(method);
    let terms = block["term"].as_array().unwrap();
    assert_eq!(ours.len(), terms.len(), "{key}: number of coefficients");
    for (i, row) in ours.iter().enumerate() {
        assert_eq!(row.term, terms[i].as_str().unwrap(), "{key} term {i}");
        let est = block["estimate"][i].as_f64().unwrap();
        let se = block["std_error"][i].as_f64().unwrap();
        close(
            row.estimate,
            est,
            rel,
            &format!("{key} {} estimate", row.term),
        );
        close(row.std_error, se, rel, &format!("{key} {} SE", row.term));
        match block.get("robust_std_error") {
            Some(rse) => close(
                row.robust_std_error.unwrap(),
                rse[i].as_f64().unwrap(),
                rel,
                &format!("{key} {} CR1 SE", row.term),
            ),
            None => assert!(row.robust_std_error.is_none()),
        }
    }
}

#[test]
fn empty_model_icc_and_design_effect_match_lme4() {
    let r = reference();
    let e = &r["empty"];
    let g = &report().groups[0];
    assert_eq!(g.name, "school");
    assert_eq!(g.levels as u64, e["levels"].as_u64().unwrap());
    assert_eq!(report().nobs as u64, e["n"].as_u64().unwrap());
    assert_eq!(g.min_size as u64, e["min_size"].as_u64().unwrap());
    assert_eq!(g.max_size as u64, e["max_size"].as_u64().unwrap());
    close(
        g.mean_size,
        e["mean_size"].as_f64().unwrap(),
        1e-12,
        "mean size",
    );
    close(
        g.between_variance,
        e["tau2"].as_f64().unwrap(),
        1e-4,
        "tau2",
    );
    close(
        g.within_variance,
        e["sigma2"].as_f64().unwrap(),
        1e-4,
        "sigma2",
    );
    close(g.icc, e["icc"].as_f64().unwrap(), 1e-4, "ICC");
    close(
        g.icc,
        e["icc_performance"].as_f64().unwrap(),
        1e-4,
        "ICC (performance::icc)",
    );
    close(
        g.design_effect,
        e["design_effect"].as_f64().unwrap(),
        1e-4,
        "deff",
    );
    close(
        g.effective_n,
        e["effective_n"].as_f64().unwrap(),
        1e-4,
        "effective n",
    );
    close(
        g.sqrt_design_effect * g.sqrt_design_effect,
        g.design_effect,
        1e-12,
        "sqrt deff",
    );
    // The bootstrap interval brackets the estimate and is plausibly narrow for 160 schools.
    let [lo, hi] = g.icc_ci.unwrap();
    assert!(
        lo < g.icc && g.icc < hi,
        "ICC {} outside [{lo}, {hi}]",
        g.icc
    );
    assert!(lo > 0.10 && hi < 0.27, "ICC interval [{lo}, {hi}]");
}

#[test]
fn least_squares_estimators_match_lm_plm_and_sandwich() {
    compare_block(Estimator::Ols, "ols", 1e-6);
    compare_block(Estimator::Between, "between", 1e-6);
    compare_block(Estimator::Within, "within", 1e-6);
}

#[test]
fn mixed_models_match_lmer_reml() {
    // plm's "random" is Swamy–Arora GLS, not REML: the reference for our REML row is lmer.
    compare_block(Estimator::Random, "random", 1e-4);
    compare_block(Estimator::Hybrid, "hybrid", 1e-4);
    // Mundlak: the hybrid within slope equals the fixed-effects slope.
    let w = rows(Estimator::Within)[0].estimate;
    let h = rows(Estimator::Hybrid)[1].estimate;
    close(h, w, 1e-8, "hybrid within slope = within slope");
}

#[test]
fn hausman_matches_the_reml_based_statistic() {
    let r = reference();
    let h = report().hausman.as_ref().unwrap();
    close(
        h.statistic,
        r["hausman"]["statistic"].as_f64().unwrap(),
        1e-3,
        "Hausman H",
    );
    assert_eq!(h.df as u64, r["hausman"]["df"].as_u64().unwrap());
    assert!(h.note.is_none());
    assert!(h.p_value < 0.05);
    assert!(h.conclusion.contains("use within or the hybrid model"));
    // plm's phtest uses the Swamy–Arora random effects: same conclusion, different H.
    assert!(r["hausman_plm"]["p_value"].as_f64().unwrap() < 0.05);
}

#[test]
fn swamy_arora_hausman_reproduces_plm_phtest() {
    // plm::phtest(within, random) with plm's default random.method = "swar": H = 112.195.
    let r = reference();
    let data = DataFrame::read_csv(
        &root().join("tests/data/hsb82.csv"),
        &ReadOptions::default(),
    )
    .unwrap();
    let rep = explore(
        &data,
        "mAch",
        &["ses".to_string()],
        &["school".to_string()],
        &ExploreOptions {
            bootstrap: 0,
            re_estimator: multilevel_workflow::ReEstimator::SwamyArora,
            ..ExploreOptions::default()
        },
    )
    .unwrap();
    let h = rep.hausman.as_ref().unwrap();
    close(
        h.statistic,
        r["hausman_plm"]["statistic"].as_f64().unwrap(),
        1e-6,
        "Swamy–Arora Hausman H",
    );
    assert_eq!(h.df as u64, r["hausman_plm"]["df"].as_u64().unwrap());
    assert!(
        h.re_estimator.starts_with("Swamy–Arora"),
        "{}",
        h.re_estimator
    );
    // The REML default says so too.
    assert!(
        report()
            .hausman
            .as_ref()
            .unwrap()
            .re_estimator
            .starts_with("REML")
    );
}

#[test]
fn json_has_the_documented_keys_and_renderers_show_the_tables() {
    let v = serde_json::to_value(report()).unwrap();
    for key in [
        "name",
        "levels",
        "mean_size",
        "icc",
        "icc_ci",
        "design_effect",
        "effective_n",
    ] {
        assert!(v["groups"][0].get(key).is_some(), "groups[0].{key}");
    }
    let methods: Vec<&str> = v["estimators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].as_str().unwrap())
        .collect();
    for m in ["ols", "between", "within", "random", "hybrid"] {
        assert!(methods.contains(&m), "method {m}");
    }
    assert!(v["estimators"][0]["robust_std_error"].is_f64());
    let within = v["estimators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "within")
        .unwrap();
    assert!(within["robust_std_error"].is_null());
    for key in ["statistic", "df", "p_value", "note"] {
        assert!(v["hausman"].get(key).is_some(), "hausman.{key}");
    }
    let text = multilevel_workflow::render_text(report());
    assert!(text.contains("school") && text.contains("hybrid") && text.contains("Hausman"));
    let md = multilevel_workflow::render_markdown(report());
    assert!(md.contains("| method | term |") && md.contains("|---|---|---:"));
}

#[test]
fn bad_input_gives_one_clear_error() {
    let data = DataFrame::new("d")
        .with_numeric("y", vec![1.0, 2.0, 3.0, 4.0])
        .unwrap()
        .with_strings("g", &["a", "a", "b", "b"])
        .unwrap();
    let e = explore(
        &data,
        "y",
        &["z".into()],
        &["g".into()],
        &ExploreOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`z`") && e.contains("hint"), "{e}");
    let e = explore(&data, "g", &[], &["g".into()], &ExploreOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("factor") && e.contains("hint"), "{e}");
    let e = explore(&data, "y", &[], &["g".into()], &ExploreOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 group(s)"), "{e}");
    let e = explore(&data, "y", &[], &[], &ExploreOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("grouping"), "{e}");
}
