//! The fitted-model objects: their accessors agree with each other and with the lower-level
//! path the free functions used to take (parse, prepare, fit, then ask `multilevel-inference`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel::frame::Column;
use multilevel::{
    Ddf, Family, FitOptions, GlmerOptions, IntervalMethod, Link, MixedModel, Quadrature, dataset,
    glmer, inference, lmer,
};

const SLEEP: &str = "Reaction ~ Days + (Days | Subject)";
const CAKE: &str = "angle ~ recipe * temperature + (1 | recipe:replicate)";
const CBPP: &str = "cbind(incidence, size - incidence) ~ period + (1 | herd)";

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn fitted_plus_residuals_is_the_response_and_coef_is_fixef_plus_ranef() {
    let data = dataset("sleepstudy").unwrap();
    let m = lmer(SLEEP, &data, &FitOptions::default()).unwrap();
    let y = m.response();
    assert_eq!(y.len(), 180);
    for ((f, r), y) in m.fitted().iter().zip(m.residuals()).zip(y) {
        assert!((f + r - y).abs() < 1e-9);
    }
    assert_eq!(m.nobs(), 180);
    assert_eq!(m.fixef_names(), ["(Intercept)", "Days"]);
    let beta = m.fixef();
    let coef = m.coef();
    assert_eq!(coef.len(), 1);
    let c = &coef[0];
    let r = &m.ranef()[0];
    assert_eq!(c.group, "Subject");
    assert_eq!(c.terms, ["(Intercept)", "Days"]);
    assert_eq!(c.levels, r.levels);
    for (row, b) in c.values.iter().zip(&r.values) {
        assert_eq!(row[0], beta[0] + b[0]);
        assert_eq!(row[1], beta[1] + b[1]);
    }
    // The accessors read the summary.
    let s = m.summary();
    assert_eq!(m.theta(), s.theta.as_slice());
    assert_eq!(m.sigma(), s.sigma);
    assert_eq!(m.loglik(), s.loglik);
    assert_eq!(m.vcov(), s.vcov.as_slice());
    assert_eq!(m.objective, s.objective); // through Deref
}

#[test]
fn refit_equals_a_fresh_fit() {
    let data = dataset("sleepstudy").unwrap();
    let m = lmer(SLEEP, &data, &FitOptions::default()).unwrap();
    let original = m.summary().clone();
    // The same response: the same fit.
    let y = m.response().to_vec();
    let same = m.refit(&y).unwrap();
    assert_eq!(same.theta, original.theta);
    assert_eq!(same.objective, original.objective);
    assert_eq!(same.fixed, original.fixed);
    // A new response: the fit of a model of that column.
    let y2: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v + 25.0 * (i as f64 * 0.7).sin())
        .collect();
    let refitted = same.refit(&y2).unwrap();
    let data2 = data.with_numeric("y2", y2.clone()).unwrap();
    let fresh = lmer(
        "y2 ~ Days + (Days | Subject)",
        &data2,
        &FitOptions::default(),
    )
    .unwrap();
    assert!(close(refitted.objective, fresh.objective, 1e-10));
    for (a, b) in refitted.theta().iter().zip(fresh.theta()) {
        assert!(close(*a, *b, 1e-6), "{a} vs {b}");
    }
    for (a, b) in refitted.fixef().iter().zip(fresh.fixef()) {
        assert!(close(*a, b, 1e-6), "{a} vs {b}");
    }
    assert_eq!(refitted.response(), y2.as_slice());
    assert!(refitted.refit(&y2[..10]).is_err());
}

#[test]
fn anova_and_summary_with_df_equal_the_lower_level_path() {
    let cake = dataset("cake").unwrap();
    let opts = FitOptions::default();
    let mut m = lmer(CAKE, &cake, &opts).unwrap();
    let with_df = m.summary_with_df(Ddf::Satterthwaite).unwrap();
    let table = m.anova(Ddf::Satterthwaite).unwrap();
    // What `anova_type3` did before the fitted object: prepare, build the contrasts, fit, ask.
    let prepared = multilevel::prepare_lmm_parts(CAKE, &cake, &opts).unwrap();
    let contrasts =
        inference::type3_contrasts(&prepared.formula, &prepared.frame, prepared.model.design())
            .unwrap();
    let mut fitted = inference::FittedLmm::fit(prepared.model).unwrap();
    let mut fit = fitted.fit_result().clone();
    inference::add_df(&mut fitted, &mut fit, &inference::Satterthwaite).unwrap();
    let rows = inference::anova_type3(&mut fitted, &contrasts, &inference::Satterthwaite).unwrap();
    assert_eq!(with_df, fit);
    assert_eq!(table, rows);
    assert!(matches!(
        m.anova(Ddf::None),
        Err(multilevel::Error::AnovaNeedsDdf)
    ));
    // The thin wrapper gives the same.
    let (wfit, wrows) = multilevel::anova_type3(CAKE, &cake, &opts, Ddf::Satterthwaite).unwrap();
    assert_eq!(wfit, fit);
    assert_eq!(wrows, rows);
}

