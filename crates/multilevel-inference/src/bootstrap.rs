//! Parametric bootstrap of a linear mixed model (lme4's `bootMer` and
//! `confint(fit, method = "boot")`).
//!
//! Each replicate simulates a response from the fitted model,
//!
//! ```text
//! y* = offset + Xβ̂ + Σⱼ Zⱼ bⱼ* + ε*,   bⱼ* = σ̂ Λⱼ(θ̂) uⱼ*,   uⱼ* ~ N(0, I),   εᵢ* ~ N(0, σ̂²/wᵢ)
//! ```
//!
//! (so `b* ~ N(0, σ̂² ΛΛ')`, lme4's `simulate(fit, use.u = FALSE)`), refits it with the same
//! structure and criterion (REML or ML as the original fit, lme4's `refit`), and records the
//! Sv-scale variance parameters (standard deviations and correlations of the random effects,
//! then σ, in lme4's `.sig01, …, .sigma` order) followed by the fixed effects β.
//!
//! Replicate `i` draws its normals from a SplitMix64 stream seeded with a hash of
//! `(seed, i)`, so results depend on the seed only, not on the number of threads or the
//! order in which replicates run. The streams are not R's, so the numbers differ from lme4's
//! draws; only the distribution is the same.

use std::sync::atomic::{AtomicUsize, Ordering};

use multilevel_design::Design;
use multilevel_lmm::{FitResult, LinearMixedModel, LmmOptions, Method};
use rayon::prelude::*;

use crate::InferenceError;
use crate::confint::Interval;
use crate::varpar::{sv_names, theta_to_sv};
use multilevel_numeric::SplitMix64;

/// The replicates of a parametric bootstrap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapResult {
    /// One row per successful replicate, in replicate order: the Sv parameters
    /// (`sd_…`, `cor_…`, `sigma`) then the fixed effects, as [`BootstrapResult::names`].
    pub replicates: Vec<Vec<f64>>,
    /// Column labels (lme4's `oldNames = FALSE` labels, then the fixed-effect names).
    pub names: Vec<String>,
    /// Replicates whose refit failed or gave non-finite values (left out of `replicates`).
    pub failed: usize,
}

/// Options of a refit inside the bootstrap: the fit's criterion, no conditional variances
/// and no convergence checks (they are not used).
fn refit_options(fit: &FitResult) -> Result<LmmOptions, InferenceError> {
    let reml = match fit.method {
        Method::Reml => true,
        Method::Ml => false,
        other => {
            return Err(InferenceError::Mismatch(format!(
                "the parametric bootstrap needs a linear mixed model fitted by REML or ML, not {other:?}"
            )));
        }
    };
    Ok(LmmOptions {
        reml,
        cond_var: false,
        check_convergence: false,
        ..LmmOptions::default()
    })
}

fn check_fit(design: &Design, fit: &FitResult) -> Result<(), InferenceError> {
    crate::model::check_shape(design, fit)?;
    if !(fit.sigma.is_finite() && fit.sigma > 0.0) {
        return Err(InferenceError::NotFinite(format!(
            "residual standard deviation σ̂ = {}",
            fit.sigma
        )));
    }
    Ok(())
}

/// Simulate one response into `y` (length n) given the fixed part `eta = offset + Xβ̂`.
fn simulate(
    design: &Design,
    eta: &[f64],
    lambda: &[Vec<f64>],
    sigma: f64,
    rng: &mut SplitMix64,
    y: &mut [f64],
) {
    y.copy_from_slice(eta);
    for (t, lam) in design.terms.iter().zip(lambda) {
        let k = t.k;
        let mut b = vec![0.0; t.q()];
        let mut u = vec![0.0; k];
        for l in 0..t.nlevels() {
            u.iter_mut().for_each(|v| *v = rng.normal());
            for r in 0..k {
                b[l * k + r] = sigma * (0..=r).map(|c| lam[r * k + c] * u[c]).sum::<f64>();
            }
        }
        for (i, yi) in y.iter_mut().enumerate() {
            let l = t.refs[i] as usize;
            for c in 0..k {
                *yi += t.z[i * k + c] * b[l * k + c];
            }
        }
    }
    for (i, yi) in y.iter_mut().enumerate() {
        let w = design.weights.as_ref().map_or(1.0, |w| w[i]);
        *yi += sigma / w.sqrt() * rng.normal();
    }
}

