//! Text, markdown and JSON renderings of an [`ExploreReport`].

use crate::ExploreReport;
use multilevel_numeric::render::{Format, Render};

impl Render for ExploreReport {
    /// Text ([`render_text`]), markdown ([`render_markdown`]) or the report serialised as
    /// pretty JSON.
    fn render(&self, format: Format) -> String {
        match format {
            Format::Text => render_text(self),
            Format::Markdown => render_markdown(self),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                s.push('\n');
                s
            }
        }
    }
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        return "NA".to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        format!("{x:.4e}")
    } else {
        format!("{x:.4}")
    }
}

fn pval(p: f64) -> String {
    if !p.is_finite() {
        "NA".to_string()
    } else if p < 2.2e-16 {
        "< 2.2e-16".to_string()
    } else {
        num(p)
    }
}

fn ci(c: Option<[f64; 2]>) -> String {
    c.map_or_else(
        || "-".to_string(),
        |[a, b]| format!("[{}, {}]", num(a), num(b)),
    )
}

/// Header row and body rows of the report's two tables.
type Table = (Vec<&'static str>, Vec<Vec<String>>, usize);

fn tables(r: &ExploreReport) -> (Table, Table) {
    let groups = (
        vec![
            "group",
            "levels",
            "mean n",
            "min",
            "max",
            "tau2",
            "sigma2",
            "ICC",
            "ICC CI",
            "deff",
            "sqrt deff",
            "eff. n",
        ],
        r.groups
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    g.levels.to_string(),
                    format!("{:.2}", g.mean_size),
                    g.min_size.to_string(),
                    g.max_size.to_string(),
                    num(g.between_variance),
                    num(g.within_variance),
                    num(g.icc),
                    ci(g.icc_ci),
                    num(g.design_effect),
                    num(g.sqrt_design_effect),
                    format!("{:.1}", g.effective_n),
                ]
            })
            .collect(),
        1,
    );
    let est = (
        vec![
            "method",
            "term",
            "estimate",
            "std. error",
            "robust SE (CR1)",
        ],
        r.estimators
            .iter()
            .map(|e| {
                vec![
                    e.method.name().to_string(),
                    e.term.clone(),
                    num(e.estimate),
                    num(e.std_error),
                    e.robust_std_error.map_or_else(|| "-".to_string(), num),
                ]
            })
            .collect(),
        2,
    );
    (groups, est)
}

fn aligned(out: &mut String, (head, rows, left): &Table) {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(wi) = w.get_mut(i) {
                *wi = (*wi).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = w.get(i).copied().unwrap_or(0)
                    - c.chars().count().min(w.get(i).copied().unwrap_or(0));
                // Text columns (the first `left`) left-aligned, numbers right-aligned.
                if i < *left {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    out.push_str(&line(head.iter().map(|s| s.to_string()).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
}

fn markdown_table(out: &mut String, (head, rows, left): &Table) {
    out.push_str(&format!("| {} |\n", head.join(" | ")));
    out.push_str(&format!(
        "|{}|\n",
        head.iter()
            .enumerate()
            .map(|(i, _)| if i < *left { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}

/// The variance partition of nested groupings as a table, if there is one.
fn partition_table(r: &ExploreReport) -> Option<Table> {
    let rows = r.partition.as_ref()?;
    Some((
        vec!["level", "variance", "share (ICC)"],
        rows.iter()
            .map(|p| vec![p.level.clone(), num(p.variance), num(p.share)])
            .collect(),
        1,
    ))
}

/// Plain-text report: clustering table, estimator table, Hausman test, notes.
pub fn render_text(r: &ExploreReport) -> String {
    let (g, e) = tables(r);
    let mut out = format!(
        "Multilevel exploration of {} in {} ({} observations)\n\nClustering (empty model {} ~ 1 + (1 | group), REML)\n",
        r.response, r.data_name, r.nobs, r.response
    );
    aligned(&mut out, &g);
    out.push_str(&format!("ICC CI: {}\n", r.icc_ci_method));
    if let Some(p) = partition_table(r) {
        out.push_str(
            "\nVariance partition (joint empty model, groups nested in the order given)\n",
        );
        aligned(&mut out, &p);
    }
    out.push_str(&format!("\nEstimators (cluster: {})\n", r.cluster));
    aligned(&mut out, &e);
    if let Some(h) = &r.hausman {
        out.push_str(&format!(
            "\nHausman test (within vs random; {}): H = {} on {} df, p = {}\n  {}\n",
            h.terms.join(", "),
            num(h.statistic),
            h.df,
            pval(h.p_value),
            h.conclusion
        ));
        if !h.re_estimator.is_empty() {
            out.push_str(&format!("  random-effects estimator: {}\n", h.re_estimator));
        }
        if let Some(n) = &h.note {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    if !r.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &r.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}

/// Markdown report with the same content as [`render_text`].
pub fn render_markdown(r: &ExploreReport) -> String {
    let (g, e) = tables(r);
    let mut out = format!(
        "## Multilevel exploration of `{}` in `{}` ({} observations)\n\n### Clustering (empty model, REML)\n\n",
        r.response, r.data_name, r.nobs
    );
    markdown_table(&mut out, &g);
    out.push_str(&format!("\nICC CI: {}\n", r.icc_ci_method));
    if let Some(p) = partition_table(r) {
        out.push_str(
            "\n### Variance partition (joint empty model, groups nested in the order given)\n\n",
        );
        markdown_table(&mut out, &p);
    }
    out.push_str(&format!("\n### Estimators (cluster: `{}`)\n\n", r.cluster));
    markdown_table(&mut out, &e);
    if let Some(h) = &r.hausman {
        out.push_str(&format!(
            "\n### Hausman test\n\nH = {} on {} df, p = {}: {}\n",
            num(h.statistic),
            h.df,
            pval(h.p_value),
            h.conclusion
        ));
        if !h.re_estimator.is_empty() {
            out.push_str(&format!("\nRandom-effects estimator: {}\n", h.re_estimator));
        }
        if let Some(n) = &h.note {
            out.push_str(&format!("\n*Note:* {n}\n"));
        }
    }
    if !r.notes.is_empty() {
        out.push_str("\n### Notes\n\n");
        for n in &r.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}
