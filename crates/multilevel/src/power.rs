//! De novo simulation from a formula, a design and given parameters (lme4's
//! `simulate(formula, newdata = DESIGN, newparams = list(beta, theta, sigma))`) and power by
//! simulation and refitting (what simr's `powerSim` / `powerCurve` do).
//!
//! The design data hold the predictors and grouping columns (the response column may be
//! absent: a placeholder is added, since only `X`, `Z`, weights and offset are used). The
//! parameters are β (one per column of `X`, by name or in order), the random-effects
//! covariance (lme4's θ, or standard deviations and correlations per grouping factor, turned
//! into θ by each term's covariance structure) and σ. A simulated response is then
//! `η = offset + Xβ + ZΛ(θ)σu`, `u ~ N(0, I)`, plus `σε` for a linear mixed model, or a
//! binomial / Poisson draw given `μ = g⁻¹(η)` for a GLMM (σ = 1) — the same simulator as a
//! fitted model's `simulate` ([`crate::simulate`]).
//!
//! Power: for each sample size the design is extended (more groups: the groups of the design
//! are repeated, each copy a new level, as simr's `extend(along = g)`; larger groups: each
//! group's rows are repeated within it, as `extend(within = g)`), `nsim` responses are
//! simulated, the model is refitted to each, and the test is run at level α. The power is the
//! share of rejections among the simulations whose fit and test succeeded; failures are
//! counted, never dropped silently. The interval is the exact binomial (Clopper–Pearson) one,
//! as R's `binom.test`. Simulation `s` of size `n` draws from its own stream
//! (`seed` mixed with `n`, then `s`), so a result depends on the seed only — not on the number
//! of threads, the order in which simulations run, or which other sizes were asked for.

use std::sync::atomic::{AtomicUsize, Ordering};

use multilevel_design::Design;
use multilevel_frame::{Column, DataFrame, Factor};
use multilevel_glmm::{FamilyKind, FamilySpec, GlmFamily};
use multilevel_numeric::dist::{p_chisq_upper, qbeta};
use multilevel_numeric::rng::SplitMix64;
use rayon::prelude::*;

use crate::options::{Ddf, FitOptions};
use crate::simulate::{Draw, Simulator};
use crate::{Error, inference};

/// The fixed effects of a de novo simulation.
#[derive(Debug, Clone, PartialEq)]
pub enum BetaSpec {
    /// One value per column of `X`, in order.
    Values(Vec<f64>),
    /// Values by column name of `X` (`(Intercept)`, `treat`, `x:z`); every column is needed.
    Named(Vec<(String, f64)>),
}

/// Standard deviations and correlations of one grouping factor's random effects.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSdCor {
    /// Grouping factor as the formula names it (`school`, `b:a`).
    pub group: String,
    /// One standard deviation per random-effect column, in the term's column order.
    pub sd: Vec<f64>,
    /// Correlations of the lower triangle, row by row (`r21`, `r31`, `r32`, …); empty means
    /// 0 for an unstructured term, and the structure's own parameters otherwise.
    pub cor: Vec<f64>,
}

/// The random-effects covariance of a de novo simulation.
#[derive(Debug, Clone, PartialEq)]
pub enum VarianceSpec {
    /// lme4's θ (relative to σ for a linear mixed model), in the design's term order.
    Theta(Vec<f64>),
    /// Standard deviations and correlations per grouping factor (absolute, on the scale of
    /// the response or the linear predictor).
    SdCor(Vec<GroupSdCor>),
}

/// The parameters of a de novo simulation (lme4's `newparams`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewParams {
    /// β.
    pub beta: BetaSpec,
    /// The random-effects covariance.
    pub covariance: VarianceSpec,
    /// Residual standard deviation σ (linear mixed models; ignored for binomial and Poisson).
    pub sigma: f64,
}

/// A model given by its parameters on a design: what [`DeNovo::simulate`] draws from and
/// [`power`] refits.
#[derive(Debug, Clone)]
pub struct DeNovo {
    design: Design,
    /// The design data's rows used (0-based; rows with missing values are dropped).
    rows: Vec<usize>,
    family: Option<FamilySpec>,
    beta: Vec<f64>,
    theta: Vec<f64>,
    sigma: f64,
}

/// The response name of a formula, and the formula text to use (a one-sided formula gets the
/// response `.response`).
fn response_of(formula: &str) -> Result<(String, Option<String>), Error> {
    let parsed = multilevel_formula::parse(formula)?;
    match &parsed.response {
        None => Ok((
            format!(".response {}", formula.trim()),
            Some(".response".into()),
        )),
        Some(multilevel_formula::Response::Expr(multilevel_formula::Expr::Var(v))) => {
            Ok((formula.to_string(), Some(v.clone())))
        }
        Some(_) => Ok((formula.to_string(), None)),
    }
}

