//! Clusters: which observations belong together.

use crate::MarginalError;
use multilevel_frame::{Column, DataFrame, format_r_number};
use std::collections::HashMap;

/// A partition of the `n` observations of a model into clusters.
///
/// A cluster is the set of rows sharing one value of the cluster column, wherever those rows
/// are in the data. (geepack instead takes each *contiguous run* of equal ids as a cluster, so
/// the two agree when the data are sorted by the cluster column, as geepack requires anyway.)
/// Within a cluster the rows keep their order in the data: this order is the "time" of the AR(1)
/// working correlation (geepack's default `waves`, 1, 2, … within each cluster). Clusters are
/// numbered in order of first appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// Name of the cluster column (`Subject`).
    pub name: String,
    /// Label of each cluster, in order of first appearance.
    pub labels: Vec<String>,
    /// Cluster index (into `labels`) of each observation.
    pub code: Vec<usize>,
    /// The observations of each cluster, in data order.
    pub members: Vec<Vec<usize>>,
}

impl Clusters {
    /// Clusters from one label per observation.
    pub fn from_labels(name: &str, labels: &[String]) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut out = Clusters {
            name: name.to_string(),
            labels: Vec::new(),
            code: Vec::with_capacity(labels.len()),
            members: Vec::new(),
        };
        for (i, l) in labels.iter().enumerate() {
            let c = *index.entry(l.as_str()).or_insert_with(|| {
                out.labels.push(l.clone());
                out.members.push(Vec::new());
                out.labels.len() - 1
            });
            out.code.push(c);
            if let Some(m) = out.members.get_mut(c) {
                m.push(i);
            }
        }
        out
    }

    /// Clusters of the model-frame rows `rows` (0-based data rows, e.g. a model frame's
    /// `rows`) from the data column `column` (numbers or text).
    ///
    /// # Errors
    /// An unknown column (nearest names suggested), or a missing cluster value on a row the
    /// model uses (named by its line or row).
    pub fn from_column(
        data: &DataFrame,
        column: &str,
        rows: &[usize],
    ) -> Result<Self, MarginalError> {
        let Some(col) = data.column(column) else {
            return Err(data.unknown_column_error(column).into());
        };
        let mut labels = Vec::with_capacity(rows.len());
        for &r in rows {
            let label = match col {
                Column::Numeric(v) => v.get(r).copied().flatten().map(format_r_number),
                Column::Factor(f) => f
                    .codes
                    .get(r)
                    .copied()
                    .flatten()
                    .and_then(|c| f.levels.get(c as usize).cloned()),
            };
            let Some(label) = label else {
                return Err(MarginalError::Input(format!(
                    "{}, {}: the cluster column `{column}` is missing on a row the model uses; hint: drop that row or give it a cluster label",
                    data.name(),
                    data.location(r)
                )));
            };
            labels.push(label);
        }
        let out = Self::from_labels(column, &labels);
        if out.len() < 2 {
            return Err(MarginalError::Input(format!(
                "{}: the cluster column `{column}` has {} distinct value(s) on the rows used; hint: cluster-robust standard errors need at least 2 clusters (and are only reliable with many more)",
                data.name(),
                out.len()
            )));
        }
        Ok(out)
    }

    /// Number of clusters.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no clusters.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of observations.
    pub fn nobs(&self) -> usize {
        self.code.len()
    }

    /// Smallest and largest cluster size.
    pub fn size_range(&self) -> (usize, usize) {
        let min = self.members.iter().map(Vec::len).min().unwrap_or(0);
        let max = self.members.iter().map(Vec::len).max().unwrap_or(0);
        (min, max)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clusters_group_rows_by_value_in_data_order() {
        let labels: Vec<String> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c = Clusters::from_labels("g", &labels);
        assert_eq!(c.labels, vec!["b", "a", "c"]);
        assert_eq!(c.code, vec![0, 1, 0, 2, 1]);
        assert_eq!(c.members, vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert_eq!(c.size_range(), (1, 2));
    }

    #[test]
    fn a_missing_cluster_value_names_the_row() {
        let data = DataFrame::new("t")
            .with_numeric_opt("g", vec![Some(1.0), None, Some(2.0)])
            .unwrap();
        let err = Clusters::from_column(&data, "g", &[0, 1, 2]).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        let err = Clusters::from_column(&data, "h", &[0]).unwrap_err();
        assert!(err.to_string().contains("no column `h`"), "{err}");
        let ok = Clusters::from_column(&data, "g", &[0, 2]).unwrap();
        assert_eq!(ok.labels, vec!["1", "2"]);
    }
}
