//! End-to-end tests of the `multilevel` binary: every bad input ends with exit status 1 (2 for
//! command-line usage errors) and one clear message on stderr, never a panic; good inputs give
//! the lme4 numbers in every output format.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{GOOD_CSV, assert_error, run, temp_dir, write};
use std::path::PathBuf;

// ----- errors ------------------------------------------------------------------------------

#[test]
fn missing_file() {
    let dir = temp_dir("missing");
    let path = dir.join("nope.csv");
    let r = run(&["fit", "--data", path.to_str().unwrap(), "y ~ x + (1 | g)"]);
    assert_error(&r, &["nope.csv", "hint"]);
}

#[test]
fn empty_file() {
    let dir = temp_dir("empty");
    let p = write(&dir, "empty.csv", "");
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_error(&r, &["empty.csv", "empty"]);
}

#[test]
fn ragged_rows() {
    let dir = temp_dir("ragged");
    let p = write(&dir, "ragged.csv", "y,x,g\n1,2,a\n3,4\n5,6,b\n");
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_error(&r, &["ragged.csv", "line 3", "fields"]);
}

#[test]
fn infinite_and_nan_values() {
    let dir = temp_dir("inf");
    let p = write(&dir, "inf.csv", "y,x,g\n1,2,a\n3,Inf,a\n5,6,b\n7,8,b\n");
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_error(&r, &["inf.csv", "line 3", "`x`", "Inf"]);
    let p = write(&dir, "nan.csv", "y,x,g\n1,2,a\nNaN,4,a\n5,6,b\n7,8,b\n");
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_error(&r, &["nan.csv", "line 3", "`y`", "NaN"]);
}

#[test]
fn unknown_dataset_lists_available() {
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudi",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert_error(
        &r,
        &[
            "sleepstudi",
            "did you mean `sleepstudy`",
            "Dyestuff",
            "hint",
        ],
    );
    let r = run(&["datasets", "nosuchdata"]);
    assert_error(&r, &["nosuchdata", "sleepstudy"]);
}

/// The glmer reference values committed by `xtask/r/reference_glmm.R`.
fn glmm_reference(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/glmm")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn glmm_fits_match_glmer_laplace_and_agq() {
    let formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    let text = run(&["fit", "--dataset", "cbpp", "--family", "binomial", formula]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(text.stdout.contains(
        "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)"
    ));
    assert!(text.stdout.contains("z value"));
    for (name, extra) in [("cbpp_laplace", None), ("cbpp_agq25", Some("25"))] {
        let mut args = vec![
            "fit",
            "--dataset",
            "cbpp",
            "--family",
            "binomial",
            "--format",
            "json",
        ];
        if let Some(n) = extra {
            args.extend(["--nagq", n]);
        }
        args.push(formula);
        let r = run(&args);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let ours: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let reference = glmm_reference(name);
        let (a, b) = (
            ours["loglik"].as_f64().unwrap(),
            reference["loglik"].as_f64().unwrap(),
        );
        assert!(a >= b - 1e-4, "{name}: logLik {a} vs glmer {b}");
        assert_eq!(
            ours["method"],
            if extra.is_some() { "AGQ" } else { "Laplace" }
        );
        assert!(ours["residual"].is_null());
    }
}

#[test]
fn glmm_bad_responses_are_clear_errors() {
    let dir = temp_dir("glmm_bad");
    let mut csv = String::from("y,n,g\n");
    for i in 0..20 {
        csv.push_str(&format!(
            "{},{},g{}\n",
            if i == 3 { -2 } else { i % 3 },
            4,
            i % 4
        ));
    }
    let path = write(&dir, "counts.csv", &csv);
    let r = run(&[
        "fit",
        "--data",
        &path,
        "--family",
        "poisson",
        "y ~ 1 + (1 | g)",
    ]);
    assert_error(&r, &["negative"]);
    let r = run(&[
        "fit",
        "--data",
        &path,
        "--family",
        "binomial",
        "y ~ 1 + (1 | g)",
    ]);
    assert_error(&r, &["binomial"]);
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--nagq",
        "5",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert_error(&r, &["--nagq", "GLMM"]);
}

#[test]
fn usage_errors_exit_with_status_2() {
    // No data source.
    let r = run(&["fit", "y ~ x + (1 | g)"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--data"), "{}", r.stderr);
    // Unknown family value.
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--family",
        "cauchy",
        "y ~ x",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("gaussian"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn unknown_factor_column() {
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--factor",
        "Dayz",
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert_error(&r, &["Dayz", "Days"]);
}

#[test]
fn unclosed_parenthesis_shows_caret() {
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject",
    ]);
    assert_error(&r, &["^"]);
    assert!(
        r.stderr.to_lowercase().contains("parenthes"),
        "{}",
        r.stderr
    );
}

#[test]
fn bar_outside_parentheses() {
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "Reaction ~ Days | Subject",
    ]);
    assert_error(&r, &["|", "parenthes"]);
}

#[test]
fn unknown_column_suggests_nearest() {
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "Reactoin ~ Days + (1 | Subject)",
    ]);
    assert_error(&r, &["Reactoin", "Reaction"]);
}

