//! Tests of the gradient: central differences, and the kernels' variants against each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::objective::ProfiledDeviance;
use crate::testing::{design, design_with};
use multilevel_design::Design;

/// Central differences of the objective, step `h`.
fn numeric(dev: &mut ProfiledDeviance, theta: &[f64], h: f64) -> Vec<f64> {
    let mut x = theta.to_vec();
    (0..theta.len())
        .map(|i| {
            x[i] = theta[i] + h;
            let fp = dev.objective(&x);
            x[i] = theta[i] - h;
            let fm = dev.objective(&x);
            x[i] = theta[i];
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

#[test]
fn chunked_level_pass_equals_the_single_pass() {
    // A vector first term (k₀ = 2) and a vector later term: the general path. Forcing the
    // chunked first-term pass on the rayon threads must give the same gradient.
    let d = design_with(true, 300, &[(40, 2), (12, 2), (6, 1)]);
    let theta = [0.9, 0.2, 0.7, 1.1, -0.3, 0.5, 0.8];
    let mut dev = ProfiledDeviance::new(&d, true);
    // The chunked pass is the sparse one.
    dev.pls.vdense = None;
    let (f1, g1) = dev.gradient(&theta);
    dev.pls.gradient_chunk_work = 0;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let (f2, g2) = pool.install(|| dev.gradient(&theta));
    assert_eq!(f1, f2);
    for (a, b) in g1.iter().zip(&g2) {
        assert!((a - b).abs() <= 1e-10 * (1.0 + a.abs()), "{g1:?} vs {g2:?}");
    }
}

#[test]
fn dense_first_term_pass_equals_the_sparse_pass() {
    // Vector first term (k₀ = 2) with a dense V: the dense pass (one product S⁻¹W) and the
    // level-by-level sparse pass give the same gradient, REML and ML.
    let d = design_with(true, 300, &[(20, 2), (12, 2), (5, 1)]);
    let theta = [0.9, 0.2, 0.7, 1.1, -0.3, 0.5, 0.8];
    for reml in [true, false] {
        let mut dev = ProfiledDeviance::new(&d, reml);
        assert!(dev.pls.vdense.is_some());
        let (f1, g1) = dev.gradient(&theta);
        dev.pls.vdense = None;
        let (f2, g2) = dev.gradient(&theta);
        assert!((f1 - f2).abs() <= 1e-10 * f1.abs());
        for (a, b) in g1.iter().zip(&g2) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{g1:?} vs {g2:?}");
        }
    }
    // And both equal central differences (the dense path, a near-singular Λ₀ included).
    check(&d, &theta);
    check(&d, &[0.9, 0.2, 1e-3, 1.1, -0.3, 0.0, 0.8]);
}

fn check(d: &Design, theta: &[f64]) {
    for reml in [true, false] {
        let mut dev = ProfiledDeviance::new(d, reml);
        let (f, g) = dev.gradient(theta);
        assert_eq!(f, dev.objective(theta));
        let num = numeric(&mut dev, theta, 1e-5);
        let scale = num.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        for (i, (a, b)) in g.iter().zip(&num).enumerate() {
            assert!(
                (a - b).abs() <= 2e-6 * scale,
                "reml {reml}, θ {theta:?}, component {i}: analytic {a} vs numeric {b}\n{g:?}\n{num:?}"
            );
        }
    }
}

#[test]
fn gradient_matches_central_differences_on_crossed_vector_terms() {
    for weights in [false, true] {
        let d = design(weights);
        check(&d, &[0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9]);
        check(&d, &[1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    }
}

#[test]
fn gradient_matches_central_differences_for_scalar_and_dense_layouts() {
    // Scalar first term with a dense V; a vector later term.
    let d = design_with(true, 120, &[(40, 1), (16, 2)]);
    check(&d, &[0.8, 1.1, -0.2, 0.6]);
    // Sparse V, three terms.
    let d = design_with(false, 400, &[(90, 1), (60, 2), (30, 1)]);
    check(&d, &[0.8, 1.1, -0.2, 0.6, 0.3]);
    // One scalar term, one vector term.
    let d = design_with(false, 80, &[(9, 1)]);
    check(&d, &[0.6]);
    let d = design_with(true, 80, &[(9, 2)]);
    check(&d, &[0.6, 0.1, 0.3]);
    // Scalar terms only: the shortcut (every |θ_t| ≥ 1e-3), with a sparse and a dense V,
    // and the general formula when one θ_t is near 0 or negative and small.
    let d = design_with(false, 150, &[(12, 1), (7, 1), (5, 1)]);
    check(&d, &[0.6, 1.4, 0.2]);
    check(&d, &[-0.6, 1.4, -0.2]);
    check(&d, &[0.6, 5e-4, 0.2]);
    let d = design_with(true, 120, &[(40, 1), (16, 1)]);
    check(&d, &[0.8, 1.1]);
    check(&d, &[0.8, 2e-4]);
}

/// θ for terms of the given sizes: diagonal template entries between 0.5 and 1.2, small
/// off-diagonal ones (column-major lower triangle, as the engine orders them).
fn theta_for(ks: &[usize]) -> Vec<f64> {
    let mut theta = Vec::new();
    for &k in ks {
        for b in 0..k {
            for a in b..k {
                let i = theta.len() as f64;
                theta.push(if a == b {
                    0.5 + 0.7 * ((i * 0.37) % 1.0)
                } else {
                    0.3 * ((i * 0.61) % 1.0) - 0.15
                });
            }
        }
    }
    theta
}

#[test]
fn gradient_matches_central_differences_for_wide_vector_terms() {
    // k₀ = 4 and a k = 3 later term (the fixed-size row products), and k₀ = 9 (the
    // general-size one), each with a dense V.
    let d = design_with(true, 400, &[(12, 4), (6, 3)]);
    check(&d, &theta_for(&[4, 3]));
    let d = design_with(false, 600, &[(10, 9)]);
    check(&d, &theta_for(&[9]));
}

#[test]
fn kept_workspace_matches_a_fresh_engine() {
    // The dense first-term pass keeps `B` between gradients: switching REML/ML (a different
    // number of rows) and a new response must give what a fresh engine gives.
    let mut d = design_with(true, 300, &[(20, 2), (12, 2), (5, 1)]);
    let theta = [0.9, 0.2, 0.7, 1.1, -0.3, 0.5, 0.8];
    let mut dev = ProfiledDeviance::new(&d, false);
    assert!(dev.pls.vdense.is_some());
    let _ = dev.gradient(&theta);
    dev.set_reml(true);
    assert_eq!(
        dev.gradient(&theta),
        ProfiledDeviance::new(&d, true).gradient(&theta)
    );
    let y2: Vec<f64> =
        d.y.iter()
            .enumerate()
            .map(|(i, v)| v * 0.5 + (i % 4) as f64)
            .collect();
    dev.set_response(&d, &y2);
    d.y = y2;
    assert_eq!(
        dev.gradient(&theta),
        ProfiledDeviance::new(&d, true).gradient(&theta)
    );
}

#[test]
fn gradient_with_offset_and_near_the_boundary() {
    let mut d = design(true);
    d.offset = Some((0..d.nobs()).map(|i| (i % 5) as f64 * 0.2).collect());
    check(&d, &[0.7, -0.3, 1e-3, 1.3, 0.2, 0.5, 0.9]);
    check(&d, &[0.05, 0.3, 0.4, 0.002, 0.2, 0.5, 0.01]);
}

#[test]
fn one_sided_derivative_at_the_boundary() {
    let d = design(false);
    let theta = [0.7, -0.3, 0.0, 1.3, 0.2, 0.5, 0.0];
    for reml in [true, false] {
        let mut dev = ProfiledDeviance::new(&d, reml);
        let (f0, g) = dev.gradient(&theta);
        for i in [2, 6] {
            let h = 1e-6;
            let mut x = theta.to_vec();
            x[i] = h;
            let f1 = dev.objective(&x);
            x[i] = 2.0 * h;
            let f2 = dev.objective(&x);
            // Second-order one-sided difference.
            let num = (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * h);
            assert!(
                (g[i] - num).abs() < 1e-4 * g[i].abs().max(1.0),
                "{i}: {} vs {num}",
                g[i]
            );
        }
    }
}
