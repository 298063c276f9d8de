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

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;

use dta::stata::dta::byte_order::ByteOrder;
use dta::stata::dta::dta_error::DtaError;
use dta::stata::dta::dta_reader::DtaReader;
use dta::stata::dta::header::Header;
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
    let position = Rc::new(Cell::new(0usize));
    let reader = Tracked {
        bytes,
        position: Rc::clone(&position),
    };
    let header = DtaReader::new().from_reader(reader);
    let schema_reader = header.read_header().map_err(f)?;
    let layout = Layout::of(schema_reader.header());
    layout.check_variable_count(name, bytes.len())?;
    let mut chars = schema_reader.read_schema().map_err(f)?;
    layout.check_characteristics(name, bytes, position.get())?;
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
    layout.check_long_strings(name, bytes, position.get())?;
    long_strings.skip_to_end().map_err(f)?;
    let mut label_reader = long_strings.into_value_label_reader().map_err(f)?;
    layout.check_value_labels(name, bytes, position.get())?;
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

/// The bytes of a file in memory as a reader that shares its position, so the sections the
/// `dta` reader is about to read can be checked first (see [`Layout`]).
struct Tracked<'a> {
    bytes: &'a [u8],
    position: Rc<Cell<usize>>,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let at = self.position.get().min(self.bytes.len());
        let rest = self.bytes.get(at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.position.set(at + n);
        Ok(n)
    }
}

/// What a file's release says about its layout, for checking declared lengths against the
/// bytes actually present.
///
/// The `dta` reader sizes its read buffer from lengths stored in the file (expansion fields,
/// long strings, value-label sets: up to 4 GiB each; the variable count: up to 2³² variables)
/// before it reads them, so a corrupt or hostile file of a few bytes could make it allocate
/// gigabytes. Each length is checked here against the bytes that remain, before `dta` sees it;
/// a section whose layout does not match is left for `dta` to report.
struct Layout {
    release: u8,
    little_endian: bool,
    variables: u64,
}

impl Layout {
    fn of(header: &Header) -> Self {
        Layout {
            release: header.release() as u8,
            little_endian: matches!(header.byte_order(), ByteOrder::LittleEndian),
            variables: u64::from(header.variable_count()),
        }
    }

    /// Bytes of a variable name (and of a value-label name) in this release.
    fn name_len(&self) -> usize {
        match self.release {
            118.. => 129,
            110.. => 33,
            _ => 9,
        }
    }

    fn xml(&self) -> bool {
        self.release >= 117
    }

    fn uint(&self, bytes: &[u8], at: usize, width: usize) -> Option<u64> {
        let field = bytes.get(at..at.checked_add(width)?)?;
        let mut v = 0u64;
        for i in 0..width {
            let b = if self.little_endian {
                field.get(width - 1 - i)
            } else {
                field.get(i)
            };
            v = (v << 8) | u64::from(*b?);
        }
        Some(v)
    }

    fn too_long(name: &str, what: &str, at: usize, claimed: u64, left: usize) -> DataError {
        fail(
            name,
            format!(
                "{what} at byte {at} claims {claimed} bytes, but only {left} bytes follow (the file is truncated or corrupt)"
            ),
        )
    }

    /// Every variable is stored with at least its name, so the declared count cannot exceed
    /// the file's length divided by a name's width.
    fn check_variable_count(&self, name: &str, file_len: usize) -> Result<(), DataError> {
        // Records of no variables take no bytes, so a header declaring none (and billions of
        // observations) would be read for minutes without consuming the file.
        if self.variables == 0 {
            return Err(fail(
                name,
                "the header declares no variables (the file is empty or corrupt)".to_string(),
            ));
        }
        let needed = u64::try_from(self.name_len())
            .unwrap_or(u64::MAX)
            .saturating_mul(self.variables);
        if needed > u64::try_from(file_len).unwrap_or(u64::MAX) {
            return Err(fail(
                name,
                format!(
                    "the header declares {} variables, more than a file of {file_len} bytes can hold (the file is truncated or corrupt)",
                    self.variables
                ),
            ));
        }
        Ok(())
    }

