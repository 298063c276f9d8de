//! Response families and link functions, as R's `family` objects and lme4's C++ `glmFamily`.
//!
//! A [`GlmFamily`] pairs a [`Family`] (the conditional distribution: variance function,
//! deviance residuals, AIC term, valid means, starting means) with a [`Link`] (`g(μ) = η`, its
//! inverse and `dμ/dη`). Both are traits, so a user can plug in another distribution or link;
//! [`FamilySpec`] names the built-in combinations (R's `binomial(link = "probit")` etc.).
//!
//! The inverse links clamp the way lme4's C++ code does (it is what `glmer` evaluates, not
//! R's `make.link`): the logit and cloglog inverses to `[ε, 1 − ε]`, probit and cauchit to
//! `≤ 1 − ε`, `exp` to `≥ ε`, and `dμ/dη` of logit, cloglog and log to `≥ ε`, with
//! `ε = f64::EPSILON`.
//!
//! Notation: `y` response (a proportion for binomial), `μ` mean, `wt` prior weights (for
//! binomial `cbind(s, f)` responses these are the trials `s + f`, R's `weights * n`), `n` the
//! binomial trials vector R's `family$initialize` creates (`s + f` for `cbind`, 1 otherwise).

use std::f64::consts::PI;
use std::fmt;
use std::sync::Arc;

use multilevel_numeric::dist::{dnorm, pnorm, pnorm_inverse};
use statrs::function::gamma::ln_gamma;

const EPS: f64 = f64::EPSILON;

/// A link function `η = g(μ)`.
pub trait Link: fmt::Debug + Send + Sync {
    /// Name as R prints it (`logit`, `1/mu^2`).
    fn name(&self) -> &str;
    /// `g(μ)`.
    fn link(&self, mu: f64) -> f64;
    /// `g⁻¹(η)`.
    fn inverse(&self, eta: f64) -> f64;
    /// `dμ/dη` at `η`.
    fn mu_eta(&self, eta: f64) -> f64;
    /// Whether `η` is in the domain of `g⁻¹` (R's `valideta`).
    fn valid_eta(&self, eta: f64) -> bool {
        eta.is_finite()
    }
    /// The built-in link this is, if any. PIRLS uses it to pick fused, faster code for the
    /// common pairs (binomial–logit, Poisson–log) with the same numbers; a custom link keeps
    /// the default `None`.
    fn builtin_kind(&self) -> Option<LinkKind> {
        None
    }
}

/// The conditional distribution of a GLMM (R's `family` without the link).
pub trait Family: fmt::Debug + Send + Sync {
    /// Name as R prints it (`binomial`, `Gamma`, `inverse.gaussian`).
    fn name(&self) -> &str;
    /// Variance function `V(μ)`.
    fn variance(&self, mu: f64) -> f64;
    /// Unit deviance times the prior weight, `wt · d(y, μ)` (R's `dev.resids`); the deviance
    /// residual is `sign(y − μ) √(this)`.
    fn dev_resid(&self, y: f64, mu: f64, wt: f64) -> f64;
    /// R's `family$aic(y, n, mu, wt, dev)`: −2 × the conditional log-likelihood (plus 2 for
    /// families with an estimated dispersion, which R's `aic` functions include).
    fn aic(&self, y: &[f64], n: &[f64], mu: &[f64], wt: &[f64], dev: f64) -> f64;
    /// Whether `μ` is a valid mean (R's `validmu`).
    fn valid_mu(&self, mu: f64) -> bool {
        mu.is_finite()
    }
    /// Whether the family has a dispersion parameter estimated from the fit (lme4's `useSc`):
    /// Gamma, inverse Gaussian and Gaussian do; binomial and Poisson have φ = 1.
    fn has_scale(&self) -> bool;
    /// Starting mean for one observation (R's `family$initialize`); `m` is the binomial
    /// trials (`n`) for `cbind` responses and the prior weight otherwise.
    fn mu_start(&self, y: f64, m: f64) -> f64;
    /// Check one response value; `Err` carries the reason (used in the error that names the
    /// row).
    fn check_y(&self, y: f64) -> Result<(), String>;
    /// Whether the Pearson χ²/df overdispersion check applies (binomial, Poisson).
    fn fixed_dispersion(&self) -> bool {
        !self.has_scale()
    }
    /// The built-in distribution this is, if any (see [`Link::builtin_kind`]); a custom
    /// family keeps the default `None`.
    fn builtin_kind(&self) -> Option<FamilyKind> {
        None
    }
}

