//! Validation of `multilevel-inference` against lmerTest / lme4: every
//! `tests/reference/inference/*.json` (written by `xtask/r/reference_inference.R`).
//!
//! Each model is fitted with our optimiser and the inference is compared with lmerTest's
//! (Satterthwaite df within 5e-3 relative, p-values within 1e-3 relative — 1e-2 for p-values
//! below 1e-6, whose sensitivity to the fit's own 5e-5 agreement with lme4 exceeds 1e-3; the
//! p-values are recomputed from lmerTest's t and our df so that they measure the df), then
//! evaluated again at lme4's θ̂ where everything must match to the stated tolerances with no
//! exception. Likelihood-ratio tables are compared column by column.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use multilevel::frame::{Contrasts, DataFrame, FrameOptions, ModelFrame, ReadOptions};
use multilevel::lmm::{LinearMixedModel, LmmOptions};
use multilevel_inference::{
    CompareOptions, FittedLmm, Satterthwaite, add_df, anova_type3, compare, two_sided_t,
    type3_contrasts, wald_confint,
};
use serde_json::Value;

/// Relative tolerance of denominator df.
pub const DF_TOL: f64 = 5e-3;
/// Relative tolerance of p-values.
pub const P_TOL: f64 = 1e-3;
/// Relative tolerance of statistics that carry the fit's own differences (t, F, se, bounds).
pub const STAT_TOL: f64 = 1e-4;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

/// Maximum relative difference per quantity, with its tolerance.
#[derive(Default)]
struct Checks(BTreeMap<String, (f64, f64)>);

impl Checks {
    fn add(&mut self, what: &str, ours: f64, theirs: f64, tol: f64) {
        let d = rel(ours, theirs);
        let d = if d.is_nan() { f64::INFINITY } else { d };
        let e = self.0.entry(what.to_string()).or_insert((0.0, tol));
        e.0 = e.0.max(d);
        e.1 = e.1.max(tol);
    }
}

fn prepare(
    r: &Value,
    formula: &str,
    reml: bool,
) -> Result<(multilevel::formula::Formula, ModelFrame, LinearMixedModel)> {
    let name = r["data"]["dataset"]
        .as_str()
        .ok_or_else(|| anyhow!("reference has no data set"))?;
    let ds = multilevel::datasets::get(name).ok_or_else(|| anyhow!("no data set {name}"))?;
    let opts = ReadOptions {
        factor_columns: strings(&r["factors"]),
        ordered_columns: strings(&r["ordered"]),
    };
    let data = DataFrame::from_csv_str(ds.name, ds.csv, &opts)?;
    let mut contrasts = BTreeMap::new();
    if let Some(map) = r["contrasts"].as_object() {
        for (k, v) in map {
            let c = match v.as_str().unwrap_or_default() {
                "contr.sum" => Contrasts::Sum,
                "contr.helmert" => Contrasts::Helmert,
                "contr.poly" => Contrasts::Poly,
                _ => Contrasts::Treatment,
            };
            contrasts.insert(k.clone(), c);
        }
    }
    let f = multilevel::formula::parse(formula)?;
    let frame = ModelFrame::new(
        &f,
        &data,
        &FrameOptions {
            weights: None,
            contrasts,
            ..FrameOptions::default()
        },
    )?;
    let mut design = multilevel::design::build_design(&f, &frame)?;
    design.formula = formula.to_string();
    let model = LinearMixedModel::new(
        design,
        LmmOptions {
            reml,
            ..LmmOptions::default()
        },
    )?;
    Ok((f, frame, model))
}