/// The design data with a placeholder response column when the formula's response is absent.
fn with_response(formula: &str, data: &DataFrame) -> Result<(String, DataFrame), Error> {
    let (text, name) = response_of(formula)?;
    let mut data = data.clone();
    if let Some(name) = name
        && data.column(&name).is_none()
    {
        let n = data.nrows();
        // Alternating 0, 1: the model frame refuses a constant response, and 0/1 suits every
        // family; the values are never used.
        data = data.with_numeric(&name, (0..n).map(|i| (i % 2) as f64).collect())?;
    }
    Ok((text, data))
}

fn build(
    formula: &str,
    data: &DataFrame,
    family: Option<FamilySpec>,
    opts: &FitOptions,
) -> Result<(Design, Vec<usize>), Error> {
    let (text, data) = with_response(formula, data)?;
    let (parsed, frame) = crate::parse_and_frame(&text, &data, opts)?;
    let mut design = match family {
        None => {
            crate::check_lmm_response(&frame)?;
            multilevel_design::build_design(&parsed, &frame)?
        }
        Some(_) => multilevel_design::build_design_with(
            &parsed,
            &frame,
            &multilevel_design::DesignOptions { allow_n: true },
        )?,
    };
    design.formula = formula.to_string();
    if design.terms.is_empty() {
        return Err(Error::Unsupported(format!(
            "the formula `{formula}` has no random-effects term; hint: add one such as (1 | group)"
        )));
    }
    Ok((design, frame.rows))
}

/// β in the order of `X`'s columns.
fn resolve_beta(design: &Design, beta: &BetaSpec) -> Result<Vec<f64>, Error> {
    let names = design.x_names.join(", ");
    match beta {
        BetaSpec::Values(v) => {
            if v.len() != design.p() {
                return Err(Error::InvalidOption {
                    option: "beta",
                    reason: format!(
                        "{} values for the {} fixed-effect columns; hint: give one value per column, in order: {names}",
                        v.len(),
                        design.p()
                    ),
                });
            }
            Ok(v.clone())
        }
        BetaSpec::Named(pairs) => {
            for (name, _) in pairs {
                if !design.x_names.iter().any(|x| x == name) {
                    return Err(Error::InvalidOption {
                        option: "beta",
                        reason: format!(
                            "`{name}` is not a fixed-effect column; hint: the columns are {names}"
                        ),
                    });
                }
            }
            design
                .x_names
                .iter()
                .map(|x| {
                    pairs
                        .iter()
                        .find(|(n, _)| n == x)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| Error::InvalidOption {
                            option: "beta",
                            reason: format!(
                                "no value for the fixed-effect column `{x}`; hint: give every column: {names}"
                            ),
                        })
                })
                .collect()
        }
    }
}

