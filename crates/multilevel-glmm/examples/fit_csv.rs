//! Fit one GLMM to a CSV file and time it (design building excluded), for profiling:
//! `cargo run --release -p multilevel-glmm --example fit_csv -- FILE FORMULA FAMILY FACTORS [NAGQ] [REPS]`,
//! e.g. `target/bench-data/crossed_binomial.csv 'r2 ~ x1 + x2 + (1 | id) + (1 | item)' binomial id,item`
//! (the files `cargo xtask bench-lme4 --models glmm` writes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_design::{DesignOptions, build_design_with};
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_glmm::{FamilySpec, GlmmOptions, glmer_full};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: fit_csv FILE FORMULA FAMILY FACTORS [NAGQ] [REPS]");
        return;
    }
    let opts = ReadOptions {
        factor_columns: args[3].split(',').map(str::to_string).collect(),
        ordered_columns: Vec::new(),
    };
    let data = DataFrame::read_csv(std::path::Path::new(&args[0]), &opts).unwrap();
    let formula = multilevel_formula::parse(&args[1]).unwrap();
    let mf = ModelFrame::new(&formula, &data, &FrameOptions::default()).unwrap();
    let design = build_design_with(&formula, &mf, &DesignOptions { allow_n: true }).unwrap();
    let family = FamilySpec::parse(&args[2], None).unwrap().build();
    let gopts = GlmmOptions {
        n_agq: args.get(4).map_or(1, |s| s.parse().unwrap()),
        cond_var: false,
        ..GlmmOptions::default()
    };
    let reps: usize = args.get(5).map_or(3, |s| s.parse().unwrap());
    for _ in 0..reps {
        let d = design.clone();
        let t = std::time::Instant::now();
        let fit = glmer_full(d, &family, &gopts).unwrap();
        println!(
            "{:.3} ms  logLik {:.6}  evaluations {:?}",
            t.elapsed().as_secs_f64() * 1e3,
            fit.result.loglik,
            fit.stage_evaluations
        );
    }
}
