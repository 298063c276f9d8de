//! Pointing at a name the data lack: where the formula uses it, and the nearest column name.
//! Sits above the lexer (it finds the name among the formula's tokens) and the error type.

use crate::error::FormulaError;
use crate::lexer::{Tok, tokenize};

impl FormulaError {
    /// An "unknown column" error for later layers (model frame construction): `name` is used in
    /// `formula` but is not a column of the data. The column points at the first place the name
    /// is used in the formula; the hint suggests the closest of `candidates` by Damerau–Levenshtein
    /// (optimal string alignment) distance, compared case-insensitively with ties broken by the
    /// case-sensitive distance and then by the order of `candidates`. No hint is given when no
    /// candidate is close (distance above a third of the name's length, minimum 1, and below
    /// the name's length).
    pub fn unknown_column(formula: &str, name: &str, candidates: &[&str]) -> FormulaError {
        let column = find_name_column(formula, name).unwrap_or(1);
        let hint = closest(name, candidates).map(|c| format!("did you mean `{c}`?"));
        FormulaError::new(formula, column, format!("unknown column `{name}`"), hint)
    }
}

/// Column of the first token that is the name `name` (bare or backquoted); falls back to a plain
/// substring search.
fn find_name_column(formula: &str, name: &str) -> Option<usize> {
    if let Ok(tokens) = tokenize(formula) {
        for t in &tokens {
            if let Tok::Name(n) = &t.tok
                && n == name
            {
                return Some(t.col);
            }
        }
    }
    let byte = formula.find(name)?;
    Some(formula[..byte].chars().count() + 1)
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// The candidate closest to `name`, if any is close enough to suggest.
fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    let mut best: Option<(usize, usize, &'a str)> = None;
    for &c in candidates {
        if c == name {
            continue;
        }
        let di = edit_distance(&lower, &c.to_lowercase());
        let close = di == 0 || (di <= limit && di < len);
        if !close {
            continue;
        }
        let ds = edit_distance(name, c);
        if best.is_none_or(|(bi, bs, _)| (di, ds) < (bi, bs)) {
            best = Some((di, ds, c));
        }
    }
    best.map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("Dayz", "Days"), 1);
        assert_eq!(edit_distance("Dyas", "Days"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn unknown_column_hint_and_position() {
        let e = FormulaError::unknown_column(
            "Reaction ~ Dayz + (Dayz | Subject)",
            "Dayz",
            &["Reaction", "Days", "Subject"],
        );
        assert_eq!(e.column, 12);
        assert_eq!(e.message, "unknown column `Dayz`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `Days`?"));
    }

    #[test]
    fn unknown_column_case_and_no_hint() {
        let e = FormulaError::unknown_column("y ~ days", "days", &["Days", "dais"]);
        assert_eq!(e.hint.as_deref(), Some("did you mean `Days`?"));
        let e = FormulaError::unknown_column("y ~ x", "x", &["y", "z"]);
        assert_eq!(e.hint, None);
        let e = FormulaError::unknown_column("y ~ zzzz", "zzzz", &["Days"]);
        assert_eq!(e.hint, None);
        assert_eq!(e.column, 5);
    }
}
