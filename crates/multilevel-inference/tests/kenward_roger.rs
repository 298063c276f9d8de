//! Kenward–Roger df and adjusted standard errors against pbkrtest (the `kenward_roger` key
//! of `tests/reference/inference/*.json`, written by `xtask/r/reference_inference.R` with
//! lmerTest's `ddf = "Kenward-Roger"`, which calls pbkrtest).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel_design::Design;
use multilevel_formula::Formula;
use multilevel_frame::ModelFrame;
use multilevel_inference::{
    DfMethod, FittedLmm, InferenceError, KenwardRoger, add_df, anova_type3, kenward_roger_df,
    kenward_roger_parts, type3_contrasts,
};
use multilevel_lmm::{LinearMixedModel, LmmOptions};
use serde_json::Value;

mod common;
use common::{nums, prepare, rel, strings};

const DF_TOL: f64 = 5e-3;
const SE_TOL: f64 = 1e-4;

fn reference(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/reference/inference")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn design(r: &Value, reml: bool) -> (Design, LmmOptions) {
    let (_, _, d, o) = design_frame(r, reml);
    (d, o)
}

fn design_frame(r: &Value, reml: bool) -> (Formula, ModelFrame, Design, LmmOptions) {
    prepare(r, r["formula"].as_str().unwrap(), reml)
}

/// Compare df and adjusted se of every coefficient with pbkrtest; returns the largest
/// relative df difference. `at_reference` evaluates the model at lme4's θ̂.
fn check(name: &str, at_reference: bool, fails: &mut Vec<String>) -> f64 {
    let r = reference(name);
    let (d, lopts) = design(&r, true);
    let model = LinearMixedModel::new(d, lopts).unwrap();
    let fitted = if at_reference {
        FittedLmm::at_theta(model, &nums(&r["theta"])).unwrap()
    } else {
        FittedLmm::fit(model).unwrap()
    };
    let kr = &r["kenward_roger"]["coefficients"];
    let (rdf, rse) = (nums(&kr["df"]), nums(&kr["se"]));
    let names = strings(&kr["names"]);
    let p = fitted.p();
    assert_eq!(p, rdf.len(), "{name}: number of coefficients");
    let mut worst = 0.0f64;
    for i in 0..p {
        let mut l = vec![0.0; p];
        l[i] = 1.0;
        let (df, se) = kenward_roger_df(&fitted, &l).unwrap();
        let d = rel(df, rdf[i]);
        worst = worst.max(d);
        if d.is_nan() || d > DF_TOL {
            fails.push(format!(
                "{name} (at lme4 θ: {at_reference}) df[{}]: ours {df} pbkrtest {} (rel {d:.2e})",
                names[i], rdf[i]
            ));
        }
        let ds = rel(se, rse[i]);
        if ds.is_nan() || ds > SE_TOL {
            fails.push(format!(
                "{name} (at lme4 θ: {at_reference}) se[{}]: ours {se} pbkrtest {} (rel {ds:.2e})",
                names[i], rse[i]
            ));
        }
    }
    worst
}

#[test]
fn kenward_roger_matches_pbkrtest() {
    let mut fails = Vec::new();
    let mut worst = 0.0f64;
    for name in [
        "sleepstudy_slope_reml",
        "penicillin_crossed_reml",
        "pastes_cask_reml",
        "cake_interaction_reml",
        "cake_interaction_sum_reml",
    ] {
        for at_ref in [true, false] {
            let w = check(name, at_ref, &mut fails);
            eprintln!("{name} at lme4 θ = {at_ref}: max rel df diff {w:.2e}");
            worst = worst.max(w);
        }
    }
    eprintln!("max relative df difference against pbkrtest: {worst:.2e}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn kenward_roger_anova_matches_pbkrtest() {
    // Pastes: the type III test of `cask` (2 df) against lmerTest's KR anova.
    let r = reference("pastes_cask_reml");
    let (d, lopts) = design(&r, true);
    let model = LinearMixedModel::new(d, lopts).unwrap();
    let mut fitted = FittedLmm::at_theta(model, &nums(&r["theta"])).unwrap();
    let a = &r["kenward_roger"]["anova3"];
    // caskb and caskc against the intercept-only null (treatment coding).
    let l = vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]];
    let parts = kenward_roger_parts(&fitted).unwrap();
    let t = parts.f_test(&l).unwrap();
    let ddf = nums(&a["den_df"])[0];
    let f = nums(&a["f"])[0];
    let pv = nums(&a["p"])[0];
    assert!(
        rel(t.den_df, ddf) < DF_TOL,
        "ddf ours {} pbkrtest {ddf}",
        t.den_df
    );
    assert_eq!(t.num_df, 2.0);
    // lmerTest reports the unscaled F (pbkrtest's `FtestU`) on pbkrtest's (q, m) df.
    let ft = KenwardRoger.contrast_f(&mut fitted, &l).unwrap();
    assert!(
        rel(ft.f_value, f) < 1e-4,
        "F ours {} lmerTest {f} (scaled {})",
        ft.f_value,
        t.f_scaled
    );
    assert!(
        rel(ft.p_value, pv) < 1e-3,
        "p ours {} lmerTest {pv}",
        ft.p_value
    );
}

