//! Recursive-descent (precedence-climbing) parser from tokens to a syntax tree.
//!
//! The tree keeps every operator as written (`~`, `|`, `||`, `+`, `-`, `*`, `/`, `:`, `^`,
//! unary minus, parentheses, calls) together with character columns; the meaning of the
//! operators (formula algebra versus arithmetic) is decided afterwards in [`crate::expand`].
//!
//! Binding strength follows R's grammar, weakest first:
//!
//! | level | operators            | associativity |
//! |-------|----------------------|---------------|
//! | 1     | `~` (binary, unary)  | left          |
//! | 2     | `\|` `\|\|`          | left          |
//! | 3     | `+` `-` (binary)     | left          |
//! | 4     | `*` `/`              | left          |
//! | 5     | `:`                  | left          |
//! | 6     | unary `-` `+`        | prefix        |
//! | 7     | `^` (`**`)           | right         |
//!
//! So `-a:b` is `(-a):b`, `-a^2` is `-(a^2)`, `a^-1` is `a^(-1)` and `1 + x | g` is
//! `(1 + x) | g`, as in R.

use crate::error::FormulaError;
use crate::lexer::{Tok, Token};

/// A binary operator as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Tilde,
    Bar,
    DoubleBar,
    Plus,
    Minus,
    Star,
    Slash,
    Colon,
    Caret,
}

impl Op {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Tilde => "~",
            Op::Bar => "|",
            Op::DoubleBar => "||",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Star => "*",
            Op::Slash => "/",
            Op::Colon => ":",
            Op::Caret => "^",
        }
    }

    fn from_tok(tok: &Tok) -> Option<Op> {
        Some(match tok {
            Tok::Tilde => Op::Tilde,
            Tok::Bar => Op::Bar,
            Tok::DoubleBar => Op::DoubleBar,
            Tok::Plus => Op::Plus,
            Tok::Minus => Op::Minus,
            Tok::Star => Op::Star,
            Tok::Slash => Op::Slash,
            Tok::Colon => Op::Colon,
            Tok::Caret => Op::Caret,
            _ => return None,
        })
    }

    /// (left, right) binding powers.
    fn binding(self) -> (u8, u8) {
        match self {
            Op::Tilde => (1, 2),
            Op::Bar | Op::DoubleBar => (3, 4),
            Op::Plus | Op::Minus => (5, 6),
            Op::Star | Op::Slash => (7, 8),
            Op::Colon => (9, 10),
            Op::Caret => (14, 13),
        }
    }
}

/// Binding power of the operand of a prefix `-`/`+`.
const PREFIX_BP: u8 = 11;
/// Binding power of the right side of a prefix `~`.
const TILDE_PREFIX_BP: u8 = 2;

/// A syntax-tree node with the column(s) needed for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Name {
        name: String,
        col: usize,
    },
    Num {
        value: f64,
        col: usize,
    },
    Call {
        name: String,
        args: Vec<Node>,
        col: usize,
    },
    Paren {
        inner: Box<Node>,
        col: usize,
    },
    Neg {
        operand: Box<Node>,
        col: usize,
    },
    /// One-sided formula `~ rhs`.
    OneSided {
        rhs: Box<Node>,
        col: usize,
    },
    Binary {
        op: Op,
        lhs: Box<Node>,
        rhs: Box<Node>,
        /// Column of the operator.
        col: usize,
    },
    /// A named argument `name = value`, accepted only in the covariance-structure calls
    /// (`diag(x | g, hom = TRUE)`).
    Named {
        name: String,
        value: Box<Node>,
        col: usize,
    },
}

impl Node {
    /// Column of the leftmost character of the node.
    pub(crate) fn start(&self) -> usize {
        match self {
            Node::Name { col, .. }
            | Node::Num { col, .. }
            | Node::Call { col, .. }
            | Node::Paren { col, .. }
            | Node::Neg { col, .. }
            | Node::OneSided { col, .. }
            | Node::Named { col, .. } => *col,
            Node::Binary { lhs, .. } => lhs.start(),
        }
    }

    /// Strips any number of enclosing parentheses.
    pub(crate) fn unparen(&self) -> &Node {
        let mut n = self;
        while let Node::Paren { inner, .. } = n {
            n = inner;
        }
        n
    }
}

