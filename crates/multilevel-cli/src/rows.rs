//! Rows a command used: the count of rows dropped for missing values added to the reports of
//! `compare` and `confint` (as `fit` reports it), and `compare`'s check that its models share
//! one response and one set of rows.

use crate::args::OutputFormat;
use anyhow::{Result, bail};
use multilevel::MixedModel;

/// The report with `n_dropped_missing` added: a JSON key of the report's object, or a note at
/// the end of a text or markdown report; the same note goes to stderr as a warning.
pub fn with_dropped(report: String, format: OutputFormat, n_dropped: usize, data: &str) -> String {
    if n_dropped > 0 {
        eprintln!("warning: {}", dropped_note(n_dropped, data));
    }
    match format {
        OutputFormat::Json => {
            let Ok(serde_json::Value::Object(mut map)) =
                serde_json::from_str::<serde_json::Value>(&report)
            else {
                return report;
            };
            map.insert("n_dropped_missing".into(), serde_json::json!(n_dropped));
            let mut s =
                serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap_or(report);
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        OutputFormat::Text | OutputFormat::Markdown if n_dropped > 0 => {
            let mut s = report;
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&format!("\nNote: {}\n", dropped_note(n_dropped, data)));
            s
        }
        _ => report,
    }
}

/// "2 rows of d.csv dropped for missing values".
fn dropped_note(n: usize, data: &str) -> String {
    let rows = if n == 1 { "row" } else { "rows" };
    format!("{n} {rows} of {data} dropped for missing values")
}

/// The response of a formula as written (`log(Reaction)`), or `None` when it does not parse.
fn response_text(formula: &str) -> Option<String> {
    let parsed = multilevel::formula::parse(formula).ok()?;
    let text = parsed.to_string();
    text.split_once('~').map(|(lhs, _)| lhs.trim().to_string())
}

/// Refuses to compare models with different responses (`Reaction` against `log(Reaction)`:
/// their likelihoods are of different data) or fitted to different rows (a variable of one
/// model has missing values the other does not see).
pub fn check_comparable<M: MixedModel>(formulas: &[String], models: &[M]) -> Result<()> {
    let first = formulas.first().and_then(|f| response_text(f));
    for f in formulas.iter().skip(1) {
        let r = response_text(f);
        if let (Some(a), Some(b)) = (&first, &r)
            && a != b
        {
            bail!(
                "the models have different responses (`{a}` and `{b}`): likelihood-ratio tests compare models of the same response; hint: give every formula the same left-hand side"
            );
        }
    }
    let Some(m0) = models.first() else {
        return Ok(());
    };
    let y0: Vec<f64> = response_values(m0);
    for (m, f) in models.iter().zip(formulas).skip(1) {
        let (d0, d) = (
            m0.summary().n_dropped_missing,
            m.summary().n_dropped_missing,
        );
        let y = response_values(m);
        let same = y.len() == y0.len()
            && y.iter()
                .zip(&y0)
                .all(|(a, b)| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-300));
        if d != d0 || !same {
            bail!(
                "the models are fitted to different rows ({} and {} observations, {d0} and {d} rows dropped for missing values; model `{f}`): likelihood-ratio tests need the same rows; hint: drop the rows with missing values from the data first, so every model uses the same ones",
                y0.len(),
                y.len()
            );
        }
    }
    Ok(())
}

/// The response values a model was fitted to: fitted values plus (response) residuals.
fn response_values<M: MixedModel>(m: &M) -> Vec<f64> {
    let fit = m.summary();
    fit.fitted
        .iter()
        .zip(&fit.residuals)
        .map(|(f, r)| f + r)
        .collect()
}
