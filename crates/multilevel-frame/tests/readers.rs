//! Readers chosen by content: delimiter detection, compressed text, R's row names, and the
//! one-line error for binary files of other kinds. The files are written by the tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use multilevel_frame::{
    Column, DataError, DataFrame, DataWarning, Format, ReadOptions, detect_delimiter, detect_format,
};

fn read(name: &str, bytes: &[u8]) -> Result<DataFrame, DataError> {
    DataFrame::from_data_bytes(name, bytes, &ReadOptions::default(), None)
}

fn num(df: &DataFrame, c: &str) -> Vec<Option<f64>> {
    match df.column(c) {
        Some(Column::Numeric(v)) => v.clone(),
        other => panic!("{c} not numeric: {other:?}"),
    }
}

fn levels(df: &DataFrame, c: &str) -> Vec<String> {
    match df.column(c) {
        Some(Column::Factor(f)) => f.levels.clone(),
        other => panic!("{c} not a factor: {other:?}"),
    }
}

const COMMA: &str = "y,x,g\n1.5,2,a\n2.5,,b\n3,4,a\n";

#[test]
fn delimiters_are_detected() {
    assert_eq!(detect_delimiter(COMMA.as_bytes()), b',');
    let tsv = COMMA.replace(',', "\t");
    assert_eq!(detect_delimiter(tsv.as_bytes()), b'\t');
    // semicolons with decimal commas inside fields: the semicolon wins (3 fields per line)
    let semi = "y;x;g\n1,5;2;a\n2,5;;b\n3;4;a\n";
    assert_eq!(detect_delimiter(semi.as_bytes()), b';');
    // a one-column file: comma
    assert_eq!(detect_delimiter(b"y\n1\n2\n"), b',');
    // a comma inside quotes does not count; tabs split every line into 2
    assert_eq!(
        detect_delimiter(b"name\tv\n\"a,b\"\t1\n\"c,d\"\t2\n"),
        b'\t'
    );
}

#[test]
fn tab_and_semicolon_files_read_like_csv() {
    let want = read("d.csv", COMMA.as_bytes()).unwrap();
    assert!(want.warnings().is_empty());
    let tsv = COMMA.replace(',', "\t");
    let df = read("d.tsv", tsv.as_bytes()).unwrap();
    assert_eq!(df.column_names(), vec!["y", "x", "g"]);
    assert_eq!(num(&df, "y"), num(&want, "y"));
    assert_eq!(num(&df, "x"), vec![Some(2.0), None, Some(4.0)]);
    assert_eq!(levels(&df, "g"), vec!["a", "b"]);
    // a .tsv file separated by tabs is what its name says: no warning
    assert!(df.warnings().is_empty(), "{:?}", df.warnings());
    // the same bytes named .csv: read the same, with a warning naming the delimiter
    let df = read("d.csv", tsv.as_bytes()).unwrap();
    assert_eq!(num(&df, "x"), vec![Some(2.0), None, Some(4.0)]);
    let w = df.warnings();
    assert!(
        matches!(
            w,
            [DataWarning::Delimiter {
                delimiter: '\t',
                ..
            }]
        ),
        "{w:?}"
    );
    let m = w[0].to_string();
    assert!(m.starts_with("d.csv: ") && m.contains("tabs"), "{m}");

    let semi = read("s.csv", b"Reaction;Days;Subject\n250;0;a\n260;1;a\n").unwrap();
    assert_eq!(semi.column_names(), vec!["Reaction", "Days", "Subject"]);
    assert_eq!(num(&semi, "Days"), vec![Some(0.0), Some(1.0)]);
    assert!(semi.warnings()[0].to_string().contains("semicolons"));
}

#[test]
fn forced_delimiter_is_used() {
    let opts = ReadOptions::default();
    // forced comma on a semicolon file: one column, and the old separator warning
    let df = DataFrame::from_data_bytes("s.csv", b"a;b\n1;2\n", &opts, Some(b',')).unwrap();
    assert_eq!(df.column_names(), vec!["a;b"]);
    assert!(matches!(
        df.warnings(),
        [DataWarning::Separator { separator: ';', .. }]
    ));
    // forced pipe
    let df = DataFrame::from_data_bytes("p.txt", b"a|b\n1|x\n", &opts, Some(b'|')).unwrap();
    assert_eq!(df.column_names(), vec!["a", "b"]);
    assert!(df.warnings().is_empty());
}

