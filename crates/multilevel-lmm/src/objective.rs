//! The profiled deviance of a linear mixed model, evaluated through a blocked Cholesky factor.
//!
//! # The model
//!
//! `y = Xβ + Zb + ε`, `b = Λ(θ)u`, `u ~ N(0, σ²I_q)`, `ε ~ N(0, σ²W⁻¹)` with prior weights `W`.
//! Rows are scaled by `√wᵢ` once, so below `X`, `Z` and `y` mean the weighted ones (and `y`
//! has the offset subtracted).
//!
//! # Penalized least squares
//!
//! For fixed θ the conditional modes and β minimise `‖y − Xβ − ZΛu‖² + ‖u‖²`. Write
//! `A = [Z X y]'[Z X y]` (computed once per fit) and the symmetric matrix
//!
//! ```text
//!       ⎡ Λ'Z'ZΛ + I   Λ'Z'X   Λ'Z'y ⎤                ⎡ L_ZZ             ⎤
//!   M = ⎢ X'ZΛ          X'X     X'y   ⎥  = L L',   L = ⎢ L_XZ  L_XX        ⎥
//!       ⎣ y'ZΛ          y'X     y'y   ⎦                ⎣ c_Z'  c_X'   r    ⎦
//! ```
//!
//! Then `r²` is the penalized residual sum of squares, and with
//! `log|L_ZZ|² = 2 Σ log diag(L_ZZ)`, `log|R_X|² = 2 Σ log diag(L_XX)` and
//! `log|W| = Σ log wᵢ` the profiled criteria are (Bates et al. 2015, eqs. 34 and 41)
//!
//! ```text
//!   ML deviance      d(θ)   = log|L_ZZ|² − log|W| + n (1 + log(2π r² / n))
//!   REML criterion   d_R(θ) = log|L_ZZ|² + log|R_X|² − log|W| + (n − p)(1 + log(2π r² / (n − p)))
//! ```
//!
//! β and u are never solved for during the optimisation: everything is read off `L`.
//!
//! # Blocks
//!
//! Random-effects terms are sorted by number of levels, largest first. The first term's block
//! `Λ₀'Z₀'Z₀Λ₀ + I` is block-diagonal with one `k₀ × k₀` block per level, so its factor `L₀₀`
//! is too (no fill-in). Everything after it — the other terms, `X` and `y` — forms one dense
//! Schur complement
//!
//! ```text
//!   S = Λᵣ'A_rr Λᵣ (+ I on the random-effects part) − V V',   V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ,
//! ```
//!
//! where `V` keeps the sparsity of `Z_r'Z₀` (one short list of rows per level of the first
//! term), and `S = L_S L_S'` is factored densely. This is the layout MixedModels.jl uses for
//! crossed designs (the block after the first fills in); nested designs pay a little for a
//! dense block that could stay sparse, which is cheap while the later terms have few levels.

use multilevel_design::CovarianceSpec;

use crate::blocks::{dense, levels};
use crate::factorization::PlsBlocks;
pub use crate::pls::FactorSummary;
use crate::pls::Pls;

/// A prepared linear mixed model: cross products of `[Z X y]` and the workspace to evaluate
/// the profiled REML criterion or ML deviance at any θ.
pub struct ProfiledDeviance {
    /// The cross products and the blocked factor.
    pub(crate) pls: Pls,
    pub(crate) reml: bool,
    /// Each term's covariance structure (θ → Λ).
    pub(crate) covariances: Vec<CovarianceSpec>,
    /// Offset of each term's share in θ (the structures' own parameter counts).
    pub(crate) theta_offsets: Vec<usize>,
    /// The block type chosen for the model's layout ([`crate::fast::choose`]).
    pub(crate) blocks: Box<dyn PlsBlocks>,
    pub(crate) evaluations: usize,
    /// Gradient evaluations (each also counts as an objective evaluation).
    pub(crate) gradient_evaluations: usize,
    /// θ and summary of the last successful factorization, while the factor in the workspace
    /// is still that one (cleared when a factorization starts or the cross products change).
    pub(crate) factored_theta: Vec<f64>,
    pub(crate) factored: Option<FactorSummary>,
}

