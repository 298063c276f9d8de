//! Command-line arguments (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const FIT_EXAMPLES: &str = "\
Examples:
  multilevel fit --dataset sleepstudy \"Reaction ~ Days + (Days | Subject)\"
  multilevel fit --dataset sleepstudy --ml --format json \"Reaction ~ Days + (1 | Subject)\"
  multilevel fit --data trial.csv --factor clinic --output fit.md --format markdown \"y ~ dose + (1 | clinic)\"
  multilevel fit --dataset cbpp --family binomial --nagq 25 \"cbind(incidence, size - incidence) ~ period + (1 | herd)\"

Formula syntax is lme4's: fixed effects `y ~ x1 + x2*x3`, random effects in parentheses
`(1 | g)`, `(x | g)`, `(x || g)`, `(1 | g1/g2)`. Rows with missing values in the variables used
are dropped (and reported).";

const ANOVA_EXAMPLES: &str = "\
Examples:
  multilevel anova --dataset cake \"angle ~ recipe * temperature + (1 | recipe:replicate)\"
  multilevel anova --data trial.csv --format json \"y ~ dose * sex + (1 | clinic)\"

Each term is tested by an F test of all its coefficients (type III hypotheses, which do not
depend on the contrasts used), with Satterthwaite's denominator df, as lmerTest's anova().";

const COMPARE_EXAMPLES: &str = "\
Examples:
  multilevel compare --dataset sleepstudy \"Reaction ~ Days + (1 | Subject)\" \"Reaction ~ Days + (Days | Subject)\"
  multilevel compare --data trial.csv --format json \"y ~ 1 + (1 | clinic)\" \"y ~ dose + (1 | clinic)\"

Models are sorted by their number of parameters and each is tested against the one before it
(χ² = 2 Δ logLik on Δ npar df). REML fits are refitted by ML first, as lme4 does. Tests of a
variance at 0 are conservative (the null value lies on the boundary).";

const DATASETS_EXAMPLES: &str = "\
Examples:
  multilevel datasets
  multilevel datasets sleepstudy
  multilevel datasets sleepstudy --csv > sleepstudy.csv";

const MAIN_EXAMPLES: &str = "\
Examples:
  multilevel datasets
  multilevel fit --dataset sleepstudy \"Reaction ~ Days + (Days | Subject)\"
  multilevel fit --data my.csv --format json \"y ~ x + (1 | group)\"
  multilevel fit --dataset cbpp --family binomial \"cbind(incidence, size - incidence) ~ period + (1 | herd)\"
  multilevel explore --data hsb.csv --group school \"mAch ~ ses\"
  multilevel anova --dataset cake \"angle ~ recipe * temperature + (1 | recipe:replicate)\"
  multilevel compare --dataset sleepstudy \"Reaction ~ Days + (1 | Subject)\" \"Reaction ~ Days + (Days | Subject)\"";

/// Fit linear and generalized linear mixed-effects models (lme4's `lmer` and `glmer`) from the
/// command line.
#[derive(Debug, Parser)]
#[command(name = "multilevel", version, about, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a mixed model and print its summary.
    #[command(after_help = FIT_EXAMPLES)]
    Fit(FitArgs),
    /// Type III ANOVA table of the fixed-effects terms (lmerTest's `anova(fit)`).
    #[command(after_help = ANOVA_EXAMPLES)]
    Anova(AnovaArgs),
    /// Compare nested models by likelihood-ratio tests (lme4's `anova(m1, m2, ...)`).
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// List the embedded example data sets (or show one of them).
    #[command(after_help = DATASETS_EXAMPLES)]
    Datasets(DatasetsArgs),
    /// Explore clustering (ICC, design effect) and compare OLS, between, within, random and
    /// hybrid estimates with a Hausman test.
    #[command(after_help = crate::explore::EXAMPLES)]
    Explore(crate::explore::ExploreArgs),
    /// Confidence intervals: profile likelihood, parametric bootstrap or Wald (lme4's `confint`).
    #[command(after_help = crate::confint::EXAMPLES)]
    Confint(crate::confint::ConfintArgs),
    /// Generalized estimating equations (geepack's `geeglm`): population-averaged effects with
    /// robust sandwich standard errors.
    #[command(after_help = crate::gee::EXAMPLES)]
    Gee(crate::gee::GeeArgs),
    /// Cluster-robust (CR0/CR1/CR2) standard errors with Satterthwaite df for OLS or mixed-model
    /// fixed effects (clubSandwich's `coef_test`).
    #[command(after_help = crate::robust::EXAMPLES)]
    Robust(crate::robust::RobustArgs),
    /// Figures of a fit (SVG or PNG): per-group lines, caterpillar, shrinkage, residuals, profiles.
    #[command(after_help = crate::plot::EXAMPLES)]
    Plot(crate::plot::PlotArgs),
    /// Random-effects meta-analysis and meta-regression (metafor's `rma`).
    #[command(after_help = crate::meta::EXAMPLES)]
    Meta(crate::meta::MetaArgs),
    /// Predictions for new data (lme4's `predict`): population level or with random effects.
    #[command(after_help = crate::predict::EXAMPLES)]
    Predict(crate::predict::PredictArgs),
    /// Responses simulated from a fitted model (lme4's `simulate`), reproducible from a seed.
    #[command(after_help = crate::simulate::EXAMPLES)]
    Simulate(crate::simulate::SimulateArgs),
    /// Power by simulation and refitting over sample sizes (simr's powerSim / powerCurve).
    #[command(after_help = crate::power::EXAMPLES)]
    Power(crate::power::PowerArgs),
    /// Estimated marginal means and their contrasts (R's emmeans), Kenward–Roger by default.
    #[command(after_help = crate::emmeans::EXAMPLES)]
    Emmeans(crate::emmeans::EmmeansArgs),
}

