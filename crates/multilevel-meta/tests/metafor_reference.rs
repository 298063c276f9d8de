//! Every fit in tests/reference/meta/*.json (metafor's rma(), written by
//! xtask/r/reference_meta.R) against ours: each number to 1e-6 relative, τ² and everything
//! that depends on it for the iterative estimators (ML, REML, PM, EB) to 1e-5.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_meta::{MetaResult, Method, RmaOptions, Test, rma_matrix};
use serde_json::Value;
use std::path::PathBuf;

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/meta")
}

fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => Vec::new(),
    }
}

struct Checker {
    name: String,
    failures: Vec<String>,
    count: usize,
    max_rel: f64,
}

impl Checker {
    fn close(&mut self, what: &str, ours: f64, theirs: f64, tol: f64) {
        self.count += 1;
        if theirs != 0.0 && theirs.is_finite() {
            self.max_rel = self.max_rel.max((ours - theirs).abs() / theirs.abs());
        }
        let ok = if theirs.is_nan() {
            ours.is_nan()
        } else {
            let scale = theirs.abs().max(1e-300);
            // Quantities that are exactly 0 in R (τ² at the boundary) must be tiny here.
            (ours - theirs).abs() <= tol * scale || (theirs == 0.0 && ours.abs() < 1e-12)
        };
        if !ok {
            self.failures.push(format!(
                "{}: {what}: ours {ours:e} metafor {theirs:e}",
                self.name
            ));
        }
    }
    fn close_all(&mut self, what: &str, ours: &[f64], theirs: &[f64], tol: f64) {
        assert_eq!(ours.len(), theirs.len(), "{}: {what} length", self.name);
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            self.close(&format!("{what}[{i}]"), *a, *b, tol);
        }
    }
}

fn compare(c: &mut Checker, fit: &MetaResult, r: &Value, tol: f64) {
    let coef = &fit.coefficients;
    c.close_all(
        "beta",
        &coef.iter().map(|x| x.estimate).collect::<Vec<_>>(),
        &nums(&r["beta"]),
        tol,
    );
    c.close_all(
        "se",
        &coef.iter().map(|x| x.std_error).collect::<Vec<_>>(),
        &nums(&r["se"]),
        tol,
    );
    c.close_all(
        "zval",
        &coef.iter().map(|x| x.statistic).collect::<Vec<_>>(),
        &nums(&r["zval"]),
        tol,
    );
    c.close_all(
        "pval",
        &coef.iter().map(|x| x.p_value).collect::<Vec<_>>(),
        &nums(&r["pval"]),
        tol,
    );
    c.close_all(
        "ci.lb",
        &coef.iter().map(|x| x.ci_lower).collect::<Vec<_>>(),
        &nums(&r["ci_lb"]),
        tol,
    );
    c.close_all(
        "ci.ub",
        &coef.iter().map(|x| x.ci_upper).collect::<Vec<_>>(),
        &nums(&r["ci_ub"]),
        tol,
    );
    let vb: Vec<f64> = r["vb"].as_array().unwrap().iter().flat_map(nums).collect();
    c.close_all("vb", &fit.vcov, &vb, tol);
    c.close("tau2", fit.tau2, r["tau2"].as_f64().unwrap(), tol);
    match r["se_tau2"].as_f64() {
        Some(se) => c.close("se.tau2", fit.se_tau2.unwrap_or(f64::NAN), se, tol),
        None => assert!(fit.se_tau2.is_none(), "{}: se.tau2 should be NA", c.name),
    }
    c.close("I2", fit.i2, r["I2"].as_f64().unwrap(), tol);
    c.close("H2", fit.h2, r["H2"].as_f64().unwrap(), tol);
    match r["R2"].as_f64() {
        Some(r2) => c.close("R2", fit.r2.unwrap_or(f64::NAN), r2, tol),
        None => assert!(fit.r2.is_none(), "{}: R2 should be absent", c.name),
    }
    c.close("QE", fit.q, r["QE"].as_f64().unwrap(), 1e-6);
    c.close("QEp", fit.q_p, r["QEp"].as_f64().unwrap(), 1e-6);
    assert_eq!(fit.q_df, fit.k - fit.p);
    let int_only = r["pred_x"].as_array().unwrap().len() == 1;
    if int_only {
        assert!(fit.moderators.is_none());
    } else {
        let m = fit.moderators.as_ref().unwrap();
        c.close("QM", m.statistic, r["QM"].as_f64().unwrap(), tol);
        c.close("QMp", m.p_value, r["QMp"].as_f64().unwrap(), tol);
        assert_eq!(m.df1 as f64, nums(&r["QMdf"])[0], "{}: QMdf", c.name);
    }
    let fs = &fit.fit_stats;
    c.close_all(
        "fit.stats ML",
        &[
            fs.loglik_ml,
            fs.deviance_ml,
            fs.aic_ml,
            fs.bic_ml,
            fs.aicc_ml,
        ],
        &nums(&r["fit_stats_ML"]),
        tol,
    );
    c.close_all(
        "fit.stats REML",
        &[
            fs.loglik_reml,
            fs.deviance_reml,
            fs.aic_reml,
            fs.bic_reml,
            fs.aicc_reml,
        ],
        &nums(&r["fit_stats_REML"]),
        tol,
    );
    c.close_all(
        "weights random",
        &fit.studies
            .iter()
            .map(|s| s.weight_random)
            .collect::<Vec<_>>(),
        &nums(&r["weights_random"]),
        tol,
    );
    c.close_all(
        "weights fixed",
        &fit.studies
            .iter()
            .map(|s| s.weight_fixed)
            .collect::<Vec<_>>(),
        &nums(&r["weights_fixed"]),
        1e-6,
    );
    let pr = fit.predict(&nums(&r["pred_x"])).unwrap();
    c.close("pred", pr.pred, r["pred"].as_f64().unwrap(), tol);
    c.close("pred se", pr.se, r["pred_se"].as_f64().unwrap(), tol);
    c.close(
        "pred ci.lb",
        pr.ci_lower,
        r["pred_ci_lb"].as_f64().unwrap(),
        tol,
    );
    c.close(
        "pred ci.ub",
        pr.ci_upper,
        r["pred_ci_ub"].as_f64().unwrap(),
        tol,
    );
    // metafor gives no prediction interval for fixed-effect models (it equals the CI).
    if fit.method == Method::Fe {
        assert!(r["pred_pi_lb"].is_null() && fit.pi_lower.is_none());
        c.close("pi.lb = ci.lb", pr.pi_lower, pr.ci_lower, 1e-12);
    } else {
        c.close("pi.lb", pr.pi_lower, r["pred_pi_lb"].as_f64().unwrap(), tol);
        c.close("pi.ub", pr.pi_upper, r["pred_pi_ub"].as_f64().unwrap(), tol);
    }
    if int_only && fit.method != Method::Fe {
        c.close(
            "pi_lower",
            fit.pi_lower.unwrap(),
            r["pred_pi_lb"].as_f64().unwrap(),
            tol,
        );
        c.close(
            "pi_upper",
            fit.pi_upper.unwrap(),
            r["pred_pi_ub"].as_f64().unwrap(),
            tol,
        );
        c.close("estimate", fit.estimate, nums(&r["beta"])[0], tol);
    }
}

