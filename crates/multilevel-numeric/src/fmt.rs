//! Number formatting that follows R's `format()`, `round()`, `zapsmall()`, `format.pval()` and
//! `abbreviate()` closely enough that the tables read like R's printout.
//!
//! R formats a numeric *vector* as a unit: every element gets the same number of decimals and the
//! same width. The number of decimals is the smallest that shows each element with `digits`
//! significant digits (trailing zeros dropped); fixed notation is used unless scientific notation
//! is narrower.

/// How R's `scientific()` sees one finite number: its sign, decimal exponent and the number of
/// significant digits needed (at most `digits`) after dropping trailing zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sci {
    neg: bool,
    kpower: i32,
    nsig: i32,
}

fn sci(x: f64, digits: usize) -> Sci {
    if x == 0.0 {
        return Sci {
            neg: false,
            kpower: 0,
            nsig: 1,
        };
    }
    let digits = digits.clamp(1, 22);
    // `{:.Ne}` rounds the exact binary value to N+1 significant digits: "1.2340e3".
    let s = format!("{:.*e}", digits - 1, x.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let kpower = exp.parse::<i32>().unwrap_or(0);
    let ds: String = mant.chars().filter(char::is_ascii_digit).collect();
    let nsig = ds.trim_end_matches('0').len().max(1) as i32;
    Sci {
        neg: x < 0.0,
        kpower,
        nsig,
    }
}

/// The common layout R chooses for a vector: total width and decimals, in fixed or scientific
/// notation (`exp_digits > 0` means scientific with that many exponent-digit extra width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    width: usize,
    decimals: usize,
    scientific: bool,
    exp3: bool,
}

fn layout(xs: &[f64], digits: usize, nsmall: usize) -> Layout {
    let mut any = false;
    let mut neg = false;
    let mut mxsl = i32::MIN;
    let mut rgt = i32::MIN;
    let mut mxl = i32::MIN;
    let mut mxns = i32::MIN;
    let mut mxe = i32::MIN;
    let mut mne = i32::MAX;
    let mut nonfinite_width = 0usize;
    for &x in xs {
        if !x.is_finite() {
            nonfinite_width = nonfinite_width.max(nonfinite(x).len());
            continue;
        }
        any = true;
        let s = sci(x, digits);
        let left = s.kpower + 1;
        let sleft = i32::from(s.neg) + if left <= 0 { 1 } else { left };
        let right = s.nsig - left;
        neg |= s.neg;
        rgt = rgt.max(right);
        mxl = mxl.max(left);
        mxsl = mxsl.max(sleft);
        mxns = mxns.max(s.nsig);
        mxe = mxe.max(s.kpower);
        mne = mne.min(s.kpower);
    }
    if !any {
        return Layout {
            width: nonfinite_width,
            decimals: 0,
            scientific: false,
            exp3: false,
        };
    }
    if mxl < 0 {
        mxsl = 1 + i32::from(neg);
    }
    rgt = rgt.max(0);
    let wf = mxsl + rgt + i32::from(rgt != 0);
    let exp3 = mxe >= 100 || mne <= -99;
    let d = mxns - 1;
    let ws = i32::from(neg) + i32::from(d > 0) + d + 4 + if exp3 { 2 } else { 1 };
    let mut out = if wf <= ws {
        let rgt = rgt.max(nsmall as i32);
        Layout {
            width: (mxsl + rgt + i32::from(rgt != 0)) as usize,
            decimals: rgt as usize,
            scientific: false,
            exp3: false,
        }
    } else {
        Layout {
            width: ws as usize,
            decimals: d as usize,
            scientific: true,
            exp3,
        }
    };
    out.width = out.width.max(nonfinite_width);
    out
}

fn nonfinite(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Inf"
    } else {
        "-Inf"
    }
}

/// One number in scientific notation the way C's `%.*e` writes it: `1.50e-05`, `2e+10`.
fn encode_sci(x: f64, decimals: usize, exp3: bool) -> String {
    let s = format!("{:.*e}", decimals, x);
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let e = exp.parse::<i32>().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    let width = if exp3 { 3 } else { 2 };
    format!("{mant}e{sign}{:0width$}", e.unsigned_abs())
}

