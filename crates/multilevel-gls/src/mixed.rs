//! Mixed models with a residual covariance structure: nlme's
//! `lme(y ~ x, random = ~ z | g, correlation = corAR1(form = ~ t | s), weights = varIdent(…))`.
//!
//! The model is `y = Xβ + Zb + ε`, `b ~ N(0, σ²ΛΛ')`, `ε ~ N(0, σ²R)`, `R` block diagonal over
//! the subjects of the residual structure (a subject's block `Rᵢ = DᵢCᵢDᵢ` as in GLS). With
//! `Rᵢ = LᵢLᵢ'` and every subject's rows premultiplied by `Lᵢ⁻¹` (the whitened `X*`, `Z*`,
//! `y*`), `y* = X*β + Z*b + ε*` with `ε* ~ N(0, σ²I)`: an ordinary linear mixed model. The
//! density of `y` is that of `y*` times the Jacobian `|det L⁻¹|`, so
//!
//! ```text
//! d(θ, x) = d_LMM(θ; X*(x), Z*(x), y*(x)) + Σᵢ log det Rᵢ(x)
//! ```
//!
//! for the ML deviance and for the REML criterion alike (`d_LMM` the LMM crate's profiled
//! criterion, `x` the residual parameters). `(θ, x)` are optimised jointly.
//!
//! Whitening keeps `Z*` in the one-level-per-row form of the LMM's terms only when each
//! subject's rows share one level of every grouping factor (the subject is nested in every
//! grouping factor): then `Lᵢ⁻¹` mixes rows of one level only and a term's model matrix is
//! whitened column by column. Anything else is refused.

use crate::GlsError;
use crate::fit::{
    GlsCoef, GlsDf, GlsFit, Prepared, RandomComponent, counts, kr_columns, structure_report,
};
use crate::inference::{DfCriterion, satterthwaite_df};
use crate::layout::RowCodes;
use crate::spec::{ResidualStructure, VarianceFunction};
use crate::structure::Shape;
use multilevel_design::Design;
use multilevel_lmm::ProfiledDeviance;
use multilevel_lmm::optimizer::{Bobyqa, Optimizer, Problem};
use multilevel_numeric::dist::p_t_two_sided;
use multilevel_numeric::spd::Cholesky;

/// The joint criterion over `φ = (θ, x)`: the LMM's profiled criterion on the whitened data
/// plus `Σ log det Rᵢ`.
struct MixedObjective {
    /// The design with `y` the OLS residuals (unwhitened).
    base: Design,
    /// The whitened copy of `base` at `current`.
    whitened: Design,
    codes: RowCodes,
    shape: Shape,
    n_theta: usize,
    reml: bool,
    /// The residual parameters the whitened design and `deviance` are for.
    current: Option<Vec<f64>>,
    deviance: Option<ProfiledDeviance>,
    log_det_r: f64,
    evaluations: usize,
    /// `log σ²` when `σ` is fixed: the optimiser then minimises the criterion at that `σ`.
    fixed_log_sigma2: Option<f64>,
}

