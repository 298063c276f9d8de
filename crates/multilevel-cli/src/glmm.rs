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

/// `--family`, `--link` and `--nagq` of the commands that fit a model to ask it something
/// (`anova`, `compare`, `confint`, `plot`): gaussian is a linear mixed model, any other family
/// a GLMM.
#[derive(Debug, clap::Args)]
pub struct GlmmChoice {
    /// Response family: gaussian (a linear mixed model, the default) or a GLMM family.
    #[arg(long, value_enum, default_value_t = Family::Gaussian, value_name = "FAMILY")]
    pub family: Family,
    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Adaptive Gauss–Hermite quadrature points for GLMMs (lme4's nAGQ; 1 = Laplace).
    #[arg(long, value_name = "N")]
    pub nagq: Option<u32>,
}

impl GlmmChoice {
    /// Whether a GLMM is asked for: a family other than gaussian, or a non-identity link.
    pub fn is_glmm(&self) -> bool {
        self.family != Family::Gaussian
            || self
                .link
                .as_ref()
                .is_some_and(|l| !l.eq_ignore_ascii_case("identity"))
    }

    /// Refuses `--nagq` without a GLMM family and more than 100 points.
    pub fn check(&self) -> Result<()> {
        if let Some(n) = self.nagq {
            if !self.is_glmm() {
                bail!(
                    "--nagq {n} applies only to GLMMs; hint: add --family binomial|poisson|gamma|inverse_gaussian|negative_binomial, or omit --nagq"
                );
            }
            if n > 100 {
                bail!(
                    "--nagq {n} is too large; hint: lme4 allows at most 100 quadrature points (25 is plenty)"
                );
            }
        }
        Ok(())
    }

    /// Fit the GLMM with the data's fit options.
    pub fn fit(
        &self,
        formula: &str,
        data: &DataFrame,
        fit: multilevel::FitOptions,
    ) -> Result<GeneralizedLinearMixedModel> {
        let opts = GlmerOptions {
            fit,
            quadrature: multilevel::Quadrature::from_n_agq(self.nagq.unwrap_or(1) as usize),
        };
        fit_glmm(self.family, self.link.as_deref(), formula, data, &opts)
    }
}
