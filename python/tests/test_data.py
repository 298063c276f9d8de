"""Data in from pandas, polars, pyarrow and dicts: the same fit whatever the container, factor
level order kept, missing values dropped and counted, clear errors."""

import math

import pytest

import multilevel as ml

FORMULA = "Reaction ~ Days + (Days | Subject)"
LOGLIK = -871.8141359799  # lme4 1.1-31, REML (tests/reference/lmm/sleepstudy_slope_reml.json)


def _plain(sleepstudy):
    """sleepstudy as a dict of plain lists (Subject as text labels)."""
    return {
        "Reaction": [float(x) for x in sleepstudy["Reaction"]],
        "Days": [float(x) for x in sleepstudy["Days"]],
        "Subject": [str(x) for x in sleepstudy["Subject"]],
    }


def test_pandas_frame_with_categorical(sleepstudy):
    m = ml.lmer(FORMULA, sleepstudy)
    assert abs(m.loglik - LOGLIK) < 1e-6
    assert m.nobs == 180


def test_dict_of_lists_and_numpy(sleepstudy):
    np = pytest.importorskip("numpy")
    d = _plain(sleepstudy)
    a = ml.lmer(FORMULA, d)
    b = ml.lmer(FORMULA, {"Reaction": np.asarray(d["Reaction"]),
                          "Days": np.asarray(d["Days"], dtype=np.int64),
                          "Subject": np.asarray(d["Subject"])})
    assert abs(a.loglik - LOGLIK) < 1e-6
    assert abs(b.loglik - a.loglik) < 1e-9


def test_polars_frame(sleepstudy):
    pl = pytest.importorskip("polars")
    d = _plain(sleepstudy)
    m = ml.lmer(FORMULA, pl.DataFrame(d))
    assert abs(m.loglik - LOGLIK) < 1e-6
    m2 = ml.lmer(FORMULA, pl.DataFrame(d).with_columns(pl.col("Subject").cast(pl.Categorical)))
    assert abs(m2.loglik - LOGLIK) < 1e-6
    m3 = ml.lmer(FORMULA, pl.DataFrame(d).lazy())
    assert abs(m3.loglik - LOGLIK) < 1e-6


def test_pyarrow_table_and_arrow_stream(sleepstudy):
    pa = pytest.importorskip("pyarrow")
    d = _plain(sleepstudy)
    t = pa.table(d)
    assert abs(ml.lmer(FORMULA, t).loglik - LOGLIK) < 1e-6
    # Dictionary-encoded strings are factors.
    t2 = t.set_column(2, "Subject", t.column("Subject").dictionary_encode())
    assert abs(ml.lmer(FORMULA, t2).loglik - LOGLIK) < 1e-6

    class Stream:
        """Any object with the Arrow PyCapsule stream interface."""

        def __arrow_c_stream__(self, requested_schema=None):
            return t.__arrow_c_stream__(requested_schema)

    assert abs(ml.lmer(FORMULA, Stream()).loglik - LOGLIK) < 1e-6


def test_categorical_level_order_is_kept():
    pd = pytest.importorskip("pandas")
    ds = ml.load_dataset("sleepstudy")
    df = pd.DataFrame({"y": list(ds["Reaction"]), "Days": list(ds["Days"]),
                       "g": [str(s) for s in ds["Subject"]]})
    # Levels of a two-level factor in reverse alphabetical order: the contrast column is named
    # after the second level, as R's treatment contrasts.
    df["half"] = pd.Categorical(["late" if d >= 5 else "early" for d in df["Days"]],
                                categories=["late", "early"])
    m = ml.lmer("y ~ half + (1 | g)", df)
    assert list(m.fixef.index) == ["(Intercept)", "halfearly"]
    # An object (string) column becomes a factor with R's sorted levels.
    df["half2"] = ["late" if d >= 5 else "early" for d in df["Days"]]
    m2 = ml.lmer("y ~ half2 + (1 | g)", df)
    assert list(m2.fixef.index) == ["(Intercept)", "half2late"]
    assert abs(m2.fixef["half2late"] + m.fixef["halfearly"]) < 1e-8


def test_missing_values_are_dropped_and_counted(sleepstudy):
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    df = pd.DataFrame(_plain(sleepstudy))
    df.loc[0, "Reaction"] = np.nan
    df["Subject"] = df["Subject"].astype(object)
    df.loc[1, "Subject"] = None
    df["Days"] = df["Days"].astype("Float64")
    df.loc[2, "Days"] = pd.NA
    m = ml.lmer(FORMULA, df)
    assert m.nobs == 177
    assert m.n_dropped == 3
    aug = m.augment()
    assert len(aug) == 177
    assert 0 not in list(aug.index) and 3 in list(aug.index)


def test_errors_are_python_exceptions_with_one_line_messages(sleepstudy):
    with pytest.raises(ml.MultilevelError) as e:
        ml.lmer("Reaction ~ Dayz + (1 | Subject)", sleepstudy)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "Dayz" in msg and "\n" not in msg.strip()
    # Only the formula's columns are converted, but the error still knows every column.
    assert "did you mean `Days`" in msg
    with pytest.raises(ml.MultilevelError):
        ml.lmer("Reaction ~ Days + (1 | Subject", sleepstudy)
    with pytest.raises(ml.MultilevelError, match="no embedded data set"):
        ml.load_dataset("nope")
    with pytest.raises(TypeError, match="cannot read data"):
        ml.lmer(FORMULA, 42)
