//! The observed-Hessian Laplace against lme4: for a binomial GLMM with the canonical logit link
//! the observed information equals the expected one, so the objective is glmer's and the fit
//! must reproduce lme4's cbpp references (committed JSON from `xtask/r/reference_glmm.R`).

use super::*;
use multilevel_design::{DesignOptions, build_design_with};
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use serde_json::Value;

/// `yᵢ ~ Binomial(nᵢ, logit⁻¹ ηᵢ)` with `y` the proportion, binomial coefficient included.
struct BinomialLogit {
    y: Vec<f64>,
    n: Vec<f64>,
    lchoose: Vec<f64>,
}

impl BinomialLogit {
    fn new(y: &[f64], n: &[f64]) -> Self {
        use statrs::function::gamma::ln_gamma;
        let lchoose = y
            .iter()
            .zip(n)
            .map(|(p, t)| {
                let k = (p * t).round();
                ln_gamma(t + 1.0) - ln_gamma(k + 1.0) - ln_gamma(t - k + 1.0)
            })
            .collect();
        BinomialLogit {
            y: y.to_vec(),
            n: n.to_vec(),
            lchoose,
        }
    }
}

impl ConditionalLikelihood for BinomialLogit {
    fn n_extra(&self) -> usize {
        0
    }
    fn derivatives(&self, _phi: &[f64], eta: &[f64], out: &mut [LogLikDerivs]) -> bool {
        for i in 0..eta.len() {
            let e = eta[i];
            let p = 1.0 / (1.0 + (-e).exp());
            // log p = −log(1 + e^{−η}), log(1 − p) = −log(1 + e^{η}).
            let lp = -(-e).exp().ln_1p();
            let lq = -e.exp().ln_1p();
            let k = self.y[i] * self.n[i];
            out[i] = LogLikDerivs {
                value: self.lchoose[i] + k * lp + (self.n[i] - k) * lq,
                d1: k - self.n[i] * p,
                d2: -self.n[i] * p * (1.0 - p),
            };
        }
        true
    }
    fn extra_start(&self) -> Vec<f64> {
        Vec::new()
    }
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cbpp(reference: &str) -> (Value, Design) {
    let path = root().join("tests/reference/glmm").join(reference);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let opts = ReadOptions {
        factor_columns: vec!["herd".into(), "period".into()],
        ordered_columns: Vec::new(),
    };
    let d = multilevel_datasets::get("cbpp").unwrap();
    let data = DataFrame::from_csv_str(d.name, d.csv, &opts).unwrap();
    let formula = multilevel_formula::parse(r["formula"].as_str().unwrap()).unwrap();
    let mf = ModelFrame::new(&formula, &data, &FrameOptions::default()).unwrap();
    let design = build_design_with(&formula, &mf, &DesignOptions { allow_n: true }).unwrap();
    (r, design)
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn laplace_with_the_observed_hessian_reproduces_glmer_for_a_canonical_link() {
    let (r, design) = cbpp("cbpp_laplace.json");
    let lik = BinomialLogit::new(&design.y, design.trials.as_ref().unwrap());
    let fit = fit_observed(&design, &lik, &ObservedOptions::default()).unwrap();
    // Our maximum is 2.8e-4 above lme4's logLik (also with glmer's bobyqa at rhoend 1e-10,
    // -92.0265663874): not below it, and within 5e-4.
    let ll = r["loglik"].as_f64().unwrap();
    assert!(
        fit.loglik >= ll - 1e-6 && fit.loglik - ll < 5e-4,
        "{} vs {ll}",
        fit.loglik
    );
    let beta = nums(&r["beta"]);
    let se = nums(&r["se"]);
    for a in 0..beta.len() {
        assert!(
            (fit.beta[a] - beta[a]).abs() < 2e-2 * se[a],
            "beta {a}: {} vs {}",
            fit.beta[a],
            beta[a]
        );
        // lme4's SEs are from its own finite-difference Hessian in (θ, β).
        assert!(
            (fit.beta_se[a] / se[a] - 1.0).abs() < 2e-2,
            "se {a}: {} vs {}",
            fit.beta_se[a],
            se[a]
        );
    }
    let theta = nums(&r["theta"]);
    assert!((fit.theta[0] - theta[0]).abs() < 1e-3, "{:?}", fit.theta);
    assert_eq!(fit.guarded_weights, 0);
    assert!(fit.converged, "{}", fit.message);
}

#[test]
fn adaptive_quadrature_reproduces_glmer_nagq25() {
    let (r, design) = cbpp("cbpp_agq25.json");
    let lik = BinomialLogit::new(&design.y, design.trials.as_ref().unwrap());
    let opts = ObservedOptions {
        n_agq: 25,
        ..ObservedOptions::default()
    };
    let fit = fit_observed(&design, &lik, &opts).unwrap();
    // lme4's AGQ deviance sums unit deviances, i.e. −2(ℓ − ℓ_sat): its "logLik" is ours minus
    // the saturated log-likelihood ℓ_sat.
    let n = design.trials.as_ref().unwrap();
    let sat: f64 = design
        .y
        .iter()
        .zip(n)
        .zip(&lik.lchoose)
        .map(|((p, t), lc)| {
            let k = p * t;
            let xlogy = |a: f64, b: f64| if a == 0.0 { 0.0 } else { a * b.ln() };
            lc + xlogy(k, p.to_owned()) + xlogy(t - k, 1.0 - p)
        })
        .sum();
    let ll = r["loglik"].as_f64().unwrap();
    assert!(
        (fit.loglik - sat - ll).abs() < 1e-4,
        "{} - {sat} vs {ll}",
        fit.loglik
    );
    let beta = nums(&r["beta"]);
    let se = nums(&r["se"]);
    for a in 0..beta.len() {
        assert!((fit.beta[a] - beta[a]).abs() < 2e-2 * se[a], "beta {a}");
    }
}

#[test]
fn the_laplace_objective_equals_the_agq_one_with_one_node_and_the_modes_are_stationary() {
    let (_, design) = cbpp("cbpp_laplace.json");
    let lik = BinomialLogit::new(&design.y, design.trials.as_ref().unwrap());
    let mut lap = ObservedLaplace::new(&design, &lik);
    let beta = [-1.4, -1.0, -1.1, -1.6];
    let theta = [0.64];
    let one = gh_rule(1);
    let a = lap.objective(&[], &beta, &theta, None);
    let b = lap.objective(&[], &beta, &theta, Some(&one));
    assert!((a - b).abs() < 1e-12, "{a} {b}");
    // At the modes the gradient of h(u) = −2Σℓ + ‖u‖², 2(u − A'g), vanishes.
    let m = lap.modes(&[], &beta, &theta).unwrap();
    let t = &design.terms[0];
    let mut d = vec![LogLikDerivs::default(); design.nobs()];
    assert!(lik.derivatives(&[], &m.eta, &mut d));
    let mut grad: Vec<f64> = m.u[0].clone();
    for i in 0..design.nobs() {
        grad[t.refs[i] as usize] -= theta[0] * t.z[i] * d[i].d1;
    }
    assert!(grad.iter().all(|g| g.abs() < 1e-9), "{grad:?}");
}

#[test]
fn agq_with_two_terms_is_one_clear_error() {
    let (_, mut design) = cbpp("cbpp_laplace.json");
    // A second scalar term (period as a grouping factor).
    design.terms.push(design.terms[0].clone());
    let lik = BinomialLogit::new(&design.y, design.trials.as_ref().unwrap());
    let opts = ObservedOptions {
        n_agq: 5,
        ..ObservedOptions::default()
    };
    let err = fit_observed(&design, &lik, &opts).unwrap_err().to_string();
    assert!(
        err.contains("exactly one scalar random-effects term"),
        "{err}"
    );
    assert!(!err.contains('\n'));
}

/// The dense `log|A'WA + I|` used when some observed weights are negative, against the
/// solver's factor (and the diagonal formula) with positive weights: checks its assembly of
/// `A = ZΛ` for scalar, crossed and vector-valued terms.
#[test]
fn the_dense_laplace_determinant_matches_the_solvers() {
    let opts = ReadOptions {
        factor_columns: vec!["herd".into(), "period".into()],
        ordered_columns: Vec::new(),
    };
    let d = multilevel_datasets::get("cbpp").unwrap();
    let data = DataFrame::from_csv_str(d.name, d.csv, &opts).unwrap();
    for (formula, theta) in [
        (
            "cbind(incidence, size - incidence) ~ 1 + (1 | herd)",
            vec![0.8],
        ),
        (
            "cbind(incidence, size - incidence) ~ 1 + (1 | herd) + (1 | period)",
            vec![0.7, 0.4],
        ),
        (
            "cbind(incidence, size - incidence) ~ 1 + (1 + size | herd)",
            vec![0.9, -0.05, 0.08],
        ),
    ] {
        let f = multilevel_formula::parse(formula).unwrap();
        let mf = ModelFrame::new(&f, &data, &FrameOptions::default()).unwrap();
        let design = build_design_with(&f, &mf, &DesignOptions { allow_n: true }).unwrap();
        let lik = BinomialLogit::new(&design.y, design.trials.as_deref().unwrap());
        let mut lap = ObservedLaplace::new(&design, &lik);
        let n = design.nobs();
        let w: Vec<f64> = (0..n).map(|i| 0.3 + 0.1 * (i % 7) as f64).collect();
        for (dv, wi) in lap.derivs.iter_mut().zip(&w) {
            dv.d2 = -wi;
        }
        let lambda = design.lambdas(&theta);
        let dense = lap
            .dense_ld(&lambda)
            .unwrap_or_else(|| panic!("{formula}: {lambda:?}"));
        let z: Vec<f64> = (0..n).map(|i| ((i * 5) % 3) as f64 - 0.7).collect();
        let step = lap
            .solver
            .solve(&design, &theta, &w, &z)
            .unwrap_or_else(|| panic!("{formula}: solver"));
        assert!(
            (dense - step.ld_l2).abs() < 1e-10 * step.ld_l2.abs().max(1.0),
            "{formula}: dense {dense} vs solver {}",
            step.ld_l2
        );
        // And through laplace_ld as if a weight had been guarded (the exact path).
        let exact = lap.laplace_ld(&lambda, f64::NAN, 1);
        assert!((exact - step.ld_l2).abs() < 1e-10 * step.ld_l2.abs().max(1.0));
    }
}