#[test]
fn row_names_of_write_table() {
    // R: write.table(data.frame(y = c(1.5, 2), g = c("a", "b")), row.names = TRUE)
    let text = "\"y\" \"g\"\n\"1\" 1.5 \"a\"\n\"2\" 2 \"b\"\n";
    let df = DataFrame::from_data_bytes(
        "wt.txt",
        text.as_bytes(),
        &ReadOptions::default(),
        Some(b' '),
    )
    .unwrap();
    assert_eq!(df.column_names(), vec!["y", "g"]);
    assert_eq!(num(&df, "y"), vec![Some(1.5), Some(2.0)]);
    assert_eq!(levels(&df, "g"), vec!["a", "b"]);
    let w = df.warnings();
    assert!(
        matches!(w, [DataWarning::RowNames { columns: 2, .. }]),
        "{w:?}"
    );
    let m = w[0].to_string();
    assert!(
        m.contains("wt.txt, line 1") && m.contains("row name"),
        "{m}"
    );
    // tab-separated with row names: detected (rows have one field more than the header)
    let df = read("r.tsv", b"y\tx\nr1\t1\t2\nr2\t3\t4\nr3\t5\t6\n").unwrap();
    assert_eq!(df.column_names(), vec!["y", "x"]);
    assert_eq!(num(&df, "x"), vec![Some(2.0), Some(4.0), Some(6.0)]);
    // a later row with the header's count is still a ragged row, reported on its line
    let e = read("r.csv", b"y,x\nr1,1,2\n3,4\n").unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Ragged {
                line: 3,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{e:?}"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_and_zstd_text() {
    let gz = gzip(COMMA.as_bytes());
    assert_eq!(detect_format(&gz), Some(Format::Gzip));
    let df = read("d.csv.gz", &gz).unwrap();
    assert_eq!(num(&df, "y"), vec![Some(1.5), Some(2.5), Some(3.0)]);
    assert!(df.warnings().is_empty());
    // a gzip TSV named .tsv.gz: tabs expected, no warning
    let df = read("d.tsv.gz", &gzip(COMMA.replace(',', "\t").as_bytes())).unwrap();
    assert_eq!(levels(&df, "g"), vec!["a", "b"]);
    assert!(df.warnings().is_empty());

    let zst = zstd::encode_all(COMMA.as_bytes(), 3).unwrap();
    assert_eq!(detect_format(&zst), Some(Format::Zstd));
    let df = read("d.csv.zst", &zst).unwrap();
    assert_eq!(num(&df, "x"), vec![Some(2.0), None, Some(4.0)]);

    // truncated compressed data: an error naming the file and the format, no panic
    for (name, bytes) in [("t.csv.gz", &gz), ("t.csv.zst", &zst)] {
        let cut = &bytes[..bytes.len() / 2];
        let e = read(name, cut).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, DataError::Format { .. }), "{e:?}");
        assert!(
            m.starts_with(name) && m.contains("compressed") && m.contains("hint"),
            "{m}"
        );
    }
}

#[test]
fn binary_files_of_other_kinds_get_one_line() {
    let cases: [(&[u8], &str); 5] = [
        (b"PK\x03\x04\x14\x00\x06\x00rest", "ZIP"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Excel"),
        (b"%PDF-1.7\n%\xe2\xe3", "PDF"),
        (b"\x00\x01\x02\x03\x04binary", "binary data"),
        (b"RDX3\nX\n", "R workspace"),
    ];
    for (bytes, what) in cases {
        let e = read("data.bin", bytes).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, DataError::UnknownFormat { .. }), "{e:?}");
        assert!(
            m.starts_with("data.bin: ")
                && m.contains(what)
                && m.contains("Parquet")
                && !m.contains('\n'),
            "{m}"
        );
    }
    // a gzip-compressed R workspace (what save() writes) is named after decompression
    let e = read("ws.RData", &gzip(b"RDX3\nX\n\x00\x00\x00\x03")).unwrap_err();
    assert!(e.to_string().contains("R workspace"), "{e}");
}

