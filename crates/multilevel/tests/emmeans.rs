//! Estimated marginal means and contrasts against R's emmeans (`tests/reference/emmeans/*.json`,
//! written by `xtask/r/reference_emmeans.R`): Kenward–Roger and Satterthwaite df, equal and
//! proportional weights, `by` groups, `at` values, Tukey/Holm/Bonferroni/no adjustment, and a
//! binomial GLMM on the link and response scales.
//!
//! Tolerances: estimates 1e-6 relative (LMMs; 1e-4 for the GLMM, whose fit agrees with glmer's
//! to about that), standard errors, df and limits 1e-4, p-values 1e-4 relative or 1e-9
//! absolute (R's `ptukey` is computed as one minus the lower tail, so its tiny values carry an
//! absolute error; see `multilevel_numeric::tukey`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel::{
    Adjust, CustomContrast, Ddf, EmmContrast, EmmWeights, EmmeansOptions, EmmeansResult, Family,
    FitOptions, GlmerOptions, PredictScale, glmer, lmer,
};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Numbers; `null` (R's Inf df) as ∞.
fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}

fn close(what: &str, ours: &[f64], theirs: &[f64], rel: f64, abs: f64) -> usize {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if a.is_infinite() && b.is_infinite() {
            continue;
        }
        let d = (a - b).abs();
        assert!(
            d <= rel * b.abs() || d <= abs,
            "{what}[{i}]: ours {a} vs R {b} (rel {:.2e})",
            d / b.abs()
        );
    }
    ours.len()
}

fn options(case: &Value) -> EmmeansOptions {
    let at = case["at"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), nums(v))).collect())
        .unwrap_or_default();
    EmmeansOptions {
        specs: strings(&case["specs"]),
        by: strings(&case["by"]),
        at,
        weights: match case["weights"].as_str() {
            Some("proportional") => EmmWeights::Proportional,
            _ => EmmWeights::Equal,
        },
        df_method: match case["df_method"].as_str() {
            Some("satterthwaite") => Ddf::Satterthwaite,
            _ => Ddf::KenwardRoger,
        },
        level: case["level"].as_f64().unwrap(),
        scale: match case["type"].as_str() {
            Some("response") => PredictScale::Response,
            _ => PredictScale::Link,
        },
        contrast: match case["contrast"].as_str() {
            Some("pairwise") => Some(EmmContrast::Pairwise),
            Some("trt.vs.ctrl") => Some(EmmContrast::TrtVsCtrl),
            _ => None,
        },
        adjust: case["contrasts"]["adjust"].as_str().map(|a| match a {
            "tukey" => Adjust::Tukey,
            "holm" => Adjust::Holm,
            "bonferroni" => Adjust::Bonferroni,
            _ => Adjust::None,
        }),
        custom: custom(case),
    }
}

