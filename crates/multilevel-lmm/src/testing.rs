//! Test designs and the plain dense reference computation of the profiled criteria, and the
//! objective's tests against it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use faer::Mat;
use multilevel_design::{CovarianceSpec, Design, ReTerm};

use crate::blocks::sparse::TileIndex;
use crate::objective::ProfiledDeviance;
use crate::pls::PARALLEL_MIN;

/// Deterministic pseudo-random numbers in [0, 1).
fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

/// A small crossed design: a vector term (k = 2) with 7 levels, a vector term (k = 2)
/// with 4 levels and a scalar term with 3 levels; X = [1, x].
pub(crate) fn design(weights: bool) -> Design {
    design_with(weights, 60, &[(7, 2), (4, 2), (3, 1)])
}

pub(crate) fn design_with(weights: bool, n: usize, spec: &[(usize, usize)]) -> Design {
    let mut seed = 7u64;
    let x: Vec<f64> = (0..n).map(|_| lcg(&mut seed) * 4.0).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| 3.0 + 0.5 * x[i] + (i % 7) as f64 * 0.3 + lcg(&mut seed))
        .collect();
    let term = |levels: usize, k: usize, order: usize, seed: &mut u64| ReTerm {
        group: format!("g{levels}"),
        levels: (0..levels).map(|l| format!("L{l}")).collect(),
        refs: (0..n)
            .map(|i| ((i * (order + 3) + i / 5) % levels) as u32)
            .collect(),
        k,
        z: (0..n)
            .flat_map(|i| {
                let mut row = vec![1.0];
                for c in 1..k {
                    row.push(if c == 1 {
                        x[i] + lcg(seed) * 0.1
                    } else {
                        lcg(seed) * 2.0 - 1.0
                    });
                }
                row
            })
            .collect(),
        col_names: (0..k).map(|c| format!("c{c}")).collect(),
        formula_order: order,
        structure: CovarianceSpec::unstructured(k),
    };
    let terms = spec
        .iter()
        .enumerate()
        .map(|(o, &(levels, k))| term(levels, k, o, &mut seed))
        .collect();
    Design {
        formula: "test".into(),
        response_name: "y".into(),
        y,
        trials: None,
        x: Mat::from_fn(n, 2, |i, j| if j == 0 { 1.0 } else { x[i] }),
        x_names: vec!["(Intercept)".into(), "x".into()],
        x_assign: vec![0, 1],
        fixed_term_labels: vec!["(Intercept)".into(), "x".into()],
        dropped_columns: vec![],
        terms,
        weights: weights.then(|| (0..n).map(|i| 0.5 + (i % 3) as f64).collect()),
        offset: None,
        n_dropped_missing: 0,
        data_name: "test".into(),
    }
}

/// The criteria computed the slow way: dense Z, dense Λ, dense Cholesky of M(θ).
fn brute_force(d: &Design, theta: &[f64]) -> (f64, f64) {
    let n = d.nobs();
    let p = d.p();
    let q = d.q();
    let w: Vec<f64> = d.weights.clone().unwrap_or_else(|| vec![1.0; n]);
    // Z Λ, column by column.
    let mut zl = Mat::<f64>::zeros(n, q);
    let mut off = 0;
    let mut toff = 0;
    for t in &d.terms {
        let k = t.k;
        let mut lam = vec![0.0; k * k];
        let mut idx = toff;
        for c in 0..k {
            for r in c..k {
                lam[r * k + c] = theta[idx];
                idx += 1;
            }
        }
        for i in 0..n {
            let l = t.refs[i] as usize;
            for c in 0..k {
                let mut acc = 0.0;
                for r in 0..k {
                    acc += t.z[i * k + r] * lam[r * k + c];
                }
                zl[(i, off + l * k + c)] = acc;
            }
        }
        off += t.q();
        toff += t.n_theta();
    }
    let m = q + p + 1;
    let row = |i: usize, c: usize| -> f64 {
        let sw = w[i].sqrt();
        sw * if c < q {
            zl[(i, c)]
        } else if c < q + p {
            d.x[(i, c - q)]
        } else {
            d.y[i]
        }
    };
    let mut big = Mat::<f64>::zeros(m, m);
    for a in 0..m {
        for b in 0..m {
            big[(a, b)] = (0..n).map(|i| row(i, a) * row(i, b)).sum::<f64>()
                + if a == b && a < q { 1.0 } else { 0.0 };
        }
    }
    let l = big.llt(faer::Side::Lower).unwrap();
    let lm = l.L();
    let ld_l2: f64 = (0..q).map(|i| 2.0 * lm[(i, i)].ln()).sum();
    let ld_rx2: f64 = (q..q + p).map(|i| 2.0 * lm[(i, i)].ln()).sum();
    let pwrss = lm[(m - 1, m - 1)].powi(2);
    let ldw: f64 = w.iter().map(|v| v.ln()).sum();
    let (nf, npf) = (n as f64, (n - p) as f64);
    let two_pi = 2.0 * std::f64::consts::PI;
    let ml = ld_l2 - ldw + nf * (1.0 + (two_pi * pwrss / nf).ln());
    let reml = ld_l2 + ld_rx2 - ldw + npf * (1.0 + (two_pi * pwrss / npf).ln());
    (reml, ml)
}

