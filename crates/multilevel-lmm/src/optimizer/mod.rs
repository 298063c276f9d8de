//! Minimisers over a box: one [`Optimizer`] trait that every method implements, one
//! [`Problem`] trait for the function being minimised.
//!
//! A caller writes its objective once as a [`Problem`] (the value, and the gradient when it
//! has one) and runs whichever method it wants through the same call,
//!
//! ```text
//! let outcome = optimizer.minimize(&mut problem, &x0, &lower, &upper)?;
//! ```
//!
//! so swapping the method is one line. Every method evaluates the problem through an
//! [`Evaluator`], which counts value and gradient evaluations and reports each one to an
//! optional [`Observer`]; the [`OptimizerOutcome`] carries the minimiser, the minimum, those
//! counts, and why the method stopped ([`Termination`]).
//!
//! The methods:
//! - [`Bobyqa`]: Powell's derivative-free bounded trust-region method (the `bobyqa` crate),
//!   with restarts from the best point on problems with many parameters;
//! - [`ProjectedLbfgs`]: a projected limited-memory BFGS method for box bounds (needs the
//!   gradient);
//! - [`NelderMead`]: the downhill simplex, restarted until a restart no longer improves.
//!
//! [`central_derivatives`] gives the finite-difference gradient and Hessian used to check an
//! optimum.

mod bobyqa;
mod derivatives;
mod lbfgsb;
mod nelder_mead;

pub use self::bobyqa::Bobyqa;
pub use derivatives::central_derivatives;
pub use lbfgsb::{LbfgsStatus, ProjectedLbfgs};
pub use nelder_mead::NelderMead;

/// A function to minimise: its value and, when [`Problem::has_gradient`] is true, its
/// gradient.
///
/// A point where the function cannot be evaluated has the value `+∞` (a method never accepts
/// it as an improvement).
pub trait Problem {
    /// `f(x)`.
    fn value(&mut self, x: &[f64]) -> f64;

    /// Whether [`Problem::value_and_gradient`] gives the gradient (default: no).
    fn has_gradient(&self) -> bool {
        false
    }

    /// `f(x)`, with `∇f(x)` written into `gradient` (of the length of `x`). Only called when
    /// [`Problem::has_gradient`] is true; the default writes NaN and returns `f(x)`.
    fn value_and_gradient(&mut self, x: &[f64], gradient: &mut [f64]) -> f64 {
        gradient.iter_mut().for_each(|g| *g = f64::NAN);
        self.value(x)
    }
}

/// A [`Problem`] from a closure `x ↦ f(x)` (no gradient).
pub struct FnProblem<F>(pub F);

impl<F: FnMut(&[f64]) -> f64> Problem for FnProblem<F> {
    fn value(&mut self, x: &[f64]) -> f64 {
        (self.0)(x)
    }
}

/// What an [`Observer`] sees after each evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Value-only evaluations so far (this one included when it was one).
    pub evaluations: usize,
    /// Value-and-gradient evaluations so far (this one included when it was one).
    pub gradient_evaluations: usize,
    /// The point just evaluated.
    pub x: &'a [f64],
    /// The value there.
    pub value: f64,
    /// The gradient there, for a value-and-gradient evaluation.
    pub gradient: Option<&'a [f64]>,
    /// The smallest value seen so far.
    pub best: f64,
}

/// A progress hook: called after every evaluation a method makes.
pub trait Observer {
    /// One evaluation was made.
    fn observe(&mut self, progress: &Progress<'_>);
}

/// The observer that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&mut self, _progress: &Progress<'_>) {}
}

/// An observer from a closure.
pub struct FnObserver<F>(pub F);

impl<F: FnMut(&Progress<'_>)> Observer for FnObserver<F> {
    fn observe(&mut self, progress: &Progress<'_>) {
        (self.0)(progress)
    }
}

/// Why a method stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// The method's own convergence test passed (as opposed to a budget running out or a
    /// failed step).
    pub converged: bool,
    /// The method's description of why it stopped.
    pub reason: String,
}

