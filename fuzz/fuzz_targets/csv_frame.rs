//! The CSV reader on arbitrary bytes: never a panic; a table it accepts has columns of equal
//! length; its warnings and errors display.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multilevel_frame::{DataFrame, ReadOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a column to force to a factor, as `--factor` does.
    let (opts, bytes) = match data.split_first() {
        Some((b, rest)) if b % 4 == 0 => (
            ReadOptions {
                factor_columns: vec!["g".to_string()],
                ..ReadOptions::default()
            },
            rest,
        ),
        Some((_, rest)) => (ReadOptions::default(), rest),
        None => (ReadOptions::default(), data),
    };
    match DataFrame::from_csv_bytes("fuzz.csv", bytes, &opts) {
        Ok(df) => {
            let n = df.nrows();
            for name in df.column_names() {
                let col = df.column(&name).expect("a listed column exists");
                assert_eq!(col.len(), n, "column {name} has a different length");
            }
            for w in df.warnings() {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
