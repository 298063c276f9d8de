//! R's `model.matrix` for a list of terms evaluated on a model frame.

use crate::contrasts::{Coding, coding_matrix};
use crate::error::DesignError;
use multilevel_formula::ModelTerms;
use multilevel_frame::{ModelFrame, VariableValue};

/// A dense model matrix, column by column, with R's column names and `assign` attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMatrix {
    /// Columns, each of length `n` (the frame's rows).
    pub columns: Vec<Vec<f64>>,
    /// Column names (`(Intercept)`, `Days`, `x:fb`, `poly(x, 2)1`, `f.L`).
    pub names: Vec<String>,
    /// For each column, `0` for the intercept or `t + 1` for the column's term `t`
    /// (R's `assign` attribute).
    pub assign: Vec<usize>,
    /// `(Intercept)` followed by the term labels, so that `term_labels[assign[j]]` names the
    /// term of column `j`. Index 0 is `(Intercept)` even when the model has no intercept (then
    /// no column refers to it), so that `assign` equals R's.
    pub term_labels: Vec<String>,
}

impl ModelMatrix {
    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }
}

/// One evaluated variable of a term, resolved against the frame.
enum Resolved<'a> {
    Numeric(&'a [f64]),
    Matrix(&'a [Vec<f64>], &'a [String]),
    Factor(&'a [u32], &'a [String], multilevel_frame::Contrasts),
}

/// R's factor-pattern codes of the factors in each term (`terms.formula` + `model.matrix`):
/// `coding[t][v]` is `Some(coding)` for a factor variable `v` of term `t`.
///
/// A factor `F` in term `T` is coded by contrasts when `T` without `F` is empty or is contained
/// in a term that precedes `T`; otherwise by indicators of all levels. Without an intercept, the
/// first factor (in variable order) of the first term that has one is coded by indicators.
fn factor_codings(
    labels: &[Vec<String>],
    is_factor: &[Vec<bool>],
    intercept: bool,
) -> Vec<Vec<bool>> {
    // true = indicators (code 2), false = contrasts (code 1); meaningful for factors only
    let mut full: Vec<Vec<bool>> = Vec::with_capacity(labels.len());
    for (t, vars) in labels.iter().enumerate() {
        let mut row = Vec::with_capacity(vars.len());
        for (v, _) in vars.iter().enumerate() {
            let rest: Vec<&String> = vars
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != v)
                .map(|(_, s)| s)
                .collect();
            let margin_present = rest.is_empty()
                || labels
                    .iter()
                    .take(t)
                    .any(|prev| rest.iter().all(|r| prev.contains(r)));
            row.push(!margin_present);
        }
        full.push(row);
    }
    if !intercept {
        'outer: for (t, flags) in is_factor.iter().enumerate() {
            for (v, &f) in flags.iter().enumerate() {
                if f {
                    if let Some(x) = full.get_mut(t).and_then(|r| r.get_mut(v)) {
                        *x = true;
                    }
                    break 'outer;
                }
            }
        }
    }
    full
}

fn resolve<'a>(
    frame: &'a ModelFrame,
    label: &str,
    term: &str,
) -> Result<Resolved<'a>, DesignError> {
    let var = frame
        .variable(label)
        .ok_or_else(|| DesignError::MissingVariable {
            label: label.to_string(),
            term: term.to_string(),
        })?;
    let n = frame.n;
    let bad = |detail: String| DesignError::InconsistentVariable {
        label: label.to_string(),
        detail,
    };
    match &var.value {
        VariableValue::Numeric(v) => {
            if v.len() != n {
                return Err(bad(format!("{} values for {n} rows", v.len())));
            }
            Ok(Resolved::Numeric(v))
        }
        VariableValue::Matrix { columns, suffixes } => {
            if columns.len() != suffixes.len() || columns.iter().any(|c| c.len() != n) {
                return Err(bad(format!(
                    "matrix with {} columns/{} names, not all of length {n}",
                    columns.len(),
                    suffixes.len()
                )));
            }
            Ok(Resolved::Matrix(columns, suffixes))
        }
        VariableValue::Factor {
            codes,
            levels,
            contrasts,
            ..
        } => {
            if codes.len() != n {
                return Err(bad(format!("{} codes for {n} rows", codes.len())));
            }
            if codes.iter().any(|&c| c as usize >= levels.len()) {
                return Err(bad(format!("a level code ≥ the {} levels", levels.len())));
            }
            if levels.len() < 2 {
                return Err(DesignError::SingleLevelFactor {
                    label: label.to_string(),
                    term: term.to_string(),
                    nlevels: levels.len(),
                });
            }
            Ok(Resolved::Factor(codes, levels, *contrasts))
        }
    }
}

