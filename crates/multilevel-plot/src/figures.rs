//! The data of each figure, computed from a model's [`Design`] and its [`FitResult`].
//!
//! These functions do the statistics; the figure types only draw. They work on the plain
//! results of `multilevel-lmm`, so any fit of a linear mixed model can be plotted.

use multilevel_design::Design;
use multilevel_lmm::{FitResult, LinearMixedModel, LmmOptions, ProfiledDeviance, RanefTable};

use crate::{
    CaterpillarData, CaterpillarPanel, FittedLine, GroupsData, LinesPanel, PlotError, ProfileData,
    ProfilePanel, QqPanel, ResidualsData, ShrinkageData, ShrinkageGroup,
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
    // Cholesky with a relative pivot tolerance, then two triangular solves.
    let scale = (0..k).map(|p| a[p * k + p]).fold(0.0f64, f64::max);
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let mut l = vec![0.0f64; k * k];
    for c in 0..k {
        let d = a[c * k + c] - (0..c).map(|j| l[c * k + j].powi(2)).sum::<f64>();
        if d.is_nan() || d <= 1e-10 * scale {
            return None;
        }
        let dc = d.sqrt();
        l[c * k + c] = dc;
        for r2 in c + 1..k {
            let s = a[r2 * k + c] - (0..c).map(|j| l[r2 * k + j] * l[c * k + j]).sum::<f64>();
            l[r2 * k + c] = s / dc;
        }
    }
    let mut u = vec![0.0; k];
    for p in 0..k {
        u[p] = (b[p] - (0..p).map(|j| l[p * k + j] * u[j]).sum::<f64>()) / l[p * k + p];
    }
    let mut x = vec![0.0; k];
    for p in (0..k).rev() {
        x[p] = (u[p] - (p + 1..k).map(|j| l[j * k + p] * x[j]).sum::<f64>()) / l[p * k + p];
    }
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

/// Nelder–Mead minimisation of `f` from `x0` with initial simplex steps `step`; restarts
/// from the best point while a restart still improves by more than `tol`.
fn nelder_mead<F: FnMut(&[f64]) -> f64>(
    mut f: F,
    x0: &[f64],
    step: &[f64],
    tol: f64,
) -> (Vec<f64>, f64) {
    let m = x0.len();
    let mut best = x0.to_vec();
    let mut fbest = f(&best);
    if m == 0 {
        return (best, fbest);
    }
    let mut evals = 1usize;
    let max_evals = 400 * (m + 1);
    for restart in 0..4 {
        let shrink = if restart == 0 { 1.0 } else { 0.1 };
        let mut pts = vec![best.clone()];
        let mut fv = vec![fbest];
        for i in 0..m {
            let mut p = best.clone();
            let h = step.get(i).copied().unwrap_or(0.1) * shrink;
            p[i] += if h == 0.0 { 1e-3 } else { h };
            fv.push(f(&p));
            pts.push(p);
            evals += 1;
        }
        loop {
            let mut idx: Vec<usize> = (0..=m).collect();
            idx.sort_by(|&a, &b| fv[a].total_cmp(&fv[b]));
            pts = idx.iter().map(|&i| pts[i].clone()).collect();
            fv = idx.iter().map(|&i| fv[i]).collect();
            let spread = fv[m] - fv[0];
            if (spread.is_finite() && spread <= tol) || evals >= max_evals {
                break;
            }
            let cen: Vec<f64> = (0..m)
                .map(|j| pts[..m].iter().map(|p| p[j]).sum::<f64>() / m as f64)
                .collect();
            let along = |t: f64| -> Vec<f64> {
                (0..m).map(|j| cen[j] + t * (pts[m][j] - cen[j])).collect()
            };
            let xr = along(-1.0);
            let fr = f(&xr);
            evals += 1;
            if fr < fv[0] {
                let xe = along(-2.0);
                let fe = f(&xe);
                evals += 1;
                (pts[m], fv[m]) = if fe < fr { (xe, fe) } else { (xr, fr) };
            } else if fr < fv[m - 1] {
                (pts[m], fv[m]) = (xr, fr);
            } else {
                let xc = along(if fr < fv[m] { -0.5 } else { 0.5 });
                let fc = f(&xc);
                evals += 1;
                if fc < fv[m].min(fr) {
                    (pts[m], fv[m]) = (xc, fc);
                } else {
                    for i in 1..=m {
                        let p: Vec<f64> = (0..m)
                            .map(|j| pts[0][j] + 0.5 * (pts[i][j] - pts[0][j]))
                            .collect();
                        fv[i] = f(&p);
                        pts[i] = p;
                        evals += 1;
                    }
                }
            }
        }
        let gain = fbest - fv[0];
        if fv[0] < fbest {
            best = pts[0].clone();
            fbest = fv[0];
        }
        if gain.is_nan() || gain <= tol || evals >= max_evals {
            break;
        }
    }
    (best, fbest)
}

/// Kind of a variance parameter on lme4's profile scale.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SvKind {
    Sd,
    Cor,
    Sigma,
}

