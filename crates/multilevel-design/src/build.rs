//! Assembly of a [`Design`] from a parsed formula and its model frame (lme4's `lFormula`).

use crate::error::DesignError;
use crate::model_matrix::{ModelMatrix, model_matrix};
use crate::rank::{RANK_TOL, kept_columns};
use crate::{Ar1, CompoundSymmetry, CovarianceSpec, Design, Diagonal, ReTerm};
use multilevel_formula::{CovStructure, Formula, ModelTerms, RandomTerm};
use multilevel_frame::{ModelFrame, ResponseValues, VariableValue};

/// Options of [`build_design_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DesignOptions {
    /// lme4's `allow.n` in `checkNlevels`/`checkZdims`: `false` (lmer) requires
    /// `nlevels < n` and `q_term < n`; `true` (glmer) only `nlevels ≤ n` and `q_term ≤ n`.
    pub allow_n: bool,
}

/// Builds the design of a linear mixed model exactly as lme4's `lFormula` does (lmer checks).
///
/// - `y` from the response (`cbind(s, f)` → `s/(s+f)` with `trials = s + f`; a two-level
///   factor → 1 for the second level).
/// - `X = model.matrix(fixed terms)`, then aliased columns dropped with R's limited-pivoting QR
///   at tolerance 1e-7 ([`crate::rank::kept_columns`]), names recorded in `dropped_columns`.
/// - One [`ReTerm`] per random term: its grouping factor from the frame, its `z` from the
///   model matrix of the term's left-hand side; terms ordered as lme4 orders them (by number of
///   levels, decreasing; see `lme4_term_order` for ties).
///
/// # Errors
/// No response; a bad factor/cbind response; a random term with no columns; a grouping factor
/// with as many levels as observations; a term with at least as many random effects as
/// observations; a frame inconsistent with the formula.
pub fn build_design(formula: &Formula, frame: &ModelFrame) -> Result<Design, DesignError> {
    build_design_with(formula, frame, &DesignOptions::default())
}

/// [`build_design`] with explicit [`DesignOptions`] (e.g. glmer's `allow.n = TRUE` checks).
///
/// # Errors
/// As [`build_design`].
pub fn build_design_with(
    formula: &Formula,
    frame: &ModelFrame,
    opts: &DesignOptions,
) -> Result<Design, DesignError> {
    let n = frame.n;
    let response_name = frame
        .response_label
        .clone()
        .unwrap_or_else(|| "y".to_string());
    let (y, trials) = response(formula, frame, &response_name)?;

    let mm = model_matrix(&formula.fixed, frame)?;
    let fixed_term_labels = mm.term_labels.clone();
    let (x, x_names, x_assign, dropped_columns) = full_rank_x(mm, n);

    let mut terms = Vec::with_capacity(formula.random.len());
    for (order, rt) in formula.random.iter().enumerate() {
        terms.push(random_term(rt, order, frame)?);
    }
    lme4_term_order(&mut terms);
    check_dims(&terms, &formula.random, n, opts)?;

    Ok(Design {
        formula: formula.text.clone(),
        response_name,
        y,
        trials,
        x,
        x_names,
        x_assign,
        fixed_term_labels,
        dropped_columns,
        terms,
        weights: frame.weights.clone(),
        offset: frame.offset.clone(),
        n_dropped_missing: frame.n_dropped(),
        data_name: frame.data_name.clone(),
    })
}

/// Reorders the random-effects terms exactly as lme4's `mkReTrms` does: when the numbers of
/// levels are not already non-increasing (`any(diff(nl) > 0)`), the terms are put in the order
/// `rev(order(nl))`. `order` is stable, so after `rev` the levels decrease and terms with the
/// SAME number of levels end up in reverse formula order (`(1 | b) + (1 | g) + (1 | a:b)` with
/// 2, 4, 4 levels becomes `a:b`, `g`, `b`). When no reordering is needed, formula order is kept
/// (ties included). This fixes the θ layout, so it must match lme4 exactly.
fn lme4_term_order(terms: &mut [ReTerm]) {
    let needs_reorder = terms.windows(2).any(|w| w[1].nlevels() > w[0].nlevels());
    if needs_reorder {
        // stable ascending sort by levels, then reverse = rev(order(nl))
        terms.sort_by_key(ReTerm::nlevels);
        terms.reverse();
    }
}

