//! Snapshot tests: the expanded terms of many formulas, rendered as readable text.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use multilevel_formula::{Formula, parse};

/// Every parsed formula must also reparse from its canonical text to an equal formula.
fn check_round_trip(f: &Formula) {
    let canonical = f.to_string();
    let mut again = parse(&canonical)
        .unwrap_or_else(|e| panic!("canonical text `{canonical}` does not parse:\n{e}"));
    again.text = f.text.clone();
    assert_eq!(&again, f, "round trip through `{canonical}`");
}

const FORMULAS: &[(&str, &str)] = &[
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    (
        "sleepstudy_uncorrelated",
        "Reaction ~ Days + (Days || Subject)",
    ),
    (
        "mixed_forms",
        "y ~ x * f + (1 + x | g) + (1 | a/b) + (0 + x || h)",
    ),
    ("power_two", "y ~ (a + b + c)^2"),
    ("power_three_minus", "y ~ (a + b + c)^3 - a:b:c"),
    ("power_of_single_variable", "y ~ x^2"),
    ("quadratic_with_I", "y ~ age + I(age^2) + (1 | id)"),
    ("log_log", "log(y) ~ log(x)"),
    (
        "cbind_binomial",
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ),
    ("offset", "y ~ x + offset(log(exposure)) + (1 | g)"),
    ("two_offsets", "y ~ f*x + (1|g) + offset(o1) + offset(o2)"),
    ("poly", "y ~ poly(x, 2) + (1 | g)"),
    ("scale", "y ~ scale(x) + f + (scale(x) | g)"),
    ("minus_one", "y ~ x - 1"),
    ("zero_plus", "y ~ 0 + f + (1 | g)"),
    ("leading_minus_one", "y ~ -1 + x"),
    ("intercept_added_back", "y ~ 0 + x + 1"),
    ("minus_zero_adds_intercept", "y ~ x - 1 - 0"),
    ("group_interaction", "y ~ x + (1 | a:b)"),
    ("factor_slopes_no_intercept", "y ~ f + (0 + f | g)"),
    ("nested_three_levels", "y ~ 1 + (1 | a/b/c)"),
    ("pastes_nested", "strength ~ 1 + (1 | batch/cask)"),
    ("interaction_before_main", "y ~ b:a + a"),
    ("main_before_interaction", "y ~ a + b:a"),
    ("three_way_star", "y ~ a*b*c"),
    ("crossed", "y ~ x + (1 | g) + (1 | h)"),
    ("double_bar_no_intercept", "y ~ x + (0 + x + z || g)"),
    ("double_bar_implicit_intercept", "y ~ x + (x || g)"),
    ("double_bar_factor", "y ~ f + (1 + f || g)"),
    ("double_bar_interaction", "y ~ a*b + (a*b || g)"),
    ("double_bar_nested_group", "y ~ x + (x || a/b)"),
    ("one_sided", "~ x + (1 | g)"),
    ("I_keeps_arithmetic", "y ~ I(a*b) + a:b"),
    ("self_interaction_collapses", "y ~ a:a + a*a"),
    ("duplicates_once", "y ~ x + x + z + x"),
    ("star_minus_interaction", "y ~ a*b - a:b"),
    ("slash_in_fixed_part", "y ~ a/b"),
    (
        "centering_calls",
        "y ~ cwc(x, g) + gm(x, g) + (cwc(x, g) | g)",
    ),
    ("backquoted_names", "`my y` ~ `x 1` + (1 | `group id`)"),
    ("response_dropped_from_rhs", "y ~ y + x"),
    ("parenthesised_random_lhs", "Y ~ 1 + U + ((1 + U) | G)"),
    ("random_minus_one", "y ~ x + (x - 1 | g)"),
    ("random_lhs_variable_order", "y ~ (b:a + a | g)"),
    ("transform_calls", "sqrt(y) ~ exp(x) + abs(z)"),
    ("response_arithmetic", "y/n ~ x"),
    ("parenthesised_sum_interaction", "y ~ (a + b):c"),
    ("random_first", "y ~ (1 | g) + x"),
    ("only_random", "y ~ (1 | g)"),
    ("zero_with_random_slope", "y ~ 0 + (x | g)"),
    (
        "arithmetic_inside_I",
        "y ~ I(x^-1) + I(2*x - 1) + I((x + 1)^2)",
    ),
    ("comment_and_newline", "y ~ x +  # the slope\n  (1 | g)"),
    (
        "nested_group_with_interaction",
        "y ~ a*b + (1 | a:b) + (1 | c/d:e)",
    ),
    ("random_slope_interaction_group", "y ~ x + (1 + x | g:h)"),
    ("power_operator_stars", "y ~ (a + b)**2"),
    (
        "numbers_in_calls",
        "y ~ poly(x, 3) + I(x/1000) + I(x * 0.5)",
    ),
];

#[test]
fn formula_snapshots() {
    assert!(FORMULAS.len() >= 40);
    for (name, text) in FORMULAS {
        let f = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_round_trip(&f);
        insta::assert_snapshot!(*name, common::render(&f));
    }
}

/// The 52 formulas of the benchmark suite (copied from the shared suite.tsv into a fixture so
/// this always runs; the published suite has since dropped `dialectnl_1`, whose data lack a
/// column, but its formula stays here as a parser case), in one snapshot.
#[test]
fn bench_suite_snapshot() {
    let fixture = include_str!("fixtures/suite_formulas.tsv");
    let mut out = String::new();
    let mut n = 0;
    for line in fixture.lines().filter(|l| !l.trim().is_empty()) {
        let (id, text) = line.split_once('\t').expect("id<TAB>formula");
        let f = parse(text).unwrap_or_else(|e| panic!("{id}: {e}"));
        check_round_trip(&f);
        out.push_str(&format!("### {id}\n{}\n", common::render(&f)));
        n += 1;
    }
    assert_eq!(n, 52);
    insta::assert_snapshot!("bench_suite", out);
}

/// When the shared benchmark file is present, its formulas must match the fixture.
#[test]
fn bench_suite_fixture_matches_shared_file() {
    let path = std::env::var("MULTILEVEL_BENCH").unwrap_or_else(|_| {
        format!(
            "{}/../../../shared/bench/suite.tsv",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let Ok(shared) = std::fs::read_to_string(&path) else {
        println!("note: {path} not found; skipping the comparison with the fixture");
        return;
    };
    let from_shared: Vec<String> = shared
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            format!("{}\t{}", cols[0], cols[2])
        })
        .collect();
    let fixture: Vec<String> = include_str!("fixtures/suite_formulas.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    // The fixture keeps the suite's former `dialectnl_1` row (a parser case); every other
    // row must match the shared file, in order.
    let fixture: Vec<String> = fixture
        .into_iter()
        .filter(|l| !l.starts_with("dialectnl_1\t") || from_shared.contains(l))
        .collect();
    assert_eq!(from_shared, fixture);
}