/// R's `model.matrix(terms, frame)`: the intercept column (if any) then each term's columns.
///
/// Column generation per term follows R:
/// - a numeric variable contributes its values, named by its label;
/// - a matrix variable (`poly(x, 2)`) one column per suffix, named label + suffix;
/// - a factor the columns of its coding matrix evaluated at each row's level, named label +
///   suffix; it is coded by its contrasts when the term without it is present earlier in the
///   model (or is empty), otherwise by indicators of all levels (see [`Coding`]);
/// - an interaction the products of its variables' columns, the FIRST variable varying
///   fastest, names joined by `:` (`x:fb`, `fb:gB`, `fc:gB`, …).
///
/// No rank check is done here (see [`crate::rank::kept_columns`]).
///
/// # Errors
/// A variable missing from the frame or inconsistent with it, or a factor with < 2 levels.
pub fn model_matrix(terms: &ModelTerms, frame: &ModelFrame) -> Result<ModelMatrix, DesignError> {
    let n = frame.n;
    let term_labels_only: Vec<String> = terms.terms.iter().map(|t| t.label()).collect();
    let var_labels: Vec<Vec<String>> = terms
        .terms
        .iter()
        .map(|t| t.variables.iter().map(|e| e.to_string()).collect())
        .collect();
    let mut resolved: Vec<Vec<Resolved<'_>>> = Vec::with_capacity(terms.terms.len());
    for (labels, term) in var_labels.iter().zip(&term_labels_only) {
        let mut row = Vec::with_capacity(labels.len());
        for l in labels {
            row.push(resolve(frame, l, term)?);
        }
        resolved.push(row);
    }
    let is_factor: Vec<Vec<bool>> = resolved
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| matches!(v, Resolved::Factor(..)))
                .collect()
        })
        .collect();
    let full = factor_codings(&var_labels, &is_factor, terms.intercept);
    check_size(&resolved, &full, &term_labels_only, terms.intercept, n)?;

    let mut out = ModelMatrix {
        columns: Vec::new(),
        names: Vec::new(),
        assign: Vec::new(),
        term_labels: std::iter::once("(Intercept)".to_string())
            .chain(term_labels_only.iter().cloned())
            .collect(),
    };
    if terms.intercept {
        out.columns.push(vec![1.0; n]);
        out.names.push("(Intercept)".to_string());
        out.assign.push(0);
    }
    for (t, vars) in resolved.iter().enumerate() {
        // Columns built so far for this term; `None` = the implicit all-ones start.
        let mut cols: Vec<Option<Vec<f64>>> = vec![None];
        let mut names: Vec<String> = vec![String::new()];
        for (v, var) in vars.iter().enumerate() {
            let label = var_labels
                .get(t)
                .and_then(|l| l.get(v))
                .map(String::as_str)
                .unwrap_or("");
            let (vcols, vnames) = variable_columns(var, label, full[t][v]);
            let mut new_cols = Vec::with_capacity(cols.len() * vcols.len());
            let mut new_names = Vec::with_capacity(cols.len() * vcols.len());
            for (vc, vn) in vcols.iter().zip(&vnames) {
                for (ec, en) in cols.iter().zip(&names) {
                    let col = match ec {
                        None => vc.clone(),
                        Some(e) => e.iter().zip(vc).map(|(a, b)| a * b).collect(),
                    };
                    new_cols.push(Some(col));
                    new_names.push(if en.is_empty() {
                        vn.clone()
                    } else {
                        format!("{en}:{vn}")
                    });
                }
            }
            cols = new_cols;
            names = new_names;
        }
        for (c, name) in cols.into_iter().zip(names) {
            out.columns.push(c.unwrap_or_else(|| vec![1.0; n]));
            out.names.push(name);
            out.assign.push(t + 1);
        }
    }
    Ok(out)
}

