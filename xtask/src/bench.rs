//! `cargo xtask bench-lme4`: time our fits and lme4's fits of the same models, side by side, in
//! one run on one machine, and write `docs/benchmarks.md`.
//!
//! What is timed, on both sides, is one call of the fitting function on data already in memory:
//!
//! - ours: [`multilevel::lmer`] (formula parsing, model frame, design, cross products, optimiser,
//!   results) with `cond_var: false`, because lme4's `lmer()` does not compute the conditional
//!   variances either (it does so only in `ranef(condVar = TRUE)`). The figure is the median of
//!   `N` fits in this process, `N` chosen from the duration of a first, untimed fit. For models
//!   whose fit takes under a second we also time [`multilevel::lmm::LinearMixedModel::fit`] alone on a
//!   prepared model ("fit only": no parsing or design build).
//! - lme4: `xtask/r/bench_lme4.R` times `system.time(lmer(...))["elapsed"]` inside R, so R
//!   start-up, package loading and reading the CSV are excluded; the median of repeated fits, or
//!   one fit for the slow models.
//!
//! Both sides read the same CSV files. The peak memory of our process is the kernel's high-water
//! mark (`VmHWM`), reset through `/proc/self/clear_refs` before each model's data are read, so it
//! covers reading the data and all its fits (plus whatever the process held already, reported as
//! the baseline).
//!
//! `--quick` (see [`BenchOptions::quick`]) skips lme4 on the models where it takes more than a
//! minute and shows, where one exists, the figure recorded by `xtask/r/reference.R` instead.
//!
//! GLMMs (the models named `glmm_*`) are timed the same way against lme4's `glmer()`: ours is
//! [`multilevel::glmer`] (and, as "fit only", `multilevel_glmm::glmer_full` on a design built
//! once). Two of them use data simulated here with a fixed-seed generator ([`SplitMix64`]),
//! written to `target/bench-data/` so that R reads the very same file. They get their own
//! section, `## GLMM`, in the report; a run that selects only LMMs (or only GLMMs) keeps the
//! other section of the existing report as it was.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use multilevel::{DataFrame, FitOptions, FitResult, ReadOptions};
use serde::Serialize;
use serde_json::Value;

mod process;

/// Options of a benchmark run.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// Folder holding `suite.tsv` and `data/` (default `../shared/bench` beside the repository);
    /// the suite models are skipped with a note when it is absent.
    pub suite: Option<PathBuf>,
    /// Comma-separated parts of model names; only the models whose name contains one of them run.
    pub models: Option<String>,
    /// Skip lme4 on the models where it takes more than a minute (kb07, d3, ml1m) and show the
    /// recorded figure, if any, instead.
    pub quick: bool,
    /// Do not run R at all (our timings only).
    pub no_lme4: bool,
    /// Where to write the markdown report (default `docs/benchmarks.md` under the root).
    pub output: Option<PathBuf>,
    /// Skip the whole-process timings of the `multilevel` command (see `process`).
    pub no_process: bool,
}

/// Where a model's data come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// An embedded data set (its CSV in `crates/multilevel-datasets/data/<name>.csv`).
    Dataset(&'static str),
    /// A CSV file in the repository, with the columns to read as factors.
    Repo(&'static str, &'static [&'static str]),
    /// A model of the benchmark suite, by id (formula and data from `suite.tsv`).
    Suite(&'static str),
}

/// A model of the benchmark.
#[derive(Debug, Clone, Copy)]
struct ModelSpec {
    name: &'static str,
    source: Source,
    /// The formula (empty for suite models: taken from `suite.tsv`).
    formula: &'static str,
    reml: bool,
    /// lme4 takes more than a minute: one repetition, skipped in quick mode.
    lme4_slow: bool,
    /// A reference JSON (`tests/reference/lmm/…`) holding a recorded lme4 time, used in quick mode.
    recorded: Option<&'static str>,
}

const MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: "sleepstudy_slope",
        source: Source::Dataset("sleepstudy"),
        formula: "Reaction ~ Days + (Days | Subject)",
        reml: true,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "sleepstudy_intercept",
        source: Source::Dataset("sleepstudy"),
        formula: "Reaction ~ Days + (1 | Subject)",
        reml: true,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "sleepstudy_uncorr",
        source: Source::Dataset("sleepstudy"),
        formula: "Reaction ~ Days + (Days || Subject)",
        reml: true,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "penicillin",
        source: Source::Dataset("Penicillin"),
        formula: "diameter ~ 1 + (1 | plate) + (1 | sample)",
        reml: true,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "pastes",
        source: Source::Dataset("Pastes"),
        formula: "strength ~ 1 + (1 | batch/cask)",
        reml: true,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "insteval_3term_ml",
        source: Source::Repo(
            "tests/data/InstEval.csv",
            &["s", "d", "studage", "lectage", "service", "dept"],
        ),
        formula: "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
        reml: false,
        // lme4 takes ~30 s on this machine when it is quiet (79 s were recorded by
        // xtask/r/reference.R on a loaded one): timed side by side even with --quick.
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "kb07_1",
        source: Source::Suite("kb07_1"),
        formula: "",
        reml: false,
        lme4_slow: true,
        recorded: None,
    },
    ModelSpec {
        name: "kb07_2",
        source: Source::Suite("kb07_2"),
        formula: "",
        reml: false,
        lme4_slow: true,
        recorded: None,
    },
    ModelSpec {
        name: "d3_1",
        source: Source::Suite("d3_1"),
        formula: "",
        reml: false,
        lme4_slow: true,
        recorded: None,
    },
    ModelSpec {
        name: "ml1m_1",
        source: Source::Suite("ml1m_1"),
        formula: "",
        reml: false,
        lme4_slow: true,
        recorded: None,
    },
    ModelSpec {
        name: "gb12_1",
        source: Source::Suite("gb12_1"),
        formula: "",
        reml: false,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "bs10_1",
        source: Source::Suite("bs10_1"),
        formula: "",
        reml: false,
        lme4_slow: false,
        recorded: None,
    },
    ModelSpec {
        name: "chem97_2",
        source: Source::Suite("chem97_2"),
        formula: "",
        reml: false,
        lme4_slow: false,
        recorded: None,
    },
];

/// A model resolved to a CSV file and a formula.
#[derive(Debug, Clone)]
struct Resolved {
    spec: ModelSpec,
    csv: PathBuf,
    factors: Vec<String>,
    formula: String,
}

/// Our side of one model.
#[derive(Debug, Clone, Serialize)]
pub struct OurTiming {
    /// Median seconds of a whole `lmer()` call.
    pub median: f64,
    /// Number of timed fits.
    pub reps: usize,
    /// Median seconds of `LinearMixedModel::fit` on a prepared model, when measured.
    pub fit_only: Option<f64>,
    /// Repetitions of the fit-only timing.
    pub fit_only_reps: usize,
    /// Objective evaluations of one fit.
    pub evaluations: usize,
    /// The objective at the optimum (REML criterion or ML deviance).
    pub objective: f64,
    /// Number of observations.
    pub nobs: usize,
    /// Number of θ.
    pub n_theta: usize,
    /// Peak resident memory (VmHWM) over reading the data and all fits, bytes.
    pub peak_rss: Option<u64>,
    /// Resident memory before reading the data, bytes.
    pub baseline_rss: Option<u64>,
}

/// lme4's side of one model.
#[derive(Debug, Clone, Serialize)]
pub struct Lme4Timing {
    /// Median elapsed seconds of `lmer()` (or the recorded figure).
    pub median: f64,
    /// Number of timed fits (0 for a recorded figure).
    pub reps: usize,
    /// `fit@optinfo$feval`.
    pub evaluations: Option<usize>,
    /// `fit@optinfo$optimizer` (lme4's default for `lmer` is `nloptwrap`, NLopt's BOBYQA).
    pub optimizer: Option<String>,
    /// `-2 logLik` under the fit's method.
    pub objective: Option<f64>,
    /// Where the figure comes from, when it was not measured in this run.
    pub note: Option<String>,
    /// lme4's warnings and messages.
    pub warnings: Vec<String>,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Model name.
    pub name: String,
    /// Formula.
    pub formula: String,
    /// REML or ML.
    pub reml: bool,
    /// Our figures (None when our fit failed).
    pub ours: Option<OurTiming>,
    /// Our error, if the fit failed.
    pub error: Option<String>,
    /// lme4's figures.
    pub lme4: Option<Lme4Timing>,
    /// Why there are no lme4 figures, when there are none.
    pub lme4_missing: Option<String>,
}

impl BenchRow {
    /// lme4 time / our time.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.ours, &self.lme4) {
            (Some(o), Some(l)) if o.median > 0.0 => Some(l.median / o.median),
            _ => None,
        }
    }
}

/// Run the benchmark with default options (lme4 on every model, report in `docs/benchmarks.md`).
/// Setting the environment variable `MULTILEVEL_BENCH_QUICK=1` selects quick mode.
pub fn run(root: &Path, suite: Option<&Path>, models: Option<&str>) -> Result<()> {
    let opts = BenchOptions {
        suite: suite.map(Path::to_path_buf),
        models: models.map(str::to_string),
        quick: std::env::var("MULTILEVEL_BENCH_QUICK").is_ok_and(|v| v != "0" && !v.is_empty()),
        ..BenchOptions::default()
    };
    run_with(root, &opts).map(|_| ())
}

