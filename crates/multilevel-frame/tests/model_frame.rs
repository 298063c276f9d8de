//! Model-frame construction on small in-memory and CSV data.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_formula::parse;
use multilevel_frame::{
    Contrasts, DataFrame, FrameError, FrameOptions, ModelFrame, ReadOptions, ResponseValues,
    VariableValue,
};

fn frame(formula: &str, data: &DataFrame) -> Result<ModelFrame, FrameError> {
    frame_opts(formula, data, &FrameOptions::default())
}

fn frame_opts(
    formula: &str,
    data: &DataFrame,
    opts: &FrameOptions,
) -> Result<ModelFrame, FrameError> {
    let f = parse(formula).unwrap_or_else(|e| panic!("parse {formula}: {e}"));
    ModelFrame::new(&f, data, opts)
}

fn csv(text: &str) -> DataFrame {
    DataFrame::from_csv_str("d.csv", text, &ReadOptions::default()).unwrap()
}

fn numeric(mf: &ModelFrame, label: &str) -> Vec<f64> {
    match &mf
        .variable(label)
        .unwrap_or_else(|| panic!("no variable {label}"))
        .value
    {
        VariableValue::Numeric(v) => v.clone(),
        other => panic!("{label} not numeric: {other:?}"),
    }
}

fn factor(v: &VariableValue) -> (Vec<u32>, Vec<String>) {
    match v {
        VariableValue::Factor { codes, levels, .. } => (codes.clone(), levels.clone()),
        other => panic!("not a factor: {other:?}"),
    }
}

fn y(mf: &ModelFrame) -> Vec<f64> {
    match &mf.response {
        Some(ResponseValues::Numeric(y)) => y.clone(),
        other => panic!("response not numeric: {other:?}"),
    }
}

fn sleep_like() -> DataFrame {
    DataFrame::new("mem")
        .with_numeric_opt(
            "y",
            vec![
                Some(1.0),
                Some(2.5),
                None,
                Some(4.0),
                Some(3.0),
                Some(6.0),
                Some(2.0),
                Some(8.0),
            ],
        )
        .unwrap()
        .with_numeric_opt(
            "x",
            vec![
                Some(0.0),
                Some(1.0),
                Some(2.0),
                None,
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(4.0),
            ],
        )
        .unwrap()
        .with_strings("g", &["a", "a", "b", "b", "c", "c", "d", "d"])
        .unwrap()
}

#[test]
fn missing_rows_dropped_and_counted() {
    let mf = frame("y ~ x + (1 | g)", &sleep_like()).unwrap();
    assert_eq!(mf.dropped_rows, vec![2, 3]);
    assert_eq!(mf.n_dropped(), 2);
    assert_eq!(mf.n, 6);
    assert_eq!(mf.rows, vec![0, 1, 4, 5, 6, 7]);
    assert_eq!(y(&mf), vec![1.0, 2.5, 3.0, 6.0, 2.0, 8.0]);
    assert_eq!(numeric(&mf, "x"), vec![0.0, 1.0, 1.0, 2.0, 3.0, 4.0]);
    assert_eq!(mf.response_label.as_deref(), Some("y"));
    assert_eq!(mf.data_name, "mem");
    // group "b" lost both of its rows: the level is dropped
    let (codes, levels) = factor(mf.group("g").unwrap());
    assert_eq!(levels, vec!["a", "c", "d"]);
    assert_eq!(codes, vec![0, 0, 1, 1, 2, 2]);
    assert!(mf.weights.is_none() && mf.offset.is_none());
}