fn encode(x: f64, l: &Layout) -> String {
    if !x.is_finite() {
        return nonfinite(x).to_string();
    }
    if l.scientific {
        encode_sci(x, l.decimals, l.exp3)
    } else {
        format!("{:.*}", l.decimals, x)
    }
}

/// R's `format(x, digits = digits, nsmall = nsmall)` for a numeric vector: every element with the
/// same decimals, right-aligned to a common width. Non-finite values print as `NaN`, `Inf`, `-Inf`.
pub fn format_vec(xs: &[f64], digits: usize, nsmall: usize) -> Vec<String> {
    let l = layout(xs, digits, nsmall);
    xs.iter()
        .map(|&x| format!("{:>w$}", encode(x, &l), w = l.width))
        .collect()
}

/// R's `format(x, digits = digits)` for a single number (no padding).
pub fn format_num(x: f64, digits: usize) -> String {
    format_vec(&[x], digits, 0).pop().unwrap_or_default()
}

/// R's `round(x, digits)`: the decimal number with `digits` decimals nearest to the exact value of
/// `x` (so `round(0.15, 1)` is 0.1, as in R ≥ 4.0, because 0.15 is stored as 0.1499…).
/// Negative `digits` round to tens, hundreds, ….
pub fn round_to(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if digits < 0 {
        let p = 10f64.powi(-digits);
        return (x / p).round() * p;
    }
    let d = digits.min(300) as usize;
    format!("{:.*}", d, x).parse::<f64>().unwrap_or(x)
}

/// R's `zapsmall(x, digits)`: rounds every element to `digits` significant digits relative to the
/// largest absolute value, so values negligible next to it become 0.
pub fn zapsmall(xs: &[f64], digits: i32) -> Vec<f64> {
    let mx = xs
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    let d = if mx > 0.0 {
        (digits - mx.log10().ceil() as i32).max(0)
    } else {
        digits
    };
    xs.iter().map(|&x| round_to(x, d)).collect()
}

/// R's `format.pval(pv, digits)` with `eps = .Machine$double.eps`: p-values below `eps` print as
/// `<2e-16` (or `< 2e-16` next to wide entries); values ≥ 1e-3 share fixed notation, smaller ones
/// use scientific notation. Elements are not padded.
pub fn format_pval(ps: &[f64], digits: usize) -> Vec<String> {
    let eps = f64::EPSILON;
    let mut out = vec![String::new(); ps.len()];
    let mut fix_idx = Vec::new();
    let mut sci_idx = Vec::new();
    let mut tiny_idx = Vec::new();
    for (i, &p) in ps.iter().enumerate() {
        if !p.is_finite() {
            out[i] = "NA".to_string();
        } else if p < eps {
            tiny_idx.push(i);
        } else {
            let expo = if p > 0.0 { p.log10().floor() } else { -50.0 };
            if expo >= -3.0 || p == 0.0 {
                fix_idx.push(i);
            } else {
                sci_idx.push(i);
            }
        }
    }
    for idx in [&fix_idx, &sci_idx] {
        let vals: Vec<f64> = idx.iter().map(|&i| ps[i]).collect();
        for (k, s) in format_vec(&vals, digits, 0).into_iter().enumerate() {
            out[idx[k]] = s.trim().to_string();
        }
    }
    if !tiny_idx.is_empty() {
        let mut d = digits.saturating_sub(2).max(1);
        let others: Vec<&String> = fix_idx.iter().chain(&sci_idx).map(|&i| &out[i]).collect();
        let sep = if others.is_empty() {
            if d == 1 { "" } else { " " }
        } else {
            let nc = others.iter().map(|s| s.chars().count()).max().unwrap_or(0);
            if d > 1 && d + 6 > nc {
                d = nc.saturating_sub(7).max(1);
            }
            if d == 1 && nc <= 6 { "" } else { " " }
        };
        let e = format_num(eps, d);
        for &i in &tiny_idx {
            out[i] = format!("<{sep}{e}");
        }
    }
    out
}

/// Significance stars for a p-value, R's `symnum` cut points 0.001, 0.01, 0.05, 0.1.
pub fn signif_stars(p: f64) -> &'static str {
    if !p.is_finite() {
        ""
    } else if p < 0.001 {
        "***"
    } else if p < 0.01 {
        "**"
    } else if p < 0.05 {
        "*"
    } else if p < 0.1 {
        "."
    } else {
        " "
    }
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// Character `i` starts a word (R's `FIRSTCHAR`).
fn first_char(b: &[char], i: usize) -> bool {
    i == 0 || b[i - 1].is_whitespace()
}

