//! The report types of the results this crate renders, each implementing [`Render`]: a fit
//! with its render options, lmerTest's ANOVA table, lme4's likelihood-ratio comparison and
//! confidence intervals. Each bundles the result with what its printout names besides the
//! result itself (formula, data set, df method, interval method).

use crate::{Format, Render, RenderOptions, render_with};
use multilevel_inference::{AnovaRow, Interval, LrtTable};
use multilevel_lmm::FitResult;

/// A fitted model with the options of its report ([`render_with`]).
#[derive(Debug, Clone, Copy)]
pub struct FitReport<'a> {
    /// The fit.
    pub fit: &'a FitResult,
    /// The df method named in the title and the cross-level interactions.
    pub options: &'a RenderOptions,
}

impl Render for FitReport<'_> {
    fn render(&self, format: Format) -> String {
        render_with(self.fit, format, self.options)
    }
}

/// lmerTest's type III ANOVA table of a fit ([`crate::render_anova`]).
#[derive(Debug, Clone, Copy)]
pub struct AnovaReport<'a> {
    /// One row per fixed-effects term.
    pub rows: &'a [AnovaRow],
    /// The denominator-df method named in the heading (`Satterthwaite`).
    pub df_method: &'a str,
    /// The model formula.
    pub formula: &'a str,
    /// The data set's name.
    pub data: &'a str,
}

impl Render for AnovaReport<'_> {
    fn render(&self, format: Format) -> String {
        crate::render_anova(self.rows, self.df_method, self.formula, self.data, format)
    }
}

/// lme4's likelihood-ratio comparison of nested fits ([`crate::render_compare`]).
#[derive(Debug, Clone, Copy)]
pub struct CompareReport<'a> {
    /// The comparison table.
    pub table: &'a LrtTable,
    /// The data set's name.
    pub data: &'a str,
}

impl Render for CompareReport<'_> {
    fn render(&self, format: Format) -> String {
        crate::render_compare(self.table, self.data, format)
    }
}

/// Confidence intervals of a fit's parameters (lme4's `confint(fit, method = ...)`): the
/// intervals with 5 decimals under `lower` and `upper` columns labelled by their levels
/// (`2.5 %`, `97.5 %`).
#[derive(Debug, Clone, Copy)]
pub struct ConfintReport<'a> {
    /// The model formula.
    pub formula: &'a str,
    /// The data set's name.
    pub data: &'a str,
    /// How the intervals were computed, as printed (`profile likelihood`, `Wald`, …).
    pub method: &'a str,
    /// The confidence level.
    pub level: f64,
    /// One interval per parameter.
    pub intervals: &'a [Interval],
}

impl Render for ConfintReport<'_> {
    fn render(&self, format: Format) -> String {
        let level = self.level;
        let label = self.method;
        let lo = format!("{:.1} %", 50.0 * (1.0 - level));
        let hi = format!("{:.1} %", 100.0 - 50.0 * (1.0 - level));
        match format {
            Format::Json => {
                let rows: Vec<serde_json::Value> = self
                    .intervals
                    .iter()
                    .map(|i| {
                        serde_json::json!({
                            "parameter": i.term,
                            "lower": finite(i.lower),
                            "upper": finite(i.upper),
                        })
                    })
                    .collect();
                let v = serde_json::json!({
                    "formula": self.formula,
                    "data": self.data,
                    "method": label,
                    "level": level,
                    "intervals": rows,
                });
                let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
                s.push('\n');
                s
            }
            Format::Text => {
                let width = self
                    .intervals
                    .iter()
                    .map(|i| i.term.chars().count())
                    .max()
                    .unwrap_or(0);
                let mut s = format!(
                    "Confidence intervals ({label}, level {level})\nFormula: {}\n   Data: {}\n\n",
                    self.formula, self.data
                );
                s.push_str(&format!("{:width$} {lo:>12} {hi:>12}\n", ""));
                for i in self.intervals {
                    s.push_str(&format!(
                        "{:width$} {:>12.5} {:>12.5}\n",
                        i.term, i.lower, i.upper
                    ));
                }
                s
            }
            Format::Markdown => {
                let mut s = format!(
                    "## Confidence intervals ({label}, level {level})\n\n- **Formula:** `{}`\n- **Data:** {}\n\n| parameter | {lo} | {hi} |\n| --- | ---: | ---: |\n",
                    self.formula, self.data
                );
                for i in self.intervals {
                    s.push_str(&format!(
                        "| {} | {:.5} | {:.5} |\n",
                        i.term.replace('|', "\\|"),
                        i.lower,
                        i.upper
                    ));
                }
                s
            }
        }
    }
}

fn finite(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}
