//! The covariance parameters: from an unconstrained vector `x` to the correlation of two
//! positions and the standard-deviation ratio of a row, for every structure.
//!
//! `x` is laid out as `[correlation part | time log-SD ratios | variance-level log-SD ratios]`:
//!
//! - `ar1`: `ρ = tanh(x₀)`, any `ρ ∈ (−1, 1)` (nlme's corAR1 range);
//! - `cs`: `ρ = ℓ + (1 − ℓ)·logistic(x₀)` with `ℓ = −1/(M − 1)`, `M` the most rows of a
//!   subject, the range where every subject's block is positive definite (nlme's
//!   corCompSymm);
//! - `us`: the correlation matrix `C = LL'` with `L` built row by row from canonical partial
//!   correlations `zᵢⱼ = tanh(x)` (`Lᵢⱼ = zᵢⱼ √(1 − Σₖ<ⱼ Lᵢₖ²)`, `Lᵢᵢ = √(1 − Σₖ<ᵢ Lᵢₖ²)`), so
//!   every `x` gives a positive-definite `C` with unit diagonal, and every such `C` has an `x`;
//! - `toep`/`toeph`: the partial autocorrelations `πₖ = tanh(xₖ)` of a stationary series,
//!   mapped by the Durbin–Levinson recursion to the autocorrelations `ρ₁ … ρ_{q−1}` — a
//!   bijection onto the positive-definite Toeplitz correlation matrices;
//! - a standard-deviation ratio per time level (`us`, `toeph`) and per variance level
//!   (`ident`) relative to the first level, `exp(x)`; the first level's ratio is 1 and `σ`
//!   (profiled out) is its standard deviation.

use crate::spec::ResidualKind;

/// The shape of the parameter vector of a model.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// The structure, if any.
    pub kind: Option<ResidualKind>,
    /// Number of time levels (us, toep, toeph).
    pub q: usize,
    /// Lower end of the compound-symmetry correlation, `−1/(M − 1)`.
    pub cs_lower: f64,
    /// Number of variance levels (1 without a variance function).
    pub g: usize,
}

/// The covariance parameters at one `x`, ready for the kernels.
#[derive(Debug, Clone)]
pub(crate) struct Evaluated {
    corr: Corr,
    /// Standard-deviation ratio per time level (empty when homogeneous).
    pub time_sd: Vec<f64>,
    /// Standard-deviation ratio per variance level.
    pub var_sd: Vec<f64>,
}

#[derive(Debug, Clone)]
enum Corr {
    None,
    Ar1(f64),
    Cs(f64),
    /// `q × q` row-major.
    Table(Vec<f64>, usize),
}

impl Evaluated {
    /// Correlation of two rows at structural positions `a`, `b` (`a ≠ b` for distinct rows
    /// of one subject; 1 on the diagonal).
    #[inline]
    pub fn correlation(&self, a: i64, b: i64, same_row: bool) -> f64 {
        if same_row {
            return 1.0;
        }
        match &self.corr {
            Corr::None => 0.0,
            Corr::Ar1(rho) => {
                let lag = (a - b).unsigned_abs();
                rho.powi(lag.min(i32::MAX as u64) as i32)
            }
            Corr::Cs(rho) => *rho,
            Corr::Table(t, q) => {
                let (a, b) = (a as usize, b as usize);
                t.get(a * q + b).copied().unwrap_or(0.0)
            }
        }
    }

    /// Standard-deviation ratio of a row at position `a` with variance level `v`.
    #[inline]
    pub fn sd(&self, a: i64, v: u32) -> f64 {
        let t = if self.time_sd.is_empty() {
            1.0
        } else {
            self.time_sd.get(a as usize).copied().unwrap_or(1.0)
        };
        t * self.var_sd.get(v as usize).copied().unwrap_or(1.0)
    }

    /// The structure's correlation parameters in natural units (ar1, cs: `ρ`; toep: `ρ₁ …`;
    /// us: the correlations below the diagonal, column by column).
    pub fn natural_correlations(&self) -> Vec<f64> {
        match &self.corr {
            Corr::None => Vec::new(),
            Corr::Ar1(r) | Corr::Cs(r) => vec![*r],
            Corr::Table(t, q) => {
                let mut out = Vec::new();
                for j in 0..*q {
                    for i in (j + 1)..*q {
                        out.push(t.get(i * q + j).copied().unwrap_or(0.0));
                    }
                }
                out
            }
        }
    }
}

