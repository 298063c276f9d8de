"""The lme4-style fitted-model objects: thin Python views of the extension's fitted models."""

from __future__ import annotations

import html
import json
import math
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _data
from . import _multilevel as _ext

MultilevelError = _ext.MultilevelError


def _nan(x: Optional[float]) -> float:
    return float("nan") if x is None else float(x)


def _columns(formula: str, data: Any, extra: Sequence[Optional[str]] = (),
             name: str = "data") -> Any:
    """The data the formula (and ``extra`` options) read, as the extension takes it (see
    ``_data.to_data``)."""
    wanted = set(_ext.formula_variables(formula))
    wanted.update(e for e in extra if e)
    return _data.to_data(data, name, wanted)


def _contrast_list(contrasts: Optional[Dict[str, str]]) -> Optional[list]:
    if not contrasts:
        return None
    return [(str(k), str(v)) for k, v in contrasts.items()]


def _data_name(data: Any) -> str:
    name = getattr(data, "name", None)
    if isinstance(name, str) and name:
        return name
    attrs = getattr(data, "attrs", None)
    if isinstance(attrs, dict) and isinstance(attrs.get("name"), str):
        return attrs["name"]
    return "data"


class _Fitted:
    """What an LMM and a GLMM answer the same way (lme4's ``merMod``)."""

    _m: Any
    _data: Any

    def __init__(self, model: Any, data: Any, formula: str):
        self._m = model
        self._data = data
        self.formula = formula
        self._fit_cache: Optional[Dict[str, Any]] = None

    @property
    def _fit(self) -> Dict[str, Any]:
        """The fit's results (the library's JSON report), read on first use so that the call
        that fits does not pay for it."""
        if self._fit_cache is None:
            self._fit_cache = json.loads(self._m.result_json())
        return self._fit_cache

    # ---- numbers -------------------------------------------------------------------------
    @property
    def fixef(self) -> Any:
        """β̂ by coefficient name (lme4's ``fixef()``): a pandas Series, or a dict."""
        names = [f["term"] for f in self._fit["fixed"]]
        return _data.series([_nan(f["estimate"]) for f in self._fit["fixed"]], names, "fixef")

    @property
    def vcov(self) -> Any:
        """``vcov(β̂)``: a DataFrame (or dict of columns) indexed by coefficient."""
        names = [f["term"] for f in self._fit["fixed"]]
        p = len(names)
        v = [_nan(x) for x in self._fit["vcov"]]
        return _data.table({names[j]: [v[i * p + j] for i in range(p)] for j in range(p)},
                           index=names)

    @property
    def ranef(self) -> Any:
        """The conditional modes with their conditional SDs, one row per group level and term
        (lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``: grpvar, term, grp, condval,
        condsd)."""
        out: Dict[str, list] = {"grpvar": [], "term": [], "grp": [], "condval": [], "condsd": []}
        for r in self._fit["ranef"]:
            k = len(r["terms"])
            cv = r.get("cond_var") or []
            for t_i, term in enumerate(r["terms"]):
                for l_i, level in enumerate(r["levels"]):
                    out["grpvar"].append(r["group"])
                    out["term"].append(term)
                    out["grp"].append(level)
                    out["condval"].append(_nan(r["values"][l_i][t_i]))
                    sd = float("nan")
                    if l_i < len(cv) and cv[l_i] is not None and len(cv[l_i]) == k * k:
                        var = cv[l_i][t_i * k + t_i]
                        if var is not None and var >= 0:
                            sd = math.sqrt(var)
                    out["condsd"].append(sd)
        return _data.table(out)

    @property
    def varcorr(self) -> Any:
        """The variance components (lme4's ``as.data.frame(VarCorr(fit))``: grp, var1, var2,
        vcov, sdcor; a correlation row has var2 set, its vcov is the covariance)."""
        out: Dict[str, list] = {"grp": [], "var1": [], "var2": [], "vcov": [], "sdcor": []}
        sd: Dict[tuple, float] = {}
        groups: List[str] = []
        for v in self._fit["random"]:
            if v["group"] not in groups:
                groups.append(v["group"])
            sd[(v["group"], v["term"])] = _nan(v["std_dev"])
        for g in groups:
            for v in self._fit["random"]:
                if v["group"] == g:
                    out["grp"].append(g)
                    out["var1"].append(v["term"])
                    out["var2"].append(None)
                    out["vcov"].append(_nan(v["variance"]))
                    out["sdcor"].append(_nan(v["std_dev"]))
            for c in self._fit["correlations"]:
                if c["group"] == g:
                    r = _nan(c["corr"])
                    out["grp"].append(g)
                    out["var1"].append(c["term1"])
                    out["var2"].append(c["term2"])
                    out["vcov"].append(r * sd.get((g, c["term1"]), float("nan"))
                                       * sd.get((g, c["term2"]), float("nan")))
                    out["sdcor"].append(r)
        res = self._fit.get("residual")
        if res:
            out["grp"].append("Residual")
            out["var1"].append(None)
            out["var2"].append(None)
            out["vcov"].append(_nan(res["variance"]))
            out["sdcor"].append(_nan(res["std_dev"]))
        return _data.table(out)

    @property
    def coef(self) -> Dict[str, Any]:
        """lme4's ``coef()``: per grouping factor, a table of fixed + random effects per level."""
        out = {}
        for c in json.loads(self._m.coef_json()):
            cols = {t: [_nan(row[j]) for row in c["values"]] for j, t in enumerate(c["terms"])}
            out[c["group"]] = _data.table(cols, index=list(c["levels"]))
        return out

    @property
    def theta(self) -> List[float]:
        """θ̂, lme4's relative covariance parameters."""
        return [_nan(x) for x in self._fit["theta"]]

    @property
    def sigma(self) -> float:
        """σ̂ (1 for the binomial and Poisson families)."""
        return _nan(self._fit["sigma"])

    @property
    def loglik(self) -> float:
        """The log-likelihood (REML or ML; Laplace or AGQ for a GLMM)."""
        return _nan(self._fit["loglik"])

    @property
    def aic(self) -> float:
        """AIC."""
        return _nan(self._fit["aic"])

    @property
    def bic(self) -> float:
        """BIC."""
        return _nan(self._fit["bic"])

    @property
    def deviance(self) -> Optional[float]:
        """lme4's ``deviance()``."""
        d = self._fit.get("deviance")
        return None if d is None else float(d)

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self._fit["nobs"])

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values."""
        return int(self._fit["n_dropped_missing"])

    @property
    def singular(self) -> bool:
        """Whether the fit is singular."""
        return bool(self._fit["singular"])

    @property
    def converged(self) -> bool:
        """Whether the optimiser converged and its checks passed."""
        return bool(self._fit["converged"])

    @property
    def warnings(self) -> List[str]:
        """The fit's warnings in plain words."""
        return list(self._fit["warnings"])

    @property
    def fitted(self) -> List[float]:
        """Fitted values (μ̂ for a GLMM), one per used row."""
        return [_nan(x) for x in self._fit["fitted"]]

    @property
    def residuals(self) -> List[float]:
        """Response residuals, one per used row."""
        return [_nan(x) for x in self._fit["residuals"]]

    @property
    def result(self) -> Dict[str, Any]:
        """The fit's plain-data results (the library's ``FitResult``) as a dict."""
        return json.loads(self._m.result_json())

    # ---- reports -------------------------------------------------------------------------
    def summary(self, ddf: Optional[str] = "default", format: str = "text") -> str:
        """The summary as ``multilevel fit`` prints it: lmerTest's (Satterthwaite t tests) for
        an LMM, glmer's for a GLMM; ``ddf=None`` gives lme4's table without df."""
        if ddf == "default":
            ddf = self._default_ddf
        return self._m.summary_text(ddf, format)

    _default_ddf: Optional[str] = None

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.formula!r}: nobs={self.nobs}, "
                f"logLik={self.loglik:.4f}>")

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"

    def tidy(self, ddf: Optional[str] = "default") -> Any:
        """broom.mixed's ``tidy()``: effect, group, term, estimate, std.error, statistic, df,
        p.value (df and p-values from ``ddf`` for an LMM, z tests for a GLMM)."""
        if ddf == "default":
            ddf = self._default_ddf
        fit = json.loads(self._m.result_with_df_json(ddf))
        cols: Dict[str, list] = {k: [] for k in ("effect", "group", "term", "estimate",
                                                 "std.error", "statistic", "df", "p.value")}

        def add(effect, group, term, est, se=None, stat=None, df=None, p=None):
            for k, v in zip(cols, (effect, group, term, _nan(est), _nan(se), _nan(stat),
                                   _nan(df), _nan(p))):
                cols[k].append(v)

        for f in fit["fixed"]:
            add("fixed", None, f["term"], f["estimate"], f["std_error"], f["statistic"],
                f.get("df"), f.get("p_value"))
        groups: List[str] = []
        for v in fit["random"]:
            if v["group"] not in groups:
                groups.append(v["group"])
        for g in groups:
            for v in fit["random"]:
                if v["group"] == g:
                    add("ran_pars", g, f"sd__{v['term']}", v["std_dev"])
            for c in fit["correlations"]:
                if c["group"] == g:
                    add("ran_pars", g, f"cor__{c['term1']}.{c['term2']}", c["corr"])
        if fit.get("residual"):
            add("ran_pars", "Residual", "sd__Observation", fit["residual"]["std_dev"])
        return _data.table(cols)

    def glance(self) -> Any:
        """broom.mixed's ``glance()``: nobs, sigma, logLik, AIC, BIC, deviance, df.residual."""
        f = self._fit
        return _data.table({"nobs": [int(f["nobs"])], "sigma": [_nan(f["sigma"])],
                            "logLik": [_nan(f["loglik"])], "AIC": [_nan(f["aic"])],
                            "BIC": [_nan(f["bic"])], "deviance": [_nan(f.get("deviance"))],
                            "df.residual": [_nan(f["df_resid"])]})

    def augment(self) -> Any:
        """broom.mixed's ``augment()``: the rows the fit used (data index kept), the formula's
        columns, ``.fitted``, ``.resid`` and ``.fixed`` (the population-level fit, on the link
        scale for a GLMM)."""
        rows, fitted, resid, fixed = self._m.augment_parts()
        cols = _data.to_columns(self._data, set(_ext.formula_variables(self.formula)))
        out: Dict[str, list] = {}
        for name, kind, values, levels, _ in cols:
            if kind == "num":
                out[name] = [_nan(values[r]) for r in rows]
            else:
                out[name] = [None if values[r] < 0 else levels[values[r]] for r in rows]
        out[".fitted"] = fitted
        out[".resid"] = resid
        out[".fixed"] = fixed
        return _data.table(out, index=list(rows))

    def confint(self, method: str = "Wald", level: float = 0.95, nsim: int = 500,
                seed: int = 1) -> Any:
        """Confidence intervals (lme4's ``confint(fit, method=)``): "Wald", "profile" or
        "boot" (LMMs); columns term, lower, upper."""
        rows = json.loads(self._m.confint_json(method, level, nsim, seed))
        return _intervals_table(rows)

    def predict(self, newdata: Any = None, re_form: Optional[str] = None,
                allow_new_levels: bool = False, se_fit: bool = False, **kw: Any) -> Any:
        """Predictions for new data (lme4's ``predict``): ``re_form=None`` uses every random
        effect, ``"~0"`` none (lme4's ``NA``), ``"~(1 | g)"`` the named terms. One value per
        row of ``newdata`` (NaN where a needed value is missing); with ``se_fit`` a table with
        ``fit`` and ``se.fit``."""
        data = self._data if newdata is None else newdata
        cols = _columns(self.formula, data, (), "newdata")
        fit, se, _ = self._predict(cols, re_form, allow_new_levels, se_fit, **kw)
        values = [_nan(x) for x in fit]
        if se_fit:
            return _data.table({"fit": values, "se.fit": [_nan(x) for x in (se or [])]})
        try:
            import numpy as np

            return np.asarray(values, dtype=float)
        except ImportError:  # pragma: no cover
            return values

    def simulate(self, nsim: int = 1, seed: int = 1, use_u: bool = False) -> Any:
        """Responses simulated from the fit (lme4's ``simulate``): ``nsim`` columns ``sim_1``,
        ... with one row per used row; new random effects unless ``use_u``."""
        sims = self._m.simulate(nsim, seed, use_u)
        return _data.table({f"sim_{s + 1}": col for s, col in enumerate(sims)})

    def plot(self, kind: str = "caterpillar") -> "Figure":
        """A figure of the fit as SVG (shown inline in notebooks; ``bytes(fig)`` or
        ``fig.save(path)``, ``fig.png``): "caterpillar", "residuals", "shrinkage", "groups",
        "boxplot" (the response by group, raw and centred) or "estimators" (OLS, between,
        within and random-effects slopes)."""
        return Figure(self._m.plot_svg(kind), lambda: self._m.plot_png(kind))

    def compare(self, *others: "_Fitted") -> "ComparisonTable":
        """Likelihood-ratio tests against other models (lme4's ``anova(m1, m2, ...)``)."""
        return compare(self, *others)


