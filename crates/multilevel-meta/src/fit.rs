//! Model fitting: τ², coefficients, tests, heterogeneity statistics, R², fit statistics.

use crate::linalg::{PIVOT_TOL, Wls, inverse_sym};
use crate::{
    Coefficient, FitStats, MetaError, MetaResult, Method, ModeratorTest, RmaOptions, StudyWeight,
    Test, estimate,
};
use multilevel_numeric::Cholesky;
use multilevel_numeric::dist::{
    crit_norm, crit_t, p_chisq_upper, p_f_upper, p_norm_two_sided, p_t_two_sided,
};

/// Random-effects meta-analysis (no moderators) or meta-regression on the moderator columns
/// `mods = (columns, names)`; an intercept `intrcpt` is added (metafor's `rma(yi, vi, mods)`).
/// Studies are labelled `1, 2, …`.
///
/// # Errors
/// Inputs of different lengths, `k < 2`, `k ≤ p` (`k < p` for FE), non-finite values,
/// non-positive `vi`, a rank-deficient model matrix after dropping aliased columns, or an
/// iterative estimator that does not converge.
pub fn rma(
    yi: &[f64],
    vi: &[f64],
    mods: Option<(&[Vec<f64>], &[String])>,
    opts: &RmaOptions,
) -> Result<MetaResult, MetaError> {
    let mut x = vec![vec![1.0; yi.len()]];
    let mut names = vec!["intrcpt".to_string()];
    if let Some((cols, col_names)) = mods {
        for (j, c) in cols.iter().enumerate() {
            x.push(c.clone());
            names.push(
                col_names
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| format!("mod{}", j + 1)),
            );
        }
    }
    let slab: Vec<String> = (1..=yi.len()).map(|i| i.to_string()).collect();
    rma_matrix(yi, vi, &x, &names, true, &slab, opts)
}

