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
