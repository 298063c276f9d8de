//! lme4 2.0's structured covariances of a random-effects term: [`Diagonal`] (`diag`),
//! [`CompoundSymmetry`] (`cs`) and [`Ar1`] (`ar1`).
//!
//! Each writes the term's relative covariance as `ΛΛ' = D R(ρ) D` with `D = diag(s)` the
//! relative standard deviations (one per column, or one shared when `hom`) and `R(ρ)` a
//! correlation matrix: the identity (`diag`), `Rᵢⱼ = ρ` off the diagonal (`cs`), or
//! `Rᵢⱼ = ρ^|i−j|` (`ar1`). `Λ = D L(ρ)` with `L` the lower Cholesky factor of `R`, so `Λ` is
//! lower triangular as the PLS engine requires.
//!
//! θ is lme4 2.0's `par` vector: the relative standard deviations `s` (length `k`, or 1 when
//! `hom`), then ρ (only when `k ≥ 2` for `cs` and `ar1`). The optimiser keeps θ in a box, as
//! lme4 2.0 does (no transform of ρ): `s ≥ 0`, `−1/(k−1) ≤ ρ ≤ 1` for `cs` (the range where
//! `R` is positive semi-definite), `−1 ≤ ρ ≤ 1` for `ar1`. The start is `s = 1`, `ρ = 0`
//! (Λ = I), lme4 2.0's.
//!
//! The reported standard deviations and correlation are `σ s` and ρ themselves (lme4 2.0's
//! `getVC`), so [`Covariance::theta_to_sd_cor`] is a scaling and its inverse needs no
//! factorisation.

use super::{Covariance, CovarianceError, SdCorParam};

/// The correlation pattern of a structured term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// `R = I`.
    Identity,
    /// `Rᵢⱼ = ρ` for `i ≠ j`.
    Exchangeable,
    /// `Rᵢⱼ = ρ^|i−j|`.
    Autoregressive,
}

/// Which column's standard deviation θ element `p` (a standard deviation) scales: column `p`
/// when heterogeneous, every column when homogeneous.
fn sd_count(k: usize, hom: bool) -> usize {
    if hom { usize::from(k > 0) } else { k }
}

/// The shared machinery of the three structures: `k`, `hom` and the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Structured {
    k: usize,
    hom: bool,
    pattern: Pattern,
}

impl Structured {
    fn has_rho(&self) -> bool {
        self.pattern != Pattern::Identity && self.k >= 2
    }

    fn n_sd(&self) -> usize {
        sd_count(self.k, self.hom)
    }

    fn n_theta(&self) -> usize {
        self.n_sd() + usize::from(self.has_rho())
    }

    /// Lower bound of ρ.
    fn rho_lower(&self) -> f64 {
        match self.pattern {
            Pattern::Exchangeable => -1.0 / (self.k as f64 - 1.0),
            _ => -1.0,
        }
    }

    fn sd(&self, theta: &[f64], column: usize) -> f64 {
        let i = if self.hom { 0 } else { column };
        theta.get(i).copied().unwrap_or(0.0)
    }

    fn rho(&self, theta: &[f64]) -> f64 {
        if self.has_rho() {
            theta.get(self.n_sd()).copied().unwrap_or(0.0)
        } else {
            0.0
        }
    }

