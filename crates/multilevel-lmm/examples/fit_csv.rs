//! One fit of a formula on a CSV file, for instruction counts of larger models under callgrind
//! (the general blocked path, with more levels and wider terms than `small_fits`):
//!
//! ```text
//! cargo build --release -p multilevel-lmm --example fit_csv
//! RAYON_NUM_THREADS=1 valgrind --tool=callgrind target/release/examples/fit_csv \
//!     data.csv "Y ~ 1 + S + (1 + S | G) + (1 + S | H)" [reml|ml]
//! ```
//!
//! Prints θ̂, the criterion and the evaluation count so that changes can be checked for
//! identical numbers.

// A benchmark driver: a bad argument or file ends it with a message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use multilevel_lmm::{LinearMixedModel, LmmOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: fit_csv FILE FORMULA [reml|ml]");
    let formula = args.next().expect("usage: fit_csv FILE FORMULA [reml|ml]");
    let reml = args.next().is_none_or(|s| s != "ml");
    let read = multilevel_frame::ReadOptions::default();
    let data =
        multilevel_frame::DataFrame::read_csv(std::path::Path::new(&path), &read).expect("csv");
    let parsed = multilevel_formula::parse(&formula).expect("formula");
    let frame = multilevel_frame::ModelFrame::new(
        &parsed,
        &data,
        &multilevel_frame::FrameOptions::default(),
    )
    .expect("frame");
    let design = multilevel_design::build_design(&parsed, &frame).expect("design");
    let opts = LmmOptions {
        reml,
        cond_var: false,
        ..LmmOptions::default()
    };
    let mut model = LinearMixedModel::new(design, opts).expect("model");
    let fit = model.fit().expect("fit");
    let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    println!(
        "{} evaluations ({}), objective {:.15e}, θ {:?}, β {:?}, σ {:.15e}, converged {}",
        fit.optimizer.evaluations,
        fit.optimizer.name,
        fit.objective,
        fit.theta,
        beta,
        fit.sigma,
        fit.converged
    );
}
