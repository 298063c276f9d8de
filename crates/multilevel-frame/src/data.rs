//! The raw data table: named numeric and factor columns of equal length.

use crate::error::{DataError, DataWarning, Location, list_columns, separator_phrase, suggestion};
use crate::rnum::format_r_number;

/// How a factor's levels are contrasted in `X` (R: `contr.treatment`, `contr.sum`,
/// `contr.helmert`, `contr.poly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Contrasts {
    /// Dummy coding against the first level (R's default for unordered factors).
    Treatment,
    /// Sum-to-zero (deviation) coding; the last level is `-1` in every column.
    Sum,
    /// Helmert coding: level `j` against the mean of the levels before it.
    Helmert,
    /// Orthogonal polynomials in the level index (R's default for ordered factors).
    Poly,
}

/// A categorical column. `codes[i]` indexes `levels`; `None` = missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// Level code of each row (`None` = missing).
    pub codes: Vec<Option<u32>>,
    /// Level labels, in level order.
    pub levels: Vec<String>,
    /// Whether the factor is ordered (R's `ordered()`).
    pub ordered: bool,
}

impl Factor {
    /// Number of levels.
    pub fn nlevels(&self) -> usize {
        self.levels.len()
    }

    /// The label of row `i`, or `None` when missing (or out of range).
    pub fn label(&self, i: usize) -> Option<&str> {
        let code = (*self.codes.get(i)?)?;
        self.levels.get(code as usize).map(String::as_str)
    }
}

/// One column of a [`DataFrame`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; `None` = missing. Present values are always finite.
    Numeric(Vec<Option<f64>>),
    /// A categorical column.
    Factor(Factor),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Factor(f) => f.codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Column::Numeric(v) => v.get(i).is_none_or(Option::is_none),
            Column::Factor(f) => f.codes.get(i).is_none_or(Option::is_none),
        }
    }

    /// Number of missing values.
    pub fn n_missing(&self) -> usize {
        match self {
            Column::Numeric(v) => v.iter().filter(|x| x.is_none()).count(),
            Column::Factor(f) => f.codes.iter().filter(|x| x.is_none()).count(),
        }
    }
}

/// Where the rows of a data frame came from, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowOrigin {
    /// Built in memory: rows are reported as `row N` (1-based).
    Memory,
    /// Read from CSV with one line per record and no blank lines: row `i` is on line `i + 2`.
    CsvSimple,
    /// Read from CSV: the 1-based starting line of each record.
    CsvLines(Vec<u64>),
}

/// A data table: named columns of equal length, each numeric or a factor.
///
/// Built in memory with the `with_*` builders or read from CSV ([`DataFrame::read_csv`],
/// [`DataFrame::from_csv_str`]). Column order is preserved; names are unique.
#[derive(Debug, Clone)]
pub struct DataFrame {
    name: String,
    nrows: usize,
    columns: Vec<(String, Column)>,
    pub(crate) origin: RowOrigin,
    warnings: Vec<DataWarning>,
}

/// Options for reading CSV data.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Columns to read as (unordered) factors even when every value is a number; numeric values
    /// become levels sorted numerically, labelled as R prints the numbers.
    pub factor_columns: Vec<String>,
    /// Columns to read as ordered factors (text columns keep their byte-sorted level order).
    pub ordered_columns: Vec<String>,
}

impl DataFrame {
    /// An empty data frame named `name` (a file name or a data-set name, used in messages).
    pub fn new(name: impl Into<String>) -> Self {
        DataFrame {
            name: name.into(),
            nrows: 0,
            columns: Vec::new(),
            origin: RowOrigin::Memory,
            warnings: Vec::new(),
        }
    }

    /// The data's name (file name or data-set name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// What the CSV reader wants the user to know about how it read the data (a numeric-looking
    /// column read as text because of a stray token, ...), in column order; empty for data
    /// built in memory. Commands that read data should print each one (it displays as one
    /// line) and may put them in machine-readable output; the data are read as R's `read.csv`
    /// reads them either way.
    pub fn warnings(&self) -> &[DataWarning] {
        &self.warnings
    }

