//! Arrow data in: `RecordBatch`es handed over in memory, Parquet files and Arrow IPC
//! (Feather version 2) files and streams.
//!
//! - Integer and floating-point columns are numeric; nulls are missing, and so is a
//!   floating-point NaN (R's `is.na(NaN)` is true); ±Inf is an error.
//! - Dictionary columns of strings (R factors, pandas categoricals) are factors whose levels are
//!   the dictionary in its order (the dictionaries of later batches add their new values at the
//!   end); plain string columns are factors with levels in byte order (as for CSV); booleans are
//!   factors with levels `FALSE`, `TRUE` (R's logical in a model formula).
//! - Any other type (dates, times, decimals, nested types) is an error naming the column.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use crate::data::{Column, DataFrame, Factor, ReadOptions};
use crate::error::{DataError, Location};
use crate::stata::text_factor;

/// Numeric values of one array (`None` for nulls and NaN), or `None` when the type is not
/// numeric.
fn numeric_values(a: &dyn Array) -> Option<Vec<Option<f64>>> {
    macro_rules! prim {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| x as f64))
                .collect()
        };
    }
    let v: Vec<Option<f64>> = match a.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float16 => a
            .as_primitive::<Float16Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        DataType::Float64 => a.as_primitive::<Float64Type>().iter().collect(),
        _ => return None,
    };
    Some(v.into_iter().map(|x| x.filter(|x| !x.is_nan())).collect())
}

/// The strings of a string array (`None` for nulls), or `None` when it is not a string array.
fn string_values(a: &dyn Array) -> Option<Vec<Option<String>>> {
    let v = match a.data_type() {
        DataType::Utf8 => a
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        DataType::LargeUtf8 => a
            .as_string::<i64>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        DataType::Utf8View => a
            .as_string_view()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        _ => return None,
    };
    Some(v)
}

/// Append a dictionary array's rows to `factor`, merging its dictionary into the levels.
/// Returns `false` when the array is not a dictionary of strings.
fn push_dictionary(a: &dyn Array, factor: &mut Factor) -> bool {
    let Some(dict) = a.as_any_dictionary_opt() else {
        return false;
    };
    let Some(values) = string_values(dict.values().as_ref()) else {
        return false;
    };
    // code of each dictionary entry in the merged levels
    let map: Vec<Option<u32>> = values
        .into_iter()
        .map(|v| {
            let s = v?;
            match factor.levels.iter().position(|l| *l == s) {
                Some(i) => Some(i as u32),
                None => {
                    factor.levels.push(s);
                    Some((factor.levels.len() - 1) as u32)
                }
            }
        })
        .collect();
    let keys = dict.normalized_keys();
    for (i, k) in keys.iter().enumerate() {
        let code = if dict.is_null(i) {
            None
        } else {
            map.get(*k).copied().flatten()
        };
        factor.codes.push(code);
    }
    true
}

