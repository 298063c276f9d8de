//! The cross products of the whitened data, `M = [X y]' R⁻¹ [X y]` summed over the subjects,
//! and `Σᵢ log det Rᵢ`, for one set of covariance parameters.
//!
//! Subjects whose rows have the same structural positions and variance levels share one
//! relative covariance block `R_P` (a *pattern*); the block is factored once per pattern. A
//! pattern with many subjects is summed through its sufficient statistics: with
//! `Wᵢ = [Xᵢ yᵢ]` (`m × k`) and `Sⱼₗ = Σᵢ Wᵢⱼ' Wᵢₗ` (row `j` of `Wᵢ` with row `l`, `k × k`),
//!
//! ```text
//! Σᵢ Wᵢ' R_P⁻¹ Wᵢ = Σⱼ≤ₗ (R_P⁻¹)ⱼₗ Tⱼₗ,   Tⱼⱼ = Sⱼⱼ,  Tⱼₗ = Sⱼₗ + Sⱼₗ'  (j < l),
//! ```
//!
//! which costs `m²k²/4` per evaluation whatever the number of subjects. A pattern with few
//! subjects is whitened row by row instead (`Wᵢ ← L_P⁻¹ Wᵢ`, then `Wᵢ'Wᵢ` accumulated). Only
//! the lower triangle of `M` is formed, packed (`(a, b)`, `a ≥ b`, at `a(a+1)/2 + b`).

use crate::structure::Evaluated;
use multilevel_numeric::spd::Cholesky;
use std::collections::HashMap;

/// Index of `(a, b)`, `a ≥ b`, in a packed lower triangle.
#[inline]
pub(crate) fn packed(a: usize, b: usize) -> usize {
    a * (a + 1) / 2 + b
}

#[derive(Debug, Clone)]
enum PatternData {
    /// `T_{jl}` for `j ≤ l` (in the order of `pairs`), each a packed `k × k` lower triangle.
    Stats(Vec<f64>),
    /// The subjects' `Wᵢ`, each `m × k` row-major, one after the other.
    Rows(Vec<f64>),
}

#[derive(Debug, Clone)]
struct Pattern {
    /// Structural position of each row.
    position: Vec<i64>,
    /// Variance level of each row.
    var_level: Vec<u32>,
    /// Number of subjects.
    count: usize,
    data: PatternData,
}

/// The data grouped by pattern, ready for repeated evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    /// Columns of `W = [X y]`.
    k: usize,
    list: Vec<Pattern>,
}

/// The result of one accumulation.
#[derive(Debug, Clone)]
pub(crate) struct CrossProducts {
    /// Packed lower triangle of `M = W'R⁻¹W`, `k(k+1)/2`.
    pub m: Vec<f64>,
    /// `Σᵢ log det Rᵢ`.
    pub log_det_r: f64,
}

