//! Predictions for new data (lme4's `predict(fit, newdata, re.form, allow.new.levels)`).
//!
//! The new data go through the training frame's recipe
//! ([`multilevel_frame::new_data_frame`]: the training factor levels and contrasts, `scale()`,
//! `cgm()` and `poly()` with the training statistics), then `X_new` is R's `model.matrix` of
//! the fixed terms restricted to the fitted columns of `X`, and each chosen random term adds
//! `z_new · b̂_level` for the row's level of its grouping factor (nothing for a level the fit
//! has not seen, when new levels are allowed). The linear predictor is
//! `η = X_new β̂ + Σ_terms z_new b̂ + offset`; a GLMM's response-scale prediction is `g⁻¹(η)`.
//! The standard error of the fixed-effect part is `√(x' vcov(β̂) x)` (on the response scale
//! multiplied by `|dμ/dη|`, the delta method).

use multilevel_design::{Design, model_matrix, random_term_text};
use multilevel_formula::Formula;
use multilevel_frame::{DataFrame, ModelFrame, NewDataOptions, new_data_frame};

use crate::{Error, FitResult};

/// Which random effects enter a prediction (lme4's `re.form`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReForm {
    /// All random-effects terms (lme4's `re.form = NULL`, the default).
    #[default]
    All,
    /// None: the population-level prediction `Xβ̂` (lme4's `re.form = NA` or `~0`).
    None,
    /// Only these random terms, written as in the formula (`(1 | Subject)`,
    /// `(Days | Subject)`).
    Terms(Vec<String>),
}

/// The scale of a GLMM prediction (R's `type =`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PredictScale {
    /// The linear predictor η (R's `type = "link"`, the default).
    #[default]
    Link,
    /// The mean μ = g⁻¹(η) (R's `type = "response"`).
    Response,
}

/// Options of the models' `predict`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PredictOptions {
    /// Which random effects enter (default all).
    pub re_form: ReForm,
    /// Predict a grouping level the fit has not seen with a zero random effect instead of an
    /// error (lme4's `allow.new.levels`).
    pub allow_new_levels: bool,
    /// Also give the standard error of the fixed-effect part of each prediction.
    pub se_fit: bool,
    /// Link or response scale (GLMMs; an LMM's identity link makes them equal).
    pub scale: PredictScale,
}

/// Predictions, one per row of the new data, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The prediction of each new-data row; `None` where a value the prediction needs is
    /// missing.
    pub fit: Vec<Option<f64>>,
    /// The standard error of the fixed-effect part of each prediction, when asked for.
    pub se_fit: Option<Vec<Option<f64>>>,
    /// The 0-based new-data rows without a prediction (missing values).
    pub missing_rows: Vec<usize>,
    /// The number of predicted rows with at least one grouping level the fit has not seen
    /// (predicted with a zero random effect for that factor).
    pub n_new_levels: usize,
}

/// The parts of a fitted model a prediction reads.
pub(crate) struct PredictInput<'a> {
    pub formula: &'a Formula,
    pub frame: &'a ModelFrame,
    pub train: &'a DataFrame,
    pub design: &'a Design,
    pub fit: &'a FitResult,
}

