//! Parser for the lme4 / R mixed-model formula language.
//!
//! [`parse`] turns formula text such as `Reaction ~ Days + (Days | Subject)` into a
//! [`Formula`]: the response, the fixed-effects terms expanded with R's term algebra
//! (`stats::terms.formula`), the random-effects terms expanded like lme4's `findbars`
//! (`||` split into uncorrelated terms, `/` nesting expanded), and the `offset(...)` terms.
//! Nothing here looks at data: whether a variable is a factor or numeric, and what a call
//! such as `cwc(x, g)` computes, is decided by the model-frame layer.
//!
//! # Grammar
//!
//! ```text
//! formula   := expr '~' expr            two-sided: response ~ terms
//!            | '~' expr                 one-sided
//! expr      := expr ('|' | '||') expr   random term (only inside parentheses)
//!            | expr ('+' | '-') expr
//!            | expr ('*' | '/') expr
//!            | expr ':' expr
//!            | ('-' | '+') expr
//!            | expr ('^' | '**') expr   right-associative
//!            | '(' expr ')'
//!            | name '(' expr (',' expr)* ')'    function call
//!            | name | number
//! name      := R syntactic name (letters, digits, `.`, `_`; not starting with a digit)
//!            | '`' any characters '`'          backquoted, `\` escapes
//! number    := digits ['.' digits] [('e'|'E') ['+'|'-'] digits] ['L']
//! ```
//!
//! Operators bind as in R, weakest first: `~`; `|` `||`; binary `+` `-`; `*` `/`; `:`;
//! unary `-` `+`; `^`. `#` starts a comment to the end of the line; white space is free.
//!
//! # Meaning
//!
//! *Response.* Any arithmetic expression (`y`, `log(y)`, `y/n`), or
//! `cbind(successes, failures)`, which becomes [`Response::Cbind`].
//!
//! *Fixed part* (R term algebra; every term is a set of variables):
//! - `a + b` — union; `a - b` removes the terms of `b` from those of `a`;
//! - `a:b` — interaction: every term of `a` combined with every term of `b`;
//!   `a:a` is `a`;
//! - `a * b` — `a + b + a:b`;
//! - `(a + b + c)^2` — all terms and all their interactions up to order 2;
//! - `a / b` — nesting, `a + a:b` (all variables of `a` interacted with each term of `b`);
//! - `1` adds the intercept, `0` or `-1` removes it (`- 0` adds it back); any other number is
//!   an error (write `I(2 * x)` for arithmetic);
//! - `offset(expr)` is removed from the terms and recorded in [`Formula::offsets`];
//! - a function call (`log(x)`, `I(a * b)`, `poly(x, 2)`, `scale(x)`, `cwc(x, g)`, ...) is
//!   one variable; its arguments are plain arithmetic (`+ - * / ^`, unary minus, calls).
//!
//! Duplicate terms appear once, the response is dropped from the right-hand side, and terms
//! are ordered like R: by order (number of variables), stable by first appearance within an
//! order. Within an interaction the variables are ordered by their first appearance in the
//! formula, response first (`y ~ b:a + a` gives `a`, `b:a`; `y ~ a + b:a` gives `a`, `a:b`).
//!
//! *Random terms* are parenthesised `(lhs | group)` or `(lhs || group)` summands of the
//! right-hand side (extra parentheses are allowed: `((1 + x) | g)`). The left side is its own
//! model formula with an implicit intercept (`(x | g)` is `(1 + x | g)`; `0 +` or `- 1`
//! removes it). The group is a name, an interaction `a:b` (group `["a","b"]`, label `a:b`) or
//! a nesting `a/b`, which, as in lme4, gives the terms for `b:a` and `a` (in that order,
//! innermost first; `a/b/c` gives `c:(b:a)`, `b:a`, `a`, labelled as lme4 labels them). `(1 + x + z || g)` becomes
//! `(1 | g) + (0 + x | g) + (0 + z | g)`, each marked `correlated: false`; with a nested
//! group, each of those is expanded over the groups.
//!
//! # Errors
//!
//! Every problem is a [`FormulaError`] with a 1-based character column, a message and, where
//! useful, a hint; its `Display` draws a caret under the column. Parsing never panics.
//!
//! # Example
//!
//! ```
//! let f = multilevel_formula::parse("y ~ x * f + (1 + x | g) + (1 | a/b)").unwrap();
//! let labels: Vec<String> = f.fixed.terms.iter().map(|t| t.label()).collect();
//! assert_eq!(labels, ["x", "f", "x:f"]);
//! assert_eq!(f.random[0].group_label, "g");
//! assert_eq!(f.random[1].group_label, "b:a");
//! assert_eq!(f.random[2].group_label, "a");
//! assert_eq!(f.to_string(), "y ~ 1 + x + f + x:f + (1 + x | g) + (1 | b:a) + (1 | a)");
//! ```