#[test]
fn confint_and_compare_equal_the_lower_level_path() {
    let data = dataset("sleepstudy").unwrap();
    let opts = FitOptions::default().cond_var(false);
    let m = lmer(SLEEP, &data, &opts).unwrap();
    let mut model = multilevel::prepare_lmm(SLEEP, &data, &opts).unwrap();
    let fit = model.fit().unwrap();
    assert_eq!(
        m.confint(IntervalMethod::Wald, 0.95).unwrap(),
        inference::wald_confint(&fit, 0.95).unwrap()
    );
    assert_eq!(
        m.confint(IntervalMethod::Profile, 0.9).unwrap(),
        inference::profile_confint(model.design(), &fit, 0.9).unwrap()
    );
    let boot = IntervalMethod::Bootstrap { nsim: 20, seed: 3 };
    let b = inference::bootstrap(&model, &fit, 20, 3, None).unwrap();
    assert_eq!(
        m.confint(boot, 0.9).unwrap(),
        inference::percentile_intervals(&b, 0.9).unwrap()
    );
    assert!(m.confint(IntervalMethod::Wald, 1.5).is_err());

    let small = lmer("Reaction ~ Days + (1 | Subject)", &data, &opts).unwrap();
    let lrt = small.compare(&m).unwrap();
    assert!(lrt.refitted);
    assert!((lrt.rows[1].chisq.unwrap() - 42.139).abs() < 1e-2); // lme4: 42.139
    assert!(lrt.notes.iter().any(|n| n == multilevel::BOUNDARY_NOTE));
    let wrapped =
        multilevel::compare_models(&["Reaction ~ Days + (1 | Subject)", SLEEP], &data, &opts)
            .unwrap();
    assert_eq!(lrt, wrapped);
}

#[test]
fn glmm_object_answers_from_one_fit() {
    let cbpp = dataset("cbpp").unwrap();
    let m = glmer(CBPP, &cbpp, Family::Binomial, &GlmerOptions::default()).unwrap();
    assert_eq!(m.family, "binomial");
    assert_eq!(m.link, "logit");
    assert!((m.loglik() + 92.03).abs() < 0.01); // lme4: -92.02628
    for ((f, r), y) in m.fitted().iter().zip(m.residuals()).zip(m.response()) {
        assert!((f + r - y).abs() < 1e-12);
    }
    let c = &m.coef()[0];
    let beta = m.fixef();
    for (row, b) in c.values.iter().zip(&m.ranef()[0].values) {
        assert_eq!(row[0], beta[0] + b[0]);
        assert_eq!(row[1], beta[1]);
    }
    assert_eq!(m.confint(IntervalMethod::Wald, 0.95).unwrap().len(), 4);
    // Profile intervals need a deviance in β: an nAGQ = 0 fit has none (glmm_intervals.rs
    // checks the profile of this Laplace fit against lme4).
    let nagq0 = GlmerOptions::new().quadrature(Quadrature::Fast);
    let m0 = glmer(CBPP, &cbpp, Family::Binomial, &nagq0).unwrap();
    assert!(m0.confint(IntervalMethod::Profile, 0.95).is_err());
    // Refit to the same response: the same fit.
    let original = m.summary().clone();
    let y = m.response().to_vec();
    let same = m.refit(&y).unwrap();
    assert_eq!(same.summary(), &original);
    // Quadrature and links are typed and checked.
    let agq = GlmerOptions::new().quadrature(Quadrature::Agq(5));
    let m5 = glmer(CBPP, &cbpp, Family::Binomial, &agq).unwrap();
    assert_eq!(m5.method, multilevel::Method::Agq);
    let bad = GlmerOptions::new().quadrature(Quadrature::Agq(101));
    assert!(matches!(
        glmer(CBPP, &cbpp, Family::Binomial, &bad),
        Err(multilevel::Error::InvalidOption { .. })
    ));
    let err = Family::Poisson.with_link(Link::Logit).unwrap_err();
    assert!(err.to_string().contains("log, sqrt, identity"));
    // A period-free model is nested in it: likelihood-ratio test without refitting.
    let small = glmer(
        "cbind(incidence, size - incidence) ~ 1 + (1 | herd)",
        &cbpp,
        Family::Binomial,
        &GlmerOptions::default(),
    )
    .unwrap();
    let lrt = small.compare(&same).unwrap();
    assert!(!lrt.refitted);
    assert_eq!(lrt.rows[1].df, Some(3));
}

#[test]
fn library_errors_name_no_command_line_flags() {
    let data = dataset("sleepstudy").unwrap();
    let data = data
        .with_column(
            "f",
            Column::Factor(multilevel::frame::Factor {
                codes: (0..180).map(|i| Some((i % 2) as u32)).collect(),
                levels: vec!["a".into(), "b".into()],
                ordered: false,
            }),
        )
        .unwrap();
    let err = lmer("f ~ Days + (1 | Subject)", &data, &FitOptions::default()).unwrap_err();
    assert!(!err.to_string().contains("--"), "{err}");
    let mut m = lmer(SLEEP, &data, &FitOptions::default()).unwrap();
    let err = m.anova(Ddf::None).unwrap_err();
    assert!(!err.to_string().contains("--"), "{err}");
}
