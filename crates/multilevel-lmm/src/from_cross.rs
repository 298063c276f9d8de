//! Fitting from given cross products of `[Z X y]`, without the observations.
//!
//! The profiled criterion depends on the data only through `A = [Z X y]'W[Z X y]` (with prior
//! weights `W` and the offset subtracted from `y`; see [`crate::objective`]). Every term's
//! `Z_j` has one level per row, so `A` consists of
//!
//! ```text
//!   Z_j'WZ_j    per level ℓ of term j:  Σ_{i ∈ ℓ} wᵢ z_ij z_ij'          (k_j × k_j)
//!   Z_i'WZ_j    per observed pair (ℓ, m) of levels of terms i < j:
//!               Σ_{i ∈ ℓ ∩ m} wᵢ z_ii z_ij'                               (k_i × k_j)
//!   Z_j'WX, Z_j'Wy per level;   X'WX, X'Wy, y'Wy over all rows
//! ```
//!
//! — GROUP BY aggregations whose size grows with the number of levels, not of rows. A
//! [`CrossProducts`] holds exactly these sums (built by any producer: an out-of-core engine,
//! or [`CrossProducts::from_design`] from an in-memory design), [`ProfiledDeviance::from_cross_products`]
//! places them in the block layout of the PLS system, and [`fit_cross_products`] runs the
//! unchanged optimiser on it. β̂, θ̂, σ, vcov(β̂), the conditional modes b̂ = Λû and their
//! conditional variances all come from the factor of `M(θ̂)`. Fitted values and residuals need
//! the rows again and are not part of such a fit.
//!
//! The response is centred before the products are formed (`y − m` with `m` the weighted mean
//! of `y − offset`, when `X` has a constant column), as the in-memory path does, so that `y'Wy`
//! and `r²` keep their digits on large data; the producer records `m` in
//! [`CrossProducts::y_shift`] and it is added back to the intercept.

use faer::Mat;
use multilevel_design::Design;

use crate::blocks::sparse::{SparseRest, TileIndex};
use crate::fit::{LmmError, LmmOptions, OptimizerChoice};
use crate::objective::ProfiledDeviance;
use crate::optimizer::{Problem, central_derivatives};
use crate::results::*;
use crate::summaries;

/// The sums of one random-effects term (in the design's term order), level-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TermCross {
    /// Columns of the term's model matrix.
    pub k: usize,
    /// Number of levels of its grouping factor.
    pub nlevels: usize,
    /// `Z_j'WZ_j`: per level a row-major `k × k` block (`nlevels · k²` values).
    pub zz: Vec<f64>,
    /// `Z_j'WX`: per level a row-major `k × p` block (`nlevels · k · p` values).
    pub zx: Vec<f64>,
    /// `Z_j'Wy`: per level `k` values (`nlevels · k`), `y` centred and offset subtracted.
    pub zy: Vec<f64>,
}

/// The sums over the observed pairs of levels of two terms `first < second`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCross {
    /// Index of the first term (design order).
    pub first: usize,
    /// Index of the second term (design order), greater than `first`.
    pub second: usize,
    /// The observed pairs `(level of first, level of second)`, each once.
    pub levels: Vec<(u32, u32)>,
    /// Per pair, the row-major `k_first × k_second` block `Σ wᵢ z_first z_second'`.
    pub values: Vec<f64>,
}

/// The cross products of `[Z X y]` with prior weights and offset applied (module
/// documentation). Blocks are in the design's term order (terms sorted by number of levels).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossProducts {
    /// Number of observations.
    pub n: usize,
    /// Columns of `X`.
    pub p: usize,
    /// One entry per random-effects term.
    pub terms: Vec<TermCross>,
    /// One entry per pair of terms `i < j` (a missing pair means the terms share no
    /// observation, which cannot happen with complete data; every pair should be given).
    pub pairs: Vec<PairCross>,
    /// `X'WX`, row-major `p × p`.
    pub xx: Vec<f64>,
    /// `X'Wy`.
    pub xy: Vec<f64>,
    /// `y'Wy`.
    pub yy: f64,
    /// `Σ log wᵢ` (0 without weights).
    pub sum_log_w: f64,
    /// The constant column of `X` `(j, c)` (the intercept), if any.
    pub intercept: Option<(usize, f64)>,
    /// The shift `m` subtracted from the response before the products were formed (0 when
    /// not centred); β̂ of the constant column is raised by `m / c`.
    pub y_shift: f64,
}

