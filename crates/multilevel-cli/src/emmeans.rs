//! `multilevel emmeans`: estimated marginal means and their contrasts (R's emmeans).

use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use multilevel::numeric::fmt::format_vec;
use multilevel::numeric::table::{Align, pad};
use multilevel::{Adjust, EmmContrast, EmmWeights, EmmeansOptions, EmmeansResult, PredictScale};

use crate::args::{Ddf, Family};
use crate::fit::{check_response, cli_error, write_report};
use crate::predict::PredictType;

/// Examples shown by `multilevel emmeans --help`.
pub const EXAMPLES: &str = "\
Examples:
  multilevel emmeans --data oats.csv --factor Block --specs Variety --pairwise \"yield ~ Variety + nitro + (1 | Block/Variety)\"
  multilevel emmeans --data oats.csv --factor nitro --specs Variety --by nitro --pairwise --adjust holm \"yield ~ Variety * nitro + (1 | Block/Variety)\"
  multilevel emmeans --dataset cbpp --factor period --family binomial --specs period --type response --pairwise \"cbind(incidence, size - incidence) ~ period + (1 | herd)\"

Means over a reference grid: every factor of the fixed terms at all its levels, numeric columns
at their means (or --at values); the means of the --specs factors average over the other
factors with equal weights (--emm-weights proportional: by their frequencies). Linear mixed
models use Kenward–Roger standard errors and df by default, as emmeans (--ddf satterthwaite;
none gives asymptotic z intervals); GLMMs are asymptotic, on the link scale unless
--type response. --pairwise tests all differences (Tukey-adjusted by default), --trt-vs-ctrl
each level against the first (Holm by default; emmeans' dunnettx is not available), within each
--by group.";

/// Averaging weights (`--emm-weights`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WeightsArg {
    /// Every combination of the averaged-over factors counts the same.
    Equal,
    /// Combinations count by their frequency in the data.
    Proportional,
}

/// p-value adjustment (`--adjust`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdjustArg {
    /// Tukey's studentized range (pairwise only).
    Tukey,
    /// Holm's step-down Bonferroni.
    Holm,
    /// Bonferroni.
    Bonferroni,
    /// No adjustment.
    None,
}

/// Output format of `emmeans` (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmmFormat {
    /// emmeans' printed tables.
    Text,
    /// JSON (schema in docs/json.md).
    Json,
    /// Comma-separated values: the means, then (after a blank line) the contrasts.
    Csv,
    /// Markdown tables.
    #[value(alias = "md")]
    Markdown,
}

