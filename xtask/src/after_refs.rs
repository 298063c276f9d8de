//! Validation of what a fitted model answers after the fit: the Kenward–Roger coefficient
//! table (`tests/reference/kr_summary/*.json`, from `xtask/r/reference_kr_summary.R`,
//! lmerTest's `summary(fit, ddf = "Kenward-Roger")`) and predictions for new data
//! (`tests/reference/predict/*.json`, from `xtask/r/reference_predict.R`, lme4's `predict`).
//!
//! Tolerances: Kenward–Roger se and t 1e-4, df 5e-3, p 1e-3 relative (from our own fit);
//! LMM predictions 1e-6, GLMM predictions and standard errors 1e-4. Estimated marginal means
//! (`tests/reference/emmeans/*.json`, from `xtask/r/reference_emmeans.R`, R's emmeans):
//! estimates 1e-6 (GLMM 1e-4), SE and df 1e-4, p-values 1e-4 relative or 1e-9 absolute.

use std::path::Path;

use anyhow::{Result, anyhow};
use multilevel::{
    Ddf, Family, FitOptions, GlmerOptions, PredictOptions, PredictScale, ReForm, glmer, lmer,
};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_nums(v: &Value) -> Vec<Option<f64>> {
    v.as_array()
        .map(|a| a.iter().map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Largest relative difference (∞ when one side is missing and the other is not).
fn max_rel(ours: &[Option<f64>], theirs: &[Option<f64>]) -> f64 {
    if ours.len() != theirs.len() {
        return f64::INFINITY;
    }
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if a == b => 0.0,
            (Some(a), Some(b)) => (a - b).abs() / b.abs().max(1e-300),
            (None, None) => 0.0,
            _ => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}

fn report(name: &str, what: &str, d: f64, tol: f64, pass: &mut usize, total: &mut usize) {
    *total += 1;
    let ok = d <= tol;
    *pass += usize::from(ok);
    println!(
        "{name:<28} {what:<22} {d:>10.2e} {tol:>8.0e}  {}",
        if ok { "ok" } else { "FAIL" }
    );
}

fn kr_summary(root: &Path, path: &Path, pass: &mut usize, total: &mut usize) -> Result<()> {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let name = r["name"].as_str().unwrap_or_default().to_string();
    let csv = r["data"]["csv"]
        .as_str()
        .ok_or_else(|| anyhow!("{name}: no data"))?;
    let data = multilevel::read_csv(&root.join(csv), &strings(&r["factors"]))?;
    let mut m = lmer(
        r["formula"].as_str().unwrap_or_default(),
        &data,
        &FitOptions::default(),
    )?;
    let fit = m.summary_with_df(Ddf::KenwardRoger)?;
    let kr = &r["kenward_roger"];
    let col = |get: fn(&multilevel::lmm::FixedEffect) -> Option<f64>| -> Vec<Option<f64>> {
        fit.fixed.iter().map(get).collect()
    };
    for (what, ours, key, tol) in [
        ("KR se", col(|f| Some(f.std_error)), "se", 1e-4),
        ("KR t", col(|f| Some(f.statistic)), "t", 1e-4),
        ("KR df", col(|f| f.df), "df", 5e-3),
        ("KR p", col(|f| f.p_value), "p", 1e-3),
    ] {
        report(
            &name,
            what,
            max_rel(&ours, &opt_nums(&kr[key])),
            tol,
            pass,
            total,
        );
    }
    Ok(())
}

fn predictions(root: &Path, path: &Path, pass: &mut usize, total: &mut usize) -> Result<()> {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let name = r["name"].as_str().unwrap_or_default().to_string();
    let ds = r["data"]["dataset"].as_str().unwrap_or_default();
    let data = multilevel::dataset(ds)?;
    let new = multilevel::read_csv(
        &root.join(r["newdata"].as_str().unwrap_or_default()),
        &strings(&r["new_factors"]),
    )?;
    let formula = r["formula"].as_str().unwrap_or_default();
    let opts = |re_form: ReForm, allow: bool, scale: PredictScale| PredictOptions {
        re_form,
        allow_new_levels: allow,
        se_fit: true,
        scale,
    };
    let mut cases: Vec<(String, PredictOptions, &str, f64)> = vec![
        (
            "re.form NA".into(),
            opts(ReForm::None, false, PredictScale::Link),
            "population",
            1e-6,
        ),
        (
            "re.form NULL".into(),
            opts(ReForm::All, true, PredictScale::Link),
            "all_new_levels",
            1e-6,
        ),
    ];
    if let Some(t) = r["partial"]["re_form"].as_str() {
        cases.push((
            "re.form partial".into(),
            opts(ReForm::Terms(vec![t.to_string()]), true, PredictScale::Link),
            "partial",
            1e-6,
        ));
    }
    let is_glmm = r["kind"] == "glmm";
    if is_glmm {
        cases.push((
            "response NA".into(),
            opts(ReForm::None, false, PredictScale::Response),
            "population_response",
            1e-4,
        ));
        cases.push((
            "response NULL".into(),
            opts(ReForm::All, true, PredictScale::Response),
            "all_new_levels_response",
            1e-4,
        ));
    }
    let lmm = if is_glmm {
        None
    } else {
        Some(lmer(formula, &data, &FitOptions::default())?)
    };
    let gm = if is_glmm {
        Some(glmer(
            formula,
            &data,
            Family::Binomial,
            &GlmerOptions::default(),
        )?)
    } else {
        None
    };
    for (what, o, key, tol) in cases {
        let p = match (&lmm, &gm) {
            (Some(m), _) => m.predict(&new, &o)?,
            (_, Some(m)) => m.predict(&new, &o)?,
            _ => unreachable!("one of the two models is fitted"),
        };
        let theirs = if key == "partial" {
            opt_nums(&r["partial"]["values"])
        } else {
            opt_nums(&r[key])
        };
        let tol = if is_glmm { tol.max(1e-4) } else { tol };
        report(&name, &what, max_rel(&p.fit, &theirs), tol, pass, total);
        if key == "population" || key == "population_response" {
            let se_key = if key == "population" {
                "se_fixed_link"
            } else {
                "se_fixed_response"
            };
            let se = p.se_fit.unwrap_or_default();
            report(
                &name,
                &format!("se {what}"),
                max_rel(&se, &opt_nums(&r[se_key])),
                1e-4,
                pass,
                total,
            );
        }
    }
    Ok(())
}

fn emm_nums(v: &Value) -> Vec<Option<f64>> {
    // R's infinite df is null in the JSON: compare it as ∞.
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| Some(x.as_f64().unwrap_or(f64::INFINITY)))
                .collect()
        })
        .unwrap_or_default()
}

