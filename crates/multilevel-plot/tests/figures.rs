//! Every kind of figure on sleepstudy, written to SVG and PNG and checked for shape; the
//! profile is checked against lme4's profile intervals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use multilevel_design::Design;
use multilevel_lmm::{FitResult, LinearMixedModel, LmmOptions};
use multilevel_plot::figures::{self, ProfileOptions};
use multilevel_plot::{Figure, PlotError, render_svg_string, save};
use std::path::{Path, PathBuf};

fn design(formula: &str) -> Design {
    let d = multilevel_datasets::get("sleepstudy").unwrap();
    let opts = multilevel_frame::ReadOptions {
        factor_columns: d.factors.iter().map(|s| s.to_string()).collect(),
        ordered_columns: Vec::new(),
    };
    let data = multilevel_frame::DataFrame::from_csv_str(d.name, d.csv, &opts).unwrap();
    let parsed = multilevel_formula::parse(formula).unwrap();
    let frame = multilevel_frame::ModelFrame::new(&parsed, &data, &Default::default()).unwrap();
    let mut design = multilevel_design::build_design(&parsed, &frame).unwrap();
    design.formula = formula.to_string();
    design
}

fn fit(design: &Design, reml: bool) -> FitResult {
    let opts = LmmOptions {
        reml,
        ..LmmOptions::default()
    };
    LinearMixedModel::new(design.clone(), opts)
        .unwrap()
        .fit()
        .unwrap()
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("multilevel-plot-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn count(svg: &str, tag: &str) -> usize {
    svg.matches(&format!("<{tag}")).count()
}

/// Polylines other than plotters' tick marks (thin black strokes).
fn data_polylines(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| !p.contains(r##"stroke="#000000" stroke-width="1""##))
        .count()
}

/// Writes the figure as SVG and PNG and checks both files; returns the SVG text.
fn check_both<F: Figure>(fig: &F, name: &str) -> String {
    let dir = out_dir();
    let svg_path = dir.join(format!("{name}.svg"));
    save(fig, &svg_path, None).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.trim_start().starts_with("<svg"), "{name}: not an SVG");
    assert!(svg.trim_end().ends_with("</svg>"), "{name}: SVG not closed");
    let (w, h) = fig.default_size();
    assert!(svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")));
    let png_path = dir.join(format!("{name}.png"));
    save(fig, &png_path, Some((640, 480))).unwrap();
    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}: PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (640, 480), "{name}: PNG size");
    svg
}

#[test]
fn groups_figure_has_every_point_in_each_panel_and_one_line_per_group() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let data = figures::groups(&d, true).unwrap();
    assert_eq!(data.panels.len(), 3);
    assert_eq!(data.panels[0].lines.len(), 1);
    // 18 subjects + the population line in each mixed panel.
    assert_eq!(data.panels[1].lines.len(), 19);
    assert_eq!(data.panels[2].lines.len(), 19);
    // The random-intercept panel has one common slope: lme4's fixef(lmer(Reaction ~ Days +
    // (1 | Subject))) = 251.4051, 10.4673.
    let ri = &data.panels[1].lines;
    assert!(ri.iter().all(|l| (l.slope - 10.4673).abs() < 1e-3));
    let pop = ri.iter().find(|l| l.group.is_none()).unwrap();
    assert!((pop.intercept - 251.4051).abs() < 1e-3);
    // Pooled OLS: lm(Reaction ~ Days) = 251.4051, 10.4673 too (balanced design).
    assert!((data.panels[0].lines[0].intercept - 251.4051).abs() < 1e-3);
    // Subject 308 under (Days | Subject): coef = 253.6637, 19.6663 (lme4, REML).
    let i308 = data.group_names.iter().position(|g| g == "308").unwrap();
    let l = data.panels[2]
        .lines
        .iter()
        .find(|l| l.group == Some(i308))
        .unwrap();
    assert!((l.intercept - 253.6637).abs() < 1e-2 && (l.slope - 19.6663).abs() < 1e-2);

    let svg = check_both(&data, "groups");
    assert_eq!(
        count(&svg, "circle"),
        3 * 180,
        "one circle per observation per panel"
    );
    assert_eq!(
        data_polylines(&svg),
        1 + 2 * 19,
        "one line per group + population"
    );
}

