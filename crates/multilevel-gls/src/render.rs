//! Text (nlme's `summary.gls` layout with lmerTest-style df), markdown and JSON reports of a
//! [`GlsFit`].
//!
//! JSON: the `fixed` rows carry the keys of `multilevel fit --format json` (`term`,
//! `estimate`, `std_error`, `statistic`, `df`, `p_value`); non-finite numbers are `null`. The
//! schema is described in docs/json.md ("GLS / MMRM fits").

use crate::fit::{GlsDf, GlsFit};
use multilevel_numeric::fmt::{format_num, format_pval, format_vec, signif_stars};
use multilevel_numeric::render::{Format, Render};
use multilevel_numeric::table::{Align, layout_matrix};
use serde_json::{Value, json};

impl Render for GlsFit {
    /// [`gls_text`], [`gls_markdown`] or [`gls_json`] pretty-printed.
    fn render(&self, format: Format) -> String {
        match format {
            Format::Text => gls_text(self),
            Format::Markdown => gls_markdown(self),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(&gls_json(self)).unwrap_or_default();
                s.push('\n');
                s
            }
        }
    }
}

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn col(xs: &[f64], digits: usize) -> Vec<String> {
    format_vec(xs, digits, 0)
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect()
}

fn method(r: &GlsFit) -> &'static str {
    if r.reml { "REML" } else { "ML" }
}