#[test]
fn blocked_objective_equals_dense_computation() {
    for weights in [false, true] {
        let d = design(weights);
        let mut dev = ProfiledDeviance::new(&d, true);
        for theta in [
            vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            vec![0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9],
            vec![0.0, 0.5, 0.2, 0.3, -0.4, 0.0, 2.0],
        ] {
            let (reml, ml) = brute_force(&d, &theta);
            dev.set_reml(true);
            let ours_reml = dev.objective(&theta);
            dev.set_reml(false);
            let ours_ml = dev.objective(&theta);
            assert!(
                (ours_reml - reml).abs() < 1e-9 * reml.abs(),
                "{ours_reml} vs {reml}"
            );
            assert!((ours_ml - ml).abs() < 1e-9 * ml.abs(), "{ours_ml} vs {ml}");
        }
    }
}

#[test]
fn dense_off_diagonal_path_and_large_blocks_agree_with_dense_computation() {
    // 40 levels first (scalar), then 16 levels of a vector term: a 35 × 35 dense block,
    // the dense V path and faer's Cholesky.
    let d = design_with(true, 120, &[(40, 1), (16, 2)]);
    let mut dev = ProfiledDeviance::new(&d, false);
    assert!(dev.pls.vdense.is_some());
    let theta = [0.8, 1.1, -0.2, 0.6];
    let (_, ml) = brute_force(&d, &theta);
    let ours = dev.objective(&theta);
    assert!((ours - ml).abs() < 1e-9 * ml.abs(), "{ours} vs {ml}");
}

#[test]
fn two_thread_schur_and_cholesky_equal_the_sequential_ones() {
    // Sparse V with a vector term in the dense block, and a dense V; forcing the parallel
    // path (blocked Cholesky, column blocks on the rayon pool) on these small blocks.
    for spec in [&[(90, 1), (60, 2), (30, 1)][..], &[(40, 1), (16, 2)][..]] {
        let d = design_with(true, 400, spec);
        let mut dev = ProfiledDeviance::new(&d, false);
        let theta: Vec<f64> = (0..d.n_theta()).map(|i| 0.9 - 0.15 * i as f64).collect();
        dev.pls.tile_width = 7;
        let seq = dev.objective(&theta);
        dev.pls.parallel_min = 0;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let par = pool.install(|| dev.objective(&theta));
        assert!((seq - par).abs() < 1e-10 * seq.abs(), "{seq} vs {par}");
        let (_, ml) = brute_force(&d, &theta);
        assert!((par - ml).abs() < 1e-9 * ml.abs(), "{par} vs {ml}");
    }
}

