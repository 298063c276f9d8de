//! lme4-style model frames: the evaluated variables of a formula on the complete-case rows.

use std::collections::BTreeMap;

use multilevel_formula::{Expr, Formula, FormulaError, Response};

use crate::data::{Column, Contrasts, DataFrame, Factor, numeric_to_factor};
use crate::error::{FrameError, list_columns, suggestion};
use crate::eval::{Evaluator, Value, constant};
use crate::rnum::format_r_number;

/// Options for building a [`ModelFrame`].
#[derive(Debug, Clone, Default)]
pub struct FrameOptions {
    /// Column name of the prior weights (R's `weights =`), if any.
    pub weights: Option<String>,
    /// Contrasts per factor variable (keyed by the variable's label, i.e. the column name for a
    /// plain factor column); default [`Contrasts::Treatment`], [`Contrasts::Poly`] for ordered
    /// factors. Names that are not factor variables of the formula are ignored.
    pub contrasts: BTreeMap<String, Contrasts>,
    /// Further data columns that are not in the formula but whose missing values drop a row
    /// like any variable of the model (R's extra `model.frame` arguments, e.g. the cluster
    /// `id =` of a GEE or of a cluster-robust covariance).
    pub required_columns: Vec<String>,
}

/// Values of one evaluated formula variable on the complete-case rows.
#[derive(Debug, Clone, PartialEq)]
pub enum VariableValue {
    /// One number per row.
    Numeric(Vec<f64>),
    /// Multi-column variables, e.g. `poly(x, 2)`: column names are label + suffix
    /// (`poly(x, 2)1`).
    Matrix {
        /// The columns, each of length `n`.
        columns: Vec<Vec<f64>>,
        /// Suffix of each column's name.
        suffixes: Vec<String>,
    },
    /// A factor with no missing codes; unused levels dropped (lme4 uses
    /// `drop.unused.levels = TRUE`).
    Factor {
        /// Level code of each row.
        codes: Vec<u32>,
        /// Level labels (only levels that occur).
        levels: Vec<String>,
        /// Whether the factor is ordered.
        ordered: bool,
        /// How the factor is coded in `X`.
        contrasts: Contrasts,
    },
}

/// One evaluated variable of the formula.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameVariable {
    /// The expression as R deparses it: `log(x)`, `f`, `I(age^2)`.
    pub label: String,
    /// Its values on the model-frame rows.
    pub value: VariableValue,
}

/// The response on the model-frame rows.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseValues {
    /// A numeric response.
    Numeric(Vec<f64>),
    /// Binomial counts `cbind(successes, failures)`.
    Cbind {
        /// Successes per row.
        successes: Vec<f64>,
        /// Failures per row.
        failures: Vec<f64>,
    },
    /// A factor response (binomial with two levels: second level = success). The fitting layer
    /// decides.
    Factor {
        /// Level code of each row.
        codes: Vec<u32>,
        /// Level labels (only levels that occur).
        levels: Vec<String>,
    },
}

/// An lme4-style model frame: every variable a formula uses, evaluated on the data and
/// restricted to the complete-case rows.
///
/// A row is dropped (R's `na.omit`) when the response, any fixed or random-term variable, any
/// grouping factor, the weights or an offset is missing on it. Expressions are evaluated on the
/// full data first (so `scale(x)` and `poly(x, k)` use all rows, as in R).
#[derive(Debug, Clone)]
pub struct ModelFrame {
    /// Name of the data (file or data set).
    pub data_name: String,
    /// Number of complete-case rows.
    pub n: usize,
    /// Response label (`Reaction`, `log(y)`, `cbind(incidence, size - incidence)`).
    pub response_label: Option<String>,
    /// Response values.
    pub response: Option<ResponseValues>,
    /// Every distinct variable of the fixed terms and of the random terms' left sides, in
    /// order of first use (fixed terms first).
    pub variables: Vec<FrameVariable>,
    /// One factor per distinct random-term grouping label (`Subject`, `cask:batch`).
    pub groups: Vec<(String, VariableValue)>,
    /// Prior weights.
    pub weights: Option<Vec<f64>>,
    /// Sum of the `offset()` terms.
    pub offset: Option<Vec<f64>>,
    /// 0-based indices (in the data) of the rows dropped for missing values.
    pub dropped_rows: Vec<usize>,
    /// 0-based data row index of each model-frame row.
    pub rows: Vec<usize>,
}

