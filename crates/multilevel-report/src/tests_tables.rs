//! Reports of hypothesis tests: lmerTest's type III ANOVA table and lme4's likelihood-ratio
//! comparison of nested models (`anova(m1, m2)`), as text, JSON and markdown.
//!
//! Both tables are laid out as R's `print.anova()` prints them (`printCoefmat` with
//! `digits = 5`): the sums of squares, mean squares, information criteria, log-likelihoods and
//! df columns are zapped to 5 significant digits relative to their largest entry and formatted
//! with 5 digits; the test statistic (`F value`, `Chisq`) is rounded to 4 decimals; p-values use
//! `format.pval(digits = 4)` and significance stars.

use crate::Format;
use crate::json::{num, opt, pretty};
use crate::markdown::md_table;
use crate::num::{format_pval, format_vec, round_to, signif_stars, zapsmall};
use crate::summary::SIGNIF_LEGEND;
use crate::table::{Align, layout_matrix};
use multilevel_inference::{AnovaRow, LrtTable};
use serde_json::{Value, json};

/// Digits of R's `print.anova` (`getOption("digits") - 2`).
const ANOVA_DIGITS: usize = 5;

/// A numeric column zapped and formatted as `printCoefmat` does for its `zap.ind` columns;
/// missing values print as blanks.
fn zapped_column(xs: &[Option<f64>]) -> Vec<String> {
    let vals: Vec<f64> = xs.iter().map(|x| x.unwrap_or(f64::NAN)).collect();
    let z = zapsmall(&vals, ANOVA_DIGITS as i32);
    plain_column(xs, &z)
}

/// The test-statistic column: rounded to `digits - 1` decimals, then formatted with `digits`.
fn statistic_column(xs: &[Option<f64>]) -> Vec<String> {
    let r: Vec<f64> = xs
        .iter()
        .map(|x| round_to(x.unwrap_or(f64::NAN), ANOVA_DIGITS as i32 - 1))
        .collect();
    plain_column(xs, &r)
}

/// Formats the finite entries of `vals` as one vector; entries missing in `xs` are blank.
fn plain_column(xs: &[Option<f64>], vals: &[f64]) -> Vec<String> {
    let present: Vec<f64> = vals
        .iter()
        .zip(xs)
        .filter(|(_, x)| x.is_some())
        .map(|(v, _)| *v)
        .collect();
    let mut formatted = format_vec(&present, ANOVA_DIGITS, 0).into_iter();
    xs.iter()
        .map(|x| match x {
            Some(_) => formatted.next().unwrap_or_default().trim().to_string(),
            None => String::new(),
        })
        .collect()
}

/// The p-value column and whether any star is shown.
fn pvalue_column(ps: &[Option<f64>]) -> (Vec<String>, bool) {
    let present: Vec<f64> = ps.iter().flatten().copied().collect();
    let mut formatted = format_pval(&present, ANOVA_DIGITS - 1).into_iter();
    let col = ps
        .iter()
        .map(|p| match p {
            Some(_) => formatted.next().unwrap_or_default(),
            None => String::new(),
        })
        .collect();
    let stars = present.iter().any(|p| p.is_finite() && *p < 0.1);
    (col, stars)
}

/// A formatted table: header, row names, cells, and whether it has a stars column.
struct Formatted {
    headers: Vec<String>,
    rownames: Vec<String>,
    cells: Vec<Vec<String>>,
    stars: bool,
}

impl Formatted {
    fn new(
        headers: &[&str],
        rownames: Vec<String>,
        columns: Vec<Vec<String>>,
        ps: &[Option<f64>],
    ) -> Self {
        let (p_col, stars) = pvalue_column(ps);
        let mut headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        if stars {
            headers.push(String::new());
        }
        let cells = (0..rownames.len())
            .map(|i| {
                let mut row: Vec<String> = columns
                    .iter()
                    .map(|c| c.get(i).cloned().unwrap_or_default())
                    .collect();
                row.push(p_col.get(i).cloned().unwrap_or_default());
                if stars {
                    let p = ps.get(i).copied().flatten().unwrap_or(f64::NAN);
                    row.push(format!("{:<3}", signif_stars(p)));
                }
                row
            })
            .collect();
        Formatted {
            headers,
            rownames,
            cells,
            stars,
        }
    }

