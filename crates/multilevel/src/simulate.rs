//! Responses simulated from a fitted model (lme4's `simulate(fit, nsim, seed, re.form)`).
//!
//! For the fitted rows, `η = offset + Xβ̂ + Zb`, where `b` is either drawn afresh,
//! `b = σ̂ Λ(θ̂) u` with `u ~ N(0, I)` per level (lme4's default `re.form = NA`; σ̂ = 1 for the
//! binomial and Poisson families), or the conditional modes b̂ (`re.form = NULL`). Then an LMM
//! adds `σ̂ ε/√wᵢ`, `ε ~ N(0, 1)`; a binomial GLMM draws the successes of its `wᵢ` trials with
//! probability `μ = g⁻¹(η)` (the response is their proportion, as the fit's); a Poisson GLMM
//! draws counts with mean μ; a negative binomial GLMM draws NB2 counts with mean μ and the
//! fit's shape θ. Simulation `s` uses its own random stream (`seed`, `s`), so the
//! draws depend on the seed only, never on the thread count or the order of evaluation.

use multilevel_design::Design;
use multilevel_numeric::rng::SplitMix64;

use crate::{Error, FitResult};

/// Which random effects a simulation conditions on (lme4's `re.form` of `simulate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SimulateReForm {
    /// Draw new random effects for every simulation (lme4's default `re.form = NA`).
    #[default]
    None,
    /// Keep the conditional modes b̂ (lme4's `re.form = NULL`, `use.u = TRUE`).
    All,
}

/// Options of the models' `simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulateOptions {
    /// Number of simulated responses.
    pub nsim: usize,
    /// Seed of the random streams.
    pub seed: u64,
    /// New random effects or the conditional modes.
    pub re_form: SimulateReForm,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            nsim: 1,
            seed: 1,
            re_form: SimulateReForm::None,
        }
    }
}

