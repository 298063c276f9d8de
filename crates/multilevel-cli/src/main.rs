//! `multilevel`: fit mixed-effects models to a CSV file or an embedded data set from the shell.
//!
//! ```text
//! multilevel fit --dataset sleepstudy "Reaction ~ Days + (Days | Subject)"
//! multilevel fit --data my.csv --factor plot --ml --format json "y ~ x + (1 | plot)"
//! multilevel anova --dataset cake "angle ~ recipe * temperature + (1 | recipe:replicate)"
//! multilevel compare --dataset sleepstudy "Reaction ~ Days + (1 | Subject)" "Reaction ~ Days + (Days | Subject)"
//! multilevel explore --data hsb82.csv --group school "mAch ~ ses"
//! multilevel datasets
//! ```
//!
//! Errors print one message on stderr (what went wrong, where, and a hint) and exit with status 1;
//! command-line usage errors exit with status 2. A closed standard output (a pipe into `head`)
//! ends the command quietly with status 0; a message that cannot be written to stderr is dropped
//! (the exit status still tells), never a panic.

/// `eprintln!` for the whole binary, without std's panic when standard error cannot be written
/// (`2>/dev/full`, a closed pipe): a warning or an error line that cannot be shown is dropped,
/// and the exit status still says whether the command worked. Defined before the modules so its
/// textual scope (which takes precedence over the prelude's macro) covers all of them.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod augment;
mod bounds;
mod coding;
mod confint;
mod datasets;
mod emmeans;
mod explore;
mod fit;
mod gee;
mod glmm;
mod gls;
mod meta;
mod ordinal;
mod output;
mod plot;
mod power;
mod predict;
mod robust;
mod rows;
mod simulate;
mod tests_cmd;
mod tidy;
mod zeroinfl;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A panic is a bug in `multilevel`, never the user's fault: say so plainly instead of
    // printing Rust's panic message and backtrace hint.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "error: internal error in multilevel{location}: {message}\nhint: this is a bug; please report it with the command and data that triggered it"
        );
    }));

    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Fit(a) => fit::run(&a),
        args::Command::Anova(a) => tests_cmd::run_anova(&a),
        args::Command::Compare(a) => tests_cmd::run_compare(&a),
        args::Command::Datasets(a) => datasets::run(&a),
        args::Command::Explore(a) => explore::run(&a),
        args::Command::Confint(a) => confint::run(&a),
        args::Command::Gee(a) => gee::run(&a),
        args::Command::Robust(a) => robust::run(&a),
        args::Command::Plot(a) => plot::run(&a),
        args::Command::Meta(a) => meta::run(&a),
        args::Command::Predict(a) => predict::run(&a),
        args::Command::Simulate(a) => simulate::run(&a),
        args::Command::Emmeans(a) => emmeans::run(&a),
        args::Command::Power(a) => power::run(&a),
    };
    match result {
        Ok(()) => {
            if let Ok(pending) = fit::READER_WARNINGS.lock() {
                for w in pending.iter() {
                    eprintln!("warning: {w}");
                }
            }
            ExitCode::SUCCESS
        }
        // The reader of standard output went away: nothing is wrong and nothing more is said.
        Err(e) if e.downcast_ref::<output::BrokenPipe>().is_some() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}{}", error_message(&e), fit::reader_error_note());
            ExitCode::FAILURE
        }
    }
}

/// The error's message followed by those of its causes that add something: library errors
/// often display their source's message already, and repeating it would only add noise.
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}
