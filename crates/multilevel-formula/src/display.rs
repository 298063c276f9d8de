//! Text rendering in R's deparse style, and the canonical formula text.
//!
//! Expressions print as R's `deparse` does: spaces around binary `+`, `-` and `*`, none around
//! `/` and `^`; `I(age^2)`, `log(x)`, `poly(x, 2)`, `cbind(incidence, size - incidence)`.
//! Parentheses are inserted only where precedence requires them (so redundant parentheses the
//! user wrote, which R keeps in its labels, are dropped). Non-syntactic names are backquoted.

use std::fmt;

use crate::lexer::is_syntactic_name;
use crate::number::format_number;
use crate::{BinOp, CovStructure, Expr, Formula, ModelTerms, RandomTerm, Response, Term};

/// A name as R prints it: bare when syntactic, otherwise in backquotes.
pub(crate) fn quote_name(name: &str) -> String {
    if is_syntactic_name(name) {
        name.to_string()
    } else {
        let escaped = name.replace('\\', "\\\\").replace('`', "\\`");
        format!("`{escaped}`")
    }
}

/// Precedence levels for printing (higher binds tighter).
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => match op {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div => 2,
            BinOp::Pow => 4,
        },
        Expr::Neg(_) => 3,
        Expr::Num(v) if v.is_sign_negative() && *v != 0.0 => 3,
        Expr::Var(_) | Expr::Num(_) | Expr::Call { .. } => 5,
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Var(name) => f.write_str(&quote_name(name)),
            Expr::Num(v) => f.write_str(&format_number(*v)),
            Expr::Call { name, args } => {
                write!(f, "{}(", quote_name(name))?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Neg(inner) => {
                f.write_str("-")?;
                write_operand(f, inner, precedence(inner) < 3)
            }
            Expr::Binary { op, lhs, rhs } => {
                let p = precedence(self);
                let (sym, spaced) = match op {
                    BinOp::Add => ("+", true),
                    BinOp::Sub => ("-", true),
                    BinOp::Mul => ("*", true),
                    BinOp::Div => ("/", false),
                    BinOp::Pow => ("^", false),
                };
                let (lp, rp) = if *op == BinOp::Pow {
                    // Right-associative; a unary minus may follow `^` directly (`x^-1`).
                    let r = matches!(**rhs, Expr::Neg(_)) || precedence(rhs) == 3;
                    (precedence(lhs) <= p, precedence(rhs) < p && !r)
                } else {
                    (precedence(lhs) < p, precedence(rhs) <= p)
                };
                write_operand(f, lhs, lp)?;
                if spaced {
                    write!(f, " {sym} ")?;
                } else {
                    f.write_str(sym)?;
                }
                write_operand(f, rhs, rp)
            }
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_expr())
    }
}

/// Renders a model part (`1 + a + b:a`) so that reparsing it gives the same terms with the
/// same variable order inside each interaction.
///
/// Reparsing orders the variables of an interaction by first appearance, and the terms by
/// order. The plain rendering (terms in stored order) usually reproduces both; when it does
/// not (`y ~ b:a + a` is stored as `a`, `b:a`), the terms are written highest order first,
/// and failing that a removal of not-yet-present terms, `1 - (a + b + c) + a:c + b:c`, which
/// changes no term but fixes the order in which the variables first appear.
pub(crate) fn render_model_terms(mt: &ModelTerms, prefix: &[Expr]) -> String {
    let mut out = String::from(if mt.intercept { "1" } else { "0" });
    if mt.terms.is_empty() {
        return out;
    }
    let ascending: Vec<&Term> = mt.terms.iter().collect();
    let mut descending = ascending.clone();
    descending.sort_by_key(|t| std::cmp::Reverse(t.order())); // stable within an order
    let emission = if consistent(&ascending, prefix) {
        ascending
    } else if consistent(&descending, prefix) {
        descending
    } else {
        if let Some(order) = variable_order(&mt.terms, prefix)
            && !order.is_empty()
        {
            let list = order
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" + ");
            out.push_str(&format!(" - ({list})"));
        }
        ascending
    };
    for t in emission {
        out.push_str(" + ");
        out.push_str(&t.label());
    }
    out
}

