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
    status: Option<bobyqa::Status>,
}

impl Bobyqa {
    /// A solver for θ with the given bounds and lme4-like settings
    /// (`rho_begin` 0.2, `rho_end` 2e-7, at most `max(10⁴, 1000·n)` evaluations).
    pub fn new(lower: Vec<f64>, upper: Vec<f64>) -> Self {
        let n = lower.len();
        Bobyqa {
            lower,
            upper,
            rho_begin: 0.2,
            rho_end: 2e-7,
            max_fun: (1000 * n).max(10_000),
            ftol_abs: None,
            status: None,
        }
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
        let mut config = bobyqa::Config::new(n);
        config.rho_begin = self.rho_begin;
        config.rho_end = self.rho_end;
        config.max_fun = self.max_fun.max(config.npt + 1);
        config.ftol_abs = self.ftol_abs;
        let mut solver = bobyqa::Bobyqa::new(n, config)
            .map_err(|s| argmin::core::Error::msg(format!("bobyqa setup: {s}")))?;
        let mut buf = vec![0.0; n];
        let mut failure: Option<Error> = None;
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
            &mut x,
            &self.lower,
            &self.upper,
        );
        if let Some(e) = failure {
            return Err(e);
        }
        self.status = Some(outcome.status);
        Ok((state.param(x).cost(outcome.f), None))
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
