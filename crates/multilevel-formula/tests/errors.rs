//! Every kind of bad formula gives one error with the right column and message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_formula::{FormulaError, parse};

fn err(text: &str) -> FormulaError {
    match parse(text) {
        Ok(f) => panic!("`{text}` should not parse, got {f:?}"),
        Err(e) => {
            assert_eq!(e.formula, text);
            e
        }
    }
}

/// Asserts the column and that the message contains `needle`.
fn check(text: &str, column: usize, needle: &str) -> FormulaError {
    let e = err(text);
    assert_eq!(e.column, column, "column for `{text}`: {e}");
    assert!(
        e.message.contains(needle),
        "message for `{text}` should contain `{needle}`: {}",
        e.message
    );
    e
}

#[test]
fn unclosed_parenthesis_points_at_the_open_paren() {
    let e = check("y ~ x + (1 | g", 9, "unclosed parenthesis");
    assert_eq!(e.hint.as_deref(), Some("every `(` needs a matching `)`"));
    check(
        "y ~ log(x",
        8,
        "unclosed parenthesis: expected `)` to close the call to `log`",
    );
    check("y ~ ((a + b)", 5, "unclosed parenthesis");
}

#[test]
fn unmatched_close_paren() {
    check("y ~ x)", 6, "unexpected `)`: it has no matching `(`");
}

#[test]
fn unexpected_characters() {
    check("y ~ x $ z", 7, "unexpected character `$`");
    let e = check("y ~ x > 2", 7, "unexpected character `>`");
    assert!(e.hint.unwrap().contains("comparisons"));
    check("y ~ \"x\"", 5, "unexpected character `\"`");
    check("y ~ a %in% b", 7, "operator `%in%` is not supported");
    check("y ~ x == 1", 7, "comparisons are not supported");
    check("y ~ stats::poly(x, 2)", 10, "package-qualified");
    check("y ~ 2x", 6, "unexpected `x` right after the number `2`");
    check("y ~ 1e", 7, "expected digits after the exponent");
}

#[test]
fn missing_tilde() {
    let e = check("y + x", 1, "expected `~`");
    assert!(e.hint.is_some());
    check("", 1, "empty formula");
    check("   ", 1, "empty formula");
}

#[test]
fn second_tilde() {
    check("y ~ x ~ z", 7, "unexpected `~`: a formula has only one `~`");
    check("y ~ log(~x)", 9, "unexpected `~`");
}

#[test]
fn bar_outside_parentheses() {
    let e = check(
        "y ~ x | g",
        7,
        "`|` must be inside parentheses: (expr | group)",
    );
    assert!(e.hint.is_some());
    check("y ~ x + 1 || g", 11, "`||` must be inside parentheses");
}

#[test]
fn empty_operands() {
    check(
        "y ~ x +",
        8,
        "expected a term after `+`, found the end of the formula",
    );
    check("y ~", 4, "expected a term after `~`");
    check("y ~ x + * z", 9, "expected a term, found `*`");
    check("y ~ (x + )", 10, "expected a term after `+`, found `)`");
    check("y ~ ()", 6, "empty parentheses");
    check("~", 2, "expected a term after `~`");
    check("y ~ x z", 7, "expected an operator such as `+` before `z`");
    check("y ~ f(x,)", 9, "expected an argument after `,`");
    check("y ~ f()", 7, "expected an argument in the call to `f`");
}

#[test]
fn empty_sides_of_bars() {
    check(
        "y ~ x + (| g)",
        10,
        "expected the random-effects terms before `|`",
    );
    check(
        "y ~ x + (|| g)",
        10,
        "expected the random-effects terms before `||`",
    );
    check(
        "y ~ x + (1 | )",
        14,
        "expected a grouping factor after `|`, found `)`",
    );
    check(
        "y ~ x + (1 || )",
        15,
        "expected a grouping factor after `||`",
    );
    check("y ~ (1 | g", 5, "unclosed parenthesis");
}

#[test]
fn bad_exponents() {
    check(
        "y ~ (a + b)^x",
        13,
        "exponent of `^` must be a positive whole number, found `x`",
    );
    check("y ~ (a + b)^0", 13, "found `0`");
    check("y ~ (a + b)^1.5", 13, "found `1.5`");
    check("y ~ (a + b)^-2", 13, "found an expression");
}

#[test]
fn random_terms_in_wrong_places() {
    check(
        "y ~ log((1 | g))",
        12,
        "a random term cannot be inside the call to `log`",
    );
    check(
        "y ~ x * (1 | g)",
        9,
        "a random term must be added to the formula with `+`",
    );
    check(
        "y ~ x - (1 | g)",
        9,
        "must be added to the formula with `+`",
    );
    check(
        "y ~ (1 + (1 | h) | g)",
        10,
        "cannot be nested inside another random term",
    );
    check(
        "(1 | g) ~ x",
        4,
        "a random term cannot be inside the response",
    );
}

#[test]
fn bad_groups() {
    check("y ~ x + (1 | g + h)", 16, "expected a grouping factor");
    check("y ~ x + (1 | factor(g))", 14, "found a call to `factor`");
    check("y ~ x + (1 | g*h)", 15, "found `*`");
    check(
        "y ~ x + (1 | a:(b/c))",
        15,
        "nesting `/` cannot be inside an interaction",
    );
    check("y ~ x + (0 | g)", 9, "the random term has no effects");
    check("y ~ x + (1 - 1 | g)", 9, "has no effects");
}