impl MixedObjective {
    /// Whitens the data for the residual parameters `x` (kept when `x` is unchanged); `false`
    /// when a block is not positive definite.
    fn prepare(&mut self, x: &[f64]) -> bool {
        if self.current.as_deref() == Some(x) && self.deviance.is_some() {
            return true;
        }
        self.current = None;
        let e = self.shape.evaluate(x);
        let n = self.base.nobs();
        let p = self.base.p();
        let mut log_det = 0.0;
        let mut r = Vec::new();
        let mut col = Vec::new();
        for rows in &self.codes.subjects {
            let m = rows.len();
            r.clear();
            r.resize(m * m, 0.0);
            for (j, &rj) in rows.iter().enumerate() {
                let (aj, vj) = (self.codes.position[rj], self.codes.var_level[rj]);
                let sj = e.sd(aj, vj);
                for (l, &rl) in rows.iter().enumerate().take(j + 1) {
                    let (al, vl) = (self.codes.position[rl], self.codes.var_level[rl]);
                    let v = sj * e.sd(al, vl) * e.correlation(aj, al, j == l);
                    r[j * m + l] = v;
                    r[l * m + j] = v;
                }
            }
            let Some(chol) = Cholesky::new(&r, m) else {
                return false;
            };
            log_det += chol.log_det();
            // One column at a time: gather the subject's values, L⁻¹ them, scatter back.
            let mut whiten = |get: &dyn Fn(usize) -> f64, set: &mut dyn FnMut(usize, f64)| {
                col.clear();
                col.extend(rows.iter().map(|&i| get(i)));
                chol.solve_lower_in_place(&mut col);
                for (&i, &v) in rows.iter().zip(col.iter()) {
                    set(i, v);
                }
            };
            for c in 0..p {
                let src = &self.base.x;
                let dst = &mut self.whitened.x;
                whiten(&|i| src[(i, c)], &mut |i, v| dst[(i, c)] = v);
            }
            {
                let src = &self.base.y;
                let dst = &mut self.whitened.y;
                whiten(&|i| src[i], &mut |i, v| dst[i] = v);
            }
            for (bt, wt) in self.base.terms.iter().zip(self.whitened.terms.iter_mut()) {
                let k = bt.k;
                for c in 0..k {
                    let src = &bt.z;
                    let dst = &mut wt.z;
                    whiten(&|i| src[i * k + c], &mut |i, v| dst[i * k + c] = v);
                }
            }
        }
        debug_assert_eq!(self.whitened.nobs(), n);
        self.log_det_r = log_det;
        self.deviance = Some(ProfiledDeviance::new(&self.whitened, self.reml));
        self.current = Some(x.to_vec());
        true
    }

    fn split<'a>(&self, phi: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        phi.split_at(self.n_theta.min(phi.len()))
    }

    /// The profiled criterion at `φ`.
    fn profiled(&mut self, phi: &[f64]) -> f64 {
        self.evaluations += 1;
        let (theta, x) = self.split(phi);
        if !self.prepare(x) {
            return f64::INFINITY;
        }
        let ld = self.log_det_r;
        match self.deviance.as_mut() {
            Some(d) => d.objective(theta) + ld,
            None => f64::INFINITY,
        }
    }
}

impl Problem for MixedObjective {
    fn value(&mut self, x: &[f64]) -> f64 {
        let v = match self.fixed_log_sigma2 {
            Some(ls) => {
                self.evaluations += 1;
                self.at_sigma(x, ls)
            }
            None => self.profiled(x),
        };
        if v.is_finite() { v } else { f64::INFINITY }
    }
}

impl DfCriterion for MixedObjective {
    fn n_coef(&self) -> usize {
        self.base.p()
    }

    /// `log|L_ZZ|² (+ log|R_X|²) − log|W| + ν log(2πσ²) + r²/σ² + Σ log det Rᵢ`.
    fn at_sigma(&mut self, phi: &[f64], log_sigma2: f64) -> f64 {
        let (theta, x) = self.split(phi);
        if !self.prepare(x) {
            return f64::INFINITY;
        }
        let (n, p, reml, ld) = (
            self.base.nobs() as f64,
            self.base.p() as f64,
            self.reml,
            self.log_det_r,
        );
        let Some(pd) = self.deviance.as_mut() else {
            return f64::INFINITY;
        };
        let log_det_w = pd.log_det_w();
        let Some(f) = pd.factor_summary(theta) else {
            return f64::INFINITY;
        };
        let s2 = log_sigma2.exp();
        let nu = if reml { n - p } else { n };
        let mut d =
            f.ld_l2 - log_det_w + nu * (2.0 * std::f64::consts::PI * s2).ln() + f.pwrss / s2 + ld;
        if reml {
            d += f.ld_rx2;
        }
        d
    }

    fn unscaled_variances(&mut self, phi: &[f64]) -> Option<Vec<f64>> {
        let (theta, x) = self.split(phi);
        if !self.prepare(x) {
            return None;
        }
        let p = self.base.p();
        let d = self.deviance.as_mut()?;
        d.factor_summary(theta)?;
        let inv = d.rx_inverse();
        Some((0..p).map(|j| inv[j * p + j]).collect())
    }
}

