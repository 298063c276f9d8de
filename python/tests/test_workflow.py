"""ml.meta, ml.gee and ml.robust against the committed R references (metafor's rma,
geepack's geeglm, clubSandwich's coef_test; tests/reference/meta and tests/reference/marginal,
made by xtask/r/reference_meta.R and reference_marginal.R), with the tolerances of the Rust
tests that read the same files."""

import csv
import json
import math

import pytest

import multilevel as ml

from conftest import ROOT

META = ROOT / "tests" / "reference" / "meta"
MARGINAL = ROOT / "tests" / "reference" / "marginal"


def _read_csv(path):
    """A CSV file as a dict of columns (numbers where every value is one, "NA" missing): no
    pandas needed."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {}
    for j, name in enumerate(header):
        raw = [r[j] for r in body]
        try:
            cols[name] = [None if v in ("NA", "") else float(v) for v in raw]
        except ValueError:
            cols[name] = [None if v in ("NA", "") else v for v in raw]
    return cols


def _close(what, got, want, tol, floor=1e-12):
    if want is None:
        assert got is None or (isinstance(got, float) and math.isnan(got)), what
        return
    assert abs(got - want) <= tol * abs(want) or abs(got - want) <= floor, \
        f"{what}: got {got!r}, want {want!r}"


ITERATIVE = {"REML", "ML", "PM", "EB"}


@pytest.mark.parametrize("name", ["bcg", "molloy", "normand", "hine"])
def test_meta_matches_metafor(name):
    ref = json.loads((META / f"{name}.json").read_text())
    data = _read_csv(META / f"{name}.csv")
    n = 0
    for model in ref["models"]:
        for r in model["fits"]:
            fit = ml.meta(data, yi="yi", vi="vi", method=r["method"], mods=model["mods"],
                          test=r["test"], slab="slab")
            what = f"{name} {model['mods']} {r['method']} {r['test']}"
            tol = 1e-5 if r["method"] in ITERATIVE else 1e-6
            assert fit.k == r["k"], what
            t = fit.tidy()
            for j in range(len(r["beta"])):
                _close(f"{what} beta[{j}]", t["estimate"][j], r["beta"][j], tol)
                _close(f"{what} se[{j}]", t["std.error"][j], r["se"][j], tol)
                _close(f"{what} z[{j}]", t["statistic"][j], r["zval"][j], tol)
                _close(f"{what} p[{j}]", t["p.value"][j], r["pval"][j], tol)
                _close(f"{what} ci.lb[{j}]", t["conf.low"][j], r["ci_lb"][j], tol)
                _close(f"{what} ci.ub[{j}]", t["conf.high"][j], r["ci_ub"][j], tol)
            _close(f"{what} tau2", fit.tau2, r["tau2"], tol)
            if r["se_tau2"] is not None:
                _close(f"{what} se.tau2", fit.se_tau2, r["se_tau2"], tol)
            _close(f"{what} I2", fit.i2, r["I2"], tol)
            _close(f"{what} H2", fit.h2, r["H2"], tol)
            _close(f"{what} QE", fit.q, r["QE"], tol)
            _close(f"{what} QEp", fit.q_p, r["QEp"], tol, 1e-300)
            if r["R2"] is not None:
                _close(f"{what} R2", fit.r2, r["R2"], tol, 1e-8)
            n += 1
    assert n >= 16


def test_meta_from_pandas_sei_missing_rows_and_report():
    pd = pytest.importorskip("pandas")
    ref = json.loads((META / "bcg.json").read_text())
    r = ref["models"][0]["fits"][0]  # REML, z
    df = pd.read_csv(META / "bcg.csv")
    df["sei"] = df["vi"] ** 0.5
    fit = ml.meta(df, yi="yi", sei="sei", slab="slab")
    _close("estimate", fit.estimate, r["beta"][0], 1e-5)
    _close("tau2", fit.tau2, r["tau2"], 1e-5)
    assert fit.ci == pytest.approx((r["ci_lb"][0], r["ci_ub"][0]), rel=1e-5)
    assert fit.pi == pytest.approx((r["pred_pi_lb"], r["pred_pi_ub"]), rel=1e-5)
    assert list(fit.weights["weight_random"]) == pytest.approx(r["weights_random"], rel=1e-5)
    assert "Random-Effects Model" in fit.summary()
    g = fit.glance()
    assert int(g["k"][0]) == 13 and int(g["n_dropped"][0]) == 0
    _close("logLik", float(g["logLik"][0]), r["fit_stats_REML"][0], 1e-5)
    # A missing effect size is dropped and counted.
    df.loc[2, "yi"] = None
    gaps = ml.meta(df, yi="yi", vi="vi")
    assert (gaps.k, gaps.n_dropped) == (12, 1)
    with pytest.raises(ml.MultilevelError, match="exactly one of"):
        ml.meta(df, yi="yi")
    with pytest.raises(ml.MultilevelError, match="unknown method"):
        ml.meta(df, yi="yi", vi="vi", method="XX")


def test_gee_matches_geepack():
    refs = json.loads((MARGINAL / "gee.json").read_text())
    assert len(refs["cases"]) == 9
    for case in refs["cases"]:
        data = _read_csv(MARGINAL / case["data"])
        fit = ml.gee(case["formula"], data, groups=case["cluster"], family=case["family"],
                     link=case["link"], corstr=case["corstr"])
        name = case["name"]
        assert (fit.nobs, fit.clusters) == (case["nobs"], case["clusters"]), name
        _close(f"{name} scale", fit.scale, case["scale"], 1e-5)
        if case["alpha"] is None:
            assert math.isnan(fit.alpha)
        else:
            _close(f"{name} alpha", fit.alpha, case["alpha"], 1e-5, 1e-7)
        t = fit.tidy()
        assert list(t["term"]) == [f["term"] for f in case["fixed"]], name
        for j, f in enumerate(case["fixed"]):
            _close(f"{name} {f['term']} estimate", t["estimate"][j], f["estimate"], 1e-6, 1e-10)
            _close(f"{name} {f['term']} se", t["std.error"][j], f["std_error"], 1e-5)
            _close(f"{name} {f['term']} wald", t["wald"][j], f["wald"], 1e-4, 1e-10)
            _close(f"{name} {f['term']} p", t["p.value"][j], f["p_value"], 1e-4)
        assert "GEE" in fit.summary() or "geeglm" in fit.summary() or fit.summary()


def test_robust_matches_clubsandwich():
    refs = json.loads((MARGINAL / "cr.json").read_text())
    checked = 0
    for case in refs["cases"]:
        path = MARGINAL / case["data"]
        data = _read_csv(path)
        for ty in ("CR0", "CR1", "CR2"):
            res = ml.robust(case["formula"], data, cluster=case["cluster"], type=ty,
                            model=case["model"])
            assert res.clusters == case["clusters"] and res.vcov_type == ty
            t = res.tidy()
            for j, w in enumerate(case["types"][ty]):
                what = f"{case['name']} {ty} {w['term']}"
                assert t["term"][j] == w["term"], what
                _close(f"{what} estimate", t["estimate"][j], w["estimate"], 1e-6, 1e-10)
                _close(f"{what} se", t["std.error"][j], w["std_error"], 1e-5)
                _close(f"{what} t", t["statistic"][j], w["t"], 1e-5, 1e-10)
                _close(f"{what} df", t["df"][j], w["df"], 1e-4, 1e-8)
                _close(f"{what} p", t["p.value"][j], w["p_value"], 1e-4)
                checked += 1
    assert checked >= 30


def test_workflow_errors_name_the_python_argument():
    sleep = ml.load_dataset("sleepstudy")
    with pytest.raises(ml.MultilevelError, match="groups="):
        ml.gee("Reaction ~ Days + (1 | Subject)", sleep, groups="Subject")
    with pytest.raises(ml.MultilevelError, match='model="ols"'):
        ml.robust("Reaction ~ Days", sleep, cluster="Subject", model="lmm")
    with pytest.raises(ml.MultilevelError, match="unknown type"):
        ml.robust("Reaction ~ Days", sleep, cluster="Subject", type="CR9")
    r = ml.robust("Reaction ~ Days + (Days | Subject)", sleep, cluster="Subject", model="lmm")
    assert list(r.params.index) == ["(Intercept)", "Days"]
    assert "CR2" in r.summary()
