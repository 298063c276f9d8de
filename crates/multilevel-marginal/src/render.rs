//! Text, markdown and JSON reports of [`GeeResult`] and [`RobustResult`].
//!
//! JSON: the `fixed` rows carry the keys of `multilevel fit --format json` (`term`,
//! `estimate`, `std_error`, `statistic`, `df`, `p_value`) plus extras (`wald` and
//! `naive_std_error` for GEE, `model_std_error` for cluster-robust tables); non-finite numbers
//! are `null`.

use crate::{GeeResult, QUESTION_NOTE, RobustResult};
use multilevel_numeric::fmt::{format_pval, format_vec, signif_stars};
use multilevel_numeric::render::{Format, Render};
use multilevel_numeric::table::{Align, layout_matrix};
use serde_json::{Value, json};

/// Pretty JSON ending with a newline.
fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

impl Render for GeeResult {
    /// [`gee_text`], [`gee_markdown`] or [`gee_json`] pretty-printed.
    fn render(&self, format: Format) -> String {
        match format {
            Format::Text => gee_text(self),
            Format::Markdown => gee_markdown(self),
            Format::Json => pretty(&gee_json(self)),
        }
    }
}

impl Render for RobustResult {
    /// [`robust_text`], [`robust_markdown`] or [`robust_json`] pretty-printed.
    fn render(&self, format: Format) -> String {
        match format {
            Format::Text => robust_text(self),
            Format::Markdown => robust_markdown(self),
            Format::Json => pretty(&robust_json(self)),
        }
    }
}

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// Formats one numeric column R-style (common decimals), trimmed.
fn col(xs: &[f64], digits: usize) -> Vec<String> {
    format_vec(xs, digits, 0)
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect()
}

/// Coefficient table lines: term, numeric columns, p-value column, stars.
fn coef_table(terms: &[String], heads: &[&str], cols: &[Vec<String>], p: &[f64]) -> Vec<String> {
    let ps = format_pval(p, 3);
    let cells: Vec<Vec<String>> = (0..terms.len())
        .map(|i| {
            let mut row: Vec<String> = cols
                .iter()
                .map(|c| c.get(i).cloned().unwrap_or_default())
                .collect();
            row.push(ps.get(i).cloned().unwrap_or_default());
            row.push(signif_stars(p.get(i).copied().unwrap_or(f64::NAN)).to_string());
            row
        })
        .collect();
    let mut names: Vec<String> = heads.iter().map(|s| s.to_string()).collect();
    names.push(String::new());
    layout_matrix(terms, &names, &cells, Align::Right)
}

const STARS: &str = "---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1";

fn cluster_line(name: &str, g: usize, sizes: Option<(usize, usize)>, nobs: usize) -> String {
    match sizes {
        Some((a, b)) if a == b => {
            format!("{g} clusters ({name}) of {a} observations; {nobs} observations")
        }
        Some((a, b)) => {
            format!("{g} clusters ({name}) of {a} to {b} observations; {nobs} observations")
        }
        None => format!("{g} clusters ({name}); {nobs} observations"),
    }
}

/// `(3 rows dropped for missing values)`, or nothing when no row was dropped.
fn dropped_rows_note(n: usize) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 row dropped for missing values".to_string()),
        n => Some(format!("{n} rows dropped for missing values")),
    }
}

/// The note on model-matrix columns dropped as aliased (R prints their coefficients as `NA`).
fn aliased_note(cols: &[String]) -> Option<String> {
    if cols.is_empty() {
        return None;
    }
    let list: Vec<String> = cols.iter().map(|c| format!("`{c}`")).collect();
    Some(format!(
        "{} dropped as not estimable (linearly dependent on other columns): {}",
        if cols.len() == 1 {
            "1 coefficient".to_string()
        } else {
            format!("{} coefficients", cols.len())
        },
        list.join(", ")
    ))
}

/// The dropped-rows and aliased-columns notes as markdown sentences (empty when none).
fn markdown_notes(n_dropped: usize, aliased: &[String]) -> String {
    let mut out = String::new();
    for note in [dropped_rows_note(n_dropped), aliased_note(aliased)]
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("{note}.\n\n"));
    }
    out
}

