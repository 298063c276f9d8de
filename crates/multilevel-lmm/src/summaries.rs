//! Summaries computed the same way for every mixed model at its optimum (LMM and GLMM):
//! variance components, conditional modes merged per grouping factor, five-number summaries.

use multilevel_design::{Design, SdCorParam};

use crate::results::{Correlation, GroupInfo, RanefTable, TermStructure, VarComp};

/// `b = Λu` of one random-effects term with `k` columns per level: `lam` is its `k × k`
/// lower-triangular template (row-major), `u` the spherical random effects level by level.
pub fn term_b(k: usize, nlevels: usize, lam: &[f64], u: &[f64]) -> Vec<f64> {
    let mut b = vec![0.0; k * nlevels];
    for l in 0..nlevels {
        for r in 0..k {
            let mut acc = 0.0;
            for c in 0..=r {
                acc += lam[r * k + c] * u[l * k + c];
            }
            b[l * k + r] = acc;
        }
    }
    b
}

/// Variance components `σ² ΛⱼΛⱼ'` of every term (variances and standard deviations, then the
/// correlations within each vector term), in the design's term order.
pub fn variance_components(
    design: &Design,
    lambda: &[Vec<f64>],
    sigma2: f64,
) -> (Vec<VarComp>, Vec<Correlation>) {
    let mut random = Vec::new();
    let mut correlations = Vec::new();
    for (j, t) in design.terms.iter().enumerate() {
        let k = t.k;
        let lam = &lambda[j];
        let cov = |r: usize, c: usize| -> f64 {
            (0..k).map(|m| lam[r * k + m] * lam[c * k + m]).sum::<f64>() * sigma2
        };
        for r in 0..k {
            let v = cov(r, r);
            random.push(VarComp {
                group: t.group.clone(),
                term: t.col_names.get(r).cloned().unwrap_or_default(),
                variance: v,
                std_dev: v.sqrt(),
            });
        }
        for c in 0..k {
            for r in c + 1..k {
                let d = (cov(r, r) * cov(c, c)).sqrt();
                correlations.push(Correlation {
                    group: t.group.clone(),
                    term1: t.col_names.get(c).cloned().unwrap_or_default(),
                    term2: t.col_names.get(r).cloned().unwrap_or_default(),
                    corr: if d > 0.0 { cov(r, c) / d } else { f64::NAN },
                });
            }
        }
    }
    (random, correlations)
}

/// The terms whose covariance is structured (not `us`), in formula order, with the
/// structure's name, `hom`, parameter count and correlation ρ at θ.
pub fn term_structures(design: &Design, theta: &[f64]) -> Vec<TermStructure> {
    let mut out: Vec<(usize, TermStructure)> = Vec::new();
    for (t, th) in design.split_theta(theta) {
        let cov = t.covariance();
        let Some(hom) = cov.homogeneous() else {
            continue;
        };
        let params = cov.sd_cor_params();
        let rho = params
            .iter()
            .position(|p| matches!(p, SdCorParam::Cor(..)))
            .and_then(|i| th.get(i).copied());
        out.push((
            t.formula_order,
            TermStructure {
                group: t.group.clone(),
                columns: t.col_names.clone(),
                structure: cov.name().to_string(),
                hom,
                n_parameters: cov.n_theta(),
                rho,
            },
        ));
    }
    out.sort_by_key(|(o, _)| *o);
    out.into_iter().map(|(_, s)| s).collect()
}

/// Conditional modes `b = Λu` and conditional covariances `σ² Λⱼ · block · Λⱼ'` (blocks of
/// `(Λ'Z'WZΛ + I)⁻¹`, see `ProfiledDeviance::inverse_diag_blocks`), merged per grouping factor
/// as lme4's `ranef()` returns them (terms of the same factor, e.g. from `||`, side by side).
pub fn ranef_tables(
    design: &Design,
    lambda: &[Vec<f64>],
    b_terms: &[Vec<f64>],
    blocks: Option<&[Vec<f64>]>,
    sigma2: f64,
) -> Vec<RanefTable> {
    let mut ranef: Vec<RanefTable> = Vec::new();
    for (j, t) in design.terms.iter().enumerate() {
        let k = t.k;
        let lam = &lambda[j];
        let cond: Vec<Vec<f64>> = (0..t.nlevels())
            .map(|l| match blocks.and_then(|b| b.get(j)) {
                Some(bj) => {
                    let blk = &bj[l * k * k..(l + 1) * k * k];
                    let mut out = vec![0.0; k * k];
                    for a in 0..k {
                        for b in 0..k {
                            let mut acc = 0.0;
                            for x in 0..k {
                                for y in 0..k {
                                    acc += lam[a * k + x] * blk[x * k + y] * lam[b * k + y];
                                }
                            }
                            out[a * k + b] = acc * sigma2;
                        }
                    }
                    out
                }
                None => Vec::new(),
            })
            .collect();
        let values: Vec<Vec<f64>> = (0..t.nlevels())
            .map(|l| b_terms[j][l * k..(l + 1) * k].to_vec())
            .collect();
        if let Some(existing) = ranef
            .iter_mut()
            .find(|r| r.group == t.group && r.levels == t.levels)
        {
            let k_old = existing.terms.len();
            let k_new = k_old + k;
            existing.terms.extend(t.col_names.iter().cloned());
            for l in 0..t.nlevels() {
                existing.values[l].extend_from_slice(&values[l]);
                if blocks.is_some() {
                    let old = std::mem::take(&mut existing.cond_var[l]);
                    let mut merged = vec![0.0; k_new * k_new];
                    for a in 0..k_old {
                        for b in 0..k_old {
                            merged[a * k_new + b] = old[a * k_old + b];
                        }
                    }
                    for a in 0..k {
                        for b in 0..k {
                            merged[(k_old + a) * k_new + k_old + b] = cond[l][a * k + b];
                        }
                    }
                    existing.cond_var[l] = merged;
                }
            }
        } else {
            ranef.push(RanefTable {
                group: t.group.clone(),
                terms: t.col_names.clone(),
                levels: t.levels.clone(),
                values,
                cond_var: cond,
            });
        }
    }
    ranef
}

