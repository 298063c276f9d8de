//! `cargo xtask bench-gls`: time our GLS, lme-with-residual-structure and structured-term fits
//! and R's fits of the same models side by side, in one run on one machine, and write
//! `docs/benchmarks-gls.md`.
//!
//! The models: every case of `tests/reference/gls/gls.json` (nlme's `gls`) and
//! `tests/reference/gls/lme.json` (nlme's `lme` with `correlation =`/`weights =`); an MMRM of
//! 2,000 subjects × 8 visits with an unstructured covariance (36 covariance parameters),
//! simulated here with a fixed seed and written to `target/bench-data/mmrm_2000x8.csv` so that
//! R reads the very same file (nlme's `gls` with `corSymm` + `varIdent`); and ChickWeight with
//! the structured term `ar1(0 + Timef | Diet)` (glmmTMB).
//!
//! What is timed, on both sides, is one call of the fitting function on data already in
//! memory: ours [`multilevel::gls`] with no df (nlme computes none beyond `N − p`) or
//! [`multilevel::lmer`]; R's `gls()`, `lme()` or `glmmTMB()` (`xtask/r/bench_gls.R`). Each
//! figure is the median of repeated fits (one fit where a fit takes more than 2 s). The
//! log-likelihoods of both fits are shown beside the times as a check that both sides fit the
//! same model. The targets: each model at least 20× faster than R, the MMRM in at most
//! 1 s, the ChickWeight `ar1` term in at most 5 ms.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use multilevel::gls_core::{GlsDf, GlsOptions, ResidualStructure, VarianceFunction};
use multilevel::{DataFrame, FitOptions, ReadOptions};
use serde_json::Value;

/// Options of a `bench-gls` run.
#[derive(Debug, Clone, Default)]
pub struct GlsBenchOptions {
    /// Our timings only (no R).
    pub no_r: bool,
    /// Comma-separated parts of model names; only the models whose name contains one of them run.
    pub models: Option<String>,
    /// Where to write the markdown report (default `docs/benchmarks-gls.md` under the root).
    pub output: Option<PathBuf>,
}

/// One model to time.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    /// `gls`, `lme` or `glmmTMB` (R's function; ours is `gls` for the first two, `lmer`).
    engine: &'static str,
    data: String,
    formula: String,
    residual: Option<String>,
    residual_variance: Option<String>,
    reml: bool,
}

/// A small fixed-seed generator (SplitMix64) and standard normals by Box–Muller.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The simulated MMRM: 2,000 subjects in two arms, visits V1–V8, AR(1)-like correlation 0.6
/// with standard deviations growing over the visits, drop-out of 3% per visit after the second.
fn write_mmrm(path: &Path) -> Result<()> {
    let mut rng = Rng(20_261_207);
    let mut csv = String::from("subject,arm,visit,y\n");
    for s in 0..2000 {
        let arm = if s % 2 == 0 { "active" } else { "placebo" };
        let mut e = 0.0;
        for v in 1..=8 {
            if v > 2 && rng.uniform() < 0.03 {
                break;
            }
            e = 0.6 * e + (1.0f64 - 0.36).sqrt() * rng.normal();
            let sd = 1.0 + 0.2 * f64::from(v);
            let mean =
                10.0 - 0.5 * f64::from(v) + if s % 2 == 1 { 0.3 * f64::from(v) } else { 0.0 };
            writeln!(csv, "s{s:04},{arm},V{v},{:.6}", mean + sd * e)?;
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, csv)?;
    Ok(())
}

fn cases(root: &Path) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    for (file, engine) in [("gls.json", "gls"), ("lme.json", "lme")] {
        let path = root.join("tests/reference/gls").join(file);
        let refs: Value = serde_json::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?;
        for c in refs["cases"].as_array().into_iter().flatten() {
            out.push(Case {
                name: c["name"].as_str().unwrap_or("?").to_string(),
                engine,
                data: c["data"].as_str().unwrap_or_default().to_string(),
                formula: c["formula"].as_str().unwrap_or_default().to_string(),
                residual: c["residual"].as_str().map(str::to_string),
                residual_variance: c["residual_variance"].as_str().map(str::to_string),
                reml: c["reml"].as_bool().unwrap_or(true),
            });
        }
    }
    out.push(Case {
        name: "mmrm_2000x8_us_reml".to_string(),
        engine: "gls",
        data: "target/bench-data/mmrm_2000x8.csv".to_string(),
        formula: "y ~ visit * arm".to_string(),
        residual: Some("us(visit | subject)".to_string()),
        residual_variance: None,
        reml: true,
    });
    out.push(Case {
        name: "chick_ar1_term_reml".to_string(),
        engine: "glmmTMB",
        data: "tests/reference/covstruct/chickweight.csv".to_string(),
        formula: "weight ~ Timef + ar1(0 + Timef | Diet)".to_string(),
        residual: None,
        residual_variance: None,
        reml: true,
    });
    Ok(out)
}

