//! Column names of `model.matrix` and the order of lme4's random-effects terms, checked
//! against values obtained from R 4.2.2 (`model.matrix`) and lme4 1.1.31 (`lFormula`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_design::{DesignError, build_design, model_matrix};
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame};

fn rep_each(levels: &[&str], each: usize, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| levels[(i / each) % levels.len()].to_string())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// R: n = 24; f = rep(c("a","b","c"), 8); g = factor(rep(c("B","A"), each = 12));
/// h = rep(c("u","v"), 12); x, z, y numeric.
fn data24() -> DataFrame {
    let n = 24;
    let num = |k: f64| (0..n).map(|i| ((i as f64) * k).sin()).collect::<Vec<_>>();
    DataFrame::new("d24")
        .with_numeric("y", num(1.3))
        .unwrap()
        .with_numeric("x", num(0.7))
        .unwrap()
        .with_numeric("z", num(2.9))
        .unwrap()
        .with_strings("f", &strs(&rep_each(&["a", "b", "c"], 1, n)))
        .unwrap()
        .with_strings("g", &strs(&rep_each(&["B", "A"], 12, n)))
        .unwrap()
        .with_strings("h", &strs(&rep_each(&["u", "v"], 1, n)))
        .unwrap()
}

fn names(formula: &str, df: &DataFrame) -> Vec<String> {
    let f = multilevel_formula::parse(formula).unwrap();
    let mf = ModelFrame::new(&f, df, &FrameOptions::default()).unwrap();
    model_matrix(&f.fixed, &mf).unwrap().names
}

#[test]
fn model_matrix_names_match_r() {
    // values from R 4.2.2 model.matrix: colnames(model.matrix(fm, d))
    let cases: &[(&str, &str)] = &[
        ("y ~ x:f + f", "(Intercept) fb fc x:fa x:fb x:fc"),
        ("y ~ f*g - f", "(Intercept) gB fb:gA fc:gA fb:gB fc:gB"),
        (
            "y ~ poly(x,2):f",
            "(Intercept) poly(x, 2)1:fa poly(x, 2)2:fa poly(x, 2)1:fb poly(x, 2)2:fb \
             poly(x, 2)1:fc poly(x, 2)2:fc",
        ),
        ("y ~ I(x^2):f", "(Intercept) I(x^2):fa I(x^2):fb I(x^2):fc"),
        (
            "y ~ f*g*h",
            "(Intercept) fb fc gB hv fb:gB fc:gB fb:hv fc:hv gB:hv fb:gB:hv fc:gB:hv",
        ),
        (
            "y ~ f:g:h",
            "(Intercept) fa:gA:hu fb:gA:hu fc:gA:hu fa:gB:hu fb:gB:hu fc:gB:hu fa:gA:hv \
             fb:gA:hv fc:gA:hv fa:gB:hv fb:gB:hv fc:gB:hv",
        ),
        (
            "y ~ x*f*g",
            "(Intercept) x fb fc gB x:fb x:fc x:gB fb:gB fc:gB x:fb:gB x:fc:gB",
        ),
        ("y ~ 0 + f:g", "fa:gA fb:gA fc:gA fa:gB fb:gB fc:gB"),
        ("y ~ 0 + x + f:g", "x fa:gA fb:gA fc:gA fa:gB fb:gB fc:gB"),
        ("y ~ f:x + g", "(Intercept) gB fa:x fb:x fc:x"),
        (
            "y ~ x:f:g + f",
            "(Intercept) fb fc x:fa:gA x:fb:gA x:fc:gA x:fa:gB x:fb:gB x:fc:gB",
        ),
        ("y ~ g:f + f", "(Intercept) fb fc gB:fa gB:fb gB:fc"),
        ("y ~ f + g:f - 1", "fa fb fc fa:gB fb:gB fc:gB"),
        (
            "y ~ (f+g+x)^2 - f:g",
            "(Intercept) fb fc gB x fb:x fc:x gB:x",
        ),
        ("y ~ f/x", "(Intercept) fb fc fa:x fb:x fc:x"),
        ("y ~ x/f", "(Intercept) x x:fb x:fc"),
        ("y ~ f:z + x:f", "(Intercept) fa:z fb:z fc:z fa:x fb:x fc:x"),
    ];
    let df = data24();
    for (formula, want) in cases {
        let want: Vec<&str> = want.split(' ').collect();
        // R's names contain "poly(x, 2)1": rejoin the pieces split at that space
        let want: Vec<String> = want.iter().fold(Vec::<String>::new(), |mut acc, w| {
            if w.starts_with("2)") {
                let last = acc.pop().unwrap();
                acc.push(format!("{last} {w}"));
            } else {
                acc.push((*w).to_string());
            }
            acc
        });
        assert_eq!(names(formula, &df), want, "{formula}");
    }
}

