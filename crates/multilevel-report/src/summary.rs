//! The content of lme4's `summary()` printout, computed once as formatted strings so the text and
//! markdown renderers show the same numbers.

use crate::num::{
    abbreviate, format_num, format_pval, format_vec, round_to, signif_stars, zapsmall,
};
use multilevel_lmm::{FitResult, Method};

/// Significant digits of the summary tables (lme4: `max(3, getOption("digits") - 3)` = 4).
pub const DIGITS: usize = 4;

/// Largest number of fixed effects for which the correlation matrix is printed
/// (lme4's `getOption("lme4.summary.cor.max")`).
pub const MAX_COR: usize = 12;

/// Legend printed under a coefficient table that has significance stars.
pub const SIGNIF_LEGEND: &str = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1";

/// Fit criterion section: REML criterion, or lme4's AIC/BIC/logLik/deviance/df.resid table.
#[derive(Debug, Clone)]
pub enum Criterion {
    /// `REML criterion at convergence: …` (value already rounded and formatted).
    Reml(String),
    /// Names and formatted values (`AIC`, `BIC`, `logLik`, `deviance`, `df.resid`).
    Table(Vec<String>, Vec<String>),
}

/// A formatted table: column headers, row names (may be empty) and cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Row names (`(Intercept)`, …); empty when the table has none.
    pub rownames: Vec<String>,
    /// Cells, `cells[row][col]`.
    pub cells: Vec<Vec<String>>,
}

/// Fixed-effect correlation section.
#[derive(Debug, Clone)]
pub enum FixedCorr {
    /// Nothing to show (p ≤ 1 or no matrix in the fit).
    None,
    /// Not shown because p exceeds [`MAX_COR`].
    TooMany(usize),
    /// The lower triangle with abbreviated names.
    Shown(Table),
}

/// Everything `summary()` prints, as strings.
#[derive(Debug, Clone)]
pub struct Summary {
    /// lme4's title without the class tag, e.g. `Linear mixed model fit by REML`.
    pub title: String,
    /// Class tag lme4 appends, e.g. `lmerMod`.
    pub class: String,
    /// Whether lme4 puts two spaces before the class tag (ML fits).
    pub wide_gap: bool,
    /// `Family: binomial  ( logit )` for non-Gaussian fits.
    pub family: Option<String>,
    /// Model formula.
    pub formula: String,
    /// Data name (may be empty).
    pub data: String,
    /// Fit criterion.
    pub criterion: Criterion,
    /// Scaled residual quantiles (names, formatted values).
    pub resid: (Vec<String>, Vec<String>),
    /// Random-effects table (no row names).
    pub random: Table,
    /// `Number of obs: 180, groups:  Subject, 18`.
    pub nobs_line: String,
    /// Number of observations.
    pub nobs: usize,
    /// `Subject, 18; Batch, 6` part.
    pub groups_text: String,
    /// Fixed-effects coefficient table.
    pub fixed: Table,
    /// Whether the significance legend applies.
    pub stars: bool,
    /// Fixed-effect correlations.
    pub fixed_corr: FixedCorr,
    /// Intraclass correlation `(group, value)` for a single random-intercept model.
    pub icc: Option<(String, String)>,
    /// Warnings of the fit.
    pub warnings: Vec<String>,
    /// Lines labelling the cross-level interactions among the fixed effects.
    pub cross_level: Vec<String>,
    /// A count GLMM's overdispersion line ([`crate::OverdispersionNote::line`]).
    pub overdispersion: Option<String>,
}

impl Summary {
    /// The title line as lme4 prints it, with its class tag.
    pub fn title_line(&self) -> String {
        let gap = if self.wide_gap { "  " } else { " " };
        format!("{}{gap}['{}']", self.title, self.class)
    }
}

/// Whether the fit is a Gaussian linear mixed model.
pub fn is_lmm(fit: &FitResult) -> bool {
    matches!(fit.method, Method::Reml | Method::Ml) && fit.family.eq_ignore_ascii_case("gaussian")
}

