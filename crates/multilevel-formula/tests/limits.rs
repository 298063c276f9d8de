//! Bounded errors and bounded work on hostile formulas (issue 17): long formulas are shown as a
//! window around the caret, long names are cut, control characters are escaped, and a random
//! term's nesting depth is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_formula::parse;

/// Every line of a rendered error is short, and there are few of them.
fn assert_short(rendered: &str) {
    assert!(rendered.lines().count() <= 5, "{rendered}");
    for line in rendered.lines() {
        assert!(
            line.chars().count() <= 260,
            "line of {} chars",
            line.chars().count()
        );
    }
}

#[test]
fn twenty_thousand_parentheses_show_a_window_around_the_caret() {
    let text = format!("y ~ {}x{}", "(".repeat(20_000), ")".repeat(20_000));
    let e = parse(&text).unwrap_err();
    let shown = e.to_string();
    assert_short(&shown);
    assert!(shown.len() < 1000, "{} bytes", shown.len());
    // The caret still stands under the character the column names.
    let lines: Vec<&str> = shown.lines().collect();
    let caret = lines[2].chars().count() - 1;
    let under: char = lines[1].chars().nth(caret).unwrap();
    let expected = text.chars().nth(e.column - 1).unwrap();
    assert_eq!(under, expected, "{shown}");
    assert!(lines[1].contains('…'));
}

#[test]
fn a_131_kb_name_is_cut_in_the_message() {
    let name = "a".repeat(131_000);
    let text = format!("y ~ {name} + (1 | g) + )");
    let e = parse(&text).unwrap_err();
    assert_short(&e.to_string());
    let unknown = multilevel_formula::FormulaError::unknown_column(
        &format!("y ~ {name}"),
        &name,
        &["y", "x"],
    );
    let shown = unknown.to_string();
    assert_short(&shown);
    assert!(shown.contains("characters cut"), "{shown}");
}

#[test]
fn control_characters_are_escaped() {
    let e = parse("y ~ x\u{1b}[31m + ").unwrap_err();
    let shown = e.to_string();
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("\\u{1b}"), "{shown}");
}

#[test]
fn short_formulas_render_as_before() {
    let e = parse("y ~ x + (1 | g").unwrap_err();
    assert_eq!(
        e.to_string(),
        "formula error at column 9: unclosed parenthesis: expected `)` to close this `(`\n  y ~ x + (1 | g\n          ^\nhint: every `(` needs a matching `)`"
    );
}

#[test]
fn deep_nesting_of_grouping_factors_is_refused() {
    let groups = vec!["Subject"; 50].join("/");
    let text = format!("Reaction ~ Days + (1 | {groups})");
    let e = parse(&text).unwrap_err();
    assert!(
        e.message.contains("nests 50 grouping factors"),
        "{}",
        e.message
    );
    assert!(e.message.contains("at most 12"), "{}", e.message);
    // Twelve levels are still accepted.
    let ok: Vec<String> = (0..12).map(|i| format!("g{i}")).collect();
    let f = parse(&format!("y ~ 1 + (1 | {})", ok.join("/"))).unwrap();
    assert_eq!(f.random.len(), 12);
}
