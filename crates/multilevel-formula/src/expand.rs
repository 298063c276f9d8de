//! R's term algebra (`terms.formula`) and lme4's random-term expansion (`findbars`).
//!
//! A term is a set of variables, kept as the sorted indices of the variables in the order they
//! first appear in the formula (response first). Because indices are sorted, listing a term's
//! variables by index gives R's label order: `y ~ b:a + a` registers `b` before `a`, so the
//! interaction is labelled `b:a`.
//!
//! The operators act on lists of terms exactly like R's C code:
//! - `l + r`: `l` then `r`, duplicates removed (first kept);
//! - `l - r`: the terms of `l` that are not in `r` (the right side is read with the intercept
//!   "parity" flipped, so `- 1` removes the intercept and `- 0` adds it);
//! - `l : r`: for each term of `l`, for each term of `r`, their union; duplicates removed;
//! - `l * r`: `l + r + l:r`;
//! - `l / r`: `l`, then each term of `r` united with all variables of `l`;
//! - `l ^ n`: `l`, then repeatedly every term of `l` united with every term so far.
//!
//! Finally the terms are sorted by order (number of variables), stably.

use crate::error::FormulaError;
use crate::parser::{Node, Op};
use crate::{BinOp, CovStructure, Expr, Formula, ModelTerms, RandomTerm, Response, Term};

/// Sorted variable indices.
type Bits = Vec<usize>;

/// Largest number of term combinations one `*`, `:` or `^` may produce.
const MAX_TERMS: usize = 10_000;

/// Most grouping factors one random term may nest (`a/b/c` nests 3): each level adds a term
/// whose grouping factor interacts all the levels above it, so the work grows with the square of
/// the depth; real designs nest a handful of levels (school/class/pupil).
pub(crate) const MAX_NESTING: usize = 12;

/// Covariance structures of other packages (glmmTMB) that are not available here: named
/// as such in the error rather than read as an unknown function of a random term.
const OTHER_STRUCTURES: [&str; 14] = [
    "toep", "homdiag", "homcs", "hetcs", "homar1", "hetar1", "ou", "exp", "gau", "mat", "rr",
    "propto", "equalto", "un",
];

/// A grouping factor of a random term: the interacting column names and lme4's label.
type Group = (Vec<String>, String);

/// Builds the [`Formula`] from the syntax tree.
pub(crate) fn build(text: &str, tree: &Node) -> Result<Formula, FormulaError> {
    let (lhs, rhs) = match tree {
        Node::Binary {
            op: Op::Tilde,
            lhs,
            rhs,
            col,
        } => {
            // `y ~ x ~ z` groups as `(y ~ x) ~ z`: report the second `~`.
            if matches!(
                lhs.unparen(),
                Node::OneSided { .. } | Node::Binary { op: Op::Tilde, .. }
            ) {
                return Err(extra_tilde(text, *col));
            }
            (Some(lhs.as_ref()), rhs.as_ref())
        }
        Node::OneSided { rhs, .. } => (None, rhs.as_ref()),
        _ => {
            return Err(FormulaError::new(
                text,
                1,
                "expected `~`: a formula looks like `response ~ terms` or `~ terms`",
                Some("for example `y ~ x + (1 | g)`".into()),
            ));
        }
    };
    let response = match lhs {
        None => None,
        Some(node) => Some(response(text, node)?),
    };
    let mut enc = Encoder::new(text, true);
    if let Some(r) = &response {
        enc.var_index(r.to_expr());
    }
    let bits = enc.encode(rhs, Pos::Sum { special: true })?;
    // R drops the response from the right-hand side.
    let bits: Vec<Bits> = if response.is_some() {
        bits.into_iter().filter(|b| b.as_slice() != [0]).collect()
    } else {
        bits
    };
    let fixed = enc.model_terms(bits);
    Ok(Formula {
        text: text.to_string(),
        response,
        fixed,
        random: enc.random,
        offsets: enc.offsets,
    })
}