/// Whether writing `terms` in this order after the `prefix` variables makes every term's
/// variables appear in increasing first-appearance order.
fn consistent(terms: &[&Term], prefix: &[Expr]) -> bool {
    let mut seen: Vec<&Expr> = prefix.iter().collect();
    for t in terms {
        for v in &t.variables {
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
    }
    terms.iter().all(|t| {
        let pos: Vec<usize> = t
            .variables
            .iter()
            .filter_map(|v| seen.iter().position(|s| *s == v))
            .collect();
        pos.windows(2).all(|w| w[0] < w[1])
    })
}

/// A global variable order (excluding `prefix`) compatible with the order inside every term:
/// a topological sort of "comes before" within terms, ties broken by first appearance.
fn variable_order<'a>(terms: &'a [Term], prefix: &[Expr]) -> Option<Vec<&'a Expr>> {
    let mut nodes: Vec<&Expr> = Vec::new();
    for t in terms {
        for v in &t.variables {
            if !prefix.contains(v) && !nodes.contains(&v) {
                nodes.push(v);
            }
        }
    }
    let n = nodes.len();
    let idx = |e: &Expr| nodes.iter().position(|x| *x == e);
    let mut before = vec![vec![false; n]; n];
    for t in terms {
        for w in t.variables.windows(2) {
            if let (Some(a), Some(b)) = (idx(&w[0]), idx(&w[1])) {
                before[a][b] = true;
            }
        }
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        let next = (0..n).find(|&j| !done[j] && (0..n).all(|i| done[i] || !before[i][j]))?;
        done[next] = true;
        order.push(nodes[next]);
    }
    Some(order)
}

impl fmt::Display for ModelTerms {
    /// `1 + x + f + x:f`, `0 + x`, `1`, or `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_model_terms(self, &[]))
    }
}

impl fmt::Display for RandomTerm {
    /// `(1 + x | g)`, or `(0 + x || g)` for an uncorrelated term.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bar = if self.correlated { "|" } else { "||" };
        let inner = format!(
            "{} {bar} {}",
            render_model_terms(&self.lhs, &[]),
            self.group_label
        );
        match (self.structure, self.structure.hom()) {
            (CovStructure::Unstructured, _) | (_, None) => write!(f, "({inner})"),
            (s, Some(hom)) => {
                let hom = if hom { "TRUE" } else { "FALSE" };
                write!(f, "{}({inner}, hom = {hom})", s.name())
            }
        }
    }
}

impl fmt::Display for Formula {
    /// Canonical text: `response ~ 1 + terms + offset(...) + (random terms)`, which parses
    /// back to an equal formula (apart from `text`). Uncorrelated terms print with `||`; each
    /// has a single effect, so it reparses to itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: Vec<Expr> = self.response.iter().map(Response::to_expr).collect();
        if let Some(r) = &self.response {
            write!(f, "{r} ")?;
        }
        write!(f, "~ {}", render_model_terms(&self.fixed, &prefix))?;
        for o in &self.offsets {
            write!(f, " + offset({o})")?;
        }
        for r in &self.random {
            write!(f, " + {r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deparse_style() {
        let v = |s: &str| Box::new(Expr::Var(s.into()));
        let bin = |op, l, r| Expr::Binary { op, lhs: l, rhs: r };
        let sum = bin(BinOp::Add, v("a"), v("b"));
        assert_eq!(
            bin(BinOp::Pow, Box::new(sum.clone()), Box::new(Expr::Num(2.0))).to_string(),
            "(a + b)^2"
        );
        assert_eq!(
            bin(BinOp::Div, v("a"), Box::new(sum.clone())).to_string(),
            "a/(a + b)"
        );
        assert_eq!(
            bin(BinOp::Sub, v("a"), Box::new(sum.clone())).to_string(),
            "a - (a + b)"
        );
        assert_eq!(
            bin(BinOp::Add, Box::new(sum.clone()), v("c")).to_string(),
            "a + b + c"
        );
        assert_eq!(Expr::Neg(Box::new(sum)).to_string(), "-(a + b)");
        assert_eq!(
            bin(
                BinOp::Pow,
                v("x"),
                Box::new(Expr::Neg(Box::new(Expr::Num(1.0))))
            )
            .to_string(),
            "x^-1"
        );
        assert_eq!(Expr::Var("my var".into()).to_string(), "`my var`");
    }
}