/// Response distribution (`--family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Family {
    /// Normal errors: a linear mixed model (lme4's `lmer`).
    Gaussian,
    /// Binary or binomial counts (GLMM).
    Binomial,
    /// Counts (GLMM).
    Poisson,
    /// Positive continuous (GLMM).
    Gamma,
    /// Positive continuous (GLMM).
    #[value(name = "inverse_gaussian", alias = "inverse-gaussian")]
    InverseGaussian,
    /// Overdispersed counts, NB2 with θ estimated (GLMM, lme4's `glmer.nb`).
    #[value(name = "negative_binomial", alias = "negative-binomial")]
    NegativeBinomial,
    /// Ordered categories: a cumulative link mixed model (ordinal's `clmm`; `fit` only).
    Ordinal,
    /// Overdispersed counts, NB1 (variance μ(1 + φ)) with φ estimated (glmmTMB's `nbinom1`;
    /// `fit` only).
    #[value(name = "negative_binomial1", alias = "negative-binomial1")]
    NegativeBinomial1,
}

impl Family {
    /// The name as written on the command line and in R.
    pub fn name(self) -> &'static str {
        match self {
            Family::Gaussian => "gaussian",
            Family::Binomial => "binomial",
            Family::Poisson => "poisson",
            Family::Gamma => "gamma",
            Family::InverseGaussian => "inverse_gaussian",
            Family::NegativeBinomial => "negative_binomial",
            Family::Ordinal => "ordinal",
            Family::NegativeBinomial1 => "negative_binomial1",
        }
    }

    /// The library's family (`None` for the negative binomial, whose θ is estimated by its
    /// own search: `multilevel::glmer_nb`, and for ordinal models: `multilevel::clmm`).
    pub fn to_lib(self) -> Option<multilevel::Family> {
        Some(match self {
            Family::Gaussian => multilevel::Family::Gaussian,
            Family::Binomial => multilevel::Family::Binomial,
            Family::Poisson => multilevel::Family::Poisson,
            Family::Gamma => multilevel::Family::Gamma,
            Family::InverseGaussian => multilevel::Family::InverseGaussian,
            Family::NegativeBinomial | Family::Ordinal | Family::NegativeBinomial1 => {
                return None;
            }
        })
    }
}

/// Denominator degrees-of-freedom method for t and F tests (`--ddf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ddf {
    /// Satterthwaite's approximation (lmerTest's default).
    Satterthwaite,
    /// Kenward–Roger's approximation (pbkrtest).
    #[value(name = "kenward-roger", alias = "kr")]
    KenwardRoger,
    /// No df and no p-values (lme4's default).
    None,
}

impl Ddf {
    /// The library's method.
    pub fn to_lib(self) -> multilevel::Ddf {
        match self {
            Ddf::Satterthwaite => multilevel::Ddf::Satterthwaite,
            Ddf::KenwardRoger => multilevel::Ddf::KenwardRoger,
            Ddf::None => multilevel::Ddf::None,
        }
    }
}

/// Report format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// lme4-style summary.
    Text,
    /// Machine-readable JSON (schema in docs/json.md).
    Json,
    /// Markdown tables.
    #[value(alias = "md")]
    Markdown,
}

/// Where the data come from and how the model is fitted: the options `fit`, `anova`, `compare`
/// and `confint` share.
#[derive(Debug, Args)]
pub struct ModelData {
    /// Where the data come from.
    #[command(flatten)]
    pub source: DataSource,

