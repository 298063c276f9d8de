//! The studentized range distribution (R's `ptukey`), for Tukey-adjusted p-values of all
//! pairwise comparisons of `k` means.
//!
//! If `Z₁, …, Z_k` are independent standard normals with range `R = max Zᵢ − min Zᵢ`, and
//! `νS²` is an independent χ² on `ν` df, the studentized range is `Q = R / S`. Conditioning on
//! the smallest of the `Z`s,
//!
//! ```text
//! P(R > w) = k ∫ φ(z) [ (1 − Φ(z))^{k−1} − (Φ(z + w) − Φ(z))^{k−1} ] dz
//! ```
//!
//! (the first term integrates to one). With `a = 1 − Φ(z)`, `c = 1 − Φ(z + w)` and
//! `b = a − c`, the difference is written `aᵐ − bᵐ = c Σ_{j<m} aʲ b^{m−1−j}` (`m = k − 1`), a
//! sum of positive terms, so the upper tail keeps its relative accuracy far out (no `1 − P`
//! cancellation). Then
//!
//! ```text
//! P(Q > q) = ∫₀^∞ g_ν(s) P(R > q s) ds,   g_ν(s) = 2 (ν/2)^{ν/2} / Γ(ν/2) · s^{ν−1} e^{−νs²/2},
//! ```
//!
//! `g_ν` being the density of `S`. The outer integral is taken over `u = log s`, where the
//! integrand `exp(log 2 + (ν/2) log(ν/2) − log Γ(ν/2) + νu − νe^{2u}/2) · P(R > q eᵘ)` is smooth
//! (no `s^{ν−1}` singularity at 0), between the points where the density has fallen by `e⁻⁴⁶`
//! from its peak at `u = 0`. Both integrals use 16-point Gauss–Legendre rules on panels; the
//! inner one over `z ∈ [−8.5 − w/2, 8.5]` (beyond, `φ(z)` or the tail factor is below 1e-17).
//! For `ν = ∞` the distribution is that of `R`.
//!
//! (The integral representation is the classical one, e.g. Copenhaver & Holland 1988; the
//! quadrature layout here is this module's own.)

use std::sync::OnceLock;

use statrs::function::gamma::ln_gamma;

use crate::dist::{dnorm, pnorm_upper};

/// Nodes and weights of the `n`-point Gauss–Legendre rule on `[−1, 1]`, by Newton's method on
/// the Legendre polynomial `P_n` (three-term recurrence) from Chebyshev-like starting values.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            // P_n(z) and P_{n−1}(z) by the recurrence.
            let (mut p0, mut p1) = (1.0, z);
            for j in 2..=n {
                let jf = j as f64;
                let p2 = ((2.0 * jf - 1.0) * z * p1 - (jf - 1.0) * p0) / jf;
                p0 = p1;
                p1 = p2;
            }
            dp = nf * (z * p1 - p0) / (z * z - 1.0);
            let step = p1 / dp;
            z -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        let wi = 2.0 / ((1.0 - z * z) * dp * dp);
        w[i] = wi;
        w[n - 1 - i] = wi;
    }
    (x, w)
}

fn rule() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| gauss_legendre(16))
}

/// `∫_lo^hi f` by the 16-point rule on `panels` equal panels.
fn integrate(lo: f64, hi: f64, panels: usize, mut f: impl FnMut(f64) -> f64) -> f64 {
    let (x, w) = rule();
    let h = (hi - lo) / panels as f64;
    let mut total = 0.0;
    for p in 0..panels {
        let a = lo + h * p as f64;
        let mid = a + 0.5 * h;
        let mut s = 0.0;
        for (xi, wi) in x.iter().zip(w) {
            s += wi * f(mid + 0.5 * h * xi);
        }
        total += 0.5 * h * s;
    }
    total
}

