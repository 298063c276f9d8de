//! `multilevel fit --zi "~ x"` and `--family negative_binomial1`: a zero-inflated Poisson, NB2
//! or NB1 mixed model (glmmTMB's `ziformula`) or an NB1 mixed model (glmmTMB's `nbinom1`),
//! reported as `summary(glmmTMB)` (text, markdown as a code block) or JSON.

use crate::args::{Family, FitArgs, OutputFormat};
use crate::fit::{cli_error, write_report};
use anyhow::{Result, bail};
use multilevel::{ZiCount, ZiOptions};

/// Runs `multilevel fit --zi FORMULA` and `multilevel fit --family negative_binomial1`.
pub fn run(a: &FitArgs) -> Result<()> {
    let zi = a.zi.clone();
    let count = match a.family {
        Family::Poisson => ZiCount::Poisson,
        Family::NegativeBinomial => ZiCount::NegativeBinomial2,
        Family::NegativeBinomial1 => ZiCount::NegativeBinomial1,
        other => bail!(
            "--zi needs a count family, and --family {} has no zero-inflation; hint: use --family poisson, negative_binomial or negative_binomial1",
            other.name()
        ),
    };
    if let Some(link) = a.link.as_deref()
        && link != "log"
    {
        bail!("--link {link}: this count model has the log link only; hint: omit --link");
    }
    if a.nagq.is_some_and(|n| n != 1) {
        bail!("--nagq: this model is fitted by the Laplace approximation only; hint: omit --nagq");
    }
    if a.ddf.is_some() || a.model.weights.is_some() {
        bail!("--ddf/--weights do not apply to this count model; hint: omit them");
    }
    if a.augment.is_some() || a.tidy.is_some() || a.glance.is_some() {
        bail!(
            "--augment/--tidy/--glance are not available for this count model yet; hint: use --format json"
        );
    }
    if a.model.ml {
        eprintln!(
            "note: this count model is always fitted by maximum likelihood; --ml changes nothing"
        );
    }
    let data = a.model.load()?;
    let opts = ZiOptions {
        count,
        zi_formula: zi,
        fit: a.model.fit_options(),
    };
    let model = multilevel::zero_inflated(&a.formula, &data, &opts).map_err(cli_error)?;
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
