//! Markdown summary: the text summary's content as headings, a bullet list and tables.

use crate::summary::{Criterion, FixedCorr, SIGNIF_LEGEND, Table, summarize_with};
use crate::table::{Align, pad};
use multilevel_lmm::FitResult;

/// Renders a fit as GitHub-flavoured markdown: a heading with the model line, the formula and data,
/// then tables for the fit statistics, scaled residuals, random effects, fixed effects and their
/// correlations, and a list of warnings.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkdownRenderer;

/// Escapes characters that would break a markdown table cell.
fn cell(s: &str) -> String {
    s.trim().replace('\\', "\\\\").replace('|', "\\|")
}

/// A markdown table with padded columns; `aligns[j]` sets column `j`'s alignment marker.
pub(crate) fn md_table(headers: &[String], rows: &[Vec<String>], aligns: &[Align]) -> Vec<String> {
    let headers: Vec<String> = headers.iter().map(|h| cell(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..headers.len())
                .map(|j| cell(r.get(j).map_or("", |s| s)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|j| {
            rows.iter()
                .map(|r| r[j].chars().count())
                .chain([headers[j].chars().count(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let align = |j: usize| aligns.get(j).copied().unwrap_or(Align::Left);
    let line = |cells: &[String]| {
        let inner: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(j, c)| pad(c, widths[j], align(j)))
            .collect();
        format!("| {} |", inner.join(" | "))
    };
    let mut out = vec![line(&headers)];
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(j, w)| match align(j) {
            Align::Left => "-".repeat(*w),
            Align::Right => format!("{}:", "-".repeat(w - 1)),
        })
        .collect();
    out.push(format!("| {} |", rule.join(" | ")));
    out.extend(rows.iter().map(|r| line(r)));
    out
}

/// A table with row names as its first, left-aligned column.
fn md_named_table(t: &Table, first: &str, value_align: Align) -> Vec<String> {
    let mut headers = vec![first.to_string()];
    headers.extend(t.headers.iter().cloned());
    let rows: Vec<Vec<String>> = t
        .cells
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = vec![t.rownames.get(i).cloned().unwrap_or_default()];
            row.extend(r.iter().cloned());
            row
        })
        .collect();
    let mut aligns = vec![Align::Left];
    aligns.extend(std::iter::repeat_n(value_align, t.headers.len()));
    md_table(&headers, &rows, &aligns)
}

impl MarkdownRenderer {
    /// Renders the fit with the default options. The string ends with a newline.
    pub fn render(&self, fit: &FitResult) -> String {
        self.render_with(fit, &crate::RenderOptions::default())
    }
}

impl MarkdownRenderer {
    /// Renders the fit with options (e.g. the df method named in the heading).
    pub fn render_with(&self, fit: &FitResult, opts: &crate::RenderOptions) -> String {
        let s = summarize_with(fit, opts);
        let mut out: Vec<String> = Vec::new();
        out.push(format!("## {}", s.title));
        out.push(String::new());
        if let Some(f) = &s.family {
            out.push(format!("- **{}**", f.trim()));
        }
        out.push(format!("- **Formula:** `{}`", s.formula));
        if !s.data.is_empty() {
            out.push(format!("- **Data:** {}", s.data));
        }
        out.push(format!("- **Observations:** {}", s.nobs));
        if !s.groups_text.is_empty() {
            out.push(format!("- **Groups:** {}", s.groups_text));
        }
        out.push(String::new());

        out.push("### Fit statistics".into());
        out.push(String::new());
        match &s.criterion {
            Criterion::Reml(v) => out.extend(md_table(
                &["REML criterion at convergence".to_string()],
                &[vec![v.clone()]],
                &[Align::Right],
            )),
            Criterion::Table(names, values) => out.extend(md_table(
                names,
                std::slice::from_ref(values),
                &vec![Align::Right; names.len()],
            )),
        }
        if let Some(o) = &s.overdispersion {
            out.push(String::new());
            out.push(o.clone());
        }
        out.push(String::new());

        out.push("### Scaled residuals".into());
        out.push(String::new());
        out.extend(md_table(
            &s.resid.0,
            std::slice::from_ref(&s.resid.1),
            &vec![Align::Right; s.resid.0.len()],
        ));
        out.push(String::new());

        out.push("### Random effects".into());
        out.push(String::new());
        let n = s.random.headers.len();
        let mut aligns = vec![Align::Left, Align::Left, Align::Right, Align::Right];
        aligns.extend(std::iter::repeat_n(Align::Right, n.saturating_sub(4)));
        out.extend(md_table(&s.random.headers, &s.random.cells, &aligns));
        out.push(String::new());

        out.push("### Fixed effects".into());
        out.push(String::new());
        if s.fixed.cells.is_empty() {
            out.push("No fixed effect coefficients.".into());
        } else {
            out.extend(md_named_table(&s.fixed, "Term", Align::Right));
            if s.stars {
                out.push(String::new());
                out.push(SIGNIF_LEGEND.replace('*', "\\*"));
            }
            if !s.cross_level.is_empty() {
                out.push(String::new());
                out.push("**Cross-level interactions:**".into());
                out.push(String::new());
                out.extend(s.cross_level.iter().map(|l| format!("- {l}")));
            }
        }
        match &s.fixed_corr {
            FixedCorr::None => {}
            FixedCorr::TooMany(p) => {
                out.push(String::new());
                out.push(format!(
                    "Correlation of fixed effects not shown, as p = {p} > {}.",
                    crate::summary::MAX_COR
                ));
            }
            FixedCorr::Shown(t) => {
                out.push(String::new());
                out.push("### Correlation of fixed effects".into());
                out.push(String::new());
                out.extend(md_named_table(t, "", Align::Right));
            }
        }
        if let Some((g, v)) = &s.icc {
            out.push(String::new());
            out.push(format!(
                "**Intraclass correlation (ICC, {g}):** {v} = var({g}) / (var({g}) + var(Residual))"
            ));
        }
        if !s.warnings.is_empty() {
            out.push(String::new());
            out.push("### Warnings".into());
            out.push(String::new());
            for w in &s.warnings {
                out.push(format!("- {w}"));
            }
        }
        let mut text = out.join("\n");
        text.push('\n');
        text
    }
}
