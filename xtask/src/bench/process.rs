//! The whole-process side of `cargo xtask bench-lme4`: the `multilevel fit` command timed as a
//! process (start-up, reading the data file, the fit, inference, the JSON report), once with
//! `RAYON_NUM_THREADS=1` and once with `2`, beside R's `lmer()`, `summary(lmerTest::lmer())`
//! or `glmer()` timed inside R in the same run.
//!
//! The cases are the table: InstEval's 3-term ML fit with `--ddf none` and with the
//! default Satterthwaite df, kb07_1, d3_1 and ml1m_1 (both ways), cbpp with 25 quadrature
//! nodes, the crossed binomial and the crossed Poisson GLMM. The R figure of a `--ddf none`
//! LMM or a GLMM is the library table's `lmer()`/`glmer()` time of the same run; that of a
//! Satterthwaite case is `summary(lmerTest::lmer(...))`, run by `xtask/r/bench_lme4.R` as kind
//! `lmertest` (only where lmerTest takes at most a few minutes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde_json::Value;

use super::{GlmmResolved, Lme4Timing, Resolved, cell, fmt_secs, median};

/// Thread counts every case is timed with.
pub(super) const THREADS: [usize; 2] = [1, 2];

/// The model a case runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Base {
    /// An LMM of the library table, by name, with `--ddf` (`none` or `satterthwaite`).
    Lmm(&'static str, &'static str),
    /// A GLMM of the library table, by name.
    Glmm(&'static str),
}

/// A whole-process case.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProcessSpec {
    pub name: &'static str,
    pub base: Base,
    /// `summary(lmerTest::lmer())` is timed in R for this case (Satterthwaite cases only).
    pub r_lmertest: bool,
}

