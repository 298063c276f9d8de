//! Wall time of a parametric bootstrap of sleepstudy `Reaction ~ Days + (Days | Subject)`.
//!
//! `cargo run --release -p multilevel-inference --example bootstrap_timing [nsim] [threads]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_design::build_design;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel_inference::{bootstrap, percentile_intervals};
use multilevel_lmm::{LinearMixedModel, LmmOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nsim: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let threads: Option<usize> = args.get(2).and_then(|s| s.parse().ok());
    let ds = multilevel_datasets::get("sleepstudy").unwrap();
    let opts = ReadOptions {
        factor_columns: vec!["Subject".into()],
        ordered_columns: vec![],
    };
    let data = DataFrame::from_csv_str(ds.name, ds.csv, &opts).unwrap();
    let f = multilevel_formula::parse("Reaction ~ Days + (Days | Subject)").unwrap();
    let frame = ModelFrame::new(&f, &data, &FrameOptions::default()).unwrap();
    let design = build_design(&f, &frame).unwrap();
    let mut model = LinearMixedModel::new(design, LmmOptions::default()).unwrap();
    let fit = model.fit().unwrap();
    let start = std::time::Instant::now();
    let boot = bootstrap(&model, &fit, nsim, 1, threads).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{nsim} refits ({} failed) in {secs:.3} s with {} threads",
        boot.failed,
        threads.map_or_else(
            || rayon::current_num_threads().to_string(),
            |t| t.to_string()
        )
    );
    for iv in percentile_intervals(&boot, 0.95).unwrap() {
        println!("{:32} {:>12.4} {:>12.4}", iv.term, iv.lower, iv.upper);
    }
}