class Figure:
    """A figure: ``.svg`` the SVG text, ``.png`` the bytes of a PNG file (drawn on first use),
    ``bytes(fig)`` the SVG's UTF-8 bytes, ``.save(path)`` (SVG or PNG by the file name)."""

    def __init__(self, svg: str, png: Optional[Any] = None):
        self.svg = svg
        self._png_source = png
        self._png: Optional[bytes] = None

    def __bytes__(self) -> bytes:
        return self.svg.encode("utf-8")

    def _repr_svg_(self) -> str:
        return self.svg

    @property
    def png(self) -> bytes:
        """The figure as the bytes of a PNG file."""
        if self._png is None:
            if self._png_source is None:
                raise ValueError("this figure has no PNG rendering; hint: use .svg")
            self._png = bytes(self._png_source())
        return self._png

    def save(self, path: str) -> None:
        """Write the figure: PNG when ``path`` ends in ``.png``, otherwise SVG."""
        if str(path).lower().endswith(".png"):
            with open(path, "wb") as f:
                f.write(self.png)
            return
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg)


def _intervals_table(rows: List[Dict[str, Any]]) -> Any:
    cols: Dict[str, list] = {"term": [], "lower": [], "upper": []}
    for r in rows:
        cols["term"].append(r.get("term") or r.get("name"))
        cols["lower"].append(_nan(r.get("lower")))
        cols["upper"].append(_nan(r.get("upper")))
    return _data.table(cols)