fn response(text: &str, node: &Node) -> Result<Response, FormulaError> {
    if let Node::Call { name, args, col } = node.unparen()
        && name == "cbind"
    {
        if args.len() != 2 {
            return Err(FormulaError::new(
                text,
                *col,
                format!(
                    "expected two arguments to `cbind` in the response, found {}",
                    args.len()
                ),
                Some("binomial counts are written `cbind(successes, failures)`".into()),
            ));
        }
        return Ok(Response::Cbind {
            successes: to_expr(text, &args[0], ExprCtx::Call("cbind"))?,
            failures: to_expr(text, &args[1], ExprCtx::Call("cbind"))?,
        });
    }
    Ok(Response::Expr(to_expr(text, node, ExprCtx::Response)?))
}

/// Where an arithmetic expression is being read (for error messages).
#[derive(Clone, Copy)]
enum ExprCtx<'a> {
    Response,
    Call(&'a str),
}

impl ExprCtx<'_> {
    fn describe(self) -> String {
        match self {
            ExprCtx::Response => "the response".into(),
            ExprCtx::Call(name) => format!("the call to `{name}`"),
        }
    }
}

/// Reads a node as plain arithmetic (inside a call, or the response).
fn to_expr(text: &str, node: &Node, ctx: ExprCtx<'_>) -> Result<Expr, FormulaError> {
    Ok(match node {
        Node::Name { name, .. } => Expr::Var(name.clone()),
        Node::Num { value, .. } => Expr::Num(*value),
        Node::Call { name, args, .. } => Expr::Call {
            name: name.clone(),
            args: args
                .iter()
                .map(|a| to_expr(text, a, ExprCtx::Call(name)))
                .collect::<Result<_, _>>()?,
        },
        Node::Paren { inner, .. } => to_expr(text, inner, ctx)?,
        Node::Neg { operand, .. } => Expr::Neg(Box::new(to_expr(text, operand, ctx)?)),
        Node::OneSided { col, .. } => return Err(extra_tilde(text, *col)),
        Node::Named { name, col, .. } => return Err(named_argument(text, name, *col)),
        Node::Binary { op, lhs, rhs, col } => {
            let bin = match op {
                Op::Plus => BinOp::Add,
                Op::Minus => BinOp::Sub,
                Op::Star => BinOp::Mul,
                Op::Slash => BinOp::Div,
                Op::Caret => BinOp::Pow,
                Op::Tilde => return Err(extra_tilde(text, *col)),
                Op::Bar | Op::DoubleBar => {
                    return Err(FormulaError::new(
                        text,
                        *col,
                        format!("a random term cannot be inside {}", ctx.describe()),
                        Some(
                            "random terms are added to the right-hand side: `y ~ x + (1 | g)`"
                                .into(),
                        ),
                    ));
                }
                Op::Colon => {
                    return Err(FormulaError::new(
                        text,
                        *col,
                        format!("`:` cannot be used inside {}", ctx.describe()),
                        Some(
                            "`:` forms interactions between terms (`a:b`); for products \
                             use `I(a * b)`"
                                .into(),
                        ),
                    ));
                }
            };
            Expr::Binary {
                op: bin,
                lhs: Box::new(to_expr(text, lhs, ctx)?),
                rhs: Box::new(to_expr(text, rhs, ctx)?),
            }
        }
    })
}

/// A named argument where none is accepted (only the structure calls take `hom = ...`).
fn named_argument(text: &str, name: &str, col: usize) -> FormulaError {
    FormulaError::new(
        text,
        col,
        format!("named argument `{name} = ...` is not supported here"),
        Some(
            "only the covariance-structure calls take one: `diag(x | g, hom = TRUE)`; pass \
             other arguments by position, e.g. `poly(x, 2)`"
                .into(),
        ),
    )
}

fn extra_tilde(text: &str, col: usize) -> FormulaError {
    FormulaError::new(
        text,
        col,
        "unexpected `~`: a formula has only one `~`",
        Some("write `response ~ terms`".into()),
    )
}