    fn text_lines(&self) -> Vec<String> {
        let mut out = layout_matrix(&self.rownames, &self.headers, &self.cells, Align::Right);
        if self.stars {
            out.push("---".into());
            out.push(SIGNIF_LEGEND.into());
        }
        out
    }

    fn markdown_lines(&self) -> Vec<String> {
        let mut headers = vec![String::new()];
        headers.extend(self.headers.iter().cloned());
        let rows: Vec<Vec<String>> = self
            .rownames
            .iter()
            .zip(&self.cells)
            .map(|(r, c)| {
                let mut row = vec![format!("`{r}`")];
                row.extend(c.iter().cloned());
                row
            })
            .collect();
        let mut aligns = vec![Align::Left];
        aligns.extend(std::iter::repeat_n(Align::Right, self.headers.len()));
        if self.stars
            && let Some(last) = aligns.last_mut()
        {
            *last = Align::Left;
        }
        let mut out = md_table(&headers, &rows, &aligns);
        if self.stars {
            out.push(String::new());
            out.push(SIGNIF_LEGEND.replace('*', "\\*"));
        }
        out
    }
}

fn join_lines(lines: Vec<String>) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The heading of the ANOVA table, e.g. `Type III Analysis of Variance Table with
/// Satterthwaite's method`.
pub fn anova_heading(df_method: &str) -> String {
    format!("Type III Analysis of Variance Table with {df_method}'s method")
}

fn anova_formatted(rows: &[AnovaRow]) -> Formatted {
    let col = |f: fn(&AnovaRow) -> f64| rows.iter().map(|r| Some(f(r))).collect::<Vec<_>>();
    let columns = vec![
        zapped_column(&col(|r| r.sum_sq)),
        zapped_column(&col(|r| r.mean_sq)),
        zapped_column(&col(|r| r.num_df)),
        zapped_column(&col(|r| r.den_df)),
        statistic_column(&col(|r| r.f_value)),
    ];
    Formatted::new(
        &["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"],
        rows.iter().map(|r| r.term.clone()).collect(),
        columns,
        &col(|r| r.p_value),
    )
}

/// Renders lmerTest's type III ANOVA table (`anova(fit)`): one row per fixed-effects term with
/// `Sum Sq`, `Mean Sq`, `NumDF`, `DenDF`, `F value` and `Pr(>F)`. `df_method` names the
/// denominator-df method in the heading (`Satterthwaite`); `formula` and `data` identify the
/// model in the JSON and markdown reports.
pub fn render_anova(
    rows: &[AnovaRow],
    df_method: &str,
    formula: &str,
    data: &str,
    format: Format,
) -> String {
    let heading = anova_heading(df_method);
    match format {
        Format::Json => {
            let terms: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "term": r.term,
                        "sum_sq": num(r.sum_sq),
                        "mean_sq": num(r.mean_sq),
                        "num_df": num(r.num_df),
                        "den_df": num(r.den_df),
                        "f_value": num(r.f_value),
                        "p_value": num(r.p_value),
                    })
                })
                .collect();
            pretty(&json!({
                "schema_version": crate::SCHEMA_VERSION,
                "kind": "anova",
                "type": "III",
                "df_method": df_method,
                "formula": formula,
                "data": data,
                "terms": terms,
            }))
        }
        Format::Text => {
            let mut out = vec![heading];
            if rows.is_empty() {
                out.push("(no fixed-effects terms to test besides the intercept)".into());
            } else {
                out.extend(anova_formatted(rows).text_lines());
            }
            join_lines(out)
        }
        Format::Markdown => {
            let mut out = vec![
                format!("## {heading}"),
                String::new(),
                format!("- **Formula:** `{formula}`"),
            ];
            if !data.is_empty() {
                out.push(format!("- **Data:** {data}"));
            }
            out.push(String::new());
            if rows.is_empty() {
                out.push("No fixed-effects terms to test besides the intercept.".into());
            } else {
                out.extend(anova_formatted(rows).markdown_lines());
            }
            join_lines(out)
        }
    }
}