#[test]
fn unused_factor_levels_dropped_after_row_removal() {
    let df = DataFrame::new("mem")
        .with_numeric_opt("y", vec![Some(1.0), None, Some(3.0), Some(2.0), Some(5.0)])
        .unwrap()
        .with_strings("f", &["lo", "mid", "hi", "lo", "hi"])
        .unwrap()
        .with_strings("g", &["a", "b", "a", "b", "b"])
        .unwrap();
    let mf = frame("y ~ f + (1 | g)", &df).unwrap();
    let v = &mf.variable("f").unwrap().value;
    let VariableValue::Factor {
        codes,
        levels,
        ordered,
        contrasts,
    } = v
    else {
        panic!("{v:?}")
    };
    assert_eq!(levels, &vec!["hi".to_string(), "lo".to_string()]);
    assert_eq!(codes, &vec![1, 0, 1, 0]);
    assert!(!ordered);
    assert_eq!(*contrasts, Contrasts::Treatment);
}

#[test]
fn interaction_group_levels_in_r_order() {
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![1.0, 2.0, 3.0, 5.0])
        .unwrap()
        .with_strings("a", &["x", "y", "x", "y"])
        .unwrap()
        .with_strings("b", &["p", "p", "q", "q"])
        .unwrap();
    let mf = frame("y ~ 1 + (1 | a:b)", &df).unwrap();
    let (codes, levels) = factor(mf.group("a:b").unwrap());
    // lme4 builds `a:b` with the FIRST factor varying slowest (lex order); values from
    // R 4.2.2 / lme4 1.1.31 `levels(lFormula(y ~ 1 + (1 | a:b), d)$reTrms$flist[[1]])`.
    assert_eq!(levels, vec!["x:p", "x:q", "y:p", "y:q"]);
    assert_eq!(codes, vec![0, 2, 1, 3]);

    // unobserved combinations are dropped; order still by (a, b) (values from R 4.2.2)
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![1.0, 2.0, 3.0, 5.0, 4.0])
        .unwrap()
        .with_strings("a", &["y", "x", "y", "y", "x"])
        .unwrap()
        .with_strings("b", &["q", "q", "p", "q", "q"])
        .unwrap();
    let mf = frame("y ~ 1 + (1 | a:b)", &df).unwrap();
    let (codes, levels) = factor(mf.group("a:b").unwrap());
    assert_eq!(levels, vec!["x:q", "y:p", "y:q"]);
    assert_eq!(codes, vec![2, 0, 1, 2, 0]);
    // lme4 expands a/b to (1 | b:a) + (1 | a): `b:a`, b varying slowest (values from R 4.2.2)
    let mf = frame("y ~ 1 + (1 | a/b)", &df).unwrap();
    let (codes, levels) = factor(mf.group("b:a").unwrap());
    assert_eq!(levels, vec!["p:y", "q:x", "q:y"]);
    assert_eq!(codes, vec![2, 1, 0, 2, 1]);
    let (_, levels) = factor(mf.group("a").unwrap());
    assert_eq!(levels, vec!["x", "y"]);
}

#[test]
fn numeric_grouping_column_becomes_factor() {
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap()
        .with_numeric("subj", vec![175.0, 2.5, 10.0, 2.5, 1.0])
        .unwrap();
    let mf = frame("y ~ 1 + (1 | subj)", &df).unwrap();
    let (codes, levels) = factor(mf.group("subj").unwrap());
    assert_eq!(levels, vec!["1", "2.5", "10", "175"]);
    assert_eq!(codes, vec![3, 1, 2, 1, 0]);
}

#[test]
fn cbind_response() {
    let df = DataFrame::new("mem")
        .with_numeric("inc", vec![2.0, 3.0, 0.0, 1.0])
        .unwrap()
        .with_numeric("size", vec![10.0, 12.0, 9.0, 5.0])
        .unwrap()
        .with_strings("herd", &["h1", "h1", "h2", "h2"])
        .unwrap();
    let mf = frame("cbind(inc, size - inc) ~ 1 + (1 | herd)", &df).unwrap();
    assert_eq!(mf.response_label.as_deref(), Some("cbind(inc, size - inc)"));
    assert_eq!(
        mf.response,
        Some(ResponseValues::Cbind {
            successes: vec![2.0, 3.0, 0.0, 1.0],
            failures: vec![8.0, 9.0, 9.0, 4.0]
        })
    );
}