/// Run the benchmark: our fits, then lme4's (one R process), then write the report.
pub fn run_with(root: &Path, opts: &BenchOptions) -> Result<Vec<BenchRow>> {
    let root_buf = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let root = root_buf.as_path();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: xtask was built without optimisations; timings are meaningless (use `cargo xtask`, which builds with --release)"
        );
    }
    let load_start = load_average();
    let suite_dir = opts
        .suite
        .clone()
        .unwrap_or_else(|| root.join("..").join("shared").join("bench"));
    let suite_rows = if suite_dir.join("suite.tsv").is_file() {
        Some(crate::read_suite(&suite_dir)?)
    } else {
        println!(
            "note: no suite.tsv in {}; the benchmark-suite models are skipped (pass --suite DIR)",
            suite_dir.display()
        );
        None
    };
    let wanted: Vec<String> = opts
        .models
        .as_deref()
        .map(|m| {
            m.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let selected =
        |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str()));
    let mut resolved = Vec::new();
    let mut skipped = Vec::new();
    for spec in MODELS {
        if !selected(spec.name) {
            continue;
        }
        match resolve(root, &suite_dir, suite_rows.as_deref(), spec)? {
            Some(r) => resolved.push(r),
            None => skipped.push(spec.name),
        }
    }
    let data_dir = root.join("target").join("bench-data");
    let mut glmm_resolved = Vec::new();
    for spec in GLMM_MODELS {
        if selected(spec.name) {
            glmm_resolved.push(resolve_glmm(root, &data_dir, spec)?);
        }
    }
    // The whole-process cases resolve their models from the full lists (a case may be selected
    // while its library model is not, e.g. `--models satterthwaite`).
    let process_cases = if opts.no_process {
        Vec::new()
    } else {
        let wants = |base: &str| {
            process::PROCESS_CASES.iter().any(|c| {
                selected(c.name)
                    && matches!(c.base, process::Base::Lmm(b, _) | process::Base::Glmm(b) if b == base)
            })
        };
        let mut lmms = Vec::new();
        for spec in MODELS.iter().filter(|m| wants(m.name)) {
            if let Some(r) = resolve(root, &suite_dir, suite_rows.as_deref(), spec)? {
                lmms.push(r);
            }
        }
        let mut glmms = Vec::new();
        for spec in GLMM_MODELS.iter().filter(|m| wants(m.name)) {
            glmms.push(resolve_glmm(root, &data_dir, spec)?);
        }
        process::resolve_cases(&selected, &lmms, &glmms)
    };
    if resolved.is_empty() && glmm_resolved.is_empty() && process_cases.is_empty() {
        bail!(
            "no model selected; models are: {}",
            MODELS
                .iter()
                .map(|m| m.name)
                .chain(GLMM_MODELS.iter().map(|m| m.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let mut rows = Vec::new();
    for r in &resolved {
        print!("ours: {} ... ", r.spec.name);
        flush();
        let row = match time_ours(r) {
            Ok(t) => {
                println!(
                    "median {} over {} fit(s), {} evaluations, objective {:.6}",
                    fmt_secs(t.median),
                    t.reps,
                    t.evaluations,
                    t.objective
                );
                BenchRow {
                    name: r.spec.name.to_string(),
                    formula: r.formula.clone(),
                    reml: r.spec.reml,
                    ours: Some(t),
                    error: None,
                    lme4: None,
                    lme4_missing: None,
                }
            }
            Err(e) => {
                println!("FAILED: {e:#}");
                BenchRow {
                    name: r.spec.name.to_string(),
                    formula: r.formula.clone(),
                    reml: r.spec.reml,
                    ours: None,
                    error: Some(format!("{e:#}")),
                    lme4: None,
                    lme4_missing: None,
                }
            }
        };
        rows.push(row);
    }

    let mut glmm_rows: Vec<GlmmRow> = glmm_resolved
        .iter()
        .map(|g| {
            print!("ours: {} ... ", g.spec.name);
            flush();
            match time_ours_glmm(g) {
                Ok(t) => {
                    println!(
                        "median {} over {} fit(s) (fit only {}), evaluations {}+{}, logLik {:.6}",
                        fmt_secs(t.median),
                        t.reps,
                        t.fit_only.map_or("—".into(), fmt_secs),
                        t.evaluations[0],
                        t.evaluations[1],
                        t.loglik
                    );
                    GlmmRow::new(g, Some(t), None)
                }
                Err(e) => {
                    println!("FAILED: {e:#}");
                    GlmmRow::new(g, None, Some(format!("{e:#}")))
                }
            }
        })
        .collect();

    let mut process_rows = Vec::new();
    if !process_cases.is_empty() {
        let bin = process::build_cli(root)?;
        for case in &process_cases {
            process_rows.push(process::time_case(&bin, case));
        }
    }

    let work = root.join("target").join("bench-lme4");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let mut r_info = RInfo::default();
    let mut extra_r = Vec::new();
    if opts.no_lme4 {
        println!("note: lme4 not run (--no-lme4)");
    } else {
        let canonical = |p: &Path| {
            p.canonicalize()
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let extra = process::lmertest_specs(&process_cases, opts.quick, &canonical);
        match run_lme4(root, &work, &resolved, &glmm_resolved, extra, opts.quick) {
            Ok((info, timings, glmm_timings, extra_timings)) => {
                extra_r = extra_timings;
                r_info = info;
                for (row, t) in rows.iter_mut().zip(timings) {
                    row.lme4 = t;
                }
                for (row, t) in glmm_rows.iter_mut().zip(glmm_timings) {
                    row.lme4 = t;
                }
            }
            Err(e) => {
                println!("note: lme4 timings unavailable: {e:#}");
                r_info.error = Some(format!("{e:#}"));
            }
        }
    }
    for (row, r) in rows.iter_mut().zip(&resolved) {
        if row.lme4.is_some() {
            continue;
        }
        if opts.no_lme4 {
            row.lme4_missing = Some("not run".into());
        } else if opts.quick && r.spec.lme4_slow {
            row.lme4 = r
                .spec
                .recorded
                .and_then(|rec| recorded_lme4(root, rec).ok());
            row.lme4_missing = Some("skipped (`--quick`)".into());
        } else {
            row.lme4_missing = Some("failed".into());
        }
    }

    for (row, g) in glmm_rows.iter_mut().zip(&glmm_resolved) {
        if row.lme4.is_none() {
            row.lme4_missing = Some(if opts.no_lme4 {
                "not run".into()
            } else if opts.quick && g.spec.lme4_slow {
                "skipped (`--quick`)".into()
            } else {
                "failed".into()
            });
        }
        if let Some(w) = row.loglik_warning() {
            println!("WARNING: {w}");
        }
    }

    if !process_rows.is_empty() {
        let lmertest = |name: &str| {
            extra_r
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.clone())
        };
        let library = |name: &str| {
            rows.iter()
                .find(|r| r.name == name)
                .and_then(|r| r.lme4.clone())
                .or_else(|| {
                    glmm_rows
                        .iter()
                        .find(|r| r.name == name)
                        .and_then(|r| r.lme4.clone())
                })
        };
        process::attach_r(
            &mut process_rows,
            &process_cases,
            &lmertest,
            &library,
            opts.no_lme4,
            opts.quick,
        );
    }

    let load_end = load_average();
    if !process_rows.is_empty() {
        let path = work.join("process-results.json");
        std::fs::write(&path, serde_json::to_string_pretty(&process_rows)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let json_path = work.join("results.json");
    if !rows.is_empty() {
        let json = serde_json::to_string_pretty(&rows)?;
        std::fs::write(&json_path, json)
            .with_context(|| format!("writing {}", json_path.display()))?;
    }
    let glmm_json_path = work.join("glmm-results.json");
    if !glmm_rows.is_empty() {
        let json = serde_json::to_string_pretty(&glmm_rows)?;
        std::fs::write(&glmm_json_path, json)
            .with_context(|| format!("writing {}", glmm_json_path.display()))?;
    }
    let out = opts
        .output
        .clone()
        .unwrap_or_else(|| root.join("docs").join("benchmarks.md"));
    let old = std::fs::read_to_string(&out).ok();
    let lmm_md = (!rows.is_empty())
        .then(|| render_markdown(&rows, &skipped, opts, &r_info, load_start, load_end));
    let glmm_md = (!glmm_rows.is_empty())
        .then(|| render_glmm_markdown(&glmm_rows, opts, &r_info, load_start, load_end));
    let process_md = (!process_rows.is_empty()).then(|| process::render(&process_rows));
    let md = merge_sections(old.as_deref(), lmm_md, process_md, glmm_md);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, md).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} and the JSON results in {}",
        out.display(),
        work.display()
    );
    Ok(rows)
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// Resolve a model to its CSV file and formula; `None` when its suite data are absent.
fn resolve(
    root: &Path,
    suite_dir: &Path,
    suite_rows: Option<&[crate::SuiteRow]>,
    spec: &ModelSpec,
) -> Result<Option<Resolved>> {
    Ok(match spec.source {
        Source::Dataset(name) => {
            let d = multilevel::datasets::get(name)
                .ok_or_else(|| anyhow!("no embedded data set {name}"))?;
            Some(Resolved {
                spec: *spec,
                csv: root
                    .join("crates/multilevel-datasets/data")
                    .join(format!("{}.csv", d.name)),
                factors: d.factors.iter().map(|s| s.to_string()).collect(),
                formula: spec.formula.to_string(),
            })
        }
        Source::Repo(path, factors) => Some(Resolved {
            spec: *spec,
            csv: root.join(path),
            factors: factors.iter().map(|s| s.to_string()).collect(),
            formula: spec.formula.to_string(),
        }),
        Source::Suite(id) => {
            let Some(rows) = suite_rows else {
                return Ok(None);
            };
            let row = rows
                .iter()
                .find(|r| r.id == id)
                .ok_or_else(|| anyhow!("suite.tsv in {} has no model {id}", suite_dir.display()))?;
            let csv = suite_dir.join(&row.data);
            if !csv.is_file() {
                println!("note: {} is absent; {id} skipped", csv.display());
                return Ok(None);
            }
            Some(Resolved {
                spec: *spec,
                csv,
                factors: Vec::new(),
                formula: row.formula.clone(),
            })
        }
    })
}

fn read_data(r: &Resolved) -> Result<DataFrame> {
    let opts = ReadOptions {
        factor_columns: r.factors.clone(),
        ordered_columns: Vec::new(),
    };
    Ok(DataFrame::read_csv(&r.csv, &opts)?)
}

fn fit_options(reml: bool) -> FitOptions {
    FitOptions {
        reml,
        cond_var: false,
        ..FitOptions::default()
    }
}

/// How many timed repetitions after a first fit that took `first`: the median of a few when a
/// fit takes seconds, about three seconds' worth otherwise (5 to 201 fits).
fn repetitions(first: Duration) -> usize {
    let s = first.as_secs_f64();
    if s >= 5.0 {
        0
    } else if s >= 1.0 {
        3
    } else {
        ((3.0 / s.max(1e-6)) as usize).clamp(5, 201)
    }
}

fn time_ours(r: &Resolved) -> Result<OurTiming> {
    let baseline_rss = reset_peak_rss();
    let data = read_data(r)?;
    let opts = fit_options(r.spec.reml);
    let start = Instant::now();
    let first: FitResult = multilevel::lmer(&r.formula, &data, &opts)?.into_summary();
    let first_time = start.elapsed();
    let reps = repetitions(first_time);
    let mut times = Vec::with_capacity(reps.max(1));
    if reps == 0 {
        times.push(first_time.as_secs_f64());
    }
    for _ in 0..reps {
        let start = Instant::now();
        let fit = multilevel::lmer(&r.formula, &data, &opts)?;
        times.push(start.elapsed().as_secs_f64());
        std::hint::black_box(fit);
    }
    let (fit_only, fit_only_reps) = if first_time.as_secs_f64() < 1.0 {
        let mut model = multilevel::prepare_lmm(&r.formula, &data, &opts)?;
        let start = Instant::now();
        std::hint::black_box(model.fit()?);
        let n = repetitions(start.elapsed());
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            std::hint::black_box(model.fit()?);
            t.push(start.elapsed().as_secs_f64());
        }
        (median(&mut t), n)
    } else {
        (None, 0)
    };
    let peak_rss = proc_status_kib("VmHWM").map(|k| k * 1024);
    Ok(OurTiming {
        median: median(&mut times).unwrap_or(f64::NAN),
        reps: times.len(),
        fit_only,
        fit_only_reps,
        evaluations: first.optimizer.evaluations,
        objective: first.objective,
        nobs: first.nobs,
        n_theta: first.theta.len(),
        peak_rss,
        baseline_rss,
    })
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// A field of `/proc/self/status` in KiB.
fn proc_status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Reset the high-water mark of resident memory to the current value (Linux: write `5` to
/// `/proc/self/clear_refs`); returns the current resident memory in bytes.
fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    proc_status_kib("VmRSS").map(|k| k * 1024)
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What R reported about itself.
#[derive(Debug, Clone, Default)]
struct RInfo {
    r_version: Option<String>,
    lme4_version: Option<String>,
    matrix_version: Option<String>,
    blas: Option<String>,
    error: Option<String>,
}

/// lme4's results per LMM and per GLMM (in the order given), `None` where not run.
/// Also the extra entries (`name`, timing) that ran.
type Lme4Results = (
    RInfo,
    Vec<Option<Lme4Timing>>,
    Vec<Option<Lme4Timing>>,
    Vec<(String, Lme4Timing)>,
);

/// Write the spec, run `xtask/r/bench_lme4.R` once for all models (LMMs, then GLMMs), read its
/// results.
fn run_lme4(
    root: &Path,
    work: &Path,
    models: &[Resolved],
    glmms: &[GlmmResolved],
    extra: Vec<Value>,
    quick: bool,
) -> Result<Lme4Results> {
    let canonical = |p: &Path| {
        p.canonicalize()
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let mut spec: Vec<Value> = models
        .iter()
        .map(|r| {
            let slow = r.spec.lme4_slow;
            serde_json::json!({
                "name": r.spec.name,
                "kind": "lmer",
                "csv": canonical(&r.csv),
                "factors": r.factors,
                "formula": r.formula,
                "reml": r.spec.reml,
                "reps": 25,
                "budget": 5.0,
                "single": 2.0,
                "run": !(quick && slow),
            })
        })
        .collect();
    spec.extend(glmms.iter().map(|g| {
        serde_json::json!({
            "name": g.spec.name,
            "kind": "glmer",
            "csv": canonical(&g.csv),
            "factors": g.factors,
            "formula": g.spec.formula,
            "family": g.spec.family,
            "nAGQ": g.spec.n_agq,
            "reps": 25,
            "budget": 5.0,
            "single": 2.0,
            "run": !(quick && g.spec.lme4_slow),
        })
    }));
    let extra_names: Vec<String> = extra
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect();
    spec.extend(extra);
    let spec_path = work.join("lme4-spec.json");
    let out_path = work.join("lme4-results.json");
    std::fs::write(&spec_path, serde_json::to_string_pretty(&spec)?)?;
    let _ = std::fs::remove_file(&out_path);
    // Rscript reads its file as it runs: run a copy, so that editing the script meanwhile
    // cannot break a long run.
    let script = work.join("bench_lme4.R");
    std::fs::copy(root.join("xtask/r/bench_lme4.R"), &script)
        .with_context(|| format!("copying xtask/r/bench_lme4.R to {}", script.display()))?;
    let rscript = std::env::var("RSCRIPT").unwrap_or_else(|_| "Rscript".to_string());
    let status = Command::new(&rscript)
        .arg(&script)
        .arg(&spec_path)
        .arg(&out_path)
        .status()
        .with_context(|| {
            format!("running {rscript} (install R with r-base-core r-cran-lme4 r-cran-jsonlite)")
        })?;
    if !status.success() {
        bail!("xtask/r/bench_lme4.R failed ({status})");
    }
    let text = std::fs::read_to_string(&out_path)
        .with_context(|| format!("reading {}", out_path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    let info = RInfo {
        r_version: v["r_version"].as_str().map(str::to_string),
        lme4_version: v["lme4_version"].as_str().map(str::to_string),
        matrix_version: v["matrix_version"].as_str().map(str::to_string),
        blas: v["blas"].as_str().map(str::to_string),
        error: None,
    };
    let results = v["models"].as_array().cloned().unwrap_or_default();
    let timing = |name: &str| -> Option<Lme4Timing> {
        let m = results.iter().find(|m| m["name"].as_str() == Some(name))?;
        if m["run"].as_bool() != Some(true) {
            return None;
        }
        Some(Lme4Timing {
            median: m["median"].as_f64()?,
            reps: m["times"].as_array().map_or(0, Vec::len),
            evaluations: m["feval"].as_u64().map(|n| n as usize),
            optimizer: m["optimizer"].as_str().map(str::to_string),
            objective: m["objective"].as_f64(),
            note: None,
            warnings: m["warnings"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    };
    let lmm = models.iter().map(|r| timing(r.spec.name)).collect();
    let glmm = glmms.iter().map(|g| timing(g.spec.name)).collect();
    let extra = extra_names
        .into_iter()
        .filter_map(|n| timing(&n).map(|t| (n, t)))
        .collect();
    Ok((info, lmm, glmm, extra))
}

/// lme4's figure recorded in a reference JSON by `xtask/r/reference.R`.
fn recorded_lme4(root: &Path, rel: &str) -> Result<Lme4Timing> {
    let text = std::fs::read_to_string(root.join(rel)).with_context(|| rel.to_string())?;
    let v: Value = serde_json::from_str(&text)?;
    Ok(Lme4Timing {
        median: v["time_s"]
            .as_f64()
            .ok_or_else(|| anyhow!("{rel} has no time_s"))?,
        reps: 0,
        evaluations: v["feval"].as_u64().map(|n| n as usize),
        optimizer: None,
        objective: v["objective"].as_f64(),
        note: Some(format!(
            "not run (--quick): one fit recorded by xtask/r/reference.R in {rel}"
        )),
        warnings: Vec::new(),
    })
}

/// Text for a markdown table cell: `|` escaped (GitHub tables need it even in code spans).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "—".to_string()
    } else if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn fmt_mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Machine description lines for the report.
fn machine_lines(r: &RInfo) -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or_else(
            || "unknown".to_string(),
            |k| format!("{:.1} GiB", k as f64 / (1024.0 * 1024.0)),
        );
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let rustc = command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".to_string());
    let threads = std::env::var("RAYON_NUM_THREADS")
        .map(|t| format!("RAYON_NUM_THREADS={t}"))
        .unwrap_or_else(|_| "RAYON_NUM_THREADS unset".to_string());
    let unknown = || "unknown".to_string();
    vec![
        format!("- CPU: {model}; `nproc` = {cpus}"),
        format!("- memory: {mem}"),
        format!("- OS: {os}, Linux {kernel}"),
        format!(
            "- Rust: {rustc}, release profile (`cargo xtask` builds with `--release`); {threads}"
        ),
        format!(
            "- R: {}; lme4 {}; Matrix {}; BLAS {}",
            r.r_version.clone().unwrap_or_else(unknown),
            r.lme4_version.clone().unwrap_or_else(unknown),
            r.matrix_version.clone().unwrap_or_else(unknown),
            r.blas.clone().unwrap_or_else(unknown),
        ),
    ]
}

/// A target of the issue and whether it is met.
struct Target {
    what: String,
    measured: String,
    status: &'static str,
}

fn status(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// The end of a report section: notes (if any), the formulas, and the targets table under a
/// heading of level `heading` (`##` or `###`).
fn write_notes_formulas_targets(
    s: &mut String,
    notes: &[String],
    formulas: &[(&str, &str)],
    heading: &str,
    targets: &[Target],
) {
    if !notes.is_empty() {
        let _ = writeln!(s, "\nNotes:\n");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    let _ = writeln!(s, "\nFormulas:\n");
    for (name, formula) in formulas {
        let _ = writeln!(s, "- {name}: `{formula}`");
    }
    let _ = writeln!(s, "\n{heading} Targets (from the issue)\n");
    let _ = writeln!(s, "| target | measured | status |");
    let _ = writeln!(s, "|---|---|---|");
    for t in targets {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            cell(&t.what),
            cell(&t.measured),
            t.status
        );
    }
}

fn targets(rows: &[BenchRow]) -> Vec<Target> {
    let find = |n: &str| rows.iter().find(|r| r.name == n);
    let ours = |n: &str| find(n).and_then(|r| r.ours.as_ref());
    let mut t = Vec::new();
    let ie = find("insteval_3term_ml");
    let ratio = ie.and_then(BenchRow::ratio);
    t.push(Target {
        what: "InstEval 3-term ML: ≥ 50× faster than lme4".into(),
        measured: ratio.map_or("—".into(), |r| {
            let note = ie
                .and_then(|r| r.lme4.as_ref())
                .and_then(|l| l.note.as_ref())
                .map_or("", |_| " (lme4 figure recorded, not measured in this run)");
            format!("{r:.1}×{note}")
        }),
        status: status(ratio.map(|r| r >= 50.0)),
    });
    let ss = ours("sleepstudy_slope");
    let ss_fit = ss.and_then(|o| o.fit_only);
    t.push(Target {
        what: "sleepstudy `(Days | Subject)`: ≤ 0.15 ms per fit in the library".into(),
        measured: match ss {
            Some(o) => format!(
                "{} fit only (`LinearMixedModel::fit`), {} whole `lmer()` call",
                ss_fit.map_or("—".into(), fmt_secs),
                fmt_secs(o.median)
            ),
            None => "—".into(),
        },
        status: status(ss_fit.map(|s| s <= 0.15e-3)),
    });
    for (name, label, limit) in [
        ("kb07_1", "kb07 maximal (kb07_1): ≤ 0.5 s", 0.5),
        ("d3_1", "d3 (d3_1): ≤ 2 s", 2.0),
        ("ml1m_1", "ml1m (ml1m_1): ≤ 20 s", 20.0),
    ] {
        let o = ours(name);
        t.push(Target {
            what: label.into(),
            measured: o.map_or("—".into(), |o| fmt_secs(o.median)),
            status: status(o.map(|o| o.median <= limit)),
        });
    }
    let ml = ours("ml1m_1");
    let ml_peak = ml.and_then(|o| o.peak_rss);
    let ml_base = ml.and_then(|o| o.baseline_rss);
    t.push(Target {
        what: "ml1m: peak memory ≤ 1 GiB".into(),
        measured: ml_peak.map_or("—".into(), |b| {
            format!(
                "{} (VmHWM over reading the CSV and the fit; {} resident before)",
                fmt_mib(b),
                ml_base.map_or("?".into(), fmt_mib)
            )
        }),
        status: status(ml_peak.map(|b| b <= 1 << 30)),
    });
    for (name, label, limit) in [
        (
            "sleepstudy_slope",
            "sleepstudy evaluations ≤ MixedModels.jl's 82 (derivative-free)",
            82,
        ),
        (
            "insteval_3term_ml",
            "InstEval 3-term evaluations ≤ MixedModels.jl's 81",
            81,
        ),
    ] {
        let o = ours(name);
        t.push(Target {
            what: label.into(),
            measured: o.map_or("—".into(), |o| o.evaluations.to_string()),
            status: status(o.map(|o| o.evaluations <= limit)),
        });
    }
    t
}

fn render_markdown(
    rows: &[BenchRow],
    skipped: &[&str],
    opts: &BenchOptions,
    r: &RInfo,
    load_start: Option<f64>,
    load_end: Option<f64>,
) -> String {
    let mut s = String::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let busy =
        load_start.is_some_and(|l| l > 0.5 * cpus) || load_end.is_some_and(|l| l > 0.5 * cpus);
    let _ = writeln!(s, "# Benchmarks: multilevel against lme4\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask bench-lme4{}{}`. Regenerate on a quiet machine with \
         `cargo xtask bench-lme4 --suite ../shared/bench` (add `--quick` to skip lme4 where it \
         takes more than a minute).\n",
        if opts.quick { " --quick" } else { "" },
        opts.models
            .as_deref()
            .map_or(String::new(), |m| format!(" --models {m}"))
    );
    if busy {
        let _ = writeln!(
            s,
            "> **Preliminary.** The machine was busy during this run (1-minute load average {} \
             at the start, {} at the end, on {} CPUs): other processes competed for the cores, \
             so both columns of times are noisy and probably too high.\n",
            load_start.map_or("?".into(), |l| format!("{l:.2}")),
            load_end.map_or("?".into(), |l| format!("{l:.2}")),
            cpus
        );
    }
    let _ = writeln!(s, "## Machine\n");
    for l in machine_lines(r) {
        let _ = writeln!(s, "{l}");
    }
    let _ = writeln!(
        s,
        "- load average (1 min) at start / end: {} / {}\n",
        load_start.map_or("?".into(), |l| format!("{l:.2}")),
        load_end.map_or("?".into(), |l| format!("{l:.2}"))
    );
    let _ = writeln!(s, "## What is measured\n");
    let _ = writeln!(
        s,
        "- **ours**: median wall time of `multilevel::lmer(formula, &data, &opts)` on data already \
         in memory — parsing, model frame, design, cross products, optimisation and results — \
         over *N* fits in one process after one untimed fit (*N* from ~3 s of fitting, 5–201; \
         3 for fits over 1 s; the single first fit for fits over 5 s). `cond_var: false`: lme4's \
         `lmer()` does not compute conditional variances of the random effects (only \
         `ranef(condVar = TRUE)` does), so neither do we here. Convergence checks stay on, as in lme4."
    );
    let mut optimizers: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.lme4.as_ref()?.optimizer.as_deref())
        .collect();
    optimizers.sort_unstable();
    optimizers.dedup();
    if !optimizers.is_empty() {
        let _ = writeln!(
            s,
            "- lme4's optimizer (`fit@optinfo$optimizer`, its `lmerControl()` default) in this \
             run: {}. Ours is the engine's default (`LmmOptions::optimizer`, see \
             `crates/multilevel-lmm`); evaluation counts also depend on each optimiser's \
             stopping rule.",
            optimizers.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "- **fit only**: median time of `LinearMixedModel::fit()` on a model prepared once with \
         `prepare_lmm` (no parsing, no design build), for models whose whole fit takes under 1 s."
    );
    let _ = writeln!(
        s,
        "- **lme4**: `xtask/r/bench_lme4.R` times `system.time(lmer(formula, data, REML = …))` \
         (elapsed) inside R with lme4's default `lmerControl()`. A first fit that takes 2 s or \
         more is the only timed fit; a faster one is an untimed warm-up, followed by the median \
         of up to 25 fits within ~5 s. R start-up, package loading and reading the CSV are not \
         timed. With `--quick`, lme4 is not run on the models where it needs more than ~40 s \
         (kb07, d3, ml1m); a figure recorded earlier on this machine by \
         `xtask/r/reference.R` is shown where one exists."
    );
    let _ = writeln!(
        s,
        "- Both read the same CSV files (embedded data sets from \
         `crates/multilevel-datasets/data/`, InstEval from `tests/data/`, the others from the \
         benchmark suite). Objectives are the REML criterion (REML fits) or the ML deviance, \
         lme4's as `-2 logLik`. Evaluations: ours `fit.optimizer.evaluations`, lme4's \
         `fit@optinfo$feval`."
    );
    let _ = writeln!(
        s,
        "- **peak RSS**: our process's `VmHWM`, reset (`/proc/self/clear_refs`) before reading \
         each model's data, so it covers reading the CSV and all fits of that model plus what \
         the process already held.\n"
    );
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "| model | method | n | θ | ours | fit only | lme4 | lme4 / ours | evals ours | evals lme4 | objective ours | objective lme4 | peak RSS |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let mut notes = Vec::new();
    for row in rows {
        let method = if row.reml { "REML" } else { "ML" };
        let Some(o) = &row.ours else {
            let _ = writeln!(
                s,
                "| {} | {method} | | | failed | | | | | | | | |",
                row.name
            );
            notes.push(format!(
                "{}: our fit failed: {}",
                row.name,
                row.error.clone().unwrap_or_default()
            ));
            continue;
        };
        let (lt, le, lo) = match &row.lme4 {
            Some(l) => {
                let star = if l.note.is_some() { " ¹" } else { "" };
                if let Some(n) = &l.note {
                    notes.push(format!("¹ {}: lme4 {n}", row.name));
                }
                if !l.warnings.is_empty() {
                    notes.push(format!(
                        "{}: lme4 said: {}",
                        row.name,
                        l.warnings.join("; ")
                    ));
                }
                (
                    format!(
                        "{}{star}{}",
                        fmt_secs(l.median),
                        if l.reps > 0 {
                            format!(" ({})", l.reps)
                        } else {
                            String::new()
                        }
                    ),
                    l.evaluations.map_or("—".into(), |e| e.to_string()),
                    l.objective.map_or("—".into(), |v| format!("{v:.6}")),
                )
            }
            None => (
                row.lme4_missing.clone().unwrap_or_else(|| "—".into()),
                "—".into(),
                "—".into(),
            ),
        };
        let _ = writeln!(
            s,
            "| {} | {method} | {} | {} | {} ({}) | {} | {lt} | {} | {} | {le} | {:.6} | {lo} | {} |",
            row.name,
            o.nobs,
            o.n_theta,
            fmt_secs(o.median),
            o.reps,
            o.fit_only.map_or("—".into(), |f| format!(
                "{} ({})",
                fmt_secs(f),
                o.fit_only_reps
            )),
            row.ratio().map_or("—".into(), |r| format!("{r:.1}×")),
            o.evaluations,
            o.objective,
            o.peak_rss.map_or("—".into(), fmt_mib),
        );
        if let Some(lo) = row.lme4.as_ref().and_then(|l| l.objective)
            && o.objective.is_finite()
        {
            let d = o.objective - lo;
            if d > 1e-6 * lo.abs().max(1.0) {
                notes.push(format!(
                    "{}: our objective is {d:.3e} above lme4's — not the same optimum",
                    row.name
                ));
            } else if d < -1e-6 * lo.abs().max(1.0) {
                notes.push(format!(
                    "{}: our objective is {:.3e} below lme4's (lme4 stopped at a worse point)",
                    row.name, -d
                ));
            }
        }
    }
    let _ = writeln!(
        s,
        "\nTimes: median (number of timed fits). The ratio is lme4's time over ours (whole \
         `lmer()` calls on both sides)."
    );
    for n in skipped {
        notes.push(format!(
            "{n}: skipped — the benchmark-suite data were not found (pass `--suite DIR`)"
        ));
    }
    if let Some(e) = &r.error {
        notes.push(format!("lme4 was not run: {e}"));
    }
    let formulas: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.formula.as_str()))
        .collect();
    write_notes_formulas_targets(&mut s, &notes, &formulas, "##", &targets(rows));
    let _ = writeln!(
        s,
        "\nThe criterion benchmarks (`cargo bench --bench lmm`) time the same sleepstudy, \
         Penicillin, InstEval and kb07 models with statistical care (`target/criterion/`); \
         they also time one evaluation of the profiled deviance."
    );
    s
}

// ---------------------------------------------------------------------------------------------
// GLMMs against glmer()
// ---------------------------------------------------------------------------------------------

/// Where a GLMM's data come from.
#[derive(Debug, Clone, Copy)]
enum GlmmData {
    /// An embedded data set.
    Dataset(&'static str),
    /// Simulated here (see [`simulate_crossed_binomial`]).
    CrossedBinomial,
    /// Simulated here (see [`simulate_crossed_poisson`]).
    CrossedPoisson,
}

/// A GLMM of the benchmark.
#[derive(Debug, Clone, Copy)]
struct GlmmSpec {
    name: &'static str,
    data: GlmmData,
    formula: &'static str,
    /// R's family name (`binomial`, `poisson`), canonical link.
    family: &'static str,
    /// lme4's `nAGQ`.
    n_agq: usize,
    /// glmer takes long: skipped with `--quick`.
    lme4_slow: bool,
}

const GLMM_MODELS: &[GlmmSpec] = &[
    GlmmSpec {
        name: "glmm_cbpp_laplace",
        data: GlmmData::Dataset("cbpp"),
        formula: "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        family: "binomial",
        n_agq: 1,
        lme4_slow: false,
    },
    GlmmSpec {
        name: "glmm_cbpp_agq25",
        data: GlmmData::Dataset("cbpp"),
        formula: "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        family: "binomial",
        n_agq: 25,
        lme4_slow: false,
    },
    GlmmSpec {
        name: "glmm_binomial_crossed",
        data: GlmmData::CrossedBinomial,
        formula: "r2 ~ x1 + x2 + (1 | id) + (1 | item)",
        family: "binomial",
        n_agq: 1,
        lme4_slow: false,
    },
    GlmmSpec {
        name: "glmm_poisson_crossed",
        data: GlmmData::CrossedPoisson,
        formula: "y ~ x + (1 | g) + (1 | h)",
        family: "poisson",
        n_agq: 1,
        lme4_slow: true,
    },
];

/// A GLMM resolved to a CSV file.
#[derive(Debug, Clone)]
struct GlmmResolved {
    spec: GlmmSpec,
    csv: PathBuf,
    factors: Vec<String>,
}

/// Resolve a GLMM to its CSV file, simulating (and writing) the data when needed.
fn resolve_glmm(root: &Path, data_dir: &Path, spec: &GlmmSpec) -> Result<GlmmResolved> {
    let (csv, factors) = match spec.data {
        GlmmData::Dataset(name) => {
            let d = multilevel::datasets::get(name)
                .ok_or_else(|| anyhow!("no embedded data set {name}"))?;
            (
                root.join("crates/multilevel-datasets/data")
                    .join(format!("{}.csv", d.name)),
                d.factors.iter().map(|s| s.to_string()).collect(),
            )
        }
        GlmmData::CrossedBinomial => (
            write_bench_csv(
                data_dir,
                "crossed_binomial.csv",
                &simulate_crossed_binomial(),
            )?,
            vec!["id".to_string(), "item".to_string()],
        ),
        GlmmData::CrossedPoisson => (
            write_bench_csv(data_dir, "crossed_poisson.csv", &simulate_crossed_poisson())?,
            vec!["g".to_string(), "h".to_string()],
        ),
    };
    Ok(GlmmResolved {
        spec: *spec,
        csv,
        factors,
    })
}

/// Write `text` to `dir/name` unless the file already holds exactly that text.
fn write_bench_csv(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(path)
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny generator with a fixed seed, so that the
/// simulated benchmark data are the same on every machine and in every run.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on the open interval (0, 1): the top 53 bits, shifted half a step.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal by the Box–Muller transform (one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Poisson with mean `mean` by multiplying uniforms (Knuth); meant for small means.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut prod = self.uniform();
        while prod > limit {
            k += 1;
            prod *= self.uniform();
        }
        k
    }
}

/// A VerbAgg-sized crossed binomial data set: 316 subjects × 24 items = 7,584 rows,
/// `logit P(r2 = 1) = 0.2 + 0.6 x1 − 0.4 x2 + b_id + b_item`, `b_id ~ N(0, 1.3²)`,
/// `b_item ~ N(0, 0.8²)`; `x1` is a subject covariate, `x2` an item covariate (both N(0, 1)).
/// Columns `id` (`s001`…), `item` (`i01`…), `x1`, `x2`, `r2` (0/1). Seed 20240501.
pub fn simulate_crossed_binomial() -> String {
    let mut rng = SplitMix64::new(20_240_501);
    let (ns, ni) = (316, 24);
    let subj: Vec<(f64, f64)> = (0..ns)
        .map(|_| (rng.normal(), 1.3 * rng.normal()))
        .collect();
    let item: Vec<(f64, f64)> = (0..ni)
        .map(|_| (rng.normal(), 0.8 * rng.normal()))
        .collect();
    let mut out = String::from("id,item,x1,x2,r2\n");
    for (s, (x1, bs)) in subj.iter().enumerate() {
        for (i, (x2, bi)) in item.iter().enumerate() {
            let eta = 0.2 + 0.6 * x1 - 0.4 * x2 + bs + bi;
            let p = 1.0 / (1.0 + (-eta).exp());
            let r2 = u8::from(rng.uniform() < p);
            let _ = writeln!(out, "s{:03},i{:02},{x1},{x2},{r2}", s + 1, i + 1);
        }
    }
    out
}

/// A crossed Poisson data set of 100,000 rows: 2,000 levels of `g` × 50 levels of `h`,
/// `log E[y] = 0.5 + 0.3 x + b_g + b_h`, `b_g ~ N(0, 0.6²)`, `b_h ~ N(0, 0.4²)`,
/// `x ~ N(0, 1)` per row. Columns `g` (`g0001`…), `h` (`h01`…), `x`, `y`. Seed 20240502.
pub fn simulate_crossed_poisson() -> String {
    let mut rng = SplitMix64::new(20_240_502);
    let (ng, nh) = (2000, 50);
    let bg: Vec<f64> = (0..ng).map(|_| 0.6 * rng.normal()).collect();
    let bh: Vec<f64> = (0..nh).map(|_| 0.4 * rng.normal()).collect();
    let mut out = String::with_capacity(ng * nh * 40);
    out.push_str("g,h,x,y\n");
    for (g, b) in bg.iter().enumerate() {
        for (h, c) in bh.iter().enumerate() {
            let x = rng.normal();
            let y = rng.poisson((0.5 + 0.3 * x + b + c).exp());
            let _ = writeln!(out, "g{:04},h{:02},{x},{y}", g + 1, h + 1);
        }
    }
    out
}

/// Our side of one GLMM.
#[derive(Debug, Clone, Serialize)]
pub struct GlmmOurs {
    /// Median seconds of a whole `multilevel::glmer()` call.
    pub median: f64,
    /// Number of timed fits.
    pub reps: usize,
    /// Median seconds of `glmer_full` on a design built once.
    pub fit_only: Option<f64>,
    /// Repetitions of the fit-only timing.
    pub fit_only_reps: usize,
    /// Objective evaluations in stage 1 (nAGQ = 0) and stage 2.
    pub evaluations: [usize; 2],
    /// logLik at the optimum.
    pub loglik: f64,
    /// Number of observations.
    pub nobs: usize,
    /// Whether our fit reports convergence.
    pub converged: bool,
}

/// One GLMM row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct GlmmRow {
    /// Model name.
    pub name: String,
    /// Formula.
    pub formula: String,
    /// Family (canonical link).
    pub family: String,
    /// nAGQ.
    pub n_agq: usize,
    /// Our figures (None when our fit failed).
    pub ours: Option<GlmmOurs>,
    /// Our error, if the fit failed.
    pub error: Option<String>,
    /// glmer's figures (`objective` is −2 logLik).
    pub lme4: Option<Lme4Timing>,
    /// Why there are no glmer figures, when there are none.
    pub lme4_missing: Option<String>,
}

impl GlmmRow {
    fn new(g: &GlmmResolved, ours: Option<GlmmOurs>, error: Option<String>) -> Self {
        GlmmRow {
            name: g.spec.name.to_string(),
            formula: g.spec.formula.to_string(),
            family: g.spec.family.to_string(),
            n_agq: g.spec.n_agq,
            ours,
            error,
            lme4: None,
            lme4_missing: None,
        }
    }

    /// glmer's time / ours (whole calls).
    pub fn ratio(&self) -> Option<f64> {
        match (&self.ours, &self.lme4) {
            (Some(o), Some(l)) if o.median > 0.0 => Some(l.median / o.median),
            _ => None,
        }
    }

    /// glmer's logLik.
    pub fn lme4_loglik(&self) -> Option<f64> {
        self.lme4.as_ref()?.objective.map(|o| -o / 2.0)
    }

    /// A warning when our logLik is more than 1e-4 below glmer's (a worse optimum).
    pub fn loglik_warning(&self) -> Option<String> {
        let ours = self.ours.as_ref()?.loglik;
        let theirs = self.lme4_loglik()?;
        // A NaN logLik on our side counts as below.
        (ours.is_nan() || ours < theirs - 1e-4).then(|| {
            format!(
                "{}: our logLik {ours:.6} is {:.3e} below glmer's {theirs:.6}",
                self.name,
                theirs - ours
            )
        })
    }
}

fn glmm_fit_options() -> FitOptions {
    // glmer() does not compute conditional variances of the random effects either.
    FitOptions {
        cond_var: false,
        ..FitOptions::default()
    }
}

fn time_ours_glmm(g: &GlmmResolved) -> Result<GlmmOurs> {
    let opts = ReadOptions {
        factor_columns: g.factors.clone(),
        ordered_columns: Vec::new(),
    };
    let data = DataFrame::read_csv(&g.csv, &opts)?;
    let fo = glmm_fit_options();
    let (formula, family, n_agq) = (g.spec.formula, g.spec.family, g.spec.n_agq);
    let start = Instant::now();
    let family_kind = multilevel::Family::parse(family)
        .ok_or_else(|| anyhow!("unknown family `{family}` in the GLMM benchmark list"))?;
    let gopts = multilevel::GlmerOptions {
        fit: fo.clone(),
        quadrature: multilevel::Quadrature::from_n_agq(n_agq),
    };
    let first = multilevel::glmer(formula, &data, family_kind, &gopts)?;
    let first_time = start.elapsed();
    let reps = repetitions(first_time);
    let mut times = Vec::with_capacity(reps.max(1));
    if reps == 0 {
        times.push(first_time.as_secs_f64());
    }
    for _ in 0..reps {
        let start = Instant::now();
        let fit = multilevel::glmer(formula, &data, family_kind, &gopts)?;
        times.push(start.elapsed().as_secs_f64());
        std::hint::black_box(fit);
    }
    // Fit only: the design built once, `glmer_full` timed on a copy of it.
    let parsed = multilevel::formula::parse(formula)?;
    let frame = multilevel::frame::ModelFrame::new(
        &parsed,
        &data,
        &multilevel::frame::FrameOptions::default(),
    )?;
    let mut design = multilevel::design::build_design_with(
        &parsed,
        &frame,
        &multilevel::design::DesignOptions { allow_n: true },
    )?;
    design.formula = formula.to_string();
    let fam = multilevel_glmm::FamilySpec::parse(family, None)
        .map_err(|e| anyhow!("family {family}: {e}"))?
        .build();
    let gopts = multilevel_glmm::GlmmOptions {
        n_agq,
        cond_var: false,
        ..multilevel_glmm::GlmmOptions::default()
    };
    let d = design.clone();
    let start = Instant::now();
    let full = multilevel_glmm::glmer_full(d, &fam, &gopts)?;
    let one = start.elapsed();
    let (fit_only, fit_only_reps) = if one.as_secs_f64() < 1.0 {
        let n = repetitions(one);
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let d = design.clone();
            let start = Instant::now();
            std::hint::black_box(multilevel_glmm::glmer_full(d, &fam, &gopts)?);
            t.push(start.elapsed().as_secs_f64());
        }
        (median(&mut t), n)
    } else {
        (Some(one.as_secs_f64()), 1)
    };
    Ok(GlmmOurs {
        median: median(&mut times).unwrap_or(f64::NAN),
        reps: times.len(),
        fit_only,
        fit_only_reps,
        evaluations: full.stage_evaluations,
        loglik: first.loglik,
        nobs: first.nobs,
        converged: first.converged,
    })
}

/// The GLMM targets of the issue: each model ≥ 20× faster than glmer, cbpp Laplace ≤ 2 ms.
fn glmm_targets(rows: &[GlmmRow]) -> Vec<Target> {
    let mut t = Vec::new();
    for r in rows {
        let ratio = r.ratio();
        t.push(Target {
            what: format!("{}: ≥ 20× faster than glmer", r.name),
            measured: ratio.map_or("—".into(), |x| format!("{x:.1}×")),
            status: status(ratio.map(|x| x >= 20.0)),
        });
    }
    if let Some(r) = rows.iter().find(|r| r.name == "glmm_cbpp_laplace") {
        let f = r.ours.as_ref().and_then(|o| o.fit_only);
        t.push(Target {
            what: "cbpp Laplace: ≤ 2 ms per fit in the library".into(),
            measured: f.map_or("—".into(), |f| {
                format!("{} fit only (`glmer_full`)", fmt_secs(f))
            }),
            status: status(f.map(|f| f <= 2e-3)),
        });
    }
    t
}

/// The `## GLMM` section of the report.
fn render_glmm_markdown(
    rows: &[GlmmRow],
    opts: &BenchOptions,
    r: &RInfo,
    load_start: Option<f64>,
    load_end: Option<f64>,
) -> String {
    let mut s = String::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let busy =
        load_start.is_some_and(|l| l > 0.5 * cpus) || load_end.is_some_and(|l| l > 0.5 * cpus);
    let _ = writeln!(s, "## GLMM\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask bench-lme4 --models {}{}{}` (the models named `glmm_*`).\n",
        opts.models.as_deref().unwrap_or("glmm"),
        if opts.quick { " --quick" } else { "" },
        if opts.no_lme4 { " --no-lme4" } else { "" },
    );
    if busy {
        let _ = writeln!(
            s,
            "> **Preliminary.** The machine was busy during this run (1-minute load average {} \
             at the start, {} at the end, on {} CPUs): both columns of times are noisy.\n",
            load_start.map_or("?".into(), |l| format!("{l:.2}")),
            load_end.map_or("?".into(), |l| format!("{l:.2}")),
            cpus
        );
    }
    let _ = writeln!(s, "### Machine\n");
    for l in machine_lines(r) {
        let _ = writeln!(s, "{l}");
    }
    let _ = writeln!(
        s,
        "- load average (1 min) at start / end: {} / {}\n",
        load_start.map_or("?".into(), |l| format!("{l:.2}")),
        load_end.map_or("?".into(), |l| format!("{l:.2}"))
    );
    let _ = writeln!(s, "### What is measured\n");
    let _ = writeln!(
        s,
        "- **ours**: median wall time of `multilevel::glmer(formula, &data, family, &opts)` (the \
         options hold nAGQ as the quadrature) on data in memory (parsing, model frame, design, both optimisation stages, the \
         finite-difference Hessian that lme4 also computes for n < 10⁴, results), repeated as \
         for the LMMs; `cond_var: false`, as `glmer()` computes no conditional variances.\n\
         - **fit only**: median time of `multilevel_glmm::glmer_full` on a design built once \
         (this is the library figure of the cbpp target).\n\
         - **glmer**: `xtask/r/bench_lme4.R` times `system.time(glmer(formula, data, family, \
         nAGQ))` (elapsed) inside R with lme4's default `glmerControl()` (bobyqa, then \
         Nelder–Mead), after one untimed warm-up fit unless the first fit takes 2 s or more; \
         median of up to 25 fits within ~5 s. R start-up and reading the CSV are not timed. \
         With `--quick`, glmer is not run on `glmm_poisson_crossed` (one to two minutes).\n\
         - **evals**: ours as stage 1 (nAGQ = 0, β profiled) + stage 2 (θ and β), without the \
         Hessian's evaluations; glmer's `fit@optinfo$feval` counts its stage 2 only.\n\
         - **logLik**: both must agree to 1e-4, or ours be higher; a row marked ⚠ says otherwise.\n\
         - Data: cbpp is the embedded data set (lme4's `cbpp`). `glmm_binomial_crossed` \
         (316 subjects × 24 items, VerbAgg-sized) and `glmm_poisson_crossed` (2,000 × 50 = \
         100,000 rows) are simulated by `xtask/src/bench.rs` with a fixed-seed generator and \
         written to `target/bench-data/`, which R reads too.\n"
    );
    let _ = writeln!(s, "### Results\n");
    let _ = writeln!(
        s,
        "| model | family | nAGQ | n | ours | fit only | glmer | glmer / ours | evals ours | evals glmer | logLik ours | logLik glmer |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let mut notes = Vec::new();
    for row in rows {
        let Some(o) = &row.ours else {
            let _ = writeln!(
                s,
                "| {} | {} | {} | | failed | | | | | | | |",
                row.name, row.family, row.n_agq
            );
            notes.push(format!(
                "{}: our fit failed: {}",
                row.name,
                row.error.clone().unwrap_or_default()
            ));
            continue;
        };
        let (lt, le, ll) = match &row.lme4 {
            Some(l) => {
                if !l.warnings.is_empty() {
                    notes.push(format!(
                        "{}: glmer said: {}",
                        row.name,
                        l.warnings.join("; ")
                    ));
                }
                (
                    format!("{} ({})", fmt_secs(l.median), l.reps),
                    l.evaluations.map_or("—".into(), |e| e.to_string()),
                    row.lme4_loglik().map_or("—".into(), |v| format!("{v:.6}")),
                )
            }
            None => (
                row.lme4_missing.clone().unwrap_or_else(|| "—".into()),
                "—".into(),
                "—".into(),
            ),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} ({}) | {} | {lt} | {} | {}+{} | {le} | {:.6} | {ll} |",
            row.name,
            row.family,
            row.n_agq,
            o.nobs,
            fmt_secs(o.median),
            o.reps,
            o.fit_only.map_or("—".into(), |f| format!(
                "{} ({})",
                fmt_secs(f),
                o.fit_only_reps
            )),
            row.ratio().map_or("—".into(), |r| format!("{r:.1}×")),
            o.evaluations[0],
            o.evaluations[1],
            o.loglik,
        );
        if let Some(w) = row.loglik_warning() {
            let _ = writeln!(s, "| ⚠ {} | {w} | | | | | | | | | | |", row.name);
        }
        if !o.converged {
            notes.push(format!(
                "{}: our fit reports a convergence warning",
                row.name
            ));
        }
    }
    let _ = writeln!(
        s,
        "\nTimes: median (number of timed fits). The ratio is glmer's time over ours (whole calls)."
    );
    if let Some(e) = &r.error {
        notes.push(format!("lme4 was not run: {e}"));
    }
    let formulas: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.formula.as_str()))
        .collect();
    write_notes_formulas_targets(&mut s, &notes, &formulas, "###", &glmm_targets(rows));
    let _ = writeln!(
        s,
        "\nThe criterion benchmarks (`cargo bench --bench glmm`) time cbpp Laplace and the \
         crossed binomial model with statistical care (`target/criterion/`)."
    );
    s
}

/// The marker that starts the GLMM section of the report.
const GLMM_HEADING: &str = "## GLMM\n";

/// [`merge_report`] with the whole-process section (`## Whole process`) between the LMM and
/// the GLMM sections: each section this run did not produce is kept from `old`.
fn merge_sections(
    old: Option<&str>,
    lmm: Option<String>,
    process: Option<String>,
    glmm: Option<String>,
) -> String {
    let heading_at = |text: &str, heading: &str| {
        if text.starts_with(heading) {
            Some(0)
        } else {
            text.find(&format!("\n{heading}")).map(|i| i + 1)
        }
    };
    // Take the old process section out of the old text (it ends where the GLMM section
    // begins, or at the end).
    let (old_rest, old_process) = match old.and_then(|t| heading_at(t, process::PROCESS_HEADING)) {
        Some(i) => {
            let text = old.unwrap_or_default();
            let tail = &text[i..];
            let end = heading_at(tail, GLMM_HEADING).unwrap_or(tail.len());
            (
                Some(format!("{}{}", &text[..i], &tail[end..])),
                Some(tail[..end].to_string()),
            )
        }
        None => (old.map(str::to_string), None),
    };
    let merged = merge_report(old_rest.as_deref(), lmm, glmm);
    let Some(p) = process.or(old_process) else {
        return merged;
    };
    let p = p.trim_end();
    match heading_at(&merged, GLMM_HEADING) {
        Some(i) => format!("{}{p}\n\n{}", &merged[..i], &merged[i..]),
        None => format!("{}\n\n{p}\n", merged.trim_end()),
    }
}

/// Assemble the report from the sections of this run, keeping from `old` (the existing report)
/// the section that this run did not produce.
fn merge_report(old: Option<&str>, lmm: Option<String>, glmm: Option<String>) -> String {
    let split = |text: &str| -> (String, Option<String>) {
        let at = if text.starts_with(GLMM_HEADING) {
            Some(0)
        } else {
            text.find(&format!("\n{GLMM_HEADING}")).map(|i| i + 1)
        };
        match at {
            Some(i) => (text[..i].to_string(), Some(text[i..].to_string())),
            None => (text.to_string(), None),
        }
    };
    let (old_lmm, old_glmm) = old.map_or((String::new(), None), split);
    let lmm = lmm.unwrap_or_else(|| {
        if old_lmm.trim().is_empty() {
            "# Benchmarks: multilevel against lme4\n\nThe LMM section was not generated \
             (run `cargo xtask bench-lme4` without `--models`).\n\n"
                .to_string()
        } else {
            old_lmm
        }
    });
    let mut out = lmm.trim_end().to_string();
    if let Some(g) = glmm.or(old_glmm) {
        out.push_str("\n\n");
        out.push_str(g.trim_end());
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_process_section_sits_between_lmm_and_glmm() {
        let old = "# B\n\nL\n\n## GLMM\n\ng\n";
        let with = merge_sections(
            Some(old),
            None,
            Some("## Whole process\n\np\n".into()),
            None,
        );
        assert_eq!(with, "# B\n\nL\n\n## Whole process\n\np\n\n## GLMM\n\ng\n");
        let kept = merge_sections(Some(&with), Some("# B\n\nL2\n".into()), None, None);
        assert_eq!(kept, "# B\n\nL2\n\n## Whole process\n\np\n\n## GLMM\n\ng\n");
        let replaced = merge_sections(
            Some(&kept),
            None,
            Some("## Whole process\n\nq\n".into()),
            None,
        );
        assert_eq!(
            replaced,
            "# B\n\nL2\n\n## Whole process\n\nq\n\n## GLMM\n\ng\n"
        );
        let no_glmm = merge_sections(
            Some("# B\n\nL\n"),
            None,
            Some("## Whole process\n\np\n".into()),
            None,
        );
        assert_eq!(no_glmm, "# B\n\nL\n\n## Whole process\n\np\n");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn repetitions_shrink_with_duration() {
        assert_eq!(repetitions(Duration::from_secs(10)), 0);
        assert_eq!(repetitions(Duration::from_secs(2)), 3);
        assert_eq!(repetitions(Duration::from_millis(1)), 201);
        assert_eq!(repetitions(Duration::from_millis(300)), 10);
    }

    #[test]
    fn peak_rss_is_read_from_proc() {
        if Path::new("/proc/self/status").is_file() {
            let hwm = proc_status_kib("VmHWM");
            assert!(hwm.is_some_and(|k| k > 0), "VmHWM = {hwm:?}");
        }
    }

    fn row(
        name: &str,
        ours: f64,
        fit_only: Option<f64>,
        evals: usize,
        lme4: Option<f64>,
    ) -> BenchRow {
        BenchRow {
            name: name.into(),
            formula: "y ~ 1 + (1 | g)".into(),
            reml: false,
            ours: Some(OurTiming {
                median: ours,
                reps: 1,
                fit_only,
                fit_only_reps: 1,
                evaluations: evals,
                objective: 10.0,
                nobs: 100,
                n_theta: 1,
                peak_rss: Some(2 << 30),
                baseline_rss: None,
            }),
            error: None,
            lme4: lme4.map(|t| Lme4Timing {
                median: t,
                reps: 1,
                evaluations: Some(50),
                optimizer: Some("nloptwrap".into()),
                objective: Some(10.0),
                note: None,
                warnings: Vec::new(),
            }),
            lme4_missing: None,
        }
    }

    #[test]
    fn targets_are_judged_from_the_measurements() {
        let rows = vec![
            row("insteval_3term_ml", 1.0, None, 90, Some(60.0)),
            row("sleepstudy_slope", 0.5e-3, Some(0.1e-3), 50, Some(0.03)),
            row("kb07_1", 0.6, None, 100, None),
            row("ml1m_1", 10.0, None, 30, None),
        ];
        let t = targets(&rows);
        let get = |prefix: &str| {
            t.iter()
                .find(|t| t.what.starts_with(prefix))
                .map(|t| t.status)
                .unwrap_or("absent")
        };
        assert_eq!(get("InstEval 3-term ML"), "met"); // 60×
        assert_eq!(get("sleepstudy `(Days"), "met"); // 0.1 ms fit only
        assert_eq!(get("kb07 maximal"), "**missed**"); // 0.6 s > 0.5 s
        assert_eq!(get("d3"), "not measured");
        assert_eq!(get("ml1m (ml1m_1)"), "met");
        assert_eq!(get("ml1m: peak memory"), "**missed**"); // 2 GiB
        assert_eq!(get("sleepstudy evaluations"), "met"); // 50 ≤ 82
        assert_eq!(get("InstEval 3-term evaluations"), "**missed**"); // 90 > 81
        let md = render_markdown(
            &rows,
            &["d3_1"],
            &BenchOptions::default(),
            &RInfo::default(),
            Some(0.0),
            Some(0.0),
        );
        assert!(
            md.contains("| insteval_3term_ml | ML | 100 | 1 | 1.00 s (1) |"),
            "{md}"
        );
        assert!(md.contains("60.0×"), "{md}");
        assert!(md.contains("d3_1: skipped"), "{md}");
        assert!(!md.contains("Preliminary"), "{md}");
        assert!(md.contains("`(Days \\| Subject)`"), "{md}");
    }

    #[test]
    fn model_names_are_unique() {
        let mut names: Vec<_> = MODELS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MODELS.len());
    }

    #[test]
    fn simulated_data_are_deterministic_and_sized() {
        let a = simulate_crossed_binomial();
        assert_eq!(a, simulate_crossed_binomial());
        assert_eq!(a.lines().count(), 1 + 316 * 24);
        let ones = a.lines().skip(1).filter(|l| l.ends_with(",1")).count();
        assert!(ones > 1000 && ones < 6584, "{ones} successes");
        let p = simulate_crossed_poisson();
        assert_eq!(p.lines().count(), 1 + 100_000);
        let mean: f64 = p
            .lines()
            .skip(1)
            .map(|l| {
                l.rsplit(',')
                    .next()
                    .unwrap_or("")
                    .parse::<f64>()
                    .unwrap_or(f64::NAN)
            })
            .sum::<f64>()
            / 100_000.0;
        // E[y] = exp(0.5 + (0.3² + 0.6² + 0.4²)/2) ≈ 2.0 (up to the sampled effects).
        assert!(mean > 1.3 && mean < 3.0, "mean {mean}");
    }

    #[test]
    fn generator_moments() {
        let mut g = SplitMix64::new(1);
        let n = 20_000;
        let v: Vec<f64> = (0..n).map(|_| g.normal()).collect();
        let m = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{m} {var}");
        let pm = (0..n).map(|_| g.poisson(3.0) as f64).sum::<f64>() / n as f64;
        assert!((pm - 3.0).abs() < 0.06, "{pm}");
    }

    fn glmm_row(name: &str, ours: f64, ll: f64, lme4: Option<(f64, f64)>) -> GlmmRow {
        GlmmRow {
            name: name.into(),
            formula: "y ~ 1 + (1 | g)".into(),
            family: "binomial".into(),
            n_agq: 1,
            ours: Some(GlmmOurs {
                median: ours,
                reps: 3,
                fit_only: Some(ours * 0.9),
                fit_only_reps: 3,
                evaluations: [20, 50],
                loglik: ll,
                nobs: 56,
                converged: true,
            }),
            error: None,
            lme4: lme4.map(|(t, l)| Lme4Timing {
                median: t,
                reps: 5,
                evaluations: Some(100),
                optimizer: Some("Nelder_Mead".into()),
                objective: Some(-2.0 * l),
                note: None,
                warnings: Vec::new(),
            }),
            lme4_missing: None,
        }
    }

    #[test]
    fn glmm_section_flags_a_lower_loglik_and_judges_targets() {
        let rows = vec![
            glmm_row("glmm_cbpp_laplace", 1.5e-3, -92.026, Some((0.1, -92.026))),
            glmm_row("glmm_binomial_crossed", 0.1, -100.0, Some((1.0, -99.9))),
            glmm_row("glmm_poisson_crossed", 1.0, -50.0, None),
        ];
        assert!(rows[0].loglik_warning().is_none());
        assert!(rows[1].loglik_warning().is_some());
        let t = glmm_targets(&rows);
        let get = |prefix: &str| {
            t.iter()
                .find(|t| t.what.starts_with(prefix))
                .map(|t| t.status)
                .unwrap_or("absent")
        };
        assert_eq!(get("glmm_cbpp_laplace:"), "met"); // 66.7×
        assert_eq!(get("glmm_binomial_crossed:"), "**missed**"); // 10×
        assert_eq!(get("glmm_poisson_crossed:"), "not measured");
        assert_eq!(get("cbpp Laplace: ≤ 2 ms"), "met"); // 1.35 ms fit only
        let md = render_glmm_markdown(
            &rows,
            &BenchOptions::default(),
            &RInfo::default(),
            Some(0.0),
            Some(0.0),
        );
        assert!(md.starts_with(GLMM_HEADING), "{md}");
        assert!(md.contains("| ⚠ glmm_binomial_crossed |"), "{md}");
        assert!(md.contains("66.7×"), "{md}");
        assert!(md.contains("| 20+50 |"), "{md}");
    }

    #[test]
    fn report_sections_not_run_are_kept() {
        let old = "# Benchmarks\n\nLMM table\n\n## GLMM\n\nold glmm\n";
        let only_glmm = merge_report(Some(old), None, Some("## GLMM\n\nnew glmm\n".into()));
        assert_eq!(
            only_glmm,
            "# Benchmarks\n\nLMM table\n\n## GLMM\n\nnew glmm\n"
        );
        let only_lmm = merge_report(Some(old), Some("# Benchmarks\n\nnew LMM\n".into()), None);
        assert_eq!(only_lmm, "# Benchmarks\n\nnew LMM\n\n## GLMM\n\nold glmm\n");
        let fresh = merge_report(None, None, Some("## GLMM\n\nx\n".into()));
        assert!(fresh.starts_with("# Benchmarks") && fresh.ends_with("## GLMM\n\nx\n"));
        let no_glmm_before = merge_report(Some("# B\n\nL\n"), None, Some("## GLMM\n\ng\n".into()));
        assert_eq!(no_glmm_before, "# B\n\nL\n\n## GLMM\n\ng\n");
    }

    #[test]
    fn glmm_model_names_are_unique_and_prefixed() {
        let mut names: Vec<_> = GLMM_MODELS.iter().map(|m| m.name).collect();
        assert!(names.iter().all(|n| n.starts_with("glmm_")));
        names.extend(MODELS.iter().map(|m| m.name));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
