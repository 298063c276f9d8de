//! Invariances of the linear mixed model fit (issue 17), checked on small random data sets with
//! a few proptest cases each: they hold for lme4's model exactly, so the only slack allowed is the
//! optimiser's convergence tolerance.
//!
//! * `y → c·y` scales β, σ and the standard errors by `c` and keeps θ (Λ is relative to σ);
//! * `y → y + a` moves only the intercept;
//! * permuting the rows, renaming the levels of the grouping factor and reordering the columns
//!   of the data change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use multilevel::{DataFrame, FitOptions, MixedModel};
use multilevel_numeric::rng::SplitMix64;
use proptest::prelude::*;

const FORMULA: &str = "y ~ x + (1 | g)";

/// Relative tolerance for β, σ and the standard errors: the optimiser stops within about 1e-8
/// of θ̂ on these small problems, and β̂(θ) is smooth in θ.
const REL: f64 = 1e-6;
/// Absolute tolerance for θ (relative standard deviations of order 1).
const THETA: f64 = 1e-5;

/// A small data set: `groups` groups of `per` rows, `y = 1 + 0.5 x + u_g + e` with
/// `sd(u) = 1`, `sd(e) = 0.5`, so θ̂ is well inside its bounds.
fn data(seed: u64, groups: usize, per: usize) -> (Vec<f64>, Vec<f64>, Vec<String>) {
    let mut rng = SplitMix64::new(seed);
    let (mut y, mut x, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..groups {
        let u = rng.normal();
        for _ in 0..per {
            let xi = 4.0 * rng.uniform();
            y.push(1.0 + 0.5 * xi + u + 0.5 * rng.normal());
            x.push(xi);
            g.push(format!("G{j}"));
        }
    }
    (y, x, g)
}

fn frame(y: &[f64], x: &[f64], g: &[String], y_first: bool) -> DataFrame {
    let labels: Vec<&str> = g.iter().map(String::as_str).collect();
    let df = DataFrame::new("prop");
    if y_first {
        df.with_numeric("y", y.to_vec())
            .unwrap()
            .with_numeric("x", x.to_vec())
            .unwrap()
            .with_strings("g", &labels)
            .unwrap()
    } else {
        df.with_strings("g", &labels)
            .unwrap()
            .with_numeric("x", x.to_vec())
            .unwrap()
            .with_numeric("y", y.to_vec())
            .unwrap()
    }
}

struct Fit {
    beta: Vec<f64>,
    se: Vec<f64>,
    sigma: f64,
    theta: Vec<f64>,
}

fn fit(df: &DataFrame) -> Fit {
    let m = multilevel::lmer(FORMULA, df, &FitOptions::default()).unwrap();
    let s = m.summary();
    Fit {
        beta: s.fixed.iter().map(|f| f.estimate).collect(),
        se: s.fixed.iter().map(|f| f.std_error).collect(),
        sigma: s.sigma,
        theta: s.theta.clone(),
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-12)
}

fn all_close(a: &[f64], b: &[f64], rel: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close(*x, *y, rel))
}

fn theta_close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= THETA)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scaling_y_scales_beta_sigma_se_and_keeps_theta(
        seed in any::<u64>(), groups in 4usize..8, per in 3usize..6, log_c in -3.0f64..3.0,
    ) {
        let c = 10f64.powf(log_c);
        let (y, x, g) = data(seed, groups, per);
        let base = fit(&frame(&y, &x, &g, true));
        let ys: Vec<f64> = y.iter().map(|v| c * v).collect();
        let scaled = fit(&frame(&ys, &x, &g, true));
        let beta_c: Vec<f64> = base.beta.iter().map(|b| c * b).collect();
        let se_c: Vec<f64> = base.se.iter().map(|s| c * s).collect();
        prop_assert!(all_close(&scaled.beta, &beta_c, REL), "β {:?} vs {:?}", scaled.beta, beta_c);
        prop_assert!(all_close(&scaled.se, &se_c, REL), "se {:?} vs {:?}", scaled.se, se_c);
        prop_assert!(close(scaled.sigma, c * base.sigma, REL));
        prop_assert!(theta_close(&scaled.theta, &base.theta), "θ {:?} vs {:?}", scaled.theta, base.theta);
    }

    #[test]
    fn shifting_y_moves_only_the_intercept(
        seed in any::<u64>(), groups in 4usize..8, per in 3usize..6, a in -100.0f64..100.0,
    ) {
        let (y, x, g) = data(seed, groups, per);
        let base = fit(&frame(&y, &x, &g, true));
        let ya: Vec<f64> = y.iter().map(|v| v + a).collect();
        let shifted = fit(&frame(&ya, &x, &g, true));
        // The intercept moves by a: compare on the scale of the data (|a| + |β₀|).
        let scale = a.abs() + base.beta[0].abs();
        prop_assert!((shifted.beta[0] - base.beta[0] - a).abs() <= REL * scale);
        prop_assert!(close(shifted.beta[1], base.beta[1], REL));
        prop_assert!(all_close(&shifted.se, &base.se, REL));
        prop_assert!(close(shifted.sigma, base.sigma, REL));
        prop_assert!(theta_close(&shifted.theta, &base.theta));
    }

    #[test]
    fn permuting_rows_renaming_levels_and_reordering_columns_change_nothing(
        seed in any::<u64>(), groups in 4usize..8, per in 3usize..6, shuffle in any::<u64>(),
    ) {
        let (y, x, g) = data(seed, groups, per);
        let base = fit(&frame(&y, &x, &g, true));
        // A random permutation of the rows (Fisher–Yates).
        let n = y.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = SplitMix64::new(shuffle);
        for i in (1..n).rev() {
            let j = ((rng.uniform() * (i + 1) as f64) as usize).min(i);
            order.swap(i, j);
        }
        let yp: Vec<f64> = order.iter().map(|&i| y[i]).collect();
        let xp: Vec<f64> = order.iter().map(|&i| x[i]).collect();
        // Renamed levels whose sorted order is reversed.
        let gp: Vec<String> = order
            .iter()
            .map(|&i| format!("z{}", 99 - g[i][1..].parse::<usize>().unwrap()))
            .collect();
        let other = fit(&frame(&yp, &xp, &gp, false));
        prop_assert!(all_close(&other.beta, &base.beta, REL), "β {:?} vs {:?}", other.beta, base.beta);
        prop_assert!(all_close(&other.se, &base.se, REL));
        prop_assert!(close(other.sigma, base.sigma, REL));
        prop_assert!(theta_close(&other.theta, &base.theta));
    }
}
