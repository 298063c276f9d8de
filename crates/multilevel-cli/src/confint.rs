//! `multilevel confint`: confidence intervals (lme4's `confint(fit, method = ...)`).

use crate::fit::{check_response, cli_error, report_format, write_report};
use anyhow::Result;
use clap::{Args, ValueEnum};
use multilevel::IntervalMethod;
use multilevel::MixedModel;
use multilevel_report::{ConfintReport, Render};

/// Examples shown by `multilevel confint --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel confint --dataset sleepstudy \"Reaction ~ Days + (Days | Subject)\"
  multilevel confint --dataset sleepstudy --method boot --nsim 1000 --seed 42 \"Reaction ~ Days + (Days | Subject)\"
  multilevel confint --dataset Dyestuff --method wald --level 0.9 \"Yield ~ 1 + (1 | Batch)\"
  multilevel confint --dataset cbpp --family binomial --method profile \"cbind(incidence, size - incidence) ~ period + (1 | herd)\"

Profile intervals (the default) cover the random-effect standard deviations and correlations, the
residual standard deviation and the fixed effects, from the profiled ML deviance as lme4 does.
Bootstrap intervals are percentile intervals of a parametric bootstrap (refits run in parallel and
are reproducible from --seed whatever the number of threads). Wald intervals cover the fixed
effects only. With --family (a GLMM) the default is Wald; --method profile profiles the Laplace
deviance (binomial, Poisson, negative binomial with its theta fixed) and --method boot simulates
from the fit and refits.";

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
    /// Family, link and quadrature.
    #[command(flatten)]
    pub glmm: crate::glmm::GlmmChoice,
    /// Interval method [default: profile; wald for GLMMs].
    #[arg(long, value_enum)]
    pub method: Option<Method>,
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
    a.glmm.check()?;
    if a.glmm.is_glmm() {
        return run_glmm(a);
    }
    let method = a.method.unwrap_or(Method::Profile);
    if method == Method::Boot {
        crate::bounds::check_replicates("--nsim", a.nsim, a.level, false)?;
    }
    let data = a.model.load()?;
    check_response(&a.formula, &data)?;
    // Intervals need no conditional variances of the random effects.
    let opts = multilevel::FitOptions {
        cond_var: false,
        ..a.model.fit_options()
    };
    let (method, label) = match method {
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
    let report = ConfintReport {
        formula: &fit.formula,
        data: &fit.data_name,
        method: label,
        level: a.level,
        intervals: &intervals,
    }
    .render(report_format(a.report.format));
    let report = crate::rows::with_dropped(
        report,
        a.report.format,
        fit.n_dropped_missing,
        &fit.data_name,
    );
    write_report(&report, a.report.output.as_deref())
}

/// `confint --family …`: intervals of a GLMM (lme4's `confint(fit, method = …)`): Wald (the
/// default here; rows for the random-effect parameters are NA in lme4), the profile of the
/// Laplace deviance, or a parametric bootstrap.
fn run_glmm(a: &ConfintArgs) -> Result<()> {
    let method = a.method.unwrap_or(Method::Wald);
    if method == Method::Boot {
        crate::bounds::check_replicates("--nsim", a.nsim, a.level, false)?;
    }
    if method == Method::Profile && a.glmm.nagq == Some(0) {
        anyhow::bail!(
            "--method profile needs the deviance as a function of the fixed effects, which a --nagq 0 fit does not have; hint: use --nagq 1 (the Laplace approximation) or --method wald"
        );
    }
    let (method, label) = match method {
        Method::Wald => (IntervalMethod::Wald, "Wald"),
        Method::Profile => (IntervalMethod::Profile, "profile likelihood"),
        Method::Boot => (
            IntervalMethod::Bootstrap {
                nsim: a.nsim,
                seed: a.seed,
            },
            "parametric bootstrap, percentile",
        ),
    };
    let data = a.model.load()?;
    let opts = multilevel::FitOptions {
        cond_var: false,
        ..a.model.fit_options()
    };
    let model = a.glmm.fit(&a.formula, &data, opts)?;
    let intervals = model.confint(method, a.level).map_err(cli_error)?;
    let fit = model.summary();
    let report = ConfintReport {
        formula: &fit.formula,
        data: &fit.data_name,
        method: label,
        level: a.level,
        intervals: &intervals,
    }
    .render(report_format(a.report.format));
    let report = crate::rows::with_dropped(
        report,
        a.report.format,
        fit.n_dropped_missing,
        &fit.data_name,
    );
    write_report(&report, a.report.output.as_deref())
}
