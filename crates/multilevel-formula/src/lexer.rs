//! Tokeniser for the formula language.
//!
//! Columns are 1-based and count Unicode characters (not bytes), so that a caret drawn under
//! the formula text lines up with the character the error is about.

use crate::error::FormulaError;

/// The kind of a token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name: a syntactic R name or a backquoted one (quotes removed).
    Name(String),
    /// A numeric literal with its source text.
    Num(f64),
    /// `~`
    Tilde,
    /// `|`
    Bar,
    /// `||`
    DoubleBar,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `:`
    Colon,
    /// `^` (or `**`)
    Caret,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `=` (only meaningful to report named arguments)
    Equals,
    /// End of the text.
    Eof,
}

impl Tok {
    /// How the token is written, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("`{n}`"),
            Tok::Num(v) => format!("number `{}`", crate::number::format_number(*v)),
            Tok::Tilde => "`~`".into(),
            Tok::Bar => "`|`".into(),
            Tok::DoubleBar => "`||`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Caret => "`^`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Eof => "the end of the formula".into(),
        }
    }
}

/// A token with its 1-based starting column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '.'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '_'
}

/// Splits `text` into tokens, ending with [`Tok::Eof`] (whose column is one past the last
/// character).
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, FormulaError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |col: usize, msg: String, hint: Option<&str>| {
        FormulaError::new(text, col, msg, hint.map(str::to_string))
    };
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let next = chars.get(i + 1).copied();
        let simple = |tok: Tok| Token { tok, col };
        match c {
            c if c.is_whitespace() => {
                i += 1;
            }
            '#' => {
                // R comment: to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '~' => {
                out.push(simple(Tok::Tilde));
                i += 1;
            }
            '|' => {
                if next == Some('|') {
                    out.push(simple(Tok::DoubleBar));
                    i += 2;
                } else {
                    out.push(simple(Tok::Bar));
                    i += 1;
                }
            }
            '+' => {
                out.push(simple(Tok::Plus));
                i += 1;
            }
            '-' => {
                if next == Some('>') {
                    return Err(err(
                        col,
                        "unexpected `->`: assignment is not part of a formula".into(),
                        None,
                    ));
                }
                out.push(simple(Tok::Minus));
                i += 1;
            }
            '*' => {
                if next == Some('*') {
                    out.push(simple(Tok::Caret));
                    i += 2;
                } else {
                    out.push(simple(Tok::Star));
                    i += 1;
                }
            }
            '/' => {
                out.push(simple(Tok::Slash));
                i += 1;
            }
            ':' => {
                if next == Some(':') {
                    return Err(err(
                        col,
                        "unexpected `::`: package-qualified names are not supported".into(),
                        Some("write the function name alone, e.g. `log(x)`"),
                    ));
                }
                out.push(simple(Tok::Colon));
                i += 1;
            }
            '^' => {
                out.push(simple(Tok::Caret));
                i += 1;
            }
            '(' => {
                out.push(simple(Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push(simple(Tok::RParen));
                i += 1;
            }
            ',' => {
                out.push(simple(Tok::Comma));
                i += 1;
            }
            '=' => {
                if next == Some('=') {
                    return Err(err(
                        col,
                        "unexpected `==`: comparisons are not supported".into(),
                        Some("create the indicator column in the data instead"),
                    ));
                }
                out.push(simple(Tok::Equals));
                i += 1;
            }
            '`' => {
                let mut name = String::new();
                let mut j = i + 1;
                let mut closed = false;
                while j < chars.len() {
                    match chars[j] {
                        '`' => {
                            closed = true;
                            break;
                        }
                        '\\' if j + 1 < chars.len() => {
                            name.push(chars[j + 1]);
                            j += 2;
                        }
                        ch => {
                            name.push(ch);
                            j += 1;
                        }
                    }
                }
                if !closed {
                    return Err(err(
                        col,
                        "unterminated backquoted name: expected a closing backquote".into(),
                        Some("backquoted names look like `my column`"),
                    ));
                }
                if name.is_empty() {
                    return Err(err(col, "empty backquoted name".into(), None));
                }
                out.push(simple(Tok::Name(name)));
                i = j + 1;
            }
            '%' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '%' {
                    j += 1;
                }
                let op: String = chars[i..(j + 1).min(chars.len())].iter().collect();
                return Err(err(
                    col,
                    format!("operator `{op}` is not supported"),
                    Some("use `a:b` for interactions and `(1 | a/b)` for nested grouping"),
                ));
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if i < chars.len() && chars[i] == '.' {
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        while j < chars.len() && chars[j].is_ascii_digit() {
                            j += 1;
                        }
                        i = j;
                    } else {
                        return Err(err(
                            j + 1,
                            "malformed number: expected digits after the exponent `e`".into(),
                            None,
                        ));
                    }
                }
                let literal: String = chars[start..i].iter().collect();
                // R's integer suffix `2L`.
                if i < chars.len() && chars[i] == 'L' {
                    i += 1;
                }
                if i < chars.len() && is_name_char(chars[i]) {
                    return Err(err(
                        i + 1,
                        format!(
                            "unexpected `{}` right after the number `{literal}`",
                            chars[i]
                        ),
                        Some("names cannot start with a digit; backquote them: `2x`"),
                    ));
                }
                let value: f64 = literal
                    .parse()
                    .map_err(|_| err(col, format!("malformed number `{literal}`"), None))?;
                out.push(Token {
                    tok: Tok::Num(value),
                    col,
                });
            }
            c if is_name_start(c) => {
                let start = i;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if name == "." {
                    return Err(err(
                        col,
                        "`.` (all other columns) is not supported".into(),
                        Some("list the columns explicitly, e.g. `y ~ a + b`"),
                    ));
                }
                if name == "..." || is_keyword(&name) {
                    return Err(err(
                        col,
                        format!("unexpected R keyword `{name}`"),
                        Some("backquote a column with this name: `if`"),
                    ));
                }
                out.push(Token {
                    tok: Tok::Name(name),
                    col,
                });
            }
            other => {
                let hint = match other {
                    '<' | '>' | '!' | '&' => Some(
                        "comparisons and logical operators are not supported; create the column in the data",
                    ),
                    '"' | '\'' => {
                        Some("strings are not supported; backquote names with spaces: `my var`")
                    }
                    '$' | '@' | '[' | ']' => {
                        Some("refer to columns by their bare name, e.g. `y ~ x`")
                    }
                    '{' | '}' => Some("use parentheses `(` `)` for grouping"),
                    _ => None,
                };
                return Err(err(col, format!("unexpected character `{other}`"), hint));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        col: chars.len() + 1,
    });
    Ok(out)
}