    /// Fit by maximum likelihood instead of REML (`compare` refits REML fits by ML anyway).
    #[arg(long)]
    pub ml: bool,

    /// Column of prior weights.
    #[arg(long, value_name = "COL")]
    pub weights: Option<String>,

    /// Make LEVEL the reference (first) level of a factor, as R's `relevel(f, ref = LEVEL)`;
    /// repeat for several factors.
    #[arg(long, value_name = "COL=LEVEL", value_parser = crate::coding::parse_relevel)]
    pub relevel: Vec<(String, String)>,

    /// Coding of a factor in the fixed effects: treatment (the default), sum, helmert or poly
    /// (R's `contrasts = list(COL = "contr.sum")`); repeat for several factors.
    #[arg(long, value_name = "COL=CODING", value_parser = crate::coding::parse_contrasts)]
    pub contrasts: Vec<(String, multilevel::Contrasts)>,
}

impl ModelData {
    /// The data set these options name.
    pub fn load(&self) -> anyhow::Result<multilevel::DataFrame> {
        let mut data = self.source.load()?;
        for (col, level) in &self.relevel {
            data = data
                .relevel(col, level)
                .map_err(|e| anyhow::anyhow!("--relevel {col}={level}: {e}"))?;
        }
        // A coding for a column that is not a factor would be ignored: say so instead.
        for (col, _) in &self.contrasts {
            match data.column(col) {
                Some(multilevel::frame::Column::Factor(_)) => {}
                Some(_) => anyhow::bail!(
                    "--contrasts {col}=…: `{col}` is numeric, not a factor; hint: add --factor {col}"
                ),
                None => {
                    return Err(anyhow::anyhow!(
                        "--contrasts: {}",
                        data.unknown_column_error(col)
                    ));
                }
            }
        }
        Ok(data)
    }

    /// The library's fit options.
    pub fn fit_options(&self) -> multilevel::FitOptions {
        multilevel::FitOptions {
            reml: !self.ml,
            weights: self.weights.clone(),
            contrasts: self.contrasts.iter().cloned().collect(),
            ..multilevel::FitOptions::default()
        }
    }
}

/// A CSV file or an embedded data set, shared by every command that reads data.
#[derive(Debug, Args)]
pub struct DataSource {
    /// Data file: CSV or other delimited text with a header row (missing values: empty or NA),
    /// optionally gzip- or zstd-compressed, or Parquet, Arrow IPC/Feather, Stata .dta, SPSS .sav
    /// (the format is recognised from the content); `-` reads standard input.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "dataset",
        required_unless_present = "dataset"
    )]
    pub data: Option<PathBuf>,

    /// Embedded data set (see `multilevel datasets`).
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,

    /// Treat a (numeric) column as a factor; repeat for several columns.
    #[arg(long = "factor", value_name = "COL")]
    pub factors: Vec<String>,

    /// Field separator of a text data file: comma, tab, semicolon, pipe, or one ASCII
    /// character (default: detected from the first lines).
    #[arg(long, value_name = "SEP", value_parser = parse_delimiter, requires = "data")]
    pub delimiter: Option<u8>,
}

/// `--delimiter`: a name (`comma`, `tab`, `semicolon`, `pipe`, `space`), `\t`, or one ASCII
/// character other than a quote or a line break.
fn parse_delimiter(s: &str) -> Result<u8, String> {
    let d = match s.to_ascii_lowercase().as_str() {
        "comma" => b',',
        "tab" | "\\t" => b'\t',
        "semicolon" => b';',
        "pipe" => b'|',
        "space" => b' ',
        _ => match s.as_bytes() {
            [c] if c.is_ascii() && !matches!(c, b'"' | b'\n' | b'\r') => *c,
            _ => {
                return Err(format!(
                    "`{s}` is not a delimiter; use comma, tab, semicolon, pipe, space or one ASCII character"
                ));
            }
        },
    };
    Ok(d)
}

impl DataSource {
    /// The data set these options name.
    pub fn load(&self) -> anyhow::Result<multilevel::DataFrame> {
        crate::fit::load_data(
            self.data.as_deref(),
            self.dataset.as_deref(),
            &self.factors,
            self.delimiter,
        )
    }
}

