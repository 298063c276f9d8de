//! The stable JSON schema of a fit (documented in `docs/json.md`).

use crate::summary::icc;
use multilevel_lmm::{FitResult, Method};
use serde_json::{Map, Value, json};

/// Version of the JSON schema; bumped only when a key changes meaning (keys are never removed or
/// renamed, new ones may be added).
pub const SCHEMA_VERSION: u32 = 1;

/// The top-level keys every fit's JSON object has (docs/json.md): the stable part of the schema.
pub const JSON_KEYS: [&str; 29] = [
    "formula",
    "family",
    "link",
    "method",
    "nobs",
    "groups",
    "fixed",
    "random",
    "correlations",
    "residual",
    "theta",
    "loglik",
    "objective",
    "aic",
    "bic",
    "converged",
    "singular",
    "warnings",
    "optimizer",
    "data",
    "n_dropped_missing",
    "deviance",
    "npar",
    "df_resid",
    "sigma",
    "vcov",
    "ranef",
    "fixed_correlation",
    "scaled_residuals",
];

/// Renders a fit as pretty-printed JSON following [`to_json_value`]'s schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl JsonRenderer {
    /// Renders the fit with the default options. The string ends with a newline.
    pub fn render(&self, fit: &FitResult) -> String {
        self.render_with(fit, &crate::RenderOptions::default())
    }
}

impl JsonRenderer {
    /// Renders the fit with options: with a df method, the object gets a `df_method` key
    /// (e.g. `"Satterthwaite"`) naming how `fixed[].df` were computed.
    pub fn render_with(&self, fit: &FitResult, opts: &crate::RenderOptions) -> String {
        let mut v = to_json_value(fit);
        if let (Some(m), Some(o)) = (&opts.df_method, v.as_object_mut()) {
            o.insert("df_method".into(), json!(m));
        }
        if let (false, Some(o)) = (opts.cross_level.is_empty(), v.as_object_mut()) {
            o.insert("cross_level_interactions".into(), json!(opts.cross_level));
        }
        if let (Some(n), Some(o)) = (opts.n_agq, v.as_object_mut()) {
            o.insert("n_agq".into(), json!(n));
        }
        if let (Some(d), Some(o)) = (&opts.overdispersion, v.as_object_mut()) {
            o.insert(
                "overdispersion".into(),
                json!({
                    "pearson_chisq": num(d.pearson_chisq),
                    "df": num(d.df),
                    "ratio": num(d.ratio),
                    "p_value": num(d.p_value),
                }),
            );
        }
        pretty(&v)
    }
}

/// Pretty-printed JSON followed by a newline.
pub(crate) fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| {
        // Serialising a `Value` cannot fail; keep the output valid JSON regardless.
        json!({ "error": e.to_string() }).to_string()
    });
    s.push('\n');
    s
}

/// A number, or `null` when it is NaN or infinite (JSON has no such values).
pub(crate) fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

pub(crate) fn opt(x: Option<f64>) -> Value {
    x.map_or(Value::Null, num)
}

fn nums(xs: &[f64]) -> Value {
    Value::Array(xs.iter().map(|&x| num(x)).collect())
}

/// A row-major `p × p` matrix as an array of rows; an empty array when the length is not `p²`.
fn square(xs: &[f64], p: usize) -> Value {
    if p == 0 || xs.len() != p * p {
        return json!([]);
    }
    Value::Array(xs.chunks(p).map(nums).collect())
}

pub(crate) fn method_name(m: Method) -> &'static str {
    match m {
        Method::Reml => "REML",
        Method::Ml => "ML",
        Method::Laplace => "Laplace",
        Method::Agq => "AGQ",
    }
}