fn check_lmm(r: &Value, at_reference: bool, c: &mut Checks) -> Result<()> {
    let formula = r["formula"].as_str().unwrap_or_default();
    let reml = r["REML"].as_bool().unwrap_or(true);
    let (f, frame, model) = prepare(r, formula, reml)?;
    let mut fitted = if at_reference {
        FittedLmm::at_theta(model, &nums(&r["theta"]))?
    } else {
        FittedLmm::fit(model)?
    };
    let tag = if at_reference { "@lme4θ " } else { "" };
    let s = &r["satterthwaite"];
    let mut fit = fitted.fit_result().clone();
    add_df(&mut fitted, &mut fit, &Satterthwaite)?;
    if fit.fixed.iter().map(|x| x.term.clone()).collect::<Vec<_>>() != strings(&s["names"]) {
        return Err(anyhow!("coefficient names differ"));
    }
    let (rdf, rp, rt) = (nums(&s["df"]), nums(&s["p"]), nums(&s["t"]));
    for (i, fe) in fit.fixed.iter().enumerate() {
        let df = fe.df.unwrap_or(f64::NAN);
        c.add(&format!("{tag}coef df"), df, rdf[i], DF_TOL);
        c.add(&format!("{tag}coef t"), fe.statistic, rt[i], STAT_TOL);
        let (p, tol) = if at_reference {
            (fe.p_value.unwrap_or(f64::NAN), P_TOL)
        } else {
            (
                two_sided_t(rt[i], df),
                if rp[i] > 1e-6 { P_TOL } else { 1e-2 },
            )
        };
        c.add(&format!("{tag}coef p"), p, rp[i], tol);
    }
    let a = &r["anova3"];
    let contrasts = type3_contrasts(&f, &frame, fitted.model().design())?;
    let rows = anova_type3(&mut fitted, &contrasts, &Satterthwaite)?;
    if rows.iter().map(|x| x.term.clone()).collect::<Vec<_>>() != strings(&a["terms"]) {
        return Err(anyhow!("anova terms differ"));
    }
    let (nd, dd, fv, pv) = (
        nums(&a["num_df"]),
        nums(&a["den_df"]),
        nums(&a["f"]),
        nums(&a["p"]),
    );
    for (i, row) in rows.iter().enumerate() {
        c.add(&format!("{tag}anova NumDF"), row.num_df, nd[i], 0.0);
        c.add(&format!("{tag}anova DenDF"), row.den_df, dd[i], DF_TOL);
        c.add(&format!("{tag}anova F"), row.f_value, fv[i], STAT_TOL);
        let tol = if at_reference || pv[i] > 1e-6 {
            P_TOL
        } else {
            1e-2
        };
        c.add(&format!("{tag}anova p"), row.p_value, pv[i], tol);
    }
    let w = &r["wald"];
    let ci = wald_confint(&fit, w["level"].as_f64().unwrap_or(0.95))?;
    let (lo, hi) = (nums(&w["lower"]), nums(&w["upper"]));
    for (i, iv) in ci.iter().enumerate() {
        c.add(&format!("{tag}wald bounds"), iv.lower, lo[i], STAT_TOL);
        c.add(&format!("{tag}wald bounds"), iv.upper, hi[i], STAT_TOL);
    }
    Ok(())
}

/// Reads one column of a likelihood-ratio row.
type RowGetter = fn(&multilevel_inference::LrtRow) -> f64;

fn check_compare(r: &Value, c: &mut Checks) -> Result<()> {
    let reml = r["REML"].as_bool().unwrap_or(true);
    let mut models = Vec::new();
    for formula in strings(&r["formulas"]) {
        let (_, _, m) = prepare(r, &formula, reml)?;
        models.push(multilevel_inference::FittedLmm::fit(m)?);
    }
    let refs: Vec<&multilevel_inference::FittedLmm> = models.iter().collect();
    let table = compare(&refs, &CompareOptions::default())?;
    let t = &r["table"];
    let cols: [(&str, RowGetter); 5] = [
        ("npar", |x| x.npar as f64),
        ("aic", |x| x.aic),
        ("bic", |x| x.bic),
        ("loglik", |x| x.loglik),
        ("deviance", |x| x.deviance),
    ];
    for (col, get) in cols {
        for (i, row) in table.rows.iter().enumerate() {
            c.add(&format!("lrt {col}"), get(row), nums(&t[col])[i], 1e-7);
        }
    }
    let (chisq, p) = (nums(&t["chisq"]), nums(&t["p"]));
    for (i, row) in table.rows.iter().enumerate().skip(1) {
        c.add("lrt Chisq", row.chisq.unwrap_or(f64::NAN), chisq[i], 1e-5);
        c.add("lrt p", row.p_value.unwrap_or(f64::NAN), p[i], P_TOL);
    }
    Ok(())
}

/// Check every inference reference under `root/tests/reference/inference`; prints one line per
/// (reference, quantity) with the largest relative difference and returns `(passed, total)`.
///
/// # Errors
/// The reference directory cannot be read.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let dir = root.join("tests/reference/inference");
    let files = crate::reference_files(&dir).with_context(|| format!("{}", dir.display()))?;
    let (mut passed, mut total) = (0, 0);
    println!(
        "{:<28} {:<22} {:>10} {:>8}  status",
        "reference", "quantity", "max rel", "tol"
    );
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut c = Checks::default();
        let outcome = (|| -> Result<()> {
            let text = std::fs::read_to_string(&path)?;
            let r: Value = serde_json::from_str(&text)?;
            match r["kind"].as_str() {
                Some("lmm") => {
                    check_lmm(&r, false, &mut c)?;
                    check_lmm(&r, true, &mut c)
                }
                Some("compare") => check_compare(&r, &mut c),
                other => Err(anyhow!("unknown reference kind {other:?}")),
            }
        })();
        if let Err(e) = outcome {
            total += 1;
            println!(
                "{name:<28} {:<22} {:>10} {:>8}  FAIL: {e}",
                "(run)", "-", "-"
            );
            continue;
        }
        for (what, (d, tol)) in &c.0 {
            total += 1;
            let ok = *d <= *tol;
            passed += usize::from(ok);
            println!(
                "{name:<28} {what:<22} {d:>10.2e} {tol:>8.0e}  {}",
                if ok { "ok" } else { "FAIL" }
            );
        }
    }
    println!("inference references: {passed}/{total} checks pass");
    Ok((passed, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inference_reference_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (passed, total) = validate(&root).unwrap_or((0, 1));
        assert!(total > 0);
        assert_eq!(passed, total);
    }
}