mod display;
mod error;
mod expand;
mod lexer;
mod number;
mod parser;
mod suggest;

pub use error::FormulaError;

/// Parses and expands a mixed-model formula.
///
/// See the [crate documentation](crate) for the accepted grammar and its meaning.
pub fn parse(text: &str) -> Result<Formula, FormulaError> {
    let tree = parser::parse_tree(text)?;
    expand::build(text, &tree)
}

/// An arithmetic expression as written: a column, a number, a call, arithmetic.
///
/// Expressions are the variables of model terms (`log(x)`, `I(a * b)`) and the response.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Expr {
    /// A column name (backquoted names such as `` `my var` `` are stored without quotes).
    Var(String),
    /// A numeric literal.
    Num(f64),
    /// A function call, e.g. `log(x)`, `I(a^2)`, `poly(x, 2)`, `cwc(x, g)`.
    Call {
        /// The function name.
        name: String,
        /// The positional arguments.
        args: Vec<Expr>,
    },
    /// A binary arithmetic operation.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
}

/// An arithmetic binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
}

/// Names that R reads as constants rather than columns; [`Expr::variables`] skips them.
const CONSTANT_NAMES: &[&str] = &["TRUE", "FALSE", "NA", "NULL", "Inf", "NaN"];

impl Expr {
    /// The distinct column names referenced (function names excluded, and the constants
    /// `TRUE`, `FALSE`, `NA`, `NULL`, `Inf`, `NaN`), in order of first appearance.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_variables(&mut out);
        out
    }

    fn collect_variables(&self, out: &mut Vec<String>) {
        match self {
            Expr::Var(name) => {
                if !CONSTANT_NAMES.contains(&name.as_str()) && !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Expr::Num(_) => {}
            Expr::Call { args, .. } => args.iter().for_each(|a| a.collect_variables(out)),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.collect_variables(out);
                rhs.collect_variables(out);
            }
            Expr::Neg(e) => e.collect_variables(out),
        }
    }
}

/// One model term: the interaction of one or more variables.
///
/// A main effect has one variable; `a:b` has two. The variables are in R's order (first
/// appearance in the formula).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Term {
    /// The interacting variables, each an expression (`x`, `log(x)`, `poly(x, 2)`).
    pub variables: Vec<Expr>,
}

impl Term {
    /// R's term label: the variables' deparsed text joined by `:`, e.g. `x:f`, `I(age^2)`.
    pub fn label(&self) -> String {
        self.variables
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The order of the term: its number of variables (1 for a main effect).
    pub fn order(&self) -> usize {
        self.variables.len()
    }
}

/// An expanded model part: the fixed effects, or the left side of a random term.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelTerms {
    /// Whether the model has an intercept column.
    pub intercept: bool,
    /// The terms other than the intercept, in R's order (by order, then first appearance).
    pub terms: Vec<Term>,
}

impl ModelTerms {
    /// The term labels, in order (the intercept is not included).
    pub fn labels(&self) -> Vec<String> {
        self.terms.iter().map(Term::label).collect()
    }

    /// True when there is neither an intercept nor any term.
    pub fn is_empty(&self) -> bool {
        !self.intercept && self.terms.is_empty()
    }
}

/// The names of lme4 2.0's covariance-structure calls around a random term.
pub const STRUCTURE_NAMES: [&str; 4] = ["us", "diag", "cs", "ar1"];

/// The covariance structure a random term asks for: lme4 2.0's `us(x | g)` (the default for
/// a bare `(x | g)`), `diag(x | g)`, `cs(x | g)` and `ar1(0 + f | g)`, with `hom = TRUE` for
/// one shared standard deviation instead of one per column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum CovStructure {
    /// Unstructured (`us`, or no call).
    #[default]
    Unstructured,
    /// `diag`: independent effects (lme4 2.0 default `hom = FALSE`).
    Diagonal {
        /// One shared standard deviation.
        hom: bool,
    },
    /// `cs`: compound symmetry (lme4 2.0 default `hom = FALSE`).
    CompoundSymmetry {
        /// One shared standard deviation.
        hom: bool,
    },
    /// `ar1`: AR(1) correlation over the columns (lme4 2.0 default `hom = TRUE`).
    Ar1 {
        /// One shared standard deviation.
        hom: bool,
    },
}

