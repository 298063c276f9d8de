//! The GLS criterion: −2 log-likelihood (ML) or −2 restricted log-likelihood (REML) of
//! `y ~ N(Xβ, σ² R(x))`, `R` block diagonal over the subjects, with `β` and `σ²` profiled out.
//!
//! With `M = [X y]'R⁻¹[X y] = [A b; b' c]` (from [`crate::kernel`]), `A = LL'`,
//! `β̂ = A⁻¹b` and `r² = c − |L⁻¹b|²`:
//!
//! ```text
//! ML:    N (1 + log(2π r²/N)) + log det R
//! REML:  ν (1 + log(2π r²/ν)) + log det R + log det A,    ν = N − p
//! ```
//!
//! the same REML convention as lme4 and nlme (no `log det X'X` term). At a fixed `σ²` the
//! criterion is `N log(2πσ²) + log det R + r²/σ²` (ML) or
//! `ν log(2πσ²) + log det R + log det A + r²/σ²` (REML), used for the Hessian of the
//! covariance parameters.

use crate::kernel::{Patterns, packed};
use crate::structure::Shape;
use multilevel_lmm::optimizer::Problem;
use multilevel_numeric::spd::Cholesky;

/// The criterion of one model.
#[derive(Debug, Clone)]
pub(crate) struct Objective {
    pub patterns: Patterns,
    pub shape: Shape,
    /// Observations.
    pub n: usize,
    /// Columns of `X`.
    pub p: usize,
    /// REML (else ML).
    pub reml: bool,
    /// `log σ²` when `σ` is fixed: the optimiser then minimises [`Objective::at_sigma`].
    pub fixed_log_sigma2: Option<f64>,
}

/// The pieces of the criterion at one `x`.
#[derive(Debug, Clone)]
pub(crate) struct Pieces {
    /// The Cholesky factor of `A = X'R⁻¹X`.
    pub chol_a: Cholesky,
    /// `X'R⁻¹y`.
    pub b: Vec<f64>,
    /// `r² = (y − Xβ̂)'R⁻¹(y − Xβ̂)`.
    pub r2: f64,
    /// `Σ log det Rᵢ`.
    pub log_det_r: f64,
}

impl Objective {
    /// Residual degrees of freedom of the scale: `N − p` (REML) or `N` (ML).
    pub fn nu(&self) -> f64 {
        if self.reml {
            (self.n - self.p) as f64
        } else {
            self.n as f64
        }
    }

    /// The pieces at `x`; `None` when a block or `A` is not positive definite.
    pub fn pieces(&self, x: &[f64]) -> Option<Pieces> {
        let e = self.shape.evaluate(x);
        let cp = self.patterns.accumulate(&e)?;
        let p = self.p;
        let mut a = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..=i {
                let v = cp.m[packed(i, j)];
                a[i * p + j] = v;
                a[j * p + i] = v;
            }
        }
        let b: Vec<f64> = (0..p).map(|j| cp.m[packed(p, j)]).collect();
        let c = cp.m[packed(p, p)];
        let chol_a = Cholesky::new(&a, p)?;
        let mut z = b.clone();
        chol_a.solve_lower_in_place(&mut z);
        let r2 = c - z.iter().map(|v| v * v).sum::<f64>();
        if !(r2 > 0.0 && r2.is_finite() && cp.log_det_r.is_finite()) {
            return None;
        }
        Some(Pieces {
            chol_a,
            b,
            r2,
            log_det_r: cp.log_det_r,
        })
    }

    /// The profiled criterion from its pieces.
    pub fn profiled_from(&self, pc: &Pieces) -> f64 {
        let nu = self.nu();
        let mut d = nu * (1.0 + (2.0 * std::f64::consts::PI * pc.r2 / nu).ln()) + pc.log_det_r;
        if self.reml {
            d += pc.chol_a.log_det();
        }
        d
    }

    /// The profiled criterion at `x` (`+∞` where it is not defined).
    pub fn profiled(&self, x: &[f64]) -> f64 {
        self.pieces(x)
            .map_or(f64::INFINITY, |pc| self.profiled_from(&pc))
    }

    /// The criterion at `x` and a given `log σ²` (`+∞` where it is not defined).
    pub fn at_sigma(&self, x: &[f64], log_sigma2: f64) -> f64 {
        let Some(pc) = self.pieces(x) else {
            return f64::INFINITY;
        };
        let s2 = log_sigma2.exp();
        let mut d = self.nu() * (2.0 * std::f64::consts::PI * s2).ln() + pc.log_det_r + pc.r2 / s2;
        if self.reml {
            d += pc.chol_a.log_det();
        }
        d
    }
}

impl Problem for Objective {
    fn value(&mut self, x: &[f64]) -> f64 {
        match self.fixed_log_sigma2 {
            Some(ls) => self.at_sigma(x, ls),
            None => self.profiled(x),
        }
    }
}
