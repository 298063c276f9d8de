//! Reading CSV data (R's `read.csv` + `type.convert` semantics, C-locale factor levels).
//!
//! - Line 1 is the header. Empty lines are skipped. A UTF-8 byte-order mark is ignored.
//! - A field that is empty or `NA` (surrounding blanks ignored) is missing.
//! - A column whose every non-missing field parses as a number is numeric; `Inf`, `-Inf`,
//!   `NaN` in such a column are an error (they cannot be modelled). Any other column is a factor
//!   whose levels are its distinct values sorted in byte order.
//! - A column whose fields are mostly numbers but that is text because of a few other tokens
//!   (`n/a`, `?`, `0,5`) stays text, as in R, and gets a [`crate::DataWarning`] naming the
//!   first such token and its line ([`DataFrame::warnings`]).
//! - A numeric column holding two spellings of one whole number (`01` and `1`, `1.0` and `1`)
//!   reads them as the same number, as R does, with a [`crate::DataWarning`] naming the pair
//!   (numeric-looking identifiers with leading zeros would merge as grouping factors).
//! - A path that is not a regular file (`/dev/zero`, a pipe) is read with bounds (1 GiB in
//!   all, 16 MiB without a line break) and stops with one error naming the file.
//! - Fields are read as bytes (`csv::ByteRecord`); a factor level is allocated once, not per cell.

use std::collections::HashMap;
use std::path::Path;

use crate::data::{Column, DataFrame, Factor, ReadOptions, RowOrigin, is_na_text};
use crate::error::{DataError, DataWarning};

/// Per-column state while reading.
enum ColState {
    /// Every non-missing field so far is a number.
    Numeric {
        values: Vec<Option<f64>>,
        /// First non-finite field: (0-based row, text).
        nonfinite: Option<(usize, String)>,
        /// Whole numbers written other than in plain integer form (`01`, `1.0`), by value.
        respelled: HashMap<u64, Respelling>,
    },
    /// A text column. Rows before `text_from` still need a second pass to get their text.
    Text {
        dict: HashMap<Vec<u8>, u32>,
        codes: Vec<Option<u32>>,
        text_from: usize,
        /// Whether each level (by code) parses as a number, for the retyping warning.
        is_num: Vec<bool>,
    },
}

/// The spellings of one whole number that are not its plain integer form.
struct Respelling {
    /// The first such spelling and its 0-based row.
    first: (String, usize),
    /// A second, different such spelling, if any.
    second: Option<String>,
    /// Fields with any such spelling.
    count: usize,
}

/// Whether a trimmed field is a whole number's plain form: an optional `-` then digits with no
/// leading zero (`0` itself allowed, `-0` not).
fn plain_integer(t: &[u8]) -> bool {
    let (neg, d) = match t.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, t),
    };
    !d.is_empty()
        && d.iter().all(u8::is_ascii_digit)
        && (d.len() == 1 || d.first() != Some(&b'0'))
        && !(neg && d == b"0")
}

/// Key of a whole number in [`Respelling`] maps (`-0` and `0` are one key).
fn whole_key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

/// Record `field` (finite value `x`, 0-based `row`) if it is a whole number not written in plain
/// integer form.
fn note_spelling(respelled: &mut HashMap<u64, Respelling>, field: &[u8], x: f64, row: usize) {
    let t = field.trim_ascii();
    if x.fract() != 0.0 || plain_integer(t) {
        return;
    }
    let text = String::from_utf8_lossy(t);
    match respelled.get_mut(&whole_key(x)) {
        Some(r) => {
            r.count += 1;
            if r.second.is_none() && r.first.0 != text {
                r.second = Some(text.into_owned());
            }
        }
        None => {
            respelled.insert(
                whole_key(x),
                Respelling {
                    first: (text.into_owned(), row),
                    second: None,
                    count: 1,
                },
            );
        }
    }
}

