//! The compiled half of the Python package `multilevel` (imported as `multilevel._multilevel`).
//!
//! It wraps the facade crate `multilevel` and adds no statistics of its own. Data arrive
//! through the Arrow PyCapsule interface (pandas, polars, pyarrow, DuckDB: the Arrow buffers
//! are read in Rust, see [`arrow_in`]) or, for dicts of lists and NumPy arrays, as plain
//! columns (numbers with `None` for missing, or factor codes with their levels). The fits run
//! with the GIL released, and results go back either as the facade's plain-data structs
//! serialised to JSON (read by the Python layer into DataFrames) or as the report crate's text.

use multilevel::frame::Column;
use multilevel::report::{CrossLevelNote, FitReport, Format, OverdispersionNote, Render};
use multilevel::{
    Contrasts, DataFrame, Ddf, FitOptions, GlmerOptions, IntervalMethod, MixedModel,
    PredictOptions, PredictScale, Quadrature, ReForm, SimulateOptions, SimulateReForm,
};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::borrow::Cow;

mod arrow_in;
mod workflow;

create_exception!(
    _multilevel,
    MultilevelError,
    PyValueError,
    "An error of the multilevel pipeline (bad formula, data, options, or a failed fit), with the library's one-line message naming what went wrong and a hint."
);

/// The library's error as a Python exception, with its one-line message.
fn py_err(e: impl std::fmt::Display) -> PyErr {
    MultilevelError::new_err(e.to_string())
}

/// One column as the Python side sends it: `(name, kind, values, levels, ordered)` where
/// `kind` is `"num"` (values: floats, `None` or NaN missing), `"factor"` (values: 0-based
/// codes, negative missing; levels: labels in level order), or their raw-buffer forms from
/// NumPy: `"f64"` (bytes of native float64, NaN missing) and `"codes"` (bytes of native int32
/// codes, negative missing).
type PyColumn<'py> = (String, String, Bound<'py, PyAny>, Option<Vec<String>>, bool);

/// A data table read through the Arrow PyCapsule interface (see [`arrow_in`]), held by Python
/// between reading it and the fit.
#[pyclass(module = "multilevel._multilevel", frozen)]
pub struct Frame {
    df: DataFrame,
}

#[pymethods]
impl Frame {
    /// Number of rows.
    #[getter]
    fn nrows(&self) -> usize {
        self.df.nrows()
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.df
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect()
    }
}

