//! The τ² estimators and their standard errors (metafor's `rma.uni` definitions; see the crate
//! documentation for the formulas).

use crate::linalg::Wls;
use crate::{MetaError, Method};

/// A τ² estimate.
pub(crate) struct Tau2 {
    pub tau2: f64,
    pub se: Option<f64>,
    pub iterations: usize,
}

fn singular() -> MetaError {
    MetaError::Singular {
        detail: String::new(),
    }
}

fn wls<'a>(x: &'a [Vec<f64>], y: &[f64], w: Vec<f64>) -> Result<Wls<'a>, MetaError> {
    Wls::new(x, y, w).ok_or_else(singular)
}

fn re_weights(vi: &[f64], tau2: f64) -> Vec<f64> {
    vi.iter().map(|v| 1.0 / (v + tau2)).collect()
}

/// ML (`reml = false`) or REML log-likelihood at `tau2` (the centred `y`; the constant
/// `log|X'X|` of metafor's REML is left out, it does not depend on τ²).
fn loglik(x: &[Vec<f64>], y: &[f64], vi: &[f64], tau2: f64, reml: bool) -> Result<f64, MetaError> {
    let k = y.len() as f64;
    let p = x.len() as f64;
    let f = wls(x, y, re_weights(vi, tau2))?;
    let logv: f64 = vi.iter().map(|v| (v + tau2).ln()).sum();
    Ok(if reml {
        -0.5 * (k - p) * (2.0 * std::f64::consts::PI).ln()
            - 0.5 * logv
            - 0.5 * f.log_det()
            - 0.5 * f.rss()
    } else {
        -0.5 * k * (2.0 * std::f64::consts::PI).ln() - 0.5 * logv - 0.5 * f.rss()
    })
}

/// Estimate τ² with `method` from the centred effect sizes `y`, variances `vi` and model
/// matrix columns `x`.
pub(crate) fn tau2(
    method: Method,
    x: &[Vec<f64>],
    y: &[f64],
    vi: &[f64],
    max_iter: usize,
) -> Result<Tau2, MetaError> {
    let k = y.len() as f64;
    let p = x.len() as f64;
    let ones = vec![1.0; y.len()];
    let closed = |tau2: f64, se: f64| Tau2 {
        tau2: tau2.max(0.0),
        se: Some(se),
        iterations: 0,
    };
    match method {
        Method::Fe => Ok(Tau2 {
            tau2: 0.0,
            se: None,
            iterations: 0,
        }),
        Method::Dl => {
            let f = wls(x, y, vi.iter().map(|v| 1.0 / v).collect())?;
            let tr_p = f.tr_p(&ones);
            let t = ((f.rss() - (k - p)) / tr_p).max(0.0);
            let se = (1.0 / (tr_p * tr_p)
                * (2.0 * (k - p) + 4.0 * t * tr_p + 2.0 * t * t * f.tr_pdpd(&ones, &ones)))
            .sqrt();
            Ok(closed(t, se))
        }
        Method::He => {
            let f = wls(x, y, ones.clone())?;
            let tr_pv = f.tr_p(vi);
            let t = ((f.rss() - tr_pv) / (k - p)).max(0.0);
            let se = (1.0 / ((k - p) * (k - p))
                * (2.0 * f.tr_pdpd(vi, vi) + 4.0 * t * tr_pv + 2.0 * t * t * (k - p)))
                .sqrt();
            Ok(closed(t, se))
        }
        Method::Sj => {
            let tau0 = y.iter().map(|v| v * v).sum::<f64>() / k;
            let f = wls(x, y, re_weights(vi, tau0))?;
            let t = (tau0 * f.rss() / (k - p)).max(0.0);
            let se = (tau0 * tau0 / ((k - p) * (k - p))
                * (2.0 * f.tr_pdpd(vi, vi)
                    + 4.0 * t * f.tr_pdpd(vi, &ones)
                    + 2.0 * t * t * f.tr_pdpd(&ones, &ones)))
            .sqrt();
            Ok(closed(t, se))
        }
        Method::Pm | Method::Eb => {
            let (t, iterations) = paule_mandel(x, y, vi, max_iter, method)?;
            let sw: f64 = re_weights(vi, t).iter().sum();
            let se = (2.0 * k * k / (k - p) / (sw * sw)).sqrt();
            Ok(Tau2 {
                tau2: t,
                se: Some(se),
                iterations,
            })
        }
        Method::Ml | Method::Reml => {
            let reml = method == Method::Reml;
            // Start at the Hedges estimate (metafor's default start), truncated at 0.
            let start = tau2(Method::He, x, y, vi, max_iter)?.tau2;
            let (mut t, iterations) = fisher_scoring(x, y, vi, start, reml, max_iter, method)?;
            // metafor's `ll0check`: prefer τ² = 0 when the likelihood is higher there.
            if t > 0.0 {
                let ll0 = loglik(x, y, vi, 0.0, reml)?;
                let ll = loglik(x, y, vi, t, reml)?;
                if ll0 - ll > 1e-10 * ll.abs().max(1.0) {
                    t = 0.0;
                }
            }
            let f = wls(x, y, re_weights(vi, t))?;
            let se = if reml {
                (2.0 / f.tr_pdpd(&ones, &ones)).sqrt()
            } else {
                (2.0 / f.w.iter().map(|w| w * w).sum::<f64>()).sqrt()
            };
            Ok(Tau2 {
                tau2: t,
                se: Some(se),
                iterations,
            })
        }
    }
}

