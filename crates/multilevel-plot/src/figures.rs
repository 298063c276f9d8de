//! The data of each figure, computed from a model's [`Design`] and its [`FitResult`].
//!
//! These functions do the statistics; the figure types only draw. They work on the plain
//! results of `multilevel-lmm`, so any fit of a linear mixed model can be plotted.

use multilevel_design::Design;
use multilevel_inference::Profiler;
use multilevel_lmm::{FitResult, LinearMixedModel, LmmOptions, RanefTable};
use multilevel_numeric::Cholesky;

use crate::{
    BoxPanel, BoxplotData, CaterpillarData, CaterpillarPanel, EstimatorLine, EstimatorsData,
    FittedLine, GroupsData, LinesPanel, PlotError, ProfileData, ProfilePanel, QqPanel,
    ResidualsData, ShrinkageData, ShrinkageGroup,
};

/// `z_{0.975}`, the half-width factor of the 95 % intervals of the caterpillar plot.
pub const Z975: f64 = 1.959_963_984_540_054;

fn lmm_options(reml: bool) -> LmmOptions {
    LmmOptions {
        reml,
        cond_var: false,
        check_convergence: false,
        ..LmmOptions::default()
    }
}

/// Column `j` of `X`.
fn x_col(design: &Design, j: usize) -> Vec<f64> {
    (0..design.nobs()).map(|i| design.x[(i, j)]).collect()
}

/// The conditional modes of `table` by level name.
fn ranef_by_level<'a>(table: &'a RanefTable, level: &str) -> Option<&'a [f64]> {
    let i = table.levels.iter().position(|l| l == level)?;
    table.values.get(i).map(Vec::as_slice)
}

/// The fitted table of the design's term `t` (same grouping factor and columns).
fn table_for<'a>(fit: &'a FitResult, design: &Design, t: usize) -> Option<&'a RanefTable> {
    let term = design.terms.get(t)?;
    fit.ranef
        .iter()
        .find(|r| r.group == term.group && r.terms == term.col_names)
}

/// The fixed effect named `name`, 0 when the model has none (a random effect without a
/// fixed counterpart has mean 0).
fn beta_named(fit: &FitResult, name: &str) -> f64 {
    fit.fixed
        .iter()
        .find(|f| f.term == name)
        .map_or(0.0, |f| f.estimate)
}

