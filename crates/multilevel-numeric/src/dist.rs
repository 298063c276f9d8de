//! Distribution functions as R computes them (`pnorm`, `qnorm`, `pt`, `qt`, `pchisq`, `pf`), on
//! top of statrs. Every function returns `NaN` for parameters outside the distribution's domain
//! instead of panicking.
//!
//! statrs' normal quantile (`erfc⁻¹`) is accurate to an ulp, but its `erfc` only to ~1e-11
//! relative, so [`qnorm`] is statrs' quantile as it is. The t quantile is polished by Newton
//! steps on the t CDF, which is accurate.

use statrs::distribution::{
    Beta, ChiSquared, Continuous, ContinuousCDF, FisherSnedecor, Normal, StudentsT,
};
use statrs::function::erf::erfc;

/// Standard normal distribution function `Φ(x)` (R: `pnorm(x)`), as `erfc(−x/√2)/2`.
pub fn pnorm(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal upper tail `1 − Φ(x)` (R: `pnorm(x, lower.tail = FALSE)`), as
/// `erfc(x/√2)/2`, accurate far in the tail.
pub fn pnorm_upper(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// Two-sided p-value of a z statistic, `2 Φ(−|z|) = erfc(|z|/√2)`.
pub fn p_norm_two_sided(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Standard normal density `φ(x)`.
pub fn dnorm(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal quantile `Φ⁻¹(p)` (R: `qnorm(p)`), as `−√2 erfc⁻¹(2p)`. `−∞` at 0, `+∞`
/// at 1, `NaN` outside `[0, 1]`.
pub fn qnorm(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.inverse_cdf(p))
}

/// The inverse of [`pnorm`] as computed here: statrs' quantile refined by three Newton steps
/// on `pnorm(q) − p`, so `pnorm(pnorm_inverse(p)) = p` to rounding (statrs' `erfc` is ~1e-11
/// relative from the true Φ, so [`qnorm`] does not invert [`pnorm`] that closely). For the
/// probit link, whose link and inverse link must round-trip. `−∞` at 0, `+∞` at 1, `NaN`
/// outside `[0, 1]`.
pub fn pnorm_inverse(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let Ok(n) = Normal::new(0.0, 1.0) else {
        return f64::NAN;
    };
    let mut q = n.inverse_cdf(p);
    for _ in 0..3 {
        let step = (n.cdf(q) - p) / n.pdf(q);
        if !step.is_finite() {
            break;
        }
        q -= step;
    }
    q
}

/// Two-sided critical value of the normal: `z` with `P(|Z| > z) = alpha`
/// (R: `qnorm(alpha/2, lower.tail = FALSE)`), as [`pnorm_inverse`]`(1 − alpha/2)` (the
/// meta-analysis' intervals and their committed references are computed with this value).
pub fn crit_norm(alpha: f64) -> f64 {
    pnorm_inverse(1.0 - alpha / 2.0)
}

/// Two-sided p-value of a t statistic on `df` degrees of freedom, `2 P(T > |t|)`; an infinite
/// `df` gives the normal's. `NaN` when `t` is not finite or `df` is not positive.
pub fn p_t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df.is_infinite() {
        return p_norm_two_sided(t);
    }
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| 2.0 * d.sf(t.abs()))
}

/// Two-sided critical value of Student's t on `df` df: `q` with `P(|T| > q) = alpha`
/// (R: `qt(alpha/2, df, lower.tail = FALSE)`), polished by Newton steps in the lower tail where
/// the CDF is accurate.
pub fn crit_t(alpha: f64, df: f64) -> f64 {
    let Ok(d) = StudentsT::new(0.0, 1.0, df) else {
        return f64::NAN;
    };
    let target = alpha / 2.0;
    if !(0.0..=0.5).contains(&target) {
        return f64::NAN;
    }
    let mut q = d.inverse_cdf(1.0 - target);
    for _ in 0..4 {
        let step = (d.cdf(-q) - target) / d.pdf(q);
        if !step.is_finite() {
            break;
        }
        q += step;
    }
    q
}

/// Upper tail of the χ² distribution on `df` df (R: `pchisq(x, df, lower.tail = FALSE)`);
/// 1 for `x ≤ 0`.
pub fn p_chisq_upper(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    ChiSquared::new(df).map_or(f64::NAN, |d| d.sf(x))
}

/// Upper tail of the F distribution on `(df1, df2)` df (R: `pf(x, df1, df2, lower.tail =
/// FALSE)`); 1 for `x ≤ 0`.
pub fn p_f_upper(x: f64, df1: f64, df2: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    FisherSnedecor::new(df1, df2).map_or(f64::NAN, |d| d.sf(x))
}

/// Quantile of the beta distribution (R: `qbeta(p, a, b)`): bisection on statrs' regularised
/// incomplete beta function, to 1e-12 in `x`. `NaN` for `p` outside [0, 1] or a, b ≤ 0.
pub fn qbeta(p: f64, a: f64, b: f64) -> f64 {
    let Ok(d) = Beta::new(a, b) else {
        return f64::NAN;
    };
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while hi - lo > 1e-12 {
        let mid = 0.5 * (lo + hi);
        if d.cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {

    #[test]
    fn qbeta_matches_r() {
        // R: qbeta(c(0.025, 0.975), c(3, 4), c(18, 17)) = 0.03207093719 0.37892682655, the
        // Clopper–Pearson limits of binom.test(3, 20).
        assert!((qbeta(0.025, 3.0, 18.0) - 0.032_070_94).abs() < 1e-7);
        assert!((qbeta(0.975, 4.0, 17.0) - 0.378_926_83).abs() < 1e-7);
        assert!(qbeta(1.5, 1.0, 1.0).is_nan());
    }
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    /// Values from R 4.x.
    #[test]
    fn agree_with_r() {
        assert!(rel(crit_norm(0.05), 1.959963984540054) < 1e-10);
        assert!(rel(qnorm(0.975), 1.959963984540054) < 1e-14);
        assert!(rel(qnorm(1e-10), -6.361340902404056) < 1e-13);
        assert!(rel(crit_t(0.05, 12.0), 2.178812829667228) < 1e-12);
        assert!(rel(crit_t(0.10, 3.0), 2.353363434801825) < 1e-12);
        assert!(rel(p_norm_two_sided(-4.0), 6.334248366623985e-05) < 1e-9);
        assert!(rel(p_t_two_sided(2.5, 11.0), 0.02950637408736415) < 1e-10);
        assert!(rel(p_chisq_upper(30.73309, 11.0), 1.214290992178635e-03) < 1e-10);
        assert!(rel(p_f_upper(4.0, 2.0, 10.0), 5.292214940134465e-02) < 1e-10);
        assert!(rel(pnorm(1.0), 0.8413447460685429) < 1e-10);
        assert!(rel(pnorm_upper(5.0), 2.866515718791939e-07) < 1e-9);
    }

    #[test]
    fn pnorm_inverse_inverts_pnorm() {
        for p in [1e-12, 1e-5, 0.025, 0.2, 0.5, 0.7, 0.975, 1.0 - 1e-9] {
            let q = pnorm_inverse(p);
            assert!((pnorm(q) - p).abs() <= 1e-15 * p.max(1e-3), "{p} {q}");
            assert!((q - qnorm(p)).abs() < 1e-9 * q.abs().max(1.0), "{p}");
        }
        assert_eq!(pnorm_inverse(0.0), f64::NEG_INFINITY);
        assert!(pnorm_inverse(-0.1).is_nan());
    }

    #[test]
    fn edges_do_not_panic() {
        assert!(qnorm(f64::NAN).is_nan());
        assert!(qnorm(1.5).is_nan());
        assert_eq!(qnorm(0.0), f64::NEG_INFINITY);
        assert_eq!(qnorm(1.0), f64::INFINITY);
        assert!(p_t_two_sided(1.0, -1.0).is_nan());
        assert_eq!(p_t_two_sided(1.0, f64::INFINITY), p_norm_two_sided(1.0));
        assert_eq!(p_chisq_upper(0.0, 3.0), 1.0);
        assert!(p_f_upper(1.0, 0.0, 3.0).is_nan());
    }

    /// The two-sided p-values are exactly twice the upper tails they are built from.
    #[test]
    fn two_sided_is_twice_the_tail() {
        for z in [0.0, 0.3, 1.96, 4.0, 9.0] {
            assert_eq!(p_norm_two_sided(z), 2.0 * pnorm_upper(z));
            assert_eq!(p_norm_two_sided(-z), p_norm_two_sided(z));
        }
    }
}
