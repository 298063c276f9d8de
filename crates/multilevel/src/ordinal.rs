//! Cumulative link mixed models (ordinal::clmm): their own fitted-model object,
//! [`CumulativeLinkMixedModel`], since its parameters (thresholds instead of an intercept, no
//! family mean or deviance residuals) do not fit the GLMM object's `FitResult`.
//!
//! The fit is the observed-Hessian Laplace approximation (or adaptive Gauss–Hermite quadrature
//! for one scalar term) of [`multilevel_glmm::observed`] with the likelihood of
//! [`multilevel_glmm::ordinal`]; the report follows `summary(clmm)`.

use multilevel_design::{Design, DesignOptions};
use multilevel_frame::ResponseValues;
use multilevel_glmm::observed::{ObservedFit, ObservedOptions, fit_observed};
use multilevel_glmm::ordinal::{CumulativeLink, OrdinalLink, drop_intercept};
use multilevel_lmm::summaries::variance_components;
use multilevel_lmm::{Correlation, VarComp};
use multilevel_numeric::dist::p_norm_two_sided;
use multilevel_numeric::fmt::{format_pval, format_vec, signif_stars};
use serde_json::{Value, json};

use crate::{DataFrame, Error, FitOptions};

/// Options of [`clmm`].
#[derive(Debug, Clone)]
pub struct ClmmOptions {
    /// The link (`logit` by default).
    pub link: OrdinalLink,
    /// Quadrature nodes: 1 for the Laplace approximation (default), `n > 1` for adaptive
    /// Gauss–Hermite quadrature (one scalar random-effects term).
    pub n_agq: usize,
    /// Prior weights and contrasts (the other fields do not apply).
    pub fit: FitOptions,
}

impl Default for ClmmOptions {
    fn default() -> Self {
        ClmmOptions {
            link: OrdinalLink::Logit,
            n_agq: 1,
            fit: FitOptions::default(),
        }
    }
}

/// One row of a coefficient table.
#[derive(Debug, Clone, PartialEq)]
pub struct OrdinalCoef {
    /// Term (`tempwarm`, or a threshold `1|2`).
    pub term: String,
    /// Estimate.
    pub estimate: f64,
    /// Standard error (NaN when the Hessian is not positive definite).
    pub std_error: f64,
}

impl OrdinalCoef {
    /// The z statistic.
    pub fn z_value(&self) -> f64 {
        self.estimate / self.std_error
    }
}

/// A fitted cumulative link mixed model (see [`clmm`]).
#[derive(Debug, Clone)]
pub struct CumulativeLinkMixedModel {
    /// The formula as given.
    pub formula: String,
    /// The data set's name.
    pub data_name: String,
    /// The design (X without its intercept column).
    pub design: Design,
    /// The link.
    pub link: OrdinalLink,
    /// The response's categories in order (observed ones only).
    pub levels: Vec<String>,
    /// Thresholds `j|j+1` with standard errors.
    pub thresholds: Vec<OrdinalCoef>,
    /// Slopes with standard errors.
    pub fixed: Vec<OrdinalCoef>,
    /// Variance components of the random effects.
    pub random: Vec<VarComp>,
    /// Correlations within vector-valued terms.
    pub correlations: Vec<Correlation>,
    /// The observed-Hessian fit itself.
    pub fit: ObservedFit,
    /// Notes for the report (e.g. an empty category dropped).
    pub notes: Vec<String>,
}

