//! GLMM profile and bootstrap intervals through the fitted object: the profile against lme4's
//! `confint(fit, method = "profile")` on cbpp (the reference of `cargo xtask validate`,
//! `tests/reference/glmm_intervals/cbpp.json`), the bootstrap's independence of the thread
//! count, and the negative binomial draws' moments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel::{
    Family, GlmerOptions, IntervalMethod, Link, SimulateOptions, dataset, glmer, glmer_nb,
};

const CBPP: &str = "cbind(incidence, size - incidence) ~ period + (1 | herd)";

fn reference(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../../tests/reference/glmm_intervals/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn cbpp_profile_intervals_match_lme4() {
    let r = reference("cbpp");
    let cbpp = dataset("cbpp").unwrap();
    let m = glmer(CBPP, &cbpp, Family::Binomial, &GlmerOptions::default()).unwrap();
    let ci = m.confint(IntervalMethod::Profile, 0.95).unwrap();
    let refs = r["profile"].as_array().unwrap();
    assert_eq!(ci.len(), refs.len());
    for (ours, rf) in ci.iter().zip(refs) {
        assert_eq!(ours.term, rf["term"].as_str().unwrap());
        let (lo, hi) = (rf["lower"].as_f64().unwrap(), rf["upper"].as_f64().unwrap());
        let width = hi - lo;
        for (a, b) in [(ours.lower, lo), (ours.upper, hi)] {
            let rel = (a - b).abs() / b.abs().max(width);
            assert!(rel < 1e-3, "{}: {a} vs lme4 {b} (rel {rel:.1e})", ours.term);
        }
    }
}

#[test]
fn glmm_bootstrap_does_not_depend_on_the_thread_count() {
    let cbpp = dataset("cbpp").unwrap();
    let m = glmer(CBPP, &cbpp, Family::Binomial, &GlmerOptions::default()).unwrap();
    let one = m.bootstrap(12, 7, Some(1)).unwrap();
    let two = m.bootstrap(12, 7, Some(2)).unwrap();
    assert_eq!(one, two);
    assert_eq!(
        one.names,
        [
            "sd_(Intercept)|herd",
            "(Intercept)",
            "period2",
            "period3",
            "period4"
        ]
    );
    assert_eq!(one.replicates.len() + one.failed, 12);
    // Another seed gives other replicates.
    let other = m.bootstrap(12, 8, Some(2)).unwrap();
    assert_ne!(one.replicates, other.replicates);
    // Too few replicates for a 95 % percentile interval still gives one (the extremes), and a
    // bad level is refused.
    assert!(
        m.confint(IntervalMethod::Bootstrap { nsim: 4, seed: 1 }, 1.5)
            .is_err()
    );
}

#[test]
fn negative_binomial_simulations_have_the_nb2_mean_and_variance() {
    // One group level with a tiny spread: y ≈ NB2(μ, θ) with μ = exp(β₀).
    let csv = "y,g\n0,a\n3,a\n9,a\n1,b\n0,b\n2,b\n7,c\n12,c\n1,c\n0,d\n5,d\n4,d\n";
    let data = multilevel::frame::DataFrame::from_csv_str(
        "counts",
        csv,
        &multilevel::frame::ReadOptions::default(),
    )
    .unwrap();
    let m = glmer_nb(
        "y ~ 1 + (1 | g)",
        &data,
        Link::Log,
        &GlmerOptions::default(),
    )
    .unwrap();
    let theta = m.nb_search().unwrap().theta;
    let sims = m
        .simulate(&SimulateOptions {
            nsim: 20_000,
            seed: 3,
            re_form: multilevel::SimulateReForm::All,
        })
        .unwrap();
    // Row 1 (group a): mean μ₁ = fitted value with the conditional mode, NB2 variance.
    let mu = m.fitted()[0];
    let v: Vec<f64> = sims.iter().map(|s| s[0]).collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let want_var = mu + mu * mu / theta;
    assert!(v.iter().all(|x| *x >= 0.0 && x.fract() == 0.0));
    assert!(
        (mean - mu).abs() < 4.0 * (want_var / n).sqrt(),
        "mean {mean} vs {mu}"
    );
    // The variance's Monte-Carlo error is a few per cent at this size for these shapes.
    assert!(
        (var / want_var - 1.0).abs() < 0.1,
        "var {var} vs {want_var} (θ = {theta})"
    );
}
