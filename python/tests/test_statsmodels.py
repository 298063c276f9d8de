"""The statsmodels-shaped shim against statsmodels itself (where statsmodels converges) and
against lme4 (tests/reference)."""

import math
import warnings

import pytest

import multilevel as ml
from conftest import REFERENCE, load_reference

sm = pytest.importorskip("statsmodels.formula.api")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def sleep():
    d = ml.load_dataset("sleepstudy")
    return pd.DataFrame({"Reaction": d["Reaction"].astype(float), "Days": d["Days"].astype(float),
                         "Subject": [int(s) for s in d["Subject"]]})


def _statsmodels(formula, data, reml=True, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.mixedlm(formula, data, **kw).fit(reml=reml)


@pytest.mark.parametrize("re_formula", [None, "~Days"])
def test_against_statsmodels_sleepstudy(sleep, re_formula):
    theirs = _statsmodels("Reaction ~ Days", sleep, groups=sleep["Subject"],
                          re_formula=re_formula)
    assert theirs.converged
    ours = ml.mixedlm("Reaction ~ Days", sleep, groups=sleep["Subject"],
                      re_formula=re_formula).fit()
    assert list(ours.params.index) == list(theirs.params.index)
    for name in theirs.params.index:
        assert abs(ours.params[name] - theirs.params[name]) <= 1e-3 * max(
            1.0, abs(theirs.params[name])), name
    for name in theirs.fe_params.index:
        assert abs(ours.bse[name] - theirs.bse[name]) <= 1e-3 * theirs.bse[name]
        assert abs(ours.tvalues[name] - theirs.tvalues[name]) <= 1e-3 * abs(theirs.tvalues[name])
    assert abs(ours.llf - theirs.llf) < 1e-4
    assert abs(ours.scale - theirs.scale) <= 1e-4 * theirs.scale
    assert list(ours.cov_re.columns) == list(theirs.cov_re.columns)
    for a, b in zip(ours.cov_re.to_numpy().ravel(), theirs.cov_re.to_numpy().ravel()):
        assert abs(a - b) <= 1e-3 * max(1.0, abs(b))
    assert set(ours.random_effects) == set(theirs.random_effects)
    for k, v in theirs.random_effects.items():
        for name in v.index:
            assert abs(ours.random_effects[k][name] - v[name]) <= 1e-3 * max(1.0, abs(v[name]))
    text = str(ours.summary())
    assert "Days" in text and "REML" in text


def test_groups_by_column_name_and_ml(sleep):
    theirs = _statsmodels("Reaction ~ Days", sleep, groups="Subject", reml=False)
    ours = ml.mixedlm("Reaction ~ Days", sleep, groups="Subject").fit(reml=False)
    r = load_reference(REFERENCE / "lmm" / "sleepstudy_intercept_ml.json")
    assert abs(ours.llf - r["loglik"]) < 1e-6
    assert abs(ours.llf - theirs.llf) < 1e-3
    assert math.isfinite(ours.aic)
    assert list(ours.params.index) == list(theirs.params.index)


def test_hsb82_random_intercept_lme4_variance():
    # The shim's numbers are lmer's (which the Rust tests check against lme4), whatever
    # statsmodels' optimiser does on these data.
    hsb = ml.load_dataset("Hsb82")
    ours = ml.mixedlm("mAch ~ ses", hsb, groups="school").fit()
    lm = ml.lmer("mAch ~ ses + (1 | school)", hsb)
    vc = lm.varcorr
    assert abs(ours.cov_re.iloc[0, 0] - vc["vcov"][0]) < 1e-9
    assert abs(ours.llf - lm.loglik) < 1e-9


def test_vc_formula_is_a_nested_intercept(sleep):
    sleep = sleep.copy()
    sleep["half"] = ["a" if d < 5 else "b" for d in sleep["Days"]]
    ours = ml.mixedlm("Reaction ~ Days", sleep, groups="Subject",
                      vc_formula={"half": "0 + C(half)"}).fit()
    lm = ml.lmer("Reaction ~ Days + (1 | Subject) + (1 | Subject:half)", sleep)
    assert abs(ours.llf - lm.loglik) < 1e-9
    assert "half Var" in list(ours.params.index)
    with pytest.raises(ml.MultilevelError, match="vc_formula"):
        ml.mixedlm("Reaction ~ Days", sleep, groups="Subject", vc_formula={"x": "~Days"})


def test_hsb82_random_intercept_where_statsmodels_stops_early():
    # statsmodels 0.15 warns, retries with lbfgs and stops at a school variance of 4.670; lme4
    # (and so the shim) reaches 4.768 with a higher REML log-likelihood.
    hsb = ml.load_dataset("Hsb82")
    df = pd.DataFrame({"mAch": hsb["mAch"], "ses": hsb["ses"],
                       "school": hsb["school"].astype(str)})
    theirs = _statsmodels("mAch ~ ses", df, groups=df["school"])
    ours = ml.mixedlm("mAch ~ ses", df, groups=df["school"]).fit()
    assert abs(ours.cov_re.iloc[0, 0] - 4.768) < 5e-4
    assert ours.llf >= theirs.llf - 1e-9
    for name in theirs.fe_params.index:
        assert abs(ours.fe_params[name] - theirs.fe_params[name]) < 1e-2