/// The warning for a numeric column where two spellings of one whole number occur (the one
/// whose first odd spelling comes first in the file).
fn same_number_warning(
    df: &DataFrame,
    column: &str,
    values: &[Option<f64>],
    respelled: &HashMap<u64, Respelling>,
) -> Option<DataWarning> {
    if respelled.is_empty() {
        return None;
    }
    let mut total: HashMap<u64, usize> = HashMap::new();
    for x in values.iter().flatten() {
        let k = whole_key(*x);
        if respelled.contains_key(&k) {
            *total.entry(k).or_insert(0) += 1;
        }
    }
    respelled
        .iter()
        .filter_map(|(k, r)| {
            let other = match &r.second {
                Some(s) => s.clone(),
                None if total.get(k).copied().unwrap_or(0) > r.count => {
                    // the plain integer form also occurs
                    let x = f64::from_bits(*k);
                    if x.abs() < 1e15 {
                        format!("{}", x as i64)
                    } else {
                        crate::rnum::format_r_number(x)
                    }
                }
                None => return None,
            };
            Some((r.first.1, &r.first.0, other))
        })
        .min_by_key(|(row, _, _)| *row)
        .map(|(row, spelling, other)| DataWarning::SameNumber {
            file: df.name().to_string(),
            column: column.to_string(),
            spelling: spelling.clone(),
            location: df.location(row),
            other,
        })
}

/// Parse a field as R's `type.convert` would take it as a number (surrounding blanks allowed).
fn parse_number(field: &[u8]) -> Option<f64> {
    let t = field.trim_ascii();
    let s = std::str::from_utf8(t).ok()?;
    // Rust accepts "inf"/"infinity"/"nan" in any case, as R does for Inf/NaN.
    s.parse::<f64>().ok()
}

/// Intern `field` into `dict`, returning its code; new levels must be valid UTF-8. `is_num`
/// records, per code, whether the level parses as a number.
fn intern(dict: &mut HashMap<Vec<u8>, u32>, is_num: &mut Vec<bool>, field: &[u8]) -> Option<u32> {
    if let Some(c) = dict.get(field) {
        return Some(*c);
    }
    std::str::from_utf8(field).ok()?;
    let code = dict.len() as u32;
    dict.insert(field.to_vec(), code);
    is_num.push(parse_number(field).is_some());
    Some(code)
}

/// Tracks 1-based file lines of records from their byte offsets.
///
/// `csv::Position::line` is unreliable around skipped blank lines and CRLF endings, so the line
/// of a record is counted here: a record starts at the first byte at or after its reported
/// offset that is not a line terminator, and its line is 1 + the number of `\n` before that.
struct LineCounter<'a> {
    bytes: &'a [u8],
    cursor: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            cursor: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, record: &csv::ByteRecord) -> u64 {
        let mut start = record.position().map_or(self.cursor, |p| p.byte() as usize);
        start = start.clamp(self.cursor, self.bytes.len());
        while let Some(b'\r' | b'\n') = self.bytes.get(start) {
            start += 1;
        }
        let seg = self.bytes.get(self.cursor..start).unwrap_or(&[]);
        self.line += seg.iter().filter(|b| **b == b'\n').count() as u64;
        self.cursor = start;
        self.line
    }
}

/// Most bytes read from a file that is not a regular file (a device or a pipe): 1 GiB.
pub(crate) const MAX_STREAM_BYTES: usize = 1 << 30;
/// Longest run of bytes without a line break accepted from such a file: 16 MiB.
const MAX_STREAM_LINE: usize = 16 << 20;

/// The bytes of `path`. A regular file (or a directory, which fails as before) is read whole;
/// anything else (`/dev/zero`, a pipe, `/dev/stdin`) may never end, so it is read with bounds:
/// at most [`MAX_STREAM_BYTES`] in all and [`MAX_STREAM_LINE`] without a line break.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |e: std::io::Error| DataError::Io {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_file() || meta.is_dir() {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).map_err(io)?;
        return Ok(bytes);
    }
    read_bounded(
        f,
        &path.display().to_string(),
        MAX_STREAM_BYTES,
        MAX_STREAM_LINE,
    )
}

/// Read `r` to its end, failing with [`DataError::TooLarge`] after `max_total` bytes or after
/// `max_line` bytes with no `\n`.
pub(crate) fn read_bounded<R: std::io::Read>(
    mut r: R,
    file: &str,
    max_total: usize,
    max_line: usize,
) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let mut since_break = 0usize;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DataError::Io {
                    file: file.to_string(),
                    message: e.to_string(),
                });
            }
        };
        let got = chunk.get(..n).unwrap_or(&[]);
        for b in got {
            if *b == b'\n' {
                since_break = 0;
            } else {
                since_break += 1;
                if since_break > max_line {
                    return Err(DataError::TooLarge {
                        file: file.to_string(),
                        what: format!("{} without a line break", size_text(max_line)),
                    });
                }
            }
        }
        if bytes.len() + got.len() > max_total {
            return Err(DataError::TooLarge {
                file: file.to_string(),
                what: size_text(max_total),
            });
        }
        bytes.extend_from_slice(got);
    }
    Ok(bytes)
}

