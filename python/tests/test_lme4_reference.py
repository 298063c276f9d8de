"""Every committed lme4 reference fit (tests/reference/lmm, glmm, predict) refitted through the
Python API, with the tolerances of the Rust tests: objective to 1e-6 relative, parameters to
5e-5 mean relative difference (1e-3 when our objective is lower) for LMMs; the GLMM test's
bounds for glmer fits."""

import math

import pytest

import multilevel as ml
from conftest import ROOT, load_reference, max_rel, mean_rel_diff, reference_files

OBJECTIVE_TOL = 1e-6
PARAM_TOL = 5e-5
PARAM_TOL_BETTER = 1e-3

LMM_FILES = [p for p in reference_files("lmm") if "insteval" not in p.stem]
GLMM_FILES = reference_files("glmm")


def _contrasts(r):
    names = {"contr.sum": "sum", "contr.helmert": "helmert", "contr.poly": "poly"}
    return {k: names.get(v, "treatment") for k, v in (r.get("contrasts") or {}).items()}


def test_the_references_are_there():
    assert len(LMM_FILES) >= 15
    assert len(GLMM_FILES) >= 6


@pytest.mark.parametrize("path", LMM_FILES, ids=lambda p: p.stem)
def test_lmm_reference(path):
    r = load_reference(path)
    data = ml.load_dataset(r["data"]["dataset"])
    m = ml.lmer(r["formula"], data, reml=r["REML"], weights=r.get("weights"),
                contrasts=_contrasts(r))
    fit = m.result
    rel_obj = (fit["objective"] - r["objective"]) / max(abs(r["objective"]), 1.0)
    assert rel_obj <= OBJECTIVE_TOL
    tol = PARAM_TOL_BETTER if rel_obj < 0 else PARAM_TOL

    def check(what, ours, ref):
        d = mean_rel_diff(ours, ref)
        assert d <= tol, f"{what} differs by {d:.3e}"

    check("theta", m.theta, r["theta"])
    check("beta", list(m.fixef), r["beta"])
    check("se", [f["std_error"] for f in fit["fixed"]], r["se"])
    check("sigma", [m.sigma], [r["sigma"]])
    check("loglik", [m.loglik], [r["loglik"]])
    check("aic", [m.aic], [r["aic"]])
    check("bic", [m.bic], [r["bic"]])
    assert m.nobs == r["nobs"]
    # Variance components through the public varcorr table, in lme4's order.
    vc = m.varcorr
    ours_var = [v for g, v2, v in zip(vc["grp"], vc["var2"], vc["vcov"])
                if g != "Residual" and (v2 is None or v2 != v2)]  # None or NaN: no var2
    ref_var = [e["vcov"] for e in r["varcorr"] if e["grp"] != "Residual" and e["var2"] is None]
    check("variances", ours_var, ref_var)
    # Conditional modes and SDs through the ranef table.
    re = m.ranef
    for e in r["ranef"]:
        g = e["group"]
        rows = [i for i in range(len(re["grpvar"])) if re["grpvar"][i] == g]
        terms = e["terms"]
        levels = e["levels"]
        ours = {(re["term"][i], re["grp"][i]): (re["condval"][i], re["condsd"][i]) for i in rows}
        vals = [ours[(t, lev)][0] for lev in levels for t in terms]
        ref_vals = [v for row in e["values"] for v in row]
        check(f"ranef {g}", vals, ref_vals)
        if e.get("condsd"):
            sds = [ours[(t, lev)][1] for lev in levels for t in terms]
            ref_sds = [v for row in e["condsd"] for v in row]
            check(f"condsd {g}", sds, ref_sds)


def _reference_data(r):
    """The reference's data: an embedded data set, or a committed CSV file read with pandas,
    its factor columns as categoricals with R's level order (numbers sorted numerically)."""
    if "dataset" in r["data"]:
        return ml.load_dataset(r["data"]["dataset"])
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(ROOT / r["data"]["csv"])
    for col in r.get("factors", []):
        values = df[col]
        cats = sorted(values.dropna().unique())
        df[col] = pd.Categorical(values, categories=cats, ordered=col in r.get("ordered", []))
    return df


@pytest.mark.parametrize("path", GLMM_FILES, ids=lambda p: p.stem)
def test_glmm_reference(path):
    r = load_reference(path)
    data = _reference_data(r)
    m = ml.glmer(r["formula"], data, family=r["family"], link=r["link"], nagq=r["nAGQ"],
                 weights=r.get("weights"), contrasts=_contrasts(r))
    dll = m.loglik - r["loglik"]
    better = dll > 1e-6
    assert dll >= -1e-4
    fit = m.result
    if not better:
        assert max_rel(list(m.fixef), r["beta"], 1e-2) <= 1e-3
        assert max_rel(m.theta, r["theta"], 1e-2) <= 1e-3
    assert max_rel([f["std_error"] for f in fit["fixed"]], r["se"], 1e-8) <= 1e-2
    assert max_rel([m.deviance], [r["deviance"]], 1.0) <= 1e-4
    assert abs(m.aic - r["aic"]) <= 2e-4 + 2 * abs(dll)
    assert max_rel(m.fitted[:10], r["fitted_head"], 1e-3) <= 1e-3
    assert list(m.fixef.index) == r["beta_names"]
    assert m.nobs == r["nobs"]


PREDICT_FILES = reference_files("predict")


# The tolerances of crates/multilevel/tests/predict.rs: predictions of an LMM 1e-6 relative,
# standard errors 1e-4, everything of a GLMM 1e-4.
TOL, SE_TOL, GLMM_TOL = 1e-6, 1e-4, 1e-4


def _close(ours, reference, tol):
    """Relative difference within ``tol``, missing exactly where R's is missing."""
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference):
        if b is None:
            assert math.isnan(a)
        else:
            assert abs(a - b) <= tol * max(abs(b), 1e-8), f"{a} vs {b}"


@pytest.mark.parametrize("path", PREDICT_FILES, ids=lambda p: p.stem)
def test_predict_reference(path):
    pd = pytest.importorskip("pandas")
    r = load_reference(path)
    data = ml.load_dataset(r["data"]["dataset"])
    newdata = pd.read_csv(ROOT / r["newdata"])
    for col in r["new_factors"]:
        newdata[col] = newdata[col].map(lambda v: None if pd.isna(v) else (
            str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
    if r["family"] == "gaussian":
        m = ml.lmer(r["formula"], data, reml=r.get("REML", True))
        tol, se_tol = TOL, SE_TOL
    else:
        m = ml.glmer(r["formula"], data, family=r["family"], link=r.get("link"))
        tol, se_tol = GLMM_TOL, GLMM_TOL
    _close(list(m.predict(newdata, re_form="~0")), r["population"], tol)
    _close(list(m.predict(newdata, allow_new_levels=True)), r["all_new_levels"], tol)
    se = m.predict(newdata, re_form="~0", se_fit=True)
    _close(list(se["se.fit"]), r["se_fixed_link"], se_tol)
    if "population_response" in r:
        _close(list(m.predict(newdata, re_form="~0", type="response")),
               r["population_response"], tol)
        _close(list(m.predict(newdata, allow_new_levels=True, type="response")),
               r["all_new_levels_response"], tol)
    if "partial" in r:
        part = r["partial"]
        _close(list(m.predict(newdata, re_form="~" + part["re_form"], allow_new_levels=True)),
               part["values"], tol)