impl Termination {
    /// A stop on the method's convergence test.
    pub fn converged(reason: impl Into<String>) -> Self {
        Termination {
            converged: true,
            reason: reason.into(),
        }
    }

    /// A stop short of convergence.
    pub fn stopped(reason: impl Into<String>) -> Self {
        Termination {
            converged: false,
            reason: reason.into(),
        }
    }
}

/// The result of a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerOutcome {
    /// The best point found.
    pub x: Vec<f64>,
    /// The value at `x`.
    pub value: f64,
    /// Value-only evaluations made.
    pub evaluations: usize,
    /// Value-and-gradient evaluations made.
    pub gradient_evaluations: usize,
    /// Iterations of the method (quasi-Newton steps, simplex moves, or BOBYQA runs).
    pub iterations: usize,
    /// Restarts made after the first run.
    pub restarts: usize,
    /// Why the method stopped.
    pub termination: Termination,
}

impl OptimizerOutcome {
    /// Whether the method stopped on its convergence test.
    pub fn converged(&self) -> bool {
        self.termination.converged
    }

    /// The one-line message of a fit report: `Solver converged`, or the reason the method
    /// stopped short.
    pub fn message(&self) -> String {
        if self.termination.converged {
            "Solver converged".to_string()
        } else {
            self.termination.reason.clone()
        }
    }
}

/// Errors of a minimisation (not of the problem: a point that cannot be evaluated has the
/// value `+∞`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimizerError {
    /// The starting point and the bounds differ in length.
    #[error("the starting point has {n} parameters but the bounds have {lower} and {upper}")]
    Dimension {
        /// Parameters in the starting point.
        n: usize,
        /// Length of the lower bounds.
        lower: usize,
        /// Length of the upper bounds.
        upper: usize,
    },
    /// A lower bound above its upper bound, or a NaN bound.
    #[error("bound {index} is empty or NaN: [{lower}, {upper}]")]
    Bounds {
        /// Index of the parameter.
        index: usize,
        /// Its lower bound.
        lower: f64,
        /// Its upper bound.
        upper: f64,
    },
    /// The method needs the gradient and the problem has none.
    #[error("{0} needs the gradient of the objective, which this problem does not provide")]
    NoGradient(String),
    /// The objective or its gradient is not finite at the starting point.
    #[error("the objective or its gradient is not finite at the starting point")]
    NonFiniteStart,
    /// The method could not be set up (e.g. its workspace could not be allocated).
    #[error("{0}")]
    Setup(String),
}

/// Check that `x0`, `lower` and `upper` have one length and that every `lower ≤ upper`.
///
/// # Errors
/// [`OptimizerError::Dimension`], [`OptimizerError::Bounds`].
pub fn check_bounds(x0: &[f64], lower: &[f64], upper: &[f64]) -> Result<(), OptimizerError> {
    if lower.len() != x0.len() || upper.len() != x0.len() {
        return Err(OptimizerError::Dimension {
            n: x0.len(),
            lower: lower.len(),
            upper: upper.len(),
        });
    }
    for (index, (&lo, &hi)) in lower.iter().zip(upper).enumerate() {
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Err(OptimizerError::Bounds {
                index,
                lower: lo,
                upper: hi,
            });
        }
    }
    Ok(())
}

/// A minimisation method over a box `lower ≤ x ≤ upper` (±∞ for no bound).
pub trait Optimizer {
    /// The method's name as reported in a fit (`bobyqa`, `lbfgsb`, `nelder-mead`).
    fn name(&self) -> &str;

    /// Whether the method needs [`Problem::value_and_gradient`].
    fn uses_gradient(&self) -> bool {
        false
    }

    /// Minimise `problem` from `x0`, reporting every evaluation to `observer`.
    ///
    /// # Errors
    /// [`OptimizerError`] when the arguments are inconsistent or the method cannot start.
    fn minimize_observed(
        &self,
        problem: &mut dyn Problem,
        x0: &[f64],
        lower: &[f64],
        upper: &[f64],
        observer: &mut dyn Observer,
    ) -> Result<OptimizerOutcome, OptimizerError>;

