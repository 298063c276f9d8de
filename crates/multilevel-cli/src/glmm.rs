//! Fitting a GLMM for any command that takes `--family`: the negative binomial goes through
//! `glmer.nb`'s search for θ, every other family through `glmer` with its link.

use crate::args::Family;
use crate::fit::{cli_error, family_spec};
use anyhow::{Result, bail};
use multilevel::{DataFrame, GeneralizedLinearMixedModel, GlmerOptions, Link};

/// The links the negative binomial family allows (MASS's `negative.binomial`).
const NB_LINKS: &str = "log, sqrt, identity";

/// Fit `formula` to `data` with `--family` and `--link`.
pub fn fit_glmm(
    family: Family,
    link: Option<&str>,
    formula: &str,
    data: &DataFrame,
    opts: &GlmerOptions,
) -> Result<GeneralizedLinearMixedModel> {
    if family == Family::NegativeBinomial {
        let link = match link {
            None => Link::Log,
            Some(name) => match Link::parse(name) {
                Some(l @ (Link::Log | Link::Sqrt | Link::Identity)) => l,
                Some(l) => bail!(
                    "link `{}` is not available for the negative_binomial family; hint: use --link with one of {NB_LINKS}",
                    l.name()
                ),
                None => bail!(
                    "unknown link `{name}`; hint: --link takes one of {NB_LINKS} for the negative_binomial family"
                ),
            },
        };
        return multilevel::glmer_nb(formula, data, link, opts).map_err(cli_error);
    }
    let spec = family_spec(family, link)?;
    multilevel::glmer(formula, data, spec, opts).map_err(cli_error)
}
