//! Negative binomial GLMMs (NB2), fitted as lme4's `glmer.nb`.
//!
//! NB2: `y | b ~ NB(μ, θ)`, `Var(y | b) = μ + μ²/θ`, `P(y) = Γ(y + θ) / (Γ(θ) y!) ·
//! (θ/(μ + θ))^θ (μ/(μ + θ))^y`; the link is log by default (sqrt and identity allowed, as
//! MASS's `negative.binomial`).
//!
//! For a fixed θ this is an ordinary family ([`NegativeBinomial`]): `glmer` fits it by the
//! Laplace approximation through PIRLS, whose working weights `pw (dμ/dη)² / V(μ)` are the
//! expected information (the log link is not canonical for NB2, so this is not the observed
//! information that glmmTMB's Laplace approximation uses; the log-likelihoods of the two differ
//! by 10⁻³–10⁻¹). θ is then chosen by the outer one-dimensional search of `glmer.nb`:
//!
//! 1. a Poisson fit of the same model gives μ̂₀;
//! 2. θ₀ = MASS's `theta.ml(y, μ̂₀)` (Newton's method on the NB2 score in θ with μ fixed);
//! 3. R's `optimize` (Brent's golden-section and parabolic search, [`brent_min`]) over
//!    `t = log θ` in `log θ₀ ± 3` of the profiled deviance `D(t) = −2 logLik(glmer at θ = eᵗ)`,
//!    to a tolerance of 5·10⁻⁵ in t;
//! 4. the fit at θ̂ is the reported one; its `vcov(β̂)` is glmer's at fixed θ (as lme4's).
//!
//! θ's standard error, which `glmer.nb` does not report: the curvature of the profiled deviance
//! in t by a central difference, `var(t̂) = 2 / D''(t̂)`, `se(θ̂) = θ̂ · √var(t̂)` (the delta
//! method). The count of parameters includes θ (lme4's `npar`), so AIC, BIC and the residual
//! degrees of freedom do too.

use multilevel_design::Design;
use multilevel_numeric::fmt::{format_num, round_to};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::family::{Family, GlmFamily, LinkKind};
use crate::fit::{GlmmError, GlmmFit, GlmmOptions, glmer_full};

/// The NB2 distribution with a fixed shape θ (MASS's `negative.binomial(theta)`).
#[derive(Debug, Clone)]
pub struct NegativeBinomial {
    theta: f64,
    name: String,
}

impl NegativeBinomial {
    /// NB2 with shape `theta` (> 0); the name is R's `Negative Binomial(θ)` with θ rounded
    /// to 4 decimals.
    pub fn new(theta: f64) -> Self {
        NegativeBinomial {
            theta,
            name: format!("Negative Binomial({})", format_num(round_to(theta, 4), 7)),
        }
    }

    /// The shape θ.
    pub fn theta(&self) -> f64 {
        self.theta
    }
}

/// `y log(y/μ)` with `0 log 0 = 0`.
fn y_log_y_over(y: f64, mu: f64) -> f64 {
    if y == 0.0 { 0.0 } else { y * (y / mu).ln() }
}

/// log P(Y = y) for NB2 with mean μ and shape θ.
fn ldnbinom(y: f64, mu: f64, theta: f64) -> f64 {
    ln_gamma(y + theta) - ln_gamma(theta) - ln_gamma(y + 1.0)
        + theta * (theta / (mu + theta)).ln()
        + if y == 0.0 {
            0.0
        } else {
            y * (mu / (mu + theta)).ln()
        }
}

impl Family for NegativeBinomial {
    fn name(&self) -> &str {
        &self.name
    }

    fn variance(&self, mu: f64) -> f64 {
        mu + mu * mu / self.theta
    }

    /// `2 wt (y log(y/μ) − (y + θ) log((y + θ)/(μ + θ)))`.
    fn dev_resid(&self, y: f64, mu: f64, wt: f64) -> f64 {
        let th = self.theta;
        2.0 * wt * (y_log_y_over(y, mu) - (y + th) * ((y + th) / (mu + th)).ln())
    }

    /// `−2 Σ wtᵢ log P(yᵢ)` (MASS's `negative.binomial()$aic`; θ is not counted here).
    fn aic(&self, y: &[f64], _n: &[f64], mu: &[f64], wt: &[f64], _dev: f64) -> f64 {
        -2.0 * (0..mu.len())
            .map(|i| wt[i] * ldnbinom(y[i], mu[i], self.theta))
            .sum::<f64>()
    }

    fn valid_mu(&self, mu: f64) -> bool {
        mu.is_finite() && mu > 0.0
    }

    fn has_scale(&self) -> bool {
        false
    }

    /// No Pearson overdispersion check: θ already models the extra variance.
    fn fixed_dispersion(&self) -> bool {
        false
    }

