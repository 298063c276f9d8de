//! Reading Stata `.dta` files (every release, 102–119) with the `dta` crate.
//!
//! - Numeric variables (byte, int, long, float, double) are numeric columns; Stata's missing
//!   values (`.` and `.a`–`.z`) are missing.
//! - A numeric variable with a value-label set is a factor, as R's `haven::as_factor` makes it:
//!   its levels are the values that occur, in increasing order, each labelled by its value
//!   label where it has one (otherwise by the number as R prints it); values sharing a label
//!   share a level.
//! - String variables are factors with levels in byte order (as for CSV); an empty string is
//!   missing (Stata's missing string). Long strings (`strL`) are not read: an error names the
//!   variable.

use std::collections::BTreeMap;

use dta::stata::dta::dta_error::DtaError;
use dta::stata::dta::dta_reader::DtaReader;
use dta::stata::dta::value::Value;
use dta::stata::dta::value_label_table::ValueLabelTable;

use crate::data::{Column, DataFrame, Factor, ReadOptions};
use crate::error::DataError;
use crate::rnum::format_r_number;

/// One variable's values while reading.
enum Values {
    Numeric(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    LongString,
}

const FORMAT: &str = "a Stata .dta file";

fn fail(file: &str, message: String) -> DataError {
    DataError::Format {
        file: file.to_string(),
        format: FORMAT.to_string(),
        message,
        hint: "check that the file is a whole .dta file (as written by Stata, R's haven or pandas)"
            .to_string(),
    }
}

/// Byte-sorted factor of text values (`None` = missing).
pub(crate) fn text_factor(values: Vec<Option<String>>) -> Factor {
    let mut dict: BTreeMap<String, u32> = BTreeMap::new();
    for v in values.iter().flatten() {
        let n = dict.len() as u32;
        dict.entry(v.clone()).or_insert(n);
    }
    // renumber in sorted order
    for (i, code) in dict.values_mut().enumerate() {
        *code = i as u32;
    }
    let codes = values
        .iter()
        .map(|v| v.as_ref().and_then(|s| dict.get(s).copied()))
        .collect();
    Factor {
        codes,
        levels: dict.into_keys().collect(),
        ordered: false,
    }
}

/// The factor of a value-labelled numeric variable (see the module docs).
pub(crate) fn labelled_factor(
    values: &[Option<f64>],
    label: impl Fn(f64) -> Option<String>,
) -> Factor {
    let mut distinct: Vec<f64> = values.iter().flatten().copied().collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let mut levels: Vec<String> = Vec::new();
    let mut code_of: Vec<(f64, u32)> = Vec::with_capacity(distinct.len());
    for x in distinct {
        let text = label(x).unwrap_or_else(|| format_r_number(x));
        let code = match levels.iter().position(|l| *l == text) {
            Some(i) => i as u32,
            None => {
                levels.push(text);
                (levels.len() - 1) as u32
            }
        };
        code_of.push((x, code));
    }
    let codes = values
        .iter()
        .map(|v| {
            let x = (*v)?;
            let i = code_of.binary_search_by(|(y, _)| y.total_cmp(&x)).ok()?;
            code_of.get(i).map(|(_, c)| *c)
        })
        .collect();
    Factor {
        codes,
        levels,
        ordered: false,
    }
}

/// Read a Stata `.dta` file held in memory.
pub(crate) fn read_stata(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<DataFrame, DataError> {
    let f = |e: DtaError| fail(name, e.to_string());
    let header = DtaReader::new().from_reader(std::io::Cursor::new(bytes));
    let schema_reader = header.read_header().map_err(f)?;
    let mut chars = schema_reader.read_schema().map_err(f)?;
    chars.skip_to_end().map_err(f)?;
    let mut records = chars.into_record_reader().map_err(f)?;
    let schema = records.schema().clone();
    let vars = schema.variables();
    let mut cols: Vec<Values> = vars.iter().map(|_| Values::Numeric(Vec::new())).collect();
    let mut row = 0usize;
    while let Some(rec) = records.read_record().map_err(f)? {
        for (j, (col, v)) in cols.iter_mut().zip(rec.values()).enumerate() {
            let x = match v {
                Value::Byte(b) => b.present().map(f64::from),
                Value::Int(i) => i.present().map(f64::from),
                Value::Long(l) => l.present().map(f64::from),
                Value::Float(x) => x.present().map(f64::from),
                Value::Double(x) => x.present(),
                Value::String(s) => {
                    if let Values::Numeric(prev) = col {
                        if prev.iter().any(Option::is_some) {
                            return Err(fail(
                                name,
                                format!(
                                    "observation {}: variable #{} changes type",
                                    row + 1,
                                    j + 1
                                ),
                            ));
                        }
                        *col = Values::Text(vec![None; prev.len()]);
                    }
                    if let Values::Text(t) = col {
                        t.push((!s.is_empty()).then(|| s.to_string()));
                    }
                    continue;
                }
                Value::LongStringRef(_) => {
                    *col = Values::LongString;
                    continue;
                }
            };
            match col {
                Values::Numeric(v) => v.push(x.filter(|x| !x.is_nan())),
                Values::Text(t) => t.push(None),
                Values::LongString => {}
            }
        }
        row += 1;
    }
    let mut long_strings = records.into_long_string_reader().map_err(f)?;
    long_strings.skip_to_end().map_err(f)?;
    let mut label_reader = long_strings.into_value_label_reader().map_err(f)?;
    let mut labels = ValueLabelTable::new();
    label_reader.read_remaining_into(&mut labels).map_err(f)?;

    if row == 0 {
        return Err(DataError::NoRows {
            file: name.to_string(),
            columns: vars.len(),
        });
    }
    let mut df = DataFrame::new(name);
    for (var, col) in vars.iter().zip(cols) {
        let column = match col {
            Values::LongString => {
                return Err(DataError::Format {
                    file: name.to_string(),
                    format: FORMAT.to_string(),
                    message: format!(
                        "variable `{}` is a long string (strL), which is not read",
                        var.name()
                    ),
                    hint: "in Stata, `recast str2045` the variable or drop it, then save again"
                        .to_string(),
                });
            }
            Values::Text(t) => Column::Factor(text_factor(t)),
            Values::Numeric(v) => {
                if v.iter().flatten().any(|x| x.is_infinite()) {
                    return Err(fail(
                        name,
                        format!("variable `{}` holds an infinite value", var.name()),
                    ));
                }
                let set = if var.value_label_name().is_empty() {
                    None
                } else {
                    labels.get(var.value_label_name())
                };
                match set {
                    Some(set) => Column::Factor(labelled_factor(&v, |x| {
                        if x.fract() == 0.0 && x.abs() <= f64::from(i32::MAX) {
                            set.label_for(x as i32).map(str::to_string)
                        } else {
                            None
                        }
                    })),
                    None => Column::Numeric(v),
                }
            }
        };
        df = df.with_column(var.name(), column)?;
    }
    crate::source::apply_factor_options(df, opts)
}
