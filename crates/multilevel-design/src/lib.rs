//! Design matrices of a linear mixed model, as lme4's `lFormula()` prepares them.
//!
//! The model is `y = Xβ + Zb + ε` with `b = Λ(θ)u`, `u ~ N(0, σ²I)`, `ε ~ N(0, σ²W⁻¹)`.
//! This crate turns a model frame into
//! - the dense fixed-effects matrix `X` (full column rank; aliased columns are dropped and named),
//! - one [`ReTerm`] per random-effects term: a level code per row plus a small per-row model
//!   matrix, never a dense `n × q` matrix `Z`,
//! - the layout of `θ`: each term's share, term by term, parametrises its relative covariance
//!   factor `Λ` through the term's [`Covariance`] (lme4's lower-triangular Cholesky factor,
//!   column by column, for the unstructured [`Unstructured`]), with lme4's bounds and starting
//!   values.
//!
//! Entry point: [`build_design`]. Building blocks: [`model_matrix`] (R's `model.matrix`),
//! [`coding_matrix`] (R's contrast functions), [`kept_columns`] (R's rank-revealing QR with
//! limited pivoting, as lme4 uses to drop aliased columns of `X`).

mod build;
pub mod contrasts;
pub mod covariance;
mod error;
pub mod model_matrix;
pub mod rank;

pub use build::{DesignOptions, build_design, build_design_with, random_term_text};
pub use contrasts::{Coding, CodingMatrix, coding_matrix};
pub use covariance::{
    Ar1, CompoundSymmetry, Covariance, CovarianceError, CovarianceSpec, Diagonal, SdCorParam,
    Unstructured,
};
pub use error::DesignError;
pub use model_matrix::{ModelMatrix, model_matrix};
pub use rank::{RANK_TOL, kept_columns};

/// One random-effects term `(expr | g)` after expansion of `||` and `/`.
///
/// Row `i` contributes `z[i*k .. (i+1)*k]` to the `k` columns of level `refs[i]`: the
/// columns of `Z` belonging to this term are `Z[i, l*k + j] = z[i*k + j]` when `refs[i] == l`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReTerm {
    /// Grouping-factor name as lme4 prints it (`Subject`, `cask:batch`).
    pub group: String,
    /// Level labels of the grouping factor; a level code indexes this vector.
    pub levels: Vec<String>,
    /// Level code of each row (`0 ..levels.len()`).
    pub refs: Vec<u32>,
    /// Number of random effects per level (columns of the term's model matrix).
    pub k: usize,
    /// The term's model matrix, `n × k`, row-major.
    pub z: Vec<f64>,
    /// Column names of the term's model matrix (`(Intercept)`, `Days`, `fB`).
    pub col_names: Vec<String>,
    /// Position of this term in the formula after expansion (terms are stored sorted by
    /// number of levels, largest first; reports print in formula order).
    pub formula_order: usize,
    /// The structure of the term's relative covariance `ΛΛ'` (its `k` equals the term's `k`);
    /// use it through [`ReTerm::covariance`].
    pub structure: CovarianceSpec,
}

impl ReTerm {
    /// Number of levels of the grouping factor.
    pub fn nlevels(&self) -> usize {
        self.levels.len()
    }
    /// Number of columns of `Z` for this term, `k · nlevels`.
    pub fn q(&self) -> usize {
        self.k * self.levels.len()
    }
    /// The term's covariance structure.
    pub fn covariance(&self) -> &dyn Covariance {
        self.structure.as_covariance()
    }
    /// Number of θ elements of the term.
    pub fn n_theta(&self) -> usize {
        self.covariance().n_theta()
    }
}

