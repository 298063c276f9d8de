//! Hypothesis matrices for the terms of the fixed-effects part: lmerTest's type III
//! contrasts (and its type I contrasts, which lmerTest uses for models with a single term).

use multilevel_design::{Design, RANK_TOL, kept_columns, model_matrix};
use multilevel_formula::{Formula, ModelTerms, Term};
use multilevel_frame::{Contrasts, ModelFrame, VariableValue};

use crate::InferenceError;
use crate::linalg::{lstsq_columns, lstsq_residuals, zapsmall};

/// Relative tolerance for aliased columns in the least-squares steps (R's `lm.fit`).
const LS_TOL: f64 = 1e-7;

/// The hypothesis matrix `L` of one fixed-effects term: `H₀: Lβ = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct TermContrast {
    /// Term label (`recipe`, `recipe:temperature`).
    pub term: String,
    /// Rows of `L`, each of length p (the coefficients of the fitted model's `X`).
    pub l: Vec<Vec<f64>>,
}

/// lmerTest's type III hypothesis matrices for every fixed-effects term of a fitted design.
///
/// Construction (Goodnight's type III estimable functions, computed lmerTest's way):
///
/// 1. `X_t`: the fixed-effects matrix re-made with treatment contrasts for every factor (the
///    fitted `X` itself when all factors already use them);
/// 2. `X̃`: the over-parametrised matrix: the intercept and, per term, R's `~ 0 + term` columns
///    (full indicator coding, numeric variables multiplied in);
/// 3. `L = (X_t⁺ X̃)'`: each column of `X̃` expressed in the columns of `X_t`;
/// 4. in decreasing order of the terms' order, the columns of `L` belonging to a term that is
///    contained in other terms (its variables are a proper subset of theirs, with the same
///    numeric variables) are replaced by their residuals after least-squares regression on the
///    columns of the containing terms (values are rounded as R's `zapsmall`);
/// 5. the rows of `L` for the columns of `X_t` are kept; the term's hypothesis rows are the
///    transposed columns of its `X_t` columns, without all-zero rows;
/// 6. for other codings the rows are mapped to the fitted coefficients by `X_t⁺ X`.
///
/// With at most one term or one column lmerTest uses type I (sequential) contrasts instead:
/// the rows of `U'` from the Doolittle factorization `X'X = U'DU` for the term's columns.
///
/// # Errors
/// [`InferenceError::Design`] when the matrices cannot be rebuilt from the frame;
/// [`InferenceError::Mismatch`] when the frame or formula does not belong to the design.
pub fn type3_contrasts(
    formula: &Formula,
    frame: &ModelFrame,
    design: &Design,
) -> Result<Vec<TermContrast>, InferenceError> {
    let terms = &formula.fixed.terms;
    let labels: Vec<String> = terms.iter().map(Term::label).collect();
    let n = design.nobs();
    let p = design.p();
    if frame.n != n {
        return Err(InferenceError::Mismatch(format!(
            "the model frame has {} rows but the design has {n}",
            frame.n
        )));
    }
    let xorig: Vec<Vec<f64>> = (0..p)
        .map(|j| (0..n).map(|i| design.x[(i, j)]).collect())
        .collect();
    let orig_assign = term_assign(&design.x_assign, &design.fixed_term_labels, &labels)?;
    if p <= 1 || labels.len() <= 1 {
        return Ok(type1_contrasts(&xorig, &orig_assign, &labels));
    }

    // 1. X in treatment coding.
    let all_treatment = frame.variables.iter().all(|v| match &v.value {
        VariableValue::Factor { contrasts, .. } => *contrasts == Contrasts::Treatment,
        _ => true,
    });
    let (xt, xt_names, xt_assign) = if all_treatment {
        (xorig.clone(), design.x_names.clone(), orig_assign.clone())
    } else {
        let mut ft = frame.clone();
        for v in &mut ft.variables {
            if let VariableValue::Factor { contrasts, .. } = &mut v.value {
                *contrasts = Contrasts::Treatment;
            }
        }
        let mm = model_matrix(&formula.fixed, &ft)?;
        let kept = kept_columns(&mm.columns, RANK_TOL);
        let assign: Vec<usize> = kept.iter().map(|&j| mm.assign[j]).collect();
        let names: Vec<String> = kept.iter().map(|&j| mm.names[j].clone()).collect();
        let cols: Vec<Vec<f64>> = kept.iter().map(|&j| mm.columns[j].clone()).collect();
        let assign = term_assign(&assign, &mm.term_labels, &labels)?;
        (cols, names, assign)
    };
    let pt = xt.len();

    // 2. The over-parametrised matrix.
    let mut rd_cols: Vec<Vec<f64>> = Vec::new();
    let mut rd_names: Vec<String> = Vec::new();
    if formula.fixed.intercept {
        rd_cols.push(vec![1.0; n]);
        rd_names.push("(Intercept)".into());
    }
    for t in terms {
        let single = ModelTerms {
            intercept: false,
            terms: vec![t.clone()],
        };
        let mm = model_matrix(&single, frame)?;
        rd_cols.extend(mm.columns);
        rd_names.extend(mm.names);
    }

    // 3. L (rows: over-parametrised columns; columns: X_t columns).
    let mut l: Vec<Vec<f64>> = lstsq_columns(&xt, &rd_cols, LS_TOL);
    zap_matrix(&mut l);

    // 4. Orthogonalise contained terms, higher-order terms first.
    let vars = term_variables(terms, frame);
    let mut order: Vec<usize> = (0..terms.len()).collect();
    order.sort_by(|&a, &b| terms[b].order().cmp(&terms[a].order()));
    let cols_of =
        |t: usize| -> Vec<usize> { (0..pt).filter(|&j| xt_assign[j] == Some(t)).collect() };
    for &t in &order {
        let containing: Vec<usize> = (0..terms.len())
            .filter(|&u| contains(&vars[t], &vars[u]))
            .collect();
        if containing.is_empty() {
            continue;
        }
        let x_cols: Vec<Vec<f64>> = containing
            .iter()
            .flat_map(|&u| cols_of(u))
            .map(|j| l.iter().map(|row| row[j]).collect())
            .collect();
        let t_cols = cols_of(t);
        let y_cols: Vec<Vec<f64>> = t_cols
            .iter()
            .map(|&j| l.iter().map(|row| row[j]).collect())
            .collect();
        let mut res = lstsq_residuals(&x_cols, &y_cols, LS_TOL);
        // zapsmall over the whole residual matrix.
        let mut flat: Vec<f64> = res.iter().flatten().copied().collect();
        zapsmall(&mut flat);
        let m = l.len();
        for (c, col) in res.iter_mut().enumerate() {
            col.copy_from_slice(&flat[c * m..(c + 1) * m]);
        }
        for (c, &j) in t_cols.iter().enumerate() {
            for (r, row) in l.iter_mut().enumerate() {
                row[j] = res[c][r];
            }
        }
    }

    // 5. Rows for the coefficients of X_t.
    let mut sel: Vec<&Vec<f64>> = Vec::with_capacity(pt);
    for name in &xt_names {
        let idx = rd_names.iter().position(|r| r == name).ok_or_else(|| {
            InferenceError::Mismatch(format!(
                "type III contrasts: coefficient `{name}` has no column in the over-parametrised design; hint: type III tests need a hierarchical formula built from plain variables"
            ))
        })?;
        sel.push(&l[idx]);
    }
    let mut out = Vec::with_capacity(terms.len());
    // 6. Map to the fitted coding.
    let map: Option<Vec<Vec<f64>>> = if all_treatment {
        None
    } else {
        // M (pt × p): column j of Xorig in the basis of X_t.
        let cols = lstsq_columns(&xt, &xorig, LS_TOL);
        let mut flat: Vec<f64> = cols.iter().flatten().copied().collect();
        zapsmall(&mut flat);
        Some(
            (0..p)
                .map(|j| flat[j * pt..(j + 1) * pt].to_vec())
                .collect(),
        )
    };
    for (t, label) in labels.iter().enumerate() {
        let mut rows = Vec::new();
        for j in cols_of(t) {
            let row: Vec<f64> = sel.iter().map(|r| r[j]).collect();
            if row.iter().map(|v| v.abs()).sum::<f64>() <= 1e-8 {
                continue;
            }
            let row = match &map {
                None => row,
                Some(m) => m
                    .iter()
                    .map(|col| col.iter().zip(&row).map(|(a, b)| a * b).sum())
                    .collect(),
            };
            rows.push(row);
        }
        out.push(TermContrast {
            term: label.clone(),
            l: rows,
        });
    }
    Ok(out)
}

