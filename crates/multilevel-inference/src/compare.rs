//! Likelihood-ratio comparison of nested fits (lme4's `anova(m1, m2, ...)`).

use crate::InferenceError;
use crate::model::FittedLmm;
use multilevel_lmm::{FitResult, LinearMixedModel, LmmOptions, Method};

/// One row of the comparison table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrtRow {
    /// Index of the model in the input slice.
    pub model: usize,
    /// The model's formula.
    pub formula: String,
    /// Number of parameters, `p + length(θ) + 1`.
    pub npar: usize,
    /// `−2 logLik + 2 npar`.
    pub aic: f64,
    /// `−2 logLik + log(n) npar`.
    pub bic: f64,
    /// Log-likelihood (ML after refitting).
    pub loglik: f64,
    /// `−2 logLik`.
    pub deviance: f64,
    /// `2 max(0, logLik − logLik_prev)` (`None` for the first row).
    pub chisq: Option<f64>,
    /// `npar − npar_prev` (`None` for the first row).
    pub df: Option<i64>,
    /// `P(χ²_df > Chisq)` (`None` for the first row or when `df = 0`).
    pub p_value: Option<f64>,
}

/// lme4's `anova()` table for several fits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrtTable {
    /// Rows in increasing `npar` (ties in input order), as lme4 orders them.
    pub rows: Vec<LrtRow>,
    /// Whether REML fits were refitted by ML (lme4: "refitting model(s) with ML (instead of
    /// REML)").
    pub refitted: bool,
    /// Notes in plain words (the refit, models with different numbers of observations).
    pub notes: Vec<String>,
}

/// Options of [`compare`].
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// Refit REML fits by ML before comparing (lme4's `refit = TRUE`, the default). Without
    /// it, REML criteria of models with different fixed effects are not comparable and
    /// [`compare`] refuses them.
    pub refit: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { refit: true }
    }
}

/// Compare fitted linear mixed models by likelihood-ratio tests, as lme4's
/// `anova(m1, m2, ...)`.
///
/// When any fit is by REML and `opts.refit`, the REML fits are refitted by ML from their
/// models (lme4 does this whenever a REML fit is present, whether or not the fixed effects
/// differ), and the table says so. Rows are sorted by the number of parameters; each row after
/// the first is tested against the one before it: `χ² = 2 max(0, ℓ_k − ℓ_{k−1})` on
/// `npar_k − npar_{k−1}` df.
///
/// # Errors
/// Fewer than two models; models fitted to different numbers of observations; a REML
/// comparison of different fixed effects without refitting; a failed refit.
pub fn compare(fits: &[&FittedLmm], opts: &CompareOptions) -> Result<LrtTable, InferenceError> {
    let results: Vec<&FitResult> = fits.iter().map(|f| f.fit_result()).collect();
    check_comparable(&results)?;
    let any_reml = results.iter().any(|f| f.method == Method::Reml);
    if !(any_reml && opts.refit) {
        return compare_fits(&results, opts);
    }
    let mut used: Vec<FitResult> = Vec::with_capacity(fits.len());
    for f in fits {
        if f.fit_result().method == Method::Reml {
            let ml = LmmOptions {
                reml: false,
                cond_var: false,
                ..LmmOptions::default()
            };
            let mut m = LinearMixedModel::new(f.model().design().clone(), ml)?;
            used.push(m.fit()?);
        } else {
            used.push(f.fit_result().clone());
        }
    }
    let notes = vec!["refitting model(s) with ML (instead of REML)".to_string()];
    Ok(lrt_table(&used.iter().collect::<Vec<_>>(), true, notes))
}

/// The likelihood-ratio table of fits as they are (no refitting): maximum-likelihood fits of
/// any mixed models (GLMM fits included), or REML fits of models with the same fixed effects
/// when `opts.refit` is off.
///
/// # Errors
/// Fewer than two fits; fits to different numbers of observations; REML fits with
/// `opts.refit` on (they need their models: use [`compare`]), or REML fits of different fixed
/// effects or mixed with ML fits.
pub fn compare_fits(
    fits: &[&FitResult],
    opts: &CompareOptions,
) -> Result<LrtTable, InferenceError> {
    check_comparable(fits)?;
    let any_reml = fits.iter().any(|f| f.method == Method::Reml);
    let mut notes = Vec::new();
    if any_reml {
        if opts.refit {
            return Err(InferenceError::Mismatch(
                "REML fits must be refitted by ML before a likelihood-ratio comparison, which needs their models; hint: compare the fitted models rather than their results".into(),
            ));
        }
        let names0: Vec<&str> = fits[0].fixed.iter().map(|f| f.term.as_str()).collect();
        let differ = fits.iter().any(|f| {
            f.method != Method::Reml
                || f.fixed.iter().map(|x| x.term.as_str()).collect::<Vec<_>>() != names0
        });
        if differ {
            return Err(InferenceError::Mismatch(
                "REML criteria of models with different fixed effects (or mixed REML and ML fits) are not comparable; hint: compare with refitting by ML (the default)".into(),
            ));
        }
        notes.push("comparing REML criteria (models not refitted)".to_string());
    }
    Ok(lrt_table(fits, false, notes))
}

/// At least two fits, all to the same number of observations.
fn check_comparable(fits: &[&FitResult]) -> Result<(), InferenceError> {
    if fits.len() < 2 {
        return Err(InferenceError::Mismatch(
            "a likelihood-ratio comparison needs at least two models".into(),
        ));
    }
    let n0 = fits[0].nobs;
    if let Some((i, f)) = fits.iter().enumerate().find(|(_, f)| f.nobs != n0) {
        return Err(InferenceError::Mismatch(format!(
            "model 1 uses {n0} observations but model {} uses {}; hint: fit all models to the same rows (drop missing values first)",
            i + 1,
            f.nobs
        )));
    }
    Ok(())
}

/// Rows sorted by `npar` (ties in input order), each tested against the one before.
fn lrt_table(used: &[&FitResult], refitted: bool, notes: Vec<String>) -> LrtTable {
    let mut order: Vec<usize> = (0..used.len()).collect();
    order.sort_by_key(|&i| used[i].npar);
    let mut rows: Vec<LrtRow> = Vec::with_capacity(used.len());
    for (k, &i) in order.iter().enumerate() {
        let f = &used[i];
        let n = f.nobs as f64;
        let npar = f.npar;
        let ll = f.loglik;
        let (chisq, df, p_value) = if k == 0 {
            (None, None, None)
        } else {
            let prev = &used[order[k - 1]];
            let chisq = 2.0 * (ll - prev.loglik).max(0.0);
            let df = npar as i64 - prev.npar as i64;
            let p = if df == 0 {
                None
            } else {
                Some(multilevel_numeric::dist::p_chisq_upper(
                    chisq,
                    df.unsigned_abs() as f64,
                ))
            };
            (Some(chisq), Some(df), p)
        };
        rows.push(LrtRow {
            model: i,
            formula: f.formula.clone(),
            npar,
            aic: -2.0 * ll + 2.0 * npar as f64,
            bic: -2.0 * ll + n.ln() * npar as f64,
            loglik: ll,
            deviance: -2.0 * ll,
            chisq,
            df,
            p_value,
        });
    }
    LrtTable {
        rows,
        refitted,
        notes,
    }
}
