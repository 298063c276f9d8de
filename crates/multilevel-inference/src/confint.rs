//! Wald confidence intervals for the fixed effects.

use crate::InferenceError;
use multilevel_lmm::FitResult;

/// One Wald interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// Coefficient name.
    pub term: String,
    /// Lower limit.
    pub lower: f64,
    /// Upper limit.
    pub upper: f64,
}

/// lme4's `confint(fit, method = "Wald")` for the fixed effects:
/// `β̂ᵢ ± z_{(1+level)/2} · seᵢ` with the standard-normal quantile.
///
/// # Errors
/// [`InferenceError::BadLevel`] unless `0 < level < 1`.
pub fn wald_confint(fit: &FitResult, level: f64) -> Result<Vec<Interval>, InferenceError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(InferenceError::BadLevel(level));
    }
    let z = multilevel_numeric::dist::qnorm(0.5 + level / 2.0);
    Ok(fit
        .fixed
        .iter()
        .map(|f| Interval {
            term: f.term.clone(),
            lower: f.estimate - z * f.std_error,
            upper: f.estimate + z * f.std_error,
        })
        .collect())
}
