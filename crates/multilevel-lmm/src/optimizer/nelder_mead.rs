//! The Nelder–Mead downhill simplex, restarted from the best point.

use super::{
    Evaluator, Observer, Optimizer, OptimizerError, OptimizerOutcome, Problem, Termination,
    check_bounds,
};

/// Nelder–Mead with reflection (−1), expansion (−2), outside (−½) and inside (½)
/// contraction along the line from the worst vertex through the centroid of the others, and
/// shrinking towards the best vertex.
///
/// A run starts from the simplex `x0, x0 + hᵢeᵢ` (`hᵢ` = [`NelderMead::steps`]`[i]`, or
/// [`NelderMead::default_step`] when absent; 10⁻³ when it is 0) and stops when the spread of
/// the values `f_worst − f_best ≤ 10⁻³ · ftol · (1 + |f_best|)`. It is then restarted from
/// the best point with steps a tenth as large until a restart improves the minimum by at most
/// `ftol` (convergence), after [`NelderMead::max_restarts`] restarts, or when
/// [`NelderMead::max_evals`] evaluations were made.
///
/// Bounds: every new vertex is projected onto the box (each coordinate clamped to its
/// bounds), and an initial step that the projection would cancel is taken the other way; with
/// infinite bounds the projection is the identity and the method is the plain unconstrained
/// one.
#[derive(Debug, Clone, PartialEq)]
pub struct NelderMead {
    /// Initial step of each coordinate.
    pub steps: Vec<f64>,
    /// Initial step of a coordinate beyond `steps`.
    pub default_step: f64,
    /// Improvement of a restart at or below which the search has converged (absolute).
    pub ftol: f64,
    /// Evaluation budget (counted as the method's own moves: a restart's new simplex counts
    /// `n` evaluations).
    pub max_evals: usize,
    /// Restarts after the first run (the first run included, at most `max_restarts + 1`
    /// runs).
    pub max_restarts: usize,
}

impl Default for NelderMead {
    /// Steps 0.1, `ftol` 10⁻¹², 20 000 evaluations, 7 restarts.
    fn default() -> Self {
        NelderMead {
            steps: Vec::new(),
            default_step: 0.1,
            ftol: 1e-12,
            max_evals: 20_000,
            max_restarts: 7,
        }
    }
}

impl NelderMead {
    /// The default method with initial steps `steps`, tolerance `ftol` and budget
    /// `max_evals`.
    pub fn new(steps: Vec<f64>, ftol: f64, max_evals: usize) -> Self {
        NelderMead {
            steps,
            ftol,
            max_evals,
            ..NelderMead::default()
        }
    }
}

impl Optimizer for NelderMead {
    fn name(&self) -> &str {
        "nelder-mead"
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
        let project = |p: &mut [f64]| {
            for ((v, &lo), &hi) in p.iter_mut().zip(lower).zip(upper) {
                // Written so that a NaN coordinate and infinite bounds leave `v` as it is.
                if *v < lo {
                    *v = lo;
                } else if *v > hi {
                    *v = hi;
                }
            }
        };
        let mut start = x0.to_vec();
        project(&mut start);
        let search = self.search(&mut |p| eval.value(p), &project, &start);
        Ok(eval.finish(
            search.best,
            search.fbest,
            search.moves,
            search.restarts,
            search.termination,
        ))
    }
}

/// Where a simplex search ended.
struct Search {
    best: Vec<f64>,
    fbest: f64,
    moves: usize,
    restarts: usize,
    termination: Termination,
}