class LinearMixedModel(_Fitted):
    """A fitted linear mixed model (lme4's ``lmer``)."""

    _default_ddf = "Satterthwaite"

    def _predict(self, cols, re_form, allow_new_levels, se_fit):
        return self._m.predict(cols, re_form, allow_new_levels, se_fit)

    def anova(self, ddf: str = "Satterthwaite") -> Any:
        """lmerTest's type III ANOVA table: term, sum_sq, mean_sq, num_df, den_df, f_value,
        p_value."""
        rows = json.loads(self._m.anova_json(ddf))
        if not rows:
            return _data.table({})
        keys = list(rows[0].keys())
        return _data.table({k: [r.get(k) for r in rows] for k in keys})


class GeneralizedLinearMixedModel(_Fitted):
    """A fitted generalized linear mixed model (lme4's ``glmer``)."""

    @property
    def family(self) -> str:
        """The family name as R prints it."""
        return self._fit["family"]

    @property
    def link(self) -> str:
        """The link name."""
        return self._fit["link"]

    def _predict(self, cols, re_form, allow_new_levels, se_fit, type: str = "link"):
        if type not in ("link", "response"):
            raise MultilevelError(
                f"unknown prediction type `{type}`; hint: use \"link\" or \"response\"")
        return self._m.predict(cols, re_form, allow_new_levels, se_fit, type == "response")

    def deviance_residuals(self) -> List[float]:
        """Deviance residuals (lme4's default ``residuals()`` of a GLMM)."""
        return self._m.other_residuals()[0]

    def pearson_residuals(self) -> List[float]:
        """Pearson residuals."""
        return self._m.other_residuals()[1]


