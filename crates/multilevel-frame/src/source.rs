//! Reading a data file whose format is recognised from its content, not its name.
//!
//! - Compression: gzip (`1f 8b`) and zstd (`28 b5 2f fd`) are recognised by their magic bytes
//!   and decompressed (at most [`MAX_DECOMPRESSED`] bytes), then the content is recognised again.
//! - Binary formats with a signature (Parquet, Arrow IPC/Feather, Stata `.dta`, SPSS `.sav`) go
//!   to their readers; a binary file of another kind (a ZIP/Excel file, a PDF, an R workspace)
//!   is an error naming what it looks like and the formats that are read.
//! - Anything else is delimited text. The delimiter (comma, tab or semicolon) is the one that
//!   splits the header into the most fields with every sampled row agreeing (see
//!   [`detect_delimiter`]), unless given. A detected delimiter that differs from what the file's
//!   name suggests (`.csv` → comma, `.tsv`/`.tab` → tab) is reported as a
//!   [`crate::DataWarning::Delimiter`].
//! - The path `-` is standard input, read with the same bounds as a pipe.

use std::io::Read;
use std::path::Path;

use crate::data::{DataFrame, ReadOptions};
use crate::error::{DataError, DataWarning};

/// Most bytes a compressed file may expand to: 4 GiB (a data table this large does not fit the
/// in-memory engine anyway; the bound stops a decompression bomb).
pub(crate) const MAX_DECOMPRESSED: usize = 4 << 30;

/// Bytes of the file's start used to detect the delimiter.
const SAMPLE_BYTES: usize = 64 << 10;
/// Records of that sample used to detect the delimiter.
const SAMPLE_RECORDS: usize = 100;

/// A data format recognised from the first bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text (CSV, TSV, semicolon-separated).
    Text,
    /// gzip-compressed content.
    Gzip,
    /// zstd-compressed content.
    Zstd,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (Feather version 2).
    ArrowFile,
    /// Arrow IPC stream format.
    ArrowStream,
    /// Stata `.dta`.
    Stata,
    /// SPSS `.sav`.
    Spss,
}

/// What a binary file that is not read looks like, from its signature, or `None` when the
/// signature is not known.
fn known_other(bytes: &[u8]) -> Option<&'static str> {
    const SAS: [u8; 32] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc2, 0xea, 0x81, 0x60, 0xb3, 0x14, 0x11, 0xcf, 0xbd,
        0x92, 0x08, 0x00, 0x09, 0xc7, 0x31, 0x8c, 0x18, 0x1f, 0x10, 0x11,
    ];
    let table: [(&[u8], &str); 14] = [
        (
            b"PK\x03\x04",
            "a ZIP archive (an Excel .xlsx or OpenDocument .ods spreadsheet is one)",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "an old Excel .xls spreadsheet (OLE2 compound file)",
        ),
        (b"%PDF", "a PDF document"),
        (b"RDX2\n", "an R workspace (.RData)"),
        (b"RDX3\n", "an R workspace (.RData)"),
        (b"X\n\x00\x00\x00", "an R .rds file"),
        (b"BZh", "a bzip2-compressed file"),
        (b"\xfd7zXZ\x00", "an xz-compressed file"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"SQLite format 3\x00", "an SQLite database"),
        (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
        (b"\x89PNG", "a PNG image"),
        (
            b"FEA1",
            "a Feather version 1 file (superseded by Feather version 2)",
        ),
        (b"$FL3", "an SPSS compressed .zsav file"),
    ];
    if bytes.get(..32) == Some(&SAS[..]) {
        return Some("a SAS .sas7bdat file");
    }
    table
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, what)| *what)
}

/// The format of `bytes`, from their signature; `None` for a binary file of an unknown kind.
pub fn detect_format(bytes: &[u8]) -> Option<Format> {
    let f = if bytes.starts_with(b"\x1f\x8b") {
        Format::Gzip
    } else if bytes.starts_with(b"\x28\xb5\x2f\xfd") {
        Format::Zstd
    } else if bytes.starts_with(b"PAR1") {
        Format::Parquet
    } else if bytes.starts_with(b"ARROW1") {
        Format::ArrowFile
    } else if bytes.starts_with(b"\xff\xff\xff\xff") && bytes.len() >= 8 {
        Format::ArrowStream
    } else if bytes.starts_with(b"<stata_dta>") || old_stata(bytes) {
        Format::Stata
    } else if bytes.starts_with(b"$FL2") {
        Format::Spss
    } else if known_other(bytes).is_some() || looks_binary(bytes) {
        return None;
    } else {
        Format::Text
    };
    Some(f)
}

