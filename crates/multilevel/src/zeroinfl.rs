//! Zero-inflated Poisson, NB2 and NB1 mixed models (glmmTMB's `ziformula`), and NB1 mixed
//! models without zero-inflation (glmmTMB's `nbinom1`): their own fitted-model object,
//! [`ZeroInflatedModel`], since a second coefficient vector (the zero-inflation model) and the
//! joint observed-Hessian fit do not fit the GLMM object's `FitResult`.
//!
//! The fit is the observed-Hessian Laplace approximation of [`multilevel_glmm::observed`] with
//! the likelihood of [`multilevel_glmm::zeroinfl`]: the zero-inflation coefficients (and log θ
//! for NB2) are optimised jointly with β and the random-effects parameters, as glmmTMB does;
//! standard errors come from the inverse of the finite-difference Hessian of `−log L` in all of
//! them (glmmTMB's `sdreport`). The report follows `summary(glmmTMB)`.

use multilevel_design::{Design, DesignOptions};
use multilevel_frame::ResponseValues;
use multilevel_glmm::observed::{ObservedFit, ObservedOptions, fit_observed};
use multilevel_glmm::zeroinfl::{ZeroInflated, ZiCount};
use multilevel_lmm::summaries::variance_components;
use multilevel_lmm::{Correlation, VarComp};
use multilevel_numeric::dist::p_norm_two_sided;
use multilevel_numeric::fmt::format_vec;
use serde_json::{Value, json};

use crate::ordinal::{OrdinalCoef, coef_table};
use crate::{DataFrame, Error, FitOptions};

/// Options of [`zero_inflated`].
#[derive(Debug, Clone)]
pub struct ZiOptions {
    /// The count model (Poisson by default).
    pub count: ZiCount,
    /// The zero-inflation formula, one-sided (`~ 1`, `~ x`): fixed effects only; `None` (or
    /// `~ 0`) for none.
    pub zi_formula: Option<String>,
    /// Contrasts (prior weights are not supported).
    pub fit: FitOptions,
}

impl Default for ZiOptions {
    fn default() -> Self {
        ZiOptions {
            count: ZiCount::Poisson,
            zi_formula: Some("~1".into()),
            fit: FitOptions::default(),
        }
    }
}

/// A fitted zero-inflated count mixed model (see [`zero_inflated`]).
#[derive(Debug, Clone)]
pub struct ZeroInflatedModel {
    /// The formula as given.
    pub formula: String,
    /// The zero-inflation formula as given (`~0` for none).
    pub zi_formula: String,
    /// The data set's name.
    pub data_name: String,
    /// The conditional model's design.
    pub design: Design,
    /// The count model.
    pub count: ZiCount,
    /// Conditional-model fixed effects with standard errors.
    pub fixed: Vec<OrdinalCoef>,
    /// Zero-inflation coefficients (logit scale) with standard errors.
    pub zi_fixed: Vec<OrdinalCoef>,
    /// NB2's θ or NB1's φ with its standard error (`None` for Poisson).
    pub nb_theta: Option<OrdinalCoef>,
    /// Variance components of the random effects.
    pub random: Vec<VarComp>,
    /// Correlations within vector-valued terms.
    pub correlations: Vec<Correlation>,
    /// The observed-Hessian fit itself (φ = (β_zi, log θ)).
    pub fit: ObservedFit,
    /// Notes for the report.
    pub notes: Vec<String>,
}

