//! Responses simulated from fitted models, checked by their moments over many draws against
//! the fitted model (not by equality with R's draws, which use another generator): with the
//! conditional modes, the mean of row i is the fitted mean μ̂ᵢ and its variance the family's
//! (σ̂² for an LMM, μ(1−μ)/w binomial, μ Poisson); with new random effects, an LMM's row has
//! mean xᵢ'β̂ and variance zᵢ'σ̂²ΛΛ'zᵢ + σ̂². Bounds are 5 standard errors of the sample
//! moments; the draws are fixed by the seed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel::{
    Family, FitOptions, GlmerOptions, MixedModel, SimulateOptions, SimulateReForm, dataset, glmer,
    lmer,
};

fn moments(sims: &[Vec<f64>], i: usize) -> (f64, f64) {
    let n = sims.len() as f64;
    let m = sims.iter().map(|y| y[i]).sum::<f64>() / n;
    let v = sims.iter().map(|y| (y[i] - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v)
}

/// |mean − μ| within 5 se, and the variance within 5 of its standard errors (normal-theory
/// √(2/n) relative, widened for the discrete families by `var_slack`).
fn check(what: &str, sims: &[Vec<f64>], i: usize, mu: f64, var: f64, var_slack: f64) {
    let n = sims.len() as f64;
    let (m, v) = moments(sims, i);
    assert!(
        (m - mu).abs() < 5.0 * (var / n).sqrt(),
        "{what} row {i}: mean {m} expected {mu} (var {var})"
    );
    assert!(
        (v / var - 1.0).abs() < 5.0 * var_slack * (2.0 / n).sqrt(),
        "{what} row {i}: variance {v} expected {var}"
    );
}

#[test]
fn lmm_simulations_have_the_model_moments() {
    let data = dataset("sleepstudy").unwrap();
    let m = lmer(
        "Reaction ~ Days + (Days | Subject)",
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let nsim = 4000;
    let opts = SimulateOptions {
        nsim,
        seed: 42,
        re_form: SimulateReForm::All,
    };
    let sims = m.simulate(&opts).unwrap();
    assert_eq!(sims.len(), nsim);
    assert_eq!(sims[0].len(), 180);
    let s2 = m.sigma().powi(2);
    for i in [0, 57, 179] {
        check("conditional", &sims, i, m.fitted()[i], s2, 1.0);
    }
    // New random effects: var = [1, d] σ²ΛΛ' [1, d]' + σ² from the variance components.
    let sims = m
        .simulate(&SimulateOptions {
            re_form: SimulateReForm::None,
            ..opts
        })
        .unwrap();
    let r = &m.random;
    let (v0, v1) = (r[0].variance, r[1].variance);
    let c01 = m.correlations[0].corr * r[0].std_dev * r[1].std_dev;
    let beta = m.fixef();
    for i in [0, 9, 95] {
        let d = m.design().x[(i, 1)];
        let var = v0 + 2.0 * d * c01 + d * d * v1 + s2;
        check("unconditional", &sims, i, beta[0] + beta[1] * d, var, 1.0);
    }
    // Reproducible from the seed; another seed gives other draws.
    let again = m
        .simulate(&SimulateOptions {
            nsim: 3,
            seed: 42,
            re_form: SimulateReForm::None,
        })
        .unwrap();
    assert_eq!(again[..], sims[..3]);
    let other = m
        .simulate(&SimulateOptions {
            nsim: 3,
            seed: 43,
            re_form: SimulateReForm::None,
        })
        .unwrap();
    assert_ne!(other[0], sims[0]);
    assert!(m.simulate(&SimulateOptions { nsim: 0, ..opts }).is_err());
}

#[test]
fn binomial_simulations_have_the_model_moments() {
    let cbpp = dataset("cbpp").unwrap();
    let m = glmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        &cbpp,
        Family::Binomial,
        &GlmerOptions::default(),
    )
    .unwrap();
    let sims = m
        .simulate(&SimulateOptions {
            nsim: 4000,
            seed: 7,
            re_form: SimulateReForm::All,
        })
        .unwrap();
    let trials = m.design().trials.clone().unwrap();
    for i in [0, 10, 40] {
        let mu = m.fitted()[i];
        let var = mu * (1.0 - mu) / trials[i];
        // The sample variance of a binomial proportion has relative se √(2/n + κ/n), κ the
        // excess kurtosis; 2x the normal-theory bound covers it for these μ and trials.
        check("binomial", &sims, i, mu, var, 2.0);
        // Proportions of whole successes.
        assert!(
            sims.iter()
                .all(|y| (y[i] * trials[i] - (y[i] * trials[i]).round()).abs() < 1e-9)
        );
    }
}

#[test]
fn poisson_simulations_have_the_model_moments() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = multilevel::read_csv(&root.join("tests/data/poisson_crossed.csv"), &[]).unwrap();
    let m = glmer(
        "y ~ x + (1 | subj) + (1 | item)",
        &data,
        Family::Poisson,
        &GlmerOptions::default(),
    )
    .unwrap();
    let sims = m
        .simulate(&SimulateOptions {
            nsim: 4000,
            seed: 11,
            re_form: SimulateReForm::All,
        })
        .unwrap();
    let mut checked = 0;
    for i in 0..m.nobs() {
        let mu = m.fitted()[i];
        if checked < 4 && mu > 0.5 {
            // Poisson: variance = mean; the sample variance's relative se is √(2/n + 1/(μn)).
            check("poisson", &sims, i, mu, mu, (1.0 + 0.5 / mu).sqrt());
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
    assert!(sims.iter().flatten().all(|y| *y >= 0.0 && y.fract() == 0.0));
}