#[test]
fn factor_response() {
    let df = DataFrame::new("mem")
        .with_strings("r", &["yes", "no", "yes", "no"])
        .unwrap()
        .with_strings("g", &["a", "a", "b", "b"])
        .unwrap();
    let mf = frame("r ~ 1 + (1 | g)", &df).unwrap();
    assert_eq!(
        mf.response,
        Some(ResponseValues::Factor {
            codes: vec![1, 0, 1, 0],
            levels: vec!["no".into(), "yes".into()]
        })
    );
}

#[test]
fn weights_and_missing_weights_drop_rows() {
    let df = sleep_like()
        .with_numeric_opt(
            "w",
            vec![
                Some(1.0),
                Some(2.0),
                Some(1.0),
                Some(1.0),
                None,
                Some(0.5),
                Some(0.0),
                Some(3.0),
            ],
        )
        .unwrap();
    let opts = FrameOptions {
        weights: Some("w".into()),
        ..Default::default()
    };
    let mf = frame_opts("y ~ x + (1 | g)", &df, &opts).unwrap();
    assert_eq!(mf.dropped_rows, vec![2, 3, 4]);
    assert_eq!(mf.weights, Some(vec![1.0, 2.0, 0.5, 0.0, 3.0]));
}

#[test]
fn offsets_are_summed() {
    let df = sleep_like()
        .with_numeric("t", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        .unwrap();
    let mf = frame("y ~ x + offset(log(t)) + offset(2 * t) + (1 | g)", &df).unwrap();
    let want: Vec<f64> = [0usize, 1, 4, 5, 6, 7]
        .iter()
        .map(|&i| ((i + 1) as f64).ln() + 2.0 * (i + 1) as f64)
        .collect();
    let got = mf.offset.clone().unwrap();
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-12, "{got:?} vs {want:?}");
    }
    // the offset is not a variable of the fixed terms
    assert!(mf.variable("t").is_none());
}

#[test]
fn transformations_poly_scale_and_interactions() {
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![3.0, 1.0, 4.0, 1.0, 5.0])
        .unwrap()
        .with_numeric("x", vec![1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap()
        .with_strings("f", &["a", "b", "a", "b", "a"])
        .unwrap()
        .with_strings("g", &["u", "u", "v", "v", "v"])
        .unwrap();
    let mf = frame(
        "log(y) ~ poly(x, 2) + scale(x) + I(x^2) + x:f + (1 + x | g)",
        &df,
    )
    .unwrap();
    assert_eq!(mf.response_label.as_deref(), Some("log(y)"));
    let labels: Vec<&str> = mf.variables.iter().map(|v| v.label.as_str()).collect();
    for l in ["poly(x, 2)", "scale(x)", "I(x^2)", "x", "f"] {
        assert!(labels.contains(&l), "{l} missing from {labels:?}");
    }
    assert_eq!(
        labels.iter().filter(|l| **l == "x").count(),
        1,
        "x appears once: {labels:?}"
    );
    let VariableValue::Matrix { columns, suffixes } = &mf.variable("poly(x, 2)").unwrap().value
    else {
        panic!()
    };
    assert_eq!(suffixes, &vec!["1".to_string(), "2".to_string()]);
    let r1 = [-0.6324555, -0.3162278, 0.0, 0.3162278, 0.6324555];
    let r2 = [0.5345225, -0.2672612, -0.5345225, -0.2672612, 0.5345225];
    for i in 0..5 {
        assert!((columns[0][i] - r1[i]).abs() < 1e-7 && (columns[1][i] - r2[i]).abs() < 1e-7);
    }
    assert_eq!(numeric(&mf, "I(x^2)"), vec![1.0, 4.0, 9.0, 16.0, 25.0]);
    let s = numeric(&mf, "scale(x)");
    assert!((s[4] - 1.2649111).abs() < 1e-7, "{s:?}");
    let yv = y(&mf);
    assert!((yv[0] - 3f64.ln()).abs() < 1e-15);
}

#[test]
fn contrasts_options_and_ordered_default() {
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![3.0, 1.0, 4.0, 1.0])
        .unwrap()
        .with_strings("f", &["a", "b", "a", "b"])
        .unwrap()
        .with_strings("o", &["lo", "hi", "hi", "lo"])
        .unwrap()
        .to_factor("o", true)
        .unwrap()
        .with_strings("g", &["u", "u", "v", "v"])
        .unwrap();
    let mut opts = FrameOptions::default();
    opts.contrasts.insert("f".into(), Contrasts::Sum);
    let mf = frame_opts("y ~ f + o + (1 | g)", &df, &opts).unwrap();
    let VariableValue::Factor { contrasts, .. } = &mf.variable("f").unwrap().value else {
        panic!()
    };
    assert_eq!(*contrasts, Contrasts::Sum);
    let VariableValue::Factor {
        contrasts, ordered, ..
    } = &mf.variable("o").unwrap().value
    else {
        panic!()
    };
    assert_eq!(*contrasts, Contrasts::Poly);
    assert!(*ordered);
}

