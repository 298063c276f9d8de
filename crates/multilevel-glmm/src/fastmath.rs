//! `exp` and `ln(1 + e)` for the unit-deviance loops of the binomial–logit and Poisson–log
//! fast paths.
//!
//! Both are short, branch-light polynomial evaluations that the compiler inlines into the loops
//! over observations and quadrature nodes, in place of calls into the C library (plain
//! multiplies and adds: the default x86-64 target has no fused multiply–add, so `f64::mul_add`
//! would be a library call itself). They are as
//! accurate as the deviance needs and more accurate than what they replace there:
//!
//! - [`exp`] is within about one unit in the last place (ulp) of `eˣ` on the whole range where
//!   the result is a normal number, and defers to `f64::exp` outside it (overflow, subnormal
//!   results, NaN), so it returns the same special values.
//! - `ln_1p_core` is `ln(1 + e)` for `e ∈ [0, 1]` with a relative error of a few ulp for every
//!   `e`, including tiny ones (where `(1 + e).ln()` loses all digits of `e` below 2⁻⁵³).
//!
//! In the adaptive Gauss–Hermite deviance of a cbpp-sized model these two functions are most of
//! the arithmetic (25 nodes × every observation × one of each per evaluation).

/// `1.5 · 2⁵²`: adding it to a number of magnitude below 2⁵¹ rounds that number to an integer
/// held in the low bits of the sum's mantissa.
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// High part of ln 2: the double nearest ln 2 with its low 21 mantissa bits cleared
/// (≈ 0.693147180369), so that `k · LN2_HI` is exact for `|k| < 2¹¹`.
const LN2_HI: f64 = f64::from_bits(std::f64::consts::LN_2.to_bits() & !0x1f_ffff);
/// ln 2 − [`LN2_HI`] rounded to a double (≈ 1.9082149292705877·10⁻¹⁰; from a 50-digit ln 2).
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `eˣ`.
///
/// With `k = round(x / ln 2)` and `r = x − k ln 2` (`|r| ≤ ln 2 / 2`, computed in two parts so
/// that it is exact to about 2⁻⁶⁴), `eˣ = 2ᵏ · eʳ`, where `eʳ` is its Taylor polynomial of degree
/// 13 (truncation error below 10⁻¹⁷ relative on that interval) and `2ᵏ` is built from its bits.
/// Arguments whose result would overflow, be subnormal, or that are NaN go to `f64::exp`.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    if !(-708.0..=709.0).contains(&x) {
        return x.exp();
    }
    exp_core(x)
}

/// [`exp`] without the range check: valid for `x ∈ [−708, 709]` only. No branches, so loops
/// over it vectorise.
#[inline(always)]
fn exp_core(x: f64) -> f64 {
    let t = x * std::f64::consts::LOG2_E + ROUND_SHIFT;
    let kf = t - ROUND_SHIFT;
    // The integer k sits in the low bits of t's representation (two's complement wrap-around
    // makes negative k come out right).
    let k = t.to_bits().wrapping_sub(ROUND_SHIFT.to_bits()) as i64;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Taylor coefficients 1/j!, j = 13 down to 2, in Horner form.
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let mut p = C[0];
    for &c in &C[1..] {
        p = p * r + c;
    }
    // eʳ = 1 + r + r²·p(r); adding the 1 last keeps the rounding error near half an ulp.
    let er = 1.0 + (r + r * r * p);
    // 2ᵏ for k ∈ [−1022, 1023]: the exponent field k + 1023, mantissa zero.
    let scale = f64::from_bits(((k + 1023) as u64) << 52);
    er * scale
}

/// `ln(1 + e)` for `e ∈ [0, 1]` (the log of the binomial–logit denominator, `e = exp(−|η|)`).
///
/// `ln(1 + e) = c + 2 atanh(s)` with `s = e / (2 + e)`, `c = 0` for `e ≤ √2 − 1`, and
/// `s = (e − 1) / (e + 3)`, `c = ln 2` above (that is `ln 2 + ln((1 + e)/2)`), so that
/// `|s| ≤ 3 − 2√2 ≈ 0.1716`. Then `2 atanh(s) = 2s Σⱼ s²ʲ/(2j + 1)`, summed to `j = 11`
/// (truncation below 10⁻¹⁸ relative). Values of `e` outside `[0, 1]` and NaN go to `ln_1p`.
#[cfg(test)]
fn ln_1p_unit(e: f64) -> f64 {
    if !(0.0..=1.0).contains(&e) {
        return e.ln_1p();
    }
    ln_1p_core(e)
}

/// `ln_1p_unit` (the checked form, used by the tests) without the range check: valid for
/// `e ∈ [0, 1]` only. The two halves of the range are selected arithmetically (no branch), so
/// loops over it vectorise.
#[inline(always)]
fn ln_1p_core(e: f64) -> f64 {
    // 1 in the upper half, 0 in the lower (a mask on the constant 1.0 once vectorised).
    let up = if e > std::f64::consts::SQRT_2 - 1.0 {
        1.0
    } else {
        0.0
    };
    let num = e - up;
    let den = e + (2.0 + up);
    let c = up * std::f64::consts::LN_2;
    let s = num / den;
    let z = s * s;
    // 1/(2j + 1) for j = 11 down to 1.
    const C: [f64; 11] = [
        1.0 / 23.0,
        1.0 / 21.0,
        1.0 / 19.0,
        1.0 / 17.0,
        1.0 / 15.0,
        1.0 / 13.0,
        1.0 / 11.0,
        1.0 / 9.0,
        1.0 / 7.0,
        1.0 / 5.0,
        1.0 / 3.0,
    ];
    let mut p = C[0];
    for &k in &C[1..] {
        p = p * z + k;
    }
    // 2s (1 + z p(z)) = 2s + 2s·z·p(z).
    let two_s = 2.0 * s;
    c + (two_s + two_s * z * p)
}

