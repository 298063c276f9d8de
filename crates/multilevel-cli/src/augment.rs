//! `fit --augment FILE`: the data rows the fit used, with their fitted values and residuals
//! (broom.mixed's `augment()`), and the rows it dropped.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use multilevel::frame::Column;
use multilevel::{DataFrame, MixedModel};

/// Per fitted row: `.fitted` (the fit's fitted value: Xβ̂ + Zb̂ for an LMM, μ̂ for a GLMM),
/// `.resid` (response residual, so `.fitted + .resid` is the response) and `.fixed` (the
/// population level Xβ̂ + offset, on the link scale for a GLMM).
pub struct Augmented<'a> {
    /// Fitted values.
    pub fitted: &'a [f64],
    /// Response residuals.
    pub resid: &'a [f64],
}

/// Writes the augmented rows as CSV to `path`: `row` (1-based data row), the data's columns,
/// `.fitted`, `.resid`, `.fixed`; prints how many rows were dropped and which, on stderr.
pub fn write(
    path: &Path,
    data: &DataFrame,
    model: &dyn MixedModel,
    parts: &Augmented<'_>,
) -> Result<()> {
    let design = model.design();
    let frame = model.frame();
    let beta = model.fixef();
    let names = data.column_names();
    let mut out = String::from("row");
    for n in &names {
        out.push(',');
        out.push_str(&field(n));
    }
    out.push_str(",.fitted,.resid,.fixed\n");
    for (i, &r) in frame.rows.iter().enumerate() {
        let _ = write!(out, "{}", r + 1);
        for n in &names {
            let v = match data.column(n) {
                Some(Column::Numeric(v)) => v
                    .get(r)
                    .copied()
                    .flatten()
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
                Some(Column::Factor(f)) => f.label(r).map(field).unwrap_or_default(),
                None => String::new(),
            };
            let _ = write!(out, ",{v}");
        }
        let mut fixed = design.offset.as_ref().map_or(0.0, |o| o[i]);
        for (j, b) in beta.iter().enumerate() {
            fixed += design.x[(i, j)] * b;
        }
        let _ = writeln!(
            out,
            ",{},{},{}",
            parts.fitted.get(i).copied().unwrap_or(f64::NAN),
            parts.resid.get(i).copied().unwrap_or(f64::NAN),
            fixed
        );
    }
    std::fs::write(path, out).map_err(|e| {
        anyhow!(
            "{}: cannot write the augmented data: {e}; hint: check that the directory exists and is writable",
            path.display()
        )
    })?;
    if !frame.dropped_rows.is_empty() {
        let shown: Vec<String> = frame
            .dropped_rows
            .iter()
            .take(20)
            .map(|r| (r + 1).to_string())
            .collect();
        eprintln!(
            "note: --augment: {} rows of {} were not used (missing values) and are not in {}: rows {}{}",
            frame.dropped_rows.len(),
            data.name(),
            path.display(),
            shown.join(", "),
            if frame.dropped_rows.len() > 20 {
                ", …"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
