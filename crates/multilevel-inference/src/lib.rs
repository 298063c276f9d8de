//! Small-sample inference for linear mixed models: the tests lmerTest adds to lme4.
//!
//! ## Inference for fixed effects
//!
//! lme4 reports `t = β̂ᵢ / se(β̂ᵢ)` without degrees of freedom. This crate adds, behind the
//! [`DfMethod`] trait:
//!
//! - **Satterthwaite** ([`Satterthwaite`], lmerTest's default). The variance parameters are
//!   `varpar = (θ, σ)`. The deviance, *not* profiled over σ, is
//!
//!   ```text
//!   ML:   d(θ, σ) = log|L_θ|² + n log(2πσ²) + r²(θ)/σ²
//!   REML: d(θ, σ) = log|L_θ|² + log|R_X|² + (n − p) log(2πσ²) + r²(θ)/σ²
//!   ```
//!
//!   (at σ = σ̂(θ) it equals lme4's profiled criterion). With `H` its Hessian at `(θ̂, σ̂)`
//!   (central differences with Richardson extrapolation), `A = 2H⁻¹` is the asymptotic
//!   covariance of varpar. `C(varpar) = σ²(R_X'R_X)⁻¹(θ)` is `vcov(β̂)` and `Jᵢ = ∂C/∂varparᵢ`
//!   its numerical Jacobian. For a contrast `l`:
//!
//!   ```text
//!   t = l'β̂ / √(l'Cl),   gᵢ = l'Jᵢl,   ν = 2 (l'Cl)² / (g'Ag)
//!   ```
//!
//!   and the two-sided p-value uses Student's t with (fractional) ν df.
//!   For a `q`-row hypothesis `Lβ = 0`: `LCL' = PDP'` (eigen-decomposition; directions with
//!   eigenvalue ≤ √ε·λ_max are dropped), each row `m` of `P'L` gives `t_m² = (P'Lβ̂)²_m / d_m`
//!   and `ν_m` as above; `F = Σ t_m² / q`, and with `E = Σ ν_m / (ν_m − 2)` the denominator
//!   df is `2E / (E − q)` — or 2 if any `ν_m ≤ 2`, the common value if all `ν_m` agree, the
//!   1-df result if `q = 1`.
//! - **Wald** ([`Wald`]): df = ∞, i.e. z tests and `χ²_q / q` for F statistics.
//! - **Kenward–Roger** ([`KenwardRoger`], [`kenward_roger_df`]; REML fits only): pbkrtest's
//!   adjusted covariance `Φ_A` of β̂ and denominator df `m` (and F scaling λ), computed
//!   densely from the `n × n` marginal covariance for small `n` and through `q × q` matrices
//!   (Woodbury identity) for large `n` ([`KrAlgorithm`]).
//!   Validated against pbkrtest 0.5.2 via lmerTest 3.1-3 (df to ≤ 1e-12 relative at lme4's θ̂).
//!
//! [`add_df`] fills `df` and `p_value` of each coefficient of a
//! [`FitResult`](multilevel_lmm::FitResult) (lmerTest's `summary()`).
//!
//! ## Type III ANOVA
//!
//! [`anova_type3`] gives lmerTest's `anova(fit)`: one F test per fixed-effects term, with
//! hypothesis matrices from [`type3_contrasts`]. Those are lmerTest's type III contrasts:
//! the over-parametrised (full indicator) design is expressed in the treatment-coded columns,
//! the columns of terms contained in higher-order terms are orthogonalised against those of
//! the containing terms, and the result is mapped to the coding actually fitted, so the
//! tests do not depend on the contrasts used (treatment, sum, Helmert, polynomial). Models
//! with a single term use lmerTest's type I contrasts (Doolittle factorization of `X'X`).
//! `Sum Sq = q F σ̂²` and `Mean Sq = F σ̂²` as lmerTest prints them.
//!
//! ## Wald χ² tests
//!
//! [`wald_chisq_type3`] is `car::Anova(fit, type = 3)` for a GLMM: one Wald χ² test per
//! term (the intercept included) from `vcov(β̂)`.
//!
//! ## Model comparison
//!
//! [`compare`] is lme4's `anova(m1, m2, ...)`: models sorted by number of parameters,
//! `χ² = 2 (ℓ_k − ℓ_{k−1})` on `npar_k − npar_{k−1}` df, with AIC, BIC, log-likelihood and
//! deviance. REML fits are refitted by ML first (lme4's `refit = TRUE`), and the table says so.
//!
//! ## Intervals
//!
//! [`wald_confint`] is `confint(fit, method = "Wald")` for the fixed effects:
//! `β̂ᵢ ± z_{(1+level)/2} seᵢ`.
//!
//! [`profile_confint`] is `confint(fit, method = "profile")`: the signed square root of the
//! ML deviance profile (lme4 profiles the ML deviance also for REML fits) for the standard
//! deviations and correlations of the random effects, σ and each β_j, with the limits found
//! by root finding rather than spline interpolation. Validated against lme4 1.1-31
//! (`tests/reference/intervals`, written by `xtask/r/reference_intervals.R`) within 1e-3
//! relative (observed ≤ 1.7e-4, the remainder being lme4's interpolation error).
//!
//! [`bootstrap`] is lme4's parametric `bootMer` (simulate from the fit, refit, collect the
//! standard deviations, correlations, σ and β), reproducible from a seed whatever the number
//! of threads; [`percentile_intervals`] turns it into `confint(method = "boot")`'s percentile
//! intervals.
//!
//! Validated against lmerTest 3.1-3 / lme4 1.1-31 (`tests/reference/inference`, written by
//! `xtask/r/reference_inference.R`): df within 5e-3 relative, p-values within 1e-3 relative.
//!
//! ```no_run
//! use multilevel_inference::{FittedLmm, Satterthwaite, add_df};
//! # fn demo(model: multilevel_lmm::LinearMixedModel) -> Result<(), multilevel_inference::InferenceError> {
//! let mut fitted = FittedLmm::fit(model)?;
//! let mut fit = fitted.fit_result().clone();
//! add_df(&mut fitted, &mut fit, &Satterthwaite)?;
//! println!("df of the slope: {:?}", fit.fixed[1].df);
//! # Ok(()) }
//! ```

