//! Contrast matrices of factors, as R's `contr.treatment`, `contr.sum`, `contr.helmert` and
//! `contr.poly` compute them, plus the full indicator coding `model.matrix` uses for a factor
//! whose margin is absent from the model.

use multilevel_frame::Contrasts;

/// How one factor is coded inside one model term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Coded by its contrast matrix (`K − 1` columns); R's factor-pattern code 1.
    Contrasts(Contrasts),
    /// Coded by indicators of all `K` levels; R's factor-pattern code 2.
    Indicators,
}

/// A `K × m` coding matrix of a factor with `K` levels, stored column by column.
///
/// Row `l` of the matrix is the value a row with level `l` takes in each of the `m` columns.
/// `suffixes[j]` is appended to the variable's label to name column `j` (R's colnames of the
/// contrast matrix: level names for treatment and indicator coding, `1, 2, …` for sum and
/// Helmert coding, `.L, .Q, .C, ^4, …` for polynomial coding).
#[derive(Debug, Clone, PartialEq)]
pub struct CodingMatrix {
    /// Columns of the matrix, each of length `K`.
    pub columns: Vec<Vec<f64>>,
    /// Column-name suffixes, one per column.
    pub suffixes: Vec<String>,
}

impl CodingMatrix {
    /// Number of columns `m`.
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }
}

/// The coding matrix of a factor with the given levels.
///
/// - `Indicators`: the `K × K` identity, suffixes = level labels.
/// - `Treatment` (`contr.treatment`): indicators of levels `2..K`, suffixes = their labels.
/// - `Sum` (`contr.sum`): rows `1..K−1` the identity, row `K` all `−1`; suffixes `1..K−1`.
/// - `Helmert` (`contr.helmert`): column `j` (1-based) is `−1` in rows `1..j`, `j` in row
///   `j + 1`, `0` below; suffixes `1..K−1`.
/// - `Poly` (`contr.poly` with scores `1..K`): column `d` is the degree-`d` orthogonal
///   polynomial in the scores, i.e. the part of `(s − s̄)^d` orthogonal to all lower powers,
///   scaled to unit length (sign: positive leading coefficient); suffixes `.L`, `.Q`, `.C`,
///   `^4`, `^5`, …
///
/// The caller guarantees `K ≥ 2` for the contrast codings (R refuses contrasts for factors with
/// fewer levels); with fewer levels the result simply has no columns.
pub fn coding_matrix(coding: Coding, levels: &[String]) -> CodingMatrix {
    let k = levels.len();
    match coding {
        Coding::Indicators => CodingMatrix {
            columns: (0..k).map(|j| unit(k, j)).collect(),
            suffixes: levels.to_vec(),
        },
        Coding::Contrasts(Contrasts::Treatment) => CodingMatrix {
            columns: (1..k).map(|j| unit(k, j)).collect(),
            suffixes: levels.iter().skip(1).cloned().collect(),
        },
        Coding::Contrasts(Contrasts::Sum) => CodingMatrix {
            columns: (0..k.saturating_sub(1))
                .map(|j| {
                    let mut c = unit(k, j);
                    if let Some(last) = c.last_mut() {
                        *last = -1.0;
                    }
                    c
                })
                .collect(),
            suffixes: (1..k).map(|j| j.to_string()).collect(),
        },
        Coding::Contrasts(Contrasts::Helmert) => CodingMatrix {
            columns: (1..k)
                .map(|j| {
                    (0..k)
                        .map(|r| match r.cmp(&j) {
                            std::cmp::Ordering::Less => -1.0,
                            std::cmp::Ordering::Equal => j as f64,
                            std::cmp::Ordering::Greater => 0.0,
                        })
                        .collect()
                })
                .collect(),
            suffixes: (1..k).map(|j| j.to_string()).collect(),
        },
        Coding::Contrasts(Contrasts::Poly) => CodingMatrix {
            columns: orthogonal_polynomials(k),
            suffixes: (1..k).map(poly_suffix).collect(),
        },
    }
}

/// R's names of polynomial contrast columns: `.L`, `.Q`, `.C`, then `^4`, `^5`, …
fn poly_suffix(degree: usize) -> String {
    match degree {
        1 => ".L".to_string(),
        2 => ".Q".to_string(),
        3 => ".C".to_string(),
        d => format!("^{d}"),
    }
}