/// `P(R > w)` for the range `R` of `k` independent standard normals.
fn range_upper(w: f64, k: usize) -> f64 {
    if w <= 0.0 {
        return 1.0;
    }
    let m = k - 1;
    let lo = -8.5 - 0.5 * w;
    let hi = 8.5;
    let panels = ((hi - lo) / 0.5).ceil() as usize;
    let integral = integrate(lo, hi, panels, |z| {
        let a = pnorm_upper(z);
        let c = pnorm_upper(z + w);
        let b = (a - c).max(0.0);
        // Σ_{j<m} aʲ b^{m−1−j}
        let mut sum = 0.0;
        let mut apow = 1.0;
        for j in 0..m {
            sum += apow * b.powi((m - 1 - j) as i32);
            apow *= a;
        }
        dnorm(z) * c * sum
    });
    (k as f64 * integral).clamp(0.0, 1.0)
}

/// Upper tail of the studentized range distribution, `P(Q > q)` for `k ≥ 2` means and `ν` df
/// (`ν = ∞` allowed); R's `ptukey(q, k, df, lower.tail = FALSE)`. `NaN` for `k < 2`, `ν ≤ 0`
/// or a `NaN` argument; 1 for `q ≤ 0`.
///
/// Accuracy: about 1e-12 relative in the upper tail (halving the panels changes nothing at
/// that level; for `k = 2` it equals the t distribution's two-sided tail to 1e-9).
pub fn ptukey_upper(q: f64, k: usize, df: f64) -> f64 {
    if k < 2 || q.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if q <= 0.0 {
        return 1.0;
    }
    if q.is_infinite() {
        return 0.0;
    }
    if df.is_infinite() {
        return range_upper(q, k);
    }
    // log density of u = log S, up to the constant: ν (u − e^{2u}/2 + 1/2) ≤ 0, peak at u = 0.
    let log_const =
        std::f64::consts::LN_2 + 0.5 * df * (0.5 * df).ln() - ln_gamma(0.5 * df) - 0.5 * df;
    let h = |u: f64| u - 0.5 * (2.0 * u).exp() + 0.5;
    let target = -46.0 / df;
    // h increases on (−∞, 0] and decreases on [0, ∞): bisect each side for h = target.
    let solve = |mut inside: f64, mut outside: f64| {
        for _ in 0..200 {
            let mid = 0.5 * (inside + outside);
            if h(mid) > target {
                inside = mid;
            } else {
                outside = mid;
            }
        }
        0.5 * (inside + outside)
    };
    let mut left = -1.0;
    while h(left) > target {
        left *= 2.0;
    }
    let mut right = 1.0;
    while h(right) > target {
        right *= 2.0;
    }
    let u_lo = solve(0.0, left);
    let u_hi = solve(0.0, right);
    let integral = integrate(u_lo, u_hi, 24, |u| {
        let dens = (log_const + df * (u - 0.5 * (2.0 * u).exp() + 0.5)).exp();
        dens * range_upper(q * u.exp(), k)
    });
    integral.clamp(0.0, 1.0)
}

/// The studentized range distribution function `P(Q ≤ q)` (R's `ptukey(q, k, df)`), as one
/// minus [`ptukey_upper`].
pub fn ptukey(q: f64, k: usize, df: f64) -> f64 {
    1.0 - ptukey_upper(q, k, df)
}