impl CrossProducts {
    /// The cross products of an in-memory design, summed row by row in the order and with the
    /// arithmetic of the in-memory fit (rows scaled by `√wᵢ`, the response centred at its
    /// weighted mean when `X` has a constant column), so that a fit from them is the in-memory
    /// fit. Producers that aggregate elsewhere (an out-of-core engine) sum the same terms.
    pub fn from_design(design: &Design) -> Self {
        let n = design.nobs();
        let p = design.p();
        let sw: Vec<f64> = match &design.weights {
            Some(w) => w.iter().map(|v| v.sqrt()).collect(),
            None => vec![1.0; n],
        };
        let sum_log_w = match &design.weights {
            Some(w) => w.iter().map(|v| v.ln()).sum(),
            None => 0.0,
        };
        let offset = design.offset.as_deref();
        let intercept = crate::cross::constant_column(&design.x);
        let y_shift = if intercept.is_some() && n > 0 {
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..n {
                let w = sw[i] * sw[i];
                num += w * (design.y[i] - offset.map_or(0.0, |o| o[i]));
                den += w;
            }
            if den > 0.0 { num / den } else { 0.0 }
        } else {
            0.0
        };
        let yv: Vec<f64> = (0..n)
            .map(|i| (design.y[i] - offset.map_or(0.0, |o| o[i]) - y_shift) * sw[i])
            .collect();
        let mut terms: Vec<TermCross> = design
            .terms
            .iter()
            .map(|t| TermCross {
                k: t.k,
                nlevels: t.nlevels(),
                zz: vec![0.0; t.nlevels() * t.k * t.k],
                zx: vec![0.0; t.nlevels() * t.k * p],
                zy: vec![0.0; t.nlevels() * t.k],
            })
            .collect();
        let nterms = design.terms.len();
        // Pairs: a map from (level, level) to the entry's index, per pair of terms.
        let mut pair_index: Vec<std::collections::HashMap<(u32, u32), usize>> =
            vec![std::collections::HashMap::new(); nterms * nterms.saturating_sub(1) / 2];
        let mut pairs: Vec<PairCross> = Vec::with_capacity(pair_index.len());
        for i in 0..nterms {
            for j in i + 1..nterms {
                pairs.push(PairCross {
                    first: i,
                    second: j,
                    levels: Vec::new(),
                    values: Vec::new(),
                });
            }
        }
        let mut xx = vec![0.0; p * p];
        let mut xy = vec![0.0; p];
        let mut yy = 0.0;
        let mut xrow = vec![0.0; p];
        let mut zrows: Vec<Vec<f64>> = design.terms.iter().map(|t| vec![0.0; t.k]).collect();
        for i in 0..n {
            for (a, v) in xrow.iter_mut().enumerate() {
                *v = design.x[(i, a)] * sw[i];
            }
            for (t, z) in design.terms.iter().zip(zrows.iter_mut()) {
                for (c, v) in z.iter_mut().enumerate() {
                    *v = t.z[i * t.k + c] * sw[i];
                }
            }
            for a in 0..p {
                for b in 0..p {
                    xx[a * p + b] += xrow[a] * xrow[b];
                }
                xy[a] += xrow[a] * yv[i];
            }
            yy += yv[i] * yv[i];
            for (j, (t, tc)) in design.terms.iter().zip(terms.iter_mut()).enumerate() {
                let l = t.refs[i] as usize;
                let k = t.k;
                let z = &zrows[j];
                for r in 0..k {
                    for c in 0..k {
                        tc.zz[(l * k + r) * k + c] += z[r] * z[c];
                    }
                    for (a, xa) in xrow.iter().enumerate() {
                        tc.zx[(l * k + r) * p + a] += z[r] * xa;
                    }
                    tc.zy[l * k + r] += z[r] * yv[i];
                }
            }
            let mut idx = 0;
            for a in 0..nterms {
                for b in a + 1..nterms {
                    let (ta, tb) = (&design.terms[a], &design.terms[b]);
                    let key = (ta.refs[i], tb.refs[i]);
                    let pair = &mut pairs[idx];
                    let (ka, kb) = (ta.k, tb.k);
                    let e = *pair_index[idx].entry(key).or_insert_with(|| {
                        pair.levels.push(key);
                        pair.values.extend(std::iter::repeat_n(0.0, ka * kb));
                        pair.levels.len() - 1
                    });
                    let block = &mut pair.values[e * ka * kb..(e + 1) * ka * kb];
                    for r in 0..ka {
                        for c in 0..kb {
                            block[r * kb + c] += zrows[a][r] * zrows[b][c];
                        }
                    }
                    idx += 1;
                }
            }
        }
        CrossProducts {
            n,
            p,
            terms,
            pairs,
            xx,
            xy,
            yy,
            sum_log_w,
            intercept,
            y_shift,
        }
    }

