//! Generalized linear mixed models through the facade (lme4's `glmer`): the fitted object and
//! the typed family.

use std::ops::Deref;

use multilevel_design::{Design, DesignOptions};
use multilevel_formula::Formula;
use multilevel_frame::ModelFrame;
use multilevel_glmm::{GlmFamily, GlmmFit, GlmmOptions};

use crate::MixedModel;
use crate::options::{GlmerOptions, IntervalMethod};
use crate::{DataFrame, Error, FitResult, inference};

/// A fitted generalized linear mixed model (lme4's `glmerMod`).
///
/// It holds the parsed formula, the model frame, the design, the family and the full GLMM
/// result (η̂, μ̂, residuals of every type, the overdispersion check); it dereferences to the
/// [`FitResult`].
///
/// ```
/// use multilevel::{Family, GlmerOptions, Link, MixedModel, dataset, glmer};
///
/// let cbpp = dataset("cbpp")?;
/// let m = glmer(
///     "cbind(incidence, size - incidence) ~ period + (1 | herd)",
///     &cbpp,
///     Family::Binomial,
///     &GlmerOptions::default(),
/// )?;
/// assert_eq!(m.family, "binomial");
/// assert!((m.loglik() + 92.03).abs() < 0.01); // lme4: logLik = -92.02628
/// // Another link, checked against those R allows for the family:
/// let probit = Family::Binomial.with_link(Link::Probit)?;
/// let p = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", &cbpp, probit,
///     &GlmerOptions::default())?;
/// assert_eq!(p.link, "probit");
/// assert!(Family::Poisson.with_link(Link::Logit).is_err());
/// # Ok::<(), multilevel::Error>(())
/// ```
#[derive(Debug)]
pub struct GeneralizedLinearMixedModel {
    formula: Formula,
    frame: ModelFrame,
    /// The training data's columns that the formula names (for predictions).
    train: DataFrame,
    design: Design,
    family: GlmFamily,
    options: GlmerOptions,
    fit: GlmmFit,
    /// The negative binomial's θ search, for `glmer_nb` fits.
    nb: Option<NbSearch>,
}

/// What `glmer.nb`'s search for the negative binomial shape θ found (see [`glmer_nb`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NbSearch {
    /// θ̂.
    pub theta: f64,
    /// Its standard error from the profiled deviance's curvature in log θ.
    pub theta_se: Option<f64>,
    /// θ₀ of MASS's `theta.ml` at the Poisson fit's means (where the search starts).
    pub theta_start: f64,
    /// GLMM fits the search took.
    pub fits: usize,
}

/// Fit a negative binomial (NB2, `Var = μ + μ²/θ`) GLMM as lme4's `glmer.nb(formula, data)`:
/// a Poisson fit, MASS's `theta.ml` for a start, then Brent's search over log θ of the Laplace
/// deviance of the GLMM with θ fixed (see [`multilevel_glmm::negbin`]). `link` is log, sqrt or
/// identity. The fitted object's family is `Negative Binomial(θ̂)`; θ̂ and its standard error
/// are in [`GeneralizedLinearMixedModel::nb_search`] and the summary's `family_parameters`.
///
/// ```
/// use multilevel::{GlmerOptions, Link, MixedModel, glmer_nb};
/// use multilevel::frame::{DataFrame, ReadOptions};
///
/// let csv = "y,g\n0,a\n3,a\n9,a\n1,b\n0,b\n2,b\n7,c\n12,c\n1,c\n0,d\n5,d\n4,d\n";
/// let data = DataFrame::from_csv_str("counts", csv, &ReadOptions::default())?;
/// let m = glmer_nb("y ~ 1 + (1 | g)", &data, Link::Log, &GlmerOptions::default())?;
/// assert!(m.family.starts_with("Negative Binomial("));
/// assert!(m.nb_search().is_some_and(|s| s.theta > 0.0));
/// # Ok::<(), multilevel::Error>(())
/// ```
///
/// # Errors
/// A response that is not a non-negative whole count, a link other than log/sqrt/identity,
/// and the pipeline's errors.
pub fn glmer_nb(
    formula: &str,
    data: &DataFrame,
    link: multilevel_glmm::LinkKind,
    opts: &GlmerOptions,
) -> Result<GeneralizedLinearMixedModel, Error> {
    opts.check()?;
    let (parsed, frame) = crate::parse_and_frame(formula, data, &opts.fit)?;
    let mut design =
        multilevel_design::build_design_with(&parsed, &frame, &DesignOptions { allow_n: true })?;
    design.formula = formula.to_string();
    let nb = multilevel_glmm::glmer_nb(
        design.clone(),
        link,
        &glmm_options(opts),
        &multilevel_glmm::NbOptions::default(),
    )?;
    let train = crate::predict::training_columns(&parsed, data)?;
    Ok(GeneralizedLinearMixedModel {
        formula: parsed,
        frame,
        train,
        design,
        family: nb.family,
        options: opts.clone(),
        fit: nb.fit,
        nb: Some(NbSearch {
            theta: nb.theta,
            theta_se: nb.theta_se,
            theta_start: nb.theta_start,
            fits: nb.search_fits,
        }),
    })
}