/// Arguments of `multilevel emmeans`.
#[derive(Debug, Args)]
pub struct EmmeansArgs {
    /// Model formula in lme4 syntax.
    #[arg(value_name = "FORMULA")]
    pub formula: String,
    /// Data source and fit options.
    #[command(flatten)]
    pub model: crate::args::ModelData,
    /// Response family: gaussian (a linear mixed model, the default) or a GLMM family.
    #[arg(long, value_enum, default_value_t = Family::Gaussian, value_name = "FAMILY")]
    pub family: Family,
    /// Link function (default: the family's canonical link).
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,
    /// Adaptive Gauss–Hermite quadrature points for GLMMs (lme4's nAGQ).
    #[arg(long, value_name = "N")]
    pub nagq: Option<u32>,
    /// Factor(s) whose means are wanted (repeat or separate by commas).
    #[arg(long, value_name = "FACTOR", required = true, value_delimiter = ',')]
    pub specs: Vec<String>,
    /// Factor(s) whose levels split the means into groups; contrasts stay within a group.
    #[arg(long, value_name = "FACTOR", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Hold a numeric column at these values instead of its mean, e.g. `x=1.5` or `x=0,1,2`
    /// (repeat for several columns).
    #[arg(long, value_name = "COL=VALUES")]
    pub at: Vec<String>,
    /// Weights of the averaged-over factor combinations.
    #[arg(long, value_enum, default_value_t = WeightsArg::Equal, value_name = "WEIGHTS")]
    pub emm_weights: WeightsArg,
    /// Standard errors and df for linear mixed models (none: asymptotic).
    #[arg(long, value_enum, default_value_t = Ddf::KenwardRoger, value_name = "METHOD")]
    pub ddf: Ddf,
    /// Scale of GLMM means.
    #[arg(long = "type", value_enum, default_value_t = PredictType::Link, value_name = "TYPE")]
    pub kind: PredictType,
    /// Confidence level of the limits.
    #[arg(long, default_value_t = 0.95, value_name = "LEVEL")]
    pub level: f64,
    /// Test all pairwise differences of the means.
    #[arg(long, conflicts_with = "trt_vs_ctrl")]
    pub pairwise: bool,
    /// Test each mean against the first level (the control).
    #[arg(long)]
    pub trt_vs_ctrl: bool,
    /// p-value adjustment of the contrasts [default: tukey for --pairwise, holm for
    /// --trt-vs-ctrl, none for --contrast].
    #[arg(long, value_enum, value_name = "METHOD")]
    pub adjust: Option<AdjustArg>,
    /// A custom contrast of the means, e.g. "Marvellous - Victory" or
    /// "0.5*Marvellous + 0.5*Victory - Golden Rain" (operators with spaces around them; level
    /// labels as printed); repeat for several, tested as one family.
    #[arg(long, value_name = "EXPR", conflicts_with_all = ["pairwise", "trt_vs_ctrl"], allow_hyphen_values = true)]
    pub contrast: Vec<String>,
    /// Custom contrasts from a CSV file: a header `contrast,<level>,<level>,...` and one row per
    /// contrast (its name, then the weight of each mean; levels not in the header get 0).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pairwise", "trt_vs_ctrl"])]
    pub contrast_file: Option<std::path::PathBuf>,
    /// Print the contrasts' confidence limits (adjusted as emmeans' confint(): Tukey,
    /// Bonferroni for holm/bonferroni); JSON and CSV always have them.
    #[arg(long)]
    pub contrast_ci: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EmmFormat::Text, value_name = "FORMAT")]
    pub format: EmmFormat,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
}

/// `--at x=1,2`.
fn parse_at(s: &str) -> Result<(String, Vec<f64>)> {
    let Some((name, values)) = s.split_once('=') else {
        bail!("--at {s}: expected COLUMN=VALUES; hint: e.g. --at nitro=0.3 or --at nitro=0,0.6");
    };
    let vals = values
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<Vec<f64>, _>>();
    match vals {
        Ok(v) if !v.is_empty() && v.iter().all(|x| x.is_finite()) => {
            Ok((name.trim().to_string(), v))
        }
        _ => bail!(
            "--at {s}: `{values}` is not a list of numbers; hint: e.g. --at {}=0,0.5",
            name.trim()
        ),
    }
}

/// `--contrast "0.5*A + 0.5*B - C"`: terms separated by ` + ` / ` - ` (spaces around the
/// operator, so labels may contain hyphens), each `[WEIGHT*]LEVEL`; the label is the text.
pub fn parse_contrast(expr: &str) -> Result<multilevel::CustomContrast> {
    let text = expr.trim();
    if text.is_empty() {
        bail!("--contrast: empty expression; hint: e.g. --contrast \"A - B\"");
    }
    let mut weights = Vec::new();
    let (mut sign, mut rest) = match text.strip_prefix('-') {
        Some(r) => (-1.0, r.trim_start()),
        None => (1.0, text.strip_prefix('+').unwrap_or(text).trim_start()),
    };
    loop {
        let next = [" + ", " - "]
            .iter()
            .filter_map(|op| rest.find(op).map(|i| (i, *op)))
            .min();
        let (term, after) = match next {
            Some((i, op)) => (&rest[..i], Some((op, &rest[i + 3..]))),
            None => (rest, None),
        };
        let term = term.trim();
        let (w, label) = match term.split_once('*') {
            Some((c, l)) => match c.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => (v, l.trim()),
                _ => bail!(
                    "--contrast {expr}: `{}` is not a weight; hint: write WEIGHT*LEVEL, e.g. 0.5*A",
                    c.trim()
                ),
            },
            None => (1.0, term),
        };
        if label.is_empty() {
            bail!("--contrast {expr}: a term has no level; hint: e.g. --contrast \"A - B\"");
        }
        weights.push((label.to_string(), sign * w));
        match after {
            Some((op, r)) => {
                sign = if op == " - " { -1.0 } else { 1.0 };
                rest = r.trim_start();
            }
            None => break,
        }
    }
    Ok(multilevel::CustomContrast {
        name: text.to_string(),
        weights,
    })
}