/// Stata formats 102–115 (before the XML-like header of 117+): a version byte, a byte-order
/// byte (1 = big-endian, 2 = little-endian), a file-type byte 1 and an unused byte 0.
fn old_stata(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some([
            102 | 103 | 104 | 105 | 108 | 110 | 111 | 112 | 113 | 114 | 115,
            1 | 2,
            1,
            0
        ])
    )
}

/// Whether the start of a file is binary rather than text: a NUL byte, or many control bytes
/// other than tab, line breaks and form feed.
fn looks_binary(bytes: &[u8]) -> bool {
    let head = bytes.get(..8192).unwrap_or(bytes);
    if head.contains(&0) {
        return true;
    }
    let control = head
        .iter()
        .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c))
        .count();
    control * 20 > head.len().max(1)
}

/// The delimiter of delimited text: among comma, tab and semicolon, the one that splits the
/// header into the most fields (at least 2) such that every sampled record has as many fields
/// (or all have one more: row names); failing that, the one whose header has the most fields;
/// failing that (a one-column file), comma. Ties go to comma, then tab.
pub fn detect_delimiter(bytes: &[u8]) -> u8 {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let sample = match bytes.get(..SAMPLE_BYTES) {
        // cut at the last line break, so that the last sampled record is whole
        Some(head) if head.len() < bytes.len() => match head.iter().rposition(|b| *b == b'\n') {
            Some(end) => head.get(..end).unwrap_or(head),
            None => head,
        },
        _ => bytes,
    };
    let mut best: Option<((bool, usize), u8)> = None;
    for d in [b',', b'\t', b';'] {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(d)
            .from_reader(sample);
        let mut counts = Vec::new();
        for rec in reader.byte_records().take(SAMPLE_RECORDS) {
            match rec {
                Ok(r) => counts.push(r.len()),
                Err(_) => break,
            }
        }
        let Some((&h, rows)) = counts.split_first() else {
            continue;
        };
        if h < 2 {
            continue;
        }
        let consistent = match rows.first() {
            Some(&first) => (first == h || first == h + 1) && rows.iter().all(|n| *n == first),
            None => true,
        };
        let score = (consistent, h);
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, d));
        }
    }
    best.map_or(b',', |(_, d)| d)
}

/// The delimiter a file's name suggests: tab for `.tsv`/`.tab` (also before `.gz`/`.zst`),
/// comma otherwise.
fn expected_delimiter(name: &str) -> u8 {
    let lower = name.to_ascii_lowercase();
    let base = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".zst"))
        .unwrap_or(&lower);
    if base.ends_with(".tsv") || base.ends_with(".tab") {
        b'\t'
    } else {
        b','
    }
}

/// Decompress `bytes` (gzip, possibly several members, or zstd), bounded by `max` bytes out.
fn decompress(name: &str, bytes: &[u8], format: Format, max: usize) -> Result<Vec<u8>, DataError> {
    let what = match format {
        Format::Gzip => "a gzip-compressed file",
        _ => "a zstd-compressed file",
    };
    let fail = |message: String| DataError::Format {
        file: name.to_string(),
        format: what.to_string(),
        message,
        hint: "check that the file was copied whole, or decompress it and read the result"
            .to_string(),
    };
    let mut out = Vec::new();
    let limit = max as u64 + 1;
    let got = match format {
        Format::Gzip => flate2::read::MultiGzDecoder::new(bytes)
            .take(limit)
            .read_to_end(&mut out),
        _ => match zstd::stream::read::Decoder::with_buffer(bytes) {
            Ok(d) => d.take(limit).read_to_end(&mut out),
            Err(e) => Err(e),
        },
    };
    got.map_err(|e| fail(e.to_string()))?;
    if out.len() > max {
        return Err(DataError::Format {
            file: name.to_string(),
            format: what.to_string(),
            message: format!("it expands to more than {} GiB", max >> 30),
            hint: "read a smaller file, or split the data".to_string(),
        });
    }
    Ok(out)
}