/// Fit a generalized linear mixed model (lme4's `glmer(formula, data, family, nAGQ)`).
///
/// `family` is a [`crate::Family`] (with its canonical link), a checked family–link pair
/// ([`crate::Family::with_link`]), or any [`GlmFamily`] (custom families and links implement
/// the [`crate::CustomFamily`] and [`crate::CustomLink`] traits). The options carry the
/// quadrature ([`crate::Quadrature`]) and the prior weights (binomial: the number of trials for
/// a proportion response).
///
/// # Errors
/// Invalid options, and the pipeline's errors.
pub fn glmer(
    formula: &str,
    data: &DataFrame,
    family: impl Into<GlmFamily>,
    opts: &GlmerOptions,
) -> Result<GeneralizedLinearMixedModel, Error> {
    GeneralizedLinearMixedModel::fit(formula, data, family, opts)
}

impl GeneralizedLinearMixedModel {
    /// Parse, build the model frame and the design, and fit (see [`glmer`]).
    ///
    /// # Errors
    /// Invalid options, and the pipeline's errors.
    pub fn fit(
        formula: &str,
        data: &DataFrame,
        family: impl Into<GlmFamily>,
        opts: &GlmerOptions,
    ) -> Result<Self, Error> {
        opts.check()?;
        let family = family.into();
        let (parsed, frame) = crate::parse_and_frame(formula, data, &opts.fit)?;
        let mut design = multilevel_design::build_design_with(
            &parsed,
            &frame,
            &DesignOptions { allow_n: true },
        )?;
        design.formula = formula.to_string();
        let fit = multilevel_glmm::glmer_full(design.clone(), &family, &glmm_options(opts))?;
        let train = crate::predict::training_columns(&parsed, data)?;
        Ok(GeneralizedLinearMixedModel {
            formula: parsed,
            frame,
            train,
            design,
            family,
            options: opts.clone(),
            fit,
            nb: None,
        })
    }

    /// The negative binomial θ search of a [`glmer_nb`] fit (`None` for other families).
    pub fn nb_search(&self) -> Option<&NbSearch> {
        self.nb.as_ref()
    }

    /// The summary, owned.
    pub fn into_summary(self) -> FitResult {
        self.fit.result
    }

    /// The full GLMM result: η̂, μ̂, deviance and Pearson residuals, the overdispersion check.
    pub fn glmm_fit(&self) -> &GlmmFit {
        &self.fit
    }

