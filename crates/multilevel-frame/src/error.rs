//! Error types of the data layer ([`DataError`]) and of model-frame construction ([`FrameError`]).
//!
//! Every variant displays as ONE line that names the data (file name or data-set name), the
//! place (a 1-based file line — the header is line 1 — or a 1-based row of in-memory data), the
//! column or expression, and ends with a hint saying what to do next.

use thiserror::Error;

/// An error while building or reading a [`crate::DataFrame`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DataError {
    /// The file does not exist or cannot be read.
    #[error(
        "{file}: cannot read the file: {message}; hint: check the path and the file permissions",
        file = shown_long(.file),
        message = shown_long(.message)
    )]
    Io {
        /// File path as given.
        file: String,
        /// The operating system's message.
        message: String,
    },
    /// A file that is not a regular file (a device, a pipe) gave more input than is sane for
    /// a data table; reading stopped there.
    #[error(
        "{file}: reading stopped after {what}: it is not a regular file and does not look like CSV data; hint: check the path, or save the data to a regular CSV file first",
        file = shown_long(.file)
    )]
    TooLarge {
        /// File path as given.
        file: String,
        /// What was read (`16 MiB without a line break`, `1 GiB`).
        what: String,
    },
    /// The file has no bytes (or only blank lines).
    #[error(
        "{file}: the file is empty; hint: line 1 must be a header naming the columns (e.g. `y,x,g`) followed by one line per observation",
        file = shown_long(.file)
    )]
    Empty {
        /// File name.
        file: String,
    },
    /// The file has a header line but no data rows.
    #[error(
        "{file}: line 1 is a header ({columns} columns) but there are no data rows; hint: add one line per observation below the header",
        file = shown_long(.file)
    )]
    NoRows {
        /// File name.
        file: String,
        /// Number of columns named by the header.
        columns: usize,
    },
    /// A data row has a different number of fields than the header.
    #[error(
        "{file}, line {line}: {found} fields but the header (line 1) has {expected}; hint: check for a missing or extra separator, and quote text that contains commas",
        file = shown_long(.file)
    )]
    Ragged {
        /// File name.
        file: String,
        /// 1-based line of the row in the file.
        line: u64,
        /// Number of header fields.
        expected: usize,
        /// Number of fields on this line.
        found: usize,
    },
    /// Two columns share a name.
    #[error(
        "{file}, line 1, column `{column}`: the name is used by columns {first} and {second}; hint: give every column a distinct name",
        file = shown_long(.file),
        column = shown(.column)
    )]
    DuplicateColumn {
        /// Data name.
        file: String,
        /// The repeated name.
        column: String,
        /// 1-based position of the first column with the name.
        first: usize,
        /// 1-based position of the second column with the name.
        second: usize,
    },
    /// A numeric column holds `Inf`, `-Inf` or `NaN`.
    #[error(
        "{file}, {location}, column `{column}`: `{value}` is not a finite number; hint: write a missing value as NA or an empty field (infinite and NaN values cannot be modelled)",
        file = shown_long(.file),
        column = shown(.column),
        value = shown(.value)
    )]
    NonFinite {
        /// Data name.
        file: String,
        /// `line N` (file) or `row N` (in-memory data).
        location: Location,
        /// Column name.
        column: String,
        /// The offending field as written.
        value: String,
    },
    /// The CSV parser rejected the input (e.g. an unterminated quote).
    #[error(
        "{file}, line {line}: malformed CSV: {message}; hint: check the quoting on that line",
        file = shown_long(.file),
        message = shown_long(.message)
    )]
    Csv {
        /// File name.
        file: String,
        /// 1-based line where the problem was detected.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// A field is not valid UTF-8.
    #[error(
        "{file}, line {line}, column `{column}`: the text is not valid UTF-8; hint: re-save the file with UTF-8 encoding",
        file = shown_long(.file),
        column = shown(.column)
    )]
    Encoding {
        /// File name.
        file: String,
        /// 1-based line.
        line: u64,
        /// Column name (or `#k` for a header field).
        column: String,
    },
    /// An in-memory column has the wrong length.
    #[error(
        "{file}, column `{column}`: {found} values but the data has {expected} rows; hint: every column must have one value per row",
        file = shown_long(.file),
        column = shown(.column)
    )]
    LengthMismatch {
        /// Data name.
        file: String,
        /// Column name.
        column: String,
        /// Rows of the data.
        expected: usize,
        /// Values supplied.
        found: usize,
    },
    /// A column name that the data does not have.
    #[error(
        "{file}: no column `{column}`{suggestion}; hint: the columns are {available}",
        file = shown_long(.file),
        column = shown(.column),
        suggestion = escaped(.suggestion),
        available = escaped(.available)
    )]
    UnknownColumn {
        /// Data name.
        file: String,
        /// Requested name.
        column: String,
        /// `" (did you mean `x`?)"` or empty.
        suggestion: String,
        /// Comma-separated list of the column names (followed by a note on the separator when
        /// the file looks separated by something other than commas).
        available: String,
    },
    /// A factor code that does not index the level list.
    #[error(
        "{file}, row {row}, column `{column}`: level code {code} but only {nlevels} levels; hint: codes are 0-based indices into the level list",
        file = shown_long(.file),
        column = shown(.column)
    )]
    BadFactorCode {
        /// Data name.
        file: String,
        /// Column name.
        column: String,
        /// 1-based row.
        row: usize,
        /// The code.
        code: u32,
        /// Number of levels.
        nlevels: usize,
    },
    /// A factor level list with a repeated label.
    #[error(
        "{file}, column `{column}`: level `{level}` is listed twice; hint: factor levels must be distinct",
        file = shown_long(.file),
        column = shown(.column),
        level = shown(.level)
    )]
    DuplicateLevel {
        /// Data name.
        file: String,
        /// Column name.
        column: String,
        /// The repeated level.
        level: String,
    },
    /// A reference level that the factor does not have, or a reference level asked of a
    /// column that is not a factor.
    #[error(
        "{file}, column `{column}`: {problem}; hint: {hint}",
        file = shown_long(.file),
        column = shown(.column)
    )]
    BadReferenceLevel {
        /// Data name.
        file: String,
        /// Column name.
        column: String,
        /// What is wrong (`it has no level "Z"`, `it is numeric, not a factor`).
        problem: String,
        /// What to do instead (the levels it has, or how to make it a factor).
        hint: String,
    },
    /// A file whose content is not a data format that is read (a spreadsheet, a PDF, binary
    /// data).
    #[error(
        "{file}: {looks}, not a data format that can be read; the formats read are CSV or other delimited text (also gzip- or zstd-compressed), Parquet, Arrow IPC/Feather, Stata .dta and SPSS .sav; hint: {hint}",
        file = shown_long(.file)
    )]
    UnknownFormat {
        /// File name.
        file: String,
        /// What the bytes look like (`the file looks like a ZIP archive (an Excel .xlsx file is one)`).
        looks: String,
        /// What to do.
        hint: String,
    },
    /// A file in a recognised format that could not be read (corrupt, truncated, or using a
    /// feature the reader lacks).
    #[error(
        "{file}: cannot read it as {format}: {message}; hint: {hint}",
        file = shown_long(.file),
        message = shown_long(.message)
    )]
    Format {
        /// File name.
        file: String,
        /// The format (`a gzip-compressed file`, `a Parquet file`, ...).
        format: String,
        /// What went wrong (with the place in the file where known).
        message: String,
        /// What to do.
        hint: String,
    },
    /// An empty column name.
    #[error(
        "{file}: column {position} has an empty name; hint: give every column a name",
        file = shown_long(.file)
    )]
    EmptyName {
        /// Data name.
        file: String,
        /// 1-based column position.
        position: usize,
    },
}

