//! Property tests: parsing never panics, and canonical text round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_formula::parse;
use proptest::prelude::*;

fn var() -> BoxedStrategy<String> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("x"),
        Just("z"),
        Just("`my x`")
    ]
    .prop_map(str::to_string)
    .boxed()
}

fn atom() -> BoxedStrategy<String> {
    prop_oneof![
        4 => var(),
        1 => var().prop_map(|v| format!("log({v})")),
        1 => var().prop_map(|v| format!("I({v}^2)")),
        1 => (var(), 1u8..4).prop_map(|(v, d)| format!("poly({v}, {d})")),
        1 => (var(), var()).prop_map(|(v, w)| format!("I({v} * {w} - 0.5)")),
        1 => (var(), var()).prop_map(|(v, g)| format!("cwc({v}, {g})")),
    ]
    .boxed()
}

fn fixed_item() -> BoxedStrategy<String> {
    prop_oneof![
        6 => atom(),
        2 => (atom(), atom()).prop_map(|(a, b)| format!("{a}:{b}")),
        2 => (atom(), atom()).prop_map(|(a, b)| format!("{a}*{b}")),
        1 => (atom(), atom(), atom()).prop_map(|(a, b, c)| format!("({a} + {b} + {c})^2")),
        1 => (atom(), atom()).prop_map(|(a, b)| format!("{a}/{b}")),
        1 => prop_oneof![Just("0"), Just("1"), Just("-1")].prop_map(str::to_string),
        1 => var().prop_map(|v| format!("offset(log({v}))")),
    ]
    .boxed()
}

fn group() -> BoxedStrategy<String> {
    prop_oneof![
        Just("g"),
        Just("h"),
        Just("g:h"),
        Just("g/h"),
        Just("g/h/k"),
        Just("`my g`")
    ]
    .prop_map(str::to_string)
    .boxed()
}

fn random_term() -> BoxedStrategy<String> {
    (
        prop_oneof![Just(""), Just("1 + "), Just("0 + ")],
        prop::collection::vec(
            fixed_item().prop_filter("no offset", |s| !s.contains("offset")),
            1..3,
        ),
        prop_oneof![Just("|"), Just("||")],
        group(),
    )
        .prop_map(|(start, items, bar, g)| format!("({start}{} {bar} {g})", items.join(" + ")))
        .boxed()
}

fn formula() -> BoxedStrategy<String> {
    (
        prop_oneof![
            Just("y ~ "),
            Just("log(y) ~ "),
            Just("cbind(s, n - s) ~ "),
            Just("~ ")
        ],
        prop::collection::vec(
            (
                prop_oneof![4 => Just(" + "), 1 => Just(" - ")],
                prop_oneof![3 => fixed_item(), 1 => random_term()],
            ),
            1..6,
        ),
    )
        .prop_map(|(lhs, items)| {
            let mut s = lhs.to_string();
            for (i, (op, item)) in items.into_iter().enumerate() {
                if i > 0 {
                    s.push_str(op);
                }
                s.push_str(&item);
            }
            s
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Canonical text parses back to the same formula, and is a fixed point of printing.
    #[test]
    fn canonical_text_round_trips(text in formula()) {
        if let Ok(f) = parse(&text) {
            let canonical = f.to_string();
            let again = parse(&canonical);
            prop_assert!(again.is_ok(), "`{}` -> `{}` fails: {:?}", text, canonical, again);
            let mut again = again.unwrap();
            prop_assert_eq!(again.to_string(), canonical.clone());
            again.text = f.text.clone();
            prop_assert_eq!(again, f, "`{}` -> `{}`", text, canonical);
        }
    }

    /// Arbitrary text never panics; errors point inside (or just past) the text and render.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,60}") {
        check_no_panic(&text);
    }

    /// Text made of the formula alphabet never panics either (reaches deeper into the parser).
    #[test]
    fn formula_alphabet_never_panics(text in "[abxyg01 2.~|()+*:/^,`=-]{0,40}") {
        check_no_panic(&text);
    }
}

fn check_no_panic(text: &str) {
    match parse(text) {
        Ok(f) => {
            let _ = f.to_string();
            let _ = f.variables();
        }
        Err(e) => {
            assert!(
                e.column >= 1 && e.column <= text.chars().count() + 1,
                "{e:?}"
            );
            assert!(!e.message.is_empty());
            let _ = e.to_string();
        }
    }
}

/// Most generated formulas must be valid, or the round-trip property would test little.
#[test]
fn generator_mostly_produces_valid_formulas() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = formula();
    let mut ok = 0;
    for _ in 0..500 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        if parse(&text).is_ok() {
            ok += 1;
        }
    }
    assert!(ok > 400, "only {ok} of 500 generated formulas parse");
}
