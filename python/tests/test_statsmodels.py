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


@pytest.mark.parametrize("re_formula", [None, "~Days"])
def test_variance_parameter_standard_errors_as_statsmodels(sleep, re_formula):
    # statsmodels inverts its Hessian in (fixed effects, cov_re / scale); the shim takes
    # lmerTest's covariance of θ̂ through the delta method. Where both converge to the same
    # optimum the SEs agree (statsmodels stops a little short: 1e-3).
    theirs = _statsmodels("Reaction ~ Days", sleep, groups=sleep["Subject"],
                          re_formula=re_formula)
    ours = ml.mixedlm("Reaction ~ Days", sleep, groups=sleep["Subject"],
                      re_formula=re_formula).fit()
    names = list(theirs.params.index)[len(theirs.fe_params):]
    assert names and list(ours.bse_re.index) == names
    for name in names:
        assert abs(ours.bse[name] - theirs.bse[name]) <= 1e-3 * theirs.bse[name], name
        assert abs(ours.bse_re[name] - theirs.bse_re[name]) <= 1e-3 * theirs.bse_re[name]
        assert abs(ours.tvalues[name] - theirs.tvalues[name]) <= 1e-3 * abs(
            theirs.tvalues[name]), name


def test_summary_layout_is_statsmodels(sleep):
    from multilevel._statsmodels import summary_text

    np = pytest.importorskip("numpy")
    for kw in ({}, {"re_formula": "~Days"}):
        theirs = _statsmodels("Reaction ~ Days", sleep, groups=sleep["Subject"], **kw)
        # statsmodels' own numbers through the shim's renderer give its text exactly.
        gs = [len(x) for x in theirs.model.endog_li]
        info = [("Model:", "MixedLM"), ("No. Observations:", str(theirs.nobs)),
                ("No. Groups:", str(theirs.model.n_groups)),
                ("Min. group size:", f"{min(gs):.0f}"), ("Max. group size:", f"{max(gs):.0f}"),
                ("Mean group size:", f"{np.mean(gs):.1f}"), ("Dependent Variable:", "Reaction"),
                ("Method:", theirs.method), ("Scale:", theirs.scale),
                ("Log-Likelihood:", theirs.llf), ("Converged:", "Yes")]
        q = 1.959963984540054
        table = []
        for i, n in enumerate(theirs.params.index):
            b, se = theirs.params[n], theirs.bse[n]
            if i < theirs.k_fe:
                table.append([b, se, theirs.tvalues[n], theirs.pvalues[n], b - q * se,
                              b + q * se])
            else:
                table.append([b * theirs.scale, math.sqrt(theirs.scale) * se]
                             + [float("nan")] * 4)
        text = summary_text("Mixed Linear Model Regression Results", info,
                            list(theirs.params.index), table)
        assert text == str(theirs.summary())
        # The shim's summary: the same lines, labels and widths, lme4's numbers.
        ours = str(ml.mixedlm("Reaction ~ Days", sleep, groups=sleep["Subject"], **kw)
                   .fit().summary())
        a, b = ours.splitlines(), str(theirs.summary()).splitlines()
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert len(x) == len(y)
            assert x.split()[:1] == y.split()[:1]
        assert "Group Var" in ours and "Std.Err." in ours