/// How the response is drawn given η.
pub(crate) enum Draw<'a> {
    /// `η + σ ε/√w` (identity link).
    Gaussian,
    /// Successes of `w` trials with `p = g⁻¹(η)`, as a proportion.
    Binomial(&'a dyn multilevel_glmm::Link),
    /// Poisson counts with mean `g⁻¹(η)`.
    Poisson(&'a dyn multilevel_glmm::Link),
    /// Negative binomial (NB2) counts with mean `μ = g⁻¹(η)` and shape θ (variance
    /// `μ + μ²/θ`), drawn as a gamma–Poisson mixture: `λ ~ Gamma(θ, scale μ/θ)`,
    /// `y ~ Poisson(λ)` (R's `rnbinom(size = θ, mu = μ)`).
    NegativeBinomial(&'a dyn multilevel_glmm::Link, f64),
}

/// `nsim` responses for the design's rows, `out[s][i]`.
pub(crate) fn simulate(
    design: &Design,
    fit: &FitResult,
    draw: &Draw<'_>,
    opts: &SimulateOptions,
) -> Result<Vec<Vec<f64>>, Error> {
    if opts.nsim == 0 {
        return Err(Error::InvalidOption {
            option: "nsim",
            reason: "at least one simulation is needed; hint: use e.g. nsim = 1000".into(),
        });
    }
    let beta: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    let sigma = match draw {
        Draw::Gaussian => fit.sigma,
        _ => 1.0,
    };
    let mut sim = Simulator::new(design, &beta, &fit.theta, sigma)?;
    if opts.re_form == SimulateReForm::All {
        sim.modes = Some(conditional_modes(design, fit));
    }
    Ok((0..opts.nsim)
        .map(|s| {
            let mut rng = SplitMix64::for_stream(opts.seed, s as u64);
            sim.draw(design, draw, &mut rng)
        })
        .collect())
}

/// The conditional modes per term, in the term's `level × column` layout (terms of one
/// grouping factor share a table of the fit).
fn conditional_modes(design: &Design, fit: &FitResult) -> Vec<Vec<f64>> {
    design
        .terms
        .iter()
        .enumerate()
        .map(|(j, t)| {
            let offset: usize = design.terms[..j]
                .iter()
                .filter(|u| u.group == t.group && u.levels == t.levels)
                .map(|u| u.k)
                .sum();
            let table = fit
                .ranef
                .iter()
                .find(|r| r.group == t.group && r.levels == t.levels);
            let mut b = vec![0.0; t.q()];
            if let Some(table) = table {
                for l in 0..t.nlevels() {
                    for c in 0..t.k {
                        b[l * t.k + c] = table
                            .values
                            .get(l)
                            .and_then(|v| v.get(offset + c))
                            .copied()
                            .unwrap_or(0.0);
                    }
                }
            }
            b
        })
        .collect()
}

/// What one simulated response needs: the fixed part of η, Λ(θ) of each term, σ, and
/// optionally the random effects to keep.
pub(crate) struct Simulator {
    /// `offset + Xβ` per row.
    fixed: Vec<f64>,
    /// Λ(θ) of each term, `k × k` row-major.
    lambdas: Vec<Vec<f64>>,
    /// σ (1 for the binomial and Poisson families).
    sigma: f64,
    /// Random effects kept for every simulation (`None`: drawn afresh).
    pub(crate) modes: Option<Vec<Vec<f64>>>,
}

impl Simulator {
    /// From β (one per column of `X`), θ (lme4's layout) and σ.
    pub(crate) fn new(
        design: &Design,
        beta: &[f64],
        theta: &[f64],
        sigma: f64,
    ) -> Result<Self, Error> {
        let n = design.nobs();
        if beta.len() != design.p() {
            return Err(Error::Unsupported(format!(
                "{} fixed-effect values for {} columns of X",
                beta.len(),
                design.p()
            )));
        }
        let mut fixed = vec![0.0; n];
        for (i, e) in fixed.iter_mut().enumerate() {
            let mut acc = design.offset.as_ref().map_or(0.0, |o| o[i]);
            for (j, b) in beta.iter().enumerate() {
                acc += design.x[(i, j)] * b;
            }
            *e = acc;
        }
        // Λ(θ) of each term.
        let mut lambdas = Vec::with_capacity(design.terms.len());
        let mut start = 0;
        for t in &design.terms {
            let nt = t.n_theta();
            let theta = theta.get(start..start + nt).ok_or_else(|| {
                Error::Unsupported(format!(
                    "the fit has {} variance parameters, the design needs more",
                    theta.len()
                ))
            })?;
            let mut lam = vec![0.0; t.k * t.k];
            t.covariance().lambda_into(theta, &mut lam);
            lambdas.push(lam);
            start += nt;
        }
        Ok(Simulator {
            fixed,
            lambdas,
            sigma,
            modes: None,
        })
    }

    /// One response: `b = σ Λ u` per level with `u ~ N(0, I)` (or the kept modes), then
    /// the family's draw given `η = offset + Xβ + Zb`.
    pub(crate) fn draw(&self, design: &Design, draw: &Draw<'_>, rng: &mut SplitMix64) -> Vec<f64> {
        let sigma = self.sigma;
        let weights = |i: usize| -> f64 {
            match draw {
                Draw::Binomial(_) => design
                    .trials
                    .as_ref()
                    .or(design.weights.as_ref())
                    .map_or(1.0, |w| w[i]),
                _ => design.weights.as_ref().map_or(1.0, |w| w[i]),
            }
        };
        let mut eta = self.fixed.clone();
        for (j, (t, lam)) in design.terms.iter().zip(&self.lambdas).enumerate() {
            let k = t.k;
            let b: Vec<f64> = match self.modes.as_ref().and_then(|m| m.get(j)) {
                Some(bhat) => bhat.clone(),
                None => {
                    let mut b = vec![0.0; t.q()];
                    let mut u = vec![0.0; k];
                    for l in 0..t.nlevels() {
                        u.iter_mut().for_each(|v| *v = rng.normal());
                        for r in 0..k {
                            b[l * k + r] =
                                sigma * (0..k).map(|c| lam[r * k + c] * u[c]).sum::<f64>();
                        }
                    }
                    b
                }
            };
            for (i, e) in eta.iter_mut().enumerate() {
                let l = t.refs[i] as usize;
                for c in 0..k {
                    *e += t.z[i * k + c] * b[l * k + c];
                }
            }
        }
        eta.iter()
            .enumerate()
            .map(|(i, &e)| match draw {
                Draw::Gaussian => e + sigma / weights(i).sqrt() * rng.normal(),
                Draw::Binomial(link) => {
                    let p = link.inverse(e).clamp(0.0, 1.0);
                    let trials = weights(i).round().max(1.0) as u64;
                    let successes = (0..trials).filter(|_| rng.uniform() < p).count();
                    successes as f64 / trials as f64
                }
                Draw::Poisson(link) => poisson(link.inverse(e), rng),
                Draw::NegativeBinomial(link, theta) => {
                    let mu = link.inverse(e);
                    poisson(gamma(*theta, rng) * mu / theta, rng)
                }
            })
            .collect()
    }
}

/// A Poisson draw with mean `mu`: inversion by sequential search for `mu < 30` (exact;
/// `e^{−μ}` is far from underflow), otherwise Hörmann's transformed rejection (PTRS, 1993),
/// also exact.
fn poisson(mu: f64, rng: &mut SplitMix64) -> f64 {
    if mu.is_nan() || mu <= 0.0 || !mu.is_finite() {
        return 0.0;
    }
    if mu < 30.0 {
        let u = rng.uniform();
        let mut k = 0.0;
        let mut p = (-mu).exp();
        let mut cdf = p;
        while u > cdf && k < 1000.0 {
            k += 1.0;
            p *= mu / k;
            cdf += p;
        }
        return k;
    }
    let slam = mu.sqrt();
    let loglam = mu.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.uniform() - 0.5;
        let v = rng.uniform();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + mu + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        let lhs = (v * inv_alpha / (a / (us * us) + b)).ln();
        let rhs = -mu + k * loglam - ln_factorial(k);
        if lhs <= rhs {
            return k;
        }
    }
}

/// A Gamma(shape, scale 1) draw by Marsaglia and Tsang's squeeze (2000), exact; a shape
/// below 1 is boosted: `G(a) = G(a + 1) · U^{1/a}`.
fn gamma(shape: f64, rng: &mut SplitMix64) -> f64 {
    if !(shape.is_finite() && shape > 0.0) {
        return f64::NAN;
    }
    if shape < 1.0 {
        return gamma(shape + 1.0, rng) * rng.uniform().powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let t = 1.0 + c * x;
        if t <= 0.0 {
            continue;
        }
        let v = t * t * t;
        let u = rng.uniform();
        let x2 = x * x;
        if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// `ln k!` by Stirling's series (exact to double precision for `k ≥ 10`), summed below.
fn ln_factorial(k: f64) -> f64 {
    if k < 10.0 {
        let mut s = 0.0;
        let mut i = 2.0;
        while i <= k {
            s += f64::ln(i);
            i += 1.0;
        }
        return s;
    }
    let x = k + 1.0;
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x.powi(3))
        + 1.0 / (1260.0 * x.powi(5))
}
