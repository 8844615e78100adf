"""pyarrow-backed and sparse dtypes that pandas cannot convert, and Python ints past any float: each refused
before the search with a typed error whose fix works (once bare ``ArrowNotImplementedError``,
``NotImplementedError``, ``AttributeError``, ``TypeError`` and ``OverflowError`` from deep inside)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import automl
from automl.exceptions import DataValidationError

N = 120
STAMPS = pd.date_range("2020-01-01", periods=N)


def _arrow(values: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(values))


#: name -> (the column, the fix its message gives, applied to the column)
CASES = {
    "date32": (lambda: pd.Series(STAMPS.date).astype(pd.ArrowDtype(pa.date32())),
               lambda c: c.astype("datetime64[ns]")),
    "date64": (lambda: pd.Series(STAMPS.date).astype(pd.ArrowDtype(pa.date64())),
               lambda c: c.astype("datetime64[ns]")),
    "halffloat": (lambda: _arrow(pa.array(np.linspace(0, 1, N).astype("float16"), pa.float16())),
                  lambda c: c.astype("float32")),
    "string_view": (lambda: _arrow(pa.array(["u", "v", "w"] * (N // 3), pa.string_view())),
                    lambda c: pa.array(c.array).cast(pa.string()).to_numpy(zero_copy_only=False)),
    "timestamp[us, tz=UTC]": (
        lambda: pd.Series(STAMPS.tz_localize("UTC")).astype(pd.ArrowDtype(pa.timestamp("us", tz="UTC"))),
        lambda c: c.astype("datetime64[ns, UTC]").dt.tz_convert(None)),
    "Sparse[datetime64": (lambda: pd.Series(pd.arrays.SparseArray(STAMPS.values)), lambda c: c.sparse.to_dense()),
}


def _fit(X: pd.DataFrame, y: object) -> automl.AutoMLClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return automl.AutoMLClassifier(n_trials=1, families=["linear"], cv=2, isolation="none").fit(X, y)


@pytest.mark.parametrize("name", CASES)
def test_a_feature_of_a_dtype_pandas_cannot_convert_is_refused_and_the_fix_fits(name):
    make, fix = CASES[name]
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=N), "c": make()})
    y = np.arange(N) % 2
    with pytest.raises(DataValidationError, match="'c'") as caught:
        _fit(X, y)
    said = str(caught.value)
    assert "time-zone-aware" in said or name.split("[")[0] in said
    assert "X['c'] = " in said  # the fix, spelled out
    assert len(_fit(X.assign(c=fix(X["c"])), y).predict(X.assign(c=fix(X["c"])))) == N


@pytest.mark.parametrize("name", ["date32", "halffloat", "string_view"])
def test_a_target_of_such_a_dtype_is_refused_before_the_task_is_guessed(name):
    make, _ = CASES[name]
    X = pd.DataFrame({"a": np.arange(N, dtype=float)})
    with pytest.raises(DataValidationError, match="target"):
        automl.fit(X.assign(y=make()), target="y", n_trials=1, tracking=False, isolation="none")


def test_at_predict_such_columns_and_aware_datetimes_are_refused_with_their_fix():
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=N), "c": STAMPS})
    model = _fit(X, np.arange(N) % 2)
    interval = _arrow(pa.array([(1, 2, 3)] * N, pa.month_day_nano_interval()))
    with pytest.raises(DataValidationError, match="month_day_nano_interval.*drop it"):
        model.predict(X.assign(c=interval))
    with pytest.raises(DataValidationError, match=r"time-zone-aware.*naive at fit.*tz_convert\(None\)"):
        model.predict(X.assign(c=STAMPS.tz_localize("UTC")))
    with pytest.raises(DataValidationError, match="dates without a time of day"):
        model.predict(X.assign(c=CASES["date32"][0]()))


def test_python_ints_past_int64_are_codes_and_past_any_float_a_typed_error():
    codes = pd.Series([10**30 + i % 3 for i in range(N)], dtype=object)
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=N), "code": codes})
    y = (np.arange(N) % 3 == 0).astype(int)
    model = _fit(X, y)  # once a bare TypeError from the leak check's isfinite
    assert model.score(X, y) > 0.9
    huge = pd.Series([10**400] + [1.5] * (N - 1), dtype=object)
    with pytest.raises(DataValidationError, match="too large for a 64-bit float"):
        _fit(X.assign(code=huge), y)
    with pytest.raises(DataValidationError, match="too large for a 64-bit float"):
        model.predict(X.assign(a=huge))
