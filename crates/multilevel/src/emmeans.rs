//! Estimated marginal means and their contrasts (R's emmeans: `emmeans()`, `pairs()`,
//! `contrast(method = "trt.vs.ctrl")`).
//!
//! **Reference grid.** Every data column the fixed-effects terms use is a dimension of the
//! grid: a factor with the levels of the model frame, a numeric column at its mean over the
//! rows used (or at the values given in [`EmmeansOptions::at`]). Each grid row goes through
//! the fit's recipe ([`multilevel_frame::new_data_frame`]: training levels and contrasts,
//! `scale()`/`poly()` with the training statistics), giving its row `x_g` of the fixed-effects
//! model matrix; its prediction is `x_g'β̂`. A transformed covariate such as `log(x)` is thus
//! evaluated at the mean of `x`, as emmeans does.
//!
//! **Means.** For each combination `c` of the levels of the `specs` and `by` factors, the
//! linear function is the weighted average `l_c = Σ_g w_g x_g / Σ_g w_g` over the grid rows with
//! those levels: equal weights by default; with proportional weights `w_g` is the number of
//! rows of the model frame with grid row `g`'s levels of the averaged-over factors (their
//! marginal frequencies). The estimate is `l_c'β̂`, its standard error `√(l_c'V l_c)` and its
//! df from the chosen method: for linear mixed models Kenward–Roger by default (`V = Φ_A`,
//! pbkrtest's adjusted covariance, and the Kenward–Roger df of `l_c`, as emmeans through
//! pbkrtest), Satterthwaite (`V = vcov(β̂)`, lmerTest's df) or asymptotic (`V = vcov(β̂)`,
//! df = ∞); GLMMs are asymptotic. Limits are `est ± t_{df, (1+level)/2} · se`.
//!
//! **Response scale** (GLMMs, [`PredictScale::Response`]): the mean is `g⁻¹(est)`, its standard
//! error `|dμ/dη| · se` (delta method) and its limits the back-transformed link-scale limits.
//!
//! **Contrasts** are formed within each `by` group over its means: all pairwise differences
//! `l_i − l_j` (`i < j`, emmeans' order and labels `"a - b"`), or each mean minus the first
//! (`trt.vs.ctrl`). On the response scale of a log or logit link a difference is reported as
//! the ratio `exp(est)` (`"a / b"`, ratio or odds ratio; its standard error by the delta
//! method) with the test on the link scale, as emmeans; other links keep the link scale.
//! p-values are two-sided from t on the contrast's own df, then adjusted within each `by`
//! group: Tukey (`P(Q_{k,ν} > √2 |t|)`, `k` the number of means in the group; the default for
//! pairwise contrasts), Holm, Bonferroni, or none.

use multilevel_design::{Design, model_matrix};
use multilevel_formula::Formula;
use multilevel_frame::{Column, DataFrame, ModelFrame, NewDataOptions, VariableValue};
use multilevel_numeric::dist::{crit_t, p_t_two_sided};
use multilevel_numeric::tukey::ptukey_upper;

use crate::{Ddf, Error, PredictScale};

/// One contrast of a family: the pair of means it compares (`None` for a custom contrast),
/// its label, and its weight per mean of the group.
type ContrastSpec = (Option<(usize, usize)>, String, Vec<f64>);

/// How the grid rows are weighted when averaging over factors (emmeans' `weights`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EmmWeights {
    /// Each combination of the averaged-over factors counts the same (emmeans' default).
    #[default]
    Equal,
    /// Each combination counts by its frequency in the data (`weights = "proportional"`).
    Proportional,
}

/// Which contrasts of the means to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmmContrast {
    /// Every pairwise difference (`pairs()`, emmeans' `"pairwise"`).
    Pairwise,
    /// Each mean minus the first one of its group (`"trt.vs.ctrl"`).
    TrtVsCtrl,
}

