//! Reading SPSS `.sav` files (uncompressed or bytecode-compressed, either byte order), written
//! from the documented layout of the system file format.
//!
//! - Numeric variables are numeric columns; the system-missing value is missing. A numeric
//!   variable with value labels is a factor as for Stata (levels: the values that occur, in
//!   increasing order, labelled where a label exists).
//! - String variables (up to 255 bytes) are factors with levels in byte order; trailing blanks
//!   are removed and an empty string is missing.
//! - Long variable names (record 7, subtype 13) replace the 8-byte short names.
//! - Not read: zlib-compressed `.zsav` files and strings longer than 255 bytes (each is one
//!   error naming the file).

use std::collections::HashMap;

use crate::data::{Column, DataFrame, ReadOptions};
use crate::error::DataError;
use crate::stata::{labelled_factor, text_factor};

const FORMAT: &str = "an SPSS .sav file";
/// SPSS's system-missing value: the most negative finite double.
const SYSMIS: f64 = -f64::MAX;
/// Most variables accepted (bounds the allocations a corrupt header could ask for).
const MAX_VARS: usize = 1 << 20;

/// A cursor over the file's bytes in its byte order; every read is bounds-checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    little: bool,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn i32(&mut self) -> Option<i32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(if self.little {
            i32::from_le_bytes(b)
        } else {
            i32::from_be_bytes(b)
        })
    }
    fn f64(&mut self) -> Option<f64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(self.f64_of(b))
    }
    fn f64_of(&self, b: [u8; 8]) -> f64 {
        if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    }
}

/// One variable of the dictionary (its first 8-byte segment is `segment`).
struct Var {
    name: String,
    /// 0 = numeric, else the string width in bytes.
    width: usize,
    segment: usize,
}