impl ProfiledDeviance {
    /// Fill `Λ` of every term from its share of θ through the term's covariance structure.
    pub(crate) fn set_lambda(&mut self, theta: &[f64]) {
        let parts = self.theta_offsets.iter().zip(&self.covariances);
        for ((&off, cov), lam) in parts.zip(self.pls.lambda.iter_mut()) {
            let cov = cov.as_covariance();
            let th = theta.get(off..off + cov.n_theta()).unwrap_or(&[]);
            cov.lambda_into(th, lam);
        }
    }

    /// The criterion at θ: the REML criterion or the ML deviance. Returns `+∞` when the
    /// factorization fails (θ outside the region where `M` is positive definite numerically).
    pub fn objective(&mut self, theta: &[f64]) -> f64 {
        self.evaluations += 1;
        match self.factor(theta) {
            Some(f) => self.criterion(&f),
            None => f64::INFINITY,
        }
    }

    /// Both criteria from one factorization: `(REML criterion, ML deviance)`.
    pub fn criteria(&self, f: &FactorSummary) -> (f64, f64) {
        self.criterion_both(f)
    }

    pub(crate) fn criterion_both(&self, f: &FactorSummary) -> (f64, f64) {
        let n = self.pls.n as f64;
        let np = (self.pls.n - self.pls.p) as f64;
        let two_pi = 2.0 * std::f64::consts::PI;
        let ml = f.ld_l2 - self.pls.log_det_w + n * (1.0 + (two_pi * f.pwrss / n).ln());
        let reml =
            f.ld_l2 + f.ld_rx2 - self.pls.log_det_w + np * (1.0 + (two_pi * f.pwrss / np).ln());
        (reml, ml)
    }

    pub(crate) fn criterion(&self, f: &FactorSummary) -> f64 {
        let (reml, ml) = self.criterion_both(f);
        if self.reml { reml } else { ml }
    }

    /// Form and factor `M(θ)`; returns its log-determinants and `r²`, or `None` if a pivot
    /// is not positive.
    pub(crate) fn factor(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        self.factored = None;
        let summary = self.factor_uncached(theta)?;
        self.factored_theta.clear();
        self.factored_theta.extend_from_slice(theta);
        self.factored = Some(summary);
        Some(summary)
    }

    /// [`Self::factor`], unless the factor in the workspace is already that of exactly this
    /// θ (then its summary is returned without refactoring: the same numbers). The cache is
    /// cleared by [`Self::accumulate`], the one place where the cross products change.
    pub(crate) fn factor_at(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        match self.factored {
            Some(f) if self.factored_theta.as_slice() == theta => Some(f),
            _ => self.factor(theta),
        }
    }

    fn factor_uncached(&mut self, theta: &[f64]) -> Option<FactorSummary> {
        self.set_lambda(theta);
        let pls = &mut self.pls;
        let kk = pls.k0 * pls.k0;
        // L₀₀: per level, chol(Λ₀'A₀₀Λ₀ + I).
        let mut tmp = std::mem::take(&mut pls.small);
        let first = levels::factor_levels(
            &pls.a00[..pls.l0 * kk],
            &pls.lambda[0],
            pls.k0,
            &mut pls.l00[..pls.l0 * kk],
            &mut tmp,
        );
        pls.small = tmp;
        let mut ld_l2 = first?;

        // V = Λᵣ'A_r0 Λ₀ L₀₀⁻ᵀ, then S = Λᵣ'A_rr Λᵣ + [I 0; 0 0] − V V' (lower triangle), by the
        // model's block type.
        self.blocks.form_schur(pls);

        // Dense Cholesky of S.
        let nt = pls.nt;
        let two = pls.two_threads(nt);
        if !dense::factor(&mut pls.s, two, &mut pls.mem, &mut pls.tiny) {
            return None;
        }
        let mut ld_rx2 = 0.0;
        for r in 0..pls.nr {
            ld_l2 += 2.0 * pls.s[(r, r)].ln();
        }
        for r in pls.nr..nt - 1 {
            ld_rx2 += 2.0 * pls.s[(r, r)].ln();
        }
        let rr = pls.s[(nt - 1, nt - 1)];
        let summary = FactorSummary {
            ld_l2,
            ld_rx2,
            pwrss: rr * rr,
        };
        if summary.ld_l2.is_finite() && summary.ld_rx2.is_finite() && summary.pwrss > 0.0 {
            Some(summary)
        } else {
            None
        }
    }

