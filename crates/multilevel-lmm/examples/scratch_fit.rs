//! Scratch: fit simple bench-suite models with a hand-built design.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
use multilevel_design::{Design, ReTerm};
use multilevel_lmm::{LmmOptions, lmer};

fn main() {
    // args: csv response fixed-numeric-cols(comma) terms like "G:1,U;H:1" reml
    let a: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&a[1]).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |name: &str| header.iter().position(|h| h.trim_matches('"') == name).unwrap();
    let num = |name: &str| -> Vec<f64> { let c = col(name); rows.iter().map(|r| r[c].parse().unwrap()).collect() };
    let n = rows.len();
    let mut y = num(&a[2]);
    if std::env::var("CENTER").is_ok() { let m = y.iter().sum::<f64>() / y.len() as f64; for v in y.iter_mut() { *v -= m; } }
    let xcols: Vec<Vec<f64>> = a[3].split(',').filter(|s| !s.is_empty()).map(|c| num(c)).collect();
    let p = 1 + xcols.len();
    let x = faer::Mat::from_fn(n, p, |i, j| if j == 0 { 1.0 } else { xcols[j - 1][i] });
    let mut terms = Vec::new();
    for (ti, spec) in a[4].split(';').enumerate() {
        let (g, cols) = spec.split_once(':').unwrap();
        let gc = col(g);
        let mut levels: Vec<String> = rows.iter().map(|r| r[gc].to_string()).collect();
        levels.sort(); levels.dedup();
        let refs: Vec<u32> = rows.iter().map(|r| levels.binary_search(&r[gc].to_string()).unwrap() as u32).collect();
        let cs: Vec<&str> = cols.split(',').collect();
        let k = cs.len();
        let cvals: Vec<Vec<f64>> = cs.iter().map(|c| if *c == "1" { vec![1.0; n] } else { num(c) }).collect();
        let mut z = vec![0.0; n * k];
        for i in 0..n { for j in 0..k { z[i * k + j] = cvals[j][i]; } }
        terms.push(ReTerm { group: g.into(), levels, refs, k, z, col_names: cs.iter().map(|s| s.to_string()).collect(), formula_order: ti });
    }
    terms.sort_by_key(|t| std::cmp::Reverse(t.levels.len()));
    let design = Design { formula: "scratch".into(), response_name: a[2].clone(), y, trials: None, x, x_names: (0..p).map(|j| format!("x{j}")).collect(), x_assign: (0..p).collect(), fixed_term_labels: vec![], dropped_columns: vec![], terms, weights: None, offset: None, n_dropped_missing: 0, data_name: a[1].clone() };
    let reml = a.get(5).map(|s| s == "reml").unwrap_or(false);
    let reps: usize = std::env::var("REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let opts = LmmOptions { reml, cond_var: std::env::var("NOCV").is_err(), check_convergence: std::env::var("NOCHECK").is_err(), ..Default::default() };
    let mut model = multilevel_lmm::LinearMixedModel::new(design, opts).unwrap();
    let t = std::time::Instant::now();
    let mut fit = model.fit().unwrap();
    for _ in 1..reps { fit = model.fit().unwrap(); }
    let el = t.elapsed() / reps as u32;
    println!("objective {:.6} theta {:?} sigma {:.6} evals {} time {:?}", fit.objective, fit.theta, fit.sigma, fit.optimizer.evaluations, el);
    println!("beta {:?}", fit.fixed.iter().map(|f| (f.estimate, f.std_error)).collect::<Vec<_>>());
    println!("warnings {:?}", fit.warnings);
}
