//! The random-effect covariance structures against glmmTMB, nlme and lme4 1.1
//! (tests/reference/covstruct, written by xtask/r/reference_covstruct.R): a few cases of each
//! structure here; `cargo xtask validate` runs all of them.

use std::path::Path;

/// One case per structure (diag, diag hom, cs, cs hom, ar1), REML and ML, from different
/// engines.
const FAST: [&str; 8] = [
    "sleep_diag_reml/lme4",
    "sleep_diag_ml/nlme",
    "sleep_diag_hom_reml/nlme",
    "sleep_cs_hom_ml/nlme",
    "oats_cs_reml/glmmTMB",
    "oats_cs_hom_reml/nlme",
    "oats_ar1_ml/glmmTMB",
    "chick_ar1_ml/glmmTMB",
];

fn run(filter: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = xtask::covstruct_refs::cases(root).unwrap_or_default();
    assert!(cases.len() >= 30, "expected the committed references");
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let name = format!(
            "{}/{}",
            case["name"].as_str().unwrap_or("?"),
            case["engine"].as_str().unwrap_or("?")
        );
        if !filter(&name) {
            continue;
        }
        checked += 1;
        match xtask::covstruct_refs::check_case(root, case) {
            Ok(o) => {
                if !o.compared {
                    failures.push(format!("{name}: parameters not compared"));
                }
                failures.extend(o.failures.iter().map(|f| format!("{name}: {f}")));
            }
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    (checked, failures)
}

#[test]
fn covariance_structures_match_glmmtmb_nlme_and_lme4() {
    let (checked, failures) = run(|n| FAST.contains(&n));
    assert_eq!(checked, FAST.len());
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// Every case, with the table (`cargo test --test covstruct_reference -- --ignored`).
#[test]
#[ignore = "all cases run in `cargo xtask validate`"]
fn all_covariance_structure_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (pass, total) = xtask::covstruct_refs::validate(root).unwrap_or((0, 1));
    assert_eq!(pass, total);
}

/// A structured term in a GLMM (Laplace) against glmmTMB.
#[test]
fn structured_glmm_matches_glmmtmb() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = xtask::covstruct_refs::check_glmm_cases(root).unwrap_or_default();
    assert!(!out.is_empty(), "expected the committed GLMM references");
    let failures: Vec<String> = out
        .iter()
        .flat_map(|(n, f)| f.iter().map(move |x| format!("{n}: {x}")))
        .collect();
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}
