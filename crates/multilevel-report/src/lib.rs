//! Renderers for fitted mixed models.
//!
//! A [`FitResult`] is plain data; one renderer per [`Format`] turns it into a report:
//!
//! * [`TextRenderer`]: the layout of lme4's `print(summary(fit))` (with lmerTest's `df` and
//!   `Pr(>|t|)` columns when the fit has denominator degrees of freedom), followed by the ICC of a
//!   single random-intercept model and the fit's warnings.
//! * [`JsonRenderer`]: the stable JSON schema of [`to_json_value`], documented in `docs/json.md`.
//! * [`MarkdownRenderer`]: the text report's content as markdown tables.
//!
//! [`render_with`] names the df method in the title (lmerTest's "t-tests use Satterthwaite's
//! method"); [`render_anova`] and [`render_compare`] render lmerTest's type III ANOVA table and
//! lme4's likelihood-ratio comparison of models.
//!
//! Every result of the workspace implements the one [`Render`] trait in the one [`Format`]
//! (both from `multilevel-numeric`); the results of this crate's inputs that need context to be
//! printed are wrapped in [`FitReport`], [`AnovaReport`], [`CompareReport`] and
//! [`ConfintReport`].
//!
//! Numbers are formatted as R formats them (see [`num`]): a column shares its decimals, chosen so
//! every entry shows 4 significant digits.

/// R-style number formatting (moved to the numeric leaf; re-exported under its old path).
pub use multilevel_numeric::fmt as num;
/// R's layout of a character matrix (moved to the numeric leaf; re-exported under its old path).
pub use multilevel_numeric::table;

mod json;
mod markdown;
mod reports;
mod summary;
mod tests_tables;
mod text;
mod wald;

pub use json::{JSON_KEYS, JsonRenderer, SCHEMA_VERSION, to_json_value};
pub use markdown::MarkdownRenderer;
pub use multilevel_lmm::FitResult;
pub use multilevel_numeric::render::{Format, Render};
pub use reports::{AnovaReport, CompareReport, ConfintReport, FitReport};
pub use summary::icc;
pub use tests_tables::{anova_heading, render_anova, render_compare};
pub use text::TextRenderer;
pub use wald::WaldChisqReport;

/// Options of [`render_with`] beyond the fit itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderOptions {
    /// Name of the method that gave the coefficients' denominator df (e.g. `Satterthwaite`):
    /// the text title then reads lmerTest's "t-tests use Satterthwaite's method", and the JSON
    /// gets a `df_method` key. `None` keeps the generic "approximate denominator df" wording
    /// (when the fit has df at all) and leaves the key out.
    pub df_method: Option<String>,
    /// Fixed-effect terms that are cross-level interactions (a predictor varying within the
    /// groups of a grouping factor times one constant within them). The text and markdown
    /// reports label them under the fixed effects; the JSON gets a `cross_level_interactions`
    /// array. Computed by `multilevel_workflow::cross_level_interactions` from the data.
    pub cross_level: Vec<CrossLevelNote>,
    /// A GLMM's number of adaptive Gauss–Hermite quadrature points (lme4's `nAGQ`): the title
    /// reads "Adaptive Gauss-Hermite Quadrature, nAGQ = n" for 0 and for n > 1, as lme4's.
    /// `None` (or 1) keeps the title of the fit's method.
    pub n_agq: Option<usize>,
    /// A count GLMM's overdispersion check (Pearson χ² / residual df), printed under the fit
    /// criteria and in the JSON (`overdispersion`).
    pub overdispersion: Option<OverdispersionNote>,
}

/// The overdispersion check of a GLMM without a dispersion parameter (Poisson, binomial with
/// more than one trial): the sum of squared Pearson residuals against its residual df.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct OverdispersionNote {
    /// Σ squared Pearson residuals.
    pub pearson_chisq: f64,
    /// Residual degrees of freedom.
    pub df: f64,
    /// `pearson_chisq / df`.
    pub ratio: f64,
    /// Upper tail of χ²(df) at `pearson_chisq`.
    pub p_value: f64,
    /// Whether the family is Poisson (the hint then names the negative binomial).
    pub poisson: bool,
}