/// Character `i` ends a word that has more than one character (R's `LASTCHAR`).
fn last_char(b: &[char], i: usize) -> bool {
    i > 0 && !b[i - 1].is_whitespace() && b.get(i + 1).is_none_or(|c| c.is_whitespace())
}

/// R's internal one-name abbreviation (`abbreviate(..., method = "left.kept")` on one string):
/// drop, right to left and never touching the first character of a word, first lower-case vowels
/// ending a word, then other lower-case vowels, then lower-case letters ending a word, then other
/// lower-case letters, then any character, until the name is at most `minlength` long.
pub fn abbreviate_one(name: &str, minlength: usize) -> String {
    let mut b: Vec<char> = name.trim().chars().collect();
    if b.len() <= minlength {
        return b.into_iter().collect();
    }
    let n_space = b.iter().filter(|c| c.is_whitespace()).count();
    let done = |b: &Vec<char>| b.len().saturating_sub(n_space) <= minlength;
    type Rule = fn(&[char], usize) -> bool;
    let rules: [Rule; 5] = [
        |b, i| is_vowel(b[i]) && last_char(b, i),
        |b, i| is_vowel(b[i]) && !first_char(b, i),
        |b, i| b[i].is_lowercase() && last_char(b, i),
        |b, i| b[i].is_lowercase() && !first_char(b, i),
        |b, i| !first_char(b, i) && !b[i].is_whitespace(),
    ];
    'outer: for rule in rules {
        // Scan from the right end; removing shifts later characters left while the index keeps
        // stepping down, as in R's C loop.
        let mut i = b.len().saturating_sub(1);
        while i > 0 {
            if i < b.len() && rule(&b, i) {
                b.remove(i);
            }
            if done(&b) {
                break 'outer;
            }
            i -= 1;
        }
    }
    if b.len() > minlength {
        let first = b.first().copied();
        let rest: Vec<char> = b
            .iter()
            .skip(1)
            .filter(|c| !c.is_whitespace())
            .copied()
            .collect();
        b = first.into_iter().chain(rest).collect();
    }
    b.into_iter().collect()
}

