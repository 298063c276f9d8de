"""Data in through the Arrow PyCapsule interface: pandas, polars, pyarrow and DuckDB tables
hand their Arrow buffers to the extension; the fits equal those of the column-by-column route
(dicts of lists), categorical level order and the ordered flag are kept, and missing values are
dropped and counted."""

import math

import pytest

import multilevel as ml
from multilevel import _data
from multilevel import _multilevel as _ext

FORMULA = "Reaction ~ Days + (Days | Subject)"
LOGLIK = -871.8141359799  # lme4 1.1-31, REML (tests/reference/lmm/sleepstudy_slope_reml.json)
HSB = "mAch ~ ses * sector + (ses | school)"


def _plain(ds, names):
    """Columns of an embedded data set as plain lists (factors as their labels)."""
    return {n: [None if v is None or (isinstance(v, float) and math.isnan(v))
                else (str(v) if not isinstance(v, (int, float)) else float(v))
                for v in ds[n]] for n in names}


def _same_fit(a, b, tol=1e-10):
    assert list(a.fixef.index) == list(b.fixef.index)
    for x, y in zip(a.fixef, b.fixef):
        assert abs(x - y) <= tol * max(1.0, abs(y))
    for x, y in zip(a.theta, b.theta):
        assert abs(x - y) <= tol * max(1.0, abs(y))
    assert abs(a.loglik - b.loglik) <= tol * abs(b.loglik)
    assert a.nobs == b.nobs and a.n_dropped == b.n_dropped


@pytest.fixture(scope="module")
def sleep_plain():
    return _plain(ml.load_dataset("sleepstudy"), ["Reaction", "Days", "Subject"])


@pytest.fixture(scope="module")
def hsb():
    return ml.load_dataset("Hsb82")


def test_each_library_goes_through_arrow_and_gives_the_same_fit(sleep_plain):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    reference = ml.lmer(FORMULA, sleep_plain)  # dict of lists: column by column
    assert not isinstance(_data.to_data(sleep_plain, "d", {"Days"}), _ext.Frame)
    assert abs(reference.loglik - LOGLIK) < 1e-6
    tables = {
        "pandas": pd.DataFrame(sleep_plain),
        "pandas categorical": pd.DataFrame(sleep_plain).astype({"Subject": "category"}),
        "pyarrow": pa.table(sleep_plain),
        "pyarrow dictionary": pa.table(sleep_plain).set_column(
            2, "Subject", pa.table(sleep_plain).column("Subject").dictionary_encode()),
        "pyarrow record batch": pa.record_batch(pa.table(sleep_plain).to_batches()[0]),
        "polars": pl.DataFrame(sleep_plain),
        "polars categorical": pl.DataFrame(sleep_plain).with_columns(
            pl.col("Subject").cast(pl.Categorical)),
        "polars lazy": pl.DataFrame(sleep_plain).lazy(),
    }
    for what, t in tables.items():
        d = _data.to_data(t, "d", {"Reaction", "Days", "Subject"})
        if what == "pandas categorical":
            # NumPy columns and text categoricals skip Arrow: raw buffers (see below).
            assert [(c[0], c[1]) for c in d] == [("Days", "f64"), ("Reaction", "f64"),
                                                 ("Subject", "codes")], what
        else:
            assert isinstance(d, _ext.Frame), what
            assert sorted(d.column_names) == ["Days", "Reaction", "Subject"], what
        _same_fit(ml.lmer(FORMULA, t), reference)


def test_pandas_numpy_columns_go_as_raw_buffers(sleep_plain):
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    d = dict(sleep_plain)
    d["late"] = [x >= 5 for x in d["Days"]]
    d["Days"] = [int(x) for x in d["Days"]]
    d["Reaction"] = list(d["Reaction"])
    d["Reaction"][0] = None
    d["Subject"] = list(d["Subject"])
    d["Subject"][5] = None
    levels = sorted({s for s in d["Subject"] if s is not None}, reverse=True)
    df = pd.DataFrame({
        "Reaction": np.array([np.nan if v is None else v for v in d["Reaction"]]),
        "Days": np.array(d["Days"], dtype=np.int64),
        "late": np.array(d["late"], dtype=bool),
        "Subject": pd.Categorical(d["Subject"], categories=levels, ordered=False),
        "unused": ["x"] * len(d["Days"]),  # a text column the formula does not read
    })
    formula = "Reaction ~ Days + late + (1 | Subject)"
    cols = _data.to_data(df, "d", {"Reaction", "Days", "late", "Subject"})
    assert [c[1] for c in cols] == ["f64", "f64", "codes", "f64"]
    m = ml.lmer(formula, df)
    # The same data column by column (a dict of lists) and through Arrow.
    plain = {"Reaction": d["Reaction"], "Days": [float(x) for x in d["Days"]],
             "late": d["late"], "Subject": pd.Categorical(d["Subject"], categories=levels)}
    ref = ml.lmer(formula, plain)
    _same_fit(m, ref)
    assert (m.nobs, m.n_dropped) == (178, 2)
    # The level order of the categorical is kept (the first level is the largest label).
    assert list(m.ranef["grp"])[0] == levels[0]
    assert list(ref.ranef["grp"])[0] == levels[0]  # a bare Categorical in a dict too
    pa = pytest.importorskip("pyarrow")
    _same_fit(ml.lmer(formula, pa.Table.from_pandas(df, preserve_index=False)), ref)
    # Nullable extension dtypes and text columns among the wanted ones take the other routes.
    assert isinstance(_data.to_data(df.astype({"Days": "Int64"}), "d", {"Days"}), _ext.Frame)
    assert isinstance(_data.to_data(df, "d", {"unused", "Days"}), _ext.Frame)