#[test]
fn add_df_with_kenward_roger_fills_the_table() {
    let r = reference("sleepstudy_slope_reml");
    let (d, lopts) = design(&r, true);
    let mut fitted = FittedLmm::fit(LinearMixedModel::new(d, lopts).unwrap()).unwrap();
    let mut fit = fitted.fit_result().clone();
    add_df(&mut fitted, &mut fit, &KenwardRoger).unwrap();
    let rdf = nums(&r["kenward_roger"]["coefficients"]["df"]);
    let rp = nums(&r["kenward_roger"]["coefficients"]["p"]);
    for (i, fe) in fit.fixed.iter().enumerate() {
        assert!(rel(fe.df.unwrap(), rdf[i]) < DF_TOL);
        // p from lmerTest's t with our df: measures the df alone.
        let ours = fe.p_value.unwrap();
        assert!(rel(ours, rp[i]) < 1e-2, "p ours {ours} lmerTest {}", rp[i]);
    }
    assert_eq!(KenwardRoger.name(), "Kenward-Roger");
}

#[test]
fn ml_fit_is_refused() {
    let r = reference("sleepstudy_slope_ml");
    let (d, lopts) = design(&r, false);
    let fitted = FittedLmm::fit(LinearMixedModel::new(d, lopts).unwrap()).unwrap();
    let err = kenward_roger_df(&fitted, &[0.0, 1.0]).unwrap_err();
    assert!(matches!(err, InferenceError::Mismatch(_)));
    assert!(err.to_string().contains("needs a REML fit"), "{err}");
}

#[test]
fn bad_contrasts_are_refused() {
    let r = reference("sleepstudy_slope_reml");
    let (d, lopts) = design(&r, true);
    let fitted = FittedLmm::fit(LinearMixedModel::new(d, lopts).unwrap()).unwrap();
    assert!(matches!(
        kenward_roger_df(&fitted, &[1.0]),
        Err(InferenceError::BadContrast(_))
    ));
    assert!(matches!(
        kenward_roger_df(&fitted, &[0.0, 0.0]),
        Err(InferenceError::BadContrast(_))
    ));
}

#[test]
fn kenward_roger_type3_anova_matches_lmertest() {
    let mut fails = Vec::new();
    for name in [
        "sleepstudy_slope_reml",
        "pastes_cask_reml",
        "cake_interaction_reml",
        "cake_interaction_sum_reml",
    ] {
        let r = reference(name);
        let (f, frame, d, lopts) = design_frame(&r, true);
        let model = LinearMixedModel::new(d, lopts).unwrap();
        let mut fitted = FittedLmm::at_theta(model, &nums(&r["theta"])).unwrap();
        let contrasts = type3_contrasts(&f, &frame, fitted.model().design()).unwrap();
        let rows = anova_type3(&mut fitted, &contrasts, &KenwardRoger).unwrap();
        let a = &r["kenward_roger"]["anova3"];
        assert_eq!(
            rows.iter().map(|x| x.term.clone()).collect::<Vec<_>>(),
            strings(&a["terms"]),
            "{name}: anova terms"
        );
        let (ddf, fv, pv, ndf) = (
            nums(&a["den_df"]),
            nums(&a["f"]),
            nums(&a["p"]),
            nums(&a["num_df"]),
        );
        for (i, row) in rows.iter().enumerate() {
            for (what, ours, theirs, tol) in [
                ("den_df", row.den_df, ddf[i], DF_TOL),
                ("F", row.f_value, fv[i], 1e-4),
                ("p", row.p_value, pv[i], 1e-3),
                ("num_df", row.num_df, ndf[i], 1e-12),
            ] {
                let d = rel(ours, theirs);
                if d.is_nan() || d > tol {
                    fails.push(format!(
                        "{name} {what}[{}]: ours {ours} lmerTest {theirs}",
                        row.term
                    ));
                }
            }
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}
