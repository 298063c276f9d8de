//! From a data table to the inputs of [`crate::rma_matrix`]: effect-size and variance columns,
//! study labels, and the model matrix of a moderator formula (R's `model.matrix`, so factors,
//! interactions and transformations work as in metafor's `mods = ~ ...`).
//!
//! Rows with a missing effect size, variance (or standard error) or moderator are dropped and
//! listed in [`MetaData::dropped_rows`] (metafor's `na.omit` with a warning); a missing study
//! label only falls back to the row number.

use multilevel_design::model_matrix;
use multilevel_frame::{Column, DataFrame, FrameOptions, ModelFrame, format_r_number};
use serde::{Deserialize, Serialize};

use crate::{MetaError, MetaResult, RmaOptions, rma_matrix};

/// Which columns hold what.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataSpec {
    /// Column of effect sizes (metafor's `yi`).
    pub yi: String,
    /// Column of sampling variances (`vi`); give this or `sei`.
    pub vi: Option<String>,
    /// Column of standard errors (`sei`; `vi = sei²`).
    pub sei: Option<String>,
    /// Moderator formula, e.g. `~ ablat + year` (the `~` may be left out; `- 1` removes the
    /// intercept).
    pub mods: Option<String>,
    /// Column of study labels (metafor's `slab`).
    pub slab: Option<String>,
}

/// A data row left out of the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedRow {
    /// 0-based row index in the data.
    pub row: usize,
    /// Where the row is (`line 7`, `row 6`).
    pub location: String,
    /// The columns (or moderator variables) missing on it.
    pub missing: Vec<String>,
}

/// The analysis inputs extracted from a data table.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaData {
    /// Effect sizes of the rows used.
    pub yi: Vec<f64>,
    /// Sampling variances of the rows used.
    pub vi: Vec<f64>,
    /// Model-matrix columns (intercept first when present).
    pub x: Vec<Vec<f64>>,
    /// Their names (`intrcpt`, then R's `model.matrix` names).
    pub x_names: Vec<String>,
    /// Whether the first column is the intercept.
    pub intercept: bool,
    /// Study labels.
    pub slab: Vec<String>,
    /// 0-based data row of each study.
    pub rows: Vec<usize>,
    /// Rows dropped for missing values.
    pub dropped_rows: Vec<DroppedRow>,
    /// Rows in the data.
    pub k_all: usize,
}

fn numeric<'a>(
    data: &'a DataFrame,
    column: &str,
    role: &str,
) -> Result<&'a [Option<f64>], MetaError> {
    data.numeric_values(column)?
        .ok_or_else(|| MetaError::NotNumeric {
            data: data.name().to_string(),
            column: column.to_string(),
            role: role.to_string(),
        })
}