/// Every grouping factor must be constant within each subject of the residual structure.
fn check_nesting(prep: &Prepared<'_>) -> Result<(), GlsError> {
    let Some(rs) = &prep.opts.residual else {
        return Ok(());
    };
    for term in &prep.design.terms {
        for rows in &prep.codes.subjects {
            let mut levels = rows.iter().filter_map(|&i| term.refs.get(i));
            let Some(first) = levels.next() else { continue };
            if let Some(other) = levels.find(|l| *l != first) {
                let name = |l: &u32| term.levels.get(*l as usize).cloned().unwrap_or_default();
                return Err(GlsError::Input(format!(
                    "the residual structure `{}` together with the random-effects term for `{}`: a subject of `{}` has rows at two levels of `{}` ({} and {}), but each subject must be nested in every grouping factor (nlme's lme with correlation = needs the same); hint: group the random effects by `{}` or a factor that contains it, or fit the residual structure without random effects",
                    rs.text(),
                    term.group,
                    rs.subject,
                    term.group,
                    name(first),
                    name(other),
                    rs.subject
                )));
            }
        }
    }
    Ok(())
}

/// The fit of a formula with random-effects terms and a residual structure or variance
/// function (called by [`crate::gls`] once the inputs are checked).
pub(crate) fn fit(prep: Prepared<'_>) -> Result<GlsFit, GlsError> {
    check_nesting(&prep)?;
    let opts = prep.opts;
    let design = &prep.design;
    let n = design.nobs();
    let p = design.p();
    let n_theta = design.n_theta();

    // As in GLS, the criterion is formed from the OLS residuals (β = β_e + β_ols).
    let (ols_beta, ols_resid) = crate::fit::ols_fit(&design.x, &prep.y)?;
    let mut base = design.clone();
    base.y = ols_resid.clone();
    base.offset = None;
    let whitened = base.clone();
    let mut objective = MixedObjective {
        base,
        whitened,
        codes: prep.codes.clone(),
        shape: prep.shape.clone(),
        n_theta,
        reml: opts.reml,
        current: None,
        deviance: None,
        log_det_r: 0.0,
        evaluations: 0,
        fixed_log_sigma2: opts.sigma.map(|s| (s * s).ln()),
    };

    // Start: lme4's θ start, no correlation and the OLS residuals' SD ratios.
    let kind = prep.shape.kind;
    let time_lr = if kind.is_some_and(crate::spec::ResidualKind::heterogeneous) {
        let levels: Vec<u32> = prep.codes.position.iter().map(|&a| a as u32).collect();
        crate::fit::level_log_sd(&ols_resid, &levels, prep.shape.q)
    } else {
        Vec::new()
    };
    let var_lr = crate::fit::level_log_sd(&ols_resid, &prep.codes.var_level, prep.shape.g);
    let mut phi0 = design.theta_start();
    phi0.extend(prep.shape.start(&time_lr, &var_lr));
    if !objective.value(&phi0).is_finite() {
        return Err(GlsError::Numerical(
            "the mixed-model criterion is not finite at the start (X singular or no residual variation); hint: check the fixed-effects formula".to_string(),
        ));
    }
    let mut lower = design.theta_lower();
    let mut upper = design.theta_upper();
    lower.resize(phi0.len(), -12.0);
    upper.resize(phi0.len(), 12.0);
    // A second run from the first one's end: the joint surface of (θ, x) is flatter than the
    // LMM's alone, and the restart moves the estimate when the first run stopped early.
    let mut x = phi0;
    let mut evaluations = 0;
    let mut outcome = None;
    for _ in 0..2 {
        let o = Bobyqa::default()
            .minimize(&mut objective, &x, &lower, &upper)
            .map_err(|e| GlsError::Numerical(format!("the optimiser failed: {e}")))?;
        evaluations += o.evaluations;
        x.clone_from(&o.x);
        outcome = Some(o);
    }
    let (converged, message) = outcome
        .map(|o| (o.converged(), o.message()))
        .unwrap_or((false, String::new()));
    let deviance = objective.value(&x);
    let (theta, resid_x) = x.split_at(n_theta);
    let (theta, resid_x) = (theta.to_vec(), resid_x.to_vec());
    if !objective.prepare(&resid_x) {
        return Err(GlsError::Numerical(
            "the criterion is not defined at the optimum; hint: simplify the residual structure"
                .to_string(),
        ));
    }
    let nu = if opts.reml { (n - p) as f64 } else { n as f64 };
    let pd = objective.deviance.as_mut().ok_or_else(|| {
        GlsError::Numerical("the criterion is not defined at the optimum".to_string())
    })?;
    let f = pd.factor_summary(&theta).ok_or_else(|| {
        GlsError::Numerical(
            "the mixed-model factorization failed at the optimum; hint: simplify the random effects".to_string(),
        )
    })?;
    let sigma2 = opts.sigma.map_or(f.pwrss / nu, |s| s * s);
    let sigma = sigma2.sqrt();
    let (mut beta, _) = pd.solve();
    for (b, o) in beta.iter_mut().zip(&ols_beta) {
        *b += o;
    }
    let inv = pd.rx_inverse();
    let vcov: Vec<Vec<f64>> = (0..p)
        .map(|i| (0..p).map(|j| sigma2 * inv[i * p + j]).collect())
        .collect();

    let mut warnings = Vec::new();
    if !converged {
        warnings.push(format!(
            "the optimiser stopped short of convergence: {message}"
        ));
    }
    let mut vcov_adjusted = None;
    let dfs: Vec<Option<f64>> = match opts.df {
        GlsDf::None => vec![None; p],
        GlsDf::Residual => vec![Some((n - p) as f64); p],
        GlsDf::Satterthwaite => {
            match satterthwaite_df(&mut objective, &x, sigma2, opts.sigma.is_some()) {
                Ok(d) => d.into_iter().map(Some).collect(),
                Err(w) => {
                    warnings.push(w);
                    vec![None; p]
                }
            }
        }
        GlsDf::KenwardRoger => {
            let kr = lme_kenward_roger(
                design,
                &prep.codes,
                &prep.shape,
                &theta,
                &resid_x,
                sigma2,
                opts.sigma.is_some(),
                beta.clone(),
            )
            .and_then(|parts| kr_columns(&parts));
            match kr {
                Ok((d, adj)) => {
                    vcov_adjusted = Some(adj);
                    d.into_iter().map(Some).collect()
                }
                Err(w) => {
                    warnings.push(w);
                    vec![None; p]
                }
            }
        }
    };
    let coefficients = (0..p)
        .map(|j| {
            let estimate = beta.get(j).copied().unwrap_or(f64::NAN);
            let se = vcov_adjusted
                .as_ref()
                .unwrap_or(&vcov)
                .get(j)
                .and_then(|r| r.get(j))
                .copied()
                .unwrap_or(f64::NAN)
                .sqrt();
            let t = estimate / se;
            let df = dfs.get(j).copied().flatten();
            GlsCoef {
                name: design.x_names.get(j).cloned().unwrap_or_default(),
                estimate,
                std_error: se,
                t_value: t,
                df,
                p_value: df.map(|d| p_t_two_sided(t, d)),
            }
        })
        .collect();

    let random = random_components(design, &theta, sigma);
    let (correlation, visit_sd, level_sd) =
        structure_report(opts, &prep.codes, &prep.shape, &resid_x, sigma);
    let loglik = -deviance / 2.0;
    let n_parameters = p + n_theta + resid_x.len() + usize::from(opts.sigma.is_none());
    let bic_n = if opts.reml { (n - p) as f64 } else { n as f64 };
    Ok(GlsFit {
        formula: prep.formula.to_string(),
        response: design.response_name.clone(),
        data_name: prep.data.name().to_string(),
        residual: opts.residual.as_ref().map(ResidualStructure::text),
        residual_variance: opts.variance.as_ref().map(VarianceFunction::text),
        reml: opts.reml,
        counts: counts(opts, &prep.codes, n, prep.dropped_rows, 0),
        coefficients,
        dropped_columns: design.dropped_columns.clone(),
        df_method: opts.df,
        vcov,
        vcov_adjusted,
        sigma,
        sigma_fixed: opts.sigma.is_some(),
        loglik,
        n_parameters,
        aic: -2.0 * loglik + 2.0 * n_parameters as f64,
        bic: -2.0 * loglik + n_parameters as f64 * bic_n.ln(),
        correlation,
        visit_sd,
        level_sd,
        random,
        theta: x,
        evaluations,
        converged,
        message,
        warnings,
    })
}

