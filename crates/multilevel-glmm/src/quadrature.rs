//! Gauss–Hermite quadrature for the standard normal density (lme4's `GHrule`).
//!
//! `∫ f(z) φ(z) dz ≈ Σₖ wₖ f(zₖ)` with `Σ wₖ = 1`. The nodes are the zeros of the
//! orthonormal (probabilists') Hermite polynomial `p_n`, found by Newton's method from the
//! classical asymptotic starting values; the weights are the Christoffel numbers
//! `wₖ = 1 / Σⱼ<n pⱼ(zₖ)²`, which keeps even the tiny outer weights accurate relative to their
//! size. The rule is symmetrised as lme4 does (nodes `(z − rev z)/2`, weights `(w + rev w)/2`).

/// One quadrature rule.
#[derive(Debug, Clone, PartialEq)]
pub struct GhRule {
    /// Nodes, increasing.
    pub z: Vec<f64>,
    /// Weights (sum 1).
    pub w: Vec<f64>,
    /// `log φ(zₖ)`.
    pub ldnorm: Vec<f64>,
}

/// `(p_n(x), p_{n−1}(x))` of the orthonormal Hermite polynomials for `φ`.
fn hermite(n: usize, x: f64) -> (f64, f64, f64) {
    // p_0 = 1, p_1 = x, p_{j+1} = (x p_j − √j p_{j−1}) / √(j+1); also Σ_{j<n} p_j².
    let mut p_prev = 0.0;
    let mut p = 1.0;
    let mut sumsq = 0.0;
    for j in 0..n {
        sumsq += p * p;
        let next = (x * p - (j as f64).sqrt() * p_prev) / ((j + 1) as f64).sqrt();
        p_prev = p;
        p = next;
    }
    (p, p_prev, sumsq)
}

/// The `n`-point rule (`n ≥ 1`), computed once per process for each `n` and copied from a
/// cache afterwards (a fit of a small model is only a few milliseconds, of which computing a
/// 25-point rule was a few percent).
pub fn gh_rule(n: usize) -> GhRule {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<usize, GhRule>>> = OnceLock::new();
    let n = n.max(1);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked while holding it: compute afresh.
    if let Some(rule) = cache.lock().ok().and_then(|c| c.get(&n).cloned()) {
        return rule;
    }
    let rule = compute_gh_rule(n);
    if let Ok(mut c) = cache.lock() {
        c.insert(n, rule.clone());
    }
    rule
}

/// [`gh_rule`] without the cache.
fn compute_gh_rule(n: usize) -> GhRule {
    let mut roots = vec![0.0f64; n];
    // The positive zeros of p_n lie in (0, √(4n+2)); the smallest spacing is about π/√n.
    // Bracket them on a fine grid, bisect, and polish with one Newton step.
    let nf = n as f64;
    let hi = (4.0 * nf + 2.0).sqrt() + 1.0;
    let step = 0.05 / nf.sqrt();
    let mut pos: Vec<f64> = Vec::with_capacity(n / 2);
    let mut a = if n % 2 == 1 { step / 2.0 } else { 0.0 };
    let mut fa = hermite(n, a).0;
    while a < hi && pos.len() < n / 2 {
        let b = a + step;
        let fb = hermite(n, b).0;
        if fa == 0.0 || fa.signum() != fb.signum() {
            let (mut lo, mut up, mut flo) = (a, b, fa);
            for _ in 0..200 {
                let mid = 0.5 * (lo + up);
                if mid <= lo || mid >= up {
                    break;
                }
                let fm = hermite(n, mid).0;
                if fm.signum() == flo.signum() {
                    lo = mid;
                    flo = fm;
                } else {
                    up = mid;
                }
            }
            let mut x = 0.5 * (lo + up);
            let (p, pm1, _) = hermite(n, x);
            let dp = nf.sqrt() * pm1;
            if dp != 0.0 {
                let nx = x - p / dp;
                if nx > lo - step && nx < up + step {
                    x = nx;
                }
            }
            pos.push(x);
        }
        a = b;
        fa = fb;
    }
    let half = n / 2;
    for (i, x) in pos.iter().enumerate().take(half) {
        roots[n - half + i] = *x;
        roots[half - 1 - i] = -*x;
    }
    if n % 2 == 1 {
        roots[n / 2] = 0.0;
    }
    let mut w: Vec<f64> = roots.iter().map(|&x| 1.0 / hermite(n, x).2).collect();
    // Symmetrise.
    let z0 = roots.clone();
    let w0 = w.clone();
    for k in 0..n {
        roots[k] = (z0[k] - z0[n - 1 - k]) / 2.0;
        w[k] = (w0[k] + w0[n - 1 - k]) / 2.0;
    }
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= total);
    let ldnorm = roots
        .iter()
        .map(|z| -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln())
        .collect();
    GhRule {
        z: roots,
        w,
        ldnorm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_point_rule_matches_lme4() {
        // lme4:::GHrule(5)
        let r = gh_rule(5);
        assert!((r.z[4] - 2.856_970_013_872_805_6).abs() < 1e-14);
        assert!((r.z[3] - 1.355_626_179_974_266).abs() < 1e-14);
        assert!((r.w[0] - 0.011_257_411_327_720_7).abs() < 1e-15);
        assert!((r.w[2] - 0.533_333_333_333_333_3).abs() < 1e-15);
        // lme4:::GHrule(25), the outermost node and weight.
        let r = gh_rule(25);
        assert!((r.z[24] - 8.717_597_678_399_588).abs() < 1e-12);
        assert!((r.w[24] / 1.530_038_997_998_694_5e-17 - 1.0).abs() < 1e-9);
        assert!((r.z[19] - 4.508_929_922_967_285).abs() < 1e-12);
    }

    #[test]
    fn the_cache_returns_the_computed_rule() {
        for n in [1, 3, 25, 25, 40] {
            assert_eq!(gh_rule(n), compute_gh_rule(n), "n={n}");
        }
        assert_eq!(gh_rule(0), compute_gh_rule(1));
    }

    #[test]
    fn rules_integrate_normal_moments() {
        for n in [2, 7, 25, 60, 100] {
            let r = gh_rule(n);
            let m0: f64 = r.w.iter().sum();
            let m2: f64 = r.z.iter().zip(&r.w).map(|(z, w)| w * z * z).sum();
            let m4: f64 = r.z.iter().zip(&r.w).map(|(z, w)| w * z.powi(4)).sum();
            assert!((m0 - 1.0).abs() < 1e-13, "n={n}");
            assert!((m2 - 1.0).abs() < 1e-12, "n={n} m2={m2}");
            if n >= 3 {
                assert!((m4 - 3.0).abs() < 1e-11, "n={n} m4={m4}");
            }
            assert!(r.z.windows(2).all(|p| p[0] < p[1]), "n={n} sorted");
        }
    }
}