def test_any_arrow_capsule_object_stream_or_array(sleep_plain):
    pa = pytest.importorskip("pyarrow")
    t = pa.table(sleep_plain)
    reference = ml.lmer(FORMULA, sleep_plain)

    class Stream:
        def __arrow_c_stream__(self, requested_schema=None):
            return t.__arrow_c_stream__(requested_schema)

    class Batch:
        def __arrow_c_array__(self, requested_schema=None):
            return t.combine_chunks().to_batches()[0].__arrow_c_array__(requested_schema)

    _same_fit(ml.lmer(FORMULA, Stream()), reference)
    _same_fit(ml.lmer(FORMULA, Batch()), reference)
    # Several batches in one stream are read as one table.
    chunked = pa.Table.from_batches(t.to_batches(max_chunksize=50))
    assert chunked.column("Days").num_chunks == 4
    _same_fit(ml.lmer(FORMULA, chunked), reference)


def test_duckdb_relation():
    duckdb = pytest.importorskip("duckdb")
    pa = pytest.importorskip("pyarrow")
    ds = _plain(ml.load_dataset("sleepstudy"), ["Reaction", "Days", "Subject"])
    tbl = pa.table(ds)  # noqa: F841 - read by DuckDB's replacement scan
    con = duckdb.connect()
    # Days as a DECIMAL(4, 1): decimals are numbers.
    rel = con.sql("select Reaction, cast(Days as decimal(4, 1)) as Days, Subject from tbl")
    _same_fit(ml.lmer(FORMULA, rel), ml.lmer(FORMULA, ds))


def test_hsb82_random_slope_cross_level_from_each_library(hsb):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    plain = _plain(hsb, ["mAch", "ses", "sector", "school"])
    reference = ml.lmer(HSB, plain)
    _same_fit(ml.lmer(HSB, hsb), reference)  # the embedded pandas frame (categoricals)
    _same_fit(ml.lmer(HSB, pd.DataFrame(plain)), reference)
    _same_fit(ml.lmer(HSB, pl.DataFrame(plain)), reference)
    _same_fit(ml.lmer(HSB, pa.table(plain)), reference)


def test_category_level_order_and_ordered_flag_are_kept():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    ds = ml.load_dataset("sleepstudy")
    y = [float(v) for v in ds["Reaction"]]
    g = [str(v) for v in ds["Subject"]]
    dose = ["high" if d >= 6 else ("mid" if d >= 3 else "low") for d in ds["Days"]]
    levels = ["low", "mid", "high"]  # not alphabetical
    unordered = pd.DataFrame({"y": y, "g": g,
                              "dose": pd.Categorical(dose, categories=levels)})
    m = ml.lmer("y ~ dose + (1 | g)", unordered)
    assert isinstance(_data.to_data(unordered, "d", {"y", "g", "dose"}), _ext.Frame)
    assert list(m.fixef.index) == ["(Intercept)", "dosemid", "dosehigh"]
    ordered = unordered.assign(dose=pd.Categorical(dose, categories=levels, ordered=True))
    mo = ml.lmer("y ~ dose + (1 | g)", ordered)
    assert list(mo.fixef.index) == ["(Intercept)", "dose.L", "dose.Q"]
    # The same from pyarrow (ordered dictionary) and polars (Enum: ordered, as the
    # column-by-column route reads it), and from the column route.
    t = pa.table({"y": y, "g": g,
                  "dose": pa.DictionaryArray.from_arrays(
                      pa.array([levels.index(d) for d in dose], pa.int8()), pa.array(levels),
                      ordered=True)})
    _same_fit(ml.lmer("y ~ dose + (1 | g)", t), mo)
    p = pl.DataFrame({"y": y, "g": g, "dose": pl.Series(dose, dtype=pl.Enum(levels))})
    _same_fit(ml.lmer("y ~ dose + (1 | g)", p), mo)
    cols = {"y": y, "g": g, "dose": pd.Series(pd.Categorical(dose, categories=levels,
                                                              ordered=True))}
    _same_fit(ml.lmer("y ~ dose + (1 | g)", cols), mo)  # a dict: column by column
    # A categorical of numbers keeps R's labels and its order.
    nums = unordered.assign(dose=pd.Categorical([levels.index(d) * 10 for d in dose],
                                                categories=[20, 0, 10]))
    mn = ml.lmer("y ~ dose + (1 | g)", nums)
    assert list(mn.fixef.index) == ["(Intercept)", "dose0", "dose10"]


