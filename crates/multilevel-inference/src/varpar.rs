//! lme4's "Sv" scale of the variance parameters: per random-effects term the lower triangle
//! (column by column) of the matrix holding the standard deviations on its diagonal and the
//! correlations off it, terms in lme4's order, then the residual standard deviation σ.
//!
//! With `Σⱼ = σ² Λⱼ Λⱼ'` the covariance of term `j`, `sdᵣ = √Σᵣᵣ` and
//! `corᵣ꜀ = Σᵣ꜀ / (sdᵣ sd꜀)`. Which standard deviations and correlations a term has, and the
//! maps between them and θ, belong to the term's covariance structure
//! ([`multilevel_design::Covariance`]); this module strings the terms together.

use multilevel_design::{Design, SdCorParam};

/// lme4's labels of the Sv parameters (`confint(..., oldNames = FALSE)`):
/// `sd_(Intercept)|Subject`, `cor_Days.(Intercept)|Subject`, …, `sigma`.
pub(crate) fn sv_names(design: &Design) -> Vec<String> {
    let mut names = Vec::new();
    for t in &design.terms {
        let col = |i: usize| t.col_names.get(i).cloned().unwrap_or_default();
        for param in t.covariance().sd_cor_params() {
            names.push(match param {
                SdCorParam::Sd(r) => format!("sd_{}|{}", col(r), t.group),
                SdCorParam::Cor(r, c) => format!("cor_{}.{}|{}", col(r), col(c), t.group),
            });
        }
    }
    names.push("sigma".to_string());
    names
}

/// Whether Sv parameter `i` is a standard deviation (else a correlation); the last one is σ.
pub(crate) fn sv_is_sd(design: &Design) -> Vec<bool> {
    let mut out: Vec<bool> = (design.terms.iter())
        .flat_map(|t| t.covariance().sd_cor_params())
        .map(|param| matches!(param, SdCorParam::Sd(_)))
        .collect();
    out.push(true);
    out
}

/// θ (lme4's layout) and σ → Sv parameters, term by term through the terms' covariances.
pub(crate) fn theta_to_sv(design: &Design, theta: &[f64], sigma: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(design.n_theta() + 1);
    for (t, th) in design.split_theta(theta) {
        let cov = t.covariance();
        let start = out.len();
        out.resize(start + cov.n_theta(), 0.0);
        if let Some(part) = out.get_mut(start..) {
            cov.theta_to_sd_cor(th, sigma, part);
        }
    }
    out.push(sigma);
    out
}

/// Sv parameters → (θ, σ). `None` when the length is wrong, a standard deviation is
/// negative, σ is not positive, a correlation is outside [−1, 1] or the implied correlation
/// matrix is not positive semi-definite.
pub(crate) fn sv_to_theta(design: &Design, sv: &[f64]) -> Option<(Vec<f64>, f64)> {
    let (&sigma, params) = sv.split_last()?;
    if !(sigma.is_finite() && sigma > 0.0) {
        return None;
    }
    let mut theta = vec![0.0; design.n_theta()];
    let mut idx = 0;
    for t in &design.terms {
        let cov = t.covariance();
        let n = cov.n_theta();
        let part = params.get(idx..idx + n)?;
        let out = theta.get_mut(idx..idx + n)?;
        cov.sd_cor_to_theta(part, sigma, out).ok()?;
        idx += n;
    }
    Some((theta, sigma))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_of_a_vector_term() {
        let design = Design {
            formula: String::new(),
            response_name: "y".into(),
            y: vec![0.0; 2],
            trials: None,
            x: faer::Mat::zeros(2, 1),
            x_names: vec!["(Intercept)".into()],
            x_assign: vec![0],
            fixed_term_labels: vec!["(Intercept)".into()],
            dropped_columns: vec![],
            terms: vec![multilevel_design::ReTerm {
                group: "g".into(),
                levels: vec!["a".into()],
                refs: vec![0, 0],
                k: 2,
                z: vec![1.0, 0.0, 1.0, 1.0],
                col_names: vec!["(Intercept)".into(), "x".into()],
                formula_order: 0,
                structure: multilevel_design::CovarianceSpec::unstructured(2),
            }],
            weights: None,
            offset: None,
            n_dropped_missing: 0,
            data_name: String::new(),
        };
        let theta = [0.9, 0.3, 0.2];
        let sv = theta_to_sv(&design, &theta, 2.0);
        // sd₁ = 2·0.9, sd₂ = 2·√(0.09+0.04), cor = 0.3·0.9 / (0.9·√0.13).
        assert!((sv[0] - 1.8).abs() < 1e-12);
        assert!((sv[2] - 2.0 * 0.13f64.sqrt()).abs() < 1e-12);
        assert!((sv[1] - 0.3 / 0.13f64.sqrt()).abs() < 1e-12);
        let (back, s) = sv_to_theta(&design, &sv).unwrap();
        assert!((s - 2.0).abs() < 1e-15);
        for (a, b) in back.iter().zip(theta) {
            assert!((a - b).abs() < 1e-12, "{back:?}");
        }
        assert_eq!(
            sv_names(&design),
            ["sd_(Intercept)|g", "cor_x.(Intercept)|g", "sd_x|g", "sigma"]
        );
    }
}
