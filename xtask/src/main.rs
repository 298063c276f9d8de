//! `cargo xtask`: project automation.
//!
//! - `cargo xtask validate [--suite ../shared/bench] [--skip-slow] [--sets inference,after]` —
//!   fit every committed lme4 reference and compare (`--sets`: only the named reference sets);
//!   with `--suite`, also fit the 51 benchmark models by ML and compare the deviance with the
//!   best published value, writing docs/validation.md.
//! - `cargo xtask reference` — regenerate the reference JSON with R (`xtask/r/reference.R`).
//! - `cargo xtask docs` — render docs/src/*.md into docs/ with real CLI output.
//! - `cargo xtask suite-designs [--suite DIR]` — build the design of every suite model (count).
//! - `cargo xtask fuzz --seconds N [--target NAME]` — run the fuzz targets of `fuzz/` (nightly,
//!   cargo-fuzz) for N seconds each and print their execution counts.

mod fuzz;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use xtask::{
    SuiteOutcome, check_lmm_reference, fit_suite_row, read_suite, reference_files, suite_designs,
};

/// The reference sets `cargo xtask validate --sets` selects from.
const REFERENCE_SETS: [&str; 15] = [
    "lmm",
    "glmm",
    "negbin",
    "ordinal",
    "zi",
    "kr-gls",
    "glmm-intervals",
    "inference",
    "meta",
    "marginal",
    "gls",
    "workflow",
    "after",
    "power",
    "covstruct",
];