    /// MASS's `initialize`: `y + (y == 0)/6`.
    fn mu_start(&self, y: f64, _m: f64) -> f64 {
        if y == 0.0 { 1.0 / 6.0 } else { y }
    }

    fn check_y(&self, y: f64) -> Result<(), String> {
        check_count(y)
    }
}

/// A response value NB2 accepts: a non-negative whole number.
fn check_count(y: f64) -> Result<(), String> {
    if y.is_finite() && y >= 0.0 && y == y.round() {
        Ok(())
    } else {
        Err(format!(
            "negative binomial responses must be non-negative whole counts, got {y}; hint: model a continuous or negative response with another family"
        ))
    }
}

/// The NB2 family with θ and a link (log, sqrt or identity, as MASS allows).
///
/// # Errors
/// A link other than log, sqrt or identity; θ not positive and finite.
pub fn negative_binomial(theta: f64, link: LinkKind) -> Result<GlmFamily, GlmmError> {
    check_link(link)?;
    if !(theta.is_finite() && theta > 0.0) {
        return Err(GlmmError::BadInput(format!(
            "the negative binomial shape theta must be positive and finite, got {theta}"
        )));
    }
    Ok(GlmFamily::new(
        Box::new(NegativeBinomial::new(theta)),
        link.build(),
    ))
}

/// The links MASS's `negative.binomial` allows.
pub const NB_LINKS: [LinkKind; 3] = [LinkKind::Log, LinkKind::Sqrt, LinkKind::Identity];

fn check_link(link: LinkKind) -> Result<(), GlmmError> {
    if NB_LINKS.contains(&link) {
        Ok(())
    } else {
        Err(GlmmError::BadInput(format!(
            "link `{}` is not available for the negative binomial family; hint: use one of log, sqrt, identity",
            link.name()
        )))
    }
}

/// Options of the θ search (lme4's `glmer.nb` arguments).
#[derive(Debug, Clone)]
pub struct NbOptions {
    /// The search interval is `log θ₀ ± half_width` (lme4: 3).
    pub half_width: f64,
    /// Tolerance of the search in `log θ` (lme4: 5·10⁻⁵).
    pub tol: f64,
    /// Step in `log θ` of the central difference for θ's standard error.
    pub se_step: f64,
}

impl Default for NbOptions {
    fn default() -> Self {
        NbOptions {
            half_width: 3.0,
            tol: 5e-5,
            se_step: 0.02,
        }
    }
}

/// A `glmer.nb` fit.
#[derive(Debug, Clone)]
pub struct NbFit {
    /// The GLMM fit at θ̂ (its `result` counts θ in `npar`, AIC, BIC and `df_resid`, and
    /// carries θ in `family_parameters`).
    pub fit: GlmmFit,
    /// The family at θ̂ (for refits and predictions).
    pub family: GlmFamily,
    /// θ̂.
    pub theta: f64,
    /// Standard error of θ̂ from the profiled deviance's curvature (`None` when the curvature
    /// is not positive).
    pub theta_se: Option<f64>,
    /// θ₀ from the Poisson fit.
    pub theta_start: f64,
    /// Number of GLMM fits of the θ search.
    pub search_fits: usize,
}