#[test]
fn tiled_sparse_downdate_equals_untiled() {
    let d = design_with(false, 400, &[(90, 1), (60, 2), (30, 1)]);
    let mut dev = ProfiledDeviance::new(&d, true);
    assert!(dev.pls.vdense.is_none());
    let theta = [0.8, 1.1, -0.2, 0.6, 0.3];
    dev.pls.tile_width = dev.pls.nt;
    let whole = dev.objective(&theta);
    dev.pls.tile_width = 7;
    let tiled = dev.objective(&theta);
    assert!(
        (whole - tiled).abs() < 1e-10 * whole.abs(),
        "{whole} vs {tiled}"
    );
    let (reml, _) = brute_force(&d, &theta);
    assert!(
        (whole - reml).abs() < 1e-9 * reml.abs(),
        "{whole} vs {reml}"
    );
}

#[test]
fn sparse_cross_products_and_tile_index_give_the_dense_numbers() {
    // Crossed scalar terms (Z_j'Z_j diagonal) and a vector term in the dense block: A_rr is
    // kept sparse; S formed from it, tiled or not, must give the numbers of the dense copy
    // bit for bit (on one thread, and on two: the two Cholesky kernels differ by rounding).
    for spec in [
        &[(200, 1), (150, 1), (3, 1)][..],
        &[(200, 1), (100, 2), (3, 1)][..],
    ] {
        let d = design_with(true, 600, spec);
        let mut dev = ProfiledDeviance::new(&d, false);
        assert!(dev.pls.a_rest_sparse.is_some() && dev.pls.vdense.is_none());
        let theta: Vec<f64> = (0..d.n_theta()).map(|i| 0.9 - 0.15 * i as f64).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (mut seq, mut par) = (Vec::new(), Vec::new());
        for sparse in [true, false] {
            if !sparse {
                dev.pls.a_rest_sparse = None;
            }
            for width in [dev.pls.nt, 7, 16] {
                dev.pls.tile_width = width;
                dev.pls.parallel_min = PARALLEL_MIN;
                for small in [true, false] {
                    if small {
                        dev.use_chosen_blocks();
                    } else {
                        dev.use_general_blocks();
                    }
                    seq.push(dev.objective(&theta).to_bits());
                }
                dev.pls.parallel_min = 0;
                par.push(pool.install(|| dev.objective(&theta)).to_bits());
            }
        }
        assert!(seq.iter().all(|r| *r == seq[0]) && par.iter().all(|r| *r == par[0]));
        let (seq, par) = (f64::from_bits(seq[0]), f64::from_bits(par[0]));
        assert!((seq - par).abs() < 1e-10 * seq.abs(), "{seq} vs {par}");
        let (_, ml) = brute_force(&d, &theta);
        assert!((seq - ml).abs() < 1e-9 * ml.abs(), "{seq} vs {ml}");
    }
}

#[test]
fn tile_index_lists_each_level_once_per_block_it_reaches() {
    // Level 0 has rows 1, 2, 9; level 1 rows 3, 4; level 2 none; level 3 row 9.
    let bptr = [0, 3, 5, 5, 6];
    let brow = [1u32, 2, 9, 3, 4, 9];
    let idx = TileIndex::build(10, 4, &bptr, &brow);
    let tiles: Vec<Vec<(usize, usize)>> = (0..3).map(|t| idx.tile(t).collect()).collect();
    assert_eq!(tiles[0], vec![(0, 0), (1, 3)]);
    assert_eq!(tiles[1], vec![(1, 4)]);
    assert_eq!(tiles[2], vec![(0, 2), (3, 5)]);
    assert!(idx.fits(4) && !idx.fits(5));
}

#[test]
fn objective_is_invariant_to_the_sign_of_lambda_columns() {
    let d = design(false);
    let mut dev = ProfiledDeviance::new(&d, false);
    let a = dev.objective(&[0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9]);
    // Flip the sign of the first column of the first term's Λ (elements 0 and 1).
    let b = dev.objective(&[-0.7, 0.3, 0.4, 1.3, 0.2, 0.5, 0.9]);
    assert!((a - b).abs() < 1e-9 * a.abs());
}

