//! Generalized least squares with a residual covariance per subject: nlme's `gls()` with
//! `correlation =` and `weights =`, SAS PROC MIXED's REPEATED statement, and the MMRM (mixed
//! model for repeated measures) of clinical trials.
//!
//! The model is `y ~ N(Xβ, σ²R)` with `R` block diagonal over the subjects; a subject's block
//! is `Rᵢ = DᵢCᵢDᵢ`, `Cᵢ` the structure's correlation between its visits and `Dᵢ` the
//! standard-deviation ratios of its rows (per visit for `us`/`toeph`, per level of the factor
//! of `ident(f)`). A subject with missing visits uses the sub-block of the visits it has.
//!
//! - [`spec`]: the structures as values and their text (`us(visit | subject)`, `ident(f)`);
//! - `structure`: the unconstrained parametrisation of each structure;
//! - `layout`: subjects, visit positions and variance levels from the data columns;
//! - `kernel`: the whitened cross products `[X y]'R⁻¹[X y]`, per visit pattern;
//! - `objective`: the profiled REML/ML criterion; `inference`: Satterthwaite df;
//! - `mixed`: random-effects terms together with the residual structure (nlme's
//!   `lme(…, correlation =, weights =)`): the LMM's criterion on the whitened data;
//! - [`fit`]: [`gls`], the fit, and its result [`GlsFit`]; [`render`]: text, JSON, markdown.

mod error;
pub mod fit;
mod inference;
mod kernel;
mod kr;
mod layout;
mod mixed;
mod objective;
pub mod render;
pub mod spec;
mod structure;

pub use error::GlsError;
pub use fit::{
    GlsCoef, GlsCounts, GlsDf, GlsFit, GlsOptions, Named, RandomComponent, ResidualCorrelation, gls,
};
pub use spec::{ResidualKind, ResidualStructure, VarianceFunction};