impl Patterns {
    /// Groups the subjects (`subjects[s]` = design rows in visit order) by pattern and forms
    /// each pattern's data from `x` (`n × p`, column-major accessor) and `y`.
    ///
    /// `relative_positions`: the block depends on position differences only (AR(1)), so the
    /// pattern key is taken relative to the first row.
    pub fn build(
        x: &dyn Fn(usize, usize) -> f64,
        p: usize,
        y: &[f64],
        subjects: &[Vec<usize>],
        position: &[i64],
        var_level: &[u32],
        relative_positions: bool,
    ) -> Self {
        let k = p + 1;
        let row = |i: usize, out: &mut Vec<f64>| {
            for c in 0..p {
                out.push(x(i, c));
            }
            out.push(y.get(i).copied().unwrap_or(0.0));
        };
        // Group the subjects.
        let mut index: HashMap<(Vec<i64>, Vec<u32>), usize> = HashMap::new();
        let mut groups: Vec<(Vec<i64>, Vec<u32>, Vec<usize>)> = Vec::new();
        for (s, rows) in subjects.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let first = rows
                .first()
                .and_then(|&i| position.get(i))
                .copied()
                .unwrap_or(0);
            let pos: Vec<i64> = rows
                .iter()
                .map(|&i| {
                    let a = position.get(i).copied().unwrap_or(0);
                    if relative_positions { a - first } else { a }
                })
                .collect();
            let lev: Vec<u32> = rows
                .iter()
                .map(|&i| var_level.get(i).copied().unwrap_or(0))
                .collect();
            let key = (pos, lev);
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    groups.push((key.0.clone(), key.1.clone(), Vec::new()));
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            if let Some(gr) = groups.get_mut(g) {
                gr.2.push(s);
            }
        }
        let mut list = Vec::with_capacity(groups.len());
        let mut w = Vec::new();
        for (pos, lev, members) in groups {
            let m = pos.len();
            let count = members.len();
            // Work per evaluation: whitening every subject versus one weighted sum of T.
            let cost_rows = count * (m * m * k / 2 + m * k * k / 2);
            let cost_stats = (m * (m + 1) / 2) * (k * (k + 1) / 2) + m * m * m;
            let data = if cost_stats < cost_rows {
                let kk = k * (k + 1) / 2;
                let mut t = vec![0.0; m * (m + 1) / 2 * kk];
                for &s in &members {
                    w.clear();
                    for &i in subjects.get(s).map(Vec::as_slice).unwrap_or(&[]) {
                        row(i, &mut w);
                    }
                    let mut block = 0;
                    for l in 0..m {
                        for j in 0..=l {
                            let out = &mut t[block * kk..(block + 1) * kk];
                            let (wj, wl) = (&w[j * k..(j + 1) * k], &w[l * k..(l + 1) * k]);
                            for a in 0..k {
                                for b in 0..=a {
                                    let mut v = wj[a] * wl[b];
                                    if j != l {
                                        v += wl[a] * wj[b];
                                    }
                                    out[packed(a, b)] += v;
                                }
                            }
                            block += 1;
                        }
                    }
                }
                PatternData::Stats(t)
            } else {
                let mut all = Vec::with_capacity(count * m * k);
                for &s in &members {
                    for &i in subjects.get(s).map(Vec::as_slice).unwrap_or(&[]) {
                        row(i, &mut all);
                    }
                }
                PatternData::Rows(all)
            };
            list.push(Pattern {
                position: pos,
                var_level: lev,
                count,
                data,
            });
        }
        Patterns { k, list }
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// `M` and `Σ log det Rᵢ` at the parameters `e`; `None` when a block is not positive
    /// definite.
    pub fn accumulate(&self, e: &Evaluated) -> Option<CrossProducts> {
        let k = self.k;
        let kk = k * (k + 1) / 2;
        let mut acc = vec![0.0; kk];
        let mut log_det_r = 0.0;
        let mut r = Vec::new();
        let mut z = Vec::new();
        for pat in &self.list {
            let m = pat.position.len();
            r.clear();
            r.resize(m * m, 0.0);
            for j in 0..m {
                let (aj, vj) = (pat.position[j], pat.var_level[j]);
                let sj = e.sd(aj, vj);
                for l in 0..=j {
                    let (al, vl) = (pat.position[l], pat.var_level[l]);
                    let v = sj * e.sd(al, vl) * e.correlation(aj, al, j == l);
                    r[j * m + l] = v;
                    r[l * m + j] = v;
                }
            }
            let chol = Cholesky::new(&r, m)?;
            log_det_r += pat.count as f64 * chol.log_det();
            match &pat.data {
                PatternData::Stats(t) => {
                    let inv = chol.inverse();
                    let mut block = 0;
                    for l in 0..m {
                        for j in 0..=l {
                            let wgt = inv[j * m + l];
                            let tb = &t[block * kk..(block + 1) * kk];
                            for (o, v) in acc.iter_mut().zip(tb) {
                                *o += wgt * v;
                            }
                            block += 1;
                        }
                    }
                }
                PatternData::Rows(all) => {
                    let l = chol.factor();
                    for wsub in all.chunks_exact(m * k) {
                        // z = L⁻¹ W (forward substitution, all k columns at once).
                        z.clear();
                        z.extend_from_slice(wsub);
                        for i in 0..m {
                            let (head, tail) = z.split_at_mut(i * k);
                            let zi = &mut tail[..k];
                            for t in 0..i {
                                let lit = l[i * m + t];
                                if lit != 0.0 {
                                    let zt = &head[t * k..(t + 1) * k];
                                    for (a, b) in zi.iter_mut().zip(zt) {
                                        *a -= lit * b;
                                    }
                                }
                            }
                            let d = l[i * m + i];
                            zi.iter_mut().for_each(|v| *v /= d);
                        }
                        for zr in z.chunks_exact(k) {
                            for a in 0..k {
                                let za = zr[a];
                                let base = a * (a + 1) / 2;
                                for b in 0..=a {
                                    acc[base + b] += za * zr[b];
                                }
                            }
                        }
                    }
                }
            }
        }
        Some(CrossProducts { m: acc, log_det_r })
    }
}
