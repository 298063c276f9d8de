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
    fn caret_rendering() {
        let e = FormulaError::new("y ~ x +", 8, "expected a term after `+`", Some("h".into()));
        assert_eq!(
            e.to_string(),
            "formula error at column 8: expected a term after `+`\n  y ~ x +\n         ^\nhint: h"
        );
    }
}