/// An error while building a [`crate::ModelFrame`] from a formula and data.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FrameError {
    /// A problem with the data itself.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The formula names a column that the data does not have.
    #[error(
        "{data}: {message} (formula `{formula}`, position {column}){hint}",
        data = shown_long(.data),
        message = shown_long(.message),
        formula = formula_window(.formula, *.column),
        hint = escaped(.hint)
    )]
    UnknownColumn {
        /// Data name.
        data: String,
        /// The formula error's message (names the column and the nearest candidate).
        message: String,
        /// The formula text.
        formula: String,
        /// 1-based character position in the formula (0 when unknown).
        column: usize,
        /// `"; hint: ..."` or empty.
        hint: String,
    },
    /// A factor (text) column used where numbers are needed.
    #[error(
        "{data}, {location}, column `{column}`: `{expression}` needs numbers but `{column}` holds text (e.g. `{value}`); hint: {}",
        not_numeric_hint(.column, *.from_text),
        data = shown_long(.data),
        column = shown(.column),
        expression = shown_expr(.expression),
        value = shown(.value)
    )]
    NotNumeric {
        /// Data name.
        data: String,
        /// Column name.
        column: String,
        /// The expression that needed numbers.
        expression: String,
        /// Place of the first non-missing value (`line N` / `row N`).
        location: Location,
        /// That value.
        value: String,
        /// Whether the column is a text column of the data (rather than made a factor by
        /// `factor()`); chooses the hint.
        from_text: bool,
    },
    /// Evaluation produced an infinite or NaN value on a row of the model frame.
    #[error(
        "{data}, {location}: `{expression}` evaluates to {value}; hint: the transformation is undefined there (e.g. log of 0, sqrt of a negative number, division by 0): fix or drop that row, or shift the variable",
        data = shown_long(.data),
        expression = shown_expr(.expression),
        value = shown(.value)
    )]
    NonFinite {
        /// Data name.
        data: String,
        /// The expression.
        expression: String,
        /// Row (`line N` / `row N`).
        location: Location,
        /// The value (`-Inf`, `NaN`, ...).
        value: String,
    },
    /// A grouping factor with one level on the rows used.
    #[error(
        "{data}, column `{column}`: grouping factor `{group}` has a single level (`{level}`) on the {n} rows used; hint: a random effect needs a grouping factor with at least 2 levels; remove the term or check the data",
        data = shown_long(.data),
        column = shown(.column),
        group = shown(.group),
        level = shown(.level)
    )]
    SingleLevelGroup {
        /// Data name.
        data: String,
        /// Grouping-factor label (`g` or `a:b`).
        group: String,
        /// The column(s) involved.
        column: String,
        /// The only level.
        level: String,
        /// Rows used.
        n: usize,
    },
    /// The numeric response has the same value on every row.
    #[error(
        "{data}, column `{column}`: the response `{response}` is constant ({value} on all {n} rows used); hint: a model needs a response that varies; check the column",
        data = shown_long(.data),
        column = shown(.column),
        response = shown(.response),
        value = shown(.value)
    )]
    ConstantResponse {
        /// Data name.
        data: String,
        /// Response label.
        response: String,
        /// Column(s) the response uses.
        column: String,
        /// The constant value.
        value: String,
        /// Rows used.
        n: usize,
    },
    /// Every row has a missing value in some variable the formula uses.
    #[error(
        "{data}: all {nrows} rows were dropped for missing values (missing per column: {detail}); hint: check the columns named above, or remove variables that are mostly missing",
        data = shown_long(.data),
        detail = escaped(.detail)
    )]
    AllRowsDropped {
        /// Data name.
        data: String,
        /// Rows of the data.
        nrows: usize,
        /// `` `x` 10, `y` 3 `` — missing counts of the columns used.
        detail: String,
    },
    /// The weights column does not exist.
    #[error(
        "{data}: weights column `{column}` not found{suggestion}; hint: the columns are {available}",
        data = shown_long(.data),
        column = shown(.column),
        suggestion = escaped(.suggestion),
        available = escaped(.available)
    )]
    WeightsNotFound {
        /// Data name.
        data: String,
        /// Requested column.
        column: String,
        /// `" (did you mean `x`?)"` or empty.
        suggestion: String,
        /// The columns of the data.
        available: String,
    },
    /// The weights column holds text.
    #[error(
        "{data}, column `{column}`: weights must be numbers but the column holds text; hint: use a numeric column for the weights",
        data = shown_long(.data),
        column = shown(.column)
    )]
    WeightsNotNumeric {
        /// Data name.
        data: String,
        /// Column.
        column: String,
    },
    /// A negative prior weight.
    #[error(
        "{data}, {location}, column `{column}`: weight {value} is negative; hint: prior weights must be zero or positive",
        data = shown_long(.data),
        column = shown(.column),
        value = shown(.value)
    )]
    NegativeWeight {
        /// Data name.
        data: String,
        /// Column.
        column: String,
        /// Row.
        location: Location,
        /// The weight.
        value: String,
    },
    /// `poly()` on a variable with missing values.
    #[error(
        "{data}, {location}: `{expression}` cannot be computed because its argument is missing there; hint: poly() needs complete data (as in R): drop the rows with missing values first",
        data = shown_long(.data),
        expression = shown_expr(.expression)
    )]
    PolyMissing {
        /// Data name.
        data: String,
        /// The poly() call.
        expression: String,
        /// First row with a missing argument.
        location: Location,
    },
    /// `poly(x, k)` with `k` not below the number of distinct values of `x`.
    #[error(
        "{data}: `{expression}`: degree {degree} needs at least {needed} distinct values but the argument has {unique}; hint: lower the degree",
        data = shown_long(.data),
        expression = shown_expr(.expression)
    )]
    PolyDegree {
        /// Data name.
        data: String,
        /// The poly() call.
        expression: String,
        /// Requested degree.
        degree: usize,
        /// Distinct values needed (`degree + 1`).
        needed: usize,
        /// Distinct values present.
        unique: usize,
    },
    /// A function call the evaluator does not support, or bad arguments.
    #[error(
        "{data}: `{expression}`: {message}; hint: {hint}",
        data = shown_long(.data),
        expression = shown_expr(.expression),
        message = shown_long(.message),
        hint = escaped(.hint)
    )]
    BadCall {
        /// Data name.
        data: String,
        /// The call.
        expression: String,
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// A multi-column value (e.g. `poly()`) or factor where one numeric column is needed.
    #[error(
        "{data}: `{expression}` cannot be used as {role}; hint: {hint}",
        data = shown_long(.data),
        expression = shown_expr(.expression),
        hint = escaped(.hint)
    )]
    WrongKind {
        /// Data name.
        data: String,
        /// The expression.
        expression: String,
        /// `the response`, `an offset`, ...
        role: String,
        /// What to do.
        hint: String,
    },
}

