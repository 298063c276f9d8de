//! `multilevel power`: power by simulation and refitting (simr's `powerSim`/`powerCurve`), and
//! the parameter flags it shares with de novo `multilevel simulate`.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use multilevel::{
    Along, BetaSpec, CoefTest, GroupSdCor, NewParams, PowerOptions, PowerResult, PowerTest,
};

use crate::args::Family;
use crate::fit::{cli_error, write_report};

/// `eprint!` without a panic when standard error is closed.
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}
/// Examples shown by `multilevel power --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel power --data schools.csv --beta \"(Intercept)=0,treat=0.3\" --sd school=0.387 --sigma 0.922 --test treat --nsim 1000 \"y ~ treat + (1 | school)\"
  multilevel power --data schools.csv --beta 0,0.3 --sd school=0.387 --sigma 0.922 --test treat --along school --sizes 20,30,40,60 --plot power.svg \"y ~ treat + (1 | school)\"
  multilevel power --data design.csv --family binomial --beta -1,0.5 --sd clinic=0.6 --test dose --method z \"y ~ dose + (1 | clinic)\"

The data are the design: predictors and grouping columns (the response column may be absent).
Responses are simulated from --beta, --sd/--cor (or --theta) and --sigma, the model is refitted
to each, and the test runs at --alpha: --test TERM (a fixed-effect column; t test with
Satterthwaite df by default, --method kenward-roger, lrt, or z — the GLMM default) or
--test-variance GROUP (likelihood-ratio test of that factor's random effects, ML fits, χ² not
halved: conservative). --along g --sizes 20,30,40 repeats g's groups as new groups (more groups);
--within g --sizes 10,20 repeats the rows of each group (larger groups). Power is the share of
rejections among the simulations whose fit succeeded (failures are counted), with an exact
binomial 95% interval. Results depend on --seed only, not on the number of threads.";

/// Model parameters of a de novo simulation (lme4's `newparams`).
#[derive(Debug, Args)]
pub struct ParamArgs {
    /// Fixed effects: one value per column of X in order (`0,0.3`) or by name
    /// (`(Intercept)=0,treat=0.3`); repeat or separate with commas.
    #[arg(long, value_name = "VALUES", allow_hyphen_values = true)]
    pub beta: Vec<String>,
    /// Standard deviations of a grouping factor's random effects, one per column in the term's
    /// order: `school=0.4` or `Subject=24.7,5.9`; repeat for several factors.
    #[arg(long, value_name = "GROUP=SD,...")]
    pub sd: Vec<String>,
    /// Correlations of a grouping factor's random effects, lower triangle row by row
    /// (`Subject=0.07`); default 0.
    #[arg(long, value_name = "GROUP=COR,...", allow_hyphen_values = true)]
    pub cor: Vec<String>,
    /// lme4's θ (relative to σ for a linear mixed model) instead of --sd/--cor.
    #[arg(long, value_name = "VALUES", value_delimiter = ',', conflicts_with_all = ["sd", "cor"])]
    pub theta: Vec<f64>,
    /// Residual standard deviation σ (linear mixed models).
    #[arg(long, value_name = "SIGMA")]
    pub sigma: Option<f64>,
}

/// Split at commas outside parentheses (names such as `poly(x, 2)1` keep their comma).
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn number(flag: &str, s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => bail!("{flag}: `{s}` is not a number; hint: write e.g. {flag} 0.3"),
    }
}

/// `GROUP=v1,v2` into the group and its numbers.
fn group_values(flag: &str, s: &str) -> Result<(String, Vec<f64>)> {
    let Some((g, v)) = s.split_once('=') else {
        bail!("{flag} {s}: expected GROUP=VALUES; hint: write e.g. {flag} school=0.4");
    };
    let values = v
        .split(',')
        .map(|x| number(flag, x))
        .collect::<Result<Vec<_>>>()?;
    Ok((g.trim().to_string(), values))
}

impl ParamArgs {
    /// Whether any parameter was given (de novo mode of `simulate`).
    pub fn given(&self) -> bool {
        !self.beta.is_empty()
    }