/// `16 MiB`, `1 GiB`, `100 bytes`.
fn size_text(n: usize) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

fn csv_error(file: &str, e: &csv::Error) -> DataError {
    let line = e.position().map_or(0, csv::Position::line);
    DataError::Csv {
        file: file.to_string(),
        line,
        message: e.to_string(),
    }
}

impl DataFrame {
    /// Read a CSV file (see the module docs for the rules). The data frame is named after the
    /// file's name (without directories).
    pub fn read_csv(path: &Path, opts: &ReadOptions) -> Result<Self, DataError> {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bytes = read_input(path)?;
        Self::from_csv_bytes(&name, &bytes, opts)
    }

    /// Read CSV text held in memory; `name` is used in messages.
    pub fn from_csv_str(name: &str, text: &str, opts: &ReadOptions) -> Result<Self, DataError> {
        Self::from_csv_bytes(name, text.as_bytes(), opts)
    }

    /// Read CSV bytes held in memory; `name` is used in messages.
    pub fn from_csv_bytes(name: &str, bytes: &[u8], opts: &ReadOptions) -> Result<Self, DataError> {
        Self::from_delimited_bytes(name, bytes, opts, b',')
    }

    /// Read delimited text held in memory with fields separated by `delimiter` (`b','`,
    /// `b'\t'`, `b';'`, ...); `name` is used in messages. The rules are those of CSV (see
    /// [`DataFrame::read_csv`]); a header one name shorter than the first data row is R's
    /// `write.table` layout with row names: the first field of every row is a row name, not a
    /// variable, and a [`DataWarning::RowNames`] says so.
    pub fn from_delimited_bytes(
        name: &str,
        bytes: &[u8],
        opts: &ReadOptions,
        delimiter: u8,
    ) -> Result<Self, DataError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let file = name.to_string();
        if bytes.trim_ascii().is_empty() {
            return Err(DataError::Empty { file });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();

        // ---- header ----
        let got = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(&file, &e))?;
        if !got {
            return Err(DataError::Empty { file });
        }
        let mut names: Vec<String> = Vec::with_capacity(record.len());
        for (j, field) in record.iter().enumerate() {
            let Ok(s) = std::str::from_utf8(field.trim_ascii()) else {
                return Err(DataError::Encoding {
                    file,
                    line: 1,
                    column: format!("#{}", j + 1),
                });
            };
            // R's read.csv names an unnamed column "X" (e.g. row names written by write.csv).
            let s = if s.is_empty() { "X" } else { s };
            if let Some(first) = names.iter().position(|n| n == s) {
                return Err(DataError::DuplicateColumn {
                    file,
                    column: s.to_string(),
                    first: first + 1,
                    second: j + 1,
                });
            }
            names.push(s.to_string());
        }
        let ncols = names.len();
        // One column whose name holds `;` or tabs: most likely a file separated by them.
        let separator = match names.as_slice() {
            [only] if delimiter == b',' => [';', '\t']
                .into_iter()
                .map(|c| (only.matches(c).count(), c))
                .filter(|(n, _)| *n > 0)
                .max_by_key(|(n, _)| *n)
                .map(|(_, c)| (only.clone(), c)),
            _ => None,
        };
        let mut counter = LineCounter::new(bytes);
        let header_line = counter.line_of(&record);