    /// The criterion (REML or ML deviance, as [`Self::objective`]) and its exact gradient with
    /// respect to θ, from one factorization. Counts as one evaluation. When `M(θ)` cannot be
    /// factored the criterion is `+∞` and the gradient NaN.
    ///
    /// ```text
    ///   ∂d/∂θ_k = ∂ log|Ω|/∂θ_k + (n − p or n) (∂r²/∂θ_k) / r²
    /// ```
    ///
    /// with `Ω` the matrix of the log-determinant (`M` without `y`; for ML its random-effects
    /// block). Only the diagonal (term, level) blocks of `Ω⁻¹Λ̃'G̃` are formed, from a selected
    /// inverse built on the blocked factor; `∂r²/∂θ` comes from the stored cross products
    /// (the derivation is in [`crate::gradient`]). The cost is about two to three objective
    /// evaluations. At a boundary (a diagonal θ at 0) the result is the one-sided derivative
    /// into the feasible region.
    pub fn gradient(&mut self, theta: &[f64]) -> (f64, Vec<f64>) {
        self.evaluations += 1;
        self.gradient_evaluations += 1;
        let Some(f) = self.factor(theta) else {
            return (f64::INFINITY, vec![f64::NAN; theta.len()]);
        };
        let (m, scale) = self.gradient_shape(&f);
        (self.criterion(&f), self.gradient_at_factor(theta, m, scale))
    }

    /// The gradient with respect to θ of `log|Ω(θ)| + w · r²(θ)` (`Ω` as in
    /// [`Self::gradient`]: with `X` for REML, the random-effects block for ML), from one
    /// factorization at θ (reused when the workspace already holds the factor of exactly this
    /// θ). With `w = 1/σ²` this is the θ part of the gradient of the deviance not profiled over
    /// σ (lmerTest's `devfun_vp`); with `w = 0` it is the log-determinant's alone. Counts as one
    /// gradient evaluation. `None` when `M(θ)` cannot be factored.
    pub fn weighted_gradient(
        &mut self,
        theta: &[f64],
        r2_weight: f64,
    ) -> Option<(FactorSummary, Vec<f64>)> {
        self.evaluations += 1;
        self.gradient_evaluations += 1;
        let f = self.factor_at(theta)?;
        let (m, _) = self.gradient_shape(&f);
        // The block kernels multiply `Σ (Z'r)u` by `scale`, and `∂r²/∂θ = −2 Σ (Z'r)u`.
        Some((f, self.gradient_at_factor(theta, m, -2.0 * r2_weight)))
    }

    /// The penalized residual sum of squares `r²(θ)` and its gradient with respect to θ, at θ
    /// (factored unless the workspace already holds exactly this θ): one back substitution
    /// and the stored cross products (the envelope theorem, see [`crate::gradient`]), far
    /// cheaper than [`Self::gradient`]. `None` when `M(θ)` cannot be factored.
    pub fn pwrss_gradient(&mut self, theta: &[f64]) -> Option<(FactorSummary, Vec<f64>)> {
        let f = self.factor_at(theta)?;
        let n_lower: usize = self.pls.terms.iter().map(|t| t.k * (t.k + 1) / 2).sum();
        let g_lower = self.pls.pwrss_lambda_gradient(n_lower);
        if self.covariances.iter().all(CovarianceSpec::is_unstructured) {
            return Some((f, g_lower));
        }
        Some((f, self.chain_rule(theta, &g_lower)))
    }

