//! The fit: from formula, data and structure to [`GlsFit`].

use crate::GlsError;
use crate::inference::satterthwaite_df;
use crate::kernel::Patterns;
use crate::kr::gls_kenward_roger;
use crate::layout::{RowCodes, row_codes};
use crate::objective::Objective;
use crate::spec::{ResidualKind, ResidualStructure, VarianceFunction};
use crate::structure::Shape;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame};
use multilevel_inference::KrParts;
use multilevel_lmm::optimizer::{Bobyqa, Optimizer};
use multilevel_numeric::dist::p_t_two_sided;
use serde::{Deserialize, Serialize};

/// Denominator degrees of freedom for the coefficients' t tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlsDf {
    /// Satterthwaite's approximation (the `mmrm` package's definition).
    #[default]
    Satterthwaite,
    /// No df: z-free t values only, no p-values (nlme's `gls` uses `N − p`; see
    /// [`GlsDf::Residual`]).
    None,
    /// `N − p` for every coefficient (nlme's `summary.gls`).
    Residual,
    /// Kenward–Roger (REML fits): the adjusted covariance `Φ_A` for the standard errors and
    /// each coefficient's df, without the second-derivative terms (mmrm's
    /// `"Kenward-Roger-Linear"`; pbkrtest's for structures linear in their parameters).
    #[serde(rename = "kenward-roger")]
    KenwardRoger,
}

/// What to fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlsOptions {
    /// The correlation structure within subjects (`None`: independent rows).
    pub residual: Option<ResidualStructure>,
    /// A residual variance per level of a factor (`None`: one variance, or the structure's).
    pub variance: Option<VarianceFunction>,
    /// REML (default) or ML.
    pub reml: bool,
    /// The coefficients' df.
    pub df: GlsDf,
    /// A fixed residual standard deviation `σ` (MixedModels.jl's `σ =`; nlme's
    /// `lmeControl(sigma =)`), counted as no parameter; `None`: estimated.
    #[serde(default)]
    pub sigma: Option<f64>,
    /// A column of prior weights (the residual variance of row `i` is `σ²/wᵢ`); only with
    /// random-effects terms and neither a residual structure nor a variance function. With
    /// `sigma = 1` and `wᵢ = 1/vᵢ` this is the random-effects meta-analysis with known
    /// sampling variances `vᵢ`.
    #[serde(default)]
    pub weights: Option<String>,
}

impl Default for GlsOptions {
    fn default() -> Self {
        GlsOptions {
            residual: None,
            variance: None,
            reml: true,
            df: GlsDf::Satterthwaite,
            sigma: None,
            weights: None,
        }
    }
}

/// One fixed-effect coefficient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlsCoef {
    /// Column name of `X` (`(Intercept)`, `visitV2:armplacebo`).
    pub name: String,
    /// `β̂`.
    pub estimate: f64,
    /// `√ vcov(β̂)ⱼⱼ`.
    pub std_error: f64,
    /// `estimate / std_error`.
    pub t_value: f64,
    /// Denominator df, when computed.
    pub df: Option<f64>,
    /// Two-sided p-value of the t test, when the df are known.
    pub p_value: Option<f64>,
}

/// A named number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Named {
    /// The name.
    pub name: String,
    /// The value.
    pub value: f64,
}

/// The estimated residual correlation between visits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualCorrelation {
    /// The structure, `us(visit | subject)`.
    pub structure: String,
    /// The pattern.
    pub kind: ResidualKind,
    /// The visits (time levels or distinct time values) the matrix is over.
    pub visits: Vec<String>,
    /// The correlation matrix over `visits` (at most 12 visits; empty beyond).
    pub matrix: Vec<Vec<f64>>,
    /// The structure's correlation parameters: `rho` (ar1, cs), `rho(lag k)` (toep),
    /// `cor(a, b)` (us).
    pub parameters: Vec<Named>,
}

/// The standard deviation of one random effect, with its correlations with the earlier
/// effects of the same term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomComponent {
    /// The grouping factor (`Rat`).
    pub group: String,
    /// The column of the term's model matrix (`(Intercept)`, `Time`).
    pub name: String,
    /// The term's covariance structure (`us`, `diag`, `cs`, `ar1`).
    pub structure: String,
    /// The standard deviation `σ·sd(Λ row)`.
    pub sd: f64,
    /// Correlations with the term's earlier columns, in column order.
    pub correlations: Vec<f64>,
}

