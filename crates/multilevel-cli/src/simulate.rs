//! `multilevel simulate`: responses simulated from a fitted model (lme4's `simulate`).

use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use multilevel::{MixedModel, SimulateOptions, SimulateReForm};

use crate::args::Family;
use crate::fit::{check_response, cli_error, write_report};

/// Examples shown by `multilevel simulate --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel simulate --dataset sleepstudy --nsim 100 --seed 1 \"Reaction ~ Days + (Days | Subject)\"
  multilevel simulate --dataset cbpp --family binomial --nsim 10 --re-form all \"cbind(incidence, size - incidence) ~ period + (1 | herd)\"

De novo (lme4's simulate(formula, newdata, newparams)): with --beta, the data are a design
(predictors and grouping columns; the response column may be absent), nothing is fitted, and
the responses are drawn from --beta, --sd/--cor (or --theta) and --sigma:
  multilevel simulate --data design.csv --beta \"(Intercept)=0,treat=0.3\" --sd school=0.387 --sigma 0.922 --nsim 10 \"y ~ treat + (1 | school)\"

One row per row used by the fit (column `row`: its 1-based row in the data), one column per
simulation (sim_1, sim_2, …), as lme4's simulate(). --re-form none (the default) draws new
random effects for every simulation; all keeps the fitted conditional modes. Binomial responses
are proportions of each row's trials, as the fit's response. The draws depend on --seed only
(one random stream per simulation), never on the number of threads.";

/// Which random effects to condition on (`--re-form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimReForm {
    /// Draw new random effects (lme4's `re.form = NA`).
    None,
    /// Keep the conditional modes (lme4's `re.form = NULL`).
    All,
}

/// Output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON (schema in docs/json.md).
    Json,
}

/// Arguments of `multilevel simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Model formula in lme4 syntax.
    #[arg(value_name = "FORMULA")]
    pub formula: String,
    /// Data source and fit options.
    #[command(flatten)]
    pub model: crate::args::ModelData,
    /// Response family: gaussian (a linear mixed model, the default), binomial or poisson.
    #[arg(long, value_enum, default_value_t = Family::Gaussian, value_name = "FAMILY")]
    pub family: Family,
    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Number of simulated responses.
    #[arg(long, default_value_t = 1)]
    pub nsim: usize,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// New random effects (none) or the fitted conditional modes (all).
    #[arg(long, value_enum, default_value_t = SimReForm::None)]
    pub re_form: SimReForm,
    /// Parameters of a de novo simulation (no fit: the data are the design).
    #[command(flatten)]
    pub params: crate::power::ParamArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SimFormat::Csv, value_name = "FORMAT")]
    pub format: SimFormat,
    /// Write the simulations to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
}

/// Runs `multilevel simulate`.
pub fn run(a: &SimulateArgs) -> Result<()> {
    if a.nsim == 0 {
        bail!("--nsim 0: at least one simulation is needed; hint: use e.g. --nsim 100");
    }
    if matches!(
        a.family,
        Family::Gamma
            | Family::InverseGaussian
            | Family::NegativeBinomial
            | Family::Ordinal
            | Family::NegativeBinomial1
    ) {
        bail!(
            "simulating a {} GLMM is not available; hint: use --family gaussian, binomial or poisson",
            a.family.name()
        );
    }
    let opts = SimulateOptions {
        nsim: a.nsim,
        seed: a.seed,
        re_form: match a.re_form {
            SimReForm::None => SimulateReForm::None,
            SimReForm::All => SimulateReForm::All,
        },
    };
    let data = a.model.load()?;
    let fit_opts = a.model.fit_options();
    if a.params.given() {
        if a.re_form == SimReForm::All {
            bail!(
                "--re-form all keeps a fit's conditional modes, but a de novo simulation (--beta) has no fit; hint: drop --re-form"
            );
        }
        let family = crate::power::family_of(a.family, a.link.as_deref())?;
        let params = a.params.to_lib(family.is_some())?;
        let model = multilevel::DeNovo::new(&a.formula, &data, family, &params, &fit_opts)
            .map_err(cli_error)?;
        let dropped = model.design().n_dropped_missing;
        if dropped > 0 {
            eprintln!(
                "warning: {dropped} rows of the design have missing values in the formula's variables and get no simulated response"
            );
        }
        let sims = model.simulate(a.nsim, a.seed).map_err(cli_error)?;
        let rows: Vec<usize> = model.design_rows().to_vec();
        return write_sims(a, &sims, &rows);
    }
    if !a.params.sd.is_empty() || !a.params.theta.is_empty() || a.params.sigma.is_some() {
        bail!(
            "--sd, --cor, --theta and --sigma describe a de novo simulation, which needs --beta; hint: add --beta, or drop them to simulate from the fitted model"
        );
    }
    let glmm = a.family != Family::Gaussian
        || a.link
            .as_ref()
            .is_some_and(|l| !l.eq_ignore_ascii_case("identity"));
    let (sims, rows) = if glmm {
        if a.family == Family::Gaussian {
            bail!(
                "simulating a gaussian GLMM with a non-identity link is not available; hint: drop --link"
            );
        }
        let family = crate::fit::family_spec(a.family, a.link.as_deref())?;
        let m = multilevel::glmer(
            &a.formula,
            &data,
            family,
            &multilevel::GlmerOptions {
                fit: fit_opts,
                ..multilevel::GlmerOptions::default()
            },
        )
        .map_err(cli_error)?;
        (
            m.simulate(&opts).map_err(cli_error)?,
            m.frame().rows.clone(),
        )
    } else {
        check_response(&a.formula, &data)?;
        let m = multilevel::lmer(&a.formula, &data, &fit_opts).map_err(cli_error)?;
        (
            m.simulate(&opts).map_err(cli_error)?,
            m.frame().rows.clone(),
        )
    };
    write_sims(a, &sims, &rows)
}

/// The simulations as CSV or JSON, one row per data row used (`rows`: 0-based).
fn write_sims(a: &SimulateArgs, sims: &[Vec<f64>], rows: &[usize]) -> Result<()> {
    let mut out = String::new();
    match a.format {
        SimFormat::Csv => {
            out.push_str("row");
            for s in 1..=sims.len() {
                let _ = write!(out, ",sim_{s}");
            }
            out.push('\n');
            for (i, r) in rows.iter().enumerate() {
                let _ = write!(out, "{}", r + 1);
                for y in sims {
                    let _ = write!(out, ",{}", y.get(i).copied().unwrap_or(f64::NAN));
                }
                out.push('\n');
            }
        }
        SimFormat::Json => {
            let v = serde_json::json!({
                "kind": "simulate",
                "formula": a.formula,
                "nsim": a.nsim,
                "seed": a.seed,
                "re_form": match a.re_form { SimReForm::None => "none", SimReForm::All => "all" },
                "rows": rows.iter().map(|r| r + 1).collect::<Vec<_>>(),
                "simulations": sims,
            });
            out = serde_json::to_string_pretty(&v).unwrap_or_default();
            out.push('\n');
        }
    }
    write_report(&out, a.output.as_deref())
}