/// Data as the Python side sends it: a table read from Arrow, or plain columns.
#[derive(FromPyObject)]
enum DataIn<'py> {
    /// Read through the Arrow PyCapsule interface.
    Arrow(Bound<'py, Frame>),
    /// Column by column (dicts of lists / NumPy arrays, or when Arrow is not available).
    Columns(Vec<PyColumn<'py>>),
}

/// The library's data table of `data` (borrowed when it was read from Arrow).
fn frame_of<'a>(data: &'a DataIn<'_>, name: &str) -> PyResult<Cow<'a, DataFrame>> {
    match data {
        DataIn::Arrow(f) => Ok(Cow::Borrowed(&f.get().df)),
        DataIn::Columns(c) => Ok(Cow::Owned(build_frame(name, c)?)),
    }
}

/// Build the library's data table from the Python columns.
fn build_frame(name: &str, columns: &[PyColumn<'_>]) -> PyResult<DataFrame> {
    let mut df = DataFrame::new(name);
    for (col, kind, values, levels, ordered) in columns {
        let (col, ordered) = (col.as_str(), *ordered);
        df = match kind.as_str() {
            "num" => {
                let v: Vec<Option<f64>> = values.extract()?;
                let v = v.into_iter().map(|x| x.filter(|x| !x.is_nan())).collect();
                df.with_numeric_opt(col, v).map_err(py_err)?
            }
            "f64" => {
                let bytes = values.cast::<PyBytes>()?.as_bytes();
                let v = native_chunks::<8>(col, bytes)?
                    .map(|b| Some(f64::from_ne_bytes(b)).filter(|x| !x.is_nan()))
                    .collect();
                df.with_numeric_opt(col, v).map_err(py_err)?
            }
            "codes" => {
                let bytes = values.cast::<PyBytes>()?.as_bytes();
                let codes = native_chunks::<4>(col, bytes)?
                    .map(|b| u32::try_from(i32::from_ne_bytes(b)).ok())
                    .collect();
                let levels = levels.clone().unwrap_or_default();
                df.with_factor_opt(col, codes, levels, ordered)
                    .map_err(py_err)?
            }
            "factor" => {
                let codes: Vec<i64> = values.extract()?;
                let levels = levels.clone().unwrap_or_default();
                let codes = codes.into_iter().map(|c| u32::try_from(c).ok()).collect();
                df.with_factor_opt(col, codes, levels, ordered)
                    .map_err(py_err)?
            }
            other => {
                return Err(py_err(format!(
                    "column `{col}`: unknown column kind `{other}`; hint: the kinds are num and factor"
                )));
            }
        };
    }
    Ok(df)
}

/// The `N`-byte values of a raw column buffer (NumPy's `tobytes()`, native byte order).
fn native_chunks<'b, const N: usize>(
    col: &str,
    bytes: &'b [u8],
) -> PyResult<impl Iterator<Item = [u8; N]> + 'b> {
    if !bytes.len().is_multiple_of(N) {
        return Err(py_err(format!(
            "column `{col}`: a buffer of {} bytes is not a whole number of {N}-byte values; hint: pass the column as a list",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|c| <[u8; N]>::try_from(c).unwrap_or([0; N])))
}

/// The columns of a data table in the form [`build_frame`] reads (for the embedded data sets).
fn frame_columns(py: Python<'_>, df: &DataFrame) -> PyResult<Vec<Py<PyAny>>> {
    let mut out = Vec::new();
    for name in df.column_names() {
        let item = match df.column(name) {
            Some(Column::Numeric(v)) => (name, "num", v.clone(), None::<Vec<String>>, false)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Some(Column::Factor(f)) => {
                let codes: Vec<i64> = f.codes.iter().map(|c| c.map_or(-1, i64::from)).collect();
                (name, "factor", codes, Some(f.levels.clone()), f.ordered)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
            None => continue,
        };
        out.push(item);
    }
    Ok(out)
}

fn contrasts_from(map: Option<Vec<(String, String)>>) -> PyResult<FitOptions> {
    let mut opts = FitOptions::default();
    for (col, name) in map.unwrap_or_default() {
        let c = match name.as_str() {
            "treatment" | "contr.treatment" => Contrasts::Treatment,
            "sum" | "contr.sum" => Contrasts::Sum,
            "helmert" | "contr.helmert" => Contrasts::Helmert,
            "poly" | "contr.poly" => Contrasts::Poly,
            other => {
                return Err(py_err(format!(
                    "contrasts of `{col}`: unknown contrasts `{other}`; hint: use treatment, sum, helmert or poly"
                )));
            }
        };
        opts.contrasts.insert(col, c);
    }
    Ok(opts)
}

fn parse_ddf(ddf: Option<&str>) -> PyResult<Ddf> {
    match ddf.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("none") | Some("lme4") => Ok(Ddf::None),
        Some("satterthwaite") => Ok(Ddf::Satterthwaite),
        Some("kenward-roger") | Some("kenward_roger") | Some("kr") | Some("kenwardroger") => {
            Ok(Ddf::KenwardRoger)
        }
        Some(other) => Err(py_err(format!(
            "unknown ddf `{other}`; hint: use \"Satterthwaite\", \"Kenward-Roger\" or None"
        ))),
    }
}

fn parse_re_form(re_form: Option<&str>) -> ReForm {
    match re_form.map(str::trim) {
        None => ReForm::All,
        Some(s) if s.replace(' ', "") == "~0" || s.is_empty() || s == "NA" => ReForm::None,
        Some(s) => {
            let body = s.trim_start_matches('~');
            ReForm::Terms(
                body.split('+')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            )
        }
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(py_err)
}

fn cross_level(m: &dyn MixedModel) -> Vec<CrossLevelNote> {
    m.cross_level_interactions()
        .into_iter()
        .map(|t| CrossLevelNote {
            term: t.term,
            group: t.group,
            level1: t.level1,
            level2: t.level2,
        })
        .collect()
}

/// Per used row: the data row index, fitted value, response residual and the population-level
/// linear predictor `Xβ̂ + offset` (what broom.mixed's `augment` adds).
fn augment_parts(
    m: &dyn MixedModel,
    fitted: &[f64],
    resid: &[f64],
) -> (Vec<usize>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let design = m.design();
    let beta = m.fixef();
    let rows = m.frame().rows.clone();
    let fixed = (0..rows.len())
        .map(|i| {
            let mut f = design.offset.as_ref().map_or(0.0, |o| o[i]);
            for (j, b) in beta.iter().enumerate() {
                f += design.x[(i, j)] * b;
            }
            f
        })
        .collect();
    (rows, fitted.to_vec(), resid.to_vec(), fixed)
}

/// A figure of a fitted model as SVG text: `caterpillar` (conditional modes with intervals),
/// `residuals` (residuals against fitted and a normal QQ plot), `shrinkage` (per-group
/// estimates against the conditional modes) or `groups` (per-group lines, one-factor models).
/// lme4's `coef()` of a fitted model as JSON: one table per grouping factor.
fn coef_json(m: &dyn MixedModel) -> PyResult<String> {
    let tables: Vec<serde_json::Value> = m
        .coef()
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "group": c.group, "terms": c.terms, "levels": c.levels, "values": c.values
            })
        })
        .collect();
    json(&tables)
}

