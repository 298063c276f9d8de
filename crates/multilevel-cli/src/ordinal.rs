//! `multilevel fit --family ordinal`: a cumulative link mixed model (ordinal::clmm) with
//! `--link logit|probit|cloglog` and `--nagq N`, reported as `summary(clmm)` (text, markdown
//! as a code block) or JSON.

use crate::args::{FitArgs, OutputFormat};
use crate::fit::{cli_error, write_report};
use anyhow::{Result, bail};
use multilevel::{ClmmOptions, OrdinalLink};

/// Runs `multilevel fit --family ordinal`.
pub fn run(a: &FitArgs) -> Result<()> {
    let link = match a.link.as_deref() {
        None => OrdinalLink::Logit,
        Some(name) => match OrdinalLink::parse(name) {
            Some(l) => l,
            None => bail!(
                "link `{name}` is not available for the ordinal family; hint: use --link logit, probit or cloglog"
            ),
        },
    };
    if let Some(n) = a.nagq
        && (n == 0 || n as usize > multilevel::MAX_AGQ)
    {
        bail!(
            "--nagq {n}: an ordinal model takes 1 (Laplace) to {} quadrature points; hint: omit --nagq for the Laplace approximation",
            multilevel::MAX_AGQ
        );
    }
    if a.ddf.is_some() || a.residual.is_some() || a.residual_variance.is_some() {
        bail!(
            "--ddf/--residual/--residual-variance do not apply to an ordinal model; hint: omit them"
        );
    }
    if a.augment.is_some() || a.tidy.is_some() || a.glance.is_some() {
        bail!(
            "--augment/--tidy/--glance are not available for ordinal models yet; hint: use --format json"
        );
    }
    if a.model.ml {
        eprintln!(
            "note: ordinal models are always fitted by maximum likelihood; --ml changes nothing"
        );
    }
    let data = a.model.load()?;
    let opts = ClmmOptions {
        link,
        n_agq: a.nagq.unwrap_or(1) as usize,
        fit: a.model.fit_options(),
    };
    let model = multilevel::clmm(&a.formula, &data, &opts).map_err(cli_error)?;
    let report = match a.report.format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&model.to_json())?;
            s.push('\n');
            s
        }
        OutputFormat::Text => model.summary_text(),
        OutputFormat::Markdown => format!("```\n{}```\n", model.summary_text()),
    };
    if a.report.format != OutputFormat::Text || a.report.output.is_some() {
        for n in &model.notes {
            eprintln!("note: {n}");
        }
    }
    write_report(&report, a.report.output.as_deref())
}