/// `--contrast-file`: header `contrast,<level>,...`, one contrast per row.
fn read_contrast_file(path: &std::path::Path) -> Result<Vec<multilevel::CustomContrast>> {
    let shown = path.display();
    let data = multilevel::read_csv(path, &[])
        .map_err(|e| anyhow::anyhow!("--contrast-file {shown}: {e}"))?;
    let names = data.column_names();
    let Some((first, levels)) = names.split_first() else {
        bail!("--contrast-file {shown}: no columns; hint: a header such as contrast,A,B,C");
    };
    if levels.is_empty() {
        bail!(
            "--contrast-file {shown}: the header needs a name column and one column per level; hint: e.g. contrast,A,B,C"
        );
    }
    let label = |i: usize| -> String {
        match data.column(first) {
            Some(multilevel::frame::Column::Factor(f)) => {
                f.label(i).unwrap_or_default().to_string()
            }
            Some(multilevel::frame::Column::Numeric(v)) => v
                .get(i)
                .copied()
                .flatten()
                .map(multilevel::frame::format_r_number)
                .unwrap_or_default(),
            None => String::new(),
        }
    };
    let mut out = Vec::with_capacity(data.nrows());
    for i in 0..data.nrows() {
        let mut weights = Vec::with_capacity(levels.len());
        for level in levels {
            let w = match data.column(level) {
                Some(multilevel::frame::Column::Numeric(v)) => v.get(i).copied().flatten(),
                _ => None,
            };
            let Some(w) = w else {
                bail!(
                    "--contrast-file {shown}, row {}, column `{level}`: not a number; hint: every weight is a number (0 for a level left out)",
                    i + 1
                );
            };
            weights.push((level.to_string(), w));
        }
        out.push(multilevel::CustomContrast {
            name: label(i),
            weights,
        });
    }
    if out.is_empty() {
        bail!("--contrast-file {shown}: no contrasts; hint: one row per contrast after the header");
    }
    Ok(out)
}

