"""The column dtypes a feature frame may hold, and the message for every other one.

Supported (see :data:`automl.data.schema.KINDS`):

- numbers: numpy and nullable integers and floats (``int64``, ``Int64``, ``Float64``, ...) -> ``numeric``;
- booleans (``bool``, ``boolean``) -> ``boolean``;
- ``object`` columns holding only numbers, some of them floats (missing values aside) -> ``numeric``, read as
  scikit-learn reads them (:func:`numbers_from_objects`; before, each distinct number was a category);
- text (``str``, ``string``, ``object`` holding strings), ``object`` columns holding only whole numbers (codes) or
  only booleans, and pandas ``category`` -> ``categorical``;
- naive ``datetime64`` -> ``datetime`` (expanded into ``<column>__<part>`` numbers);
- ``timedelta64`` -> ``timedelta`` (its total seconds, one number; the same at predict).

Every other dtype is refused at validation, before a study or a run is created, naming the
column, the dtype and the conversion to make: complex numbers, periods, intervals, and
``object`` columns holding dicts, lists, bytes, dates, decimals, other Python objects or a
mix of numbers and text.

Example:
    >>> import pandas as pd
    >>> dtype_problem("p", pd.Series(pd.period_range("2024-01", periods=2, freq="M")))
    "column 'p' has dtype period[M], which automl does not support; convert the periods to timestamps: X['p'] = X['p'].dt.to_timestamp()"
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FLOAT32_MAX", "FLOAT32_TINY", "aware_datetimes_problem", "dtype_problem", "foreign_dtype_problem",
           "infinite_problem", "infinite_target_problem", "numbers_from_objects", "object_problem",
           "target_length_problem"]

#: float32's largest and smallest normal magnitudes: scikit-learn's trees and XGBoost read the features in float32,
#: and the boosters' labels and the out-of-fold predictions are float32 (Python floats: no numpy cast warnings).
FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).tiny)

#: What ``pd.api.types.infer_dtype`` says of an ``object`` column that is used as categories.
_OBJECT_OK = {"string", "empty", "integer", "floating", "mixed-integer-float", "boolean"}
#: What ``infer_dtype`` calls an ``object`` column of numbers only (missing values aside) with a fraction among them.
#: An ``object`` column of whole numbers only is left as it is: categories, as a column of codes is meant
#: (``[101, 102, 7]``; at predict ``7`` is the level ``"007"``).
_OBJECT_NUMBERS = ("floating", "mixed-integer-float")


def numbers_from_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``object`` columns of numbers only, some of them floats (missing values aside), made numeric
    as scikit-learn's ``check_array`` reads them: a list of Python floats with a ``None`` is such a column, and each
    of its distinct values used to be a category. Whole numbers only stay codes (categories). The caller's frame is
    not changed; without such columns it is returned as is.

    Example:
        >>> frame = pd.DataFrame({"n": [1.5, None], "t": ["a", None]}, dtype=object)
        >>> [str(dtype) for dtype in numbers_from_objects(frame).dtypes], [str(dtype) for dtype in frame.dtypes]
        (['float64', 'object'], ['object', 'object'])
    """
    if not frame.columns.is_unique:  # refused by the validation, which names the copies
        return frame
    found = {name: _to_numeric(name, frame[name]) for name, dtype in frame.dtypes.items()
             if dtype == object and pd.api.types.infer_dtype(frame[name], skipna=True) in _OBJECT_NUMBERS}
    if not found:
        return frame
    frame = frame.copy(deep=False)
    for name, values in found.items():
        frame[name] = values
    return frame


def _to_numeric(name: object, values: pd.Series) -> pd.Series:
    """``values`` as floats; a Python int past float64's range (``10**400``) is refused, naming the column."""
    try:
        return pd.to_numeric(values)
    except OverflowError:
        from automl.exceptions import DataValidationError

        huge = max((v for v in values if isinstance(v, int)), key=abs, default="?")  # the one past float64
        raise DataValidationError(
            f"column {name!r} holds a number too large for a 64-bit float ({str(huge)[:20]}... with {len(str(huge))} "
            f"digits); scale the column, or pass it as text if its values are codes: X[{name!r}] = "
            f"X[{name!r}].astype(str)") from None