/// Largest number of cells (`n × columns`) of a dense model matrix: 2³¹ doubles = 16 GiB.
pub const MAX_CELLS: usize = 1 << 31;

/// Refuses, before allocating, a model matrix with more than [`MAX_CELLS`] cells (e.g. a
/// factor with 100 000 levels on a million rows), which would otherwise abort the process.
fn check_size(
    resolved: &[Vec<Resolved<'_>>],
    full: &[Vec<bool>],
    labels: &[String],
    intercept: bool,
    n: usize,
) -> Result<(), DesignError> {
    let mut total = usize::from(intercept);
    let mut largest = (0usize, "(Intercept)");
    for ((vars, codes), label) in resolved.iter().zip(full).zip(labels) {
        let mut cols = 1usize;
        for (var, &indicators) in vars.iter().zip(codes) {
            let m = match var {
                Resolved::Numeric(_) => 1,
                Resolved::Matrix(columns, _) => columns.len(),
                Resolved::Factor(_, levels, _) => levels.len() - usize::from(!indicators),
            };
            cols = cols.saturating_mul(m);
        }
        if cols > largest.0 {
            largest = (cols, label.as_str());
        }
        total = total.saturating_add(cols);
    }
    if total.saturating_mul(n) > MAX_CELLS {
        return Err(DesignError::TooLarge {
            n,
            columns: total,
            term: largest.1.to_string(),
            term_columns: largest.0,
        });
    }
    Ok(())
}

/// The columns (and names) one variable contributes to a term.
fn variable_columns(
    var: &Resolved<'_>,
    label: &str,
    indicators: bool,
) -> (Vec<Vec<f64>>, Vec<String>) {
    match var {
        Resolved::Numeric(v) => (vec![v.to_vec()], vec![label.to_string()]),
        Resolved::Matrix(columns, suffixes) => (
            columns.to_vec(),
            suffixes.iter().map(|s| format!("{label}{s}")).collect(),
        ),
        Resolved::Factor(codes, levels, contrasts) => {
            let coding = if indicators {
                Coding::Indicators
            } else {
                Coding::Contrasts(*contrasts)
            };
            let cm = coding_matrix(coding, levels);
            let cols = cm
                .columns
                .iter()
                .map(|c| {
                    codes
                        .iter()
                        .map(|&code| c.get(code as usize).copied().unwrap_or(0.0))
                        .collect()
                })
                .collect();
            let names = cm.suffixes.iter().map(|s| format!("{label}{s}")).collect();
            (cols, names)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::factor_codings;

    fn l(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|t| t.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn r_factor_pattern_rules() {
        // y ~ f + g + f:g : all contrasts
        let labels = l(&[&["f"], &["g"], &["f", "g"]]);
        let fac = vec![vec![true], vec![true], vec![true, true]];
        assert_eq!(
            factor_codings(&labels, &fac, true),
            vec![vec![false], vec![false], vec![false, false]]
        );
        // y ~ f:g : both indicators
        let labels = l(&[&["f", "g"]]);
        let fac = vec![vec![true, true]];
        assert_eq!(factor_codings(&labels, &fac, true), vec![vec![true, true]]);
        // y ~ f + f:g : f contrasts in f:g? f:g minus f = g (absent) → f indicators; g: f present → contrasts
        let labels = l(&[&["f"], &["f", "g"]]);
        let fac = vec![vec![true], vec![true, true]];
        assert_eq!(
            factor_codings(&labels, &fac, true),
            vec![vec![false], vec![true, false]]
        );
        // y ~ 0 + x + f : the first factor gets indicators
        let labels = l(&[&["x"], &["f"]]);
        let fac = vec![vec![false], vec![true]];
        assert_eq!(
            factor_codings(&labels, &fac, false),
            vec![vec![false], vec![true]]
        );
        // y ~ x + x:f (with intercept): x:f minus f = x present → contrasts
        let labels = l(&[&["x"], &["x", "f"]]);
        let fac = vec![vec![false], vec![false, true]];
        assert_eq!(
            factor_codings(&labels, &fac, true),
            vec![vec![false], vec![true, false]]
        );
    }
}