#[test]
fn malformed_bytes_never_panic() {
    // every prefix of each kind of input, and a few byte flips: errors or data, never a panic
    let gz = gzip(COMMA.as_bytes());
    let inputs: Vec<Vec<u8>> = vec![
        COMMA.as_bytes().to_vec(),
        gz,
        b"PAR1\x00\x00".to_vec(),
        b"ARROW1\x00\x00".to_vec(),
        b"<stata_dta><header>".to_vec(),
        b"$FL2@(#) SPSS".to_vec(),
        vec![0x71, 2, 1, 0, 5, 0],
    ];
    for input in &inputs {
        for end in 0..input.len() {
            let _ = read("p.csv", &input[..end]);
        }
        for i in 0..input.len() {
            let mut v = input.clone();
            v[i] ^= 0xa5;
            let _ = read("p.csv", &v);
        }
    }
}

#[test]
fn read_data_reads_files_by_content() {
    let dir = std::env::temp_dir().join(format!("mlf-readers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // a gzip file with a misleading name is still read by content
    let p = dir.join("data.txt");
    std::fs::write(&p, gzip(b"a;b\n1;2\n3;4\n")).unwrap();
    let df = DataFrame::read_data(&p, &ReadOptions::default(), None).unwrap();
    assert_eq!(df.name(), "data.txt");
    assert_eq!(num(&df, "b"), vec![Some(2.0), Some(4.0)]);
    let e =
        DataFrame::read_data(&dir.join("absent.csv"), &ReadOptions::default(), None).unwrap_err();
    assert!(e.to_string().starts_with("absent.csv") || e.to_string().contains("absent.csv"));
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(feature = "formats")]
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[cfg(feature = "formats")]
fn codes_as_labels(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    match df.column(c) {
        Some(Column::Factor(f)) => (0..f.codes.len())
            .map(|i| f.label(i).map(str::to_string))
            .collect(),
        other => panic!("{c} not a factor: {other:?}"),
    }
}

/// hsb.dta (Stata 13, written by haven from mlmRev::Hsb82, see tests/data/write_fixtures.R)
/// reads to the same values as the CSV haven's script wrote beside it, with value labels as
/// factor levels.
#[cfg(feature = "formats")]
#[test]
fn stata_hsb_reads_like_its_csv() {
    let p = fixture("hsb.dta");
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(detect_format(&bytes), Some(Format::Stata));
    let df = DataFrame::read_data(&p, &ReadOptions::default(), None).unwrap();
    let csv = DataFrame::read_csv(&fixture("hsb_expected.csv"), &ReadOptions::default()).unwrap();
    assert_eq!(df.column_names(), csv.column_names());
    assert_eq!(df.nrows(), csv.nrows());
    assert!(df.nrows() > 50);
    // write.csv keeps 15 significant digits; the .dta file holds the full doubles
    for c in ["school", "ses", "mAch", "meanses", "cses"] {
        let (a, b) = (num(&df, c), num(&csv, c));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            let (x, y) = (x.unwrap(), y.unwrap());
            assert!((x - y).abs() <= 1e-13 * y.abs().max(1.0), "{c}: {x} vs {y}");
        }
    }
    // value labels: levels in the order of the values (Male = 1, Female = 2)
    assert_eq!(levels(&df, "sx"), vec!["Male", "Female"]);
    // the 3 schools are public: only the labels of values that occur are levels
    assert_eq!(levels(&df, "sector"), vec!["Public"]);
    // the CSV holds the labelled values as numbers (1 = Male, 2 = Female; 0 = Public)
    let sx: Vec<Option<String>> = num(&csv, "sx")
        .iter()
        .map(|x| Some(if *x == Some(1.0) { "Male" } else { "Female" }.to_string()))
        .collect();
    assert_eq!(codes_as_labels(&df, "sx"), sx);
    assert!(num(&csv, "sector").iter().all(|x| *x == Some(0.0)));
    // a string variable: byte-ordered levels as in CSV
    assert_eq!(levels(&df, "minrty"), levels(&csv, "minrty"));
    assert_eq!(
        codes_as_labels(&df, "minrty"),
        codes_as_labels(&csv, "minrty")
    );
}

#[cfg(feature = "formats")]
#[test]
fn stata_labels_and_missing_values() {
    let df = DataFrame::read_data(&fixture("labelled.dta"), &ReadOptions::default(), None).unwrap();
    assert_eq!(df.column_names(), vec!["yval", "fval", "grp", "txt"]);
    assert_eq!(
        num(&df, "yval"),
        vec![Some(1.5), None, Some(3.25), Some(4.0), Some(5.0)]
    );
    assert_eq!(
        num(&df, "fval"),
        vec![Some(0.5), Some(1.5), None, Some(2.5), Some(3.5)]
    );
    // used values only, in value order; 9 has no label and prints as the number
    assert_eq!(levels(&df, "grp"), vec!["low", "mid", "high", "9"]);
    assert_eq!(
        codes_as_labels(&df, "grp"),
        vec![
            Some("high".to_string()),
            Some("low".to_string()),
            Some("mid".to_string()),
            None,
            Some("9".to_string())
        ]
    );
    // Stata's empty string is missing
    assert_eq!(levels(&df, "txt"), vec!["a", "b", "c"]);
    assert_eq!(df.column("txt").unwrap().n_missing(), 1);
    // a truncated file: one error naming the file and the format
    let bytes = std::fs::read(fixture("labelled.dta")).unwrap();
    for end in [10, 100, bytes.len() / 2, bytes.len() - 3] {
        let e = read("cut.dta", &bytes[..end]).unwrap_err();
        let m = e.to_string();
        assert!(m.starts_with("cut.dta") && m.contains("Stata"), "{m}");
    }
}

/// Lengths a .dta file declares are checked against the bytes that follow before the reader
/// allocates for them: a 1 KB file claiming a 4 GiB expansion field, 65,535 variables or a
/// 4 GiB characteristic is one error line, not gigabytes of memory (found by the fuzzer).
#[cfg(feature = "formats")]
#[test]
fn stata_declared_lengths_are_checked_before_reading() {
    let good = std::fs::read(fixture("labelled.dta")).unwrap();
    // format 115, little-endian, 4 variables: the expansion fields start after the 109-byte
    // header, the type list (4), names (4 x 33), sort list (2 x 5), formats (4 x 49), value
    // label names (4 x 33) and variable labels (4 x 81)
    assert_eq!((good[0], good[1], good[4]), (115, 2, 4));
    let at = 109 + 4 + 4 * 33 + 2 * 5 + 4 * 49 + 4 * 33 + 4 * 81;
    let mut bad = good.clone();
    bad[at] = 2; // an expansion type readers skip
    bad[at + 1..at + 5].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let m = read("big.dta", &bad).unwrap_err().to_string();
    assert!(
        m.starts_with("big.dta")
            && m.contains("an expansion field at byte 912 claims 4294967280 bytes"),
        "{m}"
    );

    let mut bad = good.clone();
    bad[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
    let m = read("wide.dta", &bad).unwrap_err().to_string();
    assert!(m.contains("declares 65535 variables"), "{m}");

    // No variables and 1.4 billion observations (found by fuzzing): refused at once instead
    // of reading 1.4 billion empty records.
    let mut bad = good[..109].to_vec();
    bad[4..6].copy_from_slice(&0u16.to_le_bytes());
    bad[6..10].copy_from_slice(&0x5300_0000u32.to_le_bytes());
    bad.extend_from_slice(&[0u8; 88]);
    let m = read("empty.dta", &bad).unwrap_err().to_string();
    assert!(
        m.starts_with("empty.dta") && m.contains("declares no variables"),
        "{m}"
    );

    // format 117 (hsb.dta): a `<ch>` entry claiming 4 GiB inserted into its characteristics
    let good = std::fs::read(fixture("hsb.dta")).unwrap();
    let tag = b"<characteristics>";
    let pos = good.windows(tag.len()).position(|w| w == tag).unwrap() + tag.len();
    let mut bad = good[..pos].to_vec();
    bad.extend_from_slice(b"<ch>");
    bad.extend_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    bad.extend_from_slice(&good[pos..]);
    let m = read("ch.dta", &bad).unwrap_err().to_string();
    assert!(
        m.contains("a characteristic at byte") && m.contains("claims 4294967040 bytes"),
        "{m}"
    );
}

#[cfg(feature = "formats")]
mod arrow_data {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array,
        RecordBatch, StringArray, types::Int8Type,
    };

    fn batch() -> RecordBatch {
        let y: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.5),
            None,
            Some(f64::NAN),
            Some(4.0),
        ]));
        let n: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(4)]));
        let x: ArrayRef = Arc::new(Float32Array::from(vec![0.5f32, 1.0, 1.5, 2.0]));
        // dictionary order z, a (an R factor with levels z, a)
        let g: DictionaryArray<Int8Type> = vec![Some("z"), Some("a"), None, Some("z")]
            .into_iter()
            .collect();
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("q"),
            Some("p"),
            Some("q"),
            None,
        ]));
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![true, false, true, true]));
        RecordBatch::try_from_iter(vec![
            ("y", y),
            ("n", n),
            ("x", x),
            ("g", Arc::new(g) as ArrayRef),
            ("s", s),
            ("b", b),
        ])
        .unwrap()
    }

    fn check(df: &DataFrame) {
        assert_eq!(df.column_names(), vec!["y", "n", "x", "g", "s", "b"]);
        assert_eq!(num(df, "y"), vec![Some(1.5), None, None, Some(4.0)]);
        assert_eq!(num(df, "n"), vec![Some(1.0), Some(2.0), None, Some(4.0)]);
        assert_eq!(
            num(df, "x"),
            vec![Some(0.5), Some(1.0), Some(1.5), Some(2.0)]
        );
        assert_eq!(levels(df, "g"), vec!["z", "a"]);
        assert_eq!(
            codes_as_labels(df, "g"),
            vec![Some("z".into()), Some("a".into()), None, Some("z".into())]
        );
        assert_eq!(levels(df, "s"), vec!["p", "q"]);
        assert_eq!(df.column("s").unwrap().n_missing(), 1);
        assert_eq!(levels(df, "b"), vec!["FALSE", "TRUE"]);
    }

    #[test]
    fn record_batch_in_memory() {
        let df = DataFrame::from_record_batch("mem", &batch()).unwrap();
        check(&df);
        // two batches: the second dictionary adds a level at the end
        let b2 = batch();
        let g2: DictionaryArray<Int8Type> = vec![Some("m"), Some("a"), Some("m"), Some("a")]
            .into_iter()
            .collect();
        let mut cols = b2.columns().to_vec();
        cols[3] = Arc::new(g2);
        let b2 = RecordBatch::try_new(b2.schema(), cols).unwrap();
        let df = DataFrame::from_record_batches("mem", &batch().schema(), &[batch(), b2]).unwrap();
        assert_eq!(df.nrows(), 8);
        assert_eq!(levels(&df, "g"), vec!["z", "a", "m"]);
        // infinite values are an error naming the column and row
        let inf: ArrayRef = Arc::new(Float64Array::from(vec![1.0, f64::INFINITY]));
        let bad = RecordBatch::try_from_iter(vec![("v", inf)]).unwrap();
        let e = DataFrame::from_record_batch("mem", &bad).unwrap_err();
        assert!(
            e.to_string().contains("row 2") && e.to_string().contains("`v`"),
            "{e}"
        );
    }

    #[test]
    fn parquet_file() {
        let mut buf = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch().schema(), None).unwrap();
        w.write(&batch()).unwrap();
        w.close().unwrap();
        assert_eq!(detect_format(&buf), Some(Format::Parquet));
        let df = read("d.parquet", &buf).unwrap();
        check(&df);
        // --factor applies to binary formats too
        let opts = ReadOptions {
            factor_columns: vec!["n".into()],
            ..ReadOptions::default()
        };
        let df = DataFrame::from_data_bytes("d.parquet", &buf, &opts, None).unwrap();
        assert_eq!(levels(&df, "n"), vec!["1", "2", "4"]);
        // truncated: an error naming the file and the format
        for end in [4, 20, buf.len() / 2, buf.len() - 1] {
            let e = read("cut.parquet", &buf[..end]).unwrap_err();
            let m = e.to_string();
            assert!(m.starts_with("cut.parquet") && m.contains("Parquet"), "{m}");
        }
    }

    #[test]
    fn arrow_ipc_file_and_stream() {
        let mut file = Vec::new();
        let mut w = arrow_ipc::writer::FileWriter::try_new(&mut file, &batch().schema()).unwrap();
        w.write(&batch()).unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(detect_format(&file), Some(Format::ArrowFile));
        check(&read("d.feather", &file).unwrap());
        let mut stream = Vec::new();
        let mut w =
            arrow_ipc::writer::StreamWriter::try_new(&mut stream, &batch().schema()).unwrap();
        w.write(&batch()).unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(detect_format(&stream), Some(Format::ArrowStream));
        check(&read("d.arrows", &stream).unwrap());
        let e = read("cut.feather", &file[..file.len() / 2]).unwrap_err();
        assert!(
            e.to_string().contains("cut.feather") && e.to_string().contains("Arrow"),
            "{e}"
        );
    }
}