/// geeglm-style text summary.
pub fn gee_text(r: &GeeResult) -> String {
    let mut out = String::new();
    out.push_str("Generalized estimating equations (geepack's geeglm) with robust (sandwich) standard errors\n");
    out.push_str(&format!(" Formula: {}\n", r.formula));
    out.push_str(&format!("    Data: {}\n", r.data_name));
    out.push_str(&format!("  Family: {} ({} link)\n", r.family, r.link));
    out.push_str(&format!(
        "Clusters: {}\n",
        cluster_line(&r.cluster_name, r.clusters, Some(r.cluster_sizes), r.nobs)
    ));
    if let Some(note) = dropped_rows_note(r.n_dropped_missing) {
        out.push_str(&format!("          ({note})\n"));
    }
    out.push_str("\nCoefficients:\n");
    let terms: Vec<String> = r.fixed.iter().map(|f| f.term.clone()).collect();
    let est: Vec<f64> = r.fixed.iter().map(|f| f.estimate).collect();
    let se: Vec<f64> = r.fixed.iter().map(|f| f.std_error).collect();
    let z: Vec<f64> = r.fixed.iter().map(|f| f.statistic).collect();
    let w: Vec<f64> = r.fixed.iter().map(|f| f.wald).collect();
    let p: Vec<f64> = r.fixed.iter().map(|f| f.p_value).collect();
    for line in coef_table(
        &terms,
        &["Estimate", "Std.err", "z", "Wald", "Pr(>|W|)"],
        &[col(&est, 5), col(&se, 5), col(&z, 4), col(&w, 4)],
        &p,
    ) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(STARS);
    out.push('\n');
    if let Some(note) = aliased_note(&r.dropped_columns) {
        out.push_str(&format!("{note}\n"));
    }
    out.push('\n');
    match r.working_correlation.alpha {
        Some(a) => out.push_str(&format!(
            "Working correlation: {}, alpha = {}\n",
            r.working_correlation.structure.name(),
            col(&[a], 5).join("")
        )),
        None => out.push_str("Working correlation: independence\n"),
    }
    out.push_str(&format!(
        "Estimated scale: {}\n",
        col(&[r.scale], 5).join("")
    ));
    out.push_str(&format!("Note: {QUESTION_NOTE}\n"));
    out
}

/// Markdown summary of a GEE fit.
pub fn gee_markdown(r: &GeeResult) -> String {
    let mut out = String::new();
    out.push_str("## Generalized estimating equations\n\n");
    out.push_str(&format!(
        "`{}` — data `{}`, family {} ({} link), {}.\n\n",
        r.formula,
        r.data_name,
        r.family,
        r.link,
        cluster_line(&r.cluster_name, r.clusters, Some(r.cluster_sizes), r.nobs)
    ));
    out.push_str(&markdown_notes(r.n_dropped_missing, &r.dropped_columns));
    out.push_str(
        "| term | estimate | robust SE | z | Wald | p |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let est: Vec<f64> = r.fixed.iter().map(|f| f.estimate).collect();
    let se: Vec<f64> = r.fixed.iter().map(|f| f.std_error).collect();
    let z: Vec<f64> = r.fixed.iter().map(|f| f.statistic).collect();
    let w: Vec<f64> = r.fixed.iter().map(|f| f.wald).collect();
    let p: Vec<f64> = r.fixed.iter().map(|f| f.p_value).collect();
    let (e, s, zz, ww, pp) = (
        col(&est, 5),
        col(&se, 5),
        col(&z, 4),
        col(&w, 4),
        format_pval(&p, 3),
    );
    for (i, f) in r.fixed.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            f.term, e[i], s[i], zz[i], ww[i], pp[i]
        ));
    }
    out.push('\n');
    match r.working_correlation.alpha {
        Some(a) => out.push_str(&format!(
            "Working correlation: {}, α = {}. ",
            r.working_correlation.structure.name(),
            col(&[a], 5).join("")
        )),
        None => out.push_str("Working correlation: independence. "),
    }
    out.push_str(&format!("Scale: {}.\n\n", col(&[r.scale], 5).join("")));
    out.push_str(&format!("*{QUESTION_NOTE}*\n"));
    out
}

/// JSON value of a GEE fit.
pub fn gee_json(r: &GeeResult) -> Value {
    json!({
        "model": "gee",
        "formula": r.formula,
        "data": r.data_name,
        "response": r.response,
        "family": r.family,
        "link": r.link,
        "nobs": r.nobs,
        "n_dropped_missing": r.n_dropped_missing,
        "dropped_columns": r.dropped_columns,
        "cluster": r.cluster_name,
        "clusters": r.clusters,
        "cluster_size_min": r.cluster_sizes.0,
        "cluster_size_max": r.cluster_sizes.1,
        "fixed": r.fixed.iter().map(|f| json!({
            "term": f.term,
            "estimate": num(f.estimate),
            "std_error": num(f.std_error),
            "statistic": num(f.statistic),
            "df": Value::Null,
            "p_value": num(f.p_value),
            "wald": num(f.wald),
            "naive_std_error": num(f.naive_std_error),
        })).collect::<Vec<_>>(),
        "vcov": r.vcov.iter().map(|&x| num(x)).collect::<Vec<_>>(),
        "working_correlation": {
            "structure": r.working_correlation.structure.name(),
            "alpha": r.working_correlation.alpha.map_or(Value::Null, num),
        },
        "scale": num(r.scale),
        "iterations": r.iterations,
        "question": QUESTION_NOTE,
    })
}