#[test]
fn same_group_label_listed_once() {
    let mf = frame("y ~ x + (1 | g) + (0 + x | g)", &sleep_like()).unwrap();
    assert_eq!(mf.groups.len(), 1);
    assert_eq!(mf.groups[0].0, "g");
}

// ---------------------------------------------------------------- errors

fn err(formula: &str, data: &DataFrame) -> FrameError {
    frame(formula, data).expect_err("expected an error")
}

fn assert_names(e: &FrameError, parts: &[&str]) {
    let m = e.to_string();
    assert!(!m.contains('\n'), "not one line: {m}");
    assert!(m.contains("hint"), "no hint: {m}");
    for p in parts {
        assert!(m.contains(p), "`{p}` not in: {m}");
    }
}

#[test]
fn error_unknown_column_suggests_nearest() {
    let e = err("y ~ xx + (1 | g)", &sleep_like());
    assert!(
        matches!(e, FrameError::UnknownColumn { column: 5, .. }),
        "{e:?}"
    );
    assert_names(&e, &["mem", "`xx`", "did you mean `x`", "position 5"]);
    let e = err("y ~ x + (1 | G)", &sleep_like());
    assert!(matches!(e, FrameError::UnknownColumn { .. }));
    assert_names(&e, &["`G`", "did you mean `g`"]);
}

#[test]
fn error_text_column_used_as_number() {
    // `x` has one non-numeric entry, so it is read as a factor
    let df = csv("y,x,g\n1,2,a\n2,3,a\n3,n/a,b\n4,5,b\n");
    let e = err("y ~ log(x) + (1 | g)", &df);
    assert!(matches!(e, FrameError::NotNumeric { .. }), "{e:?}");
    assert_names(
        &e,
        &[
            "d.csv",
            "line 4",
            "column `x`",
            "`log(x)`",
            "`n/a`",
            "text column",
        ],
    );
}

#[test]
fn error_arithmetic_on_factor() {
    let e = err("y ~ I(g * 2) + (1 | g)", &sleep_like());
    assert!(matches!(e, FrameError::NotNumeric { .. }), "{e:?}");
    assert_names(&e, &["mem", "row 1", "column `g`", "`g * 2`"]);
}

#[test]
fn error_single_level_group() {
    let df = csv("y,x,g\n1,2,a\n2,3,a\n3,NA,b\n");
    let e = err("y ~ x + (1 | g)", &df);
    assert!(
        matches!(e, FrameError::SingleLevelGroup { n: 2, .. }),
        "{e:?}"
    );
    assert_names(&e, &["d.csv", "column `g`", "single level (`a`)"]);
}

#[test]
fn error_constant_response() {
    let df = csv("y,x,g\n2,2,a\n2,3,a\n2,4,b\n2,1,b\n");
    let e = err("y ~ x + (1 | g)", &df);
    assert!(
        matches!(e, FrameError::ConstantResponse { n: 4, .. }),
        "{e:?}"
    );
    assert_names(&e, &["d.csv", "column `y`", "constant (2"]);
}