    /// Estimated marginal means on the link scale, or back-transformed with
    /// [`crate::PredictScale::Response`] (R's `emmeans(fit, specs, type = "response")`), with
    /// asymptotic (z) inference from `vcov(β̂)`; contrasts of a log or logit link are ratios on
    /// the response scale. See [`crate::emmeans`]; the `df_method` option is not used.
    ///
    /// # Errors
    /// As [`crate::LinearMixedModel::emmeans`].
    pub fn emmeans(&self, opts: &crate::EmmeansOptions) -> Result<crate::EmmeansResult, Error> {
        let plan = crate::emmeans::plan(
            &crate::emmeans::GridInput {
                formula: &self.formula,
                frame: &self.frame,
                train: &self.train,
                design: &self.design,
            },
            opts,
        )?;
        let fit = self.summary();
        let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
        let p = beta.len();
        let vcov = &fit.vcov;
        let link = (opts.scale == crate::PredictScale::Response).then(|| self.family.link.as_ref());
        crate::emmeans::finish(
            &plan,
            opts,
            "asymptotic",
            &crate::emmeans::Scale {
                link,
                response_name: crate::emmeans::response_name(self.family.family.name()),
            },
            |ls| {
                ls.iter()
                    .map(|l| {
                        let est: f64 = l.iter().zip(&beta).map(|(a, b)| a * b).sum();
                        let mut var = 0.0;
                        for a in 0..p {
                            for b in 0..p {
                                var += l[a] * vcov.get(a * p + b).copied().unwrap_or(f64::NAN) * l[b];
                            }
                        }
                        if var.is_nan() || var <= 0.0 {
                            return Err(Error::Unsupported(
                                "a marginal mean has no positive variance; hint: check the fit's warnings".into(),
                            ));
                        }
                        Ok((est, var.sqrt(), f64::INFINITY))
                    })
                    .collect()
            },
        )
    }

    /// Confidence intervals (lme4's `confint(fit, method, level)` for a `glmer` fit):
    ///
    /// - [`IntervalMethod::Wald`]: `β̂ ± z·se` for the fixed effects;
    /// - [`IntervalMethod::Profile`]: profile likelihood of the Laplace (or AGQ) deviance for
    ///   the random effects' standard deviations and correlations and the fixed effects
    ///   ([`inference::glmm_profile_confint`]); binomial, Poisson and negative binomial fits
    ///   (the latter with θ fixed at θ̂, as lme4 profiles a `glmer.nb` fit);
    /// - [`IntervalMethod::Bootstrap`]: percentile intervals of a parametric bootstrap
    ///   ([`GeneralizedLinearMixedModel::bootstrap`]).
    ///
    /// # Errors
    /// A level outside (0, 1); profiles of a family with a scale parameter or of an nAGQ = 0
    /// fit; bootstraps of a family that cannot be simulated.
    pub fn confint(
        &self,
        method: IntervalMethod,
        level: f64,
    ) -> Result<Vec<inference::Interval>, Error> {
        match method {
            IntervalMethod::Wald => Ok(inference::wald_confint(self.summary(), level)?),
            IntervalMethod::Profile => Ok(inference::glmm_profile_confint(
                &self.design,
                &self.family,
                &self.fit,
                self.options.quadrature.n_agq(),
                level,
            )?),
            IntervalMethod::Bootstrap { nsim, seed } => {
                if !(level > 0.0 && level < 1.0) {
                    return Err(inference::InferenceError::BadLevel(level).into());
                }
                let boot = self.bootstrap(nsim, seed, None)?;
                Ok(inference::percentile_intervals(&boot, level)?)
            }
        }
    }

    /// Parametric bootstrap (lme4's `bootMer(fit, FUN, nsim, seed, use.u = FALSE,
    /// type = "parametric")`): `nsim` responses simulated from the fitted model with new random
    /// effects (as [`GeneralizedLinearMixedModel::simulate`]), each refitted with the same
    /// family and quadrature; the replicates hold the standard deviations and correlations of
    /// the random effects, then β. A negative binomial fit is refitted with θ fixed at θ̂ (as
    /// lme4's `refit` of a `glmer.nb` fit). Replicate `i` uses the random stream `(seed, i)`:
    /// the result does not depend on `threads` (`None`: rayon's default pool).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for families that cannot be simulated; `nsim = 0`.
    pub fn bootstrap(
        &self,
        nsim: usize,
        seed: u64,
        threads: Option<usize>,
    ) -> Result<inference::BootstrapResult, Error> {
        let draw = self.draw()?;
        let fit = self.summary();
        let beta: Vec<f64> = fit.fixed.iter().map(|c| c.estimate).collect();
        let sim = crate::simulate::Simulator::new(&self.design, &beta, &fit.theta, 1.0)?;
        let opts = GlmmOptions {
            calc_derivs: Some(false),
            cond_var: false,
            ..glmm_options(&self.options)
        };
        Ok(inference::glmm_bootstrap(
            &self.design,
            nsim,
            seed,
            threads,
            || self.design.clone(),
            |design, rng| {
                design.y = sim.draw(&self.design, &draw, rng);
                let f = multilevel_glmm::glmer_full(design.clone(), &self.family, &opts).ok()?;
                let beta = f.result.fixed.iter().map(|c| c.estimate).collect();
                Some((f.result.theta, beta))
            },
        )?)
    }

