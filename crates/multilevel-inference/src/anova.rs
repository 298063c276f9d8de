//! lmerTest's `anova(fit)`: F tests of the fixed-effects terms.

use crate::InferenceError;
use crate::contrasts::TermContrast;
use crate::methods::DfMethod;
use crate::model::FittedLmm;

/// One row of the ANOVA table (lmerTest's columns).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnovaRow {
    /// Term label.
    pub term: String,
    /// `Sum Sq = q F σ̂²`.
    pub sum_sq: f64,
    /// `Mean Sq = F σ̂²`.
    pub mean_sq: f64,
    /// `NumDF`, the rank of the hypothesis.
    pub num_df: f64,
    /// `DenDF` (∞ for Wald tests).
    pub den_df: f64,
    /// `F value`.
    pub f_value: f64,
    /// `Pr(>F)`.
    pub p_value: f64,
}

/// The F test of each term's hypothesis matrix (type III when the matrices come from
/// [`crate::type3_contrasts`]), with the method's denominator df. Terms whose hypothesis
/// matrix has no rows are left out (lmerTest prints nothing for an intercept-only model).
///
/// # Errors
/// A contrast of the wrong length or failed derivatives.
pub fn anova_type3(
    model: &mut FittedLmm,
    contrasts: &[TermContrast],
    method: &dyn DfMethod,
) -> Result<Vec<AnovaRow>, InferenceError> {
    let mut rows = Vec::with_capacity(contrasts.len());
    for c in contrasts {
        if c.l.is_empty() {
            continue;
        }
        let f = method.contrast_f(model, &c.l)?;
        rows.push(AnovaRow {
            term: c.term.clone(),
            sum_sq: f.sum_sq,
            mean_sq: f.mean_sq,
            num_df: f.num_df,
            den_df: f.den_df,
            f_value: f.f_value,
            p_value: f.p_value,
        });
    }
    Ok(rows)
}
