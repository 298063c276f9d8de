//! The fitted linear mixed model: fit once, then ask it for its summary, tests, intervals,
//! comparisons, random effects, fitted values and refits.
//!
//! Layering: the object lives in the facade because its questions are answered by three
//! crates below it — the model and its factorization at θ̂ by `multilevel-lmm`, the df, F
//! tests, intervals and likelihood-ratio tests by `multilevel-inference` (which takes the
//! lower-level fitted model [`inference::FittedLmm`]: the prepared model, its factor and the
//! [`FitResult`]), and the cross-level labels by `multilevel-workflow` from the parsed formula
//! and model frame kept here. Data flow one way: nothing below the facade knows this type.
//!
//! `predict` takes new data through the kept frame's recipe (levels, contrasts, the training
//! statistics of `scale()`/`poly()`; [`crate::predict`]).

use std::ops::Deref;

use multilevel_formula::Formula;
use multilevel_frame::ModelFrame;

use crate::options::{Ddf, FitOptions, IntervalMethod};
use crate::{Error, FitResult, MixedModel, inference};

/// A fitted linear mixed model (lme4's `merMod` from `lmer()`).
///
/// It holds the parsed formula, the model frame, the design, the cross products and the factor
/// at θ̂, and the [`FitResult`]; it dereferences to the [`FitResult`], so `fit.objective` or
/// `fit.fixed[1]` read the summary directly. The small-sample derivatives (Satterthwaite,
/// Kenward–Roger) are computed on first use and kept, so an ANOVA table after a summary with df
/// costs nothing more.
///
/// ```
/// use multilevel::{Ddf, FitOptions, IntervalMethod, MixedModel, dataset, lmer};
///
/// let data = dataset("sleepstudy")?;
/// let mut m = lmer("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default())?;
/// assert!((m.loglik() + 871.814).abs() < 1e-3); // lme4: logLik = -871.8141 (REML)
/// let table = m.anova(Ddf::Satterthwaite)?;
/// assert!((table[0].den_df - 17.0).abs() < 0.01); // lmerTest: 17.00
/// let ci = m.confint(IntervalMethod::Wald, 0.95)?;
/// assert_eq!(ci[1].term, "Days");
/// // Subject 308's line: fixed effects plus its random effects.
/// let coef = m.coef();
/// assert_eq!(coef[0].levels[0], "308");
/// # Ok::<(), multilevel::Error>(())
/// ```
#[derive(Debug)]
pub struct LinearMixedModel {
    formula: Formula,
    frame: ModelFrame,
    /// The training data's columns that the formula names (for predictions).
    train: crate::DataFrame,
    options: FitOptions,
    fitted: inference::FittedLmm,
}

/// The per-level coefficients of one grouping factor (lme4's `coef()`): the fixed effects plus
/// the factor's random effects.
#[derive(Debug, Clone, PartialEq)]
pub struct CoefTable {
    /// Grouping factor.
    pub group: String,
    /// Coefficient names: the fixed-effect columns, then random-effect columns without a fixed
    /// counterpart (their fixed part is 0).
    pub terms: Vec<String>,
    /// Level labels.
    pub levels: Vec<String>,
    /// `values[level][term]`.
    pub values: Vec<Vec<f64>>,
}

impl LinearMixedModel {
    /// Parse, build the model frame and the design, and fit (lme4's `lmer`).
    ///
    /// # Errors
    /// The pipeline's errors ([`Error`]).
    pub fn fit(
        formula: &str,
        data: &crate::DataFrame,
        options: &FitOptions,
    ) -> Result<Self, Error> {
        options.check()?;
        let (parsed, frame) = crate::parse_and_frame(formula, data, options)?;
        crate::check_lmm_response(&frame)?;
        let mut design = multilevel_design::build_design(&parsed, &frame)?;
        design.formula = formula.to_string();
        let model = multilevel_lmm::LinearMixedModel::new(design, crate::lmm_options(options))?;
        let fitted = inference::FittedLmm::fit(model).map_err(lmm_error)?;
        let train = crate::predict::training_columns(&parsed, data)?;
        Ok(LinearMixedModel {
            formula: parsed,
            frame,
            train,
            options: options.clone(),
            fitted,
        })
    }