    /// `L(ρ)` and `∂L/∂ρ` (both `k × k`, row-major, lower triangular).
    fn chol_corr(&self, rho: f64) -> (Vec<f64>, Vec<f64>) {
        let k = self.k;
        let mut l = vec![0.0; k * k];
        let mut dl = vec![0.0; k * k];
        match self.pattern {
            Pattern::Identity => {
                for i in 0..k {
                    l[i * k + i] = 1.0;
                }
            }
            Pattern::Autoregressive => {
                // L[i][0] = ρ^i, L[i][j] = ρ^(i−j) √(1−ρ²) for j ≥ 1 (the AR(1) innovation
                // representation). Near |ρ| = 1 the derivative of √(1−ρ²) is unbounded; it is
                // evaluated with √(1−ρ²) floored at 1e-8 so it stays finite.
                let c = (1.0 - rho * rho).max(0.0).sqrt();
                let dc = -rho / c.max(1e-8);
                let pow = |e: usize| rho.powi(e as i32);
                let dpow = |e: usize| {
                    if e == 0 {
                        0.0
                    } else {
                        e as f64 * rho.powi(e as i32 - 1)
                    }
                };
                for i in 0..k {
                    l[i * k] = pow(i);
                    dl[i * k] = dpow(i);
                    for j in 1..=i {
                        l[i * k + j] = pow(i - j) * c;
                        dl[i * k + j] = dpow(i - j) * c + pow(i - j) * dc;
                    }
                }
            }
            Pattern::Exchangeable => {
                // Forward-mode derivative of the Cholesky algorithm on R(ρ), dR = 11' − I. A
                // pivot that is 0 (ρ on a bound: R singular) gives a zero column and a zero
                // derivative there.
                let r = |i: usize, j: usize| if i == j { 1.0 } else { rho };
                let dr = |i: usize, j: usize| if i == j { 0.0 } else { 1.0 };
                for j in 0..k {
                    let mut d = r(j, j);
                    let mut dd = dr(j, j);
                    for m in 0..j {
                        d -= l[j * k + m] * l[j * k + m];
                        dd -= 2.0 * l[j * k + m] * dl[j * k + m];
                    }
                    if d <= 1e-14 {
                        continue;
                    }
                    let ljj = d.sqrt();
                    let dljj = dd / (2.0 * ljj);
                    l[j * k + j] = ljj;
                    dl[j * k + j] = dljj;
                    for i in j + 1..k {
                        let mut v = r(i, j);
                        let mut dv = dr(i, j);
                        for m in 0..j {
                            v -= l[i * k + m] * l[j * k + m];
                            dv -= dl[i * k + m] * l[j * k + m] + l[i * k + m] * dl[j * k + m];
                        }
                        let lij = v / ljj;
                        l[i * k + j] = lij;
                        dl[i * k + j] = (dv - lij * dljj) / ljj;
                    }
                }
            }
        }
        (l, dl)
    }