fn plot_svg(m: &dyn MixedModel, kind: &str, reml: bool) -> PyResult<String> {
    match draw(m, kind, reml, false)? {
        Image::Svg(s) => Ok(s),
        Image::Png(_) => Err(py_err("internal error: an SVG figure came back as PNG")),
    }
}

fn plot_png(m: &dyn MixedModel, kind: &str, reml: bool) -> PyResult<Vec<u8>> {
    match draw(m, kind, reml, true)? {
        Image::Png(b) => Ok(b),
        Image::Svg(_) => Err(py_err("internal error: a PNG figure came back as SVG")),
    }
}

/// A rendered figure.
enum Image {
    Svg(String),
    Png(Vec<u8>),
}

/// `fig` rendered as PNG bytes or SVG text at its default size.
fn render<F: multilevel::plot::Figure>(
    fig: &F,
    png: bool,
) -> Result<Image, multilevel::plot::PlotError> {
    if png {
        multilevel::plot::render_png_bytes(fig, None).map(Image::Png)
    } else {
        multilevel::plot::render_svg_string(fig, None).map(Image::Svg)
    }
}

/// Draw the figure `kind` of `m`.
fn draw(m: &dyn MixedModel, kind: &str, reml: bool, png: bool) -> PyResult<Image> {
    use multilevel::plot;
    let out = match kind {
        "caterpillar" => plot::figures::caterpillar(m.summary()).and_then(|f| render(&f, png)),
        "residuals" => plot::figures::residuals(m.summary()).and_then(|f| render(&f, png)),
        "shrinkage" => {
            plot::figures::shrinkage(m.design(), m.summary()).and_then(|f| render(&f, png))
        }
        "groups" => plot::figures::groups(m.design(), reml).and_then(|f| render(&f, png)),
        "boxplot" => plot::figures::boxplot(m.design()).and_then(|f| render(&f, png)),
        "estimators" => plot::figures::estimators(m.design(), reml).and_then(|f| render(&f, png)),
        other => {
            return Err(py_err(format!(
                "unknown figure `{other}`; hint: use caterpillar, residuals, shrinkage, groups, boxplot or estimators"
            )));
        }
    };
    out.map_err(py_err)
}

type PredictOut = (Vec<Option<f64>>, Option<Vec<Option<f64>>>, usize);

fn predict_options(
    re_form: Option<&str>,
    allow_new_levels: bool,
    se_fit: bool,
    response: bool,
) -> PredictOptions {
    PredictOptions {
        re_form: parse_re_form(re_form),
        allow_new_levels,
        se_fit,
        scale: if response {
            PredictScale::Response
        } else {
            PredictScale::Link
        },
    }
}

fn simulate_options(nsim: usize, seed: u64, use_u: bool) -> SimulateOptions {
    SimulateOptions {
        nsim,
        seed,
        re_form: if use_u {
            SimulateReForm::All
        } else {
            SimulateReForm::None
        },
    }
}