/// Runs `multilevel emmeans`.
pub fn run(a: &EmmeansArgs) -> Result<()> {
    let glmm = a.family != Family::Gaussian
        || a.link
            .as_ref()
            .is_some_and(|l| !l.eq_ignore_ascii_case("identity"));
    if a.nagq.is_some() && !glmm {
        bail!("--nagq applies only to GLMMs; hint: add --family, or omit --nagq");
    }
    let mut custom: Vec<multilevel::CustomContrast> = a
        .contrast
        .iter()
        .map(|c| parse_contrast(c))
        .collect::<Result<_>>()?;
    if let Some(path) = &a.contrast_file {
        custom.extend(read_contrast_file(path)?);
    }
    if a.adjust.is_some() && !a.pairwise && !a.trt_vs_ctrl && custom.is_empty() {
        bail!("--adjust applies to contrasts; hint: add --pairwise, --trt-vs-ctrl or --contrast");
    }
    if a.contrast_ci && !a.pairwise && !a.trt_vs_ctrl && custom.is_empty() {
        bail!(
            "--contrast-ci applies to contrasts; hint: add --pairwise, --trt-vs-ctrl or --contrast"
        );
    }
    if !glmm && a.ddf == Ddf::KenwardRoger && a.model.ml {
        bail!(
            "Kenward–Roger standard errors and df need a REML fit, but --ml was given; hint: drop --ml or use --ddf satterthwaite"
        );
    }
    let opts = EmmeansOptions {
        specs: a.specs.clone(),
        by: a.by.clone(),
        at: a.at.iter().map(|s| parse_at(s)).collect::<Result<_>>()?,
        weights: match a.emm_weights {
            WeightsArg::Equal => EmmWeights::Equal,
            WeightsArg::Proportional => EmmWeights::Proportional,
        },
        df_method: a.ddf.to_lib(),
        level: a.level,
        scale: match a.kind {
            PredictType::Link => PredictScale::Link,
            PredictType::Response => PredictScale::Response,
        },
        contrast: if a.pairwise {
            Some(EmmContrast::Pairwise)
        } else if a.trt_vs_ctrl {
            Some(EmmContrast::TrtVsCtrl)
        } else {
            None
        },
        adjust: a.adjust.map(|x| match x {
            AdjustArg::Tukey => Adjust::Tukey,
            AdjustArg::Holm => Adjust::Holm,
            AdjustArg::Bonferroni => Adjust::Bonferroni,
            AdjustArg::None => Adjust::None,
        }),
        custom,
    };
    let data = a.model.load()?;
    let fit_opts = a.model.fit_options();
    let result = if glmm {
        let family = crate::fit::family_spec(a.family, a.link.as_deref())?;
        let glmer_opts = multilevel::GlmerOptions {
            fit: fit_opts,
            quadrature: multilevel::Quadrature::from_n_agq(a.nagq.unwrap_or(1) as usize),
        };
        let m = multilevel::glmer(&a.formula, &data, family, &glmer_opts).map_err(cli_error)?;
        m.emmeans(&opts).map_err(cli_error)?
    } else {
        if a.kind == PredictType::Response {
            eprintln!(
                "note: a linear mixed model's identity link makes --type response equal to --type link"
            );
        }
        check_response(&a.formula, &data)?;
        let mut m = multilevel::lmer(&a.formula, &data, &fit_opts).map_err(cli_error)?;
        m.emmeans(&opts).map_err(cli_error)?
    };
    let text = match a.format {
        EmmFormat::Text if a.contrast_ci => render_text_ci(&result),
        EmmFormat::Text => render_text(&result),
        EmmFormat::Json => render_json(&result, &a.formula),
        EmmFormat::Csv => render_delimited(&result, false),
        EmmFormat::Markdown => render_delimited(&result, true),
    };
    write_report(&text, a.output.as_deref())
}

/// A number column as emmeans prints it (R's `format` with 3 significant digits shared by the
/// column, at least `digits` for estimates).
fn column(xs: &[f64], digits: usize) -> Vec<String> {
    format_vec(xs, digits, 0)
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect()
}

