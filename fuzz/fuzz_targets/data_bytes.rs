//! Every reader chosen by content (delimited text, gzip/zstd, Parquet, Arrow IPC, Stata, SPSS)
//! on arbitrary bytes: never a panic; a table it accepts has columns of equal length; its
//! warnings and errors display.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multilevel_frame::{DataFrame, ReadOptions};

fuzz_target!(|data: &[u8]| {
    match DataFrame::from_data_bytes("fuzz.dat", data, &ReadOptions::default(), None) {
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