/// `x log(x / m)` with `0 log 0 = 0` (lme4's `Y_log_Y`).
fn y_log_y(y: f64, mu: f64) -> f64 {
    let v = y / mu;
    if v == 0.0 { 0.0 } else { y * v.ln() }
}

/// `log(x)` with `log 0 = 0` (lme4's `logN0`).
fn log_n0(x: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x.ln() }
}

/// log of the binomial probability `P(X = x)`, `X ~ Bin(m, p)`.
fn ldbinom(x: f64, m: f64, p: f64) -> f64 {
    if x < 0.0 || x > m {
        return f64::NEG_INFINITY;
    }
    let lchoose = ln_gamma(m + 1.0) - ln_gamma(x + 1.0) - ln_gamma(m - x + 1.0);
    let a = if x == 0.0 { 0.0 } else { x * p.ln() };
    let b = if m - x == 0.0 {
        0.0
    } else {
        (m - x) * (1.0 - p).ln()
    };
    lchoose + a + b
}

/// log of the Poisson probability `P(X = y)`, `X ~ Pois(μ)`.
fn ldpois(y: f64, mu: f64) -> f64 {
    if y == 0.0 {
        return -mu;
    }
    y * mu.ln() - mu - ln_gamma(y + 1.0)
}

/// log density of the gamma distribution with `shape` and `scale`.
fn ldgamma(y: f64, shape: f64, scale: f64) -> f64 {
    -ln_gamma(shape) - shape * scale.ln() + (shape - 1.0) * y.ln() - y / scale
}

/// `y log y + (1 − y) log(1 − y)` (binomial, `0 log 0 = 0`) or `y log y − y` (Poisson): the
/// part of the unit deviance `d(y, μ)/2` that does not depend on μ, so that
/// `d = 2 wt (c(y) − y log μ − (1 − y) log(1 − μ))` (binomial) or
/// `d = 2 wt (c(y) − y log μ + μ)` (Poisson). `None` for other families.
pub(crate) fn deviance_constant(kind: FamilyKind, y: f64) -> Option<f64> {
    match kind {
        FamilyKind::Binomial => Some(y_log_y(y, 1.0) + y_log_y(1.0 - y, 1.0)),
        FamilyKind::Poisson => Some(y_log_y(y, 1.0) - y),
        _ => None,
    }
}