/// The fit as a JSON object with a stable set of keys (see `docs/json.md`): `formula`, `data`,
/// `family`, `link`, `method`, `nobs`, `n_dropped_missing`, `groups`, `fixed`, `random`,
/// `correlations`, `residual`, `sigma`, `theta`, `loglik`, `objective`, `deviance`, `aic`, `bic`,
/// `npar`, `df_resid`, `converged`, `singular`, `warnings`, `optimizer`, `vcov`,
/// `fixed_correlation`, `scaled_residuals`, `icc`, `ranef`, `schema_version`, and for families
/// with their own parameters `family_parameters` (`{"theta": {estimate, std_error}}`). Non-finite numbers
/// become `null`.
pub fn to_json_value(fit: &FitResult) -> Value {
    let p = fit.fixed.len();
    let mut m = Map::new();
    m.insert("schema_version".into(), json!(SCHEMA_VERSION));
    m.insert("formula".into(), json!(fit.formula));
    m.insert("data".into(), json!(fit.data_name));
    m.insert("family".into(), json!(fit.family));
    m.insert("link".into(), json!(fit.link));
    m.insert("method".into(), json!(method_name(fit.method)));
    m.insert("nobs".into(), json!(fit.nobs));
    m.insert("n_dropped_missing".into(), json!(fit.n_dropped_missing));
    m.insert(
        "groups".into(),
        fit.groups
            .iter()
            .map(|g| json!({ "name": g.name, "levels": g.levels }))
            .collect(),
    );
    m.insert(
        "fixed".into(),
        fit.fixed
            .iter()
            .map(|f| {
                json!({
                    "term": f.term,
                    "estimate": num(f.estimate),
                    "std_error": num(f.std_error),
                    "statistic": num(f.statistic),
                    "df": opt(f.df),
                    "p_value": opt(f.p_value),
                })
            })
            .collect(),
    );
    m.insert(
        "random".into(),
        fit.random
            .iter()
            .map(|r| {
                json!({
                    "group": r.group,
                    "term": r.term,
                    "variance": num(r.variance),
                    "std_dev": num(r.std_dev),
                })
            })
            .collect(),
    );
    m.insert(
        "correlations".into(),
        fit.correlations
            .iter()
            .map(|c| {
                json!({
                    "group": c.group,
                    "term1": c.term1,
                    "term2": c.term2,
                    "corr": num(c.corr),
                })
            })
            .collect(),
    );
    // Only fits with a structured term (diag, cs, ar1) have the key, so every other fit's
    // object is unchanged.
    if !fit.structures.is_empty() {
        m.insert(
            "structures".into(),
            fit.structures
                .iter()
                .map(|s| {
                    json!({
                        "group": s.group,
                        "columns": s.columns,
                        "structure": s.structure,
                        "hom": s.hom,
                        "n_parameters": s.n_parameters,
                        "rho": s.rho.map_or(Value::Null, num),
                    })
                })
                .collect(),
        );
    }
    m.insert(
        "residual".into(),
        fit.residual.as_ref().map_or(
            Value::Null,
            |r| json!({ "variance": num(r.variance), "std_dev": num(r.std_dev) }),
        ),
    );
    m.insert("sigma".into(), num(fit.sigma));
    m.insert("theta".into(), nums(&fit.theta));
    m.insert("loglik".into(), num(fit.loglik));
    m.insert("objective".into(), num(fit.objective));
    m.insert("deviance".into(), opt(fit.deviance));
    // A GLMM's −2·logLik: its summary line's `-2*log(L)` (its `deviance` is lme4's
    // `deviance()`, the sum of squared deviance residuals, a different number).
    if matches!(fit.method, Method::Laplace | Method::Agq) {
        m.insert("minus_two_loglik".into(), num(-2.0 * fit.loglik));
    }
    // The response distribution's own parameters (negative binomial: θ), keyed by name.
    if !fit.family_parameters.is_empty() {
        let fp: Map<String, Value> = fit
            .family_parameters
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    json!({ "estimate": num(f.estimate), "std_error": opt(f.std_error) }),
                )
            })
            .collect();
        m.insert("family_parameters".into(), Value::Object(fp));
    }
    m.insert("aic".into(), num(fit.aic));
    m.insert("bic".into(), num(fit.bic));
    m.insert("npar".into(), json!(fit.npar));
    m.insert("df_resid".into(), num(fit.df_resid));
    m.insert("converged".into(), json!(fit.converged));
    m.insert("singular".into(), json!(fit.singular));
    m.insert("warnings".into(), json!(fit.warnings));
    m.insert(
        "optimizer".into(),
        json!({
            "name": fit.optimizer.name,
            "evaluations": fit.optimizer.evaluations,
            "message": fit.optimizer.message,
        }),
    );
    m.insert("vcov".into(), square(&fit.vcov, p));
    m.insert(
        "fixed_correlation".into(),
        square(&fit.fixed_correlation, p),
    );
    let q = &fit.scaled_residuals;
    m.insert(
        "scaled_residuals".into(),
        json!({
            "min": num(q[0]), "q1": num(q[1]), "median": num(q[2]), "q3": num(q[3]), "max": num(q[4]),
        }),
    );
    m.insert(
        "icc".into(),
        icc(fit).map_or(Value::Null, |(g, v)| json!({ "group": g, "value": num(v) })),
    );
    m.insert(
        "ranef".into(),
        fit.ranef
            .iter()
            .map(|r| {
                json!({
                    "group": r.group,
                    "terms": r.terms,
                    "levels": r.levels,
                    "values": r.values.iter().map(|v| nums(v)).collect::<Vec<_>>(),
                    "cond_var": r.cond_var.iter().map(|v| nums(v)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    );
    Value::Object(m)
}