/// A custom linear contrast of the means within each `by` group (emmeans'
/// `contrast(emm, list(name = c(...)))`): a weight per mean, by the mean's label (the levels of
/// the `specs` variables joined by a space); means not named get weight 0.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomContrast {
    /// The contrast's label.
    pub name: String,
    /// `(mean label, weight)` pairs.
    pub weights: Vec<(String, f64)>,
}

/// p-value adjustment for a family of contrasts (emmeans' `adjust`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    /// Tukey's studentized range (pairwise contrasts only; their default).
    Tukey,
    /// Holm's step-down Bonferroni.
    Holm,
    /// Bonferroni.
    Bonferroni,
    /// No adjustment.
    None,
}

impl Adjust {
    /// The name as emmeans prints it.
    pub fn name(self) -> &'static str {
        match self {
            Adjust::Tukey => "tukey",
            Adjust::Holm => "holm",
            Adjust::Bonferroni => "bonferroni",
            Adjust::None => "none",
        }
    }
}

/// Options of the models' `emmeans`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmmeansOptions {
    /// The factors whose means are wanted (emmeans' `specs`).
    pub specs: Vec<String>,
    /// Factors whose levels split the means into groups (emmeans' `by`); contrasts are formed
    /// within each group.
    pub by: Vec<String>,
    /// Values of numeric columns in the grid instead of their means (emmeans' `at`); a column
    /// with several values averages over them, or is a factor-like dimension when named in
    /// `specs` or `by`.
    pub at: Vec<(String, Vec<f64>)>,
    /// Weights of the averaged-over combinations.
    pub weights: EmmWeights,
    /// Degrees of freedom and covariance for linear mixed models: Kenward–Roger (the default,
    /// as emmeans), Satterthwaite, or [`Ddf::None`] for asymptotic (z) inference. GLMMs are
    /// always asymptotic.
    pub df_method: Ddf,
    /// Confidence level of the limits.
    pub level: f64,
    /// Link or response scale (GLMMs).
    pub scale: PredictScale,
    /// Contrasts to test, if any.
    pub contrast: Option<EmmContrast>,
    /// Their p-value adjustment (default: Tukey for pairwise, Holm for trt.vs.ctrl, none
    /// for custom contrasts).
    pub adjust: Option<Adjust>,
    /// Custom contrasts (instead of `contrast`), tested as one family per `by` group.
    pub custom: Vec<CustomContrast>,
}

impl Default for EmmeansOptions {
    fn default() -> Self {
        EmmeansOptions {
            specs: Vec::new(),
            by: Vec::new(),
            at: Vec::new(),
            weights: EmmWeights::Equal,
            df_method: Ddf::KenwardRoger,
            level: 0.95,
            scale: PredictScale::Link,
            contrast: None,
            adjust: None,
            custom: Vec::new(),
        }
    }
}

/// One estimated marginal mean.
#[derive(Debug, Clone, PartialEq)]
pub struct EmmRow {
    /// The levels of the `specs` variables, then of the `by` variables.
    pub levels: Vec<String>,
    /// The mean (on the response scale when asked for).
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Its df (∞ for asymptotic inference).
    pub df: f64,
    /// Lower confidence limit.
    pub lower: f64,
    /// Upper confidence limit.
    pub upper: f64,
}

/// One contrast of the means.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastRow {
    /// Label, `"A - B"` (or `"A / B"` for a ratio).
    pub contrast: String,
    /// The levels of the `by` variables of its group.
    pub by: Vec<String>,
    /// Difference (or ratio).
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Its df (∞ for asymptotic inference).
    pub df: f64,
    /// t (or z) statistic on the link scale.
    pub statistic: f64,
    /// Adjusted two-sided p-value.
    pub p_value: f64,
    /// Lower confidence limit at the result's level, adjusted for the family as emmeans'
    /// `confint()` (Tukey: the studentized range quantile; Holm and Bonferroni: Bonferroni
    /// limits; none: t limits); back-transformed for a ratio.
    pub lower: f64,
    /// Upper confidence limit (as `lower`).
    pub upper: f64,
}