fn robust_title(r: &RobustResult) -> String {
    let what = if r.model == "lmm" {
        "Linear mixed model (REML) fixed effects"
    } else {
        "OLS"
    };
    format!(
        "{what} with {} cluster-robust standard errors and Satterthwaite df (clubSandwich's coef_test)",
        r.cr_type.name()
    )
}

/// Text table of a cluster-robust fit.
pub fn robust_text(r: &RobustResult) -> String {
    let mut out = String::new();
    out.push_str(&robust_title(r));
    out.push('\n');
    out.push_str(&format!(" Formula: {}\n", r.formula));
    out.push_str(&format!("    Data: {}\n", r.data_name));
    out.push_str(&format!(
        "Clusters: {}\n",
        cluster_line(&r.cluster_name, r.clusters, None, r.nobs)
    ));
    if let Some(note) = dropped_rows_note(r.n_dropped_missing) {
        out.push_str(&format!("          ({note})\n"));
    }
    out.push_str("\nCoefficients:\n");
    let terms: Vec<String> = r.fixed.iter().map(|f| f.term.clone()).collect();
    let est: Vec<f64> = r.fixed.iter().map(|f| f.estimate).collect();
    let se: Vec<f64> = r.fixed.iter().map(|f| f.std_error).collect();
    let mse: Vec<f64> = r.fixed.iter().map(|f| f.model_std_error).collect();
    let t: Vec<f64> = r.fixed.iter().map(|f| f.statistic).collect();
    let df: Vec<f64> = r.fixed.iter().map(|f| f.df).collect();
    let p: Vec<f64> = r.fixed.iter().map(|f| f.p_value).collect();
    for line in coef_table(
        &terms,
        &["Estimate", "Robust SE", "Model SE", "t", "df", "Pr(>|t|)"],
        &[
            col(&est, 5),
            col(&se, 5),
            col(&mse, 5),
            col(&t, 4),
            col(&df, 4),
        ],
        &p,
    ) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(STARS);
    out.push('\n');
    if let Some(note) = aliased_note(&r.dropped_columns) {
        out.push_str(&format!("{note}\n"));
    }
    out.push_str(&format!("Note: {QUESTION_NOTE}\n"));
    out
}

/// Markdown table of a cluster-robust fit.
pub fn robust_markdown(r: &RobustResult) -> String {
    let mut out = format!("## {}\n\n", robust_title(r));
    out.push_str(&format!(
        "`{}` — data `{}`, {}.\n\n",
        r.formula,
        r.data_name,
        cluster_line(&r.cluster_name, r.clusters, None, r.nobs)
    ));
    out.push_str(&markdown_notes(r.n_dropped_missing, &r.dropped_columns));
    out.push_str("| term | estimate | robust SE | model SE | t | df | p |\n|---|---:|---:|---:|---:|---:|---:|\n");
    let f = &r.fixed;
    let e = col(&f.iter().map(|x| x.estimate).collect::<Vec<_>>(), 5);
    let s = col(&f.iter().map(|x| x.std_error).collect::<Vec<_>>(), 5);
    let m = col(&f.iter().map(|x| x.model_std_error).collect::<Vec<_>>(), 5);
    let t = col(&f.iter().map(|x| x.statistic).collect::<Vec<_>>(), 4);
    let d = col(&f.iter().map(|x| x.df).collect::<Vec<_>>(), 4);
    let p = format_pval(&f.iter().map(|x| x.p_value).collect::<Vec<_>>(), 3);
    for (i, x) in f.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            x.term, e[i], s[i], m[i], t[i], d[i], p[i]
        ));
    }
    out.push_str(&format!("\n*{QUESTION_NOTE}*\n"));
    out
}

