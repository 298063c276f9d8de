//! The Wald χ² table of a GLMM's terms (`car::Anova(fit, type = 3)`).

use crate::{Format, Render};
use multilevel_inference::WaldChisqRow;
use multilevel_numeric::fmt::{format_pval, format_vec, signif_stars};

/// Wald χ² tests per term of a fit, laid out as car's "Analysis of Deviance Table (Type III
/// Wald chisquare tests)".
#[derive(Debug, Clone, Copy)]
pub struct WaldChisqReport<'a> {
    /// One row per term.
    pub rows: &'a [WaldChisqRow],
    /// The response as written in the formula.
    pub response: &'a str,
    /// The model formula.
    pub formula: &'a str,
    /// The data set's name.
    pub data: &'a str,
}

const TITLE: &str = "Analysis of Deviance Table (Type III Wald chisquare tests)";

impl Render for WaldChisqReport<'_> {
    fn render(&self, format: Format) -> String {
        let chisq: Vec<f64> = self.rows.iter().map(|r| r.chisq).collect();
        let ps: Vec<f64> = self.rows.iter().map(|r| r.p_value).collect();
        match format {
            Format::Json => {
                let rows: Vec<serde_json::Value> = self
                    .rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "term": r.term, "chisq": r.chisq, "df": r.df, "p_value": r.p_value,
                        })
                    })
                    .collect();
                let v = serde_json::json!({
                    "formula": self.formula,
                    "data": self.data,
                    "test": "Wald chi-squared, type III",
                    "rows": rows,
                });
                let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
                s.push('\n');
                s
            }
            Format::Text => {
                let c = format_vec(&chisq, 5, 0);
                let p = format_pval(&ps, 4);
                let df: Vec<String> = self.rows.iter().map(|r| r.df.to_string()).collect();
                let names: Vec<&str> = self.rows.iter().map(|r| r.term.as_str()).collect();
                let wn = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
                let wc = c.iter().map(String::len).max().unwrap_or(0).max(5);
                let wd = df.iter().map(String::len).max().unwrap_or(0).max(2);
                let wp = p.iter().map(String::len).max().unwrap_or(0).max(10);
                let mut s = format!(
                    "{TITLE}\n\nFormula: {}\n   Data: {}\nResponse: {}\n",
                    self.formula, self.data, self.response
                );
                s.push_str(&format!(
                    "{:wn$} {:>wc$} {:>wd$} {:>wp$}\n",
                    "", "Chisq", "Df", "Pr(>Chisq)"
                ));
                for i in 0..self.rows.len() {
                    let line = format!(
                        "{:wn$} {:>wc$} {:>wd$} {:>wp$} {}",
                        names[i],
                        c[i],
                        df[i],
                        p[i],
                        signif_stars(ps[i])
                    );
                    s.push_str(line.trim_end());
                    s.push('\n');
                }
                s.push_str("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n");
                s
            }
            Format::Markdown => {
                let mut s = format!(
                    "**{TITLE}**\n\nFormula: `{}`, data: {}, response: `{}`\n\n| Term | Chisq | Df | Pr(>Chisq) |\n|---|---:|---:|---:|\n",
                    self.formula, self.data, self.response
                );
                let p = format_pval(&ps, 4);
                for (r, p) in self.rows.iter().zip(&p) {
                    s.push_str(&format!(
                        "| {} | {:.4} | {} | {} |\n",
                        r.term, r.chisq, r.df, p
                    ));
                }
                s
            }
        }
    }
}