fn interval_method(method: &str, nsim: usize, seed: u64) -> PyResult<IntervalMethod> {
    match method.to_ascii_lowercase().as_str() {
        "wald" => Ok(IntervalMethod::Wald),
        "profile" => Ok(IntervalMethod::Profile),
        "boot" | "bootstrap" => Ok(IntervalMethod::Bootstrap { nsim, seed }),
        other => Err(py_err(format!(
            "unknown interval method `{other}`; hint: use \"Wald\", \"profile\" or \"boot\""
        ))),
    }
}

/// A fitted linear mixed model (the facade's `LinearMixedModel`).
#[pyclass(module = "multilevel._multilevel")]
pub struct Lmm {
    model: multilevel::LinearMixedModel,
}

#[pymethods]
impl Lmm {
    /// The fit's results as JSON (the facade's `FitResult`).
    fn result_json(&self) -> PyResult<String> {
        json(self.model.summary())
    }

    /// The fit with `ddf` df and p-values of the coefficients, as JSON.
    #[pyo3(signature = (ddf=None))]
    fn result_with_df_json(&mut self, py: Python<'_>, ddf: Option<&str>) -> PyResult<String> {
        let ddf = parse_ddf(ddf)?;
        let model = &mut self.model;
        let fit = py.detach(|| model.summary_with_df(ddf)).map_err(py_err)?;
        json(&fit)
    }

    /// The lme4 (lmerTest with a ddf) summary as text, as `multilevel fit` prints it.
    #[pyo3(signature = (ddf=None, format="text"))]
    fn summary_text(
        &mut self,
        py: Python<'_>,
        ddf: Option<&str>,
        format: &str,
    ) -> PyResult<String> {
        let ddf = parse_ddf(ddf)?;
        let model = &mut self.model;
        let fit = py.detach(|| model.summary_with_df(ddf)).map_err(py_err)?;
        let options = multilevel::report::RenderOptions {
            df_method: ddf.display_name().map(str::to_string),
            cross_level: cross_level(&self.model),
            ..Default::default()
        };
        Ok(FitReport {
            fit: &fit,
            options: &options,
        }
        .render(parse_format(format)?))
    }

    /// lmerTest's type III ANOVA table as JSON.
    #[pyo3(signature = (ddf=Some("Satterthwaite")))]
    fn anova_json(&mut self, py: Python<'_>, ddf: Option<&str>) -> PyResult<String> {
        let ddf = parse_ddf(ddf)?;
        let model = &mut self.model;
        let rows = py.detach(|| model.anova(ddf)).map_err(py_err)?;
        json(&rows)
    }

    /// Confidence intervals as JSON.
    #[pyo3(signature = (method="Wald", level=0.95, nsim=500, seed=1))]
    fn confint_json(
        &self,
        py: Python<'_>,
        method: &str,
        level: f64,
        nsim: usize,
        seed: u64,
    ) -> PyResult<String> {
        let method = interval_method(method, nsim, seed)?;
        let model = &self.model;
        let ci = py.detach(|| model.confint(method, level)).map_err(py_err)?;
        json(&ci)
    }

    /// lme4's `coef()` as JSON.
    fn coef_json(&self) -> PyResult<String> {
        coef_json(&self.model)
    }

    /// Likelihood-ratio tests against other fitted models (lme4's `anova(m1, m2, ...)`) as
    /// JSON, and the text table.
    fn compare(&self, others: Vec<PyRef<'_, Lmm>>) -> PyResult<(String, String)> {
        let mut all = vec![&self.model];
        all.extend(others.iter().map(|o| &o.model));
        let table = multilevel::LinearMixedModel::compare_all(&all).map_err(py_err)?;
        let text = multilevel::report::render_compare(&table, &self.model.data_name, Format::Text);
        Ok((json(&table)?, text))
    }

    /// Predictions for new data: (fit, se_fit or None, number of rows at new levels).
    #[pyo3(signature = (data, re_form=None, allow_new_levels=false, se_fit=false))]
    fn predict(
        &self,
        py: Python<'_>,
        data: DataIn<'_>,
        re_form: Option<&str>,
        allow_new_levels: bool,
        se_fit: bool,
    ) -> PyResult<PredictOut> {
        let data = frame_of(&data, "newdata")?;
        let opts = predict_options(re_form, allow_new_levels, se_fit, false);
        let model = &self.model;
        let p = py.detach(|| model.predict(&data, &opts)).map_err(py_err)?;
        Ok((p.fit, p.se_fit, p.n_new_levels))
    }