/// Where a node sits in the term algebra.
#[derive(Clone, Copy)]
enum Pos {
    /// A summand (through `+`, `-`, unary minus and parentheses): `0`/`1` set the intercept.
    /// `special`: random terms and `offset()` are allowed here.
    Sum { special: bool },
    /// An operand of `*`, `:`, `^` or `/`.
    Factor(Op),
}

impl Pos {
    fn no_special(self) -> Pos {
        match self {
            Pos::Sum { .. } => Pos::Sum { special: false },
            other => other,
        }
    }
}

struct Encoder<'t> {
    text: &'t str,
    /// Whether this encoder reads the fixed part (random terms and offsets allowed).
    fixed: bool,
    vars: Vec<Expr>,
    intercept: bool,
    /// R's parity: `false` while reading the right side of a `-`.
    parity: bool,
    random: Vec<RandomTerm>,
    offsets: Vec<Expr>,
}

/// Drops empty terms and repeats (first occurrence kept). Linear time, so that long sums such
/// as `a1 + a2 + ... + a1000` do not cost a cubic number of comparisons.
fn trim(list: Vec<Bits>) -> Vec<Bits> {
    let mut seen: std::collections::HashSet<Bits> = std::collections::HashSet::new();
    let mut out: Vec<Bits> = Vec::with_capacity(list.len());
    for b in list {
        if !b.is_empty() && seen.insert(b.clone()) {
            out.push(b);
        }
    }
    out
}

fn union(a: &Bits, b: &Bits) -> Bits {
    let mut u = a.clone();
    u.extend_from_slice(b);
    u.sort_unstable();
    u.dedup();
    u
}

fn cross(left: &[Bits], right: &[Bits]) -> Vec<Bits> {
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in left {
        for r in right {
            out.push(union(l, r));
        }
    }
    out
}

impl<'t> Encoder<'t> {
    fn new(text: &'t str, fixed: bool) -> Self {
        Encoder {
            text,
            fixed,
            vars: Vec::new(),
            intercept: true,
            parity: true,
            random: Vec::new(),
            offsets: Vec::new(),
        }
    }

    fn err(&self, col: usize, msg: impl Into<String>, hint: &str) -> FormulaError {
        let hint = (!hint.is_empty()).then(|| hint.to_string());
        FormulaError::new(self.text, col, msg, hint)
    }

    fn var_index(&mut self, e: Expr) -> usize {
        match self.vars.iter().position(|v| *v == e) {
            Some(i) => i,
            None => {
                self.vars.push(e);
                self.vars.len() - 1
            }
        }
    }

    fn model_terms(&self, bits: Vec<Bits>) -> ModelTerms {
        let mut bits = trim(bits);
        bits.sort_by_key(Vec::len); // stable
        ModelTerms {
            intercept: self.intercept,
            terms: bits
                .into_iter()
                .map(|b| Term {
                    variables: b.iter().map(|&i| self.vars[i].clone()).collect(),
                })
                .collect(),
        }
    }