    /// Record a reader warning.
    pub(crate) fn push_warning(&mut self, w: DataWarning) {
        self.warnings.push(w);
    }

    /// When the file was read as one column that looks separated by `;` or tabs: the note to
    /// add to "unknown column" hints.
    pub(crate) fn separator_note(&self) -> Option<String> {
        self.warnings.iter().find_map(|w| match w {
            DataWarning::Separator {
                header, separator, ..
            } => Some(separator_phrase(header, *separator)),
            _ => None,
        })
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// The values of the numeric column `name`: `Ok(None)` when the column is a factor, and the
    /// unknown-column error (nearest name suggested) when there is no such column.
    ///
    /// # Errors
    /// [`DataError::UnknownColumn`] when the data have no column `name`.
    pub fn numeric_values(&self, name: &str) -> Result<Option<&[Option<f64>]>, DataError> {
        match self.column(name) {
            None => Err(self.unknown_column_error(name)),
            Some(Column::Numeric(v)) => Ok(Some(v)),
            Some(Column::Factor(_)) => Ok(None),
        }
    }

    /// Where data row `row` (0-based) is, as the messages say it: `line N` in a CSV file
    /// (header = line 1), `row N` (1-based) for in-memory data.
    pub fn location(&self, row: usize) -> Location {
        match &self.origin {
            RowOrigin::Memory => Location::Row(row + 1),
            RowOrigin::CsvSimple => Location::Line(row as u64 + 2),
            RowOrigin::CsvLines(lines) => match lines.get(row) {
                Some(l) => Location::Line(*l),
                None => Location::Row(row + 1),
            },
        }
    }

    /// The error for a name that is not a column, with the nearest column suggested.
    pub fn unknown_column_error(&self, name: &str) -> DataError {
        let names = self.column_names();
        let mut available = list_columns(&names);
        if let Some(note) = self.separator_note() {
            available.push_str("; ");
            available.push_str(&note);
        }
        DataError::UnknownColumn {
            file: self.name.clone(),
            column: name.to_string(),
            suggestion: suggestion(name, &names),
            available,
        }
    }

    /// Add (or, with `replace`, replace) a column after checking its name and length.
    fn push(mut self, name: &str, column: Column) -> Result<Self, DataError> {
        if name.is_empty() {
            return Err(DataError::EmptyName {
                file: self.name.clone(),
                position: self.columns.len() + 1,
            });
        }
        if let Some(pos) = self.columns.iter().position(|(n, _)| n == name) {
            return Err(DataError::DuplicateColumn {
                file: self.name.clone(),
                column: name.to_string(),
                first: pos + 1,
                second: self.columns.len() + 1,
            });
        }
        if self.columns.is_empty() {
            self.nrows = column.len();
        } else if column.len() != self.nrows {
            return Err(DataError::LengthMismatch {
                file: self.name.clone(),
                column: name.to_string(),
                expected: self.nrows,
                found: column.len(),
            });
        }
        self.columns.push((name.to_string(), column));
        Ok(self)
    }

    /// Add a numeric column with no missing values. NaN and ±Inf are rejected.
    pub fn with_numeric(self, name: &str, values: Vec<f64>) -> Result<Self, DataError> {
        self.with_numeric_opt(name, values.into_iter().map(Some).collect())
    }

    /// Add a numeric column; `None` = missing. NaN and ±Inf are rejected.
    pub fn with_numeric_opt(self, name: &str, values: Vec<Option<f64>>) -> Result<Self, DataError> {
        if let Some(row) = values
            .iter()
            .position(|v| v.is_some_and(|x| !x.is_finite()))
        {
            let value = values[row].map(format_r_number).unwrap_or_default();
            return Err(DataError::NonFinite {
                file: self.name.clone(),
                location: self.location(row),
                column: name.to_string(),
                value,
            });
        }
        self.push(name, Column::Numeric(values))
    }

    /// Add a factor column from text. `"NA"` and `""` are missing; levels are the distinct
    /// values sorted in byte order (R's C locale).
    pub fn with_strings(self, name: &str, values: &[&str]) -> Result<Self, DataError> {
        let mut levels: Vec<&str> = values
            .iter()
            .copied()
            .filter(|v| !is_na_text(v.as_bytes()))
            .collect();
        levels.sort_unstable();
        levels.dedup();
        let codes = values
            .iter()
            .map(|v| {
                if is_na_text(v.as_bytes()) {
                    None
                } else {
                    levels.binary_search(v).ok().map(|c| c as u32)
                }
            })
            .collect();
        let levels = levels.into_iter().map(str::to_string).collect();
        self.push(
            name,
            Column::Factor(Factor {
                codes,
                levels,
                ordered: false,
            }),
        )
    }

    /// Add a factor column from 0-based level codes and level labels (levels kept in the
    /// given order; every code must index `levels`).
    pub fn with_factor(
        self,
        name: &str,
        codes: Vec<u32>,
        levels: Vec<String>,
    ) -> Result<Self, DataError> {
        self.with_factor_opt(name, codes.into_iter().map(Some).collect(), levels, false)
    }

    /// Add a factor column from optional codes (`None` = missing), labels and the ordered flag.
    pub fn with_factor_opt(
        self,
        name: &str,
        codes: Vec<Option<u32>>,
        levels: Vec<String>,
        ordered: bool,
    ) -> Result<Self, DataError> {
        let mut seen = std::collections::HashSet::new();
        for l in &levels {
            if !seen.insert(l.as_str()) {
                return Err(DataError::DuplicateLevel {
                    file: self.name.clone(),
                    column: name.to_string(),
                    level: l.clone(),
                });
            }
        }
        if let Some((row, code)) = codes
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.filter(|c| *c as usize >= levels.len()).map(|c| (i, c)))
        {
            return Err(DataError::BadFactorCode {
                file: self.name.clone(),
                column: name.to_string(),
                row: row + 1,
                code,
                nlevels: levels.len(),
            });
        }
        self.push(
            name,
            Column::Factor(Factor {
                codes,
                levels,
                ordered,
            }),
        )
    }