/// `C` such that `aic(y, n, μ, wt, Σ dᵢ(μ)) = Σ dᵢ(μ) + C` for every μ, when such a constant
/// exists: Poisson always (`C = 2 Σ wtᵢ (log Γ(yᵢ + 1) − yᵢ log yᵢ + yᵢ)`), binomial when the
/// successes and trials that R's `binomial()$aic` rounds are whole already
/// (`C = −2 Σ [wtᵢ/mᵢ log C(mᵢ, xᵢ) + wtᵢ (yᵢ log yᵢ + (1 − yᵢ) log(1 − yᵢ))]`). The Laplace
/// objective then needs no logarithm or log-gamma per observation and evaluation.
pub(crate) fn aic_minus_deviance(
    kind: FamilyKind,
    y: &[f64],
    n: &[f64],
    wt: &[f64],
) -> Option<f64> {
    let whole = |v: f64| (v - v.round_ties_even()).abs() <= 1e-9 * v.abs().max(1.0);
    match kind {
        FamilyKind::Poisson => Some(
            (0..y.len())
                .map(|i| 2.0 * wt[i] * (ln_gamma(y[i] + 1.0) - y_log_y(y[i], 1.0) + y[i]))
                .sum(),
        ),
        FamilyKind::Binomial => {
            let use_n = n.iter().any(|&v| v > 1.0);
            let mut c = 0.0;
            for i in 0..y.len() {
                let m = if use_n { n[i] } else { wt[i] };
                // aic uses (wt/m)·x log μ with x = round(m y): equal to wt·y log μ only when
                // m y and m are whole (and, without trials, when the weight itself is whole).
                if !whole(m) || !whole(m * y[i]) || (!use_n && !whole(wt[i])) {
                    return None;
                }
                let mr = m.round_ties_even();
                if mr <= 0.0 {
                    if wt[i] != 0.0 {
                        return None;
                    }
                    continue;
                }
                let x = (m * y[i]).round_ties_even();
                let lchoose = ln_gamma(mr + 1.0) - ln_gamma(x + 1.0) - ln_gamma(mr - x + 1.0);
                c -= 2.0
                    * (wt[i] / mr * lchoose
                        + wt[i] * (y_log_y(y[i], 1.0) + y_log_y(1.0 - y[i], 1.0)));
            }
            c.is_finite().then_some(c)
        }
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// Links
// ------------------------------------------------------------------------------------------

/// Names of the built-in links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkKind {
    /// `log(μ/(1−μ))`.
    Logit,
    /// `Φ⁻¹(μ)`.
    Probit,
    /// `log(−log(1−μ))`.
    Cloglog,
    /// `tan(π(μ − ½))`.
    Cauchit,
    /// `log μ`.
    Log,
    /// `μ`.
    Identity,
    /// `1/μ`.
    Inverse,
    /// `√μ`.
    Sqrt,
    /// `1/μ²`.
    InverseSquare,
}

impl LinkKind {
    /// R's name of the link.
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Logit => "logit",
            LinkKind::Probit => "probit",
            LinkKind::Cloglog => "cloglog",
            LinkKind::Cauchit => "cauchit",
            LinkKind::Log => "log",
            LinkKind::Identity => "identity",
            LinkKind::Inverse => "inverse",
            LinkKind::Sqrt => "sqrt",
            LinkKind::InverseSquare => "1/mu^2",
        }
    }

    /// Parse R's name of a link (`"1/mu^2"` or `"inverse_square"` for the inverse square).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "logit" => LinkKind::Logit,
            "probit" => LinkKind::Probit,
            "cloglog" => LinkKind::Cloglog,
            "cauchit" => LinkKind::Cauchit,
            "log" => LinkKind::Log,
            "identity" => LinkKind::Identity,
            "inverse" => LinkKind::Inverse,
            "sqrt" => LinkKind::Sqrt,
            "1/mu^2" | "inverse_square" | "inversesquare" => LinkKind::InverseSquare,
            _ => return None,
        })
    }

    /// The link as a trait object.
    pub fn build(self) -> Box<dyn Link> {
        Box::new(BuiltinLink(self))
    }
}

/// A built-in link function.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinLink(pub LinkKind);

impl Link for BuiltinLink {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn builtin_kind(&self) -> Option<LinkKind> {
        Some(self.0)
    }

    fn link(&self, mu: f64) -> f64 {
        match self.0 {
            LinkKind::Logit => (mu / (1.0 - mu)).ln(),
            LinkKind::Probit => pnorm_inverse(mu),
            LinkKind::Cloglog => (-(1.0 - mu).ln()).ln(),
            LinkKind::Cauchit => (PI * (mu - 0.5)).tan(),
            LinkKind::Log => mu.ln(),
            LinkKind::Identity => mu,
            LinkKind::Inverse => 1.0 / mu,
            LinkKind::Sqrt => mu.sqrt(),
            LinkKind::InverseSquare => 1.0 / (mu * mu),
        }
    }

