//! Powell's BOBYQA (the pure-Rust `bobyqa` crate, a PRIMA port) with restarts.

use super::{
    Evaluator, Observer, Optimizer, OptimizerError, OptimizerOutcome, Problem, Termination,
    check_bounds,
};

/// Powell's derivative-free bounded trust-region method, restarted from the best point with
/// a fresh interpolation set while a run still improves the objective.
///
/// The defaults are lme4's (`rho_begin` 0.2, `rho_end` 2e-7, at most `max(10⁴, 1000·n)`
/// evaluations per run) plus up to four restarts when there are eight or more parameters,
/// where a single BOBYQA run was seen to stop early on the flat ridges of a profiled deviance
/// (e.g. the suite's kb07 maximal model).
#[derive(Debug, Clone, PartialEq)]
pub struct Bobyqa {
    /// Initial trust-region radius.
    pub rho_begin: f64,
    /// Final trust-region radius (capped at the initial radius of each run).
    pub rho_end: f64,
    /// Maximum number of evaluations per run; `None` for `max(10⁴, 1000·n)`.
    pub max_fun: Option<usize>,
    /// Absolute tolerance on the change of the objective over one trust-region stage.
    pub ftol_abs: Option<f64>,
    /// Restarts from the best point with a fresh interpolation set (initial radius
    /// `restart_rho_begin`) while a run still improves the objective by more than
    /// `restart_tol · max(1, |f|)`; `None` for four with eight or more parameters, none
    /// otherwise. A one-parameter problem is never restarted.
    pub max_restarts: Option<usize>,
    /// Initial trust-region radius of a restart.
    pub restart_rho_begin: f64,
    /// Relative improvement below which no further restart is made.
    pub restart_tol: f64,
}

impl Default for Bobyqa {
    fn default() -> Self {
        Bobyqa {
            rho_begin: 0.2,
            rho_end: 2e-7,
            max_fun: None,
            ftol_abs: None,
            max_restarts: None,
            restart_rho_begin: 0.05,
            restart_tol: 1e-8,
        }
    }
}

impl Bobyqa {
    /// The default method with trust-region radii `rho_begin` and `rho_end`.
    pub fn with_radii(rho_begin: f64, rho_end: f64) -> Self {
        Bobyqa {
            rho_begin,
            rho_end,
            ..Bobyqa::default()
        }
    }
}

/// Whether a `bobyqa` status is a convergence (rather than a budget or a failure).
fn is_converged(status: ::bobyqa::Status) -> bool {
    matches!(
        status,
        ::bobyqa::Status::Converged
            | ::bobyqa::Status::FtolReached
            | ::bobyqa::Status::TargetReached
    )
}

impl Optimizer for Bobyqa {
    fn name(&self) -> &str {
        "bobyqa"
    }

    fn minimize_observed(
        &self,
        problem: &mut dyn Problem,
        x0: &[f64],
        lower: &[f64],
        upper: &[f64],
        observer: &mut dyn Observer,
    ) -> Result<OptimizerOutcome, OptimizerError> {
        check_bounds(x0, lower, upper)?;
        let mut eval = Evaluator::new(problem, observer);
        let n = x0.len();
        let max_fun = self.max_fun.unwrap_or((1000 * n).max(10_000));
        let max_restarts = self.max_restarts.unwrap_or(if n >= 8 { 4 } else { 0 });
        let mut x = x0.to_vec();
        let mut best = f64::INFINITY;
        let mut rho_begin = self.rho_begin;
        let mut status = ::bobyqa::Status::Converged;
        let mut runs = 0;
        for _ in 0..=max_restarts {
            let mut config = ::bobyqa::Config::new(n);
            config.rho_begin = rho_begin;
            config.rho_end = self.rho_end.min(rho_begin);
            config.max_fun = max_fun.max(config.npt + 1);
            config.ftol_abs = self.ftol_abs;
            let mut solver = ::bobyqa::Bobyqa::new(n, config)
                .map_err(|s| OptimizerError::Setup(format!("bobyqa setup: {s}")))?;
            let mut trial = x.clone();
            let outcome = solver.minimize(|t: &[f64]| eval.value(t), &mut trial, lower, upper);
            runs += 1;
            let improvement = best - outcome.f;
            if outcome.f < best {
                best = outcome.f;
                x = trial;
                status = outcome.status;
            }
            let worth_another = improvement > self.restart_tol * best.abs().max(1.0);
            if !worth_another || n == 1 {
                break;
            }
            rho_begin = self.restart_rho_begin;
        }
        let termination = if is_converged(status) {
            Termination::converged(status.to_string())
        } else {
            Termination::stopped(status.to_string())
        };
        Ok(eval.finish(x, best, runs, runs - 1, termination))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::test_problems::Rosenbrock;
    use super::*;

    #[test]
    fn rosenbrock_with_and_without_bounds() {
        let free = Bobyqa::default()
            .minimize(
                &mut Rosenbrock,
                &[-1.2, 1.0],
                &[f64::NEG_INFINITY; 2],
                &[f64::INFINITY; 2],
            )
            .unwrap();
        assert!(free.value < 1e-10, "{free:?}");
        assert!(free.x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{free:?}");
        assert!(free.converged());
        assert_eq!(free.gradient_evaluations, 0);
        assert_eq!(free.restarts, 0);
        // x₀ ≤ 0.5: the minimum is on that bound at (0.5, 0.25) with value 0.25.
        let boxed = Bobyqa::default()
            .minimize(&mut Rosenbrock, &[-1.2, 1.0], &[-2.0, -2.0], &[0.5, 2.0])
            .unwrap();
        assert!((boxed.x[0] - 0.5).abs() < 1e-8, "{boxed:?}");
        assert!((boxed.x[1] - 0.25).abs() < 1e-5, "{boxed:?}");
        assert!((boxed.value - 0.25).abs() < 1e-9, "{boxed:?}");
    }

    #[test]
    fn many_parameters_get_restarts_and_the_counts_add_up() {
        // Eight parameters: restarts are on by default; each run is counted.
        let n = 8;
        let mut calls = 0usize;
        let mut f = super::super::FnProblem(|x: &[f64]| {
            calls += 1;
            x.iter()
                .enumerate()
                .map(|(i, v)| (i as f64 + 1.0) * (v - 0.1 * i as f64).powi(2))
                .sum::<f64>()
        });
        let out = Bobyqa::default()
            .minimize(&mut f, &vec![1.0; n], &vec![-5.0; n], &vec![5.0; n])
            .unwrap();
        assert_eq!(out.evaluations, calls);
        assert_eq!(out.iterations, out.restarts + 1);
        assert!(out.restarts <= 4);
        assert!(out.value < 1e-10, "{out:?}");
    }
}