/// Min, 1st quartile, median, 3rd quartile and max (R's quantile type 7); NaNs are ignored.
pub fn five_numbers(v: &[f64]) -> [f64; 5] {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    // A total order: elements that compare equal are identical, so an unstable sort gives the
    // same sequence as a stable one.
    s.sort_unstable_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return [f64::NAN; 5];
    }
    let q = |p: f64| -> f64 {
        let h = (s.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(s.len() - 1);
        s[lo] + (h - lo as f64) * (s[hi] - s[lo])
    };
    [q(0.0), q(0.25), q(0.5), q(0.75), q(1.0)]
}

/// Grouping factors and their numbers of levels as lme4's `ngrps`: distinct factors in term
/// order.
pub fn groups(design: &Design) -> Vec<GroupInfo> {
    let mut groups: Vec<GroupInfo> = Vec::new();
    for t in &design.terms {
        if !groups.iter().any(|g| g.name == t.group) {
            groups.push(GroupInfo {
                name: t.group.clone(),
                levels: t.nlevels(),
            });
        }
    }
    groups
}

/// Warnings about the data a design was built from, in lme4's words: rows dropped for missing
/// values, and aliased fixed-effect columns dropped.
pub fn design_warnings(design: &Design) -> Vec<String> {
    let mut warnings = Vec::new();
    let n = design.n_dropped_missing;
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        warnings.push(format!("{n} row{s} with missing values dropped"));
    }
    let k = design.dropped_columns.len();
    if k > 0 {
        let s = if k == 1 { "" } else { "s" };
        warnings.push(format!(
            "fixed-effect model matrix is rank deficient so dropping {k} column{s} / coefficient{s}: {}",
            design.dropped_columns.join(", ")
        ));
    }
    if let Some(w) = scale_warning(design) {
        warnings.push(w);
    }
    warnings
}

/// lme4's `check.scaleX`: among the columns of X that are not all 0/1, a standard deviation
/// below 1e-3 or above 1e3, or two standard deviations more than 1e3 apart, make the
/// optimisation ill-conditioned, and lme4 warns "Some predictor variables are on very
/// different scales: consider rescaling". Named here with the columns at the extremes.
pub fn scale_warning(design: &Design) -> Option<String> {
    const TOL: f64 = 1e3;
    let x = &design.x;
    let n = x.nrows();
    if n < 2 {
        return None;
    }
    let mut sds: Vec<(f64, &str)> = Vec::new();
    for j in 0..x.ncols() {
        let col = x.col(j);
        if col.iter().all(|&v| v == 0.0 || v == 1.0) {
            continue;
        }
        let mean = col.iter().sum::<f64>() / n as f64;
        let ss: f64 = col.iter().map(|v| (v - mean) * (v - mean)).sum();
        let sd = (ss / (n - 1) as f64).sqrt();
        if sd.is_finite() && sd > 0.0 {
            sds.push((sd, design.x_names.get(j).map_or("?", String::as_str)));
        }
    }
    let lo = sds.iter().copied().min_by(|a, b| a.0.total_cmp(&b.0));
    let hi = sds.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0));
    let ((lo_sd, lo_name), (hi_sd, hi_name)) = (lo?, hi?);
    if hi_sd <= TOL && lo_sd >= 1.0 / TOL && hi_sd / lo_sd <= TOL {
        return None;
    }
    let which = if lo_name == hi_name {
        format!("`{hi_name}` has standard deviation {hi_sd:.3e}")
    } else {
        format!(
            "standard deviations range from {lo_sd:.3e} (`{lo_name}`) to {hi_sd:.3e} (`{hi_name}`)"
        )
    };
    Some(format!(
        "Some predictor variables are on very different scales: consider rescaling ({which})"
    ))
}

/// The random effects whose θ is on its lower bound 0 to within lme4's `isSingular`
/// tolerance 1e-4, as `column | group`; θ is laid out as the design lays it out.
pub fn singular_terms(design: &Design, theta: &[f64]) -> Vec<String> {
    let mut out = Vec::new();
    for (t, th) in design.split_theta(theta) {
        for c in t.covariance().singular_columns(th, 1e-4) {
            out.push(format!(
                "{} | {}",
                t.col_names.get(c).map_or("?", |s| s.as_str()),
                t.group
            ));
        }
    }
    out
}

/// The singular-fit warning naming the affected random effects.
pub fn singular_warning(terms: &[String]) -> String {
    format!(
        "boundary (singular) fit: the random-effects covariance is singular for {}; hint: simplify the random-effects structure (drop the term or its correlation)",
        terms.join(", ")
    )
}
