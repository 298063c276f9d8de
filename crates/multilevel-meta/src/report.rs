//! Reports of a [`MetaResult`]: text in the layout of metafor's `print.rma.uni`, markdown
//! tables, and JSON (the serialised result).

use crate::{MetaResult, Method};

pub use multilevel_numeric::render::{Format, Render};

/// Render `fit` in `format`: metafor-style plain text, markdown tables, or pretty-printed JSON
/// of the whole result.
pub fn render(fit: &MetaResult, format: Format) -> String {
    match format {
        Format::Text => text(fit),
        Format::Markdown => markdown(fit),
        Format::Json => json(fit),
    }
}

impl Render for MetaResult {
    fn render(&self, format: Format) -> String {
        render(self, format)
    }
}

/// The result as pretty JSON (non-finite numbers become `null`).
pub fn json(fit: &MetaResult) -> String {
    let mut s =
        serde_json::to_string_pretty(fit).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// metafor's p-value format: `<.0001` below 1e-4, otherwise 4 decimals.
pub fn format_p(p: f64) -> String {
    if p.is_nan() {
        "NA".into()
    } else if p < 1e-4 {
        "<.0001".into()
    } else {
        format!("{p:.4}")
    }
}

fn p_phrase(p: f64) -> String {
    let s = format_p(p);
    if let Some(rest) = s.strip_prefix('<') {
        format!("p-val < {rest}")
    } else {
        format!("p-val = {s}")
    }
}

/// metafor's significance stars: R's cut points, nothing (not a blank) above 0.1.
fn stars(p: f64) -> &'static str {
    multilevel_numeric::fmt::signif_stars(p).trim_end()
}

fn f4(x: f64) -> String {
    if x.is_nan() {
        "NA".into()
    } else {
        format!("{x:.4}")
    }
}

fn model_title(fit: &MetaResult) -> String {
    let kind = match (fit.method, fit.is_meta_regression()) {
        (Method::Fe, _) => "Fixed-Effects",
        (_, false) => "Random-Effects",
        (_, true) => "Mixed-Effects",
    };
    if fit.method == Method::Fe {
        format!("{kind} Model (k = {})", fit.k)
    } else {
        format!(
            "{kind} Model (k = {}; tau^2 estimator: {})",
            fit.k,
            fit.method.name()
        )
    }
}

fn heterogeneity_lines(fit: &MetaResult) -> Vec<(String, String)> {
    let mr = fit.is_meta_regression();
    let (amount, i2what, h2what) = if mr {
        (
            "estimated amount of residual heterogeneity",
            "residual heterogeneity / unaccounted variability",
            "unaccounted variability / sampling variability",
        )
    } else {
        (
            "estimated amount of total heterogeneity",
            "total heterogeneity / total variability",
            "total variability / sampling variability",
        )
    };
    let mut lines = Vec::new();
    if fit.method != Method::Fe {
        let se = fit
            .se_tau2
            .map(|s| format!(" (SE = {})", f4(s)))
            .unwrap_or_default();
        lines.push((
            format!("tau^2 ({amount}):"),
            format!("{}{se}", f4(fit.tau2)),
        ));
        lines.push((
            "tau (square root of estimated tau^2 value):".into(),
            f4(fit.tau),
        ));
    }
    lines.push((format!("I^2 ({i2what}):"), format!("{:.2}%", fit.i2)));
    lines.push((format!("H^2 ({h2what}):"), format!("{:.2}", fit.h2)));
    if let Some(r2) = fit.r2 {
        lines.push((
            "R^2 (amount of heterogeneity accounted for):".into(),
            format!("{r2:.2}%"),
        ));
    }
    lines
}

fn stat_name(fit: &MetaResult) -> &'static str {
    if fit.df.is_some() { "tval" } else { "zval" }
}

