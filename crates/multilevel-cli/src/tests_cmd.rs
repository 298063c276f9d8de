//! `multilevel anova` and `multilevel compare`: hypothesis tests on fitted models.

use crate::args::{AnovaArgs, CompareArgs, Ddf};
use crate::fit::{check_ddf, check_response, cli_error, report_format, write_report};
use anyhow::{Result, bail};
use multilevel::FitOptions;
use multilevel::MixedModel;
use multilevel_report::{AnovaReport, CompareReport, Render, WaldChisqReport};

/// Runs `multilevel anova`: lmerTest's type III table of F tests.
pub fn run_anova(a: &AnovaArgs) -> Result<()> {
    a.glmm.check()?;
    if a.glmm.is_glmm() {
        return run_glmm_anova(a);
    }
    check_ddf(a.ddf, a.model.ml)?;
    if a.ddf == Ddf::None {
        bail!(
            "--ddf none: the ANOVA table's F tests need denominator df; hint: use --ddf satterthwaite (the default)"
        );
    }
    let data = a.model.load()?;
    check_response(&a.formula, &data)?;
    let opts = a.model.fit_options();
    let ddf = a.ddf.to_lib();
    // One fit answers both questions: the F tests, and the warnings of the fit.
    let mut model = multilevel::lmer(&a.formula, &data, &opts).map_err(cli_error)?;
    let rows = model.anova(ddf).map_err(cli_error)?;
    let fit = model.summary();
    let method = ddf.display_name().unwrap_or("Satterthwaite");
    let report = AnovaReport {
        rows: &rows,
        df_method: method,
        formula: &fit.formula,
        data: &fit.data_name,
    }
    .render(report_format(a.report.format));
    for w in &fit.warnings {
        eprintln!("warning: {w}");
    }
    write_report(&report, a.report.output.as_deref())
}

/// `multilevel anova --family …`: Wald χ² tests per term of a GLMM (`car::Anova(fit, type =
/// 3)`), since a GLMM has no F tests with denominator df.
fn run_glmm_anova(a: &AnovaArgs) -> Result<()> {
    let data = a.model.load()?;
    let model = a.glmm.fit(&a.formula, &data, a.model.fit_options())?;
    let design = model.design();
    let rows = multilevel::inference::wald_chisq_type3(
        model.summary(),
        &design.x_assign,
        &design.fixed_term_labels,
    )
    .map_err(|e| cli_error(e.into()))?;
    let fit = model.summary();
    let report = WaldChisqReport {
        rows: &rows,
        response: &design.response_name,
        formula: &fit.formula,
        data: &fit.data_name,
    }
    .render(report_format(a.report.format));
    for w in &fit.warnings {
        eprintln!("warning: {w}");
    }
    write_report(&report, a.report.output.as_deref())
}

/// Runs `multilevel compare`: likelihood-ratio tests of nested models.
pub fn run_compare(a: &CompareArgs) -> Result<()> {
    a.glmm.check()?;
    if a.glmm.is_glmm() {
        return run_glmm_compare(a);
    }
    let data = a.model.load()?;
    for f in &a.formulas {
        check_response(f, &data)?;
    }
    let opts = FitOptions {
        cond_var: false,
        ..a.model.fit_options()
    };
    let models = a
        .formulas
        .iter()
        .map(|f| multilevel::lmer(f, &data, &opts).map_err(cli_error))
        .collect::<Result<Vec<_>>>()?;
    crate::rows::check_comparable(&a.formulas, &models)?;
    let refs: Vec<&multilevel::LinearMixedModel> = models.iter().collect();
    let table = multilevel::LinearMixedModel::compare_all(&refs).map_err(cli_error)?;
    let report = CompareReport {
        table: &table,
        data: data.name(),
    }
    .render(report_format(a.report.format));
    let dropped = models.first().map_or(0, |m| m.summary().n_dropped_missing);
    let report = crate::rows::with_dropped(report, a.report.format, dropped, data.name());
    write_report(&report, a.report.output.as_deref())
}

/// `multilevel compare --family …`: likelihood-ratio tests of nested GLMMs (lme4's
/// `anova(m1, m2)`; GLMMs are maximum-likelihood fits, so nothing is refitted).
fn run_glmm_compare(a: &CompareArgs) -> Result<()> {
    let data = a.model.load()?;
    let opts = FitOptions {
        cond_var: false,
        ..a.model.fit_options()
    };
    let models = a
        .formulas
        .iter()
        .map(|f| a.glmm.fit(f, &data, opts.clone()))
        .collect::<Result<Vec<_>>>()?;
    crate::rows::check_comparable(&a.formulas, &models)?;
    let refs: Vec<&multilevel::GeneralizedLinearMixedModel> = models.iter().collect();
    let table = multilevel::GeneralizedLinearMixedModel::compare_all(&refs).map_err(cli_error)?;
    let report = CompareReport {
        table: &table,
        data: data.name(),
    }
    .render(report_format(a.report.format));
    let dropped = models.first().map_or(0, |m| m.summary().n_dropped_missing);
    let report = crate::rows::with_dropped(report, a.report.format, dropped, data.name());
    write_report(&report, a.report.output.as_deref())
}