/// Something the CSV reader did that can change what a model means without being an error:
/// the data are read as R's `read.csv` reads them, and the warning says how. Read them with
/// [`crate::DataFrame::warnings`]; each displays as one line naming the file, the place, the
/// column and the token, ending with a hint.
#[derive(Debug, Clone, PartialEq)]
pub enum DataWarning {
    /// A column whose values are nearly all numbers was read as text (a factor) because of a
    /// few fields that are not numbers (at most 2, or at most 5% of its non-missing fields) (`n/a`, `?`, `0,5`, ...). Only empty fields and `NA` are
    /// missing values (as in R), so the column stays text; the warning names the first such
    /// field.
    ReadAsText {
        /// File name.
        file: String,
        /// Column name.
        column: String,
        /// The first field that is not a number, as written.
        token: String,
        /// Where that field is.
        location: Location,
        /// Number of fields of the column that are numbers.
        numeric: usize,
        /// Number of non-missing fields of the column that are not numbers.
        text: usize,
    },
    /// A numeric column holds two spellings of one whole number (`01` and `1`, `1.0` and `1`,
    /// `1e1` and `10`): they are the same number, as in R's `read.csv`, so a grouping factor
    /// made from the column merges them. Typically numeric-looking identifiers with leading
    /// zeros.
    SameNumber {
        /// File name.
        file: String,
        /// Column name.
        column: String,
        /// One spelling (not the plain integer form), as written.
        spelling: String,
        /// Where that spelling first occurs.
        location: Location,
        /// Another spelling of the same number.
        other: String,
    },
    /// The header has one column whose name contains `;` or a tab: the file is probably
    /// separated by that character, not by commas, and was read as one column.
    Separator {
        /// File name.
        file: String,
        /// The header's only name.
        header: String,
        /// The separator the file seems to use.
        separator: char,
    },
    /// The header names one column fewer than the data rows have fields: R's `write.table`
    /// layout, where the first field of each row is its row name. The row names are not read as
    /// a variable (as R's `read.table` makes them row names).
    RowNames {
        /// File name.
        file: String,
        /// Number of columns the header names (the variables read).
        columns: usize,
    },
    /// The delimiter was detected from the file's first lines and differs from what its name
    /// suggests (a `.csv` file separated by semicolons, say).
    Delimiter {
        /// File name.
        file: String,
        /// The delimiter used.
        delimiter: char,
    },
}