fn dropped_note(fit: &MetaResult) -> Option<String> {
    if fit.dropped_rows.is_empty() {
        return None;
    }
    let list: Vec<String> = fit
        .dropped_rows
        .iter()
        .take(10)
        .map(|d| format!("{} (missing {})", d.location, d.missing.join(", ")))
        .collect();
    let more = if fit.dropped_rows.len() > 10 {
        format!(", and {} more", fit.dropped_rows.len() - 10)
    } else {
        String::new()
    };
    Some(format!(
        "{} of {} rows dropped for missing values: {}{more}",
        fit.dropped_rows.len(),
        fit.k_all,
        list.join("; ")
    ))
}

fn q_line(fit: &MetaResult) -> (String, String) {
    let (title, q) = if fit.is_meta_regression() {
        ("Test for Residual Heterogeneity:", "QE")
    } else {
        ("Test for Heterogeneity:", "Q")
    };
    (
        title.to_string(),
        format!(
            "{q}(df = {}) = {}, {}",
            fit.q_df,
            f4(fit.q),
            p_phrase(fit.q_p)
        ),
    )
}

fn moderator_lines(fit: &MetaResult) -> Option<(String, String)> {
    let m = fit.moderators.as_ref()?;
    let idx: Vec<usize> = m.coefficients.iter().map(|i| i + 1).collect();
    let which = match idx.as_slice() {
        [one] => format!("coefficient {one}"),
        [first, .., last] if last - first + 1 == idx.len() => {
            format!("coefficients {first}:{last}")
        }
        _ => format!(
            "coefficients {}",
            idx.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    let stat = match m.df2 {
        Some(d2) => format!(
            "F(df1 = {}, df2 = {d2}) = {}, {}",
            m.df1,
            f4(m.statistic),
            p_phrase(m.p_value)
        ),
        None => format!(
            "QM(df = {}) = {}, {}",
            m.df1,
            f4(m.statistic),
            p_phrase(m.p_value)
        ),
    };
    Some((format!("Test of Moderators ({which}):"), stat))
}

/// Right-align the cells of a table (first column left-aligned when `left_first`).
fn align(rows: &[Vec<String>], left_first: bool) -> Vec<String> {
    let ncol = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncol)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    if j == 0 && left_first {
                        format!("{c:<w$}", w = widths[j])
                    } else {
                        format!("{c:>w$}", w = widths[j])
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

fn coefficient_rows(fit: &MetaResult, with_names: bool) -> Vec<Vec<String>> {
    let mut header = Vec::new();
    if with_names {
        header.push(String::new());
    }
    header.extend(["estimate", "se", stat_name(fit)].map(String::from));
    if fit.df.is_some() {
        header.push("df".into());
    }
    header.extend(["pval", "ci.lb", "ci.ub", ""].map(String::from));
    let mut rows = vec![header];
    for c in &fit.coefficients {
        let mut r = Vec::new();
        if with_names {
            r.push(c.name.clone());
        }
        r.extend([f4(c.estimate), f4(c.std_error), f4(c.statistic)]);
        if let Some(df) = fit.df {
            r.push(df.to_string());
        }
        r.extend([
            format_p(c.p_value),
            f4(c.ci_lower),
            f4(c.ci_upper),
            stars(c.p_value).to_string(),
        ]);
        rows.push(r);
    }
    rows
}

/// metafor-style text report.
pub fn text(fit: &MetaResult) -> String {
    let mut out = String::new();
    out.push('\n');
    out.push_str(&model_title(fit));
    out.push_str("\n\n");
    if let Some(note) = dropped_note(fit) {
        out.push_str(&note);
        out.push_str("\n\n");
    }
    let het = heterogeneity_lines(fit);
    let w = het
        .iter()
        .map(|(a, _)| a.chars().count())
        .max()
        .unwrap_or(0);
    for (a, b) in &het {
        out.push_str(&format!("{a:<w$} {b}\n", w = w));
    }
    out.push('\n');
    let (qt, ql) = q_line(fit);
    out.push_str(&format!("{qt}\n{ql}\n\n"));
    if let Some((mt, ml)) = moderator_lines(fit) {
        out.push_str(&format!("{mt}\n{ml}\n\n"));
    }
    out.push_str("Model Results:\n\n");
    let with_names = fit.is_meta_regression();
    for line in align(&coefficient_rows(fit, with_names), with_names) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("\n---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n");
    if let (Some(lo), Some(hi)) = (fit.pi_lower, fit.pi_upper) {
        out.push_str(&format!(
            "\nPrediction interval ({}%): [{}, {}]\n",
            fmt_level(fit.level),
            f4(lo),
            f4(hi)
        ));
    }
    if fit.df.is_some() && fit.s2w != 1.0 {
        out.push_str(&format!(
            "Knapp-Hartung adjustment: t and F tests on {} df, Var(b) scaled by s2w = {}\n",
            fit.q_df,
            f4(fit.s2w)
        ));
    }
    if !fit.dropped_columns.is_empty() {
        out.push_str(&format!(
            "Redundant predictors dropped from the model: {}\n",
            fit.dropped_columns.join(", ")
        ));
    }
    out.push_str("\nStudy weights (%):\n\n");
    let mut rows = vec![vec![
        "study".to_string(),
        "yi".into(),
        "vi".into(),
        "fixed".into(),
        "random".into(),
    ]];
    for s in &fit.studies {
        rows.push(vec![
            s.slab.clone(),
            f4(s.yi),
            f4(s.vi),
            format!("{:.2}", s.weight_fixed),
            format!("{:.2}", s.weight_random),
        ]);
    }
    for line in align(&rows, true) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn fmt_level(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{level:.0}")
    } else {
        format!("{level}")
    }
}

fn md_table(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        out.push_str("| ");
        out.push_str(&r.join(" | "));
        out.push_str(" |\n");
        if i == 0 {
            out.push('|');
            for _ in r {
                out.push_str("---|");
            }
            out.push('\n');
        }
    }
    out
}

/// Markdown report.
pub fn markdown(fit: &MetaResult) -> String {
    let mut out = format!("## {}\n\n", model_title(fit));
    if let Some(note) = dropped_note(fit) {
        out.push_str(&format!("{note}\n\n"));
    }
    let mut het = vec![vec!["statistic".to_string(), "value".to_string()]];
    for (a, b) in heterogeneity_lines(fit) {
        het.push(vec![a.trim_end_matches(':').to_string(), b]);
    }
    let (_, ql) = q_line(fit);
    het.push(vec!["heterogeneity test".into(), ql]);
    if let Some((_, ml)) = moderator_lines(fit) {
        het.push(vec!["test of moderators".into(), ml]);
    }
    if let (Some(lo), Some(hi)) = (fit.pi_lower, fit.pi_upper) {
        het.push(vec![
            format!("prediction interval ({}%)", fmt_level(fit.level)),
            format!("[{}, {}]", f4(lo), f4(hi)),
        ]);
    }
    out.push_str(&md_table(&het));
    out.push_str("\n### Model results\n\n");
    let mut rows = coefficient_rows(fit, true);
    if let Some(h) = rows.first_mut() {
        h[0] = "term".into();
        if let Some(last) = h.last_mut() {
            *last = "signif".into();
        }
    }
    out.push_str(&md_table(&rows));
    if !fit.dropped_columns.is_empty() {
        out.push_str(&format!(
            "\nRedundant predictors dropped: {}\n",
            fit.dropped_columns.join(", ")
        ));
    }
    out.push_str("\n### Study weights\n\n");
    let mut w = vec![vec![
        "study".to_string(),
        "yi".into(),
        "vi".into(),
        "weight fixed (%)".into(),
        "weight random (%)".into(),
    ]];
    for s in &fit.studies {
        w.push(vec![
            s.slab.replace('|', "\\|"),
            f4(s.yi),
            f4(s.vi),
            format!("{:.2}", s.weight_fixed),
            format!("{:.2}", s.weight_random),
        ]);
    }
    out.push_str(&md_table(&w));
    out
}