    /// The library's parameters; `glmm` ignores σ.
    pub fn to_lib(&self, glmm: bool) -> Result<NewParams> {
        if self.beta.is_empty() {
            bail!("--beta is needed: the fixed effects to simulate from; hint: e.g. --beta 0,0.3");
        }
        let items: Vec<String> = self.beta.iter().flat_map(|b| split_top(b)).collect();
        let named = items.iter().filter(|i| i.contains('=')).count();
        let beta = if named == 0 {
            BetaSpec::Values(
                items
                    .iter()
                    .map(|i| number("--beta", i))
                    .collect::<Result<_>>()?,
            )
        } else if named == items.len() {
            BetaSpec::Named(
                items
                    .iter()
                    .map(|i| {
                        let (n, v) = i.rsplit_once('=').unwrap_or((i, ""));
                        Ok((n.trim().to_string(), number("--beta", v)?))
                    })
                    .collect::<Result<_>>()?,
            )
        } else {
            bail!(
                "--beta mixes named and positional values; hint: name every column (treat=0.3) or give them all in order"
            );
        };
        let covariance = if !self.theta.is_empty() {
            multilevel::power::VarianceSpec::Theta(self.theta.clone())
        } else {
            if self.sd.is_empty() {
                bail!(
                    "the random effects' standard deviations are needed; hint: add --sd GROUP=SD (or --theta)"
                );
            }
            let mut groups: Vec<GroupSdCor> = Vec::new();
            for s in &self.sd {
                let (group, sd) = group_values("--sd", s)?;
                groups.push(GroupSdCor {
                    group,
                    sd,
                    cor: Vec::new(),
                });
            }
            for c in &self.cor {
                let (group, cor) = group_values("--cor", c)?;
                let Some(g) = groups.iter_mut().find(|g| g.group == group) else {
                    bail!("--cor {c}: no --sd was given for `{group}`; hint: add --sd {group}=...");
                };
                g.cor = cor;
            }
            multilevel::power::VarianceSpec::SdCor(groups)
        };
        let sigma = match (self.sigma, glmm) {
            (_, true) => 1.0,
            (Some(s), false) => s,
            (None, false) => {
                bail!("--sigma is needed for a linear mixed model; hint: e.g. --sigma 1")
            }
        };
        Ok(NewParams {
            beta,
            covariance,
            sigma,
        })
    }
}

/// The family for a de novo simulation (`None`: a linear mixed model).
pub fn family_of(family: Family, link: Option<&str>) -> Result<Option<multilevel::FamilySpec>> {
    match family {
        Family::Gaussian => {
            if link.is_some_and(|l| !l.eq_ignore_ascii_case("identity")) {
                bail!(
                    "simulating a gaussian GLMM with a non-identity link is not available; hint: drop --link"
                );
            }
            Ok(None)
        }
        Family::Binomial | Family::Poisson => Ok(Some(crate::fit::family_spec(family, link)?)),
        other => bail!(
            "simulating a {} GLMM is not available; hint: use --family gaussian, binomial or poisson",
            other.name()
        ),
    }
}

/// The test of a coefficient (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// t test with Satterthwaite's df (the default for linear mixed models).
    Satterthwaite,
    /// t test with Kenward–Roger's adjusted SE and df (REML).
    #[value(name = "kenward-roger", alias = "kr")]
    KenwardRoger,
    /// Wald z test (the default for GLMMs).
    Z,
    /// Likelihood-ratio test against the model without the column (ML fits).
    Lrt,
}

/// Output format of `power` (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PowerFormat {
    /// A table.
    Text,
    /// JSON (schema in docs/json.md).
    Json,
    /// Comma-separated values, one row per size.
    Csv,
}

/// Largest `--nsim`.
const MAX_NSIM: usize = 100_000;

