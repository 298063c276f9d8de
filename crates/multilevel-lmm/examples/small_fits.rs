//! Repeated fits of small prepared models (the "fit only" column of `cargo xtask bench-lme4`),
//! for instruction counts under callgrind and best-of-many wall times:
//!
//! ```text
//! cargo run --release -p multilevel-lmm --example small_fits -- [model] [reps]
//! valgrind --tool=callgrind target/release/examples/small_fits sleepstudy_slope 50
//! ```
//!
//! `model` is one of `sleepstudy_slope`, `sleepstudy_intercept`, `sleepstudy_uncorr`,
//! `penicillin`, `pastes` or `all` (the default). Each fit is REML with `cond_var: false` and
//! the convergence check on, as `lmer()` does. Prints θ̂, the criterion and the evaluation count
//! so that changes can be checked for identical numbers.

// The embedded datasets are fixed data of this repository: a failure is a broken checkout.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use multilevel_lmm::{LinearMixedModel, LmmOptions};

const MODELS: &[(&str, &str, &str)] = &[
    (
        "sleepstudy_slope",
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
    ),
    (
        "sleepstudy_intercept",
        "sleepstudy",
        "Reaction ~ Days + (1 | Subject)",
    ),
    (
        "sleepstudy_uncorr",
        "sleepstudy",
        "Reaction ~ Days + (Days || Subject)",
    ),
    (
        "penicillin",
        "Penicillin",
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
    ),
    ("pastes", "Pastes", "strength ~ 1 + (1 | batch/cask)"),
];

fn prepare(dataset: &str, formula: &str) -> LinearMixedModel {
    let d = multilevel_datasets::get(dataset).expect("embedded dataset");
    let read = multilevel_frame::ReadOptions {
        factor_columns: d.factors.iter().map(|s| s.to_string()).collect(),
        ordered_columns: d.ordered.iter().map(|s| s.to_string()).collect(),
    };
    let data = multilevel_frame::DataFrame::from_csv_str(d.name, d.csv, &read).expect("csv");
    let parsed = multilevel_formula::parse(formula).expect("formula");
    let frame = multilevel_frame::ModelFrame::new(
        &parsed,
        &data,
        &multilevel_frame::FrameOptions::default(),
    )
    .expect("frame");
    let design = multilevel_design::build_design(&parsed, &frame).expect("design");
    let opts = LmmOptions {
        reml: true,
        cond_var: false,
        ..LmmOptions::default()
    };
    LinearMixedModel::new(design, opts).expect("model")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "all".into());
    let reps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    for (name, dataset, formula) in MODELS {
        if which != "all" && which != *name {
            continue;
        }
        let mut model = prepare(dataset, formula);
        let mut best = f64::INFINITY;
        let mut fit = None;
        for _ in 0..reps {
            let t = Instant::now();
            let f = model.fit().expect("fit");
            best = best.min(t.elapsed().as_secs_f64());
            fit = Some(std::hint::black_box(f));
        }
        let fit = fit.expect("at least one fit");
        let se: Vec<f64> = fit.fixed.iter().map(|f| f.std_error).collect();
        let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
        println!(
            "{name}: best {:.1} µs, {} evaluations ({}), objective {:.15e}, θ {:?}, β {:?}, se {:?}, σ {:.15e}, converged {}",
            best * 1e6,
            fit.optimizer.evaluations,
            fit.optimizer.name,
            fit.objective,
            fit.theta,
            beta,
            se,
            fit.sigma,
            fit.converged
        );
    }
}
