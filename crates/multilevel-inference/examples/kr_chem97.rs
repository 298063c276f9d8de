//! Wall time of Kenward–Roger df on Chem97 (31,022 rows,
//! `score ~ gcsecnt + (1 | school) + (1 | lea)`, REML; 2,410 schools and 131 LEAs).
//!
//! `cargo run --release -p multilevel-inference --example kr_chem97 [path/to/Chem97.csv]`
//!
//! The CSV (columns lea, school, score, gcsecnt) is written by `xtask/r/reference_kr_large.R`
//! to `tests/data/Chem97.csv`, the default path; the example exits with a note when it is
//! absent. Prints the fit time and the Kenward–Roger time separately, and lme4's θ̂ and
//! standard errors from `tests/reference/inference/kr/chem97.json` next to ours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use multilevel_design::build_design;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_inference::{
    DfMethod, FittedLmm, KR_DENSE_MAX_N, KenwardRoger, add_df, kenward_roger_parts,
};
use multilevel_lmm::{LinearMixedModel, LmmOptions};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("tests/data/Chem97.csv"), PathBuf::from);
    if !path.exists() {
        println!(
            "{} not found; write it with `Rscript xtask/r/reference_kr_large.R`",
            path.display()
        );
        return;
    }
    let opts = ReadOptions {
        factor_columns: vec!["lea".into(), "school".into()],
        ordered_columns: vec![],
    };
    let data = DataFrame::read_csv(&path, &opts).unwrap();
    let formula = "score ~ gcsecnt + (1 | school) + (1 | lea)";
    let f = multilevel_formula::parse(formula).unwrap();
    let frame = ModelFrame::new(&f, &data, &FrameOptions::default()).unwrap();
    let design = build_design(&f, &frame).unwrap();
    let (n, q) = (design.nobs(), design.q());

    let t0 = Instant::now();
    let model = LinearMixedModel::new(design, LmmOptions::default()).unwrap();
    let mut fitted = FittedLmm::fit(model).unwrap();
    let fit_secs = t0.elapsed().as_secs_f64();

    // Kenward–Roger df of every coefficient through the DfMethod (computes the parts once).
    let t1 = Instant::now();
    let mut fit = fitted.fit_result().clone();
    add_df(&mut fitted, &mut fit, &KenwardRoger).unwrap();
    let kr_secs = t1.elapsed().as_secs_f64();
    // Further contrasts of the same fit reuse the parts.
    let t2 = Instant::now();
    let p = fit.fixed.len();
    let kr: Vec<(f64, f64, f64)> = (0..p)
        .map(|i| {
            let mut l = vec![0.0; p];
            l[i] = 1.0;
            KenwardRoger.contrast_df(&mut fitted, &l).unwrap()
        })
        .collect();
    let again_secs = t2.elapsed().as_secs_f64();
    let algorithm = if n > KR_DENSE_MAX_N {
        "structured"
    } else {
        "dense"
    };

    println!("Chem97: n = {n}, q = {q}, {formula} (REML)");
    println!("fit (REML):              {fit_secs:8.3} s");
    println!("Kenward–Roger add_df:    {kr_secs:8.3} s ({algorithm} computation)");
    println!("{p} more contrasts:        {again_secs:8.3} s (parts reused)");
    println!("θ̂ = {:?}, σ̂ = {}", fit.theta, fit.sigma);
    let reference = std::fs::read_to_string(root.join("tests/reference/inference/kr/chem97.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let Some(r) = &reference {
        println!(
            "lme4: θ̂ = {}, σ̂ = {}, se = {}",
            r["full"]["theta"], r["full"]["sigma"], r["full"]["se"]
        );
    }
    // The same at lme4's θ̂ (separates the KR computation from optimiser differences).
    if let Some(theta) = reference.as_ref().and_then(|r| {
        r["full"]["theta"].as_array().map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_f64)
                .collect::<Vec<_>>()
        })
    }) {
        let t3 = Instant::now();
        let model =
            LinearMixedModel::new(fitted.model().design().clone(), LmmOptions::default()).unwrap();
        let at = FittedLmm::at_theta(model, &theta).unwrap();
        let parts = kenward_roger_parts(&at).unwrap();
        let secs = t3.elapsed().as_secs_f64();
        for (i, name) in at.model().design().x_names.iter().enumerate() {
            let mut l = vec![0.0; p];
            l[i] = 1.0;
            let (_, se, df) = parts.contrast(&l).unwrap();
            println!("at lme4's θ̂: {name:14} KR se {se:.6}  KR df {df:.3}");
        }
        println!("(parts at lme4's θ̂ in {secs:.3} s)");
    }
    println!(
        "{:14} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "coefficient", "estimate", "se", "KR se", "KR df", "p"
    );
    for (i, fe) in fit.fixed.iter().enumerate() {
        let (_, kr_se, df) = kr[i];
        println!(
            "{:14} {:>12.6} {:>12.6} {:>12.6} {:>12.3} {:>10.3e}",
            fe.term,
            fe.estimate,
            fe.std_error,
            kr_se,
            df,
            fe.p_value.unwrap_or(f64::NAN)
        );
    }
}
