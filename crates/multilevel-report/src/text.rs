//! Plain-text summary laid out like lme4's `print(summary(fit))`.

use crate::summary::{Criterion, FixedCorr, SIGNIF_LEGEND, Summary, summarize_with};
use crate::table::{Align, layout_matrix, layout_named};
use multilevel_lmm::FitResult;

/// Renders a fit as the text lme4's `summary()` prints (title, formula, fit criterion, scaled
/// residuals, random effects, fixed effects, correlation of fixed effects), followed by the ICC of
/// a single random-intercept model and the fit's warnings.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextRenderer;

impl TextRenderer {
    /// Renders the fit with the default options. The string ends with a newline.
    pub fn render(&self, fit: &FitResult) -> String {
        self.render_with(fit, &crate::RenderOptions::default())
    }
}

impl TextRenderer {
    /// Renders the fit with options (e.g. the df method named in lmerTest's title line).
    pub fn render_with(&self, fit: &FitResult, opts: &crate::RenderOptions) -> String {
        render_summary(&summarize_with(fit, opts))
    }
}

fn render_summary(s: &Summary) -> String {
    let mut out: Vec<String> = Vec::new();
    out.push(s.title_line());
    if let Some(f) = &s.family {
        out.push(format!(" {f}"));
    }
    out.push(format!("Formula: {}", s.formula));
    if !s.data.is_empty() {
        out.push(format!("   Data: {}", s.data));
    }
    out.push(String::new());
    match &s.criterion {
        Criterion::Reml(v) => out.push(format!("REML criterion at convergence: {v}")),
        Criterion::Table(names, values) => {
            out.extend(layout_named(names, values).map(|l| l.trim_end().to_string()));
        }
    }
    if let Some(o) = &s.overdispersion {
        out.push(o.clone());
    }
    out.push(String::new());
    out.push("Scaled residuals:".into());
    out.extend(layout_named(&s.resid.0, &s.resid.1));
    out.push(String::new());
    out.push("Random effects:".into());
    out.extend(layout_matrix(
        &[],
        &s.random.headers,
        &s.random.cells,
        Align::Left,
    ));
    out.push(s.nobs_line.clone());
    out.push(String::new());
    if s.fixed.cells.is_empty() {
        out.push("No fixed effect coefficients".into());
    } else {
        out.push("Fixed effects:".into());
        out.extend(layout_matrix(
            &s.fixed.rownames,
            &s.fixed.headers,
            &s.fixed.cells,
            Align::Right,
        ));
        if s.stars {
            out.push("---".into());
            out.push(SIGNIF_LEGEND.into());
        }
        if !s.cross_level.is_empty() {
            out.push("Cross-level interactions:".into());
            out.extend(s.cross_level.iter().map(|l| format!("  {l}")));
        }
    }
    match &s.fixed_corr {
        FixedCorr::None => {}
        FixedCorr::TooMany(p) => {
            out.push(String::new());
            out.push(format!(
                "Correlation matrix not shown by default, as p = {p} > {}.",
                crate::summary::MAX_COR
            ));
            out.push("Use the JSON output (`fixed_correlation`, `vcov`) if you need it.".into());
        }
        FixedCorr::Shown(t) => {
            out.push(String::new());
            out.push("Correlation of Fixed Effects:".into());
            out.extend(layout_matrix(
                &t.rownames,
                &t.headers,
                &t.cells,
                Align::Left,
            ));
        }
    }
    if let Some((g, v)) = &s.icc {
        out.push(String::new());
        out.push(format!(
            "Intraclass correlation (ICC, {g}): {v}  [var({g}) / (var({g}) + var(Residual))]"
        ));
    }
    if !s.warnings.is_empty() {
        out.push(String::new());
        out.push("Warnings:".into());
        for w in &s.warnings {
            out.push(format!("  {w}"));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}