    /// Check that the blocks have the sizes of `design`'s terms and `X`; one line naming the
    /// first block that does not.
    pub fn check_shape(&self, design: &Design) -> Result<(), LmmError> {
        let bad = |what: String| Err(LmmError::BadInput(format!("cross products: {what}")));
        let p = design.p();
        if self.p != p || self.xx.len() != p * p || self.xy.len() != p {
            return bad(format!("X'X/X'y do not have the design's {p} columns of X"));
        }
        if self.terms.len() != design.terms.len() {
            return bad(format!(
                "{} term blocks for a design with {} random-effects terms",
                self.terms.len(),
                design.terms.len()
            ));
        }
        for (tc, t) in self.terms.iter().zip(&design.terms) {
            let (k, l) = (t.k, t.nlevels());
            if tc.k != k
                || tc.nlevels != l
                || tc.zz.len() != l * k * k
                || tc.zx.len() != l * k * p
                || tc.zy.len() != l * k
            {
                return bad(format!(
                    "the blocks of term `{}` do not have its {l} levels and {k} columns",
                    t.group
                ));
            }
        }
        for pc in &self.pairs {
            let (Some(a), Some(b)) = (design.terms.get(pc.first), design.terms.get(pc.second))
            else {
                return bad(format!("pair ({}, {}) names no term", pc.first, pc.second));
            };
            if pc.first >= pc.second
                || pc.values.len() != pc.levels.len() * a.k * b.k
                || pc
                    .levels
                    .iter()
                    .any(|&(la, lb)| la as usize >= a.nlevels() || lb as usize >= b.nlevels())
            {
                return bad(format!(
                    "the pair blocks of `{}` and `{}` do not fit their levels and columns",
                    a.group, b.group
                ));
            }
        }
        if let Some((j, _)) = self.intercept
            && j >= p
        {
            return bad(format!("intercept column {j} is not a column of X"));
        }
        Ok(())
    }
}

/// The design without its rows: names, levels, covariance structures and the shape of `X`.
fn shape_only(design: &Design) -> Design {
    Design {
        formula: design.formula.clone(),
        response_name: design.response_name.clone(),
        y: Vec::new(),
        trials: None,
        x: Mat::zeros(0, design.p()),
        x_names: design.x_names.clone(),
        x_assign: design.x_assign.clone(),
        fixed_term_labels: design.fixed_term_labels.clone(),
        dropped_columns: design.dropped_columns.clone(),
        terms: design
            .terms
            .iter()
            .map(|t| multilevel_design::ReTerm {
                group: t.group.clone(),
                levels: t.levels.clone(),
                refs: Vec::new(),
                k: t.k,
                z: Vec::new(),
                col_names: t.col_names.clone(),
                formula_order: t.formula_order,
                structure: t.structure.clone(),
            })
            .collect(),
        weights: None,
        offset: None,
        n_dropped_missing: design.n_dropped_missing,
        data_name: design.data_name.clone(),
    }
}