impl CovStructure {
    /// The structure's call name (`us`, `diag`, `cs`, `ar1`).
    pub fn name(&self) -> &'static str {
        match self {
            CovStructure::Unstructured => "us",
            CovStructure::Diagonal { .. } => "diag",
            CovStructure::CompoundSymmetry { .. } => "cs",
            CovStructure::Ar1 { .. } => "ar1",
        }
    }

    /// `hom`, for the structures that have it.
    pub fn hom(&self) -> Option<bool> {
        match *self {
            CovStructure::Unstructured => None,
            CovStructure::Diagonal { hom }
            | CovStructure::CompoundSymmetry { hom }
            | CovStructure::Ar1 { hom } => Some(hom),
        }
    }

    /// The structure of call `name` with lme4 2.0's default `hom` unless `hom` is given;
    /// `None` for an unknown name.
    pub fn from_call(name: &str, hom: Option<bool>) -> Option<Self> {
        Some(match name {
            "us" => CovStructure::Unstructured,
            "diag" => CovStructure::Diagonal {
                hom: hom.unwrap_or(false),
            },
            "cs" => CovStructure::CompoundSymmetry {
                hom: hom.unwrap_or(false),
            },
            "ar1" => CovStructure::Ar1 {
                hom: hom.unwrap_or(true),
            },
            _ => return None,
        })
    }
}

/// One random-effects term `(lhs | group)` after expansion of `||` and `/`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RandomTerm {
    /// The effects that vary by group: `1 + x` is intercept and `[x]`, `0 + x` only `[x]`.
    pub lhs: ModelTerms,
    /// The grouping variables whose interaction defines the groups, e.g. `["cask", "batch"]`.
    pub group: Vec<String>,
    /// lme4's name for the grouping factor: the grouping expression as R deparses it, i.e.
    /// the group variables joined by `:` (`Subject`, `cask:batch`), backquoted where R would
    /// backquote them, with the parentheses of a nesting (`(1 | a/b/c)` gives `c:(b:a)`).
    pub group_label: String,
    /// `false` only for the terms produced from `||` (independent effects).
    pub correlated: bool,
    /// The covariance structure (`diag(x | g)` and the like; unstructured by default).
    pub structure: CovStructure,
}

/// The response (left side of `~`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Response {
    /// Any expression: `y`, `log(y)`, `y/n`.
    Expr(Expr),
    /// Binomial counts written `cbind(successes, failures)`.
    Cbind {
        /// First column: the number of successes.
        successes: Expr,
        /// Second column: the number of failures.
        failures: Expr,
    },
}

impl Response {
    /// The response as one expression (`cbind(s, f)` for [`Response::Cbind`]).
    pub fn to_expr(&self) -> Expr {
        match self {
            Response::Expr(e) => e.clone(),
            Response::Cbind {
                successes,
                failures,
            } => Expr::Call {
                name: "cbind".into(),
                args: vec![successes.clone(), failures.clone()],
            },
        }
    }
}

/// A parsed and expanded mixed-model formula.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Formula {
    /// The original text.
    pub text: String,
    /// The response, absent for a one-sided formula `~ x`.
    pub response: Option<Response>,
    /// The fixed-effects terms.
    pub fixed: ModelTerms,
    /// The random-effects terms after expansion of `||` and `/`, in formula order.
    pub random: Vec<RandomTerm>,
    /// The arguments of `offset(...)` terms (removed from `fixed`).
    pub offsets: Vec<Expr>,
}

impl Formula {
    /// Every data column referenced anywhere (response, fixed terms, offsets, random-term left
    /// sides and grouping factors), in order of first appearance in the formula text.
    pub fn variables(&self) -> Vec<String> {
        let mut set: Vec<String> = Vec::new();
        let mut add = |names: Vec<String>| {
            for n in names {
                if !set.contains(&n) {
                    set.push(n);
                }
            }
        };
        if let Some(r) = &self.response {
            add(r.to_expr().variables());
        }
        for t in &self.fixed.terms {
            t.variables.iter().for_each(|v| add(v.variables()));
        }
        self.offsets.iter().for_each(|o| add(o.variables()));
        for r in &self.random {
            for t in &r.lhs.terms {
                t.variables.iter().for_each(|v| add(v.variables()));
            }
            add(r.group.clone());
        }
        // Order by the first place each name occurs as a name token in the text (names not
        // found, e.g. in a hand-built formula, keep their relative order at the end).
        let positions: Vec<usize> = match lexer::tokenize(&self.text) {
            Ok(tokens) => set
                .iter()
                .map(|n| {
                    tokens
                        .iter()
                        .position(|t| matches!(&t.tok, lexer::Tok::Name(m) if m == n))
                        .unwrap_or(usize::MAX)
                })
                .collect(),
            Err(_) => vec![usize::MAX; set.len()],
        };
        let mut indexed: Vec<(usize, String)> = positions.into_iter().zip(set).collect();
        indexed.sort_by_key(|(p, _)| *p);
        indexed.into_iter().map(|(_, n)| n).collect()
    }

    /// True when the formula has at least one random-effects term.
    pub fn has_random(&self) -> bool {
        !self.random.is_empty()
    }
}