mod anova;
mod bootstrap;
mod compare;
mod confint;
mod contrasts;
mod glmm_bootstrap;
mod glmm_profile;
mod kenward_roger;
mod kr_structured;
mod linalg;
mod methods;
mod model;
#[cfg(test)]
mod numderiv;
mod profile;
mod progress;
mod varpar;
mod wald_chisq;

pub use anova::{AnovaRow, anova_type3};
pub use bootstrap::{BootstrapResult, bootstrap, percentile_intervals};
pub use compare::{CompareOptions, LrtRow, LrtTable, compare, compare_fits};
pub use confint::{Interval, wald_confint};
pub use contrasts::{TermContrast, type1_contrasts, type3_contrasts};
pub use glmm_bootstrap::{glmm_bootstrap, glmm_parameter_names, glmm_sd_cor};
pub use glmm_profile::{GlmmProfiler, glmm_profile_confint};
pub use kenward_roger::{
    KR_DENSE_MAX_N, KenwardRoger, KrAlgorithm, KrParts, KrTest, kenward_roger_df,
    kenward_roger_from_pieces, kenward_roger_parts, kenward_roger_parts_with,
};
pub use methods::{DfMethod, FTest, Satterthwaite, Wald, add_df, f_ddf, two_sided_t};
pub use model::FittedLmm;
pub use profile::{ProfileParameter, Profiler, profile_confint};
pub use wald_chisq::{WaldChisqRow, wald_chisq_type3};

/// Errors of the inference layer.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// The pieces handed in do not belong together.
    #[error("{0}")]
    Mismatch(String),
    /// A contrast that cannot be tested.
    #[error("bad contrast: {0}; hint: give one weight per fixed-effect coefficient, not all zero")]
    BadContrast(String),
    /// A quantity that must be finite is not.
    #[error("not finite: {0}; hint: check the fit for convergence problems")]
    NotFinite(String),
    /// A numerical step failed.
    #[error("{0}; hint: the fit may be at a boundary or not converged — check its warnings")]
    Numerical(String),
    /// A confidence level outside (0, 1).
    #[error("confidence level {0} is not between 0 and 1; hint: use e.g. 0.95")]
    BadLevel(f64),
    /// A (re)fit failed.
    #[error("{0}")]
    Lmm(#[from] multilevel_lmm::LmmError),
    /// A design matrix could not be rebuilt.
    #[error("{0}")]
    Design(#[from] multilevel_design::DesignError),
}