/// Relative difference with ∞ = ∞ and an absolute floor (R's tiny Tukey p-values are accurate
/// only absolutely).
fn max_rel_floor(ours: &[Option<f64>], theirs: &[Option<f64>], floor: f64) -> f64 {
    if ours.len() != theirs.len() {
        return f64::INFINITY;
    }
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if a == b => 0.0,
            (Some(a), Some(b)) if (a - b).abs() <= floor => 0.0,
            (Some(a), Some(b)) => (a - b).abs() / b.abs().max(1e-300),
            _ => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}

/// One emmeans reference (`tests/reference/emmeans`, from `xtask/r/reference_emmeans.R`):
/// per case the means (estimate 1e-6, 1e-4 for the GLMM; SE and df 1e-4) and contrasts
/// (estimate, SE, df; p 1e-4 relative or 1e-9 absolute).
fn emmeans_refs(root: &Path, path: &Path, pass: &mut usize, total: &mut usize) -> Result<()> {
    use multilevel::{Adjust, EmmContrast, EmmWeights, EmmeansOptions};
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let name = r["name"].as_str().unwrap_or_default().to_string();
    let factors = strings(&r["factors"]);
    let data = match r["data"]["csv"].as_str() {
        Some(csv) => multilevel::read_csv(&root.join(csv), &factors)?,
        None => multilevel::dataset(r["data"]["dataset"].as_str().unwrap_or_default())?,
    };
    let formula = r["formula"].as_str().unwrap_or_default();
    let glmm = r["kind"] == "glmm";
    let mut lmm = if glmm {
        None
    } else {
        Some(lmer(formula, &data, &FitOptions::default())?)
    };
    let gm = if glmm {
        Some(glmer(
            formula,
            &data,
            Family::Binomial,
            &GlmerOptions::default(),
        )?)
    } else {
        None
    };
    for case in r["cases"].as_array().into_iter().flatten() {
        let opts = EmmeansOptions {
            specs: strings(&case["specs"]),
            by: strings(&case["by"]),
            at: case["at"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), emm_nums(v).into_iter().flatten().collect()))
                        .collect()
                })
                .unwrap_or_default(),
            weights: if case["weights"] == "proportional" {
                EmmWeights::Proportional
            } else {
                EmmWeights::Equal
            },
            df_method: if case["df_method"] == "satterthwaite" {
                Ddf::Satterthwaite
            } else {
                Ddf::KenwardRoger
            },
            level: case["level"].as_f64().unwrap_or(0.95),
            scale: if case["type"] == "response" {
                PredictScale::Response
            } else {
                PredictScale::Link
            },
            contrast: match case["contrast"].as_str() {
                Some("pairwise") => Some(EmmContrast::Pairwise),
                Some("trt.vs.ctrl") => Some(EmmContrast::TrtVsCtrl),
                _ => None,
            },
            adjust: case["contrasts"]["adjust"].as_str().map(|a| match a {
                "tukey" => Adjust::Tukey,
                "holm" => Adjust::Holm,
                "bonferroni" => Adjust::Bonferroni,
                _ => Adjust::None,
            }),
            custom: case["custom"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| multilevel::CustomContrast {
                            name: c["name"].as_str().unwrap_or_default().to_string(),
                            weights: strings(&c["levels"])
                                .into_iter()
                                .zip(emm_nums(&c["weights"]).into_iter().flatten())
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        let res = match (&mut lmm, &gm) {
            (Some(m), _) => m.emmeans(&opts)?,
            (_, Some(m)) => m.emmeans(&opts)?,
            _ => return Err(anyhow!("{name}: no model")),
        };
        let label = format!("{name}: {}", case["label"].as_str().unwrap_or_default());
        let e = &case["emmeans"];
        let est_tol = if glmm { 1e-4 } else { 1e-6 };
        let col = |f: fn(&multilevel::EmmRow) -> f64| -> Vec<Option<f64>> {
            res.means.iter().map(|m| Some(f(m))).collect()
        };
        for (what, ours, key, tol) in [
            ("emmean", col(|m| m.estimate), "estimate", est_tol),
            ("emmean SE", col(|m| m.std_error), "se", 1e-4),
            ("emmean df", col(|m| m.df), "df", 1e-4),
        ] {
            let d = max_rel_floor(&ours, &emm_nums(&e[key]), 0.0);
            report(&label, what, d, tol, pass, total);
        }
        if case["contrasts"].is_object() {
            let c = &case["contrasts"];
            let col = |f: fn(&multilevel::ContrastRow) -> f64| -> Vec<Option<f64>> {
                res.contrasts.iter().map(|m| Some(f(m))).collect()
            };
            for (what, ours, key, tol, floor) in [
                ("contrast", col(|m| m.estimate), "estimate", est_tol, 1e-9),
                ("contrast SE", col(|m| m.std_error), "se", 1e-4, 0.0),
                ("contrast df", col(|m| m.df), "df", 1e-4, 0.0),
                ("contrast p", col(|m| m.p_value), "p", 1e-4, 1e-9),
            ] {
                let d = max_rel_floor(&ours, &emm_nums(&c[key]), floor);
                report(&label, what, d, tol, pass, total);
            }
            if c["lower"].is_array() {
                // R's qtukey stops at 1e-4 in q: limits to 1e-4 of the largest SE.
                let floor = 1e-4
                    * res
                        .contrasts
                        .iter()
                        .fold(0.0_f64, |a, r| a.max(r.std_error));
                for (what, ours, key) in [
                    ("contrast lower", col(|m| m.lower), "lower"),
                    ("contrast upper", col(|m| m.upper), "upper"),
                ] {
                    let d = max_rel_floor(&ours, &emm_nums(&c[key]), floor);
                    report(&label, what, d, 1e-4, pass, total);
                }
            }
        }
    }
    Ok(())
}

/// Check every Kenward–Roger summary and prediction reference; prints one line per
/// (reference, quantity) and returns `(passed, total)`.
///
/// # Errors
/// A reference directory cannot be read.
pub fn validate(root: &Path) -> Result<(usize, usize)> {
    let (mut pass, mut total) = (0, 0);
    println!(
        "{:<28} {:<22} {:>10} {:>8}  status",
        "reference", "quantity", "max rel", "tol"
    );
    for (dir, check) in [
        (
            "tests/reference/kr_summary",
            kr_summary as fn(&Path, &Path, &mut usize, &mut usize) -> Result<()>,
        ),
        ("tests/reference/predict", predictions),
        ("tests/reference/emmeans", emmeans_refs),
    ] {
        for path in crate::reference_files(&root.join(dir))? {
            if let Err(e) = check(root, &path, &mut pass, &mut total) {
                total += 1;
                println!("{:<28} FAIL: {e}", path.display());
            }
        }
    }
    Ok((pass, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kr_summary_and_predict_reference_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (passed, total) = validate(&root).unwrap_or((0, 1));
        // 3 KR models × 4 quantities; 5 prediction models.
        assert!(total >= 12 + 5 * 3, "{total} checks");
        assert_eq!(passed, total);
    }
}
