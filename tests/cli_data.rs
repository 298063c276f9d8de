//! The CLI reads data by content: tab- and semicolon-separated text (detected, or forced with
//! `--delimiter`), gzip-compressed files, standard input (`--data -`), R's `write.table` row
//! names; a binary file of another kind fails with one line. Files are written by the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{GOOD_CSV, run, run_with, temp_dir, write};
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

const FORMULA: &str = "y ~ x + (1 | g)";

/// The JSON report of a fit, without the data's name (which differs between the files).
fn fit_json(args: &[&str], stdin: Option<&[u8]>) -> serde_json::Value {
    let mut all = vec!["fit", "--format", "json"];
    all.extend_from_slice(args);
    all.push(FORMULA);
    let r = run_with(&all, stdin);
    assert_eq!(r.code, Some(0), "{:?}: {}", args, r.stderr);
    let mut v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("data");
    }
    v
}

#[test]
fn every_text_layout_gives_the_same_fit() {
    let dir = temp_dir("layouts");
    let csv = write(&dir, "good.csv", GOOD_CSV.as_bytes());
    let want = fit_json(&["--data", &csv], None);
    assert!(
        want["deviance"].as_f64().is_some_and(f64::is_finite),
        "{want}"
    );

    let tsv_text = GOOD_CSV.replace(',', "\t");
    let tsv = write(&dir, "good.tsv", tsv_text.as_bytes());
    assert_eq!(fit_json(&["--data", &tsv], None), want, "tsv");
    let semi = write(&dir, "good_semi.csv", GOOD_CSV.replace(',', ";").as_bytes());
    assert_eq!(fit_json(&["--data", &semi], None), want, "semicolon");
    let gz = write(&dir, "good.tsv.gz", gzip(tsv_text.as_bytes()));
    assert_eq!(fit_json(&["--data", &gz], None), want, "gzip");
    let piped = fit_json(&["--data", "-"], Some(&gzip(GOOD_CSV.as_bytes())));
    assert_eq!(piped, want, "stdin");
    let pipe = write(&dir, "good.txt", GOOD_CSV.replace(',', "|").as_bytes());
    assert_eq!(
        fit_json(&["--data", &pipe, "--delimiter", "pipe"], None),
        want,
        "--delimiter pipe"
    );
    // R's write.table: quoted, space-separated, row names (header one field shorter)
    let mut wt = String::from("\"y\" \"x\" \"g\"\n");
    for (i, line) in GOOD_CSV.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        wt.push_str(&format!("\"{}\" {} {} \"{}\"\n", i + 1, f[0], f[1], f[2]));
    }
    let wt = write(&dir, "good_wt.txt", wt.as_bytes());
    let r = run(&["fit", "--data", &wt, "--delimiter", "space", FORMULA]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("row name"), "{}", r.stderr);
    assert_eq!(
        fit_json(&["--data", &wt, "--delimiter", " "], None),
        want,
        "write.table"
    );
}

#[test]
fn detected_delimiter_is_said() {
    let dir = temp_dir("said");
    let semi = write(&dir, "semi.csv", GOOD_CSV.replace(',', ";").as_bytes());
    let r = run(&["fit", "--data", &semi, FORMULA]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: ") && r.stderr.contains("semicolons"),
        "{}",
        r.stderr
    );
    // forcing comma gives the old one-column reading and its hint
    let r = run(&["fit", "--data", &semi, "--delimiter", ",", FORMULA]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.starts_with("error: ") && r.stderr.contains("semicolon-separated"),
        "{}",
        r.stderr
    );
    // a bad --delimiter is a usage error
    let r = run(&["fit", "--data", &semi, "--delimiter", "ab", FORMULA]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("not a delimiter"), "{}", r.stderr);
}

#[test]
fn other_binary_files_fail_with_one_line() {
    let dir = temp_dir("binary");
    let xlsx = write(&dir, "data.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00rest");
    let r = run(&["fit", "--data", &xlsx, FORMULA]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("data.xlsx") && r.stderr.contains("Excel") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );
    let bad_gz = write(&dir, "cut.csv.gz", &gzip(GOOD_CSV.as_bytes())[..20]);
    let r = run(&["fit", "--data", &bad_gz, FORMULA]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("cut.csv.gz")
            && r.stderr.contains("gzip")
            && !r.stderr.contains("panicked"),
        "{}",
        r.stderr
    );
}

/// A Parquet file with the columns of [`GOOD_CSV`] (`y`, `x` as doubles, `g` as strings).
fn good_parquet() -> Vec<u8> {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let (mut y, mut x, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for line in GOOD_CSV.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        y.push(f[0].parse::<f64>().unwrap());
        x.push(f[1].parse::<f64>().unwrap());
        g.push(f[2].to_string());
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("g", Arc::new(StringArray::from(g)) as ArrayRef),
    ])
    .unwrap();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

#[test]
fn parquet_fits_like_the_csv() {
    let dir = temp_dir("parquet");
    let csv = write(&dir, "good.csv", GOOD_CSV.as_bytes());
    let want = fit_json(&["--data", &csv], None);
    let pq = write(&dir, "good.parquet", good_parquet());
    assert_eq!(fit_json(&["--data", &pq], None), want, "parquet");
    // read by content, whatever the name says, and from standard input
    let renamed = write(&dir, "good.dat", good_parquet());
    assert_eq!(fit_json(&["--data", &renamed], None), want, "renamed");
    assert_eq!(
        fit_json(&["--data", "-"], Some(&good_parquet())),
        want,
        "stdin"
    );
    // a cut file: one line naming the file and the format
    let cut = write(&dir, "cut.parquet", &good_parquet()[..40]);
    let r = run(&["fit", "--data", &cut, FORMULA]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cut.parquet") && r.stderr.contains("Parquet"),
        "{}",
        r.stderr
    );
}

/// Numbers equal to a relative tolerance, everything else equal, recursively.
fn assert_close(got: &serde_json::Value, want: &serde_json::Value, tol: f64, at: &str) {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= tol * b.abs().max(1.0), "{at}: {a} vs {b}");
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_close(x, y, tol, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{at}");
            for (k, v) in a {
                assert_close(v, &b[k], tol, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

#[test]
fn stata_file_fits_like_its_csv() {
    // haven wrote both files from the same data (crates/multilevel-frame/tests/data/write_fixtures.R);
    // the CSV prints 15 significant digits, hence a tolerance instead of equality.
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/multilevel-frame/tests/data"
    );
    let dta = format!("{data}/hsb.dta");
    let csv = format!("{data}/hsb_expected.csv");
    let fit = |path: &str| {
        let r = run(&[
            "fit",
            "--format",
            "json",
            "--data",
            path,
            "mAch ~ ses + minrty + (1 | school)",
        ]);
        assert_eq!(r.code, Some(0), "{path}: {}", r.stderr);
        let mut v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v.as_object_mut().unwrap().remove("data");
        v
    };
    let want = fit(&csv);
    assert!(
        want["fixed"].as_array().is_some_and(|f| f.len() == 3),
        "{want}"
    );
    assert_close(&fit(&dta), &want, 1e-9, "hsb");
}