#[test]
fn error_all_rows_dropped() {
    let df = csv("y,x,g\n1,NA,a\nNA,3,a\n2,NA,b\n");
    let e = err("y ~ x + (1 | g)", &df);
    assert!(
        matches!(e, FrameError::AllRowsDropped { nrows: 3, .. }),
        "{e:?}"
    );
    assert_names(&e, &["d.csv", "all 3 rows", "`x` 2", "`y` 1"]);
}

#[test]
fn error_negative_weights() {
    let df = csv("y,x,g,w\n1,1,a,1\n2,3,a,2\n3,2,b,-1\n5,4,b,1\n");
    let opts = FrameOptions {
        weights: Some("w".into()),
        ..Default::default()
    };
    let e = frame_opts("y ~ x + (1 | g)", &df, &opts).unwrap_err();
    assert!(matches!(e, FrameError::NegativeWeight { .. }), "{e:?}");
    assert_names(&e, &["d.csv", "line 4", "column `w`", "-1"]);
}

#[test]
fn error_missing_weights_column() {
    let df = csv("y,x,g,wt\n1,1,a,1\n2,3,a,2\n3,2,b,1\n5,4,b,1\n");
    let opts = FrameOptions {
        weights: Some("wts".into()),
        ..Default::default()
    };
    let e = frame_opts("y ~ x + (1 | g)", &df, &opts).unwrap_err();
    assert!(matches!(e, FrameError::WeightsNotFound { .. }), "{e:?}");
    assert_names(&e, &["d.csv", "`wts`", "did you mean `wt`"]);
    let opts = FrameOptions {
        weights: Some("g".into()),
        ..Default::default()
    };
    let e = frame_opts("y ~ x + (1 | g)", &df, &opts).unwrap_err();
    assert!(matches!(e, FrameError::WeightsNotNumeric { .. }), "{e:?}");
    assert_names(&e, &["d.csv", "column `g`"]);
}

#[test]
fn error_non_finite_evaluation() {
    let df = csv("y,x,g\n1,1,a\n2,3,a\n3,0,b\n5,4,b\n");
    let e = err("y ~ log(x) + (1 | g)", &df);
    assert!(matches!(e, FrameError::NonFinite { .. }), "{e:?}");
    assert_names(&e, &["d.csv", "line 4", "`log(x)`", "-Inf"]);
    let e = err("sqrt(x - 2) ~ 1 + (1 | g)", &df);
    assert!(matches!(e, FrameError::NonFinite { .. }), "{e:?}");
    assert_names(&e, &["d.csv", "line 2", "`sqrt(x - 2)`", "NaN"]);
    // a non-finite value on a row dropped for missing values is no error
    let df = csv("y,x,g\n1,1,a\n2,3,a\nNA,0,b\n5,4,b\n7,2,b\n");
    let mf = frame("y ~ log(x) + (1 | g)", &df).unwrap();
    assert_eq!(mf.dropped_rows, vec![2]);
}