/// `commas`, `tabs`, `semicolons`, or the character itself in backquotes: how messages name a
/// field delimiter.
pub fn delimiter_name(c: char) -> String {
    match c {
        ',' => "commas".to_string(),
        '\t' => "tabs".to_string(),
        ';' => "semicolons".to_string(),
        '|' => "pipes (`|`)".to_string(),
        ' ' => "spaces".to_string(),
        c => format!("`{}` characters", escaped(&c.to_string())),
    }
}

/// The phrase describing a separator the file seems to use, and what to do about it.
pub(crate) fn separator_phrase(header: &str, separator: char) -> String {
    let (name, what) = match separator {
        ';' => ("semicolon", "semicolons"),
        '\t' => ("tab", "tabs"),
        _ => ("other", "another character"),
    };
    let n = header.matches(separator).count() + 1;
    format!(
        "the header has 1 column (`{}`) but {n} names separated by {what}: the file looks {name}-separated; save it with commas between fields (a CSV file)",
        shown(header)
    )
}

impl std::fmt::Display for DataWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataWarning::ReadAsText {
                file,
                column,
                token,
                location,
                numeric,
                text,
            } => {
                let token_t = token.trim();
                let others = if *text > 1 {
                    format!(" (one of {text} fields that are not numbers)")
                } else {
                    String::new()
                };
                write!(
                    f,
                    "{}, {location}, column `{}`: the column is read as text (a factor) because of `{}`{others}, though {numeric} of its values are numbers; hint: ",
                    shown_long(file),
                    shown(column),
                    shown(token_t),
                )?;
                if looks_decimal_comma(token_t) {
                    write!(
                        f,
                        "if `{}` is a number, write it with a decimal point (`{}`); ",
                        shown(token_t),
                        shown(&token_t.replace(',', "."))
                    )?;
                }
                write!(
                    f,
                    "if it means a missing value, write NA or leave the field empty (only those are missing, as in R's read.csv)"
                )
            }
            DataWarning::SameNumber {
                file,
                column,
                spelling,
                location,
                other,
            } => write!(
                f,
                "{}, {location}, column `{}`: `{}` and `{}` are read as the same number (as R's read.csv reads them), so a grouping factor made from this column puts them in one group; hint: if they are different identifiers, make the column text (e.g. write a letter before each: `s{}`, `s{}`)",
                shown_long(file),
                shown(column),
                shown(spelling.trim()),
                shown(other.trim()),
                shown(spelling.trim()),
                shown(other.trim()),
            ),
            DataWarning::Separator {
                file,
                header,
                separator,
            } => write!(
                f,
                "{}, line 1: {}",
                shown_long(file),
                separator_phrase(header, *separator)
            ),
            DataWarning::RowNames { file, columns } => write!(
                f,
                "{}, line 1: the header names {columns} columns but the rows have {} fields: the first field of each row is read as its row name (R's write.table layout), not as a variable; hint: if it is data, give it a name in the header",
                shown_long(file),
                columns + 1
            ),
            DataWarning::Delimiter { file, delimiter } => write!(
                f,
                "{}: the fields are separated by {} (detected from the first lines), and the file was read that way; hint: if that is wrong, set the delimiter explicitly",
                shown_long(file),
                delimiter_name(*delimiter)
            ),
        }
    }
}