        // ---- first pass ----
        let mut states: Vec<ColState> = (0..ncols)
            .map(|_| ColState::Numeric {
                values: Vec::new(),
                nonfinite: None,
                respelled: HashMap::new(),
            })
            .collect();
        let mut lines: Option<Vec<u64>> = None;
        let mut row = 0usize;
        // R's write.table layout: the header names every column but the row names.
        let mut row_names = false;
        loop {
            let got = reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(&file, &e))?;
            if !got {
                break;
            }
            let line = counter.line_of(&record);
            if row == 0 && ncols > 0 && record.len() == ncols + 1 {
                row_names = true;
            }
            let skip = usize::from(row_names);
            if record.len() != ncols + skip {
                return Err(DataError::Ragged {
                    file,
                    line,
                    expected: ncols + skip,
                    found: record.len(),
                });
            }
            if header_line != 1 || line != row as u64 + 2 || lines.is_some() {
                let v = lines.get_or_insert_with(|| (0..row as u64).map(|r| r + 2).collect());
                v.push(line);
            }
            for (j, (field, state)) in record.iter().skip(skip).zip(states.iter_mut()).enumerate() {
                let missing = is_na_text(field);
                match state {
                    ColState::Numeric {
                        values,
                        nonfinite,
                        respelled,
                    } => {
                        if missing {
                            values.push(None);
                        } else if let Some(x) = parse_number(field) {
                            if !x.is_finite() {
                                if nonfinite.is_none() {
                                    *nonfinite =
                                        Some((row, String::from_utf8_lossy(field).into_owned()));
                                }
                            } else {
                                note_spelling(respelled, field, x, row);
                            }
                            values.push(Some(x));
                        } else {
                            let mut dict = HashMap::new();
                            let mut is_num = Vec::new();
                            let mut codes: Vec<Option<u32>> = Vec::with_capacity(values.capacity());
                            codes.resize(row, None);
                            let Some(c) = intern(&mut dict, &mut is_num, field) else {
                                return Err(DataError::Encoding {
                                    file,
                                    line,
                                    column: names[j].clone(),
                                });
                            };
                            codes.push(Some(c));
                            *state = ColState::Text {
                                dict,
                                codes,
                                text_from: row,
                                is_num,
                            };
                        }
                    }
                    ColState::Text {
                        dict,
                        codes,
                        is_num,
                        ..
                    } => {
                        if missing {
                            codes.push(None);
                        } else {
                            let Some(c) = intern(dict, is_num, field) else {
                                return Err(DataError::Encoding {
                                    file,
                                    line,
                                    column: names[j].clone(),
                                });
                            };
                            codes.push(Some(c));
                        }
                    }
                }
            }
            row += 1;
        }
        let nrows = row;
        if nrows == 0 {
            return Err(DataError::NoRows {
                file,
                columns: ncols,
            });
        }

        // ---- second pass: text of the rows read before a column turned out to be text ----
        let redo = states
            .iter()
            .map(|s| match s {
                ColState::Text { text_from, .. } => *text_from,
                ColState::Numeric { .. } => 0,
            })
            .max()
            .unwrap_or(0);
        if redo > 0 {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(bytes);
            let mut counter = LineCounter::new(bytes);
            let mut r = 0usize;
            while r < redo {
                let got = reader
                    .read_byte_record(&mut record)
                    .map_err(|e| csv_error(&file, &e))?;
                if !got {
                    break;
                }
                let line = counter.line_of(&record);
                let fields = record.iter().skip(usize::from(row_names));
                for (j, (field, state)) in fields.zip(states.iter_mut()).enumerate() {
                    if let ColState::Text {
                        dict,
                        codes,
                        text_from,
                        is_num,
                    } = state
                        && r < *text_from
                        && !is_na_text(field)
                    {
                        let Some(c) = intern(dict, is_num, field) else {
                            return Err(DataError::Encoding {
                                file,
                                line,
                                column: names[j].clone(),
                            });
                        };
                        if let Some(slot) = codes.get_mut(r) {
                            *slot = Some(c);
                        }
                    }
                }
                r += 1;
            }
        }

        // ---- finish columns ----
        let origin = match lines {
            None => RowOrigin::CsvSimple,
            Some(v) => RowOrigin::CsvLines(v),
        };
        let mut df = DataFrame::new(name).with_origin(origin);
        if let Some((header, separator)) = separator {
            df.push_warning(DataWarning::Separator {
                file: df.name().to_string(),
                header,
                separator,
            });
        }
        if row_names {
            df.push_warning(DataWarning::RowNames {
                file: df.name().to_string(),
                columns: ncols,
            });
        }
        for (name, state) in names.iter().zip(states) {
            let column = match state {
                ColState::Numeric {
                    values,
                    nonfinite,
                    respelled,
                } => {
                    if let Some(w) = same_number_warning(&df, name, &values, &respelled) {
                        df.push_warning(w);
                    }
                    if let Some((r, text)) = nonfinite {
                        return Err(DataError::NonFinite {
                            file,
                            location: df.location(r),
                            column: name.clone(),
                            value: text,
                        });
                    }
                    Column::Numeric(values)
                }
                ColState::Text {
                    dict,
                    codes,
                    text_from,
                    is_num,
                } => {
                    if let Some(w) = retyping_warning(&df, name, &dict, &codes, text_from, &is_num)
                    {
                        df.push_warning(w);
                    }
                    Column::Factor(sorted_factor(dict, codes))
                }
            };
            df = df.with_column(name, column)?;
        }

        for c in &opts.factor_columns {
            df = df.to_factor(c, false)?;
        }
        for c in &opts.ordered_columns {
            df = df.to_factor(c, true)?;
        }
        Ok(df)
    }
}

