//! The structured (Woodbury, `q × q`) Kenward–Roger computation against the dense `n × n`
//! reference implementation, and against pbkrtest on subsets of Chem97 (the
//! `subsets` key of `tests/reference/inference/kr/chem97.json`, written by
//! `xtask/r/reference_kr_large.R`; skipped when `tests/data/Chem97.csv` is absent).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel_design::build_design;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_inference::{
    DfMethod, FittedLmm, KenwardRoger, KrAlgorithm, KrParts, add_df, kenward_roger_parts,
    kenward_roger_parts_with,
};
use multilevel_lmm::{LinearMixedModel, LmmOptions};
use serde_json::Value;

mod common;
use common::{nums, prepare, rel, strings};

const AGREE: f64 = 1e-9;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference(name: &str) -> Value {
    let p = root()
        .join("tests/reference/inference")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Largest difference between two matrices relative to the largest entry of the second.
fn mat_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs() / scale))
}

/// Compare every contrast-free quantity and the df / se of every coefficient and of the
/// all-coefficients F test; returns the worst relative difference.
fn compare(s: &KrParts, d: &KrParts) -> f64 {
    assert_eq!(s.algorithm, KrAlgorithm::Structured);
    assert_eq!(d.algorithm, KrAlgorithm::Dense);
    let mut worst = mat_rel(&s.phi, &d.phi)
        .max(mat_rel(&s.phi_adj, &d.phi_adj))
        .max(mat_rel(&s.w, &d.w));
    assert_eq!(s.p_mats.len(), d.p_mats.len());
    for (a, b) in s.p_mats.iter().zip(&d.p_mats) {
        worst = worst.max(mat_rel(a, b));
    }
    let p = s.p;
    for i in 0..p {
        let mut l = vec![0.0; p];
        l[i] = 1.0;
        let (_, se_s, df_s) = s.contrast(&l).unwrap();
        let (_, se_d, df_d) = d.contrast(&l).unwrap();
        worst = worst.max(rel(se_s, se_d)).max(rel(df_s, df_d));
    }
    let all: Vec<Vec<f64>> = (0..p)
        .map(|i| (0..p).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    let (fs, fd) = (s.f_test(&all).unwrap(), d.f_test(&all).unwrap());
    worst
        .max(rel(fs.den_df, fd.den_df))
        .max(rel(fs.scaling, fd.scaling))
        .max(rel(fs.f_scaled, fd.f_scaled))
}

fn both(fitted: &FittedLmm) -> f64 {
    let s = kenward_roger_parts_with(fitted, KrAlgorithm::Structured).unwrap();
    let d = kenward_roger_parts_with(fitted, KrAlgorithm::Dense).unwrap();
    compare(&s, &d)
}

#[test]
fn structured_matches_dense_on_reference_models() {
    let mut fails = Vec::new();
    for name in [
        "sleepstudy_slope_reml",
        "penicillin_crossed_reml",
        "pastes_cask_reml",
        "cake_interaction_reml",
    ] {
        let r = reference(name);
        for at_ref in [true, false] {
            let (_, _, d, o) = prepare(&r, r["formula"].as_str().unwrap(), true);
            let model = LinearMixedModel::new(d, o).unwrap();
            let fitted = if at_ref {
                FittedLmm::at_theta(model, &nums(&r["theta"])).unwrap()
            } else {
                FittedLmm::fit(model).unwrap()
            };
            let w = both(&fitted);
            eprintln!("{name} (at lme4 θ: {at_ref}): structured vs dense {w:.2e}");
            if w.is_nan() || w > AGREE {
                fails.push(format!("{name} (at lme4 θ: {at_ref}): {w:.2e}"));
            }
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn structured_matches_dense_with_singular_lambda() {
    // sleepstudy (Days | Subject) with the slope's own θ at its bound 0 (Λ singular) and
    // Penicillin with one term's θ = 0.
    for (name, zero) in [("sleepstudy_slope_reml", 2), ("penicillin_crossed_reml", 1)] {
        let r = reference(name);
        let (_, _, d, o) = prepare(&r, r["formula"].as_str().unwrap(), true);
        let mut theta = nums(&r["theta"]);
        theta[zero] = 0.0;
        let fitted = FittedLmm::at_theta(LinearMixedModel::new(d, o).unwrap(), &theta).unwrap();
        let w = both(&fitted);
        assert!(w < AGREE, "{name} with θ[{zero}] = 0: {w:.2e}");
    }
}

#[test]
fn auto_uses_dense_for_small_data() {
    let r = reference("pastes_cask_reml");
    let (_, _, d, o) = prepare(&r, r["formula"].as_str().unwrap(), true);
    let fitted = FittedLmm::fit(LinearMixedModel::new(d, o).unwrap()).unwrap();
    assert_eq!(
        kenward_roger_parts(&fitted).unwrap().algorithm,
        KrAlgorithm::Dense
    );
}

#[test]
fn prior_weights_are_refused() {
    let r = reference("pastes_cask_reml");
    let (_, _, mut d, o) = prepare(&r, r["formula"].as_str().unwrap(), true);
    d.weights = Some((0..d.nobs()).map(|i| 1.0 + (i % 3) as f64).collect());
    let fitted = FittedLmm::fit(LinearMixedModel::new(d, o).unwrap()).unwrap();
    for alg in [
        KrAlgorithm::Auto,
        KrAlgorithm::Dense,
        KrAlgorithm::Structured,
    ] {
        let err = kenward_roger_parts_with(&fitted, alg).unwrap_err();
        assert!(err.to_string().contains("prior weights"), "{err}");
    }
}

/// The Chem97 rows with `lea <= lea_max` as a data frame, or `None` when the CSV is absent.
fn chem97(lea_max: Option<f64>) -> Option<DataFrame> {
    let path = root().join("tests/data/Chem97.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} not found", path.display());
        return None;
    };
    let text = match lea_max {
        None => text,
        Some(max) => {
            let mut lines = text.lines();
            let mut out = String::from(lines.next().unwrap());
            out.push('\n');
            for line in lines {
                let lea: f64 = line.split(',').next().unwrap().parse().unwrap();
                if lea <= max {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out
        }
    };
    let opts = ReadOptions {
        factor_columns: vec!["lea".into(), "school".into()],
        ordered_columns: vec![],
    };
    Some(DataFrame::from_csv_str("Chem97.csv", &text, &opts).unwrap())
}

fn chem97_model(data: &DataFrame, formula: &str) -> LinearMixedModel {
    let f = multilevel_formula::parse(formula).unwrap();
    let frame = ModelFrame::new(&f, data, &FrameOptions::default()).unwrap();
    let design = build_design(&f, &frame).unwrap();
    LinearMixedModel::new(design, LmmOptions::default()).unwrap()
}

#[test]
fn chem97_subsets_match_pbkrtest() {
    let r = reference("kr/chem97");
    let formula = r["formula"].as_str().unwrap();
    let subsets = r["subsets"].as_array().unwrap();
    assert!(!subsets.is_empty());
    for sub in subsets {
        let Some(data) = chem97(sub["lea_max"].as_f64()) else {
            return;
        };
        let kr = &sub["kenward_roger"];
        let (rdf, rse, names) = (nums(&kr["df"]), nums(&kr["se"]), strings(&kr["names"]));
        for at_ref in [true, false] {
            let model = chem97_model(&data, formula);
            let n = model.design().nobs();
            assert_eq!(n as f64, sub["n"].as_f64().unwrap());
            let mut fitted = if at_ref {
                FittedLmm::at_theta(model, &nums(&sub["theta"])).unwrap()
            } else {
                FittedLmm::fit(model).unwrap()
            };
            // At our own optimum the comparison measures the optimiser too: only made when
            // our REML criterion is lme4's (the optimiser has its own tests).
            let ours = fitted.fit_result().objective;
            let theirs = sub["objective"].as_f64().unwrap();
            if !at_ref && rel(ours, theirs) > 1e-8 {
                eprintln!(
                    "Chem97 n = {n}: our REML fit ends at θ {:?}, criterion {ours} (lme4: θ {}, \
                     criterion {theirs}); KR at our θ not compared",
                    fitted.fit_result().theta,
                    sub["theta"]
                );
                continue;
            }
            let parts = kenward_roger_parts(&fitted).unwrap();
            assert_eq!(parts.algorithm, KrAlgorithm::Structured);
            // Tight at lme4's θ̂ (only the algorithms differ); optimiser noise otherwise.
            let (df_tol, se_tol) = if at_ref { (1e-6, 1e-7) } else { (5e-3, 1e-4) };
            let mut fit = fitted.fit_result().clone();
            add_df(&mut fitted, &mut fit, &KenwardRoger).unwrap();
            for i in 0..parts.p {
                let mut l = vec![0.0; parts.p];
                l[i] = 1.0;
                let (_, se, df) = parts.contrast(&l).unwrap();
                eprintln!(
                    "Chem97 n = {n} (at lme4 θ: {at_ref}) {}: df {df} (pbkrtest {}), se {se} (pbkrtest {})",
                    names[i], rdf[i], rse[i]
                );
                assert!(rel(df, rdf[i]) < df_tol, "n = {n}: df[{}]", names[i]);
                assert!(rel(se, rse[i]) < se_tol, "n = {n}: se[{}]", names[i]);
                assert_eq!(fit.fixed[i].df, Some(df));
                let (_, _, df2) = KenwardRoger.contrast_df(&mut fitted, &l).unwrap();
                assert_eq!(df2, df);
            }
        }
    }
}

/// Kenward–Roger through a structured term's own parameters (`diag`, `cs`, `hom = TRUE`):
/// the dense and the structured computations agree, and both give pbkrtest's df and adjusted
/// standard errors on the equivalent lme4 model (`tests/reference/kr_gls/cases.json`, written
/// by `xtask/r/reference_kr_gls.R`: `diag(Days | Subject)` is `(1 | Subject) + (0 + Days |
/// Subject)`, `cs(0 + Variety | Block, hom = TRUE)` is `(1 | Block) + (1 | Block:Variety)`,
/// `diag(0 + Variety | Block, hom = TRUE)` is `(1 | Block:Variety)`).
#[test]
fn structured_terms_match_pbkrtest_on_the_equivalent_lme4_models() {
    let text = std::fs::read_to_string(root().join("tests/reference/kr_gls/cases.json")).unwrap();
    let refs: Value = serde_json::from_str(&text).unwrap();
    let mut fails = Vec::new();
    for case in refs["cases"].as_array().unwrap() {
        if case["kind"] != "lmm" {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let data = DataFrame::read_csv(
            &root().join(case["data"].as_str().unwrap()),
            &ReadOptions::default(),
        )
        .unwrap();
        let formula = case["formula"].as_str().unwrap();
        let f = multilevel_formula::parse(formula).unwrap();
        let frame = ModelFrame::new(&f, &data, &FrameOptions::default()).unwrap();
        let design = build_design(&f, &frame).unwrap();
        let model = LinearMixedModel::new(design, LmmOptions::default()).unwrap();
        let fitted = FittedLmm::fit(model).unwrap();
        let w = both(&fitted);
        if w.is_nan() || w > AGREE {
            fails.push(format!("{name}: structured vs dense {w:.2e}"));
        }
        let parts = kenward_roger_parts(&fitted).unwrap();
        let (df, se) = (nums(&case["df_kr"]), nums(&case["se_kr"]));
        for j in 0..parts.p {
            let mut l = vec![0.0; parts.p];
            l[j] = 1.0;
            let (_, s, d) = parts.contrast(&l).unwrap();
            if rel(d, df[j]) > 1e-3 || rel(s, se[j]) > 1e-4 {
                fails.push(format!(
                    "{name} coefficient {j}: df {d} vs {}, se {s} vs {}",
                    df[j], se[j]
                ));
            }
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}
