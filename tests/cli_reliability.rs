//! Reliability of the `multilevel` binary at the edges (issue 17): output that cannot be written,
//! user-given sizes, rows dropped or reinterpreted without a word. Each test runs the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{GOOD_CSV, assert_error, bin, finish, run, temp_dir, write};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

// ----- output errors -----------------------------------------------------------------------

/// `multilevel datasets Hsb82 --csv | head -1`: the reader closes the pipe after one line; the
/// command ends quietly (status 0), not with "failed printing to stdout" (status 101).
#[test]
fn closed_pipe_ends_quietly() {
    let mut child = bin()
        .args(["datasets", "Hsb82", "--csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut first).unwrap();
        // The reader (and the pipe's read end) is dropped here, as `head -1` exits.
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("mAch"), "first line: {first}");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.is_empty(), "stderr:\n{stderr}");
}

fn dev_full() -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .ok()
}

/// `multilevel fit ... > /dev/full`: one `error:` line and status 1.
#[test]
fn full_device_on_stdout_is_one_error_line() {
    let Some(full) = dev_full() else { return };
    let out = bin()
        .args([
            "fit",
            "--dataset",
            "sleepstudy",
            "Reaction ~ Days + (1 | Subject)",
        ])
        .stdout(full)
        .output()
        .unwrap();
    let r = finish(out);
    assert_error(&r, &["cannot write to standard output", "hint"]);
    assert_eq!(r.stderr.lines().count(), 1, "stderr:\n{}", r.stderr);
}

/// `multilevel fit --dataset sleepstudy "y ~" 2>/dev/full`: the error line cannot be shown, so
/// only the exit status (1) tells; no abort (SIGABRT) from a panic inside the panic hook.
#[test]
fn full_device_on_stderr_keeps_the_exit_status() {
    let Some(full) = dev_full() else { return };
    let out = bin()
        .args(["fit", "--dataset", "sleepstudy", "y ~"])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "status {:?}", out.status);
    // A successful command whose warnings cannot be written still succeeds.
    let Some(full) = dev_full() else { return };
    let out = bin()
        .args([
            "fit",
            "--dataset",
            "sleepstudy",
            "--format",
            "json",
            "Reaction ~ Days + (1 | Subject)",
        ])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "status {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"fixed\""));
}

/// `fit --data d.csv -o d.csv` would overwrite the data with the report: refused, and the data
/// file is unchanged.
#[test]
fn output_refuses_to_overwrite_the_input() {
    let dir = temp_dir("overwrite");
    let data = write(&dir, "d.csv", GOOD_CSV);
    let r = run(&["fit", "--data", &data, "-o", &data, "y ~ x + (1 | g)"]);
    assert_error(&r, &["d.csv", "refusing to overwrite", "hint"]);
    assert_eq!(std::fs::read_to_string(&data).unwrap(), GOOD_CSV);
    // The same file through another spelling of its path.
    let other = format!("{}/./d.csv", dir.display());
    let r = run(&[
        "anova",
        "--data",
        &data,
        "--output",
        &other,
        "y ~ x + (1 | g)",
    ]);
    assert_error(&r, &["refusing to overwrite"]);
    assert_eq!(std::fs::read_to_string(&data).unwrap(), GOOD_CSV);
    // Another file is written as before.
    let report = dir.join("report.txt");
    let r = run(&[
        "fit",
        "--data",
        &data,
        "-o",
        report.to_str().unwrap(),
        "y ~ x + (1 | g)",
    ]);
    assert_eq!(r.code, Some(0), "stderr:\n{}", r.stderr);
    assert!(std::fs::read_to_string(&report).unwrap().contains("REML"));
}

// ----- bounds ------------------------------------------------------------------------------

/// `confint --method boot --nsim 10000000000` used to abort on an 80 GB allocation; `--nsim 1`
/// gave zero-width intervals.
#[test]
fn bootstrap_sizes_are_bounded() {
    let base = [
        "confint",
        "--dataset",
        "Dyestuff",
        "--method",
        "boot",
        "Yield ~ 1 + (1 | Batch)",
    ];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        run(&args)
    };
    let r = with(&["--nsim", "10000000000"]);
    assert_error(&r, &["--nsim 10000000000", "at most 1000000"]);
    let r = with(&["--nsim", "1"]);
    assert_error(&r, &["--nsim 1 ", "at least 40", "95%"]);
    let r = with(&["--nsim", "9", "--level", "0.8"]);
    assert_error(&r, &["at least 10", "80%"]);
    let r = run(&[
        "explore",
        "--dataset",
        "sleepstudy",
        "--group",
        "Subject",
        "--bootstrap",
        "10000000000",
        "Reaction ~ Days",
    ]);
    assert_error(&r, &["--bootstrap 10000000000", "at most 1000000"]);
    let r = run(&[
        "explore",
        "--dataset",
        "sleepstudy",
        "--group",
        "Subject",
        "--bootstrap",
        "3",
        "Reaction ~ Days",
    ]);
    assert_error(&r, &["at least 40", "or 0 for no interval"]);
}