/// Estimated marginal means, and their contrasts when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct EmmeansResult {
    /// The `specs` variables.
    pub specs: Vec<String>,
    /// The `by` variables.
    pub by: Vec<String>,
    /// Numeric columns of the grid and the values they are held at.
    pub covariates: Vec<(String, Vec<f64>)>,
    /// Factors averaged over.
    pub averaged_over: Vec<String>,
    /// Name of the estimate column as emmeans prints it (`emmean`, `prob`, `rate`,
    /// `response`).
    pub estimate_name: String,
    /// The df method (`kenward-roger`, `satterthwaite`, `asymptotic`).
    pub df_method: String,
    /// Confidence level.
    pub level: f64,
    /// The means, `specs` levels varying fastest, then `by` levels.
    pub means: Vec<EmmRow>,
    /// Contrasts (empty unless asked for).
    pub contrasts: Vec<ContrastRow>,
    /// Name of the contrasts' estimate column (`estimate`, `ratio`, `odds.ratio`).
    pub contrast_estimate_name: String,
    /// The p-value adjustment used.
    pub adjust: Option<Adjust>,
    /// Notes on the adjustment and the scale of the contrasts, as emmeans prints them.
    pub notes: Vec<String>,
    /// emmeans' note on the contrasts' confidence limits (`Conf-level adjustment: …`), when
    /// they are adjusted.
    pub contrast_ci_note: Option<String>,
}

/// One dimension of the reference grid.
struct Dim {
    name: String,
    /// Factor levels, or the numeric values as text.
    labels: Vec<String>,
    /// Numeric values (empty for a factor).
    values: Vec<f64>,
    /// Level code of each model-frame row (factors only).
    codes: Vec<u32>,
}

/// The parts of a fitted model the grid needs.
pub(crate) struct GridInput<'a> {
    pub formula: &'a Formula,
    pub frame: &'a ModelFrame,
    pub train: &'a DataFrame,
    pub design: &'a Design,
}

/// The means' linear functions: for each (specs, by) combination its levels and `l`.
pub(crate) struct Plan {
    pub rows: Vec<(Vec<String>, Vec<f64>)>,
    dims: Vec<Dim>,
    spec_idx: Vec<usize>,
    averaged: Vec<usize>,
}

fn not_a_variable(name: &str, vars: &[String]) -> Error {
    Error::Unsupported(format!(
        "emmeans: `{name}` is not a variable of the fixed-effects terms; hint: the model's variables are {}",
        vars.join(", ")
    ))
}

