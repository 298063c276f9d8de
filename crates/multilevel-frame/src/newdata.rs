//! The training frame's recipe applied to new data (what R's `predict` does with a model's
//! `terms`, its `xlevels` and the `predvars` of stateful transforms).
//!
//! Every variable of the formula is evaluated on the new data with the training data's
//! statistics: a factor is coded in the training frame's levels (a level the training frame
//! does not have is an error), `scale(x)` uses the training mean and standard deviation,
//! `cgm(x)` the training mean, and `poly(x, d)` the training points' orthonormal basis,
//! continued to new `x` by its three-term recurrence (R's `predict.poly`). Grouping factors are
//! coded in the training levels; an unseen level is an error unless allowed, then it has no
//! code (its random effect is zero, as lme4's `allow.new.levels = TRUE`). A row with a missing
//! value in any variable it needs is listed, not dropped silently.

use multilevel_formula::{BinOp, Expr, Formula};

use crate::data::{Column, DataFrame, Factor, numeric_to_factor};
use crate::error::{FrameError, list_columns, suggestion};
use crate::eval::{Evaluator, Value, constant, orthopoly};
use crate::frame::{FrameVariable, ModelFrame, VariableValue};

/// Options of [`new_data_frame`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewDataOptions {
    /// Give a grouping-factor level that the training data do not have no code (a zero random
    /// effect) instead of an error (lme4's `allow.new.levels`).
    pub allow_new_levels: bool,
}

/// Errors of [`new_data_frame`]: one line naming the data, the column or level, with a hint.
#[derive(Debug, thiserror::Error)]
pub enum NewDataError {
    /// The new data lack a column the formula uses.
    #[error(
        "{data}: no column `{column}`, which the formula uses{suggestion}; hint: the new data need every column of the model's right-hand side (the columns are {available})"
    )]
    MissingColumn {
        /// Name of the new data.
        data: String,
        /// The missing column.
        column: String,
        /// `; did you mean …?` or empty.
        suggestion: String,
        /// The new data's columns.
        available: String,
    },
    /// A factor value of the new data that is not a level of the training frame.
    #[error(
        "{data}, {location}: `{variable}` has the level \"{level}\", which the model's data do not have (levels: {levels}); hint: a fixed-effect factor can only take the levels it was fitted with"
    )]
    NewFactorLevel {
        /// Name of the new data.
        data: String,
        /// Row of the first such value.
        location: String,
        /// The factor variable.
        variable: String,
        /// The unseen level.
        level: String,
        /// The training levels (abbreviated).
        levels: String,
    },
    /// A grouping-factor level the training data do not have, not allowed.
    #[error(
        "{data}, {location}: the grouping factor `{group}` has the level \"{level}\", which the model's data do not have; hint: allow new levels to predict it with a zero random effect (the population level for that group)"
    )]
    NewGroupLevel {
        /// Name of the new data.
        data: String,
        /// Row of the first such value.
        location: String,
        /// The grouping factor's label (`Subject`, `cask:batch`).
        group: String,
        /// The unseen level.
        level: String,
    },
    /// A variable that is numeric in one data set and a factor in the other.
    #[error(
        "{data}: `{variable}` is {new_kind} in the new data but {train_kind} in the model's data; hint: give the column the same type in both files"
    )]
    KindMismatch {
        /// Name of the new data.
        data: String,
        /// The variable.
        variable: String,
        /// Its kind in the new data.
        new_kind: &'static str,
        /// Its kind in the training frame.
        train_kind: &'static str,
    },
    /// A transform whose training statistics cannot be carried to new data.
    #[error(
        "{data}: `{expression}` cannot be evaluated on new data: {reason}; hint: compute the column in both data files and use it directly"
    )]
    Unsupported {
        /// Name of the new data.
        data: String,
        /// The expression.
        expression: String,
        /// Why.
        reason: String,
    },
    /// An evaluation error of the frame layer.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// New data through a training frame's recipe: see [`new_data_frame`].
#[derive(Debug, Clone)]
pub struct NewFrame {
    /// Number of rows of the new data.
    pub nrows: usize,
    /// The new-data rows (0-based) on which every needed variable is present, in order.
    pub rows: Vec<usize>,
    /// The new-data rows (0-based) with a missing value in a needed variable.
    pub missing_rows: Vec<usize>,
    /// The variables on [`NewFrame::rows`], factors coded in the training levels with the
    /// training contrasts, and the offset; no response and no grouping factors (they are in
    /// [`NewFrame::groups`]). `model_matrix` of the design crate reads it as a model frame.
    pub frame: ModelFrame,
    /// Per grouping label of the formula's random terms: the training level code of each row
    /// of [`NewFrame::rows`], `None` for a level the training data do not have.
    pub groups: Vec<(String, Vec<Option<u32>>)>,
}

