//! `multilevel fit`: read the data, fit the model, render the report.

use crate::args::{Ddf, Family, FitArgs, OutputFormat};
use anyhow::{Result, anyhow, bail};
use multilevel::{DataFrame, FitOptions, ReadOptions};
use multilevel_report::{Format, render};

/// Runs `multilevel fit`.
pub fn run(a: &FitArgs) -> Result<()> {
    check_model_options(a)?;
    if a.ddf != Ddf::None {
        let name = match a.ddf {
            Ddf::Satterthwaite => "satterthwaite",
            Ddf::KenwardRoger => "kenward-roger",
            Ddf::None => "none",
        };
        eprintln!(
            "note: --ddf {name}: denominator degrees of freedom and p-values are not available yet in this version; df and p-values are left empty (null in JSON)"
        );
    }
    let data = load_data(a)?;
    check_response(&a.formula, &data)?;
    let opts = FitOptions {
        reml: !a.ml,
        weights: a.weights.clone(),
        ..FitOptions::default()
    };
    let fit = multilevel::lmer(&a.formula, &data, &opts)?;
    let format = match a.format {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Markdown => Format::Markdown,
    };
    let report = render(&fit, format);
    // The report lists the warnings; repeat them on stderr when the report is not text on the
    // terminal, so they are not missed.
    if a.format != OutputFormat::Text || a.output.is_some() {
        for w in &fit.warnings {
            eprintln!("warning: {w}");
        }
    }
    match &a.output {
        Some(path) => std::fs::write(path, report).map_err(|e| {
            anyhow!(
                "{}: cannot write the report: {e}; hint: check that the directory exists and is writable",
                path.display()
            )
        })?,
        None => print!("{report}"),
    }
    Ok(())
}

/// Rejects the family/link/nAGQ combinations this version cannot fit, before reading any data.
fn check_model_options(a: &FitArgs) -> Result<()> {
    if a.family != Family::Gaussian {
        bail!(
            "GLMM fitting (--family {}) is not available yet in this version; hint: only linear mixed models (--family gaussian, the default) can be fitted for now",
            a.family.name()
        );
    }
    if let Some(link) = a
        .link
        .as_ref()
        .filter(|l| !l.eq_ignore_ascii_case("identity"))
    {
        bail!(
            "--link {link} with --family gaussian is not available yet in this version; hint: linear mixed models use the identity link (omit --link)"
        );
    }
    if let Some(n) = a.nagq {
        bail!(
            "--nagq {n} applies only to GLMMs (a --family other than gaussian), which are not available yet in this version; hint: omit --nagq for a linear mixed model"
        );
    }
    Ok(())
}

/// A linear mixed model needs a numeric response: rejects a response that is a text (factor)
/// column, which the model frame would otherwise hand on as a two-level binary outcome. Formula
/// syntax errors are left to the fit, which reports them with a caret.
fn check_response(formula: &str, data: &DataFrame) -> Result<()> {
    use multilevel::formula::{Expr, Response};
    use multilevel::frame::Column;
    let Ok(parsed) = multilevel::formula::parse(formula) else {
        return Ok(());
    };
    match &parsed.response {
        Some(Response::Expr(Expr::Var(name))) => {
            if let Some(Column::Factor(f)) = data.column(name) {
                let mut shown: Vec<&str> = f.levels.iter().take(4).map(String::as_str).collect();
                if f.levels.len() > 4 {
                    shown.push("…");
                }
                bail!(
                    "{}: the response `{name}` is a text (factor) column with {} levels ({}), but a linear mixed model needs a numeric response; hint: recode `{name}` as numbers (check for stray text such as `n/a` or `-`; write missing values as NA or an empty field)",
                    data.name(),
                    f.levels.len(),
                    shown.join(", ")
                );
            }
        }
        Some(Response::Cbind { .. }) => bail!(
            "the response `cbind(…)` asks for a binomial GLMM, which is not available yet in this version; hint: only linear mixed models with a numeric response can be fitted for now"
        ),
        _ => {}
    }
    Ok(())
}

/// Reads `--data` or loads `--dataset`, applying `--factor`.
fn load_data(a: &FitArgs) -> Result<DataFrame> {
    if let Some(path) = &a.data {
        let opts = ReadOptions {
            factor_columns: a.factors.clone(),
            ..ReadOptions::default()
        };
        return Ok(DataFrame::read_csv(path, &opts)?);
    }
    let Some(name) = &a.dataset else {
        bail!(
            "no data given; hint: use --data <PATH> for a CSV file or --dataset <NAME> for an embedded data set (see `multilevel datasets`)"
        );
    };
    if multilevel::datasets::get(name).is_none() {
        bail!("{}", crate::datasets::unknown_dataset_message(name));
    }
    let mut df = multilevel::dataset(name)?;
    for col in &a.factors {
        df = df.to_factor(col, false)?;
    }
    Ok(df)
}
