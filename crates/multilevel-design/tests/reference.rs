//! Designs compared with R: every `tests/reference/design/*.json` written by
//! `xtask/r/reference.R` (model.matrix, and lme4's `lFormula()$X` / `$reTrms`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel_design::{build_design, model_matrix};
use multilevel_frame::{Contrasts, DataFrame, FrameOptions, ModelFrame, ReadOptions};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NEG_INFINITY,
        _ => v.as_f64().unwrap(),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a == b) || (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Reads the reference's data and builds its model frame with the listed contrasts.
fn frame_of(r: &Value) -> (multilevel_formula::Formula, ModelFrame) {
    let data = &r["data"];
    let path = if let Some(name) = data["dataset"].as_str() {
        repo_root().join(format!("crates/multilevel-datasets/data/{name}.csv"))
    } else {
        repo_root().join(data["csv"].as_str().unwrap())
    };
    let opts = ReadOptions {
        factor_columns: strings(&r["factors"]),
        ordered_columns: strings(&r["ordered"]),
    };
    let df = DataFrame::read_csv(&path, &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut contrasts = BTreeMap::new();
    if let Some(map) = r["contrasts"].as_object() {
        for (col, c) in map {
            let kind = match c.as_str().unwrap() {
                "contr.treatment" => Contrasts::Treatment,
                "contr.sum" => Contrasts::Sum,
                "contr.helmert" => Contrasts::Helmert,
                "contr.poly" => Contrasts::Poly,
                other => panic!("unknown contrasts {other}"),
            };
            contrasts.insert(col.clone(), kind);
        }
    }
    let formula = multilevel_formula::parse(r["formula"].as_str().unwrap()).unwrap();
    let fo = FrameOptions {
        weights: None,
        contrasts,
        ..FrameOptions::default()
    };
    let frame = ModelFrame::new(&formula, &df, &fo).unwrap_or_else(|e| panic!("{e}"));
    (formula, frame)
}

fn compare_x(name: &str, r: &Value, cols: &[Vec<f64>], names: &[String], assign: &[usize]) {
    assert_eq!(names, strings(&r["x_names"]).as_slice(), "{name}: x_names");
    assert_eq!(
        assign,
        usizes(&r["x_assign"]).as_slice(),
        "{name}: x_assign"
    );
    let rows = r["x"].as_array().unwrap();
    assert_eq!(rows.len(), r["n"].as_u64().unwrap() as usize, "{name}: n");
    for (i, row) in rows.iter().enumerate() {
        let row = nums(row);
        assert_eq!(row.len(), cols.len(), "{name}: ncol");
        for (j, want) in row.iter().enumerate() {
            let got = cols[j][i];
            assert!(
                close(got, *want, 1e-10),
                "{name}: X[{i},{}] ({}) = {got}, R has {want}",
                j,
                names[j]
            );
        }
    }
}

fn check_reference(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (formula, frame) = frame_of(&r);
    assert_eq!(frame.n, r["n"].as_u64().unwrap() as usize, "{name}: n");
    let re = &r["reterms"];
    if re.is_null() {
        // model.matrix-only reference: no rank check
        let mm = model_matrix(&formula.fixed, &frame).unwrap();
        compare_x(&name, &r, &mm.columns, &mm.names, &mm.assign);
        return;
    }
    let mut d = build_design(&formula, &frame).unwrap_or_else(|e| panic!("{name}: {e}"));
    let cols: Vec<Vec<f64>> = (0..d.p())
        .map(|j| (0..d.nobs()).map(|i| d.x[(i, j)]).collect())
        .collect();
    compare_x(&name, &r, &cols, &d.x_names, &d.x_assign);

    // flist: the distinct grouping factors in the order of the (sorted) terms
    let mut groups: Vec<String> = Vec::new();
    for t in &d.terms {
        if !groups.contains(&t.group) {
            groups.push(t.group.clone());
        }
    }
    assert_eq!(groups, strings(&re["flist_names"]), "{name}: flist names");
    let cnms = re["cnms"].as_array().unwrap();
    assert_eq!(cnms.len(), d.terms.len(), "{name}: number of terms");
    for (t, c) in d.terms.iter().zip(cnms) {
        assert_eq!(
            t.group,
            c["group"].as_str().unwrap(),
            "{name}: term group order"
        );
        assert_eq!(t.col_names, strings(&c["names"]), "{name}: cnms");
    }
    assert_eq!(
        d.terms.iter().map(|t| t.nlevels()).collect::<Vec<_>>(),
        usizes(&re["nlevels"]),
        "{name}: nlevels"
    );
    let levels: Vec<Vec<String>> = re["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    // levels are given per grouping factor (flist); match them to the terms by group name
    // A level-order mismatch is reported at the end; if the levels are a permutation of R's,
    // the term is re-coded to R's order first so that Zt is still compared.
    let flist = strings(&re["flist_names"]);
    let mut level_order_problems = Vec::new();
    for t in &mut d.terms {
        let idx = flist.iter().position(|g| *g == t.group).unwrap();
        if t.levels != levels[idx] {
            level_order_problems.push(format!(
                "levels of {}: ours start {:?}, R's {:?}",
                t.group,
                &t.levels[..t.levels.len().min(4)],
                &levels[idx][..levels[idx].len().min(4)]
            ));
            let pos: Vec<Option<usize>> = t
                .levels
                .iter()
                .map(|l| levels[idx].iter().position(|m| m == l))
                .collect();
            assert!(
                t.levels.len() == levels[idx].len() && pos.iter().all(Option::is_some),
                "{name}: levels of {} are not a permutation of R's",
                t.group
            );
            t.refs = t
                .refs
                .iter()
                .map(|&r| pos[r as usize].unwrap() as u32)
                .collect();
            t.levels = levels[idx].clone();
        }
    }
    assert_eq!(d.theta_start(), nums(&re["theta"]), "{name}: theta start");
    assert_eq!(d.theta_lower(), nums(&re["lower"]), "{name}: lower");

    // Zt: lme4's layout, term blocks in sorted order, row offset + level*k + j, column = obs
    let zt = &re["Zt"];
    assert_eq!(zt["nrow"].as_u64().unwrap() as usize, d.q(), "{name}: q");
    assert_eq!(
        zt["ncol"].as_u64().unwrap() as usize,
        d.nobs(),
        "{name}: Zt ncol"
    );
    let mut ours: HashMap<(usize, usize), f64> = HashMap::new();
    let mut offset = 0;
    for t in &d.terms {
        for (i, &l) in t.refs.iter().enumerate() {
            for j in 0..t.k {
                let v = t.z[i * t.k + j];
                if v != 0.0 {
                    ours.insert((offset + l as usize * t.k + j, i), v);
                }
            }
        }
        offset += t.q();
    }
    let (ri, rj, rx) = (usizes(&zt["i"]), usizes(&zt["j"]), nums(&zt["x"]));
    let mut theirs: HashMap<(usize, usize), f64> = HashMap::new();
    for ((i, j), x) in ri.into_iter().zip(rj).zip(rx) {
        if x != 0.0 {
            theirs.insert((i, j), x);
        }
    }
    assert_eq!(ours.len(), theirs.len(), "{name}: Zt nonzeros");
    for (key, want) in &theirs {
        let got = ours.get(key).copied().unwrap_or(0.0);
        assert!(
            close(got, *want, 1e-12),
            "{name}: Zt{key:?} = {got}, R has {want}"
        );
    }
}

#[test]
fn designs_match_r_references() {
    let dir = repo_root().join("tests/reference/design");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect(),
        Err(_) => {
            println!(
                "note: {} absent; R design references skipped",
                dir.display()
            );
            return;
        }
    };
    files.sort();
    assert!(
        !files.is_empty(),
        "no design references in {}",
        dir.display()
    );
    let mut failed = Vec::new();
    for f in &files {
        match std::panic::catch_unwind(|| check_reference(f)) {
            Ok(()) => println!("ok {}", f.display()),
            Err(_) => failed.push(f.display().to_string()),
        }
    }
    println!(
        "{}/{} design references match R",
        files.len() - failed.len(),
        files.len()
    );
    assert!(failed.is_empty(), "references not matched: {failed:?}");
}