/// Text: emmeans' `print()` of the means and the contrasts, one block per `by` group.
pub fn render_text(r: &EmmeansResult) -> String {
    let mut out = String::new();
    let ns = r.specs.len();
    let asymptotic = r.means.iter().all(|m| m.df.is_infinite());
    let (lo_name, hi_name) = if asymptotic {
        ("asymp.LCL", "asymp.UCL")
    } else {
        ("lower.CL", "upper.CL")
    };
    let groups = group_keys(r.means.iter().map(|m| m.levels[ns..].to_vec()));
    for key in &groups {
        let rows: Vec<&multilevel::EmmRow> = r
            .means
            .iter()
            .filter(|m| &m.levels[ns..] == key.as_slice())
            .collect();
        if !key.is_empty() {
            let _ = writeln!(out, "{}:", by_label(&r.by, key));
        }
        let mut header: Vec<String> = r.specs.clone();
        header.extend(
            [r.estimate_name.as_str(), "SE", "df", lo_name, hi_name]
                .iter()
                .map(|s| s.to_string()),
        );
        let est = column(&rows.iter().map(|m| m.estimate).collect::<Vec<_>>(), 4);
        let se = column(&rows.iter().map(|m| m.std_error).collect::<Vec<_>>(), 3);
        let df = column(&rows.iter().map(|m| m.df).collect::<Vec<_>>(), 3);
        let lo = column(&rows.iter().map(|m| m.lower).collect::<Vec<_>>(), 4);
        let hi = column(&rows.iter().map(|m| m.upper).collect::<Vec<_>>(), 4);
        let cells: Vec<Vec<String>> = rows
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut c: Vec<String> = m.levels[..ns].to_vec();
                c.extend([
                    est[i].clone(),
                    se[i].clone(),
                    df[i].clone(),
                    lo[i].clone(),
                    hi[i].clone(),
                ]);
                c
            })
            .collect();
        for line in table(&header, &cells, ns) {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    if !r.averaged_over.is_empty() {
        let _ = writeln!(
            out,
            "Results are averaged over the levels of: {}",
            r.averaged_over.join(", ")
        );
    }
    for (name, values) in &r.covariates {
        if values.len() == 1 {
            let _ = writeln!(out, "Covariate {name} held at {}", values[0]);
        }
    }
    let _ = writeln!(out, "Degrees-of-freedom method: {}", r.df_method);
    let _ = writeln!(out, "Confidence level used: {}", r.level);
    if r.estimate_name != "emmean" {
        let _ = writeln!(out, "Intervals are back-transformed from the link scale");
    }
    if r.contrasts.is_empty() {
        return out;
    }
    out.push('\n');
    let stat_name = if asymptotic { "z.ratio" } else { "t.ratio" };
    let cgroups = group_keys(r.contrasts.iter().map(|c| c.by.clone()));
    for key in &cgroups {
        let rows: Vec<&multilevel::ContrastRow> =
            r.contrasts.iter().filter(|c| &c.by == key).collect();
        if !key.is_empty() {
            let _ = writeln!(out, "{}:", by_label(&r.by, key));
        }
        let header: Vec<String> = [
            "contrast",
            r.contrast_estimate_name.as_str(),
            "SE",
            "df",
            stat_name,
            "p.value",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let est = column(&rows.iter().map(|c| c.estimate).collect::<Vec<_>>(), 4);
        let se = column(&rows.iter().map(|c| c.std_error).collect::<Vec<_>>(), 3);
        let df = column(&rows.iter().map(|c| c.df).collect::<Vec<_>>(), 4);
        let t = column(&rows.iter().map(|c| c.statistic).collect::<Vec<_>>(), 4);
        let p: Vec<String> = rows
            .iter()
            .map(|c| {
                if c.p_value < 1e-4 {
                    "<.0001".to_string()
                } else {
                    format!("{:.4}", c.p_value)
                }
            })
            .collect();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    c.contrast.clone(),
                    est[i].clone(),
                    se[i].clone(),
                    df[i].clone(),
                    t[i].clone(),
                    p[i].clone(),
                ]
            })
            .collect();
        for line in table(&header, &cells, 1) {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Degrees-of-freedom method: {}", r.df_method);
    for n in &r.notes {
        let _ = writeln!(out, "{n}");
    }
    out
}

