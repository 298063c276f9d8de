//! `multilevel fit`: read the data, fit the model, render the report.

use crate::args::{Ddf, Family, FitArgs, OutputFormat};
use anyhow::{Result, anyhow, bail};
use multilevel::MixedModel;
use multilevel::frame::DataWarning;
use multilevel::{DataFrame, ReadOptions};
use multilevel_report::{FitReport, Format, Render, RenderOptions};
use std::path::Path;

/// Runs `multilevel fit`.
pub fn run(a: &FitArgs) -> Result<()> {
    if a.residual.is_some() || a.residual_variance.is_some() || a.sigma.is_some() {
        return crate::gls::run(a);
    }
    if a.zi.is_some() || a.family == Family::NegativeBinomial1 {
        return crate::zeroinfl::run(a);
    }
    if a.family == Family::Ordinal {
        return crate::ordinal::run(a);
    }
    check_model_options(a)?;
    // lmerTest's default for linear mixed models: Satterthwaite t-tests.
    let ddf = a.ddf.unwrap_or(match a.family {
        Family::Gaussian => Ddf::Satterthwaite,
        _ => Ddf::None,
    });
    check_ddf(ddf, a.model.ml)?;
    let data = a.model.load()?;
    let opts = a.model.fit_options();
    if is_glmm(a) {
        if a.model.ml {
            eprintln!("note: GLMMs are always fitted by maximum likelihood; --ml changes nothing");
        }
        if a.ddf.is_some_and(|d| d != Ddf::None) {
            eprintln!(
                "note: GLMM coefficients get z tests (as glmer's summary); --ddf applies to linear mixed models"
            );
        }
        let glmer_opts = multilevel::GlmerOptions {
            fit: opts,
            quadrature: multilevel::Quadrature::from_n_agq(a.nagq.unwrap_or(1) as usize),
        };
        let model =
            crate::glmm::fit_glmm(a.family, a.link.as_deref(), &a.formula, &data, &glmer_opts)?;
        let render_opts = RenderOptions {
            cross_level: cross_level_notes(model.cross_level_interactions()),
            n_agq: Some(glmer_opts.quadrature.n_agq()),
            overdispersion: model.glmm_fit().overdispersion.as_ref().map(|o| {
                multilevel_report::OverdispersionNote {
                    pearson_chisq: o.chisq,
                    df: o.df,
                    ratio: o.ratio,
                    p_value: o.p_value,
                    poisson: model.family().family.builtin_kind()
                        == Some(multilevel::Family::Poisson),
                }
            }),
            ..Default::default()
        };
        if let Some(path) = &a.augment {
            let parts = crate::augment::Augmented {
                fitted: model.fitted(),
                resid: model.residuals(),
            };
            crate::augment::write(path, &data, &model, &parts)?;
        }
        let fit = model.summary();
        write_tables(a, fit, &model.ranef_tidy())?;
        let report = FitReport {
            fit,
            options: &render_opts,
        }
        .render(report_format(a.report.format));
        let report = crate::coding::annotate(
            report,
            report_format(a.report.format),
            &a.model.relevel,
            &a.model.contrasts,
        );
        if a.report.format != OutputFormat::Text || a.report.output.is_some() {
            for w in &fit.warnings {
                eprintln!("warning: {w}");
            }
        }
        return write_report(&report, a.report.output.as_deref());
    }
    check_response(&a.formula, &data)?;
    let mut model = multilevel::lmer(&a.formula, &data, &opts).map_err(cli_error)?;
    let (fit, df_method) = match model.summary_with_df(ddf.to_lib()) {
        Ok(fit) => (fit, ddf.to_lib().display_name()),
        // The fit itself worked but the df could not be computed: report the fit without them.
        Err(multilevel::Error::Inference(e)) => {
            eprintln!(
                "warning: the {} df could not be computed ({e}); showing the fit without df and p-values",
                ddf.to_lib().display_name().unwrap_or("requested")
            );
            (model.summary().clone(), None)
        }
        Err(e) => return Err(cli_error(e)),
    };
    if let Some(path) = &a.augment {
        let parts = crate::augment::Augmented {
            fitted: model.fitted(),
            resid: model.residuals(),
        };
        crate::augment::write(path, &data, &model, &parts)?;
    }
    write_tables(a, &fit, &model.ranef_tidy())?;
    let render_opts = RenderOptions {
        df_method: df_method.map(str::to_string),
        cross_level: cross_level_notes(model.cross_level_interactions()),
        ..Default::default()
    };
    let report = FitReport {
        fit: &fit,
        options: &render_opts,
    }
    .render(report_format(a.report.format));
    let report = crate::coding::annotate(
        report,
        report_format(a.report.format),
        &a.model.relevel,
        &a.model.contrasts,
    );
    // The report lists the warnings; repeat them on stderr when the report is not text on the
    // terminal, so they are not missed.
    if a.report.format != OutputFormat::Text || a.report.output.is_some() {
        for w in &fit.warnings {
            eprintln!("warning: {w}");
        }
    }
    write_report(&report, a.report.output.as_deref())
}

