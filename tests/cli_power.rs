//! End-to-end tests of de novo `multilevel simulate` (--beta, --sd, --sigma on a design file)
//! and `multilevel power`: reproducibility from the seed whatever the thread count, the output
//! layouts, and one clear line for bad input. The statistical checks against R (moments of
//! the simulator, power against the closed form and lme4 + lmerTest) are in `cargo xtask
//! validate` (xtask/src/power_refs.rs), where release builds make 1,000 simulations cheap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Run, bin, run};
use std::path::PathBuf;

fn path(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn assert_error(r: &Run, needles: &[&str]) {
    assert_eq!(r.code, Some(1), "stderr:\n{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}:\n{}", r.stderr);
    }
}

const SCHOOLS: &str = "y ~ treat + (1 | school)";

fn run_threads(args: &[&str], threads: &str) -> Run {
    let out = bin()
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn de_novo_simulate_draws_from_the_given_parameters() {
    let design = path("tests/data/power_schools.csv");
    let args = [
        "simulate",
        "--data",
        &design,
        "--beta",
        "(Intercept)=10,treat=2",
        "--sd",
        "school=0",
        "--sigma",
        "1e-6",
        "--nsim",
        "2",
        SCHOOLS,
    ];
    let a = run(&args);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    let mut lines = a.stdout.lines();
    assert_eq!(lines.next(), Some("row,sim_1,sim_2"));
    // With no school variance and a tiny σ the responses are Xβ: 12 for treated schools
    // (every other school, starting with the first), 10 for the others.
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 800);
    assert!((rows[0][1] - 12.0).abs() < 1e-4 && (rows[0][2] - 12.0).abs() < 1e-4);
    assert!((rows[20][1] - 10.0).abs() < 1e-4);
    // Positional β and a Poisson family; the same seed gives the same draws.
    let args = [
        "simulate",
        "--data",
        &design,
        "--family",
        "poisson",
        "--beta",
        "0.5,0.4",
        "--sd",
        "school=0.5",
        "--nsim",
        "3",
        "--seed",
        "9",
        "--format",
        "json",
        SCHOOLS,
    ];
    let a = run(&args);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(a.stdout, run(&args).stdout);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    let sims = v["simulations"].as_array().unwrap();
    assert_eq!(sims.len(), 3);
    assert!(
        sims[0]
            .as_array()
            .unwrap()
            .iter()
            .all(|y| y.as_f64().unwrap().fract() == 0.0)
    );
}

#[test]
fn de_novo_simulate_names_bad_parameters() {
    let design = path("tests/data/power_schools.csv");
    let base = ["simulate", "--data", &design];
    let run_with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.push(SCHOOLS);
        run(&a)
    };
    assert_error(
        &run_with(&["--beta", "1,2,3", "--sd", "school=1", "--sigma", "1"]),
        &["--beta", "3 values", "(Intercept), treat"],
    );
    assert_error(
        &run_with(&[
            "--beta",
            "(Intercept)=1,dose=2",
            "--sd",
            "school=1",
            "--sigma",
            "1",
        ]),
        &["--beta", "`dose`", "treat"],
    );
    assert_error(
        &run_with(&["--beta", "1,2", "--sd", "class=1", "--sigma", "1"]),
        &["--sd", "`class`", "school"],
    );
    assert_error(
        &run_with(&["--beta", "1,2", "--sd", "school=1"]),
        &["--sigma"],
    );
    assert_error(
        &run_with(&["--sd", "school=1", "--sigma", "1"]),
        &["--beta"],
    );
}

#[test]
fn power_is_reproducible_whatever_the_thread_count() {
    let design = path("tests/data/power_schools.csv");
    let args = [
        "power",
        "--data",
        &design,
        "--beta",
        "0,0.5",
        "--sd",
        "school=0.4",
        "--sigma",
        "0.9",
        "--test",
        "treat",
        "--along",
        "school",
        "--sizes",
        "10,16",
        "--nsim",
        "24",
        "--seed",
        "3",
        "--format",
        "json",
        SCHOOLS,
    ];
    let one = run_threads(&args, "1");
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    let two = run_threads(&args, "2");
    assert_eq!(one.stdout, two.stdout);
    let v: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(v["kind"], "power");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, size) in rows.iter().zip([10, 16]) {
        assert_eq!(row["size"], size);
        assert_eq!(row["nobs"], size * 20);
        assert_eq!(row["groups"][0]["levels"], size);
        let (p, lo, hi) = (
            row["power"].as_f64().unwrap(),
            row["lower"].as_f64().unwrap(),
            row["upper"].as_f64().unwrap(),
        );
        let n = row["nsim"].as_u64().unwrap() - row["failures"].as_u64().unwrap();
        let rej = row["rejections"].as_u64().unwrap();
        assert!((p - rej as f64 / n as f64).abs() < 1e-12);
        assert!(lo <= p && p <= hi && lo >= 0.0 && hi <= 1.0);
    }
}

#[test]
fn power_writes_text_csv_and_a_curve() {
    let design = path("tests/data/power_schools.csv");
    let dir = std::env::temp_dir().join(format!("ml-power-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("curve.svg");
    let svg_s = svg.to_string_lossy().into_owned();
    let common = [
        "power",
        "--data",
        &design,
        "--beta",
        "0,0.3",
        "--sd",
        "school=0.4",
        "--sigma",
        "0.9",
        "--test-variance",
        "school",
        "--within",
        "school",
        "--sizes",
        "4,8",
        "--nsim",
        "6",
    ];
    let mut a: Vec<&str> = common.to_vec();
    a.extend_from_slice(&["--plot", &svg_s, SCHOOLS]);
    let out = run(&a);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Power by simulation: variance of the school")
    );
    assert!(out.stdout.contains("rows per level of school"));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let mut a: Vec<&str> = common.to_vec();
    a.extend_from_slice(&["--format", "csv", SCHOOLS]);
    let out = run(&a);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("size,nobs,groups,nsim,rejections,failures,power,lower,upper")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], "4");
    assert_eq!(first[1], "160");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn power_names_bad_input() {
    let design = path("tests/data/power_schools.csv");
    let base = [
        "power",
        "--data",
        &design,
        "--beta",
        "0,0.3",
        "--sd",
        "school=0.4",
        "--sigma",
        "0.9",
    ];
    let run_with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.push(SCHOOLS);
        run(&a)
    };
    assert_error(
        &run_with(&["--test", "dose", "--nsim", "2"]),
        &["--test", "`dose`", "treat"],
    );
    assert_error(
        &run_with(&["--test", "treat", "--nsim", "0"]),
        &["--nsim 0"],
    );
    assert_error(
        &run_with(&["--test", "treat", "--sizes", "10", "--nsim", "2"]),
        &["--sizes", "--along"],
    );
    assert_error(
        &run_with(&[
            "--test", "treat", "--along", "class", "--sizes", "10", "--nsim", "2",
        ]),
        &["--along", "`class`"],
    );
    assert_error(
        &run_with(&[
            "--test",
            "treat",
            "--family",
            "binomial",
            "--method",
            "satterthwaite",
        ]),
        &["--method", "z"],
    );
}