/// Type I (sequential) contrasts as lmerTest forms them: with the Doolittle factorization
/// `X'X = L U` (`L` unit lower triangular, entries below 1e-6 set to zero), the rows of the
/// unit upper-triangular `L'` that belong to each term's columns. `xcols` are the columns of
/// `X`, `assign[j]` the index in `labels` of column `j`'s term (`None` for the intercept).
/// An intercept-only model gives no term rows.
pub fn type1_contrasts(
    xcols: &[Vec<f64>],
    assign: &[Option<usize>],
    labels: &[String],
) -> Vec<TermContrast> {
    let p = xcols.len();
    let mut xtx = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            xtx[i * p + j] = xcols[i].iter().zip(&xcols[j]).map(|(a, b)| a * b).sum();
        }
    }
    let lt = if p == 1 {
        vec![1.0]
    } else {
        doolittle_lt(&xtx, p)
    };
    labels
        .iter()
        .enumerate()
        .map(|(t, label)| TermContrast {
            term: label.clone(),
            l: (0..p)
                .filter(|&j| assign[j] == Some(t))
                .map(|j| lt[j * p..(j + 1) * p].to_vec())
                .collect(),
        })
        .collect()
}

/// `t(L)` of lmerTest's `doolittle(x)$L` (unit lower triangular, entries below 1e-6 zeroed),
/// row-major.
fn doolittle_lt(x: &[f64], n: usize) -> Vec<f64> {
    const EPS: f64 = 1e-6;
    let mut l = vec![0.0; n * n];
    let mut u = vec![0.0; n * n];
    for i in 0..n {
        l[i * n + i] = 1.0;
    }
    for i in 0..n {
        for j in 0..n {
            let mut v = x[i * n + j];
            for k in 0..i {
                v -= l[i * n + k] * u[k * n + j];
            }
            u[i * n + j] = v;
        }
        for j in i + 1..n {
            let mut v = x[j * n + i];
            for k in 0..i {
                v -= l[j * n + k] * u[k * n + i];
            }
            l[j * n + i] = if u[i * n + i].abs() < EPS {
                0.0
            } else {
                v / u[i * n + i]
            };
        }
    }
    let mut lt = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let v = l[j * n + i];
            lt[i * n + j] = if v.abs() < EPS { 0.0 } else { v };
        }
    }
    lt
}