/// Counts of the data the fit used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlsCounts {
    /// Observations used.
    pub observations: usize,
    /// Rows of the data dropped for a missing value in a variable the model uses.
    pub rows_dropped: usize,
    /// Subjects (groups of the structure; every row when there is none).
    pub subjects: usize,
    /// Distinct visits (time levels or values).
    pub visits: usize,
    /// Subjects with a single row.
    pub subjects_with_one_visit: usize,
    /// The most rows of one subject.
    pub max_visits_per_subject: usize,
    /// Distinct patterns of visits (and variance levels) over the subjects.
    pub patterns: usize,
}

/// A fitted GLS / MMRM model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlsFit {
    /// The formula.
    pub formula: String,
    /// The response's label.
    pub response: String,
    /// The data's name.
    pub data_name: String,
    /// The residual structure's text, if any.
    pub residual: Option<String>,
    /// The variance function's text, if any.
    pub residual_variance: Option<String>,
    /// REML (else ML).
    pub reml: bool,
    /// Counts of the data.
    pub counts: GlsCounts,
    /// Fixed effects.
    pub coefficients: Vec<GlsCoef>,
    /// Columns of `X` dropped as aliased with earlier columns.
    pub dropped_columns: Vec<String>,
    /// The df method of the coefficients' tests.
    pub df_method: GlsDf,
    /// `vcov(β̂) = σ̂² (X'R⁻¹X)⁻¹`, `σ̂² = r²/(N − p)` (REML) or `r²/N` (ML), nlme's.
    pub vcov: Vec<Vec<f64>>,
    /// Kenward–Roger's adjusted covariance `Φ_A` of `β̂` (with [`GlsDf::KenwardRoger`]; the
    /// coefficients' standard errors are then `√(Φ_A)ⱼⱼ`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcov_adjusted: Option<Vec<Vec<f64>>>,
    /// `σ̂`: the residual standard deviation (of the first level when the variances differ),
    /// or the fixed `σ` of [`GlsOptions::sigma`].
    pub sigma: f64,
    /// Whether `σ` was fixed ([`GlsOptions::sigma`]) rather than estimated.
    #[serde(default)]
    pub sigma_fixed: bool,
    /// Log-likelihood (restricted under REML).
    pub loglik: f64,
    /// Parameters counted by logLik: coefficients, covariance parameters and `σ`.
    pub n_parameters: usize,
    /// AIC.
    pub aic: f64,
    /// BIC (`log N`, or `log(N − p)` under REML, as nlme).
    pub bic: f64,
    /// The residual correlation, with a structure.
    pub correlation: Option<ResidualCorrelation>,
    /// Residual standard deviation per visit (`us`, `toeph`).
    pub visit_sd: Vec<Named>,
    /// Residual standard deviation per level of the variance factor (`ident(f)`).
    pub level_sd: Vec<Named>,
    /// The random effects' standard deviations and correlations, when the formula has
    /// random-effects terms (nlme's `lme(…, correlation =, weights =)`); empty for GLS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub random: Vec<RandomComponent>,
    /// The covariance parameters on the optimiser's unconstrained scale.
    pub theta: Vec<f64>,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Whether the optimiser stopped on its convergence test.
    pub converged: bool,
    /// The optimiser's message.
    pub message: String,
    /// Warnings (e.g. the df could not be computed).
    pub warnings: Vec<String>,
}