/// R: n = 48; g = rep(c("G2","G1","G3","G4"), each = 12); a = rep(c("p","q"), each = 24);
/// b = rep(rep(c("r","s"), each = 12), 2); h = rep(c("h1","h2","h3"), 16);
/// k = rep(c("k1","k2","k3"), each = 16); x, y numeric.
fn data48() -> DataFrame {
    let n = 48;
    let num = |k: f64| (0..n).map(|i| ((i as f64) * k).sin()).collect::<Vec<_>>();
    DataFrame::new("d48")
        .with_numeric("y", num(1.3))
        .unwrap()
        .with_numeric("x", num(0.7))
        .unwrap()
        .with_strings("g", &strs(&rep_each(&["G2", "G1", "G3", "G4"], 12, n)))
        .unwrap()
        .with_strings("a", &strs(&rep_each(&["p", "q"], 24, n)))
        .unwrap()
        .with_strings("b", &strs(&rep_each(&["r", "s"], 12, n)))
        .unwrap()
        .with_strings("h", &strs(&rep_each(&["h1", "h2", "h3"], 1, n)))
        .unwrap()
        .with_strings("k", &strs(&rep_each(&["k1", "k2", "k3"], 16, n)))
        .unwrap()
}

#[test]
fn random_term_order_matches_lme4() {
    // values from lme4 1.1.31: paste0(names(cnms), "[", cnms, "]") of lFormula(fm, d)$reTrms.
    // lme4 reorders with rev(order(nl)) only when the levels are not already non-increasing,
    // so tied terms come out in REVERSE formula order after a reorder.
    let cases: &[(&str, &[&str])] = &[
        (
            "y ~ (1|b) + (1|g) + (1|a:b)",
            &["a:b[(Intercept)]", "g[(Intercept)]", "b[(Intercept)]"],
        ),
        (
            "y ~ (x || a/b)",
            &["b:a[x]", "b:a[(Intercept)]", "a[x]", "a[(Intercept)]"],
        ),
        (
            "y ~ (1 + x | a) + (1 | h) + (1|k) + (1|g)",
            &[
                "g[(Intercept)]",
                "k[(Intercept)]",
                "h[(Intercept)]",
                "a[(Intercept),x]",
            ],
        ),
        (
            "y ~ (1|a) + (1|b) + (x|h)",
            &["h[(Intercept),x]", "b[(Intercept)]", "a[(Intercept)]"],
        ),
        (
            "y ~ (1|h) + (1|k) + (1|g)",
            &["g[(Intercept)]", "k[(Intercept)]", "h[(Intercept)]"],
        ),
        // already non-increasing: formula order kept, ties included
        (
            "y ~ (1|g) + (1|a:b) + (1|b)",
            &["g[(Intercept)]", "a:b[(Intercept)]", "b[(Intercept)]"],
        ),
        ("y ~ (f || g)", &["g[(Intercept)]", "g[fa,fb,fc]"]),
        (
            "y ~ (1 | a/b/k)",
            &["k:(b:a)[(Intercept)]", "b:a[(Intercept)]", "a[(Intercept)]"],
        ),
    ];
    let df = data48()
        .with_strings("f", &strs(&rep_each(&["a", "b", "c"], 1, 48)))
        .unwrap();
    for (formula, want) in cases {
        let f = multilevel_formula::parse(formula).unwrap();
        let mf = ModelFrame::new(&f, &df, &FrameOptions::default()).unwrap();
        let d = build_design(&f, &mf).unwrap();
        let got: Vec<String> = d
            .terms
            .iter()
            .map(|t| format!("{}[{}]", t.group, t.col_names.join(",")))
            .collect();
        assert_eq!(got, *want, "{formula}");
    }
    // levels of the three-level nesting, as lme4 builds `k:(b:a)` (lex order, unobserved
    // combinations dropped); values from R: levels(lFormula(...)$reTrms$flist[[1]])
    let f = multilevel_formula::parse("y ~ (1 | a/b/k)").unwrap();
    let mf = ModelFrame::new(&f, &df, &FrameOptions::default()).unwrap();
    let d = build_design(&f, &mf).unwrap();
    assert_eq!(
        d.terms[0].levels,
        ["k1:r:p", "k1:s:p", "k2:r:q", "k2:s:p", "k3:r:q", "k3:s:q"]
    );
}

#[test]
fn huge_model_matrix_is_an_error_not_an_abort() {
    // a factor with 50 000 levels on 50 000 rows as a fixed effect: 2.5e9 cells
    let n = 50_000;
    let ids: Vec<String> = (0..n).map(|i| format!("id{i:05}")).collect();
    let df = DataFrame::new("big")
        .with_numeric("y", (0..n).map(|i| i as f64).collect())
        .unwrap()
        .with_strings("id", &strs(&ids))
        .unwrap();
    let f = multilevel_formula::parse("y ~ id").unwrap();
    let mf = ModelFrame::new(&f, &df, &FrameOptions::default()).unwrap();
    let e = build_design(&f, &mf).unwrap_err();
    assert!(matches!(e, DesignError::TooLarge { .. }), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("`id`") && m.contains("hint"), "{m}");
}