impl Shape {
    /// Number of correlation parameters.
    pub fn n_corr(&self) -> usize {
        match self.kind {
            None => 0,
            Some(ResidualKind::Ar1 | ResidualKind::Cs) => 1,
            Some(ResidualKind::Us) => self.q * self.q.saturating_sub(1) / 2,
            Some(ResidualKind::Toep | ResidualKind::Toeph) => self.q.saturating_sub(1),
        }
    }

    /// Number of time log-SD ratios.
    pub fn n_time_sd(&self) -> usize {
        match self.kind {
            Some(k) if k.heterogeneous() => self.q.saturating_sub(1),
            _ => 0,
        }
    }

    /// Number of parameters of `x`.
    pub fn len(&self) -> usize {
        self.n_corr() + self.n_time_sd() + self.g.saturating_sub(1)
    }

    /// The start: no correlation (`x` giving `ρ = 0`), and the given log-SD ratios.
    pub fn start(&self, time_log_ratio: &[f64], var_log_ratio: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.n_corr()];
        if self.kind == Some(ResidualKind::Cs) {
            // ρ = ℓ + (1 − ℓ)·logistic(x) = 0 ⇔ logistic(x) = −ℓ/(1 − ℓ).
            let l = self.cs_lower;
            let s = (-l / (1.0 - l)).clamp(1e-6, 1.0 - 1e-6);
            if let Some(x0) = x.first_mut() {
                *x0 = (s / (1.0 - s)).ln();
            }
        }
        x.extend(time_log_ratio.iter().skip(1).take(self.n_time_sd()));
        x.resize(self.n_corr() + self.n_time_sd(), 0.0);
        x.extend(var_log_ratio.iter().skip(1));
        x.resize(self.len(), 0.0);
        x
    }

    /// The parameters at `x` (of length [`Shape::len`]).
    pub fn evaluate(&self, x: &[f64]) -> Evaluated {
        let nc = self.n_corr();
        let nt = self.n_time_sd();
        let corr_x = x.get(..nc).unwrap_or(&[]);
        let corr = match self.kind {
            None => Corr::None,
            Some(ResidualKind::Ar1) => Corr::Ar1(corr_x.first().copied().unwrap_or(0.0).tanh()),
            Some(ResidualKind::Cs) => {
                let l = self.cs_lower;
                let s = 1.0 / (1.0 + (-corr_x.first().copied().unwrap_or(0.0)).exp());
                Corr::Cs(l + (1.0 - l) * s)
            }
            Some(ResidualKind::Us) => Corr::Table(lkj_correlation(corr_x, self.q), self.q),
            Some(ResidualKind::Toep | ResidualKind::Toeph) => {
                let rho = durbin_levinson(corr_x);
                let q = self.q;
                let mut t = vec![0.0; q * q];
                for i in 0..q {
                    for j in 0..q {
                        t[i * q + j] = if i == j {
                            1.0
                        } else {
                            rho.get(i.abs_diff(j) - 1).copied().unwrap_or(0.0)
                        };
                    }
                }
                Corr::Table(t, q)
            }
        };
        let ratios = |xs: &[f64], k: usize| -> Vec<f64> {
            let mut v = Vec::with_capacity(k);
            v.push(1.0);
            v.extend(xs.iter().map(|a| a.exp()));
            v
        };
        let time_sd = if nt > 0 {
            ratios(x.get(nc..nc + nt).unwrap_or(&[]), self.q)
        } else {
            Vec::new()
        };
        let var_sd = ratios(x.get(nc + nt..).unwrap_or(&[]), self.g);
        Evaluated {
            corr,
            time_sd,
            var_sd,
        }
    }
}