#[test]
fn set_response_matches_a_fresh_structure() {
    let d = design(true);
    let mut dev = ProfiledDeviance::new(&d, true);
    let y2: Vec<f64> = d.y.iter().map(|v| v * 1.5 - 2.0).collect();
    dev.set_response(&d, &y2);
    let mut d2 = d.clone();
    d2.y = y2;
    let mut fresh = ProfiledDeviance::new(&d2, true);
    let theta = [0.7, -0.3, 0.4, 1.3, 0.2, 0.5, 0.9];
    assert_eq!(dev.objective(&theta), fresh.objective(&theta));
}

// ---- The block types of small models against the general blocks ----

/// The criterion, gradient, β and u by the fast paths and by the general path, for REML
/// and ML. `exact`: the numbers must be the same bit for bit, else to 1e-12 relative.
/// `fast_gradient`: a fast gradient path must apply (else only the fast Schur block does).
fn compare(d: &Design, thetas: &[&[f64]], exact: bool, fast_gradient: bool) {
    for reml in [true, false] {
        let mut fast = ProfiledDeviance::new(d, reml);
        let mut general = ProfiledDeviance::new(d, reml);
        general.use_general_blocks();
        for theta in thetas {
            let (f1, g1) = fast.gradient(theta);
            let (f2, g2) = general.gradient(theta);
            let (b1, u1) = fast.solve();
            let (b2, u2) = general.solve();
            let close = |a: f64, b: f64| {
                if exact {
                    a == b
                } else {
                    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
                }
            };
            assert_eq!(f1, f2, "criterion, reml {reml}, θ {theta:?}");
            assert!(
                g1.iter().zip(&g2).all(|(a, b)| close(*a, *b)),
                "gradient, reml {reml}, θ {theta:?}: {g1:?} vs {g2:?}"
            );
            assert_eq!(b1, b2);
            assert_eq!(u1, u2);
            assert_eq!(fast.objective(theta), general.objective(theta));
            // The comparison is of two different paths: the fast one did apply here.
            let fs = fast.factor(theta).expect("factor");
            assert_eq!(
                fast.special_gradient(&fs, theta.len()).is_some(),
                fast_gradient,
                "fast gradient path for reml {reml}, θ {theta:?}"
            );
        }
    }
}

#[test]
fn single_term_path_equals_the_general_path() {
    for weights in [false, true] {
        let d = design_with(weights, 90, &[(9, 2)]);
        compare(
            &d,
            &[&[0.6, 0.1, 0.3], &[1.2, -0.4, 0.0], &[0.0, 0.0, 0.5]],
            true,
            true,
        );
        // k₀ = 3: the k = 2 design with a third column (1, z, z²/4 + a wobble).
        let mut d = design_with(weights, 90, &[(9, 2)]);
        let t = &mut d.terms[0];
        t.z =
            t.z.chunks_exact(2)
                .enumerate()
                .flat_map(|(i, r)| [r[0], r[1], 0.25 * r[1] * r[1] + (i % 4) as f64 * 0.3])
                .collect();
        t.k = 3;
        t.col_names.push("c2".into());
        compare(&d, &[&[0.6, 0.1, 0.3, 0.8, -0.2, 0.4]], true, true);
        // A scalar term near 0 (the scalar identity is not used there).
        let d = design_with(weights, 80, &[(9, 1)]);
        compare(&d, &[&[5e-4], &[0.0]], true, true);
    }
}

#[test]
fn scalar_terms_path_equals_the_general_path() {
    for weights in [false, true] {
        let d = design_with(weights, 80, &[(9, 1)]);
        compare(&d, &[&[0.6], &[-1.3]], false, true);
        let d = design_with(weights, 150, &[(12, 1), (7, 1), (5, 1)]);
        compare(&d, &[&[0.6, 1.4, 0.2], &[-0.6, 1.4, -0.2]], false, true);
        // One θ near 0: the general formula (through the fast Schur complement).
        compare(&d, &[&[0.6, 5e-4, 0.2]], false, false);
    }
}

// ---- Structured covariances (diag, cs, ar1) through every block type ----

