//! Times `glmer` on every reference in `tests/reference/glmm` (design building excluded):
//! `cargo run --release -p multilevel-glmm --example timing [-- NAME_PART [REPS]]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use multilevel_glmm::glmer_full;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.first().cloned().unwrap_or_default();
    let reps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    for path in common::reference_files() {
        let (r, design, fam, opts) = common::load(&path);
        if !r["name"].as_str().unwrap().contains(filter.as_str()) {
            continue;
        }
        let family = fam.build();
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