/// Data of the `groups` figure for a model `y ~ x + (x | g)`: the observations, the pooled
/// OLS line, and the group lines `β̂ + b̂_g` of the random-intercept model `y ~ x + (1 | g)`
/// (refitted from the same design) and of the model itself, with the population line
/// `β̂₀ + β̂₁ x` in each mixed panel.
///
/// # Errors
/// [`PlotError::Unsupported`] unless the design has exactly the fixed columns
/// `(Intercept), x` and one random term `(x | g)` with the same columns; the refit's error.
pub fn groups(design: &Design, reml: bool) -> Result<GroupsData, PlotError> {
    let shape_err = || {
        PlotError::Unsupported(format!(
            "the groups figure needs a model of the form `y ~ x + (x | g)` (an intercept and one covariate x, with a random intercept and slope of x for one grouping factor g), but the formula is `{}`; hint: for other models use --kind caterpillar, shrinkage, residuals or profile",
            design.formula
        ))
    };
    let [term] = design.terms.as_slice() else {
        return Err(shape_err());
    };
    if design.x_names.len() != 2
        || design.x_names[0] != "(Intercept)"
        || term.k != 2
        || term.col_names.len() != 2
        || term.col_names[0] != "(Intercept)"
        || term.col_names[1] != design.x_names[1]
    {
        return Err(shape_err());
    }
    let n = design.nobs();
    let x = x_col(design, 1);
    let y: Vec<f64> = match &design.offset {
        Some(o) => design.y.iter().zip(o).map(|(y, o)| y - o).collect(),
        None => design.y.clone(),
    };
    let group: Vec<usize> = term.refs.iter().map(|&r| r as usize).collect();
    let xname = &design.x_names[1];
    let g = &term.group;

    // Pooled OLS.
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let pooled = FittedLine {
        group: None,
        intercept: my - slope * mx,
        slope,
    };

    // Random intercept: the same design with the slope column removed from the term.
    let mut ri = design.clone();
    if let Some(t) = ri.terms.first_mut() {
        t.k = 1;
        t.z = vec![1.0; n];
        t.col_names = vec!["(Intercept)".to_string()];
        t.structure = multilevel_design::CovarianceSpec::unstructured(1);
    }
    ri.formula = format!("{} ~ {xname} + (1 | {g})", design.response_name);
    let fit_ri = LinearMixedModel::new(ri, lmm_options(reml))?.fit()?;
    let fit_rs = LinearMixedModel::new(design.clone(), lmm_options(reml))?.fit()?;

    let lines_of = |fit: &FitResult| -> Vec<FittedLine> {
        let (b0, b1) = (beta_named(fit, "(Intercept)"), beta_named(fit, xname));
        let mut lines: Vec<FittedLine> = Vec::with_capacity(term.levels.len() + 1);
        if let Some(table) = fit.ranef.first() {
            let slope_col = table.terms.iter().position(|t| t == xname);
            for (gi, level) in term.levels.iter().enumerate() {
                if let Some(b) = ranef_by_level(table, level) {
                    lines.push(FittedLine {
                        group: Some(gi),
                        intercept: b0 + b.first().copied().unwrap_or(0.0),
                        slope: b1 + slope_col.and_then(|c| b.get(c)).copied().unwrap_or(0.0),
                    });
                }
            }
        }
        lines.push(FittedLine {
            group: None,
            intercept: b0,
            slope: b1,
        });
        lines
    };
    Ok(GroupsData {
        title: format!("{} ~ {xname}: fitted lines per {g}", design.response_name),
        x_label: xname.clone(),
        y_label: design.response_name.clone(),
        x,
        y,
        group,
        group_names: term.levels.clone(),
        panels: vec![
            LinesPanel {
                title: "Pooled OLS".into(),
                lines: vec![pooled],
            },
            LinesPanel {
                title: format!("Random intercept (1 | {g})"),
                lines: lines_of(&fit_ri),
            },
            LinesPanel {
                title: format!("Random intercept and slope ({xname} | {g})"),
                lines: lines_of(&fit_rs),
            },
        ],
        note: Some(format!(
            "{} groups ({g}), one colour each; black: the pooled or population (fixed-effects) line; {} fits",
            term.levels.len(),
            if reml { "REML" } else { "ML" }
        )),
    })
}

