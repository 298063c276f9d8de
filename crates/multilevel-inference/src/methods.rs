//! Denominator-degrees-of-freedom methods for t and F tests of fixed-effect contrasts.

use multilevel_numeric::dist::{p_chisq_upper, p_f_upper};

use crate::InferenceError;
use crate::linalg::{qform, sym_eigen};
use crate::model::FittedLmm;
use multilevel_lmm::FitResult;

/// Tolerance for equal per-direction df in the multi-df F test (lmerTest's `tol`).
const EQUAL_DF_TOL: f64 = 1e-8;

/// An F test of `H₀: Lβ = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct FTest {
    /// `F = (Lβ̂)'(L C L')⁻¹(Lβ̂) / q`.
    pub f_value: f64,
    /// Numerator df `q` (the rank of `L C L'`).
    pub num_df: f64,
    /// Denominator df (∞ for Wald tests).
    pub den_df: f64,
    /// `P(F_{q, ν} > F)`.
    pub p_value: f64,
    /// lmerTest's "Mean Sq", `F σ̂²`.
    pub mean_sq: f64,
    /// lmerTest's "Sum Sq", `q F σ̂²`.
    pub sum_sq: f64,
}

/// A method for the denominator degrees of freedom of tests of fixed-effect contrasts.
pub trait DfMethod {
    /// Name as reports print it (`Satterthwaite`, `Wald`).
    fn name(&self) -> &str;

    /// For one contrast vector `l` (length p): `(l'β̂, √(l'Cl), ν)` with `C = vcov(β̂)`.
    ///
    /// # Errors
    /// Wrong length, a zero contrast, or failed derivatives.
    fn contrast_df(
        &self,
        model: &mut FittedLmm,
        l: &[f64],
    ) -> Result<(f64, f64, f64), InferenceError>;

    /// The F test of `H₀: Lβ = 0` for a contrast matrix given as rows.
    ///
    /// # Errors
    /// As [`DfMethod::contrast_df`]; an empty `L`.
    fn contrast_f(&self, model: &mut FittedLmm, l: &[Vec<f64>]) -> Result<FTest, InferenceError>;

    /// [`DfMethod::contrast_df`] for several contrasts of one model. Methods with costly
    /// per-model work (Kenward–Roger) override it to do that work once.
    ///
    /// # Errors
    /// As [`DfMethod::contrast_df`].
    fn contrast_dfs(
        &self,
        model: &mut FittedLmm,
        ls: &[Vec<f64>],
    ) -> Result<Vec<(f64, f64, f64)>, InferenceError> {
        ls.iter().map(|l| self.contrast_df(model, l)).collect()
    }

    /// Two-sided p-value of `t` with `df` degrees of freedom under this method.
    fn t_p_value(&self, t: f64, df: f64) -> f64 {
        two_sided_t(t, df)
    }

    /// Whether the standard errors of [`DfMethod::contrast_df`] come from an adjusted
    /// covariance of β̂ rather than `vcov(β̂)` (Kenward–Roger's Φ_A). [`add_df`] then replaces
    /// each coefficient's standard error and t statistic, as lmerTest's
    /// `summary(fit, ddf = "Kenward-Roger")` does.
    fn adjusts_covariance(&self) -> bool {
        false
    }
}

/// Satterthwaite's approximation as lmerTest computes it.
///
/// For a contrast `l`: `ν = 2 (l'Cl)² / (g'Ag)` with `gᵢ = l' (∂C/∂varparᵢ) l` and
/// `A = 2H⁻¹` the asymptotic covariance of `varpar = (θ, σ)`. For a `q`-row `L`, `LCL'` is
/// diagonalised, `LCL' = P D P'`; each row of `P'L` gives a t statistic with `ν_m` as above;
/// `F = Σ t_m² / q` and, with `E = Σ ν_m/(ν_m − 2)`, the denominator df is `2E/(E − q)`
/// (2 if any `ν_m ≤ 2`; the common value if all `ν_m` agree to 1e-8; the 1-df test when
/// `q = 1`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Satterthwaite;

/// Wald tests: df = ∞, so t statistics are compared with the standard normal and F
/// statistics with `χ²_q / q` (lme4's z tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Wald;

fn check_len(model: &FittedLmm, l: &[f64]) -> Result<(), InferenceError> {
    if l.len() != model.p() {
        return Err(InferenceError::BadContrast(format!(
            "a contrast has {} entries but the model has {} fixed-effect coefficients",
            l.len(),
            model.p()
        )));
    }
    if l.iter().any(|v| !v.is_finite()) {
        return Err(InferenceError::BadContrast(
            "a contrast has a non-finite entry".into(),
        ));
    }
    Ok(())
}

