//! Marginal models: GEE with sandwich standard errors and cluster-robust (CR0/CR1/CR2)
//! covariance.
//!
//! Two questions can be asked of clustered data:
//!
//! - **population-averaged (marginal) effects** — how does the *mean* response across the
//!   population change with x? Answered by GEE ([`gee`], geepack's `geeglm`) and by OLS or
//!   mixed-model fixed effects with cluster-robust standard errors ([`ols_robust`],
//!   [`lmm_robust`], clubSandwich's `vcovCR` / `coef_test`);
//! - **cluster-specific (conditional) effects** — how does the response of a given cluster
//!   change with x? Answered by a mixed model (`multilevel::lmer` / `glmer`). For linear models
//!   the two coincide in the coefficients; for non-linear links they do not.
//!
//! Clusters ([`Clusters`]) are the sets of rows sharing a value of the cluster column.
//!
//! ```
//! use multilevel_frame::DataFrame;
//! use multilevel_marginal::{CorStructure, GeeOptions, gee};
//!
//! let data = DataFrame::new("toy")
//!     .with_numeric("y", vec![1.0, 2.1, 2.9, 4.2, 0.8, 2.2, 3.1, 3.9, 1.4, 1.9, 3.3, 4.4])?
//!     .with_numeric("t", vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0])?
//!     .with_strings("id", &["a", "a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "c"])?;
//! let opts = GeeOptions { corstr: CorStructure::Exchangeable, ..GeeOptions::default() };
//! let fit = gee("y ~ t", &data, "id", &opts)?;
//! assert_eq!(fit.clusters, 3);
//! assert!((fit.fixed[1].estimate - 1.04).abs() < 0.1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clusters;
mod error;
pub mod gee;
mod linalg;
pub mod model;
pub mod render;
pub mod robust;

pub use clusters::Clusters;
pub use error::{MarginalError, Setting, hint_with};
pub use gee::{CorStructure, GeeCoef, GeeOptions, GeeResult, WorkingCorrelation, gee, gee_fit};
pub use model::{FixedModel, fixed_model};
pub use robust::{
    CrCovariance, CrType, RobustCoef, RobustResult, WorkingCovariance, cluster_robust, lmm_robust,
    lmm_working_blocks, ols_robust, ols_robust_design,
};

/// The one-line answer to "which question does this answer?" printed by the reports.
pub const QUESTION_NOTE: &str = "GEE and cluster-robust SEs estimate population-averaged (marginal) effects; a mixed model estimates cluster-specific (conditional) effects.";