#[test]
fn text_in_numeric_response() {
    let dir = temp_dir("textresp");
    let p = write(
        &dir,
        "text.csv",
        "y,x,g\nlow,1,a\nhigh,2,a\nlow,3,b\nhigh,4,b\nlow,5,c\nhigh,6,c\n",
    );
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_error(&r, &["text.csv", "`y`", "numeric response"]);
    // A numeric column with one stray word is read as text too.
    let p = write(
        &dir,
        "stray.csv",
        "y,x,g\n1.5,1,a\nn/a,2,a\n3.1,3,b\n4.2,4,b\n5.0,5,c\n6.1,6,c\n",
    );
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_error(&r, &["stray.csv", "`y`", "n/a"]);
}

// ----- help and data sets ------------------------------------------------------------------

#[test]
fn help_shows_examples() {
    for args in [&["--help"][..], &["fit", "--help"], &["datasets", "--help"]] {
        let r = run(args);
        assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains("Examples:"), "{args:?}:\n{}", r.stdout);
        assert!(r.stdout.contains("multilevel "), "{args:?}:\n{}", r.stdout);
    }
}

#[test]
fn datasets_lists_sleepstudy_with_columns_and_example() {
    let r = run(&["datasets"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("sleepstudy (180 rows)"), "{}", r.stdout);
    assert!(r.stdout.contains("Reaction"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("multilevel fit --dataset sleepstudy \"Reaction ~ Days + (Days | Subject)\""),
        "{}",
        r.stdout
    );
    let r = run(&["datasets", "SLEEPSTUDY", "--csv"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("Reaction,Days,Subject\n"));
    assert_eq!(r.stdout.lines().count(), 181);
}

// ----- successful fits ---------------------------------------------------------------------

const SLEEP: &str = "Reaction ~ Days + (Days | Subject)";

#[test]
fn fit_sleepstudy_text() {
    let r = run(&["fit", "--dataset", "sleepstudy", SLEEP]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("REML criterion at convergence: 1743.6"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.starts_with(
            "Linear mixed model fit by REML. t-tests use Satterthwaite's method ['lmerModLmerTest']\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Number of obs: 180, groups:  Subject, 18")
    );
    // lmerTest's coefficient table: df (17.000 for both, lmerTest prints 17.000) and p-values.
    assert!(
        r.stdout.contains(
            "            Estimate Std. Error      df t value Pr(>|t|)\n(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***\nDays          10.467      1.546  17.000   6.771 3.26e-06 ***\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("(Intercept)  251.405      6.825"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn fit_sleepstudy_ml_text() {
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--ml",
        "--ddf",
        "none",
        SLEEP,
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("fit by maximum likelihood  ['lmerMod']"));
    assert!(
        r.stdout
            .contains("     AIC      BIC   logLik deviance df.resid")
    );
    assert!(
        r.stdout
            .contains("  1763.9   1783.1   -876.0   1751.9      174"),
        "{}",
        r.stdout
    );
}

#[test]
fn fit_sleepstudy_json() {
    let r = run(&["fit", "--dataset", "sleepstudy", "--format", "json", SLEEP]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    for k in multilevel_report::JSON_KEYS {
        assert!(v.get(k).is_some(), "missing key {k}");
    }
    assert_eq!(v["method"], "REML");
    assert_eq!(v["nobs"], 180);
    assert_eq!(v["groups"][0]["name"], "Subject");
    assert_eq!(v["groups"][0]["levels"], 18);
    let obj = v["objective"].as_f64().unwrap();
    assert!((obj - 1743.628).abs() < 1e-2, "{obj}");
    let fixed = v["fixed"].as_array().unwrap();
    assert_eq!(fixed.len(), 2);
    assert_eq!(fixed[1]["term"], "Days");
    assert!((fixed[1]["estimate"].as_f64().unwrap() - 10.467286).abs() < 1e-4);
    // Satterthwaite df by default (compared with lmerTest in `fit_df_match_lmertest`).
    assert!(fixed[1]["df"].is_f64() && fixed[1]["p_value"].is_f64());
    assert_eq!(v["df_method"], "Satterthwaite");
    for k in ["name", "evaluations"] {
        assert!(v["optimizer"].get(k).is_some(), "optimizer.{k}");
    }
    for k in ["variance", "std_dev"] {
        assert!(v["residual"].get(k).is_some(), "residual.{k}");
    }
}

#[test]
fn fit_markdown_to_output_file() {
    let dir = temp_dir("output");
    let out = dir.join("fit.md");
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--format",
        "markdown",
        "--output",
        out.to_str().unwrap(),
        SLEEP,
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(
        md.starts_with("## Linear mixed model fit by REML. t-tests use Satterthwaite's method\n"),
        "{md}"
    );
    assert!(md.contains("| 1743.6 |") || md.contains("1743.6 |"), "{md}");
}

#[test]
fn output_to_missing_directory_fails_cleanly() {
    let dir = temp_dir("baddir");
    let out = dir.join("no/such/dir/fit.txt");
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--output",
        out.to_str().unwrap(),
        SLEEP,
    ]);
    assert_error(&r, &["fit.txt", "cannot write"]);
}

#[test]
fn missing_rows_are_dropped_with_a_warning() {
    let dir = temp_dir("missingrows");
    let csv = format!("{GOOD_CSV}NA,2,a\n3.1,,b\n");
    let p = write(&dir, "na.csv", &csv);
    let r = run(&["fit", "--data", &p, "--format", "json", "y ~ x + (1 | g)"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["nobs"], 12);
    assert_eq!(v["n_dropped_missing"], 2);
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("2 rows")),
        "{warnings:?}"
    );
    assert!(r.stderr.contains("warning: "), "{}", r.stderr);
    // The text report shows the warning too.
    let r = run(&["fit", "--data", &p, "y ~ x + (1 | g)"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("Warnings:\n"), "{}", r.stdout);
    assert!(r.stdout.contains("2 rows"), "{}", r.stdout);
}

#[test]
fn factor_option_turns_numeric_column_into_factor() {
    let dir = temp_dir("factor");
    let csv = GOOD_CSV
        .replace(",a\n", ",1\n")
        .replace(",b\n", ",2\n")
        .replace(",c\n", ",3\n");
    let p = write(&dir, "numgroups.csv", &csv);
    let r = run(&[
        "fit",
        "--data",
        &p,
        "--factor",
        "g",
        "--format",
        "json",
        "y ~ x + (1 | g)",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["groups"][0]["levels"], 3);
}

// ----- inference: df, type III ANOVA, model comparison ---------------------------------------

/// A reference file written by lmerTest / lme4 (`xtask/r/reference_inference.R`).
fn reference(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/inference")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn assert_rel(what: &str, got: f64, want: f64, tol: f64) {
    let rel = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
    assert!(
        rel <= tol,
        "{what}: got {got}, lmerTest/lme4 {want} (relative difference {rel:e} > {tol:e})"
    );
}

#[test]
fn fit_df_match_lmertest() {
    for (name, ml) in [
        ("sleepstudy_slope_reml", false),
        ("sleepstudy_slope_ml", true),
    ] {
        let reference = reference(name);
        let formula = reference["formula"].as_str().unwrap();
        let mut args = vec!["fit", "--dataset", "sleepstudy", "--format", "json"];
        if ml {
            args.push("--ml");
        }
        args.push(formula);
        let r = run(&args);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let sat = &reference["satterthwaite"];
        let names = sat["names"].as_array().unwrap();
        let (df, p) = (floats(&sat["df"]), floats(&sat["p"]));
        let fixed = v["fixed"].as_array().unwrap();
        assert_eq!(fixed.len(), names.len());
        for (i, f) in fixed.iter().enumerate() {
            assert_eq!(f["term"], names[i]);
            let label = format!("{name} {}", names[i]);
            assert_rel(
                &format!("{label} df"),
                f["df"].as_f64().unwrap(),
                df[i],
                5e-3,
            );
            assert_rel(
                &format!("{label} p"),
                f["p_value"].as_f64().unwrap(),
                p[i],
                1e-2,
            );
        }
    }
}

#[test]
fn ddf_none_gives_lme4_table() {
    let r = run(&["fit", "--dataset", "sleepstudy", "--ddf", "none", SLEEP]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("Linear mixed model fit by REML ['lmerMod']\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "            Estimate Std. Error t value\n(Intercept)  251.405      6.825   36.84\n"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Pr(>|t|)"));
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--ddf",
        "none",
        "--format",
        "json",
        SLEEP,
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["fixed"][1]["df"].is_null() && v["fixed"][1]["p_value"].is_null());
    assert!(v.get("df_method").is_none());
}

#[test]
fn kenward_roger_df_match_pbkrtest() {
    let reference = reference("penicillin_crossed_reml");
    let kr = &reference["kenward_roger"]["coefficients"];
    let r = run(&[
        "fit",
        "--dataset",
        "Penicillin",
        "--ddf",
        "kenward-roger",
        "--format",
        "json",
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let ours: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let df = ours["fixed"][0]["df"].as_f64().unwrap();
    let want = kr["df"][0].as_f64().unwrap();
    assert!(
        (df - want).abs() < 5e-3 * want,
        "KR df {df} vs pbkrtest {want}"
    );
    assert_eq!(ours["df_method"], "Kenward-Roger");
    // ML fits are refused before any work, with the reason.
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        "--ml",
        "--ddf",
        "kenward-roger",
        SLEEP,
    ]);
    assert_error(&r, &["REML", "--ml"]);
    let r = run(&["anova", "--dataset", "sleepstudy", "--ddf", "none", SLEEP]);
    assert_error(&r, &["--ddf none", "--ddf satterthwaite"]);
}

const CAKE: &str = "angle ~ recipe * temperature + (1 | recipe:replicate)";

#[test]
fn anova_cake_matches_lmertest_type3() {
    let reference = reference("cake_interaction_reml");
    assert_eq!(reference["formula"], CAKE);
    let a3 = &reference["anova3"];
    let r = run(&["anova", "--dataset", "cake", "--format", "json", CAKE]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["kind"], "anova");
    assert_eq!(v["df_method"], "Satterthwaite");
    let terms = v["terms"].as_array().unwrap();
    let names = a3["terms"].as_array().unwrap();
    assert_eq!(terms.len(), names.len());
    for (key, ref_key, tol) in [
        ("sum_sq", "sum_sq", 1e-4),
        ("mean_sq", "mean_sq", 1e-4),
        ("num_df", "num_df", 1e-12),
        ("den_df", "den_df", 5e-3),
        ("f_value", "f", 1e-4),
        ("p_value", "p", 1e-3),
    ] {
        let want = floats(&a3[ref_key]);
        for (i, t) in terms.iter().enumerate() {
            assert_eq!(t["term"], names[i]);
            let got = t[key].as_f64().unwrap();
            assert_rel(&format!("{} {key}", names[i]), got, want[i], tol);
        }
    }
    // The text table, as lmerTest prints it.
    let r = run(&["anova", "--dataset", "cake", CAKE]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "Type III Analysis of Variance Table with Satterthwaite's method\n                   Sum Sq Mean Sq NumDF DenDF F value Pr(>F)\nrecipe               10.2    5.09     2    42  0.2488 0.7809\n"
        ),
        "{}",
        r.stdout
    );
    let r = run(&["anova", "--dataset", "cake", "--format", "markdown", CAKE]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("| `temperature`"), "{}", r.stdout);
}

#[test]
fn compare_sleepstudy_matches_lme4_anova() {
    let reference = reference("compare_sleepstudy");
    let formulas: Vec<&str> = reference["formulas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let mut args = vec!["compare", "--dataset", "sleepstudy", "--format", "json"];
    args.extend(&formulas);
    let r = run(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["refitted_with_ml"], true);
    let models = v["models"].as_array().unwrap();
    let t = &reference["table"];
    let names = t["models"].as_array().unwrap();
    assert_eq!(models.len(), names.len());
    for (i, m) in models.iter().enumerate() {
        assert_eq!(m["model"], names[i]);
        assert_eq!(m["npar"], t["npar"][i]);
        for (key, ref_key, tol) in [
            ("aic", "aic", 1e-6),
            ("bic", "bic", 1e-6),
            ("loglik", "loglik", 1e-6),
            ("deviance", "deviance", 1e-6),
            ("chisq", "chisq", 1e-4),
            ("p_value", "p", 1e-3),
        ] {
            match t[ref_key][i].as_f64() {
                Some(want) => assert_rel(
                    &format!("{} {key}", names[i]),
                    m[key].as_f64().unwrap(),
                    want,
                    tol,
                ),
                None => assert!(m[key].is_null(), "{} {key}: {}", names[i], m[key]),
            }
        }
        assert_eq!(m["df"], t["df"][i]);
    }
    let notes = v["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("refitting model(s) with ML"))
    );
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("conservative"))
    );
    // The text report says so too, and lays the table out as lme4 prints it.
    let mut args = vec!["compare", "--dataset", "sleepstudy"];
    args.extend(&formulas);
    let r = run(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("note: refitting model(s) with ML (instead of REML)\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("boundary"), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "   npar    AIC    BIC  logLik deviance  Chisq Df Pr(>Chisq)\nm1    4 1802.1 1814.9 -897.04   1794.1\nm2    6 1763.9 1783.1 -875.97   1751.9 42.139  2  7.072e-10 ***\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn compare_needs_two_models_and_same_rows() {
    let r = run(&["compare", "--dataset", "sleepstudy", SLEEP]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let dir = temp_dir("compare_rows");
    let csv = format!("{GOOD_CSV}2.0,,b\n");
    let p = write(&dir, "na.csv", &csv);
    // `y ~ 1` keeps the row with a missing x, `y ~ x` drops it.
    let r = run(&[
        "compare",
        "--data",
        &p,
        "y ~ 1 + (1 | g)",
        "y ~ x + (1 | g)",
    ]);
    assert_error(&r, &["observations", "hint"]);
}

/// A numeric-looking column turned into text by one stray token and ids written two ways: the
/// reader's warnings reach the user on stderr after a fit that goes on as R's read.csv would
/// read the file; a semicolon-separated file fails with one error line naming the separator.
#[test]
fn reader_warnings_are_printed() {
    let dir = temp_dir("reader-warnings");
    let mut text = String::from("y,x,g\n");
    for i in 0..40 {
        let x = if i == 7 {
            "n/a".to_string()
        } else {
            format!("{}", i % 5)
        };
        let g = if i == 3 {
            "01".to_string()
        } else {
            format!("{}", i % 4 + 1)
        };
        text.push_str(&format!(
            "{},{x},{g}\n",
            (i * 37 % 11) as f64 + 0.5 * (i % 4) as f64
        ));
    }
    let path = write(&dir, "stray.csv", &text);
    let r = run(&["fit", "--data", &path, "--factor", "g", "y ~ 1 + (1 | g)"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("warning:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("n/a") && r.stderr.contains("line 9"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("01"), "{}", r.stderr);
    let semi = write(&dir, "semi.csv", "y;x;g\n1;2;a\n3;4;b\n");
    let r = run(&["fit", "--data", &semi, "y ~ x + (1 | g)"]);
    assert_error(&r, &["semi.csv", "semicolon"]);
}

/// The GLMM summary line is lme4's `AIC BIC logLik -2*log(L) df.resid` with −2·logLik (glmer's
/// reference logLik), the title names nAGQ as lme4 does, and the overdispersion check prints
/// glmer's Pearson χ² on the residual df.
#[test]
fn glmm_summary_line_title_and_overdispersion_follow_lme4() {
    let formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    let reference = glmm_reference("cbpp_laplace");
    let ll = reference["loglik"].as_f64().unwrap();
    let r = run(&["fit", "--dataset", "cbpp", "--family", "binomial", formula]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_end() == "      AIC       BIC    logLik -2*log(L)  df.resid")
        .unwrap_or_else(|| panic!("no lme4 summary line in\n{}", r.stdout));
    let values: Vec<&str> = lines[at + 1].split_whitespace().collect();
    assert_eq!(values[3], format!("{:.1}", -2.0 * ll), "{}", lines[at + 1]);
    let od = lines[at + 2];
    assert!(
        od.starts_with("Overdispersion: Pearson chi-squared / df = "),
        "{od}"
    );

    let j = run(&[
        "fit",
        "--dataset",
        "cbpp",
        "--family",
        "binomial",
        "--format",
        "json",
        formula,
    ]);
    assert_eq!(j.code, Some(0), "{}", j.stderr);
    let ours: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let m2ll = ours["minus_two_loglik"].as_f64().unwrap();
    assert!((m2ll + 2.0 * ll).abs() < 2e-4, "{m2ll} vs {}", -2.0 * ll);
    assert_eq!(ours["n_agq"], 1);
    let chisq = ours["overdispersion"]["pearson_chisq"].as_f64().unwrap();
    let want = reference["pearson_chisq"].as_f64().unwrap();
    assert!(
        (chisq - want).abs() < 1e-3 * want,
        "{chisq} vs glmer {want}"
    );
    assert_eq!(
        ours["overdispersion"]["df"].as_f64(),
        reference["df_resid"].as_f64()
    );

    for (n, title) in [
        ("0", "(Adaptive Gauss-Hermite Quadrature, nAGQ = 0)"),
        ("25", "(Adaptive Gauss-Hermite Quadrature, nAGQ = 25)"),
    ] {
        let r = run(&[
            "fit",
            "--dataset",
            "cbpp",
            "--family",
            "binomial",
            "--nagq",
            n,
            formula,
        ]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(
            r.stdout.starts_with(&format!(
                "Generalized linear mixed model fit by maximum likelihood {title}"
            )),
            "{}",
            r.stdout
        );
    }
}