    /// The summary, owned.
    pub fn into_summary(self) -> FitResult {
        self.fitted.into_parts().1
    }

    /// The summary with denominator df and p-values of the coefficients (lmerTest's
    /// `summary(fit)`); [`Ddf::None`] gives [`LinearMixedModel::summary`].
    ///
    /// # Errors
    /// [`Error::Inference`] when the df cannot be computed.
    pub fn summary_with_df(&mut self, ddf: Ddf) -> Result<FitResult, Error> {
        let mut fit = self.fitted.fit_result().clone();
        if let Some(method) = ddf.method() {
            inference::add_df(&mut self.fitted, &mut fit, method)?;
        }
        Ok(fit)
    }

    /// lmerTest's `anova(fit)`: the type III F test of each fixed-effects term with the
    /// method's denominator df.
    ///
    /// # Errors
    /// [`Error::AnovaNeedsDdf`] for [`Ddf::None`]; [`Error::Inference`] otherwise.
    pub fn anova(&mut self, ddf: Ddf) -> Result<Vec<inference::AnovaRow>, Error> {
        let Some(method) = ddf.method() else {
            return Err(Error::AnovaNeedsDdf);
        };
        let contrasts =
            inference::type3_contrasts(&self.formula, &self.frame, self.fitted.model().design())?;
        Ok(inference::anova_type3(
            &mut self.fitted,
            &contrasts,
            method,
        )?)
    }

    /// Confidence intervals at `level` (lme4's `confint(fit, method = ...)`).
    ///
    /// # Errors
    /// [`Error::Inference`]: a level outside (0, 1), a failed profile or bootstrap.
    pub fn confint(
        &self,
        method: IntervalMethod,
        level: f64,
    ) -> Result<Vec<inference::Interval>, Error> {
        Ok(match method {
            IntervalMethod::Wald => self.fitted.wald_confint(level)?,
            IntervalMethod::Profile => self.fitted.profile_confint(level)?,
            IntervalMethod::Bootstrap { nsim, seed } => {
                let boot = self.fitted.bootstrap(nsim, seed, None)?;
                inference::percentile_intervals(&boot, level)?
            }
        })
    }

    /// Likelihood-ratio test of this model against another fitted to the same rows (lme4's
    /// `anova(m1, m2)`); REML fits are refitted by ML first. See [`LinearMixedModel::compare_all`].
    ///
    /// # Errors
    /// As [`LinearMixedModel::compare_all`].
    pub fn compare(&self, other: &LinearMixedModel) -> Result<inference::LrtTable, Error> {
        Self::compare_all(&[self, other])
    }

    /// Likelihood-ratio tests of several fitted models (lme4's `anova(m1, m2, ...)`): sorted
    /// by number of parameters, each tested against the one before; REML fits are refitted by
    /// ML first, and the table says so. When the models differ in their number of variance
    /// parameters θ, the notes get [`crate::BOUNDARY_NOTE`].
    ///
    /// # Errors
    /// Fewer than two models, models on different numbers of rows, a failed ML refit.
    pub fn compare_all(models: &[&LinearMixedModel]) -> Result<inference::LrtTable, Error> {
        let fitted: Vec<&inference::FittedLmm> = models.iter().map(|m| &m.fitted).collect();
        let mut table = inference::compare(&fitted, &inference::CompareOptions::default())?;
        crate::add_boundary_note(&mut table, models.iter().map(|m| m.theta().len()));
        Ok(table)
    }

