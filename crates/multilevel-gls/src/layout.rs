//! From the data columns named by the structure to the per-row codes the kernels use: the
//! subject of each row, its structural position (a time level, or an integer position for
//! AR(1)), its variance level, and the rows of each subject in visit order.

use crate::GlsError;
use crate::spec::{ResidualKind, ResidualStructure, VarianceFunction};
use multilevel_frame::{Column, DataFrame, format_r_number};
use std::collections::HashMap;

/// The codes of the model's rows (indices into the design's rows).
#[derive(Debug, Clone)]
pub(crate) struct RowCodes {
    /// The rows of each subject, sorted by visit; subjects in order of first appearance.
    pub subjects: Vec<Vec<usize>>,
    /// Structural position of each row: the time level (us, toep, toeph), the integer position
    /// (ar1), 0 (cs, or no structure).
    pub position: Vec<i64>,
    /// Variance level of each row (0 without a variance function).
    pub var_level: Vec<u32>,
    /// Labels of the time levels (us, toep, toeph: the factor's used levels; ar1 and cs: the
    /// distinct time values in order).
    pub time_labels: Vec<String>,
    /// The structural position of each label of `time_labels` (ar1: the integer positions).
    pub time_positions: Vec<i64>,
    /// Labels of the variance levels (`["(all)"]` without a variance function).
    pub var_labels: Vec<String>,
}

/// A column's value on data row `r`, as a sort key and a label; `None` when missing.
fn value_at(col: &Column, r: usize) -> Option<(f64, String, bool)> {
    match col {
        Column::Numeric(v) => v
            .get(r)
            .copied()
            .flatten()
            .map(|x| (x, format_r_number(x), false)),
        Column::Factor(f) => f.codes.get(r).copied().flatten().and_then(|c| {
            f.levels
                .get(c as usize)
                .map(|l| (f64::from(c), l.clone(), true))
        }),
    }
}

fn column<'a>(data: &'a DataFrame, name: &str) -> Result<&'a Column, GlsError> {
    data.column(name)
        .ok_or_else(|| GlsError::Data(data.unknown_column_error(name)))
}

fn missing(data: &DataFrame, name: &str, r: usize) -> GlsError {
    GlsError::Input(format!(
        "{}, {}: the column `{name}` is missing on a row the model uses; hint: give it a value or drop the row",
        data.name(),
        data.location(r)
    ))
}

/// Used levels of a factor column on `rows`, in level order: (level code → compact index,
/// labels).
fn used_levels(col: &Column, rows: &[usize]) -> (HashMap<u32, u32>, Vec<String>) {
    let Column::Factor(f) = col else {
        return (HashMap::new(), Vec::new());
    };
    let mut seen = vec![false; f.levels.len()];
    for &r in rows {
        if let Some(Some(c)) = f.codes.get(r)
            && let Some(s) = seen.get_mut(*c as usize)
        {
            *s = true;
        }
    }
    let mut map = HashMap::new();
    let mut labels = Vec::new();
    for (c, used) in seen.iter().enumerate() {
        if *used {
            map.insert(c as u32, labels.len() as u32);
            labels.push(f.levels.get(c).cloned().unwrap_or_default());
        }
    }
    (map, labels)
}