fn df_name(d: GlsDf) -> &'static str {
    match d {
        GlsDf::Satterthwaite => "Satterthwaite",
        GlsDf::Residual => "residual (N - p)",
        GlsDf::None => "none",
        GlsDf::KenwardRoger => "Kenward-Roger",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// One line with the data counts.
fn counts_line(r: &GlsFit) -> String {
    let c = &r.counts;
    let mut parts = vec![plural(c.observations, "observation", "observations")];
    if r.residual.is_some() {
        parts.push(plural(c.subjects, "subject", "subjects"));
        parts.push(plural(c.visits, "visit", "visits"));
        parts.push(format!(
            "{} with one visit",
            plural(c.subjects_with_one_visit, "subject", "subjects")
        ));
    }
    if c.rows_dropped > 0 {
        parts.push(format!(
            "{} dropped for missing values",
            plural(c.rows_dropped, "row", "rows")
        ));
    }
    parts.join("; ")
}

fn structure_line(r: &GlsFit) -> Option<String> {
    let mut parts = Vec::new();
    if let (Some(s), Some(c)) = (&r.residual, &r.correlation) {
        parts.push(format!("{s} ({})", c.kind.description()));
    }
    if let Some(v) = &r.residual_variance {
        parts.push(format!("{v} (a variance per level)"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The lower triangle of the correlation matrix, R's `print` layout.
fn correlation_lines(r: &GlsFit) -> Vec<String> {
    let Some(c) = &r.correlation else {
        return Vec::new();
    };
    if c.matrix.is_empty() {
        return Vec::new();
    }
    let k = c.visits.len();
    let cells: Vec<Vec<String>> = (0..k)
        .map(|i| {
            (0..=i)
                .map(|j| {
                    let v = c.matrix.get(i).and_then(|row| row.get(j)).copied();
                    v.map_or_else(String::new, |v| format!("{v:.3}"))
                })
                .collect()
        })
        .collect();
    layout_matrix(&c.visits, &c.visits, &cells, Align::Right)
}

fn sd_lines(names: &[String], values: &[f64]) -> Vec<String> {
    let cells = vec![col(values, 4)];
    layout_matrix(&[String::new()], names, &cells, Align::Right)
}

/// The kind of model, for the report's title.
fn model_title(r: &GlsFit) -> &'static str {
    if r.random.is_empty() {
        "Generalized least squares"
    } else if r.residual.is_some() || r.residual_variance.is_some() {
        "Linear mixed model with a residual covariance structure"
    } else {
        "Linear mixed model"
    }
}

/// How σ was obtained, for the reports.
fn sigma_note(r: &GlsFit) -> &'static str {
    if r.sigma_fixed { "fixed" } else { method(r) }
}

/// The random effects' table: group, name, standard deviation, correlations (lme4's
/// `VarCorr` layout, the structure named after a structured term's first correlation).
fn random_lines(r: &GlsFit) -> Vec<String> {
    let sds: Vec<f64> = r.random.iter().map(|c| c.sd).collect();
    let sd_text = col(&sds, 4);
    let kmax = r
        .random
        .iter()
        .map(|c| c.correlations.len())
        .max()
        .unwrap_or(0);
    let mut rows = Vec::new();
    let mut last_group = String::new();
    for (i, c) in r.random.iter().enumerate() {
        let group = if c.group != last_group || c.correlations.is_empty() {
            c.group.clone()
        } else {
            String::new()
        };
        last_group.clone_from(&c.group);
        let mut row = vec![
            group,
            c.name.clone(),
            sd_text.get(i).cloned().unwrap_or_default(),
        ];
        for j in 0..kmax {
            row.push(c.correlations.get(j).map_or_else(String::new, |v| {
                if j == 0 && c.structure != "us" && c.structure != "diag" {
                    format!("{v:.3} ({})", c.structure)
                } else {
                    format!("{v:.3}")
                }
            }));
        }
        rows.push(row);
    }
    let mut heads = vec![
        "Groups".to_string(),
        "Name".to_string(),
        "Std.Dev.".to_string(),
    ];
    if kmax > 0 {
        heads.push("Corr".to_string());
        heads.extend((1..kmax).map(|_| String::new()));
    }
    let blank: Vec<String> = rows.iter().map(|_| String::new()).collect();
    let mut lines = layout_matrix(&blank, &heads, &rows, Align::Left);
    for l in &mut lines {
        *l = l.trim_end().to_string();
    }
    lines.push(format!(
        " Residual (σ = {}, {})",
        format_num(r.sigma, 4),
        sigma_note(r)
    ));
    lines
}

/// nlme-like text summary.
pub fn gls_text(r: &GlsFit) -> String {
    let mut out = String::new();
    if r.random.is_empty() {
        out.push_str(&format!(
            "Generalized least squares fit by {} ['gls']\n",
            if r.reml { "REML" } else { "maximum likelihood" }
        ));
    } else {
        out.push_str(&format!(
            "{} fit by {} ['lme']\n",
            model_title(r),
            if r.reml { "REML" } else { "maximum likelihood" }
        ));
    }
    out.push_str(&format!("Formula: {}\n", r.formula));
    if let Some(s) = structure_line(r) {
        out.push_str(&format!("Residual: {s}\n"));
    }
    out.push_str(&format!(
        "   Data: {} ({})\n\n",
        r.data_name,
        counts_line(r)
    ));
    let heads = ["AIC".to_string(), "BIC".to_string(), "logLik".to_string()];
    let vals = col(&[r.aic, r.bic, r.loglik], 6);
    for line in layout_matrix(&[String::new()], &heads, &[vals], Align::Right) {
        out.push_str(&format!("{line}\n"));
    }
    if !r.random.is_empty() {
        out.push_str("\nRandom effects:\n");
        for line in random_lines(r) {
            out.push_str(&format!("{line}\n"));
        }
    }
    if let Some(c) = &r.correlation {
        out.push_str(&format!("\nResidual correlation ({}):\n", c.structure));
        let lines = correlation_lines(r);
        if lines.is_empty() || matches!(c.kind, crate::ResidualKind::Ar1 | crate::ResidualKind::Cs)
        {
            for p in &c.parameters {
                out.push_str(&format!("  {} = {}\n", p.name, format_num(p.value, 4)));
            }
        }
        if !matches!(c.kind, crate::ResidualKind::Cs) {
            for line in lines {
                out.push_str(&format!("{line}\n"));
            }
        }
    }
    if !r.visit_sd.is_empty() {
        out.push_str("\nResidual standard deviation by visit:\n");
        let names: Vec<String> = r.visit_sd.iter().map(|n| n.name.clone()).collect();
        let vals: Vec<f64> = r.visit_sd.iter().map(|n| n.value).collect();
        for line in sd_lines(&names, &vals) {
            out.push_str(&format!("{line}\n"));
        }
    }
    if let (false, Some(v)) = (r.level_sd.is_empty(), &r.residual_variance) {
        out.push_str(&format!("\nResidual standard deviation by level ({v}):\n"));
        let names: Vec<String> = r.level_sd.iter().map(|n| n.name.clone()).collect();
        let vals: Vec<f64> = r.level_sd.iter().map(|n| n.value).collect();
        for line in sd_lines(&names, &vals) {
            out.push_str(&format!("{line}\n"));
        }
    }
    let with_df = r.coefficients.iter().any(|c| c.df.is_some());
    out.push_str(&format!(
        "\nCoefficients{}:\n",
        if with_df {
            let adjusted = if r.vcov_adjusted.is_some() {
                "; standard errors from the adjusted covariance"
            } else {
                ""
            };
            format!(" ({} df{adjusted})", df_name(r.df_method))
        } else {
            String::new()
        }
    ));
    let terms: Vec<String> = r.coefficients.iter().map(|c| c.name.clone()).collect();
    let est: Vec<f64> = r.coefficients.iter().map(|c| c.estimate).collect();
    let se: Vec<f64> = r.coefficients.iter().map(|c| c.std_error).collect();
    let t: Vec<f64> = r.coefficients.iter().map(|c| c.t_value).collect();
    let mut heads = vec!["Estimate", "Std. Error"];
    let mut cols = vec![col(&est, 4), col(&se, 4)];
    if with_df {
        let df: Vec<f64> = r
            .coefficients
            .iter()
            .map(|c| c.df.unwrap_or(f64::NAN))
            .collect();
        heads.push("df");
        cols.push(col(&df, 4));
    }
    heads.push("t value");
    cols.push(col(&t, 3));
    let p: Vec<f64> = r
        .coefficients
        .iter()
        .map(|c| c.p_value.unwrap_or(f64::NAN))
        .collect();
    let ps = format_pval(&p, 3);
    let cells: Vec<Vec<String>> = (0..terms.len())
        .map(|i| {
            let mut row: Vec<String> = cols
                .iter()
                .map(|c| c.get(i).cloned().unwrap_or_default())
                .collect();
            if with_df {
                row.push(ps.get(i).cloned().unwrap_or_default());
                row.push(signif_stars(p.get(i).copied().unwrap_or(f64::NAN)).to_string());
            }
            row
        })
        .collect();
    let mut names: Vec<String> = heads.iter().map(|s| s.to_string()).collect();
    if with_df {
        names.push("Pr(>|t|)".to_string());
        names.push(String::new());
    }
    for line in layout_matrix(&terms, &names, &cells, Align::Right) {
        out.push_str(&format!("{line}\n"));
    }
    if with_df {
        out.push_str("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n");
    }
    if !r.dropped_columns.is_empty() {
        out.push_str(&format!(
            "{} dropped as not estimable (linearly dependent on other columns): {}\n",
            plural(r.dropped_columns.len(), "coefficient", "coefficients"),
            r.dropped_columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push_str(&format!(
        "\nResidual standard error: {} ({})\n",
        format_num(r.sigma, 4),
        sigma_note(r)
    ));
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// Markdown summary.
pub fn gls_markdown(r: &GlsFit) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "## {} ({})\n\n`{}` — data `{}`: {}.\n\n",
        model_title(r),
        method(r),
        r.formula,
        r.data_name,
        counts_line(r)
    ));
    if let Some(s) = structure_line(r) {
        out.push_str(&format!("Residual covariance: {s}.\n\n"));
    }
    out.push_str(&format!(
        "| AIC | BIC | logLik | σ |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n\n",
        format_num(r.aic, 6),
        format_num(r.bic, 6),
        format_num(r.loglik, 6),
        format_num(r.sigma, 4)
    ));
    if !r.random.is_empty() {
        out.push_str(
            "**Random effects**\n\n| group | name | SD | correlations |\n|---|---|---:|---|\n",
        );
        for c in &r.random {
            let cors: Vec<String> = c.correlations.iter().map(|v| format!("{v:.3}")).collect();
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                c.group,
                c.name,
                format_num(c.sd, 4),
                cors.join(", ")
            ));
        }
        out.push('\n');
    }
    if let Some(c) = &r.correlation {
        out.push_str(&format!("**Residual correlation** (`{}`)\n\n", c.structure));
        if c.matrix.is_empty() || matches!(c.kind, crate::ResidualKind::Cs) {
            for p in &c.parameters {
                out.push_str(&format!("- {} = {}\n", p.name, format_num(p.value, 4)));
            }
            out.push('\n');
        } else {
            out.push_str(&format!("| | {} |\n", c.visits.join(" | ")));
            out.push_str(&format!("|---|{}\n", "---:|".repeat(c.visits.len())));
            for (i, row) in c.matrix.iter().enumerate() {
                let cells: Vec<String> = row
                    .iter()
                    .enumerate()
                    .map(|(j, v)| {
                        if j <= i {
                            format!("{v:.3}")
                        } else {
                            String::new()
                        }
                    })
                    .collect();
                out.push_str(&format!(
                    "| {} | {} |\n",
                    c.visits.get(i).map(String::as_str).unwrap_or(""),
                    cells.join(" | ")
                ));
            }
            out.push('\n');
        }
    }
    for (title, list) in [
        ("Residual SD by visit", &r.visit_sd),
        ("Residual SD by level", &r.level_sd),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("**{title}**: "));
            let items: Vec<String> = list
                .iter()
                .map(|n| format!("{} {}", n.name, format_num(n.value, 4)))
                .collect();
            out.push_str(&items.join(", "));
            out.push_str("\n\n");
        }
    }
    out.push_str("| term | estimate | SE | df | t | p |\n|---|---:|---:|---:|---:|---:|\n");
    for c in &r.coefficients {
        let p = c
            .p_value
            .map(|p| format_pval(&[p], 3).join(""))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            c.name,
            format_num(c.estimate, 4),
            format_num(c.std_error, 4),
            c.df.map(|d| format_num(d, 4)).unwrap_or_default(),
            format_num(c.t_value, 3),
            p
        ));
    }
    for w in &r.warnings {
        out.push_str(&format!("\nWarning: {w}\n"));
    }
    out
}

