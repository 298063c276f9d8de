"""The lme4-style API on sleepstudy and cbpp: numbers against the committed lme4 references,
the text summary against the command-line program, tidy/glance/augment, anova, confint,
predict, simulate, compare."""

import math
import pathlib
import subprocess

import pytest

import multilevel as ml
from conftest import REFERENCE, ROOT, load_reference

SLOPE = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def slope(sleepstudy):
    return ml.lmer(SLOPE, sleepstudy)


def test_numbers_match_lme4(slope):
    r = load_reference(REFERENCE / "lmm" / "sleepstudy_slope_reml.json")
    assert abs(slope.loglik - r["loglik"]) < 1e-6
    assert abs(slope.aic - r["aic"]) < 1e-5 and abs(slope.bic - r["bic"]) < 1e-5
    assert list(slope.fixef.index) == r["beta_names"]
    for a, b in zip(slope.fixef, r["beta"]):
        assert abs(a - b) < 1e-4 * abs(b)
    vc = slope.varcorr
    assert list(vc["grp"]) == ["Subject", "Subject", "Subject", "Residual"]
    for ours, e in zip(zip(vc["vcov"], vc["sdcor"]), r["varcorr"]):
        assert abs(ours[0] - e["vcov"]) < 1e-3 * abs(e["vcov"])
        assert abs(ours[1] - e["sdcor"]) < 1e-3 * abs(e["sdcor"])
    coef = slope.coef["Subject"]
    assert list(coef.columns) == ["(Intercept)", "Days"]
    assert abs(coef.loc["308", "Days"] - (r["beta"][1] + r["ranef"][0]["values"][0][1])) < 1e-3


def _cli():
    for profile in ("debug", "release"):
        exe = ROOT / "target" / profile / "multilevel"
        if exe.exists():
            return exe
    return None


def test_summary_is_the_cli_report(slope):
    text = slope.summary()
    assert text.startswith("Linear mixed model fit by REML")
    assert "Satterthwaite" in text
    assert "Number of obs: 180, groups:  Subject, 18" in text
    exe = _cli()
    if exe is None:
        pytest.skip("the command-line program is not built")
    out = subprocess.run([str(exe), "fit", SLOPE, "--dataset", "sleepstudy"],
                         capture_output=True, text=True, check=True).stdout
    assert text.strip() == out.strip()


def test_lme4_summary_without_df(slope):
    text = slope.summary(ddf=None)
    assert "Satterthwaite" not in text and "Pr(>|t|)" not in text
    assert "t value" in text


def test_tidy_glance_augment(slope):
    t = slope.tidy()
    assert list(t.columns) == ["effect", "group", "term", "estimate", "std.error", "statistic",
                               "df", "p.value"]
    assert list(t["term"]) == ["(Intercept)", "Days", "sd__(Intercept)", "sd__Days",
                               "cor__(Intercept).Days", "sd__Observation"]
    days = t[t["term"] == "Days"].iloc[0]
    assert abs(days["df"] - 17.0) < 0.01  # lmerTest: 17.00
    g = slope.glance()
    assert int(g["nobs"][0]) == 180 and abs(g["logLik"][0] - slope.loglik) < 1e-12
    a = slope.augment()
    assert len(a) == 180
    assert max(abs(f + r - y) for f, r, y in zip(a[".fitted"], a[".resid"], a["Reaction"])) < 1e-8


def test_anova_confint(sleepstudy):
    cake = ml.load_dataset("cake")
    m = ml.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", cake)
    table = m.anova()
    assert list(table["term"])[1] == "temperature"
    assert abs(table["den_df"][1] - 210.0) < 0.1  # lmerTest: 210
    ci = ml.lmer(SLOPE, sleepstudy).confint("Wald")
    days = ci[ci["term"] == "Days"].iloc[0]
    est, se = 10.467285959596, 1.54578964390598
    assert abs(days["lower"] - (est - 1.959963984540054 * se)) < 1e-4
    assert abs(days["upper"] - (est + 1.959963984540054 * se)) < 1e-4