/// Pearson χ²/df above which a fit is called overdispersed in reports (the rule of thumb of
/// the GLMM literature; the GLMM fit's warning uses the same default).
pub const OVERDISPERSION_RATIO: f64 = 1.5;

impl OverdispersionNote {
    /// The printed line: the ratio, and above [`OVERDISPERSION_RATIO`] what to try.
    pub fn line(&self) -> String {
        // The p-value as R's format.pval prints it (0.1197, 2.3e-05, <2e-16).
        let p = num::format_pval(&[self.p_value], 4)
            .pop()
            .unwrap_or_default();
        let mut s = format!(
            "Overdispersion: Pearson chi-squared / df = {:.3} ({:.2} on {} df, p = {p})",
            self.ratio, self.pearson_chisq, self.df
        );
        if self.ratio > OVERDISPERSION_RATIO {
            if self.poisson {
                s.push_str(
                    "; hint: the counts vary more than a Poisson model allows: try a negative binomial model, or an observation-level random effect such as `(1 | obs)`",
                );
            } else {
                s.push_str("; hint: add an observation-level random effect such as `(1 | obs)`");
            }
        }
        s
    }
}

/// A cross-level interaction among the fixed effects (see [`RenderOptions::cross_level`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CrossLevelNote {
    /// The term (`ses:sector`).
    pub term: String,
    /// The grouping factor whose levels define the two levels (`school`).
    pub group: String,
    /// Variables of the term that vary within the groups (level 1).
    pub level1: Vec<String>,
    /// Variables of the term constant within each group (level 2).
    pub level2: Vec<String>,
}

impl CrossLevelNote {
    /// One line for the reports: `ses:sector — ses (within school) × sector (school level)`.
    pub fn line(&self) -> String {
        format!(
            "{} — {} (within {g}) × {} ({g} level)",
            self.term,
            self.level1.join(", "),
            self.level2.join(", "),
            g = self.group
        )
    }
}

/// Renders `fit` in the given format.
pub fn render(fit: &FitResult, format: Format) -> String {
    render_with(fit, format, &RenderOptions::default())
}