/// What a column is being built into.
enum Building {
    Numeric(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Dictionary(Factor),
    Bool(Vec<Option<bool>>),
}

fn unsupported(file: &str, column: &str, t: &DataType) -> DataError {
    DataError::Format {
        file: file.to_string(),
        format: "Arrow data".to_string(),
        message: format!("column `{column}` has type {t}, which is not read"),
        hint: "convert the column to numbers or text (or drop it) before saving".to_string(),
    }
}

impl DataFrame {
    /// A data frame from Arrow record batches sharing `schema`, named `name` in messages (see
    /// the module docs of the Arrow reader for the column types). Values are copied into the
    /// data frame's columns.
    pub fn from_record_batches(
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<Self, DataError> {
        let mut df = DataFrame::new(name);
        for (j, field) in schema.fields().iter().enumerate() {
            let col_name = field.name();
            let mut b: Option<Building> = None;
            for batch in batches {
                let Some(a) = batch.columns().get(j) else {
                    return Err(DataError::LengthMismatch {
                        file: name.to_string(),
                        column: col_name.clone(),
                        expected: schema.fields().len(),
                        found: batch.num_columns(),
                    });
                };
                push_array(name, col_name, a, &mut b)?;
            }
            let column = match b {
                None => Column::Numeric(Vec::new()),
                Some(Building::Numeric(v)) => {
                    if let Some(r) = v.iter().position(|x| x.is_some_and(f64::is_infinite)) {
                        return Err(DataError::NonFinite {
                            file: name.to_string(),
                            location: Location::Row(r + 1),
                            column: col_name.clone(),
                            value: format!("{}", v.get(r).copied().flatten().unwrap_or(0.0)),
                        });
                    }
                    Column::Numeric(v)
                }
                Some(Building::Text(t)) => Column::Factor(text_factor(t)),
                Some(Building::Dictionary(f)) => Column::Factor(f),
                Some(Building::Bool(v)) => Column::Factor(Factor {
                    codes: v.iter().map(|x| x.map(u32::from)).collect(),
                    levels: vec!["FALSE".to_string(), "TRUE".to_string()],
                    ordered: false,
                }),
            };
            df = df.with_column(col_name, column)?;
        }
        Ok(df)
    }

    /// A data frame from one Arrow record batch (see [`DataFrame::from_record_batches`]).
    pub fn from_record_batch(name: &str, batch: &RecordBatch) -> Result<Self, DataError> {
        Self::from_record_batches(name, &batch.schema(), std::slice::from_ref(batch))
    }
}

/// Append array `a` (one batch of column `column`) to what is being built.
fn push_array(
    file: &str,
    column: &str,
    a: &ArrayRef,
    b: &mut Option<Building>,
) -> Result<(), DataError> {
    let t = a.data_type();
    if let Some(v) = numeric_values(a.as_ref()) {
        match b.get_or_insert_with(|| Building::Numeric(Vec::new())) {
            Building::Numeric(all) => all.extend(v),
            _ => return Err(unsupported(file, column, t)),
        }
    } else if let Some(v) = string_values(a.as_ref()) {
        match b.get_or_insert_with(|| Building::Text(Vec::new())) {
            Building::Text(all) => all.extend(v),
            _ => return Err(unsupported(file, column, t)),
        }
    } else if matches!(t, DataType::Dictionary(..)) {
        let f = b.get_or_insert_with(|| {
            Building::Dictionary(Factor {
                codes: Vec::new(),
                levels: Vec::new(),
                ordered: false,
            })
        });
        let ok = match f {
            Building::Dictionary(f) => push_dictionary(a.as_ref(), f),
            _ => false,
        };
        if !ok {
            return Err(unsupported(file, column, t));
        }
    } else if matches!(t, DataType::Boolean) {
        match b.get_or_insert_with(|| Building::Bool(Vec::new())) {
            Building::Bool(all) => all.extend(a.as_boolean().iter()),
            _ => return Err(unsupported(file, column, t)),
        }
    } else if matches!(t, DataType::Null) {
        // an all-null column: missing numbers
        match b.get_or_insert_with(|| Building::Numeric(Vec::new())) {
            Building::Numeric(all) => all.extend(std::iter::repeat_n(None, a.len())),
            _ => return Err(unsupported(file, column, t)),
        }
    } else {
        return Err(unsupported(file, column, t));
    }
    Ok(())
}

/// Read a Parquet file held in memory.
pub(crate) fn read_parquet(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<DataFrame, DataError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let fail = |message: String| DataError::Format {
        file: name.to_string(),
        format: "a Parquet file".to_string(),
        message,
        hint: "check that the file was copied whole and is a Parquet file".to_string(),
    };
    let (schema, batches) = without_panics(
        || {
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
                    .map_err(|e| fail(e.to_string()))?;
            let schema = builder.schema().clone();
            let reader = builder.build().map_err(|e| fail(e.to_string()))?;
            let mut batches = Vec::new();
            for b in reader {
                batches.push(b.map_err(|e| fail(e.to_string()))?);
            }
            Ok((schema, batches))
        },
        fail,
    )?;
    finish(name, &schema, &batches, opts)
}

/// Runs a decoder from a format crate, turning a panic inside it into the error `on_panic`
/// makes from the panic's message. The Arrow and Parquet crates stop with a panic on some
/// malformed files (arrow-ipc's "Type NONE not supported" for an embedded schema with an
/// unknown type id, found by fuzzing), and user input must never end the process. The panic
/// hook is silenced meanwhile so that nothing is printed; the readers run before any worker
/// threads start.
fn without_panics<T>(
    decode: impl FnOnce() -> Result<T, DataError>,
    on_panic: impl FnOnce(String) -> DataError,
) -> Result<T, DataError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    std::panic::set_hook(hook);
    out.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder stopped".to_string());
        Err(on_panic(format!("cannot be decoded: {message}")))
    })
}

/// Read an Arrow IPC file (Feather version 2) or stream held in memory.
pub(crate) fn read_arrow_ipc(
    name: &str,
    bytes: &[u8],
    stream: bool,
    opts: &ReadOptions,
) -> Result<DataFrame, DataError> {
    let format = if stream {
        "an Arrow IPC stream"
    } else {
        "an Arrow IPC (Feather version 2) file"
    };
    let fail = |message: String| DataError::Format {
        file: name.to_string(),
        format: format.to_string(),
        message,
        hint: "check that the file was copied whole and is an Arrow IPC/Feather file".to_string(),
    };
    if stream {
        // The stream opens with the schema message's length (after the optional 0xFFFFFFFF
        // continuation marker); the Arrow crate allocates that many bytes before reading
        // them, so an 18-byte file declaring 1.86 GB (found by fuzzing) is refused here.
        let at = if bytes.starts_with(&[0xFF; 4]) { 4 } else { 0 };
        if let Some(prefix) = bytes.get(at..at + 4) {
            let declared = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
            let left = bytes.len() - at - 4;
            if u64::from(declared) > left as u64 {
                return Err(fail(format!(
                    "the first message declares {declared} bytes, but only {left} follow (the file is truncated or corrupt)"
                )));
            }
        }
    }
    let (schema, batches) = without_panics(
        || {
            let cursor = std::io::Cursor::new(bytes);
            Ok(if stream {
                let r = arrow_ipc::reader::StreamReader::try_new(cursor, None)
                    .map_err(|e| fail(e.to_string()))?;
                let schema = r.schema();
                let batches: Result<Vec<_>, _> = r.collect();
                (schema, batches.map_err(|e| fail(e.to_string()))?)
            } else {
                let r = arrow_ipc::reader::FileReader::try_new(cursor, None)
                    .map_err(|e| fail(e.to_string()))?;
                let schema = r.schema();
                let batches: Result<Vec<_>, _> = r.collect();
                (schema, batches.map_err(|e| fail(e.to_string()))?)
            })
        },
        fail,
    )?;
    finish(name, &schema, &batches, opts)
}

fn finish(
    name: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: &ReadOptions,
) -> Result<DataFrame, DataError> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Err(DataError::NoRows {
            file: name.to_string(),
            columns: schema.fields().len(),
        });
    }
    let df = DataFrame::from_record_batches(name, schema, batches)?;
    crate::source::apply_factor_options(df, opts)
}
