"""Meta-analysis, GEE and cluster-robust standard errors: ``ml.meta``, ``ml.gee``,
``ml.robust`` (the library's ``multilevel meta``, ``multilevel gee`` and ``multilevel robust``).

Each returns an object with ``summary()`` (the command's text report), ``tidy()`` (broom's
columns), ``.raw`` (the command's JSON report as a dict) and the numbers as attributes.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Optional

from . import _data
from . import _multilevel as _ext

MultilevelError = _ext.MultilevelError


def _nan(x: Optional[float]) -> float:
    return float("nan") if x is None else float(x)


def _data_name(data: Any) -> str:
    from ._models import _data_name as name

    return name(data)


def _vcov_table(names: List[str], flat: List[Optional[float]]) -> Any:
    p = len(names)
    v = [_nan(x) for x in flat]
    return _data.table({names[j]: [v[i * p + j] for i in range(p)] for j in range(p)},
                       index=names)


class _Report:
    """What the three results share: the text and JSON reports."""

    def __init__(self, raw_json: str, text: str):
        self.raw: Dict[str, Any] = json.loads(raw_json)
        self._text = text

    def summary(self) -> str:
        """The report as the command-line program prints it."""
        return self._text

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._text

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self._text) + "</pre>"


class MetaAnalysis(_Report):
    """A random-effects meta-analysis or meta-regression (metafor's ``rma``).

    Attributes: ``estimate``, ``se``, ``ci`` (pooled effect: the first coefficient), ``tau2``,
    ``tau``, ``se_tau2``, ``i2``, ``h2``, ``r2`` (percent), ``q``, ``q_df``, ``q_p``
    (heterogeneity test), ``k`` (studies used), ``n_dropped`` (rows dropped for missing values),
    ``coefficients`` / ``tidy()``, ``vcov``, ``moderators`` (omnibus test), ``pi`` (prediction
    interval), ``weights`` (per study).
    """

    @property
    def estimate(self) -> float:
        """The pooled estimate (the intercept of a meta-regression)."""
        return _nan(self.raw["estimate"])

    @property
    def se(self) -> float:
        """Its standard error."""
        return _nan(self.raw["std_error"])

    @property
    def ci(self) -> tuple:
        """Its confidence interval."""
        return (_nan(self.raw["ci_lower"]), _nan(self.raw["ci_upper"]))

    @property
    def pi(self) -> tuple:
        """The prediction interval of a new study's true effect (NaN when metafor prints
        none: fixed-effect models and meta-regressions)."""
        return (_nan(self.raw.get("pi_lower")), _nan(self.raw.get("pi_upper")))

    @property
    def tau2(self) -> float:
        """τ², the (residual) heterogeneity variance."""
        return _nan(self.raw["tau2"])

    @property
    def tau(self) -> float:
        """τ."""
        return _nan(self.raw["tau"])

    @property
    def se_tau2(self) -> float:
        """The standard error of τ² (NaN for a fixed-effect model)."""
        return _nan(self.raw.get("se_tau2"))

    @property
    def i2(self) -> float:
        """I² in percent."""
        return _nan(self.raw["i2"])

    @property
    def h2(self) -> float:
        """H²."""
        return _nan(self.raw["h2"])

    @property
    def r2(self) -> float:
        """Pseudo-R² in percent (meta-regression), else NaN."""
        return _nan(self.raw.get("r2"))

    @property
    def q(self) -> float:
        """Cochran's Q (QE with moderators)."""
        return _nan(self.raw["q"])

    @property
    def q_df(self) -> int:
        """Its df."""
        return int(self.raw["q_df"])

    @property
    def q_p(self) -> float:
        """Its p-value."""
        return _nan(self.raw["q_p"])

    @property
    def k(self) -> int:
        """Number of studies used."""
        return int(self.raw["k"])

    @property
    def n_dropped(self) -> int:
        """Rows left out for a missing effect size, variance or moderator."""
        return len(self.raw.get("dropped_rows", []))

    @property
    def moderators(self) -> Optional[Dict[str, Any]]:
        """The omnibus test of the moderators (QM; F with Knapp–Hartung), or None."""
        return self.raw.get("moderators")

    @property
    def vcov(self) -> Any:
        """``Var(β̂)``, a table indexed by coefficient."""
        return _vcov_table([c["name"] for c in self.raw["coefficients"]], self.raw["vcov"])

    def tidy(self) -> Any:
        """broom's ``tidy()`` of an ``rma``: term, estimate, std.error, statistic, p.value,
        conf.low, conf.high."""
        cols: Dict[str, list] = {k: [] for k in ("term", "estimate", "std.error", "statistic",
                                                 "p.value", "conf.low", "conf.high")}
        for c in self.raw["coefficients"]:
            for k, v in zip(cols, (c["name"], _nan(c["estimate"]), _nan(c["std_error"]),
                                   _nan(c["statistic"]), _nan(c["p_value"]),
                                   _nan(c["ci_lower"]), _nan(c["ci_upper"]))):
                cols[k].append(v)
        return _data.table(cols)

    @property
    def coefficients(self) -> Any:
        """The coefficient table (as ``tidy()``)."""
        return self.tidy()

    def glance(self) -> Any:
        """One row: k, tau2, se.tau2, I2, H2, R2, QE, QE.p, logLik, AIC, BIC (REML fit
        statistics for a REML fit, else ML), n_dropped."""
        fs = self.raw["fit_stats"]
        kind = "reml" if self.raw["method"] == "REML" else "ml"
        return _data.table({
            "k": [self.k], "tau2": [self.tau2], "se.tau2": [self.se_tau2], "I2": [self.i2],
            "H2": [self.h2], "R2": [self.r2], "QE": [self.q], "QE.p": [self.q_p],
            "logLik": [_nan(fs[f"loglik_{kind}"])], "AIC": [_nan(fs[f"aic_{kind}"])],
            "BIC": [_nan(fs[f"bic_{kind}"])], "n_dropped": [self.n_dropped]})

    @property
    def weights(self) -> Any:
        """Per study: slab, yi, vi, and the fixed- and random-effects weights in percent."""
        rows = self.raw["studies"]
        return _data.table({k: [r[k] for r in rows]
                            for k in ("slab", "yi", "vi", "weight_fixed", "weight_random")})