/// The label of a numeric category.
fn level_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Fit a cumulative link mixed model (ordinal::clmm's `clmm(formula, data, link, nAGQ)`):
/// `P(Y ≤ j | b) = F(θⱼ − x'β − z'b)`.
///
/// The response is a factor (its levels in order) or numeric (its distinct values in numeric
/// order). A whole-number response with an unobserved value between its smallest and largest
/// ones has that category dropped, with a note (clmm drops it silently). The intercept column
/// of X is removed: the thresholds take its place.
///
/// # Errors
/// Fewer than two observed categories, a formula without an intercept, AGQ with other than one
/// scalar random-effects term, and the pipeline's errors.
pub fn clmm(
    formula: &str,
    data: &DataFrame,
    opts: &ClmmOptions,
) -> Result<CumulativeLinkMixedModel, Error> {
    if opts.n_agq == 0 || opts.n_agq > crate::MAX_AGQ {
        return Err(Error::InvalidOption {
            option: "nagq",
            reason: format!(
                "{} quadrature points; hint: use 1 (Laplace) up to {} for adaptive Gauss-Hermite quadrature",
                opts.n_agq,
                crate::MAX_AGQ
            ),
        });
    }
    let (parsed, mut frame) = crate::parse_and_frame(formula, data, &opts.fit)?;
    let response = frame.response_label.clone().unwrap_or_default();
    let mut notes = Vec::new();
    // Categories and each row's category index.
    let (levels, codes): (Vec<String>, Vec<usize>) = match &frame.response {
        Some(ResponseValues::Factor { codes, levels }) => {
            let codes: Vec<usize> = codes.iter().map(|&c| c as usize).collect();
            (levels.clone(), codes)
        }
        Some(ResponseValues::Numeric(y)) => {
            let mut values: Vec<f64> = y.clone();
            values.sort_by(f64::total_cmp);
            values.dedup();
            let codes = y
                .iter()
                .map(|v| values.partition_point(|u| u < v))
                .collect();
            if values.iter().all(|v| v.fract() == 0.0) && values.len() >= 2 {
                let lo = values[0] as i64;
                let hi = values[values.len() - 1] as i64;
                if hi - lo < 1000 {
                    let empty: Vec<String> = (lo..=hi)
                        .filter(|k| !values.contains(&(*k as f64)))
                        .map(|k| k.to_string())
                        .collect();
                    if !empty.is_empty() {
                        notes.push(format!(
                            "the response `{response}` has no observation in categor{} {}: dropped, the thresholds join the neighbouring categories (as clmm)",
                            if empty.len() == 1 { "y" } else { "ies" },
                            empty.join(", ")
                        ));
                    }
                }
            }
            (values.iter().map(|v| level_label(*v)).collect(), codes)
        }
        Some(ResponseValues::Cbind { .. }) => {
            return Err(Error::Unsupported(format!(
                "an ordinal model needs one ordered response, not cbind(...) (`{response}`); hint: use a factor or integer column of ordered categories"
            )));
        }
        None => {
            return Err(Error::Unsupported(
                "an ordinal model needs a response; hint: write the formula as `rating ~ x + (1 | g)`"
                    .into(),
            ));
        }
    };
    if levels.len() < 2 {
        return Err(Error::Unsupported(format!(
            "the ordinal response `{response}` has {} observed categor{} ({}); hint: a cumulative link model needs at least 2 categories",
            levels.len(),
            if levels.len() == 1 { "y" } else { "ies" },
            levels.join(", ")
        )));
    }
    // The design reads a numeric response: give it the category index.
    frame.response = Some(ResponseValues::Numeric(
        codes.iter().map(|&c| c as f64).collect(),
    ));
    let mut design =
        multilevel_design::build_design_with(&parsed, &frame, &DesignOptions { allow_n: true })?;
    design.formula = formula.to_string();
    design.data_name = data.name().to_string();
    // Remove the intercept column: the thresholds are the intercepts.
    if !drop_intercept(&mut design) {
        return Err(Error::Unsupported(format!(
            "an ordinal model's thresholds take the place of the intercept, but `{formula}` has none; hint: remove `0 +` / `- 1` from the formula"
        )));
    }
    let n = design.nobs();
    if design.terms.is_empty() {
        return Err(Error::Unsupported(format!(
            "`{formula}` has no random-effects term; hint: add one such as (1 | group) (a cumulative link model without random effects is ordinal::clm)"
        )));
    }
    let weights = design.weights.clone().unwrap_or_else(|| vec![1.0; n]);
    let y: Vec<usize> = design.y.iter().map(|&v| v as usize).collect();
    let lik = CumulativeLink {
        y,
        weights,
        k: levels.len(),
        link: opts.link,
    };
    let fit = fit_observed(
        &design,
        &lik,
        &ObservedOptions {
            n_agq: opts.n_agq,
            ..ObservedOptions::default()
        },
    )?;
    let thresholds = levels
        .windows(2)
        .zip(fit.extra.iter().zip(&fit.extra_se))
        .map(|(w, (e, s))| OrdinalCoef {
            term: format!("{}|{}", w[0], w[1]),
            estimate: *e,
            std_error: *s,
        })
        .collect();
    let fixed = design
        .x_names
        .iter()
        .zip(fit.beta.iter().zip(&fit.beta_se))
        .map(|(t, (e, s))| OrdinalCoef {
            term: t.clone(),
            estimate: *e,
            std_error: *s,
        })
        .collect();
    let (random, correlations) = variance_components(&design, &fit.lambda, 1.0);
    if !fit.converged {
        notes.push(format!("the optimiser did not converge: {}", fit.message));
    }
    if fit.guarded_weights > 0 {
        notes.push(format!(
            "{} observations had a non-positive observed information at the modes (guarded)",
            fit.guarded_weights
        ));
    }
    Ok(CumulativeLinkMixedModel {
        formula: formula.to_string(),
        data_name: data.name().to_string(),
        design,
        link: opts.link,
        levels,
        thresholds,
        fixed,
        random,
        correlations,
        fit,
        notes,
    })
}

/// `Estimate Std. Error z value [Pr(>|z|)]` columns, right-aligned under their headers, as
/// R's `printCoefmat` (4 significant digits for estimates and errors, 3 decimals for z, R's
/// `format.pval` with significance stars).
pub(crate) fn coef_table(rows: &[OrdinalCoef], with_p: bool) -> String {
    let names: Vec<&str> = rows.iter().map(|r| r.term.as_str()).collect();
    let w0 = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let est: Vec<f64> = rows.iter().map(|r| r.estimate).collect();
    let se: Vec<f64> = rows.iter().map(|r| r.std_error).collect();
    let z: Vec<String> = rows.iter().map(|r| format!("{:.3}", r.z_value())).collect();
    let mut cols: Vec<(String, Vec<String>)> = vec![
        ("Estimate".into(), format_vec(&est, 4, 0)),
        ("Std. Error".into(), format_vec(&se, 4, 0)),
        ("z value".into(), z),
    ];
    let ps: Vec<f64> = rows.iter().map(|r| p_norm_two_sided(r.z_value())).collect();
    if with_p {
        cols.push(("Pr(>|z|)".into(), format_pval(&ps, 3)));
    }
    let widths: Vec<usize> = cols
        .iter()
        .map(|(h, v)| {
            v.iter()
                .map(|s| s.chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{:w0$}", "");
    for ((h, _), w) in cols.iter().zip(&widths) {
        out.push_str(&format!(" {h:>w$}"));
    }
    out.push('\n');
    for (i, name) in names.iter().enumerate() {
        out.push_str(&format!("{name:<w0$}"));
        for ((_, v), w) in cols.iter().zip(&widths) {
            out.push_str(&format!(" {:>w$}", v[i].trim()));
        }
        if with_p {
            out.push_str(&format!(" {}", signif_stars(ps[i])));
        }
        out.push('\n');
    }
    if with_p {
        out.push_str("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n");
    }
    out
}

impl CumulativeLinkMixedModel {
    /// Number of observations (sum of the prior weights, as clmm).
    pub fn nobs(&self) -> f64 {
        self.design
            .weights
            .as_ref()
            .map_or(self.design.nobs() as f64, |w| w.iter().sum())
    }

    /// Estimated parameters: thresholds, slopes and θ (clmm's `edf`).
    pub fn edf(&self) -> usize {
        self.thresholds.len() + self.fixed.len() + self.fit.theta.len()
    }

    /// The approximate marginal log-likelihood.
    pub fn loglik(&self) -> f64 {
        self.fit.loglik
    }

    /// `−2 log L + 2 edf`.
    pub fn aic(&self) -> f64 {
        -2.0 * self.fit.loglik + 2.0 * self.edf() as f64
    }

    /// Largest absolute gradient entry of `−log L` at the optimum (clmm's `max.grad`).
    pub fn max_grad(&self) -> f64 {
        self.fit.gradient.iter().fold(0.0, |a, g| a.max(g.abs()))
    }

    /// The text report, laid out as `summary(clmm)`.
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        if self.fit.n_agq > 1 {
            s.push_str(&format!(
                "Cumulative Link Mixed Model fitted with the adaptive Gauss-Hermite \nquadrature approximation with {} quadrature points \n\n",
                self.fit.n_agq
            ));
        } else {
            s.push_str("Cumulative Link Mixed Model fitted with the Laplace approximation\n\n");
        }
        s.push_str(&format!("formula: {}\n", self.formula));
        s.push_str(&format!("data:    {}\n\n", self.data_name));
        let info = [
            ("link", self.link.name().to_string()),
            ("threshold", "flexible".to_string()),
            ("nobs", level_label(self.nobs())),
            ("logLik", format!("{:.2}", self.loglik())),
            ("AIC", format!("{:.2}", self.aic())),
            ("niter", format!("{}", self.fit.evaluations)),
            ("max.grad", format!("{:.2e}", self.max_grad())),
        ];
        let mut head = String::new();
        let mut vals = String::new();
        for (h, v) in &info {
            let w = h.len().max(v.len());
            head.push_str(&format!(" {h:<w$}"));
            vals.push_str(&format!(" {v:<w$}"));
        }
        s.push_str(&format!("{head}\n{vals}\n\n"));
        s.push_str("Random effects:\n");
        s.push_str(&crate::varcomp_text::random_effects_rows(
            &self.random,
            &self.correlations,
            |x| format!("{x:.4}"),
        ));
        let groups: Vec<String> = self
            .design
            .terms
            .iter()
            .map(|t| format!("{} {}", t.group, t.nlevels()))
            .collect();
        s.push_str(&format!("Number of groups:  {} \n\n", groups.join(", ")));
        if self.fixed.is_empty() {
            s.push_str("No Coefficients\n\n");
        } else {
            s.push_str("Coefficients:\n");
            s.push_str(&coef_table(&self.fixed, true));
            s.push('\n');
        }
        s.push_str("Threshold coefficients:\n");
        s.push_str(&coef_table(&self.thresholds, false));
        if self.fit.theta_on_bound > 0 {
            s.push_str("\nnote: a random-effects variance is estimated at zero (singular fit)\n");
        }
        for n in &self.notes {
            s.push_str(&format!("\nnote: {n}\n"));
        }
        s
    }

    /// The JSON report: `thresholds` and `fixed` as `[{term, estimate, std_error, statistic,
    /// p_value}]` (`fixed` holds the slopes), `random` and `correlations` as for other fits.
    pub fn to_json(&self) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let rows = |r: &[OrdinalCoef], p: bool| -> Value {
            r.iter()
                .map(|c| {
                    let mut o = json!({
                        "term": c.term,
                        "estimate": num(c.estimate),
                        "std_error": num(c.std_error),
                        "statistic": num(c.z_value()),
                    });
                    if p {
                        o["p_value"] = num(p_norm_two_sided(c.z_value()));
                    }
                    o
                })
                .collect()
        };
        json!({
            "model": "clmm",
            "formula": self.formula,
            "data": self.data_name,
            "family": "ordinal",
            "link": self.link.name(),
            "threshold": "flexible",
            "approximation": if self.fit.n_agq > 1 { "adaptive Gauss-Hermite quadrature" } else { "Laplace" },
            "n_agq": self.fit.n_agq,
            "nobs": num(self.nobs()),
            "response_levels": self.levels,
            "loglik": num(self.loglik()),
            "aic": num(self.aic()),
            "edf": self.edf(),
            "niter": self.fit.evaluations,
            "max_grad": num(self.max_grad()),
            "converged": self.fit.converged,
            "groups": self.design.terms.iter().map(|t| json!({"name": t.group, "levels": t.nlevels()})).collect::<Vec<_>>(),
            "thresholds": rows(&self.thresholds, false),
            "fixed": rows(&self.fixed, true),
            "random": self.random.iter().map(|r| json!({"group": r.group, "term": r.term, "variance": num(r.variance), "std_dev": num(r.std_dev)})).collect::<Vec<_>>(),
            "correlations": self.correlations.iter().map(|c| json!({"group": c.group, "term1": c.term1, "term2": c.term2, "corr": num(c.corr)})).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}
