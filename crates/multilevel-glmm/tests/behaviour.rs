//! Behaviour beyond the lme4 references: clear errors, the Gaussian/identity redirect, the
//! overdispersion check, nAGQ = 0, and consistency between Laplace and AGQ with one node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use multilevel_glmm::{
    FamilyKind, FamilySpec, GlmmError, GlmmFit, GlmmOptions, LinkKind, VcovSource, glmer,
    glmer_full,
};

fn cbpp() -> (
    serde_json::Value,
    multilevel_design::Design,
    FamilySpec,
    GlmmOptions,
) {
    load(&repo_root().join("tests/reference/glmm/cbpp_laplace.json"))
}

#[test]
fn agq_converges_as_nodes_increase() {
    // The AGQ approximation of the marginal likelihood settles as the number of nodes grows;
    // nAGQ = 25 is lme4's reference value.
    let (_, design, fam, _) = cbpp();
    let r25 = load(&repo_root().join("tests/reference/glmm/cbpp_agq25.json")).0;
    let ll = |n_agq: usize| {
        let opts = GlmmOptions {
            n_agq,
            ..GlmmOptions::default()
        };
        glmer(design.clone(), &fam, &opts).unwrap().loglik
    };
    let (l9, l15, l25) = (ll(9), ll(15), ll(25));
    assert!(
        (l15 - l25).abs() < 1e-3 && (l9 - l25).abs() < 1e-2,
        "{l9} {l15} {l25}"
    );
    assert!((l25 - r25["loglik"].as_f64().unwrap()).abs() < 1e-4);
}

#[test]
fn nagq_above_one_needs_a_single_scalar_term() {
    let (_, design, fam, _) = load(&repo_root().join("tests/reference/glmm/cbpp_obs.json"));
    let opts = GlmmOptions {
        n_agq: 5,
        ..GlmmOptions::default()
    };
    let err = glmer(design, &fam, &opts).unwrap_err();
    assert!(matches!(err, GlmmError::Quadrature(_)));
    assert!(
        err.to_string()
            .contains("single, scalar random-effects term"),
        "{err}"
    );
}

#[test]
fn nagq_zero_profiles_beta_and_uses_rx_standard_errors() {
    let (r, design, fam, _) = cbpp();
    let opts = GlmmOptions {
        n_agq: 0,
        ..GlmmOptions::default()
    };
    let fit = glmer_full(design, &fam.build(), &opts).unwrap();
    assert_eq!(fit.vcov_source, VcovSource::Rx);
    // Stage 1 is close to, but not at, the Laplace optimum (β profiled without its own
    // log-determinant): within 0.1 of lme4's Laplace logLik, and no better than it.
    let ll = fit.result.loglik;
    let ref_ll = r["loglik"].as_f64().unwrap();
    assert!((ll - ref_ll).abs() < 0.5, "{ll} vs {ref_ll}");
    // The RX standard errors are within a few percent of the Hessian ones for cbpp.
    let se_ref = f64s(&r["se_rx"]);
    let se: Vec<f64> = fit.result.fixed.iter().map(|f| f.std_error).collect();
    assert!(max_rel(&se, &se_ref, 1e-8) < 0.05, "{se:?} vs {se_ref:?}");
}

#[test]
fn binomial_fit_reports_overdispersion_statistics() {
    let (r, design, fam, _) = cbpp();
    let fit = glmer_full(design, &fam.build(), &GlmmOptions::default()).unwrap();
    let od = fit.overdispersion.expect("cbind binomial gets the check");
    assert!((od.chisq - r["pearson_chisq"].as_f64().unwrap()).abs() < 1e-3);
    assert_eq!(od.df, r["df_resid"].as_f64().unwrap());
    // cbpp's Pearson χ²/df is about 1.3: below the default threshold, so no warning.
    assert!(od.ratio > 1.0 && od.ratio < 1.5, "{}", od.ratio);
    assert!(
        !fit.result
            .warnings
            .iter()
            .any(|w| w.contains("overdispersion"))
    );
    let strict = GlmmOptions {
        overdispersion_threshold: 1.0,
        ..GlmmOptions::default()
    };
    let (_, design, fam, _) = cbpp();
    let fit = glmer(design, &fam, &strict).unwrap();
    assert!(fit.warnings.iter().any(|w| w.contains("overdispersion")));
}

#[test]
fn residual_types_follow_their_definitions() {
    let (r, design, fam, _) = cbpp();
    let fit = glmer_full(design, &fam.build(), &GlmmOptions::default()).unwrap();
    let head = |v: &[f64]| v.iter().take(10).copied().collect::<Vec<_>>();
    assert!(
        max_rel(
            &head(&fit.deviance_residuals),
            &f64s(&r["resid_dev_head"]),
            1e-2
        ) < 1e-3
    );
    assert!(
        max_rel(
            &head(&fit.pearson_residuals),
            &f64s(&r["resid_pearson_head"]),
            1e-2
        ) < 1e-3
    );
    assert!(
        max_rel(
            &head(&fit.response_residuals),
            &f64s(&r["resid_response_head"]),
            1e-2
        ) < 1e-3
    );
    assert!(max_rel(&head(&fit.eta), &f64s(&r["eta_head"]), 1e-2) < 1e-3);
    let dev: f64 = fit.deviance_residuals.iter().map(|v| v * v).sum();
    assert!((dev - fit.result.deviance.unwrap()).abs() < 1e-9);
    // lme4's deviance() is not −2 logLik for GLMMs.
    assert!((fit.result.deviance.unwrap() + 2.0 * fit.result.loglik).abs() > 1.0);
}