/// The `q × q` correlation matrix `LL'` from canonical partial correlations `tanh(x)`, `x` in
/// the order (1,0), (2,0), (2,1), (3,0), … (row by row below the diagonal).
pub(crate) fn lkj_correlation(x: &[f64], q: usize) -> Vec<f64> {
    let mut l = vec![0.0; q * q];
    let mut k = 0;
    if q > 0 {
        l[0] = 1.0;
    }
    for i in 1..q {
        let mut ss = 0.0_f64;
        for j in 0..i {
            let z = x.get(k).copied().unwrap_or(0.0).tanh();
            k += 1;
            let v = z * (1.0 - ss).max(0.0).sqrt();
            l[i * q + j] = v;
            ss += v * v;
        }
        l[i * q + i] = (1.0 - ss).max(0.0).sqrt();
    }
    let mut c = vec![0.0; q * q];
    for i in 0..q {
        for j in 0..=i {
            let s: f64 = (0..=j).map(|t| l[i * q + t] * l[j * q + t]).sum();
            c[i * q + j] = s;
            c[j * q + i] = s;
        }
        c[i * q + i] = 1.0;
    }
    c
}

/// Autocorrelations `ρ₁ … ρ_m` from partial autocorrelations `πₖ = tanh(xₖ)` (Durbin–Levinson:
/// `ρₖ = Σⱼ<ₖ φₖ₋₁,ⱼ ρₖ₋ⱼ + πₖ vₖ₋₁`, `φₖ,ⱼ = φₖ₋₁,ⱼ − πₖ φₖ₋₁,ₖ₋ⱼ`, `vₖ = vₖ₋₁ (1 − πₖ²)`).
pub(crate) fn durbin_levinson(x: &[f64]) -> Vec<f64> {
    let m = x.len();
    let mut rho = Vec::with_capacity(m);
    let mut phi: Vec<f64> = Vec::with_capacity(m);
    let mut v = 1.0;
    for (k, xk) in x.iter().enumerate() {
        let pi = xk.tanh();
        // ρ_{k+1} = Σ_{j=1..k} φ_{k,j} ρ_{k+1−j} + π v
        let mut r = pi * v;
        for j in 0..k {
            r += phi[j] * rho[k - 1 - j];
        }
        rho.push(r);
        let prev = phi.clone();
        for j in 0..k {
            phi[j] = prev[j] - pi * prev[k - 1 - j];
        }
        phi.push(pi);
        v *= 1.0 - pi * pi;
    }
    rho
}

/// The inverse of [`durbin_levinson`] on valid autocorrelations (for tests and starts):
/// `x = atanh(π)`.
#[cfg(test)]
pub(crate) fn partial_autocorrelations(rho: &[f64]) -> Vec<f64> {
    let m = rho.len();
    let mut out = Vec::with_capacity(m);
    let mut phi: Vec<f64> = Vec::new();
    let mut v = 1.0;
    for k in 0..m {
        let mut num = rho[k];
        for j in 0..k {
            num -= phi[j] * rho[k - 1 - j];
        }
        let pi = num / v;
        let prev = phi.clone();
        for j in 0..k {
            phi[j] = prev[j] - pi * prev[k - 1 - j];
        }
        phi.push(pi);
        v *= 1.0 - pi * pi;
        out.push(pi.atanh());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use multilevel_numeric::spd::Cholesky;

    #[test]
    fn durbin_levinson_round_trips_and_matches_ar1() {
        // An AR(1) series has π₁ = ρ and πₖ = 0 beyond: ρₖ = ρᵏ.
        let rho = durbin_levinson(&[0.6f64.atanh(), 0.0, 0.0]);
        for (k, r) in rho.iter().enumerate() {
            assert!((r - 0.6f64.powi(k as i32 + 1)).abs() < 1e-14);
        }
        let x = [0.3, -1.2, 0.7, 2.0];
        let back = partial_autocorrelations(&durbin_levinson(&x));
        for (a, b) in x.iter().zip(&back) {
            assert!((a - b).abs() < 1e-10);
        }
    }

    #[test]
    fn every_x_gives_a_positive_definite_matrix() {
        let q = 5;
        let x: Vec<f64> = (0..10).map(|i| (i as f64 * 1.7).sin() * 3.0).collect();
        let c = lkj_correlation(&x, q);
        assert!(Cholesky::new(&c, q).is_some());
        for i in 0..q {
            assert_eq!(c[i * q + i], 1.0);
        }
        let t = Shape {
            kind: Some(ResidualKind::Toep),
            q,
            cs_lower: -1.0,
            g: 1,
        }
        .evaluate(&x[..4]);
        let mut m = vec![0.0; q * q];
        for i in 0..q {
            for j in 0..q {
                m[i * q + j] = t.correlation(i as i64, j as i64, i == j);
            }
        }
        assert!(Cholesky::new(&m, q).is_some());
    }
}
