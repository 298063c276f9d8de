//! Data in through the Arrow PyCapsule interface: any Python object with `__arrow_c_stream__`
//! (pandas ≥ 2.2, polars, pyarrow, DuckDB relations, ...) or `__arrow_c_array__` (a record
//! batch), or the stream capsule itself, hands its Arrow buffers to Rust through the Arrow C
//! data interface. No Python object is made per value: the buffers are read once, here, into
//! the library's columns.
//!
//! The columns are read as the frame crate's Arrow reader reads them (the reader of
//! `multilevel fit --data x.parquet`; it is not linked here, as it comes with the Parquet and
//! IPC readers), with the Python package's rules where they differ:
//! - integer and floating-point columns are numbers; nulls and NaN are missing (±Inf is an
//!   error, as everywhere in the library);
//! - booleans are 0/1 numbers (as the column-by-column route of the package reads them; the
//!   frame crate makes them factors FALSE/TRUE), decimals are numbers;
//! - strings are factors with the distinct values sorted by bytes (R's `factor()` in the C
//!   locale);
//! - dictionary columns (pandas categoricals, polars Categorical/Enum, Arrow dictionaries) are
//!   factors with the dictionary's values as levels in the dictionary's order (merged over
//!   batches: a later batch's new values are added at the end); values that are numbers get R's
//!   labels of the numbers; a dictionary flagged ordered, or a column named in `ordered` (a
//!   polars Enum), is an ordered factor;
//! - dates and times are refused with a hint.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::types::{
    Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, Float16Type, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader, StructArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use multilevel::DataFrame;
use multilevel::frame::format_r_number;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};

use crate::py_err;

/// The schema and record batches behind an Arrow PyCapsule object.
fn import(obj: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let stream_capsule = if let Ok(c) = obj.cast::<PyCapsule>() {
        Some(c.clone())
    } else if obj.hasattr("__arrow_c_stream__")? {
        Some(
            obj.call_method0("__arrow_c_stream__")?
                .cast_into::<PyCapsule>()?,
        )
    } else {
        None
    };
    if let Some(capsule) = stream_capsule {
        let stream = take_stream(&capsule)?;
        let reader = ArrowArrayStreamReader::try_new(stream).map_err(arrow_error)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(arrow_error)?;
        return Ok((schema, batches));
    }
    if obj.hasattr("__arrow_c_array__")? {
        let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) =
            obj.call_method0("__arrow_c_array__")?.extract()?;
        let batch = take_batch(&schema, &array)?;
        return Ok((batch.schema(), vec![batch]));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "cannot read data of type {}; hint: pass an object with the Arrow PyCapsule interface (__arrow_c_stream__ or __arrow_c_array__)",
        obj.get_type().name()?
    )))
}

/// Move the Arrow C stream out of a PyCapsule named `arrow_array_stream`.
#[allow(unsafe_code)]
fn take_stream(capsule: &Bound<'_, PyCapsule>) -> PyResult<FFI_ArrowArrayStream> {
    let ptr = capsule
        .pointer_checked(Some(c"arrow_array_stream"))?
        .cast::<FFI_ArrowArrayStream>();
    // SAFETY: by the Arrow PyCapsule interface, a capsule named "arrow_array_stream" (checked
    // just above, with the pointer non-null) holds a pointer to a valid, aligned, initialised
    // `ArrowArrayStream` struct, alive as long as the capsule, which is borrowed for this call.
    // `from_raw` moves the struct out and leaves a released one (release callback NULL) in its
    // place, as the interface asks of a consumer: the capsule's destructor then only frees the
    // struct's memory.
    Ok(unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr()) })
}

/// Import one record batch (a struct array) from the capsules of `__arrow_c_array__`.
#[allow(unsafe_code)]
fn take_batch(
    schema: &Bound<'_, PyCapsule>,
    array: &Bound<'_, PyCapsule>,
) -> PyResult<RecordBatch> {
    let schema_ptr = schema
        .pointer_checked(Some(c"arrow_schema"))?
        .cast::<FFI_ArrowSchema>();
    let array_ptr = array
        .pointer_checked(Some(c"arrow_array"))?
        .cast::<FFI_ArrowArray>();
    // SAFETY: by the Arrow PyCapsule interface the capsules named "arrow_schema" and
    // "arrow_array" (checked just above, pointers non-null) hold valid, aligned, initialised
    // `ArrowSchema` and `ArrowArray` structs describing one another, alive as long as the
    // capsules, which are borrowed for this call. The array is moved out (its capsule's
    // destructor then sees a released struct); the schema is only read during the import and
    // stays owned (and released) by its capsule.
    let (ffi_schema, data) = unsafe {
        let ffi_schema: &FFI_ArrowSchema = schema_ptr.as_ref();
        let ffi_array = FFI_ArrowArray::from_raw(array_ptr.as_ptr());
        (
            ffi_schema,
            from_ffi(ffi_array, ffi_schema).map_err(arrow_error)?,
        )
    };
    let field = Field::try_from(ffi_schema).map_err(arrow_error)?;
    let DataType::Struct(fields) = field.data_type() else {
        return Err(py_err(format!(
            "an Arrow array of type {} is not a table; hint: pass a table or record batch (a struct array of columns)",
            field.data_type()
        )));
    };
    let columns = StructArray::from(data).columns().to_vec();
    RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), columns).map_err(arrow_error)
}

