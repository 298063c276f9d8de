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