class ComparisonTable:
    """A likelihood-ratio comparison (lme4's ``anova(m1, m2)``): ``.table`` the rows,
    ``.notes``, ``.refitted``; prints as the text table."""

    def __init__(self, raw: Dict[str, Any], text: str):
        self.raw = raw
        self.text = text
        self.refitted = bool(raw.get("refitted", False))
        self.notes = list(raw.get("notes", []))
        rows = raw.get("rows", [])
        keys = list(rows[0].keys()) if rows else []
        self.table = _data.table({k: [r.get(k) for r in rows] for k in keys})

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.text) + "</pre>"


def compare(first: _Fitted, *others: _Fitted) -> ComparisonTable:
    """Likelihood-ratio tests of nested models fitted to the same rows (lme4's
    ``anova(m1, m2, ...)``; REML fits are refitted by ML first)."""
    if not others:
        raise MultilevelError(
            "compare needs at least two models; hint: ml.compare(m1, m2)")
    kinds = {type(m) for m in (first, *others)}
    if len(kinds) != 1:
        raise MultilevelError(
            "compare needs models of one kind (all lmer or all glmer fits); hint: compare "
            "linear and generalized models separately")
    raw, text = first._m.compare([o._m for o in others])
    return ComparisonTable(json.loads(raw), text)