/// JSON value of a cluster-robust fit.
pub fn robust_json(r: &RobustResult) -> Value {
    json!({
        "model": r.model,
        "vcov_type": r.cr_type.name(),
        "df_method": "Satterthwaite",
        "formula": r.formula,
        "data": r.data_name,
        "nobs": r.nobs,
        "n_dropped_missing": r.n_dropped_missing,
        "dropped_columns": r.dropped_columns,
        "cluster": r.cluster_name,
        "clusters": r.clusters,
        "fixed": r.fixed.iter().map(|f| json!({
            "term": f.term,
            "estimate": num(f.estimate),
            "std_error": num(f.std_error),
            "statistic": num(f.statistic),
            "df": num(f.df),
            "p_value": num(f.p_value),
            "model_std_error": num(f.model_std_error),
        })).collect::<Vec<_>>(),
        "vcov": r.vcov.iter().map(|&x| num(x)).collect::<Vec<_>>(),
        "question": QUESTION_NOTE,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{CorStructure, CrType, GeeOptions, gee, ols_robust};
    use multilevel_frame::{DataFrame, ReadOptions};

    /// Six rows in three clusters; `z = 2x` is aliased; line 4 has no response.
    fn data() -> DataFrame {
        let csv = "y,x,z,g\n1.0,1,2,a\n2.5,2,4,a\nNA,3,6,b\n3.1,4,8,b\n4.8,5,10,c\n6.3,6,12,c\n7.2,7,14,a\n";
        DataFrame::from_csv_str("t.csv", csv, &ReadOptions::default()).unwrap()
    }

    #[test]
    fn robust_reports_dropped_rows_and_aliased_columns_in_every_format() {
        let r = ols_robust("y ~ x + z", &data(), "g", CrType::Cr2).unwrap();
        assert_eq!(r.n_dropped_missing, 1);
        assert_eq!(r.dropped_columns, vec!["z".to_string()]);
        assert_eq!(r.fixed.len(), 2);
        let text = robust_text(&r);
        assert!(
            text.contains("(1 row dropped for missing values)"),
            "{text}"
        );
        assert!(
            text.contains("1 coefficient dropped as not estimable"),
            "{text}"
        );
        assert!(text.contains("`z`"), "{text}");
        let md = robust_markdown(&r);
        assert!(md.contains("1 row dropped for missing values."), "{md}");
        assert!(md.contains("columns): `z`."), "{md}");
        let js = robust_json(&r);
        assert_eq!(js["n_dropped_missing"], 1);
        assert_eq!(js["dropped_columns"][0], "z");
    }

    #[test]
    fn gee_reports_dropped_rows_and_aliased_columns_in_every_format() {
        let opts = GeeOptions {
            corstr: CorStructure::Exchangeable,
            ..GeeOptions::default()
        };
        let r = gee("y ~ x + z", &data(), "g", &opts).unwrap();
        assert_eq!((r.n_dropped_missing, r.nobs), (1, 6));
        assert_eq!(r.dropped_columns, vec!["z".to_string()]);
        assert!(gee_text(&r).contains("(1 row dropped for missing values)"));
        assert!(gee_text(&r).contains("columns): `z`"));
        assert!(gee_markdown(&r).contains("1 row dropped for missing values."));
        assert_eq!(gee_json(&r)["dropped_columns"][0], "z");
    }

    #[test]
    fn notes_count_in_singular_and_plural() {
        assert_eq!(dropped_rows_note(0), None);
        assert_eq!(
            dropped_rows_note(3).as_deref(),
            Some("3 rows dropped for missing values")
        );
        assert_eq!(aliased_note(&[]), None);
        let two = aliased_note(&["b".to_string(), "c".to_string()]).unwrap();
        assert!(
            two.starts_with("2 coefficients dropped as not estimable"),
            "{two}"
        );
        assert!(two.ends_with("`b`, `c`"), "{two}");
    }

    #[test]
    fn a_model_without_coefficients_is_an_error() {
        let err = ols_robust("y ~ 0", &data(), "g", CrType::Cr2).unwrap_err();
        assert!(
            err.to_string().contains("no fixed-effects coefficients"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_gee_response_names_its_line() {
        let csv = "y,x,g\n0,1,a\n1,2,a\n2,3,b\n0,4,b\n";
        let d = DataFrame::from_csv_str("b.csv", csv, &ReadOptions::default()).unwrap();
        let opts = GeeOptions {
            family: multilevel_glmm::FamilySpec::parse("binomial", None).unwrap(),
            ..GeeOptions::default()
        };
        let err = gee("y ~ x", &d, "g", &opts).unwrap_err().to_string();
        assert!(err.starts_with("b.csv, line 4: "), "{err}");
    }
}