    fn inverse(&self, eta: f64) -> f64 {
        match self.0 {
            LinkKind::Logit => {
                let p = if eta >= 0.0 {
                    1.0 / (1.0 + (-eta).exp())
                } else {
                    let e = eta.exp();
                    e / (1.0 + e)
                };
                p.clamp(EPS, 1.0 - EPS)
            }
            LinkKind::Probit => pnorm(eta).min(1.0 - EPS),
            LinkKind::Cloglog => (-(-eta.exp()).exp_m1()).clamp(EPS, 1.0 - EPS),
            LinkKind::Cauchit => (0.5 + eta.atan() / PI).min(1.0 - EPS),
            LinkKind::Log => eta.exp().max(EPS),
            LinkKind::Identity => eta,
            LinkKind::Inverse => 1.0 / eta,
            LinkKind::Sqrt => eta * eta,
            LinkKind::InverseSquare => 1.0 / eta.sqrt(),
        }
    }

    fn mu_eta(&self, eta: f64) -> f64 {
        match self.0 {
            LinkKind::Logit => {
                let e = (-eta.abs()).exp();
                (e / ((1.0 + e) * (1.0 + e))).max(EPS)
            }
            LinkKind::Probit => dnorm(eta),
            LinkKind::Cloglog => (eta - eta.exp()).exp().max(EPS),
            LinkKind::Cauchit => 1.0 / (PI * (1.0 + eta * eta)),
            LinkKind::Log => eta.exp().max(EPS),
            LinkKind::Identity => 1.0,
            LinkKind::Inverse => -1.0 / (eta * eta),
            LinkKind::Sqrt => 2.0 * eta,
            LinkKind::InverseSquare => -1.0 / (2.0 * eta.powf(1.5)),
        }
    }

    fn valid_eta(&self, eta: f64) -> bool {
        match self.0 {
            LinkKind::Inverse => eta.is_finite() && eta != 0.0,
            LinkKind::Sqrt | LinkKind::InverseSquare => eta.is_finite() && eta > 0.0,
            _ => eta.is_finite(),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Families
// ------------------------------------------------------------------------------------------

/// Names of the built-in distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FamilyKind {
    /// Binomial (0/1, two-level factor, `cbind(s, f)` or proportions with weights).
    Binomial,
    /// Poisson counts.
    Poisson,
    /// Gamma with an estimated dispersion.
    Gamma,
    /// Inverse Gaussian with an estimated dispersion.
    InverseGaussian,
    /// Gaussian (with a non-identity link; identity is a linear mixed model).
    Gaussian,
}

impl FamilyKind {
    /// R's name.
    pub fn name(self) -> &'static str {
        match self {
            FamilyKind::Binomial => "binomial",
            FamilyKind::Poisson => "poisson",
            FamilyKind::Gamma => "Gamma",
            FamilyKind::InverseGaussian => "inverse.gaussian",
            FamilyKind::Gaussian => "gaussian",
        }
    }

    /// R's default link.
    pub fn default_link(self) -> LinkKind {
        match self {
            FamilyKind::Binomial => LinkKind::Logit,
            FamilyKind::Poisson => LinkKind::Log,
            FamilyKind::Gamma => LinkKind::Inverse,
            FamilyKind::InverseGaussian => LinkKind::InverseSquare,
            FamilyKind::Gaussian => LinkKind::Identity,
        }
    }

    /// The links R allows for this family.
    pub fn allowed_links(self) -> &'static [LinkKind] {
        use LinkKind::*;
        match self {
            FamilyKind::Binomial => &[Logit, Probit, Cloglog, Cauchit, Log],
            FamilyKind::Poisson => &[Log, Sqrt, Identity],
            FamilyKind::Gamma => &[Inverse, Log, Identity],
            FamilyKind::InverseGaussian => &[InverseSquare, Inverse, Log, Identity],
            FamilyKind::Gaussian => &[Identity, Log, Inverse],
        }
    }