/// `e[i] = exp(−|x[i]|)` and `l[i] = ln(1 + e[i])` for every `i` (the binomial–logit pair
/// `e^{−|η|}`, `ln(1 + e^{−|η|})`), in one vectorisable pass. For `|x[i]| > 708` and NaN the
/// argument of the exponential is taken as −708 (`e ≈ 3·10⁻³⁰⁸`, `l ≈ e`): callers treat such
/// `x` separately (there `μ` is clamped or the deviance is NaN anyway). The three slices have
/// the same length; extra elements of the longer ones are left alone.
pub(crate) fn exp_ln1p_neg_abs(x: &[f64], e: &mut [f64], l: &mut [f64]) {
    for ((&v, eo), lo) in x.iter().zip(e.iter_mut()).zip(l.iter_mut()) {
        let ev = exp_core((-v.abs()).max(-708.0));
        *eo = ev;
        *lo = ln_1p_core(ev);
    }
}

/// `m[i] = exp(x[i])` for `x[i] ∈ [−708, 709]`, in one vectorisable pass; arguments outside
/// that range (and NaN) are clamped into it, so callers must take `f64::exp` of such `x`
/// themselves (see [`exp`]).
pub(crate) fn exp_clamped(x: &[f64], m: &mut [f64]) {
    for (&v, mo) in x.iter().zip(m.iter_mut()) {
        *mo = exp_core(v.clamp(-708.0, 709.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite doubles of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        if a == b {
            return 0;
        }
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// Deterministic points: a sweep plus a linear congruential scatter.
    fn points(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        let mut out: Vec<f64> = (0..=n)
            .map(|i| lo + (hi - lo) * i as f64 / n as f64)
            .collect();
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..n {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            out.push(lo + (hi - lo) * u);
        }
        out
    }

    #[test]
    fn exp_is_within_two_ulps_of_std_on_the_normal_range() {
        let mut worst = 0;
        for x in points(-708.0, 709.0, 200_000)
            .into_iter()
            .chain(points(-2.0, 2.0, 200_000))
            .chain(points(-1e-6, 1e-6, 20_000))
        {
            let (a, b) = (exp(x), x.exp());
            assert!(a.is_finite() && a > 0.0, "exp({x}) = {a}");
            worst = worst.max(ulps(a, b));
        }
        // std's exp is itself within ~0.5 ulp of eˣ, so two ulps of it is about 1.5 of eˣ.
        assert!(worst <= 2, "worst distance {worst} ulp");
    }

    #[test]
    fn the_split_of_ln_2_has_a_short_high_part_and_sums_to_ln_2() {
        // 32 significant bits in the high part: k · LN2_HI is exact for |k| < 2²¹.
        assert_eq!(LN2_HI.to_bits() & 0x1f_ffff, 0);
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
        // The low part carries what LN_2 rounded away: LN2_HI + LN2_LO is not just LN_2
        // (ln 2 − LN_2 ≈ 2.3·10⁻¹⁷).
        assert_ne!(LN2_LO, std::f64::consts::LN_2 - LN2_HI);
    }

    #[test]
    fn exp_keeps_the_special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(800.0), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(-740.0), (-740.0f64).exp());
        assert_eq!(exp(-1000.0), 0.0);
        // The edges of the polynomial range agree with std.
        for x in [-708.0, 709.0, -707.999, 708.999] {
            assert!(ulps(exp(x), x.exp()) <= 2, "x = {x}");
        }
    }

    #[test]
    fn ln_1p_unit_is_within_two_ulps_of_std_ln_1p() {
        let mut worst = 0;
        for e in points(0.0, 1.0, 400_000)
            .into_iter()
            .chain(points(0.40, 0.43, 20_000))
            .chain(points(0.0, 1e-8, 20_000))
            .chain((0..1075).map(|j| 2f64.powi(-j)))
        {
            let (a, b) = (ln_1p_unit(e), e.ln_1p());
            worst = worst.max(ulps(a, b));
        }
        assert!(worst <= 2, "worst distance {worst} ulp");
        assert_eq!(ln_1p_unit(0.0), 0.0);
        assert_eq!(ln_1p_unit(1.0), std::f64::consts::LN_2);
        assert_eq!(ln_1p_unit(3.0), 3f64.ln_1p());
        assert!(ln_1p_unit(f64::NAN).is_nan());
    }

    #[test]
    fn the_batched_passes_equal_the_scalar_functions() {
        let x: Vec<f64> = points(-800.0, 800.0, 5_000)
            .into_iter()
            .chain(points(-40.0, 40.0, 5_000))
            .chain([f64::NAN, f64::INFINITY, f64::NEG_INFINITY])
            .collect();
        let (mut e, mut l, mut m) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
        exp_ln1p_neg_abs(&x, &mut e, &mut l);
        exp_clamped(&x, &mut m);
        for (i, &v) in x.iter().enumerate() {
            let a = (-v.abs()).max(-708.0);
            assert_eq!(e[i].to_bits(), exp(a).to_bits(), "x = {v}");
            assert_eq!(l[i].to_bits(), ln_1p_unit(e[i]).to_bits(), "x = {v}");
            assert_eq!(
                m[i].to_bits(),
                exp(v.clamp(-708.0, 709.0)).to_bits(),
                "x = {v}"
            );
            if (-708.0..=709.0).contains(&v) {
                assert!(ulps(m[i], v.exp()) <= 2, "x = {v}");
            }
        }
    }
}