/// labelled.sav and labelled_bytecode.sav (haven's write_sav, uncompressed and bytecode
/// compressed): the table of labelled.dta, with a long variable name.
#[cfg(feature = "formats")]
#[test]
fn spss_uncompressed_and_bytecode() {
    for file in ["labelled.sav", "labelled_bytecode.sav"] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        assert_eq!(detect_format(&bytes), Some(Format::Spss));
        let df = read(file, &bytes).unwrap();
        assert_eq!(
            df.column_names(),
            vec!["yval", "fval_long_name", "grp", "txt"],
            "{file}"
        );
        assert_eq!(
            num(&df, "yval"),
            vec![Some(1.5), None, Some(3.25), Some(4.0), Some(5.0)],
            "{file}"
        );
        assert_eq!(
            num(&df, "fval_long_name"),
            vec![Some(0.5), Some(1.5), None, Some(2.5), Some(3.5)]
        );
        assert_eq!(
            levels(&df, "grp"),
            vec!["low", "mid", "high", "9"],
            "{file}"
        );
        assert_eq!(
            codes_as_labels(&df, "grp"),
            vec![
                Some("high".to_string()),
                Some("low".to_string()),
                Some("mid".to_string()),
                None,
                Some("9".to_string())
            ]
        );
        assert_eq!(levels(&df, "txt"), vec!["a", "b", "c"]);
        assert_eq!(df.column("txt").unwrap().n_missing(), 1);
        // every truncation is an error naming the file and the format, never a panic
        for end in 0..bytes.len() {
            if let Err(e) = read(file, &bytes[..end]) {
                let m = e.to_string();
                assert!(m.starts_with(file), "{m}");
            }
        }
    }
}