/// R's `abbreviate(names, minlength)`: abbreviates each name to at least `minlength` characters,
/// lengthening the abbreviation of names that would otherwise collide.
pub fn abbreviate(names: &[String], minlength: usize) -> Vec<String> {
    let max_len = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut out: Vec<String> = names.iter().map(|n| abbreviate_one(n, minlength)).collect();
    let mut ml = minlength;
    loop {
        let dup: Vec<bool> = (0..out.len())
            .map(|i| (0..out.len()).any(|j| j != i && out[j] == out[i] && names[j] != names[i]))
            .collect();
        if !dup.iter().any(|&d| d) || ml > max_len {
            break;
        }
        ml += 1;
        for (i, d) in dup.iter().enumerate() {
            if *d {
                out[i] = abbreviate_one(&names[i], ml);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn format_vec_shares_decimals_like_r() {
        // R: format(c(612.1003, 35.0716, 654.941), digits = 4) -> "612.10" " 35.07" "654.94"
        assert_eq!(
            format_vec(&[612.1003, 35.0716, 654.941], 4, 0),
            s(&["612.10", " 35.07", "654.94"])
        );
        // R: format(c(24.7407, 5.9221, 25.5918), digits = 4)
        assert_eq!(
            format_vec(&[24.7407, 5.9221, 25.5918], 4, 0),
            s(&["24.741", " 5.922", "25.592"])
        );
        // R: format(c(-3.9536, -0.4634, 0.0231, 0.4634, 5.1793), digits = 4)
        assert_eq!(
            format_vec(&[-3.9536, -0.4634, 0.0231, 0.4634, 5.1793], 4, 0),
            s(&["-3.9536", "-0.4634", " 0.0231", " 0.4634", " 5.1793"])
        );
    }

    #[test]
    fn format_vec_integers_and_scientific() {
        // R: format(c(1763.0, 174), digits = 7) -> "1763" " 174"
        assert_eq!(format_vec(&[1763.0, 174.0], 7, 0), s(&["1763", " 174"]));
        // R: format(1e-10, digits = 4) -> "1e-10"; format(c(1, 1e-10)) -> "1e+00" "1e-10"
        assert_eq!(format_num(1e-10, 4), "1e-10");
        assert_eq!(format_vec(&[1.0, 1e-10], 4, 0), s(&["1e+00", "1e-10"]));
        // R: format(123456789, digits = 4) -> "123456789"
        assert_eq!(format_num(123456789.0, 4), "123456789");
        // R: format(3.26e-06, digits = 3) -> "3.26e-06"
        assert_eq!(format_num(3.26e-06, 3), "3.26e-06");
        assert_eq!(format_num(0.0, 4), "0");
    }

    #[test]
    fn format_vec_nsmall_and_nonfinite() {
        // R: format(round(c(1, 0.0712, -0.1375), 2), nsmall = 2) -> " 1.00" " 0.07" "-0.14"
        let r: Vec<f64> = [1.0, 0.0712, -0.1375]
            .iter()
            .map(|&x| round_to(x, 2))
            .collect();
        assert_eq!(format_vec(&r, 7, 2), s(&[" 1.00", " 0.07", "-0.14"]));
        assert_eq!(
            format_vec(&[1.5, f64::NAN, f64::INFINITY], 4, 0),
            s(&["1.5", "NaN", "Inf"])
        );
    }

    #[test]
    fn round_and_zapsmall() {
        assert_eq!(round_to(0.15, 1), 0.1);
        assert_eq!(round_to(2.675, 2), 2.67);
        assert_eq!(round_to(1234.5678, 1), 1234.6);
        assert_eq!(round_to(1234.5678, -2), 1200.0);
        // zapsmall(c(5.17, 1e-9), 5): mx=5.17 -> round to 4 decimals
        assert_eq!(zapsmall(&[5.1793456, 1e-9], 5), vec![5.1793, 0.0]);
    }

    #[test]
    fn pvalues_like_format_pval() {
        // R: format.pval(c(3.26e-06, 0.5), digits = 3) -> "3.26e-06" "0.5"
        assert_eq!(format_pval(&[3.26e-06, 0.5], 3), s(&["3.26e-06", "0.5"]));
        // R: format.pval(c(1e-20, 3.26e-06), digits = 3) -> "< 2e-16" "3.26e-06"
        assert_eq!(
            format_pval(&[1e-20, 3.26e-06], 3),
            s(&["< 2e-16", "3.26e-06"])
        );
        // R: format.pval(c(1e-20, 0.0123), digits = 3) -> "<2e-16" "0.0123"
        assert_eq!(format_pval(&[1e-20, 0.0123], 3), s(&["<2e-16", "0.0123"]));
        assert_eq!(signif_stars(0.0005), "***");
        assert_eq!(signif_stars(0.07), ".");
        assert_eq!(signif_stars(0.5), " ");
    }

    #[test]
    fn abbreviations_match_r() {
        // R: abbreviate("(Intercept)", 6) -> "(Intr)"
        assert_eq!(abbreviate_one("(Intercept)", 6), "(Intr)");
        assert_eq!(abbreviate_one("Days", 6), "Days");
        // R: abbreviate("Temperature", 6) -> "Tmprtr"
        assert_eq!(abbreviate_one("Temperature", 6), "Tmprtr");
        // R: abbreviate("sample", 4) -> "smpl"
        assert_eq!(abbreviate_one("sample", 4), "smpl");
        // R: abbreviate("sampleB", 6) -> "samplB"
        assert_eq!(abbreviate_one("sampleB", 6), "samplB");
        // R: abbreviate(c("treatmentA", "treatmentB"), 4) -> "trtA" "trtB"
        assert_eq!(
            abbreviate(&s(&["treatmentA", "treatmentB"]), 4),
            s(&["trtA", "trtB"])
        );
        // collisions lengthen: abbreviate(c("Days", "Dayz"), 2) -> "Dys" "Dyz"
        assert_eq!(abbreviate(&s(&["Days", "Dayz"]), 2), s(&["Dys", "Dyz"]));
    }
}