    /// Simulated responses, `out[s][i]`.
    #[pyo3(signature = (nsim=1, seed=1, use_u=false))]
    fn simulate(
        &self,
        py: Python<'_>,
        nsim: usize,
        seed: u64,
        use_u: bool,
    ) -> PyResult<Vec<Vec<f64>>> {
        let opts = simulate_options(nsim, seed, use_u);
        let model = &self.model;
        py.detach(|| model.simulate(&opts)).map_err(py_err)
    }

    /// (data rows used, fitted, residuals, population-level fit).
    fn augment_parts(&self) -> (Vec<usize>, Vec<f64>, Vec<f64>, Vec<f64>) {
        augment_parts(&self.model, self.model.fitted(), self.model.residuals())
    }

    /// A figure as SVG text (see [`plot_svg`]).
    fn plot_svg(&self, kind: &str) -> PyResult<String> {
        plot_svg(&self.model, kind, self.model.options().reml)
    }

    /// A figure of the fit as PNG bytes.
    fn plot_png<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = plot_png(&self.model, kind, self.model.options().reml)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Names of the fixed-effect coefficients.
    fn fixef_names(&self) -> Vec<String> {
        self.model.fixef_names().to_vec()
    }

    /// The response the model was fitted to.
    fn response(&self) -> Vec<f64> {
        self.model.response().to_vec()
    }

    /// The variance parameters `(θ̂, σ̂)` and their asymptotic covariance `A = 2H⁻¹`, `H` the
    /// Hessian of the deviance in `(θ, σ)` (lmerTest's `vcov_varpar`), row-major.
    fn vcov_varpar(&mut self, py: Python<'_>) -> PyResult<(Vec<f64>, Vec<f64>)> {
        let model = &mut self.model;
        py.detach(|| {
            let inference = model.inference();
            let a = inference.vcov_varpar()?;
            Ok::<_, multilevel::inference::InferenceError>((inference.varpar().to_vec(), a))
        })
        .map_err(py_err)
    }
}

/// A fitted generalized linear mixed model (the facade's `GeneralizedLinearMixedModel`).
#[pyclass(module = "multilevel._multilevel")]
pub struct Glmm {
    model: multilevel::GeneralizedLinearMixedModel,
}

#[pymethods]
impl Glmm {
    /// The fit's results as JSON.
    fn result_json(&self) -> PyResult<String> {
        json(self.model.summary())
    }

    /// The fit as JSON (GLMMs have z tests; `ddf` is accepted for a common interface).
    #[pyo3(signature = (ddf=None))]
    fn result_with_df_json(&self, ddf: Option<&str>) -> PyResult<String> {
        let _ = parse_ddf(ddf)?;
        json(self.model.summary())
    }

    /// glmer's summary as text, as `multilevel fit --family ...` prints it.
    #[pyo3(signature = (ddf=None, format="text"))]
    fn summary_text(&self, ddf: Option<&str>, format: &str) -> PyResult<String> {
        let _ = parse_ddf(ddf)?;
        let m = &self.model;
        let options = multilevel::report::RenderOptions {
            cross_level: cross_level(m),
            n_agq: Some(m.options().quadrature.n_agq()),
            overdispersion: m
                .glmm_fit()
                .overdispersion
                .as_ref()
                .map(|o| OverdispersionNote {
                    pearson_chisq: o.chisq,
                    df: o.df,
                    ratio: o.ratio,
                    p_value: o.p_value,
                    poisson: m.family().family.builtin_kind() == Some(multilevel::Family::Poisson),
                }),
            ..Default::default()
        };
        Ok(FitReport {
            fit: m.summary(),
            options: &options,
        }
        .render(parse_format(format)?))
    }

    /// Wald intervals as JSON (the one method for GLMMs).
    #[pyo3(signature = (method="Wald", level=0.95, nsim=500, seed=1))]
    fn confint_json(&self, method: &str, level: f64, nsim: usize, seed: u64) -> PyResult<String> {
        let method = interval_method(method, nsim, seed)?;
        json(&self.model.confint(method, level).map_err(py_err)?)
    }

    /// lme4's `coef()` as JSON.
    fn coef_json(&self) -> PyResult<String> {
        coef_json(&self.model)
    }