/// Extract effect sizes, variances, labels and the moderators' model matrix from `data`.
///
/// # Errors
/// An unknown or non-numeric column (with the nearest column name suggested), both or neither
/// of `vi` and `sei`, a moderator formula that does not parse or evaluate (or has a response,
/// random effects or offsets), a non-positive variance or standard error (naming the line and
/// study), fewer than 2 complete rows.
pub fn prepare(data: &DataFrame, spec: &DataSpec) -> Result<MetaData, MetaError> {
    let n = data.nrows();
    let yi = numeric(data, &spec.yi, "the effect sizes (yi)")?;
    let (var_col, is_se) = match (&spec.vi, &spec.sei) {
        (Some(v), None) => (v.as_str(), false),
        (None, Some(s)) => (s.as_str(), true),
        (Some(_), Some(_)) => {
            return Err(MetaError::Options(
                "both vi and sei were given; hint: give the sampling variances (vi) or the standard errors (sei), not both".into(),
            ));
        }
        (None, None) => {
            return Err(MetaError::Options(
                "no sampling variances; hint: name the column of variances (vi) or of standard errors (sei)".into(),
            ));
        }
    };
    let var = numeric(
        data,
        var_col,
        if is_se {
            "the standard errors (sei)"
        } else {
            "the sampling variances (vi)"
        },
    )?;
    let slab_col = match &spec.slab {
        Some(s) => Some(data.column(s).ok_or_else(|| data.unknown_column_error(s))?),
        None => None,
    };
    let label = |r: usize| -> String {
        match slab_col {
            Some(Column::Numeric(v)) => v
                .get(r)
                .copied()
                .flatten()
                .map_or_else(|| (r + 1).to_string(), format_r_number),
            Some(Column::Factor(f)) => f
                .label(r)
                .map_or_else(|| (r + 1).to_string(), str::to_string),
            None => (r + 1).to_string(),
        }
    };

    // Moderators: model frame on all rows, model matrix on its complete cases.
    let (frame_cols, frame_names, intercept, frame_row_of, mod_dropped, mod_vars) = match &spec.mods
    {
        None => (Vec::new(), Vec::new(), true, None, Vec::new(), Vec::new()),
        Some(text) => {
            let trimmed = text.trim();
            let full = if trimmed.contains('~') {
                trimmed.to_string()
            } else {
                format!("~ {trimmed}")
            };
            let f = multilevel_formula::parse(&full)?;
            let bad = |message: &str| MetaError::BadModerators {
                formula: full.clone(),
                message: message.to_string(),
            };
            if f.response.is_some() {
                return Err(bad(
                    "it has a left-hand side (the effect sizes are given by yi)",
                ));
            }
            if !f.random.is_empty() {
                return Err(bad("random-effects terms (x | g) are not moderators"));
            }
            if !f.offsets.is_empty() {
                return Err(bad("offset() terms are not supported"));
            }
            let frame = ModelFrame::new(&f, data, &FrameOptions::default())?;
            let mm = model_matrix(&f.fixed, &frame)?;
            let mut map = vec![None; n];
            for (i, &r) in frame.rows.iter().enumerate() {
                if let Some(m) = map.get_mut(r) {
                    *m = Some(i);
                }
            }
            (
                mm.columns,
                mm.names,
                f.fixed.intercept,
                Some(map),
                frame.dropped_rows.clone(),
                f.variables(),
            )
        }
    };

    let mut out_yi = Vec::new();
    let mut out_vi = Vec::new();
    let mut slab = Vec::new();
    let mut rows = Vec::new();
    let mut dropped_rows = Vec::new();
    for r in 0..n {
        let mut missing = Vec::new();
        let y = yi.get(r).copied().flatten();
        let v = var.get(r).copied().flatten();
        if y.is_none() {
            missing.push(spec.yi.clone());
        }
        if v.is_none() {
            missing.push(var_col.to_string());
        }
        if mod_dropped.contains(&r) {
            let vars: Vec<String> = mod_vars
                .iter()
                .filter(|name| data.column(name).is_some_and(|c| c.is_missing(r)))
                .cloned()
                .collect();
            if vars.is_empty() {
                missing.push("a moderator".to_string());
            } else {
                missing.extend(vars);
            }
        }
        let (Some(y), Some(v), true) = (y, v, missing.is_empty()) else {
            dropped_rows.push(DroppedRow {
                row: r,
                location: data.location(r).to_string(),
                missing,
            });
            continue;
        };
        let vi = if is_se { v * v } else { v };
        if v.is_nan() || v <= 0.0 {
            return Err(MetaError::NonPositiveVariance {
                column: format!("{} `{var_col}`", if is_se { "sei" } else { "vi" }),
                value: v,
                study: label(r),
                location: format!("{} of {}", data.location(r), data.name()),
            });
        }
        out_yi.push(y);
        out_vi.push(vi);
        slab.push(label(r));
        rows.push(r);
    }
    let k = out_yi.len();
    if k < 2 {
        return Err(MetaError::TooFewStudies {
            data: data.name().to_string(),
            k,
            dropped: dropped_rows.len(),
        });
    }

    // Model matrix rows of the studies kept.
    let (x, x_names) = match frame_row_of {
        None => (vec![vec![1.0; k]], vec!["intrcpt".to_string()]),
        Some(map) => {
            let idx: Vec<usize> = rows
                .iter()
                .map(|&r| map.get(r).copied().flatten().unwrap_or(0))
                .collect();
            let cols: Vec<Vec<f64>> = frame_cols
                .iter()
                .map(|c| {
                    idx.iter()
                        .map(|&i| c.get(i).copied().unwrap_or(f64::NAN))
                        .collect()
                })
                .collect();
            let names: Vec<String> = frame_names
                .iter()
                .map(|nm| {
                    if nm == "(Intercept)" {
                        "intrcpt".to_string()
                    } else {
                        nm.clone()
                    }
                })
                .collect();
            (cols, names)
        }
    };
    // Columns that are all zero on the kept rows (levels seen only on dropped rows) are left
    // to the rank check of `rma_matrix`, which drops them as aliased.
    Ok(MetaData {
        yi: out_yi,
        vi: out_vi,
        x,
        x_names,
        intercept,
        slab,
        rows,
        dropped_rows,
        k_all: n,
    })
}

/// [`prepare`] then [`rma_matrix`]: a meta-analysis of the columns of `data` named by `spec`.
/// The result records the moderator formula, the rows dropped and the number of rows read.
///
/// # Errors
/// As [`prepare`] and [`rma_matrix`].
pub fn rma_data(
    data: &DataFrame,
    spec: &DataSpec,
    opts: &RmaOptions,
) -> Result<MetaResult, MetaError> {
    let d = prepare(data, spec)?;
    let mut fit = rma_matrix(&d.yi, &d.vi, &d.x, &d.x_names, d.intercept, &d.slab, opts)?;
    fit.mods = spec.mods.clone();
    fit.dropped_rows = d.dropped_rows;
    fit.k_all = d.k_all;
    Ok(fit)
}