#[test]
fn groups_figure_refuses_other_shapes() {
    let d = design("Reaction ~ Days + (1 | Subject)");
    let err = figures::groups(&d, true).unwrap_err();
    assert!(matches!(err, PlotError::Unsupported(_)));
    assert!(err.to_string().contains("y ~ x + (x | g)"), "{err}");
}

#[test]
fn caterpillar_is_sorted_with_condvar_intervals() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let f = fit(&d, true);
    let data = figures::caterpillar(&f).unwrap();
    assert_eq!(data.panels.len(), 2);
    let p = &data.panels[0];
    assert_eq!(p.labels.len(), 18);
    assert!(
        p.estimate.windows(2).all(|w| w[0] <= w[1]),
        "sorted by intercept"
    );
    // Both panels share the order of the first column (lme4's dotplot).
    assert_eq!(data.panels[1].labels, p.labels);
    // lme4: ranef(fm1)$Subject["308", "(Intercept)"] = 2.2585, its condVar sd = 12.07.
    let i = p.labels.iter().position(|l| l == "308").unwrap();
    assert!((p.estimate[i] - 2.2585).abs() < 1e-2);
    assert!(
        (p.half_width[i] / 1.959964 - 12.07).abs() < 0.05,
        "{}",
        p.half_width[i]
    );
    let svg = check_both(&data, "caterpillar");
    assert_eq!(count(&svg, "circle"), 2 * 18);
}

#[test]
fn shrinkage_points_move_from_ols_to_the_mixed_model() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let f = fit(&d, true);
    let data = figures::shrinkage(&d, &f).unwrap();
    assert_eq!(data.groups.len(), 18);
    assert!(data.note.is_none(), "every subject has 10 observations");
    // lmList(Reaction ~ Days | sleepstudy)["308", ] = 244.1927, 21.7647.
    let g = data.groups.iter().find(|g| g.name == "308").unwrap();
    let ols = g.ols.as_ref().unwrap();
    assert!((ols[0] - 244.1927).abs() < 1e-3 && (ols[1] - 21.7647).abs() < 1e-3);
    // The mixed-model slopes are less spread than the OLS slopes (shrinkage).
    let sd = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let ols_slopes: Vec<f64> = data
        .groups
        .iter()
        .map(|g| g.ols.as_ref().unwrap()[1])
        .collect();
    let blup_slopes: Vec<f64> = data.groups.iter().map(|g| g.blup[1]).collect();
    assert!(sd(&blup_slopes) < sd(&ols_slopes));
    let svg = check_both(&data, "shrinkage");
    // OLS + mixed-model point per group, plus the two legend circles.
    assert_eq!(count(&svg, "circle"), 2 * 18 + 2);

    // Random intercept only: the 1-D version, and groups with one row cannot be skipped
    // (an intercept needs one observation), so nothing is skipped either.
    let d1 = design("Reaction ~ Days + (1 | Subject)");
    let f1 = fit(&d1, true);
    let data1 = figures::shrinkage(&d1, &f1).unwrap();
    assert_eq!(data1.population.len(), 1);
    // R: mean(Reaction − fixef(m)[2]·Days) over subject 308 = 295.031043, and
    // coef(m)$Subject["308", 1] = 292.188815.
    let g = data1.groups.iter().find(|g| g.name == "308").unwrap();
    assert!((g.ols.as_ref().unwrap()[0] - 295.031043).abs() < 1e-3);
    assert!((g.blup[0] - 292.188815).abs() < 1e-2);
    check_both(&data1, "shrinkage_1d");
}