    /// Likelihood-ratio test of this model against another fitted to the same rows (lme4's
    /// `anova(m1, m2)`; GLMMs are maximum-likelihood fits, so nothing is refitted).
    ///
    /// # Errors
    /// As [`GeneralizedLinearMixedModel::compare_all`].
    pub fn compare(&self, other: &Self) -> Result<inference::LrtTable, Error> {
        Self::compare_all(&[self, other])
    }

    /// Likelihood-ratio tests of several fitted GLMMs (see
    /// [`crate::LinearMixedModel::compare_all`]).
    ///
    /// # Errors
    /// Fewer than two models, models on different numbers of rows.
    pub fn compare_all(models: &[&Self]) -> Result<inference::LrtTable, Error> {
        let fits: Vec<&FitResult> = models.iter().map(|m| m.summary()).collect();
        let mut table = inference::compare_fits(&fits, &inference::CompareOptions::default())?;
        crate::add_boundary_note(&mut table, models.iter().map(|m| m.theta().len()));
        Ok(table)
    }

    /// Refit the same model to a new response on the scale of the design's response (0/1, a
    /// proportion for `cbind` responses, counts), as lme4's `refit(fit, newresp)`. A
    /// [`glmer_nb`] fit searches for θ again (a new response has its own θ̂).
    ///
    /// # Errors
    /// A response of the wrong length or one the family cannot use; the fit's errors.
    pub fn refit(self, y: &[f64]) -> Result<Self, Error> {
        if y.len() != self.design.nobs() {
            return Err(Error::Glmm(multilevel_glmm::GlmmError::BadInput(format!(
                "refit needs {} response values, got {}",
                self.design.nobs(),
                y.len()
            ))));
        }
        let mut design = self.design;
        design.y = y.to_vec();
        if let (Some(_), Some(link)) = (&self.nb, self.family.link.builtin_kind()) {
            let nb = multilevel_glmm::glmer_nb(
                design.clone(),
                link,
                &glmm_options(&self.options),
                &multilevel_glmm::NbOptions::default(),
            )?;
            return Ok(GeneralizedLinearMixedModel {
                design,
                family: nb.family,
                fit: nb.fit,
                nb: Some(NbSearch {
                    theta: nb.theta,
                    theta_se: nb.theta_se,
                    theta_start: nb.theta_start,
                    fits: nb.search_fits,
                }),
                ..self
            });
        }
        let fit = multilevel_glmm::glmer_full(
            design.clone(),
            &self.family,
            &glmm_options(&self.options),
        )?;
        Ok(GeneralizedLinearMixedModel {
            design,
            fit,
            ..self
        })
    }

