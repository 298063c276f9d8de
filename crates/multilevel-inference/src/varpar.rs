//! lme4's "Sv" scale of the variance parameters: per random-effects term the lower triangle
//! (column by column) of the matrix holding the standard deviations on its diagonal and the
//! correlations off it, terms in lme4's order, then the residual standard deviation σ.
//!
//! With `Σⱼ = σ² Λⱼ Λⱼ'` the covariance of term `j`, `sdᵣ = √Σᵣᵣ` and
//! `corᵣ꜀ = Σᵣ꜀ / (sdᵣ sd꜀)`. The inverse map rebuilds `Σⱼ`, takes its Cholesky factor `L`
//! and sets `Λⱼ = L / σ`, i.e. θ = the lower triangle of `L / σ`, column by column.

use multilevel_design::Design;

/// lme4's labels of the Sv parameters (`confint(..., oldNames = FALSE)`):
/// `sd_(Intercept)|Subject`, `cor_Days.(Intercept)|Subject`, …, `sigma`.
pub(crate) fn sv_names(design: &Design) -> Vec<String> {
    let mut names = Vec::new();
    for t in &design.terms {
        let col = |i: usize| t.col_names.get(i).cloned().unwrap_or_default();
        for c in 0..t.k {
            for r in c..t.k {
                if r == c {
                    names.push(format!("sd_{}|{}", col(r), t.group));
                } else {
                    names.push(format!("cor_{}.{}|{}", col(r), col(c), t.group));
                }
            }
        }
    }
    names.push("sigma".to_string());
    names
}

/// Whether Sv parameter `i` is a standard deviation (else a correlation); the last one is σ.
pub(crate) fn sv_is_sd(design: &Design) -> Vec<bool> {
    let mut out = Vec::new();
    for t in &design.terms {
        for c in 0..t.k {
            for r in c..t.k {
                out.push(r == c);
            }
        }
    }
    out.push(true);
    out
}

/// θ (lme4's layout) and σ → Sv parameters.
pub(crate) fn theta_to_sv(design: &Design, theta: &[f64], sigma: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(theta.len() + 1);
    let mut idx = 0;
    for t in &design.terms {
        let k = t.k;
        let mut lam = vec![0.0; k * k];
        for c in 0..k {
            for r in c..k {
                lam[r * k + c] = theta.get(idx).copied().unwrap_or(0.0);
                idx += 1;
            }
        }
        let cov = |r: usize, c: usize| -> f64 {
            (0..k).map(|m| lam[r * k + m] * lam[c * k + m]).sum::<f64>() * sigma * sigma
        };
        for c in 0..k {
            for r in c..k {
                if r == c {
                    out.push(cov(r, r).sqrt());
                } else {
                    let d = (cov(r, r) * cov(c, c)).sqrt();
                    out.push(if d > 0.0 { cov(r, c) / d } else { 0.0 });
                }
            }
        }
    }
    out.push(sigma);
    out
}

/// Sv parameters → (θ, σ). `None` when a standard deviation is negative, σ is not positive,
/// a correlation is outside [−1, 1] or the implied correlation matrix is not positive
/// semi-definite.
pub(crate) fn sv_to_theta(design: &Design, sv: &[f64]) -> Option<(Vec<f64>, f64)> {
    let sigma = *sv.last()?;
    if !(sigma.is_finite() && sigma > 0.0) {
        return None;
    }
    let mut theta = Vec::with_capacity(sv.len().saturating_sub(1));
    let mut idx = 0;
    for t in &design.terms {
        let k = t.k;
        let mut sd = vec![0.0; k];
        let mut cor = vec![0.0; k * k];
        for c in 0..k {
            for r in c..k {
                let v = *sv.get(idx)?;
                idx += 1;
                if r == c {
                    if !(v.is_finite() && v >= 0.0) {
                        return None;
                    }
                    sd[r] = v;
                    cor[r * k + r] = 1.0;
                } else {
                    if !(v.is_finite() && (-1.0..=1.0).contains(&v)) {
                        return None;
                    }
                    cor[r * k + c] = v;
                    cor[c * k + r] = v;
                }
            }
        }
        // Cholesky of the correlation matrix (semi-definite allowed), then scale by sd / σ.
        let mut l = vec![0.0; k * k];
        for c in 0..k {
            let mut d = cor[c * k + c];
            for m in 0..c {
                d -= l[c * k + m] * l[c * k + m];
            }
            if d < -1e-12 {
                return None;
            }
            let d = d.max(0.0).sqrt();
            l[c * k + c] = d;
            for r in c + 1..k {
                let mut v = cor[r * k + c];
                for m in 0..c {
                    v -= l[r * k + m] * l[c * k + m];
                }
                l[r * k + c] = if d > 0.0 { v / d } else { 0.0 };
            }
        }
        for c in 0..k {
            for r in c..k {
                theta.push(sd[r] * l[r * k + c] / sigma);
            }
        }
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
