//! The fit result's JSON round trip: any `FitResult` read from JSON serialises to JSON that reads
//! back to the same value, and the JSON report of it is valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multilevel_lmm::FitResult;

fuzz_target!(|data: &[u8]| {
    let Ok(fit) = serde_json::from_slice::<FitResult>(data) else {
        return;
    };
    let text = serde_json::to_string(&fit).expect("a FitResult serialises");
    let back: FitResult = serde_json::from_str(&text).expect("its JSON reads back");
    let again = serde_json::to_string(&back).expect("a FitResult serialises");
    assert_eq!(text, again, "the round trip changed the value");
    let report = multilevel_report::JsonRenderer.render(&fit);
    serde_json::from_str::<serde_json::Value>(&report).expect("the JSON report is valid JSON");
});
