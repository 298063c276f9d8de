//! Text, markdown and JSON reports of [`GeeResult`] and [`RobustResult`].
//!
//! JSON: the `fixed` rows carry the keys of `multilevel fit --format json` (`term`,
//! `estimate`, `std_error`, `statistic`, `df`, `p_value`) plus extras (`wald` and
//! `naive_std_error` for GEE, `model_std_error` for cluster-robust tables); non-finite numbers
//! are `null`.

use crate::{GeeResult, QUESTION_NOTE, RobustResult};
use multilevel_report::num::{format_pval, format_vec, signif_stars};
use multilevel_report::table::{Align, layout_matrix};
use serde_json::{Value, json};

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
    if r.n_dropped_missing > 0 {
        out.push_str(&format!(
            "          ({} rows dropped for missing values)\n",
            r.n_dropped_missing
        ));
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
    if r.n_dropped_missing > 0 {
        out.push_str(&format!(
            "          ({} rows dropped for missing values)\n",
            r.n_dropped_missing
        ));
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