fn arrow_error(e: impl std::fmt::Display) -> PyErr {
    py_err(format!(
        "Arrow data could not be read: {e}; hint: pass a pandas, polars or pyarrow table"
    ))
}

fn is_temporal(t: &DataType) -> bool {
    t.is_temporal() || matches!(t, DataType::Duration(_) | DataType::Interval(_))
}

/// Whether a column of this type can be read (see the module docs).
fn readable(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, v) => {
            matches!(
                v.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean
            ) || (v.is_numeric() && !is_decimal(v))
        }
        t => {
            t.is_numeric()
                || matches!(
                    t,
                    DataType::Boolean
                        | DataType::Null
                        | DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                )
        }
    }
}

fn is_decimal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// The error for a column the formula needs but a model cannot read.
fn unreadable(data: &str, column: &str, t: &DataType) -> PyErr {
    if is_temporal(t) {
        py_err(format!(
            "{data}: column `{column}` holds dates or times ({t}), which a model formula cannot use directly; hint: convert it to a number (e.g. days since a start) or a category"
        ))
    } else {
        py_err(format!(
            "{data}: column `{column}` has type {t}, which a model cannot read; hint: convert it to numbers or text (or leave it out of the formula)"
        ))
    }
}

/// The values of a numeric or boolean array as numbers (`None` for nulls and NaN), or `None`
/// when the array is not numeric.
fn numbers(a: &dyn Array) -> Option<Vec<Option<f64>>> {
    macro_rules! prim {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| x as f64))
                .collect()
        };
    }
    fn decimal(v: Option<f64>, scale: i8) -> Option<f64> {
        v.map(|x| x / 10f64.powi(i32::from(scale)))
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
        DataType::Boolean => a
            .as_boolean()
            .iter()
            .map(|v| v.map(|b| if b { 1.0 } else { 0.0 }))
            .collect(),
        DataType::Decimal32(_, s) => a
            .as_primitive::<Decimal32Type>()
            .iter()
            .map(|v| decimal(v.map(f64::from), *s))
            .collect(),
        DataType::Decimal64(_, s) => a
            .as_primitive::<Decimal64Type>()
            .iter()
            .map(|v| decimal(v.map(|x| x as f64), *s))
            .collect(),
        DataType::Decimal128(_, s) => a
            .as_primitive::<Decimal128Type>()
            .iter()
            .map(|v| decimal(v.map(|x| x as f64), *s))
            .collect(),
        DataType::Decimal256(_, s) => a
            .as_primitive::<Decimal256Type>()
            .iter()
            .map(|v| decimal(v.and_then(|x| x.to_string().parse::<f64>().ok()), *s))
            .collect(),
        DataType::Null => vec![None; a.len()],
        _ => return None,
    };
    Some(v.into_iter().map(|x| x.filter(|x| !x.is_nan())).collect())
}