fn estimate_var(model: &FittedLmm, l: &[f64]) -> (f64, f64) {
    let est: f64 = l
        .iter()
        .zip(&model.fit_result().fixed)
        .map(|(a, f)| a * f.estimate)
        .sum();
    (est, qform(l, model.vcov_beta()))
}

/// `ν = 2 (l'Cl)² / (g'Ag)`.
fn satterthwaite_nu(var: f64, l: &[f64], a: &[f64], jac: &[Vec<f64>]) -> f64 {
    let g: Vec<f64> = jac.iter().map(|j| qform(l, j)).collect();
    let denom = qform(&g, a);
    2.0 * var * var / denom
}

impl DfMethod for Satterthwaite {
    fn name(&self) -> &str {
        "Satterthwaite"
    }

    fn contrast_df(
        &self,
        model: &mut FittedLmm,
        l: &[f64],
    ) -> Result<(f64, f64, f64), InferenceError> {
        check_len(model, l)?;
        let (est, var) = estimate_var(model, l);
        if var.is_nan() || var <= 0.0 {
            return Err(InferenceError::BadContrast(
                "the contrast has zero variance (is it all zeros?)".into(),
            ));
        }
        let (a, jac) = model.satterthwaite_parts()?;
        let nu = satterthwaite_nu(var, l, &a, &jac);
        Ok((est, var.sqrt(), nu))
    }

    fn contrast_f(&self, model: &mut FittedLmm, l: &[Vec<f64>]) -> Result<FTest, InferenceError> {
        let (dirs, d) = directions(model, l)?;
        let q = dirs.len();
        let sigma2 = model.fit_result().sigma.powi(2);
        if q == 1 {
            let (est, se, nu) = self.contrast_df(model, &dirs[0])?;
            let f = (est / se).powi(2);
            return Ok(f_table(f, 1.0, nu, sigma2));
        }
        let (a, jac) = model.satterthwaite_parts()?;
        let beta = model.beta();
        let mut f = 0.0;
        let mut nus = Vec::with_capacity(q);
        for (row, &dm) in dirs.iter().zip(&d) {
            let est: f64 = row.iter().zip(&beta).map(|(x, b)| x * b).sum();
            f += est * est / dm;
            nus.push(satterthwaite_nu(dm, row, &a, &jac));
        }
        f /= q as f64;
        Ok(f_table(f, q as f64, f_ddf(&nus), sigma2))
    }
}

impl DfMethod for Wald {
    fn name(&self) -> &str {
        "Wald"
    }

    fn contrast_df(
        &self,
        model: &mut FittedLmm,
        l: &[f64],
    ) -> Result<(f64, f64, f64), InferenceError> {
        check_len(model, l)?;
        let (est, var) = estimate_var(model, l);
        if var.is_nan() || var <= 0.0 {
            return Err(InferenceError::BadContrast(
                "the contrast has zero variance (is it all zeros?)".into(),
            ));
        }
        Ok((est, var.sqrt(), f64::INFINITY))
    }

    fn contrast_f(&self, model: &mut FittedLmm, l: &[Vec<f64>]) -> Result<FTest, InferenceError> {
        let (dirs, d) = directions(model, l)?;
        let beta = model.beta();
        let q = dirs.len();
        let f: f64 = dirs
            .iter()
            .zip(&d)
            .map(|(row, dm)| {
                let est: f64 = row.iter().zip(&beta).map(|(x, b)| x * b).sum();
                est * est / dm
            })
            .sum::<f64>()
            / q as f64;
        let sigma2 = model.fit_result().sigma.powi(2);
        Ok(f_table(f, q as f64, f64::INFINITY, sigma2))
    }
}

/// Eigen-directions of `L C L'`: the rows of `P'L` for eigenvalues above
/// `√ε · λ_max`, with their eigenvalues (lmerTest's `contestMD`).
fn directions(
    model: &FittedLmm,
    l: &[Vec<f64>],
) -> Result<(Vec<Vec<f64>>, Vec<f64>), InferenceError> {
    if l.is_empty() {
        return Err(InferenceError::BadContrast(
            "the contrast matrix has no rows".into(),
        ));
    }
    for row in l {
        check_len(model, row)?;
    }
    let k = l.len();
    let p = model.p();
    let c = model.vcov_beta();
    let mut v = vec![0.0; k * k];
    for i in 0..k {
        // C lᵢ
        let cl: Vec<f64> = (0..p)
            .map(|a| (0..p).map(|b| c[a * p + b] * l[i][b]).sum())
            .collect();
        for j in 0..k {
            v[i * k + j] = l[j].iter().zip(&cl).map(|(x, y)| x * y).sum();
        }
    }
    let (vals, vecs) = sym_eigen(&v, k);
    let tol = (f64::EPSILON.sqrt() * vals.first().copied().unwrap_or(0.0)).max(0.0);
    let mut dirs = Vec::new();
    let mut d = Vec::new();
    for (m, &lam) in vals.iter().enumerate() {
        if lam > tol {
            let row: Vec<f64> = (0..p)
                .map(|b| (0..k).map(|i| vecs[i * k + m] * l[i][b]).sum())
                .collect();
            dirs.push(row);
            d.push(lam);
        }
    }
    if dirs.is_empty() {
        return Err(InferenceError::BadContrast(
            "the contrast matrix has rank 0 (all its rows are zero)".into(),
        ));
    }
    Ok((dirs, d))
}