def test_predict_and_simulate(slope, sleepstudy):
    own = slope.predict(sleepstudy)
    assert max(abs(a - b) for a, b in zip(own, slope.fitted)) < 1e-9
    pop = slope.predict(sleepstudy, re_form="~0")
    assert abs(pop[0] - 251.405104848485) < 1e-3
    s1 = slope.simulate(nsim=3, seed=7)
    s2 = slope.simulate(nsim=3, seed=7)
    assert list(s1.columns) == ["sim_1", "sim_2", "sim_3"] and len(s1) == 180
    assert list(s1["sim_2"]) == list(s2["sim_2"])
    assert list(s1["sim_1"]) != list(s1["sim_2"])


def test_compare_refits_by_ml(sleepstudy):
    r = load_reference(REFERENCE / "inference" / "compare_sleepstudy.json")
    m1 = ml.lmer("Reaction ~ Days + (1 | Subject)", sleepstudy)
    m2 = ml.lmer(SLOPE, sleepstudy)
    cmp = ml.compare(m1, m2)
    assert cmp.refitted
    chisq = [c for c in cmp.table["chisq"] if c is not None and not
             (isinstance(c, float) and math.isnan(c))]
    assert abs(chisq[0] - 42.139) < 1e-2  # lme4: 42.139
    assert "Chisq" in str(cmp)
    assert r  # the committed reference exists


def test_glmer_cbpp():
    r = load_reference(REFERENCE / "glmm" / "cbpp_laplace.json")
    cbpp = ml.load_dataset("cbpp")
    m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial")
    assert abs(m.loglik - r["loglik"]) < 1e-4
    assert m.family == "binomial" and m.link == "logit"
    assert "Generalized linear mixed model fit by maximum likelihood" in m.summary()
    p = m.predict(cbpp, re_form="~0", type="response")
    assert 0 < min(p) and max(p) < 1
    # GLMM profile intervals: lme4's confint(method = "profile"), from the committed reference
    prof = load_reference(REFERENCE / "glmm_intervals" / "cbpp.json")["profile"]
    ci = m.confint("profile")
    for ref in prof:
        row = ci[ci["term"] == ref["term"]].iloc[0]
        width = ref["upper"] - ref["lower"]
        for side in ("lower", "upper"):
            assert abs(row[side] - ref[side]) < 1e-3 * max(abs(ref[side]), width), (ref, side)
    with pytest.raises(ml.MultilevelError, match="nAGQ"):
        ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial", nagq=0).confint("profile")


def test_repr_html(slope):
    assert slope._repr_html_().startswith("<pre>Linear mixed model fit by REML")


def test_load_dataset_names():
    names = ml.dataset_names()
    assert "sleepstudy" in names and "Hsb82" in names


@pytest.mark.parametrize("kind", ["caterpillar", "residuals", "shrinkage"])
def test_figures_are_svg(slope, kind):
    fig = slope.plot(kind)
    data = bytes(fig)
    assert data.lstrip().startswith(b"<svg") and data.rstrip().endswith(b"</svg>")
    # The figure shows the model's grouping factor.
    assert b"Subject" in data


def test_figures_as_png(slope, tmp_path):
    fig = slope.plot("caterpillar")
    png = fig.png
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    path = tmp_path / "fig.png"
    fig.save(str(path))
    assert path.read_bytes() == png
    fig.save(str(tmp_path / "fig.svg"))
    assert (tmp_path / "fig.svg").read_bytes() == bytes(fig)


def test_unknown_figure_is_an_error(slope):
    with pytest.raises(ml.MultilevelError, match="unknown figure"):
        slope.plot("pie")


def test_explore_hausman():
    hsb = ml.load_dataset("Hsb82")
    r = load_reference(REFERENCE / "workflow" / "hsb82.json")
    e = ml.explore("mAch ~ ses", hsb, groups="school", bootstrap=0)
    # As crates/multilevel-workflow/tests/hsb82.rs: H within 1e-3 relative of the REML-based
    # statistic computed in R, same df.
    h = e.hausman
    assert abs(h["statistic"] - r["hausman"]["statistic"]) < 1e-3 * r["hausman"]["statistic"]
    assert h["df"] == r["hausman"]["df"]
    assert "use within or the hybrid model" in h["conclusion"]
    assert "Hausman" in str(e)
    assert {"ols", "between", "within", "random"} <= set(e.estimators["method"])