/// Convergence test of the iterative estimators.
fn converged(old: f64, new: f64) -> bool {
    (new - old).abs() <= 1e-12 * new.abs().max(1.0)
}

/// Fisher scoring for the (restricted) likelihood, with metafor's step halving at the
/// boundary `τ² ≥ 0`.
fn fisher_scoring(
    x: &[Vec<f64>],
    y: &[f64],
    vi: &[f64],
    start: f64,
    reml: bool,
    max_iter: usize,
    method: Method,
) -> Result<(f64, usize), MetaError> {
    let ones = vec![1.0; y.len()];
    let mut t = start.max(0.0);
    for iter in 1..=max_iter {
        let f = wls(x, y, re_weights(vi, t))?;
        let mut adj = if reml {
            (f.rss2() - f.tr_p(&ones)) / f.tr_pdpd(&ones, &ones)
        } else {
            let sw: f64 = f.w.iter().sum();
            let sw2: f64 = f.w.iter().map(|w| w * w).sum();
            (f.rss2() - sw) / sw2
        };
        if !adj.is_finite() {
            adj = 0.0;
        }
        let mut halvings = 0;
        while t + adj < 0.0 && halvings < 1100 {
            adj /= 2.0;
            halvings += 1;
        }
        let new = (t + adj).max(0.0);
        if converged(t, new) {
            return Ok((new, iter));
        }
        t = new;
    }
    Err(MetaError::NotConverged {
        method: method.name().to_string(),
        iterations: max_iter,
    })
}

/// The Paule–Mandel root of `Q(τ²) = y'P(τ²)y = k − p` (0 when `Q(0) < k − p`).
///
/// `Q` decreases in τ² with `dQ/dτ² = −y'PPy`; Newton steps are kept inside a bracket that is
/// widened by doubling until `Q(upper) < k − p`, with bisection when a step leaves it.
fn paule_mandel(
    x: &[Vec<f64>],
    y: &[f64],
    vi: &[f64],
    max_iter: usize,
    method: Method,
) -> Result<(f64, usize), MetaError> {
    let target = (y.len() - x.len()) as f64;
    let q = |t: f64| -> Result<(f64, f64), MetaError> {
        let f = wls(x, y, re_weights(vi, t))?;
        Ok((f.rss() - target, -f.rss2()))
    };
    let (q0, _) = q(0.0)?;
    if q0 <= 0.0 {
        return Ok((0.0, 0));
    }
    let not_converged = || MetaError::NotConverged {
        method: method.name().to_string(),
        iterations: max_iter,
    };
    let mut lo = 0.0;
    let mut hi = {
        let var = y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64;
        var.max(1e-8)
    };
    let mut iterations = 0;
    loop {
        let (qh, _) = q(hi)?;
        iterations += 1;
        if qh < 0.0 {
            break;
        }
        lo = hi;
        hi *= 2.0;
        if iterations > 2000 || !hi.is_finite() {
            return Err(not_converged());
        }
    }
    let mut t = 0.5 * (lo + hi);
    for _ in 0..max_iter {
        iterations += 1;
        let (qt, dq) = q(t)?;
        if qt > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let mut next = t - qt / dq;
        let inside = next.is_finite() && next > lo && next < hi;
        if !inside {
            next = 0.5 * (lo + hi);
        }
        if converged(t, next) || (hi - lo) <= 1e-15 * hi.max(1.0) {
            return Ok((next, iterations));
        }
        t = next;
    }
    Err(not_converged())
}