#[derive(Parser)]
#[command(name = "xtask", about = "multilevel project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare fits with the committed lme4 references (and the benchmark suite with --suite).
    Validate {
        /// Folder with suite.tsv and data/ (e.g. ../shared/bench).
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Skip the slow references (InstEval) and the largest suite models.
        #[arg(long)]
        skip_slow: bool,
        /// Only suite models whose id contains this text.
        #[arg(long)]
        only: Option<String>,
        /// Only these reference sets (comma-separated): lmm, glmm, negbin, ordinal, zi, kr-gls,
        /// glmm-intervals, inference, meta, marginal, gls, workflow, after, power, covstruct.
        /// All when absent;
        /// the suite runs whenever `--suite` is given.
        #[arg(long, value_delimiter = ',')]
        sets: Option<Vec<String>>,
    },
    /// Only the negative binomial references: our fits against glmer.nb (and glmmTMB's nbinom2
    /// for scale), with our timings beside R's recorded ones.
    ValidateNegbin,
    /// Only the GLMM profile and bootstrap intervals against lme4.
    ValidateGlmmIntervals,
    /// Only the ordinal references: our cumulative link mixed models against ordinal::clmm,
    /// with our timings beside R's recorded ones.
    ValidateOrdinal,
    /// Only the zero-inflated count references: our fits against glmmTMB (`ziformula`), with
    /// our timings beside R's recorded ones.
    ValidateZi,
    /// Regenerate the reference JSON and datasets with R (needs Rscript, lme4, lmerTest,
    /// pbkrtest, jsonlite): runs every `xtask/r/reference*.R`.
    Reference,
    /// Time our fits and lme4's side by side in one run; writes docs/benchmarks.md.
    BenchLme4 {
        /// Folder with suite.tsv and data/ (default ../shared/bench; suite models are skipped
        /// when it is absent).
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Comma-separated parts of model names to run.
        #[arg(long)]
        models: Option<String>,
        /// Skip lme4 where it needs more than a minute (shows the recorded figure if any).
        #[arg(long)]
        quick: bool,
        /// Our timings only (no R).
        #[arg(long)]
        no_lme4: bool,
        /// Where to write the report (default docs/benchmarks.md).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Skip the whole-process timings of `multilevel fit` (1 and 2 threads).
        #[arg(long)]
        no_process: bool,
    },
    /// Time our GLS / lme-with-residual / structured-term fits and R's (nlme, glmmTMB) side by
    /// side in one run; writes docs/benchmarks-gls.md.
    BenchGls {
        /// Comma-separated parts of model names to run.
        #[arg(long)]
        models: Option<String>,
        /// Our timings only (no R).
        #[arg(long)]
        no_r: bool,
        /// Where to write the report (default docs/benchmarks-gls.md).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Render the worked examples: every docs/src/*.md becomes docs/*.md with the output of the
    /// `<!-- run: multilevel ... -->` commands it lists (release build of the CLI).
    Docs,
    /// Run the cargo-fuzz targets (nightly toolchain and cargo-fuzz needed) on their corpus.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (formula, csv_frame, design, json_report).
        #[arg(long)]
        target: Option<String>,
    },
    /// Build the design of every benchmark-suite model and count successes.
    SuiteDesigns {
        /// Folder with suite.tsv and data/.
        #[arg(long, default_value = "../shared/bench")]
        suite: PathBuf,
    },
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = repo_root();
    match cli.command {
        Command::Fuzz { seconds, target } => {
            fuzz::run(&root, seconds, target.as_deref())?;
            Ok(())
        }
        Command::Docs => {
            for path in xtask::docs::render_all(&root)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Validate {
            suite,
            skip_slow,
            only,
            sets,
        } => {
            if let Some(bad) = sets
                .iter()
                .flatten()
                .find(|n| !REFERENCE_SETS.contains(&n.as_str()))
            {
                bail!(
                    "unknown reference set `{bad}` in --sets; the sets are {}",
                    REFERENCE_SETS.join(", ")
                );
            }
            let want = |name: &str| sets.as_ref().is_none_or(|v| v.iter().any(|n| n == name));
            // Each selected set: (pass, total), printed with its label; skipped sets count as passed.
            let mut refs_ok = true;
            if want("lmm") {
                refs_ok &= validate_references(&root, skip_slow)?;
                println!();
            }
            let mut tally = |name: &str, label: &str, run: &dyn Fn() -> Result<(usize, usize)>| {
                if !want(name) {
                    return Ok::<(), anyhow::Error>(());
                }
                let (pass, total) = run()?;
                println!("{label}: {pass}/{total} pass\n");
                refs_ok &= pass == total;
                Ok(())
            };
            tally("glmm", "glmer references", &|| {
                xtask::glmm_refs::validate(&root)
            })?;
            tally("negbin", "glmer.nb references", &|| {
                xtask::negbin_refs::validate(&root)
            })?;
            tally(
                "glmm-intervals",
                "GLMM profile/bootstrap interval checks",
                &|| xtask::glmm_interval_refs::validate(&root),
            )?;
            tally("inference", "lmerTest/lme4 inference checks", &|| {
                xtask::inference_refs::validate(&root)
            })?;
            tally("meta", "metafor rma references", &|| {
                xtask::meta_refs::validate(&root)
            })?;
            tally("ordinal", "ordinal::clmm references", &|| {
                xtask::ordinal_refs::validate(&root)
            })?;
            tally("zi", "glmmTMB zero-inflation references", &|| {
                xtask::zi_refs::validate(&root)
            })?;
            tally("marginal", "geepack/clubSandwich references", &|| {
                xtask::marginal_refs::validate(&root)
            })?;
            tally("gls", "nlme gls (residual covariance) references", &|| {
                xtask::gls_refs::validate(&root)
            })?;
            tally(
                "kr-gls",
                "Kenward-Roger for GLS and structured terms (pbkrtest)",
                &|| xtask::kr_gls_refs::validate(&root),
            )?;
            tally("workflow", "workflow (explore) checks", &|| {
                xtask::workflow_refs::validate(&root)
            })?;
            tally("after", "Kenward-Roger summary and predict checks", &|| {
                xtask::after_refs::validate(&root)
            })?;
            tally("power", "simulation and power checks", &|| {
                xtask::power_refs::validate(&root)
            })?;
            tally("covstruct", "covariance-structure references", &|| {
                xtask::covstruct_refs::validate(&root)
            })?;
            if want("covstruct") {
                let glmm_cov = xtask::covstruct_refs::check_glmm_cases(&root)?;
                for (name, failures) in &glmm_cov {
                    let status = if failures.is_empty() {
                        "PASS".into()
                    } else {
                        failures.join("; ")
                    };
                    println!("{name:<34} (glmer, glmmTMB reference) {status}");
                }
                refs_ok &= glmm_cov.iter().all(|(_, f)| f.is_empty());
            }
            let suite_ok = match suite {
                Some(dir) => validate_suite(&root, &dir, skip_slow, only.as_deref())?,
                None => true,
            };
            if !(refs_ok && suite_ok) {
                bail!("validation failed");
            }
            Ok(())
        }
        Command::ValidateGlmmIntervals => {
            let (pass, total) = xtask::glmm_interval_refs::validate(&root)?;
            println!("GLMM profile/bootstrap interval checks: {pass}/{total} pass");
            if pass != total {
                bail!("validation failed");
            }
            Ok(())
        }
        Command::ValidateOrdinal => {
            let (pass, total) = xtask::ordinal_refs::validate(&root)?;
            println!("ordinal::clmm references: {pass}/{total} pass");
            if pass != total {
                bail!("validation failed");
            }
            Ok(())
        }
        Command::ValidateZi => {
            let (pass, total) = xtask::zi_refs::validate(&root)?;
            println!("glmmTMB zero-inflation references: {pass}/{total} pass");
            if pass != total {
                bail!("validation failed");
            }
            Ok(())
        }
        Command::ValidateNegbin => {
            let (pass, total) = xtask::negbin_refs::validate(&root)?;
            println!("glmer.nb references: {pass}/{total} pass");
            if pass != total {
                bail!("validation failed");
            }
            Ok(())
        }
        Command::Reference => {
            let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("xtask/r"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("reference") && n.ends_with(".R"))
                })
                .collect();
            scripts.sort();
            for script in scripts {
                println!("Rscript {}", script.display());
                let status = std::process::Command::new("Rscript")
                    .arg(&script)
                    .arg(&root)
                    .status()
                    .context(
                        "running Rscript (apt-get install r-base-core r-cran-lme4 r-cran-lmertest r-cran-pbkrtest r-cran-mlmrev r-cran-jsonlite)",
                    )?;
                if !status.success() {
                    bail!("{} failed", script.display());
                }
            }
            Ok(())
        }
        Command::BenchLme4 {
            suite,
            models,
            quick,
            no_lme4,
            output,
            no_process,
        } => xtask::bench::run_with(
            &root,
            &xtask::bench::BenchOptions {
                suite,
                models,
                quick,
                no_lme4,
                output,
                no_process,
            },
        )
        .map(|_| ()),
        Command::BenchGls {
            models,
            no_r,
            output,
        } => xtask::bench_gls::run(
            &root,
            &xtask::bench_gls::GlsBenchOptions {
                no_r,
                models,
                output,
            },
        )
        .map(|_| ()),
        Command::SuiteDesigns { suite } => {
            if !suite.join("suite.tsv").exists() {
                println!("no suite at {} — skipped", suite.display());
                return Ok(());
            }
            let results = suite_designs(&suite)?;
            let ok = results.iter().filter(|(_, e)| e.is_none()).count();
            for (id, e) in &results {
                if let Some(e) = e {
                    println!("{id}: {e}");
                }
            }
            println!("designs built: {ok}/{}", results.len());
            if ok != results.len() {
                bail!("some designs failed");
            }
            Ok(())
        }
    }
}