fn unit(k: usize, j: usize) -> Vec<f64> {
    let mut v = vec![0.0; k];
    if let Some(x) = v.get_mut(j) {
        *x = 1.0;
    }
    v
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Orthonormal polynomials of degrees `1..K−1` evaluated at the centred scores `1..K`.
///
/// Built by the Stieltjes/Lanczos recurrence: the degree-`d` vector is the score-weighted
/// degree-`d−1` vector with its projections on all lower-degree vectors removed (twice, for
/// numerical orthogonality), normalised. Each vector is a positive multiple of the residual of
/// `(s − s̄)^d` on lower powers, which is how `contr.poly` (QR of the Vandermonde matrix, columns
/// scaled by the diagonal of R) orients them.
fn orthogonal_polynomials(k: usize) -> Vec<Vec<f64>> {
    if k < 2 {
        return Vec::new();
    }
    let mean = (k as f64 + 1.0) / 2.0;
    let scores: Vec<f64> = (1..=k).map(|s| s as f64 - mean).collect();
    let mut basis: Vec<Vec<f64>> = vec![vec![1.0 / (k as f64).sqrt(); k]];
    for _ in 1..k {
        let prev = basis.last().cloned().unwrap_or_default();
        let mut v: Vec<f64> = prev.iter().zip(&scores).map(|(p, s)| p * s).collect();
        for _pass in 0..2 {
            for b in &basis {
                let c = dot(&v, b);
                v.iter_mut().zip(b).for_each(|(x, bi)| *x -= c * bi);
            }
        }
        let norm = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        basis.push(v);
    }
    basis.into_iter().skip(1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("l{i}")).collect()
    }

    #[test]
    fn treatment_sum_helmert_match_r() {
        let lv = levels(3);
        let t = coding_matrix(Coding::Contrasts(Contrasts::Treatment), &lv);
        assert_eq!(t.columns, vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]]);
        assert_eq!(t.suffixes, vec!["l1", "l2"]);
        // contr.sum(3) = rbind(c(1,0), c(0,1), c(-1,-1))
        let s = coding_matrix(Coding::Contrasts(Contrasts::Sum), &lv);
        assert_eq!(s.columns, vec![vec![1.0, 0.0, -1.0], vec![0.0, 1.0, -1.0]]);
        assert_eq!(s.suffixes, vec!["1", "2"]);
        // contr.helmert(4) = cbind(c(-1,1,0,0), c(-1,-1,2,0), c(-1,-1,-1,3))
        let h = coding_matrix(Coding::Contrasts(Contrasts::Helmert), &levels(4));
        assert_eq!(
            h.columns,
            vec![
                vec![-1.0, 1.0, 0.0, 0.0],
                vec![-1.0, -1.0, 2.0, 0.0],
                vec![-1.0, -1.0, -1.0, 3.0]
            ]
        );
        let i = coding_matrix(Coding::Indicators, &lv);
        assert_eq!(i.ncols(), 3);
        assert_eq!(i.suffixes, lv);
    }

    #[test]
    fn poly_matches_r_contr_poly_4() {
        // contr.poly(4): .L = (-3,-1,1,3)/sqrt(20); .Q = (1,-1,-1,1)/2; .C = (-1,3,-3,1)/sqrt(20)
        let p = coding_matrix(Coding::Contrasts(Contrasts::Poly), &levels(4));
        let r20 = 20f64.sqrt();
        let expect = [
            vec![-3.0 / r20, -1.0 / r20, 1.0 / r20, 3.0 / r20],
            vec![0.5, -0.5, -0.5, 0.5],
            vec![-1.0 / r20, 3.0 / r20, -3.0 / r20, 1.0 / r20],
        ];
        for (col, e) in p.columns.iter().zip(&expect) {
            for (a, b) in col.iter().zip(e) {
                assert!((a - b).abs() < 1e-14, "{a} vs {b}");
            }
        }
        assert_eq!(p.suffixes, vec![".L", ".Q", ".C"]);
        let p6 = coding_matrix(Coding::Contrasts(Contrasts::Poly), &levels(6));
        assert_eq!(p6.suffixes, vec![".L", ".Q", ".C", "^4", "^5"]);
        // orthonormal and orthogonal to the constant
        for (i, a) in p6.columns.iter().enumerate() {
            assert!(a.iter().sum::<f64>().abs() < 1e-13);
            for (j, b) in p6.columns.iter().enumerate() {
                let d = dot(a, b);
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-13);
            }
        }
    }
}
