//! Numbers as R writes them in formula text (a leaf: the lexer's messages and the deparser
//! both print numbers this way).

/// Formats a number like R: whole numbers without a decimal point, and scientific notation
/// (`1e-04`, `1e+05`) when it is shorter than the fixed form. Always reparses to the same value.
pub(crate) fn format_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    let fixed = if v == v.trunc() && v.abs() < 1e15 {
        // Whole and well inside i64, so the cast is exact.
        format!("{}", v as i64)
    } else {
        format!("{v}")
    };
    let sci = {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => s,
        }
    };
    if sci.len() < fixed.len() { sci } else { fixed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_r() {
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1e-4), "1e-04");
        assert_eq!(format_number(100000.0), "1e+05");
        assert_eq!(format_number(123456.0), "123456");
        assert_eq!(format_number(1.5e300), "1.5e+300");
        assert_eq!(format_number(-3.25), "-3.25");
    }
}