fn fail(file: &str, message: impl Into<String>) -> DataError {
    DataError::Format {
        file: file.to_string(),
        format: FORMAT.to_string(),
        message: message.into(),
        hint: "check that the file was copied whole, or save it from SPSS again (uncompressed or compressed, not .zsav)".to_string(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches([' ', '\0'])
        .to_string()
}

/// Read an SPSS `.sav` file held in memory.
pub(crate) fn read_spss(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<DataFrame, DataError> {
    let short = |what: &str| fail(name, format!("the file ends inside the {what}"));
    let layout = bytes.get(64..68).ok_or_else(|| short("header"))?;
    let little = matches!(layout, [2 | 3, 0, 0, 0]);
    let mut c = Cursor {
        bytes,
        pos: 0,
        little,
    };
    c.take(64).ok_or_else(|| short("header"))?;
    let _layout = c.i32().ok_or_else(|| short("header"))?;
    let _case_size = c.i32().ok_or_else(|| short("header"))?;
    let compression = c.i32().ok_or_else(|| short("header"))?;
    let _weight = c.i32().ok_or_else(|| short("header"))?;
    let ncases = c.i32().ok_or_else(|| short("header"))?;
    let bias = c.f64().ok_or_else(|| short("header"))?;
    c.take(9 + 8 + 64 + 3).ok_or_else(|| short("header"))?;
    if compression == 2 {
        return Err(fail(
            name,
            "it is zlib-compressed (.zsav), which is not read",
        ));
    }
    if compression != 0 && compression != 1 {
        return Err(fail(
            name,
            format!("unknown compression code {compression}"),
        ));
    }

    // ---- dictionary ----
    let mut vars: Vec<Var> = Vec::new();
    let mut segments = 0usize;
    let mut labels: HashMap<usize, Vec<(f64, String)>> = HashMap::new();
    let mut long_names: Option<String> = None;
    loop {
        let rec = c.i32().ok_or_else(|| short("dictionary"))?;
        match rec {
            2 => {
                let typ = c.i32().ok_or_else(|| short("variable record"))?;
                let has_label = c.i32().ok_or_else(|| short("variable record"))?;
                let n_missing = c.i32().ok_or_else(|| short("variable record"))?;
                c.take(8).ok_or_else(|| short("variable record"))?;
                let vname = text(c.take(8).ok_or_else(|| short("variable record"))?);
                if has_label == 1 {
                    let len = c.i32().ok_or_else(|| short("variable label"))?;
                    let len = usize::try_from(len).map_err(|_| fail(name, "bad label length"))?;
                    c.take(len.div_ceil(4) * 4)
                        .ok_or_else(|| short("variable label"))?;
                }
                let nm = n_missing.unsigned_abs() as usize;
                c.take(nm.checked_mul(8).ok_or_else(|| short("missing values"))?)
                    .ok_or_else(|| short("missing values"))?;
                segments += 1;
                if typ >= 0 {
                    if vars.len() >= MAX_VARS {
                        return Err(fail(name, "too many variables"));
                    }
                    vars.push(Var {
                        name: vname,
                        width: typ as usize,
                        segment: segments - 1,
                    });
                }
            }
            3 => {
                let n = c.i32().ok_or_else(|| short("value labels"))?;
                let n = usize::try_from(n).map_err(|_| fail(name, "bad value-label count"))?;
                let mut set = Vec::new();
                for _ in 0..n {
                    let raw: [u8; 8] = c
                        .take(8)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| short("value labels"))?;
                    let len =
                        *c.take(1)
                            .and_then(|b| b.first())
                            .ok_or_else(|| short("value labels"))? as usize;
                    let padded = (len + 1).div_ceil(8) * 8 - 1;
                    let lab = c.take(padded).ok_or_else(|| short("value labels"))?;
                    set.push((c.f64_of(raw), text(lab.get(..len).unwrap_or(lab))));
                }
                if c.i32() != Some(4) {
                    return Err(fail(
                        name,
                        "a value-label record is not followed by its variables",
                    ));
                }
                let k = c.i32().ok_or_else(|| short("value labels"))?;
                let k = usize::try_from(k).map_err(|_| fail(name, "bad variable count"))?;
                for _ in 0..k {
                    let idx = c.i32().ok_or_else(|| short("value labels"))?;
                    if let Ok(i) = usize::try_from(idx) {
                        labels.insert(i.saturating_sub(1), set.clone());
                    }
                }
            }
            6 => {
                let n = c.i32().ok_or_else(|| short("documents"))?;
                let n = usize::try_from(n).map_err(|_| fail(name, "bad document count"))?;
                c.take(n.checked_mul(80).ok_or_else(|| short("documents"))?)
                    .ok_or_else(|| short("documents"))?;
            }
            7 => {
                let subtype = c.i32().ok_or_else(|| short("extension record"))?;
                let size = c.i32().ok_or_else(|| short("extension record"))?;
                let count = c.i32().ok_or_else(|| short("extension record"))?;
                let n = usize::try_from(size)
                    .ok()
                    .zip(usize::try_from(count).ok())
                    .and_then(|(s, n)| s.checked_mul(n))
                    .ok_or_else(|| fail(name, "bad extension record size"))?;
                let data = c.take(n).ok_or_else(|| short("extension record"))?;
                match subtype {
                    13 => long_names = Some(String::from_utf8_lossy(data).into_owned()),
                    14 => {
                        return Err(fail(
                            name,
                            "it has strings longer than 255 bytes, which are not read",
                        ));
                    }
                    _ => {}
                }
            }
            999 => {
                c.i32().ok_or_else(|| short("dictionary"))?;
                break;
            }
            other => {
                return Err(fail(
                    name,
                    format!("unknown record type {other} in the dictionary"),
                ));
            }
        }
    }
    if let Some(map) = long_names {
        for pair in map.split('\t') {
            if let Some((s, l)) = pair.split_once('=')
                && let Some(v) = vars.iter_mut().find(|v| v.name == s)
            {
                v.name = l.trim_end_matches(['\0', ' ']).to_string();
            }
        }
    }

    // ---- data: a stream of 8-byte segments ----
    let mut seg_values: Vec<[u8; 8]> = Vec::new();
    if compression == 0 {
        let rest = c.bytes.get(c.pos..).unwrap_or(&[]);
        for chunk in rest.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            seg_values.push(b);
        }
    } else {
        'blocks: while let Some(cmds) = c.take(8) {
            for &code in cmds {
                let v: [u8; 8] = match code {
                    0 => continue,
                    252 => break 'blocks,
                    253 => c
                        .take(8)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| short("compressed data"))?,
                    254 => *b"        ",
                    255 => {
                        if c.little {
                            SYSMIS.to_le_bytes()
                        } else {
                            SYSMIS.to_be_bytes()
                        }
                    }
                    k => {
                        let x = f64::from(k) - bias;
                        if c.little {
                            x.to_le_bytes()
                        } else {
                            x.to_be_bytes()
                        }
                    }
                };
                seg_values.push(v);
            }
        }
    }
    if segments == 0 {
        return Err(fail(name, "it has no variables"));
    }
    if !seg_values.len().is_multiple_of(segments) {
        return Err(short("last case"));
    }
    let nrows = seg_values.len() / segments;
    if let Ok(n) = usize::try_from(ncases)
        && n != nrows
    {
        return Err(fail(
            name,
            format!("the header says {n} cases but the data hold {nrows}"),
        ));
    }
    if nrows == 0 {
        return Err(DataError::NoRows {
            file: name.to_string(),
            columns: vars.len(),
        });
    }
    let mut df = DataFrame::new(name);
    for v in &vars {
        let column = if v.width == 0 {
            let values: Vec<Option<f64>> = (0..nrows)
                .map(|r| {
                    let b = seg_values.get(r * segments + v.segment).copied()?;
                    let x = c.f64_of(b);
                    (x != SYSMIS && x.is_finite()).then_some(x)
                })
                .collect();
            match labels.get(&v.segment) {
                Some(set) => Column::Factor(labelled_factor(&values, |x| {
                    set.iter().find(|(y, _)| *y == x).map(|(_, l)| l.clone())
                })),
                None => Column::Numeric(values),
            }
        } else {
            let nseg = v.width.div_ceil(8);
            let values: Vec<Option<String>> = (0..nrows)
                .map(|r| {
                    let start = r * segments + v.segment;
                    let segs = seg_values.get(start..start + nseg)?;
                    let raw: Vec<u8> = segs.iter().flatten().copied().take(v.width).collect();
                    let s = text(&raw);
                    (!s.is_empty()).then_some(s)
                })
                .collect();
            Column::Factor(text_factor(values))
        };
        df = df.with_column(&v.name, column)?;
    }
    crate::source::apply_factor_options(df, opts)
}
