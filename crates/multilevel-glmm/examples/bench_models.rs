//! Times the four GLMMs of `cargo xtask bench-lme4 --models glmm` (design building excluded)
//! and prints what a change must keep: logLik, θ, β and the standard errors to full precision.
//!
//! ```text
//! cargo run --release -p multilevel-glmm --example bench_models -- [NAME_PART [REPS [DATA_DIR]]]
//! ```
//!
//! `DATA_DIR` (default `target/bench-data`, or `$MULTILEVEL_BENCH_DATA`) holds the simulated
//! `crossed_binomial.csv` and `crossed_poisson.csv` that `cargo xtask bench-lme4` writes; the
//! crossed models are skipped with a note when they are absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use multilevel_design::{Design, DesignOptions, build_design_with};
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_glmm::{FamilySpec, GlmmOptions, glmer_full};

fn design(formula: &str, data: &DataFrame) -> Design {
    let parsed = multilevel_formula::parse(formula).unwrap();
    let mf = ModelFrame::new(&parsed, data, &FrameOptions::default()).unwrap();
    let mut d = build_design_with(&parsed, &mf, &DesignOptions { allow_n: true }).unwrap();
    d.formula = formula.to_string();
    d
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.first().cloned().unwrap_or_default();
    let reps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let dir = args
        .get(2)
        .cloned()
        .or_else(|| std::env::var("MULTILEVEL_BENCH_DATA").ok())
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data"),
            PathBuf::from,
        );
    let cbpp = multilevel_datasets::get("cbpp").unwrap();
    let read = |factors: &[&str]| ReadOptions {
        factor_columns: factors.iter().map(|s| s.to_string()).collect(),
        ordered_columns: Vec::new(),
    };
    let cbpp_df = DataFrame::from_csv_str(cbpp.name, cbpp.csv, &read(cbpp.factors)).unwrap();
    let cbpp_f = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
    type Loader<'a> = Box<dyn Fn() -> Option<DataFrame> + 'a>;
    let models: Vec<(&str, &str, &str, usize, Loader<'_>)> = vec![
        (
            "glmm_cbpp_laplace",
            cbpp_f,
            "binomial",
            1,
            Box::new(|| Some(cbpp_df.clone())),
        ),
        (
            "glmm_cbpp_agq25",
            cbpp_f,
            "binomial",
            25,
            Box::new(|| Some(cbpp_df.clone())),
        ),
        (
            "glmm_binomial_crossed",
            "r2 ~ x1 + x2 + (1 | id) + (1 | item)",
            "binomial",
            1,
            Box::new(|| {
                DataFrame::read_csv(&dir.join("crossed_binomial.csv"), &read(&["id", "item"])).ok()
            }),
        ),
        (
            "glmm_poisson_crossed",
            "y ~ x + (1 | g) + (1 | h)",
            "poisson",
            1,
            Box::new(|| {
                DataFrame::read_csv(&dir.join("crossed_poisson.csv"), &read(&["g", "h"])).ok()
            }),
        ),
    ];
    for (name, formula, fam, n_agq, load) in models {
        if !name.contains(filter.as_str()) {
            continue;
        }
        let Some(data) = load() else {
            println!("{name}: data not found in {} (skipped)", dir.display());
            continue;
        };
        let d = design(formula, &data);
        let family = FamilySpec::parse(fam, None).unwrap().build();
        let opts = GlmmOptions {
            n_agq,
            cond_var: false,
            ..GlmmOptions::default()
        };
        let mut best = f64::INFINITY;
        let mut last = None;
        for _ in 0..reps {
            let d = d.clone();
            let t = std::time::Instant::now();
            let fit = glmer_full(d, &family, &opts).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            last = Some(fit);
        }
        let fit = last.unwrap();
        let r = &fit.result;
        println!(
            "{name:<24} best {:>10.3} ms  evals {:?}  vcov {:?}",
            best * 1e3,
            fit.stage_evaluations,
            fit.vcov_source
        );
        println!("  logLik {:.10}  theta {:?}", r.loglik, r.theta);
        println!(
            "  beta {:?}",
            r.fixed.iter().map(|f| f.estimate).collect::<Vec<_>>()
        );
        println!(
            "  se   {:?}",
            r.fixed.iter().map(|f| f.std_error).collect::<Vec<_>>()
        );
    }
}