/// θ from the covariance specification.
fn resolve_theta(design: &Design, cov: &VarianceSpec, sigma: f64) -> Result<Vec<f64>, Error> {
    let option = match cov {
        VarianceSpec::Theta(_) => "theta",
        VarianceSpec::SdCor(_) => "sd",
    };
    let bad = |reason: String| Error::InvalidOption { option, reason };
    match cov {
        VarianceSpec::Theta(theta) => {
            if theta.len() != design.n_theta() {
                return Err(bad(format!(
                    "{} values of θ for the {} variance parameters of the random-effects terms; hint: give {} values",
                    theta.len(),
                    design.n_theta(),
                    design.n_theta()
                )));
            }
            let lower = design.theta_lower();
            if let Some((i, v)) = theta
                .iter()
                .zip(&lower)
                .enumerate()
                .find_map(|(i, (v, lo))| (!v.is_finite() || v < lo).then_some((i, *v)))
            {
                return Err(bad(format!(
                    "θ value {} ({v}) is below its bound or not finite",
                    i + 1
                )));
            }
            Ok(theta.clone())
        }
        VarianceSpec::SdCor(groups) => {
            for g in groups {
                if !design.terms.iter().any(|t| t.group == g.group) {
                    return Err(bad(format!(
                        "`{}` is not a grouping factor of the formula; hint: the grouping factors are {}",
                        g.group,
                        design
                            .terms
                            .iter()
                            .map(|t| t.group.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            let mut theta = Vec::with_capacity(design.n_theta());
            for t in &design.terms {
                if design.terms.iter().filter(|u| u.group == t.group).count() > 1 {
                    return Err(bad(format!(
                        "`{}` has several random-effects terms, so its standard deviations are ambiguous; hint: give θ instead",
                        t.group
                    )));
                }
                let Some(g) = groups.iter().find(|g| g.group == t.group) else {
                    return Err(bad(format!(
                        "no standard deviation for the random effects of `{}`; hint: give one per column ({})",
                        t.group,
                        t.col_names.join(", ")
                    )));
                };
                if g.sd.len() != t.k {
                    return Err(bad(format!(
                        "{} standard deviations for the {} random-effect columns of `{}` ({}); hint: give one per column",
                        g.sd.len(),
                        t.k,
                        t.group,
                        t.col_names.join(", ")
                    )));
                }
                let cov = t.covariance();
                let params = cov.sd_cor_params();
                let n_cor = params
                    .iter()
                    .filter(|p| matches!(p, multilevel_design::SdCorParam::Cor(..)))
                    .count();
                if !g.cor.is_empty() && g.cor.len() != n_cor {
                    return Err(bad(format!(
                        "{} correlations for `{}`, whose structure has {n_cor}",
                        g.cor.len(),
                        t.group
                    )));
                }
                // The correlations are given row by row of the lower triangle; the structure
                // lists its parameters in its own order, so look each one up by position.
                let row_order: Vec<(usize, usize)> =
                    (1..t.k).flat_map(|r| (0..r).map(move |c| (r, c))).collect();
                let mut sd_cor = Vec::with_capacity(params.len());
                let mut next_cor = 0;
                for p in &params {
                    match *p {
                        multilevel_design::SdCorParam::Sd(r) => {
                            sd_cor.push(g.sd.get(r).copied().unwrap_or(0.0))
                        }
                        multilevel_design::SdCorParam::Cor(r, c) => {
                            let v = if g.cor.is_empty() {
                                0.0
                            } else if n_cor == row_order.len() {
                                row_order
                                    .iter()
                                    .position(|&(a, b)| (a, b) == (r.max(c), r.min(c)))
                                    .and_then(|i| g.cor.get(i))
                                    .copied()
                                    .unwrap_or(0.0)
                            } else {
                                g.cor.get(next_cor).copied().unwrap_or(0.0)
                            };
                            next_cor += 1;
                            sd_cor.push(v);
                        }
                    }
                }
                let mut out = vec![0.0; cov.n_theta()];
                cov.sd_cor_to_theta(&sd_cor, sigma, &mut out)
                    .map_err(|e| bad(format!("random effects of `{}`: {e}", t.group)))?;
                theta.extend(out);
            }
            Ok(theta)
        }
    }
}

impl DeNovo {
    /// The model `formula` on the design `data` with the given parameters; `family` `None`
    /// is a linear mixed model, otherwise binomial or Poisson with any link.
    ///
    /// # Errors
    /// The pipeline's errors on the formula and the design; parameters that do not fit the
    /// design (named in the message); an unsupported family.
    pub fn new(
        formula: &str,
        data: &DataFrame,
        family: Option<FamilySpec>,
        params: &NewParams,
        opts: &FitOptions,
    ) -> Result<Self, Error> {
        if let Some(f) = family
            && !matches!(f.family, FamilyKind::Binomial | FamilyKind::Poisson)
        {
            return Err(Error::Unsupported(format!(
                "simulating a {} GLMM is not available; hint: the binomial and Poisson families can be simulated",
                f.family.name()
            )));
        }
        let sigma = if family.is_some() { 1.0 } else { params.sigma };
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidOption {
                option: "sigma",
                reason: format!("σ = {sigma} must be positive; hint: give e.g. sigma = 1"),
            });
        }
        let (design, rows) = build(formula, data, family, opts)?;
        let beta = resolve_beta(&design, &params.beta)?;
        let theta = resolve_theta(&design, &params.covariance, sigma)?;
        Ok(DeNovo {
            design,
            rows,
            family,
            beta,
            theta,
            sigma,
        })
    }

    /// The design (its response is a placeholder or the data's).
    pub fn design(&self) -> &Design {
        &self.design
    }

    /// The rows of the design data used, 0-based (rows with a missing value in a variable
    /// the formula uses are dropped; `design().n_dropped_missing` counts them).
    pub fn design_rows(&self) -> &[usize] {
        &self.rows
    }

    /// β in the order of `X`'s columns.
    pub fn beta(&self) -> &[f64] {
        &self.beta
    }

    /// θ (lme4's layout).
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// σ (1 for a GLMM).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// `nsim` responses for the design's rows, `out[s][i]`; simulation `s` draws from the
    /// stream `(seed, s)`, as a fitted model's `simulate`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for `nsim = 0`.
    pub fn simulate(&self, nsim: usize, seed: u64) -> Result<Vec<Vec<f64>>, Error> {
        if nsim == 0 {
            return Err(Error::InvalidOption {
                option: "nsim",
                reason: "at least one simulation is needed; hint: use e.g. nsim = 1000".into(),
            });
        }
        let sim = Simulator::new(&self.design, &self.beta, &self.theta, self.sigma)?;
        let family = self.family.map(GlmFamily::from);
        let draw = draw_of(family.as_ref());
        Ok((0..nsim)
            .map(|s| {
                let mut rng = SplitMix64::for_stream(seed, s as u64);
                sim.draw(&self.design, &draw, &mut rng)
            })
            .collect())
    }
}

fn draw_of(family: Option<&GlmFamily>) -> Draw<'_> {
    match family {
        None => Draw::Gaussian,
        Some(f) if f.family.name() == "poisson" => Draw::Poisson(f.link.as_ref()),
        Some(f) => Draw::Binomial(f.link.as_ref()),
    }
}

/// How a fixed effect is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoefTest {
    /// t test with Satterthwaite's df (linear mixed models; lmerTest's default).
    Satterthwaite,
    /// t test with Kenward–Roger's adjusted SE and df (linear mixed models, REML).
    KenwardRoger,
    /// Wald z test (the GLMM default, `summary(glmer)`).
    Z,
    /// Likelihood-ratio test against the model without the column (ML fits), χ² on 1 df.
    Lrt,
}

/// What [`power`] tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerTest {
    /// H₀: the coefficient of this column of `X` is 0.
    Coefficient {
        /// Column name of `X`.
        term: String,
        /// The test.
        method: CoefTest,
    },
    /// H₀: the random effects of this grouping factor have variance 0: likelihood-ratio test
    /// of the model without that factor's terms (ML fits; χ² on the number of θ dropped, not
    /// halved for the boundary, so the test is conservative, as `anova()`'s).
    Variance {
        /// Grouping factor.
        group: String,
    },
}

/// How the design grows with the sample size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Along {
    /// `size` levels of this grouping column (its levels repeated as new levels).
    Groups(String),
    /// `size` rows in every level of this grouping column (its rows repeated).
    Within(String),
}

