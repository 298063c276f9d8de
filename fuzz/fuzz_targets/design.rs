//! The model frame and design builder from a small arbitrary table and formula: never a panic;
//! a design it builds has consistent shapes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multilevel_frame::{DataFrame, FrameOptions, ModelFrame, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `formula` NUL `csv`: a small table (at most 64 lines) and a formula over its columns.
    let Some((formula, csv)) = text.split_once('\0') else {
        return;
    };
    if csv.lines().count() > 64 || formula.len() > 256 {
        return;
    }
    let Ok(df) = DataFrame::from_csv_str("fuzz.csv", csv, &ReadOptions::default()) else {
        return;
    };
    let Ok(parsed) = multilevel_formula::parse(formula) else {
        return;
    };
    let Ok(frame) = ModelFrame::new(&parsed, &df, &FrameOptions::default()) else {
        return;
    };
    if let Ok(design) = multilevel_design::build_design(&parsed, &frame) {
        let n = design.nobs();
        assert_eq!(design.y.len(), n);
        assert_eq!(design.x.nrows(), n);
        assert_eq!(design.x.ncols(), design.x_names.len());
        for t in &design.terms {
            assert_eq!(t.refs.len(), n);
            assert_eq!(t.z.len(), n * t.k);
            assert!(t.refs.iter().all(|&r| (r as usize) < t.levels.len()));
        }
        let _ = design.theta_start();
    }
});
