//! Times `glmer` on every reference in `tests/reference/glmm` (design building excluded):
//! `cargo run --release -p multilevel-glmm --example timing`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use multilevel_glmm::glmer_full;

fn main() {
    for path in common::reference_files() {
        let (r, design, fam, opts) = common::load(&path);
        let family = fam.build();
        let reps = 20;
        let mut best = f64::INFINITY;
        let mut evals = [0, 0];
        for _ in 0..reps {
            let d = design.clone();
            let t = std::time::Instant::now();
            let fit = glmer_full(d, &family, &opts).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            evals = fit.stage_evaluations;
        }
        let lme4 = r["time_s"].as_f64().unwrap();
        println!(
            "{:<26} {:>9.3} ms  lme4 {:>7.1} ms  {:>6.0}x  evaluations {:?} (lme4 {})",
            r["name"].as_str().unwrap(),
            best * 1e3,
            lme4 * 1e3,
            lme4 / best,
            evals,
            r["feval"]
        );
    }
}
