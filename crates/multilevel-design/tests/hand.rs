//! Hand-checked designs on tiny data: contrasts, interactions, R's contrast-vs-indicator
//! rule, the rank-deficiency rule, random-term layout and sorting, and the error cases.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_design::{Design, DesignError, build_design};
use multilevel_frame::{Contrasts, DataFrame, FrameOptions, ModelFrame};
use std::collections::BTreeMap;

/// 6 rows: f = a,b,c,a,b,c; g = p,p,p,q,q,q; x = 1..6; h has 3 levels (u,u,v,v,w,w).
fn data() -> DataFrame {
    DataFrame::new("tiny")
        .with_numeric("y", vec![1.0, 3.0, 2.0, 5.0, 4.0, 7.0])
        .unwrap()
        .with_numeric("x", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .unwrap()
        .with_numeric("x2", vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
        .unwrap()
        .with_strings("f", &["a", "b", "c", "a", "b", "c"])
        .unwrap()
        .with_strings("g", &["p", "p", "p", "q", "q", "q"])
        .unwrap()
        .with_strings("h", &["u", "u", "v", "v", "w", "w"])
        .unwrap()
        .with_strings("id", &["1", "2", "3", "4", "5", "6"])
        .unwrap()
        .with_strings("e", &["r", "s", "s", "r", "r", "s"])
        .unwrap()
        .with_strings("yf", &["no", "yes", "no", "yes", "yes", "no"])
        .unwrap()
        .with_strings("y3", &["a", "b", "c", "a", "b", "c"])
        .unwrap()
        .with_numeric("s", vec![1.0, 0.0, 2.0, 3.0, 1.0, 1.0])
        .unwrap()
        .with_numeric("fl", vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
        .unwrap()
}

fn design_with(formula: &str, contrasts: &[(&str, Contrasts)]) -> Result<Design, DesignError> {
    let f = multilevel_formula::parse(formula).unwrap();
    let opts = FrameOptions {
        weights: None,
        contrasts: contrasts
            .iter()
            .map(|(k, c)| (k.to_string(), *c))
            .collect::<BTreeMap<_, _>>(),
        ..FrameOptions::default()
    };
    let frame = ModelFrame::new(&f, &data(), &opts).unwrap_or_else(|e| panic!("{e}"));
    build_design(&f, &frame)
}

fn design(formula: &str) -> Design {
    design_with(formula, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn col(d: &Design, name: &str) -> Vec<f64> {
    let j = d.x_names.iter().position(|n| n == name).unwrap();
    (0..d.nobs()).map(|i| d.x[(i, j)]).collect()
}

#[test]
fn numeric_by_factor_interaction() {
    let d = design("y ~ x * f");
    assert_eq!(d.x_names, ["(Intercept)", "x", "fb", "fc", "x:fb", "x:fc"]);
    assert_eq!(d.x_assign, [0, 1, 2, 2, 3, 3]);
    assert_eq!(d.fixed_term_labels, ["(Intercept)", "x", "f", "x:f"]);
    assert_eq!(col(&d, "fb"), [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
    assert_eq!(col(&d, "x:fc"), [0.0, 0.0, 3.0, 0.0, 0.0, 6.0]);
    assert!(d.dropped_columns.is_empty());
    assert_eq!(d.y, [1.0, 3.0, 2.0, 5.0, 4.0, 7.0]);
    assert!(d.terms.is_empty());
}

#[test]
fn factor_by_factor_first_varies_fastest() {
    let d = design("y ~ f * g");
    assert_eq!(
        d.x_names,
        ["(Intercept)", "fb", "fc", "gq", "fb:gq", "fc:gq"]
    );
    assert_eq!(col(&d, "fc:gq"), [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    // f:g alone: both factors by indicators, f fastest; with the intercept the last cell is
    // aliased and dropped by the rank check
    let d = design("y ~ f:g");
    assert_eq!(
        d.x_names,
        ["(Intercept)", "fa:gp", "fb:gp", "fc:gp", "fa:gq", "fb:gq"]
    );
    assert_eq!(d.dropped_columns, ["fc:gq"]);
    assert_eq!(d.x_assign, [0, 1, 1, 1, 1, 1]);
    assert_eq!(col(&d, "fa:gq"), [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn indicator_coding_without_intercept() {
    let d = design("y ~ 0 + f");
    assert_eq!(d.x_names, ["fa", "fb", "fc"]);
    assert_eq!(d.x_assign, [1, 1, 1]);
    assert_eq!(col(&d, "fa"), [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let d = design("y ~ x + f - 1");
    assert_eq!(d.x_names, ["x", "fa", "fb", "fc"]);
    // only the first factor gets indicators
    let d = design("y ~ 0 + f + g");
    assert_eq!(d.x_names, ["fa", "fb", "fc", "gq"]);
}

#[test]
fn sum_helmert_contrasts_and_interaction_names() {
    let d = design_with("y ~ f", &[("f", Contrasts::Sum)]).unwrap();
    assert_eq!(d.x_names, ["(Intercept)", "f1", "f2"]);
    assert_eq!(col(&d, "f1"), [1.0, 0.0, -1.0, 1.0, 0.0, -1.0]);
    assert_eq!(col(&d, "f2"), [0.0, 1.0, -1.0, 0.0, 1.0, -1.0]);
    let d = design_with("y ~ x:f + x", &[("f", Contrasts::Helmert)]).unwrap();
    assert_eq!(d.x_names, ["(Intercept)", "x", "x:f1", "x:f2"]);
    assert_eq!(col(&d, "x:f2"), [-1.0, -2.0, 6.0, -4.0, -5.0, 12.0]);
}

#[test]
fn aliased_column_dropped_earlier_kept() {
    let d = design("y ~ x + x2 + f");
    assert_eq!(d.x_names, ["(Intercept)", "x", "fb", "fc"]);
    assert_eq!(d.dropped_columns, ["x2"]);
    assert_eq!(d.x_assign, [0, 1, 3, 3]);
    assert_eq!(d.fixed_term_labels, ["(Intercept)", "x", "x2", "f"]);
    assert_eq!(d.p(), 4);
    // and the other way round: x2 first, so x is the aliased one
    let d = design("y ~ x2 + x");
    assert_eq!(d.x_names, ["(Intercept)", "x2"]);
    assert_eq!(d.dropped_columns, ["x"]);
}

#[test]
fn random_terms_layout_and_order() {
    // (1 + x | g): 2 levels, k = 2; (1 | h): 3 levels → h term sorted first
    let d = design("y ~ x + (1 + x | g) + (1 | h)");
    assert_eq!(d.terms.len(), 2);
    assert_eq!(d.terms[0].group, "h");
    assert_eq!(d.terms[0].formula_order, 1);
    assert_eq!(d.terms[0].levels, ["u", "v", "w"]);
    assert_eq!(d.terms[0].refs, [0, 0, 1, 1, 2, 2]);
    assert_eq!(d.terms[0].z, [1.0; 6]);
    let g = &d.terms[1];
    assert_eq!((g.group.as_str(), g.formula_order, g.k), ("g", 0, 2));
    assert_eq!(g.col_names, ["(Intercept)", "x"]);
    assert_eq!(g.refs, [0, 0, 0, 1, 1, 1]);
    assert_eq!(
        g.z,
        [1.0, 1.0, 1.0, 2.0, 1.0, 3.0, 1.0, 4.0, 1.0, 5.0, 1.0, 6.0]
    );
    assert_eq!(d.q(), 3 + 4);
    assert_eq!(d.theta_start(), [1.0, 1.0, 0.0, 1.0]);
    // ties keep formula order
    let d = design("y ~ 1 + (1 | g) + (0 + x | g)");
    assert_eq!(
        d.terms.iter().map(|t| t.formula_order).collect::<Vec<_>>(),
        [0, 1]
    );
}

#[test]
fn random_lhs_factor_coding() {
    let d = design("y ~ 1 + (0 + e | g)");
    assert_eq!(d.terms[0].col_names, ["er", "es"]);
    assert_eq!(d.terms[0].z[..4], [1.0, 0.0, 0.0, 1.0]);
    let d = design("y ~ 1 + (1 + e | g)");
    assert_eq!(d.terms[0].col_names, ["(Intercept)", "es"]);
    assert_eq!(d.terms[0].z[..4], [1.0, 0.0, 1.0, 1.0]);
}

#[test]
fn binomial_responses() {
    let d = design("cbind(s, x) ~ 1");
    let trials = [2.0, 2.0, 5.0, 7.0, 6.0, 7.0];
    assert_eq!(d.trials.as_deref(), Some(&trials[..]));
    let s = [1.0, 0.0, 2.0, 3.0, 1.0, 1.0];
    for ((y, s), t) in d.y.iter().zip(s).zip(trials) {
        assert_eq!(*y, s / t);
    }
    assert_eq!(d.response_name, "cbind(s, x)");
    // row 2 has s = fl = 0
    let e = design_with("cbind(s, fl) ~ 1", &[]).unwrap_err();
    assert!(matches!(e, DesignError::ZeroTrials { row: 2, .. }), "{e}");
    let d = design("yf ~ 1");
    assert_eq!(d.y, [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    assert!(d.trials.is_none());
    let e = design_with("y3 ~ 1", &[]).unwrap_err();
    assert!(
        matches!(e, DesignError::ResponseLevels { nlevels: 3, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("hint"));
}

#[test]
fn dimension_errors() {
    let e = design_with("y ~ 1 + (1 | id)", &[]).unwrap_err();
    assert!(
        matches!(
            e,
            DesignError::TooManyLevels {
                nlevels: 6,
                n: 6,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("must be < number of observations"));
    let e = design_with("y ~ 1 + (1 + x | h)", &[]).unwrap_err();
    assert!(
        matches!(e, DesignError::TooManyRandomEffects { q: 6, n: 6, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("(x | h)"), "{e}");
}

#[test]
fn no_response_is_an_error() {
    let f = multilevel_formula::parse("~ x + (1 | g)").unwrap();
    match ModelFrame::new(&f, &data(), &FrameOptions::default()) {
        Ok(frame) => {
            let e = build_design(&f, &frame).unwrap_err();
            assert!(matches!(e, DesignError::NoResponse { .. }), "{e}");
            assert!(e.to_string().contains("no response"));
        }
        Err(e) => println!("note: the frame already rejects a one-sided formula: {e}"),
    }
}

#[test]
fn empty_random_term_is_an_error() {
    let f = multilevel_formula::parse("y ~ x + (0 | g)");
    let Ok(f) = f else {
        println!("note: the parser rejects (0 | g)");
        return;
    };
    match ModelFrame::new(&f, &data(), &FrameOptions::default()) {
        Ok(frame) => {
            let e = build_design(&f, &frame).unwrap_err();
            assert!(matches!(e, DesignError::EmptyRandomTerm { .. }), "{e}");
        }
        Err(e) => println!("note: the frame rejects (0 | g): {e}"),
    }
}
