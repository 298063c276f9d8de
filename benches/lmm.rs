//! Criterion benchmarks of linear mixed-model fits.
//!
//! ```text
//! cargo bench --bench lmm                    # everything (a few minutes)
//! cargo bench --bench lmm -- sleepstudy      # one group
//! MULTILEVEL_BENCH=/path/to/bench cargo bench --bench lmm -- kb07
//! cargo bench --bench lmm -- '^(sleepstudy|penicillin|insteval|kb07/zerocorr)'  # not kb07_1
//! ```
//!
//! The slow benches take 10 samples of one fit each, so they last about ten fits: skip
//! `kb07/maximal_kb07_1` with the filter above while that fit takes more than a few seconds.
//!
//! - `sleepstudy/*`: `Reaction ~ Days + (Days | Subject)` by REML — the whole fit through the
//!   facade (`multilevel::lmer`: formula parsing, model frame, design, fit), the design build
//!   alone, `LinearMixedModel::fit` on a model prepared once (with and without the
//!   finite-difference convergence check that lme4 also makes), and one evaluation of the
//!   profiled REML criterion at the optimum.
//! - `penicillin/lmer`: `diameter ~ 1 + (1 | plate) + (1 | sample)` by REML.
//! - `insteval/lmer_ml_3term`: `y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)` by ML on
//!   `tests/data/InstEval.csv` (73 421 rows).
//! - `kb07/*`: the benchmark-suite models kb07_2 (zero-correlation, 16 θ) and kb07_1 (maximal,
//!   72 θ) by ML, read from `$MULTILEVEL_BENCH/data/kb07.csv` (default `../shared/bench` beside
//!   the repository); skipped with a note when the file is absent.
//!
//! Fits that are timed against lme4 use `cond_var: false`: lme4's `lmer()` does not compute the
//! conditional variances of the random effects (only `ranef(condVar = TRUE)` does). The
//! `sleepstudy/lmer_condvar` bench shows what computing them adds.

// The data read here are the repository's own fixed files, not user input: a failure to load
// them is a broken checkout, for which a panic with a message is the right report.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use multilevel::{DataFrame, FitOptions, ReadOptions};