#[test]
fn error_poly_with_missing_and_bad_degree() {
    let df = csv("y,x,g\n1,1,a\n2,NA,a\n3,2,b\n5,4,b\n");
    let e = err("y ~ poly(x, 2) + (1 | g)", &df);
    assert!(matches!(e, FrameError::PolyMissing { .. }), "{e:?}");
    assert_names(&e, &["d.csv", "line 3", "`poly(x, 2)`"]);
    let df = csv("y,x,g\n1,1,a\n2,2,a\n3,2,b\n5,1,b\n");
    let e = err("y ~ poly(x, 2) + (1 | g)", &df);
    assert!(
        matches!(
            e,
            FrameError::PolyDegree {
                degree: 2,
                unique: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert_names(&e, &["d.csv", "`poly(x, 2)`"]);
}

#[test]
fn error_unknown_function() {
    let e = err("y ~ frobnicate(x) + (1 | g)", &sleep_like());
    assert!(matches!(e, FrameError::BadCall { .. }), "{e:?}");
    assert_names(&e, &["mem", "`frobnicate(x)`", "unknown function"]);
}

#[test]
fn scale_of_a_constant_column_is_a_clear_error() {
    // R: scale(c(5, 5, 5)) is NaN everywhere; we refuse with a message naming the call.
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![1.0, 2.0, 3.0])
        .unwrap()
        .with_numeric("x", vec![5.0, 5.0, 5.0])
        .unwrap()
        .with_numeric_opt("z", vec![Some(1.0), None, None])
        .unwrap();
    for f in ["y ~ scale(x)", "y ~ scale(z)"] {
        let e = frame(f, &df).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("mem") && m.contains("scale(") && m.contains("hint"),
            "{m}"
        );
        assert!(m.contains("standard deviation is 0"), "{m}");
    }
    // NA values are ignored as in R: scale(c(1, NA, 2, 3, 4)) = -1.161895 NA -0.3872983 ...
    let df = DataFrame::new("mem")
        .with_numeric("y", vec![1.0, 2.0, 3.0, 4.0, 5.0])
        .unwrap()
        .with_numeric_opt("x", vec![Some(1.0), None, Some(2.0), Some(3.0), Some(4.0)])
        .unwrap();
    let mf = frame("y ~ scale(x)", &df).unwrap();
    assert_eq!(mf.dropped_rows, vec![1]);
    let VariableValue::Numeric(v) = &mf.variable("scale(x)").unwrap().value else {
        panic!()
    };
    let want = [-1.1618950, -0.3872983, 0.3872983, 1.1618950];
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-7, "{v:?}");
    }
}

#[test]
fn required_columns_drop_rows_like_model_variables() {
    let df = csv("y,x,id\n1,1,a\n2,3,\n3,2,b\n5,4,b\n");
    let opts = FrameOptions {
        required_columns: vec!["id".into()],
        ..Default::default()
    };
    let mf = frame_opts("y ~ x", &df, &opts).unwrap();
    assert_eq!(mf.rows, vec![0, 2, 3]);
    assert_eq!(mf.dropped_rows, vec![1]);
    assert_eq!(y(&mf), vec![1.0, 3.0, 5.0]);
    let opts = FrameOptions {
        required_columns: vec!["ids".into()],
        ..Default::default()
    };
    let e = frame_opts("y ~ x", &df, &opts).unwrap_err();
    assert_names(&e, &["`ids`"]);
}

#[test]
fn semicolon_file_unknown_column_names_the_separator() {
    let data = DataFrame::from_csv_str(
        "semi.csv",
        "Reaction;Days;Subject\n250;0;a\n260;1;a\n270;0;b\n280;1;b\n",
        &ReadOptions::default(),
    )
    .unwrap();
    let e = frame("Reaction ~ Days + (1 | Subject)", &data).unwrap_err();
    assert!(matches!(e, FrameError::UnknownColumn { .. }));
    let m = e.to_string();
    assert!(
        m.contains("semi.csv") && m.contains("1 column") && m.contains("semicolon-separated"),
        "{m}"
    );
}

#[test]
fn long_and_control_names_in_frame_errors_are_cut_and_escaped() {
    let data = DataFrame::new("mem")
        .with_numeric("y", vec![1.0, 2.0, 3.0])
        .unwrap();
    // a 131 KB unknown name: the error stays short (name and formula windowed)
    let long = "q".repeat(131_072);
    let e = frame(&format!("y ~ {long}"), &data).unwrap_err();
    assert!(matches!(e, FrameError::UnknownColumn { .. }));
    let m = e.to_string();
    assert!(
        m.len() < 1000 && m.contains("mem: unknown column"),
        "{}",
        m.len()
    );
    // a backquoted name holding an escape character: shown escaped
    let e = frame("y ~ `a\u{1b}[31m`", &data).unwrap_err();
    let m = e.to_string();
    assert!(!m.contains('\u{1b}') && m.contains("\\x1b[31m"), "{m}");
}
