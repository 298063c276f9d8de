//! `multilevel fit --residual …` (GLS / MMRM): the JSON report against nlme's `gls`
//! (tests/reference/gls/gls.json from xtask/r/reference_gls.R), the text report's parts, and
//! one clear line for each kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{GOOD_CSV, assert_error, run, temp_dir, write};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference(name: &str) -> Value {
    reference_in("gls.json", name)
}

fn reference_in(file: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/reference/gls").join(file)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}

fn trial() -> String {
    root()
        .join("tests/data/mmrm_trial.csv")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn mmrm_json_matches_nlme_and_counts_the_data() {
    let r = run(&[
        "fit",
        "--data",
        &trial(),
        "--residual",
        "us(visit | subject)",
        "--format",
        "json",
        "y ~ visit * arm",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let want = reference("trial_us_reml");
    let ll = j["loglik"].as_f64().unwrap();
    let want_ll = want["logLik"].as_f64().unwrap();
    assert!(ll - want_ll > -1e-6 * want_ll.abs(), "{ll} vs {want_ll}");
    for row in j["fixed"].as_array().unwrap() {
        let term = row["term"].as_str().unwrap();
        let se = want["se"][term].as_f64().unwrap();
        let b = want["beta"][term].as_f64().unwrap();
        assert!(
            (row["estimate"].as_f64().unwrap() - b).abs() <= 1e-3 * se,
            "{term}"
        );
        assert!(
            (row["std_error"].as_f64().unwrap() - se).abs() <= 2e-3 * se,
            "{term}"
        );
        assert!(row["df"].as_f64().unwrap() > 100.0, "{term}");
    }
    let cm = want["cor_matrix"].as_array().unwrap();
    let ours = j["residual"]["correlation"].as_array().unwrap();
    assert_eq!(ours.len(), 6);
    for (i, row) in cm.iter().enumerate() {
        for (k, v) in row.as_array().unwrap().iter().enumerate() {
            let got = ours[i][k].as_f64().unwrap();
            assert!((got - v.as_f64().unwrap()).abs() <= 1e-3, "cor[{i}][{k}]");
        }
    }
    assert_eq!(j["residual"]["sd_by_visit"].as_array().unwrap().len(), 6);
    // The trial's CSV: 240 subjects, 13 empty responses (dropped), 1193 rows used.
    assert_eq!(j["counts"]["observations"], 1193);
    assert_eq!(j["counts"]["rows_dropped"], 13);
    assert_eq!(j["counts"]["visits"], 6);
    assert_eq!(j["method"], "REML");
    let one_visit = j["counts"]["subjects_with_one_visit"].as_u64().unwrap();
    assert!(one_visit > 0);
}

#[test]
fn text_and_markdown_reports_show_the_structure() {
    let text = run(&[
        "fit",
        "--dataset",
        "Orthodont",
        "--residual",
        "cs(age | Subject)",
        "--residual-variance",
        "ident(Sex)",
        "--ml",
        "distance ~ age * Sex",
    ]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    for needle in [
        "Generalized least squares fit by maximum likelihood",
        "Residual: cs(age | Subject) (compound symmetry), ident(Sex)",
        "27 subjects",
        "rho = ",
        "Residual standard deviation by level (ident(Sex)):",
        "Satterthwaite df",
    ] {
        assert!(text.stdout.contains(needle), "{needle}:\n{}", text.stdout);
    }
    let want = reference("orthodont_cs_ident_ml");
    let ll = format!("{:.3}", want["logLik"].as_f64().unwrap()); // -208.326, 6 digits as printed
    assert!(text.stdout.contains(&ll), "{ll}:\n{}", text.stdout);
    let md = run(&[
        "fit",
        "--dataset",
        "Orthodont",
        "--factor",
        "age",
        "--residual",
        "toeph(age | Subject)",
        "--format",
        "markdown",
        "distance ~ Sex",
    ]);
    assert_eq!(md.code, Some(0), "{}", md.stderr);
    assert!(md.stdout.contains("## Generalized least squares (REML)"));
    assert!(md.stdout.contains("**Residual SD by visit**"));
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = temp_dir("gls_bad");
    // A structure that needs a factor, on a numeric column.
    let r = run(&[
        "fit",
        "--dataset",
        "Orthodont",
        "--residual",
        "us(age | Subject)",
        "distance ~ Sex",
    ]);
    assert_error(&r, &["us(age | Subject)", "factor", "--factor age"]);
    // AR(1) on positions that are not integers.
    let frac = write(
        &dir,
        "frac.csv",
        "y,t,s\n1,1,a\n2,1.5,a\n3,1,b\n2,2,b\n1,1,c\n4,2,c\n",
    );
    let r = run(&["fit", "--data", &frac, "--residual", "ar1(t | s)", "y ~ 1"]);
    assert_error(&r, &["integer positions", "line 3", "1.5"]);
    // A subject with two rows at one visit.
    let dup = write(
        &dir,
        "dup.csv",
        "y,t,s\n1,1,a\n2,1,a\n3,1,b\n2,2,b\n1,1,c\n4,2,c\n",
    );
    let r = run(&["fit", "--data", &dup, "--residual", "cs(t | s)", "y ~ 1"]);
    assert_error(&r, &["subject `a`", "two rows", "line 2", "line 3"]);
    // More covariance parameters than the data support.
    let few = write(
        &dir,
        "few.csv",
        "y,v,s\n1,V1,a\n2,V2,a\n3,V3,b\n2,V1,b\n1,V2,c\n",
    );
    let r = run(&["fit", "--data", &few, "--residual", "us(v | s)", "y ~ 1"]);
    assert_error(&r, &["covariance parameters"]);
    // Random effects whose grouping factor changes within a subject of the residual
    // structure (the whitening needs each subject nested in every grouping factor).
    let good = write(&dir, "good.csv", GOOD_CSV);
    let r = run(&[
        "fit",
        "--data",
        &good,
        "--residual",
        "ar1(x | g)",
        "y ~ 1 + (1 | x)",
    ]);
    assert_error(
        &r,
        &[
            "ar1(x | g)",
            "two levels of `x`",
            "nested in every grouping factor",
        ],
    );
    // A malformed structure.
    let r = run(&["fit", "--data", &good, "--residual", "ar1(x)", "y ~ x"]);
    assert_error(&r, &["--residual", "time | subject"]);
    // An unknown column.
    let r = run(&[
        "fit",
        "--data",
        &good,
        "--residual",
        "cs(x | nope)",
        "y ~ x",
    ]);
    assert_error(&r, &["nope"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `lme(distance ~ age * Sex, random = ~ 1 | Subject, correlation = corAR1(form = ~ occasion |
/// Subject))` and the same with `varIdent(form = ~ 1 | Sex)`, by REML and ML, against nlme
/// (tests/reference/gls/lme.json from xtask/r/reference_lme_residual.R).
#[test]
fn random_intercept_with_ar1_residuals_matches_nlme_lme() {
    let data = root()
        .join("tests/reference/gls/orthodont.csv")
        .to_string_lossy()
        .into_owned();
    for (name, variance, ml) in [
        ("orthodont_ri_ar1_reml", None, false),
        ("orthodont_ri_ar1_ml", None, true),
        ("orthodont_ri_ar1_ident_reml", Some("ident(Sex)"), false),
    ] {
        let mut args = vec![
            "fit",
            "--data",
            &data,
            "--residual",
            "ar1(occasion | Subject)",
            "--format",
            "json",
        ];
        if let Some(v) = variance {
            args.extend(["--residual-variance", v]);
        }
        if ml {
            args.push("--ml");
        }
        args.push("distance ~ age * Sex + (1 | Subject)");
        let r = run(&args);
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        let j: Value = serde_json::from_str(&r.stdout).unwrap();
        let want = reference_in("lme.json", name);
        assert_eq!(j["model"], "lme");
        let ll = j["loglik"].as_f64().unwrap();
        let want_ll = want["logLik"].as_f64().unwrap();
        assert!(
            ll - want_ll > -1e-6 * want_ll.abs(),
            "{name}: {ll} vs {want_ll}"
        );
        assert_eq!(
            j["n_parameters"].as_f64().unwrap(),
            want["df"].as_f64().unwrap()
        );
        for row in j["fixed"].as_array().unwrap() {
            let term = row["term"].as_str().unwrap();
            let se = want["se"][term].as_f64().unwrap();
            let b = want["beta"][term].as_f64().unwrap();
            let got_b = row["estimate"].as_f64().unwrap();
            let got_se = row["std_error"].as_f64().unwrap();
            assert!(
                (got_b - b).abs() <= 1e-3 * se,
                "{name} {term}: {got_b} vs {b}"
            );
            assert!(
                (got_se - se).abs() <= 2e-3 * se,
                "{name} {term}: {got_se} vs {se}"
            );
        }
        let sd = j["random"][0]["sd"].as_f64().unwrap();
        let want_sd = want["random"][0]["sd"].as_f64().unwrap();
        assert!(
            (sd - want_sd).abs() <= 1e-3 * want_sd,
            "{name}: {sd} vs {want_sd}"
        );
        let sigma = j["sigma"].as_f64().unwrap();
        let want_sigma = want["sigma"].as_f64().unwrap();
        assert!((sigma - want_sigma).abs() <= 1e-3 * want_sigma, "{name}");
        let rho = j["residual"]["correlation"][1][0].as_f64().unwrap();
        let want_rho = want["cor_matrix"][1][0].as_f64().unwrap();
        assert!(
            (rho - want_rho).abs() <= 1e-3,
            "{name}: ρ {rho} vs {want_rho}"
        );
    }
    // The text report names the random effects and the residual structure.
    let text = run(&[
        "fit",
        "--data",
        &data,
        "--residual",
        "ar1(occasion | Subject)",
        "distance ~ age * Sex + (1 | Subject)",
    ]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    for needle in [
        "Linear mixed model with a residual covariance structure fit by REML",
        "Random effects:",
        "Subject",
        "Residual correlation (ar1(occasion | Subject)):",
        "rho = ",
        "Satterthwaite df",
    ] {
        assert!(text.stdout.contains(needle), "{needle}:\n{}", text.stdout);
    }
}

/// `--sigma 1 --weights w` with `w = 1/vᵢ` and a random intercept per study is the
/// random-effects meta-analysis with known sampling variances `vᵢ`: τ², β and the SEs of
/// metafor's `rma(yi, vi, method = "REML"/"ML")` (tests/reference/meta/bcg.json). metafor's
/// REML log-likelihood adds `½ log det X'X` to the lme4/nlme convention; its ML one is the same.
#[test]
fn fixed_sigma_with_weights_is_the_meta_analysis_of_metafor() {
    let text = std::fs::read_to_string(root().join("tests/reference/meta/bcg.json")).unwrap();
    let refs: Value = serde_json::from_str(&text).unwrap();
    let yi: Vec<f64> = serde_json::from_value(refs["yi"].clone()).unwrap();
    let vi: Vec<f64> = serde_json::from_value(refs["vi"].clone()).unwrap();
    let csv = std::fs::read_to_string(root().join("tests/reference/meta/bcg.csv")).unwrap();
    let mut out = String::from("study,yi,w,ablat\n");
    for (i, line) in csv.lines().skip(1).enumerate() {
        let ablat = line.rsplit(',').nth(2).unwrap();
        out.push_str(&format!("s{i},{},{},{ablat}\n", yi[i], 1.0 / vi[i]));
    }
    let dir = temp_dir("gls_sigma");
    let data = write(&dir, "bcg_w.csv", &out);
    for (mods, formula, method, ml) in [
        (Value::Null, "yi ~ 1 + (1 | study)", "REML", false),
        (Value::Null, "yi ~ 1 + (1 | study)", "ML", true),
        (
            Value::from("~ ablat"),
            "yi ~ ablat + (1 | study)",
            "REML",
            false,
        ),
    ] {
        let fit = refs["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mods"] == mods)
            .unwrap()["fits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["method"] == method && f["test"] == "z")
            .unwrap()
            .clone();
        let mut args = vec![
            "fit",
            "--data",
            &data,
            "--weights",
            "w",
            "--sigma",
            "1",
            "--format",
            "json",
        ];
        if ml {
            args.push("--ml");
        }
        args.push(formula);
        let r = run(&args);
        assert_eq!(r.code, Some(0), "{formula} {method}: {}", r.stderr);
        let j: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(j["sigma"].as_f64().unwrap(), 1.0);
        assert_eq!(j["sigma_fixed"], true);
        let tau2 = j["random"][0]["sd"].as_f64().unwrap().powi(2);
        let want_tau2 = fit["tau2"].as_f64().unwrap();
        assert!(
            (tau2 - want_tau2).abs() <= 1e-4 * want_tau2,
            "{formula} {method}: τ² {tau2} vs {want_tau2}"
        );
        let p = fit["p"].as_f64().unwrap() as usize;
        for (k, row) in j["fixed"].as_array().unwrap().iter().enumerate() {
            let b = fit["beta"][k].as_f64().unwrap();
            let se = fit["se"][k].as_f64().unwrap();
            let (got_b, got_se) = (
                row["estimate"].as_f64().unwrap(),
                row["std_error"].as_f64().unwrap(),
            );
            assert!(
                (got_b - b).abs() <= 1e-3 * se,
                "{formula}: β {got_b} vs {b}"
            );
            assert!(
                (got_se - se).abs() <= 2e-3 * se,
                "{formula}: SE {got_se} vs {se}"
            );
        }
        // Coefficients and τ are the parameters; σ is fixed.
        assert_eq!(j["n_parameters"].as_u64().unwrap() as usize, p + 1);
        let ll = j["loglik"].as_f64().unwrap();
        let want_ll = if ml {
            fit["fit_stats_ML"][0].as_f64().unwrap()
        } else {
            // metafor's REML adds ½ log det X'X (X'X = 13 for the intercept-only model).
            let xtx_log_det = if p == 1 { 13f64.ln() } else { f64::NAN };
            fit["fit_stats_REML"][0].as_f64().unwrap() - 0.5 * xtx_log_det
        };
        if want_ll.is_finite() {
            assert!(
                (ll - want_ll).abs() <= 1e-6 * want_ll.abs(),
                "{formula} {method}: {ll} vs {want_ll}"
            );
        }
    }
    // A σ that is not positive: one line.
    let r = run(&[
        "fit",
        "--data",
        &data,
        "--sigma",
        "0",
        "yi ~ 1 + (1 | study)",
    ]);
    assert_error(&r, &["σ = 0", "positive"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--ddf kenward-roger` on a GLS fit: the compound-symmetry GLS of Orthodont against pbkrtest
/// on lme4's `(1 | Subject)` (tests/reference/kr_gls/cases.json from
/// xtask/r/reference_kr_gls.R), the text report naming the df and the adjusted standard
/// errors, and the refusal of an ML fit.
#[test]
fn kenward_roger_df_and_adjusted_standard_errors() {
    let text = std::fs::read_to_string(root().join("tests/reference/kr_gls/cases.json")).unwrap();
    let refs: Value = serde_json::from_str(&text).unwrap();
    let want = refs["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "orthodont_gls_cs")
        .unwrap();
    let args = [
        "fit",
        "--dataset",
        "Orthodont",
        "--residual",
        "cs(age | Subject)",
        "--ddf",
        "kenward-roger",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json", "distance ~ age * Sex"]);
    let r = run(&json_args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["df_method"], "kenward-roger");
    assert!(j["vcov_adjusted"].is_array());
    for (k, row) in j["fixed"].as_array().unwrap().iter().enumerate() {
        let df = want["df_kr"][k].as_f64().unwrap();
        let se = want["se_kr"][k].as_f64().unwrap();
        let ours_df = row["df"].as_f64().unwrap();
        let ours_se = row["std_error"].as_f64().unwrap();
        assert!((ours_df - df).abs() <= 1e-3 * df, "df {ours_df} vs {df}");
        assert!((ours_se - se).abs() <= 1e-4 * se, "se {ours_se} vs {se}");
    }
    let mut text_args = args.to_vec();
    text_args.push("distance ~ age * Sex");
    let t = run(&text_args);
    assert_eq!(t.code, Some(0), "{}", t.stderr);
    assert!(
        t.stdout
            .contains("(Kenward-Roger df; standard errors from the adjusted covariance)"),
        "{}",
        t.stdout
    );
    let mut ml = args.to_vec();
    ml.extend(["--ml", "distance ~ age"]);
    assert_error(&run(&ml), &["Kenward–Roger", "REML"]);
}