/// Fit a zero-inflated Poisson, NB2 or NB1 mixed model (glmmTMB's
/// `glmmTMB(formula, ziformula = zi, family = poisson | nbinom2 | nbinom1)`): counts with
/// `log μ = offset + Xβ + Zb` and structural zeros with `logit π = X_zi β_zi` (`π = 0` without
/// a zero-inflation formula).
///
/// # Errors
/// A response that is not a non-negative whole number, a zero-inflation formula that is not
/// one-sided or has random effects or an offset, rows kept by one formula and not the other
/// (missing values), prior weights, and the pipeline's errors.
pub fn zero_inflated(
    formula: &str,
    data: &DataFrame,
    opts: &ZiOptions,
) -> Result<ZeroInflatedModel, Error> {
    if opts.fit.weights.is_some() {
        return Err(Error::Unsupported(
            "prior weights are not supported for zero-inflated models; hint: omit --weights".into(),
        ));
    }
    let zi_text = opts.zi_formula.as_deref().unwrap_or("~0").trim();
    let no_zi = zi_text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        == "~0";
    if !zi_text.starts_with('~') {
        return Err(Error::InvalidOption {
            option: "zi",
            reason: format!(
                "`{zi_text}` is not a one-sided formula; hint: write the zero-inflation model as `~ 1` or `~ x`"
            ),
        });
    }
    let (parsed, frame) = crate::parse_and_frame(formula, data, &opts.fit)?;
    let response = frame.response_label.clone().unwrap_or_default();
    if !matches!(frame.response, Some(ResponseValues::Numeric(_))) {
        return Err(Error::Unsupported(format!(
            "a zero-inflated count model needs a numeric count response, and `{response}` is not one; hint: use a column of non-negative whole numbers"
        )));
    }
    let mut design =
        multilevel_design::build_design_with(&parsed, &frame, &DesignOptions { allow_n: true })?;
    design.formula = formula.to_string();
    design.data_name = data.name().to_string();
    for (i, &y) in design.y.iter().enumerate() {
        if !(y.is_finite() && y >= 0.0 && y.fract() == 0.0) {
            let row = frame.rows.get(i).copied().unwrap_or(i);
            return Err(Error::Unsupported(format!(
                "the response `{response}` is {y} at {}: a zero-inflated count model needs non-negative whole numbers; hint: check that column",
                data.location(row)
            )));
        }
    }
    // The zero-inflation model matrix, on the same rows.
    let (x_zi, zi_names, zi_dropped) = if no_zi {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        zi_matrix(formula, zi_text, data, opts, &frame.rows)?
    };
    let p_zi = zi_names.len();
    let lik = ZeroInflated {
        y: design.y.clone(),
        x_zi,
        p_zi,
        count: opts.count,
    };
    let fit = fit_observed(&design, &lik, &ObservedOptions::default())?;
    let row = |t: &str, e: f64, s: f64| OrdinalCoef {
        term: t.to_string(),
        estimate: e,
        std_error: s,
    };
    let fixed = design
        .x_names
        .iter()
        .zip(fit.beta.iter().zip(&fit.beta_se))
        .map(|(t, (e, s))| row(t, *e, *s))
        .collect();
    let zi_fixed = zi_names
        .iter()
        .zip(fit.extra.iter().zip(&fit.extra_se))
        .map(|(t, (e, s))| row(t, *e, *s))
        .collect();
    let nb_theta = opts.count.has_dispersion().then(|| {
        row(
            if opts.count == ZiCount::NegativeBinomial1 {
                "phi"
            } else {
                "theta"
            },
            fit.extra.get(p_zi).copied().unwrap_or(f64::NAN),
            fit.extra_se.get(p_zi).copied().unwrap_or(f64::NAN),
        )
    });
    let (random, correlations) = variance_components(&design, &fit.lambda, 1.0);
    let mut notes = Vec::new();
    for d in &zi_dropped {
        notes.push(format!(
            "zero-inflation column `{d}` is aliased with the others and was dropped"
        ));
    }
    if !fit.converged {
        notes.push(format!("the optimiser did not converge: {}", fit.message));
    }
    if fit.beta_se.iter().any(|s| !s.is_finite()) {
        notes.push(
            "the Hessian of the log-likelihood is not positive definite: no standard errors; hint: simplify the model".into(),
        );
    }
    Ok(ZeroInflatedModel {
        formula: formula.to_string(),
        zi_formula: if no_zi {
            "~0".into()
        } else {
            zi_text.to_string()
        },
        data_name: data.name().to_string(),
        design,
        count: opts.count,
        fixed,
        zi_fixed,
        nb_theta,
        random,
        correlations,
        fit,
        notes,
    })
}

/// The zero-inflation model matrix (column-major), its column names and the aliased columns
/// dropped.
type ZiMatrix = (Vec<f64>, Vec<String>, Vec<String>);