/// lme4's profile parameters of the random effects (θ order, diagonal elements as standard
/// deviations, off-diagonal ones as correlations) and σ: names and kinds.
fn sv_layout(design: &Design) -> Vec<(String, SvKind)> {
    let mut out = Vec::new();
    for t in &design.terms {
        for c in 0..t.k {
            for r in c..t.k {
                let (cn, rn) = (&t.col_names[c], &t.col_names[r]);
                if r == c {
                    out.push((format!("sd_{cn}|{}", t.group), SvKind::Sd));
                } else {
                    out.push((format!("cor_{rn}.{cn}|{}", t.group), SvKind::Cor));
                }
            }
        }
    }
    out.push(("sigma".to_string(), SvKind::Sigma));
    out
}

/// θ and σ → standard deviations, correlations and σ.
fn theta_to_sv(design: &Design, theta: &[f64], sigma: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(theta.len() + 1);
    let mut off = 0;
    for t in &design.terms {
        let k = t.k;
        let mut lam = vec![0.0; k * k];
        for c in 0..k {
            for r in c..k {
                lam[r * k + c] = theta.get(off).copied().unwrap_or(0.0);
                off += 1;
            }
        }
        let cov = |a: usize, b: usize| (0..k).map(|j| lam[a * k + j] * lam[b * k + j]).sum::<f64>();
        for c in 0..k {
            for r in c..k {
                if r == c {
                    out.push(sigma * cov(c, c).sqrt());
                } else {
                    let den = (cov(r, r) * cov(c, c)).sqrt();
                    out.push(if den > 0.0 { cov(r, c) / den } else { 0.0 });
                }
            }
        }
    }
    out.push(sigma);
    out
}

/// Standard deviations (absolute values taken), correlations and σ → θ and σ; `None` when
/// σ ≤ 0, a correlation is outside [−1, 1] or a term's correlation matrix is not positive
/// semi-definite.
fn sv_to_theta(design: &Design, sv: &[f64]) -> Option<(Vec<f64>, f64)> {
    let sigma = *sv.last()?;
    if sigma.is_nan() || sigma <= 0.0 {
        return None;
    }
    let mut theta = Vec::with_capacity(sv.len() - 1);
    let mut off = 0;
    for t in &design.terms {
        let k = t.k;
        // Relative covariance C = diag(s) R diag(s) / σ².
        let mut s = vec![0.0; k];
        let mut rho = vec![0.0; k * k];
        let mut idx = off;
        for c in 0..k {
            for r in c..k {
                let v = *sv.get(idx)?;
                if r == c {
                    s[c] = v.abs() / sigma;
                } else {
                    if !(-1.0..=1.0).contains(&v) {
                        return None;
                    }
                    rho[r * k + c] = v;
                }
                idx += 1;
            }
        }
        let cmat = |a: usize, b: usize| {
            if a == b {
                s[a] * s[a]
            } else {
                rho[a.max(b) * k + a.min(b)] * s[a] * s[b]
            }
        };
        let mut l = vec![0.0f64; k * k];
        for c in 0..k {
            let d = cmat(c, c) - (0..c).map(|j| l[c * k + j].powi(2)).sum::<f64>();
            if d < -1e-10 * (1.0 + cmat(c, c)) {
                return None;
            }
            let dc = d.max(0.0).sqrt();
            l[c * k + c] = dc;
            for r in c + 1..k {
                let v = cmat(r, c) - (0..c).map(|j| l[r * k + j] * l[c * k + j]).sum::<f64>();
                l[r * k + c] = if dc > 0.0 { v / dc } else { 0.0 };
            }
        }
        for c in 0..k {
            for r in c..k {
                theta.push(l[r * k + c]);
            }
        }
        off = idx;
    }
    Some((theta, sigma))
}

/// ML deviance `d(θ, σ) = log|L_θ|² − Σ log wᵢ + r²(θ)/σ² + n log(2πσ²)` (β at its
/// conditional optimum).
fn ml_deviance(dev: &mut ProfiledDeviance, theta: &[f64], sigma: f64) -> f64 {
    let Some(f) = dev.factor_summary(theta) else {
        return f64::INFINITY;
    };
    let n = dev.nobs() as f64;
    let s2 = sigma * sigma;
    f.ld_l2 - dev.log_det_w() + f.pwrss / s2 + n * (2.0 * std::f64::consts::PI * s2).ln()
}

