//! Optimisers for θ behind argmin's [`Solver`] trait, so a fit can swap them in one line.
//!
//! [`Bobyqa`] runs Powell's derivative-free bounded trust-region method (the pure-Rust
//! `bobyqa` crate, a PRIMA port) as one argmin iteration. The objective is any argmin
//! [`CostFunction`] over `Vec<f64>`; bounds are lme4's (0 for diagonal elements of Λ, −∞
//! elsewhere).

use argmin::core::{
    CostFunction, Error, IterState, KV, Problem, Solver, State, TerminationReason,
    TerminationStatus,
};

/// The state argmin keeps for derivative-free solvers over θ.
pub type ThetaState = IterState<Vec<f64>, (), (), (), (), f64>;

/// BOBYQA as an argmin solver: one `next_iter` is a whole BOBYQA run.
#[derive(Debug, Clone)]
pub struct Bobyqa {
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// Initial trust-region radius.
    pub rho_begin: f64,
    /// Final trust-region radius.
    pub rho_end: f64,
    /// Maximum number of evaluations.
    pub max_fun: usize,
    /// Absolute tolerance on the change of the objective over one trust-region stage.
    pub ftol_abs: Option<f64>,
    /// Restarts from the best point with a fresh interpolation set (initial radius
    /// `restart_rho_begin`) while a run still improves the objective by more than
    /// `restart_tol · max(1, |f|)`. BOBYQA can stop early on the flat ridges of a profiled
    /// deviance; a restart is cheap insurance.
    pub max_restarts: usize,
    /// Initial trust-region radius of a restart.
    pub restart_rho_begin: f64,
    /// Relative improvement below which no further restart is made.
    pub restart_tol: f64,
    status: Option<bobyqa::Status>,
    restarts_done: usize,
}

impl Bobyqa {
    /// A solver for θ with the given bounds and lme4-like settings
    /// (`rho_begin` 0.2, `rho_end` 2e-7, at most `max(10⁴, 1000·n)` evaluations; up to four
    /// restarts when there are eight or more parameters, where a single BOBYQA run was seen
    /// to stop early, e.g. on the suite's kb07 maximal model).
    pub fn new(lower: Vec<f64>, upper: Vec<f64>) -> Self {
        let n = lower.len();
        Bobyqa {
            lower,
            upper,
            rho_begin: 0.2,
            rho_end: 2e-7,
            max_fun: (1000 * n).max(10_000),
            ftol_abs: None,
            max_restarts: if n >= 8 { 4 } else { 0 },
            restart_rho_begin: 0.05,
            restart_tol: 1e-8,
            status: None,
            restarts_done: 0,
        }
    }

    /// Restarts made in the last run.
    pub fn restarts(&self) -> usize {
        self.restarts_done
    }

    /// Why the last run stopped.
    pub fn status(&self) -> Option<bobyqa::Status> {
        self.status
    }
}

impl<O> Solver<O, ThetaState> for Bobyqa
where
    O: CostFunction<Param = Vec<f64>, Output = f64>,
{
    fn name(&self) -> &str {
        "bobyqa"
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        state: ThetaState,
    ) -> Result<(ThetaState, Option<KV>), Error> {
        let mut x = state
            .get_param()
            .cloned()
            .ok_or_else(|| argmin::core::Error::msg("bobyqa needs a starting θ"))?;
        let n = x.len();
        let mut buf = vec![0.0; n];
        let mut failure: Option<Error> = None;
        let mut best = f64::INFINITY;
        let mut rho_begin = self.rho_begin;
        let mut status = bobyqa::Status::Converged;
        self.restarts_done = 0;
        for round in 0..=self.max_restarts {
            let mut config = bobyqa::Config::new(n);
            config.rho_begin = rho_begin;
            config.rho_end = self.rho_end.min(rho_begin);
            config.max_fun = self.max_fun.max(config.npt + 1);
            config.ftol_abs = self.ftol_abs;
            let mut solver = bobyqa::Bobyqa::new(n, config)
                .map_err(|s| argmin::core::Error::msg(format!("bobyqa setup: {s}")))?;
            let mut trial = x.clone();
            let outcome = solver.minimize(
                |t: &[f64]| {
                    buf.copy_from_slice(t);
                    match problem.cost(&buf) {
                        Ok(v) => v,
                        Err(e) => {
                            failure.get_or_insert(e);
                            f64::INFINITY
                        }
                    }
                },
                &mut trial,
                &self.lower,
                &self.upper,
            );
            if let Some(e) = failure {
                return Err(e);
            }
            let improvement = best - outcome.f;
            if outcome.f < best {
                best = outcome.f;
                x = trial;
                status = outcome.status;
            }
            if round > 0 {
                self.restarts_done += 1;
            }
            let worth_another = improvement > self.restart_tol * best.abs().max(1.0);
            if !worth_another || n == 1 {
                break;
            }
            rho_begin = self.restart_rho_begin;
        }
        self.status = Some(status);
        Ok((state.param(x).cost(best), None))
    }

    fn terminate(&mut self, _state: &ThetaState) -> TerminationStatus {
        match self.status {
            None => TerminationStatus::NotTerminated,
            Some(bobyqa::Status::Converged)
            | Some(bobyqa::Status::FtolReached)
            | Some(bobyqa::Status::TargetReached) => {
                TerminationStatus::Terminated(TerminationReason::SolverConverged)
            }
            Some(s) => TerminationStatus::Terminated(TerminationReason::SolverExit(s.to_string())),
        }
    }
}
