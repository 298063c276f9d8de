//! Zero-inflated Poisson and negative binomial (NB2, NB1) mixed models (glmmTMB's
//! `ziformula`), and NB1 without zero-inflation, on the observed-Hessian Laplace
//! ([`crate::observed`]).
//!
//! # Model
//!
//! Each observation is a structural zero with probability `πᵢ = logistic(x_{zi,i}'β_zi)` (the
//! zero-inflation model: fixed effects only), otherwise a count from the conditional model
//! with `log μᵢ = ηᵢ = offᵢ + xᵢ'β + zᵢ'b`:
//!
//! ```text
//! P(Yᵢ = 0 | b) = πᵢ + (1 − πᵢ) p₀(ηᵢ),    P(Yᵢ = y | b) = (1 − πᵢ) p(y; ηᵢ)  (y > 0),
//! ```
//!
//! `p` Poisson (`log p₀ = −μ`), NB2 with size θ (`log p₀ = −θ log(1 + μ/θ)`, variance
//! `μ + μ²/θ`) or NB1 (glmmTMB's `nbinom1`: size `s = μ/φ`, variance `μ(1 + φ)`,
//! `log p₀ = −s log(1 + φ)`). Without a zero-inflation model (no coefficients) `π = 0`.
//!
//! # Derivatives in ηᵢ
//!
//! For `y > 0`, `ℓᵢ = log(1 − πᵢ) + log p(yᵢ; ηᵢ)` and the derivatives are the count model's:
//! Poisson `y − μ` and `−μ`; NB2 `θ(y − μ)/(μ + θ)` and `−θμ(y + θ)/(μ + θ)²`; NB1, where
//! `log p = log Γ(y + s) − log Γ(s) − log y! − s log(1 + φ) + y log(φ/(1 + φ))` depends on η
//! through `s = μ/φ` (`ds/dη = s`), `s D₁` and `s D₁ + s² D₂` with
//! `D₁ = ψ(y + s) − ψ(s) − log(1 + φ)`, `D₂ = ψ'(y + s) − ψ'(s)` (`ψ` the digamma function;
//! for whole y the differences are the finite sums `Σ_{k<y} 1/(s + k)` and `−Σ_{k<y} 1/(s + k)²`).
//!
//! For `y = 0`, with `c(η) = log p₀(η)`, `ℓᵢ = log(πᵢ + (1 − πᵢ)e^{c})` and `qᵢ` the
//! conditional probability that the zero came from the count model,
//! `qᵢ = (1 − πᵢ)e^{c} / (πᵢ + (1 − πᵢ)e^{c})`:
//!
//! ```text
//! ℓᵢ'  = qᵢ c',    ℓᵢ'' = qᵢ c'' + qᵢ(1 − qᵢ) c'²,
//! ```
//!
//! with `c' = c'' = −μ` (Poisson), `c' = −θμ/(μ + θ)`, `c'' = −θ²μ/(μ + θ)²` (NB2) or
//! `c = c' = c'' = −s log(1 + φ)` (NB1). The second
//! term is positive: a zero's contribution is not concave in η, so observed weights `−ℓᵢ''` can
//! be negative (the Laplace approximation still uses them, [`crate::observed`]).
//!
//! # Parameters
//!
//! The optimiser's extra parameters are `φ = (β_zi, log θ)` (`log θ` for NB2, `log φ` for NB1:
//! glmmTMB's `betad`); they are reported as `β_zi` and θ or φ (its standard error by the delta
//! method).

use statrs::function::gamma::{digamma, ln_gamma};

use crate::observed::{ConditionalLikelihood, LogLikDerivs};

/// The count distribution of a zero-inflated model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZiCount {
    /// Poisson counts.
    Poisson,
    /// NB2 counts (variance `μ + μ²/θ`), θ estimated.
    NegativeBinomial2,
    /// NB1 counts (variance `μ(1 + φ)`), φ estimated.
    NegativeBinomial1,
}