/// The JSON report.
pub fn gls_json(r: &GlsFit) -> Value {
    let named = |list: &[crate::Named], key: &str| -> Value {
        Value::Array(
            list.iter()
                .map(|n| json!({ key: n.name, "sd": num(n.value) }))
                .collect(),
        )
    };
    let residual = r.correlation.as_ref().map(|c| {
        json!({
            "structure": c.structure,
            "kind": c.kind.name(),
            "visits": c.visits,
            "correlation": c.matrix.iter().map(|row| row.iter().map(|v| num(*v)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "parameters": c.parameters.iter().map(|p| json!({"name": p.name, "value": num(p.value)})).collect::<Vec<_>>(),
            "sd_by_visit": named(&r.visit_sd, "visit"),
        })
    });
    let variance = r.residual_variance.as_ref().map(|v| {
        json!({
            "function": v,
            "sd_by_level": named(&r.level_sd, "level"),
        })
    });
    let mut out = json!({
        "model": if r.random.is_empty() { "gls" } else { "lme" },
        "formula": r.formula,
        "data": r.data_name,
        "response": r.response,
        "method": method(r),
        "residual": residual,
        "residual_variance": variance,
        "counts": {
            "observations": r.counts.observations,
            "rows_dropped": r.counts.rows_dropped,
            "subjects": r.counts.subjects,
            "visits": r.counts.visits,
            "subjects_with_one_visit": r.counts.subjects_with_one_visit,
            "max_visits_per_subject": r.counts.max_visits_per_subject,
            "patterns": r.counts.patterns,
        },
        "df_method": match r.df_method {
            GlsDf::Satterthwaite => "satterthwaite",
            GlsDf::Residual => "residual",
            GlsDf::None => "none",
            GlsDf::KenwardRoger => "kenward-roger",
        },
        "fixed": r.coefficients.iter().map(|c| json!({
            "term": c.name,
            "estimate": num(c.estimate),
            "std_error": num(c.std_error),
            "statistic": num(c.t_value),
            "df": c.df.map_or(Value::Null, num),
            "p_value": c.p_value.map_or(Value::Null, num),
        })).collect::<Vec<_>>(),
        "dropped_columns": r.dropped_columns,
        "vcov": r.vcov.iter().map(|row| row.iter().map(|v| num(*v)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "vcov_adjusted": r.vcov_adjusted.as_ref().map_or(Value::Null, |m| json!(m.iter().map(|row| row.iter().map(|v| num(*v)).collect::<Vec<_>>()).collect::<Vec<_>>())),
        "sigma": num(r.sigma),
        "loglik": num(r.loglik),
        "aic": num(r.aic),
        "bic": num(r.bic),
        "n_parameters": r.n_parameters,
        "optimizer": {
            "evaluations": r.evaluations,
            "converged": r.converged,
            "message": r.message,
        },
        "warnings": r.warnings,
    });
    if r.sigma_fixed
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert("sigma_fixed".to_string(), Value::Bool(true));
    }
    if !r.random.is_empty()
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert(
            "random".to_string(),
            Value::Array(
                r.random
                    .iter()
                    .map(|c| {
                        json!({
                            "group": c.group,
                            "name": c.name,
                            "structure": c.structure,
                            "sd": num(c.sd),
                            "correlations": c.correlations.iter().map(|v| num(*v)).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            ),
        );
    }
    out
}