/// Evaluate `formula`'s variables (fixed terms, the left sides and grouping factors of its
/// random terms, offsets; not the response) on `new` with the statistics of the training data
/// `train` and the levels and contrasts of its model frame `train_frame` (see the module's
/// docs). Pass a formula with only the random terms whose effects are wanted.
///
/// # Errors
/// A column the formula uses is missing from `new`; a factor level or (unless allowed) a
/// grouping level the training frame does not have; a variable numeric in one data set and a
/// factor in the other; `gm()`/`cwc()` (group means of the training data) on new data; the
/// evaluation errors of the frame layer.
pub fn new_data_frame(
    formula: &Formula,
    train: &DataFrame,
    train_frame: &ModelFrame,
    new: &DataFrame,
    opts: &NewDataOptions,
) -> Result<NewFrame, NewDataError> {
    let data = new.name().to_string();
    let names = new.column_names();
    let mut needed: Vec<String> = Vec::new();
    let exprs = variable_exprs(formula);
    for e in exprs.iter().chain(&formula.offsets) {
        needed.extend(e.variables());
    }
    for rt in &formula.random {
        needed.extend(rt.group.iter().cloned());
    }
    for v in &needed {
        if new.column(v).is_none() && constant(v).is_none() {
            return Err(NewDataError::MissingColumn {
                data,
                column: v.clone(),
                suggestion: suggestion(v, &names),
                available: list_columns(&names),
            });
        }
    }
    let nrows = new.nrows();
    let ev = Evaluator { data: new };
    let ctx = Context {
        train: Evaluator { data: train },
        new: &ev,
        data: &data,
    };

    // ---- variables, with training statistics; factors in training levels ----
    let mut values: Vec<(String, NewValue)> = Vec::with_capacity(exprs.len());
    for e in &exprs {
        let label = e.to_string();
        let Some(tv) = train_frame.variable(&label) else {
            return Err(NewDataError::Frame(FrameError::Data(
                train.unknown_column_error(&label),
            )));
        };
        values.push((label.clone(), ctx.variable(e, &label, &tv.value)?));
    }
    let mut offsets: Vec<Vec<Option<f64>>> = Vec::new();
    for e in &formula.offsets {
        match ctx.new.eval(&ctx.rewrite(e)?)? {
            Value::Num(v) => offsets.push(v),
            Value::Scalar(x) => offsets.push(vec![x; nrows]),
            _ => {
                return Err(NewDataError::Unsupported {
                    data,
                    expression: format!("offset({e})"),
                    reason: "an offset must be numeric".into(),
                });
            }
        }
    }

    // ---- grouping factors in training levels ----
    let mut groups: Vec<(String, Vec<Option<Option<u32>>>)> = Vec::new();
    for rt in &formula.random {
        if groups.iter().any(|(l, _)| *l == rt.group_label) {
            continue;
        }
        let train_levels = match train_frame.group(&rt.group_label) {
            Some(VariableValue::Factor { levels, .. }) => levels,
            _ => {
                return Err(NewDataError::Frame(FrameError::Data(
                    train.unknown_column_error(&rt.group_label),
                )));
            }
        };
        let parts: Vec<Factor> = rt
            .group
            .iter()
            .map(|g| match new.column(g) {
                Some(Column::Factor(f)) => f.clone(),
                Some(Column::Numeric(v)) => numeric_to_factor(v),
                None => Factor {
                    codes: vec![None; nrows],
                    levels: Vec::new(),
                    ordered: false,
                },
            })
            .collect();
        let mut codes = Vec::with_capacity(nrows);
        for r in 0..nrows {
            let labels: Option<Vec<&str>> = parts.iter().map(|f| f.label(r)).collect();
            let Some(labels) = labels else {
                // A missing grouping value: like an unseen level when new levels are allowed
                // (lme4 then predicts at the population level), otherwise a missing value.
                codes.push(opts.allow_new_levels.then_some(None));
                continue;
            };
            let label = labels.join(":");
            match train_levels.iter().position(|l| *l == label) {
                Some(c) => codes.push(Some(Some(c as u32))),
                None if opts.allow_new_levels => codes.push(Some(None)),
                None => {
                    return Err(NewDataError::NewGroupLevel {
                        data,
                        location: new.location(r).to_string(),
                        group: rt.group_label.clone(),
                        level: label,
                    });
                }
            }
        }
        groups.push((rt.group_label.clone(), codes));
    }

    // ---- complete rows ----
    let mut rows = Vec::with_capacity(nrows);
    let mut missing_rows = Vec::new();
    for r in 0..nrows {
        let ok = values.iter().all(|(_, v)| v.present(r))
            && offsets
                .iter()
                .all(|o| o.get(r).is_some_and(|x| x.is_some()))
            && groups
                .iter()
                .all(|(_, c)| c.get(r).is_some_and(Option::is_some));
        if ok {
            rows.push(r);
        } else {
            missing_rows.push(r);
        }
    }
    let pick = |v: &[Option<f64>]| -> Vec<f64> {
        rows.iter()
            .map(|&r| v.get(r).copied().flatten().unwrap_or(f64::NAN))
            .collect()
    };
    let variables = values
        .iter()
        .map(|(label, v)| FrameVariable {
            label: label.clone(),
            value: match v {
                NewValue::Numeric(x) => VariableValue::Numeric(pick(x)),
                NewValue::Matrix { columns, suffixes } => VariableValue::Matrix {
                    columns: columns.iter().map(|c| pick(c)).collect(),
                    suffixes: suffixes.clone(),
                },
                NewValue::Factor {
                    codes,
                    levels,
                    ordered,
                    contrasts,
                } => VariableValue::Factor {
                    codes: rows
                        .iter()
                        .map(|&r| codes.get(r).copied().flatten().unwrap_or(0))
                        .collect(),
                    levels: levels.clone(),
                    ordered: *ordered,
                    contrasts: *contrasts,
                },
            },
        })
        .collect();
    let offset = (!offsets.is_empty()).then(|| {
        let mut total = vec![0.0; rows.len()];
        for o in &offsets {
            total.iter_mut().zip(pick(o)).for_each(|(t, x)| *t += x);
        }
        total
    });
    let groups = groups
        .into_iter()
        .map(|(label, c)| {
            let codes = rows
                .iter()
                .map(|&r| c.get(r).copied().flatten().flatten())
                .collect();
            (label, codes)
        })
        .collect();
    let frame = ModelFrame {
        data_name: data,
        n: rows.len(),
        response_label: None,
        response: None,
        variables,
        groups: Vec::new(),
        weights: None,
        offset,
        dropped_rows: missing_rows.clone(),
        rows: rows.clone(),
    };
    Ok(NewFrame {
        nrows,
        rows,
        missing_rows,
        frame,
        groups,
    })
}

