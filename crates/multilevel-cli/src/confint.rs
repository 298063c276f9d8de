//! `multilevel confint`: confidence intervals (lme4's `confint(fit, method = ...)`).

use crate::args::OutputFormat;
use crate::fit::{check_response, cli_error, write_report};
use anyhow::Result;
use clap::{Args, ValueEnum};
use multilevel::IntervalMethod;
use multilevel::MixedModel;

/// Examples shown by `multilevel confint --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel confint --dataset sleepstudy \"Reaction ~ Days + (Days | Subject)\"
  multilevel confint --dataset sleepstudy --method boot --nsim 1000 --seed 42 \"Reaction ~ Days + (Days | Subject)\"
  multilevel confint --dataset Dyestuff --method wald --level 0.9 \"Yield ~ 1 + (1 | Batch)\"

Profile intervals (the default) cover the random-effect standard deviations and correlations, the
residual standard deviation and the fixed effects, from the profiled ML deviance as lme4 does.
Bootstrap intervals are percentile intervals of a parametric bootstrap (refits run in parallel and
are reproducible from --seed whatever the number of threads). Wald intervals cover the fixed
effects only.";

/// How the intervals are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Profile likelihood.
    Profile,
    /// β̂ ± z·se.
    Wald,
    /// Parametric bootstrap, percentile intervals.
    Boot,
}

/// Arguments of `multilevel confint`.
#[derive(Debug, Args)]
pub struct ConfintArgs {
    /// Model formula in lme4 syntax.
    #[arg(value_name = "FORMULA")]
    pub formula: String,
    /// Data source and fit options.
    #[command(flatten)]
    pub model: crate::args::ModelData,
    /// Interval method.
    #[arg(long, value_enum, default_value_t = Method::Profile)]
    pub method: Method,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Bootstrap replicates (with --method boot).
    #[arg(long, default_value_t = 1000)]
    pub nsim: usize,
    /// Bootstrap seed (with --method boot).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Report format and destination.
    #[command(flatten)]
    pub report: crate::args::ReportOutput,
}

/// Runs `multilevel confint`.
pub fn run(a: &ConfintArgs) -> Result<()> {
    let data = a.model.load()?;
    check_response(&a.formula, &data)?;
    // Intervals need no conditional variances of the random effects.
    let opts = multilevel::FitOptions {
        cond_var: false,
        ..a.model.fit_options()
    };
    let (method, label) = match a.method {
        Method::Profile => (IntervalMethod::Profile, "profile likelihood"),
        Method::Wald => (IntervalMethod::Wald, "Wald"),
        Method::Boot => (
            IntervalMethod::Bootstrap {
                nsim: a.nsim,
                seed: a.seed,
            },
            "parametric bootstrap, percentile",
        ),
    };
    let model = multilevel::lmer(&a.formula, &data, &opts).map_err(cli_error)?;
    let intervals = model.confint(method, a.level).map_err(cli_error)?;
    let fit = model.summary();
    let lo = format!("{:.1} %", 50.0 * (1.0 - a.level));
    let hi = format!("{:.1} %", 100.0 - 50.0 * (1.0 - a.level));
    let report = match a.report.format {
        OutputFormat::Json => {
            let rows: Vec<serde_json::Value> = intervals
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "parameter": i.term,
                        "lower": finite(i.lower),
                        "upper": finite(i.upper),
                    })
                })
                .collect();
            let v = serde_json::json!({
                "formula": fit.formula,
                "data": fit.data_name,
                "method": label,
                "level": a.level,
                "intervals": rows,
            });
            format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        OutputFormat::Text => {
            let width = intervals
                .iter()
                .map(|i| i.term.chars().count())
                .max()
                .unwrap_or(0);
            let mut s = format!(
                "Confidence intervals ({label}, level {})\nFormula: {}\n   Data: {}\n\n",
                a.level, fit.formula, fit.data_name
            );
            s.push_str(&format!("{:width$} {lo:>12} {hi:>12}\n", ""));
            for i in &intervals {
                s.push_str(&format!(
                    "{:width$} {:>12.5} {:>12.5}\n",
                    i.term, i.lower, i.upper
                ));
            }
            s
        }
        OutputFormat::Markdown => {
            let mut s = format!(
                "## Confidence intervals ({label}, level {})\n\n- **Formula:** `{}`\n- **Data:** {}\n\n| parameter | {lo} | {hi} |\n| --- | ---: | ---: |\n",
                a.level, fit.formula, fit.data_name
            );
            for i in &intervals {
                s.push_str(&format!(
                    "| {} | {:.5} | {:.5} |\n",
                    i.term.replace('|', "\\|"),
                    i.lower,
                    i.upper
                ));
            }
            s
        }
    };
    write_report(&report, a.report.output.as_deref())
}

fn finite(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}
