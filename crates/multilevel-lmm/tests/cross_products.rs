//! A fit from the cross products of `[Z X y]` (no rows) gives the in-memory fit: the
//! objective, β̂ and θ̂ to 1e-10 relative, on a longitudinal model with a vector term
//! (sleepstudy), a crossed model (Penicillin) and a nested model with prior weights and an
//! offset (Pastes); and the criterion agrees at θ away from the optimum.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_design::Design;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_lmm::{CrossProducts, LmmOptions, ProfiledDeviance, fit_cross_products, lmer};

fn dataset(name: &str) -> DataFrame {
    let d = multilevel_datasets::get(name).unwrap();
    let opts = ReadOptions {
        factor_columns: d.factors.iter().map(|s| s.to_string()).collect(),
        ordered_columns: d.ordered.iter().map(|s| s.to_string()).collect(),
    };
    DataFrame::from_csv_str(d.name, d.csv, &opts).unwrap()
}

fn build_design(formula: &str, data: &DataFrame, opts: &FrameOptions) -> Design {
    let parsed = multilevel_formula::parse(formula).unwrap();
    let frame = ModelFrame::new(&parsed, data, opts).unwrap();
    multilevel_design::build_design(&parsed, &frame).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn check(formula: &str, data: &DataFrame, opts: &FrameOptions, lmm: &LmmOptions) {
    let design = build_design(formula, data, opts);
    let cp = CrossProducts::from_design(&design);
    assert_eq!(cp.n, design.nobs());
    let from_rows = lmer(design.clone(), lmm).unwrap();
    let from_cp = fit_cross_products(&design, &cp, lmm).unwrap();
    assert!(
        rel(from_cp.objective, from_rows.objective) < 1e-10,
        "{formula}: objective {} vs {}",
        from_cp.objective,
        from_rows.objective
    );
    assert_eq!(from_cp.theta.len(), from_rows.theta.len());
    for (a, b) in from_cp.theta.iter().zip(&from_rows.theta) {
        assert!(
            (a - b).abs() <= 1e-10 * b.abs().max(1e-3),
            "{formula}: θ {a} vs {b}"
        );
    }
    for (a, b) in from_cp.fixed.iter().zip(&from_rows.fixed) {
        assert!(
            rel(a.estimate, b.estimate) < 1e-10,
            "{formula}: β {} vs {}",
            a.estimate,
            b.estimate
        );
        assert!(rel(a.std_error, b.std_error) < 1e-9, "{formula}: se");
    }
    assert!(rel(from_cp.sigma, from_rows.sigma) < 1e-9);
    assert_eq!(from_cp.nobs, from_rows.nobs);
    // Conditional modes and their variances come from the same factor.
    for (ta, tb) in from_cp.ranef.iter().zip(&from_rows.ranef) {
        for (va, vb) in ta.values.iter().zip(&tb.values) {
            for (a, b) in va.iter().zip(vb) {
                assert!((a - b).abs() <= 1e-7 * b.abs().max(1.0), "{formula}: b̂");
            }
        }
    }
    assert!(from_cp.fitted.is_empty());
    // The criterion at θ away from the optimum, from the rows and from the cross products.
    let mut dev_rows = ProfiledDeviance::new(&design, lmm.reml);
    let mut dev_cp = ProfiledDeviance::from_cross_products(&design, &cp, lmm.reml).unwrap();
    for scale in [0.3, 1.7] {
        let th: Vec<f64> = from_rows.theta.iter().map(|t| t * scale + 0.05).collect();
        let (a, b) = (dev_cp.objective(&th), dev_rows.objective(&th));
        assert!(rel(a, b) < 1e-12, "{formula}: d(θ) {a} vs {b}");
    }
}

#[test]
fn sleepstudy_vector_term() {
    let data = dataset("sleepstudy");
    let opts = FrameOptions::default();
    check(
        "Reaction ~ Days + (Days | Subject)",
        &data,
        &opts,
        &LmmOptions::default(),
    );
    let ml = LmmOptions {
        reml: false,
        ..LmmOptions::default()
    };
    check("Reaction ~ Days + (Days | Subject)", &data, &opts, &ml);
}

#[test]
fn penicillin_crossed() {
    let data = dataset("Penicillin");
    check(
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
        &data,
        &FrameOptions::default(),
        &LmmOptions::default(),
    );
}

#[test]
fn pastes_nested_with_weights_and_offset() {
    let data = dataset("Pastes");
    let n = data.nrows();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + (i * 7 % 5) as f64 * 0.25).collect();
    let o: Vec<f64> = (0..n).map(|i| ((i * 3 % 4) as f64 - 1.5) * 0.2).collect();
    let data = data
        .with_numeric("w", w)
        .unwrap()
        .with_numeric("o", o)
        .unwrap();
    let opts = FrameOptions {
        weights: Some("w".into()),
        ..FrameOptions::default()
    };
    check(
        "strength ~ 1 + offset(o) + (1 | batch/cask)",
        &data,
        &opts,
        &LmmOptions::default(),
    );
}