    /// Add an already-built column (checked like the other builders).
    pub fn with_column(self, name: &str, column: Column) -> Result<Self, DataError> {
        match column {
            Column::Numeric(v) => self.with_numeric_opt(name, v),
            Column::Factor(f) => self.with_factor_opt(name, f.codes, f.levels, f.ordered),
        }
    }

    /// Convert column `name` to a factor (R's `factor()` / `ordered()`).
    ///
    /// A numeric column gets the distinct values as levels, sorted numerically and labelled
    /// as R prints the numbers (`1`, `2.5`, `175`, `1e+05`). A factor column keeps its levels
    /// and only takes the `ordered` flag.
    pub fn to_factor(mut self, name: &str, ordered: bool) -> Result<Self, DataError> {
        let Some(idx) = self.columns.iter().position(|(n, _)| n == name) else {
            return Err(self.unknown_column_error(name));
        };
        let col = &mut self.columns[idx].1;
        match col {
            Column::Factor(f) => f.ordered = ordered,
            Column::Numeric(v) => {
                let mut f = numeric_to_factor(v);
                f.ordered = ordered;
                *col = Column::Factor(f);
            }
        }
        Ok(self)
    }

    /// Make `reference` the first level of the factor column `name` (R's `relevel(f, ref)`):
    /// the other levels keep their order, the rows their labels. Treatment contrasts then
    /// compare every level with `reference`.
    ///
    /// # Errors
    /// [`DataError::UnknownColumn`]; [`DataError::BadReferenceLevel`] when the column is not a
    /// factor or has no such level.
    pub fn relevel(mut self, name: &str, reference: &str) -> Result<Self, DataError> {
        let Some(idx) = self.columns.iter().position(|(n, _)| n == name) else {
            return Err(self.unknown_column_error(name));
        };
        let file = self.name.clone();
        let Column::Factor(f) = &mut self.columns[idx].1 else {
            return Err(DataError::BadReferenceLevel {
                file,
                column: name.to_string(),
                problem: "it is numeric, not a factor".into(),
                hint: "make it a factor first (--factor on the command line, DataFrame::to_factor in the API)".into(),
            });
        };
        let Some(r) = f.levels.iter().position(|l| l == reference) else {
            return Err(DataError::BadReferenceLevel {
                file,
                column: name.to_string(),
                problem: format!("it has no level \"{reference}\""),
                hint: format!("its levels are {}", f.levels.join(", ")),
            });
        };
        // New code of old code c: r → 0, c < r → c + 1, c > r → c.
        let r = r as u32;
        for c in f.codes.iter_mut().flatten() {
            *c = match (*c).cmp(&r) {
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Less => *c + 1,
                std::cmp::Ordering::Greater => *c,
            };
        }
        let level = f.levels.remove(r as usize);
        f.levels.insert(0, level);
        Ok(self)
    }

