//! The formula parser and expander on arbitrary text: never a panic; a parsed formula prints
//! to text that parses again to the same terms; an error's message is a few short lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match multilevel_formula::parse(text) {
        Ok(f) => {
            // The canonical text of a formula is itself a formula with the same terms.
            let printed = f.to_string();
            // The parser refuses more than 1000 chained operators (its depth bound), while an
            // expansion such as `a*b*c*…` may give up to 10,000 terms: such canonical texts
            // are too long to read back, by design.
            if printed.matches(" + ").count() >= 900 {
                return;
            }
            let again = multilevel_formula::parse(&printed)
                .unwrap_or_else(|e| panic!("printed formula {printed:?} does not parse: {e}"));
            assert_eq!(again.to_string(), printed, "printing is not a fixed point");
            let _ = f.variables();
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.lines().count() <= 8, "error of {} lines", msg.lines().count());
        }
    }
});