    /// Minimise `problem` from `x0`.
    ///
    /// # Errors
    /// As [`Optimizer::minimize_observed`].
    fn minimize(
        &self,
        problem: &mut dyn Problem,
        x0: &[f64],
        lower: &[f64],
        upper: &[f64],
    ) -> Result<OptimizerOutcome, OptimizerError> {
        self.minimize_observed(problem, x0, lower, upper, &mut NoObserver)
    }
}

/// The problem as a method sees it: every evaluation is counted and reported to the observer.
/// Implementations of [`Optimizer`] evaluate through it and build their outcome with
/// [`Evaluator::finish`].
pub struct Evaluator<'a> {
    problem: &'a mut dyn Problem,
    observer: &'a mut dyn Observer,
    evaluations: usize,
    gradient_evaluations: usize,
    best: f64,
}

impl<'a> Evaluator<'a> {
    /// Wrap a problem and an observer.
    pub fn new(problem: &'a mut dyn Problem, observer: &'a mut dyn Observer) -> Self {
        Evaluator {
            problem,
            observer,
            evaluations: 0,
            gradient_evaluations: 0,
            best: f64::INFINITY,
        }
    }

    /// Whether the problem gives its gradient.
    pub fn has_gradient(&self) -> bool {
        self.problem.has_gradient()
    }

    /// `f(x)`.
    pub fn value(&mut self, x: &[f64]) -> f64 {
        let value = self.problem.value(x);
        self.evaluations += 1;
        self.record(x, value, None);
        value
    }

    /// `f(x)` and `∇f(x)` (into `gradient`).
    pub fn value_and_gradient(&mut self, x: &[f64], gradient: &mut [f64]) -> f64 {
        let value = self.problem.value_and_gradient(x, gradient);
        self.gradient_evaluations += 1;
        self.record(x, value, Some(gradient));
        value
    }

    /// Keeps the best value and tells the observer about an evaluation just counted.
    fn record(&mut self, x: &[f64], value: f64, gradient: Option<&[f64]>) {
        if value < self.best {
            self.best = value;
        }
        self.observer.observe(&Progress {
            evaluations: self.evaluations,
            gradient_evaluations: self.gradient_evaluations,
            x,
            value,
            gradient,
            best: self.best,
        });
    }

    /// Value-only evaluations so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// Value-and-gradient evaluations so far.
    pub fn gradient_evaluations(&self) -> usize {
        self.gradient_evaluations
    }