/// The warning for a text column whose fields are mostly numbers: it names the first field
/// that is not a number (the one at `text_from`, where the column stopped being numeric).
fn retyping_warning(
    df: &DataFrame,
    column: &str,
    dict: &HashMap<Vec<u8>, u32>,
    codes: &[Option<u32>],
    text_from: usize,
    is_num: &[bool],
) -> Option<DataWarning> {
    let mut count = vec![0usize; is_num.len()];
    for c in codes.iter().flatten() {
        if let Some(k) = count.get_mut(*c as usize) {
            *k += 1;
        }
    }
    let (mut numeric, mut text) = (0usize, 0usize);
    for (k, n) in is_num.iter().zip(&count) {
        if *k {
            numeric += n;
        } else {
            text += n;
        }
    }
    // Only a few stray fields: a column with a real text category (`0`, `1`, `2`, `3+`) is a
    // factor on purpose.
    let few = text <= 2 || text * 20 <= numeric + text;
    if text == 0 || numeric <= text || !few {
        return None;
    }
    let code = (*codes.get(text_from)?)?;
    let token = dict
        .iter()
        .find(|(_, c)| **c == code)
        .map(|(b, _)| String::from_utf8_lossy(b).into_owned())?;
    Some(DataWarning::ReadAsText {
        file: df.name().to_string(),
        column: column.to_string(),
        token,
        location: df.location(text_from),
        numeric,
        text,
    })
}