impl ZiCount {
    /// glmmTMB's family name (`poisson`, `nbinom2`).
    pub fn name(self) -> &'static str {
        match self {
            ZiCount::Poisson => "poisson",
            ZiCount::NegativeBinomial2 => "nbinom2",
            ZiCount::NegativeBinomial1 => "nbinom1",
        }
    }

    /// Whether the count model has a dispersion parameter (θ or φ).
    pub fn has_dispersion(self) -> bool {
        self != ZiCount::Poisson
    }
}

/// The conditional likelihood of a zero-inflated count model (module documentation).
#[derive(Debug, Clone)]
pub struct ZeroInflated {
    /// Counts (non-negative whole numbers).
    pub y: Vec<f64>,
    /// The zero-inflation model matrix, column-major `n × p_zi` (`p_zi = 0`: no zero-inflation).
    pub x_zi: Vec<f64>,
    /// Number of zero-inflation coefficients.
    pub p_zi: usize,
    /// The count distribution.
    pub count: ZiCount,
}

/// `ψ'(x)` (trigamma) for `x > 0`: the recurrence `ψ'(x) = ψ'(x + 1) + 1/x²` up to `x ≥ 8`, then
/// the asymptotic series `1/x + 1/(2x²) + Σ B₂ₖ/x^{2k+1}` (relative error below 1e-12 there).
fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 8.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + 1.0 / x
        + x2 / 2.0
        + x2 / x
            * (1.0 / 6.0
                - x2 * (1.0 / 30.0 - x2 * (1.0 / 42.0 - x2 * (1.0 / 30.0 - x2 * 5.0 / 66.0))))
}

/// `(log Γ(y + s) − log Γ(s), ψ(y + s) − ψ(s), ψ'(y + s) − ψ'(s))` for a whole `y ≥ 0`: finite
/// sums for small y, the special functions otherwise.
fn gamma_diffs(y: f64, s: f64) -> (f64, f64, f64) {
    if y < 100.0 {
        let (mut l, mut d1, mut d2) = (0.0, 0.0, 0.0);
        let mut k = 0.0;
        while k < y {
            let v = s + k;
            l += v.ln();
            d1 += 1.0 / v;
            d2 -= 1.0 / (v * v);
            k += 1.0;
        }
        (l, d1, d2)
    } else {
        (
            ln_gamma(y + s) - ln_gamma(s),
            digamma(y + s) - digamma(s),
            trigamma(y + s) - trigamma(s),
        )
    }
}

