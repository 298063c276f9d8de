//! `multilevel predict`: predictions for new data (lme4's `predict(fit, newdata, ...)`).

use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use clap::{Args, ValueEnum};
use multilevel::frame::{Column, NewDataError};
use multilevel::{DataFrame, PredictOptions, PredictScale, Prediction, ReForm};

use crate::args::Family;
use crate::fit::{check_response, cli_error, load_data, write_report};

/// Examples shown by `multilevel predict --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel predict --dataset sleepstudy --newdata new.csv --factor Subject \"Reaction ~ Days + (Days | Subject)\"
  multilevel predict --data train.csv --newdata new.csv --re-form none --se \"y ~ x + (1 | g)\"
  multilevel predict --dataset cbpp --newdata herds.csv --factor herd --factor period --family binomial --type response --allow-new-levels \"cbind(incidence, size - incidence) ~ period + (1 | herd)\"

One prediction per row of the new data, in order. --re-form all (the default) adds every random
effect; none gives the population-level prediction; a term such as \"(1 | g)\" adds that term's
effects only. The new data go through the fit's recipe: its factor levels, and scale(), cgm() and
poly() with the training data's statistics. A row with a missing value gets an empty prediction
(and is counted); a grouping level the fit has not seen is an error unless --allow-new-levels
(then its random effect is 0). --se gives the standard error of the fixed-effect part.";

/// The scale of the predictions (`--type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictType {
    /// The linear predictor η.
    Link,
    /// The mean μ = g⁻¹(η).
    Response,
}

/// Output format of the predictions (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON (schema in docs/json.md).
    Json,
    /// A markdown table.
    #[value(alias = "md")]
    Markdown,
}

/// Arguments of `multilevel predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model formula in lme4 syntax.
    #[arg(value_name = "FORMULA")]
    pub formula: String,
    /// Training data source and fit options.
    #[command(flatten)]
    pub model: crate::args::ModelData,
    /// CSV file of the rows to predict (the `--factor` columns it has are factors too).
    #[arg(long, value_name = "PATH")]
    pub newdata: std::path::PathBuf,
    /// Response family: gaussian (a linear mixed model, the default) or a GLMM family.
    #[arg(long, value_enum, default_value_t = Family::Gaussian, value_name = "FAMILY")]
    pub family: Family,
    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Adaptive Gauss–Hermite quadrature points for GLMMs (lme4's nAGQ).
    #[arg(long, value_name = "N")]
    pub nagq: Option<u32>,
    /// Random effects to include: all, none, or a term of the formula such as "(1 | g)".
    #[arg(long, default_value = "all", value_name = "FORM")]
    pub re_form: String,
    /// Predict grouping levels the fit has not seen with a zero random effect.
    #[arg(long)]
    pub allow_new_levels: bool,
    /// Scale of GLMM predictions.
    #[arg(long = "type", value_enum, default_value_t = PredictType::Link, value_name = "TYPE")]
    pub kind: PredictType,
    /// Add the standard error of the fixed-effect part (column `se_fit`).
    #[arg(long)]
    pub se: bool,
    /// Repeat the new data's columns before the predictions.
    #[arg(long)]
    pub keep_columns: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Csv, value_name = "FORMAT")]
    pub format: TableFormat,
    /// Write the predictions to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
}

/// Runs `multilevel predict`.
pub fn run(a: &PredictArgs) -> Result<()> {
    let glmm = a.family != Family::Gaussian
        || a.link
            .as_ref()
            .is_some_and(|l| !l.eq_ignore_ascii_case("identity"));
    if a.kind == PredictType::Response && !glmm {
        eprintln!(
            "note: a linear mixed model's identity link makes --type response equal to --type link"
        );
    }
    if a.nagq.is_some() && !glmm {
        bail!("--nagq applies only to GLMMs; hint: add --family, or omit --nagq");
    }
    let opts = PredictOptions {
        re_form: parse_re_form(&a.re_form)?,
        allow_new_levels: a.allow_new_levels,
        se_fit: a.se,
        scale: match a.kind {
            PredictType::Link => PredictScale::Link,
            PredictType::Response => PredictScale::Response,
        },
    };
    let train = a.model.load()?;
    // The new data are read like the training data (same forced delimiter, if any).
    let mut new = load_data(Some(&a.newdata), None, &[], a.model.source.delimiter)?;
    for f in &a.model.source.factors {
        if new.column(f).is_some() {
            new = new.to_factor(f, false)?;
        }
    }
    let fit_opts = a.model.fit_options();
    let pred = if glmm {
        let glmer_opts = multilevel::GlmerOptions {
            fit: fit_opts,
            quadrature: multilevel::Quadrature::from_n_agq(a.nagq.unwrap_or(1) as usize),
        };
        let m =
            crate::glmm::fit_glmm(a.family, a.link.as_deref(), &a.formula, &train, &glmer_opts)?;
        m.predict(&new, &opts).map_err(predict_error)?
    } else {
        check_response(&a.formula, &train)?;
        let m = multilevel::lmer(&a.formula, &train, &fit_opts).map_err(cli_error)?;
        m.predict(&new, &opts).map_err(predict_error)?
    };
    if !pred.missing_rows.is_empty() {
        let shown: Vec<String> = pred
            .missing_rows
            .iter()
            .take(10)
            .map(|r| (r + 1).to_string())
            .collect();
        eprintln!(
            "note: {} of {} rows of {} have no prediction (a value the model needs is missing): rows {}{}",
            pred.missing_rows.len(),
            pred.fit.len(),
            new.name(),
            shown.join(", "),
            if pred.missing_rows.len() > 10 {
                ", …"
            } else {
                ""
            }
        );
    }
    if pred.n_new_levels > 0 {
        eprintln!(
            "note: {} rows have a grouping level the fit has not seen (or none); their random effect for it is 0",
            pred.n_new_levels
        );
    }
    let text = render(&pred, &new, a);
    write_report(&text, a.output.as_deref())
}