    /// Refit the same model to a new response (same rows, `X`, `Z`, weights and offset), as
    /// lme4's `refit(fit, newresp)`.
    ///
    /// # Errors
    /// A response of the wrong length or with non-finite values; the fit's errors.
    pub fn refit(self, y: &[f64]) -> Result<Self, Error> {
        let LinearMixedModel {
            formula,
            frame,
            train,
            options,
            fitted,
        } = self;
        let (mut model, _) = fitted.into_parts();
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(Error::Fit(multilevel_lmm::LmmError::BadInput(format!(
                "new response value {} is not finite",
                i + 1
            ))));
        }
        let fit = model.refit(y)?;
        let fitted = inference::FittedLmm::new(model, fit)?;
        Ok(LinearMixedModel {
            formula,
            frame,
            train,
            options,
            fitted,
        })
    }

    /// Fitted values `Xβ̂ + Zb̂` (+ offset).
    pub fn fitted(&self) -> &[f64] {
        &self.summary().fitted
    }

    /// Response residuals `y − fitted`.
    pub fn residuals(&self) -> &[f64] {
        &self.summary().residuals
    }

    /// Responses simulated from the fitted model for its rows (lme4's `simulate(fit, nsim,
    /// seed, re.form)`): `out[s][i]`, with new random effects (the default) or the conditional
    /// modes; reproducible from the seed whatever the thread count. See [`crate::simulate`].
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for `nsim = 0`.
    pub fn simulate(&self, opts: &crate::SimulateOptions) -> Result<Vec<Vec<f64>>, Error> {
        crate::simulate::simulate(
            self.fitted.model().design(),
            self.summary(),
            &crate::simulate::Draw::Gaussian,
            opts,
        )
    }

    /// Predictions for new data (lme4's `predict(fit, newdata, re.form, allow.new.levels)`):
    /// one per row of `newdata`, in order; `None` where a value the prediction needs is
    /// missing. See [`crate::predict`] for how the new data are coded.
    ///
    /// ```
    /// use multilevel::{FitOptions, PredictOptions, ReForm, dataset, lmer};
    ///
    /// let data = dataset("sleepstudy")?;
    /// let m = lmer("Reaction ~ Days + (Days | Subject)", &data, &FitOptions::default())?;
    /// let pop = m.predict(&data, &PredictOptions { re_form: ReForm::None, ..Default::default() })?;
    /// assert!((pop.fit[0].unwrap() - 251.405).abs() < 1e-3); // lme4: fixef(m)[1]
    /// let own = m.predict(&data, &PredictOptions::default())?;
    /// assert!((own.fit[0].unwrap() - m.fitted()[0]).abs() < 1e-9);
    /// # Ok::<(), multilevel::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NewData`]: a column the formula uses is missing from `newdata`, a level the fit
    /// has not seen (grouping levels: unless [`PredictOptions::allow_new_levels`]);
    /// [`Error::Unsupported`]: a random term in [`ReForm::Terms`] the model does not have.
    pub fn predict(
        &self,
        newdata: &crate::DataFrame,
        opts: &crate::PredictOptions,
    ) -> Result<crate::Prediction, Error> {
        crate::predict::linear_predictor(
            &crate::predict::PredictInput {
                formula: &self.formula,
                frame: &self.frame,
                train: &self.train,
                design: self.fitted.model().design(),
                fit: self.summary(),
            },
            newdata,
            opts,
        )
    }

    /// Estimated marginal means of the `specs` factors over the reference grid, and their
    /// contrasts when asked for (R's `emmeans(fit, specs, by, at, weights)` with `pairs()` or
    /// `contrast(method = "trt.vs.ctrl")`); Kenward–Roger covariance and df by default, as
    /// emmeans. See [`crate::emmeans`].
    ///
    /// ```
    /// use multilevel::{EmmContrast, EmmeansOptions, FitOptions, dataset, lmer};
    ///
    /// let cake = dataset("cake")?;
    /// let mut m = lmer("angle ~ recipe + temp + (1 | recipe:replicate)", &cake, &FitOptions::default())?;
    /// let emm = m.emmeans(&EmmeansOptions {
    ///     specs: vec!["recipe".into()],
    ///     contrast: Some(EmmContrast::Pairwise),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(emm.means.len(), 3);
    /// assert_eq!(emm.contrasts[0].contrast, "A - B");
    /// # Ok::<(), multilevel::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Unsupported`]: a `specs`/`by`/`at` name that is not a variable of the fixed
    /// terms, a model with an offset or aliased columns; [`Error::InvalidOption`]: a numeric
    /// `specs` variable without `at` values, a level outside (0, 1);
    /// [`Error::Inference`]: Kenward–Roger of an ML fit or a fit with prior weights.
    pub fn emmeans(&mut self, opts: &crate::EmmeansOptions) -> Result<crate::EmmeansResult, Error> {
        use inference::DfMethod;
        let plan = crate::emmeans::plan(
            &crate::emmeans::GridInput {
                formula: &self.formula,
                frame: &self.frame,
                train: &self.train,
                design: self.fitted.model().design(),
            },
            opts,
        )?;
        let (name, method): (&str, Box<dyn DfMethod>) = match opts.df_method {
            Ddf::KenwardRoger => ("kenward-roger", Box::new(inference::KenwardRoger)),
            Ddf::Satterthwaite => ("satterthwaite", Box::new(inference::Satterthwaite)),
            Ddf::None => ("asymptotic", Box::new(inference::Wald)),
        };
        let fitted = &mut self.fitted;
        crate::emmeans::finish(
            &plan,
            opts,
            name,
            &crate::emmeans::Scale {
                link: None,
                response_name: "response",
            },
            |ls| Ok(method.contrast_dfs(fitted, ls)?),
        )
    }

    /// The lower-level fitted model (read only).
    pub(crate) fn inner(&self) -> &inference::FittedLmm {
        &self.fitted
    }

    /// The parsed formula and the model frame.
    pub(crate) fn parts(&self) -> (&Formula, &ModelFrame) {
        (&self.formula, &self.frame)
    }

    /// The options the model was fitted with.
    pub fn options(&self) -> &FitOptions {
        &self.options
    }

    /// The lower-level fitted model, for the inference functions not wrapped here (df of
    /// arbitrary contrasts, Kenward–Roger parts, the Hessian of the variance parameters).
    pub fn inference(&mut self) -> &mut inference::FittedLmm {
        &mut self.fitted
    }
}