/// η (and the fixed part's standard error) for every new-data row.
pub(crate) fn linear_predictor(
    input: &PredictInput<'_>,
    new: &DataFrame,
    opts: &PredictOptions,
) -> Result<Prediction, Error> {
    let PredictInput {
        formula,
        frame,
        train,
        design,
        fit,
    } = *input;
    let selected = select_terms(formula, &opts.re_form)?;
    let mut sub = formula.clone();
    sub.random = selected
        .iter()
        .filter_map(|&i| formula.random.get(i).cloned())
        .collect();
    let nf = new_data_frame(
        &sub,
        train,
        frame,
        new,
        &NewDataOptions {
            allow_new_levels: opts.allow_new_levels,
        },
    )?;
    let n = nf.rows.len();

    // ---- fixed part ----
    let mm = model_matrix(&formula.fixed, &nf.frame)?;
    let p = design.x_names.len();
    let mut x_cols: Vec<&[f64]> = Vec::with_capacity(p);
    for name in &design.x_names {
        let Some(j) = mm.names.iter().position(|m| m == name) else {
            return Err(Error::Unsupported(format!(
                "the new data give no column `{name}` of the fixed-effects model matrix; hint: check the factor columns of the new data"
            )));
        };
        x_cols.push(&mm.columns[j]);
    }
    let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    let mut eta: Vec<f64> = (0..n)
        .map(|i| x_cols.iter().zip(&beta).map(|(c, b)| c[i] * b).sum())
        .collect();
    let se: Option<Vec<f64>> = opts.se_fit.then(|| {
        (0..n)
            .map(|i| {
                let x: Vec<f64> = x_cols.iter().map(|c| c[i]).collect();
                let mut q = 0.0;
                for a in 0..p {
                    for b in 0..p {
                        q += x[a] * fit.vcov.get(a * p + b).copied().unwrap_or(f64::NAN) * x[b];
                    }
                }
                q.sqrt()
            })
            .collect()
    });

    // ---- random part: the chosen terms, in the design's order ----
    let mut new_level = vec![false; n];
    for (j, term) in design.terms.iter().enumerate() {
        if !selected.contains(&term.formula_order) {
            continue;
        }
        let Some(rt) = formula.random.get(term.formula_order) else {
            continue;
        };
        // Column offset of this term in its group's conditional-mode table (terms with the
        // same grouping factor share one table, in design order).
        let offset: usize = design.terms[..j]
            .iter()
            .filter(|t| t.group == term.group && t.levels == term.levels)
            .map(|t| t.k)
            .sum();
        let Some(table) = fit
            .ranef
            .iter()
            .find(|r| r.group == term.group && r.levels == term.levels)
        else {
            return Err(Error::Unsupported(format!(
                "the fit has no conditional modes of `{}`",
                term.group
            )));
        };
        let z = model_matrix(&rt.lhs, &nf.frame)?;
        if z.names != term.col_names {
            return Err(Error::Unsupported(format!(
                "the new data give the random-effect columns {:?} of `{}` instead of {:?}",
                z.names,
                random_term_text(rt),
                term.col_names
            )));
        }
        let Some((_, codes)) = nf.groups.iter().find(|(l, _)| *l == rt.group_label) else {
            continue;
        };
        for (i, code) in codes.iter().enumerate() {
            match code {
                Some(c) => {
                    let b = table.values.get(*c as usize);
                    for (k, col) in z.columns.iter().enumerate() {
                        let bk = b.and_then(|b| b.get(offset + k)).copied().unwrap_or(0.0);
                        eta[i] += col[i] * bk;
                    }
                }
                None => new_level[i] = true,
            }
        }
    }
    if let Some(off) = &nf.frame.offset {
        eta.iter_mut().zip(off).for_each(|(e, o)| *e += o);
    }

    // ---- back to the new data's rows ----
    let mut out = vec![None; nf.nrows];
    let mut se_out = se.as_ref().map(|_| vec![None; nf.nrows]);
    for (k, &r) in nf.rows.iter().enumerate() {
        out[r] = Some(eta[k]);
        if let (Some(so), Some(se)) = (se_out.as_mut(), se.as_ref()) {
            so[r] = Some(se[k]);
        }
    }
    Ok(Prediction {
        fit: out,
        se_fit: se_out,
        missing_rows: nf.missing_rows,
        n_new_levels: new_level.iter().filter(|x| **x).count(),
    })
}

/// Indices of the formula's random terms that `re_form` keeps.
fn select_terms(formula: &Formula, re_form: &ReForm) -> Result<Vec<usize>, Error> {
    match re_form {
        ReForm::All => Ok((0..formula.random.len()).collect()),
        ReForm::None => Ok(Vec::new()),
        ReForm::Terms(texts) => {
            let ours: Vec<String> = formula.random.iter().map(random_term_text).collect();
            let mut out = Vec::new();
            for t in texts {
                let parsed = multilevel_formula::parse(&format!("y ~ 1 + {t}"))?;
                if parsed.random.is_empty() {
                    return Err(Error::Unsupported(format!(
                        "`{t}` is not a random-effects term; hint: write it as in the formula, e.g. {}",
                        ours.first().map_or("(1 | g)", String::as_str)
                    )));
                }
                for rt in &parsed.random {
                    let text = random_term_text(rt);
                    match ours.iter().position(|o| *o == text) {
                        Some(i) if !out.contains(&i) => out.push(i),
                        Some(_) => {}
                        None => {
                            return Err(Error::Unsupported(format!(
                                "the model has no random term ({text}); hint: its random terms are ({})",
                                ours.join("), (")
                            )));
                        }
                    }
                }
            }
            Ok(out)
        }
    }
}

/// The columns of `data` that `formula` names (what predictions need of the training data:
/// the statistics of `scale()`, `cgm()` and `poly()`), each copied once.
///
/// # Errors
/// None in practice: the columns come from one frame (equal lengths) and each name is added
/// once; the data layer's error is passed on rather than assumed away.
pub(crate) fn training_columns(
    formula: &Formula,
    data: &DataFrame,
) -> Result<DataFrame, multilevel_frame::DataError> {
    let mut out = DataFrame::new(data.name());
    for name in formula.variables() {
        if out.column(&name).is_some() {
            continue;
        }
        if let Some(col) = data.column(&name) {
            out = out.with_column(&name, col.clone())?;
        }
    }
    Ok(out)
}