/// Fits `formula` (fixed effects only) with the residual structure and variance function of
/// `opts` by REML or ML (nlme's `gls`; with `us(visit | subject)` the MMRM).
///
/// ```
/// use multilevel_frame::DataFrame;
/// use multilevel_gls::{GlsOptions, ResidualStructure, gls};
///
/// let data = DataFrame::new("toy")
///     .with_numeric("y", vec![1.0, 2.1, 2.9, 0.8, 2.2, 3.4, 1.4, 1.9, 3.3, 1.1, 2.6, 2.7])?
///     .with_numeric("t", vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0])?
///     .with_strings("id", &["a", "a", "a", "b", "b", "b", "c", "c", "c", "d", "d", "d"])?;
/// let opts = GlsOptions {
///     residual: Some(ResidualStructure::parse("ar1(t | id)")?),
///     ..GlsOptions::default()
/// };
/// let fit = gls("y ~ t", &data, &opts)?;
/// assert_eq!(fit.counts.subjects, 4);
/// assert!(fit.correlation.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Formula and data errors; random-effects terms whose grouping factor changes within a
/// subject of the residual structure; the structure's input checks (a non-factor where a factor is
/// needed, non-integer AR(1) positions, a subject with two rows at one visit, more covariance
/// parameters than the data support); a fit whose criterion is not finite at the start.
pub fn gls(formula: &str, data: &DataFrame, opts: &GlsOptions) -> Result<GlsFit, GlsError> {
    let parsed = multilevel_formula::parse(formula)?;
    let mut required = Vec::new();
    if let Some(rs) = &opts.residual {
        required.push(rs.time.clone());
        required.push(rs.subject.clone());
    }
    if let Some(vf) = &opts.variance {
        required.push(vf.factor.clone());
    }
    for c in &required {
        if data.column(c).is_none() {
            return Err(GlsError::Data(data.unknown_column_error(c)));
        }
    }
    if opts.df == GlsDf::KenwardRoger && !opts.reml {
        return Err(GlsError::Input(
            "Kenward–Roger df need a REML fit; hint: drop the ML option, or use Satterthwaite df"
                .to_string(),
        ));
    }
    if let Some(s) = opts.sigma
        && !(s > 0.0 && s.is_finite())
    {
        return Err(GlsError::Input(format!(
            "the fixed residual standard deviation σ = {s} is not a positive number; hint: give a value > 0, or leave σ to be estimated"
        )));
    }
    let frame_opts = FrameOptions {
        weights: opts.weights.clone(),
        required_columns: required,
        ..FrameOptions::default()
    };
    let frame = ModelFrame::new(&parsed, data, &frame_opts)?;
    if let Some(multilevel_frame::ResponseValues::Factor { levels, .. }) = &frame.response {
        return Err(GlsError::Input(format!(
            "the response `{}` is a factor with {} levels, but a GLS fit needs a numeric response; hint: check the column",
            frame.response_label.clone().unwrap_or_default(),
            levels.len()
        )));
    }
    // A fixed σ identifies a term with one level per observation (the meta-analytic model):
    // lme4's `allow.n` checks then.
    let design_opts = multilevel_design::DesignOptions {
        allow_n: opts.sigma.is_some(),
    };
    let mut design = multilevel_design::build_design_with(&parsed, &frame, &design_opts)?;
    design.formula = formula.to_string();
    if design.weights.is_some()
        && (design.terms.is_empty() || opts.residual.is_some() || opts.variance.is_some())
    {
        if !design.terms.is_empty() {
            return Err(GlsError::Input(
                "prior weights cannot be combined with a residual structure or variance function; hint: use the variance function `ident(f)` for per-level variances, or drop the structure".to_string(),
            ));
        }
        return Err(GlsError::Input(
            "prior weights are not supported in a GLS fit; hint: use a variance function `ident(f)` for per-level variances".to_string(),
        ));
    }
    if design.trials.is_some() {
        return Err(GlsError::Input(format!(
            "the response `{}` is a binomial cbind(); a GLS fit needs a numeric response; hint: use a GLMM",
            design.response_name
        )));
    }
    let n = design.y.len();
    let p = design.x.ncols();
    let mut y = design.y.clone();
    if let Some(off) = &design.offset {
        for (v, o) in y.iter_mut().zip(off) {
            *v -= o;
        }
    }
    let codes = row_codes(
        data,
        &frame.rows,
        opts.residual.as_ref(),
        opts.variance.as_ref(),
    )?;
    let kind = opts.residual.as_ref().map(|r| r.kind);
    let max_visits = codes.subjects.iter().map(Vec::len).max().unwrap_or(0);
    let shape = Shape {
        kind,
        q: if kind.is_some_and(ResidualKind::needs_factor) {
            codes.time_labels.len()
        } else {
            0
        },
        cs_lower: if max_visits > 1 {
            -1.0 / (max_visits as f64 - 1.0)
        } else {
            -1.0
        },
        g: codes.var_labels.len(),
    };
    check_identifiable(&codes, &shape, opts, n, p, design.n_theta())?;
    if !design.terms.is_empty() {
        let prepared = Prepared {
            formula,
            data,
            opts,
            dropped_rows: frame.dropped_rows.len(),
            design,
            y,
            codes,
            shape,
        };
        return crate::mixed::fit(prepared);
    }

    // The cross products are formed from the OLS residuals `e = y − Xβ_ols` instead of `y`:
    // the GLS of `e` on `X` has the same residuals, criterion and `vcov`, and `β = β_e +
    // β_ols`, while `e'R⁻¹e` keeps its digits when `y` is far from 0.
    let (ols_beta, ols_resid) = ols_fit(&design.x, &y)?;
    let x = &design.x;
    let xf = |i: usize, c: usize| x[(i, c)];
    let patterns = Patterns::build(
        &xf,
        p,
        &ols_resid,
        &codes.subjects,
        &codes.position,
        &codes.var_level,
        kind == Some(ResidualKind::Ar1),
    );
    let n_patterns = patterns.len();
    let mut objective = Objective {
        patterns,
        shape: shape.clone(),
        n,
        p,
        reml: opts.reml,
        fixed_log_sigma2: opts.sigma.map(|s| (s * s).ln()),
    };

    // Start: no correlation, the standard deviations of the OLS residuals per level.
    let time_lr = if kind.is_some_and(ResidualKind::heterogeneous) {
        let levels: Vec<u32> = codes.position.iter().map(|&a| a as u32).collect();
        level_log_sd(&ols_resid, &levels, shape.q)
    } else {
        Vec::new()
    };
    let var_lr = level_log_sd(&ols_resid, &codes.var_level, shape.g);
    let x0 = shape.start(&time_lr, &var_lr);
    let start_value = objective.profiled(&x0);
    if !start_value.is_finite() {
        return Err(GlsError::Numerical(
            "the GLS criterion is not finite at the start (X'R⁻¹X singular or a zero residual sum of squares); hint: check the fixed-effects formula for columns constant within the data, or a response with no variation".to_string(),
        ));
    }
    let m = x0.len();
    let (theta, evaluations, converged, message) = if m == 0 {
        (Vec::new(), 1, true, "no covariance parameters".to_string())
    } else {
        let lower = vec![-12.0; m];
        let upper = vec![12.0; m];
        let outcome = Bobyqa::default()
            .minimize(&mut objective, &x0, &lower, &upper)
            .map_err(|e| GlsError::Numerical(format!("the optimiser failed: {e}")))?;
        (
            outcome.x.clone(),
            outcome.evaluations,
            outcome.converged(),
            outcome.message(),
        )
    };
    let pieces = objective.pieces(&theta).ok_or_else(|| {
        GlsError::Numerical(
            "the GLS criterion is not defined at the optimum; hint: simplify the residual structure".to_string(),
        )
    })?;
    let nu = objective.nu();
    let (deviance, sigma2) = match opts.sigma {
        Some(s) => (objective.at_sigma(&theta, (s * s).ln()), s * s),
        None => (objective.profiled_from(&pieces), pieces.r2 / nu),
    };
    let mut beta = pieces.b.clone();
    pieces.chol_a.solve_in_place(&mut beta);
    for (b, o) in beta.iter_mut().zip(&ols_beta) {
        *b += o;
    }
    let a_inv = pieces.chol_a.inverse();
    let vcov: Vec<Vec<f64>> = (0..p)
        .map(|i| (0..p).map(|j| sigma2 * a_inv[i * p + j]).collect())
        .collect();
    let mut warnings = Vec::new();
    if !converged {
        warnings.push(format!(
            "the optimiser stopped short of convergence: {message}"
        ));
    }
    let mut vcov_adjusted = None;
    let dfs: Vec<Option<f64>> = match opts.df {
        GlsDf::None => vec![None; p],
        GlsDf::Residual => vec![Some((n - p) as f64); p],
        GlsDf::Satterthwaite => {
            match satterthwaite_df(&mut objective, &theta, sigma2, opts.sigma.is_some()) {
                Ok(d) => d.into_iter().map(Some).collect(),
                Err(w) => {
                    warnings.push(w);
                    vec![None; p]
                }
            }
        }
        GlsDf::KenwardRoger => {
            let kr = gls_kenward_roger(
                &xf,
                p,
                &codes,
                &shape,
                &theta,
                sigma2,
                opts.sigma.is_some(),
                beta.clone(),
            )
            .and_then(|parts| kr_columns(&parts));
            match kr {
                Ok((d, adj)) => {
                    vcov_adjusted = Some(adj);
                    d.into_iter().map(Some).collect()
                }
                Err(w) => {
                    warnings.push(w);
                    vec![None; p]
                }
            }
        }
    };
    let coefficients = (0..p)
        .map(|j| {
            let estimate = beta.get(j).copied().unwrap_or(f64::NAN);
            let se = vcov_adjusted
                .as_ref()
                .unwrap_or(&vcov)
                .get(j)
                .and_then(|r| r.get(j))
                .copied()
                .unwrap_or(f64::NAN)
                .sqrt();
            let t = estimate / se;
            let df = dfs.get(j).copied().flatten();
            GlsCoef {
                name: design.x_names.get(j).cloned().unwrap_or_default(),
                estimate,
                std_error: se,
                t_value: t,
                df,
                p_value: df.map(|d| p_t_two_sided(t, d)),
            }
        })
        .collect();

    let sigma = sigma2.sqrt();
    let (correlation, visit_sd, level_sd) = structure_report(opts, &codes, &shape, &theta, sigma);
    let loglik = -deviance / 2.0;
    let n_parameters = p + m + usize::from(opts.sigma.is_none());
    let bic_n = if opts.reml { (n - p) as f64 } else { n as f64 };
    let counts = counts(opts, &codes, n, frame.dropped_rows.len(), n_patterns);
    Ok(GlsFit {
        formula: formula.to_string(),
        response: design.response_name.clone(),
        data_name: data.name().to_string(),
        residual: opts.residual.as_ref().map(ResidualStructure::text),
        residual_variance: opts.variance.as_ref().map(VarianceFunction::text),
        reml: opts.reml,
        counts,
        coefficients,
        dropped_columns: design.dropped_columns.clone(),
        df_method: opts.df,
        vcov,
        vcov_adjusted,
        sigma,
        sigma_fixed: opts.sigma.is_some(),
        loglik,
        n_parameters,
        aic: -2.0 * loglik + 2.0 * n_parameters as f64,
        bic: -2.0 * loglik + n_parameters as f64 * bic_n.ln(),
        correlation,
        visit_sd,
        level_sd,
        random: Vec::new(),
        theta,
        evaluations,
        converged,
        message,
        warnings,
    })
}

