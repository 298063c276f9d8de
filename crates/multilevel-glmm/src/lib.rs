//! Generalized linear mixed models fitted as lme4's `glmer` does.
//!
//! The model: `g(E[y | b]) = η = offset + Xβ + Zb`, `b = Λ(θ)u`, `u ~ N(0, I)` (times σ² for
//! families with a scale), `y | b` from a [`Family`] with link [`Link`].
//!
//! - [`family`]: families (binomial, Poisson, Gamma, inverse Gaussian, Gaussian) and links
//!   (logit, probit, cloglog, cauchit, log, identity, inverse, sqrt, 1/μ²) as traits;
//! - [`quadrature`]: Gauss–Hermite rules for the standard normal (lme4's `GHrule`);
//! - `pirls` (internal): penalized iteratively reweighted least squares and the Laplace / AGQ
//!   objectives;
//! - `solver` (internal): its penalized least-squares step behind one trait
//!   (`PenalizedSolver`), implemented for one scalar term, all-scalar terms and, through the
//!   LMM engine's blocked factor, any terms;
//! - [`negbin`]: the negative binomial (NB2) family and `glmer.nb`'s search for θ;
//! - [`observed`]: a general Laplace approximation (and adaptive Gauss–Hermite quadrature)
//!   with the observed Hessian, for any conditional log-likelihood with one linear predictor
//!   per observation (ordinal::clmm's and glmmTMB's approximation);
//! - [`ordinal`]: cumulative link models (ordinal::clmm's likelihood) on [`observed`];
//! - [`zeroinfl`]: zero-inflated Poisson and NB2 likelihoods (glmmTMB's `ziformula`) on
//!   [`observed`];
//! - [`deviance`]: `−2 log L(θ, β)` as a function of every parameter (for profiles);
//! - [`fit`]: lme4's two-stage optimisation, standard errors and everything reported after it.
//!
//! Entry points: [`glmer`] (shared [`multilevel_lmm::FitResult`]) and [`glmer_full`]
//! (plus η, μ, residuals of every type, the overdispersion check).

pub mod deviance;
pub mod family;
mod fastmath;
pub mod fit;
pub mod negbin;
pub mod observed;
pub mod ordinal;
mod pirls;
pub mod quadrature;
mod scalar_pls;
mod solver;
pub mod zeroinfl;

pub use deviance::GlmmDeviance;
pub use family::{
    BuiltinFamily, BuiltinLink, Family, FamilyKind, FamilySpec, GlmFamily, Link, LinkKind,
    LinkNotAllowed,
};
pub use fit::{GlmmError, GlmmFit, GlmmOptions, Overdispersion, VcovSource, glmer, glmer_full};
pub use negbin::{NbFit, NbOptions, NegativeBinomial, glmer_nb, negative_binomial};