/// The reference grid and the linear functions of the means.
pub(crate) fn plan(input: &GridInput<'_>, opts: &EmmeansOptions) -> Result<Plan, Error> {
    let GridInput {
        formula,
        frame,
        train,
        design,
    } = *input;
    if opts.specs.is_empty() {
        return Err(Error::InvalidOption {
            option: "specs",
            reason: "no factor named; hint: name the factor whose means are wanted".into(),
        });
    }
    if !(opts.level > 0.0 && opts.level < 1.0) {
        return Err(Error::InvalidOption {
            option: "level",
            reason: format!("{} is not between 0 and 1; hint: use e.g. 0.95", opts.level),
        });
    }
    if !formula.offsets.is_empty() {
        return Err(Error::Unsupported(
            "emmeans of a model with an offset is not implemented; hint: fit the model without offset() to compare means".into(),
        ));
    }
    if !design.dropped_columns.is_empty() {
        return Err(Error::Unsupported(format!(
            "emmeans of a rank-deficient fixed-effects design (dropped columns: {}) is not implemented; hint: remove the aliased terms",
            design.dropped_columns.join(", ")
        )));
    }
    // The data columns of the fixed terms, in order of first use.
    let mut vars: Vec<String> = Vec::new();
    for t in &formula.fixed.terms {
        for e in &t.variables {
            for v in e.variables() {
                if !vars.contains(&v) {
                    vars.push(v);
                }
            }
        }
    }
    for name in opts.specs.iter().chain(&opts.by) {
        if !vars.contains(name) {
            return Err(not_a_variable(name, &vars));
        }
    }
    for (name, values) in &opts.at {
        if !vars.contains(name) {
            return Err(not_a_variable(name, &vars));
        }
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidOption {
                option: "at",
                reason: format!("`{name}` needs finite values; hint: e.g. {name}=1.5"),
            });
        }
    }
    let mut dims = Vec::with_capacity(vars.len());
    for name in &vars {
        match train.column(name) {
            Some(Column::Factor(_)) => {
                if opts.at.iter().any(|(n, _)| n == name) {
                    return Err(Error::InvalidOption {
                        option: "at",
                        reason: format!(
                            "`{name}` is a factor; hint: at values are for numeric columns (a factor's means are all its levels)"
                        ),
                    });
                }
                let Some(VariableValue::Factor { codes, levels, .. }) =
                    frame.variable(name).map(|v| &v.value)
                else {
                    return Err(Error::Unsupported(format!(
                        "emmeans: the factor `{name}` enters the fixed terms only inside an expression; hint: use the column itself in the formula"
                    )));
                };
                dims.push(Dim {
                    name: name.clone(),
                    labels: levels.clone(),
                    values: Vec::new(),
                    codes: codes.clone(),
                });
            }
            Some(Column::Numeric(col)) => {
                let values = match opts.at.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => v.clone(),
                    None => {
                        if opts.specs.contains(name) || opts.by.contains(name) {
                            return Err(Error::InvalidOption {
                                option: "specs",
                                reason: format!(
                                    "`{name}` is numeric, and marginal means are taken over factor levels; hint: make it a factor, or hold it at chosen values with `at` ({name} = 1, 2)"
                                ),
                            });
                        }
                        let (mut s, mut n) = (0.0, 0usize);
                        for &r in &frame.rows {
                            if let Some(Some(x)) = col.get(r) {
                                s += x;
                                n += 1;
                            }
                        }
                        vec![s / n.max(1) as f64]
                    }
                };
                dims.push(Dim {
                    name: name.clone(),
                    labels: values.iter().map(|v| format_value(*v)).collect(),
                    values,
                    codes: Vec::new(),
                });
            }
            None => return Err(not_a_variable(name, &vars)),
        }
    }
    let idx = |name: &String| vars.iter().position(|v| v == name).unwrap_or(0);
    let spec_idx: Vec<usize> = opts.specs.iter().map(idx).collect();
    let by_idx: Vec<usize> = opts.by.iter().map(idx).collect();
    if let Some(dup) = by_idx.iter().find(|i| spec_idx.contains(i)) {
        return Err(Error::InvalidOption {
            option: "by",
            reason: format!(
                "`{}` is both in specs and by; hint: name it once",
                vars[*dup]
            ),
        });
    }
    let averaged: Vec<usize> = (0..dims.len())
        .filter(|i| !spec_idx.contains(i) && !by_idx.contains(i))
        .collect();

    // The grid: the first dimension varies fastest.
    let sizes: Vec<usize> = dims.iter().map(|d| d.labels.len()).collect();
    let n_grid: usize = sizes.iter().product();
    if n_grid > 1_000_000 {
        return Err(Error::Unsupported(format!(
            "the reference grid would have {n_grid} rows; hint: hold covariates at fewer values"
        )));
    }
    let code_of = |g: usize, d: usize| -> usize {
        let stride: usize = sizes[..d].iter().product();
        (g / stride) % sizes[d]
    };
    let mut grid = DataFrame::new("the reference grid");
    for (d, dim) in dims.iter().enumerate() {
        grid = if dim.codes.is_empty() {
            grid.with_numeric(
                &dim.name,
                (0..n_grid).map(|g| dim.values[code_of(g, d)]).collect(),
            )?
        } else {
            grid.with_factor(
                &dim.name,
                (0..n_grid).map(|g| code_of(g, d) as u32).collect(),
                dim.labels.clone(),
            )?
        };
    }
    let mut fixed_only = formula.clone();
    fixed_only.random.clear();
    let nf = multilevel_frame::new_data_frame(
        &fixed_only,
        train,
        frame,
        &grid,
        &NewDataOptions::default(),
    )?;
    let mm = model_matrix(&formula.fixed, &nf.frame)?;
    let p = design.x_names.len();
    let mut cols: Vec<&[f64]> = Vec::with_capacity(p);
    for name in &design.x_names {
        let Some(j) = mm.names.iter().position(|m| m == name) else {
            return Err(Error::Unsupported(format!(
                "the reference grid gives no column `{name}` of the fixed-effects model matrix"
            )));
        };
        cols.push(&mm.columns[j]);
    }
    if nf.rows.len() != n_grid {
        return Err(Error::Unsupported(
            "the reference grid has rows the model cannot evaluate (a covariate value outside the domain of its transformation?)".into(),
        ));
    }

    // Weights of the grid rows.
    let weights: Vec<f64> = match opts.weights {
        EmmWeights::Equal => vec![1.0; n_grid],
        EmmWeights::Proportional => {
            let fac: Vec<usize> = averaged
                .iter()
                .copied()
                .filter(|&d| !dims[d].codes.is_empty())
                .collect();
            // Count of model-frame rows per combination of the averaged-over factors.
            let key_sizes: Vec<usize> = fac.iter().map(|&d| sizes[d]).collect();
            let n_keys: usize = key_sizes.iter().product();
            let mut counts = vec![0.0; n_keys];
            for i in 0..frame.n {
                let mut key = 0;
                let mut stride = 1;
                for (&d, &s) in fac.iter().zip(&key_sizes) {
                    key += dims[d].codes[i] as usize * stride;
                    stride *= s;
                }
                counts[key] += 1.0;
            }
            (0..n_grid)
                .map(|g| {
                    let mut key = 0;
                    let mut stride = 1;
                    for (&d, &s) in fac.iter().zip(&key_sizes) {
                        key += code_of(g, d) * stride;
                        stride *= s;
                    }
                    counts[key]
                })
                .collect()
        }
    };

    // The (specs, by) combinations: specs fastest, then by.
    let group_dims: Vec<usize> = spec_idx.iter().chain(&by_idx).copied().collect();
    let group_sizes: Vec<usize> = group_dims.iter().map(|&d| sizes[d]).collect();
    let n_groups: usize = group_sizes.iter().product();
    let mut sums = vec![vec![0.0; p]; n_groups];
    let mut wsum = vec![0.0; n_groups];
    for g in 0..n_grid {
        let mut key = 0;
        let mut stride = 1;
        for (&d, &s) in group_dims.iter().zip(&group_sizes) {
            key += code_of(g, d) * stride;
            stride *= s;
        }
        let w = weights[g];
        wsum[key] += w;
        for (acc, c) in sums[key].iter_mut().zip(&cols) {
            *acc += w * c[g];
        }
    }
    let mut rows = Vec::with_capacity(n_groups);
    for (key, (sum, w)) in sums.into_iter().zip(&wsum).enumerate() {
        let mut levels = Vec::with_capacity(group_dims.len());
        let mut rest = key;
        for (&d, &s) in group_dims.iter().zip(&group_sizes) {
            levels.push(dims[d].labels[rest % s].clone());
            rest /= s;
        }
        if *w <= 0.0 {
            return Err(Error::Unsupported(format!(
                "the combination {} does not occur in the data, so it has no proportional weight; hint: use equal weights",
                levels.join(", ")
            )));
        }
        rows.push((levels, sum.into_iter().map(|s| s / w).collect()));
    }
    Ok(Plan {
        rows,
        dims,
        spec_idx,
        averaged,
    })
}

