//! `multilevel plot`: every kind of figure on sleepstudy, as SVG and PNG, and the errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const FORMULA: &str = "Reaction ~ Days + (Days | Subject)";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plot");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_multilevel"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

fn plot(kind: &str, file: &Path, extra: &[&str]) -> std::process::Output {
    let file = file.to_str().unwrap();
    let mut args = vec![
        "plot",
        "--dataset",
        "sleepstudy",
        "--kind",
        kind,
        "--output",
        file,
    ];
    args.extend_from_slice(extra);
    args.push(FORMULA);
    run(&args)
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

#[test]
fn every_kind_renders_svg_and_png() {
    // Circles per kind in the SVG: data points or estimates (see the library's tests).
    let expected_circles = [
        ("groups", 3 * 180),
        ("caterpillar", 2 * 18),
        ("shrinkage", 2 * 18 + 2),
        ("residuals", 180 + 180 + 18 + 18),
        ("profile", 0),
    ];
    for (kind, circles) in expected_circles {
        let svg = out_dir().join(format!("{kind}.svg"));
        let out = plot(kind, &svg, &[]);
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"), "{kind}: not SVG");
        assert!(text.trim_end().ends_with("</svg>"));
        if circles > 0 {
            assert_eq!(text.matches("<circle").count(), circles, "{kind}");
        } else {
            // Profile: six panels of points along the ζ curves.
            assert!(text.matches("<circle").count() >= 6 * 10, "{kind}");
        }
        let png = out_dir().join(format!("{kind}.png"));
        let out = plot(kind, &png, &["--width", "700", "--height", "500"]);
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            png_size(&std::fs::read(&png).unwrap()),
            (700, 500),
            "{kind}"
        );
    }
}

#[test]
fn ml_fits_and_csv_data_work() {
    let png = out_dir().join("groups_ml.png");
    let out = run(&[
        "plot",
        "--data",
        "tests/data/hsb82.csv",
        "--kind",
        "caterpillar",
        "--ml",
        "--factor",
        "school",
        "-o",
        png.to_str().unwrap(),
        "mAch ~ ses + (1 | school)",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h) = png_size(&std::fs::read(&png).unwrap());
    assert!(w >= 480 && h >= 360);
}

#[test]
fn errors_are_one_clear_line() {
    // Unknown extension: refused before fitting.
    let out = plot("groups", &out_dir().join("fig.pdf"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fig.pdf") && err.contains(".svg or .png"),
        "{err}"
    );
    assert!(!err.contains("panicked"));

    // The groups figure needs (x | g).
    let out = run(&[
        "plot",
        "--dataset",
        "sleepstudy",
        "--kind",
        "groups",
        "-o",
        out_dir().join("g.svg").to_str().unwrap(),
        "Reaction ~ Days + (1 | Subject)",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("y ~ x + (x | g)") && err.contains("hint"),
        "{err}"
    );

    // Missing directory, bad size, unknown column.
    let out = plot("residuals", &out_dir().join("nope/r.png"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = plot("residuals", &out_dir().join("r.png"), &["--width", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
    let out = run(&[
        "plot",
        "--dataset",
        "sleepstudy",
        "--kind",
        "caterpillar",
        "-o",
        out_dir().join("c.svg").to_str().unwrap(),
        "Reaction ~ Dayz + (1 | Subject)",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Dayz"));
    // A usage error (no --kind) is clap's exit status 2.
    let out = run(&["plot", "--dataset", "sleepstudy", "-o", "x.svg", FORMULA]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tutorial_figures_boxplot_and_estimators() {
    // The response by group, raw and centred: one box per subject in each panel, the subject
    // labels on the axis.
    let svg = out_dir().join("boxplot.svg");
    let out = plot("boxplot", &svg, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("\n309\n") && text.contains("\n372\n"),
        "subject labels"
    );
    assert!(text.contains("Reaction minus its Subject mean"));
    // The four estimators on Hsb82: every student and every school mean drawn.
    let svg = out_dir().join("estimators.svg");
    let out = run(&[
        "plot",
        "--dataset",
        "Hsb82",
        "--kind",
        "estimators",
        "-o",
        svg.to_str().unwrap(),
        "mAch ~ ses + (1 | school)",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(text.matches("<circle").count(), 7185 + 160);
    for label in [
        "OLS: slope 3.18",
        "between: slope 5.91",
        "within: slope 2.19",
    ] {
        assert!(text.contains(label), "{label}");
    }
    // Days does not vary between subjects: no between slope, one line.
    let out = plot("estimators", &out_dir().join("e.svg"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not vary between groups") && err.lines().count() == 1,
        "{err}"
    );
}
