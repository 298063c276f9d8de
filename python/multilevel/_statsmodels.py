"""A statsmodels-shaped front: ``mixedlm(formula, data, groups=, re_formula=, vc_formula=)``
``.fit(reml=)`` returns an object with the attributes of statsmodels' ``MixedLMResults`` that
users read, computed by the lme4-style fit underneath (``.lmer`` is that model).

Meanings follow statsmodels: ``params`` are the fixed effects followed by the lower triangle of
``cov_re / scale`` (statsmodels' parameterisation, named "Group Var", "Group x x Cov", ...);
``bse`` their standard errors (for the variance parameters from the Hessian of the deviance,
as statsmodels' from its Hessian); ``cov_re`` is the random-effects covariance on the data's
scale; ``scale`` the residual variance; ``llf`` the (REML or ML) log-likelihood;
``tvalues``/``pvalues`` are z tests with the normal reference; ``random_effects`` maps each
group to its conditional modes; ``summary()`` prints statsmodels' layout.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any, Dict, List, Optional

from . import _data
from ._models import LinearMixedModel, MultilevelError, lmer


def _free_name(data: Any, base: str) -> str:
    """``base`` (statsmodels' name for groups given as values: "Group"), or ``base_1``, ... when
    the data already have such a column."""
    try:
        names = set(_data.column_names(data))
    except TypeError:
        names = set()
    name, i = base, 0
    while name in names:
        i += 1
        name = f"{base}_{i}"
    return name


def _sm_name(term: str) -> str:
    """statsmodels' (patsy's) name of a coefficient: ``Intercept`` for ``(Intercept)``."""
    return "Intercept" if term == "(Intercept)" else term


def _norm_sf2(z: float) -> float:
    """Two-sided normal p-value."""
    if math.isnan(z):
        return float("nan")
    return math.erfc(abs(z) / math.sqrt(2.0))


def _strip_formula(rhs: str) -> str:
    """A right-hand side without its leading ``~``."""
    rhs = rhs.strip()
    return rhs[1:].strip() if rhs.startswith("~") else rhs


_C_CALL = re.compile(r"^C\(\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*\)$")


def _vc_column(name: str, formula: str) -> str:
    """The column of a statsmodels variance component ``"0 + C(col)"`` (a random intercept per
    level of ``col`` within each group: lme4's ``(1 | group:col)``)."""
    parts = [p.strip() for p in _strip_formula(formula).split("+")]
    if len(parts) == 2 and parts[0] == "0":
        col = parts[1]
        m = _C_CALL.match(col)
        if m:
            col = m.group(1)
        if re.match(r"^[A-Za-z_.][A-Za-z0-9_.]*$", col):
            return col
    raise MultilevelError(
        f"vc_formula `{name}`: `{formula}` is not supported; hint: use the form \"0 + C(column)\" "
        "(a random intercept per column level within each group), or write the model with "
        "ml.lmer")


class MixedLM:
    """The model before fitting (statsmodels' ``MixedLM``)."""

    def __init__(self, formula: str, data: Any, groups: Any, re_formula: Optional[str] = None,
                 vc_formula: Optional[Dict[str, str]] = None):
        if "|" in formula:
            raise MultilevelError(
                "mixedlm takes a fixed-effects formula (the random part goes in groups= and "
                "re_formula=); hint: for an lme4 formula with (x | g) terms use ml.lmer")
        self.formula = formula
        self.data = data
        if isinstance(groups, str):
            self.group_name = groups
            self._data = data
            self._group_label = groups
        else:
            # A column of group labels given separately, as statsmodels allows: add it to a
            # copy of the data (a pandas DataFrame or a dict of columns).
            values = list(groups.tolist() if hasattr(groups, "tolist") else groups)
            if len(values) != _data.nrows(data):
                raise MultilevelError(
                    f"groups has {len(values)} values but the data have {_data.nrows(data)} "
                    "rows; hint: pass a column name or one label per row")
            self.group_name = _free_name(data, "Group")
            self._group_label = "Group"
            self._data = _with_column(data, self.group_name, values)
        self.re_formula = re_formula
        self.vc_formula = vc_formula or {}
        re_rhs = "1" if re_formula is None else _strip_formula(re_formula)
        terms = [f"({re_rhs} | {self.group_name})"]
        self._vc_groups: Dict[str, str] = {}
        for name, f in self.vc_formula.items():
            col = _vc_column(name, f)
            self._vc_groups[name] = f"{self.group_name}:{col}"
            terms.append(f"(1 | {self.group_name}:{col})")
        self.lme4_formula = f"{formula} + " + " + ".join(terms)

    def fit(self, reml: bool = True, **kwargs: Any) -> "MixedLMResults":
        """Fit (REML by default, as statsmodels). statsmodels' optimiser options (``method``,
        ``maxiter``, ``start_params``, ...) are accepted and not used: the fit is lme4's."""
        model = lmer(self.lme4_formula, self._data, reml=reml)
        return MixedLMResults(self, model, reml)


def _with_column(data: Any, name: str, values: List[Any]) -> Any:
    pd = _data._pd
    if pd is not None and isinstance(data, pd.DataFrame):
        out = data.copy()
        out[name] = values
        return out
    if isinstance(data, dict):
        out = dict(data)
        out[name] = values
        return out
    if pd is not None:
        try:
            frame = data.to_pandas()
        except AttributeError:
            raise MultilevelError(
                "groups given as values need data as a pandas DataFrame or a dict; hint: add "
                "the groups as a column and pass its name") from None
        frame[name] = values
        return frame
    raise MultilevelError(
        "groups given as values need data as a dict of columns without pandas; hint: add the "
        "groups as a column and pass its name")


class MixedLMResults:
    """statsmodels' ``MixedLMResults`` attributes from an lme4-style fit."""

    def __init__(self, model: MixedLM, fit: LinearMixedModel, reml: bool):
        self.model = model
        self.lmer = fit
        self.reml = reml
        res = fit.result
        self._res = res
        g = model.group_name
        fe_names = [_sm_name(f["term"]) for f in res["fixed"]]
        self.k_fe = len(fe_names)
        fe = [float(f["estimate"]) for f in res["fixed"]]
        fe_se = [float(f["std_error"]) for f in res["fixed"]]
        self.scale = float(res["residual"]["variance"]) if res.get("residual") else float("nan")
        # The random-effects covariance of the groups' term.
        re_terms = [v["term"] for v in res["random"] if v["group"] == g]
        self._re_terms = re_terms
        sd = {v["term"]: float(v["std_dev"]) for v in res["random"] if v["group"] == g}
        k = len(re_terms)
        cov = [[0.0] * k for _ in range(k)]
        for i, t in enumerate(re_terms):
            cov[i][i] = sd[t] ** 2
        for c in res["correlations"]:
            if c["group"] == g and c["term1"] in sd and c["term2"] in sd:
                i, j = re_terms.index(c["term1"]), re_terms.index(c["term2"])
                cov[i][j] = cov[j][i] = float(c["corr"]) * sd[c["term1"]] * sd[c["term2"]]
        label = model._group_label
        re_names = [label if t == "(Intercept)" else _sm_name(t) for t in re_terms]
        self._re_names = re_names
        self.cov_re = _data.table({re_names[j]: [cov[i][j] for i in range(k)]
                                   for j in range(k)}, index=re_names)
        self.k_re2 = k * (k + 1) // 2
        par_names, par_vals = list(fe_names), list(fe)
        for i in range(k):
            for j in range(i + 1):
                if i == j:
                    par_names.append(f"{re_names[i]} Var")
                else:
                    par_names.append(f"{re_names[j]} x {re_names[i]} Cov")
                par_vals.append(cov[i][j] / self.scale)
        # Variance components of vc_formula: variances of the nested intercepts.
        self.vcomp = []
        for name, vc_group in model._vc_groups.items():
            match = [v for v in res["random"] if v["group"] == vc_group]
            var = float(match[0]["variance"]) if match else float("nan")
            self.vcomp.append(var)
            par_names.append(f"{name} Var")
            par_vals.append(var / self.scale)
        self.fe_params = _data.series(fe, fe_names, None)
        self.params = _data.series(par_vals, par_names, None)
        n_var = len(par_vals) - len(fe)
        nan = float("nan")
        var_se = _variance_parameter_se(fit, res, g, list(model._vc_groups.values()))
        if len(var_se) != n_var:
            var_se = [nan] * n_var
        self.bse_fe = _data.series(fe_se, fe_names, None)
        # statsmodels' bse_re: the variance parameters' SEs times the residual SD.
        self.bse_re = _data.series([x * math.sqrt(self.scale) for x in var_se],
                                   par_names[len(fe):], None)
        self.bse = _data.series(fe_se + var_se, par_names, None)
        se_all = fe_se + var_se
        z = [b / s if s > 0 else nan for b, s in zip(par_vals, se_all)]
        self.tvalues = _data.series(z, par_names, None)
        self.pvalues = _data.series([_norm_sf2(x) for x in z], par_names, None)
        self.llf = float(res["loglik"])
        self.nobs = int(res["nobs"])
        self.converged = bool(res["converged"])
        self.method = "REML" if reml else "ML"
        self.aic = float("nan") if reml else float(res["aic"])
        self.bic = float("nan") if reml else float(res["bic"])
        self.fittedvalues = _data.series(list(map(float, res["fitted"])),
                                         list(range(len(res["fitted"]))), None)
        self.resid = _data.series(list(map(float, res["residuals"])),
                                  list(range(len(res["residuals"]))), None)
        self._key = _group_key_cast(model._data, g)

    def _group_sizes(self) -> List[int]:
        """Observations per group among the rows the fit used."""
        rows = self.lmer._m.augment_parts()[0]
        cols = _data.to_columns(self.model._data, [self.model.group_name])
        values = cols[0][2] if cols else []
        counts: Dict[Any, int] = {}
        for r in rows:
            counts[values[r]] = counts.get(values[r], 0) + 1
        return list(counts.values()) or [0]

    @property
    def random_effects(self) -> Dict[Any, Any]:
        """Per group label: its conditional modes (a Series named by the random terms)."""
        out: Dict[Any, Any] = {}
        for r in self._res["ranef"]:
            if r["group"] != self.model.group_name:
                continue
            names = [self.model._group_label if t == "(Intercept)" else _sm_name(t)
                     for t in r["terms"]]
            for level, vals in zip(r["levels"], r["values"]):
                out[self._key(level)] = _data.series([float(v) for v in vals], names, None)
        return out

    def conf_int(self, alpha: float = 0.05) -> Any:
        """Wald intervals of the fixed effects (statsmodels' ``conf_int``: columns 0 and 1)."""
        ci = self.lmer.confint("Wald", 1.0 - alpha)
        if _data._pd is not None:
            ci = ci.set_index("term")
            ci.index = [_sm_name(t) for t in ci.index]
            ci.columns = [0, 1]
        return ci

    def summary(self) -> "_Summary":
        """A text summary in statsmodels' layout (``print(result.summary())``)."""
        return _Summary(self)

    def __repr__(self) -> str:
        return f"<multilevel MixedLMResults: {self.model.lme4_formula!r}>"


def _variance_parameter_se(fit: LinearMixedModel, res: Dict[str, Any], group: str,
                           vc_groups: List[str]) -> List[float]:
    """Standard errors of statsmodels' variance parameters (the lower triangle of
    ``cov_re / scale`` of ``group``, row by row, then the variance components of
    ``vc_groups``), by the delta method from lmerTest's asymptotic covariance of θ̂
    (``A = 2H⁻¹``, ``H`` the Hessian of the deviance in (θ, σ)): with ``Ψ = ΛΛ'`` the relative
    covariance of a term, ``Var(Ψ̂) = J A_θθ J'``, ``J = ∂Ψ/∂θ``. At the optimum this is the
    inverse of the Hessian of the likelihood profiled over the scale, in Ψ, which is what
    statsmodels inverts. An empty list when it cannot be computed."""
    try:
        varpar, a = fit._m.vcov_varpar()
    except Exception:  # noqa: BLE001 - the Hessian could not be formed: no SEs, as statsmodels
        return []
    m = len(varpar)
    theta = [float(t) for t in res["theta"]]
    nt = len(theta)
    if m != nt + 1 or len(a) != m * m:
        return []
    # The terms in θ order (the fit lists its variance components in the design's term
    # order): group name and dimension k, each with k(k+1)/2 parameters of Λ.
    terms: List[tuple] = []
    for v in res["random"]:
        if terms and terms[-1][0] == v["group"] and v["group"] not in [t[0] for t in terms[:-1]]:
            terms[-1] = (v["group"], terms[-1][1] + 1)
        else:
            terms.append((v["group"], 1))
    offsets, off = {}, 0
    for name, k in terms:
        if name in offsets:
            return []
        offsets[name] = (off, k)
        off += k * (k + 1) // 2
    if off != nt:
        return []
    rows: List[List[float]] = []

    def psi_rows(name: str, lower_only_diag: bool) -> None:
        o, k = offsets[name]

        def idx(r: int, c: int) -> int:  # θ index of Λ[r, c], r ≥ c (column-major)
            return o + c * k - c * (c - 1) // 2 + (r - c)

        def lam(r: int, c: int) -> float:
            return theta[idx(r, c)] if r >= c else 0.0

        for i in range(k):
            for j in range(i + 1):
                if lower_only_diag and i != j:
                    continue
                row = [0.0] * nt
                # Ψ_ij = Σ_l Λ_il Λ_jl; ∂/∂Λ_ab = [i = a] Λ_jb + [j = a] Λ_ib
                for b in range(k):
                    if b <= i:
                        row[idx(i, b)] += lam(j, b)
                    if b <= j:
                        row[idx(j, b)] += lam(i, b)
                rows.append(row)

    if group not in offsets or any(v not in offsets for v in vc_groups):
        return []
    psi_rows(group, False)
    for v in vc_groups:
        psi_rows(v, True)
    out = []
    for row in rows:
        var = sum(row[p] * a[p * m + q] * row[q] for p in range(nt) for q in range(nt))
        out.append(math.sqrt(var) if var >= 0 else float("nan"))
    return out


def _group_key_cast(data: Any, column: str):
    """statsmodels keys ``random_effects`` by the group values; our levels are labels, so turn
    them back into numbers when the column is numeric."""
    try:
        cols = _data.to_columns(data, [column])
        numeric = bool(cols) and cols[0][1] == "num"
    except Exception:  # pragma: no cover - the fit already read the column
        numeric = False

    def key(label: str) -> Any:
        if not numeric:
            return label
        try:
            x = float(label)
        except ValueError:
            return label
        return int(x) if x.is_integer() else x

    return key


def _fmt(x: Any, float_format: str = "%.4f") -> str:
    """A cell as statsmodels' summary tables format it (floats with ``float_format``)."""
    try:
        out = float_format % x
    except (ValueError, TypeError):
        out = str(x)
    return out.strip()


def _table_lines(cells: List[List[str]], header: Optional[List[str]], stubs: Optional[List[str]],
                 align: str, pad_col: int, pad_index: int) -> List[str]:
    """One table of statsmodels' text summaries: a rule above, the header centred with a rule
    below it, stubs left-aligned, data aligned ``align``; columns joined by ``pad_col + 1``
    spaces, ``pad_index`` spaces added to the stubs (or to the first column without stubs)."""
    rows = [list(r) for r in cells]
    if stubs is not None:
        stubs = [st + " " * pad_index for st in stubs]
    elif rows:
        for r in rows:
            r[0] = r[0] + " " * pad_index
    ncol = len(rows[0]) if rows else len(header or [])
    widths = [max([len(r[j]) for r in rows] + ([len(header[j])] if header else []))
              for j in range(ncol)]
    stub_w = max((len(x) for x in stubs), default=0) if stubs is not None else None
    sep = " " * (pad_col + 1)

    def line(vals: List[str], how: str, stub: Optional[str]) -> str:
        out = []
        if stub_w is not None:
            out.append((stub or "").ljust(stub_w))
        for v, w in zip(vals, widths):
            out.append(v.ljust(w) if how == "l" else v.rjust(w) if how == "r" else v.center(w))
        return sep.join(out)

    body = [line(r, align, stubs[i] if stubs is not None else None)
            for i, r in enumerate(rows)]
    head = [line(header, "c", "")] if header else []
    width = len((head or body)[0])
    lines = ["-" * width]
    if head:
        lines += head + ["-" * width]
    return lines + body


def summary_text(title: str, info: List[tuple], names: List[str],
                 table: List[List[Any]]) -> str:
    """statsmodels' ``MixedLMResults.summary()`` text (its ``summary2`` layout): the title
    centred, the model information in two key/value column pairs, the coefficient table
    (Coef., Std.Err., z, P>|z|, [0.025, 0.975]; NaN cells blank, numbers to 3 decimals),
    each table widened to the widest by spreading spaces between its columns."""
    keys = [_fmt(k) for k, _ in info]
    vals = [_fmt(v) for _, v in info]
    pairs = list(zip(keys, vals))
    if len(pairs) % 2:
        pairs.append(("", ""))
    half = len(pairs) // 2
    info_cells = [[a[0], a[1], b[0], b[1]] for a, b in zip(pairs[:half], pairs[half:])]
    header = ["Coef.", "Std.Err.", "z", "P>|z|", "[0.025", "0.975]"]
    par_cells = [[("%.3f" % x).strip() if isinstance(x, float) and math.isfinite(x) else ""
                  for x in row] for row in table]
    specs = [(info_cells, None, None, "l"), (par_cells, header, names, "r")]
    plain = [_table_lines(c, h, st, a, 0, 0) for c, h, st, a in specs]
    lengths = [len(t[0]) for t in plain]
    widest = max(lengths)
    tables = []
    for (c, h, st, a), n in zip(specs, lengths):
        nsep = max(len(c[0]) - 1, 1) if c else 1
        pad = int((widest - n) / nsep)
        tables.append(_table_lines(c, h, st, a, pad, widest - (n + nsep * pad)))
    lines = [x for t in tables for x in t]
    lines[0] = "=" * widest
    lines.append("=" * widest)
    if len(title) < widest:
        title = " " * int(widest / 2 - len(title) / 2) + title
    return title + "\n" + "\n".join(lines) + "\n"


class _Summary:
    def __init__(self, r: MixedLMResults):
        self.r = r

    def as_text(self) -> str:
        r = self.r
        res = r._res
        g = r.model.group_name
        sizes = [grp["levels"] for grp in res["groups"] if grp["name"] == g]
        n_groups = sizes[0] if sizes else float("nan")
        gs = r._group_sizes()
        dep = r.model.formula.split("~")[0].strip()
        info = [("Model:", "MixedLM"), ("No. Observations:", str(r.nobs)),
                ("No. Groups:", str(n_groups)), ("Min. group size:", f"{min(gs):.0f}"),
                ("Max. group size:", f"{max(gs):.0f}"),
                ("Mean group size:", f"{sum(gs) / len(gs):.1f}"),
                ("Dependent Variable:", dep), ("Method:", r.method), ("Scale:", r.scale),
                ("Log-Likelihood:", r.llf), ("Converged:", "Yes" if r.converged else "No")]
        names = list(r.params.index) if hasattr(r.params, "index") else list(r.params)
        q = 1.959963984540054  # the normal quantile of statsmodels' 95% intervals
        table = []
        for i, n in enumerate(names):
            nan = float("nan")
            if i < r.k_fe:
                b, se = r.params[n], r.bse[n]
                table.append([b, se, r.tvalues[n], r.pvalues[n], b - q * se, b + q * se])
            else:
                # statsmodels prints the variance parameters times the scale, and their
                # standard errors times the residual standard deviation.
                table.append([r.params[n] * r.scale, math.sqrt(r.scale) * r.bse[n],
                              nan, nan, nan, nan])
        return summary_text("Mixed Linear Model Regression Results", info, names, table)

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.as_text()) + "</pre>"


def mixedlm(formula: str, data: Any, groups: Any, re_formula: Optional[str] = None,
            vc_formula: Optional[Dict[str, str]] = None) -> MixedLM:
    """statsmodels' ``smf.mixedlm(formula, data, groups=, re_formula=, vc_formula=)``."""
    return MixedLM(formula, data, groups, re_formula, vc_formula)