/// Sort interned levels in byte order and recode.
fn sorted_factor(dict: HashMap<Vec<u8>, u32>, codes: Vec<Option<u32>>) -> Factor {
    let mut entries: Vec<(Vec<u8>, u32)> = dict.into_iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut remap = vec![0u32; entries.len()];
    for (new, (_, old)) in entries.iter().enumerate() {
        if let Some(slot) = remap.get_mut(*old as usize) {
            *slot = new as u32;
        }
    }
    let codes = codes
        .into_iter()
        .map(|c| c.and_then(|c| remap.get(c as usize).copied()))
        .collect();
    let levels = entries
        .into_iter()
        .map(|(b, _)| {
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
        .collect();
    Factor {
        codes,
        levels,
        ordered: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<DataFrame, DataError> {
        DataFrame::from_csv_str("t.csv", text, &ReadOptions::default())
    }

    fn num(df: &DataFrame, c: &str) -> Vec<Option<f64>> {
        match df.column(c) {
            Some(Column::Numeric(v)) => v.clone(),
            other => panic!("{c} not numeric: {other:?}"),
        }
    }

    fn fac(df: &DataFrame, c: &str) -> Factor {
        match df.column(c) {
            Some(Column::Factor(f)) => f.clone(),
            other => panic!("{c} not a factor: {other:?}"),
        }
    }

    #[test]
    fn reads_types_and_missing() {
        let df = read("\"y\",\"g\",x\n1.5,b,NA\n2,a,3\n,\"b\", 4 \nNA,NA,1e3\n").unwrap();
        assert_eq!(df.nrows(), 4);
        assert_eq!(df.column_names(), vec!["y", "g", "x"]);
        assert_eq!(num(&df, "y"), vec![Some(1.5), Some(2.0), None, None]);
        assert_eq!(
            num(&df, "x"),
            vec![None, Some(3.0), Some(4.0), Some(1000.0)]
        );
        let g = fac(&df, "g");
        assert_eq!(g.levels, vec!["a", "b"]);
        assert_eq!(g.codes, vec![Some(1), Some(0), Some(1), None]);
    }

    #[test]
    fn late_text_keeps_earlier_text() {
        // numbers first, then text: earlier fields keep their exact spelling as levels
        let df = read("g\n01\n2\nx\n01\n").unwrap();
        let g = fac(&df, "g");
        assert_eq!(g.levels, vec!["01", "2", "x"]);
        assert_eq!(g.codes, vec![Some(0), Some(1), Some(2), Some(0)]);
    }

    #[test]
    fn bom_crlf_blank_lines_and_quoted_newline() {
        let df = read("\u{feff}a,b\r\n1,x\r\n\r\n2,\"y\nz\"\r\n3,,\r\n").unwrap_err();
        // last row is ragged (3 fields): reported on its real line (6)
        assert!(
            matches!(
                df,
                DataError::Ragged {
                    line: 6,
                    expected: 2,
                    found: 3,
                    ..
                }
            ),
            "{df:?}"
        );
        let df = read("\u{feff}a,b\r\n1,x\r\n\r\n2,\"y\nz\"\r\n3,inf\n").unwrap();
        assert_eq!(df.column_names(), vec!["a", "b"]);
        assert_eq!(num(&df, "a"), vec![Some(1.0), Some(2.0), Some(3.0)]);
        // "inf" in a text column is just a level
        assert_eq!(fac(&df, "b").levels, vec!["inf", "x", "y\nz"]);
        assert_eq!(df.location(2).to_string(), "line 6");
    }

    #[test]
    fn error_empty_file() {
        for text in ["", "\n\n  \n"] {
            let e = read(text).unwrap_err();
            assert!(matches!(e, DataError::Empty { .. }));
            assert!(e.to_string().starts_with("t.csv: the file is empty"), "{e}");
            assert!(e.to_string().contains("hint"));
        }
    }

    #[test]
    fn error_header_only() {
        let e = read("y,x,g\n").unwrap_err();
        assert!(matches!(e, DataError::NoRows { columns: 3, .. }));
        let m = e.to_string();
        assert!(
            m.contains("t.csv") && m.contains("line 1") && m.contains("hint"),
            "{m}"
        );
    }

    #[test]
    fn error_ragged() {
        let e = read("y,x,g\n1,2,a\n1,2\n").unwrap_err();
        assert!(matches!(
            e,
            DataError::Ragged {
                line: 3,
                expected: 3,
                found: 2,
                ..
            }
        ));
        let m = e.to_string();
        assert!(
            m.contains("t.csv, line 3") && m.contains("2 fields") && m.contains("hint"),
            "{m}"
        );
    }

    #[test]
    fn error_duplicate_column() {
        let e = read("y,x,y\n1,2,3\n").unwrap_err();
        assert!(matches!(
            e,
            DataError::DuplicateColumn {
                first: 1,
                second: 3,
                ..
            }
        ));
        let m = e.to_string();
        assert!(
            m.contains("t.csv, line 1, column `y`") && m.contains("hint"),
            "{m}"
        );
    }

    #[test]
    fn error_non_finite() {
        for bad in ["Inf", "-Inf", "inf", "NaN", "nan"] {
            let e = read(&format!("y,x\n1,2\n2,3\n3,{bad}\n")).unwrap_err();
            assert!(matches!(e, DataError::NonFinite { .. }), "{bad}: {e:?}");
            let m = e.to_string();
            assert!(
                m.contains("t.csv, line 4, column `x`") && m.contains(bad) && m.contains("hint"),
                "{m}"
            );
        }
    }

    #[test]
    fn error_file_not_found() {
        let path = Path::new("/nonexistent/dir/missing.csv");
        let e = DataFrame::read_csv(path, &ReadOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
        let m = e.to_string();
        assert!(m.contains("missing.csv") && m.contains("hint"), "{m}");
        // unreadable: a directory
        let dir = std::env::temp_dir();
        let e = DataFrame::read_csv(&dir, &ReadOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains(&dir.display().to_string()));
    }

    #[test]
    fn error_invalid_utf8() {
        let e = DataFrame::from_csv_bytes("b.csv", b"g\na\n\xff\xfe\n", &ReadOptions::default())
            .unwrap_err();
        assert!(matches!(e, DataError::Encoding { line: 3, .. }), "{e:?}");
        assert!(e.to_string().contains("b.csv, line 3, column `g`"));
    }

    #[test]
    fn read_options_factor_and_ordered() {
        let opts = ReadOptions {
            factor_columns: vec!["g".into()],
            ordered_columns: vec!["o".into()],
        };
        let df =
            DataFrame::from_csv_str("t.csv", "g,o,y\n2,lo,1\n10,hi,2\n2.5,lo,3\n", &opts).unwrap();
        let g = fac(&df, "g");
        assert_eq!(g.levels, vec!["2", "2.5", "10"]);
        assert_eq!(g.codes, vec![Some(0), Some(2), Some(1)]);
        let o = fac(&df, "o");
        assert!(o.ordered);
        assert_eq!(o.levels, vec!["hi", "lo"]);
        let bad = ReadOptions {
            factor_columns: vec!["G".into()],
            ordered_columns: vec![],
        };
        let e = DataFrame::from_csv_str("t.csv", "g,y\n1,2\n", &bad).unwrap_err();
        assert!(matches!(e, DataError::UnknownColumn { .. }));
        assert!(e.to_string().contains("did you mean `g`"));
    }

    #[test]
    fn stray_token_in_numeric_column_is_announced() {
        // one `n/a` among numbers: read as text (as R does), with a warning naming it
        let df = read("y,x\n1,2\n2,3\n3,n/a\n4,5\n").unwrap();
        assert_eq!(fac(&df, "x").levels, vec!["2", "3", "5", "n/a"]);
        assert_eq!(num(&df, "y").len(), 4);
        let w = df.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            matches!(&w[0], DataWarning::ReadAsText { column, token, location: crate::Location::Line(4), numeric: 3, text: 1, .. } if column == "x" && token == "n/a"),
            "{w:?}"
        );
        let m = w[0].to_string();
        assert!(
            m.contains("t.csv, line 4, column `x`") && m.contains("`n/a`") && m.contains("NA"),
            "{m}"
        );
        // `?` and a quoted decimal comma; the decimal-comma hint
        let df = read("y,x\n1,\"0,5\"\n2,3\n3,?\n4,5\n5,6\n").unwrap();
        let m = df.warnings()[0].to_string();
        assert!(
            m.contains("`0,5`") && m.contains("`0.5`") && m.contains("line 2"),
            "{m}"
        );
        assert!(m.contains("one of 2 fields"), "{m}");
        // a real category among numbers (`3+` on many rows): no warning
        let many = format!("x\n{}", "0\n1\n2\n3+\n".repeat(10));
        assert!(read(&many).unwrap().warnings().is_empty());
        // NA and empty are missing: no warning; a text column: no warning
        let df = read("y,x,g\n1,NA,a\n2,,b\n3,4,c\n").unwrap();
        assert!(df.warnings().is_empty(), "{:?}", df.warnings());
        // in-memory data: none
        assert!(DataFrame::new("m").warnings().is_empty());
    }

    #[test]
    fn ids_with_leading_zeros_are_announced() {
        // `01` and `1` are one number (as in R): the reader says so, naming the column and
        // the pair; 8 ids read as 4 distinct numbers
        let df = read("id,y\n1,1\n01,2\n2,3\n02,4\n3,5\n03,6\n4,7\n04,8\n").unwrap();
        assert_eq!(num(&df, "id")[1], Some(1.0));
        let w = df.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            matches!(&w[0], DataWarning::SameNumber { column, spelling, other, location: crate::Location::Line(3), .. }
                if column == "id" && spelling == "01" && other == "1"),
            "{w:?}"
        );
        let m = w[0].to_string();
        assert!(
            m.contains("line 3, column `id`") && m.contains("`01` and `1`") && m.contains("group"),
            "{m}"
        );
        // two odd spellings of one number; `1.0` against `1`
        let df = read("id\n001\n01\n").unwrap();
        assert!(
            matches!(&df.warnings()[0], DataWarning::SameNumber { spelling, other, .. } if spelling == "001" && other == "01")
        );
        let df = read("x\n2.5\n1.0\n1\n").unwrap();
        assert!(
            matches!(&df.warnings()[0], DataWarning::SameNumber { spelling, other, .. } if spelling == "1.0" && other == "1")
        );
        // consistent spellings: no warning (zero-padded ids alone, decimals, plain integers,
        // -0 alone)
        for ok in [
            "id\n01\n02\n10\n",
            "x\n1.0\n2.0\n",
            "x\n1\n2\n-3\n0\n",
            "x\n0.5\n1.5\n",
            "x\n-0\n2\n",
        ] {
            let df = read(ok).unwrap();
            assert!(df.warnings().is_empty(), "{ok:?}: {:?}", df.warnings());
        }
    }

    #[test]
    fn semicolon_or_tab_separated_file_is_named() {
        for (text, sep, word) in [
            ("y;x;g\n1;2;a\n3;4;b\n", ';', "semicolon-separated"),
            ("y\tx\tg\n1\t2\ta\n3\t4\tb\n", '\t', "tab-separated"),
        ] {
            let df = read(text).unwrap();
            assert_eq!(df.ncols(), 1);
            let w = df.warnings();
            assert!(
                matches!(&w[0], DataWarning::Separator { separator, .. } if *separator == sep),
                "{w:?}"
            );
            let m = w[0].to_string();
            assert!(
                m.contains("t.csv, line 1") && m.contains("1 column") && m.contains(word),
                "{m}"
            );
            // the "unknown column" error built here carries the same note
            let e = df.unknown_column_error("x").to_string();
            assert!(e.contains("no column `x`") && e.contains(word), "{e}");
        }
        // a comma-separated file with `;` inside a quoted name of several columns: nothing
        let df = read("\"a;b\",c\n1,2\n").unwrap();
        assert!(df.warnings().is_empty());
        let e = df.unknown_column_error("x").to_string();
        assert!(!e.contains("separated"), "{e}");
    }

    #[test]
    fn endless_input_stops_with_one_error() {
        // a reader that never ends and has no line break (as /dev/zero)
        let e = read_bounded(std::io::repeat(0), "zero", 1 << 20, 1000).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { .. }), "{e:?}");
        let m = e.to_string();
        assert!(
            m.starts_with("zero: reading stopped after 1000 bytes without a line break")
                && m.contains("hint"),
            "{m}"
        );
        // one that never ends but has line breaks: the total bound
        let e = read_bounded(std::io::repeat(b'\n'), "nl", 1 << 20, 1000).unwrap_err();
        assert!(
            e.to_string().starts_with("nl: reading stopped after 1 MiB"),
            "{e}"
        );
        // a short stream is read whole
        let b = read_bounded(&b"y,x\n1,2\n"[..], "s", 100, 10).unwrap();
        assert_eq!(b, b"y,x\n1,2\n");
        // the real device, on systems that have it
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            let e = DataFrame::read_csv(zero, &ReadOptions::default()).unwrap_err();
            assert!(matches!(e, DataError::TooLarge { .. }), "{e:?}");
            assert!(
                e.to_string()
                    .starts_with("/dev/zero: reading stopped after 16 MiB"),
                "{e}"
            );
        }
        let null = Path::new("/dev/null");
        if null.exists() {
            let e = DataFrame::read_csv(null, &ReadOptions::default()).unwrap_err();
            assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
        }
    }

    #[test]
    fn header_control_characters_and_long_names_in_errors() {
        // a duplicated header name holding an escape sequence: shown escaped
        let e = read("\u{1b}[2Jy,\u{1b}[2Jy\n1,2\n").unwrap_err();
        let m = e.to_string();
        assert!(!m.contains('\u{1b}') && m.contains("`\\x1b[2Jy`"), "{m}");
        // a 131 KB name: the unknown-column error shows a window, not the whole name
        let long = "v".repeat(131_072);
        let df = read(&format!("{long},y\n1,2\n")).unwrap();
        let m = df.unknown_column_error(&long).to_string();
        assert!(
            m.len() < 1000 && m.contains("… (131072 characters)"),
            "{}",
            m.len()
        );
        // control characters in a level reach messages escaped too
        let df = read("x\n1\n2\n\u{7}\n3\n").unwrap();
        let m = df.warnings()[0].to_string();
        assert!(!m.contains('\u{7}') && m.contains("`\\x07`"), "{m}");
    }

    #[test]
    fn file_round_trip() {
        let dir = std::env::temp_dir().join(format!("mlframe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("small.csv");
        std::fs::write(&path, "y,g\n1,a\n2,b\n").unwrap();
        let df = DataFrame::read_csv(&path, &ReadOptions::default()).unwrap();
        assert_eq!(df.name(), "small.csv");
        assert_eq!(df.nrows(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