/// Arguments of `multilevel power`.
#[derive(Debug, Args)]
pub struct PowerArgs {
    /// Model formula in lme4 syntax (the response column may be absent from the design).
    #[arg(value_name = "FORMULA")]
    pub formula: String,
    /// The design (data source) and fit options.
    #[command(flatten)]
    pub model: crate::args::ModelData,
    /// Response family: gaussian (a linear mixed model, the default), binomial or poisson.
    #[arg(long, value_enum, default_value_t = Family::Gaussian, value_name = "FAMILY")]
    pub family: Family,
    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// The parameters to simulate from.
    #[command(flatten)]
    pub params: ParamArgs,
    /// Test this fixed-effect column (H₀: its coefficient is 0).
    #[arg(long, value_name = "TERM", required_unless_present = "test_variance")]
    pub test: Option<String>,
    /// Test the variance of this grouping factor's random effects by likelihood ratio.
    #[arg(long, value_name = "GROUP", conflicts_with_all = ["test", "method"])]
    pub test_variance: Option<String>,
    /// How --test is tested [default: satterthwaite for gaussian, z for GLMMs].
    #[arg(long, value_enum, value_name = "METHOD")]
    pub method: Option<MethodArg>,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Simulations per sample size (at most 100000).
    #[arg(long, default_value_t = 1000)]
    pub nsim: usize,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Grow the number of levels of this grouping column (its groups repeated as new ones).
    #[arg(
        long,
        value_name = "GROUP",
        requires = "sizes",
        conflicts_with = "within"
    )]
    pub along: Option<String>,
    /// Grow the number of rows in every level of this grouping column.
    #[arg(long, value_name = "GROUP", requires = "sizes")]
    pub within: Option<String>,
    /// Sample sizes for --along/--within (comma-separated).
    #[arg(long, value_name = "N,...", value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Draw the power curve to this file (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PowerFormat::Text, value_name = "FORMAT")]
    pub format: PowerFormat,
    /// Write the table to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
}

/// Runs `multilevel power`.
pub fn run(a: &PowerArgs) -> Result<()> {
    if a.nsim == 0 || a.nsim > MAX_NSIM {
        bail!(
            "--nsim {}: between 1 and {MAX_NSIM} simulations; hint: 1000 gives the power to ±3 points",
            a.nsim
        );
    }
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!(
            "--alpha {}: must lie in (0, 1); hint: e.g. --alpha 0.05",
            a.alpha
        );
    }
    if !a.sizes.is_empty() && a.along.is_none() && a.within.is_none() {
        bail!("--sizes needs --along GROUP or --within GROUP; hint: e.g. --along school");
    }
    if let Some(z) = a.sizes.iter().find(|&&s| s == 0) {
        bail!("--sizes: {z} is not a sample size; hint: sizes are positive");
    }
    let family = family_of(a.family, a.link.as_deref())?;
    let glmm = family.is_some();
    let params = a.params.to_lib(glmm)?;
    let test = match (&a.test, &a.test_variance) {
        (_, Some(g)) => PowerTest::Variance { group: g.clone() },
        (Some(t), None) => PowerTest::Coefficient {
            term: t.clone(),
            method: match (a.method, glmm) {
                (Some(MethodArg::Satterthwaite), _) | (None, false) => CoefTest::Satterthwaite,
                (Some(MethodArg::KenwardRoger), _) => CoefTest::KenwardRoger,
                (Some(MethodArg::Z), _) | (None, true) => CoefTest::Z,
                (Some(MethodArg::Lrt), _) => CoefTest::Lrt,
            },
        },
        (None, None) => bail!("--test TERM or --test-variance GROUP is needed"),
    };
    if glmm
        && matches!(
            a.method,
            Some(MethodArg::Satterthwaite | MethodArg::KenwardRoger)
        )
    {
        bail!(
            "--method satterthwaite/kenward-roger are t tests of linear mixed models; hint: use --method z or lrt with --family {}",
            a.family.name()
        );
    }
    if matches!(a.method, Some(MethodArg::KenwardRoger)) && a.model.ml {
        bail!("Kenward–Roger df need REML fits, but --ml was given; hint: drop --ml");
    }
    let along = match (&a.along, &a.within) {
        (Some(g), _) => Some(Along::Groups(g.clone())),
        (None, Some(g)) => Some(Along::Within(g.clone())),
        _ => None,
    };
    let opts = PowerOptions {
        test,
        alpha: a.alpha,
        nsim: a.nsim,
        seed: a.seed,
        along,
        sizes: a.sizes.clone(),
        level: 0.95,
    };
    let data = a.model.load()?;
    let fit_opts = a.model.fit_options();
    let show = std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if done == total || done.is_multiple_of((total / 100).max(1)) {
            eprint!("\rpower: {done}/{total} simulations");
            if done == total {
                eprint!("\r{:40}\r", "");
            }
        }
    };
    let result = multilevel::power(
        &a.formula,
        &data,
        family,
        &params,
        &fit_opts,
        &opts,
        if show { Some(&progress) } else { None },
    )
    .map_err(cli_error)?;
    for r in &result.rows {
        if let Some(msg) = &r.first_failure {
            eprintln!(
                "warning: {} of {} fits failed{}; the first: {msg}",
                r.failures,
                r.nsim,
                r.size.map(|s| format!(" at size {s}")).unwrap_or_default()
            );
        }
    }
    if let Some(path) = &a.plot {
        let fig = curve(&result);
        multilevel::plot::save(&fig, path, None)
            .map_err(|e| anyhow::anyhow!("--plot {}: {e}", path.display()))?;
    }
    write_report(&render(&result, a.format), a.output.as_deref())
}

