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
        writeln!(f, "formula error at column {}: {}", e.column, e.message)?;
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
        let pad: String = line
            .chars()
            .take(offset)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "  {line}\n  {pad}^")?;
        if let Some(h) = &e.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
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
