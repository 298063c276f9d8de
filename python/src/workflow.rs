//! Meta-analysis, GEE and cluster-robust standard errors (`ml.meta`, `ml.gee`, `ml.robust`):
//! the library's `multilevel meta`, `multilevel gee` and `multilevel robust`, each answering
//! with the command's JSON report (read by the Python layer) and its text report.

use multilevel::FitOptions;
use multilevel::report::{Format, Render};
use pyo3::prelude::*;

use crate::{DataIn, frame_of, py_err};

/// A confidence level given as a fraction (0.95) as the percentage the meta-analysis takes.
fn level_percent(level: f64) -> PyResult<f64> {
    if level > 0.0 && level < 1.0 {
        Ok(100.0 * level)
    } else {
        Err(py_err(format!(
            "level={level} is not a confidence level; hint: give a fraction between 0 and 1, e.g. level=0.95"
        )))
    }
}

/// Random-effects meta-analysis and meta-regression (metafor's `rma`, `multilevel meta`):
/// (JSON, text report).
#[pyfunction]
#[pyo3(signature = (data, yi, vi=None, sei=None, method="REML", mods=None, slab=None, test="z", level=0.95, data_name="data"))]
#[allow(clippy::too_many_arguments)]
pub fn meta(
    py: Python<'_>,
    data: DataIn<'_>,
    yi: String,
    vi: Option<String>,
    sei: Option<String>,
    method: &str,
    mods: Option<String>,
    slab: Option<String>,
    test: &str,
    level: f64,
    data_name: &str,
) -> PyResult<(String, String)> {
    use multilevel::meta::{DataSpec, Method, RmaOptions, Test, rma_data};
    let data = frame_of(&data, data_name)?;
    if vi.is_some() == sei.is_some() {
        return Err(py_err(
            "meta needs the sampling variances or their standard errors; hint: give exactly one of vi=\"column\" or sei=\"column\"",
        ));
    }
    let method = Method::parse(method).ok_or_else(|| {
        py_err(format!(
            "unknown method `{method}`; hint: use REML, ML, DL, PM, EB, HE, SJ or FE"
        ))
    })?;
    let test = Test::parse(test).ok_or_else(|| {
        py_err(format!(
            "unknown test `{test}`; hint: use \"z\", \"t\", \"knha\" or \"adhoc\""
        ))
    })?;
    let spec = DataSpec {
        yi,
        vi,
        sei,
        mods,
        slab,
    };
    let opts = RmaOptions {
        method,
        test,
        level: level_percent(level)?,
        ..RmaOptions::default()
    };
    let fit = py
        .detach(|| rma_data(&data, &spec, &opts))
        .map_err(py_err)?;
    Ok((fit.render(Format::Json), fit.render(Format::Text)))
}

/// The marginal crate's error with its hint naming this API's argument.
fn marginal_error(e: multilevel::marginal::MarginalError, cluster_arg: &str) -> PyErr {
    use multilevel::marginal::{MarginalError, Setting, hint_with};
    match e {
        MarginalError::Setting {
            problem,
            check,
            setting,
        } => {
            let advice = match setting {
                Setting::Family => "choose another family=".to_string(),
                Setting::Link => "try another link=".to_string(),
                Setting::WorkingCorrelation => "try another corstr=".to_string(),
                Setting::IndependenceCorrelation => "use corstr=\"independence\"".to_string(),
                Setting::ClusterColumn => {
                    format!("remove the bar terms: the clusters are named with {cluster_arg}=")
                }
            };
            py_err(format!(
                "{problem}; hint: {}",
                hint_with(check.as_deref(), &advice)
            ))
        }
        other => py_err(other),
    }
}