/// The Kenward–Roger df of every coefficient (contrast `eⱼ`) and `Φ_A` as rows.
pub(crate) fn kr_columns(parts: &KrParts) -> Result<(Vec<f64>, Vec<Vec<f64>>), String> {
    let p = parts.p;
    let mut dfs = Vec::with_capacity(p);
    for j in 0..p {
        let mut l = vec![0.0; p];
        l[j] = 1.0;
        let (_, _, df) = parts
            .contrast(&l)
            .map_err(|e| format!("the Kenward–Roger df could not be computed: {e}"))?;
        dfs.push(df);
    }
    let adj = (0..p)
        .map(|i| parts.phi_adj[i * p..(i + 1) * p].to_vec())
        .collect();
    Ok((dfs, adj))
}

/// The counts of the data a fit used.
pub(crate) fn counts(
    opts: &GlsOptions,
    codes: &RowCodes,
    n: usize,
    rows_dropped: usize,
    patterns: usize,
) -> GlsCounts {
    GlsCounts {
        observations: n,
        rows_dropped,
        subjects: codes.subjects.len(),
        visits: if opts.residual.is_some() {
            codes.time_labels.len()
        } else {
            1
        },
        subjects_with_one_visit: codes.subjects.iter().filter(|s| s.len() == 1).count(),
        max_visits_per_subject: codes.subjects.iter().map(Vec::len).max().unwrap_or(0),
        patterns,
    }
}