    fn theta_lower(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.n_sd()];
        if self.has_rho() {
            v.push(self.rho_lower());
        }
        v
    }

    fn theta_upper(&self) -> Vec<f64> {
        let mut v = vec![f64::INFINITY; self.n_sd()];
        if self.has_rho() {
            v.push(1.0);
        }
        v
    }

    fn theta_start(&self) -> Vec<f64> {
        let mut v = vec![1.0; self.n_sd()];
        if self.has_rho() {
            v.push(0.0);
        }
        v
    }

    fn lambda_into(&self, theta: &[f64], out: &mut [f64]) {
        let k = self.k;
        let (l, _) = self.chol_corr(self.rho(theta));
        for (i, row) in out.chunks_exact_mut(k).enumerate().take(k) {
            let s = self.sd(theta, i);
            for (o, v) in row.iter_mut().zip(&l[i * k..(i + 1) * k]) {
                *o = s * v;
            }
        }
    }

    fn lambda_derivative_into(&self, theta: &[f64], p: usize, out: &mut [f64]) {
        let k = self.k;
        out.iter_mut().for_each(|v| *v = 0.0);
        let (l, dl) = self.chol_corr(self.rho(theta));
        if p < self.n_sd() {
            // ∂(D L)/∂s: the rows of L that s scales.
            for i in 0..k {
                if self.hom || i == p {
                    out[i * k..(i + 1) * k].copy_from_slice(&l[i * k..(i + 1) * k]);
                }
            }
        } else if self.has_rho() && p == self.n_sd() {
            for i in 0..k {
                let s = self.sd(theta, i);
                for j in 0..k {
                    out[i * k + j] = s * dl[i * k + j];
                }
            }
        }
    }

    fn theta_gradient_from_lambda(&self, theta: &[f64], g: &[f64], out: &mut [f64]) {
        let k = self.k;
        let (l, dl) = self.chol_corr(self.rho(theta));
        let row_dot = |a: &[f64], i: usize| -> f64 {
            (0..k)
                .map(|j| g.get(i * k + j).copied().unwrap_or(0.0) * a[i * k + j])
                .sum()
        };
        let nsd = self.n_sd();
        for (p, o) in out.iter_mut().enumerate().take(self.n_theta()) {
            *o = if p < nsd {
                if self.hom {
                    (0..k).map(|i| row_dot(&l, i)).sum()
                } else {
                    row_dot(&l, p)
                }
            } else {
                (0..k).map(|i| self.sd(theta, i) * row_dot(&dl, i)).sum()
            };
        }
    }

    fn canonicalize(&self, theta: &mut [f64]) {
        // Only a homogeneous structure or a diagonal one is invariant to the sign of s (Λ's
        // rows scale by s); a heterogeneous exchangeable or AR(1) term is kept in its box by
        // the optimiser, so no sign needs fixing. A stray negative s of those two is left
        // alone rather than changing the model.
        if self.hom || self.pattern == Pattern::Identity {
            for v in theta.iter_mut().take(self.n_sd()) {
                *v = v.abs();
            }
        }
    }

    fn singular_columns(&self, theta: &[f64], tol: f64) -> Vec<usize> {
        let k = self.k;
        let mut out: Vec<usize> = (0..k).filter(|&c| self.sd(theta, c) < tol).collect();
        if self.has_rho() {
            let rho = self.rho(theta);
            let at_bound = match self.pattern {
                Pattern::Exchangeable => (rho - self.rho_lower()).min(1.0 - rho) < tol,
                _ => 1.0 - rho.abs() < tol,
            };
            if at_bound {
                // R(ρ) is singular: the columns after the first carry no new variation.
                out.extend(1..k);
                out.sort_unstable();
                out.dedup();
            }
        }
        out
    }

    fn sd_cor_params(&self) -> Vec<SdCorParam> {
        let mut v: Vec<SdCorParam> = (0..self.n_sd()).map(SdCorParam::Sd).collect();
        if self.has_rho() {
            v.push(SdCorParam::Cor(1, 0));
        }
        v
    }

    fn theta_to_sd_cor(&self, theta: &[f64], sigma: f64, out: &mut [f64]) {
        let nsd = self.n_sd();
        for (i, o) in out.iter_mut().enumerate().take(self.n_theta()) {
            let v = theta.get(i).copied().unwrap_or(0.0);
            *o = if i < nsd { sigma * v.abs() } else { v };
        }
    }

    fn sd_cor_to_theta(
        &self,
        sd_cor: &[f64],
        sigma: f64,
        out: &mut [f64],
    ) -> Result<(), CovarianceError> {
        let n = self.n_theta();
        if sd_cor.len() != n || out.len() != n {
            return Err(CovarianceError::Length {
                expected: n,
                got: sd_cor.len(),
            });
        }
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(CovarianceError::Sigma(sigma));
        }
        let nsd = self.n_sd();
        for (i, (&v, o)) in sd_cor.iter().zip(out.iter_mut()).enumerate() {
            if i < nsd {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(CovarianceError::StdDev(v));
                }
                *o = v / sigma;
            } else {
                if !(v.is_finite() && (self.rho_lower()..=1.0).contains(&v)) {
                    return Err(CovarianceError::Correlation(v));
                }
                *o = v;
            }
        }
        Ok(())
    }
}

