//! The penalized least-squares step of PIRLS behind one seam.
//!
//! With `A = ZΛ(θ)`, working weights `W` and working response `z`, one PIRLS step solves
//!
//! ```text
//! [A'WA + I   A'WX] [u]   [A'Wz]
//! [X'WA       X'WX] [β] = [X'Wz]
//! ```
//!
//! (without the β rows when β is fixed, lme4's second stage) through the Cholesky factor `L`
//! of the whole matrix, and reports the conditional modes u, β and `log|L|²` of the
//! random-effects rows (lme4's `ldL2`). [`PenalizedSolver`] is that step; the implementation is
//! chosen once per model and stage ([`choose`]) by the shapes of the random-effects terms:
//!
//! | solver | when | factor |
//! |---|---|---|
//! | [`DiagonalPls`] | one scalar term, β fixed | `A'WA + I` is diagonal: one division per level |
//! | [`ScalarPls`] | every term scalar, the dense block at most [`crate::scalar_pls::MAX_DENSE`] rows | diagonal first term, dense Schur complement by the LMM's small-block Cholesky kernel |
//! | [`BlockedPls`] | anything else | the LMM engine's blocked factor (`ProfiledDeviance` with the working weights and response) |
//!
//! All three give the numbers of the blocked factor (same pivots, same ordering); the first two
//! avoid forming the LMM's general cross products at every step.

use faer::Mat;
use multilevel_design::Design;
use multilevel_lmm::ProfiledDeviance;

use crate::scalar_pls::ScalarPls;

/// What one penalized least-squares step returns.
#[derive(Debug, Clone)]
pub(crate) struct PlsStep {
    /// Fixed effects (empty when β is fixed).
    pub beta: Vec<f64>,
    /// Spherical conditional modes per term (sorted term order).
    pub u: Vec<Vec<f64>>,
    /// `log|L|²` of the random-effects rows of the factor.
    pub ld_l2: f64,
}

/// One penalized weighted least-squares solve at θ (see the module documentation).
pub(crate) trait PenalizedSolver: Send + Sync {
    /// Set the weights `w` and Λ(θ), factor, and solve for (β, u) with working response `z`;
    /// `None` when the matrix is not positive definite.
    fn solve(&mut self, design: &Design, theta: &[f64], w: &[f64], z: &[f64]) -> Option<PlsStep>;

    /// The LMM engine's blocked solver, when this is it (its factor also gives the
    /// covariances at the optimum, [`BlockedPls::covariances`]).
    fn blocked(&mut self) -> Option<&mut BlockedPls> {
        None
    }
}

/// The solver for `design`, with the β rows (`with_x`) or for u alone.
pub(crate) fn choose(design: &Design, with_x: bool) -> Box<dyn PenalizedSolver> {
    if !with_x && DiagonalPls::applies(design) {
        Box::new(DiagonalPls)
    } else if let Some(s) = ScalarPls::new(design, with_x) {
        Box::new(s)
    } else {
        Box::new(BlockedPls::new(design, with_x))
    }
}

/// One scalar term with β fixed: `A'WA + I` is diagonal, per level
/// `L² = θ² Σᵢ wᵢzᵢ² + 1` and `u = θ Σᵢ wᵢzᵢ·workᵢ / L²` (`zᵢ` the term's column).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiagonalPls;

impl DiagonalPls {
    /// Whether the model has exactly one random-effects term and it is scalar.
    pub(crate) fn applies(design: &Design) -> bool {
        design.terms.len() == 1 && design.terms[0].k == 1
    }
}

impl PenalizedSolver for DiagonalPls {
    fn solve(&mut self, design: &Design, theta: &[f64], w: &[f64], z: &[f64]) -> Option<PlsStep> {
        let t = design.terms.first()?;
        let th = theta.first().copied().unwrap_or(0.0);
        let nl = t.nlevels();
        let mut a = vec![0.0; nl];
        let mut r = vec![0.0; nl];
        for (((&l, &zt), &wi), &zi) in t.refs.iter().zip(&t.z).zip(w).zip(z) {
            let l = l as usize;
            let wz = wi * zt;
            a[l] += wz * zt;
            r[l] += wz * zi;
        }
        let mut ld = 0.0;
        let u = a
            .iter()
            .zip(&r)
            .map(|(a, r)| {
                let l2 = th * th * a + 1.0;
                ld += l2.ln();
                th * r / l2
            })
            .collect();
        Some(PlsStep {
            beta: Vec::new(),
            u: vec![u],
            ld_l2: ld,
        })
    }
}