/// Options of [`power`].
#[derive(Debug, Clone, PartialEq)]
pub struct PowerOptions {
    /// The test.
    pub test: PowerTest,
    /// Significance level α.
    pub alpha: f64,
    /// Simulations per size.
    pub nsim: usize,
    /// Seed of the random streams.
    pub seed: u64,
    /// How the design grows (`None`: the design as given, one row of results).
    pub along: Option<Along>,
    /// Sample sizes (levels or rows per level; ignored without `along`).
    pub sizes: Vec<usize>,
    /// Confidence level of the binomial interval of the power.
    pub level: f64,
}

impl Default for PowerOptions {
    fn default() -> Self {
        PowerOptions {
            test: PowerTest::Coefficient {
                term: String::new(),
                method: CoefTest::Satterthwaite,
            },
            alpha: 0.05,
            nsim: 1000,
            seed: 1,
            along: None,
            sizes: Vec::new(),
            level: 0.95,
        }
    }
}

/// The power at one sample size.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerRow {
    /// The size (levels or rows per level), `None` for the design as given.
    pub size: Option<usize>,
    /// Rows of the extended design.
    pub nobs: usize,
    /// Levels of each grouping factor of the extended design, as `(factor, levels)`.
    pub groups: Vec<(String, usize)>,
    /// Simulations run.
    pub nsim: usize,
    /// Simulations whose test rejected H₀ at α.
    pub rejections: usize,
    /// Simulations whose fit or test failed (excluded from the power).
    pub failures: usize,
    /// `rejections / (nsim − failures)`.
    pub power: f64,
    /// Lower limit of the exact binomial interval.
    pub lower: f64,
    /// Upper limit of the exact binomial interval.
    pub upper: f64,
    /// The first failure's message, if any.
    pub first_failure: Option<String>,
}

/// The result of [`power`].
#[derive(Debug, Clone, PartialEq)]
pub struct PowerResult {
    /// The test, in words.
    pub test: String,
    /// α.
    pub alpha: f64,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Simulations per size.
    pub nsim: usize,
    /// Seed.
    pub seed: u64,
    /// What grows (`groups of g` / `rows per level of g`), `None` for the design as given.
    pub along: Option<String>,
    /// One row per size.
    pub rows: Vec<PowerRow>,
}

/// Clopper–Pearson interval of `x` successes in `n` trials at `level` (R's `binom.test`).
pub fn binomial_interval(x: usize, n: usize, level: f64) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let a = (1.0 - level) / 2.0;
    let (xf, nf) = (x as f64, n as f64);
    let lower = if x == 0 {
        0.0
    } else {
        qbeta(a, xf, nf - xf + 1.0)
    };
    let upper = if x == n {
        1.0
    } else {
        qbeta(1.0 - a, xf + 1.0, nf - xf)
    };
    (lower, upper)
}