/// Text with the contrasts' confidence limits (emmeans' `confint()` of the contrasts).
pub fn render_text_ci(r: &EmmeansResult) -> String {
    let base = render_text(&EmmeansResult {
        contrasts: Vec::new(),
        ..r.clone()
    });
    let mut out = base;
    out.push('\n');
    let asymptotic = r.contrasts.iter().all(|c| c.df.is_infinite());
    let (lo_name, hi_name) = if asymptotic {
        ("asymp.LCL", "asymp.UCL")
    } else {
        ("lower.CL", "upper.CL")
    };
    let cgroups = group_keys(r.contrasts.iter().map(|c| c.by.clone()));
    for key in &cgroups {
        let rows: Vec<&multilevel::ContrastRow> =
            r.contrasts.iter().filter(|c| &c.by == key).collect();
        if !key.is_empty() {
            let _ = writeln!(out, "{}:", by_label(&r.by, key));
        }
        let header: Vec<String> = [
            "contrast",
            r.contrast_estimate_name.as_str(),
            "SE",
            "df",
            lo_name,
            hi_name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let est = column(&rows.iter().map(|c| c.estimate).collect::<Vec<_>>(), 4);
        let se = column(&rows.iter().map(|c| c.std_error).collect::<Vec<_>>(), 3);
        let df = column(&rows.iter().map(|c| c.df).collect::<Vec<_>>(), 4);
        let lo = column(&rows.iter().map(|c| c.lower).collect::<Vec<_>>(), 4);
        let hi = column(&rows.iter().map(|c| c.upper).collect::<Vec<_>>(), 4);
        let cells: Vec<Vec<String>> = rows
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    c.contrast.clone(),
                    est[i].clone(),
                    se[i].clone(),
                    df[i].clone(),
                    lo[i].clone(),
                    hi[i].clone(),
                ]
            })
            .collect();
        for line in table(&header, &cells, 1) {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Degrees-of-freedom method: {}", r.df_method);
    let _ = writeln!(out, "Confidence level used: {}", r.level);
    if let Some(n) = &r.contrast_ci_note {
        let _ = writeln!(out, "{n}");
    }
    out
}