    /// Parse R's family name (case-insensitive; `inverse_gaussian` accepted).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "binomial" => FamilyKind::Binomial,
            "poisson" => FamilyKind::Poisson,
            "gamma" => FamilyKind::Gamma,
            "inverse.gaussian" | "inverse_gaussian" | "inversegaussian" => {
                FamilyKind::InverseGaussian
            }
            "gaussian" | "normal" => FamilyKind::Gaussian,
            _ => return None,
        })
    }

    /// The distribution as a trait object.
    pub fn build(self) -> Box<dyn Family> {
        Box::new(BuiltinFamily(self))
    }
}

/// A built-in distribution.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinFamily(pub FamilyKind);

impl Family for BuiltinFamily {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn builtin_kind(&self) -> Option<FamilyKind> {
        Some(self.0)
    }

    fn variance(&self, mu: f64) -> f64 {
        match self.0 {
            FamilyKind::Binomial => (mu * (1.0 - mu)).max(EPS),
            FamilyKind::Poisson => mu,
            FamilyKind::Gamma => mu * mu,
            FamilyKind::InverseGaussian => mu * mu * mu,
            FamilyKind::Gaussian => 1.0,
        }
    }

    fn dev_resid(&self, y: f64, mu: f64, wt: f64) -> f64 {
        match self.0 {
            FamilyKind::Binomial => 2.0 * wt * (y_log_y(y, mu) + y_log_y(1.0 - y, 1.0 - mu)),
            FamilyKind::Poisson => 2.0 * wt * (y_log_y(y, mu) - (y - mu)),
            FamilyKind::Gamma => -2.0 * wt * (log_n0(y / mu) - (y - mu) / mu),
            FamilyKind::InverseGaussian => wt * (y - mu) * (y - mu) / (y * mu * mu),
            FamilyKind::Gaussian => wt * (y - mu) * (y - mu),
        }
    }

    fn aic(&self, y: &[f64], n: &[f64], mu: &[f64], wt: &[f64], dev: f64) -> f64 {
        match self.0 {
            FamilyKind::Binomial => {
                // m = n if any n > 1, else the prior weights (R's binomial()$aic).
                let use_n = n.iter().any(|&v| v > 1.0);
                let mut ans = 0.0;
                for i in 0..mu.len() {
                    let m = if use_n { n[i] } else { wt[i] };
                    let yy = (m * y[i]).round_ties_even();
                    let m = m.round_ties_even();
                    if m > 0.0 {
                        ans += wt[i] / m * ldbinom(yy, m, mu[i]);
                    }
                }
                -2.0 * ans
            }
            FamilyKind::Poisson => {
                -2.0 * (0..mu.len())
                    .map(|i| ldpois(y[i], mu[i]) * wt[i])
                    .sum::<f64>()
            }
            FamilyKind::Gamma => {
                let nn: f64 = wt.iter().sum();
                let disp = dev / nn;
                let ans: f64 = (0..mu.len())
                    .map(|i| wt[i] * ldgamma(y[i], 1.0 / disp, mu[i] * disp))
                    .sum();
                -2.0 * ans + 2.0
            }
            FamilyKind::InverseGaussian => {
                let ws: f64 = wt.iter().sum();
                let sly: f64 = y.iter().zip(wt).map(|(y, w)| y.ln() * w).sum();
                ws * ((dev / ws * 2.0 * PI).ln() + 1.0) + 3.0 * sly + 2.0
            }
            FamilyKind::Gaussian => {
                let nn = mu.len() as f64;
                let slw: f64 = wt.iter().map(|w| w.ln()).sum();
                nn * ((2.0 * PI * dev / nn).ln() + 1.0) + 2.0 - slw
            }
        }
    }

    fn valid_mu(&self, mu: f64) -> bool {
        match self.0 {
            FamilyKind::Binomial => mu.is_finite() && mu > 0.0 && mu < 1.0,
            FamilyKind::Poisson | FamilyKind::Gamma | FamilyKind::InverseGaussian => {
                mu.is_finite() && mu > 0.0
            }
            FamilyKind::Gaussian => mu.is_finite(),
        }
    }

    fn has_scale(&self) -> bool {
        matches!(
            self.0,
            FamilyKind::Gamma | FamilyKind::InverseGaussian | FamilyKind::Gaussian
        )
    }

