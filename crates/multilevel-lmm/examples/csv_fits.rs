//! Fits of larger models read from CSV files, for instruction counts under callgrind (the
//! numbers printed must not change when the engine is reorganised):
//!
//! ```text
//! cargo build --release -p multilevel-lmm --example csv_fits
//! valgrind --tool=callgrind target/release/examples/csv_fits hsb82_slope
//! ```
//!
//! `model` is one of `insteval_3term_ml` (three crossed scalar terms, a dense block of 1,145
//! rows), `hsb82_slope` (one term with 2 × 2 blocks), `chem97_crossed` (a vector first term
//! and a scalar later term: the general path) or `all`. Paths are relative to the workspace
//! root.

// The data files are fixed data of this repository: a failure is a broken checkout.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use multilevel_lmm::{LinearMixedModel, LmmOptions};

/// (name, CSV file, factor columns, formula, REML).
const MODELS: &[(&str, &str, &[&str], &str, bool)] = &[
    (
        "insteval_3term_ml",
        "tests/data/InstEval.csv",
        &["s", "d", "studage", "lectage", "service", "dept"],
        "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
        false,
    ),
    (
        "hsb82_slope",
        "tests/data/hsb82.csv",
        &["school"],
        "mAch ~ ses + (ses | school)",
        true,
    ),
    (
        "chem97_crossed",
        "tests/data/Chem97.csv",
        &["school", "lea"],
        "score ~ gcsecnt + (gcsecnt | school) + (1 | lea)",
        false,
    ),
];

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (name, file, factors, formula, reml) in MODELS {
        if which != "all" && which != *name {
            continue;
        }
        let csv = std::fs::read_to_string(root.join(file)).expect("data file");
        let read = multilevel_frame::ReadOptions {
            factor_columns: factors.iter().map(|s| s.to_string()).collect(),
            ordered_columns: Vec::new(),
        };
        let data = multilevel_frame::DataFrame::from_csv_str(name, &csv, &read).expect("csv");
        let parsed = multilevel_formula::parse(formula).expect("formula");
        let frame = multilevel_frame::ModelFrame::new(
            &parsed,
            &data,
            &multilevel_frame::FrameOptions::default(),
        )
        .expect("frame");
        let design = multilevel_design::build_design(&parsed, &frame).expect("design");
        let opts = LmmOptions {
            reml: *reml,
            ..LmmOptions::default()
        };
        let mut model = LinearMixedModel::new(design, opts).expect("model");
        let fit = model.fit().expect("fit");
        let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
        let se: Vec<f64> = fit.fixed.iter().map(|f| f.std_error).collect();
        println!(
            "{name}: {} evaluations ({}), objective {:.17e}, θ {:?}, β {:?}, se {:?}, σ {:.17e}",
            fit.optimizer.evaluations,
            fit.optimizer.name,
            fit.objective,
            fit.theta,
            beta,
            se,
            fit.sigma,
        );
    }
}