/// The strings of a string array (`None` for nulls), or `None` when it is not one.
fn strings(a: &dyn Array) -> Option<Vec<Option<String>>> {
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

/// The labels of a dictionary's values: strings as they are, numbers as R prints them (`1`,
/// `2.5`, `1e+05`), booleans `FALSE`/`TRUE`.
fn labels(values: &dyn Array) -> Option<Vec<Option<String>>> {
    if let Some(s) = strings(values) {
        return Some(s);
    }
    if matches!(values.data_type(), DataType::Boolean) {
        return Some(
            values
                .as_boolean()
                .iter()
                .map(|v| v.map(|b| if b { "TRUE" } else { "FALSE" }.to_string()))
                .collect(),
        );
    }
    let integer = values.data_type().is_integer();
    let nums = numbers(values)?;
    Some(
        nums.into_iter()
            .map(|v| {
                v.map(|x| {
                    if integer {
                        format!("{x:.0}")
                    } else {
                        format_r_number(x)
                    }
                })
            })
            .collect(),
    )
}

/// What one column is being read into.
enum Building {
    Numbers(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Factor {
        codes: Vec<Option<u32>>,
        levels: Vec<String>,
    },
}

/// Append one batch's array of a column to what is being built.
fn push(data: &str, column: &str, a: &ArrayRef, b: &mut Option<Building>) -> PyResult<()> {
    let t = a.data_type();
    let mismatch = || {
        py_err(format!(
            "{data}: column `{column}` changes type between Arrow batches (now {t}); hint: pass a table whose batches share one schema"
        ))
    };
    if let Some(dict) = a.as_any_dictionary_opt() {
        let Some(values) = labels(dict.values().as_ref()) else {
            return Err(unreadable(data, column, t));
        };
        let Building::Factor { codes, levels } = b.get_or_insert_with(|| Building::Factor {
            codes: Vec::new(),
            levels: Vec::new(),
        }) else {
            return Err(mismatch());
        };
        // The code, in the merged levels, of each dictionary entry.
        let map: Vec<Option<u32>> = values
            .into_iter()
            .map(|v| {
                let s = v?;
                let i = match levels.iter().position(|l| *l == s) {
                    Some(i) => i,
                    None => {
                        levels.push(s);
                        levels.len() - 1
                    }
                };
                u32::try_from(i).ok()
            })
            .collect();
        for (i, k) in dict.normalized_keys().iter().enumerate() {
            codes.push(if dict.is_null(i) {
                None
            } else {
                map.get(*k).copied().flatten()
            });
        }
    } else if let Some(v) = strings(a.as_ref()) {
        let Building::Text(all) = b.get_or_insert_with(|| Building::Text(Vec::new())) else {
            return Err(mismatch());
        };
        all.extend(v);
    } else if let Some(v) = numbers(a.as_ref()) {
        let Building::Numbers(all) = b.get_or_insert_with(|| Building::Numbers(Vec::new())) else {
            return Err(mismatch());
        };
        all.extend(v);
    } else {
        return Err(unreadable(data, column, t));
    }
    Ok(())
}

/// A text column as a factor with its distinct values sorted by bytes.
fn text_factor(values: Vec<Option<String>>) -> (Vec<Option<u32>>, Vec<String>) {
    let mut levels: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
    levels.sort_unstable();
    levels.dedup();
    let codes = values
        .iter()
        .map(|v| {
            v.as_deref()
                .and_then(|s| levels.binary_search(&s).ok())
                .and_then(|c| u32::try_from(c).ok())
        })
        .collect();
    (codes, levels.into_iter().map(str::to_string).collect())
}

/// The library's data table from an Arrow PyCapsule object: only the `wanted` columns (when
/// given and all present; otherwise every column a model can read, so that the library's
/// unknown-column error lists the real columns), with the `ordered` columns as ordered factors.
pub fn arrow_frame(
    obj: &Bound<'_, PyAny>,
    name: &str,
    wanted: Option<&[String]>,
    ordered: &[String],
) -> PyResult<DataFrame> {
    let (schema, batches) = import(obj)?;
    let fields = schema.fields();
    let all_present = wanted.is_some_and(|w| {
        w.iter()
            .all(|n| fields.iter().any(|f| f.name().as_str() == n))
    });
    let mut df = DataFrame::new(name);
    for (j, f) in fields.iter().enumerate() {
        let t = f.data_type();
        match wanted {
            Some(w) if all_present => {
                if !w.iter().any(|n| n == f.name()) {
                    continue;
                }
                if !readable(t) {
                    return Err(unreadable(name, f.name(), t));
                }
            }
            _ => {
                if !readable(t) {
                    continue;
                }
            }
        }
        let mut b: Option<Building> = None;
        for batch in &batches {
            let Some(a) = batch.columns().get(j) else {
                return Err(py_err(format!(
                    "{name}: an Arrow batch has {} columns, its schema {}; hint: pass a well-formed table",
                    batch.num_columns(),
                    fields.len()
                )));
            };
            push(name, f.name(), a, &mut b)?;
        }
        let is_ordered = f.dict_is_ordered() == Some(true) || ordered.iter().any(|o| o == f.name());
        df = match b {
            None => df.with_numeric_opt(f.name(), Vec::new()),
            Some(Building::Numbers(v)) => df.with_numeric_opt(f.name(), v),
            Some(Building::Text(v)) => {
                let (codes, levels) = text_factor(v);
                df.with_factor_opt(f.name(), codes, levels, false)
            }
            Some(Building::Factor { codes, levels }) => {
                df.with_factor_opt(f.name(), codes, levels, is_ordered)
            }
        }
        .map_err(py_err)?;
    }
    Ok(df)
}