macro_rules! structured_covariance {
    ($ty:ident, $pattern:expr, $name:literal) => {
        impl $ty {
            fn inner(&self) -> Structured {
                Structured {
                    k: self.k,
                    hom: self.hom,
                    pattern: $pattern,
                }
            }
        }

        impl Covariance for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn k(&self) -> usize {
                self.k
            }
            fn n_theta(&self) -> usize {
                self.inner().n_theta()
            }
            fn theta_lower(&self) -> Vec<f64> {
                self.inner().theta_lower()
            }
            fn theta_upper(&self) -> Vec<f64> {
                self.inner().theta_upper()
            }
            fn theta_start(&self) -> Vec<f64> {
                self.inner().theta_start()
            }
            fn lambda_into(&self, theta: &[f64], out: &mut [f64]) {
                self.inner().lambda_into(theta, out);
            }
            fn lambda_derivative_into(&self, theta: &[f64], p: usize, out: &mut [f64]) {
                self.inner().lambda_derivative_into(theta, p, out);
            }
            fn theta_gradient_from_lambda(&self, theta: &[f64], g: &[f64], out: &mut [f64]) {
                self.inner().theta_gradient_from_lambda(theta, g, out);
            }
            fn canonicalize(&self, theta: &mut [f64]) {
                self.inner().canonicalize(theta);
            }
            fn singular_columns(&self, theta: &[f64], tol: f64) -> Vec<usize> {
                self.inner().singular_columns(theta, tol)
            }
            fn sd_cor_params(&self) -> Vec<SdCorParam> {
                self.inner().sd_cor_params()
            }
            fn theta_to_sd_cor(&self, theta: &[f64], sigma: f64, out: &mut [f64]) {
                self.inner().theta_to_sd_cor(theta, sigma, out);
            }
            fn sd_cor_to_theta(
                &self,
                sd_cor: &[f64],
                sigma: f64,
                out: &mut [f64],
            ) -> Result<(), CovarianceError> {
                self.inner().sd_cor_to_theta(sd_cor, sigma, out)
            }
            fn homogeneous(&self) -> Option<bool> {
                Some(self.hom)
            }
        }
    };
}

/// lme4 2.0's `diag`: independent random effects, `ΛΛ' = diag(s)²`; θ = `s` (one per column,
/// or one shared when `hom`), each ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagonal {
    /// Number of random effects per level.
    pub k: usize,
    /// One shared standard deviation (`hom = TRUE`) instead of one per column.
    pub hom: bool,
}

/// lme4 2.0's `cs` (compound symmetry): `ΛΛ' = D R D` with `Rᵢⱼ = ρ` for `i ≠ j`; θ = `s`
/// (one per column, or one when `hom`) then ρ (when `k ≥ 2`), `−1/(k−1) ≤ ρ ≤ 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompoundSymmetry {
    /// Number of random effects per level.
    pub k: usize,
    /// One shared standard deviation (`hom = TRUE`) instead of one per column.
    pub hom: bool,
}

/// lme4 2.0's `ar1`: `ΛΛ' = D R D` with `Rᵢⱼ = ρ^|i−j|` over the column order; θ = `s` (one
/// when `hom`, lme4 2.0's default, else one per column) then ρ, `−1 ≤ ρ ≤ 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ar1 {
    /// Number of random effects per level.
    pub k: usize,
    /// One shared standard deviation (`hom = TRUE`) instead of one per column.
    pub hom: bool,
}