/// The case's custom contrasts (`contrast(emm, list(...))`): weights over the specs' levels.
fn custom(case: &Value) -> Vec<CustomContrast> {
    case["custom"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| CustomContrast {
                    name: c["name"].as_str().unwrap().to_string(),
                    weights: strings(&c["levels"])
                        .into_iter()
                        .zip(nums(&c["weights"]))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compare one case; returns the number of numbers compared.
fn check_case(name: &str, case: &Value, ours: &EmmeansResult, est_tol: f64) -> usize {
    let label = format!("{name} / {}", case["label"].as_str().unwrap());
    let e = &case["emmeans"];
    let levels: Vec<Vec<String>> = e["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    let our_levels: Vec<Vec<String>> = ours.means.iter().map(|m| m.levels.clone()).collect();
    assert_eq!(our_levels, levels, "{label}: grid levels");
    assert_eq!(ours.estimate_name, e["estimate_name"].as_str().unwrap());
    let col = |f: fn(&multilevel::EmmRow) -> f64| ours.means.iter().map(f).collect::<Vec<_>>();
    let mut n = 0;
    n += close(
        &format!("{label} emmean"),
        &col(|m| m.estimate),
        &nums(&e["estimate"]),
        est_tol,
        0.0,
    );
    n += close(
        &format!("{label} SE"),
        &col(|m| m.std_error),
        &nums(&e["se"]),
        1e-4,
        0.0,
    );
    n += close(
        &format!("{label} df"),
        &col(|m| m.df),
        &nums(&e["df"]),
        1e-4,
        0.0,
    );
    n += close(
        &format!("{label} lower"),
        &col(|m| m.lower),
        &nums(&e["lower"]),
        1e-4,
        0.0,
    );
    n += close(
        &format!("{label} upper"),
        &col(|m| m.upper),
        &nums(&e["upper"]),
        1e-4,
        0.0,
    );
    if case["contrasts"].is_object() {
        let c = &case["contrasts"];
        let labels: Vec<String> = ours.contrasts.iter().map(|r| r.contrast.clone()).collect();
        assert_eq!(labels, strings(&c["labels"]), "{label}: contrast labels");
        let by: Vec<Vec<String>> = c["by"].as_array().unwrap().iter().map(strings).collect();
        let our_by: Vec<Vec<String>> = ours.contrasts.iter().map(|r| r.by.clone()).collect();
        assert_eq!(our_by, by, "{label}: contrast by levels");
        assert_eq!(
            ours.contrast_estimate_name,
            c["estimate_name"].as_str().unwrap()
        );
        let col = |f: fn(&multilevel::ContrastRow) -> f64| {
            ours.contrasts.iter().map(f).collect::<Vec<_>>()
        };
        n += close(
            &format!("{label} contrast"),
            &col(|r| r.estimate),
            &nums(&c["estimate"]),
            est_tol,
            1e-9,
        );
        n += close(
            &format!("{label} contrast SE"),
            &col(|r| r.std_error),
            &nums(&c["se"]),
            1e-4,
            0.0,
        );
        n += close(
            &format!("{label} contrast df"),
            &col(|r| r.df),
            &nums(&c["df"]),
            1e-4,
            0.0,
        );
        n += close(
            &format!("{label} statistic"),
            &col(|r| r.statistic),
            &nums(&c["statistic"]),
            1e-4,
            0.0,
        );
        n += close(
            &format!("{label} p"),
            &col(|r| r.p_value),
            &nums(&c["p"]),
            1e-4,
            1e-9,
        );
        if c["lower"].is_array() {
            // confint() of the contrasts: Tukey limits use R's qtukey, which stops its
            // search at 1e-4 in q, hence 1e-4 of the SE as the absolute floor.
            let floor = 1e-4 * col(|r| r.std_error).iter().fold(0.0_f64, |a, b| a.max(*b));
            n += close(
                &format!("{label} contrast lower"),
                &col(|r| r.lower),
                &nums(&c["lower"]),
                1e-4,
                floor,
            );
            n += close(
                &format!("{label} contrast upper"),
                &col(|r| r.upper),
                &nums(&c["upper"]),
                1e-4,
                floor,
            );
        }
    }
    n
}

fn run(name: &str) -> usize {
    let path = root().join(format!("tests/reference/emmeans/{name}.json"));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let factors = strings(&r["factors"]);
    let data = match r["data"]["csv"].as_str() {
        Some(csv) => multilevel::read_csv(&root().join(csv), &factors).unwrap(),
        None => multilevel::dataset(r["data"]["dataset"].as_str().unwrap()).unwrap(),
    };
    let formula = r["formula"].as_str().unwrap();
    let mut n = 0;
    if r["kind"] == "lmm" {
        let mut m = lmer(formula, &data, &FitOptions::default()).unwrap();
        for case in r["cases"].as_array().unwrap() {
            let ours = m.emmeans(&options(case)).unwrap();
            n += check_case(name, case, &ours, 1e-6);
        }
    } else {
        let m = glmer(formula, &data, Family::Binomial, &GlmerOptions::default()).unwrap();
        for case in r["cases"].as_array().unwrap() {
            let ours = m.emmeans(&options(case)).unwrap();
            n += check_case(name, case, &ours, 1e-4);
        }
    }
    n
}

#[test]
fn oats_additive_kr_satterthwaite_and_at() {
    assert!(run("oats_additive") >= 3 * 15);
}

#[test]
fn oats_factorial_weights_by_and_trt_vs_ctrl() {
    assert!(run("oats_factorial") > 100);
}

#[test]
fn machines_kr_and_satterthwaite_tukey() {
    assert!(run("machines") >= 2 * 30);
}

#[test]
fn sleepstudy_ten_level_factor_tukey() {
    assert!(run("sleepstudy_days_factor") >= 45 * 5);
}

#[test]
fn cbpp_link_and_response_scales() {
    assert!(run("cbpp_binomial") >= 2 * 50);
}

#[test]
fn bad_specs_get_one_clear_line() {
    let data = multilevel::dataset("sleepstudy").unwrap();
    let mut m = lmer(
        "Reaction ~ Days + (1 | Subject)",
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let numeric = m
        .emmeans(&EmmeansOptions {
            specs: vec!["Days".into()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        numeric.contains("`Days` is numeric") && numeric.contains("hint"),
        "{numeric}"
    );
    let unknown = m
        .emmeans(&EmmeansOptions {
            specs: vec!["Subject".into()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("not a variable of the fixed-effects terms"),
        "{unknown}"
    );
    // A numeric variable with at values is a grid dimension.
    let at = m
        .emmeans(&EmmeansOptions {
            specs: vec!["Days".into()],
            at: vec![("Days".into(), vec![0.0, 9.0])],
            contrast: Some(EmmContrast::Pairwise),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(at.means.len(), 2);
    // The difference of the predictions at 9 and 0 days is 9 slopes.
    let slope = m.fixed[1].estimate;
    assert!((at.contrasts[0].estimate + 9.0 * slope).abs() < 1e-9);
}
