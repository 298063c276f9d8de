//! Every lme4 `glmer` reference in `tests/reference/glmm` (written by
//! `xtask/r/reference_glmm.R`) is refitted and compared: logLik within 1e-4 (or higher),
//! β within 1e-3 relative (or a better objective), standard errors within 1e-2 relative,
//! θ, deviance, σ, AIC/BIC, conditional modes and conditional SDs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use multilevel_glmm::glmer_full;

#[test]
fn every_glmm_reference_matches_lme4() {
    let files = reference_files();
    assert!(
        files.len() >= 6,
        "expected the GLMM references, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in files {
        let (r, design, fam, opts) = load(&path);
        let name = r["name"].as_str().unwrap().to_string();
        let start = std::time::Instant::now();
        let fit = glmer_full(design, &fam.build(), &opts).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let res = &fit.result;
        let ref_ll = r["loglik"].as_f64().unwrap();
        let dll = res.loglik - ref_ll;
        let better = dll > 1e-6;
        let beta: Vec<f64> = res.fixed.iter().map(|f| f.estimate).collect();
        let se: Vec<f64> = res.fixed.iter().map(|f| f.std_error).collect();
        let d_beta = max_rel(&beta, &f64s(&r["beta"]), 1e-2);
        let d_se = max_rel(&se, &f64s(&r["se"]), 1e-8);
        let d_theta = max_rel(&res.theta, &f64s(&r["theta"]), 1e-2);
        let d_dev = max_rel(
            &[res.deviance.unwrap()],
            &[r["deviance"].as_f64().unwrap()],
            1.0,
        );
        let d_sigma = max_rel(&[res.sigma], &[r["sigma"].as_f64().unwrap()], 1e-8);
        let d_aic = (res.aic - r["aic"].as_f64().unwrap()).abs();
        let d_bic = (res.bic - r["bic"].as_f64().unwrap()).abs();
        let mut d_re = 0.0f64;
        let mut d_sd = 0.0f64;
        for e in r["ranef"].as_array().unwrap() {
            let g = e["group"].as_str().unwrap();
            let ours = res.ranef.iter().find(|t| t.group == g).unwrap();
            assert_eq!(strings(&e["levels"]), ours.levels, "{name}: levels of {g}");
            let reference: Vec<f64> = e["values"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(f64s)
                .collect();
            let mine: Vec<f64> = ours.values.iter().flatten().copied().collect();
            d_re = d_re.max(max_rel(&mine, &reference, 0.05));
            let ref_sd: Vec<f64> = e["condsd"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(f64s)
                .collect();
            let k = ours.terms.len();
            let my_sd: Vec<f64> = ours
                .cond_var
                .iter()
                .flat_map(|m| (0..k).map(move |a| m[a * k + a].sqrt()))
                .collect();
            d_sd = d_sd.max(max_rel(&my_sd, &ref_sd, 1e-8));
        }
        let fitted_ok = max_rel(
            &fit.mu.iter().take(10).copied().collect::<Vec<_>>(),
            &f64s(&r["fitted_head"]),
            1e-3,
        );
        println!(
            "{name:28} ll {:>14.6} lme4 {:>14.6} dll {dll:+.2e} beta {d_beta:.1e} se {d_se:.1e} theta {d_theta:.1e} dev {d_dev:.1e} sigma {d_sigma:.1e} aic {d_aic:.1e} bic {d_bic:.1e} re {d_re:.1e} condsd {d_sd:.1e} mu {fitted_ok:.1e} {:?} t {:.2} ms (lme4 {} s)",
            res.loglik,
            ref_ll,
            fit.vcov_source,
            secs * 1e3,
            r["time_s"]
        );
        let mut bad = Vec::new();
        if dll < -1e-4 {
            bad.push("loglik");
        }
        if d_beta > 1e-3 && !better {
            bad.push("beta");
        }
        if d_theta > 1e-3 && !better {
            bad.push("theta");
        }
        if d_se > 1e-2 {
            bad.push("se");
        }
        if d_dev > 1e-4 {
            bad.push("deviance");
        }
        if d_sigma > 1e-3 {
            bad.push("sigma");
        }
        if d_aic > 2e-4 + 2.0 * dll.abs() || d_bic > 2e-4 + 2.0 * dll.abs() {
            bad.push("aic/bic");
        }
        if d_re > 1e-2 || d_sd > 1e-2 || fitted_ok > 1e-3 {
            bad.push("ranef/condsd/fitted");
        }
        if res.nobs as u64 != r["nobs"].as_u64().unwrap() {
            bad.push("nobs");
        }
        if res.singular != r["singular"].as_bool().unwrap() {
            bad.push("singular");
        }
        let names: Vec<String> = res.fixed.iter().map(|f| f.term.clone()).collect();
        if names != strings(&r["beta_names"]) {
            bad.push("beta names");
        }
        if !bad.is_empty() {
            failures.push(format!("{name}: {}", bad.join(", ")));
        }
    }
    assert!(failures.is_empty(), "mismatches: {failures:#?}");
}