structured_covariance!(Diagonal, Pattern::Identity, "diag");
structured_covariance!(CompoundSymmetry, Pattern::Exchangeable, "cs");
structured_covariance!(Ar1, Pattern::Autoregressive, "ar1");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all() -> Vec<Box<dyn Covariance>> {
        let mut v: Vec<Box<dyn Covariance>> = Vec::new();
        for hom in [false, true] {
            for k in [1, 2, 3, 4] {
                v.push(Box::new(Diagonal { k, hom }));
                v.push(Box::new(CompoundSymmetry { k, hom }));
                if k >= 2 {
                    v.push(Box::new(Ar1 { k, hom }));
                }
            }
        }
        v
    }

    /// A θ inside the box: s = 0.7, 1.1, 0.4, … and ρ = 0.35 (or −0.2 for k = 2 AR(1)).
    fn theta_of(c: &dyn Covariance) -> Vec<f64> {
        let lower = c.theta_lower();
        let upper = c.theta_upper();
        lower
            .iter()
            .zip(&upper)
            .enumerate()
            .map(|(i, (l, u))| {
                if u.is_finite() {
                    if c.k() == 2 { -0.2 } else { 0.35 }
                } else {
                    assert_eq!(*l, 0.0);
                    [0.7, 1.1, 0.4, 1.6][i % 4]
                }
            })
            .collect()
    }

    fn sigma_of(c: &dyn Covariance, theta: &[f64]) -> Vec<f64> {
        let k = c.k();
        let mut lam = vec![0.0; k * k];
        c.lambda_into(theta, &mut lam);
        let mut s = vec![0.0; k * k];
        for r in 0..k {
            for cc in 0..k {
                s[r * k + cc] = (0..k).map(|m| lam[r * k + m] * lam[cc * k + m]).sum();
            }
        }
        s
    }

    #[test]
    fn layout_bounds_and_start() {
        let cs = CompoundSymmetry { k: 3, hom: false };
        assert_eq!(cs.n_theta(), 4);
        assert_eq!(cs.theta_lower(), [0.0, 0.0, 0.0, -0.5]);
        assert_eq!(cs.theta_upper()[3], 1.0);
        assert_eq!(cs.theta_start(), [1.0, 1.0, 1.0, 0.0]);
        let ar = Ar1 { k: 4, hom: true };
        assert_eq!(ar.n_theta(), 2);
        assert_eq!(ar.theta_lower(), [0.0, -1.0]);
        assert_eq!(
            ar.sd_cor_params(),
            [SdCorParam::Sd(0), SdCorParam::Cor(1, 0)]
        );
        let d = Diagonal { k: 3, hom: true };
        assert_eq!(d.n_theta(), 1);
        assert_eq!(Diagonal { k: 3, hom: false }.n_theta(), 3);
        assert_eq!(CompoundSymmetry { k: 1, hom: false }.n_theta(), 1);
        // The start is Λ = I, as for the unstructured term.
        for c in all() {
            let k = c.k();
            let mut lam = vec![0.0; k * k];
            c.lambda_into(&c.theta_start(), &mut lam);
            for r in 0..k {
                for cc in 0..k {
                    assert_eq!(lam[r * k + cc], f64::from(u8::from(r == cc)), "{c:?}");
                }
            }
        }
    }

    /// `ΛΛ'` is `D R D` with the structure's correlations.
    #[test]
    fn lambda_reproduces_the_covariance() {
        for c in all() {
            let theta = theta_of(c.as_ref());
            let k = c.k();
            let s = sigma_of(c.as_ref(), &theta);
            let hom = c.homogeneous().unwrap();
            let sd = |i: usize| if hom { theta[0] } else { theta[i] };
            let rho = if c.name() != "diag" && k >= 2 {
                *theta.last().unwrap()
            } else {
                0.0
            };
            for r in 0..k {
                for cc in 0..k {
                    let corr = if r == cc {
                        1.0
                    } else {
                        match c.name() {
                            "diag" => 0.0,
                            "cs" => rho,
                            _ => rho.powi((r as i32 - cc as i32).abs()),
                        }
                    };
                    let want = sd(r) * sd(cc) * corr;
                    assert!((s[r * k + cc] - want).abs() < 1e-12, "{c:?} ({r},{cc})");
                }
                // Lower triangular.
                let mut lam = vec![0.0; k * k];
                c.lambda_into(&theta, &mut lam);
                for cc in r + 1..k {
                    assert_eq!(lam[r * k + cc], 0.0);
                }
            }
        }
    }

    #[test]
    fn derivative_matches_finite_differences() {
        for c in all() {
            let theta = theta_of(c.as_ref());
            let k = c.k();
            let h = 1e-6;
            let (mut lp, mut lm, mut d) = (vec![0.0; k * k], vec![0.0; k * k], vec![0.0; k * k]);
            for p in 0..theta.len() {
                let mut t = theta.clone();
                t[p] = theta[p] + h;
                c.lambda_into(&t, &mut lp);
                t[p] = theta[p] - h;
                c.lambda_into(&t, &mut lm);
                c.lambda_derivative_into(&theta, p, &mut d);
                for i in 0..k * k {
                    let fd = (lp[i] - lm[i]) / (2.0 * h);
                    assert!(
                        (fd - d[i]).abs() < 1e-8,
                        "{c:?} p {p} entry {i}: {fd} vs {}",
                        d[i]
                    );
                }
            }
            // The chain rule agrees with the one built on the derivatives.
            let g: Vec<f64> = (0..k * k).map(|i| 0.3 * i as f64 - 1.1).collect();
            let mut a = vec![0.0; theta.len()];
            c.theta_gradient_from_lambda(&theta, &g, &mut a);
            for (p, ap) in a.iter().enumerate() {
                c.lambda_derivative_into(&theta, p, &mut d);
                let want: f64 = g.iter().zip(&d).map(|(x, y)| x * y).sum();
                assert!((ap - want).abs() < 1e-12, "{c:?} p {p}");
            }
        }
    }

    #[test]
    fn sd_cor_round_trip_and_errors() {
        for c in all() {
            let theta = theta_of(c.as_ref());
            let mut sv = vec![0.0; theta.len()];
            c.theta_to_sd_cor(&theta, 2.0, &mut sv);
            // Standard deviations are σ s; the correlation is ρ itself.
            let s = sigma_of(c.as_ref(), &theta);
            assert!((sv[0] - 2.0 * s[0].sqrt()).abs() < 1e-12);
            let mut back = vec![0.0; theta.len()];
            c.sd_cor_to_theta(&sv, 2.0, &mut back).unwrap();
            for (a, b) in back.iter().zip(&theta) {
                assert!((a - b).abs() < 1e-12, "{c:?}");
            }
        }
        let cs = CompoundSymmetry { k: 3, hom: true };
        let mut out = [0.0; 2];
        assert_eq!(
            cs.sd_cor_to_theta(&[1.0, -0.6], 1.0, &mut out),
            Err(CovarianceError::Correlation(-0.6))
        );
        assert_eq!(
            cs.sd_cor_to_theta(&[-1.0, 0.2], 1.0, &mut out),
            Err(CovarianceError::StdDev(-1.0))
        );
    }

    #[test]
    fn boundaries_are_singular_and_finite() {
        let cs = CompoundSymmetry { k: 3, hom: false };
        assert!(cs.singular_columns(&[1.0, 1.0, 1.0, 0.3], 1e-4).is_empty());
        assert_eq!(cs.singular_columns(&[1.0, 0.0, 1.0, 0.3], 1e-4), [1]);
        assert_eq!(cs.singular_columns(&[1.0, 1.0, 1.0, 1.0], 1e-4), [1, 2]);
        assert_eq!(cs.singular_columns(&[1.0, 1.0, 1.0, -0.5], 1e-4), [1, 2]);
        let ar = Ar1 { k: 3, hom: true };
        assert_eq!(ar.singular_columns(&[1.0, -1.0], 1e-4), [1, 2]);
        assert_eq!(ar.singular_columns(&[0.0, 0.5], 1e-4), [0, 1, 2]);
        // Λ and its derivatives stay finite on the bounds.
        for (c, th) in [
            (&cs as &dyn Covariance, vec![1.0, 2.0, 0.5, 1.0]),
            (&cs, vec![1.0, 2.0, 0.5, -0.5]),
            (&ar, vec![1.5, 1.0]),
            (&ar, vec![1.5, -1.0]),
        ] {
            let mut lam = vec![0.0; 9];
            c.lambda_into(&th, &mut lam);
            assert!(lam.iter().all(|v| v.is_finite()), "{c:?} {th:?}");
            for p in 0..th.len() {
                c.lambda_derivative_into(&th, p, &mut lam);
                assert!(lam.iter().all(|v| v.is_finite()), "{c:?} {th:?}");
            }
        }
    }
}