/// Left-aligned label columns, right-aligned numbers.
fn table(header: &[String], cells: &[Vec<String>], n_left: usize) -> Vec<String> {
    let widths: Vec<usize> = (0..header.len())
        .map(|j| {
            cells
                .iter()
                .filter_map(|r| r.get(j))
                .chain(std::iter::once(&header[j]))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String]| {
        let mut s = String::new();
        for (j, (c, w)) in row.iter().zip(&widths).enumerate() {
            s.push(' ');
            let align = if j < n_left {
                Align::Left
            } else {
                Align::Right
            };
            s.push_str(&pad(c, *w, align));
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header)];
    out.extend(cells.iter().map(|r| line(r)));
    out
}

fn group_keys(keys: impl Iterator<Item = Vec<String>>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for k in keys {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

fn by_label(by: &[String], key: &[String]) -> String {
    by.iter()
        .zip(key)
        .map(|(b, k)| format!("{b} = {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn num(x: f64) -> serde_json::Value {
    if x.is_finite() {
        x.into()
    } else {
        serde_json::Value::Null
    }
}

/// JSON: `emmeans` [{<factor>: level, …, emmean, std_error, df, lower, upper}] and
/// `contrasts` [{contrast, <by>: level, estimate, std_error, df, statistic, p_value}]; an
/// infinite df is `null`.
pub fn render_json(r: &EmmeansResult, formula: &str) -> String {
    let vars: Vec<&String> = r.specs.iter().chain(&r.by).collect();
    let means: Vec<serde_json::Value> = r
        .means
        .iter()
        .map(|m| {
            let mut o = serde_json::Map::new();
            for (v, l) in vars.iter().zip(&m.levels) {
                o.insert((*v).clone(), l.clone().into());
            }
            o.insert(r.estimate_name.clone(), num(m.estimate));
            o.insert("std_error".into(), num(m.std_error));
            o.insert("df".into(), num(m.df));
            o.insert("lower".into(), num(m.lower));
            o.insert("upper".into(), num(m.upper));
            serde_json::Value::Object(o)
        })
        .collect();
    let contrasts: Vec<serde_json::Value> = r
        .contrasts
        .iter()
        .map(|c| {
            let mut o = serde_json::Map::new();
            o.insert("contrast".into(), c.contrast.clone().into());
            for (v, l) in r.by.iter().zip(&c.by) {
                o.insert(v.clone(), l.clone().into());
            }
            o.insert(r.contrast_estimate_name.clone(), num(c.estimate));
            o.insert("std_error".into(), num(c.std_error));
            o.insert("df".into(), num(c.df));
            o.insert("statistic".into(), num(c.statistic));
            o.insert("p_value".into(), num(c.p_value));
            o.insert("lower".into(), num(c.lower));
            o.insert("upper".into(), num(c.upper));
            serde_json::Value::Object(o)
        })
        .collect();
    let v = serde_json::json!({
        "kind": "emmeans",
        "formula": formula,
        "specs": r.specs,
        "by": r.by,
        "covariates": r.covariates.iter().map(|(n, v)| serde_json::json!({"name": n, "values": v})).collect::<Vec<_>>(),
        "averaged_over": r.averaged_over,
        "df_method": r.df_method,
        "level": r.level,
        "estimate_name": r.estimate_name,
        "emmeans": means,
        "contrast_estimate_name": r.contrast_estimate_name,
        "adjust": r.adjust.map(Adjust::name),
        "contrasts": contrasts,
        "notes": r.notes,
        "contrast_ci_note": r.contrast_ci_note,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn full(x: f64) -> String {
    if x.is_finite() {
        x.to_string()
    } else if x.is_nan() {
        "NA".into()
    } else {
        "Inf".into()
    }
}

/// CSV (means, a blank line, contrasts) or markdown tables, numbers at full precision.
pub fn render_delimited(r: &EmmeansResult, markdown: bool) -> String {
    let mut out = String::new();
    let write = |out: &mut String, header: &[String], rows: &[Vec<String>]| {
        if markdown {
            let esc = |s: &String| s.replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} |",
                header.iter().map(esc).collect::<Vec<_>>().join(" | ")
            );
            let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
            for row in rows {
                let _ = writeln!(
                    out,
                    "| {} |",
                    row.iter().map(esc).collect::<Vec<_>>().join(" | ")
                );
            }
        } else {
            let line = |r: &[String]| r.iter().map(|s| csv_field(s)).collect::<Vec<_>>().join(",");
            let _ = writeln!(out, "{}", line(header));
            for row in rows {
                let _ = writeln!(out, "{}", line(row));
            }
        }
    };
    let mut header: Vec<String> = r.specs.iter().chain(&r.by).cloned().collect();
    header.extend(
        [
            r.estimate_name.as_str(),
            "std_error",
            "df",
            "lower",
            "upper",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let rows: Vec<Vec<String>> = r
        .means
        .iter()
        .map(|m| {
            let mut c = m.levels.clone();
            c.extend([m.estimate, m.std_error, m.df, m.lower, m.upper].map(full));
            c
        })
        .collect();
    write(&mut out, &header, &rows);
    if !r.contrasts.is_empty() {
        out.push('\n');
        let mut header: Vec<String> = vec!["contrast".into()];
        header.extend(r.by.iter().cloned());
        header.extend(
            [
                r.contrast_estimate_name.as_str(),
                "std_error",
                "df",
                "statistic",
                "p_value",
                "lower",
                "upper",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let rows: Vec<Vec<String>> = r
            .contrasts
            .iter()
            .map(|c| {
                let mut row = vec![c.contrast.clone()];
                row.extend(c.by.iter().cloned());
                row.extend(
                    [
                        c.estimate,
                        c.std_error,
                        c.df,
                        c.statistic,
                        c.p_value,
                        c.lower,
                        c.upper,
                    ]
                    .map(full),
                );
                row
            })
            .collect();
        write(&mut out, &header, &rows);
    }
    out
}