    /// `∂(R_X'R_X)⁻¹/∂θₚ` for every θₚ, each `p × p` row-major, at θ (factored unless the
    /// workspace already holds exactly this θ); `vcov(β̂) = σ²(R_X'R_X)⁻¹`. Exact, from one
    /// factorization and `p` back substitutions (no factorization per direction):
    ///
    /// ```text
    ///   (R_X'R_X)⁻¹ = (Ω⁻¹)_XX,   ∂(Ω⁻¹)_XX/∂θₚ = −E'(Λ̃ₚ'G̃Λ̃ + Λ̃'G̃Λ̃ₚ)E,   E = Ω⁻¹[0; I_p]
    /// ```
    ///
    /// (`Ω`, `Λ̃`, `G̃` as in [`crate::gradient`]); see [`Pls::rx_inverse_lambda_jacobian`]
    /// for the passes. `None` when `M(θ)` cannot be factored.
    pub fn rx_inverse_jacobian(&mut self, theta: &[f64]) -> Option<Vec<Vec<f64>>> {
        self.factor_at(theta)?;
        let p = self.pls.p;
        let n_lower: usize = self.pls.terms.iter().map(|t| t.k * (t.k + 1) / 2).sum();
        let d_lower = self.pls.rx_inverse_lambda_jacobian(n_lower);
        if self.covariances.iter().all(CovarianceSpec::is_unstructured) {
            return Some(d_lower);
        }
        // Structured terms: the chain rule of each term, entry by entry of the p × p matrices
        // (it is linear in the derivative with respect to the lower triangle of Λ).
        let mut out = vec![vec![0.0; p * p]; theta.len()];
        let mut g_lower = vec![0.0; n_lower];
        for i in 0..p {
            for j in i..p {
                for (g, d) in g_lower.iter_mut().zip(&d_lower) {
                    *g = d[i * p + j];
                }
                let grad = self.chain_rule(theta, &g_lower);
                for (o, gv) in out.iter_mut().zip(grad) {
                    o[i * p + j] = gv;
                    o[j * p + i] = gv;
                }
            }
        }
        Some(out)
    }

    /// The gradient at the current factor (of θ): `m` rows of the rest block in `Ω`, `scale`
    /// multiplying `Σ (Z'r)u` (see [`Pls::gradient_general`]).
    fn gradient_at_factor(&mut self, theta: &[f64], m: usize, scale: f64) -> Vec<f64> {
        if self.covariances.iter().all(CovarianceSpec::is_unstructured) {
            return self.blocks.gradient(&self.pls, m, scale, theta.len());
        }
        // The block types differentiate with respect to the lower triangles of the Λⱼ; each
        // structured term maps its part to θ by its chain rule
        // `∂d/∂θₚ = Σᵣ꜀ (∂d/∂Λᵣ꜀)(∂Λᵣ꜀/∂θₚ)`.
        let n_lower = self.pls.terms.iter().map(|t| t.k * (t.k + 1) / 2).sum();
        let g_lower = self.blocks.gradient(&self.pls, m, scale, n_lower);
        self.chain_rule(theta, &g_lower)
    }

    /// Derivatives with respect to the lower triangles of the Λⱼ (term by term, column by
    /// column) → derivatives with respect to θ, through each term's covariance structure.
    fn chain_rule(&self, theta: &[f64], g_lower: &[f64]) -> Vec<f64> {
        let mut grad = vec![0.0; theta.len()];
        let parts = self.pls.terms.iter().zip(&self.covariances);
        for ((shape, cov), &off) in parts.zip(&self.theta_offsets) {
            let cov = cov.as_covariance();
            let k = shape.k;
            let mut g = vec![0.0; k * k];
            let mut idx = shape.theta_offset;
            for c in 0..k {
                for r in c..k {
                    g[r * k + c] = g_lower.get(idx).copied().unwrap_or(0.0);
                    idx += 1;
                }
            }
            let n = cov.n_theta();
            let th = theta.get(off..off + n).unwrap_or(&[]);
            if let Some(out) = grad.get_mut(off..off + n) {
                cov.theta_gradient_from_lambda(th, &g, out);
            }
        }
        grad
    }

    /// The rows of the rest block in `Ω` (`n_r + p` for REML, `n_r` for ML) and the factor
    /// `−2 (n − p or n) / r²` of `∂r²/∂θ` in the gradient.
    pub(crate) fn gradient_shape(&self, f: &FactorSummary) -> (usize, f64) {
        let (n, p, nr) = (self.pls.n, self.pls.p, self.pls.nr);
        let (m, nfac) = if self.reml {
            (nr + p, (n - p) as f64)
        } else {
            (nr, n as f64)
        };
        (m, -2.0 * nfac / f.pwrss)
    }
}