/// The name R gives model `i` (0-based input position) of a comparison: `m1`, `m2`, ….
fn model_name(i: usize) -> String {
    format!("m{}", i + 1)
}

fn compare_formatted(table: &LrtTable) -> Formatted {
    let rows = &table.rows;
    let col = |f: fn(&multilevel_inference::LrtRow) -> Option<f64>| {
        rows.iter().map(f).collect::<Vec<_>>()
    };
    let columns = vec![
        zapped_column(&col(|r| Some(r.npar as f64))),
        zapped_column(&col(|r| Some(r.aic))),
        zapped_column(&col(|r| Some(r.bic))),
        zapped_column(&col(|r| Some(r.loglik))),
        zapped_column(&col(|r| Some(r.deviance))),
        statistic_column(&col(|r| r.chisq)),
        plain_column(
            &col(|r| r.df.map(|d| d as f64)),
            &col(|r| r.df.map(|d| d as f64))
                .iter()
                .map(|x| x.unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        ),
    ];
    Formatted::new(
        &[
            "npar",
            "AIC",
            "BIC",
            "logLik",
            "deviance",
            "Chisq",
            "Df",
            "Pr(>Chisq)",
        ],
        rows.iter().map(|r| model_name(r.model)).collect(),
        columns,
        &col(|r| r.p_value),
    )
}

/// Renders lme4's likelihood-ratio comparison (`anova(m1, m2, ...)`): the notes (e.g. that REML
/// fits were refitted by ML), the data, the models (named `m1`, `m2`, … in input order) and
/// the table (`npar`, `AIC`, `BIC`, `logLik`, `deviance`, `Chisq`, `Df`, `Pr(>Chisq)`), rows in
/// increasing `npar`, each tested against the row above.
pub fn render_compare(table: &LrtTable, data: &str, format: Format) -> String {
    let mut by_input: Vec<&multilevel_inference::LrtRow> = table.rows.iter().collect();
    by_input.sort_by_key(|r| r.model);
    match format {
        Format::Json => {
            let models: Vec<Value> = table
                .rows
                .iter()
                .map(|r| {
                    json!({
                        "model": model_name(r.model),
                        "formula": r.formula,
                        "npar": r.npar,
                        "aic": num(r.aic),
                        "bic": num(r.bic),
                        "loglik": num(r.loglik),
                        "deviance": num(r.deviance),
                        "chisq": opt(r.chisq),
                        "df": r.df,
                        "p_value": opt(r.p_value),
                    })
                })
                .collect();
            pretty(&json!({
                "schema_version": crate::SCHEMA_VERSION,
                "kind": "compare",
                "data": data,
                "refitted_with_ml": table.refitted,
                "notes": table.notes,
                "models": models,
            }))
        }
        Format::Text => {
            let mut out: Vec<String> = table.notes.iter().map(|n| format!("note: {n}")).collect();
            if !out.is_empty() {
                out.push(String::new());
            }
            if !data.is_empty() {
                out.push(format!("Data: {data}"));
            }
            out.push("Models:".into());
            for r in &by_input {
                out.push(format!("{}: {}", model_name(r.model), r.formula));
            }
            out.extend(compare_formatted(table).text_lines());
            join_lines(out)
        }
        Format::Markdown => {
            let mut out = vec!["## Likelihood-ratio comparison of models".to_string()];
            out.push(String::new());
            if !data.is_empty() {
                out.push(format!("- **Data:** {data}"));
            }
            for r in &by_input {
                out.push(format!("- **{}:** `{}`", model_name(r.model), r.formula));
            }
            out.push(String::new());
            out.extend(compare_formatted(table).markdown_lines());
            if !table.notes.is_empty() {
                out.push(String::new());
                out.push("### Notes".into());
                out.push(String::new());
                out.extend(table.notes.iter().map(|n| format!("- {n}")));
            }
            join_lines(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multilevel_inference::LrtRow;

    /// lmerTest 3.1-3 on `angle ~ recipe * temperature + (1 | recipe:replicate)` (cake, REML).
    fn cake_rows() -> Vec<AnovaRow> {
        let row = |term: &str, ss: f64, ms: f64, nd: f64, dd: f64, f: f64, p: f64| AnovaRow {
            term: term.into(),
            sum_sq: ss,
            mean_sq: ms,
            num_df: nd,
            den_df: dd,
            f_value: f,
            p_value: p,
        };
        vec![
            row(
                "recipe",
                10.185861,
                5.092931,
                2.0,
                41.99999981,
                0.2487888,
                0.7808856,
            ),
            row(
                "temperature",
                2100.300017,
                420.060003,
                5.0,
                210.00000007,
                20.5198606,
                1.153162e-16,
            ),
            row(
                "recipe:temperature",
                205.977778,
                20.597778,
                10.0,
                210.00000007,
                1.006198,
                0.4392694,
            ),
        ]
    }

    #[test]
    fn anova_text_is_laid_out_like_print_anova() {
        let text = render_anova(&cake_rows(), "Satterthwaite", "f", "cake", Format::Text);
        // As R's print.anova lays it out (trailing blanks removed); p < .Machine$double.eps
        // prints as `<2e-16` next to 6-character p-values (format.pval).
        let expected = "\
Type III Analysis of Variance Table with Satterthwaite's method
                   Sum Sq Mean Sq NumDF DenDF F value Pr(>F)
recipe               10.2    5.09     2    42  0.2488 0.7809
temperature        2100.3  420.06     5   210 20.5199 <2e-16 ***
recipe:temperature  206.0   20.60    10   210  1.0062 0.4393
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
";
        assert_eq!(text, expected);
    }

    fn sleep_table() -> LrtTable {
        let row = |model: usize, npar: usize, ll: f64, test: Option<(f64, i64, f64)>| LrtRow {
            model,
            formula: format!("formula {model}"),
            npar,
            aic: -2.0 * ll + 2.0 * npar as f64,
            bic: -2.0 * ll + (180f64).ln() * npar as f64,
            loglik: ll,
            deviance: -2.0 * ll,
            chisq: test.map(|t| t.0),
            df: test.map(|t| t.1),
            p_value: test.map(|t| t.2),
        };
        LrtTable {
            rows: vec![
                row(0, 4, -897.0393215, None),
                row(1, 6, -875.9696722, Some((42.1392985, 2, 7.072412e-10))),
            ],
            refitted: true,
            notes: vec!["refitting model(s) with ML (instead of REML)".into()],
        }
    }

    #[test]
    fn compare_text_is_laid_out_like_lme4() {
        let text = render_compare(&sleep_table(), "sleepstudy", Format::Text);
        let expected = "\
note: refitting model(s) with ML (instead of REML)

Data: sleepstudy
Models:
m1: formula 0
m2: formula 1
   npar    AIC    BIC  logLik deviance  Chisq Df Pr(>Chisq)
m1    4 1802.1 1814.9 -897.04   1794.1
m2    6 1763.9 1783.1 -875.97   1751.9 42.139  2  7.072e-10 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_and_markdown_carry_the_numbers() {
        let v: Value =
            serde_json::from_str(&render_compare(&sleep_table(), "sleepstudy", Format::Json))
                .unwrap_or(Value::Null);
        assert_eq!(v["kind"], "compare");
        assert_eq!(v["refitted_with_ml"], true);
        assert!(v["models"][0]["chisq"].is_null());
        assert_eq!(v["models"][1]["df"], 2);
        let a: Value = serde_json::from_str(&render_anova(
            &cake_rows(),
            "Satterthwaite",
            "f",
            "cake",
            Format::Json,
        ))
        .unwrap_or(Value::Null);
        assert_eq!(a["terms"][1]["term"], "temperature");
        assert_eq!(a["terms"][2]["num_df"], 10.0);
        let md = render_anova(&cake_rows(), "Satterthwaite", "f", "cake", Format::Markdown);
        assert!(
            md.contains("| `temperature`        | 2100.3 |  420.06 |"),
            "{md}"
        );
        let md = render_compare(&sleep_table(), "sleepstudy", Format::Markdown);
        assert!(md.contains("- refitting model(s) with ML"), "{md}");
    }
}