#: The fix for an ``object`` column whose cells are of one unsupported kind (``infer_dtype`` name).
_OBJECT_FIXES = {
    "bytes": "decode them to text: X[{n!r}] = X[{n!r}].str.decode('utf-8')",
    # utc=True reads datetimes of several time zones (pandas refuses them without it), then naive UTC
    "datetime": "convert them: X[{n!r}] = pd.to_datetime(X[{n!r}], utc=True).dt.tz_convert(None)",
    "datetime64": "convert them: X[{n!r}] = pd.to_datetime(X[{n!r}])",
    "date": "convert them: X[{n!r}] = pd.to_datetime(X[{n!r}])",
    "timedelta": "convert them: X[{n!r}] = pd.to_timedelta(X[{n!r}])",
    "timedelta64": "convert them: X[{n!r}] = pd.to_timedelta(X[{n!r}])",
    "time": "convert them to numbers, e.g. seconds since midnight, or to text with .astype(str)",
    "decimal": "convert them to floats: X[{n!r}] = X[{n!r}].astype(float)",
    "complex": "split them into real and imaginary parts",
    "period": "convert them to timestamps: X[{n!r}] = pd.to_datetime(X[{n!r}].astype(str))",
    "interval": "use one number per row (e.g. each interval's mid point) or text categories (.astype(str))",
}

_NESTED = (dict, list, set, tuple, np.ndarray)


def infinite_problem(name: object, count: int) -> str:
    """The message for ``count`` infinite values in column ``name`` (empty for none): refused at fit and at
    predict alike (a family would otherwise raise its own error, or read them as the training range's end).

    Example:
        >>> infinite_problem("a", 2)
        "column 'a' holds 2 infinite value(s); replace them, e.g. df['a'] = df['a'].replace([np.inf, -np.inf], np.nan)"
    """
    if not count:
        return ""
    return (f"column {name!r} holds {count} infinite value(s); replace them, "
            f"e.g. df[{name!r}] = df[{name!r}].replace([np.inf, -np.inf], np.nan)")


def infinite_target_problem(name: object, count: int) -> str:
    """The message for ``count`` infinite target values (at fit, and where a fitted model is scored).

    Example:
        >>> infinite_target_problem("y", 1)
        "target 'y' holds 1 infinite value(s); drop or fix those rows"
    """
    return f"target {name!r} holds {count} infinite value(s); drop or fix those rows"


def target_length_problem(n_values: int, n_rows: int) -> str:
    """The message for a target of ``n_values`` given for ``n_rows`` rows (at fit, and where a model is scored).

    Example:
        >>> target_length_problem(3, 5)
        'y has 3 values but X has 5 rows; pass one target value per row'
    """
    return f"y has {n_values} values but X has {n_rows} rows; pass one target value per row"


def _dtype_fix(name: str, dtype: object) -> str:
    if isinstance(dtype, pd.PeriodDtype):
        return f"convert the periods to timestamps: X[{name!r}] = X[{name!r}].dt.to_timestamp()"
    if isinstance(dtype, pd.IntervalDtype):
        return (f"use one number per row, e.g. X[{name!r}] = X[{name!r}].array.mid, or categories: "
                f"X[{name!r}] = X[{name!r}].astype(str).astype('category')")
    return (f"convert it to numbers, booleans, text, category, datetime64 or timedelta64, "
            f"e.g. X[{name!r}] = X[{name!r}].astype(str) for categories")


def aware_datetimes_problem(name: object, zone: object, convert: str = ".dt.tz_convert(None)",
                            fitted: str | None = None) -> str:
    """The message for a column of time-zone-aware datetimes (the models read naive ones), at fit and (``fitted``:
    the naive dtype it had at fit) at predict; ``convert`` is the conversion its dtype takes.

    Example:
        >>> aware_datetimes_problem("d", "UTC")
        "column 'd' holds time-zone-aware datetimes (UTC); convert them to naive UTC, e.g. X['d'] = X['d'].dt.tz_convert(None)"
    """
    at_fit = f" and was naive at fit ({fitted})" if fitted else ""
    return (f"column {name!r} holds time-zone-aware datetimes ({zone}){at_fit}; convert them to naive UTC, e.g. "
            f"X[{name!r}] = X[{name!r}]{convert}")