#[test]
fn shrinkage_counts_groups_without_an_ols_fit() {
    // Keep only day 0 of the first four subjects: those cannot have a per-group slope.
    let mut d = design("Reaction ~ Days + (Days | Subject)");
    let keep: Vec<usize> = (0..d.nobs())
        .filter(|&i| d.terms[0].refs[i] >= 4 || d.x[(i, 1)] == 0.0)
        .collect();
    let x = faer::Mat::from_fn(keep.len(), 2, |r, c| d.x[(keep[r], c)]);
    d.y = keep.iter().map(|&i| d.y[i]).collect();
    d.x = x;
    let t = &mut d.terms[0];
    t.z = keep
        .iter()
        .flat_map(|&i| [t.z[2 * i], t.z[2 * i + 1]])
        .collect();
    t.refs = keep.iter().map(|&i| t.refs[i]).collect();
    let f = fit(&d, true);
    let data = figures::shrinkage(&d, &f).unwrap();
    let skipped = data.groups.iter().filter(|g| g.ols.is_none()).count();
    assert_eq!(skipped, 4);
    assert!(data.note.as_deref().unwrap().starts_with("4 of 18 groups"));
    let svg = render_svg_string(&data, None).unwrap();
    assert_eq!(count(&svg, "circle"), 14 + 18 + 2);
}

#[test]
fn residuals_figure_has_qq_panels_for_each_random_effect() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let f = fit(&d, true);
    let data = figures::residuals(&f).unwrap();
    assert_eq!(data.qq.len(), 2);
    let svg = check_both(&data, "residuals");
    assert_eq!(count(&svg, "circle"), 180 + 180 + 18 + 18);
}

#[test]
fn profile_crosses_lme4_profile_limits_at_1_96() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let f = fit(&d, false);
    let data = figures::profile(&d, &f, &ProfileOptions::default()).unwrap();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/reference/intervals/sleepstudy_slope_ml.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let labels: Vec<&str> = reference["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let names: Vec<&str> = data.panels.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, labels);
    for (k, panel) in data.panels.iter().enumerate() {
        let pts = &panel.points;
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0), "{}", panel.name);
        // ζ increases with the parameter, and the estimate has ζ = 0.
        assert!(
            pts.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-6),
            "{}: {pts:?}",
            panel.name
        );
        let cross = |target: f64| {
            pts.windows(2).find_map(|w| {
                let ((a, za), (b, zb)) = (w[0], w[1]);
                ((za - target) * (zb - target) <= 0.0 && za != zb)
                    .then(|| a + (target - za) / (zb - za) * (b - a))
            })
        };
        let lo = reference["lower"][k].as_f64().unwrap();
        let hi = reference["upper"][k].as_f64().unwrap();
        let (l, u) = (cross(-1.959964).unwrap(), cross(1.959964).unwrap());
        let tol = 0.01 * (hi - lo);
        assert!(
            (l - lo).abs() < tol && (u - hi).abs() < tol,
            "{}: [{l}, {u}] vs lme4 [{lo}, {hi}]",
            panel.name
        );
    }
    let svg = check_both(&data, "profile");
    // One profile curve (blue, width 2) per parameter.
    let curves = svg
        .split("<polyline")
        .filter(|p| p.contains(r##"stroke="#0072B2" stroke-width="2""##))
        .count();
    assert_eq!(curves, 6);
}

#[test]
fn bad_output_names_and_sizes_are_clear_errors() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let f = fit(&d, true);
    let data = figures::residuals(&f).unwrap();
    let err = save(&data, Path::new("fig.pdf"), None).unwrap_err();
    assert!(matches!(err, PlotError::UnknownFormat { .. }));
    let err = save(&data, &out_dir().join("no/such/dir/f.svg"), None).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = save(&data, &out_dir().join("f.svg"), Some((5, 5))).unwrap_err();
    assert!(matches!(err, PlotError::BadSize { .. }));
    let mut bad = data.clone();
    bad.residuals.pop();
    assert!(matches!(
        render_svg_string(&bad, None),
        Err(PlotError::BadData(_))
    ));
}