impl Deref for LinearMixedModel {
    type Target = FitResult;
    fn deref(&self) -> &FitResult {
        self.summary()
    }
}

/// A fit error from the inference layer's wrapper is the LMM's own error.
fn lmm_error(e: inference::InferenceError) -> Error {
    match e {
        inference::InferenceError::Lmm(e) => Error::Fit(e),
        e => Error::Inference(e),
    }
}

/// lme4's `coef()`: per grouping factor, the fixed effects repeated per level plus the
/// factor's conditional modes in the columns of the same name.
pub(crate) fn coef_tables(fit: &FitResult, x_names: &[String]) -> Vec<CoefTable> {
    let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    fit.ranef
        .iter()
        .map(|r| {
            let mut terms: Vec<String> = x_names.to_vec();
            for t in &r.terms {
                if !terms.contains(t) {
                    terms.push(t.clone());
                }
            }
            let cols: Vec<usize> = r
                .terms
                .iter()
                .map(|t| terms.iter().position(|x| x == t).unwrap_or(0))
                .collect();
            let values = r
                .values
                .iter()
                .map(|b| {
                    let mut row: Vec<f64> = (0..terms.len())
                        .map(|j| beta.get(j).copied().unwrap_or(0.0))
                        .collect();
                    for (v, &c) in b.iter().zip(&cols) {
                        row[c] += v;
                    }
                    row
                })
                .collect();
            CoefTable {
                group: r.group.clone(),
                terms,
                levels: r.levels.clone(),
                values,
            }
        })
        .collect()
}