/// For each column, the index of its term in `labels` (`None` for the intercept).
fn term_assign(
    assign: &[usize],
    term_labels: &[String],
    labels: &[String],
) -> Result<Vec<Option<usize>>, InferenceError> {
    assign
        .iter()
        .map(|&a| {
            if a == 0 {
                return Ok(None);
            }
            let name = term_labels.get(a).ok_or_else(|| {
                InferenceError::Mismatch(format!("column assigned to unknown term {a}"))
            })?;
            labels
                .iter()
                .position(|l| l == name)
                .map(Some)
                .ok_or_else(|| {
                    InferenceError::Mismatch(format!(
                        "the design's term `{name}` is not a fixed term of the formula"
                    ))
                })
        })
        .collect()
}

/// Variables of a term as R's `terms()` factor matrix marks them with 1 (a variable that
/// enters an interaction without its margin is marked 2 and left out, as lmerTest does),
/// with whether each is numeric (`dataClasses == "numeric"`: plain numeric variables only).
struct TermVars {
    vars: Vec<String>,
    numerics: Vec<String>,
}

fn term_variables(terms: &[Term], frame: &ModelFrame) -> Vec<TermVars> {
    let labels_of =
        |t: &Term| -> Vec<String> { t.variables.iter().map(|e| e.to_string()).collect() };
    let all: Vec<Vec<String>> = terms.iter().map(labels_of).collect();
    all.iter()
        .map(|vs| {
            let kept: Vec<String> = vs
                .iter()
                .filter(|v| {
                    if vs.len() < 2 {
                        return true;
                    }
                    let rest: Vec<&String> = vs.iter().filter(|w| w != v).collect();
                    all.iter()
                        .any(|o| o.len() == rest.len() && rest.iter().all(|r| o.contains(r)))
                })
                .cloned()
                .collect();
            let numerics =
                kept.iter()
                    .filter(|v| {
                        frame.variables.iter().any(|fv| {
                            &fv.label == *v && matches!(fv.value, VariableValue::Numeric(_))
                        })
                    })
                    .cloned()
                    .collect();
            TermVars {
                vars: kept,
                numerics,
            }
        })
        .collect()
}

/// Whether term `a` is contained in term `b` (lmerTest's `term_contain`).
fn contains(a: &TermVars, b: &TermVars) -> bool {
    a.vars.iter().all(|v| b.vars.contains(v))
        && b.vars.iter().any(|v| !a.vars.contains(v))
        && a.numerics.len() == b.numerics.len()
        && a.numerics.iter().all(|v| b.numerics.contains(v))
}

fn zap_matrix(rows: &mut [Vec<f64>]) {
    let mut flat: Vec<f64> = rows.iter().flatten().copied().collect();
    zapsmall(&mut flat);
    let mut k = 0;
    for row in rows.iter_mut() {
        for v in row.iter_mut() {
            *v = flat[k];
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doolittle_unit_upper() {
        // X'X = [[4, 2], [2, 3]]: L = [[1, 0], [0.5, 1]] so t(L) = [[1, 0.5], [0, 1]].
        let lt = doolittle_lt(&[4.0, 2.0, 2.0, 3.0], 2);
        assert_eq!(lt, vec![1.0, 0.5, 0.0, 1.0]);
    }
}