/// An evaluated item awaiting row selection, with the label used in messages.
struct Pending {
    label: String,
    value: Value,
}

/// Whether `value` is present on row `i`.
fn present(value: &Value, i: usize) -> bool {
    match value {
        Value::Scalar(x) => x.is_some(),
        Value::Num(v) => v.get(i).is_some_and(Option::is_some),
        Value::Factor { factor, .. } => factor.codes.get(i).is_some_and(Option::is_some),
        Value::Matrix { columns, .. } => columns
            .iter()
            .all(|c| c.get(i).is_some_and(Option::is_some)),
    }
}

/// Subset a factor to `rows` and drop unused levels (keeping level order).
fn subset_factor(f: &Factor, rows: &[usize]) -> (Vec<u32>, Vec<String>) {
    let mut used = vec![false; f.levels.len()];
    let raw: Vec<u32> = rows
        .iter()
        .map(|&r| f.codes.get(r).copied().flatten().unwrap_or(0))
        .collect();
    for &c in &raw {
        if let Some(u) = used.get_mut(c as usize) {
            *u = true;
        }
    }
    let mut remap = vec![0u32; f.levels.len()];
    let mut levels = Vec::new();
    for (i, l) in f.levels.iter().enumerate() {
        if used[i] {
            remap[i] = levels.len() as u32;
            levels.push(l.clone());
        }
    }
    let codes = raw
        .into_iter()
        .map(|c| remap.get(c as usize).copied().unwrap_or(0))
        .collect();
    (codes, levels)
}

/// R's `interaction(a, b, drop = TRUE)` of two complete factors of equal length: levels are the
/// observed combinations `"la:lb"`, ordered with the first factor varying fastest.
pub fn interaction(a: (&[u32], &[String]), b: (&[u32], &[String])) -> (Vec<u32>, Vec<String>) {
    interaction_ordered(a, b, false)
}

/// The grouping factor `a:b` of a random-effects term as lme4 builds it
/// (`interaction(a, b, drop = TRUE, lex.order = TRUE)`): observed combinations `"la:lb"`,
/// ordered with the first factor varying slowest (`A:1`, `A:2`, …, `B:1`, …).
pub fn interaction_lex(a: (&[u32], &[String]), b: (&[u32], &[String])) -> (Vec<u32>, Vec<String>) {
    interaction_ordered(a, b, true)
}

fn interaction_ordered(
    a: (&[u32], &[String]),
    b: (&[u32], &[String]),
    lex: bool,
) -> (Vec<u32>, Vec<String>) {
    let na = a.1.len() as u64;
    let nb = b.1.len() as u64;
    // Keys are always a-code + na·b-code (decodable); lexical order sorts by (a, b) instead.
    let keys: Vec<u64> =
        a.0.iter()
            .zip(b.0)
            .map(|(&ca, &cb)| u64::from(cb) * na + u64::from(ca))
            .collect();
    let sort_key = |k: u64| -> u64 {
        if lex {
            (k % na.max(1)) * nb.max(1) + k / na.max(1)
        } else {
            k
        }
    };
    let mut uniq = keys.clone();
    uniq.sort_unstable_by_key(|&k| sort_key(k));
    uniq.dedup();
    let codes = keys
        .iter()
        .map(|&k| {
            uniq.binary_search_by_key(&sort_key(k), |&u| sort_key(u))
                .map_or(0, |p| p as u32)
        })
        .collect();
    let levels = uniq
        .iter()
        .map(|k| {
            let la = a.1.get((k % na.max(1)) as usize).map_or("", String::as_str);
            let lb = b.1.get((k / na.max(1)) as usize).map_or("", String::as_str);
            format!("{la}:{lb}")
        })
        .collect();
    (codes, levels)
}

