//! Progress bars for long inference work (bootstrap refits, profiled parameters), drawn on
//! stderr only when it is a terminal, so pipes, files and tests see nothing.

use std::io::IsTerminal;

/// A bar over `len` steps labelled `what` (`"bootstrap"`, `"profile"`) counting `unit`
/// (`"refits"`, `"parameters"`), or `None` when stderr is not a terminal.
pub(crate) fn bar(len: usize, what: &str, unit: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(len as u64);
        let template =
            format!("{what} {{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})");
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar
    })
}