/// Data of the `caterpillar` figure: for every random-effects term and column, the
/// conditional modes b̂ with `± 1.96 √(conditional variance)`, the levels sorted by the
/// term's first column (as lme4's `dotplot(ranef(fit, condVar = TRUE))`).
///
/// # Errors
/// [`PlotError::BadData`] when the fit has no random effects.
pub fn caterpillar(fit: &FitResult) -> Result<CaterpillarData, PlotError> {
    if fit.ranef.is_empty() {
        return Err(PlotError::BadData("the fit has no random effects".into()));
    }
    let mut panels = Vec::new();
    let mut missing_var = false;
    for table in &fit.ranef {
        let k = table.terms.len();
        let mut order: Vec<usize> = (0..table.levels.len()).collect();
        let first = |i: usize| {
            table
                .values
                .get(i)
                .and_then(|v| v.first())
                .copied()
                .unwrap_or(f64::NAN)
        };
        order.sort_by(|&a, &b| first(a).total_cmp(&first(b)));
        for (c, col) in table.terms.iter().enumerate() {
            let value = |i: usize| {
                table
                    .values
                    .get(i)
                    .and_then(|v| v.get(c))
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            let half = |i: usize| {
                let v = table
                    .cond_var
                    .get(i)
                    .and_then(|m| m.get(c * k + c))
                    .copied();
                match v {
                    Some(v) if v >= 0.0 => Z975 * v.sqrt(),
                    _ => f64::NAN,
                }
            };
            let half_width: Vec<f64> = order.iter().map(|&i| half(i)).collect();
            missing_var |= half_width.iter().any(|h| h.is_nan());
            panels.push(CaterpillarPanel {
                title: format!("{}: {col}", table.group),
                labels: order
                    .iter()
                    .map(|&i| table.levels.get(i).cloned().unwrap_or_default())
                    .collect(),
                estimate: order.iter().map(|&i| value(i)).collect(),
                half_width,
            });
        }
    }
    Ok(CaterpillarData {
        title: if missing_var {
            "Conditional modes (no conditional variances in the fit)".into()
        } else {
            "Conditional modes ± 1.96 √(conditional variance)".into()
        },
        panels,
    })
}

/// Per-group least squares of `r` on the `k` columns of `z` (row-major `n × k`) over the
/// rows `rows`, weighted by `w`; `None` when the group has fewer rows than columns or its
/// cross-product matrix is (numerically) singular.
fn group_ols(
    rows: &[usize],
    z: &[f64],
    k: usize,
    r: &[f64],
    w: Option<&[f64]>,
) -> Option<Vec<f64>> {
    if rows.len() < k || k == 0 {
        return None;
    }
    let mut a = vec![0.0; k * k];
    let mut b = vec![0.0; k];
    for &i in rows {
        let wi = w.and_then(|w| w.get(i)).copied().unwrap_or(1.0);
        let zi = z.get(i * k..(i + 1) * k)?;
        let ri = *r.get(i)?;
        for p in 0..k {
            b[p] += wi * zi[p] * ri;
            for q in 0..k {
                a[p * k + q] += wi * zi[p] * zi[q];
            }
        }
    }
    // Cholesky with a relative pivot tolerance, then the two triangular solves.
    let chol = Cholesky::with_tolerance(&a, k, 1e-10)?;
    let mut x = b;
    chol.solve_in_place(&mut x);
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Data of the `shrinkage` figure for the design's first random-effects term (the one with
/// the most levels): for each group, the mixed model's coefficients `β̂_c + b̂_gc` of the
/// term's first one or two columns `c`, and the group's own least-squares estimate.
///
/// The per-group estimate regresses the partial response `y − offset − Σ_{j∉term} x_j β̂_j`
/// (the fixed effects that are not columns of the term, held at their estimates) on the
/// term's columns, within the group, with the prior weights. Groups with fewer observations
/// than columns or a singular within-group design are skipped, and the note says how many.
/// Other random-effects terms are ignored by the per-group fits.
///
/// # Errors
/// [`PlotError::BadData`] when the fit has no conditional modes for the term.
pub fn shrinkage(design: &Design, fit: &FitResult) -> Result<ShrinkageData, PlotError> {
    let Some(term) = design.terms.first() else {
        return Err(PlotError::BadData("the model has no random effects".into()));
    };
    let Some(table) = table_for(fit, design, 0) else {
        return Err(PlotError::BadData(format!(
            "the fit has no conditional modes for the term of {}",
            term.group
        )));
    };
    let k = term.k;
    let d = k.min(2);
    let n = design.nobs();
    // Partial response: remove the fixed effects that are not columns of the term.
    let mut r: Vec<f64> = match &design.offset {
        Some(o) => design.y.iter().zip(o).map(|(y, o)| y - o).collect(),
        None => design.y.clone(),
    };
    for (j, name) in design.x_names.iter().enumerate() {
        if term.col_names.contains(name) {
            continue;
        }
        let b = beta_named(fit, name);
        for (i, ri) in r.iter_mut().enumerate().take(n) {
            *ri -= design.x[(i, j)] * b;
        }
    }
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); term.nlevels()];
    for (i, &g) in term.refs.iter().enumerate() {
        if let Some(v) = rows.get_mut(g as usize) {
            v.push(i);
        }
    }
    let population: Vec<f64> = term.col_names[..d]
        .iter()
        .map(|c| beta_named(fit, c))
        .collect();
    let mut groups = Vec::with_capacity(term.nlevels());
    let mut skipped = 0;
    for (gi, level) in term.levels.iter().enumerate() {
        let Some(b) = ranef_by_level(table, level) else {
            continue;
        };
        let ols = group_ols(&rows[gi], &term.z, k, &r, design.weights.as_deref())
            .map(|v| v[..d].to_vec());
        if ols.is_none() {
            skipped += 1;
        }
        groups.push(ShrinkageGroup {
            name: level.clone(),
            n: rows[gi].len(),
            ols,
            blup: (0..d)
                .map(|c| population[c] + b.get(c).copied().unwrap_or(0.0))
                .collect(),
        });
    }
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} of {} groups have no per-group OLS estimate (too few observations or a singular design) and show only the mixed-model point",
            term.nlevels()
        ));
    }
    if k > 2 {
        notes.push(format!("first two of the {k} random-effect columns shown"));
    }
    if design.terms.len() > 1 {
        notes.push(format!(
            "per-group fits ignore the other random-effects terms (only {} shown)",
            term.group
        ));
    }
    Ok(ShrinkageData {
        title: format!(
            "Shrinkage: per-{} OLS estimates → mixed-model coefficients",
            term.group
        ),
        coef_names: term.col_names[..d].to_vec(),
        population,
        groups,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// Data of the `residuals` figure: residuals against fitted values, the normal QQ plot of
/// the residuals, and one normal QQ plot per random-effect column (its conditional modes).
///
/// # Errors
/// [`PlotError::BadData`] when the fit has no residuals.
pub fn residuals(fit: &FitResult) -> Result<ResidualsData, PlotError> {
    if fit.residuals.is_empty() {
        return Err(PlotError::BadData("the fit has no residuals".into()));
    }
    let qq = fit
        .ranef
        .iter()
        .flat_map(|t| {
            t.terms.iter().enumerate().map(move |(c, col)| QqPanel {
                title: format!("{} {col}", t.group),
                values: t.values.iter().filter_map(|v| v.get(c).copied()).collect(),
            })
        })
        .collect();
    Ok(ResidualsData {
        title: format!("Residual diagnostics: {}", fit.formula),
        fitted: fit.fitted.clone(),
        residuals: fit.residuals.clone(),
        qq,
    })
}

// ---------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------

/// Points of a one-parameter profile: walk away from `est` in both directions with growing
/// steps until `|ζ| ≥ zmax` or the parameter's bound, then evaluate `ζ` on an even grid
/// between the estimate and the furthest point reached. `zeta(v, restart)` is called with
/// `restart = true` at the first point of each direction.
fn profile_points<Z: FnMut(f64, bool) -> f64>(
    mut zeta: Z,
    est: f64,
    h: f64,
    bounds: (f64, f64),
    zmax: f64,
    grid: usize,
) -> Vec<(f64, f64)> {
    let mut pts = vec![(est, 0.0)];
    for dir in [-1.0f64, 1.0] {
        let bound = if dir < 0.0 { bounds.0 } else { bounds.1 };
        let mut step = h;
        let mut far = est;
        let mut prev = (est, 0.0);
        let mut first = true;
        for _ in 0..40 {
            let mut v = est + dir * step;
            let at_bound = (v - bound) * dir >= 0.0;
            if at_bound {
                v = bound;
            }
            let z = zeta(v, first);
            first = false;
            if !z.is_finite() {
                break;
            }
            far = v;
            if z.abs() >= zmax {
                // End the grid about where |ζ| = zmax (linear between the last two points).
                let target = z.signum() * zmax;
                if z != prev.1 {
                    far = prev.0 + (target - prev.1) / (z - prev.1) * (v - prev.0);
                }
                break;
            }
            if at_bound {
                break;
            }
            prev = (v, z);
            step *= 1.5;
        }
        if far == est {
            continue;
        }
        for i in 1..=grid {
            let v = est + (far - est) * i as f64 / grid as f64;
            let z = zeta(v, i == 1);
            if z.is_finite() {
                pts.push((v, z));
            }
        }
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Options of [`profile`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileOptions {
    /// The profile of each parameter extends to `|ζ| = zmax` (or the parameter's bound).
    pub zmax: f64,
    /// Points per side of the estimate.
    pub points_per_side: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            zmax: 2.7,
            points_per_side: 10,
        }
    }
}

/// Data of the `profile` figure: the signed square root of the profiled **ML** deviance,
/// `ζ(φ) = sign(φ − φ̂) √(min_{other parameters} d(φ, …) − d̂)`, of each of lme4's profile
/// parameters — the standard deviations and correlations of the random effects, σ, and the
/// fixed effects — as `profile(fit)` computes it (a REML fit is profiled through its ML refit,
/// as lme4 does).
///
/// `ζ` comes from [`multilevel_inference::Profiler`], the same profiles whose crossings with
/// `∓z` give the profile confidence intervals; here each is sampled on an even grid up to
/// `|ζ| = zmax`. A straight line in these panels means a quadratic log-likelihood, where Wald
/// intervals are exact.
///
/// # Errors
/// [`PlotError::Unsupported`] for fits that are not linear mixed models; the profiler's error.
pub fn profile(
    design: &Design,
    fit: &FitResult,
    opts: &ProfileOptions,
) -> Result<ProfileData, PlotError> {
    if fit.family != "gaussian" || fit.link != "identity" {
        return Err(PlotError::Unsupported(format!(
            "profiles are available for linear mixed models only, not for a {} GLMM; hint: use --kind caterpillar or residuals",
            fit.family
        )));
    }
    let zmax = if opts.zmax > 0.5 { opts.zmax } else { 2.7 };
    let grid = opts.points_per_side.clamp(2, 100);
    let mut profiler = Profiler::new(design, fit)?;
    let params = profiler.parameters().to_vec();
    let panels = params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let points = profile_points(
                |v, restart| {
                    if restart {
                        profiler.reset(i);
                    }
                    profiler.zeta(i, v)
                },
                p.estimate,
                p.step,
                p.bounds,
                zmax,
                grid,
            );
            ProfilePanel {
                name: p.name,
                estimate: p.estimate,
                points,
            }
        })
        .collect();
    Ok(ProfileData {
        title: format!("Profile ζ: {}", design.formula),
        panels,
        levels: vec![0.5, 0.8, 0.9, 0.95, 0.99],
        note: Some(
            "signed square root of the profiled ML deviance (as lme4's profile()); grey lines: ζ = ±z of the 50, 80, 90, 95 and 99 % levels"
                .into(),
        ),
    })
}

/// The response less its offset, if any.
fn response_less_offset(design: &Design) -> Vec<f64> {
    match &design.offset {
        Some(o) => design.y.iter().zip(o).map(|(y, o)| y - o).collect(),
        None => design.y.clone(),
    }
}

/// Data of the `boxplot` figure: the response by level of the first grouping factor of the
/// formula, raw and centred on the group means (the within-group spread the random intercept
/// leaves to the residual), groups sorted by their raw median.
///
/// # Errors
/// [`PlotError::Unsupported`] when the formula has no random-effects term.
pub fn boxplot(design: &Design) -> Result<BoxplotData, PlotError> {
    let Some(term) = design.terms.iter().min_by_key(|t| t.formula_order) else {
        return Err(PlotError::Unsupported(format!(
            "the boxplot figure shows the response by group, but the formula `{}` has no grouping factor; hint: add a random-effects term such as `(1 | g)`",
            design.formula
        )));
    };
    let y = response_less_offset(design);
    let ng = term.levels.len();
    let mut raw: Vec<Vec<f64>> = vec![Vec::new(); ng];
    for (&v, &g) in y.iter().zip(&term.refs) {
        if let Some(bucket) = raw.get_mut(g as usize) {
            bucket.push(v);
        }
    }
    let median = |v: &[f64]| crate::BoxStats::of(v).map_or(f64::INFINITY, |s| s.median);
    let mut order: Vec<usize> = (0..ng).filter(|&g| !raw[g].is_empty()).collect();
    order.sort_by(|&a, &b| median(&raw[a]).total_cmp(&median(&raw[b])).then(a.cmp(&b)));
    let centred: Vec<Vec<f64>> = order
        .iter()
        .map(|&g| {
            let v = &raw[g];
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| x - mean).collect()
        })
        .collect();
    let r = &design.response_name;
    let g = &term.group;
    Ok(BoxplotData {
        title: format!("{r} by {g}"),
        x_label: g.clone(),
        group_names: order.iter().map(|&i| term.levels[i].clone()).collect(),
        panels: vec![
            BoxPanel {
                title: r.clone(),
                values: order.iter().map(|&i| raw[i].clone()).collect(),
            },
            BoxPanel {
                title: format!("{r} minus its {g} mean"),
                values: centred,
            },
        ],
        note: Some(format!(
            "{} groups by median; boxes: Tukey's hinges and median; whiskers: 1.5 box lengths",
            order.len()
        )),
    })
}