/// `--re-form`: all, none (or NA, ~0), or random terms such as "(1 | g)".
fn parse_re_form(s: &str) -> Result<ReForm> {
    let t = s.trim();
    Ok(match t {
        "all" | "NULL" => ReForm::All,
        "none" | "NA" | "~0" | "~ 0" => ReForm::None,
        _ if t.contains('|') => ReForm::Terms(vec![t.trim_start_matches('~').trim().to_string()]),
        _ => bail!(
            "--re-form {s}: expected all, none or a random term such as \"(1 | g)\"; hint: write the term as in the formula"
        ),
    })
}

/// A library error of `predict` in the words of the command line.
fn predict_error(e: multilevel::Error) -> anyhow::Error {
    match e {
        multilevel::Error::NewData(boxed)
            if matches!(*boxed, NewDataError::NewGroupLevel { .. }) =>
        {
            let NewDataError::NewGroupLevel {
                data,
                location,
                group,
                level,
            } = *boxed
            else {
                return anyhow!("{boxed}");
            };
            anyhow!(
                "{data}, {location}: the grouping factor `{group}` has the level \"{level}\", which the model's data do not have; hint: add --allow-new-levels to predict it with a zero random effect (or --re-form none)"
            )
        }
        e => cli_error(e),
    }
}

fn number(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn cell(col: &Column, i: usize) -> Option<String> {
    match col {
        Column::Numeric(v) => v.get(i).copied().flatten().map(|x| x.to_string()),
        Column::Factor(f) => f.label(i).map(str::to_string),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn render(pred: &Prediction, new: &DataFrame, a: &PredictArgs) -> String {
    let kept: Vec<(&str, &Column)> = if a.keep_columns {
        new.column_names()
            .into_iter()
            .filter_map(|n| new.column(n).map(|c| (n, c)))
            .collect()
    } else {
        Vec::new()
    };
    let se = pred.se_fit.as_ref();
    let n = pred.fit.len();
    match a.format {
        TableFormat::Csv | TableFormat::Markdown => {
            let mut header: Vec<String> = kept.iter().map(|(n, _)| (*n).to_string()).collect();
            header.push("fit".into());
            if se.is_some() {
                header.push("se_fit".into());
            }
            let rows: Vec<Vec<String>> = (0..n)
                .map(|i| {
                    let mut row: Vec<String> = kept
                        .iter()
                        .map(|(_, c)| cell(c, i).unwrap_or_default())
                        .collect();
                    row.push(number(pred.fit[i]));
                    if let Some(se) = se {
                        row.push(number(se.get(i).copied().flatten()));
                    }
                    row
                })
                .collect();
            let mut out = String::new();
            if a.format == TableFormat::Csv {
                let line =
                    |r: &[String]| r.iter().map(|s| csv_field(s)).collect::<Vec<_>>().join(",");
                let _ = writeln!(out, "{}", line(&header));
                for r in &rows {
                    let _ = writeln!(out, "{}", line(r));
                }
            } else {
                let esc = |s: &String| s.replace('|', "\\|");
                let _ = writeln!(
                    out,
                    "| {} |",
                    header.iter().map(esc).collect::<Vec<_>>().join(" | ")
                );
                let _ = writeln!(out, "|{}", "---:|".repeat(header.len()));
                for r in &rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        r.iter().map(esc).collect::<Vec<_>>().join(" | ")
                    );
                }
            }
            out
        }
        TableFormat::Json => {
            let predictions: Vec<serde_json::Value> = (0..n)
                .map(|i| {
                    let mut obj = serde_json::Map::new();
                    obj.insert("row".into(), (i + 1).into());
                    for (name, c) in &kept {
                        let v = match c {
                            Column::Numeric(v) => v
                                .get(i)
                                .copied()
                                .flatten()
                                .map_or(serde_json::Value::Null, Into::into),
                            Column::Factor(f) => f
                                .label(i)
                                .map_or(serde_json::Value::Null, |s| s.to_string().into()),
                        };
                        obj.insert((*name).to_string(), v);
                    }
                    obj.insert(
                        "fit".into(),
                        pred.fit[i].map_or(serde_json::Value::Null, Into::into),
                    );
                    if let Some(se) = se {
                        obj.insert(
                            "se_fit".into(),
                            se.get(i)
                                .copied()
                                .flatten()
                                .map_or(serde_json::Value::Null, Into::into),
                        );
                    }
                    serde_json::Value::Object(obj)
                })
                .collect();
            let v = serde_json::json!({
                "kind": "predict",
                "formula": a.formula,
                "newdata": new.name(),
                "re_form": a.re_form,
                "type": match a.kind { PredictType::Link => "link", PredictType::Response => "response" },
                "allow_new_levels": a.allow_new_levels,
                "n": n,
                "n_missing": pred.missing_rows.len(),
                "missing_rows": pred.missing_rows.iter().map(|r| r + 1).collect::<Vec<_>>(),
                "n_new_levels": pred.n_new_levels,
                "predictions": predictions,
            });
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}