/// Meta-analysis with the full model matrix `x` (columns; the first is the intercept when
/// `intercept` is true) and study labels `slab`. Redundant (aliased) columns are dropped with
/// R's pivoting rule and listed in [`MetaResult::dropped_columns`], as metafor does.
///
/// # Errors
/// As [`rma`].
pub fn rma_matrix(
    yi: &[f64],
    vi: &[f64],
    x: &[Vec<f64>],
    names: &[String],
    intercept: bool,
    slab: &[String],
    opts: &RmaOptions,
) -> Result<MetaResult, MetaError> {
    let k = yi.len();
    let label = |i: usize| slab.get(i).cloned().unwrap_or_else(|| (i + 1).to_string());
    if vi.len() != k {
        return Err(MetaError::LengthMismatch {
            what: "vi".into(),
            expected: k,
            found: vi.len(),
        });
    }
    for (j, c) in x.iter().enumerate() {
        if c.len() != k {
            return Err(MetaError::LengthMismatch {
                what: format!(
                    "model-matrix column `{}`",
                    names.get(j).map_or("?", String::as_str)
                ),
                expected: k,
                found: c.len(),
            });
        }
    }
    if !(opts.level > 0.0 && opts.level < 100.0) {
        return Err(MetaError::Options(format!(
            "level {} is not a percentage between 0 and 100 (exclusive); hint: use e.g. 95",
            opts.level
        )));
    }
    for i in 0..k {
        if !yi[i].is_finite() {
            return Err(MetaError::NonFinite {
                what: "yi".into(),
                study: label(i),
                location: format!("study {}", i + 1),
            });
        }
        if !(vi[i].is_finite() && vi[i] > 0.0) {
            return Err(MetaError::NonPositiveVariance {
                column: "vi".into(),
                value: vi[i],
                study: label(i),
                location: format!("study {}", i + 1),
            });
        }
        for (j, c) in x.iter().enumerate() {
            if !c[i].is_finite() {
                return Err(MetaError::NonFinite {
                    what: names.get(j).cloned().unwrap_or_default(),
                    study: label(i),
                    location: format!("study {}", i + 1),
                });
            }
        }
    }
    if k < 2 {
        return Err(MetaError::TooFewStudies {
            data: String::new(),
            k,
            dropped: 0,
        });
    }

    // Drop aliased columns (R's pivoting QR at tolerance 1e-7, as lm / metafor).
    let kept = multilevel_design::kept_columns(x, multilevel_design::RANK_TOL);
    let dropped_columns: Vec<String> = (0..x.len())
        .filter(|j| !kept.contains(j))
        .map(|j| names.get(j).cloned().unwrap_or_default())
        .collect();
    let x: Vec<Vec<f64>> = kept.iter().map(|&j| x[j].clone()).collect();
    let names: Vec<String> = kept
        .iter()
        .map(|&j| names.get(j).cloned().unwrap_or_default())
        .collect();
    let intercept = intercept && kept.first() == Some(&0);
    let p = x.len();
    if p == 0 {
        return Err(MetaError::Singular {
            detail: " (no columns left)".into(),
        });
    }
    let method = opts.method;
    if (method != Method::Fe && k <= p) || k < p {
        return Err(MetaError::TooManyCoefficients {
            k,
            p,
            method: method.name().into(),
        });
    }
    let int_only = intercept && p == 1;

    // τ² from the centred effect sizes.
    let ybar = yi.iter().sum::<f64>() / k as f64;
    let yc: Vec<f64> = yi.iter().map(|y| y - ybar).collect();
    let est = estimate::tau2(method, &x, &yc, vi, opts.max_iter)?;
    let tau2 = est.tau2;

    // Coefficients.
    let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau2)).collect();
    let fit = Wls::new(&x, yi, w.clone()).ok_or_else(|| MetaError::Singular {
        detail: String::new(),
    })?;
    let rss_f = fit.rss();
    let kp = k - p;
    let s2w = match opts.test {
        Test::Knha | Test::Adhoc => {
            let s = if rss_f <= f64::EPSILON || kp == 0 {
                0.0
            } else {
                rss_f / kp as f64
            };
            if opts.test == Test::Adhoc {
                s.max(1.0)
            } else {
                s
            }
        }
        _ => 1.0,
    };
    let vcov: Vec<f64> = fit.a.iter().map(|v| v * s2w).collect();
    let df = opts.test.uses_t().then_some(kp);
    let alpha = 1.0 - opts.level / 100.0;
    let crit = match df {
        Some(d) if d > 0 => crit_t(alpha, d as f64),
        Some(_) => f64::NAN,
        None => crit_norm(alpha),
    };
    let coefficients: Vec<Coefficient> = (0..p)
        .map(|j| {
            let b = fit.beta[j];
            let se = vcov[j * p + j].sqrt();
            let stat = b / se;
            let p_value = match df {
                Some(d) if d > 0 => p_t_two_sided(stat, d as f64),
                Some(_) => f64::NAN,
                None => p_norm_two_sided(stat),
            };
            Coefficient {
                name: names[j].clone(),
                estimate: b,
                std_error: se,
                statistic: stat,
                p_value,
                ci_lower: b - crit * se,
                ci_upper: b + crit * se,
            }
        })
        .collect();

    // Omnibus test of moderators.
    let moderators = if int_only {
        None
    } else {
        let btt: Vec<usize> = if intercept && p > 1 {
            (1..p).collect()
        } else {
            (0..p).collect()
        };
        let m = btt.len();
        let sub: Vec<f64> = btt
            .iter()
            .flat_map(|&a| btt.iter().map(move |&b| (a, b)))
            .map(|(a, b)| vcov[a * p + b])
            .collect();
        let qm = match Cholesky::with_tolerance(&sub, m, PIVOT_TOL) {
            Some(l) => {
                let inv = inverse_sym(&l);
                let mut s = 0.0;
                for (ia, &a) in btt.iter().enumerate() {
                    for (ib, &b) in btt.iter().enumerate() {
                        s += fit.beta[a] * inv[ia * m + ib] * fit.beta[b];
                    }
                }
                s
            }
            None => f64::NAN,
        };
        Some(match df {
            Some(d) => {
                let f = qm / m as f64;
                ModeratorTest {
                    coefficients: btt,
                    statistic: f,
                    df1: m,
                    df2: Some(d),
                    p_value: if d > 0 {
                        p_f_upper(f, m as f64, d as f64)
                    } else {
                        f64::NAN
                    },
                }
            }
            None => ModeratorTest {
                coefficients: btt,
                statistic: qm,
                df1: m,
                df2: None,
                p_value: p_chisq_upper(qm, m as f64),
            },
        })
    };

    // Heterogeneity: QE with fixed-effect weights, I², H².
    let (q, q_p, i2, h2) = if k > p {
        let fe = Wls::new(&x, &yc, vi.iter().map(|v| 1.0 / v).collect()).ok_or_else(|| {
            MetaError::Singular {
                detail: String::new(),
            }
        })?;
        let q = fe.rss().max(0.0);
        let q_p = p_chisq_upper(q, kp as f64);
        let vt = kp as f64 / fe.tr_p(&vec![1.0; k]);
        if method == Method::Fe {
            let i2 = (100.0 * (q - kp as f64) / q).max(0.0);
            (q, q_p, if i2.is_finite() { i2 } else { 0.0 }, q / kp as f64)
        } else {
            (q, q_p, 100.0 * tau2 / (vt + tau2), tau2 / vt + 1.0)
        }
    } else {
        (0.0, 1.0, 0.0, 1.0)
    };

    // Fit statistics (metafor's fit.stats).
    let two_pi_ln = (2.0 * std::f64::consts::PI).ln();
    let sum_log_v: f64 = vi.iter().map(|v| (v + tau2).ln()).sum();
    let ll_ml = -0.5 * k as f64 * two_pi_ln - 0.5 * sum_log_v - 0.5 * rss_f;
    let xtx = crate::linalg::crossprod(&x, &vec![1.0; k]);
    let log_det_xtx =
        Cholesky::with_tolerance(&xtx, p, PIVOT_TOL).map_or(f64::NAN, |l| l.log_det());
    let ll_reml = -0.5 * kp as f64 * two_pi_ln + 0.5 * log_det_xtx
        - 0.5 * sum_log_v
        - 0.5 * fit.log_det()
        - 0.5 * rss_f;
    let parms = (p + usize::from(method != Method::Fe)) as f64;
    let sat: f64 = vi.iter().map(|v| -0.5 * (two_pi_ln + v.ln())).sum();
    let dev_ml = if k > p { -2.0 * (ll_ml - sat) } else { 0.0 };
    let aicc = |ll: f64, n: f64| {
        let m = n.max(parms + 2.0);
        -2.0 * ll + 2.0 * parms * m / (m - parms - 1.0)
    };
    let fit_stats = FitStats {
        loglik_ml: ll_ml,
        deviance_ml: dev_ml,
        aic_ml: -2.0 * ll_ml + 2.0 * parms,
        bic_ml: -2.0 * ll_ml + parms * (k as f64).ln(),
        aicc_ml: aicc(ll_ml, k as f64),
        loglik_reml: ll_reml,
        deviance_reml: -2.0 * ll_reml,
        aic_reml: -2.0 * ll_reml + 2.0 * parms,
        bic_reml: -2.0 * ll_reml + parms * (kp as f64).ln(),
        aicc_reml: aicc(ll_reml, kp as f64),
    };

    // Pseudo-R².
    let r2 = if !int_only && intercept {
        if method == Method::Fe {
            Some(fe_adjusted_r2(&x, yi, vi))
        } else {
            let x0 = vec![vec![1.0; k]];
            let t0 = estimate::tau2(method, &x0, &yc, vi, opts.max_iter)?.tau2;
            Some(if t0 == 0.0 {
                0.0
            } else {
                (100.0 * (t0 - tau2) / t0).max(0.0)
            })
        }
    } else {
        None
    };

    // Weights.
    let sw: f64 = w.iter().sum();
    let sw_fe: f64 = vi.iter().map(|v| 1.0 / v).sum();
    let studies = (0..k)
        .map(|i| StudyWeight {
            slab: label(i),
            yi: yi[i],
            vi: vi[i],
            weight_fixed: 100.0 / vi[i] / sw_fe,
            weight_random: 100.0 * w[i] / sw,
        })
        .collect();

    let first = coefficients
        .first()
        .cloned()
        .ok_or_else(|| MetaError::Singular {
            detail: " (no columns left)".into(),
        })?;
    let mut result = MetaResult {
        method,
        test: opts.test,
        level: opts.level,
        k,
        p,
        mods: None,
        estimate: first.estimate,
        std_error: first.std_error,
        z: first.statistic,
        p_value: first.p_value,
        ci_lower: first.ci_lower,
        ci_upper: first.ci_upper,
        coefficients,
        vcov,
        df,
        s2w,
        tau2,
        tau: tau2.sqrt(),
        se_tau2: est.se,
        i2,
        h2,
        r2,
        q,
        q_df: kp,
        q_p,
        moderators,
        pi_lower: None,
        pi_upper: None,
        fit_stats,
        studies,
        iterations: est.iterations,
        dropped_columns,
        dropped_rows: Vec::new(),
        k_all: k,
    };
    if int_only && method != Method::Fe {
        let pr = result.predict(&[1.0])?;
        result.pi_lower = Some(pr.pi_lower);
        result.pi_upper = Some(pr.pi_upper);
    }
    Ok(result)
}