/// Parametric bootstrap (lme4's `bootMer(fit, FUN, nsim, seed, use.u = FALSE,
/// type = "parametric")` with `FUN` returning the Sv parameters and β, as
/// `confint(fit, method = "boot")` does).
///
/// `model` is the prepared model the fit came from (only its design is read); each worker
/// builds its own copy once and refits it (`LinearMixedModel::refit`) for each simulated
/// response. `threads = None` uses rayon's default pool size, `Some(t)` a pool of `t` threads.
/// A progress bar is drawn on stderr when stderr is a terminal.
///
/// # Errors
/// [`InferenceError::Mismatch`] when the fit does not belong to the model or is not an LMM
/// fit, or `nsim` is 0; [`InferenceError::NotFinite`] for a non-positive σ̂;
/// [`InferenceError::Numerical`] when the thread pool cannot be built.
pub fn bootstrap(
    model: &LinearMixedModel,
    fit: &FitResult,
    nsim: usize,
    seed: u64,
    threads: Option<usize>,
) -> Result<BootstrapResult, InferenceError> {
    let design = model.design();
    check_fit(design, fit)?;
    if nsim == 0 {
        return Err(InferenceError::Mismatch(
            "the bootstrap needs at least one simulation; hint: use e.g. nsim = 1000".into(),
        ));
    }
    let opts = refit_options(fit)?;
    let n = design.nobs();
    let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    let mut eta = vec![0.0; n];
    for (i, e) in eta.iter_mut().enumerate() {
        let mut acc = design.offset.as_ref().map_or(0.0, |o| o[i]);
        for (a, b) in beta.iter().enumerate() {
            acc += design.x[(i, a)] * b;
        }
        *e = acc;
    }
    let lambda = design.lambdas(&fit.theta);
    let mut names = sv_names(design);
    names.extend(fit.fixed.iter().map(|f| f.term.clone()));

    let (replicates, failed) = run_replicates(
        nsim,
        threads,
        || {
            (
                LinearMixedModel::new(design.clone(), opts.clone()).ok(),
                vec![0.0; n],
            )
        },
        |(local, y), i| {
            local.as_mut().and_then(|m| {
                let mut rng = SplitMix64::for_stream(seed, i as u64);
                simulate(design, &eta, &lambda, fit.sigma, &mut rng, y);
                let r = m.refit(y).ok()?;
                let mut row = theta_to_sv(m.design(), &r.theta, r.sigma);
                row.extend(r.fixed.iter().map(|f| f.estimate));
                row.iter().all(|v| v.is_finite()).then_some(row)
            })
        },
    )?;
    Ok(BootstrapResult {
        failed,
        replicates,
        names,
    })
}