/// A 50-level redundant nesting took 108 s; it is refused at once.
#[test]
fn deep_nesting_is_refused() {
    let groups = vec!["Subject"; 50].join("/");
    let r = run(&[
        "fit",
        "--dataset",
        "sleepstudy",
        &format!("Reaction ~ Days + (1 | {groups})"),
    ]);
    assert_error(&r, &["nests 50 grouping factors", "at most 12"]);
    assert!(r.stderr.lines().count() <= 5, "{}", r.stderr);
}

// ----- rows dropped and reinterpretation -----------------------------------------------------

const NA_CSV: &str = "y,x,g\n1.2,1,a\n2.3,2,a\n2.9,3,a\n4.1,4,a\n0.5,1,b\n1.9,2,b\n2.2,3,b\n3.8,4,b\n1.7,1,c\n2.4,2,c\n3.6,3,c\n4.4,4,c\n1.1,1,d\n2.0,2,d\n3.3,3,d\n4.0,4,d\nNA,2,a\n3.1,,b\n";

/// `compare` and `confint` dropped rows with missing values without a word.
#[test]
fn compare_and_confint_report_dropped_rows() {
    let dir = temp_dir("dropped");
    let p = write(&dir, "na.csv", NA_CSV);
    let r = run(&[
        "compare",
        "--data",
        &p,
        "--format",
        "json",
        "y ~ 1 + (1 | g)",
        "y ~ x + (1 | g)",
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_error(&r, &["different rows", "hint"]);
    // Both models see x: the same rows, 2 dropped.
    let r = run(&[
        "compare",
        "--data",
        &p,
        "--format",
        "json",
        "y ~ 1 + x + (1 | g)",
        "y ~ x + (x | g)",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["n_dropped_missing"], 2, "{}", r.stdout);
    assert!(r.stderr.contains("2 rows of"), "{}", r.stderr);
    for method in ["wald", "profile", "boot"] {
        let r = run(&[
            "confint",
            "--data",
            &p,
            "--method",
            method,
            "--nsim",
            "40",
            "--format",
            "json",
            "y ~ x + (1 | g)",
        ]);
        assert_eq!(r.code, Some(0), "{method}: {}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["n_dropped_missing"], 2, "{method}");
        let r = run(&[
            "confint",
            "--data",
            &p,
            "--method",
            method,
            "--nsim",
            "40",
            "y ~ x + (1 | g)",
        ]);
        assert_eq!(r.code, Some(0), "{method}: {}", r.stderr);
        assert!(
            r.stdout.contains("2 rows of") && r.stdout.contains("dropped for missing values"),
            "{method}: {}",
            r.stdout
        );
    }
}

/// `compare` of `Reaction` against `log(Reaction)` printed χ² = 2072 on 0 df.
#[test]
fn compare_refuses_different_responses() {
    let r = run(&[
        "compare",
        "--dataset",
        "sleepstudy",
        "Reaction ~ Days + (1 | Subject)",
        "log(Reaction) ~ Days + (1 | Subject)",
    ]);
    assert_error(
        &r,
        &[
            "different responses",
            "`Reaction`",
            "`log(Reaction)`",
            "hint",
        ],
    );
}

/// `meta --level` takes a fraction as `confint --level` does; the percentage is deprecated.
#[test]
fn meta_level_is_a_fraction() {
    let bcg = "tests/reference/meta/bcg.csv";
    let args = |level: &str| {
        run(&[
            "meta", "--data", bcg, "--yi", "yi", "--vi", "vi", "--format", "json", "--level", level,
        ])
    };
    let frac = args("0.9");
    assert_eq!(frac.code, Some(0), "{}", frac.stderr);
    let pct = args("90");
    assert_eq!(pct.code, Some(0), "{}", pct.stderr);
    assert_eq!(frac.stdout, pct.stdout);
    assert!(pct.stderr.contains("deprecated"), "{}", pct.stderr);
    assert!(frac.stderr.is_empty(), "{}", frac.stderr);
    let bad = args("120");
    assert_error(&bad, &["--level 120", "fraction"]);
}

// ----- extreme scales ----------------------------------------------------------------------

/// sleepstudy with the response multiplied by `fy` and `Days` by `fx`, as CSV text (the data
/// set printed by the binary, rescaled here).
fn sleepstudy_scaled(fy: f64, fx: f64) -> String {
    let r = run(&["datasets", "sleepstudy", "--csv"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let mut lines = r.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_matches('"') == name)
            .unwrap()
    };
    let (iy, ix, ig) = (col("Reaction"), col("Days"), col("Subject"));
    let mut out = String::from("Reaction,Days,Subject\n");
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let y: f64 = f[iy].parse().unwrap();
        let x: f64 = f[ix].parse().unwrap();
        out.push_str(&format!("{:e},{:e},{}\n", y * fy, x * fx, f[ig]));
    }
    out
}

/// The t value, df and p of `Days` in a text summary with Satterthwaite df.
fn days_row(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.starts_with("Days "))
        .unwrap_or_else(|| panic!("no Days row:\n{stdout}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A response ×1e-12 lost its Satterthwaite df and p-values ("the deviance could not be
/// evaluated near the optimum"); the model is scale-equivariant, so t, df and p must be those
/// of the unscaled fit.
#[test]
fn tiny_response_keeps_its_df_and_p_values() {
    let dir = temp_dir("scale_tiny");
    let f = "Reaction ~ Days + (Days | Subject)";
    let base = write(&dir, "base.csv", sleepstudy_scaled(1.0, 1.0));
    let tiny = write(&dir, "tiny.csv", sleepstudy_scaled(1e-12, 1.0));
    let a = run(&["fit", "--data", &base, f]);
    let b = run(&["fit", "--data", &tiny, f]);
    assert_eq!(
        (a.code, b.code),
        (Some(0), Some(0)),
        "{}\n{}",
        a.stderr,
        b.stderr
    );
    assert!(!b.stderr.contains("could not be computed"), "{}", b.stderr);
    let (ra, rb) = (days_row(&a.stdout), days_row(&b.stdout));
    // Estimate and SE scale by 1e-12; the df are the same number (printed in the estimates'
    // notation), and t value and Pr(>|t|) the same text.
    let df = |r: &[String]| r[3].parse::<f64>().unwrap();
    assert!(
        (df(&ra) - df(&rb)).abs() < 1e-3 * df(&ra),
        "\n{}\n{}",
        a.stdout,
        b.stdout
    );
    assert_eq!(ra[4..], rb[4..], "\n{}\n{}", a.stdout, b.stdout);
}

/// A response ×1e150 came back with a random-slope correlation of `-0.0` (instead of 0.07)
/// and no p-values, without a warning: its cross products overflow double precision. It is
/// one error line naming the response, with the factor to divide by.
#[test]
fn response_beyond_double_precision_is_one_error_line() {
    let dir = temp_dir("scale_huge");
    let huge = write(&dir, "huge.csv", sleepstudy_scaled(1e150, 1.0));
    let r = run(&["fit", "--data", &huge, "Reaction ~ Days + (Days | Subject)"]);
    assert_error(
        &r,
        &[
            "the response `Reaction` reaches 4.664e152",
            "divide it by 1e153",
        ],
    );
}

/// A predictor ×1e12 gets lme4's "Some predictor variables are on very different scales:
/// consider rescaling" warning, naming the column.
#[test]
fn predictors_on_very_different_scales_are_warned_about() {
    let dir = temp_dir("scale_x");
    let big = write(&dir, "big.csv", sleepstudy_scaled(1.0, 1e4));
    let r = run(&["fit", "--data", &big, "Reaction ~ Days + (1 | Subject)"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // in the report's warnings, as lme4 prints its own
    assert!(
        r.stdout
            .contains("Some predictor variables are on very different scales: consider rescaling")
            && r.stdout.contains("`Days` has standard deviation 2.880e4"),
        "{}",
        r.stdout
    );
    // ... and not on the unscaled data
    let base = write(&dir, "base.csv", sleepstudy_scaled(1.0, 1.0));
    let r = run(&["fit", "--data", &base, "Reaction ~ Days + (1 | Subject)"]);
    assert!(!r.stdout.contains("different scales"), "{}", r.stdout);
}