class _CoefResult(_Report):
    """GEE and cluster-robust fits: a coefficient table with robust standard errors."""

    _extra: tuple = ()

    @property
    def params(self) -> Any:
        """The coefficients by term (a Series, or a dict)."""
        f = self.raw["fixed"]
        return _data.series([_nan(r["estimate"]) for r in f], [r["term"] for r in f], "params")

    @property
    def bse(self) -> Any:
        """Their robust standard errors."""
        f = self.raw["fixed"]
        return _data.series([_nan(r["std_error"]) for r in f], [r["term"] for r in f], "bse")

    @property
    def vcov(self) -> Any:
        """The robust (sandwich) covariance of the coefficients."""
        return _vcov_table([r["term"] for r in self.raw["fixed"]], self.raw["vcov"])

    @property
    def nobs(self) -> int:
        """Observations used."""
        return int(self.raw["nobs"])

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values."""
        return int(self.raw["n_dropped_missing"])

    @property
    def clusters(self) -> int:
        """Number of clusters."""
        return int(self.raw["clusters"])

    def tidy(self) -> Any:
        """broom's columns: term, estimate, std.error, statistic, df, p.value (and the
        model-based SE: ``naive.std.error`` for GEE, ``model.std.error`` for robust fits)."""
        keys = ("term", "estimate", "std.error", "statistic", "df", "p.value") + self._extra
        cols: Dict[str, list] = {k: [] for k in keys}
        for r in self.raw["fixed"]:
            cols["term"].append(r["term"])
            cols["estimate"].append(_nan(r["estimate"]))
            cols["std.error"].append(_nan(r["std_error"]))
            cols["statistic"].append(_nan(r["statistic"]))
            cols["df"].append(_nan(r.get("df")))
            cols["p.value"].append(_nan(r["p_value"]))
            for k in self._extra:
                cols[k].append(_nan(r.get(k.replace(".", "_"))))
        return _data.table(cols)


class GeeResult(_CoefResult):
    """A GEE fit (geepack's ``geeglm``): robust (sandwich) SEs, z = estimate / SE, Wald χ²;
    ``scale``, ``alpha`` (working correlation), ``params``, ``bse``, ``vcov``, ``tidy()``."""

    _extra = ("wald", "naive.std.error")

    @property
    def scale(self) -> float:
        """The scale φ (mean squared Pearson residual)."""
        return _nan(self.raw["scale"])

    @property
    def alpha(self) -> float:
        """The working correlation's α (NaN for independence)."""
        return _nan(self.raw["working_correlation"]["alpha"])

    @property
    def corstr(self) -> str:
        """The working correlation structure."""
        return self.raw["working_correlation"]["structure"]


class RobustResult(_CoefResult):
    """Cluster-robust standard errors (clubSandwich's ``coef_test``): CR0/CR1/CR2 SEs with
    Satterthwaite df; ``params``, ``bse``, ``df``, ``vcov``, ``tidy()``."""

    _extra = ("model.std.error",)

    @property
    def df(self) -> Any:
        """The Satterthwaite (Bell–McCaffrey) df of each coefficient's t test."""
        f = self.raw["fixed"]
        return _data.series([_nan(r["df"]) for r in f], [r["term"] for r in f], "df")

    @property
    def vcov_type(self) -> str:
        """CR0, CR1 or CR2."""
        return self.raw["vcov_type"]


def meta(data: Any, yi: str, vi: Optional[str] = None, sei: Optional[str] = None,
         method: str = "REML", mods: Optional[str] = None, slab: Optional[str] = None,
         test: str = "z", level: float = 0.95) -> MetaAnalysis:
    """Random-effects meta-analysis (metafor's ``rma(yi, vi, method=, mods=, test=)``):
    ``yi`` names the effect-size column, ``vi`` the sampling variances or ``sei`` their
    standard errors; ``method`` one of REML (default), ML, DL, PM, EB, HE, SJ, FE; ``mods`` a
    one-sided formula of moderators ("~ ablat + year"); ``test`` "z", "t", "knha" (Knapp–Hartung)
    or "adhoc"; ``slab`` a column of study labels. Rows with a missing value are dropped and
    counted."""
    wanted = {c for c in (yi, vi, sei, slab) if c}
    if mods:
        try:
            m = mods.strip()
            wanted.update(_ext.formula_variables(f"{yi} {m}" if m.startswith("~") else m))
        except MultilevelError:
            wanted = None  # the library reports the formula error
    name = _data_name(data)
    d = _data.to_data(data, name, wanted)
    raw, text = _ext.meta(d, yi, vi, sei, method, mods, slab, test, float(level), name)
    return MetaAnalysis(raw, text)


def gee(formula: str, data: Any, groups: str, family: str = "gaussian",
        link: Optional[str] = None, corstr: str = "independence") -> GeeResult:
    """Generalized estimating equations (geepack's ``geeglm(formula, id = groups, family,
    corstr)``): population-averaged effects with robust standard errors. ``family`` gaussian,
    binomial, poisson or Gamma; ``corstr`` independence, exchangeable or ar1 (AR(1) orders the
    rows of a cluster as they appear in the data)."""
    name = _data_name(data)
    wanted = set(_ext.formula_variables(formula)) | {groups}
    d = _data.to_data(data, name, wanted)
    raw, text = _ext.gee(formula, d, groups, family, link, corstr, name)
    return GeeResult(raw, text)


def robust(formula: str, data: Any, cluster: str, type: str = "CR2",
           model: str = "ols") -> RobustResult:
    """Cluster-robust standard errors (clubSandwich's ``coef_test(fit, vcov = type, cluster =
    cluster)``) of an OLS fit (``model="ols"``, formula "y ~ x") or of a linear mixed model's
    fixed effects (``model="lmm"``, formula with bar terms, fitted by REML); ``type`` CR0, CR1
    or CR2 (default); Satterthwaite df."""
    name = _data_name(data)
    wanted = set(_ext.formula_variables(formula)) | {cluster}
    d = _data.to_data(data, name, wanted)
    raw, text = _ext.robust(formula, d, cluster, type, model, name)
    return RobustResult(raw, text)