impl DataFrame {
    /// Read a data file of any supported format, recognised from its content (see the module
    /// docs): delimited text (optionally gzip- or zstd-compressed; `delimiter` forces the field
    /// separator, otherwise it is detected), Parquet, Arrow IPC/Feather, Stata `.dta`, SPSS
    /// `.sav`. The path `-` reads standard input. The data frame is named after the file's name
    /// (without directories), or `standard input`.
    pub fn read_data(
        path: &Path,
        opts: &ReadOptions,
        delimiter: Option<u8>,
    ) -> Result<Self, DataError> {
        if path.as_os_str() == "-" {
            let name = "standard input";
            let bytes = crate::csvread::read_bounded(
                std::io::stdin().lock(),
                name,
                crate::csvread::MAX_STREAM_BYTES,
                usize::MAX,
            )?;
            return Self::from_data_bytes(name, &bytes, opts, delimiter);
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bytes = crate::csvread::read_input(path)?;
        Self::from_data_bytes(&name, &bytes, opts, delimiter)
    }

    /// Read data of any supported format held in memory (see [`DataFrame::read_data`]); `name`
    /// is used in messages and, by its extension, to decide whether a detected delimiter is
    /// worth a warning.
    pub fn from_data_bytes(
        name: &str,
        bytes: &[u8],
        opts: &ReadOptions,
        delimiter: Option<u8>,
    ) -> Result<Self, DataError> {
        Self::from_data_bytes_nested(name, bytes, opts, delimiter, 0)
    }

    fn from_data_bytes_nested(
        name: &str,
        bytes: &[u8],
        opts: &ReadOptions,
        delimiter: Option<u8>,
        depth: u32,
    ) -> Result<Self, DataError> {
        let unknown = |looks: String| DataError::UnknownFormat {
            file: name.to_string(),
            looks,
            hint: "export the data as CSV (or one of the formats read) and read that file"
                .to_string(),
        };
        match detect_format(bytes) {
            None => Err(unknown(match known_other(bytes) {
                Some(what) => format!("the file looks like {what}"),
                None => "the file is binary data of an unknown kind (not text)".to_string(),
            })),
            Some(f @ (Format::Gzip | Format::Zstd)) => {
                if depth > 0 {
                    return Err(unknown("the file is compressed twice over".to_string()));
                }
                let inner = decompress(name, bytes, f, MAX_DECOMPRESSED)?;
                Self::from_data_bytes_nested(name, &inner, opts, delimiter, depth + 1)
            }
            Some(Format::Text) => {
                let d = match delimiter {
                    Some(d) => d,
                    None => detect_delimiter(bytes),
                };
                let mut df = Self::from_delimited_bytes(name, bytes, opts, d)?;
                if delimiter.is_none() && d != expected_delimiter(name) {
                    df.push_warning(DataWarning::Delimiter {
                        file: name.to_string(),
                        delimiter: char::from(d),
                    });
                }
                Ok(df)
            }
            #[cfg(feature = "formats")]
            Some(Format::Parquet) => crate::arrow::read_parquet(name, bytes, opts),
            #[cfg(feature = "formats")]
            Some(Format::ArrowFile) => crate::arrow::read_arrow_ipc(name, bytes, false, opts),
            #[cfg(feature = "formats")]
            Some(Format::ArrowStream) => crate::arrow::read_arrow_ipc(name, bytes, true, opts),
            #[cfg(feature = "formats")]
            Some(Format::Stata) => crate::stata::read_stata(name, bytes, opts),
            #[cfg(feature = "formats")]
            Some(Format::Spss) => crate::spss::read_spss(name, bytes, opts),
            #[cfg(not(feature = "formats"))]
            Some(f) => Err(unknown(format!(
                "the file looks like {}, which this build does not read (the `formats` feature is off)",
                match f {
                    Format::Parquet => "a Parquet file",
                    Format::ArrowFile => "an Arrow IPC (Feather version 2) file",
                    Format::ArrowStream => "an Arrow IPC stream",
                    Format::Stata => "a Stata .dta file",
                    _ => "an SPSS .sav file",
                }
            ))),
        }
    }
}

#[cfg_attr(not(feature = "formats"), allow(dead_code))]
/// Apply [`ReadOptions`]' factor and ordered-factor columns to data read from a binary format.
pub(crate) fn apply_factor_options(
    mut df: DataFrame,
    opts: &ReadOptions,
) -> Result<DataFrame, DataError> {
    for c in &opts.factor_columns {
        df = df.to_factor(c, false)?;
    }
    for c in &opts.ordered_columns {
        df = df.to_factor(c, true)?;
    }
    Ok(df)
}