/// The data extended to `size` along `along`.
fn extend(data: &DataFrame, along: &Along, size: usize) -> Result<DataFrame, Error> {
    let (col, within) = match along {
        Along::Groups(c) => (c, false),
        Along::Within(c) => (c, true),
    };
    let bad = |reason: String| Error::InvalidOption {
        option: "along",
        reason,
    };
    let Some(column) = data.column(col) else {
        return Err(bad(format!(
            "`{col}` is not a column of the design data; hint: name the grouping column"
        )));
    };
    let n = data.nrows();
    // Level of each row, in the order levels first appear.
    let labels: Vec<Option<String>> = (0..n)
        .map(|i| match column {
            Column::Factor(f) => f.label(i).map(str::to_string),
            Column::Numeric(v) => v
                .get(i)
                .copied()
                .flatten()
                .map(multilevel_frame::format_r_number),
        })
        .collect();
    if let Some(i) = labels.iter().position(Option::is_none) {
        return Err(bad(format!(
            "`{col}` is missing in row {} of the design data; hint: every row needs a group",
            i + 1
        )));
    }
    let mut order: Vec<String> = Vec::new();
    let mut rows_of: Vec<Vec<usize>> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let l = l.clone().unwrap_or_default();
        match order.iter().position(|o| *o == l) {
            Some(g) => rows_of[g].push(i),
            None => {
                order.push(l);
                rows_of.push(vec![i]);
            }
        }
    }
    if size == 0 {
        return Err(bad("a size of 0; hint: sizes are positive".into()));
    }
    // (source row, new group label) of each new row.
    let mut plan: Vec<(usize, String)> = Vec::new();
    if within {
        for (g, rows) in rows_of.iter().enumerate() {
            for r in 0..size {
                plan.push((rows[r % rows.len()], order[g].clone()));
            }
        }
    } else {
        for k in 0..size {
            let g = k % order.len();
            let copy = k / order.len();
            let label = if copy == 0 {
                order[g].clone()
            } else {
                format!("{}.{}", order[g], copy + 1)
            };
            for &r in &rows_of[g] {
                plan.push((r, label.clone()));
            }
        }
    }
    let mut out = DataFrame::new(data.name());
    for name in data.column_names() {
        let Some(c) = data.column(name) else { continue };
        let new = if name == col.as_str() {
            let mut levels: Vec<String> = Vec::new();
            let codes = plan
                .iter()
                .map(|(_, l)| {
                    Some(match levels.iter().position(|x| x == l) {
                        Some(p) => p as u32,
                        None => {
                            levels.push(l.clone());
                            (levels.len() - 1) as u32
                        }
                    })
                })
                .collect();
            Column::Factor(Factor {
                codes,
                levels,
                ordered: false,
            })
        } else {
            match c {
                Column::Numeric(v) => Column::Numeric(plan.iter().map(|(r, _)| v[*r]).collect()),
                Column::Factor(f) => Column::Factor(Factor {
                    codes: plan.iter().map(|(r, _)| f.codes[*r]).collect(),
                    levels: f.levels.clone(),
                    ordered: f.ordered,
                }),
            }
        };
        out = out.with_column(name, new)?;
    }
    Ok(out)
}

/// The design without column `j` of `X`.
fn drop_column(design: &Design, j: usize) -> Design {
    let mut d = design.clone();
    let keep: Vec<usize> = (0..design.p()).filter(|&c| c != j).collect();
    d.x = faer::Mat::from_fn(design.nobs(), keep.len(), |i, c| design.x[(i, keep[c])]);
    d.x_names = keep.iter().map(|&c| design.x_names[c].clone()).collect();
    d.x_assign = keep
        .iter()
        .filter_map(|&c| design.x_assign.get(c).copied())
        .collect();
    d
}