    /// Predictions for new data (lme4's `predict(fit, newdata, re.form, allow.new.levels,
    /// type)`): the linear predictor η or, with [`crate::PredictScale::Response`], the mean
    /// `g⁻¹(η)`; one per row of `newdata`, `None` where a needed value is missing. The standard
    /// error of the fixed-effect part is `√(x' vcov x)` on the link scale and
    /// `|dμ/dη| √(x' vcov x)` on the response scale.
    ///
    /// # Errors
    /// As [`crate::LinearMixedModel::predict`].
    pub fn predict(
        &self,
        newdata: &DataFrame,
        opts: &crate::PredictOptions,
    ) -> Result<crate::Prediction, Error> {
        let mut pred = crate::predict::linear_predictor(
            &crate::predict::PredictInput {
                formula: &self.formula,
                frame: &self.frame,
                train: &self.train,
                design: &self.design,
                fit: self.summary(),
            },
            newdata,
            opts,
        )?;
        if opts.scale == crate::PredictScale::Response {
            let link = &self.family.link;
            if let Some(se) = pred.se_fit.as_mut() {
                for (s, eta) in se.iter_mut().zip(&pred.fit) {
                    if let (Some(s), Some(eta)) = (s.as_mut(), eta) {
                        *s *= link.mu_eta(*eta).abs();
                    }
                }
            }
            for eta in pred.fit.iter_mut().flatten() {
                *eta = link.inverse(*eta);
            }
        }
        Ok(pred)
    }

    /// Responses simulated from the fitted model for its rows (lme4's `simulate(fit, nsim,
    /// seed, re.form)`), on the scale of the fit's response (a binomial `cbind` or weighted
    /// response: the proportion of successes of each row's trials); `out[s][i]`. See
    /// [`crate::simulate`].
    ///
    /// # Errors
    /// [`Error::Unsupported`] for families other than binomial, Poisson and the negative
    /// binomial; [`Error::InvalidOption`] for `nsim = 0`.
    pub fn simulate(&self, opts: &crate::SimulateOptions) -> Result<Vec<Vec<f64>>, Error> {
        let draw = self.draw()?;
        crate::simulate::simulate(&self.design, self.summary(), &draw, opts)
    }

    /// How a response is drawn given η for this fit's family.
    fn draw(&self) -> Result<crate::simulate::Draw<'_>, Error> {
        let link = self.family.link.as_ref();
        if let Some(nb) = &self.nb {
            return Ok(crate::simulate::Draw::NegativeBinomial(link, nb.theta));
        }
        match self.family.family.name() {
            "binomial" => Ok(crate::simulate::Draw::Binomial(link)),
            "poisson" => Ok(crate::simulate::Draw::Poisson(link)),
            other => Err(Error::Unsupported(format!(
                "simulating a {other} GLMM is not available; hint: the binomial, Poisson and negative binomial families can be simulated"
            ))),
        }
    }

    /// Fitted means μ̂ (response scale).
    pub fn fitted(&self) -> &[f64] {
        &self.fit.mu
    }

    /// The linear predictor η̂ (offset included).
    pub fn linear_predictor(&self) -> &[f64] {
        &self.fit.eta
    }

    /// Response residuals `y − μ̂` (so `fitted() + residuals()` is the response).
    pub fn residuals(&self) -> &[f64] {
        &self.fit.response_residuals
    }

    /// Deviance residuals (lme4's default `residuals()` for GLMMs).
    pub fn deviance_residuals(&self) -> &[f64] {
        &self.fit.deviance_residuals
    }

    /// Pearson residuals.
    pub fn pearson_residuals(&self) -> &[f64] {
        &self.fit.pearson_residuals
    }

    /// The family and link.
    pub fn family(&self) -> &GlmFamily {
        &self.family
    }

    /// The design (through [`MixedModel::design`]).
    pub(crate) fn design_ref(&self) -> &Design {
        &self.design
    }

    /// The parsed formula and the model frame.
    pub(crate) fn parts(&self) -> (&Formula, &ModelFrame) {
        (&self.formula, &self.frame)
    }

    /// The options the model was fitted with.
    pub fn options(&self) -> &GlmerOptions {
        &self.options
    }
}

impl Deref for GeneralizedLinearMixedModel {
    type Target = FitResult;
    fn deref(&self) -> &FitResult {
        self.summary()
    }
}

fn glmm_options(opts: &GlmerOptions) -> GlmmOptions {
    GlmmOptions {
        n_agq: opts.quadrature.n_agq(),
        cond_var: opts.fit.cond_var,
        ..GlmmOptions::default()
    }
}