/// `--tidy` and `--glance`.
fn write_tables(
    a: &FitArgs,
    fit: &multilevel::FitResult,
    ranef: &[multilevel::RanefRow],
) -> Result<()> {
    if let Some(path) = &a.tidy {
        crate::tidy::write_tidy(path, fit, &a.tidy_effects, ranef)?;
    }
    if let Some(path) = &a.glance {
        crate::tidy::write_glance(path, fit)?;
    }
    Ok(())
}

/// The library's family and link for `--family` and `--link` (shared by the commands that
/// fit GLMMs), checked against the links R allows for the family.
pub fn family_spec(family_arg: Family, link: Option<&str>) -> Result<multilevel::FamilySpec> {
    let Some(family) = family_arg.to_lib() else {
        bail!(
            "the {} family is not available for this command; hint: use `multilevel fit --family {}`",
            if family_arg == Family::Ordinal {
                "ordinal"
            } else {
                "negative binomial"
            },
            family_arg.name()
        );
    };
    let Some(name) = link else {
        return Ok(family.into());
    };
    let allowed = || {
        family
            .allowed_links()
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(link) = multilevel::Link::parse(name) else {
        bail!(
            "unknown link `{name}`; hint: --link takes one of {} for the {} family",
            allowed(),
            family_arg.name()
        );
    };
    family.with_link(link).map_err(|_| {
        anyhow!(
            "link `{}` is not available for the {} family; hint: use --link with one of {}",
            link.name(),
            family.name(),
            allowed()
        )
    })
}

/// A library error in the words of the command line: where the library names its own API
/// (`Ddf::Satterthwaite`, a binomial GLMM, `Quadrature::Agq`), the message names the flag.
pub fn cli_error(e: multilevel::Error) -> anyhow::Error {
    match e {
        multilevel::Error::FactorResponse { response, levels } => anyhow!(
            "the response `{response}` is a factor with {levels} levels, but a linear mixed model needs a numeric response; hint: for a two-level outcome use --family binomial (glmer), otherwise check the column"
        ),
        multilevel::Error::AnovaNeedsDdf => anyhow!(
            "the type III ANOVA table needs denominator df; hint: use --ddf satterthwaite (the default)"
        ),
        multilevel::Error::InvalidOption {
            option: "quadrature",
            reason,
        } => anyhow!("--nagq: {reason}"),
        multilevel::Error::InvalidOption { option, reason } => {
            anyhow!("--{option}: {reason}")
        }
        e => e.into(),
    }
}

/// Labels of the cross-level interactions for the report.
fn cross_level_notes(
    terms: Vec<multilevel::workflow::CrossLevelTerm>,
) -> Vec<multilevel_report::CrossLevelNote> {
    terms
        .into_iter()
        .map(|t| multilevel_report::CrossLevelNote {
            term: t.term,
            group: t.group,
            level1: t.level1,
            level2: t.level2,
        })
        .collect()
}

/// Rejects df requests that cannot be met, before reading any data: Kenward–Roger is defined
/// for REML fits only (as pbkrtest).
pub fn check_ddf(ddf: Ddf, ml: bool) -> Result<()> {
    if ddf == Ddf::KenwardRoger && ml {
        bail!(
            "Kenward–Roger df need a REML fit, but --ml was given; hint: drop --ml or use --ddf satterthwaite"
        );
    }
    Ok(())
}

/// The renderer's format for `--format`.
pub fn report_format(f: OutputFormat) -> Format {
    match f {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Markdown => Format::Markdown,
    }
}

/// Writes the report to `--output` (never over a data file the command read), or to standard
/// output (see [`crate::output`]).
pub fn write_report(report: &str, output: Option<&Path>) -> Result<()> {
    crate::output::write_report(report, output)
}

/// Whether the options ask for a GLMM: a non-Gaussian family, or a Gaussian family with a
/// non-identity link (lme4 hands `glmer(family = gaussian)` with the identity link to `lmer`).
fn is_glmm(a: &FitArgs) -> bool {
    a.family != Family::Gaussian
        || a.link
            .as_ref()
            .is_some_and(|l| !l.eq_ignore_ascii_case("identity"))
}

/// Rejects option combinations that cannot be fitted, before reading any data.
fn check_model_options(a: &FitArgs) -> Result<()> {
    if let Some(n) = a.nagq
        && !is_glmm(a)
    {
        bail!(
            "--nagq {n} applies only to GLMMs; hint: add --family binomial|poisson|gamma|inverse_gaussian|negative_binomial, or omit --nagq for a linear mixed model"
        );
    }
    if let Some(n) = a.nagq
        && n > 100
    {
        bail!(
            "--nagq {n} is too large; hint: lme4 allows at most 100 quadrature points (25 is plenty)"
        );
    }
    Ok(())
}

/// A linear mixed model needs a numeric response: rejects a response that is a text (factor)
/// column, which the model frame would otherwise hand on as a two-level binary outcome. Formula
/// syntax errors are left to the fit, which reports them with a caret.
pub fn check_response(formula: &str, data: &DataFrame) -> Result<()> {
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
            "the response `cbind(successes, failures)` is binomial, but a linear mixed model was asked for; hint: add --family binomial"
        ),
        _ => {}
    }
    Ok(())
}

