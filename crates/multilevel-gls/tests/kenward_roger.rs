//! Kenward–Roger for GLS fits: the closed form for independent errors, a fast check against
//! pbkrtest on the equivalent lme4 model (a subset of `tests/reference/kr_gls/cases.json`,
//! written by `xtask/r/reference_kr_gls.R`; `cargo xtask validate` checks every case), and the
//! refusal of ML fits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_frame::{DataFrame, ReadOptions};
use multilevel_gls::{GlsDf, GlsError, GlsOptions, ResidualStructure, VarianceFunction, gls};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kr() -> GlsOptions {
    GlsOptions {
        df: GlsDf::KenwardRoger,
        ..GlsOptions::default()
    }
}

/// With independent errors (`Σ = σ²I`, one covariance parameter) Kenward & Roger's
/// approximation is exact: `Qₖₖ = PₖΦPₖ`, so `Φ_A = Φ`, and the df are the `N − p` of the t
/// distribution of the ordinary linear model.
#[test]
fn independent_errors_give_the_exact_t_df() {
    let x: Vec<f64> = (0..23).map(|i| f64::from(i) * 0.37).collect();
    let g: Vec<&str> = (0..23).map(|i| ["a", "b", "c"][i % 3]).collect();
    let y: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| 1.0 + 0.5 * v + ((i * 7919) % 13) as f64 / 5.0)
        .collect();
    let data = DataFrame::new("indep")
        .with_numeric("y", y)
        .unwrap()
        .with_numeric("x", x)
        .unwrap()
        .with_strings("g", &g)
        .unwrap();
    let fit = gls("y ~ x + g", &data, &kr()).unwrap();
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
    let adj = fit.vcov_adjusted.as_ref().unwrap();
    for (j, c) in fit.coefficients.iter().enumerate() {
        let df = c.df.unwrap();
        assert!((df - 19.0).abs() < 1e-8, "{}: df {df}", c.name);
        let se = fit.vcov[j][j].sqrt();
        assert!(
            (c.std_error - se).abs() < 1e-10 * se,
            "{}: {} vs {se}",
            c.name,
            c.std_error
        );
        assert!((adj[j][j] - fit.vcov[j][j]).abs() < 1e-10 * fit.vcov[j][j]);
    }
}

fn reference_case(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/reference/kr_gls/cases.json")).unwrap();
    let refs: Value = serde_json::from_str(&text).unwrap();
    refs["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}

fn check_reference(name: &str) {
    let c = reference_case(name);
    let data = DataFrame::read_csv(
        &root().join(c["data"].as_str().unwrap()),
        &ReadOptions::default(),
    )
    .unwrap();
    let opts = GlsOptions {
        residual: Some(ResidualStructure::parse(c["residual"].as_str().unwrap()).unwrap()),
        ..kr()
    };
    let fit = gls(c["formula"].as_str().unwrap(), &data, &opts).unwrap();
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
    for (j, coef) in fit.coefficients.iter().enumerate() {
        let df = c["df_kr"][j].as_f64().unwrap();
        let se = c["se_kr"][j].as_f64().unwrap();
        let ours_df = coef.df.unwrap();
        assert!(
            (ours_df - df).abs() < 1e-3 * df,
            "{name} {}: df {ours_df} vs {df}",
            coef.name
        );
        assert!(
            (coef.std_error - se).abs() < 1e-4 * se,
            "{name} {}: se {} vs {se}",
            coef.name,
            coef.std_error
        );
    }
}

/// The split-plot Oats as lme's random Block intercept with compound-symmetric residuals
/// within a plot, against pbkrtest on `(1 | Block) + (1 | Block:Variety)`.
#[test]
fn lme_with_compound_symmetry_matches_pbkrtest_on_the_split_plot_model() {
    check_reference("oats_lme_cs");
}

/// The orthodont compound-symmetry GLS against pbkrtest / lmerTest on `(1 | Subject)`.
#[test]
fn compound_symmetry_matches_pbkrtest_on_the_random_intercept_model() {
    check_reference("orthodont_gls_cs");
}

#[test]
fn kenward_roger_is_refused_for_ml_and_given_for_every_structure() {
    let data = DataFrame::read_csv(
        &root().join("tests/reference/gls/orthodont.csv"),
        &ReadOptions::default(),
    )
    .unwrap();
    let opts = GlsOptions {
        residual: Some(ResidualStructure::parse("ar1(occasion | Subject)").unwrap()),
        reml: false,
        ..kr()
    };
    let e = gls("distance ~ age", &data, &opts).unwrap_err();
    assert!(matches!(e, GlsError::Input(_)));
    assert!(e.to_string().contains("REML"), "{e}");
    // Without random terms every structure gets the df, here with a variance function too.
    let opts = GlsOptions {
        residual: Some(ResidualStructure::parse("ar1(occasion | Subject)").unwrap()),
        variance: Some(VarianceFunction::parse("ident(Sex)").unwrap()),
        ..kr()
    };
    let fit = gls("distance ~ age * Sex", &data, &opts).unwrap();
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
    for c in &fit.coefficients {
        let df = c.df.unwrap();
        assert!(df > 1.0 && df < 108.0, "{}: {df}", c.name);
    }
}