type FullRankX = (faer::Mat<f64>, Vec<String>, Vec<usize>, Vec<String>);

fn full_rank_x(mm: ModelMatrix, n: usize) -> FullRankX {
    let kept = kept_columns(&mm.columns, RANK_TOL);
    let mut is_kept = vec![false; mm.ncols()];
    for &j in &kept {
        if let Some(k) = is_kept.get_mut(j) {
            *k = true;
        }
    }
    let dropped: Vec<String> = mm
        .names
        .iter()
        .zip(&is_kept)
        .filter(|(_, k)| !**k)
        .map(|(s, _)| s.clone())
        .collect();
    let mut names = Vec::with_capacity(kept.len());
    let mut assign = Vec::with_capacity(kept.len());
    let mut cols = Vec::with_capacity(kept.len());
    for ((c, name), (a, k)) in mm
        .columns
        .into_iter()
        .zip(mm.names)
        .zip(mm.assign.into_iter().zip(is_kept))
    {
        if k {
            cols.push(c);
            names.push(name);
            assign.push(a);
        }
    }
    let mut x = faer::Mat::<f64>::zeros(n, cols.len());
    for (j, c) in cols.iter().enumerate() {
        for (i, v) in c.iter().enumerate() {
            x[(i, j)] = *v;
        }
    }
    (x, names, assign, dropped)
}

fn response(
    formula: &Formula,
    frame: &ModelFrame,
    label: &str,
) -> Result<(Vec<f64>, Option<Vec<f64>>), DesignError> {
    let data_row = |i: usize| frame.rows.get(i).copied().unwrap_or(i) + 1;
    match &frame.response {
        None => Err(DesignError::NoResponse {
            formula: formula.text.clone(),
        }),
        Some(ResponseValues::Numeric(v)) => Ok((v.clone(), None)),
        Some(ResponseValues::Cbind {
            successes,
            failures,
        }) => {
            let mut y = Vec::with_capacity(successes.len());
            let mut trials = Vec::with_capacity(successes.len());
            for (i, (&s, &f)) in successes.iter().zip(failures).enumerate() {
                for value in [s, f] {
                    if value < 0.0 {
                        return Err(DesignError::NegativeCount {
                            label: label.to_string(),
                            row: data_row(i),
                            value,
                        });
                    }
                }
                let t = s + f;
                if t == 0.0 {
                    return Err(DesignError::ZeroTrials {
                        label: label.to_string(),
                        row: data_row(i),
                    });
                }
                y.push(s / t);
                trials.push(t);
            }
            Ok((y, Some(trials)))
        }
        Some(ResponseValues::Factor { codes, levels }) => {
            if levels.len() != 2 {
                let shown: Vec<&str> = levels.iter().take(5).map(String::as_str).collect();
                let more = if levels.len() > 5 { ", …" } else { "" };
                return Err(DesignError::ResponseLevels {
                    label: label.to_string(),
                    nlevels: levels.len(),
                    levels: format!("{}{more}", shown.join(", ")),
                });
            }
            Ok((
                codes
                    .iter()
                    .map(|&c| if c == 1 { 1.0 } else { 0.0 })
                    .collect(),
                None,
            ))
        }
    }
}

/// Text of a random-effects term as `lhs | group` for messages (`1 + Days | Subject`).
pub fn random_term_text(rt: &RandomTerm) -> String {
    format!("{} | {}", lhs_text(&rt.lhs), rt.group_label)
}