/// `log(1 + eˣ)` without overflow.
fn log1pexp(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

impl ZeroInflated {
    /// Number of observations.
    pub fn nobs(&self) -> usize {
        self.y.len()
    }

    /// The zero-inflation linear predictor `X_zi β_zi`.
    pub fn eta_zi(&self, beta_zi: &[f64]) -> Vec<f64> {
        let n = self.nobs();
        let mut out = vec![0.0; n];
        for (j, b) in beta_zi.iter().enumerate().take(self.p_zi) {
            if let Some(col) = self.x_zi.get(j * n..(j + 1) * n) {
                for (o, v) in out.iter_mut().zip(col) {
                    *o += v * b;
                }
            }
        }
        out
    }

    /// The dispersion parameter from φ: NB2's size θ or NB1's φ (`None` for Poisson).
    pub fn nb_theta(&self, phi: &[f64]) -> Option<f64> {
        if self.count.has_dispersion() {
            phi.get(self.p_zi).map(|v| v.exp())
        } else {
            None
        }
    }
}

impl ConditionalLikelihood for ZeroInflated {
    fn n_extra(&self) -> usize {
        self.p_zi + usize::from(self.count.has_dispersion())
    }

    fn derivatives(&self, phi: &[f64], eta: &[f64], out: &mut [LogLikDerivs]) -> bool {
        if phi.len() != self.n_extra() || phi.iter().any(|v| !v.is_finite()) {
            return false;
        }
        // No zero-inflation model: π = 0, i.e. a zero-inflation predictor of −∞.
        let eta_zi = if self.p_zi == 0 {
            vec![f64::NEG_INFINITY; self.nobs()]
        } else {
            self.eta_zi(&phi[..self.p_zi])
        };
        let theta = self.nb_theta(phi);
        let lg_theta = theta.map(ln_gamma);
        for (((o, &e), &y), &ez) in out.iter_mut().zip(eta).zip(&self.y).zip(&eta_zi) {
            let mu = e.exp();
            if !mu.is_finite() {
                return false;
            }
            // log π and log(1 − π) for π = logistic(ez).
            let log_pi = -log1pexp(-ez);
            let log_1m_pi = -log1pexp(ez);
            // log p(y; η), and c = log p₀ with c', c''.
            let (c, c1, c2) = match (self.count, theta) {
                (ZiCount::NegativeBinomial2, Some(th)) => {
                    let s = th / (mu + th);
                    (-th * (mu / th).ln_1p(), -s * mu, -s * s * mu)
                }
                (ZiCount::NegativeBinomial1, Some(ph)) => {
                    let c = -(mu / ph) * ph.ln_1p();
                    (c, c, c)
                }
                _ => (-mu, -mu, -mu),
            };
            *o = if y > 0.0 {
                let (lp, d1, d2) = match (self.count, theta, lg_theta) {
                    (ZiCount::NegativeBinomial1, Some(ph), _) => {
                        let s = mu / ph;
                        let (lg, dg, tg) = gamma_diffs(y, s);
                        let l1p = ph.ln_1p();
                        let d = dg - l1p;
                        (
                            lg - ln_gamma(y + 1.0) - s * l1p + y * (ph / (1.0 + ph)).ln(),
                            s * d,
                            s * d + s * s * tg,
                        )
                    }
                    (ZiCount::NegativeBinomial2, Some(th), Some(lgt)) => {
                        let lmt = (mu + th).ln();
                        (
                            ln_gamma(y + th) - lgt - ln_gamma(y + 1.0) + th * th.ln() + y * e
                                - (y + th) * lmt,
                            th * (y - mu) / (mu + th),
                            -th * mu * (y + th) / ((mu + th) * (mu + th)),
                        )
                    }
                    _ => (y * e - mu - ln_gamma(y + 1.0), y - mu, -mu),
                };
                LogLikDerivs {
                    value: log_1m_pi + lp,
                    d1,
                    d2,
                }
            } else {
                // log(π + (1 − π)e^c) by log-sum-exp; q = (1 − π)e^c / that.
                let a = log_pi;
                let b = log_1m_pi + c;
                let m = a.max(b);
                let value = m + ((a - m).exp() + (b - m).exp()).ln();
                let q = (b - value).exp();
                LogLikDerivs {
                    value,
                    d1: q * c1,
                    d2: q * c2 + q * (1.0 - q) * c1 * c1,
                }
            };
            if !(o.value.is_finite() && o.d1.is_finite() && o.d2.is_finite()) {
                return false;
            }
        }
        true
    }

    fn expected_weight(&self, phi: &[f64], i: usize, eta: f64) -> Option<f64> {
        // The count model's expected information in η, a positive fallback for the inner
        // Newton steps only: μ (Poisson), θμ/(μ + θ) (NB2); for NB1 μ/(1 + φ), the Poisson-like
        // μ²/Var(y).
        let mu = eta.exp();
        let _ = i;
        Some(match (self.count, self.nb_theta(phi)) {
            (ZiCount::NegativeBinomial2, Some(th)) => th * mu / (mu + th),
            (ZiCount::NegativeBinomial1, Some(ph)) => mu / (1.0 + ph),
            _ => mu,
        })
    }

    fn extra_start(&self) -> Vec<f64> {
        // β_zi = 0 (π = 1/2, glmmTMB's start) and θ (or φ) = 1.
        vec![0.0; self.n_extra()]
    }

    fn report_extra(&self, phi: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let m = phi.len();
        let mut rep = phi.to_vec();
        let mut jac = vec![0.0; m * m];
        for a in 0..m {
            jac[a * m + a] = 1.0;
        }
        if let Some(th) = self.nb_theta(phi) {
            let k = self.p_zi;
            rep[k] = th;
            jac[k * m + k] = th;
        }
        (rep, jac)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn model(count: ZiCount) -> ZeroInflated {
        // Two zi columns: intercept and a covariate.
        let y = vec![0.0, 0.0, 1.0, 3.0, 7.0, 0.0];
        let x1 = [0.5, -1.0, 0.2, 1.5, -0.3, 2.0];
        let mut x_zi = vec![1.0; 6];
        x_zi.extend_from_slice(&x1);
        ZeroInflated {
            y,
            x_zi,
            p_zi: 2,
            count,
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for count in [
            ZiCount::Poisson,
            ZiCount::NegativeBinomial2,
            ZiCount::NegativeBinomial1,
        ] {
            let m = model(count);
            let mut phi = vec![-0.4, 0.7];
            if count.has_dispersion() {
                phi.push(0.8);
            }
            let eta = vec![0.3, 1.8, -0.5, 1.1, 2.0, 2.5];
            let n = eta.len();
            let mut d = vec![LogLikDerivs::default(); n];
            assert!(m.derivatives(&phi, &eta, &mut d));
            let h = 1e-5;
            for i in 0..n {
                let mut ep = eta.clone();
                let mut em = eta.clone();
                ep[i] += h;
                em[i] -= h;
                let mut dp = vec![LogLikDerivs::default(); n];
                let mut dm = vec![LogLikDerivs::default(); n];
                assert!(m.derivatives(&phi, &ep, &mut dp));
                assert!(m.derivatives(&phi, &em, &mut dm));
                let g = (dp[i].value - dm[i].value) / (2.0 * h);
                let g2 = (dp[i].d1 - dm[i].d1) / (2.0 * h);
                assert!(
                    (g - d[i].d1).abs() < 1e-7,
                    "{count:?} d1 {i}: {g} vs {}",
                    d[i].d1
                );
                assert!(
                    (g2 - d[i].d2).abs() < 1e-7,
                    "{count:?} d2 {i}: {g2} vs {}",
                    d[i].d2
                );
            }
        }
    }

    #[test]
    fn probabilities_sum_to_one_over_the_counts() {
        // Σ_y P(Y = y) = 1 for one observation, both count models.
        // With and without the zero-inflation model.
        for count in [
            ZiCount::Poisson,
            ZiCount::NegativeBinomial2,
            ZiCount::NegativeBinomial1,
        ] {
            for p_zi in [0, 1] {
                let mut phi = vec![-0.3; p_zi];
                if count.has_dispersion() {
                    phi.push(0.5_f64.ln());
                }
                let mut total = 0.0;
                let mut mean = 0.0;
                for y in 0..400 {
                    let m = ZeroInflated {
                        y: vec![f64::from(y)],
                        x_zi: vec![1.0; p_zi],
                        p_zi,
                        count,
                    };
                    let mut d = vec![LogLikDerivs::default()];
                    assert!(m.derivatives(&phi, &[1.2], &mut d));
                    total += d[0].value.exp();
                    mean += f64::from(y) * d[0].value.exp();
                }
                assert!((total - 1.0).abs() < 1e-10, "{count:?} {p_zi}: {total}");
                // E[y] = (1 − π) μ.
                let pi = if p_zi == 1 {
                    1.0 / (1.0 + 0.3_f64.exp())
                } else {
                    0.0
                };
                let want = (1.0 - pi) * 1.2_f64.exp();
                assert!(
                    (mean - want).abs() < 1e-9,
                    "{count:?} {p_zi}: {mean} vs {want}"
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod special_tests {
    use super::*;

    #[test]
    fn trigamma_and_the_gamma_differences_agree_with_their_definitions() {
        // ψ'(1) = π²/6, ψ'(1/2) = π²/2.
        let pi2 = std::f64::consts::PI.powi(2);
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-12);
        // The finite sums against the special functions at the switch-over.
        for &(y, s) in &[(99.0, 0.7), (50.0, 3.5), (7.0, 0.05)] {
            let (l, d1, d2) = gamma_diffs(y, s);
            assert!((l - (ln_gamma(y + s) - ln_gamma(s))).abs() < 1e-9 * l.abs().max(1.0));
            assert!((d1 - (digamma(y + s) - digamma(s))).abs() < 1e-9 * d1.abs().max(1.0));
            assert!((d2 - (trigamma(y + s) - trigamma(s))).abs() < 1e-9 * d2.abs().max(1.0));
        }
    }
}