/// Denominator df of the multi-df F statistic from the per-direction df (lmerTest's
/// `get_Fstat_ddf`).
pub fn f_ddf(nu: &[f64]) -> f64 {
    match nu {
        [] => f64::NAN,
        [one] => *one,
        _ => {
            if nu.windows(2).all(|w| (w[1] - w[0]).abs() < EQUAL_DF_TOL) {
                return nu.iter().sum::<f64>() / nu.len() as f64;
            }
            if nu.iter().any(|&v| v <= 2.0) {
                return 2.0;
            }
            let e: f64 = nu.iter().map(|v| v / (v - 2.0)).sum();
            2.0 * e / (e - nu.len() as f64)
        }
    }
}

fn f_table(f: f64, q: f64, ddf: f64, sigma2: f64) -> FTest {
    let p_value = if ddf.is_infinite() {
        p_chisq_upper(f * q, q)
    } else {
        p_f_upper(f, q, ddf)
    };
    FTest {
        f_value: f,
        num_df: q,
        den_df: ddf,
        p_value,
        mean_sq: f * sigma2,
        sum_sq: f * sigma2 * q,
    }
}

/// Two-sided p-value `2 P(T_ν > |t|)`; the normal for `ν = ∞` (the numeric leaf's
/// [`p_t_two_sided`](multilevel_numeric::dist::p_t_two_sided), under its lmerTest name).
pub use multilevel_numeric::dist::p_t_two_sided as two_sided_t;

/// Fill `fixed[i].df` and `fixed[i].p_value` of `fit` with the method's test of each
/// coefficient (`l = eᵢ`): the t statistic `β̂ᵢ/se` is compared with Student's t on the
/// method's df (two-sided). For df = ∞ (Wald) `df` is left `None` and the p-value is the
/// normal one. For a method with an adjusted covariance of β̂
/// ([`DfMethod::adjusts_covariance`]: Kenward–Roger) `se` is the adjusted one, `√(Φ_A)ᵢᵢ`,
/// and `std_error` and `statistic` are replaced by it and `β̂ᵢ/se` (lmerTest's
/// `summary(fit, ddf = "Kenward-Roger")`); `vcov` stays the unadjusted `vcov(β̂)`.
///
/// # Errors
/// When `fit` has another number of coefficients than the model, or the df cannot be computed.
pub fn add_df(
    model: &mut FittedLmm,
    fit: &mut FitResult,
    method: &dyn DfMethod,
) -> Result<(), InferenceError> {
    let p = model.p();
    if fit.fixed.len() != p {
        return Err(InferenceError::Mismatch(format!(
            "the fit has {} coefficients but the model has {p}",
            fit.fixed.len()
        )));
    }
    let ls: Vec<Vec<f64>> = (0..p)
        .map(|i| {
            let mut l = vec![0.0; p];
            l[i] = 1.0;
            l
        })
        .collect();
    let dfs = method.contrast_dfs(model, &ls)?;
    let adjusted = method.adjusts_covariance();
    for (fe, &(_, se, df)) in fit.fixed.iter_mut().zip(&dfs) {
        if adjusted {
            fe.std_error = se;
            fe.statistic = fe.estimate / se;
        }
        fe.df = df.is_finite().then_some(df);
        fe.p_value = Some(method.t_p_value(fe.statistic, df));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_ddf_special_cases() {
        assert_eq!(f_ddf(&[7.5]), 7.5);
        assert_eq!(f_ddf(&[10.0, 10.0, 10.0]), 10.0);
        assert_eq!(f_ddf(&[10.0, 1.5]), 2.0);
        // E = 10/8 + 20/18 = 2.3611..., ddf = 2E/(E − 2)
        let e = 10.0 / 8.0 + 20.0 / 18.0;
        assert!((f_ddf(&[10.0, 20.0]) - 2.0 * e / (e - 2.0)).abs() < 1e-12);
    }

    #[test]
    fn t_p_values() {
        // pt(2, 10, lower = FALSE) * 2 = 0.07338803
        assert!((two_sided_t(2.0, 10.0) - 0.073_388_034_770_740_4).abs() < 1e-9);
        // 2 * pnorm(-1.96) = 0.04999579
        assert!((two_sided_t(-1.96, f64::INFINITY) - 0.049_995_790_296_440_5).abs() < 1e-9);
        assert!(two_sided_t(1.0, -1.0).is_nan());
    }
}