    fn mu_start(&self, y: f64, m: f64) -> f64 {
        match self.0 {
            FamilyKind::Binomial => (m * y + 0.5) / (m + 1.0),
            FamilyKind::Poisson => y + 0.1,
            FamilyKind::Gamma | FamilyKind::InverseGaussian | FamilyKind::Gaussian => y,
        }
    }

    fn check_y(&self, y: f64) -> Result<(), String> {
        let ok = match self.0 {
            FamilyKind::Binomial => (0.0..=1.0).contains(&y),
            FamilyKind::Poisson => y >= 0.0,
            FamilyKind::Gamma | FamilyKind::InverseGaussian => y > 0.0,
            FamilyKind::Gaussian => y.is_finite(),
        };
        if ok && y.is_finite() {
            Ok(())
        } else {
            Err(match self.0 {
                FamilyKind::Binomial => format!(
                    "binomial responses must be 0/1, a two-level factor, cbind(successes, failures) or proportions in [0, 1], got {y}"
                ),
                FamilyKind::Poisson => {
                    format!("Poisson responses must be non-negative counts, got {y}")
                }
                _ => format!("{} responses must be positive, got {y}", self.0.name()),
            })
        }
    }
}

/// A family and link by name, e.g. `FamilySpec::new(FamilyKind::Binomial, LinkKind::Probit)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FamilySpec {
    /// The distribution.
    pub family: FamilyKind,
    /// The link.
    pub link: LinkKind,
}

impl FamilySpec {
    /// A family with the given link (not checked; see [`FamilySpec::parse`]).
    pub fn new(family: FamilyKind, link: LinkKind) -> Self {
        FamilySpec { family, link }
    }

    /// `binomial(link = "logit")`.
    pub fn binomial() -> Self {
        Self::new(FamilyKind::Binomial, LinkKind::Logit)
    }

    /// `poisson(link = "log")`.
    pub fn poisson() -> Self {
        Self::new(FamilyKind::Poisson, LinkKind::Log)
    }

    /// Parse R-style names: family (`binomial`, `poisson`, `Gamma`, `inverse.gaussian`,
    /// `gaussian`) and optional link (default: the family's canonical link as R chooses it).
    ///
    /// # Errors
    /// An unknown family or link, or a link R does not allow for the family; the message lists
    /// the allowed choices.
    pub fn parse(family: &str, link: Option<&str>) -> Result<Self, String> {
        let fk = FamilyKind::parse(family).ok_or_else(|| {
            format!(
                "unknown family `{family}`; hint: use one of binomial, poisson, Gamma, inverse.gaussian, gaussian"
            )
        })?;
        let lk = match link {
            None => fk.default_link(),
            Some(l) => LinkKind::parse(l).ok_or_else(|| {
                format!(
                    "unknown link `{l}`; hint: use one of logit, probit, cloglog, cauchit, log, identity, inverse, sqrt, 1/mu^2"
                )
            })?,
        };
        fk.with_link(lk).map_err(|e| e.to_string())
    }

    /// The family and link as trait objects.
    pub fn build(self) -> GlmFamily {
        GlmFamily::new(self.family.build(), self.link.build())
    }
}

/// A distribution together with a link: what `glmer` needs. Cloning shares the two trait
/// objects (a fitted model keeps its family for refits).
#[derive(Debug, Clone)]
pub struct GlmFamily {
    /// The distribution.
    pub family: Arc<dyn Family>,
    /// The link.
    pub link: Arc<dyn Link>,
}

impl GlmFamily {
    /// Pair any distribution with any link (custom ones included: implement [`Family`] or
    /// [`Link`]).
    pub fn new(family: Box<dyn Family>, link: Box<dyn Link>) -> Self {
        GlmFamily {
            family: Arc::from(family),
            link: Arc::from(link),
        }
    }

    /// Whether this is the Gaussian family with the identity link (a linear mixed model).
    pub fn is_gaussian_identity(&self) -> bool {
        self.family.name() == "gaussian" && self.link.name() == "identity"
    }
}