def test_text_and_boolean_columns(sleep_plain):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    d = dict(sleep_plain)
    d["late"] = [x >= 5 for x in d["Days"]]
    d["half"] = ["late" if x >= 5 else "early" for x in d["Days"]]
    ref = ml.lmer("Reaction ~ late + (1 | Subject)", d)
    ref2 = ml.lmer("Reaction ~ half + (1 | Subject)", d)
    assert list(ref.fixef.index) == ["(Intercept)", "late"]  # booleans are 0/1 numbers
    assert list(ref2.fixef.index) == ["(Intercept)", "halflate"]  # text: sorted levels
    for t in (pd.DataFrame(d), pl.DataFrame(d)):
        _same_fit(ml.lmer("Reaction ~ late + (1 | Subject)", t), ref)
        _same_fit(ml.lmer("Reaction ~ half + (1 | Subject)", t), ref2)


def test_missing_values_are_dropped_and_counted_on_every_route(sleep_plain):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    np = pytest.importorskip("numpy")
    df = pd.DataFrame(sleep_plain)
    df.loc[0, "Reaction"] = np.nan          # NaN in a float column
    df["Subject"] = df["Subject"].astype(object)
    df.loc[1, "Subject"] = None             # None in a text column
    df["Days"] = df["Days"].astype("Float64")
    df.loc[2, "Days"] = pd.NA               # pd.NA in a nullable column
    df.loc[3, "Reaction"] = None
    m = ml.lmer(FORMULA, df)
    assert isinstance(_data.to_data(df, "d", {"Reaction", "Days", "Subject"}), _ext.Frame)
    assert (m.nobs, m.n_dropped) == (176, 4)
    assert "4 rows with missing values dropped" in m.warnings
    assert "4 rows with missing values dropped" in m.summary()
    plain = {k: list(v) for k, v in sleep_plain.items()}
    plain["Reaction"][0] = None
    plain["Reaction"][3] = float("nan")
    plain["Subject"][1] = None
    plain["Days"][2] = None
    ref = ml.lmer(FORMULA, plain)
    _same_fit(m, ref)
    _same_fit(ml.lmer(FORMULA, pa.table(plain)), ref)
    _same_fit(ml.lmer(FORMULA, pl.DataFrame(plain, strict=False)), ref)
    g = m.glance()
    assert int(g["nobs"][0]) == 176


def test_fallback_and_errors(sleep_plain):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame(sleep_plain)
    # An object column mixing numbers and text is not representable in Arrow: column by column.
    df["mixed"] = [1 if i % 2 else "a" for i in range(len(df))]
    assert not isinstance(_data.to_data(df, "d", {"mixed", "Reaction"}), _ext.Frame)
    m = ml.lmer("Reaction ~ mixed + (1 | Subject)", df)
    assert list(m.fixef.index) == ["(Intercept)", "mixeda"]
    # A misspelt column: the error still names the real columns.
    with pytest.raises(ml.MultilevelError, match="did you mean `Days`"):
        ml.lmer("Reaction ~ Dayz + (1 | Subject)", df.drop(columns="mixed"))
    # Dates are refused with a hint.
    df2 = df.drop(columns="mixed").assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(ml.MultilevelError, match="dates or times"):
        ml.lmer("Reaction ~ when + (1 | Subject)", df2)
    # ... but only when the formula reads them.
    ml.lmer("Reaction ~ Days + (1 | Subject)", df2)


def test_predict_newdata_through_arrow(sleep_plain):
    pl = pytest.importorskip("polars")
    m = ml.lmer(FORMULA, sleep_plain)
    a = m.predict({k: v[:5] for k, v in sleep_plain.items()})
    b = m.predict(pl.DataFrame(sleep_plain).head(5))
    assert list(a) == pytest.approx(list(b), rel=1e-12)