fn validate_references(root: &Path, skip_slow: bool) -> Result<bool> {
    let files = reference_files(&root.join("tests/reference/lmm"))?;
    println!(
        "{:<28} {:>16} {:>16} {:>10} {:>9} {:>9} {:>6} {:>6}  result",
        "reference", "objective", "lme4", "rel.diff", "ours(s)", "lme4(s)", "evals", "lme4"
    );
    let mut pass = 0;
    let mut total = 0;
    for f in files {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if skip_slow && stem.contains("insteval") {
            continue;
        }
        total += 1;
        match check_lmm_reference(root, &f) {
            Ok(o) => {
                let ok = o.pass();
                if ok {
                    pass += 1;
                }
                println!(
                    "{:<28} {:>16.6} {:>16.6} {:>10.2e} {:>9.4} {:>9.4} {:>6} {:>6}  {}",
                    o.name,
                    o.objective,
                    o.reference_objective,
                    (o.objective - o.reference_objective) / o.reference_objective.abs(),
                    o.seconds,
                    o.lme4_seconds,
                    o.evaluations,
                    o.lme4_evaluations,
                    if ok { "PASS" } else { "FAIL" }
                );
                for c in o.checks.iter().filter(|c| !c.pass) {
                    println!("    {}: {:.3e}", c.what, c.diff);
                }
            }
            Err(e) => println!("{stem:<28} ERROR {e}"),
        }
    }
    println!("lme4 references: {pass}/{total} pass");
    Ok(pass == total)
}