/// Options matching what lme4's `lmer()` computes.
fn lmer_options(reml: bool) -> FitOptions {
    FitOptions {
        reml,
        cond_var: false,
        ..FitOptions::default()
    }
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The benchmark-suite folder: `$MULTILEVEL_BENCH`, else `../shared/bench` beside the repository.
fn suite_dir() -> PathBuf {
    std::env::var_os("MULTILEVEL_BENCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("..").join("shared").join("bench"))
}

/// The formula of a benchmark-suite model, from `suite.tsv` (id, data, formula, objective).
fn suite_formula(dir: &Path, id: &str) -> Option<String> {
    let path = dir.join("suite.tsv");
    let found = std::fs::read_to_string(&path).ok().and_then(|text| {
        text.lines().find_map(|line| {
            let mut f = line.split('\t');
            (f.next() == Some(id)).then(|| f.nth(1).map(str::to_string))?
        })
    });
    if found.is_none() {
        eprintln!(
            "note: no model {id} in {}; its bench is skipped",
            path.display()
        );
    }
    found
}

fn sleepstudy(c: &mut Criterion) {
    let data = multilevel::dataset("sleepstudy").expect("embedded sleepstudy");
    let formula = "Reaction ~ Days + (Days | Subject)";
    let opts = lmer_options(true);
    let mut g = c.benchmark_group("sleepstudy");
    g.bench_function("lmer", |b| {
        b.iter(|| multilevel::lmer(black_box(formula), &data, &opts).expect("sleepstudy fit"))
    });
    let with_cond_var = FitOptions {
        cond_var: true,
        ..opts.clone()
    };
    g.bench_function("lmer_condvar", |b| {
        b.iter(|| {
            multilevel::lmer(black_box(formula), &data, &with_cond_var).expect("sleepstudy fit")
        })
    });
    g.bench_function("design", |b| {
        b.iter(|| multilevel::build_design(black_box(formula), &data, &opts).expect("design"))
    });
    let mut model = multilevel::prepare_lmm(formula, &data, &opts).expect("prepared model");
    let theta = model.fit().expect("sleepstudy fit").theta;
    g.bench_function("fit_prepared", |b| {
        b.iter(|| model.fit().expect("sleepstudy fit"))
    });
    // The same fit without lme4's finite-difference convergence check at the optimum, to show
    // what the check costs.
    let design = multilevel::build_design(formula, &data, &opts).expect("design");
    let lmm_opts = multilevel::LmmOptions {
        reml: true,
        cond_var: false,
        check_convergence: false,
        ..multilevel::LmmOptions::default()
    };
    let mut unchecked = multilevel::lmm::LinearMixedModel::new(design, lmm_opts).expect("model");
    g.bench_function("fit_prepared_nocheck", |b| {
        b.iter(|| unchecked.fit().expect("sleepstudy fit"))
    });
    g.bench_function("objective", |b| {
        b.iter(|| model.objective(black_box(&theta)))
    });
    g.finish();
}

fn penicillin(c: &mut Criterion) {
    let data = multilevel::dataset("Penicillin").expect("embedded Penicillin");
    let formula = "diameter ~ 1 + (1 | plate) + (1 | sample)";
    let opts = lmer_options(true);
    let mut g = c.benchmark_group("penicillin");
    g.bench_function("lmer", |b| {
        b.iter(|| multilevel::lmer(black_box(formula), &data, &opts).expect("Penicillin fit"))
    });
    g.finish();
}

/// `tests/data/InstEval.csv` with its factor columns, or `None` when the file is absent.
fn insteval_data() -> Option<DataFrame> {
    let path = repo_root().join("tests/data/InstEval.csv");
    if !path.is_file() {
        return None;
    }
    let read = ReadOptions {
        factor_columns: ["s", "d", "studage", "lectage", "service", "dept"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ordered_columns: Vec::new(),
    };
    Some(DataFrame::read_csv(&path, &read).expect("tests/data/InstEval.csv"))
}

fn insteval(c: &mut Criterion) {
    let Some(data) = insteval_data() else {
        eprintln!("note: tests/data/InstEval.csv is absent; insteval benches skipped");
        return;
    };
    let formula = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)";
    let opts = lmer_options(false);
    let mut g = c.benchmark_group("insteval");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("lmer_ml_3term", |b| {
        b.iter(|| multilevel::lmer(black_box(formula), &data, &opts).expect("InstEval fit"))
    });
    g.finish();
}

fn kb07(c: &mut Criterion) {
    let dir = suite_dir();
    let path = dir.join("data/kb07.csv");
    if !path.is_file() {
        eprintln!(
            "note: {} is absent; kb07 benches skipped (set MULTILEVEL_BENCH to the folder holding suite.tsv and data/)",
            path.display()
        );
        return;
    }
    let Some(kb07_1) = suite_formula(&dir, "kb07_1") else {
        return;
    };
    let Some(kb07_2) = suite_formula(&dir, "kb07_2") else {
        return;
    };
    let data = DataFrame::read_csv(&path, &ReadOptions::default()).expect("kb07.csv");
    let opts = lmer_options(false);
    let mut g = c.benchmark_group("kb07");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("zerocorr_kb07_2", |b| {
        b.iter(|| multilevel::lmer(black_box(&kb07_2), &data, &opts).expect("kb07_2 fit"))
    });
    g.bench_function("maximal_kb07_1", |b| {
        b.iter(|| multilevel::lmer(black_box(&kb07_1), &data, &opts).expect("kb07_1 fit"))
    });
    g.finish();
}

/// Per-evaluation costs and whole fits of suite models, printed (not a criterion measurement):
/// `LMM_PROBE=kb07_1,d3_1 cargo bench --bench lmm -- probe`. For each model: the objective and
/// the gradient at θ̂ (best of several), and fits without the convergence check (best of
/// several, with the evaluation count; `LMM_PROBE_REPS=n` sets both repetition counts). `insteval` names `tests/data/InstEval.csv` (3 terms, ML).
fn probe(_c: &mut Criterion) {
    let Ok(list) = std::env::var("LMM_PROBE") else {
        return;
    };
    let dir = suite_dir();
    for id in list.split(',').filter(|s| !s.is_empty()) {
        let (formula, data) = if id == "insteval" {
            let Some(data) = insteval_data() else {
                eprintln!("note: tests/data/InstEval.csv is absent; skipped");
                continue;
            };
            (
                "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)".to_string(),
                data,
            )
        } else if id == "sleepstudy" {
            let data = multilevel::dataset("sleepstudy").expect("embedded sleepstudy");
            ("Reaction ~ Days + (Days | Subject)".to_string(), data)
        } else {
            let Some(formula) = suite_formula(&dir, id) else {
                continue;
            };
            let text = std::fs::read_to_string(dir.join("suite.tsv")).expect("suite.tsv");
            let file = text
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    (f.first() == Some(&id)).then(|| f[1].to_string())
                })
                .expect("suite row");
            let data = DataFrame::read_csv(&dir.join(file), &ReadOptions::default()).expect("csv");
            (formula, data)
        };
        let reml = id == "sleepstudy";
        let opts = lmer_options(reml);
        let design = multilevel::build_design(&formula, &data, &opts).expect("design");
        let lmm_opts = multilevel::LmmOptions {
            reml,
            cond_var: false,
            check_convergence: false,
            ..multilevel::LmmOptions::default()
        };
        let mut model = multilevel::lmm::LinearMixedModel::new(design, lmm_opts).expect("model");
        let reps_env = std::env::var("LMM_PROBE_REPS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok());
        let reps = reps_env.unwrap_or(if id == "sleepstudy" { 200 } else { 3 });
        let mut best_fit = f64::INFINITY;
        let mut fit = None;
        for _ in 0..reps {
            let t = std::time::Instant::now();
            let f = model.fit().expect("fit");
            best_fit = best_fit.min(t.elapsed().as_secs_f64());
            fit = Some(f);
        }
        let fit = fit.expect("at least one fit");
        let theta = fit.theta.clone();
        let dev = model.deviance_function();
        let nrep = reps_env.unwrap_or(if reps > 10 { 2000 } else { 10 });
        let mut best_obj = f64::INFINITY;
        let mut best_grad = f64::INFINITY;
        for _ in 0..nrep {
            let t = std::time::Instant::now();
            black_box(dev.objective(&theta));
            best_obj = best_obj.min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            black_box(dev.gradient(&theta));
            best_grad = best_grad.min(t.elapsed().as_secs_f64());
        }
        println!(
            "probe {id}: {} {} θ, dense block {}, optimizer {}, {} evaluations, objective {:.6}, fit {:.4} s, per objective {:.3} ms, per gradient {:.3} ms",
            fit.optimizer.message,
            theta.len(),
            dev.dense_block_size(),
            fit.optimizer.name,
            fit.optimizer.evaluations,
            fit.objective,
            best_fit,
            best_obj * 1e3,
            best_grad * 1e3
        );
    }
}

criterion_group!(benches, probe, sleepstudy, penicillin, insteval, kb07);
criterion_main!(benches);