/// What the data reader noticed (a column read as text because of a stray token, two spellings
/// of one id, a detected delimiter, row names): printed as warnings when the command has
/// finished, so a command that fails still ends with its one error line (whose hint names the
/// cause), and nothing the reader noticed goes unsaid when it succeeds.
pub static READER_WARNINGS: std::sync::Mutex<Vec<DataWarning>> = std::sync::Mutex::new(Vec::new());

/// The note a failing command appends to its error line when the delimiter of its data was
/// detected rather than the usual one for the file's name (a wrongly guessed delimiter can be
/// the cause of the error); empty otherwise.
pub fn reader_error_note() -> String {
    let Ok(pending) = READER_WARNINGS.lock() else {
        return String::new();
    };
    pending
        .iter()
        .find_map(|w| match w {
            DataWarning::Delimiter { file, delimiter } => Some(format!(
                " (note: {file} was read as fields separated by {}, detected from its first lines; --delimiter sets it)",
                multilevel::frame::delimiter_name(*delimiter)
            )),
            _ => None,
        })
        .unwrap_or_default()
}

/// Reads `--data` (any format the data layer recognises; `-` is standard input; `--delimiter`
/// forces the field separator of text) or loads `--dataset`, applying `--factor`.
pub fn load_data(
    data: Option<&Path>,
    dataset: Option<&str>,
    factors: &[String],
    delimiter: Option<u8>,
) -> Result<DataFrame> {
    if let Some(path) = data {
        let opts = ReadOptions {
            factor_columns: factors.to_vec(),
            ..ReadOptions::default()
        };
        let df = DataFrame::read_data(path, &opts, delimiter)?;
        crate::output::note_input(path);
        if let Ok(mut pending) = READER_WARNINGS.lock() {
            pending.extend(df.warnings().iter().cloned());
        }
        return Ok(df);
    }
    let Some(name) = dataset else {
        bail!(
            "no data given; hint: use --data <PATH> for a CSV file or --dataset <NAME> for an embedded data set (see `multilevel datasets`)"
        );
    };
    if multilevel::datasets::get(name).is_none() {
        bail!("{}", crate::datasets::unknown_dataset_message(name));
    }
    let mut df = multilevel::dataset(name)?;
    for col in factors {
        df = df.to_factor(col, false)?;
    }
    Ok(df)
}