/// Our fit of a case: its log-likelihood.
fn fit_ours(case: &Case, data: &DataFrame) -> Result<f64> {
    if case.engine == "glmmTMB" {
        let opts = if case.reml {
            FitOptions::new()
        } else {
            FitOptions::new().ml()
        };
        let m = multilevel::lmer(&case.formula, data, &opts)?;
        return Ok(multilevel::MixedModel::summary(&m).loglik);
    }
    let opts = GlsOptions {
        residual: case
            .residual
            .as_deref()
            .map(ResidualStructure::parse)
            .transpose()?,
        variance: case
            .residual_variance
            .as_deref()
            .map(VarianceFunction::parse)
            .transpose()?,
        reml: case.reml,
        df: GlsDf::None,
        ..GlsOptions::default()
    };
    Ok(multilevel::gls(&case.formula, data, &opts)?.loglik)
}

/// Median seconds of repeated fits (about 1 s in all, 3 to 50 fits; one when a fit takes
/// more than 2 s), the number of fits, and the log-likelihood.
fn time_ours(case: &Case, data: &DataFrame) -> Result<(f64, usize, f64)> {
    let t0 = Instant::now();
    let ll = fit_ours(case, data)?;
    let first = t0.elapsed().as_secs_f64();
    if first > 2.0 {
        return Ok((first, 1, ll));
    }
    let reps = ((1.0 / first.max(1e-6)).ceil() as usize).clamp(3, 50);
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        fit_ours(case, data)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok((times[reps / 2], reps, ll))
}

fn run_r(root: &Path, cases: &[Case]) -> Result<Value> {
    let dir = root.join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let tsv = dir.join("gls_cases.tsv");
    let mut text = String::from("name\tengine\tdata\tformula\tresidual\tresidual_variance\treml\n");
    for c in cases {
        writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            c.name,
            c.engine,
            c.data,
            c.formula,
            c.residual.as_deref().unwrap_or(""),
            c.residual_variance.as_deref().unwrap_or(""),
            if c.reml { "TRUE" } else { "FALSE" }
        )?;
    }
    std::fs::write(&tsv, text)?;
    let out = dir.join("gls_r.json");
    let status = Command::new("Rscript")
        .arg(root.join("xtask/r/bench_gls.R"))
        .arg(root)
        .arg(&tsv)
        .arg(&out)
        .status()
        .context("running Rscript (is R installed?)")?;
    if !status.success() {
        return Err(anyhow!("xtask/r/bench_gls.R failed"));
    }
    Ok(serde_json::from_str(&std::fs::read_to_string(&out)?)?)
}

/// Run the benchmark and write the report; returns the report's text.
///
/// # Errors
/// A reference file or data set that cannot be read, a fit of ours that fails, or R failing.
pub fn run(root: &Path, opts: &GlsBenchOptions) -> Result<String> {
    write_mmrm(&root.join("target/bench-data/mmrm_2000x8.csv"))?;
    let wanted: Vec<String> = opts
        .models
        .as_deref()
        .map(|m| m.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let cases: Vec<Case> = cases(root)?
        .into_iter()
        .filter(|c| wanted.is_empty() || wanted.iter().any(|w| c.name.contains(w.as_str())))
        .collect();
    let mut rows = Vec::new();
    for c in &cases {
        let data = DataFrame::read_csv(&root.join(&c.data), &ReadOptions::default())?;
        let (secs, reps, ll) = time_ours(c, &data).map_err(|e| anyhow!("{}: {e}", c.name))?;
        println!(
            "{:<34} {:>10.3} ms ({reps} fits)  logLik {ll:.4}",
            c.name,
            secs * 1e3
        );
        rows.push((c, data.nrows(), secs, ll));
    }
    let r = if opts.no_r {
        Value::Null
    } else {
        run_r(root, &cases)?
    };
    let mut md = String::from(
        "# GLS, lme with residual structures and structured terms: ours and R's fit times\n\n\
         Written by `cargo xtask bench-gls` (see `xtask/src/bench_gls.rs` for what is timed: one \
         fit on data in memory, the median of repeated fits). R: nlme's `gls()` / `lme()`, \
         glmmTMB for the structured random-effects term. Targets (issue 19): every model at \
         least 20× faster than R, the 2,000-subject unstructured MMRM in at most 1 s, the \
         ChickWeight `ar1(0 + Timef | Diet)` term in at most 5 ms.\n\n",
    );
    if let Some(v) = r.get("versions") {
        writeln!(md, "R versions: `{v}`\n")?;
    }
    md.push_str(
        "| model | R function | rows | ours (ms) | R (ms) | R / ours | logLik ours | logLik R |\n",
    );
    md.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (c, n, secs, ll) in &rows {
        let rf = &r["fits"][&c.name];
        let r_secs = rf["seconds"].as_f64();
        let r_ll = rf["logLik"].as_f64();
        writeln!(
            md,
            "| `{}` | {} | {n} | {:.3} | {} | {} | {ll:.4} | {} |",
            c.name,
            c.engine,
            secs * 1e3,
            r_secs.map_or_else(|| "–".to_string(), |s| format!("{:.1}", s * 1e3)),
            r_secs.map_or_else(|| "–".to_string(), |s| format!("{:.0}×", s / secs)),
            r_ll.map_or_else(|| "–".to_string(), |l| format!("{l:.4}")),
        )?;
    }
    let out = opts
        .output
        .clone()
        .unwrap_or_else(|| root.join("docs/benchmarks-gls.md"));
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(md)
}
