//! Parametric bootstrap of a GLMM (lme4's `bootMer(fit, FUN, nsim, seed, use.u = FALSE,
//! type = "parametric")` for a `glmer` fit, as `confint(fit, method = "boot")` uses it).
//!
//! Each replicate draws a response from the fitted model with new random effects (the caller's
//! simulator: `b* = Λ(θ̂)u*`, then the family's draw given `η = offset + Xβ̂ + Zb*`), refits
//! the same model, and records the standard deviations and correlations of the random effects
//! followed by β (no σ: the families bootstrapped here have none). Replicate `i` draws from
//! the random stream `(seed, i)`, so the replicates depend on the seed only, never on the
//! number of threads or the order in which they run. [`crate::percentile_intervals`] turns
//! the replicates into percentile intervals.

use multilevel_design::Design;
use multilevel_numeric::SplitMix64;

use crate::InferenceError;
use crate::bootstrap::BootstrapResult;
use crate::varpar::{sv_names, theta_to_sv};

/// The labels of a GLMM's bootstrap columns: `sd_…`/`cor_…` per term, then the fixed effects.
pub fn glmm_parameter_names(design: &Design) -> Vec<String> {
    let mut names = sv_names(design);
    names.pop();
    names.extend(design.x_names.iter().cloned());
    names
}

/// θ (lme4's layout) → the standard deviations and correlations of a GLMM's random effects
/// (σ = 1).
pub fn glmm_sd_cor(design: &Design, theta: &[f64]) -> Vec<f64> {
    let mut sv = theta_to_sv(design, theta, 1.0);
    sv.pop();
    sv
}

/// Run `nsim` bootstrap replicates of a GLMM in parallel.
///
/// `init` makes one worker's state (built once per worker); `replicate(state, rng)` simulates
/// a response from `rng` (the replicate's own stream), refits, and returns `(θ, β)` of the
/// refit, or `None` when the refit failed. `threads = None` uses rayon's default pool, `Some(t)`
/// a pool of `t` threads. A progress bar is drawn on stderr when stderr is a terminal.
///
/// # Errors
/// [`InferenceError::Mismatch`] for `nsim = 0`; [`InferenceError::Numerical`] when the thread
/// pool cannot be built.
pub fn glmm_bootstrap<S, I, F>(
    design: &Design,
    nsim: usize,
    seed: u64,
    threads: Option<usize>,
    init: I,
    replicate: F,
) -> Result<BootstrapResult, InferenceError>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, &mut SplitMix64) -> Option<(Vec<f64>, Vec<f64>)> + Sync + Send,
{
    if nsim == 0 {
        return Err(InferenceError::Mismatch(
            "the bootstrap needs at least one simulation; hint: use e.g. nsim = 1000".into(),
        ));
    }
    let names = glmm_parameter_names(design);
    let width = names.len();
    let (replicates, failed) =
        crate::bootstrap::run_replicates(nsim, threads, init, |state, i| {
            let mut rng = SplitMix64::for_stream(seed, i as u64);
            replicate(state, &mut rng).and_then(|(theta, beta)| {
                let mut row = glmm_sd_cor(design, &theta);
                row.extend(beta);
                (row.len() == width && row.iter().all(|v| v.is_finite())).then_some(row)
            })
        })?;
    Ok(BootstrapResult {
        failed,
        replicates,
        names,
    })
}