impl ProfiledDeviance {
    /// The PLS system of `design`'s model (its terms, levels, covariance structures and the
    /// columns of `X`; its rows, if any, are not read) over the given cross products.
    /// `reml` selects the criterion. The result evaluates the criterion, its gradient,
    /// solves and inverse blocks as one built from the rows; it must not be given a new
    /// response or weights ([`Self::set_response`], [`Self::update`] read the rows).
    ///
    /// # Errors
    /// [`LmmError::BadInput`] when the blocks do not have the design's shape, and the
    /// checks of a fit (`n > p`, at least one random-effects term).
    pub fn from_cross_products(
        design: &Design,
        cp: &CrossProducts,
        reml: bool,
    ) -> Result<Self, LmmError> {
        if design.terms.is_empty() {
            return Err(LmmError::NoRandomEffects);
        }
        cp.check_shape(design)?;
        if cp.n <= cp.p {
            return Err(LmmError::TooFewObservations { n: cp.n, p: cp.p });
        }
        let shape = shape_only(design);
        // The layout (term shapes, rest rows, workspace) from the shape with no rows; every
        // cross product is then placed from `cp`.
        let mut dev = ProfiledDeviance::new(&shape, reml);
        let pls = &mut dev.pls;
        let p = cp.p;
        let nr = pls.nr;
        let nt = pls.nt;
        let k0 = pls.k0;
        let l0 = pls.l0;
        pls.n = cp.n;
        pls.log_det_w = cp.sum_log_w;
        pls.const_col = cp.intercept;
        pls.y_shift = cp.y_shift;
        let rest_offset: Vec<Option<usize>> = pls.terms.iter().map(|t| t.rest_offset).collect();

        // A_rest = [Z_r X y]'W[Z_r X y], both triangles.
        let mut a = Mat::<f64>::zeros(nt, nt);
        let mut set = |r: usize, c: usize, v: f64| {
            a[(r, c)] = v;
            a[(c, r)] = v;
        };
        for (tc, off) in cp.terms.iter().zip(&rest_offset).skip(1) {
            let Some(off) = *off else { continue };
            let k = tc.k;
            for l in 0..tc.nlevels {
                let base = off + l * k;
                for r in 0..k {
                    for c in 0..=r {
                        set(base + r, base + c, tc.zz[(l * k + r) * k + c]);
                    }
                    for x in 0..p {
                        set(nr + x, base + r, tc.zx[(l * k + r) * p + x]);
                    }
                    set(nr + p, base + r, tc.zy[l * k + r]);
                }
            }
        }
        for pc in cp.pairs.iter().filter(|pc| pc.first > 0) {
            let (Some(oa), Some(ob)) = (rest_offset[pc.first], rest_offset[pc.second]) else {
                continue;
            };
            let (ka, kb) = (cp.terms[pc.first].k, cp.terms[pc.second].k);
            for (e, &(la, lb)) in pc.levels.iter().enumerate() {
                for r in 0..ka {
                    for c in 0..kb {
                        set(
                            ob + lb as usize * kb + c,
                            oa + la as usize * ka + r,
                            pc.values[(e * ka + r) * kb + c],
                        );
                    }
                }
            }
        }
        for x in 0..p {
            for z in 0..=x {
                set(nr + x, nr + z, cp.xx[x * p + z]);
            }
            set(nr + p, nr + x, cp.xy[x]);
        }
        set(nr + p, nr + p, cp.yy);
        pls.a_rest_sparse = SparseRest::build(&a, &pls.rest_rows);
        pls.a_rest = a;

        // First term: Z₀'WZ₀ per level and the rows of [Z_r X y]'WZ₀ per level (sorted).
        let t0 = &cp.terms[0];
        pls.a00 = t0.zz.clone();
        // Per level of the first term: (row of the rest block, k₀ values).
        let mut per_level: Vec<Vec<(u32, usize)>> = vec![Vec::new(); l0];
        let mut vals: Vec<f64> = Vec::new();
        for pc in cp.pairs.iter().filter(|pc| pc.first == 0) {
            let Some(ob) = rest_offset[pc.second] else {
                continue;
            };
            let kb = cp.terms[pc.second].k;
            for (e, &(la, lb)) in pc.levels.iter().enumerate() {
                for c in 0..kb {
                    let start = vals.len();
                    for r in 0..k0 {
                        vals.push(pc.values[(e * k0 + r) * kb + c]);
                    }
                    per_level[la as usize].push(((ob + lb as usize * kb + c) as u32, start));
                }
            }
        }
        for (l, rows) in per_level.iter_mut().enumerate() {
            for x in 0..=p {
                let start = vals.len();
                for r in 0..k0 {
                    vals.push(if x < p {
                        t0.zx[(l * k0 + r) * p + x]
                    } else {
                        t0.zy[l * k0 + r]
                    });
                }
                rows.push(((nr + x) as u32, start));
            }
            rows.sort_unstable_by_key(|(row, _)| *row);
        }
        let mut bptr = Vec::with_capacity(l0 + 1);
        let mut brow = Vec::new();
        let mut bval = Vec::new();
        bptr.push(0);
        for rows in &per_level {
            for &(row, start) in rows {
                brow.push(row);
                bval.extend_from_slice(&vals[start..start + k0]);
            }
            bptr.push(brow.len());
        }
        pls.vval = vec![0.0; brow.len() * k0];
        // Dense V by the rule of the in-memory path (cross.rs).
        let dense_size = nt * l0 * k0;
        pls.vdense = if nt >= 32 && dense_size <= 50_000_000 && 5 * brow.len() * k0 >= dense_size {
            Some(Mat::zeros(nt, l0 * k0))
        } else {
            None
        };
        pls.bptr = bptr;
        pls.brow = brow;
        pls.bval = bval;
        pls.level_start = vec![0; l0 + 1];
        pls.level_order = Vec::new();
        pls.tile_index = TileIndex::default();
        dev.blocks = crate::fast::choose(&dev.pls);
        dev.factored = None;
        Ok(dev)
    }
}

