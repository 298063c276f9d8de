//! Validation of de novo simulation and simulation-based power against R
//! (`tests/reference/power/*.json`, written by `xtask/r/reference_power.R`).
//!
//! Simulations are random, so nothing is compared for equality:
//! - moments (`moments_*.json`): our Monte-Carlo mean of each statistic over the reference's
//!   number of simulations is compared with lme4's `simulate(formula, newdata, newparams)`
//!   Monte-Carlo mean within 4 combined standard errors, and with the closed form (from the
//!   parameters) where there is one within 4 of our standard errors;
//! - power (`cluster_randomised.json`): `multilevel::power` over 20, 30, 40 and 60 schools
//!   (1,000 simulations each, Satterthwaite t test) against the closed-form noncentral-t power
//!   with the design effect `1 + (m − 1) ICC`, within 4 binomial standard errors
//!   `√(p(1 − p)/nsim)`; and at 40 schools against lme4 + lmerTest's own simulated power within
//!   4 combined standard errors.

use std::path::Path;

use anyhow::{Context, Result};
use multilevel::frame::{DataFrame, ReadOptions};
use multilevel::power::VarianceSpec;
use multilevel::{
    Along, BetaSpec, CoefTest, DeNovo, FitOptions, NewParams, PowerOptions, PowerTest,
};
use serde_json::Value;

/// A statistic of one simulated response.
type Stat = Box<dyn Fn(&[f64]) -> f64>;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default()
}