/// The codes of the data rows `rows` (the model frame's rows, in design order).
///
/// # Errors
/// Unknown columns; a missing value; a time column that is not a factor where the structure
/// needs one; non-integer AR(1) positions; a subject with two rows at one visit; a variance
/// function on a non-factor.
pub(crate) fn row_codes(
    data: &DataFrame,
    rows: &[usize],
    residual: Option<&ResidualStructure>,
    variance: Option<&VarianceFunction>,
) -> Result<RowCodes, GlsError> {
    let n = rows.len();
    // Variance levels.
    let (var_level, var_labels) = match variance {
        None => (vec![0; n], vec!["(all)".to_string()]),
        Some(vf) => {
            let col = column(data, &vf.factor)?;
            if matches!(col, Column::Numeric(_)) {
                return Err(GlsError::NotFactor {
                    structure: vf.text(),
                    column: vf.factor.clone(),
                    why: "a variance per level",
                });
            }
            let (map, labels) = used_levels(col, rows);
            let mut codes = Vec::with_capacity(n);
            for &r in rows {
                let code = match col {
                    Column::Factor(f) => f.codes.get(r).copied().flatten(),
                    Column::Numeric(_) => None,
                };
                let level = code
                    .and_then(|c| map.get(&c).copied())
                    .ok_or_else(|| missing(data, &vf.factor, r))?;
                codes.push(level);
            }
            (codes, labels)
        }
    };

    let Some(rs) = residual else {
        // Independent rows: every row is its own subject.
        return Ok(RowCodes {
            subjects: (0..n).map(|i| vec![i]).collect(),
            position: vec![0; n],
            var_level,
            time_labels: Vec::new(),
            time_positions: Vec::new(),
            var_labels,
        });
    };

    let time_col = column(data, &rs.time)?;
    let subject_col = column(data, &rs.subject)?;
    let is_factor = matches!(time_col, Column::Factor(_));
    if rs.kind.needs_factor() && !is_factor {
        return Err(GlsError::NotFactor {
            structure: rs.text(),
            column: rs.time.clone(),
            why: "its levels are the visits",
        });
    }
    let (level_map, level_labels) = used_levels(time_col, rows);

    // Subjects in order of first appearance.
    let mut subject_index: HashMap<String, usize> = HashMap::new();
    let mut subjects: Vec<Vec<usize>> = Vec::new();
    let mut subject_labels = Vec::new();
    let mut position = Vec::with_capacity(n);
    let mut sort_key = Vec::with_capacity(n);
    let mut time_label = Vec::with_capacity(n);
    for (i, &r) in rows.iter().enumerate() {
        let (_, subject, _) =
            value_at(subject_col, r).ok_or_else(|| missing(data, &rs.subject, r))?;
        let (t, label, _) = value_at(time_col, r).ok_or_else(|| missing(data, &rs.time, r))?;
        let level = if is_factor {
            // `t` is the factor code; the structure uses the used-level index.
            level_map
                .get(&(t as u32))
                .map(|&l| i64::from(l))
                .ok_or_else(|| missing(data, &rs.time, r))?
        } else {
            0
        };
        let pos = match rs.kind {
            ResidualKind::Us | ResidualKind::Toep | ResidualKind::Toeph => level,
            ResidualKind::Ar1 if is_factor => level,
            ResidualKind::Ar1 => {
                if t.fract() != 0.0 || t.abs() > 1e12 {
                    return Err(GlsError::Input(format!(
                        "{}, {}: `{}` needs integer positions, but `{}` is {label}; hint: use a visit number (1, 2, …) or make `{}` a factor",
                        data.name(),
                        data.location(r),
                        rs.text(),
                        rs.time,
                        rs.time
                    )));
                }
                t as i64
            }
            ResidualKind::Cs => 0,
        };
        let s = *subject_index.entry(subject.clone()).or_insert_with(|| {
            subjects.push(Vec::new());
            subject_labels.push(subject);
            subjects.len() - 1
        });
        if let Some(members) = subjects.get_mut(s) {
            members.push(i);
        }
        position.push(pos);
        sort_key.push(if is_factor { level as f64 } else { t });
        time_label.push(label);
    }

    // Rows of each subject in visit order; two rows at one visit are an error.
    for (s, members) in subjects.iter_mut().enumerate() {
        members.sort_by(|&a, &b| {
            let ka = sort_key.get(a).copied().unwrap_or(0.0);
            let kb = sort_key.get(b).copied().unwrap_or(0.0);
            ka.total_cmp(&kb).then(a.cmp(&b))
        });
        for w in members.windows(2) {
            let (a, b) = (w[0], w[1]);
            if sort_key.get(a) == sort_key.get(b) {
                let ra = rows.get(a).copied().unwrap_or(0);
                let rb = rows.get(b).copied().unwrap_or(0);
                return Err(GlsError::Input(format!(
                    "{}: subject `{}` has two rows at `{}` = {} ({} and {}); hint: each subject needs at most one row per visit in `{}` — check the data or the time column",
                    data.name(),
                    subject_labels.get(s).map(String::as_str).unwrap_or("?"),
                    rs.time,
                    time_label.get(a).map(String::as_str).unwrap_or("?"),
                    data.location(ra),
                    data.location(rb),
                    rs.text()
                )));
            }
        }
    }

    // The visits, for reports: the factor's used levels, or the distinct values in order.
    let (time_labels, time_positions) = if is_factor {
        let positions = (0..level_labels.len() as i64).collect();
        (level_labels, positions)
    } else {
        let mut seen: Vec<(f64, String, i64)> = sort_key
            .iter()
            .zip(&time_label)
            .zip(&position)
            .map(|((k, l), p)| (*k, l.clone(), *p))
            .collect();
        seen.sort_by(|a, b| a.0.total_cmp(&b.0));
        seen.dedup_by(|a, b| a.0 == b.0);
        (
            seen.iter().map(|s| s.1.clone()).collect(),
            seen.iter().map(|s| s.2).collect(),
        )
    };

    Ok(RowCodes {
        subjects,
        position,
        var_level,
        time_labels,
        time_positions,
        var_labels,
    })
}