/// The distinct variables of the fixed terms and of the random terms' left sides, in the
/// order the model frame keeps them.
fn variable_exprs(formula: &Formula) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let terms = formula
        .fixed
        .terms
        .iter()
        .chain(formula.random.iter().flat_map(|r| r.lhs.terms.iter()));
    for t in terms {
        for v in &t.variables {
            let label = v.to_string();
            if !seen.contains(&label) {
                seen.push(label);
                out.push(v.clone());
            }
        }
    }
    out
}

/// A variable evaluated on every new-data row.
enum NewValue {
    Numeric(Vec<Option<f64>>),
    Matrix {
        columns: Vec<Vec<Option<f64>>>,
        suffixes: Vec<String>,
    },
    Factor {
        codes: Vec<Option<u32>>,
        levels: Vec<String>,
        ordered: bool,
        contrasts: crate::data::Contrasts,
    },
}

impl NewValue {
    fn present(&self, r: usize) -> bool {
        match self {
            NewValue::Numeric(v) => v.get(r).is_some_and(Option::is_some),
            NewValue::Matrix { columns, .. } => columns
                .iter()
                .all(|c| c.get(r).is_some_and(Option::is_some)),
            NewValue::Factor { codes, .. } => codes.get(r).is_some_and(Option::is_some),
        }
    }
}

struct Context<'a> {
    train: Evaluator<'a>,
    new: &'a Evaluator<'a>,
    data: &'a str,
}