/// Quantile of the studentized range distribution (R's `qtukey(p, k, df)`): the `q` with
/// `P(Q ≤ q) = p`, by bisection on [`ptukey_upper`] (monotone in `q`) to 1e-10 relative.
/// `NaN` for `p` outside (0, 1), `k < 2` or `ν ≤ 0`.
pub fn qtukey(p: f64, k: usize, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || k < 2 || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let upper = 1.0 - p;
    let mut hi = 1.0;
    while ptukey_upper(hi, k, df) > upper {
        hi *= 2.0;
        if hi > 1e8 {
            return f64::NAN;
        }
    }
    let mut lo = 0.0;
    while hi - lo > 1e-10 * hi {
        let mid = 0.5 * (lo + hi);
        if ptukey_upper(mid, k, df) > upper {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qtukey_inverts_ptukey_as_r() {
        // R: qtukey(0.95, 3, 10) = 3.87677674919, qtukey(0.99, 5, 20.5) = 5.27471941323,
        // qtukey(0.95, 4, Inf) = 3.6331595818. R's qtukey stops its secant search at 1e-4
        // ("accurate to the 4th decimal place"), so that is the tolerance.
        assert!((qtukey(0.95, 3, 10.0) - 3.876_776_749_19).abs() < 1e-4);
        assert!((qtukey(0.99, 5, 20.5) - 5.274_719_413_23).abs() < 1e-4);
        assert!((qtukey(0.95, 4, f64::INFINITY) - 3.633_159_581_8).abs() < 1e-4);
        // And it inverts ptukey to far better than that.
        let q = qtukey(0.95, 3, 10.0);
        assert!((ptukey(q, 3, 10.0) - 0.95).abs() < 1e-9);
        assert!(qtukey(1.0, 3, 10.0).is_nan());
    }

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        let (x, w) = gauss_legendre(16);
        // ∫_{-1}^{1} x^30 dx = 2/31 (degree 2n − 2 = 30 is exact).
        let s: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(30)).sum();
        assert!((s - 2.0 / 31.0).abs() < 1e-14);
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-14);
    }

    #[test]
    fn two_means_reduce_to_the_t_distribution() {
        // For k = 2, Q = √2 |T|: P(Q > q) = P(|T| > q/√2).
        for (q, df) in [
            (1.0, 5.0),
            (3.0, 12.0),
            (5.0, 30.0),
            (2.0, f64::INFINITY),
            (20.0, 2.0),
            (9.0, 1000.0),
        ] {
            let t = crate::dist::p_t_two_sided(q / std::f64::consts::SQRT_2, df);
            let ours = ptukey_upper(q, 2, df);
            assert!(
                (ours - t).abs() < 1e-9 * t.max(1e-3),
                "{q} {df}: {ours} vs {t}"
            );
        }
    }

    /// Values from R 4.x: `ptukey(q, k, df, lower.tail = FALSE)`. R's own values are accurate
    /// to about 1e-6 relative for small df (for k = 2, where the exact tail is Student's t,
    /// R's `ptukey(6, 2, 3.5)` is 1e-4 and `ptukey(20, 2, 2)` 6e-2 relative off `2 pt(q/√2, ν)`;
    /// ours agrees with the t to 1e-9, see above), hence 1e-5 here and no ν < 3;
    /// R computes the upper tail as one minus the lower, so its values below ~1e-8 carry an
    /// absolute error near 1e-13 — `ptukey(9, 2, 1000)` is 1e-3 relative off the t's tail).
    #[test]
    fn agree_with_r() {
        let cases = [
            (3.5, 3, 10.0, 7.710_331_083_866_04e-2),
            (2.0, 5, 20.0, 6.260_775_124_114_32e-1),
            (4.5, 10, 40.0, 7.439_087_558_284_84e-2),
            (6.0, 4, 3.5, 5.469600466054347e-02),
            (3.0, 3, f64::INFINITY, 8.554_257_165_495_76e-2),
            (8.0, 6, 60.0, 6.629476362762787e-06),
            (1.0, 20, 100.0, 9.999999085235991e-01),
        ];
        for (q, k, df, r) in cases {
            let ours = ptukey_upper(q, k, df);
            assert!(
                (ours - r).abs() < 1e-5 * r,
                "ptukey({q}, {k}, {df}): {ours} vs R {r}"
            );
        }
    }

    #[test]
    fn edges_do_not_panic() {
        assert!(ptukey_upper(1.0, 1, 5.0).is_nan());
        assert!(ptukey_upper(1.0, 3, 0.0).is_nan());
        assert!(ptukey_upper(f64::NAN, 3, 5.0).is_nan());
        assert_eq!(ptukey_upper(-1.0, 3, 5.0), 1.0);
        assert_eq!(ptukey_upper(f64::INFINITY, 3, 5.0), 0.0);
        assert!((ptukey(0.0, 3, 5.0)).abs() < 1e-15);
    }
}
