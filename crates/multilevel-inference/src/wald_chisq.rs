//! Wald χ² tests per fixed-effects term ("type III", as `car::Anova(fit, type = 3)` for a
//! GLMM): for the term's columns `T` of `X`, `χ² = β̂_T' V_TT⁻¹ β̂_T` on `|T|` df, where `V` is
//! `vcov(β̂)`; the intercept is a term of its own. Each test asks whether the term's
//! coefficients are zero given all other columns, so — unlike lmerTest's type III F tests — the
//! result depends on the contrasts of the factors (as car's does).

use multilevel_lmm::FitResult;
use multilevel_numeric::Cholesky;
use multilevel_numeric::dist::p_chisq_upper;

use crate::InferenceError;

/// One row of the Wald χ² table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WaldChisqRow {
    /// Term label (`(Intercept)`, `x`, `a:b`).
    pub term: String,
    /// `β̂_T' V_TT⁻¹ β̂_T`.
    pub chisq: f64,
    /// Number of the term's columns.
    pub df: usize,
    /// Upper tail of χ²(df).
    pub p_value: f64,
}

/// The Wald χ² test of every term with columns in the fit (terms whose columns were all
/// dropped as aliased are left out), in the order of `labels`.
///
/// `assign[j]` is the index into `labels` of the term of column `j` of `X` (the design's
/// `x_assign` and `fixed_term_labels`).
///
/// # Errors
/// [`InferenceError::Mismatch`] when `assign` does not match the fit's coefficients;
/// [`InferenceError::Numerical`] when a term's block of `vcov(β̂)` is not positive definite.
pub fn wald_chisq_type3(
    fit: &FitResult,
    assign: &[usize],
    labels: &[String],
) -> Result<Vec<WaldChisqRow>, InferenceError> {
    let p = fit.fixed.len();
    if assign.len() != p || fit.vcov.len() != p * p {
        return Err(InferenceError::Mismatch(format!(
            "{} coefficients, {} column assignments and a vcov of {} entries",
            p,
            assign.len(),
            fit.vcov.len()
        )));
    }
    let mut rows = Vec::new();
    for (t, label) in labels.iter().enumerate() {
        let cols: Vec<usize> = (0..p).filter(|&j| assign[j] == t).collect();
        if cols.is_empty() {
            continue;
        }
        let q = cols.len();
        let mut v = vec![0.0; q * q];
        for (a, &i) in cols.iter().enumerate() {
            for (b, &j) in cols.iter().enumerate() {
                v[a * q + b] = fit.vcov[i * p + j];
            }
        }
        let beta: Vec<f64> = cols.iter().map(|&j| fit.fixed[j].estimate).collect();
        let chol = Cholesky::new(&v, q).ok_or_else(|| {
            InferenceError::Numerical(format!(
                "the covariance of the coefficients of `{label}` is not positive definite"
            ))
        })?;
        let mut z = beta.clone();
        chol.solve_in_place(&mut z);
        let chisq: f64 = beta.iter().zip(&z).map(|(b, z)| b * z).sum();
        if !chisq.is_finite() {
            return Err(InferenceError::NotFinite(format!(
                "the Wald chi-squared of `{label}`"
            )));
        }
        rows.push(WaldChisqRow {
            term: label.clone(),
            chisq,
            df: q,
            p_value: p_chisq_upper(chisq, q as f64),
        });
    }
    Ok(rows)
}
