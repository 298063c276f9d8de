//! The formula error type: a message, the 1-based column it is about, an optional hint, and
//! the formula text (so that the error renders with a caret under the offending character).

use std::fmt;

/// An error in a formula, pointing at a character of the formula text.
///
/// Rendered (via [`fmt::Display`]) as
///
/// ```text
/// formula error at column 9: unclosed parenthesis: expected `)` to close this `(`
///   y ~ x + (1 | g
///           ^
/// hint: every `(` needs a matching `)`
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", Rendered(self))]
pub struct FormulaError {
    /// What is wrong, phrased as "expected ..." where that helps.
    pub message: String,
    /// 1-based character column of the offending character (one past the end for errors at
    /// the end of the text).
    pub column: usize,
    /// A suggestion for fixing the formula, if there is one.
    pub hint: Option<String>,
    /// The formula text the column refers to.
    pub formula: String,
}

impl FormulaError {
    /// Creates an error at `column` (1-based) of `formula`.
    pub fn new(
        formula: &str,
        column: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> FormulaError {
        FormulaError {
            message: message.into(),
            column: column.max(1),
            hint,
            formula: formula.to_string(),
        }
    }

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
    if let Ok(tokens) = crate::lexer::tokenize(formula) {
        for t in &tokens {
            if let crate::lexer::Tok::Name(n) = &t.tok
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

/// The caret rendering of a [`FormulaError`] (its `Display`).
struct Rendered<'a>(&'a FormulaError);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        writeln!(
            f,
            "formula error at column {}: {}",
            e.column,
            shorten(&e.message)
        )?;
        // Show the line of the formula that holds the column (formulas are usually one line).
        let mut line_start_col = 1;
        let mut line = "";
        let mut col_seen = 1;
        for l in e.formula.split('\n') {
            let len = l.chars().count();
            line = l;
            line_start_col = col_seen;
            if e.column <= col_seen + len {
                break;
            }
            col_seen += len + 1;
        }
        let offset = e.column.saturating_sub(line_start_col);
        let (shown, pad) = window(line, offset);
        write!(f, "  {shown}\n  {pad}^")?;
        if let Some(h) = &e.hint {
            write!(f, "\nhint: {}", shorten(h))?;
        }
        Ok(())
    }
}

/// Characters of the formula shown on each side of the caret: a 20,000-character formula is
/// shown as a window of at most `2 × WINDOW` characters around the column, so an error stays a
/// few short lines.
const WINDOW: usize = 60;

/// Longest message or hint shown whole; longer ones (a 131 KB column name echoed in "unknown
/// column `…`") keep their start and end around an ellipsis.
const MAX_MESSAGE: usize = 200;

/// How a formula character is shown: control characters escaped (`\u{1b}`), so a formula never
/// sends terminal escapes; a tab stays a tab so the caret's padding lines up.
fn shown_char(c: char) -> String {
    if c.is_control() && c != '\t' {
        c.escape_default().to_string()
    } else {
        c.to_string()
    }
}

/// The part of `line` shown around 0-based character `offset`, and the padding that puts a
/// caret under it: at most [`WINDOW`] characters each side, with `…` where the line is cut.
fn window(line: &str, offset: usize) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let start = offset.saturating_sub(WINDOW);
    let end = chars.len().min(offset.saturating_add(WINDOW));
    let mut shown = String::new();
    let mut pad = String::new();
    if start > 0 {
        shown.push('…');
        pad.push(' ');
    }
    for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
        let s = shown_char(c);
        if i < offset {
            if c == '\t' {
                pad.push('\t');
            } else {
                pad.extend(std::iter::repeat_n(' ', s.chars().count()));
            }
        }
        shown.push_str(&s);
    }
    if end < chars.len() {
        shown.push('…');
    }
    (shown, pad)
}

/// `text` with control characters escaped and, past [`MAX_MESSAGE`] characters, its middle cut.
fn shorten(text: &str) -> String {
    let escaped: String = text.chars().map(shown_char).collect();
    let n = escaped.chars().count();
    if n <= MAX_MESSAGE {
        return escaped;
    }
    let head: String = escaped.chars().take(MAX_MESSAGE - 60).collect();
    let tail: String = escaped.chars().skip(n - 50).collect();
    format!(
        "{head} … ({} characters cut) … {tail}",
        n - (MAX_MESSAGE - 60) - 50
    )
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

    #[test]
    fn caret_rendering() {
        let e = FormulaError::new("y ~ x +", 8, "expected a term after `+`", Some("h".into()));
        assert_eq!(
            e.to_string(),
            "formula error at column 8: expected a term after `+`\n  y ~ x +\n         ^\nhint: h"
        );
    }
}