/// Adjusted R² (percent, truncated at 0) of the weighted least-squares fit with weights
/// `1/vᵢ` — what metafor reports for fixed-effect meta-regression (`lm(yi ~ X, weights)`).
fn fe_adjusted_r2(x: &[Vec<f64>], yi: &[f64], vi: &[f64]) -> f64 {
    let k = yi.len();
    let p = x.len();
    let ybar = yi.iter().sum::<f64>() / k as f64;
    if yi.iter().all(|y| (y - ybar).abs() == 0.0) {
        return 0.0;
    }
    let w: Vec<f64> = vi.iter().map(|v| 1.0 / v).collect();
    let Some(fit) = Wls::new(x, yi, w.clone()) else {
        return f64::NAN;
    };
    let sw: f64 = w.iter().sum();
    let fitted: Vec<f64> = yi.iter().zip(&fit.resid).map(|(y, e)| y - e).collect();
    let fbar: f64 = fitted.iter().zip(&w).map(|(f, w)| f * w).sum::<f64>() / sw;
    let mss: f64 = fitted
        .iter()
        .zip(&w)
        .map(|(f, w)| w * (f - fbar) * (f - fbar))
        .sum();
    let rss = fit.rss();
    let r2 = mss / (mss + rss);
    let adj = 1.0 - (1.0 - r2) * ((k - 1) as f64) / ((k - p) as f64);
    (100.0 * adj).max(0.0)
}
