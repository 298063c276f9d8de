//! Validation of `multilevel explore` (crate multilevel-workflow) against R on Hsb82
//! (`tests/reference/workflow/hsb82.json`, written by `xtask/r/reference_workflow.R`): the
//! empty model's variances, ICC (lme4 and performance::icc) and design effect; the OLS (with
//! sandwich's CR1), between and within (plm) slopes and SEs; the REML random-intercept and
//! hybrid fits (lme4); the Hausman statistic with the REML random effects, and with plm's
//! Swamy–Arora random effects against `plm::phtest` (1e-6). Tolerances: 1e-6 relative for least squares,
//! 1e-4 for quantities from a fitted mixed model, 1e-3 for the Hausman statistic (a difference
//! of two close covariance matrices).

use std::path::Path;

use anyhow::{Context, Result};
use multilevel::frame::{DataFrame, ReadOptions};
use multilevel::workflow::{Estimator, ExploreOptions, explore};
use serde_json::Value;

/// One comparison: name, ours, R's, tolerance.
struct Check {
    what: String,
    ours: f64,
    theirs: f64,
    tol: f64,
}

impl Check {
    fn rel(&self) -> f64 {
        (self.ours - self.theirs).abs() / self.theirs.abs().max(1e-12)
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Compare explore's Hsb82 report with the reference; returns (passed, total) and prints a
/// line per failure and a summary line.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let path = root.join("tests/reference/workflow/hsb82.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let r: Value = serde_json::from_str(&text)?;
    let data = DataFrame::read_csv(&root.join("tests/data/hsb82.csv"), &ReadOptions::default())?;
    let report = explore(
        &data,
        "mAch",
        &["ses".to_string()],
        &["school".to_string()],
        &ExploreOptions {
            bootstrap: 0,
            ..ExploreOptions::default()
        },
    )?;
    let mut checks = Vec::new();
    let mut add = |what: &str, ours: f64, theirs: f64, tol: f64| {
        checks.push(Check {
            what: what.to_string(),
            ours,
            theirs,
            tol,
        })
    };
    let e = &r["empty"];
    if let Some(g) = report.groups.first() {
        add("tau2", g.between_variance, num(&e["tau2"]), 1e-4);
        add("sigma2", g.within_variance, num(&e["sigma2"]), 1e-4);
        add("ICC (lme4)", g.icc, num(&e["icc"]), 1e-4);
        add(
            "ICC (performance::icc)",
            g.icc,
            num(&e["icc_performance"]),
            1e-4,
        );
        add(
            "design effect",
            g.design_effect,
            num(&e["design_effect"]),
            1e-4,
        );
        add("effective n", g.effective_n, num(&e["effective_n"]), 1e-4);
    }
    for (method, key, tol) in [
        (Estimator::Ols, "ols", 1e-6),
        (Estimator::Between, "between", 1e-6),
        (Estimator::Within, "within", 1e-6),
        (Estimator::Random, "random", 1e-4),
        (Estimator::Hybrid, "hybrid", 1e-4),
    ] {
        let block = &r[key];
        let rows: Vec<_> = report
            .estimators
            .iter()
            .filter(|row| row.method == method)
            .collect();
        for (i, row) in rows.iter().enumerate() {
            add(
                &format!("{key} {} estimate", row.term),
                row.estimate,
                num(&block["estimate"][i]),
                tol,
            );
            add(
                &format!("{key} {} SE", row.term),
                row.std_error,
                num(&block["std_error"][i]),
                tol,
            );
            if let (Some(ours), Some(theirs)) =
                (row.robust_std_error, block.get("robust_std_error"))
            {
                add(
                    &format!("{key} {} CR1 SE", row.term),
                    ours,
                    num(&theirs[i]),
                    tol,
                );
            }
        }
    }
    if let Some(h) = &report.hausman {
        add(
            "Hausman statistic",
            h.statistic,
            num(&r["hausman"]["statistic"]),
            1e-3,
        );
    }
    // plm::phtest(within, random) with plm's default Swamy–Arora random effects.
    let swar = explore(
        &data,
        "mAch",
        &["ses".to_string()],
        &["school".to_string()],
        &ExploreOptions {
            bootstrap: 0,
            re_estimator: multilevel::workflow::ReEstimator::SwamyArora,
            ..ExploreOptions::default()
        },
    )?;
    if let Some(h) = &swar.hausman {
        checks.push(Check {
            what: "Hausman statistic (Swamy–Arora, plm::phtest)".into(),
            ours: h.statistic,
            theirs: num(&r["hausman_plm"]["statistic"]),
            tol: 1e-6,
        });
    }
    let total = checks.len();
    let mut passed = 0;
    for c in &checks {
        let rel = c.rel();
        if rel <= c.tol {
            passed += 1;
        } else {
            println!(
                "  FAIL explore hsb82 {}: ours {} R {} (rel {rel:.2e} > {:.0e})",
                c.what, c.ours, c.theirs, c.tol
            );
        }
    }
    let worst = checks.iter().map(Check::rel).fold(0.0, f64::max);
    println!(
        "  explore on Hsb82 vs lme4/plm/sandwich/performance: {passed}/{total} (max rel {worst:.1e})"
    );
    Ok((passed, total))
}