impl Context<'_> {
    /// One variable on the new data, shaped like its training value.
    fn variable(
        &self,
        e: &Expr,
        label: &str,
        train: &VariableValue,
    ) -> Result<NewValue, NewDataError> {
        let kind = |v: &Value| match v {
            Value::Factor { .. } => "a factor",
            _ => "numeric",
        };
        match train {
            VariableValue::Matrix { suffixes, .. } => {
                let (x, degree) = self.poly_args(e)?;
                let tx = match self.train.eval(&self.rewrite(x)?)? {
                    Value::Num(v) => v.into_iter().collect::<Option<Vec<f64>>>(),
                    _ => None,
                };
                let nx = match self.new.eval(&self.rewrite(x)?)? {
                    Value::Num(v) => v,
                    other => {
                        return Err(NewDataError::KindMismatch {
                            data: self.data.to_string(),
                            variable: x.to_string(),
                            new_kind: kind(&other),
                            train_kind: "numeric",
                        });
                    }
                };
                let Some(tx) = tx else {
                    return Err(self.unsupported(e, "the model's data have missing values in it"));
                };
                let columns = poly_predict(&tx, degree, &nx);
                if columns.len() != suffixes.len() {
                    return Err(self.unsupported(e, "its columns differ from the model's"));
                }
                Ok(NewValue::Matrix {
                    columns,
                    suffixes: suffixes.clone(),
                })
            }
            VariableValue::Numeric(_) => match self.new.eval(&self.rewrite(e)?)? {
                Value::Num(v) => Ok(NewValue::Numeric(v)),
                Value::Scalar(x) => Ok(NewValue::Numeric(vec![x; self.new.data.nrows()])),
                other => Err(NewDataError::KindMismatch {
                    data: self.data.to_string(),
                    variable: label.to_string(),
                    new_kind: kind(&other),
                    train_kind: "numeric",
                }),
            },
            VariableValue::Factor {
                levels,
                ordered,
                contrasts,
                ..
            } => {
                let factor = match self.new.eval(&self.rewrite(e)?)? {
                    Value::Factor { factor, .. } => factor,
                    Value::Num(v) => numeric_to_factor(&v),
                    other => {
                        return Err(NewDataError::KindMismatch {
                            data: self.data.to_string(),
                            variable: label.to_string(),
                            new_kind: kind(&other),
                            train_kind: "a factor",
                        });
                    }
                };
                let map: Vec<Option<u32>> = factor
                    .levels
                    .iter()
                    .map(|l| levels.iter().position(|t| t == l).map(|p| p as u32))
                    .collect();
                let mut codes = Vec::with_capacity(factor.codes.len());
                for (r, c) in factor.codes.iter().enumerate() {
                    match c {
                        None => codes.push(None),
                        Some(c) => match map.get(*c as usize).copied().flatten() {
                            Some(t) => codes.push(Some(t)),
                            None => {
                                return Err(NewDataError::NewFactorLevel {
                                    data: self.data.to_string(),
                                    location: self.new.data.location(r).to_string(),
                                    variable: label.to_string(),
                                    level: factor.label(r).unwrap_or("").to_string(),
                                    levels: abbreviate_levels(levels),
                                });
                            }
                        },
                    }
                }
                Ok(NewValue::Factor {
                    codes,
                    levels: levels.clone(),
                    ordered: *ordered,
                    contrasts: *contrasts,
                })
            }
        }
    }

    fn unsupported(&self, e: &Expr, reason: &str) -> NewDataError {
        NewDataError::Unsupported {
            data: self.data.to_string(),
            expression: e.to_string(),
            reason: reason.to_string(),
        }
    }

    /// `poly(x, d)`'s argument and degree (the training frame already checked them).
    fn poly_args<'e>(&self, e: &'e Expr) -> Result<(&'e Expr, usize), NewDataError> {
        match e {
            Expr::Call { name, args } if name == "poly" => match args.as_slice() {
                [x] => Ok((x, 1)),
                [x, Expr::Num(d)] if d.fract() == 0.0 && *d >= 1.0 => Ok((x, *d as usize)),
                _ => Err(self.unsupported(e, "poly() needs a column and a degree")),
            },
            _ => Err(self.unsupported(e, "a multi-column variable other than poly()")),
        }
    }

    /// `e` with its stateful transforms replaced by their training-data values:
    /// `scale(x)` → `(x − m)/s`, `cgm(x)` → `x − m` with the training mean `m` and standard
    /// deviation `s` of `x` (over all training rows, as the training frame computed them).
    fn rewrite(&self, e: &Expr) -> Result<Expr, NewDataError> {
        Ok(match e {
            Expr::Var(_) | Expr::Num(_) => e.clone(),
            Expr::Neg(inner) => Expr::Neg(Box::new(self.rewrite(inner)?)),
            Expr::Binary { op, lhs, rhs } => Expr::Binary {
                op: *op,
                lhs: Box::new(self.rewrite(lhs)?),
                rhs: Box::new(self.rewrite(rhs)?),
            },
            Expr::Call { name, args } => match (name.as_str(), args.as_slice()) {
                ("scale" | "cgm", [x]) => {
                    let inner = self.rewrite(x)?;
                    let present: Vec<f64> = match self.train.eval(&inner)? {
                        Value::Num(v) => v.into_iter().flatten().collect(),
                        _ => return Err(self.unsupported(e, "its argument is not a column")),
                    };
                    let m = present.len() as f64;
                    let mean = present.iter().sum::<f64>() / m;
                    let centred = Expr::Binary {
                        op: BinOp::Sub,
                        lhs: Box::new(inner),
                        rhs: Box::new(Expr::Num(mean)),
                    };
                    if name == "cgm" {
                        centred
                    } else {
                        let ss: f64 = present.iter().map(|v| (v - mean) * (v - mean)).sum();
                        Expr::Binary {
                            op: BinOp::Div,
                            lhs: Box::new(centred),
                            rhs: Box::new(Expr::Num((ss / (m - 1.0)).sqrt())),
                        }
                    }
                }
                ("gm" | "cwc", _) => {
                    return Err(self.unsupported(
                        e,
                        "it uses the group means of the model's data, which new groups do not have",
                    ));
                }
                _ => Expr::Call {
                    name: name.clone(),
                    args: args
                        .iter()
                        .map(|a| self.rewrite(a))
                        .collect::<Result<_, _>>()?,
                },
            },
        })
    }
}