#[test]
fn every_metafor_fit_matches() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(reference_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "reference files missing");
    let mut failures = Vec::new();
    let mut fits = 0;
    let mut numbers = 0;
    let mut worst: f64 = 0.0;
    for f in &files {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let yi = nums(&d["yi"]);
        let vi = nums(&d["vi"]);
        let slab: Vec<String> = d["slab"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        for model in d["models"].as_array().unwrap() {
            let mut x = vec![vec![1.0; yi.len()]];
            if let Some(cols) = model["x_columns"].as_array() {
                x.extend(cols.iter().map(nums));
            }
            let names: Vec<String> = model["x_names"]
                .as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_else(|| vec![model["x_names"].as_str().unwrap().to_string()]);
            for r in model["fits"].as_array().unwrap() {
                let method = Method::parse(r["method"].as_str().unwrap()).unwrap();
                let test = Test::parse(r["test"].as_str().unwrap()).unwrap();
                let opts = RmaOptions {
                    method,
                    test,
                    ..RmaOptions::default()
                };
                let name = format!(
                    "{} {} {} {}",
                    d["name"].as_str().unwrap(),
                    model["mods"].as_str().unwrap_or("~ 1"),
                    method.name(),
                    test.name()
                );
                let fit = rma_matrix(&yi, &vi, &x, &names, true, &slab, &opts)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(fit.k as u64, r["k"].as_u64().unwrap());
                assert_eq!(fit.p as u64, r["p"].as_u64().unwrap());
                let coef_names: Vec<&str> =
                    fit.coefficients.iter().map(|c| c.name.as_str()).collect();
                let ref_names: Vec<&str> = r["coef_names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect();
                assert_eq!(coef_names, ref_names, "{name}");
                let iterative =
                    matches!(method, Method::Ml | Method::Reml | Method::Pm | Method::Eb);
                let tol = if iterative { 1e-5 } else { 1e-6 };
                let mut c = Checker {
                    name,
                    failures: Vec::new(),
                    count: 0,
                    max_rel: 0.0,
                };
                compare(&mut c, &fit, r, tol);
                numbers += c.count;
                worst = worst.max(c.max_rel);
                failures.extend(c.failures);
                fits += 1;
            }
        }
    }
    println!(
        "{fits} metafor fits, {numbers} numbers compared, max relative difference {worst:.2e}"
    );
    assert!(
        fits >= 100,
        "expected every method x test x model, got {fits}"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
