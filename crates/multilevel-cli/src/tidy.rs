//! `fit --tidy FILE` and `fit --glance FILE`: the fit as one-row-per-parameter and one-row
//! tables with broom.mixed's column names (`effect, group, term, estimate, std.error,
//! statistic, df, p.value`; `nobs, sigma, logLik, AIC, BIC, deviance, df.residual`), as CSV or,
//! for a file name ending in `.json`, JSON.

use std::path::Path;

use anyhow::{Result, anyhow};
use multilevel::FitResult;

/// One row of the tidy table.
struct Row {
    effect: &'static str,
    group: String,
    level: String,
    term: String,
    estimate: f64,
    std_error: Option<f64>,
    statistic: Option<f64>,
    df: Option<f64>,
    p_value: Option<f64>,
}

fn rows(fit: &FitResult) -> Vec<Row> {
    let mut out: Vec<Row> = fit
        .fixed
        .iter()
        .map(|f| Row {
            effect: "fixed",
            group: String::new(),
            level: String::new(),
            term: f.term.clone(),
            estimate: f.estimate,
            std_error: Some(f.std_error),
            statistic: Some(f.statistic),
            df: f.df,
            p_value: f.p_value,
        })
        .collect();
    let ran = |group: &str, term: String, estimate: f64| Row {
        effect: "ran_pars",
        group: group.to_string(),
        level: String::new(),
        term,
        estimate,
        std_error: None,
        statistic: None,
        df: None,
        p_value: None,
    };
    let mut groups: Vec<&str> = Vec::new();
    for v in &fit.random {
        if !groups.contains(&v.group.as_str()) {
            groups.push(&v.group);
        }
    }
    for g in groups {
        for v in fit.random.iter().filter(|v| v.group == g) {
            out.push(ran(g, format!("sd__{}", v.term), v.std_dev));
        }
        for c in fit.correlations.iter().filter(|c| c.group == g) {
            out.push(ran(g, format!("cor__{}.{}", c.term1, c.term2), c.corr));
        }
    }
    if let Some(r) = &fit.residual {
        out.push(ran("Residual", "sd__Observation".into(), r.std_dev));
    }
    out
}

fn num(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn json_num(x: Option<f64>) -> serde_json::Value {
    x.filter(|v| v.is_finite())
        .map_or(serde_json::Value::Null, Into::into)
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn write_file(path: &Path, text: &str, what: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| {
        anyhow!(
            "{}: cannot write the {what} table: {e}; hint: check that the directory exists and is writable",
            path.display()
        )
    })
}

/// Which rows the tidy table has (`--tidy-effects`, broom.mixed's `effects`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TidyEffect {
    /// The fixed effects.
    Fixed,
    /// The random-effect standard deviations and correlations, and the residual's.
    #[value(name = "ran_pars")]
    RanPars,
    /// The conditional modes with their conditional standard deviations (one row per
    /// grouping factor, term and level; a `level` column is added).
    #[value(name = "ran_vals")]
    RanVals,
}

/// The conditional modes (`effects = "ran_vals"`): by grouping factor, term, level.
fn ran_vals(ranef: &[multilevel::RanefRow]) -> Vec<Row> {
    ranef
        .iter()
        .map(|r| Row {
            effect: "ran_vals",
            group: r.group.clone(),
            level: r.level.clone(),
            term: r.term.clone(),
            estimate: r.estimate,
            std_error: r.std_error,
            statistic: None,
            df: None,
            p_value: None,
        })
        .collect()
}

/// Writes the tidy table: the chosen effects in broom.mixed's order (fixed effects, then per
/// grouping factor the standard deviations and correlations, then the residual standard
/// deviation, then the conditional modes).
pub fn write_tidy(
    path: &Path,
    fit: &FitResult,
    effects: &[TidyEffect],
    ranef: &[multilevel::RanefRow],
) -> Result<()> {
    let mut rows: Vec<Row> = rows(fit)
        .into_iter()
        .filter(|r| match r.effect {
            "fixed" => effects.contains(&TidyEffect::Fixed),
            _ => effects.contains(&TidyEffect::RanPars),
        })
        .collect();
    let with_level = effects.contains(&TidyEffect::RanVals);
    if with_level {
        rows.extend(ran_vals(ranef));
    }
    let text = if is_json(path) {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::json!({
                    "effect": r.effect,
                    "group": if r.group.is_empty() { serde_json::Value::Null } else { r.group.clone().into() },
                    "term": r.term,
                    "estimate": json_num(Some(r.estimate)),
                    "std.error": json_num(r.std_error),
                    "statistic": json_num(r.statistic),
                    "df": json_num(r.df),
                    "p.value": json_num(r.p_value),
                });
                if with_level && let Some(o) = v.as_object_mut() {
                    o.insert(
                        "level".into(),
                        if r.level.is_empty() { serde_json::Value::Null } else { r.level.clone().into() },
                    );
                }
                v
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    } else {
        let mut s = if with_level {
            String::from("effect,group,level,term,estimate,std.error,statistic,df,p.value\n")
        } else {
            String::from("effect,group,term,estimate,std.error,statistic,df,p.value\n")
        };
        for r in &rows {
            let group = if with_level {
                format!("{},{}", field(&r.group), field(&r.level))
            } else {
                field(&r.group)
            };
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                r.effect,
                group,
                field(&r.term),
                r.estimate,
                num(r.std_error),
                num(r.statistic),
                num(r.df),
                num(r.p_value)
            ));
        }
        s
    };
    write_file(path, &text, "tidy")
}

/// Writes the one-row glance table.
pub fn write_glance(path: &Path, fit: &FitResult) -> Result<()> {
    let text = if is_json(path) {
        let v = serde_json::json!({
            "nobs": fit.nobs,
            "sigma": json_num(Some(fit.sigma)),
            "logLik": json_num(Some(fit.loglik)),
            "AIC": json_num(Some(fit.aic)),
            "BIC": json_num(Some(fit.bic)),
            "deviance": json_num(fit.deviance),
            "df.residual": json_num(Some(fit.df_resid)),
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    } else {
        format!(
            "nobs,sigma,logLik,AIC,BIC,deviance,df.residual\n{},{},{},{},{},{},{}\n",
            fit.nobs,
            fit.sigma,
            fit.loglik,
            fit.aic,
            fit.bic,
            num(fit.deviance),
            fit.df_resid
        )
    };
    write_file(path, &text, "glance")
}