fn abbreviate_levels(levels: &[String]) -> String {
    let shown: Vec<&str> = levels.iter().take(8).map(String::as_str).collect();
    if levels.len() > 8 {
        format!("{}, … ({} in all)", shown.join(", "), levels.len())
    } else {
        shown.join(", ")
    }
}

/// R's `predict(poly(x_train, degree), x_new)`: the orthonormal polynomials of the training
/// points, evaluated at new points by their three-term recurrence
/// `b_j q_j(x) = (x − a_j) q_{j−1}(x) − b_{j−1} q_{j−2}(x)`, `q_0 = 1/√n`, with
/// `a_j = Σ x q_{j−1}²` and `b_j = Σ x q_{j−1} q_j` read off the training basis (the
/// recurrence of any family of polynomials orthonormal over the training points). Missing
/// new values stay missing.
pub fn poly_predict(
    train_x: &[f64],
    degree: usize,
    new_x: &[Option<f64>],
) -> Vec<Vec<Option<f64>>> {
    let n = train_x.len();
    let q0 = 1.0 / (n as f64).sqrt();
    let mut basis = vec![vec![q0; n]];
    basis.extend(orthopoly(train_x, degree));
    let dot3 = |a: &[f64], b: &[f64]| -> f64 {
        train_x
            .iter()
            .zip(a.iter().zip(b))
            .map(|(x, (p, q))| x * p * q)
            .sum()
    };
    let a: Vec<f64> = (1..=degree)
        .map(|j| dot3(&basis[j - 1], &basis[j - 1]))
        .collect();
    let b: Vec<f64> = (1..=degree)
        .map(|j| dot3(&basis[j - 1], &basis[j]))
        .collect();
    let mut out: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(new_x.len()); degree];
    for x in new_x {
        let Some(x) = *x else {
            out.iter_mut().for_each(|c| c.push(None));
            continue;
        };
        let (mut prev2, mut prev) = (0.0, q0);
        for j in 0..degree {
            let back = if j == 0 { 0.0 } else { b[j - 1] * prev2 };
            let q = ((x - a[j]) * prev - back) / b[j];
            out[j].push(Some(q));
            prev2 = prev;
            prev = q;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn poly_predict_reproduces_the_training_basis() {
        let x = [0.3, 1.7, 2.2, 5.0, 5.1, 8.4, 9.9, 10.0, 12.5];
        let basis = orthopoly(&x, 4);
        let new: Vec<Option<f64>> = x.iter().map(|v| Some(*v)).collect();
        let p = poly_predict(&x, 4, &new);
        for (col, want) in p.iter().zip(&basis) {
            for (a, b) in col.iter().zip(want) {
                assert!((a.unwrap() - b).abs() < 1e-10, "{a:?} vs {b}");
            }
        }
        let p = poly_predict(&x, 2, &[None, Some(3.0)]);
        assert_eq!(p[0][0], None);
        assert!(p[1][1].is_some());
    }
}