/// The random effects' standard deviations and correlations from `σ²ΛΛ'` of each term,
/// terms in formula order.
fn random_components(design: &Design, theta: &[f64], sigma: f64) -> Vec<RandomComponent> {
    let mut offsets = Vec::with_capacity(design.terms.len());
    let mut off = 0;
    for term in &design.terms {
        offsets.push(off);
        off += term.n_theta();
    }
    let mut order: Vec<usize> = (0..design.terms.len()).collect();
    order.sort_by_key(|&t| design.terms.get(t).map_or(0, |term| term.formula_order));
    let mut out = Vec::new();
    for t in order {
        let (Some(term), Some(&o)) = (design.terms.get(t), offsets.get(t)) else {
            continue;
        };
        let cov = term.covariance();
        let k = term.k;
        let th = theta.get(o..o + cov.n_theta()).unwrap_or(&[]);
        let mut lam = vec![0.0; k * k];
        cov.lambda_into(th, &mut lam);
        // Σ = σ² ΛΛ' (Λ row-major, lower triangular).
        let cell = |a: usize, b: usize| -> f64 {
            sigma * sigma * (0..k).map(|m| lam[a * k + m] * lam[b * k + m]).sum::<f64>()
        };
        let sd: Vec<f64> = (0..k).map(|c| cell(c, c).sqrt()).collect();
        for c in 0..k {
            let correlations = (0..c)
                .map(|d| {
                    let den = sd[c] * sd[d];
                    if den > 0.0 { cell(c, d) / den } else { 0.0 }
                })
                .collect();
            out.push(RandomComponent {
                group: term.group.clone(),
                name: term.col_names.get(c).cloned().unwrap_or_default(),
                structure: cov.name().to_string(),
                sd: sd[c],
                correlations,
            });
        }
    }
    out
}