/// Intraclass correlation τ²/(τ²+σ²) for a Gaussian model whose only random effect is one random
/// intercept; `None` otherwise.
pub fn icc(fit: &FitResult) -> Option<(String, f64)> {
    let [re] = fit.random.as_slice() else {
        return None;
    };
    let resid = fit.residual.as_ref()?;
    if !is_lmm(fit) || re.term != "(Intercept)" {
        return None;
    }
    let total = re.variance + resid.variance;
    (total > 0.0 && total.is_finite()).then(|| (re.group.clone(), re.variance / total))
}

fn title(fit: &FitResult, df_method: Option<&str>, n_agq: Option<usize>) -> (String, String, bool) {
    let has_df = fit.fixed.iter().any(|f| f.df.is_some());
    let df_text = match df_method {
        Some(m) => format!("{m}'s method"),
        None => "approximate denominator df".to_string(),
    };
    match fit.method {
        Method::Reml | Method::Ml => {
            let crit = if fit.method == Method::Reml {
                "REML"
            } else {
                "maximum likelihood"
            };
            if has_df {
                (
                    format!("Linear mixed model fit by {crit}. t-tests use {df_text}"),
                    "lmerModLmerTest".into(),
                    false,
                )
            } else {
                (
                    format!("Linear mixed model fit by {crit}"),
                    "lmerMod".into(),
                    fit.method == Method::Ml,
                )
            }
        }
        // lme4 names nAGQ = 0 (PIRLS for β and u together) and nAGQ > 1 "Adaptive
        // Gauss-Hermite Quadrature, nAGQ = n"; nAGQ = 1 is the Laplace approximation.
        Method::Laplace | Method::Agq => {
            let how = match n_agq {
                Some(n) if n != 1 => format!("Adaptive Gauss-Hermite Quadrature, nAGQ = {n}"),
                _ if fit.method == Method::Agq => "Adaptive Gauss-Hermite Quadrature".to_string(),
                _ => "Laplace Approximation".to_string(),
            };
            (
                format!("Generalized linear mixed model fit by maximum likelihood ({how})"),
                "glmerMod".into(),
                false,
            )
        }
    }
}