/// R's reserved words that cannot be used as bare names (constants such as `TRUE` are allowed).
pub(crate) fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "if" | "else" | "repeat" | "while" | "function" | "for" | "next" | "break" | "in"
    )
}

/// Whether R would print `name` without backquotes.
pub(crate) fn is_syntactic_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !is_name_start(first) {
        return false;
    }
    if first == '.' && name.chars().nth(1).is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    if name == "." || name == "..." || is_keyword(name) {
        return false;
    }
    chars.all(is_name_char)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        let toks = tokenize("é ~ `my x` + 2.5e1").unwrap();
        let cols: Vec<usize> = toks.iter().map(|t| t.col).collect();
        assert_eq!(cols, vec![1, 3, 5, 12, 14, 19]);
        assert_eq!(toks[2].tok, Tok::Name("my x".into()));
        assert_eq!(toks[4].tok, Tok::Num(25.0));
    }

    #[test]
    fn double_bar_and_power() {
        let toks = tokenize("a||b**2").unwrap();
        let kinds: Vec<Tok> = toks.into_iter().map(|t| t.tok).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Name("a".into()),
                Tok::DoubleBar,
                Tok::Name("b".into()),
                Tok::Caret,
                Tok::Num(2.0),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn syntactic_names() {
        assert!(is_syntactic_name("my.var_2"));
        assert!(is_syntactic_name(".x"));
        assert!(!is_syntactic_name(".2x"));
        assert!(!is_syntactic_name("my var"));
        assert!(!is_syntactic_name("2x"));
        assert!(!is_syntactic_name("if"));
    }
}