/// Mean and Monte-Carlo standard error.
fn mc(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

fn report(label: &str, what: &str, ours: f64, theirs: f64, bound: f64, pass: &mut usize) {
    let ok = (ours - theirs).abs() <= bound;
    if ok {
        *pass += 1;
    }
    println!(
        "{label:<24} {what:<34} {ours:>12.5} {theirs:>12.5} {bound:>10.5}  {}",
        if ok { "PASS" } else { "FAIL" }
    );
}

/// Mean over rows where `keep`, of `f(y)`.
fn mean_where(y: &[f64], keep: &[bool], f: impl Fn(f64) -> f64) -> f64 {
    let (s, n) = y
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .fold((0.0, 0.0), |(s, n), (v, _)| (s + f(*v), n + 1.0));
    s / n
}

/// The mean over groups' pairs of distinct rows of the product `yᵢ yⱼ` (rows where `keep`).
fn within_product(y: &[f64], keep: &[bool], group: &[String]) -> f64 {
    let mut sums: Vec<(String, f64, f64, f64)> = Vec::new();
    for ((v, k), g) in y.iter().zip(keep).zip(group) {
        if !*k {
            continue;
        }
        match sums.iter_mut().find(|s| s.0 == *g) {
            Some(s) => {
                s.1 += v;
                s.2 += v * v;
                s.3 += 1.0;
            }
            None => sums.push((g.clone(), *v, v * v, 1.0)),
        }
    }
    let (num, cnt) = sums.iter().fold((0.0, 0.0), |(a, b), s| {
        (a + s.1 * s.1 - s.2, b + s.3 * (s.3 - 1.0))
    });
    num / cnt
}

fn moments(root: &Path, path: &Path, pass: &mut usize, total: &mut usize) -> Result<()> {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let name = r["name"].as_str().unwrap_or("?").to_string();
    let label = format!("moments {name}");
    let design = r["design"].as_str().context("design")?;
    let data = DataFrame::read_csv(&root.join(design), &ReadOptions::default())?;
    let formula = r["formula"].as_str().context("formula")?;
    let family = match r["family"].as_str() {
        Some("binomial") => Some(multilevel::FamilySpec::from(multilevel::Family::Binomial)),
        Some("poisson") => Some(multilevel::FamilySpec::from(multilevel::Family::Poisson)),
        _ => None,
    };
    let nsim = r["nsim"].as_u64().context("nsim")? as usize;
    let beta = nums(&r["beta"]);
    let params = NewParams {
        beta: BetaSpec::Values(beta.clone()),
        covariance: VarianceSpec::Theta(nums(&r["theta"])),
        sigma: num(&r["sigma"]),
    };
    let model = DeNovo::new(formula, &data, family, &params, &FitOptions::default())?;
    let sims = model.simulate(nsim, 20_261_207)?;
    let col = |c: &str| -> Vec<String> {
        (0..data.nrows())
            .map(|i| match data.column(c) {
                Some(multilevel::frame::Column::Factor(f)) => {
                    f.label(i).unwrap_or_default().to_string()
                }
                Some(multilevel::frame::Column::Numeric(v)) => {
                    v[i].map(|x| x.to_string()).unwrap_or_default()
                }
                None => String::new(),
            })
            .collect()
    };
    let stats: Vec<(&str, Stat)> = if name == "slope" {
        let days: Vec<f64> = col("Days")
            .iter()
            .map(|d| d.parse().unwrap_or(-1.0))
            .collect();
        let subj = col("Subject");
        let (b0, b1) = (beta[0], beta[1]);
        // Pairs (day 0, day 9) of each subject, by row.
        let d0: Vec<usize> = (0..days.len()).filter(|&i| days[i] == 0.0).collect();
        let d9: Vec<usize> = d0
            .iter()
            .map(|&i| {
                (0..days.len())
                    .find(|&j| days[j] == 9.0 && subj[j] == subj[i])
                    .unwrap_or(i)
            })
            .collect();
        let (d0a, d0b, d9a) = (d0.clone(), d0.clone(), d9.clone());
        let d9b = d9.clone();
        vec![
            (
                "var_day0",
                Box::new(move |y: &[f64]| {
                    d0a.iter().map(|&i| (y[i] - b0).powi(2)).sum::<f64>() / d0a.len() as f64
                }) as Stat,
            ),
            (
                "var_day9",
                Box::new(move |y: &[f64]| {
                    d9a.iter()
                        .map(|&i| (y[i] - b0 - 9.0 * b1).powi(2))
                        .sum::<f64>()
                        / d9a.len() as f64
                }) as Stat,
            ),
            (
                "cov_day0_day9",
                Box::new(move |y: &[f64]| {
                    d0b.iter()
                        .zip(&d9b)
                        .map(|(&i, &j)| (y[i] - b0) * (y[j] - b0 - 9.0 * b1))
                        .sum::<f64>()
                        / d0b.len() as f64
                }) as Stat,
            ),
        ]
    } else {
        let treated: Vec<bool> = col("treat").iter().map(|t| t == "1").collect();
        let control: Vec<bool> = treated.iter().map(|t| !t).collect();
        let school = col("school");
        let (t1, c1, c2, c3) = (
            treated.clone(),
            control.clone(),
            control.clone(),
            control.clone(),
        );
        vec![
            (
                "mean_treated",
                Box::new(move |y: &[f64]| mean_where(y, &t1, |v| v)) as Stat,
            ),
            (
                "mean_control",
                Box::new(move |y: &[f64]| mean_where(y, &c1, |v| v)) as Stat,
            ),
            (
                "second_moment_control",
                Box::new(move |y: &[f64]| mean_where(y, &c2, |v| v * v)) as Stat,
            ),
            (
                "within_school_product_control",
                Box::new(move |y: &[f64]| within_product(y, &c3, &school)) as Stat,
            ),
        ]
    };
    for (what, f) in &stats {
        let reference = &r["moments"][*what];
        let closed = &r["closed_form"][*what];
        if reference.is_null() && closed.is_null() {
            continue;
        }
        let values: Vec<f64> = sims.iter().map(|y| f(y.as_slice())).collect();
        let (m, se) = mc(&values);
        if !reference.is_null() {
            *total += 1;
            let (rm, rse) = (num(&reference["mean"]), num(&reference["se"]));
            let bound = 4.0 * (se * se + rse * rse).sqrt();
            report(&label, &format!("{what} vs lme4"), m, rm, bound, pass);
        }
        if !closed.is_null() {
            *total += 1;
            report(
                &label,
                &format!("{what} vs closed form"),
                m,
                num(closed),
                4.0 * se,
                pass,
            );
        }
    }
    Ok(())
}

fn power_reference(root: &Path, path: &Path, pass: &mut usize, total: &mut usize) -> Result<()> {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let design = r["design"].as_str().context("design")?;
    let data = DataFrame::read_csv(&root.join(design), &ReadOptions::default())?;
    let (d, tau, sigma) = (num(&r["effect"]), num(&r["tau"]), num(&r["sigma"]));
    let sizes: Vec<usize> = nums(&r["sizes"]).iter().map(|&s| s as usize).collect();
    let closed = nums(&r["closed_form_power"]);
    let params = NewParams {
        beta: BetaSpec::Named(vec![("(Intercept)".into(), 0.0), ("treat".into(), d)]),
        covariance: VarianceSpec::SdCor(vec![multilevel::GroupSdCor {
            group: "school".into(),
            sd: vec![tau],
            cor: Vec::new(),
        }]),
        sigma,
    };
    let nsim = 1000;
    let opts = PowerOptions {
        test: PowerTest::Coefficient {
            term: "treat".into(),
            method: CoefTest::Satterthwaite,
        },
        alpha: num(&r["alpha"]),
        nsim,
        seed: 1,
        along: Some(Along::Groups("school".into())),
        sizes: sizes.clone(),
        level: 0.95,
    };
    let formula = r["formula"].as_str().context("formula")?;
    let result = multilevel::power(
        formula,
        &data,
        None,
        &params,
        &FitOptions::default(),
        &opts,
        None,
    )?;
    for (row, &p) in result.rows.iter().zip(&closed) {
        *total += 1;
        let se = (p * (1.0 - p) / (nsim - row.failures) as f64).sqrt();
        report(
            "power cluster-randomised",
            &format!("{} schools vs closed form", row.size.unwrap_or(0)),
            row.power,
            p,
            4.0 * se,
            pass,
        );
    }
    let lm = &r["lmer_simulated"];
    let j = lm["schools"].as_u64().unwrap_or(0) as usize;
    if let Some(row) = result.rows.iter().find(|x| x.size == Some(j)) {
        *total += 1;
        let rp = num(&lm["power"]);
        let rn = num(&lm["nsim"]);
        let se = (row.power * (1.0 - row.power) / nsim as f64 + rp * (1.0 - rp) / rn).sqrt();
        report(
            "power cluster-randomised",
            &format!("{j} schools vs lme4+lmerTest sim"),
            row.power,
            rp,
            4.0 * se,
            pass,
        );
    }
    Ok(())
}

/// Check every power and simulation reference; returns `(passed, total)`.
///
/// # Errors
/// A reference cannot be read.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let (mut pass, mut total) = (0, 0);
    println!(
        "{:<24} {:<34} {:>12} {:>12} {:>10}  status",
        "reference", "quantity", "ours", "R", "bound"
    );
    for path in crate::reference_files(&root.join("tests/reference/power"))? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let outcome = if name.starts_with("moments_") {
            moments(root, &path, &mut pass, &mut total)
        } else {
            power_reference(root, &path, &mut pass, &mut total)
        };
        if let Err(e) = outcome {
            total += 1;
            println!("{name:<24} FAIL: {e}");
        }
    }
    Ok((pass, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole check (about 4,000 refits): `cargo test -p xtask power -- --ignored` runs it
    /// without a release build; `cargo xtask validate` runs it always.
    #[test]
    #[ignore = "slow: thousands of simulated refits"]
    fn every_power_and_simulation_reference_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (passed, total) = validate(&root).unwrap_or((0, 1));
        assert!(total >= 20, "{total} checks");
        assert_eq!(passed, total);
    }
}