/// The criterion as an optimisation problem (value and analytic gradient).
struct Criterion<'a>(&'a mut ProfiledDeviance);

impl Problem for Criterion<'_> {
    fn value(&mut self, theta: &[f64]) -> f64 {
        self.0.objective(theta)
    }

    fn has_gradient(&self) -> bool {
        true
    }

    fn value_and_gradient(&mut self, theta: &[f64], gradient: &mut [f64]) -> f64 {
        let (f, g) = self.0.gradient(theta);
        gradient.copy_from_slice(&g);
        f
    }
}

/// Fit the model of `design` (its terms, levels, structures and columns of `X`; rows are not
/// read) from its cross products, with the optimiser, θ bounds, start and canonical form of
/// the in-memory fit ([`crate::lmer`]). The result has everything lme4 reports that comes from
/// `M(θ̂)` — β̂, vcov, θ̂, σ, the criterion, variance components, conditional modes and
/// (with `cond_var`) their conditional variances — and no fitted values or residuals (their
/// summary is NaN). `nobs` is `cp.n`. The convergence check differences the criterion
/// (lme4's `checkConv`) when there are at most 20 θ.
///
/// # Errors
/// The shape and size checks of [`ProfiledDeviance::from_cross_products`]; an optimiser
/// failure; a factorization failure at θ̂.
pub fn fit_cross_products(
    design: &Design,
    cp: &CrossProducts,
    opts: &LmmOptions,
) -> Result<FitResult, LmmError> {
    let mut dev = ProfiledDeviance::from_cross_products(design, cp, opts.reml)?;
    let lower0 = design.theta_lower();
    let upper = design.theta_upper();
    let start = design.theta_start();
    let structured = !design.all_unstructured();
    let choice = match opts.optimizer {
        OptimizerChoice::Auto if structured => OptimizerChoice::Bobyqa,
        c => c,
    };
    let optimizer = choice.optimizer(lower0.len(), dev.dense_block_size(), opts);
    let unbounded = optimizer.uses_gradient() && !structured;
    let lower = if unbounded {
        vec![f64::NEG_INFINITY; lower0.len()]
    } else {
        lower0.clone()
    };
    let out = optimizer
        .minimize(&mut Criterion(&mut dev), &start, &lower, &upper)
        .map_err(|e| LmmError::Optimizer(e.to_string()))?;
    let converged_opt = out.converged();
    let mut message = out.message();
    if out.gradient_evaluations > 0 {
        message = format!(
            "{message} ({} gradient evaluations)",
            out.gradient_evaluations
        );
    }
    let theta = if unbounded {
        canonical_theta(design, &mut dev, out.x)
    } else {
        out.x
    };
    let evaluations = dev.evaluations();
    let reml = opts.reml;
    let (n, p) = (cp.n, cp.p);
    let summary = dev
        .factor_at(&theta)
        .ok_or_else(|| LmmError::Factorization {
            theta: theta.clone(),
        })?;
    let (reml_crit, ml_dev) = dev.criterion_both(&summary);
    let objective = if reml { reml_crit } else { ml_dev };
    let (beta, u) = dev.solve_current();
    let rxinv = dev.rx_inverse();
    let inv_blocks = opts.cond_var.then(|| dev.inverse_diag_blocks());
    let lambda = dev.lambda().to_vec();
    let b_terms: Vec<Vec<f64>> = design
        .terms
        .iter()
        .zip(lambda.iter().zip(&u))
        .map(|(t, (lam, uj))| summaries::term_b(t.k, t.nlevels(), lam, uj))
        .collect();
    let sigma2 = summary.pwrss / if reml { (n - p) as f64 } else { n as f64 };
    let sigma = sigma2.sqrt();
    let vcov: Vec<f64> = rxinv.iter().map(|v| v * sigma2).collect();

    let mut warnings = summaries::design_warnings(design);
    let singular_terms = summaries::singular_terms(design, &theta);
    let singular = !singular_terms.is_empty();
    if singular {
        warnings.push(summaries::singular_warning(&singular_terms));
    }
    let mut converged = converged_opt;
    if !converged_opt {
        warnings.push(format!("the optimiser did not converge: {message}"));
    }
    if opts.check_convergence
        && !singular
        && theta.len() <= 20
        && let Some(msg) = check_convergence(&mut dev, &theta, &lower0, &upper, objective)
    {
        converged = false;
        warnings.push(msg);
    }
    let npar = p + theta.len() + 1;
    let mut result = FitResult::builder(design, if reml { Method::Reml } else { Method::Ml })
        .coefficients(&beta, vcov, |_| None)
        .scale(sigma, sigma2, true)
        .random_effects(&lambda, &b_terms, inv_blocks.as_deref(), sigma2)
        .response(Vec::new(), Vec::new(), &[])
        .status(
            converged,
            singular,
            warnings,
            OptimizerInfo {
                name: optimizer.name().to_string(),
                evaluations,
                message,
            },
        )
        .theta(theta)
        .build();
    // The observations are `cp.n`, whatever rows the design holds.
    result.nobs = n;
    result.objective = objective;
    result.loglik = -objective / 2.0;
    result.deviance = Some(ml_dev);
    result.aic = objective + 2.0 * npar as f64;
    result.bic = objective + (n as f64).ln() * npar as f64;
    result.npar = npar;
    result.df_resid = n.saturating_sub(npar) as f64;
    Ok(result)
}