    /// Likelihood-ratio tests against other fitted GLMMs, as JSON and text.
    fn compare(&self, others: Vec<PyRef<'_, Glmm>>) -> PyResult<(String, String)> {
        let mut all = vec![&self.model];
        all.extend(others.iter().map(|o| &o.model));
        let table = multilevel::GeneralizedLinearMixedModel::compare_all(&all).map_err(py_err)?;
        let text = multilevel::report::render_compare(&table, &self.model.data_name, Format::Text);
        Ok((json(&table)?, text))
    }

    /// Predictions for new data on the link (default) or response scale.
    #[pyo3(signature = (data, re_form=None, allow_new_levels=false, se_fit=false, response=false))]
    fn predict(
        &self,
        py: Python<'_>,
        data: DataIn<'_>,
        re_form: Option<&str>,
        allow_new_levels: bool,
        se_fit: bool,
        response: bool,
    ) -> PyResult<PredictOut> {
        let data = frame_of(&data, "newdata")?;
        let opts = predict_options(re_form, allow_new_levels, se_fit, response);
        let p = self.model.predict(&data, &opts).map_err(py_err)?;
        let _ = py;
        Ok((p.fit, p.se_fit, p.n_new_levels))
    }

    /// Simulated responses, `out[s][i]`.
    #[pyo3(signature = (nsim=1, seed=1, use_u=false))]
    fn simulate(&self, nsim: usize, seed: u64, use_u: bool) -> PyResult<Vec<Vec<f64>>> {
        self.model
            .simulate(&simulate_options(nsim, seed, use_u))
            .map_err(py_err)
    }

    /// (data rows used, fitted means, response residuals, population-level linear predictor).
    fn augment_parts(&self) -> (Vec<usize>, Vec<f64>, Vec<f64>, Vec<f64>) {
        augment_parts(&self.model, self.model.fitted(), self.model.residuals())
    }

    /// A figure as SVG text (see [`plot_svg`]).
    fn plot_svg(&self, kind: &str) -> PyResult<String> {
        plot_svg(&self.model, kind, false)
    }

    /// A figure of the fit as PNG bytes.
    fn plot_png<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = plot_png(&self.model, kind, false)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Names of the fixed-effect coefficients.
    fn fixef_names(&self) -> Vec<String> {
        self.model.fixef_names().to_vec()
    }

    /// The response the model was fitted to.
    fn response(&self) -> Vec<f64> {
        self.model.response().to_vec()
    }

    /// Deviance and Pearson residuals.
    fn other_residuals(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.model.deviance_residuals().to_vec(),
            self.model.pearson_residuals().to_vec(),
        )
    }
}

fn parse_format(format: &str) -> PyResult<Format> {
    match format {
        "text" => Ok(Format::Text),
        "markdown" => Ok(Format::Markdown),
        "json" => Ok(Format::Json),
        other => Err(py_err(format!(
            "unknown report format `{other}`; hint: use text, markdown or json"
        ))),
    }
}

/// Fit a linear mixed model (lme4's `lmer`), with the GIL released during the fit.
#[pyfunction]
#[pyo3(signature = (formula, data, data_name="data", reml=true, weights=None, contrasts=None))]
fn lmer(
    py: Python<'_>,
    formula: &str,
    data: DataIn<'_>,
    data_name: &str,
    reml: bool,
    weights: Option<String>,
    contrasts: Option<Vec<(String, String)>>,
) -> PyResult<Lmm> {
    let data = frame_of(&data, data_name)?;
    let mut opts = contrasts_from(contrasts)?;
    opts.reml = reml;
    opts.weights = weights;
    let model = py
        .detach(|| multilevel::lmer(formula, &data, &opts))
        .map_err(py_err)?;
    Ok(Lmm { model })
}