pub(super) const PROCESS_CASES: &[ProcessSpec] = &[
    ProcessSpec {
        name: "insteval_3term_ml",
        base: Base::Lmm("insteval_3term_ml", "none"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "insteval_3term_ml_satterthwaite",
        base: Base::Lmm("insteval_3term_ml", "satterthwaite"),
        r_lmertest: true,
    },
    ProcessSpec {
        name: "kb07_1",
        base: Base::Lmm("kb07_1", "none"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "kb07_1_satterthwaite",
        base: Base::Lmm("kb07_1", "satterthwaite"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "d3_1",
        base: Base::Lmm("d3_1", "none"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "d3_1_satterthwaite",
        base: Base::Lmm("d3_1", "satterthwaite"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "ml1m_1",
        base: Base::Lmm("ml1m_1", "none"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "ml1m_1_satterthwaite",
        base: Base::Lmm("ml1m_1", "satterthwaite"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "glmm_cbpp_agq25",
        base: Base::Glmm("glmm_cbpp_agq25"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "glmm_binomial_crossed",
        base: Base::Glmm("glmm_binomial_crossed"),
        r_lmertest: false,
    },
    ProcessSpec {
        name: "glmm_poisson_crossed",
        base: Base::Glmm("glmm_poisson_crossed"),
        r_lmertest: false,
    },
];

/// A case resolved to the command's arguments.
#[derive(Debug, Clone)]
pub(super) struct ProcessCase {
    pub spec: ProcessSpec,
    /// Arguments after `multilevel`.
    pub args: Vec<String>,
    /// For the R side of a Satterthwaite case: the LMM.
    pub lmm: Option<Resolved>,
}

/// Our timing with one thread count.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadTiming {
    /// `RAYON_NUM_THREADS`.
    pub threads: usize,
    /// Median wall seconds of the whole process.
    pub median: f64,
    /// Fastest run.
    pub min: f64,
    /// Timed runs (after one untimed run that warms the file cache).
    pub reps: usize,
}

/// One row of the whole-process table.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessRow {
    /// Case name.
    pub name: String,
    /// The command line (after `multilevel`).
    pub command: String,
    /// One timing per thread count.
    pub ours: Vec<ThreadTiming>,
    /// `optimizer.evaluations` of the JSON report.
    pub evaluations: Option<u64>,
    /// Our failure, if any.
    pub error: Option<String>,
    /// R's figure (lmer/glmer from the library tables, or lmerTest's summary).
    pub r: Option<Lme4Timing>,
    /// What R ran.
    pub r_what: String,
    /// Why there is no R figure.
    pub r_missing: Option<String>,
}

impl ProcessRow {
    /// R's time over our median with `threads` threads.
    pub fn ratio(&self, threads: usize) -> Option<f64> {
        let ours = self.ours.iter().find(|t| t.threads == threads)?;
        let r = self.r.as_ref()?;
        (ours.median > 0.0).then(|| r.median / ours.median)
    }

    fn median(&self, threads: usize) -> Option<f64> {
        self.ours
            .iter()
            .find(|t| t.threads == threads)
            .map(|t| t.median)
    }
}

/// Resolve the selected cases against the library models (all of them, selected or not).
pub(super) fn resolve_cases(
    selected: &dyn Fn(&str) -> bool,
    lmms: &[Resolved],
    glmms: &[GlmmResolved],
) -> Vec<ProcessCase> {
    let mut out = Vec::new();
    for spec in PROCESS_CASES.iter().filter(|c| selected(c.name)) {
        match spec.base {
            Base::Lmm(name, ddf) => {
                let Some(r) = lmms.iter().find(|r| r.spec.name == name) else {
                    println!("note: {} skipped (its data are absent)", spec.name);
                    continue;
                };
                let mut args = vec![
                    "fit".to_string(),
                    r.formula.clone(),
                    "--data".into(),
                    r.csv.display().to_string(),
                ];
                for f in &r.factors {
                    args.extend(["--factor".to_string(), f.clone()]);
                }
                if !r.spec.reml {
                    args.push("--ml".into());
                }
                args.extend(["--ddf".into(), ddf.into(), "--format".into(), "json".into()]);
                out.push(ProcessCase {
                    spec: *spec,
                    args,
                    lmm: Some(r.clone()),
                });
            }
            Base::Glmm(name) => {
                let Some(g) = glmms.iter().find(|g| g.spec.name == name) else {
                    continue;
                };
                let mut args = vec![
                    "fit".to_string(),
                    g.spec.formula.to_string(),
                    "--data".into(),
                    g.csv.display().to_string(),
                ];
                for f in &g.factors {
                    args.extend(["--factor".to_string(), f.clone()]);
                }
                args.extend([
                    "--family".into(),
                    g.spec.family.into(),
                    "--nagq".into(),
                    g.spec.n_agq.to_string(),
                    "--format".into(),
                    "json".into(),
                ]);
                out.push(ProcessCase {
                    spec: *spec,
                    args,
                    lmm: None,
                });
            }
        }
    }
    out
}

/// Build the release CLI (`cargo build --release --bin multilevel`) and return its path.
pub(super) fn build_cli(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--bin", "multilevel"])
        .status()
        .context("running cargo build --release --bin multilevel")?;
    if !status.success() {
        bail!("cargo build --release --bin multilevel failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("multilevel");
    if !bin.is_file() {
        bail!("{} is missing after the build", bin.display());
    }
    Ok(bin)
}

/// Run the command once; wall seconds and standard output.
fn run_once(bin: &Path, args: &[String], threads: usize) -> Result<(f64, String)> {
    let start = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "multilevel {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((secs, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Timed runs after a first (untimed) one that took `first` seconds: 7 under a second, 3 up to
/// 10 s, 2 beyond.
fn process_reps(first: f64) -> usize {
    if first >= 10.0 {
        2
    } else if first >= 1.0 {
        3
    } else {
        7
    }
}

/// Time one case with every thread count.
pub(super) fn time_case(bin: &Path, case: &ProcessCase) -> ProcessRow {
    let mut row = ProcessRow {
        name: case.spec.name.to_string(),
        command: case.args.join(" "),
        ours: Vec::new(),
        evaluations: None,
        error: None,
        r: None,
        r_what: match case.spec.base {
            Base::Lmm(_, "satterthwaite") => "`summary(lmerTest::lmer())`".into(),
            Base::Lmm(..) => "`lmer()`".into(),
            Base::Glmm(_) => "`glmer()`".into(),
        },
        r_missing: None,
    };
    for threads in THREADS {
        let result = (|| -> Result<ThreadTiming> {
            let (first, out) = run_once(bin, &case.args, threads)?;
            if row.evaluations.is_none() {
                let v: Value = serde_json::from_str(&out)
                    .map_err(|e| anyhow!("the JSON report does not parse: {e}"))?;
                row.evaluations = v["optimizer"]["evaluations"].as_u64();
            }
            let reps = process_reps(first);
            let mut times = Vec::with_capacity(reps);
            for _ in 0..reps {
                times.push(run_once(bin, &case.args, threads)?.0);
            }
            let min = times.iter().copied().fold(f64::INFINITY, f64::min);
            Ok(ThreadTiming {
                threads,
                median: median(&mut times).unwrap_or(f64::NAN),
                min,
                reps,
            })
        })();
        match result {
            Ok(t) => {
                println!(
                    "process: {} with {threads} thread(s): median {} (min {}) over {} run(s)",
                    case.spec.name,
                    fmt_secs(t.median),
                    fmt_secs(t.min),
                    t.reps
                );
                row.ours.push(t);
            }
            Err(e) => {
                println!("process: {} FAILED: {e:#}", case.spec.name);
                row.error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    row
}

/// The R spec entries of the Satterthwaite cases timed with lmerTest.
pub(super) fn lmertest_specs(
    cases: &[ProcessCase],
    quick: bool,
    canonical: &dyn Fn(&Path) -> String,
) -> Vec<Value> {
    cases
        .iter()
        .filter(|c| c.spec.r_lmertest)
        .filter_map(|c| {
            let r = c.lmm.as_ref()?;
            Some(serde_json::json!({
                "name": format!("process:{}", c.spec.name),
                "kind": "lmertest",
                "csv": canonical(&r.csv),
                "factors": r.factors,
                "formula": r.formula,
                "reml": r.spec.reml,
                "reps": 3,
                "budget": 5.0,
                "single": 2.0,
                // lmerTest's Satterthwaite summary of InstEval takes ~45 s on this machine.
                "run": !quick,
            }))
        })
        .collect()
}

/// Attach R's figures: lmerTest's from `lmertest` (by `process:<name>`), lmer/glmer's from the
/// library tables of the same run.
pub(super) fn attach_r(
    rows: &mut [ProcessRow],
    cases: &[ProcessCase],
    lmertest: &dyn Fn(&str) -> Option<Lme4Timing>,
    library: &dyn Fn(&str) -> Option<Lme4Timing>,
    no_lme4: bool,
    quick: bool,
) {
    for (row, case) in rows.iter_mut().zip(cases) {
        row.r = match case.spec.base {
            Base::Lmm(_, "satterthwaite") if case.spec.r_lmertest => {
                lmertest(&format!("process:{}", case.spec.name))
            }
            Base::Lmm(_, "satterthwaite") => None,
            Base::Lmm(name, _) | Base::Glmm(name) => library(name),
        };
        if row.r.is_none() {
            row.r_missing = Some(
                if no_lme4 {
                    "not run (`--no-lme4`)"
                } else if matches!(case.spec.base, Base::Lmm(_, "satterthwaite"))
                    && !case.spec.r_lmertest
                {
                    "not timed (lmerTest takes many minutes here)"
                } else if quick {
                    "skipped (`--quick`)"
                } else {
                    "not run (select the library model too)"
                }
                .into(),
            );
        }
    }
}

/// Heading of the whole-process section of the report.
pub(super) const PROCESS_HEADING: &str = "## Whole process\n";

/// The whole-process section of the report.
pub(super) fn render(rows: &[ProcessRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{PROCESS_HEADING}");
    let _ = writeln!(
        s,
        "The `multilevel fit … --format json` command as a process (start-up, reading the \
         data file, the fit, the df, the JSON report on a pipe), timed from outside with \
         `RAYON_NUM_THREADS=1` and `=2`: median and fastest of the timed runs (7 for runs \
         under 1 s, 3 up to 10 s, 2 beyond) after one untimed run. R's figure is from the \
         same `cargo xtask bench-lme4` run, timed inside R with the data loaded: `lmer()` / \
         `glmer()` from the tables of this report, `summary(lmerTest::lmer())` for the \
         Satterthwaite rows (lmerTest's default df). The ratio is R's time over ours with \
         2 threads. Evaluations are the JSON report's `optimizer.evaluations`.\n"
    );
    let _ = writeln!(
        s,
        "| case | ours, 1 thread (min) | ours, 2 threads (min) | R | R / ours | evals |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|");
    for row in rows {
        let t = |n: usize| {
            row.ours
                .iter()
                .find(|t| t.threads == n)
                .map_or("—".to_string(), |t| {
                    format!("{} ({})", fmt_secs(t.median), fmt_secs(t.min))
                })
        };
        let r = match (&row.r, &row.r_missing) {
            (Some(r), _) => format!("{} {}", fmt_secs(r.median), row.r_what),
            (None, Some(m)) => m.clone(),
            (None, None) => "—".into(),
        };
        let ratio = row.ratio(2).map_or("—".into(), |x| format!("{x:.1}×"));
        let ours1 = match &row.error {
            Some(e) => format!("failed: {}", cell(e)),
            None => t(1),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            row.name,
            ours1,
            t(2),
            r,
            ratio,
            row.evaluations.map_or("—".into(), |e| e.to_string())
        );
    }
    // Satterthwaite's cost: the df case over the `--ddf none` case of the same model.
    let mut costs = Vec::new();
    for row in rows {
        let Some(base) = row.name.strip_suffix("_satterthwaite") else {
            continue;
        };
        let Some(plain) = rows.iter().find(|r| r.name == base) else {
            continue;
        };
        for n in THREADS {
            if let (Some(a), Some(b)) = (row.median(n), plain.median(n)) {
                costs.push(format!(
                    "{base}, {n} thread(s): {} − {} = {} ({:.2}× the `--ddf none` process)",
                    fmt_secs(a),
                    fmt_secs(b),
                    fmt_secs(a - b),
                    (a - b) / b
                ));
            }
        }
    }
    if !costs.is_empty() {
        let _ = writeln!(
            s,
            "\nSatterthwaite's cost (df case minus `--ddf none` case, whole processes):\n"
        );
        for c in costs {
            let _ = writeln!(s, "- {c}");
        }
    }
    let _ = writeln!(s, "\nCommands:\n");
    for row in rows {
        let _ = writeln!(s, "- {}: `multilevel {}`", row.name, cell(&row.command));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reps_shrink_with_duration() {
        assert_eq!(process_reps(0.2), 7);
        assert_eq!(process_reps(2.0), 3);
        assert_eq!(process_reps(12.0), 2);
    }

    #[test]
    fn every_case_names_a_library_model() {
        for c in PROCESS_CASES {
            let name = match c.base {
                Base::Lmm(n, ddf) => {
                    assert!(ddf == "none" || ddf == "satterthwaite", "{}", c.name);
                    assert!(super::super::MODELS.iter().any(|m| m.name == n), "{n}");
                    n
                }
                Base::Glmm(n) => {
                    assert!(super::super::GLMM_MODELS.iter().any(|m| m.name == n), "{n}");
                    n
                }
            };
            assert!(c.name.starts_with(name), "{} runs {name}", c.name);
        }
    }
}