/// θ in each term's canonical form, with diagonal elements below 1e-7 set to 0 when that does
/// not raise the criterion (as the in-memory fit does after an unbounded search).
fn canonical_theta(design: &Design, dev: &mut ProfiledDeviance, mut theta: Vec<f64>) -> Vec<f64> {
    let mut off = 0;
    for t in &design.terms {
        let n = t.n_theta();
        if let Some(th) = theta.get_mut(off..off + n) {
            t.covariance().canonicalize(th);
        }
        off += n;
    }
    let diag: Vec<usize> = (design.theta_lower().iter().enumerate())
        .filter(|(_, l)| **l == 0.0)
        .map(|(i, _)| i)
        .collect();
    let mut best = dev.objective(&theta);
    for i in diag {
        if let Some(&v) = theta.get(i)
            && v != 0.0
            && v.abs() < 1e-7
        {
            theta[i] = 0.0;
            let f = dev.objective(&theta);
            if f <= best {
                best = f;
            } else {
                theta[i] = v;
            }
        }
    }
    theta
}

/// lme4's `checkConv` from central differences of the criterion (step 1e-4, a step that would
/// leave the box is not taken: then the check is skipped, as when θ is on a bound): warn when
/// `max |chol(H)⁻¹ g| > 2e-3` or when `H` is not positive definite. Leaves the factor at θ̂.
fn check_convergence(
    dev: &mut ProfiledDeviance,
    theta: &[f64],
    lower: &[f64],
    upper: &[f64],
    f0: f64,
) -> Option<String> {
    let h = 1e-4;
    let inside = theta.iter().zip(lower).all(|(t, lo)| t - h >= *lo)
        && theta.iter().zip(upper).all(|(t, up)| t + h <= *up);
    if !inside {
        return None;
    }
    let m = theta.len();
    let (grad, hess) = central_derivatives(&mut |x: &[f64]| dev.objective(x), theta, f0, h);
    let _ = dev.factor_at(theta);
    if grad.iter().chain(hess.iter()).any(|v| !v.is_finite()) {
        return Some(
            "convergence check: the gradient or Hessian at the optimum is not finite".into(),
        );
    }
    let mut l = hess;
    match crate::blocks::small::small_cholesky(&mut l, m) {
        None => Some(
            "Model failed to converge: the Hessian at the optimum is not positive definite; hint: the model may be nearly unidentifiable — simplify the random effects or rescale predictors".into(),
        ),
        Some(_) => {
            let mut s = grad;
            for i in (0..m).rev() {
                let mut acc = s[i];
                for j in i + 1..m {
                    acc -= l[j * m + i] * s[j];
                }
                s[i] = acc / l[i * m + i];
            }
            let max = s.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            (max > 2e-3).then(|| format!(
                "Model failed to converge with max|grad| = {max:.6} (tol = 0.002); hint: rescale predictors or simplify the random effects"
            ))
        }
    }
}