    /// Replace the origin (used by the CSV reader).
    pub(crate) fn with_origin(mut self, origin: RowOrigin) -> Self {
        self.origin = origin;
        self
    }
}

/// R's `factor(x)` for numbers: levels = sorted distinct values, labels as R prints them
/// (values printing identically share a level).
pub(crate) fn numeric_to_factor(values: &[Option<f64>]) -> Factor {
    let mut uniq: Vec<f64> = values.iter().flatten().copied().collect();
    uniq.sort_unstable_by(f64::total_cmp);
    uniq.dedup_by(|a, b| a == b);
    let mut levels: Vec<String> = Vec::with_capacity(uniq.len());
    // level code of each distinct value (labels that print the same are merged)
    let mut code_of: Vec<u32> = Vec::with_capacity(uniq.len());
    for &u in &uniq {
        let label = format_r_number(u);
        if levels.last() != Some(&label) {
            levels.push(label);
        }
        code_of.push((levels.len() - 1) as u32);
    }
    let codes = values
        .iter()
        .map(|v| {
            v.and_then(|x| {
                let pos = uniq.partition_point(|u| *u < x);
                code_of.get(pos).copied()
            })
        })
        .collect();
    Factor {
        codes,
        levels,
        ordered: false,
    }
}

/// Whether a field is a missing value: empty or `NA` (after trimming ASCII whitespace).
pub(crate) fn is_na_text(b: &[u8]) -> bool {
    let t = b.trim_ascii();
    t.is_empty() || t == b"NA"
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_accessors() {
        let df = DataFrame::new("mem")
            .with_numeric("x", vec![1.0, 2.0, 3.0])
            .unwrap()
            .with_strings("g", &["b", "a", "NA"])
            .unwrap()
            .with_factor("h", vec![1, 0, 1], vec!["lo".into(), "hi".into()])
            .unwrap();
        assert_eq!(df.name(), "mem");
        assert_eq!(df.nrows(), 3);
        assert_eq!(df.column_names(), vec!["x", "g", "h"]);
        let Some(Column::Factor(g)) = df.column("g") else {
            panic!("g not a factor")
        };
        assert_eq!(g.levels, vec!["a", "b"]);
        assert_eq!(g.codes, vec![Some(1), Some(0), None]);
        let Some(Column::Factor(h)) = df.column("h") else {
            panic!("h not a factor")
        };
        assert_eq!(h.levels, vec!["lo", "hi"]);
        assert_eq!(df.column("nope"), None);
    }

    #[test]
    fn levels_sorted_in_byte_order() {
        let df = DataFrame::new("m")
            .with_strings("g", &["b", "B", "a", "A", "_"])
            .unwrap();
        let Some(Column::Factor(g)) = df.column("g") else {
            panic!()
        };
        assert_eq!(g.levels, vec!["A", "B", "_", "a", "b"]);
    }

    #[test]
    fn builder_errors() {
        let e = DataFrame::new("mem")
            .with_numeric("x", vec![1.0, f64::NAN])
            .unwrap_err();
        assert!(matches!(e, DataError::NonFinite { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("mem") && msg.contains("row 2") && msg.contains("`x`"),
            "{msg}"
        );

        let e = DataFrame::new("mem")
            .with_numeric("x", vec![1.0])
            .unwrap()
            .with_numeric("y", vec![1.0, 2.0])
            .unwrap_err();
        assert!(matches!(
            e,
            DataError::LengthMismatch {
                expected: 1,
                found: 2,
                ..
            }
        ));
        assert!(e.to_string().contains("`y`"));

        let e = DataFrame::new("mem")
            .with_numeric("x", vec![1.0])
            .unwrap()
            .with_numeric("x", vec![1.0])
            .unwrap_err();
        assert!(matches!(
            e,
            DataError::DuplicateColumn {
                first: 1,
                second: 2,
                ..
            }
        ));

        let e = DataFrame::new("mem")
            .with_factor("f", vec![0, 2], vec!["a".into(), "b".into()])
            .unwrap_err();
        assert!(matches!(
            e,
            DataError::BadFactorCode {
                row: 2,
                code: 2,
                ..
            }
        ));
        let e = DataFrame::new("mem")
            .with_factor("f", vec![0], vec!["a".into(), "a".into()])
            .unwrap_err();
        assert!(matches!(e, DataError::DuplicateLevel { .. }));
        let e = DataFrame::new("mem")
            .with_numeric("", vec![1.0])
            .unwrap_err();
        assert!(matches!(e, DataError::EmptyName { .. }));
    }

    #[test]
    fn relevel_moves_the_reference_first_and_keeps_the_labels() {
        let d = DataFrame::new("t")
            .with_strings("f", &["a", "b", "c", "b", "a"])
            .unwrap()
            .with_numeric("x", vec![1.0, 2.0, 3.0, 4.0, 5.0])
            .unwrap();
        let before: Vec<String> = (0..5)
            .map(|i| match d.column("f") {
                Some(Column::Factor(f)) => f.label(i).unwrap_or("").to_string(),
                _ => String::new(),
            })
            .collect();
        let d = d.relevel("f", "c").unwrap();
        let Some(Column::Factor(f)) = d.column("f") else {
            panic!("f is a factor");
        };
        assert_eq!(f.levels, vec!["c", "a", "b"]);
        let after: Vec<String> = (0..5)
            .map(|i| f.label(i).unwrap_or("").to_string())
            .collect();
        assert_eq!(after, before);
        let e = d.clone().relevel("f", "z").unwrap_err().to_string();
        assert!(e.contains("no level \"z\"") && e.contains("c, a, b"), "{e}");
        let e = d.clone().relevel("x", "1").unwrap_err().to_string();
        assert!(e.contains("numeric, not a factor"), "{e}");
        assert!(d.relevel("nope", "a").is_err());
    }

    #[test]
    fn to_factor_labels_as_r() {
        let df = DataFrame::new("m")
            .with_numeric_opt(
                "x",
                vec![
                    Some(175.0),
                    Some(2.5),
                    Some(1.0),
                    None,
                    Some(2.5),
                    Some(1e5),
                ],
            )
            .unwrap()
            .to_factor("x", false)
            .unwrap();
        let Some(Column::Factor(f)) = df.column("x") else {
            panic!()
        };
        assert_eq!(f.levels, vec!["1", "2.5", "175", "1e+05"]);
        assert_eq!(
            f.codes,
            vec![Some(2), Some(1), Some(0), None, Some(1), Some(3)]
        );
        assert!(!f.ordered);
        let df = df.to_factor("x", true).unwrap();
        let Some(Column::Factor(f)) = df.column("x") else {
            panic!()
        };
        assert!(f.ordered);
        let e = df.to_factor("X", false).unwrap_err();
        assert!(matches!(e, DataError::UnknownColumn { .. }));
        assert!(e.to_string().contains("did you mean `x`"), "{e}");
    }
}