    fn with_flipped_parity<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, FormulaError>,
    ) -> Result<T, FormulaError> {
        self.parity = !self.parity;
        let r = f(self);
        self.parity = !self.parity;
        r
    }

    fn encode(&mut self, node: &Node, pos: Pos) -> Result<Vec<Bits>, FormulaError> {
        match node {
            Node::Num { value, col } => {
                let v = *value;
                if v != 0.0 && v != 1.0 {
                    return Err(self.err(
                        *col,
                        format!(
                            "the number `{}` cannot be a term: only `1` (intercept) and `0` \
                             (no intercept) are allowed",
                            crate::number::format_number(v)
                        ),
                        "for arithmetic wrap it in I(), e.g. `I(2 * x)`",
                    ));
                }
                match pos {
                    Pos::Sum { .. } => {
                        self.intercept = (v == 1.0) == self.parity;
                        Ok(Vec::new())
                    }
                    Pos::Factor(op) => Err(self.err(
                        *col,
                        format!(
                            "`{}` (the intercept) cannot be an operand of `{}`",
                            crate::number::format_number(v),
                            op.symbol()
                        ),
                        "add or remove the intercept as a separate term, e.g. `1 + a*b`",
                    )),
                }
            }
            Node::Name { name, .. } => Ok(vec![vec![self.var_index(Expr::Var(name.clone()))]]),
            Node::Call { name, args, col } => {
                if name == "offset" {
                    if !(matches!(pos, Pos::Sum { special: true }) && self.parity) {
                        return Err(self.err(
                            *col,
                            if self.fixed {
                                "`offset(...)` must be added to the formula with `+`"
                            } else {
                                "`offset(...)` cannot be used in a random term"
                            },
                            "write `y ~ x + offset(log(n))`",
                        ));
                    }
                    if args.len() != 1 {
                        return Err(self.err(
                            *col,
                            format!("expected one argument to `offset`, found {}", args.len()),
                            "",
                        ));
                    }
                    let e = to_expr(self.text, &args[0], ExprCtx::Call("offset"))?;
                    self.offsets.push(e);
                    return Ok(Vec::new());
                }
                let wraps_bar = args.first().is_some_and(|a| {
                    matches!(
                        a.unparen(),
                        Node::Binary {
                            op: Op::Bar | Op::DoubleBar,
                            ..
                        }
                    )
                });
                if wraps_bar && OTHER_STRUCTURES.contains(&name.as_str()) {
                    return Err(self.err(
                        *col,
                        format!("unknown covariance structure `{name}` around a random term"),
                        "the structures are lme4 2.0's `us`, `diag`, `cs` and `ar1` (with \
                         `hom = TRUE | FALSE`), e.g. `cs(1 + x | g)`",
                    ));
                }
                if wraps_bar && crate::STRUCTURE_NAMES.contains(&name.as_str()) {
                    self.structured_term(name, args, *col, pos)?;
                    return Ok(Vec::new());
                }
                let e = to_expr(self.text, node, ExprCtx::Response)?;
                Ok(vec![vec![self.var_index(e)]])
            }
            Node::Named { name, col, .. } => Err(named_argument(self.text, name, *col)),
            Node::Paren { inner, col } => match inner.unparen() {
                Node::Binary {
                    op: op @ (Op::Bar | Op::DoubleBar),
                    lhs,
                    rhs,
                    ..
                } => {
                    if !self.fixed {
                        return Err(self.err(
                            *col,
                            "a random term cannot be nested inside another random term",
                            "",
                        ));
                    }
                    if !(matches!(pos, Pos::Sum { special: true }) && self.parity) {
                        return Err(self.err(
                            *col,
                            "a random term must be added to the formula with `+`",
                            "write `y ~ x + (1 | g)`",
                        ));
                    }
                    self.random_term(
                        lhs,
                        rhs,
                        *op == Op::DoubleBar,
                        *col,
                        CovStructure::Unstructured,
                    )?;
                    Ok(Vec::new())
                }
                _ => self.encode(inner, pos),
            },
            Node::Neg { operand, col } => match pos {
                Pos::Sum { .. } => {
                    // R: a lone `-x` removes `x` from nothing (but `-1` removes the intercept).
                    self.with_flipped_parity(|e| e.encode(operand, Pos::Sum { special: false }))?;
                    Ok(Vec::new())
                }
                Pos::Factor(op) => Err(self.err(
                    *col,
                    format!("unary `-` cannot be an operand of `{}`", op.symbol()),
                    "remove terms with a binary minus, e.g. `a*b - a:b`",
                )),
            },
            Node::OneSided { col, .. } => Err(extra_tilde(self.text, *col)),
            Node::Binary { op, lhs, rhs, col } => match op {
                Op::Tilde => Err(extra_tilde(self.text, *col)),
                Op::Bar | Op::DoubleBar => Err(self.err(
                    *col,
                    format!(
                        "`{}` must be inside parentheses: (expr {} group)",
                        op.symbol(),
                        op.symbol()
                    ),
                    "write a random term as `(1 | g)` or `(1 + x | g)`",
                )),
                Op::Plus => {
                    let mut l = self.encode(lhs, pos)?;
                    let r = self.encode(rhs, pos)?;
                    l.extend(r);
                    Ok(trim(l))
                }
                Op::Minus => {
                    let l = self.encode(lhs, pos)?;
                    let r = self.with_flipped_parity(|e| e.encode(rhs, pos.no_special()))?;
                    Ok(l.into_iter().filter(|t| !r.contains(t)).collect())
                }
                Op::Star => {
                    let l = self.encode(lhs, Pos::Factor(*op))?;
                    let r = self.encode(rhs, Pos::Factor(*op))?;
                    self.check_size(l.len(), r.len(), *col)?;
                    let c = cross(&l, &r);
                    let mut all = l;
                    all.extend(r);
                    all.extend(c);
                    Ok(trim(all))
                }
                Op::Colon => {
                    let l = self.encode(lhs, Pos::Factor(*op))?;
                    let r = self.encode(rhs, Pos::Factor(*op))?;
                    self.check_size(l.len(), r.len(), *col)?;
                    Ok(trim(cross(&l, &r)))
                }
                Op::Slash => {
                    let l = self.encode(lhs, Pos::Factor(*op))?;
                    let r = self.encode(rhs, Pos::Factor(*op))?;
                    let all_left: Bits = l.iter().fold(Vec::new(), |acc, t| union(&acc, t));
                    let mut out = l;
                    out.extend(r.iter().map(|t| union(t, &all_left)));
                    Ok(trim(out))
                }
                Op::Caret => {
                    let base = self.encode(lhs, Pos::Factor(*op))?;
                    let n = self.exponent(rhs)?;
                    let mut acc = base.clone();
                    for _ in 1..n {
                        self.check_size(base.len(), acc.len(), *col)?;
                        let next = trim(cross(&base, &acc));
                        if next == acc {
                            break;
                        }
                        acc = next;
                    }
                    Ok(acc)
                }
            },
        }
    }

    /// Refuses an expansion that would produce more than [`MAX_TERMS`] terms (e.g.
    /// `(a + b + ... + z)^26`, 2^26 terms), which would otherwise exhaust time and memory.
    fn check_size(&self, left: usize, right: usize, col: usize) -> Result<(), FormulaError> {
        if left.saturating_mul(right) > MAX_TERMS {
            return Err(self.err(
                col,
                format!(
                    "this operator expands to more than {MAX_TERMS} terms ({left} × {right} \
                     combinations)"
                ),
                "limit the order of the interactions, e.g. `(a + b + c)^2` instead of `^3`",
            ));
        }
        Ok(())
    }

    fn exponent(&self, node: &Node) -> Result<u64, FormulaError> {
        let bad = |col: usize, found: String| {
            self.err(
                col,
                format!("the exponent of `^` must be a positive whole number, found {found}"),
                "for example `(a + b + c)^2` for all two-way interactions",
            )
        };
        match node.unparen() {
            Node::Num { value, col } => {
                let v = *value;
                if v >= 1.0 && v.fract() == 0.0 && v <= 1e9 {
                    // A whole number in range, so the conversion is exact.
                    Ok(v as u64)
                } else {
                    Err(bad(*col, format!("`{}`", crate::number::format_number(v))))
                }
            }
            Node::Name { name, col } => Err(bad(*col, format!("`{name}`"))),
            other => Err(bad(other.start(), "an expression".into())),
        }
    }

    /// lme4 2.0's `us(x | g)`, `diag(x | g)`, `cs(x | g)`, `ar1(0 + f | g)`, each with an
    /// optional `hom = TRUE | FALSE`: a random term with a covariance structure.
    fn structured_term(
        &mut self,
        name: &str,
        args: &[Node],
        col: usize,
        pos: Pos,
    ) -> Result<(), FormulaError> {
        if !self.fixed {
            return Err(self.err(
                col,
                "a random term cannot be nested inside another random term",
                "",
            ));
        }
        if !(matches!(pos, Pos::Sum { special: true }) && self.parity) {
            return Err(self.err(
                col,
                format!("`{name}(...)` must be added to the formula with `+`"),
                "write `y ~ x + diag(1 + x | g)`",
            ));
        }
        let Some(Node::Binary {
            op,
            lhs,
            rhs,
            col: bar_col,
        }) = args.first().map(Node::unparen)
        else {
            return Err(self.err(col, format!("`{name}(...)` needs a random term"), ""));
        };
        if *op == Op::DoubleBar {
            return Err(self.err(
                *bar_col,
                format!("`||` cannot be used inside `{name}(...)`"),
                "independent effects are `diag(x | g)`; `(x || g)` alone splits the term as lme4 does",
            ));
        }
        let mut hom = None;
        for a in &args[1..] {
            match a {
                Node::Named {
                    name: arg,
                    value,
                    col: acol,
                } if arg == "hom" => {
                    if hom.is_some() {
                        return Err(self.err(
                            *acol,
                            format!("`hom` is given twice in `{name}(...)`"),
                            "give it once: `hom = TRUE` or `hom = FALSE`",
                        ));
                    }
                    hom = Some(match value.unparen() {
                        Node::Name { name: v, .. } if v == "TRUE" || v == "T" => true,
                        Node::Name { name: v, .. } if v == "FALSE" || v == "F" => false,
                        other => {
                            return Err(self.err(
                                other.start(),
                                format!("`hom` in `{name}(...)` must be TRUE or FALSE"),
                                "write `hom = TRUE` (one shared standard deviation) or \
                                 `hom = FALSE` (one per column)",
                            ));
                        }
                    });
                }
                Node::Named {
                    name: arg,
                    col: acol,
                    ..
                } => {
                    return Err(self.err(
                        *acol,
                        format!("`{name}(...)` has no argument `{arg}`"),
                        "the only argument after the random term is `hom = TRUE | FALSE`",
                    ));
                }
                other => {
                    return Err(self.err(
                        other.start(),
                        format!("unexpected argument in `{name}(...)`"),
                        "the only argument after the random term is `hom = TRUE | FALSE`",
                    ));
                }
            }
        }
        if name == "us" && hom.is_some() {
            return Err(self.err(
                col,
                "`us(...)` has no `hom` argument: its covariance is unstructured",
                "for one shared standard deviation use `cs(x | g, hom = TRUE)` or \
                 `diag(x | g, hom = TRUE)`",
            ));
        }
        let structure = CovStructure::from_call(name, hom).unwrap_or_default();
        self.random_term(lhs, rhs, false, *bar_col, structure)
    }

    fn random_term(
        &mut self,
        lhs: &Node,
        rhs: &Node,
        double: bool,
        col: usize,
        structure: CovStructure,
    ) -> Result<(), FormulaError> {
        let mut sub = Encoder::new(self.text, false);
        let bits = sub.encode(lhs, Pos::Sum { special: false })?;
        let effects = sub.model_terms(bits);
        if effects.is_empty() {
            return Err(self.err(
                col,
                "the random term has no effects: its left side removes the intercept and \
                 has no terms",
                "a random intercept is `(1 | g)`",
            ));
        }
        let groups = self.groups(rhs)?;
        if groups.len() > MAX_NESTING {
            return Err(self.err(
                col,
                format!(
                    "the random term nests {} grouping factors; at most {MAX_NESTING} are accepted",
                    groups.len()
                ),
                "nest only the levels of the design (e.g. `(1 | school/class)`); a factor \
                 repeated in a nesting adds nothing",
            ));
        }
        // lme4 lists nested groups innermost first: `a/b` gives `b:a`, then `a`.
        let groups: Vec<Group> = groups.into_iter().rev().collect();
        let pieces: Vec<(ModelTerms, bool)> = if double {
            let mut p = Vec::new();
            if effects.intercept {
                p.push((
                    ModelTerms {
                        intercept: true,
                        terms: Vec::new(),
                    },
                    false,
                ));
            }
            for t in &effects.terms {
                p.push((
                    ModelTerms {
                        intercept: false,
                        terms: vec![t.clone()],
                    },
                    false,
                ));
            }
            p
        } else {
            vec![(effects, true)]
        };
        for (lhs, correlated) in pieces {
            for (g, label) in &groups {
                self.random.push(RandomTerm {
                    lhs: lhs.clone(),
                    group: g.clone(),
                    group_label: label.clone(),
                    correlated,
                    structure,
                });
            }
        }
        Ok(())
    }

    /// The grouping factors of a random term, outermost first (`a/b` gives `[a]`, `[b, a]`),
    /// each with lme4's label: the grouping expression as R deparses it, so that a nesting
    /// keeps the parentheses lme4's `expandSlash` creates (`a/b/c` gives `a`, `b:a` and
    /// `c:(b:a)`; values from R 4.2.2, lme4 1.1.31 `names(lFormula(...)$reTrms$cnms)`).
    fn groups(&self, node: &Node) -> Result<Vec<Group>, FormulaError> {
        match node {
            Node::Name { name, .. } => {
                Ok(vec![(vec![name.clone()], crate::display::quote_name(name))])
            }
            Node::Paren { inner, .. } => {
                let mut out = self.groups(inner)?;
                // R keeps written parentheses around an interaction: `c:(b:a)`.
                if let [(names, label)] = out.as_mut_slice()
                    && names.len() > 1
                {
                    *label = format!("({label})");
                }
                Ok(out)
            }
            Node::Binary {
                op: Op::Colon,
                lhs,
                rhs,
                col,
            } => {
                let l = self.groups(lhs)?;
                let r = self.groups(rhs)?;
                match (l.as_slice(), r.as_slice()) {
                    ([(a, la)], [(b, lb)]) => {
                        let mut g = a.clone();
                        for n in b {
                            if !g.contains(n) {
                                g.push(n.clone());
                            }
                        }
                        Ok(vec![(g, format!("{la}:{lb}"))])
                    }
                    _ => Err(self.err(
                        *col,
                        "nesting `/` cannot be inside an interaction `:` of grouping factors",
                        "write the groups out, e.g. `(1 | a:b) + (1 | c:a:b)`",
                    )),
                }
            }
            Node::Binary {
                op: Op::Slash,
                lhs,
                rhs,
                ..
            } => {
                let mut out = self.groups(lhs)?;
                let (inner, inner_label) = out.last().cloned().unwrap_or_default();
                // lme4's `expandSlash` builds the call `r:(inner)`; deparsing it brackets an
                // inner interaction.
                let inner_label = if inner.len() > 1 && !inner_label.starts_with('(') {
                    format!("({inner_label})")
                } else {
                    inner_label
                };
                for (r, r_label) in self.groups(rhs)? {
                    let mut g = r;
                    for n in &inner {
                        if !g.contains(n) {
                            g.push(n.clone());
                        }
                    }
                    out.push((g, format!("{r_label}:{inner_label}")));
                }
                Ok(out)
            }
            other => {
                let (col, found) = match other {
                    Node::Binary { op, col, .. } => (*col, format!("`{}`", op.symbol())),
                    Node::Call { name, col, .. } => (*col, format!("a call to `{name}`")),
                    Node::Num { col, .. } => (*col, "a number".to_string()),
                    n => (n.start(), "an expression".to_string()),
                };
                Err(self.err(
                    col,
                    format!(
                        "expected a grouping factor (a column name, `a:b` or `a/b`) after `|`, \
                         found {found}"
                    ),
                    "create the grouping column in the data, then write `(1 | g)`",
                ))
            }
        }
    }
}
