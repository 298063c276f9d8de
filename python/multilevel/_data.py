"""Data in and out: any supported table becomes the extension's data table; results become
pandas DataFrames when pandas is importable, else dicts of lists.

Two routes in (``to_data``):

- Arrow: pandas (>= 2.2, through its ``__arrow_c_stream__``; ``pyarrow.Table.from_pandas``
  for older pandas), polars, pyarrow and anything else with the Arrow PyCapsule interface
  (``__arrow_c_stream__`` / ``__arrow_c_array__``, e.g. DuckDB relations) hand their Arrow
  buffers to the extension, which reads them in Rust (no Python object per value). Only the
  columns the formula reads are selected first where the library can do so without copying.
- Column by column: dicts of lists / NumPy arrays, the package's own ``Dataset``, and pandas
  frames that Arrow cannot represent (an object column mixing numbers and text) or when
  pyarrow is not installed become plain lists of floats or factor codes with their levels.

Both give the same data table: categoricals keep their level order (ordered ones are ordered
factors), text columns are factors with sorted levels, booleans 0/1 numbers, and NaN / None /
``pd.NA`` / nulls missing.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

try:  # pandas is optional: results are dicts of lists without it
    import pandas as _pd
except ImportError:  # pragma: no cover - exercised only without pandas
    _pd = None

Column = Tuple[str, str, list, Optional[List[str]], bool]


def _module_of(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


class Dataset:
    """A table of the extension's columns (what ``load_dataset`` returns without pandas)."""

    def __init__(self, name: str, columns: List[Column]):
        self.name = name
        self.columns = columns

    def _columns_for(self, wanted: Optional[Iterable[str]]) -> List[Column]:
        keep = _wanted([c[0] for c in self.columns], wanted)
        return [c for c in self.columns if c[0] in keep]

    def __len__(self) -> int:
        return len(self.columns[0][2]) if self.columns else 0

    def to_dict(self) -> Dict[str, list]:
        """Column name -> values (factor columns as their labels, missing as None)."""
        out: Dict[str, list] = {}
        for name, kind, values, levels, _ in self.columns:
            if kind == "num":
                out[name] = list(values)
            else:
                out[name] = [None if c < 0 else levels[c] for c in values]
        return out


def columns_to_frame(name: str, columns: List[Column]) -> Any:
    """pandas DataFrame (factors as categoricals with their level order) or a Dataset."""
    if _pd is None:
        return Dataset(name, columns)
    data = {}
    for col, kind, values, levels, ordered in columns:
        if kind == "num":
            data[col] = _pd.array([float("nan") if v is None else v for v in values],
                                  dtype="float64")
        else:
            data[col] = _pd.Categorical.from_codes(values, categories=levels, ordered=ordered)
    return _pd.DataFrame(data)


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if _pd is not None:
        try:
            return v is _pd.NA or v is _pd.NaT
        except AttributeError:  # pragma: no cover
            return False
    return False