/// Data of the `estimators` figure for a model `y ~ x + (… | g)`: the slope of y on x by
/// pooled OLS, between groups (OLS on the group means), within groups (OLS on the deviations
/// from the group means; the line passes through the grand means) and random effects (the
/// random-intercept mixed model `y ~ x + (1 | g)`, REML or ML as asked), as the exploratory
/// workflow's table of estimators reports them.
///
/// # Errors
/// [`PlotError::Unsupported`] unless the fixed part is `(Intercept), x` with a grouping
/// factor; [`PlotError::BadData`] when x does not vary within or between groups; the refit's
/// error.
pub fn estimators(design: &Design, reml: bool) -> Result<EstimatorsData, PlotError> {
    let term = design.terms.iter().min_by_key(|t| t.formula_order);
    let (Some(term), true) = (
        term,
        design.x_names.len() == 2 && design.x_names[0] == "(Intercept)",
    ) else {
        return Err(PlotError::Unsupported(format!(
            "the estimators figure needs a model of the form `y ~ x + (1 | g)` (an intercept, one covariate x and a grouping factor g), but the formula is `{}`; hint: for other models use --kind caterpillar, shrinkage, residuals or profile",
            design.formula
        )));
    };
    let n = design.nobs();
    let x = x_col(design, 1);
    let y = response_less_offset(design);
    let ng = term.levels.len();
    let mut sums = vec![(0.0, 0.0, 0usize); ng];
    for ((&xi, &yi), &g) in x.iter().zip(&y).zip(&term.refs) {
        if let Some(s) = sums.get_mut(g as usize) {
            s.0 += xi;
            s.1 += yi;
            s.2 += 1;
        }
    }
    let means: Vec<(f64, f64)> = sums
        .iter()
        .filter(|s| s.2 > 0)
        .map(|&(sx, sy, c)| (sx / c as f64, sy / c as f64))
        .collect();
    let ols = |pts: &mut dyn Iterator<Item = (f64, f64)>| -> Option<(f64, f64)> {
        let pts: Vec<(f64, f64)> = pts.collect();
        let m = pts.len() as f64;
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / m,
            pts.iter().map(|p| p.1).sum::<f64>() / m,
        );
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        (sxx > 0.0).then(|| (my - sxy / sxx * mx, sxy / sxx))
    };
    let no_variation = |what: &str| {
        PlotError::BadData(format!(
            "`{}` does not vary {what}, so its {what} slope is not defined",
            design.x_names[1]
        ))
    };
    let pooled =
        ols(&mut x.iter().copied().zip(y.iter().copied())).ok_or_else(|| no_variation("at all"))?;
    let between = ols(&mut means.iter().copied()).ok_or_else(|| no_variation("between groups"))?;
    let group_mean = |i: usize| {
        let (sx, sy, c) = sums[term.refs[i] as usize];
        (sx / c as f64, sy / c as f64)
    };
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..n {
        let (mx, my) = group_mean(i);
        sxx += (x[i] - mx).powi(2);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if sxx <= 0.0 {
        return Err(no_variation("within groups"));
    }
    let within_slope = sxy / sxx;
    let (gx, gy) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );

    // The random-intercept model on the same rows and grouping factor.
    let mut ri = design.clone();
    let mut t = term.clone();
    t.k = 1;
    t.z = vec![1.0; n];
    t.col_names = vec!["(Intercept)".to_string()];
    t.structure = multilevel_design::CovarianceSpec::unstructured(1);
    t.formula_order = 0;
    ri.terms = vec![t];
    ri.formula = format!(
        "{} ~ {} + (1 | {})",
        design.response_name, design.x_names[1], term.group
    );
    let fit = LinearMixedModel::new(ri, lmm_options(reml))?.fit()?;
    let line = |label: &str, (intercept, slope): (f64, f64)| EstimatorLine {
        label: label.to_string(),
        intercept,
        slope,
    };
    Ok(EstimatorsData {
        title: format!(
            "{} ~ {}: four estimators of the slope ({})",
            design.response_name, design.x_names[1], term.group
        ),
        x_label: design.x_names[1].clone(),
        y_label: design.response_name.clone(),
        x,
        y,
        group_means: means,
        lines: vec![
            line("OLS", pooled),
            line("between", between),
            line("within", (gy - within_slope * gx, within_slope)),
            line(
                "random effects",
                (
                    beta_named(&fit, "(Intercept)"),
                    beta_named(&fit, &design.x_names[1]),
                ),
            ),
        ],
        note: Some(format!(
            "grey: observations; black: the {} {} means; random effects: y ~ x + (1 | {}), {}",
            ng,
            term.group,
            term.group,
            if reml { "REML" } else { "ML" }
        )),
    })
}
