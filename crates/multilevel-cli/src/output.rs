//! Writing what the command produces: the report on standard output or to `--output`, and the
//! checks that keep writing from failing badly.
//!
//! * A closed pipe (`multilevel datasets Hsb82 --csv | head -1`) is ordinary shell use: the
//!   command stops quietly with status 0 ([`BrokenPipe`]).
//! * Any other write error (a full device, `> /dev/full`) is one `error:` line and status 1.
//! * `--output` never overwrites a data file the command read.

use anyhow::{Result, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Standard output was closed by its reader (a pipe into `head`): nothing more can be shown, and
/// nothing went wrong, so `main` ends quietly.
#[derive(Debug)]
pub struct BrokenPipe;

impl std::fmt::Display for BrokenPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for BrokenPipe {}

/// Writes `text` to standard output and flushes it, so a write error surfaces here as an error
/// (a closed pipe as [`BrokenPipe`]) instead of a panic inside `print!`.
pub fn stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                anyhow::Error::new(BrokenPipe)
            } else {
                anyhow!(
                    "cannot write to standard output: {e}; hint: check the disk or the file standard output is redirected to, or use --output"
                )
            }
        })
}

/// The data files this command read: `--output` must not name one of them.
static INPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Records a data file the command read, so [`write_report`] can refuse to overwrite it.
pub fn note_input(path: &Path) {
    if let Ok(mut inputs) = INPUTS.lock() {
        inputs.push(path.to_path_buf());
    }
}

/// Whether `a` and `b` are the same file: the same canonical path (both exist), or the same
/// device and inode on Unix (hard links).
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ca), Ok(cb)) = (a.canonicalize(), b.canonicalize())
        && ca == cb
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// Refuses an `--output` path that is one of the data files read by this command.
pub fn check_not_input(output: &Path) -> Result<()> {
    let inputs = INPUTS.lock().map(|v| v.clone()).unwrap_or_default();
    if let Some(input) = inputs.iter().find(|i| same_file(i, output)) {
        bail!(
            "--output {} is the data file this command read ({}); refusing to overwrite it; hint: write the report to another file",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

/// Writes the report to `--output` (never over an input file), or to standard output.
pub fn write_report(report: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => {
            check_not_input(path)?;
            std::fs::write(path, report).map_err(|e| {
                anyhow!(
                    "{}: cannot write the report: {e}; hint: check that the directory exists and is writable",
                    path.display()
                )
            })
        }
        None => stdout(report),
    }
}