fn validate_suite(root: &Path, dir: &Path, skip_slow: bool, only: Option<&str>) -> Result<bool> {
    if !dir.join("suite.tsv").exists() {
        println!("no benchmark suite at {} — skipped", dir.display());
        return Ok(true);
    }
    let rows = read_suite(dir)?;
    let mut outcomes: Vec<SuiteOutcome> = Vec::new();
    println!(
        "{:<16} {:>4} {:>18} {:>18} {:>11} {:>7} {:>9}",
        "model", "θ", "objective", "best", "excess", "evals", "seconds"
    );
    for row in rows {
        if let Some(o) = only
            && !row.id.contains(o)
        {
            continue;
        }
        if skip_slow
            && ["ml1m", "dialectnl", "poems", "d3", "kb07_1"]
                .iter()
                .any(|s| row.id.starts_with(s))
        {
            continue;
        }
        let o = fit_suite_row(dir, &row);
        match &o.error {
            None => println!(
                "{:<16} {:>4} {:>18.6} {:>18.6} {:>11.2e} {:>7} {:>9.3}  {}",
                o.row.id,
                o.n_theta,
                o.objective,
                o.row.best,
                o.excess(),
                o.evaluations,
                o.seconds,
                if o.at_or_below() {
                    "ok"
                } else if o.within_rel() {
                    "within 1e-6 rel"
                } else {
                    "ABOVE"
                }
            ),
            Some(e) => println!("{:<16} ERROR {e}", o.row.id),
        }
        std::io::stdout().flush().ok();
        outcomes.push(o);
    }
    let n = outcomes.len();
    let at_or_below = outcomes.iter().filter(|o| o.at_or_below()).count();
    let within = outcomes.iter().filter(|o| o.within_rel()).count();
    println!(
        "suite: {at_or_below}/{n} at or below the published best; {within}/{n} within 1e-6 relative"
    );
    if only.is_none() && !skip_slow {
        write_validation_md(root, &outcomes)?;
    }
    Ok(at_or_below == n)
}

fn write_validation_md(root: &Path, outcomes: &[SuiteOutcome]) -> Result<()> {
    let mut s = String::new();
    s.push_str("# Validation against the benchmark suite\n\n");
    s.push_str("Written by `cargo xtask validate --suite ../shared/bench`: every model of the published suite\n");
    s.push_str("(51 LMMs on 43 datasets) fitted by maximum likelihood, its deviance compared with the best\n");
    s.push_str(
        "known value over lme4 and MixedModels.jl fits with many optimizers (`ml_objective`).\n",
    );
    s.push_str("`excess` = ours − best (negative is better). Times include reading the CSV and building the\n");
    s.push_str("design; release build on the 2-core development machine.\n\n");
    let n = outcomes.len();
    let at = outcomes.iter().filter(|o| o.at_or_below()).count();
    let within = outcomes.iter().filter(|o| o.within_rel()).count();
    s.push_str(&format!(
        "**{at}/{n} at or below the published best (to its 6 decimals); {within}/{n} within 1e-6 relative.**\n\n"
    ));
    s.push_str("| model | θ | deviance | best | excess | evaluations | seconds |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for o in outcomes {
        match &o.error {
            None => s.push_str(&format!(
                "| {} | {} | {:.6} | {:.6} | {:.2e} | {} | {:.3} |\n",
                o.row.id,
                o.n_theta,
                o.objective,
                o.row.best,
                o.excess(),
                o.evaluations,
                o.seconds
            )),
            Some(e) => s.push_str(&format!(
                "| {} | | error: {} | {:.6} | | | |\n",
                o.row.id,
                e.replace('|', "/").replace('\n', " "),
                o.row.best
            )),
        }
    }
    std::fs::write(root.join("docs/validation.md"), s)?;
    println!("wrote docs/validation.md");
    Ok(())
}