/// The LMM engine's blocked factor with the working weights and response: the cross products
/// of `[ZΛ X z]` are formed at every step (general terms of any size).
pub(crate) struct BlockedPls {
    dev: ProfiledDeviance,
    /// The design without the fixed effects (β fixed), or `None` (β estimated: the model's).
    design0: Option<Design>,
}

impl BlockedPls {
    /// Prepare for `design`, with the β rows or for u alone.
    pub(crate) fn new(design: &Design, with_x: bool) -> Self {
        if with_x {
            BlockedPls {
                dev: ProfiledDeviance::new(design, false),
                design0: None,
            }
        } else {
            let mut d0 = design.clone();
            d0.x = Mat::zeros(design.nobs(), 0);
            d0.x_names.clear();
            d0.x_assign.clear();
            d0.weights = None;
            d0.offset = None;
            BlockedPls {
                dev: ProfiledDeviance::new(&d0, false),
                design0: Some(d0),
            }
        }
    }

    /// Factor at θ with weights `w` and response `z` (β rows included): `(R_X'R_X)⁻¹` and the
    /// diagonal blocks of `(L L')⁻¹` per term, the covariances of β and of u at the optimum.
    pub(crate) fn covariances(
        &mut self,
        design: &Design,
        theta: &[f64],
        w: &[f64],
        z: &[f64],
    ) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
        let d = self.design0.as_ref().unwrap_or(design);
        self.dev.update(d, Some(w), z, None);
        self.dev.factor_summary(theta)?;
        Some((self.dev.rx_inverse(), self.dev.inverse_diag_blocks()))
    }
}

impl PenalizedSolver for BlockedPls {
    fn solve(&mut self, design: &Design, theta: &[f64], w: &[f64], z: &[f64]) -> Option<PlsStep> {
        let d = self.design0.as_ref().unwrap_or(design);
        self.dev.update(d, Some(w), z, None);
        let summary = self.dev.factor_summary(theta)?;
        let (beta, u) = self.dev.solve();
        Some(PlsStep {
            beta,
            u,
            ld_l2: summary.ld_l2,
        })
    }

    fn blocked(&mut self) -> Option<&mut BlockedPls> {
        Some(self)
    }
}

/// `x ← L⁻¹x` for the row-major lower-triangular `m × m` factor `l`: row `i` subtracts
/// `L[i, j] x[j]` in increasing `j`, then divides by `L[i, i]`.
pub(crate) fn solve_lower_in_place(l: &[f64], m: usize, x: &mut [f64]) {
    for i in 0..m {
        let row = &l[i * m..i * m + i];
        let mut acc = x[i];
        for (a, b) in row.iter().zip(&x[..i]) {
            acc -= a * b;
        }
        x[i] = acc / l[i * m + i];
    }
}

/// `x ← L⁻ᵀx` for the row-major lower-triangular `m × m` factor `l`: from the last row up,
/// row `i` subtracts `L[k, i] x[k]` in increasing `k > i`, then divides by `L[i, i]`.
pub(crate) fn solve_upper_t_in_place(l: &[f64], m: usize, x: &mut [f64]) {
    for i in (0..m).rev() {
        let mut acc = x[i];
        for (k, xk) in x.iter().enumerate().take(m).skip(i + 1) {
            acc -= l[k * m + i] * xk;
        }
        x[i] = acc / l[i * m + i];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use multilevel_lmm::kernels::cholesky_in_place;

    #[test]
    fn the_triangular_solves_invert_the_factor() {
        // S = B B' + I for a fixed B, then S x = b solved through L L'.
        let m = 5;
        let b: Vec<f64> = (0..m * m)
            .map(|i| ((i * 7) % 11) as f64 / 11.0 - 0.4)
            .collect();
        let mut s = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                let mut acc = if i == j { 1.0 } else { 0.0 };
                for k in 0..m {
                    acc += b[i * m + k] * b[j * m + k];
                }
                s[i * m + j] = acc;
            }
        }
        let rhs: Vec<f64> = (0..m).map(|i| i as f64 - 1.5).collect();
        let mut l = s.clone();
        assert!(cholesky_in_place(&mut l, m, |_| {}));
        let mut x = rhs.clone();
        solve_lower_in_place(&l, m, &mut x);
        solve_upper_t_in_place(&l, m, &mut x);
        for i in 0..m {
            let back: f64 = (0..m).map(|j| s[i * m + j] * x[j]).sum();
            assert!(
                (back - rhs[i]).abs() < 1e-12,
                "row {i}: {back} vs {}",
                rhs[i]
            );
        }
    }
}
