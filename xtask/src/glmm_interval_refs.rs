//! Checks of GLMM intervals against lme4: every `tests/reference/glmm_intervals/*.json`
//! (written by `xtask/r/reference_glmm_intervals.R`) is refitted through the facade's `glmer`
//! and its profile and bootstrap intervals are compared.
//!
//! - Profile (`confint(fit, method = "profile")`): each limit within 1e-3 relative of lme4's,
//!   relative to the larger of the limit's magnitude and the interval's width (a limit near 0,
//!   such as a standard deviation's lower limit, would otherwise be held to an absolute 1e-3
//!   of nothing).
//! - Bootstrap (`bootMer`, percentile): our replicates come from other random streams, so only
//!   the distributions can agree. Each percentile limit must be within 4 combined Monte-Carlo
//!   standard errors of lme4's (`4 √(se_R² + se_ours²)`, each se from the spread of the order
//!   statistics at `p ∓ √(p(1−p)/R)`), and each replicate mean within
//!   `4 √(sd_R²/R_R + sd²/R)`. Four standard errors make a false alarm on one of the ~30
//!   quantities checked rare (two-sided normal tail 6e-5 each).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use multilevel::{DataFrame, Family, GlmerOptions, IntervalMethod, ReadOptions};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Half the distance between the order statistics at `p ∓ √(p(1−p)/R)` of sorted values: one
/// Monte-Carlo standard error of the sample `p`-quantile (as the R script computes it).
fn mc_se(sorted: &[f64], p: f64) -> f64 {
    let r = sorted.len();
    if r == 0 {
        return f64::NAN;
    }
    let d = (p * (1.0 - p) / r as f64).sqrt();
    let lo = ((r as f64 * (p - d)).floor() as usize).clamp(1, r);
    let hi = ((r as f64 * (p + d)).ceil() as usize).clamp(1, r);
    (sorted[hi - 1] - sorted[lo - 1]) / 2.0
}

/// Number of bootstrap replicates of our side.
const NSIM: usize = 1000;

/// Check every GLMM interval reference; returns (passed, total) counting one model's profile
/// and its bootstrap as two checks.
///
/// # Errors
/// Unreadable reference files or data, and failed fits.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/glmm_intervals");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut passed = 0;
    let mut total = 0;
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        let r: Value = serde_json::from_str(&text)?;
        let name = r["name"].as_str().unwrap_or("?").to_string();
        let opts = ReadOptions {
            factor_columns: strings(&r["factors"]),
            ordered_columns: Vec::new(),
        };
        let data = if let Some(ds) = r["data"]["dataset"].as_str() {
            let d = multilevel::datasets::get(ds).ok_or_else(|| anyhow!("no dataset {ds}"))?;
            DataFrame::from_csv_str(d.name, d.csv, &opts)?
        } else if let Some(csv) = r["data"]["csv"].as_str() {
            DataFrame::read_csv(&root.join(csv), &opts)?
        } else {
            return Err(anyhow!("{name}: reference has no data"));
        };
        let family = match r["family"].as_str() {
            Some("binomial") => Family::Binomial,
            Some("poisson") => Family::Poisson,
            other => return Err(anyhow!("{name}: family {other:?} not handled")),
        };
        let formula = r["formula"].as_str().unwrap_or_default();
        let m = multilevel::glmer(formula, &data, family, &GlmerOptions::default())?;

        // ---- profile ----
        let t = Instant::now();
        let prof = m.confint(IntervalMethod::Profile, 0.95)?;
        let t_prof = t.elapsed().as_secs_f64();
        let refs = r["profile"]
            .as_array()
            .ok_or_else(|| anyhow!("{name}: no profile"))?;
        let mut worst = 0.0f64;
        let mut ok = prof.len() == refs.len();
        for (ours, rf) in prof.iter().zip(refs) {
            let (lo, hi) = (num(&rf["lower"]), num(&rf["upper"]));
            ok &= ours.term == rf["term"].as_str().unwrap_or_default();
            let width = (hi - lo).abs();
            for (a, b) in [(ours.lower, lo), (ours.upper, hi)] {
                let rel = (a - b).abs() / b.abs().max(width);
                worst = worst.max(rel);
                ok &= rel < 1e-3;
            }
        }
        total += 1;
        passed += usize::from(ok);
        println!(
            "{name:<16} profile   {:>2} parameters  max rel. diff {worst:.1e}  ours {t_prof:.2} s  lme4 {:.1} s  {}",
            prof.len(),
            num(&r["profile_time_s"]),
            if ok { "PASS" } else { "FAIL" }
        );
        if !ok {
            for (ours, rf) in prof.iter().zip(refs) {
                println!(
                    "    {:<24} ours [{:.6}, {:.6}]  lme4 [{:.6}, {:.6}]",
                    ours.term,
                    ours.lower,
                    ours.upper,
                    num(&rf["lower"]),
                    num(&rf["upper"])
                );
            }
        }

        // ---- bootstrap ----
        let seed = r["boot_seed"].as_u64().unwrap_or(1);
        let t = Instant::now();
        let boot = m.bootstrap(NSIM, seed, None)?;
        let t_boot = t.elapsed().as_secs_f64();
        let ci = multilevel::inference::percentile_intervals(&boot, 0.95)?;
        let brefs = r["boot"]
            .as_array()
            .ok_or_else(|| anyhow!("{name}: no boot"))?;
        let n_r = num(&r["boot_ok"]);
        let n_o = boot.replicates.len() as f64;
        let mut ok = ci.len() == brefs.len() && boot.failed * 20 < NSIM;
        let mut worst_z = 0.0f64;
        for (j, (ours, rf)) in ci.iter().zip(brefs).enumerate() {
            ok &= ours.term == rf["term"].as_str().unwrap_or_default();
            let mut v: Vec<f64> = boot.replicates.iter().map(|row| row[j]).collect();
            v.sort_by(f64::total_cmp);
            let mean = v.iter().sum::<f64>() / n_o;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n_o - 1.0)).sqrt();
            let checks = [
                (
                    ours.lower,
                    num(&rf["lower"]),
                    num(&rf["lower_mc_se"]).hypot(mc_se(&v, 0.025)),
                ),
                (
                    ours.upper,
                    num(&rf["upper"]),
                    num(&rf["upper_mc_se"]).hypot(mc_se(&v, 0.975)),
                ),
                (
                    mean,
                    num(&rf["mean"]),
                    (num(&rf["sd"]).powi(2) / n_r + sd * sd / n_o).sqrt(),
                ),
            ];
            for (a, b, se) in checks {
                let diff = (a - b).abs();
                // Both limits exactly equal (e.g. at a boundary of 0) have no spread to judge.
                let z = if diff == 0.0 { 0.0 } else { diff / se };
                worst_z = worst_z.max(z);
                ok &= z <= 4.0;
            }
        }
        total += 1;
        passed += usize::from(ok);
        println!(
            "{name:<16} bootstrap {:>4} replicates ({} failed)  max |diff|/MC se {worst_z:.2}  ours {t_boot:.1} s  lme4 {:.0} s  {}",
            boot.replicates.len(),
            boot.failed,
            num(&r["boot_time_s"]),
            if ok { "PASS" } else { "FAIL" }
        );
        if !ok {
            for (ours, rf) in ci.iter().zip(brefs) {
                println!(
                    "    {:<24} ours [{:.4}, {:.4}]  lme4 [{:.4}, {:.4}]",
                    ours.term,
                    ours.lower,
                    ours.upper,
                    num(&rf["lower"]),
                    num(&rf["upper"])
                );
            }
        }
    }
    Ok((passed, total))
}