#[test]
fn numbers_and_intercept_misuse() {
    let e = check("y ~ 2 + x", 5, "the number `2` cannot be a term");
    assert!(e.hint.unwrap().contains("I(2 * x)"));
    check(
        "y ~ a:1",
        7,
        "`1` (the intercept) cannot be an operand of `:`",
    );
    check("y ~ (1 + a)*b", 6, "cannot be an operand of `*`");
    check("y ~ a:-b", 7, "unary `-` cannot be an operand of `:`");
}

#[test]
fn calls_and_names() {
    check("cbind(a) ~ x", 1, "expected two arguments to `cbind`");
    check(
        "y ~ poly(x, degree = 2)",
        13,
        "named argument `degree = ...`",
    );
    check("y ~ `x", 5, "unterminated backquoted name");
    check("y ~ .", 5, "`.` (all other columns) is not supported");
    check(
        "y ~ x:offset(z)",
        7,
        "`offset(...)` must be added to the formula with `+`",
    );
    check("y ~ offset(a, b)", 5, "expected one argument to `offset`");
    check(
        "y ~ x + (offset(z) | g)",
        10,
        "cannot be used in a random term",
    );
    check("y ~ I(a:b)", 8, "`:` cannot be used inside the call to `I`");
    check("y ~ if", 5, "unexpected R keyword `if`");
    check("y = x", 3, "unexpected `=`");
}

#[test]
fn rendered_errors() {
    let cases = [
        "y ~ x + (1 | g",
        "y ~ x | g",
        "y ~ x +",
        "y ~ (a + b)^x",
        "y ~ log((1 | g))",
        "y ~ x + (1 | g + h)",
        "y ~ 2 + x",
        "y ~ a\n  + (1 | g) + )",
    ];
    let rendered: Vec<String> = cases.iter().map(|c| err(c).to_string()).collect();
    insta::assert_snapshot!("rendered_errors", rendered.join("\n\n"));
}

#[test]
fn unknown_column_helper() {
    let text = "Reaction ~ Days + (Days | Subjetc)";
    let e = FormulaError::unknown_column(text, "Subjetc", &["Reaction", "Days", "Subject"]);
    assert_eq!(e.column, 27);
    assert_eq!(e.hint.as_deref(), Some("did you mean `Subject`?"));
    insta::assert_snapshot!("unknown_column", e.to_string());
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep = format!("y ~ {}x{}", "(".repeat(5000), ")".repeat(5000));
    let e = err(&deep);
    assert!(e.message.contains("too deeply nested"), "{}", e.message);
    let long = format!(
        "y ~ {}",
        (0..3000)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    assert!(err(&long).message.contains("too long"));
    // Large but reasonable formulas still work (run on a test thread with the default stack).
    let wide = format!(
        "y ~ {} + (1 | g)",
        (0..900)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let f = parse(&wide).unwrap();
    assert_eq!(f.fixed.terms.len(), 900);
    let again = parse(&f.to_string()).unwrap();
    assert_eq!(again.fixed, f.fixed);
    let nested = format!("y ~ {}x{}", "(".repeat(900), ")".repeat(900));
    assert_eq!(parse(&nested).unwrap().fixed.labels(), ["x"]);
}

#[test]
fn combinatorial_expansion_is_an_error_not_a_hang() {
    // 2^24 − 1 terms: must be refused quickly, pointing at the `^`.
    let vars: Vec<String> = (0..24).map(|i| format!("x{i}")).collect();
    let text = format!("y ~ ({})^24", vars.join(" + "));
    let caret = text.find('^').unwrap() + 1;
    let e = check(&text, caret, "more than 10000 terms");
    assert!(e.hint.unwrap().contains("order"));
    // `:` of two big sums
    let a: Vec<String> = (0..120).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (0..120).map(|i| format!("b{i}")).collect();
    let text = format!("y ~ ({}):({})", a.join(" + "), b.join(" + "));
    let colon = text.find("):(").unwrap() + 2;
    check(&text, colon, "more than 10000 terms");
    // a legitimate two-way expansion still works: 10 + 45 terms
    let ten: Vec<String> = (0..10).map(|i| format!("z{i}")).collect();
    let f = parse(&format!("y ~ ({})^2", ten.join(" + "))).unwrap();
    assert_eq!(f.fixed.terms.len(), 55);
}

#[test]
fn nested_group_labels_match_lme4() {
    // names(lFormula(y ~ (1 | a/b/cc), d)$reTrms$cnms) in R 4.2.2 / lme4 1.1.31:
    // "cc:(b:a)" "b:a" "a"
    let f = parse("y ~ (1 | a/b/cc)").unwrap();
    let labels: Vec<&str> = f.random.iter().map(|r| r.group_label.as_str()).collect();
    assert_eq!(labels, ["cc:(b:a)", "b:a", "a"]);
    assert_eq!(f.random[0].group, ["cc", "b", "a"]);
    // explicit interactions deparse without extra parentheses; written ones are kept
    assert_eq!(
        parse("y ~ (1 | a:b:c)").unwrap().random[0].group_label,
        "a:b:c"
    );
    let f = parse("y ~ (1 | c:(b:a))").unwrap();
    assert_eq!(f.random[0].group_label, "c:(b:a)");
    assert_eq!(f.random[0].group, ["c", "b", "a"]);
    // canonical text round-trips the label
    let f = parse("y ~ (1 | a/b/cc/d)").unwrap();
    assert_eq!(f.random[0].group_label, "d:(cc:(b:a))");
    let again = parse(&f.to_string()).unwrap();
    assert_eq!(again.random, f.random);
}