/// Renders `fit` in the given format with options (see [`RenderOptions`]).
pub fn render_with(fit: &FitResult, format: Format, opts: &RenderOptions) -> String {
    match format {
        Format::Text => TextRenderer.render_with(fit, opts),
        Format::Json => JsonRenderer.render_with(fit, opts),
        Format::Markdown => MarkdownRenderer.render_with(fit, opts),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Layout tests on lme4's published sleepstudy estimates (`lmer(Reaction ~ Days + (Days |
    //! Subject), sleepstudy)`); the expected text is lme4's own printout with trailing blanks
    //! removed (lme4 zaps the t column to 4 significant digits, hence `36.84`; lmerTest's table
    //! zaps its df column instead and shows `36.838`). Real-fit snapshots live in the workspace's `tests/report_snapshots.rs`.
    use super::*;
    use multilevel_lmm::{
        Correlation, FixedEffect, GroupInfo, Method, OptimizerInfo, Residual, VarComp,
    };

    fn sleepstudy(method: Method) -> FitResult {
        let fe = |term: &str, estimate: f64, std_error: f64| FixedEffect {
            term: term.into(),
            estimate,
            std_error,
            statistic: estimate / std_error,
            df: None,
            p_value: None,
        };
        let vc = |term: &str, sd: f64| VarComp {
            group: "Subject".into(),
            term: term.into(),
            variance: sd * sd,
            std_dev: sd,
        };
        FitResult {
            formula: "Reaction ~ Days + (Days | Subject)".into(),
            data_name: "sleepstudy".into(),
            family: "gaussian".into(),
            link: "identity".into(),
            method,
            nobs: 180,
            n_dropped_missing: 0,
            groups: vec![GroupInfo {
                name: "Subject".into(),
                levels: 18,
            }],
            fixed: vec![
                fe("(Intercept)", 251.405105, 6.824597),
                fe("Days", 10.467286, 1.545790),
            ],
            vcov: vec![46.574, -1.4510, -1.4510, 2.3895],
            random: vec![vc("(Intercept)", 24.740655), vc("Days", 5.922138)],
            correlations: vec![Correlation {
                group: "Subject".into(),
                term1: "(Intercept)".into(),
                term2: "Days".into(),
                corr: 0.06555124,
            }],
            structures: Vec::new(),
            residual: Some(Residual {
                variance: 25.591815f64.powi(2),
                std_dev: 25.591815,
            }),
            theta: vec![0.9667, 0.0152, 0.2309],
            sigma: 25.591815,
            loglik: -875.9697,
            objective: if method == Method::Reml {
                1743.628
            } else {
                1751.939
            },
            deviance: Some(1751.939),
            aic: 1763.939,
            bic: 1783.097,
            npar: 6,
            df_resid: 174.0,
            ranef: vec![],
            fitted: vec![],
            residuals: vec![],
            scaled_residuals: [-3.95363, -0.46340, 0.02312, 0.46340, 5.17926],
            fixed_correlation: vec![1.0, -0.1375534, -0.1375534, 1.0],
            converged: true,
            singular: false,
            warnings: vec![],
            optimizer: OptimizerInfo {
                name: "bobyqa".into(),
                evaluations: 30,
                message: String::new(),
            },
            family_parameters: vec![],
        }
    }

    #[test]
    fn text_matches_lme4_summary_reml() {
        let expected = "\
Linear mixed model fit by REML ['lmerMod']
Formula: Reaction ~ Days + (Days | Subject)
   Data: sleepstudy

REML criterion at convergence: 1743.6

Scaled residuals:
    Min      1Q  Median      3Q     Max
-3.9536 -0.4634  0.0231  0.4634  5.1793

Random effects:
 Groups   Name        Variance Std.Dev. Corr
 Subject  (Intercept) 612.10   24.741
          Days         35.07    5.922   0.07
 Residual             654.94   25.592
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error t value
(Intercept)  251.405      6.825   36.84
Days          10.467      1.546    6.77

Correlation of Fixed Effects:
     (Intr)
Days -0.138
";
        assert_eq!(TextRenderer.render(&sleepstudy(Method::Reml)), expected);
    }

    #[test]
    fn text_ml_has_lme4_information_criteria_table() {
        let text = TextRenderer.render(&sleepstudy(Method::Ml));
        assert!(text.starts_with("Linear mixed model fit by maximum likelihood  ['lmerMod']\n"));
        assert!(text.contains(
            "\n     AIC      BIC   logLik deviance df.resid\n  1763.9   1783.1   -876.0   1751.9      174\n"
        ));
        assert!(!text.contains("REML criterion"));
    }

    #[test]
    fn text_with_df_and_p_values_like_lmertest() {
        let mut fit = sleepstudy(Method::Reml);
        fit.fixed[0].df = Some(17.0);
        fit.fixed[0].p_value = Some(1.17e-17);
        fit.fixed[1].df = Some(17.0);
        fit.fixed[1].p_value = Some(3.264e-06);
        let text = TextRenderer.render(&fit);
        assert!(text.contains(
            "\
            Estimate Std. Error      df t value Pr(>|t|)
(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***
Days          10.467      1.546  17.000   6.771 3.26e-06 ***
---
Signif. codes:"
        ));
        assert!(text.contains("['lmerModLmerTest']"));
    }

    #[test]
    fn cross_level_interactions_are_labelled_in_every_format() {
        let fit = sleepstudy(Method::Reml);
        let opts = RenderOptions {
            cross_level: vec![CrossLevelNote {
                term: "Days:Group".into(),
                group: "Subject".into(),
                level1: vec!["Days".into()],
                level2: vec!["Group".into()],
            }],
            ..Default::default()
        };
        let line = "Days:Group — Days (within Subject) × Group (Subject level)";
        let text = render_with(&fit, Format::Text, &opts);
        assert!(
            text.contains(&format!("Cross-level interactions:\n  {line}\n")),
            "{text}"
        );
        let md = render_with(&fit, Format::Markdown, &opts);
        assert!(md.contains(&format!("- {line}")), "{md}");
        let v: serde_json::Value =
            serde_json::from_str(&render_with(&fit, Format::Json, &opts)).unwrap();
        assert_eq!(v["cross_level_interactions"][0]["level2"][0], "Group");
        let plain = render_with(&fit, Format::Text, &RenderOptions::default());
        assert!(!plain.contains("Cross-level"));
    }

    #[test]
    fn df_method_is_named_in_title_and_json() {
        let mut fit = sleepstudy(Method::Reml);
        fit.fixed[1].df = Some(17.0);
        fit.fixed[1].p_value = Some(3.264e-06);
        let opts = RenderOptions {
            df_method: Some("Satterthwaite".into()),
            ..Default::default()
        };
        let text = render_with(&fit, Format::Text, &opts);
        assert!(text.starts_with(
            "Linear mixed model fit by REML. t-tests use Satterthwaite's method ['lmerModLmerTest']\n"
        ));
        let md = render_with(&fit, Format::Markdown, &opts);
        assert!(md.starts_with(
            "## Linear mixed model fit by REML. t-tests use Satterthwaite's method\n"
        ));
        let v: serde_json::Value =
            serde_json::from_str(&render_with(&fit, Format::Json, &opts)).unwrap();
        assert_eq!(v["df_method"], "Satterthwaite");
        // Without options: the generic wording and no key.
        assert!(render(&fit, Format::Text).contains("t-tests use approximate denominator df"));
        let v: serde_json::Value = serde_json::from_str(&render(&fit, Format::Json)).unwrap();
        assert!(v.get("df_method").is_none());
    }

    #[test]
    fn icc_and_warnings_are_printed() {
        let mut fit = sleepstudy(Method::Reml);
        fit.random.truncate(1);
        fit.correlations.clear();
        fit.warnings = vec!["2 rows with missing values dropped".into()];
        let text = TextRenderer.render(&fit);
        // 612.10 / (612.10 + 654.94) = 0.4831
        assert!(text.contains("Intraclass correlation (ICC, Subject): 0.4831"));
        assert!(text.ends_with("Warnings:\n  2 rows with missing values dropped\n"));
        assert!(!text.contains("Std.Dev. Corr"));
        let md = MarkdownRenderer.render(&fit);
        assert!(md.contains("- 2 rows with missing values dropped"));
    }

    #[test]
    fn json_has_schema_keys_and_nulls_for_non_finite() {
        let mut fit = sleepstudy(Method::Reml);
        fit.bic = f64::NAN;
        let v = to_json_value(&fit);
        for key in JSON_KEYS {
            assert!(v.get(key).is_some(), "missing key {key}");
        }
        assert_eq!(v["method"], "REML");
        assert!(v["bic"].is_null());
        assert!(v["fixed"][0]["df"].is_null());
        assert_eq!(v["vcov"][0][1], -1.451);
        assert_eq!(v["groups"][0]["levels"], 18);
        let parsed: serde_json::Value = serde_json::from_str(&JsonRenderer.render(&fit)).unwrap();
        assert_eq!(parsed, v);
    }

    #[test]
    fn markdown_has_tables() {
        let md = MarkdownRenderer.render(&sleepstudy(Method::Reml));
        assert!(md.starts_with("## Linear mixed model fit by REML\n"));
        assert!(md.contains("| Subject  | (Intercept) |   612.10 |   24.741 |      |"));
        assert!(md.contains("| (Intercept) |  251.405 |      6.825 |   36.84 |"));
        assert!(md.contains("- **Formula:** `Reaction ~ Days + (Days | Subject)`"));
    }
}
