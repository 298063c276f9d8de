//! The data layer (`rma_data`): columns, moderator formulas, missing rows, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_frame::{DataFrame, ReadOptions};
use multilevel_meta::{DataSpec, MetaError, Method, RmaOptions, Test, rma, rma_data};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bcg() -> DataFrame {
    DataFrame::read_csv(
        &root().join("tests/reference/meta/bcg.csv"),
        &ReadOptions::default(),
    )
    .unwrap()
}

fn spec(mods: Option<&str>) -> DataSpec {
    DataSpec {
        yi: "yi".into(),
        vi: Some("vi".into()),
        sei: None,
        mods: mods.map(str::to_string),
        slab: Some("slab".into()),
    }
}

fn reference(mods: &str, method: &str, test: &str) -> Value {
    let d: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/meta/bcg.json")).unwrap(),
    )
    .unwrap();
    let model = d["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mods"].as_str() == Some(mods))
        .unwrap()
        .clone();
    model["fits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["method"] == method && f["test"] == test)
        .unwrap()
        .clone()
}

/// A factor moderator and a two-covariate formula through R's model.matrix rules give
/// metafor's coefficients (names included) and QM.
#[test]
fn moderator_formulas_reproduce_metafor() {
    let data = bcg();
    for (mods, method, test) in [
        ("~ alloc", "REML", "z"),
        ("~ ablat + year", "PM", "knha"),
        ("~ ablat", "SJ", "z"),
    ] {
        let r = reference(mods, method, test);
        let opts = RmaOptions {
            method: Method::parse(method).unwrap(),
            test: Test::parse(test).unwrap(),
            ..RmaOptions::default()
        };
        let fit = rma_data(&data, &spec(Some(mods)), &opts).unwrap();
        let names: Vec<&str> = fit.coefficients.iter().map(|c| c.name.as_str()).collect();
        let ref_names: Vec<&str> = r["coef_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, ref_names);
        for (c, b) in fit.coefficients.iter().zip(r["beta"].as_array().unwrap()) {
            let b = b.as_f64().unwrap();
            assert!(
                (c.estimate - b).abs() <= 1e-6 * b.abs(),
                "{mods}: {} vs {b}",
                c.estimate
            );
        }
        let qm = r["QM"].as_f64().unwrap();
        let ours = fit.moderators.as_ref().unwrap().statistic;
        assert!((ours - qm).abs() <= 1e-6 * qm, "{mods}: QM {ours} vs {qm}");
        assert_eq!(fit.mods.as_deref(), Some(mods));
        assert_eq!(fit.studies[0].slab, "Aronson, 1948");
    }
}

const SMALL: &str = "\
study,y,v,se,x,g
A,0.10,0.04,0.2,1,a
B,0.35,0.09,0.3,NA,b
C,,0.01,0.1,3,a
D,0.52,0.0225,0.15,4,b
E,0.20,NA,0.25,5,a
F,0.05,0.0625,0.25,6,b
G,0.41,0.01,0.1,7,a
";

/// Rows with a missing effect size, variance or moderator are dropped, counted and named; the
/// fit equals the fit on the complete rows.
#[test]
fn missing_rows_are_dropped_and_reported() {
    let data = DataFrame::from_csv_str("small.csv", SMALL, &ReadOptions::default()).unwrap();
    let s = DataSpec {
        yi: "y".into(),
        vi: Some("v".into()),
        sei: None,
        mods: Some("x".into()),
        slab: Some("study".into()),
    };
    let fit = rma_data(&data, &s, &RmaOptions::default()).unwrap();
    assert_eq!(fit.k, 4);
    assert_eq!(fit.k_all, 7);
    let dropped: Vec<(usize, String, Vec<String>)> = fit
        .dropped_rows
        .iter()
        .map(|d| (d.row, d.location.clone(), d.missing.clone()))
        .collect();
    assert_eq!(
        dropped,
        vec![
            (1, "line 3".to_string(), vec!["x".to_string()]),
            (2, "line 4".to_string(), vec!["y".to_string()]),
            (4, "line 6".to_string(), vec!["v".to_string()]),
        ]
    );
    let slabs: Vec<&str> = fit.studies.iter().map(|s| s.slab.as_str()).collect();
    assert_eq!(slabs, ["A", "D", "F", "G"]);
    let direct = rma(
        &[0.10, 0.52, 0.05, 0.41],
        &[0.04, 0.0225, 0.0625, 0.01],
        Some((&[vec![1.0, 4.0, 6.0, 7.0]], &["x".to_string()])),
        &RmaOptions::default(),
    )
    .unwrap();
    assert!((fit.tau2 - direct.tau2).abs() < 1e-12);
    assert!((fit.coefficients[1].estimate - direct.coefficients[1].estimate).abs() < 1e-12);
    let text = multilevel_meta::report::render(&fit, multilevel_meta::report::Format::Text);
    assert!(text.contains("3 of 7 rows dropped for missing values: line 3 (missing x)"));

    // Standard errors instead of variances give the same analysis.
    let by_se = rma_data(
        &data,
        &DataSpec {
            vi: None,
            sei: Some("se".into()),
            ..s.clone()
        },
        &RmaOptions::default(),
    )
    .unwrap();
    // Row E has a standard error (but no variance), so it is kept here: A, D, E, F, G.
    assert_eq!(by_se.k, 5);
    assert_eq!(by_se.studies[2].slab, "E");
    assert!((by_se.studies[1].vi - 0.0225).abs() < 1e-15);
    assert!((by_se.studies[2].vi - 0.0625).abs() < 1e-15);
}

fn err(data: &DataFrame, s: &DataSpec, opts: &RmaOptions) -> String {
    match rma_data(data, s, opts) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_gives_one_clear_error() {
    let data = DataFrame::from_csv_str("small.csv", SMALL, &ReadOptions::default()).unwrap();
    let base = DataSpec {
        yi: "y".into(),
        vi: Some("v".into()),
        sei: None,
        mods: None,
        slab: Some("study".into()),
    };
    let opts = RmaOptions::default();

    let e = err(
        &data,
        &DataSpec {
            yi: "yy".into(),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("yy") && e.contains("did you mean `y`"), "{e}");

    let e = err(
        &data,
        &DataSpec {
            yi: "g".into(),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("`g`") && e.contains("must be numeric"), "{e}");

    let e = err(
        &data,
        &DataSpec {
            sei: Some("se".into()),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("both vi and sei"), "{e}");

    let e = err(
        &data,
        &DataSpec {
            mods: Some("y ~ x".into()),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("left-hand side"), "{e}");

    let e = err(
        &data,
        &DataSpec {
            mods: Some("~ x + (1 | g)".into()),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("random-effects"), "{e}");

    let e = err(
        &data,
        &DataSpec {
            mods: Some("~ xx".into()),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("xx"), "{e}");

    let neg = "study,y,v\nA,0.1,0.04\nB,0.2,-0.01\nC,0.3,0.02\n";
    let d = DataFrame::from_csv_str("neg.csv", neg, &ReadOptions::default()).unwrap();
    let e = err(
        &d,
        &DataSpec {
            mods: None,
            ..base.clone()
        },
        &opts,
    );
    assert!(
        e.contains("-0.01") && e.contains("study B") && e.contains("line 3 of neg.csv"),
        "{e}"
    );

    let one = "study,y,v\nA,0.1,0.04\nB,,0.01\n";
    let d = DataFrame::from_csv_str("one.csv", one, &ReadOptions::default()).unwrap();
    let e = err(
        &d,
        &DataSpec {
            mods: None,
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("only 1 study left after dropping 1 row"), "{e}");

    // Too many coefficients for the studies.
    let three = "study,y,v,x,z\nA,0.1,0.04,1,2\nB,0.2,0.01,2,1\nC,0.3,0.02,3,5\n";
    let d = DataFrame::from_csv_str("three.csv", three, &ReadOptions::default()).unwrap();
    let e = err(
        &d,
        &DataSpec {
            mods: Some("~ x + z".into()),
            ..base.clone()
        },
        &opts,
    );
    assert!(e.contains("3 coefficients but only 3 studies"), "{e}");

    // The library entry point checks its inputs too.
    let e = rma(&[0.1, 0.2], &[0.1], None, &opts).unwrap_err();
    assert!(matches!(e, MetaError::LengthMismatch { .. }));
    let e = rma(&[0.1, 0.2], &[0.1, 0.0], None, &opts).unwrap_err();
    assert!(e.to_string().contains("study 2"), "{e}");
    let e = rma(&[0.1], &[0.1], None, &opts).unwrap_err();
    assert!(matches!(e, MetaError::TooFewStudies { k: 1, .. }));
}

/// An aliased moderator is dropped (metafor: "Redundant predictors dropped from the model").
#[test]
fn redundant_moderator_is_dropped() {
    let yi = [0.1, 0.3, 0.35, 0.6, 0.2, 0.5];
    let vi = [0.02, 0.03, 0.01, 0.04, 0.02, 0.05];
    let x1 = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let x2: Vec<f64> = x1.iter().map(|v| 2.0 * v).collect();
    let fit = rma(
        &yi,
        &vi,
        Some((&[x1.clone(), x2], &["x1".to_string(), "x2".to_string()])),
        &RmaOptions::default(),
    )
    .unwrap();
    let only = rma(
        &yi,
        &vi,
        Some((&[x1], &["x1".to_string()])),
        &RmaOptions::default(),
    )
    .unwrap();
    assert_eq!(fit.dropped_columns, vec!["x2".to_string()]);
    assert_eq!(fit.p, 2);
    assert!((fit.coefficients[1].estimate - only.coefficients[1].estimate).abs() < 1e-12);
}
