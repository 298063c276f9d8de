//! Snapshots of every renderer on real fits of the embedded data sets (`multilevel::lmer`).
//!
//! Text and markdown already round as lme4 prints. JSON numbers are rounded here to 4 significant
//! digits (and values below 1e-7 in magnitude set to 0): the optimum is only determined to about
//! 1e-6 relative (lme4's own optimiser agrees with ours to ~5e-5), so more digits would record the
//! optimiser's path rather than the model; the JSON values themselves are checked against lme4 in
//! `tests/lmm_reference.rs`. The optimiser's evaluation count and message are redacted likewise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel::{FitOptions, FitResult};
use multilevel_report::{JsonRenderer, MarkdownRenderer, TextRenderer, to_json_value};
use serde_json::Value;

fn fit(dataset: &str, formula: &str, reml: bool) -> FitResult {
    let data = multilevel::dataset(dataset).expect("embedded data set loads");
    let opts = FitOptions {
        reml,
        ..FitOptions::default()
    };
    multilevel::lmer(formula, &data, &opts)
        .expect("the model fits")
        .into_summary()
}

/// Rounds a number to 4 significant digits; magnitudes below 1e-7 become 0.
fn round4(x: f64) -> f64 {
    if x.abs() < 1e-7 {
        return 0.0;
    }
    let s = format!("{x:.3e}");
    s.parse().unwrap_or(x)
}

fn round_json(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                *v = serde_json::json!(round4(x));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(round_json),
        Value::Object(o) => o.values_mut().for_each(round_json),
        _ => {}
    }
}

fn stable_json(fit: &FitResult) -> Value {
    let mut v = to_json_value(fit);
    round_json(&mut v);
    if let Some(o) = v.get_mut("optimizer").and_then(Value::as_object_mut) {
        o.insert("evaluations".into(), "[evaluations]".into());
        o.insert("message".into(), "[message]".into());
    }
    v
}

fn check_all(name: &str, fit: &FitResult) {
    insta::assert_snapshot!(format!("{name}_text"), TextRenderer.render(fit));
    insta::assert_snapshot!(format!("{name}_markdown"), MarkdownRenderer.render(fit));
    insta::assert_json_snapshot!(format!("{name}_json"), stable_json(fit));
    // The JSON renderer's string parses to the same value (up to the last bits of the floats,
    // which serde_json's default parser does not round-trip exactly).
    let mut parsed: Value = serde_json::from_str(&JsonRenderer.render(fit)).unwrap();
    round_json(&mut parsed);
    let mut direct = to_json_value(fit);
    round_json(&mut direct);
    assert_eq!(parsed, direct);
}

#[test]
fn sleepstudy_slope_reml() {
    let f = fit("sleepstudy", "Reaction ~ Days + (Days | Subject)", true);
    let text = TextRenderer.render(&f);
    assert!(text.contains("REML criterion at convergence: 1743.6"));
    check_all("sleepstudy_slope_reml", &f);
}

#[test]
fn sleepstudy_slope_ml() {
    let f = fit("sleepstudy", "Reaction ~ Days + (Days | Subject)", false);
    assert!(
        TextRenderer
            .render(&f)
            .contains("  1763.9   1783.1   -876.0   1751.9      174")
    );
    check_all("sleepstudy_slope_ml", &f);
}

#[test]
fn penicillin_crossed() {
    let f = fit(
        "Penicillin",
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
        true,
    );
    check_all("penicillin_crossed", &f);
}

#[test]
fn dyestuff2_singular() {
    let f = fit("Dyestuff2", "Yield ~ 1 + (1 | Batch)", true);
    assert!(f.singular);
    let text = TextRenderer.render(&f);
    assert!(text.contains("Warnings:"));
    assert!(text.contains("Intraclass correlation (ICC, Batch): 0"));
    check_all("dyestuff2_singular", &f);
}

#[test]
fn pastes_nested() {
    let f = fit("Pastes", "strength ~ 1 + (1 | batch/cask)", true);
    check_all("pastes_nested", &f);
}

/// lmerTest's `summary()`: the fit with Satterthwaite df and p-values, the method named in the
/// title. (JSON is left out: its p-values would carry the last digits of the numerical
/// derivatives; `tests/cli.rs` compares them with lmerTest instead.)
#[test]
fn sleepstudy_slope_reml_satterthwaite() {
    let data = multilevel::dataset("sleepstudy").expect("embedded data set loads");
    let f = multilevel::lmer_with_df(
        "Reaction ~ Days + (Days | Subject)",
        &data,
        &FitOptions::default(),
        multilevel::Ddf::Satterthwaite,
    )
    .expect("the model fits");
    let opts = multilevel_report::RenderOptions {
        df_method: Some("Satterthwaite".into()),
        ..Default::default()
    };
    let text = TextRenderer.render_with(&f, &opts);
    assert!(text.starts_with(
        "Linear mixed model fit by REML. t-tests use Satterthwaite's method ['lmerModLmerTest']\n"
    ));
    insta::assert_snapshot!("sleepstudy_slope_reml_satterthwaite_text", text);
    insta::assert_snapshot!(
        "sleepstudy_slope_reml_satterthwaite_markdown",
        MarkdownRenderer.render_with(&f, &opts)
    );
}

/// glmer's `summary()` layout: Laplace fit of the cbpp binomial model.
#[test]
fn cbpp_binomial_laplace() {
    let data = multilevel::dataset("cbpp").expect("embedded data set loads");
    let f = multilevel::glmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        &data,
        multilevel::Family::Binomial,
        &multilevel::GlmerOptions::default(),
    )
    .expect("the model fits");
    let text = TextRenderer.render(&f);
    assert!(text.contains("(Laplace Approximation)"));
    assert!(text.contains("    194.1     204.2     -92.0     184.1        51"));
    check_all("cbpp_binomial_laplace", &f);
}