/// Whether `t` looks like a number written with a decimal comma (`0,5`, `-12,25`).
fn looks_decimal_comma(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    match t.split_once(',') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Widest name or value shown whole in a message (in characters).
const NAME_WIDTH: usize = 60;
/// Widest expression or formula shown whole in a message.
const EXPR_WIDTH: usize = 80;
/// Widest file name or quoted message shown whole.
const LONG_WIDTH: usize = 200;

/// `s` with control characters (and the bidirectional-override characters, which reorder what
/// a terminal shows) written as escapes: `\x1b`, `\x0a`, `\u{202e}`. Everything else is kept.
pub(crate) fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            let u = c as u32;
            if u < 0x100 {
                out.push_str(&format!("\\x{u:02x}"));
            } else {
                out.push_str(&format!("\\u{{{u:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` escaped and, when longer than `width` characters, cut to its first `width` followed by
/// `…` and the full length.
fn cut(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return escaped(s);
    }
    let head: String = s.chars().take(width).collect();
    format!("{}… ({n} characters)", escaped(&head))
}

/// A column name, level or value as shown in messages: escaped, at most 60 characters.
pub(crate) fn shown(s: &str) -> String {
    cut(s, NAME_WIDTH)
}

/// An expression as shown in messages: escaped, at most 80 characters.
pub(crate) fn shown_expr(s: &str) -> String {
    cut(s, EXPR_WIDTH)
}

/// A file name or a message from elsewhere: escaped, at most 200 characters.
pub(crate) fn shown_long(s: &str) -> String {
    cut(s, LONG_WIDTH)
}

/// A formula as shown in messages: escaped; when longer than 80 characters, the 80 around the
/// 1-based character position `pos` (the place the message is about), with `…` at cut ends.
pub(crate) fn formula_window(s: &str, pos: usize) -> String {
    let n = s.chars().count();
    if n <= EXPR_WIDTH {
        return escaped(s);
    }
    let start = pos
        .saturating_sub(1)
        .saturating_sub(EXPR_WIDTH / 2)
        .min(n - EXPR_WIDTH);
    let mid: String = s.chars().skip(start).take(EXPR_WIDTH).collect();
    let pre = if start > 0 { "…" } else { "" };
    let post = if start + EXPR_WIDTH < n { "…" } else { "" };
    format!("{pre}{}{post}", escaped(&mid))
}

/// A place in the data: a line of a CSV file (header = line 1) or a 1-based row of in-memory
/// data. Displays as `line 7` / `row 6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// 1-based line of a file.
    Line(u64),
    /// 1-based row of in-memory data.
    Row(usize),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Line(l) => write!(f, "line {l}"),
            Location::Row(r) => write!(f, "row {r}"),
        }
    }
}