/// Everything the fitting crates need from a formula and a data set.
///
/// Rows are the complete cases of the model frame; `n_dropped_missing` counts the rows removed
/// for missing values (lme4's `na.omit`).
#[derive(Debug, Clone)]
pub struct Design {
    /// The formula as given by the user.
    pub formula: String,
    /// Response label as R prints it (`Reaction`, `log(y)`, `cbind(incidence, size - incidence)`).
    pub response_name: String,
    /// Response values, length `n`. For `cbind(s, f)` this is the proportion `s / (s + f)`.
    pub y: Vec<f64>,
    /// Binomial trials per row for `cbind(s, f)` responses (`s + f`), otherwise `None`.
    pub trials: Option<Vec<f64>>,
    /// Fixed-effects model matrix, `n × p`, full column rank.
    pub x: faer::Mat<f64>,
    /// Column names of `X` as R's `model.matrix` names them (`(Intercept)`, `Days`, `x:fB`).
    pub x_names: Vec<String>,
    /// For each column of `X`, the index into `fixed_term_labels` of the term it came from
    /// (R's `assign` attribute; the intercept has its own label `(Intercept)`).
    pub x_assign: Vec<usize>,
    /// Labels of the fixed-effect terms (`(Intercept)`, `Days`, `x:f`), in R's order.
    pub fixed_term_labels: Vec<String>,
    /// Names of columns dropped because they were aliased with earlier columns.
    pub dropped_columns: Vec<String>,
    /// Random-effects terms in lme4's order: by number of levels, largest first; when lme4
    /// reorders (`rev(order(nl))`), terms with equal numbers of levels are in reverse formula
    /// order, otherwise formula order is kept.
    pub terms: Vec<ReTerm>,
    /// Prior weights, if any (length `n`, positive).
    pub weights: Option<Vec<f64>>,
    /// Offset, if any (sum of all `offset()` terms, length `n`).
    pub offset: Option<Vec<f64>>,
    /// Rows removed because a variable the formula uses was missing.
    pub n_dropped_missing: usize,
    /// Name of the data source (file name or embedded data set name).
    pub data_name: String,
}

impl Design {
    /// Number of observations `n`.
    pub fn nobs(&self) -> usize {
        self.y.len()
    }
    /// Number of fixed-effects coefficients `p`.
    pub fn p(&self) -> usize {
        self.x.ncols()
    }
    /// Total number of random effects `q = Σ k_j · ℓ_j`.
    pub fn q(&self) -> usize {
        self.terms.iter().map(ReTerm::q).sum()
    }
    /// Length of θ.
    pub fn n_theta(&self) -> usize {
        self.terms.iter().map(ReTerm::n_theta).sum()
    }
    /// Lower bounds on θ, term by term from the terms' covariances (lme4's: 0 for the
    /// diagonal of an unstructured Λ, −∞ elsewhere).
    pub fn theta_lower(&self) -> Vec<f64> {
        self.terms
            .iter()
            .flat_map(|t| t.covariance().theta_lower())
            .collect()
    }
    /// Upper bounds on θ, term by term from the terms' covariances (`+∞` except a structured
    /// term's correlation parameter, bounded by 1).
    pub fn theta_upper(&self) -> Vec<f64> {
        self.terms
            .iter()
            .flat_map(|t| t.covariance().theta_upper())
            .collect()
    }
    /// Whether every term is unstructured (θ is the lower triangles of the `Λⱼ`).
    pub fn all_unstructured(&self) -> bool {
        self.terms.iter().all(|t| t.structure.is_unstructured())
    }
    /// Starting θ, term by term from the terms' covariances (lme4's: Λ = I).
    pub fn theta_start(&self) -> Vec<f64> {
        self.terms
            .iter()
            .flat_map(|t| t.covariance().theta_start())
            .collect()
    }
    /// Each term with its share of θ (terms in order; a θ shorter than [`Design::n_theta`]
    /// gives the last terms short or empty shares).
    pub fn split_theta<'a>(
        &'a self,
        theta: &'a [f64],
    ) -> impl Iterator<Item = (&'a ReTerm, &'a [f64])> + 'a {
        let mut off = 0;
        self.terms.iter().map(move |t| {
            let n = t.n_theta();
            let start = off.min(theta.len());
            let end = (off + n).min(theta.len());
            off += n;
            (t, theta.get(start..end).unwrap_or(&[]))
        })
    }
    /// `Λⱼ(θ)` of every term (`k × k`, row-major), from the terms' covariances.
    pub fn lambdas(&self, theta: &[f64]) -> Vec<Vec<f64>> {
        self.split_theta(theta)
            .map(|(t, th)| {
                let mut lam = vec![0.0; t.k * t.k];
                t.covariance().lambda_into(th, &mut lam);
                lam
            })
            .collect()
    }
}