#[test]
fn wrong_family_for_the_response_is_a_clear_error() {
    let (_, design, _, _) = cbpp();
    let spec = FamilySpec::new(FamilyKind::Poisson, LinkKind::Log);
    let err = glmer(design, &spec, &GlmmOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("needs the binomial family"),
        "{err}"
    );

    let (_, mut design, _, _) =
        load(&repo_root().join("tests/reference/glmm/poisson_crossed.json"));
    design.y[3] = -1.0;
    let err = glmer(design, &FamilySpec::poisson(), &GlmmOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("model row 4") && msg.contains("non-negative"),
        "{msg}"
    );

    let (_, design, _, _) = load(&repo_root().join("tests/reference/glmm/poisson_crossed.json"));
    let err = glmer(design, &FamilySpec::binomial(), &GlmmOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("binomial responses must be"),
        "{err}"
    );
}

#[test]
fn gaussian_identity_is_redirected_to_lmer() {
    let (_, mut design, _, _) = load(&repo_root().join("tests/reference/glmm/gamma_log.json"));
    design.y.iter_mut().for_each(|v| *v = v.ln());
    let spec = FamilySpec::parse("gaussian", None).unwrap();
    let fit = glmer(design, &spec, &GlmmOptions::default()).unwrap();
    assert_eq!(fit.family, "gaussian");
    assert!(fit.residual.is_some());
    assert!(
        fit.warnings
            .iter()
            .any(|w| w.contains("linear mixed model"))
    );
}

#[test]
fn gaussian_log_link_fits_and_has_a_scale() {
    let (_, design, _, _) = load(&repo_root().join("tests/reference/glmm/gamma_log.json"));
    let spec = FamilySpec::parse("gaussian", Some("log")).unwrap();
    let fit = glmer(design, &spec, &GlmmOptions::default()).unwrap();
    assert_eq!(fit.link, "log");
    assert_eq!(fit.npar, 2 + 1 + 1);
    assert!(fit.sigma > 0.0 && fit.sigma.is_finite());
    // x's true coefficient in the simulation is 0.5.
    assert!((fit.fixed[1].estimate - 0.5).abs() < 0.2, "{:?}", fit.fixed);
}

/// Crossed Poisson counts, `groups × items` rows (rows grouped by `g`, fixed-seed LCG):
/// `y ~ Poisson(exp(0.4 + 0.3 x + a_g + b_h))`.
fn crossed_poisson_csv(groups: usize, items: usize) -> String {
    let mut seed = 2024u64;
    let mut unif = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let a: Vec<f64> = (0..groups).map(|_| (unif() - 0.5) * 1.2).collect();
    let b: Vec<f64> = (0..items).map(|_| (unif() - 0.5) * 0.8).collect();
    let mut csv = String::from("g,h,x,y\n");
    for (gi, ag) in a.iter().enumerate() {
        for (hi, bh) in b.iter().enumerate() {
            let x = unif() * 2.0 - 1.0;
            let lambda = (0.4 + 0.3 * x + ag + bh).exp();
            // Knuth's product-of-uniforms Poisson draw.
            let (limit, mut prod, mut k) = ((-lambda).exp(), unif(), 0u32);
            while prod > limit {
                prod *= unif();
                k += 1;
            }
            csv.push_str(&format!("g{gi:04},h{hi:03},{x},{k}\n"));
        }
    }
    csv
}

#[test]
fn a_large_fit_is_bit_identical_on_one_or_two_threads() {
    // 4,800 rows: above the size from which the per-observation passes use the thread pool.
    use multilevel_design::{DesignOptions, build_design_with};
    use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
    let ro = ReadOptions {
        factor_columns: vec!["g".into(), "h".into()],
        ordered_columns: Vec::new(),
    };
    let data = DataFrame::from_csv_str("crossed", &crossed_poisson_csv(160, 30), &ro).unwrap();
    let formula = multilevel_formula::parse("y ~ x + (1 | g) + (1 | h)").unwrap();
    let mf = ModelFrame::new(&formula, &data, &FrameOptions::default()).unwrap();
    let design = build_design_with(&formula, &mf, &DesignOptions { allow_n: true }).unwrap();
    assert_eq!(design.nobs(), 4800);
    let family = FamilySpec::poisson().build();
    let opts = GlmmOptions {
        cond_var: false,
        ..GlmmOptions::default()
    };
    let fit = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| glmer_full(design.clone(), &family, &opts).unwrap())
    };
    let (one, two) = (fit(1), fit(2));
    assert!(one.result.converged, "{:?}", one.result.warnings);
    assert!(one.result.loglik.is_finite());
    assert_eq!(one.stage_evaluations, two.stage_evaluations);
    assert_eq!(one.result.loglik.to_bits(), two.result.loglik.to_bits());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    assert_eq!(bits(&one.result.theta), bits(&two.result.theta));
    let est = |f: &GlmmFit| {
        f.result
            .fixed
            .iter()
            .map(|c| c.estimate)
            .collect::<Vec<f64>>()
    };
    assert_eq!(bits(&est(&one)), bits(&est(&two)));
    assert_eq!(bits(&one.mu), bits(&two.mu));
    // The simulated effects are recovered (a sanity check that the fit is a real one).
    let slope = est(&one)[1];
    assert!((slope - 0.3).abs() < 0.1, "slope {slope}");
}