fn not_numeric_hint(column: &str, from_text: bool) -> String {
    let column = shown(column);
    if from_text {
        format!(
            "`{column}` is a text column (a factor), so it cannot enter arithmetic or functions such as log(); if it should be numeric, fix the entries that are not numbers (write missing values as NA or leave them empty)"
        )
    } else {
        format!(
            "`{column}` is a factor; use it as a term on its own, not inside arithmetic or functions such as log()"
        )
    }
}

/// Levenshtein distance between two strings (by `char`), for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `" (did you mean `x`?)"` for the nearest candidate within a small edit distance (case-
/// insensitive match first), or an empty string.
pub(crate) fn suggestion(name: &str, candidates: &[&str]) -> String {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return format!(" (did you mean `{}`?)", shown(c));
    }
    let len = name.chars().count();
    let limit = (len / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean `{}`?)", shown(c)))
        .unwrap_or_default()
}

/// The column names as a short comma-separated list (at most 20 shown).
pub(crate) fn list_columns(names: &[&str]) -> String {
    let listed: Vec<String> = names
        .iter()
        .take(20)
        .map(|n| format!("`{}`", shown(n)))
        .collect();
    let mut s = listed.join(", ");
    if names.len() > 20 {
        s.push_str(&format!(", … ({} in all)", names.len()));
    }
    if s.is_empty() {
        s.push_str("(none)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("Days", "days"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn control_characters_are_escaped_and_long_names_cut() {
        assert_eq!(
            escaped("a\u{1b}[31mb\tc\u{202e}d"),
            "a\\x1b[31mb\\x09c\\u{202e}d"
        );
        assert_eq!(shown("Days"), "Days");
        let long = "x".repeat(131_072);
        let s = shown(&long);
        assert!(
            s.starts_with(&"x".repeat(60)) && s.ends_with("… (131072 characters)"),
            "{s}"
        );
        assert!(s.chars().count() < 90);
        // a formula window around the place the message is about
        let f = format!("y ~ {} + zz", "(".repeat(200));
        let w = formula_window(&f, f.len() - 1);
        assert!(
            w.starts_with('…') && w.ends_with("+ zz") && w.chars().count() <= 81,
            "{w}"
        );
        let w = formula_window(&f, 1);
        assert!(w.starts_with("y ~ (") && w.ends_with('…'), "{w}");
        assert_eq!(formula_window("y ~ x", 5), "y ~ x");
    }

    #[test]
    fn suggestion_picks_nearest() {
        assert_eq!(
            suggestion("Dyas", &["Days", "Subject"]),
            " (did you mean `Days`?)"
        );
        assert_eq!(
            suggestion("days", &["Days", "Subject"]),
            " (did you mean `Days`?)"
        );
        assert_eq!(suggestion("zzzzzz", &["Days", "Subject"]), "");
    }
}

#[cfg(test)]
mod size_tests {
    /// Small enough that `Result<_, FrameError>` does not trip clippy's `result_large_err`
    /// (128 bytes) here or in crates that return it.
    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<super::FrameError>() < 128);
        assert!(std::mem::size_of::<super::DataError>() < 128);
    }
}