fn curve(r: &PowerResult) -> multilevel::plot::PowerCurveData {
    let sizes: Vec<f64> = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| row.size.map_or(i as f64 + 1.0, |s| s as f64))
        .collect();
    multilevel::plot::PowerCurveData {
        title: format!("Power: {}", r.test),
        x_label: r.along.clone().unwrap_or_else(|| "design".into()),
        sizes,
        power: r.rows.iter().map(|x| x.power).collect(),
        lower: r.rows.iter().map(|x| x.lower).collect(),
        upper: r.rows.iter().map(|x| x.upper).collect(),
        target: Some(0.8),
    }
}

fn groups_text(g: &[(String, usize)]) -> String {
    g.iter()
        .map(|(n, l)| format!("{n}: {l}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn render(r: &PowerResult, format: PowerFormat) -> String {
    let mut out = String::new();
    match format {
        PowerFormat::Json => {
            let rows: Vec<serde_json::Value> = r
                .rows
                .iter()
                .map(|x| {
                    serde_json::json!({
                        "size": x.size,
                        "nobs": x.nobs,
                        "groups": x.groups.iter().map(|(g, n)| serde_json::json!({"group": g, "levels": n})).collect::<Vec<_>>(),
                        "nsim": x.nsim,
                        "rejections": x.rejections,
                        "failures": x.failures,
                        "power": x.power,
                        "lower": x.lower,
                        "upper": x.upper,
                    })
                })
                .collect();
            let v = serde_json::json!({
                "kind": "power",
                "test": r.test,
                "alpha": r.alpha,
                "level": r.level,
                "nsim": r.nsim,
                "seed": r.seed,
                "along": r.along,
                "rows": rows,
            });
            out = serde_json::to_string_pretty(&v).unwrap_or_default();
            out.push('\n');
        }
        PowerFormat::Csv => {
            out.push_str("size,nobs,groups,nsim,rejections,failures,power,lower,upper\n");
            for x in &r.rows {
                let _ = writeln!(
                    out,
                    "{},{},\"{}\",{},{},{},{},{},{}",
                    x.size.map(|s| s.to_string()).unwrap_or_default(),
                    x.nobs,
                    groups_text(&x.groups),
                    x.nsim,
                    x.rejections,
                    x.failures,
                    x.power,
                    x.lower,
                    x.upper
                );
            }
        }
        PowerFormat::Text => {
            let _ = writeln!(out, "Power by simulation: {}", r.test);
            let _ = writeln!(
                out,
                "alpha = {}, {} simulations per size, seed {}{}",
                r.alpha,
                r.nsim,
                r.seed,
                r.along
                    .as_ref()
                    .map(|a| format!("; size = {a}"))
                    .unwrap_or_default()
            );
            out.push('\n');
            let ci = format!("{:.0}% CI", r.level * 100.0);
            let _ = writeln!(
                out,
                "{:>6}  {:>7}  {:<24}  {:>6}  {:<17}  {:>8}",
                "size", "nobs", "groups", "power", ci, "failures"
            );
            for x in &r.rows {
                let _ = writeln!(
                    out,
                    "{:>6}  {:>7}  {:<24}  {:>6.3}  {:<17}  {:>8}",
                    x.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    x.nobs,
                    groups_text(&x.groups),
                    x.power,
                    format!("({:.3}, {:.3})", x.lower, x.upper),
                    x.failures
                );
            }
        }
    }
    out
}