/// The design of `formula` on an embedded data set.
fn design_on(dataset: &str, formula: &str) -> Design {
    let d = multilevel_datasets::get(dataset).unwrap();
    let opts = multilevel_frame::ReadOptions {
        factor_columns: d.factors.iter().map(|s| s.to_string()).collect(),
        ordered_columns: Vec::new(),
    };
    let data = multilevel_frame::DataFrame::from_csv_str(d.name, d.csv, &opts).unwrap();
    let parsed = multilevel_formula::parse(formula).unwrap();
    let frame = multilevel_frame::ModelFrame::new(&parsed, &data, &Default::default()).unwrap();
    let mut design = multilevel_design::build_design(&parsed, &frame).unwrap();
    design.formula = formula.to_string();
    design
}

#[test]
fn estimators_figure_draws_the_slopes_r_estimates() {
    // OLS (lm), between and within (plm) and the REML random intercept (lme4) of
    // `mAch ~ ses` by school, from the committed reference of the exploratory workflow.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/workflow/hsb82.json"),
    )
    .unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let est = |k: &str, i: usize| r[k]["estimate"][i].as_f64().unwrap();
    let d = design_on("Hsb82", "mAch ~ ses + (1 | school)");
    let fig = figures::estimators(&d, true).unwrap();
    let labels: Vec<&str> = fig.lines.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["OLS", "between", "within", "random effects"]);
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1.0);
    let l = &fig.lines;
    assert!(close(l[0].intercept, est("ols", 0), 1e-10) && close(l[0].slope, est("ols", 1), 1e-10));
    assert!(close(l[1].intercept, est("between", 0), 1e-10));
    assert!(close(l[1].slope, est("between", 1), 1e-10));
    assert!(close(l[2].slope, est("within", 0), 1e-10));
    // The within line passes through the grand means.
    let n = d.nobs() as f64;
    let (gx, gy) = (
        (0..d.nobs()).map(|i| d.x[(i, 1)]).sum::<f64>() / n,
        d.y.iter().sum::<f64>() / n,
    );
    assert!(close(l[2].intercept + l[2].slope * gx, gy, 1e-12));
    assert!(
        close(l[3].intercept, est("random", 0), 5e-5) && close(l[3].slope, est("random", 1), 5e-5)
    );
    assert_eq!(fig.group_means.len(), 160);
    let svg = check_both(&fig, "estimators");
    assert_eq!(count(&svg, "circle"), 7185 + 160);
    // The model must have an intercept, one covariate and a grouping factor.
    let bad = figures::estimators(&design_on("Hsb82", "mAch ~ ses + sx + (1 | school)"), true);
    assert!(matches!(bad, Err(PlotError::Unsupported(_))));
    let flat = figures::estimators(&design("Reaction ~ Days + (1 | Subject)"), true);
    assert!(matches!(flat, Err(PlotError::BadData(m)) if m.contains("between groups")));
}

#[test]
fn boxplot_figure_groups_sorted_by_median_and_centred() {
    let d = design("Reaction ~ Days + (Days | Subject)");
    let fig = figures::boxplot(&d).unwrap();
    assert_eq!(fig.group_names.len(), 18);
    assert_eq!(fig.panels.len(), 2);
    let medians: Vec<f64> = fig.panels[0]
        .values
        .iter()
        .map(|v| multilevel_plot::BoxStats::of(v).unwrap().median)
        .collect();
    assert!(medians.windows(2).all(|w| w[0] <= w[1]));
    // R: sort(tapply(Reaction, Subject, median)) starts 309 214.79605, 310 233.58080.
    assert_eq!(fig.group_names[..2], ["309", "310"]);
    assert!((medians[0] - 214.79605).abs() < 1e-9 && (medians[1] - 233.5808).abs() < 1e-9);
    for (raw, centred) in fig.panels[0].values.iter().zip(&fig.panels[1].values) {
        assert_eq!(raw.len(), 10);
        let mean = raw.iter().sum::<f64>() / 10.0;
        assert!(
            centred
                .iter()
                .zip(raw)
                .all(|(c, r)| (c - (r - mean)).abs() < 1e-9)
        );
    }
    let svg = check_both(&fig, "boxplot");
    assert!(svg.contains("309"));
    let mut no_groups = d.clone();
    no_groups.terms.clear();
    let none = figures::boxplot(&no_groups);
    assert!(matches!(none, Err(PlotError::Unsupported(_))));
}