/// What a fit with random-effects terms takes over from [`gls`]: the checked inputs.
pub(crate) struct Prepared<'a> {
    pub formula: &'a str,
    pub data: &'a DataFrame,
    pub opts: &'a GlsOptions,
    /// Rows of the data dropped for missing values.
    pub dropped_rows: usize,
    pub design: multilevel_design::Design,
    /// The response with the offset subtracted.
    pub y: Vec<f64>,
    pub codes: RowCodes,
    pub shape: Shape,
}

/// The estimated residual correlation, the per-visit and the per-level standard deviations at
/// the residual parameters `theta` and the residual standard deviation `sigma`.
pub(crate) fn structure_report(
    opts: &GlsOptions,
    codes: &RowCodes,
    shape: &Shape,
    theta: &[f64],
    sigma: f64,
) -> (Option<ResidualCorrelation>, Vec<Named>, Vec<Named>) {
    let kind = shape.kind;
    let e = shape.evaluate(theta);
    let correlation = opts.residual.as_ref().map(|rs| {
        let show = codes.time_labels.len() <= 12;
        let positions = &codes.time_positions;
        let matrix = if show {
            positions
                .iter()
                .enumerate()
                .map(|(i, &a)| {
                    positions
                        .iter()
                        .enumerate()
                        .map(|(j, &b)| e.correlation(a, b, i == j))
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        let natural = e.natural_correlations();
        let parameters = match rs.kind {
            ResidualKind::Ar1 | ResidualKind::Cs => natural
                .iter()
                .map(|v| Named {
                    name: "rho".to_string(),
                    value: *v,
                })
                .collect(),
            ResidualKind::Toep | ResidualKind::Toeph => (1..shape.q)
                .map(|lag| Named {
                    name: format!("rho(lag {lag})"),
                    value: e.correlation(0, lag as i64, false),
                })
                .collect(),
            ResidualKind::Us => {
                let mut out = Vec::new();
                for j in 0..shape.q {
                    for i in (j + 1)..shape.q {
                        out.push(Named {
                            name: format!(
                                "cor({}, {})",
                                codes.time_labels.get(j).map(String::as_str).unwrap_or("?"),
                                codes.time_labels.get(i).map(String::as_str).unwrap_or("?")
                            ),
                            value: e.correlation(j as i64, i as i64, false),
                        });
                    }
                }
                out
            }
        };
        ResidualCorrelation {
            structure: rs.text(),
            kind: rs.kind,
            visits: codes.time_labels.clone(),
            matrix,
            parameters,
        }
    });
    let visit_sd = if kind.is_some_and(ResidualKind::heterogeneous) {
        codes
            .time_labels
            .iter()
            .enumerate()
            .map(|(a, l)| Named {
                name: l.clone(),
                value: sigma * e.sd(a as i64, 0),
            })
            .collect()
    } else {
        Vec::new()
    };
    let level_sd = if opts.variance.is_some() {
        codes
            .var_labels
            .iter()
            .enumerate()
            .map(|(v, l)| Named {
                name: l.clone(),
                value: sigma * e.var_sd.get(v).copied().unwrap_or(f64::NAN),
            })
            .collect()
    } else {
        Vec::new()
    };
    (correlation, visit_sd, level_sd)
}

/// The identifiability checks: enough observations for the parameters, and for each
/// correlation some subject that observes it.
fn check_identifiable(
    codes: &RowCodes,
    shape: &Shape,
    opts: &GlsOptions,
    n: usize,
    p: usize,
    n_theta: usize,
) -> Result<(), GlsError> {
    let k = shape.len() + 1 + n_theta;
    let what = opts
        .residual
        .as_ref()
        .map(ResidualStructure::text)
        .or_else(|| opts.variance.as_ref().map(VarianceFunction::text))
        .unwrap_or_else(|| "the residual variance".to_string());
    if n <= p || n - p < k {
        return Err(GlsError::Input(format!(
            "`{what}` has {k} covariance parameters and the formula {p} coefficients, but there are only {n} observations; hint: use a structure with fewer parameters (cs, ar1, toep) or a smaller formula"
        )));
    }
    let Some(rs) = &opts.residual else {
        return Ok(());
    };
    if codes.subjects.iter().all(|s| s.len() < 2) {
        return Err(GlsError::Input(format!(
            "`{}`: no subject in `{}` has two rows, so the residual correlation cannot be estimated; hint: check the subject column, or fit without a residual structure",
            rs.text(),
            rs.subject
        )));
    }
    if matches!(
        rs.kind,
        ResidualKind::Us | ResidualKind::Toep | ResidualKind::Toeph
    ) {
        let q = shape.q;
        let mut pair = vec![false; q * q];
        for s in &codes.subjects {
            for (i, &a) in s.iter().enumerate() {
                for &b in s.iter().skip(i + 1) {
                    let (pa, pb) = (
                        codes.position.get(a).copied().unwrap_or(0) as usize,
                        codes.position.get(b).copied().unwrap_or(0) as usize,
                    );
                    if let Some(v) = pair.get_mut(pa.min(pb) * q + pa.max(pb)) {
                        *v = true;
                    }
                }
            }
        }
        let label = |i: usize| codes.time_labels.get(i).cloned().unwrap_or_default();
        if rs.kind == ResidualKind::Us {
            for j in 0..q {
                for i in (j + 1)..q {
                    if !pair[j * q + i] {
                        return Err(GlsError::Input(format!(
                            "`{}`: no subject has rows at both `{}` = {} and {}, so their correlation cannot be estimated (more covariance parameters than the data support); hint: use toep, ar1 or cs, or combine those visits",
                            rs.text(),
                            rs.time,
                            label(j),
                            label(i)
                        )));
                    }
                }
            }
        } else {
            for lag in 1..q {
                if !(0..q - lag).any(|j| pair[j * q + j + lag]) {
                    return Err(GlsError::Input(format!(
                        "`{}`: no subject has two rows {lag} levels of `{}` apart, so the lag-{lag} correlation cannot be estimated (more covariance parameters than the data support); hint: use ar1 or cs",
                        rs.text(),
                        rs.time
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The OLS fit: `β_ols = (X'X)⁻¹X'y` and the residuals `y − Xβ_ols`.
pub(crate) fn ols_fit(x: &faer::Mat<f64>, y: &[f64]) -> Result<(Vec<f64>, Vec<f64>), GlsError> {
    let (n, p) = (x.nrows(), x.ncols());
    let mut xtx = vec![0.0; p * p];
    let mut xty = vec![0.0; p];
    for i in 0..n {
        for a in 0..p {
            let xa = x[(i, a)];
            xty[a] += xa * y.get(i).copied().unwrap_or(0.0);
            for b in 0..=a {
                xtx[a * p + b] += xa * x[(i, b)];
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            xtx[b * p + a] = xtx[a * p + b];
        }
    }
    let chol = multilevel_numeric::spd::Cholesky::new(&xtx, p).ok_or_else(|| {
        GlsError::Numerical("X'X is singular; hint: check the fixed-effects formula".to_string())
    })?;
    chol.solve_in_place(&mut xty);
    let resid = (0..n)
        .map(|i| y.get(i).copied().unwrap_or(0.0) - (0..p).map(|a| x[(i, a)] * xty[a]).sum::<f64>())
        .collect();
    Ok((xty, resid))
}

/// `log(sd_level / sd_first)` of the residuals per level (0 for a level with no spread).
pub(crate) fn level_log_sd(resid: &[f64], level: &[u32], g: usize) -> Vec<f64> {
    let mut ss = vec![0.0; g];
    let mut cnt = vec![0usize; g];
    for (r, &l) in resid.iter().zip(level) {
        if let (Some(s), Some(c)) = (ss.get_mut(l as usize), cnt.get_mut(l as usize)) {
            *s += r * r;
            *c += 1;
        }
    }
    let sd: Vec<f64> = ss
        .iter()
        .zip(&cnt)
        .map(|(s, &c)| if c > 0 { (s / c as f64).sqrt() } else { 0.0 })
        .collect();
    let first = sd.first().copied().unwrap_or(1.0);
    sd.iter()
        .map(|s| {
            if *s > 0.0 && first > 0.0 {
                (s / first).ln().clamp(-5.0, 5.0)
            } else {
                0.0
            }
        })
        .collect()
}
