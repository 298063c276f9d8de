//! The variance partition of nested groupings against lme4: Pastes, casks within batches
//! (`strength ~ 1 + (1 | batch/cask)`; reference tests/reference/lmm/pastes_nested_reml.json).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_frame::{DataFrame, ReadOptions};
use multilevel_workflow::{ExploreOptions, explore};
use std::path::PathBuf;

#[test]
fn nested_variance_partition_matches_lme4() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let opts = ReadOptions {
        factor_columns: vec!["batch".into(), "cask".into(), "sample".into()],
        ordered_columns: vec![],
    };
    let data = DataFrame::read_csv(
        &root.join("crates/multilevel-datasets/data/Pastes.csv"),
        &opts,
    )
    .unwrap();
    let report = explore(
        &data,
        "strength",
        &[],
        &["batch".to_string(), "cask".to_string()],
        &ExploreOptions {
            bootstrap: 0,
            ..ExploreOptions::default()
        },
    )
    .unwrap();
    let partition = report.partition.as_ref().unwrap();
    let text =
        std::fs::read_to_string(root.join("tests/reference/lmm/pastes_nested_reml.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vc = |grp: &str| -> f64 {
        reference["varcorr"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["grp"] == grp)
            .unwrap()["vcov"]
            .as_f64()
            .unwrap()
    };
    let expected = [vc("batch"), vc("cask:batch"), vc("Residual")];
    assert_eq!(partition.len(), 3);
    assert_eq!(partition[0].level, "batch");
    assert_eq!(partition[1].level, "cask");
    let total: f64 = expected.iter().sum();
    for (row, want) in partition.iter().zip(expected) {
        assert!(
            (row.variance - want).abs() < 1e-4 * want,
            "{}: {} vs lme4 {want}",
            row.level,
            row.variance
        );
        assert!((row.share - want / total).abs() < 1e-4);
    }
}
