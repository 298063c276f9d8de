//! What the CLI test files share: running the real binary and capturing its outcome, scratch
//! files, and the shape of a clean failure. Each test binary uses a part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Small valid data: 3 groups × 4 observations.
pub const GOOD_CSV: &str = "y,x,g\n1.2,1,a\n2.3,2,a\n2.9,3,a\n4.1,4,a\n0.5,1,b\n1.9,2,b\n2.2,3,b\n3.8,4,b\n1.7,1,c\n2.4,2,c\n3.6,3,c\n4.4,4,c\n";

/// The outcome of one run of the binary.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The `multilevel` binary, without a backtrace setting inherited from the test runner.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_multilevel"));
    c.env_remove("RUST_BACKTRACE");
    c
}

/// A finished process as a [`Run`].
pub fn finish(out: Output) -> Run {
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the binary with `args` and no standard input.
pub fn run(args: &[&str]) -> Run {
    run_with(args, None)
}

/// Runs the binary with `args`, feeding `stdin` when given (otherwise standard input is empty).
pub fn run_with(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = bin()
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the multilevel binary runs");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    finish(child.wait_with_output().unwrap())
}

/// A fresh directory for one test's files (named by the test binary's process and the test).
pub fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("multilevel-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `contents` to `dir/name` and returns the path as text.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.to_string_lossy().into_owned()
}

/// Asserts a clean failure: status 1, no stdout report, no panic, one `error:` message with at
/// most one hint, mentioning every one of `needles` (case-insensitive).
pub fn assert_error(r: &Run, needles: &[&str]) {
    assert_eq!(r.code, Some(1), "exit status; stderr:\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "panic:\n{}", r.stderr);
    assert!(!r.stderr.contains("internal error"), "bug:\n{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.matches("hint:").count() <= 1,
        "message repeated:\n{}",
        r.stderr
    );
    let lower = r.stderr.to_lowercase();
    for n in needles {
        assert!(
            lower.contains(&n.to_lowercase()),
            "stderr does not mention {n:?}:\n{}",
            r.stderr
        );
    }
}