/// Report format and destination, shared by the commands that print a report.
#[derive(Debug, Args)]
pub struct ReportOutput {
    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Arguments of `multilevel fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Model formula in lme4 syntax, e.g. "Reaction ~ Days + (Days | Subject)".
    #[arg(value_name = "FORMULA")]
    pub formula: String,

    /// Data source and fit options.
    #[command(flatten)]
    pub model: ModelData,

    /// Response family: gaussian (a linear mixed model, the default) or a GLMM family.
    #[arg(long, value_enum, default_value_t = Family::Gaussian, value_name = "FAMILY")]
    pub family: Family,

    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,

    /// Adaptive Gauss–Hermite quadrature points for GLMMs (lme4's nAGQ).
    #[arg(long, value_name = "N")]
    pub nagq: Option<u32>,

    /// Zero-inflation model, a one-sided formula such as "~ 1" or "~ x" (glmmTMB's
    /// ziformula; fixed effects only): with --family poisson, negative_binomial or
    /// negative_binomial1.
    #[arg(long, value_name = "FORMULA", allow_hyphen_values = true)]
    pub zi: Option<String>,

    /// Denominator df for the fixed-effect t-tests [default: satterthwaite for gaussian fits,
    /// as lmerTest; `none` gives lme4's table without df and p-values].
    #[arg(long, value_enum, value_name = "METHOD")]
    pub ddf: Option<Ddf>,

    /// Residual covariance within subjects (a GLS / MMRM fit; the formula has no random-effects
    /// terms): "ar1(time | subject)", "cs(time | subject)", "us(visit | subject)" (unstructured,
    /// the MMRM), "toep(visit | subject)" or "toeph(visit | subject)" (Toeplitz, heterogeneous).
    #[arg(long, value_name = "STRUCTURE")]
    pub residual: Option<String>,

    /// A residual variance per level of a factor: "ident(f)" (nlme's varIdent).
    #[arg(long, value_name = "FUNCTION")]
    pub residual_variance: Option<String>,

    /// Fix the residual standard deviation σ at VALUE (not estimated, counted as no
    /// parameter; MixedModels.jl's `σ =`). With --weights 1/v and --sigma 1 a random-effects
    /// term with one level per row is the meta-analytic model with known sampling variances v.
    #[arg(long, value_name = "VALUE")]
    pub sigma: Option<f64>,

    /// Also write the rows the fit used, with `.fitted`, `.resid` and `.fixed` (the
    /// population-level fit), to this CSV file; dropped rows are listed on stderr.
    #[arg(long, value_name = "FILE")]
    pub augment: Option<PathBuf>,

    /// Also write the parameters as a table (broom.mixed's `tidy()` columns) to this file: CSV,
    /// or JSON for a name ending in `.json`.
    #[arg(long, value_name = "FILE")]
    pub tidy: Option<PathBuf>,

    /// Which rows `--tidy` writes (broom.mixed's `effects`): fixed, ran_pars (the default
    /// pair) and ran_vals (conditional modes with their conditional standard deviations).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fixed,ran_pars",
        value_name = "EFFECTS",
        requires = "tidy"
    )]
    pub tidy_effects: Vec<crate::tidy::TidyEffect>,

    /// Also write the one-row model summary (broom.mixed's `glance()` columns) to this file:
    /// CSV, or JSON for a name ending in `.json`.
    #[arg(long, value_name = "FILE")]
    pub glance: Option<PathBuf>,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Arguments of `multilevel anova`.
#[derive(Debug, Args)]
pub struct AnovaArgs {
    /// Model formula in lme4 syntax, e.g. "angle ~ recipe * temperature + (1 | recipe:replicate)".
    #[arg(value_name = "FORMULA")]
    pub formula: String,

    /// Data source and fit options.
    #[command(flatten)]
    pub model: ModelData,

    /// Family, link and quadrature (a GLMM gets Wald chi-squared tests per term).
    #[command(flatten)]
    pub glmm: crate::glmm::GlmmChoice,

    /// Denominator df of the F tests.
    #[arg(long, value_enum, default_value_t = Ddf::Satterthwaite, value_name = "METHOD")]
    pub ddf: Ddf,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Arguments of `multilevel compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more model formulas fitted to the same data, e.g. "y ~ x + (1 | g)" "y ~ x + (x | g)".
    #[arg(value_name = "FORMULA", num_args = 2.., required = true)]
    pub formulas: Vec<String>,

    /// Data source and fit options.
    #[command(flatten)]
    pub model: ModelData,

    /// Family, link and quadrature of every model.
    #[command(flatten)]
    pub glmm: crate::glmm::GlmmChoice,

    /// Report format and destination.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// Arguments of `multilevel datasets`.
#[derive(Debug, Args)]
pub struct DatasetsArgs {
    /// Show only this data set (case-insensitive).
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    /// Print the data set's CSV text (requires NAME).
    #[arg(long, requires = "name")]
    pub csv: bool,
}
