//! Linear mixed models fitted by REML or ML through the profiled deviance (lme4's `lmer`).
//!
//! - [`objective`]: the profiled REML criterion / ML deviance `d(θ)` from a blocked Cholesky
//!   factor, and its exact gradient (`ProfiledDeviance::gradient`);
//! - [`optimizer`]: one `Optimizer` trait over a `Problem` (BOBYQA, projected L-BFGS,
//!   Nelder–Mead), used for θ here and by the GLMM and the profiles;
//! - [`fit`]: the fit and everything lme4 reports after it;
//! - [`results`]: plain-data results shared with the report and inference layers.

mod assemble;
pub(crate) mod blocks;
pub mod build;
mod cross;
mod factorization;
mod fast;
pub mod fit;
mod gradient;
pub mod objective;
pub mod optimizer;
mod pls;
pub mod results;
mod solve;
pub mod summaries;
#[cfg(test)]
mod testing;

pub use build::FitResultBuilder;
pub use fit::{
    AUTO_QUASI_NEWTON_MAX_DENSE_BLOCK, AUTO_QUASI_NEWTON_MIN_THETA, LinearMixedModel, LmmError,
    LmmOptions, OptimizerChoice, lmer,
};
pub use objective::ProfiledDeviance;
pub use results::*;
