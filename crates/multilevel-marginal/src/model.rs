//! From formula text and data to the fixed-effects design and its clusters.

use crate::{Clusters, MarginalError, Setting};
use multilevel_design::Design;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame};

/// The design of a fixed-effects formula (`y ~ x1 + x2`, no random-effects terms) on the
/// complete-case rows, together with the clusters of those rows.
#[derive(Debug, Clone)]
pub struct FixedModel {
    /// Response, `X` (full column rank, aliased columns dropped as R does), offset.
    pub design: Design,
    /// The clusters of the design's rows.
    pub clusters: Clusters,
    /// The 0-based data row of each design row (for error messages naming a line).
    pub rows: Vec<usize>,
}

/// Parse `formula`, evaluate it on `data` (rows with a missing value in a variable the formula
/// uses are dropped, as R's `na.omit`) and attach the clusters from column `cluster`.
///
/// `command` names the method in the error for a formula with random-effects terms ("GEE",
/// "cluster-robust OLS").
///
/// # Errors
/// Formula syntax, unknown columns, a formula with `( … | … )` terms, fewer than 2 clusters.
/// Rows with a missing cluster label are dropped and counted with the other incomplete rows.
pub fn fixed_model(
    formula: &str,
    data: &DataFrame,
    cluster: &str,
    command: &str,
) -> Result<FixedModel, MarginalError> {
    let parsed = multilevel_formula::parse(formula)?;
    if parsed.has_random() {
        return Err(MarginalError::Setting {
            problem: format!(
                "the formula `{formula}` has random-effects terms `( … | … )`, but {command} takes fixed effects only"
            ),
            check: None,
            setting: Setting::ClusterColumn,
        });
    }
    // Rows with a missing cluster label are dropped and counted like any other incomplete row
    // (R's `na.omit` on `model.frame(y ~ x, id = cluster)`).
    let frame_opts = FrameOptions {
        required_columns: vec![cluster.to_string()],
        ..FrameOptions::default()
    };
    let frame = ModelFrame::new(&parsed, data, &frame_opts)?;
    let mut design = multilevel_design::build_design(&parsed, &frame)?;
    design.formula = formula.to_string();
    let clusters = Clusters::from_column(data, cluster, &frame.rows)?;
    Ok(FixedModel {
        design,
        clusters,
        rows: frame.rows,
    })
}
