//! `multilevel anova` and `multilevel compare`: hypothesis tests on fitted models.

use crate::args::{AnovaArgs, CompareArgs, Ddf};
use crate::fit::{check_ddf, check_response, report_format, write_report};
use anyhow::{Result, bail};
use multilevel::FitOptions;
use multilevel_report::{AnovaReport, CompareReport, Render};

/// Runs `multilevel anova`: lmerTest's type III table of F tests.
pub fn run_anova(a: &AnovaArgs) -> Result<()> {
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
    let (fit, rows) = multilevel::anova_type3(&a.formula, &data, &opts, ddf)?;
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

/// Runs `multilevel compare`: likelihood-ratio tests of nested models.
pub fn run_compare(a: &CompareArgs) -> Result<()> {
    let data = a.model.load()?;
    for f in &a.formulas {
        check_response(f, &data)?;
    }
    let opts = FitOptions {
        cond_var: false,
        ..a.model.fit_options()
    };
    let formulas: Vec<&str> = a.formulas.iter().map(String::as_str).collect();
    let table = multilevel::compare_models(&formulas, &data, &opts)?;
    let report = CompareReport {
        table: &table,
        data: data.name(),
    }
    .render(report_format(a.report.format));
    write_report(&report, a.report.output.as_deref())
}