/// Maximum depth of the syntax tree (nesting plus length of operator chains), so that the
/// recursive passes over the tree cannot exhaust the stack on hostile input.
pub(crate) const MAX_DEPTH: usize = 1000;

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Parses the whole text into one syntax tree.
pub(crate) fn parse_tree(text: &str) -> Result<Node, FormulaError> {
    let toks = crate::lexer::tokenize(text)?;
    if toks.len() == 1 {
        return Err(FormulaError::new(
            text,
            1,
            "empty formula: expected `response ~ terms`",
            Some("for example `y ~ x + (1 | g)`".into()),
        ));
    }
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    let node = p.expr(0)?;
    let t = p.peek().clone();
    match t.tok {
        Tok::Eof => Ok(node),
        Tok::RParen => Err(p.err(t.col, "unexpected `)`: it has no matching `(`", None)),
        Tok::Comma => Err(p.err(
            t.col,
            "unexpected `,` outside a function call",
            Some("separate terms with `+`"),
        )),
        Tok::Equals => Err(p.err(
            t.col,
            "unexpected `=`",
            Some("separate the response from the terms with `~`, e.g. `y ~ x`"),
        )),
        other => Err(p.err(t.col, format!("unexpected {}", other.describe()), None)),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek2(&self) -> Option<&Token> {
        self.toks.get(self.pos + 1)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err(&self, col: usize, msg: impl Into<String>, hint: Option<&str>) -> FormulaError {
        FormulaError::new(self.text, col, msg, hint.map(str::to_string))
    }

    /// Describes what came before the current token, for "expected a term after ..." messages.
    fn after_previous(&self) -> String {
        match self.pos.checked_sub(1).and_then(|i| self.toks.get(i)) {
            Some(t) => format!(" after {}", t.tok.describe()),
            None => String::new(),
        }
    }

    /// Whether the previous token is `|` or `||`.
    fn after_bar(&self) -> bool {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .is_some_and(|t| matches!(t.tok, Tok::Bar | Tok::DoubleBar))
    }

    fn expr(&mut self, min_bp: u8) -> Result<Node, FormulaError> {
        self.depth += 1;
        let r = self.expr_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn too_deep(&self) -> FormulaError {
        self.err(
            self.peek().col,
            format!(
                "formula is too deeply nested or too long (more than {MAX_DEPTH} levels of \
                 operators and parentheses)"
            ),
            None,
        )
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Node, FormulaError> {
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let mut lhs = self.prefix()?;
        let mut chain = 0usize;
        loop {
            let t = self.peek().clone();
            let op = match Op::from_tok(&t.tok) {
                Some(op) => op,
                None => {
                    if matches!(t.tok, Tok::Name(_) | Tok::Num(_) | Tok::LParen) {
                        return Err(self.err(
                            t.col,
                            format!(
                                "expected an operator such as `+` before {}",
                                t.tok.describe()
                            ),
                            Some("terms are joined with `+`, e.g. `y ~ a + b`"),
                        ));
                    }
                    break;
                }
            };
            let (l_bp, r_bp) = op.binding();
            if l_bp < min_bp {
                break;
            }
            chain += 1;
            if self.depth + chain > MAX_DEPTH {
                return Err(self.too_deep());
            }
            self.bump();
            let rhs = self.expr(r_bp)?;
            lhs = Node::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                col: t.col,
            };
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Node, FormulaError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Name(name) => {
                self.bump();
                if self.peek().tok == Tok::LParen {
                    self.call(name, t.col)
                } else {
                    Ok(Node::Name { name, col: t.col })
                }
            }
            Tok::Num(value) => {
                self.bump();
                Ok(Node::Num { value, col: t.col })
            }
            Tok::LParen => {
                self.bump();
                if self.peek().tok == Tok::RParen {
                    return Err(self.err(
                        self.peek().col,
                        "empty parentheses: expected a term inside `( )`",
                        None,
                    ));
                }
                let inner = self.expr(0)?;
                self.close_paren(t.col, None)?;
                Ok(Node::Paren {
                    inner: Box::new(inner),
                    col: t.col,
                })
            }
            Tok::Minus => {
                self.bump();
                let operand = self.expr(PREFIX_BP)?;
                Ok(Node::Neg {
                    operand: Box::new(operand),
                    col: t.col,
                })
            }
            Tok::Plus => {
                self.bump();
                self.expr(PREFIX_BP)
            }
            Tok::Tilde => {
                self.bump();
                let rhs = self.expr(TILDE_PREFIX_BP)?;
                Ok(Node::OneSided {
                    rhs: Box::new(rhs),
                    col: t.col,
                })
            }
            Tok::Eof | Tok::RParen if self.after_bar() => Err(self.err(
                t.col,
                format!(
                    "expected a grouping factor{}, found {}",
                    self.after_previous(),
                    t.tok.describe()
                ),
                Some("a random term looks like `(1 | group)` or `(1 + x | group)`"),
            )),
            Tok::Eof => Err(self.err(
                t.col,
                format!(
                    "expected a term{}, found the end of the formula",
                    self.after_previous()
                ),
                None,
            )),
            Tok::Bar | Tok::DoubleBar => Err(self.err(
                t.col,
                format!(
                    "expected the random-effects terms before {}",
                    t.tok.describe()
                ),
                Some("a random term looks like `(1 | group)` or `(1 + x | group)`"),
            )),
            Tok::RParen => Err(self.err(
                t.col,
                format!("expected a term{}, found `)`", self.after_previous()),
                None,
            )),
            Tok::Equals => Err(self.err(
                t.col,
                "unexpected `=`",
                Some("separate the response from the terms with `~`, e.g. `y ~ x`"),
            )),
            other => Err(self.err(
                t.col,
                format!("expected a term, found {}", other.describe()),
                None,
            )),
        }
    }

    /// Consumes the `)` closing the `(` at `open_col`.
    fn close_paren(&mut self, open_col: usize, call: Option<&str>) -> Result<(), FormulaError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::RParen => {
                self.bump();
                Ok(())
            }
            Tok::Eof => Err(self.err(
                open_col,
                match call {
                    Some(name) => {
                        format!("unclosed parenthesis: expected `)` to close the call to `{name}`")
                    }
                    None => "unclosed parenthesis: expected `)` to close this `(`".to_string(),
                },
                Some("every `(` needs a matching `)`"),
            )),
            Tok::Comma if call.is_none() => Err(self.err(
                t.col,
                "unexpected `,`: expected `)` or an operator",
                Some("commas only separate the arguments of a function call"),
            )),
            other => Err(self.err(
                t.col,
                format!("expected `)` or an operator, found {}", other.describe()),
                None,
            )),
        }
    }

    fn call(&mut self, name: String, col: usize) -> Result<Node, FormulaError> {
        let open = self.bump(); // `(`
        if self.peek().tok == Tok::RParen {
            return Err(self.err(
                self.peek().col,
                format!("expected an argument in the call to `{name}`, found `)`"),
                None,
            ));
        }
        let mut args = Vec::new();
        loop {
            if let (
                Tok::Name(arg),
                Some(Token {
                    tok: Tok::Equals, ..
                }),
            ) = (&self.peek().tok, self.peek2())
            {
                if crate::STRUCTURE_NAMES.contains(&name.as_str()) {
                    let (arg, col) = (arg.clone(), self.peek().col);
                    self.bump(); // the name
                    self.bump(); // `=`
                    let value = self.expr(0)?;
                    args.push(Node::Named {
                        name: arg,
                        value: Box::new(value),
                        col,
                    });
                    if self.peek().tok == Tok::Comma {
                        self.bump();
                        continue;
                    }
                    self.close_paren(open.col, Some(&name))?;
                    break;
                }
                return Err(self.err(
                    self.peek().col,
                    format!(
                        "named argument `{arg} = ...` in the call to `{name}` is not supported"
                    ),
                    Some("pass arguments by position, e.g. `poly(x, 2)`"),
                ));
            }
            args.push(self.expr(0)?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                    if matches!(self.peek().tok, Tok::RParen | Tok::Comma) {
                        return Err(self.err(
                            self.peek().col,
                            format!("expected an argument after `,` in the call to `{name}`"),
                            None,
                        ));
                    }
                }
                _ => {
                    self.close_paren(open.col, Some(&name))?;
                    break;
                }
            }
        }
        Ok(Node::Call { name, args, col })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn shape(n: &Node) -> String {
        match n {
            Node::Name { name, .. } => name.clone(),
            Node::Num { value, .. } => format!("{value}"),
            Node::Call { name, args, .. } => format!(
                "{name}({})",
                args.iter().map(shape).collect::<Vec<_>>().join(",")
            ),
            Node::Paren { inner, .. } => format!("[{}]", shape(inner)),
            Node::Neg { operand, .. } => format!("(neg {})", shape(operand)),
            Node::OneSided { rhs, .. } => format!("(~ {})", shape(rhs)),
            Node::Binary { op, lhs, rhs, .. } => {
                format!("({} {} {})", op.symbol(), shape(lhs), shape(rhs))
            }
            Node::Named { name, value, .. } => format!("{name}={}", shape(value)),
        }
    }

    fn p(s: &str) -> String {
        shape(&parse_tree(s).unwrap())
    }

    #[test]
    fn precedence_follows_r() {
        assert_eq!(p("y ~ a + b * c"), "(~ y (+ a (* b c)))");
        assert_eq!(p("-a:b"), "(: (neg a) b)");
        assert_eq!(p("-a^2"), "(neg (^ a 2))");
        assert_eq!(p("a^-1"), "(^ a (neg 1))");
        assert_eq!(p("a^b^c"), "(^ a (^ b c))");
        assert_eq!(p("(1 + x | g)"), "[(| (+ 1 x) g)]");
        assert_eq!(p("a * b / c"), "(/ (* a b) c)");
        assert_eq!(p("a - b - c"), "(- (- a b) c)");
        assert_eq!(p("~ x + z"), "(~ (+ x z))");
        assert_eq!(p("a:b:c"), "(: (: a b) c)");
        assert_eq!(p("poly(x, 2)"), "poly(x,2)");
    }

    #[test]
    fn columns_are_kept() {
        match parse_tree("y ~ x").unwrap() {
            Node::Binary { col, lhs, rhs, .. } => {
                assert_eq!(col, 3);
                assert_eq!(lhs.start(), 1);
                assert_eq!(rhs.start(), 5);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