/// The ML log-likelihood of the linear model `y ~ X` with the design's prior weights:
/// `−n/2 (log(2π RSS_w/n) + 1) + ½ Σ log wᵢ`.
fn ols_loglik(design: &Design, y: &[f64]) -> Result<f64, String> {
    let (n, p) = (design.nobs(), design.p());
    let w = |i: usize| design.weights.as_ref().map_or(1.0, |w| w[i]);
    let off = |i: usize| design.offset.as_ref().map_or(0.0, |o| o[i]);
    let mut xtx = vec![0.0; p * p];
    let mut xty = vec![0.0; p];
    for (i, &y_i) in y.iter().enumerate().take(n) {
        let wi = w(i);
        let yi = y_i - off(i);
        for a in 0..p {
            let xa = design.x[(i, a)];
            xty[a] += wi * xa * yi;
            for b in 0..=a {
                xtx[a * p + b] += wi * xa * design.x[(i, b)];
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            xtx[b * p + a] = xtx[a * p + b];
        }
    }
    let chol = multilevel_numeric::spd::Cholesky::new(&xtx, p)
        .ok_or_else(|| "X'X of the model without random effects is singular".to_string())?;
    chol.solve_in_place(&mut xty);
    let mut rss = 0.0;
    let mut logw = 0.0;
    for (i, &y_i) in y.iter().enumerate().take(n) {
        let fit: f64 = (0..p).map(|a| design.x[(i, a)] * xty[a]).sum();
        let r = y_i - off(i) - fit;
        rss += w(i) * r * r;
        logw += w(i).ln();
    }
    let nf = n as f64;
    Ok(-0.5 * nf * ((2.0 * std::f64::consts::PI * rss / nf).ln() + 1.0) + 0.5 * logw)
}

/// The test, prepared for one design.
enum Prepared {
    /// Column `j` of `X` by a t or z test.
    Coef(usize, CoefTest),
    /// LRT against the reduced design (`None`: the linear model without random effects).
    Lrt(Option<Box<Design>>, f64),
}

fn prepare(design: &Design, test: &PowerTest, glmm: bool) -> Result<Prepared, Error> {
    match test {
        PowerTest::Coefficient { term, method } => {
            let Some(j) = design.x_names.iter().position(|x| x == term) else {
                return Err(Error::InvalidOption {
                    option: "test",
                    reason: format!(
                        "`{term}` is not a fixed-effect column; hint: the columns are {}",
                        design.x_names.join(", ")
                    ),
                });
            };
            match (method, glmm) {
                (CoefTest::Satterthwaite | CoefTest::KenwardRoger, true) => {
                    Err(Error::InvalidOption {
                        option: "test",
                        reason: "t tests with Satterthwaite or Kenward–Roger df are for linear mixed models; hint: use the z test or the likelihood-ratio test for a GLMM".into(),
                    })
                }
                (CoefTest::Lrt, _) => Ok(Prepared::Lrt(
                    Some(Box::new(drop_column(design, j))),
                    1.0,
                )),
                (m, _) => Ok(Prepared::Coef(j, *m)),
            }
        }
        PowerTest::Variance { group } => {
            if !design.terms.iter().any(|t| &t.group == group) {
                return Err(Error::InvalidOption {
                    option: "test",
                    reason: format!(
                        "`{group}` is not a grouping factor of the formula; hint: the grouping factors are {}",
                        design
                            .terms
                            .iter()
                            .map(|t| t.group.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            let mut reduced = design.clone();
            reduced.terms.retain(|t| &t.group != group);
            let df = (design.n_theta() - reduced.n_theta()) as f64;
            if reduced.terms.is_empty() {
                if glmm {
                    return Err(Error::Unsupported(
                        "the likelihood-ratio test of a GLMM's only random-effects term needs a GLM fit, which is not available; hint: test a coefficient instead".into(),
                    ));
                }
                Ok(Prepared::Lrt(None, df))
            } else {
                Ok(Prepared::Lrt(Some(Box::new(reduced)), df))
            }
        }
    }
}

/// A fit's log-likelihood or its coefficient table, for one response.
fn fit_once(
    design: &Design,
    y: &[f64],
    family: Option<FamilySpec>,
    reml: bool,
    ddf: Option<Ddf>,
) -> Result<crate::FitResult, String> {
    let mut d = design.clone();
    d.y = y.to_vec();
    match family {
        None => {
            let opts = multilevel_lmm::LmmOptions {
                reml,
                cond_var: false,
                ..multilevel_lmm::LmmOptions::default()
            };
            let model =
                multilevel_lmm::LinearMixedModel::new(d, opts).map_err(|e| e.to_string())?;
            let mut fitted = inference::FittedLmm::fit(model).map_err(|e| e.to_string())?;
            let mut fit = fitted.fit_result().clone();
            if let Some(method) = ddf.and_then(Ddf::method) {
                inference::add_df(&mut fitted, &mut fit, method).map_err(|e| e.to_string())?;
            }
            Ok(fit)
        }
        Some(spec) => {
            let fam = GlmFamily::from(spec);
            let opts = multilevel_glmm::GlmmOptions {
                cond_var: false,
                ..multilevel_glmm::GlmmOptions::default()
            };
            multilevel_glmm::glmer_full(d, &fam, &opts)
                .map(|f| f.result)
                .map_err(|e| e.to_string())
        }
    }
}

/// One simulation: whether H₀ is rejected at α.
fn one_test(
    design: &Design,
    y: &[f64],
    family: Option<FamilySpec>,
    prepared: &Prepared,
    alpha: f64,
    reml: bool,
) -> Result<bool, String> {
    let p = match prepared {
        Prepared::Coef(j, method) => {
            let ddf = match method {
                CoefTest::Satterthwaite => Some(Ddf::Satterthwaite),
                CoefTest::KenwardRoger => Some(Ddf::KenwardRoger),
                _ => None,
            };
            let reml = reml || *method == CoefTest::KenwardRoger;
            let fit = fit_once(design, y, family, reml, ddf)?;
            let fe = fit
                .fixed
                .get(*j)
                .ok_or_else(|| "the fit lost a coefficient".to_string())?;
            match method {
                CoefTest::Z => multilevel_numeric::dist::p_norm_two_sided(fe.statistic),
                _ => fe.p_value.unwrap_or(f64::NAN),
            }
        }
        Prepared::Lrt(reduced, df) => {
            let full = fit_once(design, y, family, false, None)?.loglik;
            let null = match reduced {
                Some(r) => fit_once(r, y, family, false, None)?.loglik,
                None => ols_loglik(design, y)?,
            };
            p_chisq_upper((2.0 * (full - null)).max(0.0), *df)
        }
    };
    if p.is_finite() {
        Ok(p < alpha)
    } else {
        Err("the test gave no p-value".into())
    }
}

/// Progress of [`power`]: simulations done and the total, over all sizes.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Power by simulation (simr's `powerSim`, or `powerCurve` over `sizes`): see the module
/// documentation. Simulations run in parallel on rayon's threads.
///
/// # Errors
/// As [`DeNovo::new`] for the design and parameters (checked on the design as given and on
/// each extended one); an unknown test column or grouping factor; `nsim = 0`; α or the level
/// outside (0, 1). Failed fits are counted in the rows, not errors.
pub fn power(
    formula: &str,
    data: &DataFrame,
    family: Option<FamilySpec>,
    params: &NewParams,
    fit_options: &FitOptions,
    opts: &PowerOptions,
    progress: Option<Progress<'_>>,
) -> Result<PowerResult, Error> {
    if opts.nsim == 0 {
        return Err(Error::InvalidOption {
            option: "nsim",
            reason: "at least one simulation is needed; hint: use e.g. nsim = 1000".into(),
        });
    }
    for (name, v) in [("alpha", opts.alpha), ("level", opts.level)] {
        if !(v > 0.0 && v < 1.0) {
            return Err(Error::InvalidOption {
                option: if name == "alpha" { "alpha" } else { "level" },
                reason: format!("{v} is outside (0, 1)"),
            });
        }
    }
    let sizes: Vec<Option<usize>> = match &opts.along {
        None => vec![None],
        Some(_) if opts.sizes.is_empty() => {
            return Err(Error::InvalidOption {
                option: "sizes",
                reason: "growing the design needs sample sizes; hint: e.g. sizes = 20, 30, 40"
                    .into(),
            });
        }
        Some(_) => opts.sizes.iter().map(|&s| Some(s)).collect(),
    };
    let total = opts.nsim * sizes.len();
    let done = AtomicUsize::new(0);
    let mut rows = Vec::with_capacity(sizes.len());
    for size in sizes {
        let d = match (size, &opts.along) {
            (Some(s), Some(a)) => extend(data, a, s)?,
            _ => data.clone(),
        };
        let model = DeNovo::new(formula, &d, family, params, fit_options)?;
        let prepared = prepare(&model.design, &opts.test, family.is_some())?;
        let sim = Simulator::new(&model.design, &model.beta, &model.theta, model.sigma)?;
        // The stream family of this size: the seed mixed with the size.
        let seed = match size {
            Some(s) => opts.seed ^ (s as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            None => opts.seed,
        };
        let outcomes: Vec<Result<bool, String>> = (0..opts.nsim)
            .into_par_iter()
            .map(|s| {
                let glm = family.map(GlmFamily::from);
                let draw = draw_of(glm.as_ref());
                let mut rng = SplitMix64::for_stream(seed, s as u64);
                let y = sim.draw(&model.design, &draw, &mut rng);
                let r = one_test(
                    &model.design,
                    &y,
                    family,
                    &prepared,
                    opts.alpha,
                    fit_options.reml,
                );
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = progress {
                    p(n, total);
                }
                r
            })
            .collect();
        let rejections = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
        let failures = outcomes.iter().filter(|o| o.is_err()).count();
        let first_failure = outcomes.iter().find_map(|o| o.as_ref().err().cloned());
        let ok = opts.nsim - failures;
        let (lower, upper) = binomial_interval(rejections, ok, opts.level);
        let mut groups: Vec<(String, usize)> = Vec::new();
        for t in &model.design.terms {
            if !groups.iter().any(|(g, _)| *g == t.group) {
                groups.push((t.group.clone(), t.nlevels()));
            }
        }
        rows.push(PowerRow {
            size,
            nobs: model.design.nobs(),
            groups,
            nsim: opts.nsim,
            rejections,
            failures,
            power: if ok > 0 {
                rejections as f64 / ok as f64
            } else {
                f64::NAN
            },
            lower,
            upper,
            first_failure,
        });
    }
    let test = match &opts.test {
        PowerTest::Coefficient { term, method } => format!(
            "{term} = 0 by {}",
            match method {
                CoefTest::Satterthwaite => "t test, Satterthwaite df",
                CoefTest::KenwardRoger => "t test, Kenward–Roger df and SE",
                CoefTest::Z => "Wald z test",
                CoefTest::Lrt => "likelihood-ratio test (ML fits)",
            }
        ),
        PowerTest::Variance { group } => format!(
            "variance of the {group} random effects = 0 by likelihood-ratio test (ML fits, χ² not halved)"
        ),
    };
    Ok(PowerResult {
        test,
        alpha: opts.alpha,
        level: opts.level,
        nsim: opts.nsim,
        seed: opts.seed,
        along: opts.along.as_ref().map(|a| match a {
            Along::Groups(g) => format!("levels of {g}"),
            Along::Within(g) => format!("rows per level of {g}"),
        }),
        rows,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// 6 schools of 4 pupils, every other school treated.
    fn schools(n_schools: usize, m: usize) -> DataFrame {
        let labels: Vec<String> = (0..n_schools * m)
            .map(|i| format!("s{}", i / m + 1))
            .collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let treat: Vec<f64> = (0..n_schools * m)
            .map(|i| (i / m).is_multiple_of(2) as u8 as f64)
            .collect();
        DataFrame::new("schools")
            .with_strings("school", &refs)
            .unwrap()
            .with_numeric("treat", treat)
            .unwrap()
    }

    fn params(tau: f64, sigma: f64) -> NewParams {
        NewParams {
            beta: BetaSpec::Named(vec![("treat".into(), 0.5), ("(Intercept)".into(), 1.0)]),
            covariance: VarianceSpec::SdCor(vec![GroupSdCor {
                group: "school".into(),
                sd: vec![tau],
                cor: Vec::new(),
            }]),
            sigma,
        }
    }

    #[test]
    fn clopper_pearson_matches_binom_test() {
        // R: binom.test(3, 20)$conf.int = 0.03207094 0.37892683; binom.test(0, 10): 0 0.3084971
        let (lo, hi) = binomial_interval(3, 20, 0.95);
        assert!((lo - 0.032_070_94).abs() < 1e-7 && (hi - 0.378_926_83).abs() < 1e-7);
        let (lo, hi) = binomial_interval(0, 10, 0.95);
        assert!(lo == 0.0 && (hi - 0.308_497_1).abs() < 1e-6);
    }

    #[test]
    fn extend_repeats_groups_or_rows() {
        let d = schools(3, 2);
        let more = extend(&d, &Along::Groups("school".into()), 5).unwrap();
        assert_eq!(more.nrows(), 10);
        let Some(Column::Factor(f)) = more.column("school") else {
            panic!("school is a factor")
        };
        assert_eq!(f.levels, ["s1", "s2", "s3", "s1.2", "s2.2"]);
        let within = extend(&d, &Along::Within("school".into()), 3).unwrap();
        assert_eq!(within.nrows(), 9);
        assert!(extend(&d, &Along::Groups("class".into()), 3).is_err());
    }

    #[test]
    fn sd_and_theta_give_the_same_model_and_moments_follow_the_parameters() {
        let d = schools(40, 10);
        let a = DeNovo::new(
            "y ~ treat + (1 | school)",
            &d,
            None,
            &params(0.6, 2.0),
            &FitOptions::default(),
        )
        .unwrap();
        assert_eq!(a.beta(), [1.0, 0.5]);
        assert!((a.theta()[0] - 0.3).abs() < 1e-12); // θ = τ/σ
        // A one-sided formula simulates the same responses.
        let b = DeNovo::new(
            "~ treat + (1 | school)",
            &d,
            None,
            &NewParams {
                beta: BetaSpec::Values(vec![1.0, 0.5]),
                covariance: VarianceSpec::Theta(vec![0.3]),
                sigma: 2.0,
            },
            &FitOptions::default(),
        )
        .unwrap();
        let ya = a.simulate(200, 4).unwrap();
        assert_eq!(ya, b.simulate(200, 4).unwrap());
        // Mean of the control rows → 1, their variance → τ² + σ² = 4.36 (400 rows × 200
        // draws; Monte-Carlo SEs ≈ 0.007 and 0.05, bounds at about 5 SE).
        let control: Vec<f64> = ya
            .iter()
            .flat_map(|y| {
                y.iter()
                    .enumerate()
                    .filter(|(i, _)| (i / 10) % 2 == 1)
                    .map(|(_, v)| *v)
            })
            .collect();
        let n = control.len() as f64;
        let mean = control.iter().sum::<f64>() / n;
        let var = control.iter().map(|v| (v - 1.0) * (v - 1.0)).sum::<f64>() / n;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        assert!((var - 4.36).abs() < 0.3, "{var}");
    }

    #[test]
    fn power_does_not_depend_on_the_thread_count() {
        let d = schools(8, 5);
        let opts = PowerOptions {
            test: PowerTest::Coefficient {
                term: "treat".into(),
                method: CoefTest::Satterthwaite,
            },
            nsim: 12,
            seed: 7,
            along: Some(Along::Groups("school".into())),
            sizes: vec![6, 10],
            ..PowerOptions::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    power(
                        "y ~ treat + (1 | school)",
                        &d,
                        None,
                        &params(0.5, 1.0),
                        &FitOptions::default(),
                        &opts,
                        None,
                    )
                    .unwrap()
                })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one.rows.len(), 2);
        assert_eq!(one.rows[1].nobs, 50);
        assert_eq!(one.rows[1].groups, [("school".to_string(), 10)]);
        // The LRT of the school variance, whose null model has no random effects.
        let lrt = PowerOptions {
            test: PowerTest::Variance {
                group: "school".into(),
            },
            along: None,
            ..opts.clone()
        };
        let r = power(
            "y ~ treat + (1 | school)",
            &d,
            None,
            &params(0.5, 1.0),
            &FitOptions::default(),
            &lrt,
            None,
        )
        .unwrap();
        assert_eq!(r.rows[0].failures, 0);
    }

    #[test]
    fn ols_loglik_matches_r() {
        // R: logLik(lm(y ~ x)) with x = 1:5, y = c(1, 3, 2, 5, 4) is -6.27343249859.
        let d = DataFrame::new("t")
            .with_numeric("x", vec![1.0, 2.0, 3.0, 4.0, 5.0])
            .unwrap()
            .with_numeric("y", vec![1.0, 3.0, 2.0, 5.0, 4.0])
            .unwrap()
            .with_strings("g", &["a", "a", "b", "b", "b"])
            .unwrap();
        let design = build("y ~ x + (1 | g)", &d, None, &FitOptions::default())
            .unwrap()
            .0;
        let ll = ols_loglik(&design, &design.y).unwrap();
        assert!((ll + 6.273_432_498_59).abs() < 1e-9, "{ll}");
    }
}