def _label(v: Any) -> str:
    """A level label as R would print it for whole numbers stored as floats."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _from_values(name: str, values: Sequence[Any], levels: Optional[Sequence[Any]] = None,
                 ordered: bool = False) -> Column:
    """A column from Python values: numbers stay numeric (booleans too, as 0/1), anything else
    becomes a factor (levels in order of first appearance sorted as R's ``factor()`` sorts:
    alphabetically), with missing values kept as missing."""
    vals = list(values)
    if levels is not None:
        labels = [_label(x) for x in levels]
        index = {lab: i for i, lab in enumerate(labels)}
        codes = []
        for row, v in enumerate(vals):
            if _is_missing(v):
                codes.append(-1)
                continue
            code = index.get(_label(v))
            if code is None:
                raise ValueError(
                    f"column `{name}`, row {row + 1}: value {v!r} is not one of its categories; "
                    "hint: add the category or drop the row")
            codes.append(code)
        return (name, "factor", codes, labels, ordered)
    numeric = True
    for v in vals:
        if _is_missing(v):
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                import numpy as np

                if isinstance(v, (np.integer, np.floating)) and not isinstance(v, np.bool_):
                    continue
            except ImportError:  # pragma: no cover
                pass
            numeric = False
            break
    if numeric:
        return (name, "num", [None if _is_missing(v) else float(v) for v in vals], None, False)
    if all(isinstance(v, bool) or _is_missing(v) or type(v).__name__ == "bool_" for v in vals):
        return (name, "num", [None if _is_missing(v) else float(bool(v)) for v in vals], None,
                False)
    labels = sorted({str(v) for v in vals if not _is_missing(v)})
    return _from_values(name, vals, labels, False)


def _pandas_column(name: str, s: Any) -> Column:
    pd = _pd
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = list(dtype.categories)
        codes = [int(c) for c in s.cat.codes.to_numpy()]
        return (name, "factor", codes, [_label(c) for c in cats], bool(dtype.ordered))
    if pd.api.types.is_bool_dtype(dtype):
        return (name, "num", [None if _is_missing(v) else float(bool(v)) for v in s.tolist()],
                None, False)
    if pd.api.types.is_numeric_dtype(dtype):
        arr = s.astype("float64").to_numpy(na_value=float("nan"))
        return (name, "num", [None if math.isnan(x) else float(x) for x in arr.tolist()], None,
                False)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise ValueError(
            f"column `{name}` holds dates or times ({dtype}), which a model formula cannot use "
            "directly; hint: convert it to a number (e.g. days since a start) or a category")
    return _from_values(name, s.tolist())


def _polars_column(name: str, s: Any) -> Column:
    import polars as pl

    dtype = s.dtype
    if dtype == pl.Categorical or dtype == pl.Enum or isinstance(dtype, (pl.Categorical, pl.Enum)):
        if isinstance(dtype, pl.Enum) or dtype == pl.Enum:
            levels = list(dtype.categories)
        else:
            try:
                levels = s.cat.get_categories().to_list()
            except AttributeError:  # pragma: no cover - older polars
                levels = sorted(set(v for v in s.to_list() if v is not None))
        return _from_values(name, s.to_list(), levels, isinstance(dtype, pl.Enum))
    if dtype.is_numeric() or dtype == pl.Boolean:
        return _from_values(name, s.cast(pl.Float64).to_list())
    if dtype.is_temporal():
        raise ValueError(
            f"column `{name}` holds dates or times ({dtype}), which a model formula cannot use "
            "directly; hint: convert it to a number (e.g. days since a start) or a category")
    return _from_values(name, s.to_list())


def _arrow_column(name: str, col: Any) -> Column:
    import pyarrow as pa
    import pyarrow.types as pat

    t = col.type
    if pat.is_dictionary(t):
        chunks = col.chunks if hasattr(col, "chunks") else [col]
        dictionary = None
        for c in chunks:
            if len(c.dictionary):
                dictionary = c.dictionary
                break
        levels = dictionary.to_pylist() if dictionary is not None else []
        return _from_values(name, col.to_pylist(), levels, bool(t.ordered))
    if pat.is_integer(t) or pat.is_floating(t) or pat.is_boolean(t) or pat.is_decimal(t):
        return _from_values(name, col.cast(pa.float64()).to_pylist())
    if pat.is_temporal(t):
        raise ValueError(
            f"column `{name}` holds dates or times ({t}), which a model formula cannot use "
            "directly; hint: convert it to a number (e.g. days since a start) or a category")
    return _from_values(name, col.to_pylist())


def _wanted(names: Iterable[str], wanted: Optional[Iterable[str]]) -> List[str]:
    names = list(names)
    if wanted is None:
        return names
    want = set(wanted)
    return [n for n in names if n in want]


def to_columns(data: Any, wanted: Optional[Iterable[str]] = None,
               skip_unreadable: bool = False) -> List[Column]:
    """The extension's columns of ``data`` (only the ``wanted`` ones when given); with
    ``skip_unreadable``, columns of a type a model cannot use (dates) are left out."""
    if skip_unreadable:
        out = []
        for name in column_names(data):
            try:
                out.extend(to_columns(data, [name]))
            except ValueError:
                continue
        return out
    if isinstance(data, Dataset):
        return data._columns_for(wanted)
    mod = _module_of(data)
    if _pd is not None and isinstance(data, _pd.DataFrame):
        return [_pandas_column(str(n), data[n]) for n in _wanted(data.columns, wanted)]
    if mod == "polars":
        import polars as pl

        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        return [_polars_column(n, data.get_column(n)) for n in _wanted(data.columns, wanted)]
    if mod == "pyarrow":
        import pyarrow as pa

        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        return [_arrow_column(n, data.column(n)) for n in _wanted(data.column_names, wanted)]
    if isinstance(data, dict):
        out = []
        for n in _wanted(data.keys(), wanted):
            v = data[n]
            if _pd is not None and isinstance(v, (_pd.Series, _pd.Categorical)):
                # A bare Categorical keeps its level order too, as in a Series.
                out.append(_pandas_column(str(n), _pd.Series(v, copy=False)))
                continue
            if type(v).__module__.split(".")[0] == "numpy":
                if v.dtype.kind in "biuf":
                    out.append((str(n), "num",
                                [None if math.isnan(x) else float(x)
                                 for x in v.astype("float64").tolist()], None, False))
                    continue
                v = v.tolist()
            out.append(_from_values(str(n), v))
        return out
    if hasattr(data, "__arrow_c_stream__"):
        try:
            import pyarrow as pa
        except ImportError as e:  # pragma: no cover
            raise TypeError(
                "this table offers the Arrow stream interface, which needs pyarrow to read; "
                "hint: pip install pyarrow, or pass a pandas DataFrame or a dict of columns") from e
        return to_columns(pa.table(data), wanted)
    raise TypeError(
        f"cannot read data of type {type(data).__name__}; hint: pass a pandas or polars "
        "DataFrame, a pyarrow Table, or a dict of column name -> list or NumPy array")


def table(columns: Dict[str, list], index: Optional[list] = None) -> Any:
    """A pandas DataFrame when pandas is importable, else the dict of lists itself."""
    if _pd is None:
        return columns
    df = _pd.DataFrame(columns)
    if index is not None:
        df.index = index
    return df


def series(values: list, index: List[str], name: Optional[str] = None) -> Any:
    """A pandas Series when pandas is importable, else a dict."""
    if _pd is None:
        return dict(zip(index, values))
    return _pd.Series(values, index=index, name=name, dtype="float64")


def nrows(data: Any) -> int:
    if _pd is not None and isinstance(data, _pd.DataFrame):
        return len(data)
    if isinstance(data, dict):
        for v in data.values():
            return len(v)
        return 0
    if hasattr(data, "num_rows"):
        return int(data.num_rows)
    if hasattr(data, "height"):
        return int(data.height)
    return len(data)


def column_names(data: Any) -> List[str]:
    """The column names of any supported table."""
    if isinstance(data, Dataset):
        return [c[0] for c in data.columns]
    if isinstance(data, dict):
        return [str(k) for k in data]
    if _module_of(data) == "polars" and hasattr(data, "collect_schema"):
        return list(data.collect_schema().names())
    for attr in ("column_names", "columns"):
        names = getattr(data, attr, None)
        if names is not None:
            return [str(n) for n in names]
    raise TypeError(f"cannot read data of type {type(data).__name__}")


def _arrow_source(data: Any, wanted: Optional[Iterable[str]]) -> Tuple[Any, List[str]]:
    """An Arrow PyCapsule source for ``data`` (an object with ``__arrow_c_stream__`` or
    ``__arrow_c_array__``, or a stream capsule) holding at least the ``wanted`` columns, and
    the columns to read as ordered factors that Arrow does not flag (polars Enums); ``None``
    when ``data`` goes column by column."""
    if isinstance(data, (Dataset, dict)):
        return None, []
    mod = _module_of(data)
    names = None
    try:
        names = column_names(data)
    except TypeError:
        pass
    keep = None
    if wanted is not None and names is not None:
        want = set(wanted)
        if want <= set(names):
            keep = [n for n in names if n in want]
    if _pd is not None and isinstance(data, _pd.DataFrame):
        if data.columns.has_duplicates:
            return None, []
        sub = data
        if keep is not None:
            sub = data[[c for c in data.columns if str(c) in set(keep)]]
        if any(not isinstance(c, str) for c in sub.columns):
            sub = sub.rename(columns=str)
        try:
            if hasattr(sub, "__arrow_c_stream__"):
                return sub.__arrow_c_stream__(), []
            import pyarrow as pa

            return pa.Table.from_pandas(sub, preserve_index=False), []
        except Exception:  # noqa: BLE001 - not representable in Arrow: go column by column
            return None, []
    if mod == "polars":
        import polars as pl

        if keep is not None:
            data = data.select(keep)
        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        ordered = [n for n, t in data.schema.items() if isinstance(t, pl.Enum) or t == pl.Enum]
        return data, ordered
    if mod == "pyarrow":
        if keep is not None and hasattr(data, "select"):
            data = data.select(keep)
        return data, []
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return data, []
    return None, []


def _pandas_buffers(data: Any, wanted: Optional[List[str]]) -> Optional[List[Column]]:
    """The wanted columns of a pandas frame as raw buffers, when every one of them is a NumPy
    float, integer or boolean column or a categorical with text categories: ``("f64", bytes
    of native float64 with NaN missing)`` and ``("codes", bytes of native int32 codes, -1
    missing, levels, ordered)``. This skips pandas' conversion to Arrow, which costs about a
    millisecond even for a small frame. ``None`` (use the other routes) for anything else:
    no wanted list, a wanted column that is absent, duplicated names, nullable extension
    dtypes, text or object columns."""
    if _pd is None or wanted is None or not isinstance(data, _pd.DataFrame):
        return None
    if data.columns.has_duplicates or not set(wanted) <= {c for c in data.columns
                                                          if isinstance(c, str)}:
        return None
    import numpy as np

    out: List[Column] = []
    for name in wanted:
        s = data[name]
        dtype = s.dtype
        if isinstance(dtype, _pd.CategoricalDtype):
            cats = dtype.categories
            if not all(isinstance(c, str) for c in cats):
                return None
            codes = np.ascontiguousarray(s.cat.codes.to_numpy(), dtype=np.int32)
            out.append((name, "codes", codes.tobytes(), list(cats), bool(dtype.ordered)))
        elif isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            values = np.ascontiguousarray(s.to_numpy(), dtype=np.float64)
            out.append((name, "f64", values.tobytes(), None, False))
        else:
            return None
    return out


def to_data(data: Any, name: str, wanted: Optional[Iterable[str]] = None) -> Any:
    """What the extension's fits read: a table read through the Arrow PyCapsule interface
    (``_ext.Frame``) or the plain columns (see the module docs). With ``wanted`` only those
    columns are read, unless one of them is missing: then every readable column is, so the
    library's error names the real columns and suggests the nearest."""
    from . import _multilevel as _ext

    wanted_list = None if wanted is None else sorted(set(wanted))
    fast = _pandas_buffers(data, wanted_list)
    if fast is not None:
        return fast
    source, ordered = _arrow_source(data, wanted_list)
    if source is not None:
        return _ext.arrow_frame(source, name, wanted_list, ordered)
    if wanted_list is not None:
        try:
            names = set(column_names(data))
        except TypeError:
            names = set(wanted_list)
        if not set(wanted_list) <= names:
            return to_columns(data, None, skip_unreadable=True)
    return to_columns(data, wanted_list)