/// The zero-inflation model matrix (column-major), its column names and the aliased columns
/// dropped, on the rows `rows` of the model's frame.
fn zi_matrix(
    formula: &str,
    zi_text: &str,
    data: &DataFrame,
    opts: &ZiOptions,
    rows: &[usize],
) -> Result<ZiMatrix, Error> {
    let lhs = formula.split('~').next().unwrap_or_default().trim();
    let zi_full = format!("{lhs} {zi_text}");
    let (parsed_zi, frame_zi) = crate::parse_and_frame(&zi_full, data, &opts.fit)?;
    if !parsed_zi.random.is_empty() {
        return Err(Error::InvalidOption {
            option: "zi",
            reason: format!(
                "`{zi_text}` has a random-effects term; hint: the zero-inflation model takes fixed effects only"
            ),
        });
    }
    if frame_zi.offset.is_some() {
        return Err(Error::InvalidOption {
            option: "zi",
            reason: format!(
                "`{zi_text}` has an offset; hint: remove offset(...) from the zero-inflation formula"
            ),
        });
    }
    if frame_zi.rows != rows {
        let only = |a: &[usize], b: &[usize]| a.iter().copied().find(|r| !b.contains(r));
        let (row, which) = match only(rows, &frame_zi.rows) {
            Some(r) => (r, "the zero-inflation formula's"),
            None => (
                only(&frame_zi.rows, rows).unwrap_or(0),
                "the model formula's",
            ),
        };
        return Err(Error::Unsupported(format!(
            "{} has a missing value in {which} variables only; hint: remove the rows with missing values before fitting",
            data.location(row)
        )));
    }
    let design_zi = multilevel_design::build_design_with(
        &parsed_zi,
        &frame_zi,
        &DesignOptions { allow_n: true },
    )?;
    let n = design_zi.nobs();
    let p_zi = design_zi.p();
    let mut x_zi = Vec::with_capacity(n * p_zi);
    for j in 0..p_zi {
        x_zi.extend_from_slice(design_zi.x.col_as_slice(j));
    }
    Ok((x_zi, design_zi.x_names, design_zi.dropped_columns))
}

impl ZeroInflatedModel {
    /// Number of observations.
    pub fn nobs(&self) -> usize {
        self.design.nobs()
    }

    /// Estimated parameters: β, β_zi, θ (NB2) or φ (NB1) and the random-effects parameters.
    pub fn npar(&self) -> usize {
        self.fixed.len()
            + self.zi_fixed.len()
            + usize::from(self.nb_theta.is_some())
            + self.fit.theta.len()
    }

    /// The Laplace approximation of the marginal log-likelihood.
    pub fn loglik(&self) -> f64 {
        self.fit.loglik
    }

    /// `−2 log L + 2 npar`.
    pub fn aic(&self) -> f64 {
        -2.0 * self.loglik() + 2.0 * self.npar() as f64
    }

    /// `−2 log L + log(n) npar`.
    pub fn bic(&self) -> f64 {
        -2.0 * self.loglik() + (self.nobs() as f64).ln() * self.npar() as f64
    }

    /// Residual degrees of freedom `n − npar`.
    pub fn df_resid(&self) -> f64 {
        self.nobs() as f64 - self.npar() as f64
    }