/// Fit an NB2 GLMM as lme4's `glmer.nb(formula, data)` (see the module documentation).
///
/// # Errors
/// A response that is not a non-negative whole count (naming the row), a link NB2 does not
/// allow, and the errors of the GLMM fits.
pub fn glmer_nb(
    design: Design,
    link: LinkKind,
    opts: &GlmmOptions,
    nb: &NbOptions,
) -> Result<NbFit, GlmmError> {
    check_link(link)?;
    if design.trials.is_some() {
        return Err(GlmmError::BadInput(
            "a cbind(successes, failures) response needs the binomial family, not the negative binomial; hint: use the count itself as the response".into(),
        ));
    }
    for (i, &v) in design.y.iter().enumerate() {
        check_count(v).map_err(|m| {
            GlmmError::BadInput(format!(
                "response `{}` in model row {}: {m}",
                design.response_name,
                i + 1
            ))
        })?;
    }
    let search_opts = GlmmOptions {
        calc_derivs: Some(false),
        cond_var: false,
        ..opts.clone()
    };
    // 1–2: Poisson fit and MASS's theta.ml at its fitted means.
    let poisson = GlmFamily::new(crate::FamilyKind::Poisson.build(), link.build());
    let g0 = glmer_full(design.clone(), &poisson, &search_opts)?;
    let weights = design
        .weights
        .clone()
        .unwrap_or_else(|| vec![1.0; design.nobs()]);
    let theta0 = theta_ml(&design.y, &g0.mu, &weights, 20, 1e-4);
    if !(theta0.is_finite() && theta0 > 0.0) {
        return Err(GlmmError::BadInput(
            "the response shows no overdispersion relative to a Poisson model (theta.ml gives no finite shape); hint: use the Poisson family".into(),
        ));
    }
    // 3: Brent's search over log θ of the profiled deviance.
    let mut fits = 0usize;
    let mut deviance = |t: f64| -> f64 {
        fits += 1;
        let Ok(fam) = negative_binomial(t.exp(), link) else {
            return f64::INFINITY;
        };
        match glmer_full(design.clone(), &fam, &search_opts) {
            Ok(f) => f.result.objective,
            Err(_) => f64::INFINITY,
        }
    };
    let l0 = theta0.ln();
    let (t_hat, d_hat) = brent_min(
        &mut deviance,
        l0 - nb.half_width,
        l0 + nb.half_width,
        nb.tol,
    );
    // θ's standard error from D''(t̂) (the fits at t̂ ± h, same options as the search).
    let h = nb.se_step;
    let dp = deviance(t_hat + h);
    let dm = deviance(t_hat - h);
    let d2 = (dp - 2.0 * d_hat + dm) / (h * h);
    let theta = t_hat.exp();
    let theta_se = (d2.is_finite() && d2 > 0.0).then(|| theta * (2.0 / d2).sqrt());
    // 4: the reported fit.
    let family = negative_binomial(theta, link)?;
    let mut fit = glmer_full(design, &family, opts)?;
    let r = &mut fit.result;
    r.npar += 1;
    r.aic = r.objective + 2.0 * r.npar as f64;
    r.bic = r.objective + (r.nobs as f64).ln() * r.npar as f64;
    r.df_resid = r.nobs as f64 - r.npar as f64;
    r.family_parameters = vec![multilevel_lmm::results::FamilyParameter {
        name: "theta".into(),
        estimate: theta,
        std_error: theta_se,
    }];
    if t_hat - (l0 - nb.half_width) < 10.0 * nb.tol || (l0 + nb.half_width) - t_hat < 10.0 * nb.tol
    {
        r.warnings.push(format!(
            "the negative binomial theta ({theta:.4}) is at the edge of its search interval; hint: the counts may not be overdispersed (try the Poisson family) or be extremely so"
        ));
    }
    Ok(NbFit {
        fit,
        family,
        theta,
        theta_se,
        theta_start: theta0,
        search_fits: fits,
    })
}

/// The NB2 shape θ maximising the likelihood of `y` at fixed means `mu` (MASS's
/// `theta.ml(y, mu, weights, limit, eps)`): Newton's method on the score
/// `Σ wᵢ (ψ(θ + yᵢ) − ψ(θ) + log θ + 1 − log(θ + μᵢ) − (yᵢ + θ)/(μᵢ + θ))` from the moment
/// estimate `n / Σ wᵢ (yᵢ/μᵢ − 1)²`, stopping when the step is at most `eps` or after `limit`
/// iterations.
pub fn theta_ml(y: &[f64], mu: &[f64], w: &[f64], limit: usize, eps: f64) -> f64 {
    let n: f64 = w.iter().sum();
    let mut t0 = n / y
        .iter()
        .zip(mu)
        .zip(w)
        .map(|((y, m), w)| w * (y / m - 1.0).powi(2))
        .sum::<f64>();
    let mut it = 0;
    let mut del = 1.0f64;
    loop {
        it += 1;
        if it >= limit || del.abs() <= eps {
            break;
        }
        t0 = t0.abs();
        let mut score = 0.0;
        let mut info = 0.0;
        for ((&y, &m), &w) in y.iter().zip(mu).zip(w) {
            score += w
                * (digamma(t0 + y) - digamma(t0) + t0.ln() + 1.0
                    - (t0 + m).ln()
                    - (y + t0) / (m + t0));
            info += w
                * (-trigamma(t0 + y) + trigamma(t0) - 1.0 / t0 + 2.0 / (m + t0)
                    - (y + t0) / ((m + t0) * (m + t0)));
        }
        del = score / info;
        t0 += del;
        if !t0.is_finite() {
            return f64::NAN;
        }
    }
    t0.max(0.0)
}

/// The trigamma function ψ'(x) for x > 0: the recurrence `ψ'(x) = ψ'(x + 1) + 1/x²` up to
/// x ≥ 10, then the asymptotic series `1/x + 1/(2x²) + Σ B₂ₖ/x^(2k+1)`.
pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / x;
    let r2 = r * r;
    acc + r
        + r2 / 2.0
        + r * r2
            * (1.0 / 6.0
                + r2 * (-1.0 / 30.0 + r2 * (1.0 / 42.0 + r2 * (-1.0 / 30.0 + r2 * 5.0 / 66.0))))
}