/// θ with its diagonal elements made non-negative.
fn fold_theta(lower: &[f64], x: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(lower)
        .map(|(v, l)| if *l == 0.0 { v.abs() } else { *v })
        .collect()
}

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
/// For a variance parameter the ML deviance `d(θ, σ)` is minimised over the other standard
/// deviations, correlations and σ by Nelder–Mead (warm-started from the previous point); for
/// a fixed effect `β_j` the term `x_j β_j` is moved into the response and the profiled ML
/// deviance of the reduced model is minimised over θ. A straight line in these panels means
/// a quadratic log-likelihood, where Wald intervals are exact.
///
/// # Errors
/// [`PlotError::Unsupported`] for fits that are not linear mixed models; the ML refit's error.
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
    let mlfit = LinearMixedModel::new(design.clone(), lmm_options(false))?.fit()?;
    let mut dev = ProfiledDeviance::new(design, false);
    let lower = design.theta_lower();
    let theta_hat = fold_theta(&lower, &mlfit.theta);
    let Some(fs) = dev.factor_summary(&theta_hat) else {
        return Err(PlotError::BadData(
            "the ML optimum could not be factored".into(),
        ));
    };
    let n = design.nobs() as f64;
    let sigma_hat = (fs.pwrss / n).sqrt();
    let base = ml_deviance(&mut dev, &theta_hat, sigma_hat);
    let sv_hat = theta_to_sv(design, &theta_hat, sigma_hat);
    let layout = sv_layout(design);
    let nsv = sv_hat.len();
    let mut panels = Vec::with_capacity(nsv + design.p());

    for i in 0..nsv {
        let (name, kind) = layout[i].clone();
        let others: Vec<usize> = (0..nsv).filter(|&j| j != i).collect();
        let start: Vec<f64> = others.iter().map(|&j| sv_hat[j]).collect();
        let steps: Vec<f64> = others
            .iter()
            .map(|&j| match layout[j].1 {
                SvKind::Cor => 0.05,
                _ => 0.05 * sv_hat[j].abs().max(1e-3),
            })
            .collect();
        let mut rest = start.clone();
        let mut zeta = |v: f64, restart: bool| -> f64 {
            if restart {
                rest.clone_from(&start);
            }
            let eval = |r: &[f64]| -> f64 {
                let mut sv = Vec::with_capacity(nsv);
                let mut it = r.iter();
                for j in 0..nsv {
                    sv.push(if j == i {
                        v
                    } else {
                        it.next().copied().unwrap_or(0.0)
                    });
                }
                match sv_to_theta(design, &sv) {
                    Some((theta, sigma)) => ml_deviance(&mut dev, &theta, sigma),
                    None => f64::INFINITY,
                }
            };
            let (r, d) = nelder_mead(eval, &rest, &steps, 1e-9);
            if d.is_finite() {
                rest = r;
            }
            (v - sv_hat[i]).signum() * (d - base).max(0.0).sqrt()
        };
        let est = sv_hat[i];
        let (h, bounds) = match kind {
            SvKind::Sigma => (0.05 * est, (1e-3 * est, f64::INFINITY)),
            SvKind::Sd => (0.1 * est.max(1e-3 * sigma_hat), (0.0, f64::INFINITY)),
            SvKind::Cor => (0.1, (-1.0, 1.0)),
        };
        let points = profile_points(&mut zeta, est, h, bounds, zmax, grid);
        panels.push(ProfilePanel {
            name,
            estimate: est,
            points,
        });
    }

    let p = design.p();
    let nth = design.n_theta();
    for j in 0..p {
        let Some(bj) = mlfit.fixed.get(j).map(|f| f.estimate) else {
            continue;
        };
        let se = mlfit.fixed[j].std_error;
        let mut reduced = design.clone();
        let keep: Vec<usize> = (0..p).filter(|&a| a != j).collect();
        reduced.x = faer::Mat::from_fn(design.nobs(), p - 1, |r, c| design.x[(r, keep[c])]);
        reduced.x_names = keep.iter().map(|&a| design.x_names[a].clone()).collect();
        reduced.x_assign = keep
            .iter()
            .map(|&a| design.x_assign.get(a).copied().unwrap_or(0))
            .collect();
        let xj = x_col(design, j);
        let mut rdev = ProfiledDeviance::new(&reduced, false);
        let mut th = theta_hat.clone();
        let mut y = vec![0.0; design.nobs()];
        let mut zeta = |b: f64, restart: bool| -> f64 {
            if restart {
                th.clone_from(&theta_hat);
            }
            for (r, yr) in y.iter_mut().enumerate() {
                *yr = design.y[r] - xj[r] * b;
            }
            rdev.set_response(&reduced, &y);
            let (t, d) = nelder_mead(
                |x| rdev.objective(&fold_theta(&lower, x)),
                &th,
                &vec![0.05; nth],
                1e-9,
            );
            if d.is_finite() {
                th = t;
            }
            (b - bj).signum() * (d - base).max(0.0).sqrt()
        };
        let h = if se.is_finite() && se > 0.0 {
            0.5 * se
        } else {
            0.1 * bj.abs().max(1e-3)
        };
        let points = profile_points(
            &mut zeta,
            bj,
            h,
            (f64::NEG_INFINITY, f64::INFINITY),
            zmax,
            grid,
        );
        panels.push(ProfilePanel {
            name: design.x_names[j].clone(),
            estimate: bj,
            points,
        });
    }
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
