//! Generalized linear mixed models through the facade (lme4's `glmer`).

use crate::{DataFrame, Error, FitOptions, FitResult};
use multilevel_design::DesignOptions;
use multilevel_glmm::{FamilySpec, GlmmOptions};

/// Fit a generalized linear mixed model (lme4's `glmer(formula, data, family, nAGQ)`).
///
/// `family` is `binomial`, `poisson`, `gamma` (or `Gamma`), `inverse_gaussian` or `gaussian`;
/// `link` defaults to the family's canonical link (`logit`, `log`, `inverse`, `1/mu^2`).
/// `n_agq` = 1 is the Laplace approximation, > 1 adaptive Gauss–Hermite quadrature (one scalar
/// random-effects term only), 0 the fast first stage (β profiled by PIRLS).
/// `opts.weights` are prior weights (binomial: the number of trials for a proportion response).
///
/// ```
/// use multilevel::{FitOptions, dataset, glmer};
///
/// let cbpp = dataset("cbpp")?;
/// let fit = glmer(
///     "cbind(incidence, size - incidence) ~ period + (1 | herd)",
///     &cbpp,
///     "binomial",
///     None,
///     1,
///     &FitOptions::default(),
/// )?;
/// assert_eq!(fit.family, "binomial");
/// assert!((fit.loglik + 92.03).abs() < 0.01); // lme4: logLik = -92.02628
/// # Ok::<(), multilevel::Error>(())
/// ```
pub fn glmer(
    formula: &str,
    data: &DataFrame,
    family: &str,
    link: Option<&str>,
    n_agq: usize,
    opts: &FitOptions,
) -> Result<FitResult, Error> {
    let spec = FamilySpec::parse(family, link).map_err(Error::Family)?;
    let (parsed, mf) = crate::parse_and_frame(formula, data, opts)?;
    let mut design =
        multilevel_design::build_design_with(&parsed, &mf, &DesignOptions { allow_n: true })?;
    design.formula = formula.to_string();
    let glmm_opts = GlmmOptions {
        n_agq,
        cond_var: opts.cond_var,
        ..GlmmOptions::default()
    };
    Ok(multilevel_glmm::glmer(design, &spec, &glmm_opts)?)
}