impl ModelFrame {
    /// Evaluate `formula` on `data` (see the type's docs).
    ///
    /// Errors (one line each, naming data, row/line, column or expression, with a hint): an
    /// unknown column (nearest column suggested), a factor in arithmetic, a non-finite value
    /// from evaluation on a kept row, a missing or non-numeric or negative weights column, no
    /// rows left, a grouping factor with one level, a constant numeric response.
    pub fn new(
        formula: &Formula,
        data: &DataFrame,
        opts: &FrameOptions,
    ) -> Result<Self, FrameError> {
        let data_name = data.name().to_string();
        let names = data.column_names();

        // ---- every name must be a column (or an R constant) ----
        for v in formula.variables() {
            if data.column(&v).is_none() && constant(&v).is_none() {
                let fe = FormulaError::unknown_column(&formula.text, &v, &names);
                return Err(FrameError::UnknownColumn {
                    data: data_name,
                    message: fe.message,
                    formula: fe.formula,
                    column: fe.column,
                    hint: match data.separator_note() {
                        Some(note) => format!("; hint: {note}"),
                        None => fe.hint.map(|h| format!("; hint: {h}")).unwrap_or_else(|| {
                            format!("; hint: the columns are {}", list_columns(&names))
                        }),
                    },
                });
            }
        }

        // ---- weights column ----
        let weights_col: Option<(&str, &Vec<Option<f64>>)> = match &opts.weights {
            None => None,
            Some(w) => match data.column(w) {
                Some(Column::Numeric(v)) => Some((w.as_str(), v)),
                Some(Column::Factor(_)) => {
                    return Err(FrameError::WeightsNotNumeric {
                        data: data_name,
                        column: w.clone(),
                    });
                }
                None => {
                    return Err(FrameError::WeightsNotFound {
                        data: data_name,
                        column: w.clone(),
                        suggestion: suggestion(w, &names),
                        available: list_columns(&names),
                    });
                }
            },
        };

        let ev = Evaluator { data };
        let nrows = data.nrows();

        // ---- response ----
        let (response_label, response_parts): (Option<String>, Vec<Pending>) = match &formula
            .response
        {
            None => (None, Vec::new()),
            Some(Response::Expr(e)) => {
                let value = ev.eval(e)?;
                if matches!(value, Value::Matrix { .. }) {
                    return Err(FrameError::WrongKind {
                        data: data_name,
                        expression: e.to_string(),
                        role: "the response".into(),
                        hint: "the response must be one numeric column, a factor or cbind(successes, failures)".into(),
                    });
                }
                let label = e.to_string();
                (Some(label.clone()), vec![Pending { label, value }])
            }
            Some(
                r @ Response::Cbind {
                    successes,
                    failures,
                },
            ) => {
                let mut parts = Vec::new();
                for e in [successes, failures] {
                    let value = ev.eval(e)?;
                    match value {
                        Value::Num(_) | Value::Scalar(_) => parts.push(Pending {
                            label: e.to_string(),
                            value,
                        }),
                        Value::Factor { factor, source } => {
                            return Err(ev.not_numeric(&factor, &source, e));
                        }
                        Value::Matrix { .. } => {
                            return Err(FrameError::WrongKind {
                                data: data_name,
                                expression: e.to_string(),
                                role: "a column of cbind()".into(),
                                hint: "cbind(successes, failures) takes two numeric columns".into(),
                            });
                        }
                    }
                }
                (Some(r.to_expr().to_string()), parts)
            }
        };

        // ---- fixed and random-term variables, distinct by label ----
        let mut var_exprs: Vec<&Expr> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let all_terms = formula
            .fixed
            .terms
            .iter()
            .chain(formula.random.iter().flat_map(|r| r.lhs.terms.iter()));
        for t in all_terms {
            for v in &t.variables {
                let label = v.to_string();
                if !seen.contains(&label) {
                    seen.push(label);
                    var_exprs.push(v);
                }
            }
        }
        let mut vars: Vec<Pending> = Vec::with_capacity(var_exprs.len());
        for (e, label) in var_exprs.iter().zip(seen) {
            vars.push(Pending {
                label,
                value: ev.eval(e)?,
            });
        }

        // ---- offsets ----
        let mut offsets: Vec<Pending> = Vec::new();
        for e in &formula.offsets {
            let value = ev.eval(e)?;
            match value {
                Value::Num(_) | Value::Scalar(_) => offsets.push(Pending {
                    label: format!("offset({e})"),
                    value,
                }),
                Value::Factor { factor, source } => return Err(ev.not_numeric(&factor, &source, e)),
                Value::Matrix { .. } => {
                    return Err(FrameError::WrongKind {
                        data: data_name,
                        expression: e.to_string(),
                        role: "an offset".into(),
                        hint: "an offset must be one numeric column".into(),
                    });
                }
            }
        }

        // ---- grouping factors (distinct labels), each column made a factor ----
        let mut group_specs: Vec<(String, Vec<(String, Factor)>)> = Vec::new();
        for rt in &formula.random {
            if group_specs.iter().any(|(l, _)| *l == rt.group_label) {
                continue;
            }
            let mut parts = Vec::new();
            for g in &rt.group {
                let f = match data.column(g) {
                    Some(Column::Factor(f)) => f.clone(),
                    Some(Column::Numeric(v)) => numeric_to_factor(v),
                    None => return Err(FrameError::Data(data.unknown_column_error(g))),
                };
                parts.push((g.clone(), f));
            }
            group_specs.push((rt.group_label.clone(), parts));
        }

        // ---- complete cases ----
        let mut checks: Vec<(String, &Value)> = Vec::new();
        let weights_value = weights_col.map(|(w, v)| (w, Value::Num(v.clone())));
        for p in response_parts.iter().chain(&vars).chain(&offsets) {
            checks.push((p.label.clone(), &p.value));
        }
        let group_values: Vec<(String, Value)> = group_specs
            .iter()
            .flat_map(|(_, parts)| parts.iter())
            .map(|(g, f)| {
                (
                    g.clone(),
                    Value::Factor {
                        factor: f.clone(),
                        source: g.clone(),
                    },
                )
            })
            .collect();
        for (g, v) in &group_values {
            checks.push((g.clone(), v));
        }
        let required_values = opts
            .required_columns
            .iter()
            .map(|c| match data.column(c) {
                Some(Column::Numeric(v)) => Ok((c.clone(), Value::Num(v.clone()))),
                Some(Column::Factor(f)) => Ok((
                    c.clone(),
                    Value::Factor {
                        factor: f.clone(),
                        source: c.clone(),
                    },
                )),
                None => Err(FrameError::Data(data.unknown_column_error(c))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (c, v) in &required_values {
            checks.push((c.clone(), v));
        }
        if let Some((w, v)) = &weights_value {
            checks.push(((*w).to_string(), v));
        }
        let mut rows = Vec::with_capacity(nrows);
        let mut dropped_rows = Vec::new();
        for i in 0..nrows {
            if checks.iter().all(|(_, v)| present(v, i)) {
                rows.push(i);
            } else {
                dropped_rows.push(i);
            }
        }
        if rows.is_empty() {
            let mut detail: Vec<String> = Vec::new();
            for (label, v) in &checks {
                let miss = (0..nrows).filter(|&i| !present(v, i)).count();
                if miss > 0 && !detail.iter().any(|d| d.starts_with(&format!("`{label}` "))) {
                    detail.push(format!("`{label}` {miss}"));
                }
            }
            if nrows == 0 {
                detail.push("the data has no rows".into());
            }
            return Err(FrameError::AllRowsDropped {
                data: data_name,
                nrows,
                detail: detail.join(", "),
            });
        }
        let n = rows.len();

        // ---- numeric values on the kept rows, rejecting non-finite results ----
        let finite = |label: &str, v: &[Option<f64>]| -> Result<Vec<f64>, FrameError> {
            let mut out = Vec::with_capacity(n);
            for &r in &rows {
                let x = v.get(r).copied().flatten().unwrap_or(f64::NAN);
                if !x.is_finite() {
                    return Err(FrameError::NonFinite {
                        data: data.name().to_string(),
                        expression: label.to_string(),
                        location: data.location(r),
                        value: format_r_number(x),
                    });
                }
                out.push(x);
            }
            Ok(out)
        };
        let numeric = |label: &str, value: &Value| -> Result<Vec<f64>, FrameError> {
            match value {
                Value::Scalar(x) => finite(label, &vec![*x; nrows]),
                Value::Num(v) => finite(label, v),
                // callers pass only numeric values
                Value::Factor { .. } | Value::Matrix { .. } => Ok(vec![f64::NAN; n]),
            }
        };

        // response
        let response = match (&formula.response, response_parts.as_slice()) {
            (Some(Response::Cbind { .. }), [s, f]) => Some(ResponseValues::Cbind {
                successes: numeric(&s.label, &s.value)?,
                failures: numeric(&f.label, &f.value)?,
            }),
            (Some(Response::Expr(_)), [p]) => match &p.value {
                Value::Factor { factor, .. } => {
                    let (codes, levels) = subset_factor(factor, &rows);
                    Some(ResponseValues::Factor { codes, levels })
                }
                v => {
                    let y = numeric(&p.label, v)?;
                    Some(ResponseValues::Numeric(y))
                }
            },
            _ => None,
        };

        // variables
        let mut variables = Vec::with_capacity(vars.len());
        for p in &vars {
            let value = match &p.value {
                Value::Scalar(_) | Value::Num(_) => {
                    VariableValue::Numeric(numeric(&p.label, &p.value)?)
                }
                Value::Matrix { columns, suffixes } => {
                    let mut cols = Vec::with_capacity(columns.len());
                    for (c, s) in columns.iter().zip(suffixes) {
                        cols.push(finite(&format!("{}{s}", p.label), c)?);
                    }
                    VariableValue::Matrix {
                        columns: cols,
                        suffixes: suffixes.clone(),
                    }
                }
                Value::Factor { factor, .. } => {
                    let (codes, levels) = subset_factor(factor, &rows);
                    let default = if factor.ordered {
                        Contrasts::Poly
                    } else {
                        Contrasts::Treatment
                    };
                    VariableValue::Factor {
                        codes,
                        levels,
                        ordered: factor.ordered,
                        contrasts: opts.contrasts.get(&p.label).copied().unwrap_or(default),
                    }
                }
            };
            variables.push(FrameVariable {
                label: p.label.clone(),
                value,
            });
        }

        // offsets
        let offset = if offsets.is_empty() {
            None
        } else {
            let mut total = vec![0.0; n];
            for p in &offsets {
                let v = numeric(&p.label, &p.value)?;
                total.iter_mut().zip(v).for_each(|(t, x)| *t += x);
            }
            Some(total)
        };

        // weights
        let weights = match &weights_value {
            None => None,
            Some((w, v)) => {
                let wv = numeric(w, v)?;
                if let Some(k) = wv.iter().position(|x| *x < 0.0) {
                    return Err(FrameError::NegativeWeight {
                        data: data_name,
                        column: (*w).to_string(),
                        location: data.location(rows[k]),
                        value: format_r_number(wv[k]),
                    });
                }
                Some(wv)
            }
        };

        // grouping factors
        let mut groups = Vec::with_capacity(group_specs.len());
        for (label, parts) in &group_specs {
            let mut acc: Option<(Vec<u32>, Vec<String>, bool)> = None;
            for (_, f) in parts {
                let (codes, levels) = subset_factor(f, &rows);
                acc = Some(match acc {
                    None => (codes, levels, f.ordered),
                    Some((ac, al, _)) => {
                        let (c, l) = interaction_lex((&ac, &al), (&codes, &levels));
                        (c, l, false)
                    }
                });
            }
            let Some((codes, levels, ordered)) = acc else {
                continue;
            };
            if levels.len() < 2 {
                return Err(FrameError::SingleLevelGroup {
                    data: data_name,
                    group: label.clone(),
                    column: parts
                        .iter()
                        .map(|(g, _)| g.as_str())
                        .collect::<Vec<_>>()
                        .join("`, `"),
                    level: levels.first().cloned().unwrap_or_default(),
                    n,
                });
            }
            groups.push((
                label.clone(),
                VariableValue::Factor {
                    codes,
                    levels,
                    ordered,
                    contrasts: Contrasts::Treatment,
                },
            ));
        }

        // constant numeric response
        if let (Some(ResponseValues::Numeric(y)), Some(label), Some(Response::Expr(e))) =
            (&response, &response_label, &formula.response)
            && let Some(first) = y.first()
            && y.iter().all(|v| v == first)
        {
            return Err(FrameError::ConstantResponse {
                data: data_name,
                response: label.clone(),
                column: e.variables().join("`, `"),
                value: format_r_number(*first),
                n,
            });
        }

        Ok(ModelFrame {
            data_name,
            n,
            response_label,
            response,
            variables,
            groups,
            weights,
            offset,
            dropped_rows,
            rows,
        })
    }

    /// The variable with this label (`x`, `log(x)`, `f`), if the formula uses it.
    pub fn variable(&self, label: &str) -> Option<&FrameVariable> {
        self.variables.iter().find(|v| v.label == label)
    }

    /// The grouping factor with this label (`Subject`, `cask:batch`).
    pub fn group(&self, label: &str) -> Option<&VariableValue> {
        self.groups.iter().find(|(l, _)| l == label).map(|(_, v)| v)
    }

    /// Number of rows dropped for missing values.
    pub fn n_dropped(&self) -> usize {
        self.dropped_rows.len()
    }
}