/// A 1,099-byte Parquet file found by fuzzing whose embedded Arrow schema has a type id the
/// Arrow crate does not know: the crate panics ("Type NONE not supported"); the reader gives
/// one error naming the file and the format instead, and the process goes on.
#[cfg(feature = "formats")]
#[test]
fn a_panic_inside_the_arrow_decoder_is_an_error() {
    let bytes = std::fs::read(fixture("fuzz_ipc_schema_type_none.parquet")).unwrap();
    let m = read("odd.parquet", &bytes).unwrap_err().to_string();
    assert!(
        m.starts_with("odd.parquet") && m.contains("Parquet") && m.contains("cannot be decoded"),
        "{m}"
    );
    assert_eq!(m.lines().count(), 1, "{m}");
    // The panic hook is back afterwards: a good file still reads.
    let good = std::fs::read(fixture("labelled.dta")).unwrap();
    assert!(read("labelled.dta", &good).is_ok());
}

/// An 18-byte Arrow IPC stream found by fuzzing whose first message declares 1.86 GB: refused
/// from its length prefix before the Arrow crate allocates that much.
#[cfg(feature = "formats")]
#[test]
fn an_arrow_stream_declaring_more_than_the_file_holds_is_refused() {
    let bytes = std::fs::read(fixture("fuzz_ipc_stream_huge_length.arrows")).unwrap();
    assert_eq!(bytes.len(), 18);
    let m = read("big.arrows", &bytes).unwrap_err().to_string();
    assert!(
        m.starts_with("big.arrows") && m.contains("declares 1862270975 bytes"),
        "{m}"
    );
}