fn lhs_text(lhs: &ModelTerms) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(lhs.terms.len() + 1);
    if lhs.intercept {
        if lhs.terms.is_empty() {
            parts.push("1".to_string());
        }
    } else {
        parts.push("0".to_string());
    }
    parts.extend(lhs.terms.iter().map(|t| t.label()));
    parts.join(" + ")
}

fn random_term(rt: &RandomTerm, order: usize, frame: &ModelFrame) -> Result<ReTerm, DesignError> {
    let n = frame.n;
    let term = random_term_text(rt);
    let group = frame
        .group(&rt.group_label)
        .ok_or_else(|| DesignError::MissingGroup {
            group: rt.group_label.clone(),
            term: term.clone(),
        })?;
    let (codes, levels) = match group {
        VariableValue::Factor { codes, levels, .. } => (codes, levels),
        _ => {
            return Err(DesignError::GroupNotFactor {
                group: rt.group_label.clone(),
            });
        }
    };
    if codes.len() != n || codes.iter().any(|&c| c as usize >= levels.len()) {
        return Err(DesignError::InconsistentVariable {
            label: rt.group_label.clone(),
            detail: format!(
                "{} codes for {n} rows and {} levels",
                codes.len(),
                levels.len()
            ),
        });
    }
    let mm = model_matrix(&rt.lhs, frame)?;
    let k = mm.ncols();
    if k == 0 {
        return Err(DesignError::EmptyRandomTerm { term });
    }
    let mut z = vec![0.0; n * k];
    for (j, col) in mm.columns.iter().enumerate() {
        for (zi, v) in z.iter_mut().skip(j).step_by(k).zip(col) {
            *zi = *v;
        }
    }
    Ok(ReTerm {
        group: rt.group_label.clone(),
        levels: levels.clone(),
        refs: codes.clone(),
        k,
        z,
        col_names: mm.names,
        formula_order: order,
        structure: structure_spec(rt.structure, k, &term)?,
    })
}

/// The covariance of a term of `k` columns that asks for `structure`.
fn structure_spec(
    structure: CovStructure,
    k: usize,
    term: &str,
) -> Result<CovarianceSpec, DesignError> {
    Ok(match structure {
        CovStructure::Unstructured => CovarianceSpec::unstructured(k),
        CovStructure::Diagonal { hom } => CovarianceSpec::Diagonal(Diagonal { k, hom }),
        CovStructure::CompoundSymmetry { hom } => {
            CovarianceSpec::CompoundSymmetry(CompoundSymmetry { k, hom })
        }
        CovStructure::Ar1 { hom } => {
            if k < 2 {
                return Err(DesignError::Ar1Columns {
                    term: term.to_string(),
                    k,
                });
            }
            CovarianceSpec::Ar1(Ar1 { k, hom })
        }
    })
}

fn check_dims(
    terms: &[ReTerm],
    random: &[RandomTerm],
    n: usize,
    opts: &DesignOptions,
) -> Result<(), DesignError> {
    // checkNlevels: per grouping factor
    for t in terms {
        if t.nlevels() < 2 {
            return Err(DesignError::SingleLevelGroup {
                group: t.group.clone(),
                nlevels: t.nlevels(),
            });
        }
        let bad = if opts.allow_n {
            t.nlevels() > n
        } else {
            t.nlevels() >= n
        };
        if bad {
            return Err(DesignError::TooManyLevels {
                group: t.group.clone(),
                nlevels: t.nlevels(),
                n,
            });
        }
    }
    // checkZdims: per term, in lme4's (sorted) order
    for t in terms {
        let q = t.q();
        let bad = if opts.allow_n { n < q } else { n <= q };
        if bad {
            let term = random
                .get(t.formula_order)
                .map(random_term_text)
                .unwrap_or_else(|| t.group.clone());
            return Err(DesignError::TooManyRandomEffects {
                term,
                q,
                n,
                cmp: if opts.allow_n { "<" } else { "<=" }.to_string(),
                extra: if opts.allow_n {
                    String::new()
                } else {
                    " and the residual variance".to_string()
                },
            });
        }
    }
    Ok(())
}