impl From<FamilySpec> for GlmFamily {
    fn from(s: FamilySpec) -> Self {
        s.build()
    }
}

impl From<FamilyKind> for GlmFamily {
    /// The family with its canonical link (R's default, e.g. `binomial()` is logit).
    fn from(f: FamilyKind) -> Self {
        FamilySpec::from(f).build()
    }
}

impl From<FamilyKind> for FamilySpec {
    /// The family with its canonical link.
    fn from(f: FamilyKind) -> Self {
        FamilySpec::new(f, f.default_link())
    }
}

/// A link R does not allow for a family (e.g. the logit link for Poisson counts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("link `{}` is not available for the {} family; hint: use one of {}", .link.name(), .family.name(), allowed_names(*.family))]
pub struct LinkNotAllowed {
    /// The family.
    pub family: FamilyKind,
    /// The link asked for.
    pub link: LinkKind,
}

fn allowed_names(f: FamilyKind) -> String {
    f.allowed_links()
        .iter()
        .map(|l| l.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FamilyKind {
    /// The family with a given link, checked against the links R allows for it
    /// (`binomial(link = "probit")` is `FamilyKind::Binomial.with_link(LinkKind::Probit)`).
    ///
    /// # Errors
    /// [`LinkNotAllowed`] naming the allowed links.
    pub fn with_link(self, link: LinkKind) -> Result<FamilySpec, LinkNotAllowed> {
        if self.allowed_links().contains(&link) {
            Ok(FamilySpec::new(self, link))
        } else {
            Err(LinkNotAllowed { family: self, link })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aic_is_deviance_plus_a_constant_for_binomial_and_poisson() {
        // cbind-like binomial (trials > 1), Bernoulli, proportions with whole weights, Poisson.
        type Case = (FamilyKind, Vec<f64>, Vec<f64>, Vec<f64>);
        let cases: Vec<Case> = vec![
            (
                FamilyKind::Binomial,
                vec![2.0 / 14.0, 3.0 / 12.0, 0.0, 1.0, 5.0 / 7.0],
                vec![14.0, 12.0, 9.0, 5.0, 7.0],
                vec![14.0, 12.0, 9.0, 5.0, 7.0],
            ),
            (
                FamilyKind::Binomial,
                vec![0.0, 1.0, 1.0, 0.0],
                vec![1.0; 4],
                vec![1.0; 4],
            ),
            (
                FamilyKind::Binomial,
                vec![0.25, 0.5, 0.0],
                vec![1.0; 3],
                vec![4.0, 2.0, 0.0],
            ),
            (
                FamilyKind::Poisson,
                vec![0.0, 1.0, 4.0, 13.0],
                vec![1.0; 4],
                vec![1.0, 2.0, 1.0, 0.5],
            ),
        ];
        for (kind, y, n, wt) in cases {
            let fam = kind.build();
            let c = aic_minus_deviance(kind, &y, &n, &wt).unwrap();
            for shift in [0.05, 0.3, 0.77] {
                let mu: Vec<f64> = y
                    .iter()
                    .map(|&v| match kind {
                        FamilyKind::Binomial => (v + shift).clamp(0.01, 0.99),
                        _ => v + shift,
                    })
                    .collect();
                let dev: f64 = (0..y.len())
                    .map(|i| fam.dev_resid(y[i], mu[i], wt[i]))
                    .sum();
                let aic = fam.aic(&y, &n, &mu, &wt, dev);
                assert!(
                    (aic - (dev + c)).abs() < 1e-10 * aic.abs().max(1.0),
                    "{kind:?}: {aic} vs {}",
                    dev + c
                );
                // The deviance from its constant part, as PIRLS computes it.
                let dev2: f64 = (0..y.len())
                    .map(|i| {
                        let k = deviance_constant(kind, y[i]).unwrap();
                        match kind {
                            FamilyKind::Binomial => {
                                2.0 * wt[i]
                                    * (k - y[i] * mu[i].ln() - (1.0 - y[i]) * (1.0 - mu[i]).ln())
                            }
                            _ => 2.0 * wt[i] * (k - y[i] * mu[i].ln() + mu[i]),
                        }
                    })
                    .sum();
                assert!(
                    (dev - dev2).abs() < 1e-12 * dev.max(1.0),
                    "{kind:?}: {dev} vs {dev2}"
                );
            }
        }
        // Fractional weights without trials: R rounds them, so no constant exists.
        assert!(aic_minus_deviance(FamilyKind::Binomial, &[0.5], &[1.0], &[2.5]).is_none());
        assert!(aic_minus_deviance(FamilyKind::Gamma, &[1.0], &[1.0], &[1.0]).is_none());
        assert_eq!(
            FamilyKind::Poisson.build().builtin_kind(),
            Some(FamilyKind::Poisson)
        );
        assert_eq!(
            LinkKind::Logit.build().builtin_kind(),
            Some(LinkKind::Logit)
        );
    }

    #[test]
    fn links_invert_and_differentiate() {
        for lk in [
            LinkKind::Logit,
            LinkKind::Probit,
            LinkKind::Cloglog,
            LinkKind::Cauchit,
            LinkKind::Log,
            LinkKind::Identity,
            LinkKind::Inverse,
            LinkKind::Sqrt,
            LinkKind::InverseSquare,
        ] {
            let l = lk.build();
            for mu in [0.2, 0.5, 0.7] {
                let eta = l.link(mu);
                assert!((l.inverse(eta) - mu).abs() < 1e-12, "{lk:?} {mu}");
                let h = 1e-6;
                let num = (l.inverse(eta + h) - l.inverse(eta - h)) / (2.0 * h);
                assert!((num - l.mu_eta(eta)).abs() < 1e-7, "{lk:?} mu.eta");
            }
        }
    }

    #[test]
    fn probit_link_is_the_normal_quantile() {
        let l = LinkKind::Probit.build();
        let q = l.link(0.975);
        assert!((q - 1.959_963_984_540_054).abs() < 1e-9, "{q}");
        assert!((l.link(1e-10) + 6.361_340_902_404_056).abs() < 1e-10);
    }

    #[test]
    fn aic_terms_match_r() {
        // R: -2 * dbinom(3, 10, 0.3, log = TRUE) and -2 * dpois(4, 2.5, log = TRUE).
        let b = FamilyKind::Binomial.build();
        let v = b.aic(&[0.3], &[10.0], &[0.3], &[10.0], 0.0);
        assert!((v - 2.642_302_555_533_777_6).abs() < 1e-12, "{v}");
        let p = FamilyKind::Poisson.build();
        let v = p.aic(&[4.0], &[1.0], &[2.5], &[1.0], 0.0);
        assert!((v - 4.025_781_805_702_651).abs() < 1e-12, "{v}");
    }

    #[test]
    fn parse_checks_allowed_links() {
        assert!(FamilySpec::parse("poisson", Some("logit")).is_err());
        let s = FamilySpec::parse("Gamma", None).unwrap();
        assert_eq!(s.link, LinkKind::Inverse);
        assert!(FamilySpec::parse("beta", None).is_err());
    }

    #[test]
    fn typed_family_and_link_are_checked_like_the_names() {
        let e = FamilyKind::Poisson.with_link(LinkKind::Logit).unwrap_err();
        assert_eq!(
            Err(e.to_string()),
            FamilySpec::parse("poisson", Some("logit"))
        );
        assert_eq!(
            FamilyKind::Binomial.with_link(LinkKind::Probit),
            Ok(FamilySpec::new(FamilyKind::Binomial, LinkKind::Probit))
        );
        assert_eq!(FamilySpec::from(FamilyKind::Gamma).link, LinkKind::Inverse);
        let g = GlmFamily::from(FamilyKind::Binomial);
        let shared = g.clone();
        assert_eq!(shared.link.name(), "logit");
        assert_eq!(shared.family.name(), "binomial");
    }
}