    /// The text report, laid out as `summary(glmmTMB)`: the conditional model's coefficients,
    /// then the "Zero-inflation model" table.
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(" Family: {}  ( log )\n", self.count.name()));
        s.push_str(&format!("Formula:          {}\n", self.formula));
        if !self.zi_fixed.is_empty() {
            s.push_str(&format!("Zero inflation:   {}\n", self.zi_formula));
        }
        s.push_str(&format!("Data: {}\n\n", self.data_name));
        let vals = format_vec(
            &[
                self.aic(),
                self.bic(),
                self.loglik(),
                -2.0 * self.loglik(),
                self.df_resid(),
            ],
            4,
            0,
        );
        let heads = ["AIC", "BIC", "logLik", "deviance", "df.resid"];
        let w = vals
            .iter()
            .map(|v| v.trim().len())
            .chain(heads.iter().map(|h| h.len()))
            .max()
            .unwrap_or(8);
        let mut hl = String::new();
        let mut vl = String::new();
        for (h, v) in heads.iter().zip(&vals) {
            hl.push_str(&format!(" {h:>w$}"));
            vl.push_str(&format!(" {:>w$}", v.trim()));
        }
        s.push_str(&format!("{hl} \n{vl} \n\n"));
        s.push_str("Random effects:\n\nConditional model:\n");
        s.push_str(&crate::varcomp_text::random_effects_rows(
            &self.random,
            &self.correlations,
            |x| format_vec(&[x], 4, 0)[0].trim().to_string(),
        ));
        let groups: Vec<String> = self
            .design
            .terms
            .iter()
            .map(|t| format!("{}, {}", t.group, t.nlevels()))
            .collect();
        s.push_str(&format!(
            "Number of obs: {}, groups:  {}\n\n",
            self.nobs(),
            groups.join("; ")
        ));
        if let Some(t) = &self.nb_theta {
            s.push_str(&format!(
                "Dispersion parameter for {} family (): {} \n\n",
                self.count.name(),
                format_vec(&[t.estimate], 3, 0)[0].trim()
            ));
        }
        s.push_str("Conditional model:\n");
        s.push_str(&coef_table(&self.fixed, true));
        if !self.zi_fixed.is_empty() {
            s.push_str("\nZero-inflation model:\n");
            s.push_str(&coef_table(&self.zi_fixed, true));
        }
        if self.fit.theta_on_bound > 0 {
            s.push_str("\nnote: a random-effects variance is estimated at zero (singular fit)\n");
        }
        for n in &self.notes {
            s.push_str(&format!("\nnote: {n}\n"));
        }
        s
    }

    /// The JSON report: `fixed` (conditional model) and `zi_fixed` (zero-inflation model, logit
    /// scale; empty without one) as `[{term, estimate, std_error, statistic, p_value}]`, NB2's θ
    /// under `family_parameters.theta` (NB1's φ under `family_parameters.phi`), `random` as for
    /// other fits.
    pub fn to_json(&self) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let rows = |r: &[OrdinalCoef]| -> Value {
            r.iter()
                .map(|c| {
                    json!({
                        "term": c.term,
                        "estimate": num(c.estimate),
                        "std_error": num(c.std_error),
                        "statistic": num(c.z_value()),
                        "p_value": num(p_norm_two_sided(c.z_value())),
                    })
                })
                .collect()
        };
        let family_parameters = match &self.nb_theta {
            Some(t) => {
                let mut o = serde_json::Map::new();
                o.insert(
                    t.term.clone(),
                    json!({"estimate": num(t.estimate), "std_error": num(t.std_error)}),
                );
                Value::Object(o)
            }
            None => json!({}),
        };
        json!({
            "model": "glmmTMB",
            "formula": self.formula,
            "zi_formula": self.zi_formula,
            "data": self.data_name,
            "family": match self.count {
                ZiCount::Poisson => "poisson",
                ZiCount::NegativeBinomial2 => "negative_binomial",
                ZiCount::NegativeBinomial1 => "negative_binomial1",
            },
            "count_model": self.count.name(),
            "link": "log",
            "approximation": "Laplace (observed Hessian)",
            "nobs": self.nobs(),
            "loglik": num(self.loglik()),
            "aic": num(self.aic()),
            "bic": num(self.bic()),
            "deviance": num(-2.0 * self.loglik()),
            "df_resid": num(self.df_resid()),
            "npar": self.npar(),
            "converged": self.fit.converged,
            "evaluations": self.fit.evaluations,
            "groups": self.design.terms.iter().map(|t| json!({"name": t.group, "levels": t.nlevels()})).collect::<Vec<_>>(),
            "fixed": rows(&self.fixed),
            "zi_fixed": rows(&self.zi_fixed),
            "family_parameters": family_parameters,
            "random": self.random.iter().map(|r| json!({"group": r.group, "term": r.term, "variance": num(r.variance), "std_dev": num(r.std_dev)})).collect::<Vec<_>>(),
            "correlations": self.correlations.iter().map(|c| json!({"group": c.group, "term1": c.term1, "term2": c.term2, "corr": num(c.corr)})).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}