def foreign_dtype_problem(name: object, dtype: object, what: str = "column") -> str | None:
    """Why a pyarrow-backed or sparse dtype cannot be read as it is, or None when it can: each is converted to
    the numpy dtype of its kind at the edge, and the kinds below have no such conversion (pandas itself cannot
    take some of them: their ``.type`` raises), so they are refused with the one that works (``what``:
    ``"column"`` or ``"target"``).

    Example:
        >>> import pyarrow as pa
        >>> foreign_dtype_problem("d", pd.ArrowDtype(pa.date32()))
        "column 'd' has dtype date32[day][pyarrow] (dates without a time of day), which automl does not read; convert it: X['d'] = X['d'].astype('datetime64[ns]')"
        >>> foreign_dtype_problem("x", pd.ArrowDtype(pa.float64())) is None
        True
    """
    head = f"{what} {name!r} has dtype {dtype}"
    cell = f"X[{name!r}]" if what == "column" else "y"
    if isinstance(dtype, pd.SparseDtype):
        if pd.api.types.is_numeric_dtype(dtype.subtype) or pd.api.types.is_bool_dtype(dtype.subtype):
            return None
        return f"{head}, which automl does not read; make it dense: {cell} = {cell}.sparse.to_dense()"
    if not isinstance(dtype, pd.ArrowDtype):
        return None
    import pyarrow as pa

    kind = dtype.pyarrow_dtype
    if pa.types.is_date(kind):
        return (f"{head} (dates without a time of day), which automl does not read; convert it: "
                f"{cell} = {cell}.astype('datetime64[ns]')")
    if pa.types.is_timestamp(kind) and kind.tz is not None and what == "column":
        return aware_datetimes_problem(name, kind.tz, convert=".astype('datetime64[ns, UTC]').dt.tz_convert(None)")
    if pa.types.is_float16(kind):
        return f"{head}, which automl does not read (half floats); convert it: {cell} = {cell}.astype('float32')"
    try:
        dtype.type  # noqa: B018 - pandas raises NotImplementedError for the Arrow types it has no scalar type for
    except NotImplementedError:
        said = f"{head}, which automl does not read (pandas has no operations for it, not even astype)"
        if pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
            return (f"{said}; convert it to text in pyarrow: "
                    f"{cell} = pyarrow.array({cell}.array).cast(pyarrow.string()).to_numpy(zero_copy_only=False)")
        drop = f"X = X.drop(columns=[{name!r}])" if what == "column" else "pass another target"
        return f"{said}; convert it in pyarrow to numbers, text or timestamps, or drop it ({drop})"
    return None


def dtype_problem(name: str, series: pd.Series) -> str | None:
    """Why a column's dtype cannot be a feature, or None when it can (see the module docstring).

    Example:
        >>> dtype_problem("t", pd.Series(pd.to_timedelta([1, 2], unit="s"))) is None
        True
    """
    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype):
        return (f"column {name!r} holds complex numbers (Complex data not supported); split it into real "
                "and imaginary parts")
    if isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype)):
        return f"column {name!r} has dtype {dtype}, which automl does not support; {_dtype_fix(name, dtype)}"
    if dtype == object:
        return object_problem(name, series)
    supported = (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )
    if supported:
        return None
    return f"column {name!r} has dtype {dtype}, which automl does not support; {_dtype_fix(name, dtype)}"


def object_problem(name: str, series: pd.Series) -> str | None:
    """Why an ``object`` column cannot be used as categories, or None when it can.

    It can when its cells are all text, all numbers or all booleans (missing values aside).

    Example:
        >>> object_problem("b", pd.Series([b"x", b"y"], dtype=object))
        "column 'b' holds bytes values, which automl cannot encode; decode them to text: X['b'] = X['b'].str.decode('utf-8')"
    """
    values = series.dropna()
    if not len(values):
        return None
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _OBJECT_OK:
        return None
    nested = values.map(lambda v: isinstance(v, _NESTED))
    if nested.any():
        example = type(values[nested].iloc[0]).__name__
        return (
            f"column {name!r} holds {example} values in its cells; flatten it into scalar columns "
            f"(e.g. pd.json_normalize) or drop it"
        )
    if inferred in _OBJECT_FIXES:
        return (f"column {name!r} holds {inferred} values, which automl cannot encode; "
                + _OBJECT_FIXES[inferred].format(n=name))
    kinds = {"number" if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) else
             "text" if isinstance(v, str) else type(v).__name__ for v in values}
    if len(kinds) > 1:
        return (
            f"column {name!r} mixes {' and '.join(sorted(kinds))} values; make it one type: "
            f"X[{name!r}] = X[{name!r}].astype(str) for categories, or pd.to_numeric(X[{name!r}], errors='coerce') "
            "for numbers"
        )
    kind = kinds.pop()
    return (f"column {name!r} holds {kind} objects, which automl cannot encode; convert them to text "
            f"(X[{name!r}] = X[{name!r}].astype(str)) or to numbers")