def lmer(formula: str, data: Any, reml: bool = True, weights: Optional[str] = None,
         contrasts: Optional[Dict[str, str]] = None) -> LinearMixedModel:
    """Fit a linear mixed model (lme4's ``lmer(formula, data, REML = reml, weights = )``).

    ``data``: a pandas or polars DataFrame, a pyarrow Table, anything with
    ``__arrow_c_stream__``, or a dict of column name -> list / NumPy array. ``weights`` names a
    column. ``contrasts`` maps factor columns to "treatment", "sum", "helmert" or "poly".
    """
    name = _data_name(data)
    cols = _columns(formula, data, [weights], name)
    m = _ext.lmer(formula, cols, name, reml, weights, _contrast_list(contrasts))
    return LinearMixedModel(m, data, formula)


def glmer(formula: str, data: Any, family: str = "binomial", link: Optional[str] = None,
          nagq: int = 1, weights: Optional[str] = None,
          contrasts: Optional[Dict[str, str]] = None) -> GeneralizedLinearMixedModel:
    """Fit a generalized linear mixed model (lme4's ``glmer(formula, data, family, nAGQ)``):
    family "binomial", "poisson", "Gamma" or "inverse.gaussian", with an optional link."""
    name = _data_name(data)
    cols = _columns(formula, data, [weights], name)
    m = _ext.glmer(formula, cols, name, family, link, int(nagq), weights,
                   _contrast_list(contrasts))
    return GeneralizedLinearMixedModel(m, data, formula)


def load_dataset(name: str) -> Any:
    """An embedded data set (``sleepstudy``, ``Hsb82``, ``cbpp``, ...) as a pandas DataFrame
    with its factors as categoricals, or a plain table without pandas."""
    cols = _ext.dataset(name)
    frame = _data.columns_to_frame(name, cols)
    if _data._pd is not None:
        frame.attrs["name"] = name
    return frame


def dataset_names() -> List[str]:
    """The names of the embedded data sets."""
    return list(_ext.dataset_names())


Model = Union[LinearMixedModel, GeneralizedLinearMixedModel]


class ExploreResult:
    """The exploratory workflow's report (``multilevel explore``): ``.groups`` (ICC per
    grouping factor), ``.estimators`` (OLS, between, within, random effects, ...),
    ``.hausman``, ``.raw`` (all of it as a dict); prints as the text report."""

    def __init__(self, raw: Dict[str, Any], text: str):
        self.raw = raw
        self.text = text
        self.hausman = raw.get("hausman")
        self.notes = list(raw.get("notes", []))

        def rows_table(rows: List[Dict[str, Any]]) -> Any:
            keys: List[str] = []
            for r in rows:
                for k in r:
                    if k not in keys:
                        keys.append(k)
            return _data.table({k: [r.get(k) for r in rows] for k in keys})

        self.groups = rows_table(raw.get("groups", []))
        self.estimators = rows_table(raw.get("estimators", []))

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.text) + "</pre>"


def explore(formula: str, data: Any, groups: Union[str, Sequence[str]],
            bootstrap: int = 200, seed: int = 20240601) -> ExploreResult:
    """The first steps of a multilevel analysis (``multilevel explore``): for ``y ~ x1 + x2``
    (plain numeric columns) clustered by ``groups``, the ICC of each grouping factor, the
    pooled OLS, between, within (fixed effects) and random-effects estimators of the slopes,
    and the Hausman test."""
    if isinstance(groups, str):
        groups = [groups]
    wanted = set(_ext.formula_variables(formula)) | set(groups)
    name = _data_name(data)
    cols = _data.to_data(data, name, wanted)
    raw, text = _ext.explore(formula, cols, list(groups), name, int(bootstrap),
                             int(seed))
    return ExploreResult(json.loads(raw), text)