fn criterion(fit: &FitResult) -> Criterion {
    if fit.method == Method::Reml {
        return Criterion::Reml(format_num(round_to(fit.objective, 1), 7));
    }
    // A GLMM's line is lme4's `AIC BIC logLik -2*log(L) df.resid`: −2·logLik, not the sum of
    // squared deviance residuals that its `deviance()` returns.
    let glmm = matches!(fit.method, Method::Laplace | Method::Agq);
    let names: Vec<String> = [
        "AIC",
        "BIC",
        "logLik",
        if glmm { "-2*log(L)" } else { "deviance" },
        "df.resid",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dev = if glmm {
        -2.0 * fit.loglik
    } else {
        fit.deviance.unwrap_or(f64::NAN)
    };
    let vals: Vec<f64> = [fit.aic, fit.bic, fit.loglik, dev, fit.df_resid]
        .iter()
        .map(|&x| round_to(x, 1))
        .collect();
    let mut f = format_vec(&vals, 7, 0);
    if fit.deviance.is_none() && !glmm {
        f[3] = "NA".into();
    }
    f[4] = format_num(vals[4], 7);
    Criterion::Table(names, f)
}

fn residuals(fit: &FitResult) -> (Vec<String>, Vec<String>) {
    let names = ["Min", "1Q", "Median", "3Q", "Max"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let z = zapsmall(&fit.scaled_residuals, DIGITS as i32 + 1);
    (names, format_vec(&z, DIGITS, 0))
}

/// Looks up the correlation between two random effects of a group (either order).
fn lookup_corr(fit: &FitResult, group: &str, a: &str, b: &str) -> Option<f64> {
    fit.correlations
        .iter()
        .find(|c| {
            c.group == group && ((c.term1 == a && c.term2 == b) || (c.term1 == b && c.term2 == a))
        })
        .map(|c| c.corr)
}

/// Splits `fit.random` into random-effects terms: consecutive rows of one group that are linked by
/// correlations. Returns `(start, len)` pairs.
fn terms(fit: &FitResult) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, vc) in fit.random.iter().enumerate() {
        let joins = i > 0 && {
            let prev = &fit.random[i - 1];
            prev.group == vc.group && lookup_corr(fit, &vc.group, &prev.term, &vc.term).is_some()
        };
        match out.last_mut() {
            Some(last) if joins => last.1 += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

fn random_table(fit: &FitResult) -> Table {
    let blocks = terms(fit);
    let mut variances: Vec<f64> = fit.random.iter().map(|r| r.variance).collect();
    let mut sds: Vec<f64> = fit.random.iter().map(|r| r.std_dev).collect();
    if let Some(res) = &fit.residual {
        variances.push(res.variance);
        sds.push(res.std_dev);
    }
    let var_s = format_vec(&variances, DIGITS, 0);
    let sd_s = format_vec(&sds, DIGITS, 0);
    // A structured term (lme4 2.0's diag, cs, ar1) shows no correlation matrix: `diag` none,
    // `cs` and `ar1` their one ρ as `0.705 (ar1)` on the term's first row (glmmTMB's and
    // lme4 2.0's layout).
    let structure_of = |start: usize| {
        let first = &fit.random[start];
        fit.structures
            .iter()
            .find(|s| s.group == first.group && s.columns.first() == Some(&first.term))
    };
    let corr_columns = |start: usize, len: usize| match structure_of(start) {
        None => len.saturating_sub(1),
        Some(s) => usize::from(s.rho.is_some()),
    };
    let ncorr = blocks
        .iter()
        .map(|&(start, len)| corr_columns(start, len))
        .max()
        .unwrap_or(0);
    let nrow = variances.len();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); nrow];
    // Group names, made unique like R's make.unique ("Subject", "Subject.1").
    let mut seen: Vec<(String, usize)> = Vec::new();
    for &(start, len) in &blocks {
        let g = &fit.random[start].group;
        let label = match seen.iter_mut().find(|(n, _)| n == g) {
            Some((_, k)) => {
                let l = format!("{g}.{k}");
                *k += 1;
                l
            }
            None => {
                seen.push((g.clone(), 1));
                g.clone()
            }
        };
        if let Some(st) = structure_of(start) {
            for a in 0..len {
                let row = start + a;
                let mut r = vec![
                    if a == 0 { label.clone() } else { String::new() },
                    fit.random[row].term.clone(),
                    var_s[row].clone(),
                    sd_s[row].clone(),
                ];
                r.extend(std::iter::repeat_n(String::new(), ncorr));
                if let (0, Some(rho), Some(cell)) = (a, st.rho, r.get_mut(4)) {
                    // R's format(round(ρ, 3), nsmall = 3).
                    *cell = format!("{:.3} ({})", round_to(rho, 3), st.structure);
                }
                cells[row] = r;
            }
            continue;
        }
        // Correlation matrix of the term, rounded to 2 decimals and formatted as one unit.
        let mut corr = vec![f64::NAN; len * len];
        for a in 0..len {
            for b in 0..len {
                corr[a * len + b] = if a == b {
                    1.0
                } else {
                    let (ta, tb) = (&fit.random[start + a].term, &fit.random[start + b].term);
                    lookup_corr(fit, g, ta, tb).unwrap_or(f64::NAN)
                };
            }
        }
        let rounded: Vec<f64> = corr.iter().map(|&c| round_to(c, 2)).collect();
        let finite: Vec<f64> = rounded.iter().copied().filter(|c| c.is_finite()).collect();
        let width = format_vec(&finite, 7, 2).first().map_or(0, |s| s.len());
        for a in 0..len {
            let row = start + a;
            let mut r = vec![
                if a == 0 { label.clone() } else { String::new() },
                fit.random[row].term.clone(),
                var_s[row].clone(),
                sd_s[row].clone(),
            ];
            for b in 0..ncorr {
                let v = if b < a {
                    rounded[a * len + b]
                } else {
                    f64::NAN
                };
                r.push(if v.is_finite() {
                    let s = format_vec(&[v], 7, 2).pop().unwrap_or_default();
                    format!("{s:>width$}")
                } else {
                    String::new()
                });
            }
            cells[row] = r;
        }
    }
    if fit.residual.is_some() {
        let row = nrow - 1;
        let mut r = vec![
            "Residual".to_string(),
            String::new(),
            var_s[row].clone(),
            sd_s[row].clone(),
        ];
        r.extend(std::iter::repeat_n(String::new(), ncorr));
        cells[row] = r;
    }
    let mut headers: Vec<String> = ["Groups", "Name", "Variance", "Std.Dev."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for b in 0..ncorr {
        headers.push(if b == 0 { "Corr".into() } else { String::new() });
    }
    Table {
        headers,
        rownames: Vec::new(),
        cells,
    }
}

/// R's `printCoefmat(coefs, digits = 4, zap.ind = 3)` as lme4/lmerTest call it.
fn fixed_table(fit: &FitResult) -> (Table, bool) {
    let digits = DIGITS;
    let gaussian = fit.family.eq_ignore_ascii_case("gaussian");
    let has_df = fit.fixed.iter().any(|f| f.df.is_some());
    let has_p = fit.fixed.iter().any(|f| f.p_value.is_some());
    let stat_name = if gaussian { "t value" } else { "z value" };
    let p_name = if gaussian { "Pr(>|t|)" } else { "Pr(>|z|)" };
    let n = fit.fixed.len();

    // Coefficient/SE(/df) block: rounded to enough decimals for the smallest magnitude, then
    // formatted as one unit.
    // The df column of lmerTest's table belongs to this block and is not zapped: lmerTest
    // prints `153.6518` and `7021.5092` side by side (Hsb82, `mAch ~ cwc + gm + (1 | school)`).
    let ncs = if has_df { 3 } else { 2 };
    let dfs: Vec<f64> = fit.fixed.iter().map(|f| f.df.unwrap_or(f64::NAN)).collect();
    let mut cs: Vec<f64> = Vec::with_capacity(n * ncs);
    for (f, df) in fit.fixed.iter().zip(&dfs) {
        cs.push(f.estimate);
        cs.push(f.std_error);
        if has_df {
            cs.push(*df);
        }
    }
    let acs: Vec<f64> = cs
        .iter()
        .map(|x| x.abs())
        .filter(|x| x.is_finite() && *x != 0.0)
        .collect();
    let digmin_low = if acs.is_empty() {
        1
    } else {
        1 + acs
            .iter()
            .fold(f64::INFINITY, |m, &x| m.min(x))
            .log10()
            .floor() as i32
    };
    let dec = (digits as i32 - digmin_low).max(1);
    let rounded: Vec<f64> = cs.iter().map(|&x| round_to(x, dec)).collect();
    let mut cs_s = format_vec(&rounded, digits, 0);
    for (k, s) in cs_s.iter_mut().enumerate() {
        let x = cs[k];
        if x.is_nan() {
            *s = "NA".into();
        } else if x != 0.0 && s.trim().parse::<f64>() == Ok(0.0) {
            // printCoefmat: a non-zero value shown as 0 is re-formatted on its own.
            *s = format_num(x, digits.saturating_sub(1).max(1));
        }
    }

    // Test statistic: rounded to digits - 1 decimals, formatted as one unit.
    let dig_tst = (digits as i32 - 1).clamp(1, 5);
    let mut stats: Vec<f64> = fit.fixed.iter().map(|f| f.statistic).collect();
    if !has_df {
        stats = zapsmall(&stats, digits as i32);
    }
    let stats: Vec<f64> = stats.iter().map(|&x| round_to(x, dig_tst)).collect();
    let stat_s = format_vec(&stats, digits, 0);

    let ps: Vec<f64> = fit
        .fixed
        .iter()
        .map(|f| f.p_value.unwrap_or(f64::NAN))
        .collect();
    let p_s = format_pval(&ps, dig_tst as usize);
    let stars = has_p && ps.iter().any(|&p| p.is_finite() && p < 0.1);

    let mut headers: Vec<String> = vec!["Estimate".into(), "Std. Error".into()];
    if has_df {
        headers.push("df".into());
    }
    headers.push(stat_name.into());
    if has_p {
        headers.push(p_name.into());
    }
    if stars {
        headers.push(String::new());
    }
    let mut cells = Vec::with_capacity(n);
    for (i, f) in fit.fixed.iter().enumerate() {
        let mut row: Vec<String> = cs_s[i * ncs..(i + 1) * ncs].to_vec();
        row.push(stat_s[i].clone());
        if has_p {
            row.push(p_s[i].clone());
        }
        if stars {
            row.push(format!(
                "{:<3}",
                signif_stars(f.p_value.unwrap_or(f64::NAN))
            ));
        }
        cells.push(row);
    }
    let rownames = fit.fixed.iter().map(|f| f.term.clone()).collect();
    (
        Table {
            headers,
            rownames,
            cells,
        },
        stars,
    )
}

fn fixed_corr(fit: &FitResult) -> FixedCorr {
    let p = fit.fixed.len();
    if p <= 1 || fit.fixed_correlation.len() != p * p {
        return FixedCorr::None;
    }
    if p > MAX_COR {
        return FixedCorr::TooMany(p);
    }
    let names: Vec<String> = fit.fixed.iter().map(|f| f.term.clone()).collect();
    let rn = abbreviate(&names, 11);
    let cn = abbreviate(&names, 6);
    let r: Vec<f64> = fit
        .fixed_correlation
        .iter()
        .map(|&c| round_to(c, 3))
        .collect();
    let f = format_vec(&r, 7, 3);
    let cells = (1..p)
        .map(|i| {
            (0..p - 1)
                .map(|j| {
                    if j < i {
                        f[i * p + j].clone()
                    } else {
                        String::new()
                    }
                })
                .collect()
        })
        .collect();
    FixedCorr::Shown(Table {
        headers: cn[..p - 1].to_vec(),
        rownames: rn[1..].to_vec(),
        cells,
    })
}

/// Computes the formatted summary of a fit with rendering options (the df method named in the
/// title).
pub fn summarize_with(fit: &FitResult, opts: &crate::RenderOptions) -> Summary {
    let (title, class, wide_gap) = title(fit, opts.df_method.as_deref(), opts.n_agq);
    let family = (!is_lmm(fit)).then(|| format!("Family: {}  ( {} )", fit.family, fit.link));
    let groups_text = fit
        .groups
        .iter()
        .map(|g| format!("{}, {}", g.name, g.levels))
        .collect::<Vec<_>>()
        .join("; ");
    let nobs_line = format!("Number of obs: {}, groups:  {}", fit.nobs, groups_text);
    let (fixed, stars) = fixed_table(fit);
    Summary {
        title,
        class,
        wide_gap,
        family,
        formula: fit.formula.clone(),
        data: fit.data_name.clone(),
        criterion: criterion(fit),
        resid: residuals(fit),
        random: random_table(fit),
        nobs_line,
        nobs: fit.nobs,
        groups_text,
        fixed,
        stars,
        fixed_corr: fixed_corr(fit),
        icc: icc(fit).map(|(g, v)| (g, format_num(v, DIGITS))),
        warnings: fit.warnings.clone(),
        overdispersion: opts.overdispersion.map(|o| o.line()),
        cross_level: opts
            .cross_level
            .iter()
            .map(crate::CrossLevelNote::line)
            .collect(),
    }
}