/// The root of `i` in a union–find forest (with path halving).
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Joins the sets of `a` and `b`.
fn union_rows(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra] = rb;
    }
}

/// Largest block of rows linked by the random effects for which the Kenward–Roger pieces of
/// an lme fit are formed (dense `n_b × n_b` matrices, one per covariance parameter).
const KR_MAX_BLOCK: usize = 3000;

/// The Kenward–Roger parts of an lme fit with a residual structure at its estimate, with
/// `φ = (θ, x, log σ²)` (`log σ²` left out when `σ` is fixed): `Σ = σ²(ZΛΛ'Z' + R(x))`,
/// `∂Σ/∂θ_r = σ² Z (I ⊗ (Λ_rΛ' + ΛΛ_r')) Z'` for a term's parameter, a central difference
/// (step 1e-5) of `σ²R` for a residual parameter, and `Σ` for `log σ²`. Rows linked by a
/// random-effects level or a subject form one block (subjects are nested in every grouping
/// factor); the blocks are independent.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lme_kenward_roger(
    design: &Design,
    codes: &RowCodes,
    shape: &Shape,
    theta: &[f64],
    resid_x: &[f64],
    sigma2: f64,
    sigma_fixed: bool,
    beta: Vec<f64>,
) -> Result<multilevel_inference::KrParts, String> {
    const STEP: f64 = 1e-5;
    if design.weights.is_some() {
        return Err("the Kenward–Roger df could not be computed: prior weights are not supported (pbkrtest has none either); hint: use Satterthwaite df".to_string());
    }
    let n = design.nobs();
    let p = design.p();
    // Union–find over the rows.
    let mut parent: Vec<usize> = (0..n).collect();
    for term in &design.terms {
        let mut first: Vec<Option<usize>> = vec![None; term.nlevels()];
        for (i, &l) in term.refs.iter().enumerate() {
            if let Some(slot) = first.get_mut(l as usize) {
                match slot {
                    Some(f) => union_rows(&mut parent, *f, i),
                    None => *slot = Some(i),
                }
            }
        }
    }
    let mut subject_of = vec![usize::MAX; n];
    for (s, rows) in codes.subjects.iter().enumerate() {
        for (a, &i) in rows.iter().enumerate() {
            if i < n {
                subject_of[i] = s;
            }
            if a > 0 {
                union_rows(&mut parent, rows[0], i);
            }
        }
    }
    let mut block_of_root: std::collections::HashMap<usize, usize> = Default::default();
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        let b = *block_of_root.entry(r).or_insert_with(|| {
            blocks.push(Vec::new());
            blocks.len() - 1
        });
        blocks[b].push(i);
    }
    let largest = blocks.iter().map(Vec::len).max().unwrap_or(0);
    if largest > KR_MAX_BLOCK {
        return Err(format!(
            "the Kenward–Roger df could not be computed: the random effects link {largest} rows into one block (limit {KR_MAX_BLOCK}); hint: use Satterthwaite df"
        ));
    }

    // Each term's C = ΛΛ' and its S_r = Λ_rΛ' + ΛΛ_r'.
    let mut term_c: Vec<Vec<f64>> = Vec::new();
    let mut term_s: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut off = 0;
    for term in &design.terms {
        let cov = term.covariance();
        let k = term.k;
        let nt = cov.n_theta();
        let th = theta.get(off..off + nt).unwrap_or(&[]);
        off += nt;
        let mut lam = vec![0.0; k * k];
        cov.lambda_into(th, &mut lam);
        let outer = |a: &[f64], b: &[f64]| -> Vec<f64> {
            let mut c = vec![0.0; k * k];
            for i in 0..k {
                for j in 0..k {
                    c[i * k + j] = (0..k).map(|l| a[i * k + l] * b[j * k + l]).sum();
                }
            }
            c
        };
        term_c.push(outer(&lam, &lam));
        let mut d = vec![0.0; k * k];
        let mut ss = Vec::with_capacity(nt);
        for r in 0..nt {
            cov.lambda_derivative_into(th, r, &mut d);
            let a = outer(&d, &lam);
            let b = outer(&lam, &d);
            ss.push(a.iter().zip(&b).map(|(u, v)| u + v).collect());
        }
        term_s.push(ss);
    }
    let m = resid_x.len();
    let n_theta: usize = term_s.iter().map(Vec::len).sum();
    let kk = n_theta + m + usize::from(!sigma_fixed);
    let e0 = shape.evaluate(resid_x);
    let mut shifted = Vec::with_capacity(m);
    let mut xx = resid_x.to_vec();
    for c in 0..m {
        xx[c] = resid_x[c] + STEP;
        let plus = shape.evaluate(&xx);
        xx[c] = resid_x[c] - STEP;
        let minus = shape.evaluate(&xx);
        xx[c] = resid_x[c];
        shifted.push((plus, minus));
    }
    let r_at = |e: &crate::structure::Evaluated, i: usize, j: usize, same: bool| -> f64 {
        let (ai, vi) = (codes.position[i], codes.var_level[i]);
        let (aj, vj) = (codes.position[j], codes.var_level[j]);
        e.sd(ai, vi) * e.sd(aj, vj) * e.correlation(ai, aj, same)
    };
    let build = |rows: &[usize]| -> (Vec<f64>, Vec<Vec<f64>>) {
        let nb = rows.len();
        let mut sigma = vec![0.0; nb * nb];
        let mut gs = vec![vec![0.0; nb * nb]; kk];
        for (a, &i) in rows.iter().enumerate() {
            for (b, &j) in rows.iter().enumerate() {
                let mut g_index = 0;
                for (t, term) in design.terms.iter().enumerate() {
                    let k = term.k;
                    if term.refs[i] == term.refs[j] {
                        let zi = &term.z[i * k..(i + 1) * k];
                        let zj = &term.z[j * k..(j + 1) * k];
                        let quad = |c: &[f64]| -> f64 {
                            let mut v = 0.0;
                            for u in 0..k {
                                for w in 0..k {
                                    v += zi[u] * c[u * k + w] * zj[w];
                                }
                            }
                            v
                        };
                        sigma[a * nb + b] += sigma2 * quad(&term_c[t]);
                        for s in &term_s[t] {
                            gs[g_index][a * nb + b] = sigma2 * quad(s);
                            g_index += 1;
                        }
                    } else {
                        g_index += term_s[t].len();
                    }
                }
                if subject_of[i] == subject_of[j] && subject_of[i] != usize::MAX {
                    sigma[a * nb + b] += sigma2 * r_at(&e0, i, j, i == j);
                    for (c, (plus, minus)) in shifted.iter().enumerate() {
                        gs[n_theta + c][a * nb + b] = sigma2
                            * (r_at(plus, i, j, i == j) - r_at(minus, i, j, i == j))
                            / (2.0 * STEP);
                    }
                } else if i == j {
                    // A row outside every subject (cannot happen: every row has one).
                    sigma[a * nb + b] += sigma2;
                }
            }
        }
        if !sigma_fixed {
            gs[kk - 1] = sigma.clone();
        }
        (sigma, gs)
    };
    let xf = |i: usize, c: usize| design.x[(i, c)];
    crate::kr::dense_blocks_kenward_roger(&xf, p, &blocks, kk, &build, beta, sigma2)
}