    /// The outcome of a run that ended at `x` with value `value`.
    pub fn finish(
        self,
        x: Vec<f64>,
        value: f64,
        iterations: usize,
        restarts: usize,
        termination: Termination,
    ) -> OptimizerOutcome {
        OptimizerOutcome {
            x,
            value,
            evaluations: self.evaluations,
            gradient_evaluations: self.gradient_evaluations,
            iterations,
            restarts,
            termination,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod test_problems {
    //! Small problems with known minima, shared by the tests of every method.
    use super::Problem;

    /// Rosenbrock's function `Σ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²` with its gradient; minimum 0
    /// at `(1, …, 1)`.
    pub struct Rosenbrock;

    impl Problem for Rosenbrock {
        fn value(&mut self, x: &[f64]) -> f64 {
            (0..x.len() - 1)
                .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
                .sum()
        }

        fn has_gradient(&self) -> bool {
            true
        }

        fn value_and_gradient(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
            let n = x.len();
            g.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..n - 1 {
                let t = x[i + 1] - x[i] * x[i];
                g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
                g[i + 1] += 200.0 * t;
            }
            self.value(x)
        }
    }

    /// The quadratic `Σ cᵢ (xᵢ − aᵢ)²` with `a = (−1, 2, 0.5)`, `c = (1, 3, 0.5)`; on the box
    /// `[0, 1]³` its minimum is at `(0, 1, 0.5)` (the first two bounds active), value
    /// `1 + 3 = 4`.
    pub struct BoxQuadratic;

    /// Centre of [`BoxQuadratic`].
    pub const QUAD_CENTRE: [f64; 3] = [-1.0, 2.0, 0.5];
    /// Weights of [`BoxQuadratic`].
    pub const QUAD_WEIGHT: [f64; 3] = [1.0, 3.0, 0.5];

    impl Problem for BoxQuadratic {
        fn value(&mut self, x: &[f64]) -> f64 {
            (0..3)
                .map(|i| QUAD_WEIGHT[i] * (x[i] - QUAD_CENTRE[i]).powi(2))
                .sum()
        }

        fn has_gradient(&self) -> bool {
            true
        }

        fn value_and_gradient(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
            for i in 0..3 {
                g[i] = 2.0 * QUAD_WEIGHT[i] * (x[i] - QUAD_CENTRE[i]);
            }
            self.value(x)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::test_problems::*;
    use super::*;

    /// Every method through the same call: the swap is the `Box<dyn Optimizer>` alone.
    fn methods() -> Vec<Box<dyn Optimizer>> {
        vec![
            Box::new(Bobyqa::default()),
            Box::new(ProjectedLbfgs::default()),
            Box::new(NelderMead::default()),
        ]
    }

    #[test]
    fn every_method_finds_the_bound_active_minimum_of_a_quadratic() {
        for m in methods() {
            let out = m
                .minimize(&mut BoxQuadratic, &[0.5, 0.5, 0.9], &[0.0; 3], &[1.0; 3])
                .unwrap();
            let expect = [0.0, 1.0, 0.5];
            for (a, b) in out.x.iter().zip(&expect) {
                assert!((a - b).abs() < 1e-4, "{}: {:?}", m.name(), out.x);
            }
            assert!(
                (out.value - 4.0).abs() < 1e-6,
                "{}: {}",
                m.name(),
                out.value
            );
            assert!(out.x.iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", out.x);
            assert!(out.converged(), "{}: {:?}", m.name(), out.termination);
            assert!(out.evaluations + out.gradient_evaluations > 0);
            assert_eq!(out.gradient_evaluations > 0, m.uses_gradient());
        }
    }

    #[test]
    fn the_observer_sees_every_evaluation() {
        for m in methods() {
            let mut seen = 0usize;
            let mut best = f64::INFINITY;
            let gradient = m.uses_gradient();
            let out = {
                let mut obs = FnObserver(|p: &Progress<'_>| {
                    seen += 1;
                    best = best.min(p.value);
                    assert_eq!(p.best, best);
                    assert_eq!(p.gradient.is_some(), gradient);
                });
                m.minimize_observed(
                    &mut Rosenbrock,
                    &[-1.2, 1.0],
                    &[f64::NEG_INFINITY; 2],
                    &[f64::INFINITY; 2],
                    &mut obs,
                )
                .unwrap()
            };
            assert_eq!(
                seen,
                out.evaluations + out.gradient_evaluations,
                "{}",
                m.name()
            );
            assert!(best <= out.value, "{}", m.name());
        }
    }

    #[test]
    fn inconsistent_arguments_are_errors() {
        for m in methods() {
            assert!(matches!(
                m.minimize(&mut BoxQuadratic, &[0.0; 3], &[0.0; 2], &[1.0; 3]),
                Err(OptimizerError::Dimension { .. })
            ));
            assert!(matches!(
                m.minimize(&mut BoxQuadratic, &[0.0; 3], &[0.0, 2.0, 0.0], &[1.0; 3]),
                Err(OptimizerError::Bounds { index: 1, .. })
            ));
        }
        let mut f = FnProblem(|x: &[f64]| x[0] * x[0]);
        assert!(matches!(
            ProjectedLbfgs::default().minimize(&mut f, &[1.0], &[-1.0], &[1.0]),
            Err(OptimizerError::NoGradient(_))
        ));
    }
}