impl NelderMead {
    fn search(
        &self,
        f: &mut dyn FnMut(&[f64]) -> f64,
        project: &dyn Fn(&mut [f64]),
        x0: &[f64],
    ) -> Search {
        let ftol = self.ftol;
        let max_evals = self.max_evals;
        let m = x0.len();
        let mut best = x0.to_vec();
        let mut fbest = f(&best);
        let mut moves = 0;
        if m == 0 {
            return Search {
                best,
                fbest,
                moves,
                restarts: 0,
                termination: Termination::converged("no parameters to optimise"),
            };
        }
        let mut evals = 1;
        let mut restarts = 0;
        let mut termination = Termination::stopped("maximum number of restarts reached");
        for restart in 0..=self.max_restarts {
            restarts = restart;
            let scale = if restart == 0 { 1.0 } else { 0.1 };
            let mut pts: Vec<Vec<f64>> = vec![best.clone()];
            for i in 0..m {
                let mut p = best.clone();
                let h = self.steps.get(i).copied().unwrap_or(self.default_step) * scale;
                let h = if h == 0.0 { 1e-3 } else { h };
                p[i] += h;
                project(&mut p);
                if p[i] == best[i] {
                    p[i] -= h;
                    project(&mut p);
                }
                pts.push(p);
            }
            // The first vertex is the best point again: its value is re-evaluated (the
            // problem may carry a warm start) and then replaced by the recorded minimum.
            let mut fv: Vec<f64> = pts.iter().map(|p| f(p)).collect();
            evals += m;
            fv[0] = fbest;
            loop {
                let mut order: Vec<usize> = (0..=m).collect();
                order.sort_by(|&a, &b| fv[a].total_cmp(&fv[b]));
                pts = order.iter().map(|&i| pts[i].clone()).collect();
                fv = order.iter().map(|&i| fv[i]).collect();
                let spread = fv[m] - fv[0];
                if (spread.is_finite() && spread <= ftol * (1.0 + fv[0].abs()) * 1e-3)
                    || evals >= max_evals
                {
                    break;
                }
                moves += 1;
                let centroid: Vec<f64> = (0..m)
                    .map(|j| pts[..m].iter().map(|p| p[j]).sum::<f64>() / m as f64)
                    .collect();
                let along = |t: f64| -> Vec<f64> {
                    let mut x: Vec<f64> = (0..m)
                        .map(|j| centroid[j] + t * (pts[m][j] - centroid[j]))
                        .collect();
                    project(&mut x);
                    x
                };
                let xr = along(-1.0);
                let fr = f(&xr);
                evals += 1;
                if fr < fv[0] {
                    let xe = along(-2.0);
                    let fe = f(&xe);
                    evals += 1;
                    if fe < fr {
                        pts[m] = xe;
                        fv[m] = fe;
                    } else {
                        pts[m] = xr;
                        fv[m] = fr;
                    }
                } else if fr < fv[m - 1] {
                    pts[m] = xr;
                    fv[m] = fr;
                } else {
                    let (xc, fc) = if fr < fv[m] {
                        let x = along(-0.5);
                        let v = f(&x);
                        (x, v)
                    } else {
                        let x = along(0.5);
                        let v = f(&x);
                        (x, v)
                    };
                    evals += 1;
                    if fc < fv[m].min(fr) {
                        pts[m] = xc;
                        fv[m] = fc;
                    } else {
                        for i in 1..=m {
                            let mut p: Vec<f64> = (0..m)
                                .map(|j| pts[0][j] + 0.5 * (pts[i][j] - pts[0][j]))
                                .collect();
                            project(&mut p);
                            fv[i] = f(&p);
                            pts[i] = p;
                        }
                        evals += m;
                    }
                }
            }
            let improved = fbest - fv[0];
            if fv[0] < fbest {
                best = pts[0].clone();
                fbest = fv[0];
            }
            if improved.is_nan() {
                termination = Termination::stopped("no finite value of the objective found");
                break;
            }
            if improved <= ftol {
                termination = Termination::converged(
                    "a restart improved the minimum by at most the tolerance",
                );
                break;
            }
            if evals >= max_evals {
                termination = Termination::stopped("maximum number of evaluations reached");
                break;
            }
        }
        Search {
            best,
            fbest,
            moves,
            restarts,
            termination,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::FnProblem;
    use super::super::test_problems::Rosenbrock;
    use super::*;

    #[test]
    fn rosenbrock_with_and_without_bounds() {
        let free = NelderMead::default()
            .minimize(
                &mut Rosenbrock,
                &[-1.2, 1.0],
                &[f64::NEG_INFINITY; 2],
                &[f64::INFINITY; 2],
            )
            .unwrap();
        assert!(free.value < 1e-12, "{free:?}");
        assert!(free.x.iter().all(|v| (v - 1.0).abs() < 1e-5), "{free:?}");
        assert!(free.converged(), "{free:?}");
        assert_eq!(free.gradient_evaluations, 0);
        // x₀ ≤ 0.5: the minimum is on that bound at (0.5, 0.25) with value 0.25.
        let boxed = NelderMead::default()
            .minimize(&mut Rosenbrock, &[-1.2, 1.0], &[-2.0, -2.0], &[0.5, 2.0])
            .unwrap();
        assert!(boxed.x[0] <= 0.5, "{boxed:?}");
        assert!((boxed.x[0] - 0.5).abs() < 1e-5, "{boxed:?}");
        assert!((boxed.x[1] - 0.25).abs() < 1e-4, "{boxed:?}");
        assert!((boxed.value - 0.25).abs() < 1e-6, "{boxed:?}");
    }

    #[test]
    fn the_evaluation_sequence_is_the_documented_one() {
        // f(x) = (x − 3)²: the first run starts from the simplex {0, 0.5}, and each restart
        // re-evaluates its first vertex (the best point) before the new one.
        let mut xs = Vec::new();
        let mut f = FnProblem(|x: &[f64]| {
            xs.push(x[0]);
            (x[0] - 3.0).powi(2)
        });
        let out = NelderMead::new(vec![0.5], 1e-12, 20_000)
            .minimize(&mut f, &[0.0], &[f64::NEG_INFINITY], &[f64::INFINITY])
            .unwrap();
        assert_eq!(&xs[..3], &[0.0, 0.0, 0.5]);
        assert_eq!(out.evaluations, xs.len());
        assert!((out.x[0] - 3.0).abs() < 1e-6, "{out:?}");
        assert!(out.converged());
    }

    #[test]
    fn the_budget_stops_the_search() {
        let out = NelderMead::new(vec![0.1; 2], 1e-12, 30)
            .minimize(
                &mut Rosenbrock,
                &[-1.2, 1.0],
                &[f64::NEG_INFINITY; 2],
                &[f64::INFINITY; 2],
            )
            .unwrap();
        assert!(!out.converged());
        assert!(out.evaluations <= 30 + 3, "{out:?}");
    }

    /// The unconstrained search as it was written before it implemented [`Optimizer`]
    /// (kept to check that the arithmetic and the evaluation sequence did not change).
    fn reference_nelder_mead<F: FnMut(&[f64]) -> f64>(
        mut f: F,
        x0: &[f64],
        step: &[f64],
        ftol: f64,
        max_evals: usize,
    ) -> (Vec<f64>, f64) {
        let m = x0.len();
        let mut best = x0.to_vec();
        let mut fbest = f(&best);
        if m == 0 {
            return (best, fbest);
        }
        let mut evals = 1;
        for restart in 0..8 {
            let scale = if restart == 0 { 1.0 } else { 0.1 };
            let mut pts: Vec<Vec<f64>> = vec![best.clone()];
            for i in 0..m {
                let mut p = best.clone();
                let h = step.get(i).copied().unwrap_or(0.1) * scale;
                p[i] += if h == 0.0 { 1e-3 } else { h };
                pts.push(p);
            }
            let mut fv: Vec<f64> = pts.iter().map(|p| f(p)).collect();
            evals += m;
            fv[0] = fbest;
            loop {
                let mut order: Vec<usize> = (0..=m).collect();
                order.sort_by(|&a, &b| fv[a].total_cmp(&fv[b]));
                pts = order.iter().map(|&i| pts[i].clone()).collect();
                fv = order.iter().map(|&i| fv[i]).collect();
                let spread = fv[m] - fv[0];
                if (spread.is_finite() && spread <= ftol * (1.0 + fv[0].abs()) * 1e-3)
                    || evals >= max_evals
                {
                    break;
                }
                let centroid: Vec<f64> = (0..m)
                    .map(|j| pts[..m].iter().map(|p| p[j]).sum::<f64>() / m as f64)
                    .collect();
                let along = |t: f64| -> Vec<f64> {
                    (0..m)
                        .map(|j| centroid[j] + t * (pts[m][j] - centroid[j]))
                        .collect()
                };
                let xr = along(-1.0);
                let fr = f(&xr);
                evals += 1;
                if fr < fv[0] {
                    let xe = along(-2.0);
                    let fe = f(&xe);
                    evals += 1;
                    if fe < fr {
                        pts[m] = xe;
                        fv[m] = fe;
                    } else {
                        pts[m] = xr;
                        fv[m] = fr;
                    }
                } else if fr < fv[m - 1] {
                    pts[m] = xr;
                    fv[m] = fr;
                } else {
                    let (xc, fc) = if fr < fv[m] {
                        let x = along(-0.5);
                        let v = f(&x);
                        (x, v)
                    } else {
                        let x = along(0.5);
                        let v = f(&x);
                        (x, v)
                    };
                    evals += 1;
                    if fc < fv[m].min(fr) {
                        pts[m] = xc;
                        fv[m] = fc;
                    } else {
                        for i in 1..=m {
                            let p: Vec<f64> = (0..m)
                                .map(|j| pts[0][j] + 0.5 * (pts[i][j] - pts[0][j]))
                                .collect();
                            fv[i] = f(&p);
                            pts[i] = p;
                        }
                        evals += m;
                    }
                }
            }
            let improved = fbest - fv[0];
            if fv[0] < fbest {
                best = pts[0].clone();
                fbest = fv[0];
            }
            if improved.is_nan() || improved <= ftol || evals >= max_evals {
                break;
            }
        }
        (best, fbest)
    }

    #[test]
    fn unbounded_search_matches_the_reference_bit_for_bit() {
        type F = fn(&[f64]) -> f64;
        let problems: [(F, Vec<f64>, Vec<f64>, f64); 3] = [
            (
                |x| {
                    (0..x.len() - 1)
                        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
                        .sum()
                },
                vec![-1.2, 1.0, 0.3],
                vec![0.05; 3],
                1e-11,
            ),
            (
                |x| (x[0] - 0.3).abs().sqrt() + (x[1] + 2.0).powi(4) + x[0] * x[1],
                vec![1.0, 1.0],
                vec![0.5],
                1e-12,
            ),
            (
                |x| {
                    if x[0] < -0.5 {
                        f64::INFINITY
                    } else {
                        (x[0] - 1.0).powi(2)
                    }
                },
                vec![0.0],
                vec![],
                1e-12,
            ),
        ];
        for (f, x0, steps, ftol) in problems {
            let mut seen_old = Vec::new();
            let (x_old, f_old) = reference_nelder_mead(
                |x| {
                    seen_old.push(x.to_vec());
                    f(x)
                },
                &x0,
                &steps,
                ftol,
                20_000,
            );
            let mut seen_new = Vec::new();
            let n = x0.len();
            let out = NelderMead::new(steps.clone(), ftol, 20_000)
                .minimize(
                    &mut FnProblem(|x: &[f64]| {
                        seen_new.push(x.to_vec());
                        f(x)
                    }),
                    &x0,
                    &vec![f64::NEG_INFINITY; n],
                    &vec![f64::INFINITY; n],
                )
                .unwrap();
            assert_eq!(out.x, x_old);
            assert_eq!(out.value.to_bits(), f_old.to_bits());
            assert_eq!(seen_new, seen_old);
            assert_eq!(out.evaluations, seen_old.len());
        }
    }
}