    /// The expansion fields (formats 105–116) or the `<ch>` entries (117–119).
    fn check_characteristics(
        &self,
        name: &str,
        bytes: &[u8],
        start: usize,
    ) -> Result<(), DataError> {
        let mut at = start;
        if self.xml() {
            if !bytes
                .get(at..)
                .unwrap_or_default()
                .starts_with(b"<characteristics>")
            {
                return Ok(());
            }
            at += b"<characteristics>".len();
            while bytes.get(at..).unwrap_or_default().starts_with(b"<ch>") {
                let Some(len) = self.uint(bytes, at + 4, 4) else {
                    return Ok(());
                };
                at += 8;
                at = self.advance(name, "a characteristic", bytes, at, len)? + b"</ch>".len();
            }
            return Ok(());
        }
        let width = match self.release {
            110.. => 4,
            105.. => 2,
            _ => return Ok(()),
        };
        loop {
            let (Some(kind), Some(len)) = (bytes.get(at), self.uint(bytes, at + 1, width)) else {
                return Ok(());
            };
            if *kind == 0 && len == 0 {
                return Ok(());
            }
            at = self.advance(name, "an expansion field", bytes, at + 1 + width, len)?;
        }
    }

    /// The long strings (`<strls>`, formats 117–119).
    fn check_long_strings(&self, name: &str, bytes: &[u8], start: usize) -> Result<(), DataError> {
        if !self.xml()
            || !bytes
                .get(start..)
                .unwrap_or_default()
                .starts_with(b"<strls>")
        {
            return Ok(());
        }
        let mut at = start + b"<strls>".len();
        // "GSO", variable (4), observation (4 in 117, 8 later), type (1), length (4)
        let obs = if self.release >= 118 { 8 } else { 4 };
        while bytes.get(at..).unwrap_or_default().starts_with(b"GSO") {
            let len_at = at + 3 + 4 + obs + 1;
            let Some(len) = self.uint(bytes, len_at, 4) else {
                return Ok(());
            };
            at = self.advance(name, "a long string", bytes, len_at + 4, len)?;
        }
        Ok(())
    }

    /// The value-label sets (formats 108–119; older sets have 16-bit sizes).
    fn check_value_labels(&self, name: &str, bytes: &[u8], start: usize) -> Result<(), DataError> {
        if self.release < 108 {
            return Ok(());
        }
        let mut at = start;
        let skip_name = self.name_len() + 3;
        if self.xml() {
            if !bytes
                .get(at..)
                .unwrap_or_default()
                .starts_with(b"<value_labels>")
            {
                return Ok(());
            }
            at += b"<value_labels>".len();
            while bytes.get(at..).unwrap_or_default().starts_with(b"<lbl>") {
                let Some(len) = self.uint(bytes, at + 5, 4) else {
                    return Ok(());
                };
                at = self.advance(name, "a value-label set", bytes, at + 9 + skip_name, len)?
                    + b"</lbl>".len();
            }
            return Ok(());
        }
        while let Some(len) = self.uint(bytes, at, 4) {
            at = self.advance(name, "a value-label set", bytes, at + 4 + skip_name, len)?;
        }
        Ok(())
    }

    /// The position after a payload of `len` bytes starting at `at`, or the error when the
    /// file ends before it.
    fn advance(
        &self,
        name: &str,
        what: &str,
        bytes: &[u8],
        at: usize,
        len: u64,
    ) -> Result<usize, DataError> {
        let left = bytes.len().saturating_sub(at);
        match usize::try_from(len) {
            Ok(n) if n <= left => Ok(at + n),
            _ => Err(Self::too_long(name, what, at, len, left)),
        }
    }
}
