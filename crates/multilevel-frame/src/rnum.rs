//! Numbers as R prints them (`as.character(x)` for a double): at most 15 significant digits,
//! trailing zeros removed, fixed notation unless scientific notation is shorter
//! (R's default `scipen = 0`; ties go to fixed notation).

/// Format `x` as R's `as.character(x)` does: `1 → "1"`, `2.5 → "2.5"`, `175 → "175"`,
/// `1e5 → "1e+05"`, `1e-4 → "1e-04"`, `0.001 → "0.001"`, `-0.5 → "-0.5"`.
///
/// Non-finite values print as `Inf`, `-Inf`, `NaN`.
pub fn format_r_number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf" } else { "-Inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    // The value rounded to 15 significant digits: the target every shorter form must reproduce.
    let target: f64 = format!("{x:.14e}").parse().unwrap_or(x);
    let mut digits = 15usize;
    for d in 1..=15usize {
        let s = format!("{:.*e}", d - 1, x);
        if s.parse::<f64>().ok() == Some(target) {
            digits = d;
            break;
        }
    }
    let sci = format!("{:.*e}", digits - 1, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    let sci_text = format!(
        "{}e{}{:02}",
        mantissa,
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    );
    let decimals = (digits as i32 - 1 - exp).max(0) as usize;
    let fixed = format!("{x:.decimals$}");
    if fixed.len() <= sci_text.len() {
        fixed
    } else {
        sci_text
    }
}

#[cfg(test)]
mod tests {
    use super::format_r_number as f;

    #[test]
    fn matches_r_as_character() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(2.5), "2.5");
        assert_eq!(f(175.0), "175");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(0.001), "0.001");
        assert_eq!(f(0.0001), "1e-04");
        assert_eq!(f(100000.0), "1e+05");
        assert_eq!(f(123456.0), "123456");
        assert_eq!(f(1234567.0), "1234567");
        assert_eq!(f(1e15), "1e+15");
        assert_eq!(f(1.0 / 3.0), "0.333333333333333");
        assert_eq!(f(0.1 + 0.2), "0.3");
        assert_eq!(f(1e-300), "1e-300");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(f64::INFINITY), "Inf");
        assert_eq!(f(f64::NAN), "NaN");
    }
}
