//! Criterion benchmarks of generalized linear mixed-model fits (`glmer`).
//!
//! ```text
//! cargo bench --bench glmm                  # both groups, well under a minute
//! cargo bench --bench glmm -- cbpp          # one group
//! ```
//!
//! - `cbpp/*`: `cbind(incidence, size - incidence) ~ period + (1 | herd)`, binomial, Laplace —
//!   the whole fit through the facade (`multilevel::glmer`: formula, model frame, design, both
//!   optimisation stages, the finite-difference Hessian, results) and `glmer_full` on a design
//!   built once (the library figure of the issue's ≤ 2 ms target).
//! - `crossed_binomial/glmer`: `r2 ~ x1 + x2 + (1 | id) + (1 | item)` on the VerbAgg-sized data
//!   (316 subjects × 24 items = 7,584 rows) that `cargo xtask bench-lme4` simulates with a
//!   fixed seed (`xtask::bench::simulate_crossed_binomial`).
//!
//! Fits use `cond_var: false`, as `glmer()` computes no conditional variances of the random
//! effects. `cargo xtask bench-lme4 --models glmm` times the same models against lme4.

// The data are the repository's own embedded or simulated data: a failure to load them is a
// broken checkout, for which a panic with a message is the right report.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use multilevel::{DataFrame, Family, FitOptions, GlmerOptions, Quadrature, ReadOptions};

const CBPP: &str = "cbind(incidence, size - incidence) ~ period + (1 | herd)";
const CROSSED: &str = "r2 ~ x1 + x2 + (1 | id) + (1 | item)";

fn options() -> FitOptions {
    FitOptions {
        cond_var: false,
        ..FitOptions::default()
    }
}

/// The design `multilevel::glmer` builds (binomial `cbind` responses allowed).
fn glmm_design(formula: &str, data: &DataFrame) -> multilevel::Design {
    let parsed = multilevel::formula::parse(formula).expect("formula");
    let frame = multilevel::frame::ModelFrame::new(
        &parsed,
        data,
        &multilevel::frame::FrameOptions::default(),
    )
    .expect("model frame");
    let mut design = multilevel::design::build_design_with(
        &parsed,
        &frame,
        &multilevel::design::DesignOptions { allow_n: true },
    )
    .expect("design");
    design.formula = formula.to_string();
    design
}

fn cbpp(c: &mut Criterion) {
    let data = multilevel::dataset("cbpp").expect("embedded cbpp");
    let laplace = GlmerOptions::new().fit_options(options());
    let agq25 = laplace.clone().quadrature(Quadrature::Agq(25));
    let mut g = c.benchmark_group("cbpp");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("glmer_laplace", |b| {
        b.iter(|| {
            multilevel::glmer(black_box(CBPP), &data, Family::Binomial, &laplace).expect("cbpp fit")
        });
    });
    let design = glmm_design(CBPP, &data);
    let family = multilevel::glmm_core::FamilySpec::parse("binomial", None)
        .expect("binomial family")
        .build();
    let gopts = multilevel::glmm_core::GlmmOptions {
        cond_var: false,
        ..multilevel::glmm_core::GlmmOptions::default()
    };
    g.bench_function("glmer_full_laplace", |b| {
        b.iter_batched(
            || design.clone(),
            |d| multilevel::glmm_core::glmer_full(d, &family, &gopts).expect("cbpp fit"),
            criterion::BatchSize::SmallInput,
        );
    });
    g.bench_function("glmer_agq25", |b| {
        b.iter(|| {
            multilevel::glmer(black_box(CBPP), &data, Family::Binomial, &agq25)
                .expect("cbpp AGQ fit")
        });
    });
    g.finish();
}

fn crossed_binomial(c: &mut Criterion) {
    let csv = xtask::bench::simulate_crossed_binomial();
    let read = ReadOptions {
        factor_columns: vec!["id".into(), "item".into()],
        ordered_columns: Vec::new(),
    };
    let data = DataFrame::from_csv_str("crossed_binomial", &csv, &read).expect("simulated data");
    let laplace = GlmerOptions::new().fit_options(options());
    let mut g = c.benchmark_group("crossed_binomial");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("glmer", |b| {
        b.iter(|| {
            multilevel::glmer(black_box(CROSSED), &data, Family::Binomial, &laplace)
                .expect("crossed binomial fit")
        });
    });
    g.finish();
}

criterion_group!(benches, cbpp, crossed_binomial);
criterion_main!(benches);