/// The design with its terms' structures replaced.
fn with_structures(mut d: Design, specs: &[CovarianceSpec]) -> Design {
    for (t, s) in d.terms.iter_mut().zip(specs) {
        t.structure = s.clone();
    }
    d
}

/// θ of the unstructured terms giving the same Λ as `theta` does under the structures.
fn unstructured_theta(d: &Design, theta: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    for (lam, t) in d.lambdas(theta).iter().zip(&d.terms) {
        let k = t.k;
        for c in 0..k {
            for r in c..k {
                out.push(lam[r * k + c]);
            }
        }
    }
    out
}

/// For each block type the layout selects (single term with k = 2, 3; all-scalar; general),
/// a structured model's criterion equals the unstructured one at the same Λ, and its
/// gradient (the block type's Λ-gradient through the structure's chain rule) matches central
/// differences of the criterion, by the chosen blocks and by the general ones.
#[test]
fn structured_terms_through_every_block_type() {
    use multilevel_design::{Ar1, CompoundSymmetry, Diagonal};
    let cs = |k, hom| CovarianceSpec::CompoundSymmetry(CompoundSymmetry { k, hom });
    let ar1 = |k, hom| CovarianceSpec::Ar1(Ar1 { k, hom });
    let diag = |k, hom| CovarianceSpec::Diagonal(Diagonal { k, hom });
    let mut k3 = design_with(false, 90, &[(9, 2)]);
    {
        let t = &mut k3.terms[0];
        t.z =
            t.z.chunks_exact(2)
                .enumerate()
                .flat_map(|(i, r)| [r[0], r[1], 0.25 * r[1] * r[1] + (i % 4) as f64 * 0.3])
                .collect();
        t.k = 3;
        t.col_names.push("c2".into());
    }
    let cases: Vec<(Design, Vec<f64>)> = vec![
        (
            with_structures(design_with(true, 90, &[(9, 2)]), &[diag(2, false)]),
            vec![0.8, 0.3],
        ),
        (
            with_structures(design_with(false, 90, &[(9, 2)]), &[cs(2, true)]),
            vec![0.7, 0.4],
        ),
        (
            with_structures(k3.clone(), &[cs(3, false)]),
            vec![0.7, 1.1, 0.4, -0.3],
        ),
        (with_structures(k3, &[ar1(3, true)]), vec![0.9, 0.6]),
        (
            with_structures(
                design_with(false, 150, &[(12, 1), (7, 1)]),
                &[diag(1, false), cs(1, false)],
            ),
            vec![0.6, 1.3],
        ),
        (
            with_structures(design(true), &[ar1(2, false), cs(2, true), diag(1, true)]),
            vec![0.9, 0.5, -0.4, 0.7, 0.2, 0.6],
        ),
    ];
    for (d, theta) in &cases {
        assert_eq!(d.n_theta(), theta.len());
        let mut us = d.clone();
        for t in &mut us.terms {
            t.structure = CovarianceSpec::unstructured(t.k);
        }
        let us_theta = unstructured_theta(d, theta);
        for reml in [true, false] {
            let mut reference = ProfiledDeviance::new(&us, reml);
            let want = reference.objective(&us_theta);
            for general in [false, true] {
                let mut dev = ProfiledDeviance::new(d, reml);
                if general {
                    dev.use_general_blocks();
                }
                let (f, g) = dev.gradient(theta);
                assert!(
                    (f - want).abs() <= 1e-10 * want.abs(),
                    "criterion {f} vs {want} ({:?})",
                    d.terms[0].structure
                );
                let h = 1e-6;
                for p in 0..theta.len() {
                    let mut t = theta.clone();
                    t[p] += h;
                    let fp = dev.objective(&t);
                    t[p] -= 2.0 * h;
                    let fm = dev.objective(&t);
                    let fd = (fp - fm) / (2.0 * h);
                    assert!(
                        (fd - g[p]).abs() <= 1e-5 * (1.0 + fd.abs()),
                        "p {p}: {fd} vs {} (reml {reml}, general {general}, {:?})",
                        g[p],
                        d.terms[0].structure
                    );
                }
            }
        }
    }
}