/// Minimise `f` on `[a, b]` by Brent's method (golden-section steps, parabolic interpolation
/// when it is safe), as R's `optimize(f, c(a, b), tol)`: stops when the bracket around the
/// best point is within `2 (√ε |x| + tol/3)`. Returns the minimiser and the minimum.
pub fn brent_min(f: &mut dyn FnMut(f64) -> f64, mut a: f64, mut b: f64, tol: f64) -> (f64, f64) {
    let golden = (3.0 - 5f64.sqrt()) * 0.5;
    let eps = f64::EPSILON.sqrt();
    let tol3 = tol / 3.0;
    let mut x = a + golden * (b - a);
    let (mut v, mut w) = (x, x);
    let mut fx = f(x);
    let (mut fv, mut fw) = (fx, fx);
    let mut d = 0.0f64;
    let mut e = 0.0f64;
    loop {
        let xm = (a + b) * 0.5;
        let tol1 = eps * x.abs() + tol3;
        let t2 = tol1 * 2.0;
        if (x - xm).abs() <= t2 - (b - a) * 0.5 {
            break;
        }
        let mut p = 0.0;
        let mut q = 0.0;
        let mut r = 0.0;
        if e.abs() > tol1 {
            // The parabola through (v, fv), (w, fw), (x, fx).
            r = (x - w) * (fx - fv);
            q = (x - v) * (fx - fw);
            p = (x - v) * q - (x - w) * r;
            q = (q - r) * 2.0;
            if q > 0.0 {
                p = -p;
            } else {
                q = -q;
            }
            r = e;
            e = d;
        }
        if p.abs() >= (q * 0.5 * r).abs() || p <= q * (a - x) || p >= q * (b - x) {
            e = if x < xm { b - x } else { a - x };
            d = golden * e;
        } else {
            d = p / q;
            let u = x + d;
            if u - a < t2 || b - u < t2 {
                d = if x < xm { tol1 } else { -tol1 };
            }
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else if d > 0.0 {
            x + tol1
        } else {
            x - tol1
        };
        let fu = f(u);
        if fu <= fx {
            if u < x {
                b = x;
            } else {
                a = x;
            }
            v = w;
            fv = fw;
            w = x;
            fw = fx;
            x = u;
            fx = fu;
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                v = w;
                fv = fw;
                w = u;
                fw = fu;
            } else if fu <= fv || v == x || v == w {
                v = u;
                fv = fu;
            }
        }
    }
    (x, fx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn brent_finds_a_parabola_minimum_and_trigamma_its_closed_forms() {
        let mut f = |x: f64| (x - 0.3).powi(2) + 1.0;
        let (x, fx) = brent_min(&mut f, -3.0, 3.0, 1e-8);
        assert!(
            (x - 0.3).abs() < 1e-7 && (fx - 1.0).abs() < 1e-12,
            "{x} {fx}"
        );
        // trigamma(1/2) = π²/2, trigamma(1) = π²/6.
        assert!((trigamma(0.5) - std::f64::consts::PI.powi(2) / 2.0).abs() < 1e-12);
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-12);
    }

    #[test]
    fn nb_aic_is_minus_twice_the_log_probability_and_names_theta() {
        let nb = NegativeBinomial::new(2.5);
        // R: -2 * dnbinom(3, size = 2.5, mu = 1.7, log = TRUE).
        let r = 4.257_963_356_603_266;
        assert!((nb.aic(&[3.0], &[1.0], &[1.7], &[1.0], 0.0) - r).abs() < 1e-12);
        let direct = -2.0
            * (ln_gamma(3.0 + 2.5) - ln_gamma(2.5) - ln_gamma(4.0)
                + 2.5 * (2.5f64 / 4.2).ln()
                + 3.0 * (1.7f64 / 4.2).ln());
        let v = nb.aic(&[3.0], &[1.0], &[1.7], &[1.0], 0.0);
        assert!((v - direct).abs() < 1e-12);
        assert_eq!(
            NegativeBinomial::new(0.8423488).name(),
            "Negative Binomial(0.8423)"
        );
        assert_eq!(NegativeBinomial::new(3.0).name(), "Negative Binomial(3)");
        assert!(nb.check_y(2.5).is_err() && nb.check_y(-1.0).is_err() && nb.check_y(4.0).is_ok());
        // The deviance residual is zero at μ = y and the unit deviance is 2 (ℓ(y) − ℓ(μ)).
        assert!(nb.dev_resid(3.0, 3.0, 1.0).abs() < 1e-14);
        let d = nb.dev_resid(3.0, 1.7, 1.0);
        let dl = 2.0 * (ldnbinom(3.0, 3.0, 2.5) - ldnbinom(3.0, 1.7, 2.5));
        assert!((d - dl).abs() < 1e-12, "{d} {dl}");
    }
}
