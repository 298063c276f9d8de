//! `cargo xtask fuzz --seconds N [--target NAME]`: runs the cargo-fuzz targets of `fuzz/` (needs
//! the nightly toolchain and `cargo install cargo-fuzz`) for N seconds each on their committed
//! corpus, and prints each target's number of executions. A crash stops with its reproducer in
//! `fuzz/artifacts/TARGET/`.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// The fuzz targets, as named in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 5] = [
    "formula",
    "csv_frame",
    "design",
    "json_report",
    "data_bytes",
];

/// Runs every target (or `only`) for `seconds` seconds; returns the executions per target.
pub fn run(root: &Path, seconds: u64, only: Option<&str>) -> Result<Vec<(String, u64)>> {
    let dir = root.join("fuzz");
    let mut counts = Vec::new();
    for target in TARGETS.iter().filter(|t| only.is_none_or(|o| o == **t)) {
        let corpus = dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("cannot create {}", corpus.display()))?;
        // Safe Rust needs no address sanitizer: a crash is a panic (overflow checks on, `-a`).
        let out = Command::new("cargo")
            .current_dir(&dir)
            .args(["+nightly", "fuzz", "run", "-O", "-a", "-s", "none", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-max_len=8192", "-timeout=20", "-print_final_stats=1"])
            .output()
            .context(
                "cannot run `cargo +nightly fuzz` (install it with `cargo install cargo-fuzz`)",
            )?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let execs = stderr
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        println!("{target:<12} {execs:>12} executions");
        if !out.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("fuzz target {target} failed:\n{}", tail.join("\n"));
        }
        counts.push((target.to_string(), execs));
    }
    Ok(counts)
}