/// Runs replicate `i = 0..nsim` in parallel (rayon; `threads = None` is rayon's default pool,
/// `Some(t)` a pool of `t` threads), each on a per-worker state made by `init`, with a progress
/// bar on stderr when it is a terminal. Returns the rows of the replicates that succeeded, in
/// replicate order (so the result does not depend on the thread count), and how many failed.
pub(crate) fn run_replicates<S, I, F>(
    nsim: usize,
    threads: Option<usize>,
    init: I,
    one: F,
) -> Result<(Vec<Vec<f64>>, usize), InferenceError>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) -> Option<Vec<f64>> + Sync + Send,
{
    let progress = crate::progress::bar(nsim, "bootstrap", "refits");
    let done = AtomicUsize::new(0);
    let run = || -> Vec<Option<Vec<f64>>> {
        (0..nsim)
            .into_par_iter()
            .map_init(&init, |state, i| {
                let out = one(state, i);
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(bar) = &progress
                    && (k.is_multiple_of(16) || k == nsim)
                {
                    bar.set_position(k as u64);
                }
                out
            })
            .collect()
    };
    let rows = match threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build()
            .map_err(|e| InferenceError::Numerical(format!("cannot start {t} threads: {e}")))?
            .install(run),
        None => run(),
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let total = rows.len();
    let replicates: Vec<Vec<f64>> = rows.into_iter().flatten().collect();
    let failed = total - replicates.len();
    Ok((replicates, failed))
}

/// Percentile intervals from bootstrap replicates, as `boot::boot.ci(type = "perc")` (which
/// lme4's `confint(method = "boot", boot.type = "perc")` calls): with `R` replicates sorted,
/// the limit for tail probability `α` is the order statistic of rank `(R + 1) α`; a fractional
/// rank interpolates between its neighbours on the normal-quantile scale (boot's
/// `norm.inter`), and ranks outside `1 ..= R` take the extreme replicate.
///
/// # Errors
/// [`InferenceError::BadLevel`] unless `0 < level < 1`; [`InferenceError::Mismatch`] when no
/// replicate succeeded.
pub fn percentile_intervals(
    boot: &BootstrapResult,
    level: f64,
) -> Result<Vec<Interval>, InferenceError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(InferenceError::BadLevel(level));
    }
    if boot.replicates.is_empty() {
        return Err(InferenceError::Mismatch(
            "no bootstrap replicate succeeded; hint: check the fit, or run more simulations".into(),
        ));
    }
    let alpha = (1.0 - level) / 2.0;
    Ok(boot
        .names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let mut v: Vec<f64> = boot
                .replicates
                .iter()
                .filter_map(|r| r.get(j).copied())
                .collect();
            v.sort_by(f64::total_cmp);
            Interval {
                term: name.clone(),
                lower: norm_inter(&v, alpha),
                upper: norm_inter(&v, 1.0 - alpha),
            }
        })
        .collect())
}

/// boot's `norm.inter` for one probability on sorted values.
fn norm_inter(sorted: &[f64], p: f64) -> f64 {
    let r = sorted.len();
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let rk = (r as f64 + 1.0) * p;
    let k = rk.floor() as usize;
    if (rk - rk.round()).abs() < 1e-9 * rk.max(1.0) {
        let k = rk.round() as usize;
        return if k == 0 {
            sorted[0]
        } else if k > r {
            last
        } else {
            sorted[k - 1]
        };
    }
    if k == 0 {
        return sorted[0];
    }
    if k >= r {
        return last;
    }
    let z = multilevel_numeric::dist::qnorm;
    let lo = z(k as f64 / (r as f64 + 1.0));
    let hi = z((k + 1) as f64 / (r as f64 + 1.0));
    sorted[k - 1] + (z(p) - lo) / (hi - lo) * (sorted[k] - sorted[k - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_inter_matches_boot() {
        // R: boot:::norm.inter(1:9, c(0.025, 0.5, 0.975)) gives 1, 5, 9 at the extremes and
        // the middle; (R + 1)·0.3 = 3 is an exact rank.
        let v: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(norm_inter(&v, 0.5), 5.0);
        assert_eq!(norm_inter(&v, 0.3), 3.0);
        assert_eq!(norm_inter(&v, 0.025), 1.0);
        assert_eq!(norm_inter(&v, 0.975), 9.0);
        // Fractional rank 10·0.25 = 2.5: between the 2nd and 3rd value on the normal scale
        // (R gives 2.526862).
        let x = norm_inter(&v, 0.25);
        assert!((x - 2.526862).abs() < 1e-6, "{x}");
    }
}