/// Generalized estimating equations (geepack's `geeglm`, `multilevel gee`): (JSON, text).
#[pyfunction]
#[pyo3(signature = (formula, data, groups, family="gaussian", link=None, corstr="independence", data_name="data"))]
#[allow(clippy::too_many_arguments)]
pub fn gee(
    py: Python<'_>,
    formula: &str,
    data: DataIn<'_>,
    groups: &str,
    family: &str,
    link: Option<&str>,
    corstr: &str,
    data_name: &str,
) -> PyResult<(String, String)> {
    use multilevel::marginal::{CorStructure, GeeOptions};
    let data = frame_of(&data, data_name)?;
    let family_name = match family.to_ascii_lowercase().as_str() {
        "gaussian" => "gaussian",
        "binomial" => "binomial",
        "poisson" => "poisson",
        "gamma" => "Gamma",
        _ => {
            return Err(py_err(format!(
                "unknown GEE family `{family}`; hint: use \"gaussian\", \"binomial\", \"poisson\" or \"Gamma\""
            )));
        }
    };
    let family = multilevel::FamilySpec::parse(family_name, link).map_err(py_err)?;
    let corstr = match corstr.to_ascii_lowercase().as_str() {
        "independence" => CorStructure::Independence,
        "exchangeable" => CorStructure::Exchangeable,
        "ar1" => CorStructure::Ar1,
        other => {
            return Err(py_err(format!(
                "unknown working correlation `{other}`; hint: use \"independence\", \"exchangeable\" or \"ar1\""
            )));
        }
    };
    let opts = GeeOptions {
        family,
        corstr,
        ..GeeOptions::default()
    };
    let fit = py
        .detach(|| multilevel::marginal::gee(formula, &data, groups, &opts))
        .map_err(|e| marginal_error(e, "groups"))?;
    Ok((fit.render(Format::Json), fit.render(Format::Text)))
}

/// Cluster-robust (CR0/CR1/CR2) standard errors with Satterthwaite df of an OLS or LMM fit
/// (clubSandwich's `coef_test`, `multilevel robust`): (JSON, text).
#[pyfunction]
#[pyo3(signature = (formula, data, cluster, cr_type="CR2", model="ols", data_name="data"))]
pub fn robust(
    py: Python<'_>,
    formula: &str,
    data: DataIn<'_>,
    cluster: &str,
    cr_type: &str,
    model: &str,
    data_name: &str,
) -> PyResult<(String, String)> {
    use multilevel::marginal::{Clusters, CrType, lmm_robust, ols_robust};
    let data = frame_of(&data, data_name)?;
    let ty = match cr_type.to_ascii_uppercase().as_str() {
        "CR0" => CrType::Cr0,
        "CR1" => CrType::Cr1,
        "CR2" => CrType::Cr2,
        _ => {
            return Err(py_err(format!(
                "unknown type `{cr_type}`; hint: use \"CR0\", \"CR1\" or \"CR2\""
            )));
        }
    };
    let res = match model.to_ascii_lowercase().as_str() {
        "ols" => py
            .detach(|| ols_robust(formula, &data, cluster, ty))
            .map_err(|e| {
                let msg = e.to_string();
                match e {
                    multilevel::marginal::MarginalError::Setting {
                        problem,
                        setting: multilevel::marginal::Setting::ClusterColumn,
                        ..
                    } => py_err(format!(
                        "{problem}; hint: name the cluster with cluster=, or use model=\"lmm\""
                    )),
                    _ => py_err(msg),
                }
            })?,
        "lmm" => {
            let parsed = multilevel::formula::parse(formula).map_err(py_err)?;
            if !parsed.has_random() {
                return Err(py_err(format!(
                    "model=\"lmm\" needs random-effects terms in the formula, e.g. \"{} + (1 | {cluster})\"; hint: add a bar term, or use model=\"ols\"",
                    formula.trim()
                )));
            }
            let opts = FitOptions {
                cond_var: false,
                ..FitOptions::default()
            };
            py.detach(|| -> PyResult<_> {
                let mut prepared =
                    multilevel::prepare_lmm_parts(formula, &data, &opts).map_err(py_err)?;
                let fit = prepared.model.fit().map_err(py_err)?;
                let clusters = Clusters::from_column(&data, cluster, &prepared.frame.rows)
                    .map_err(|e| marginal_error(e, "cluster"))?;
                lmm_robust(prepared.model.design(), &fit, &clusters, ty)
                    .map_err(|e| marginal_error(e, "cluster"))
            })?
        }
        other => {
            return Err(py_err(format!(
                "unknown model `{other}`; hint: use \"ols\" (least squares) or \"lmm\" (a linear mixed model by REML)"
            )));
        }
    };
    Ok((res.render(Format::Json), res.render(Format::Text)))
}