/// Fit a generalized linear mixed model (lme4's `glmer`), with the GIL released during the fit.
#[pyfunction]
#[pyo3(signature = (formula, data, data_name="data", family="binomial", link=None, nagq=1, weights=None, contrasts=None))]
#[allow(clippy::too_many_arguments)]
fn glmer(
    py: Python<'_>,
    formula: &str,
    data: DataIn<'_>,
    data_name: &str,
    family: &str,
    link: Option<&str>,
    nagq: usize,
    weights: Option<String>,
    contrasts: Option<Vec<(String, String)>>,
) -> PyResult<Glmm> {
    let data = frame_of(&data, data_name)?;
    let spec = multilevel::FamilySpec::parse(family, link).map_err(py_err)?;
    let mut fit = contrasts_from(contrasts)?;
    fit.weights = weights;
    let opts = GlmerOptions {
        fit,
        quadrature: Quadrature::from_n_agq(nagq),
    };
    let model = py
        .detach(|| multilevel::glmer(formula, &data, spec, &opts))
        .map_err(py_err)?;
    Ok(Glmm { model })
}

/// Read a table through the Arrow PyCapsule interface (`__arrow_c_stream__`,
/// `__arrow_c_array__`, or the stream capsule itself): only the `wanted` columns when given
/// (every readable column when one of them is missing, so the fit's error lists the real
/// columns), the `ordered` columns as ordered factors.
#[pyfunction]
#[pyo3(signature = (obj, data_name="data", wanted=None, ordered=None))]
fn arrow_frame(
    obj: &Bound<'_, PyAny>,
    data_name: &str,
    wanted: Option<Vec<String>>,
    ordered: Option<Vec<String>>,
) -> PyResult<Frame> {
    let df = arrow_in::arrow_frame(
        obj,
        data_name,
        wanted.as_deref(),
        ordered.as_deref().unwrap_or_default(),
    )?;
    Ok(Frame { df })
}

/// The columns of an embedded data set.
#[pyfunction]
fn dataset(py: Python<'_>, name: &str) -> PyResult<Vec<Py<PyAny>>> {
    let df = multilevel::dataset(name).map_err(py_err)?;
    frame_columns(py, &df)
}

/// The names of the embedded data sets.
#[pyfunction]
fn dataset_names() -> Vec<String> {
    multilevel::datasets::all()
        .iter()
        .map(|d| d.name.to_string())
        .collect()
}

/// The variables a formula reads from the data (so the Python side converts only those).
#[pyfunction]
fn formula_variables(formula: &str) -> PyResult<Vec<String>> {
    Ok(multilevel::formula::parse(formula)
        .map_err(py_err)?
        .variables())
}

/// The exploratory workflow (`multilevel explore`): clustering summaries, the OLS, between,
/// within and random-effects estimators and the Hausman test; (JSON, text report).
#[pyfunction]
#[pyo3(signature = (formula, data, groups, data_name="data", bootstrap=200, seed=20_240_601))]
fn explore(
    py: Python<'_>,
    formula: &str,
    data: DataIn<'_>,
    groups: Vec<String>,
    data_name: &str,
    bootstrap: usize,
    seed: u64,
) -> PyResult<(String, String)> {
    use multilevel::workflow::{ExploreOptions, explore, parse_simple_formula};
    let data = frame_of(&data, data_name)?;
    let (response, predictors) = parse_simple_formula(formula).map_err(py_err)?;
    let opts = ExploreOptions {
        bootstrap,
        seed,
        ..ExploreOptions::default()
    };
    let report = py
        .detach(|| explore(&data, &response, &predictors, &groups, &opts))
        .map_err(py_err)?;
    Ok((json(&report)?, report.render(Format::Text)))
}

/// The compiled module.
#[pymodule]
fn _multilevel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MultilevelError", m.py().get_type::<MultilevelError>())?;
    m.add_class::<Lmm>()?;
    m.add_class::<Glmm>()?;
    m.add_function(wrap_pyfunction!(lmer, m)?)?;
    m.add_function(wrap_pyfunction!(glmer, m)?)?;
    m.add_class::<Frame>()?;
    m.add_function(wrap_pyfunction!(arrow_frame, m)?)?;
    m.add_function(wrap_pyfunction!(dataset, m)?)?;
    m.add_function(wrap_pyfunction!(dataset_names, m)?)?;
    m.add_function(wrap_pyfunction!(formula_variables, m)?)?;
    m.add_function(wrap_pyfunction!(explore, m)?)?;
    m.add_function(wrap_pyfunction!(workflow::meta, m)?)?;
    m.add_function(wrap_pyfunction!(workflow::gee, m)?)?;
    m.add_function(wrap_pyfunction!(workflow::robust, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