/// A number as R prints it in a grid label (up to 15 significant digits, no trailing zeros).
fn format_value(v: f64) -> String {
    let s = format!("{v}");
    if s.len() > 17 {
        let r: f64 = format!("{v:.15e}").parse().unwrap_or(v);
        format!("{r}")
    } else {
        s
    }
}

/// How estimates are turned into the reported scale.
pub(crate) struct Scale<'a> {
    /// The link of a GLMM asked for on the response scale.
    pub link: Option<&'a dyn multilevel_glmm::Link>,
    /// The estimate column's name on the response scale (`prob`, `rate`, `response`).
    pub response_name: &'static str,
}

/// Means, contrasts and their tests from the plan and `(est, se, df)` of linear functions.
pub(crate) fn finish(
    plan: &Plan,
    opts: &EmmeansOptions,
    df_method: &str,
    scale: &Scale<'_>,
    mut contrast_dfs: impl FnMut(&[Vec<f64>]) -> Result<Vec<(f64, f64, f64)>, Error>,
) -> Result<EmmeansResult, Error> {
    let ls: Vec<Vec<f64>> = plan.rows.iter().map(|(_, l)| l.clone()).collect();
    let stats = contrast_dfs(&ls)?;
    let alpha = 1.0 - opts.level;
    let crit = |df: f64| {
        if df.is_finite() {
            crit_t(alpha, df)
        } else {
            multilevel_numeric::dist::crit_norm(alpha)
        }
    };
    let means: Vec<EmmRow> = plan
        .rows
        .iter()
        .zip(&stats)
        .map(|((levels, _), &(est, se, df))| {
            let q = crit(df);
            let (lo, hi) = (est - q * se, est + q * se);
            match scale.link {
                Some(link) => {
                    let (a, b) = (link.inverse(lo), link.inverse(hi));
                    EmmRow {
                        levels: levels.clone(),
                        estimate: link.inverse(est),
                        std_error: link.mu_eta(est).abs() * se,
                        df,
                        lower: a.min(b),
                        upper: a.max(b),
                    }
                }
                None => EmmRow {
                    levels: levels.clone(),
                    estimate: est,
                    std_error: se,
                    df,
                    lower: lo,
                    upper: hi,
                },
            }
        })
        .collect();

    // Contrasts within each by group.
    let n_spec: usize = plan
        .spec_idx
        .iter()
        .map(|&d| plan.dims[d].labels.len())
        .product();
    let ratio_name = scale.link.and_then(|l| match l.name() {
        "log" => Some("ratio"),
        "logit" => Some("odds.ratio"),
        _ => None,
    });
    let mut contrasts = Vec::new();
    let custom = !opts.custom.is_empty();
    if custom && opts.contrast.is_some() {
        return Err(Error::InvalidOption {
            option: "contrast",
            reason: "custom contrasts and pairwise/trt.vs.ctrl contrasts were both asked for; hint: ask for one family at a time".into(),
        });
    }
    if custom && scale.link.is_some() {
        return Err(Error::InvalidOption {
            option: "contrast",
            reason:
                "custom contrasts are computed on the link scale; hint: drop the response scale"
                    .into(),
        });
    }
    let adjust = if custom {
        Some(opts.adjust.unwrap_or(Adjust::None))
    } else {
        opts.contrast.map(|c| {
            opts.adjust.unwrap_or(match c {
                EmmContrast::Pairwise => Adjust::Tukey,
                EmmContrast::TrtVsCtrl => Adjust::Holm,
            })
        })
    };
    let mut notes = Vec::new();
    let mut contrast_ci_note = None;
    if let Some(adjust) = adjust {
        let kind = opts.contrast;
        if adjust == Adjust::Tukey && kind != Some(EmmContrast::Pairwise) {
            return Err(Error::InvalidOption {
                option: "adjust",
                reason: "the Tukey adjustment is for all pairwise comparisons; hint: use holm, bonferroni or none for other contrasts".into(),
            });
        }
        if n_spec < 2 {
            return Err(Error::InvalidOption {
                option: "specs",
                reason: "contrasts need at least two means per group; hint: name a factor with two or more levels in specs".into(),
            });
        }
        // Contrast labels: each specs variable's level, prefixed by its name when every
        // level looks like a number (emmeans' labels).
        let label_of = |levels: &[String]| -> String {
            plan.spec_idx
                .iter()
                .zip(levels)
                .map(|(&d, l)| {
                    let dim = &plan.dims[d];
                    if dim.labels.iter().all(|x| x.trim().parse::<f64>().is_ok()) {
                        format!("{}{l}", dim.name)
                    } else {
                        l.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let n_spec_vars = plan.spec_idx.len();
        // The family: a label and a weight per mean of a group.
        let family: Vec<ContrastSpec> = if custom {
            let names: Vec<String> = plan.rows[..n_spec]
                .iter()
                .map(|(l, _)| l[..n_spec_vars].join(" "))
                .collect();
            let mut out = Vec::with_capacity(opts.custom.len());
            for c in &opts.custom {
                let mut w = vec![0.0; n_spec];
                for (label, v) in &c.weights {
                    let Some(i) = names.iter().position(|n| n == label.trim()) else {
                        return Err(Error::InvalidOption {
                            option: "contrast",
                            reason: format!(
                                "`{label}` in contrast `{}` is not a level of {}; hint: the levels are {}",
                                c.name,
                                opts.specs.join(":"),
                                names.join(", ")
                            ),
                        });
                    };
                    if !v.is_finite() {
                        return Err(Error::InvalidOption {
                            option: "contrast",
                            reason: format!("contrast `{}` has a weight {v}", c.name),
                        });
                    }
                    w[i] += v;
                }
                out.push((None, c.name.clone(), w));
            }
            out
        } else {
            let pairs: Vec<(usize, usize)> = match kind {
                Some(EmmContrast::TrtVsCtrl) => (1..n_spec).map(|j| (j, 0)).collect(),
                _ => (0..n_spec)
                    .flat_map(|i| (i + 1..n_spec).map(move |j| (i, j)))
                    .collect(),
            };
            pairs
                .into_iter()
                .map(|(i, j)| {
                    let mut w = vec![0.0; n_spec];
                    w[i] = 1.0;
                    w[j] = -1.0;
                    (Some((i, j)), String::new(), w)
                })
                .collect()
        };
        let n_groups = plan.rows.len() / n_spec;
        let m = family.len();
        let crit_at = |a: f64, df: f64| {
            if df.is_finite() {
                crit_t(a, df)
            } else {
                multilevel_numeric::dist::crit_norm(a)
            }
        };
        for grp in 0..n_groups {
            let base = grp * n_spec;
            let lrows: Vec<Vec<f64>> = family
                .iter()
                .map(|(_, _, w)| {
                    let mut l = vec![0.0; ls[base].len()];
                    for (k, wk) in w.iter().enumerate() {
                        if *wk != 0.0 {
                            for (a, b) in l.iter_mut().zip(&ls[base + k]) {
                                *a += wk * b;
                            }
                        }
                    }
                    l
                })
                .collect();
            let cstats = contrast_dfs(&lrows)?;
            let raw: Vec<f64> = cstats
                .iter()
                .map(|&(est, se, df)| match adjust {
                    Adjust::Tukey => {
                        ptukey_upper(std::f64::consts::SQRT_2 * (est / se).abs(), n_spec, df)
                    }
                    _ => p_t_two_sided(est / se, df),
                })
                .collect();
            let adjusted = adjust_p(&raw, adjust);
            let by: Vec<String> = plan.rows[base].0[n_spec_vars..].to_vec();
            for (((pair, name, _), &(est, se, df)), p) in family.iter().zip(&cstats).zip(adjusted) {
                let q = match adjust {
                    Adjust::Tukey => {
                        multilevel_numeric::tukey::qtukey(opts.level, n_spec, df)
                            / std::f64::consts::SQRT_2
                    }
                    Adjust::Holm | Adjust::Bonferroni => crit_at(alpha / m as f64, df),
                    Adjust::None => crit_at(alpha, df),
                };
                let (lo, hi) = (est - q * se, est + q * se);
                let ratio = ratio_name.is_some() && !custom;
                let (estimate, std_error, lower, upper) = if ratio {
                    (est.exp(), est.exp() * se, lo.exp(), hi.exp())
                } else {
                    (est, se, lo, hi)
                };
                let contrast = match pair {
                    Some((i, j)) => {
                        let li = &plan.rows[base + i].0[..n_spec_vars];
                        let lj = &plan.rows[base + j].0[..n_spec_vars];
                        let op = if ratio { "/" } else { "-" };
                        format!("{} {op} {}", label_of(li), label_of(lj))
                    }
                    None => name.clone(),
                };
                contrasts.push(ContrastRow {
                    contrast,
                    by: by.clone(),
                    estimate,
                    std_error,
                    df,
                    statistic: est / se,
                    p_value: p,
                    lower,
                    upper,
                });
            }
        }
        match adjust {
            Adjust::Tukey => {
                notes.push(format!(
                    "P value adjustment: tukey method for comparing a family of {n_spec} estimates"
                ));
                contrast_ci_note = Some(format!(
                    "Conf-level adjustment: tukey method for comparing a family of {n_spec} estimates"
                ));
            }
            Adjust::None => {}
            a => {
                notes.push(format!(
                    "P value adjustment: {} method for {m} tests",
                    a.name()
                ));
                contrast_ci_note = Some(format!(
                    "Conf-level adjustment: bonferroni method for {m} estimates"
                ));
            }
        }
        if scale.link.is_some() && ratio_name.is_none() {
            notes
                .push("contrasts are on the link scale (the link is neither log nor logit)".into());
        } else if ratio_name.is_some() {
            notes.push("tests are performed on the log odds ratio / log ratio scale".into());
        }
    }
    let averaged_over: Vec<String> = plan
        .averaged
        .iter()
        .filter(|&&d| !plan.dims[d].codes.is_empty() || plan.dims[d].values.len() > 1)
        .map(|&d| plan.dims[d].name.clone())
        .collect();
    Ok(EmmeansResult {
        specs: opts.specs.clone(),
        by: opts.by.clone(),
        covariates: plan
            .dims
            .iter()
            .filter(|d| d.codes.is_empty())
            .map(|d| (d.name.clone(), d.values.clone()))
            .collect(),
        averaged_over,
        estimate_name: if scale.link.is_some() {
            scale.response_name.to_string()
        } else {
            "emmean".to_string()
        },
        df_method: df_method.to_string(),
        level: opts.level,
        means,
        contrasts,
        contrast_estimate_name: ratio_name.unwrap_or("estimate").to_string(),
        adjust,
        notes,
        contrast_ci_note,
    })
}

/// Adjusted p-values of one family.
fn adjust_p(p: &[f64], adjust: Adjust) -> Vec<f64> {
    let m = p.len() as f64;
    match adjust {
        Adjust::Tukey | Adjust::None => p.to_vec(),
        Adjust::Bonferroni => p.iter().map(|x| (x * m).min(1.0)).collect(),
        Adjust::Holm => {
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let mut out = vec![0.0; p.len()];
            let mut running: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max((m - rank as f64) * p[i]);
                out[i] = running.min(1.0);
            }
            out
        }
    }
}

/// The estimate column's name on the response scale, as emmeans prints it.
pub(crate) fn response_name(family: &str) -> &'static str {
    match family {
        "binomial" => "prob",
        "poisson" => "rate",
        _ => "response",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_and_bonferroni_as_r() {
        // p.adjust(c(0.01, 0.04, 0.03), "holm") = 0.03 0.06 0.06; "bonferroni" = 0.03 0.12 0.09
        let p = [0.01, 0.04, 0.03];
        let h = adjust_p(&p, Adjust::Holm);
        for (a, b) in h.iter().zip([0.03, 0.06, 0.06]) {
            assert!((a - b).abs() < 1e-15);
        }
        let b = adjust_p(&p, Adjust::Bonferroni);
        for (a, e) in b.iter().zip([0.03, 0.12, 0.09]) {
            assert!((a - e).abs() < 1e-15);
        }
    }
}
