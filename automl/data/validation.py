"""Validation of training data at the edge: every problem collected, then one error.

Example:
    >>> import pandas as pd
    >>> X = coerce_features(pd.DataFrame({"a": [1.0, float("inf")]}))
    >>> feature_problems(X)
    ["column 'a' holds 1 infinite value(s); replace them, e.g. df['a'] = df['a'].replace([np.inf, -np.inf], np.nan)"]
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from typing import Any

import numpy as np
import pandas as pd

from automl.data.blocks import numeric_chunks
from automl.data.dtypes import (
    FLOAT32_MAX,
    FLOAT32_TINY,
    aware_datetimes_problem,
    dtype_problem,
    foreign_dtype_problem,
    infinite_problem,
    infinite_target_problem,
    numbers_from_objects,
    target_length_problem,
)
from automl.data.schema import derived_names
from automl.data.row_inputs import group_series as row_groups, sample_weight_problems
from automl.data.task import check_task, infer_task, target_kind_problems, warn_constant_target, warn_unweighted_classes
from automl._warnings import warn_user
from automl.exceptions import DataShapeError, DataValidationError, InputTypeError

__all__ = ["MULTIINDEX_PROBLEM", "TrainingData", "array_like", "as_table", "coerce_features", "feature_problems",
           "has_feature_names", "validate_training_data", "warn_reordered_target"]


def array_like(X: object) -> bool:
    """Whether ``X`` is a frame or something scikit-learn reads as an array (a list, ``__array__``).

    Example:
        >>> array_like([[1, 2]]), array_like("text"), array_like({"a": [1]})
        (True, False, False)
    """
    return (isinstance(X, (pd.DataFrame, np.ndarray, list, tuple, pd.Series, pd.Index)) or hasattr(X, "__array__")
            or hasattr(X, "__dataframe__"))


def as_table(X: object, *, argument: str = "X") -> pd.DataFrame | np.ndarray:
    """``X`` as a DataFrame or a 2-D array, read as scikit-learn's ``check_array`` reads array-likes.

    A DataFrame is returned as is; a frame of another library (``__dataframe__``: polars, pyarrow) as a
    pandas frame; a list of rows, an object with ``__array__`` or an array as a 2-D array (rows of
    numbers and text as an object array, every column of it later typed on its own).

    Raises:
        DataShapeError: ``X`` is not 2-D (a ``ValueError``, as scikit-learn raises, and a ``TypeError``).
        InputTypeError: ``X`` is sparse, or not an array-like at all (a string, a dict, None...).

    Example:
        >>> as_table([[1, "a"], [2, "b"]]).shape
        (2, 2)
        >>> as_table([1.0, 2.0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        automl.exceptions.DataShapeError: X must be 2-D (a pandas DataFrame or a 2-D array), got ... Reshape your data...
    """
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise InputTypeError(
            f"{argument} is a sparse matrix ({type(X).__name__}); sparse input is not supported: pass a dense "
            "array or frame, e.g. X.toarray()"
        )
    if hasattr(X, "__dataframe__") and not isinstance(X, np.ndarray):
        try:
            return pd.api.interchange.from_dataframe(X)
        except Exception:  # noqa: BLE001 - not a frame pandas can read: read it as an array below
            pass
    if not array_like(X):
        raise InputTypeError(
            f"{argument} must be a pandas DataFrame or a 2-D array-like (a numpy array, a list of rows), "
            f"got {type(X).__name__}; wrap it, e.g. pd.DataFrame(data)"
        )
    if getattr(getattr(X, "dtype", None), "names", None):  # a structured (record) array: named fields, not columns
        raise InputTypeError(f"{argument} is a structured numpy array (fields {list(X.dtype.names)[:5]}): its rows "  # type: ignore[attr-defined]
                             f"are records, not columns; pass a frame of its fields: pd.DataFrame({argument})")
    try:
        array = np.asarray(X) if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
    except ValueError as exc:
        raise DataShapeError(f"{argument} cannot be read as a 2-D array ({exc}); pass rows of equal length") from None
    if array.ndim == 1 and len(array) and all(isinstance(row, (list, tuple, np.ndarray)) for row in array):
        raise DataShapeError(f"{argument} has rows of different lengths; pass rows of equal length")
    if array.ndim == 1 and len(array) and all(isinstance(row, Mapping) for row in array):
        raise DataShapeError(f"{argument} must be 2-D (a pandas DataFrame or a 2-D array), got a {type(X).__name__} "
                             f"of {len(array)} records (dicts); wrap it, e.g. pd.DataFrame(data)")
    if array.ndim != 2:
        kind = "array" if isinstance(X, np.ndarray) else type(X).__name__
        got = f"a {array.ndim}-D {kind} of shape {array.shape}" if array.ndim else f"a scalar {X!r}"
        fix = (f"{argument}.to_frame() if it is one feature, {argument}.to_frame().T if it is one row"
               if isinstance(X, pd.Series) else
               f"{argument}.reshape(-1, 1) if it is one feature, {argument}.reshape(1, -1) if it is one row")
        raise DataShapeError(
            f"{argument} must be 2-D (a pandas DataFrame or a 2-D array), got {got}. Reshape your data: {fix}"
        )
    return array


def coerce_features(X: object, *, argument: str = "X", names: Sequence[str] | None = None) -> pd.DataFrame:
    """Turn a DataFrame or 2-D array-like (see :func:`as_table`) into a DataFrame; reject anything else.

    Arrays get the column names ``names`` (default ``x0, x1, ...``); a frame whose column names
    are all integers (``pd.DataFrame(array)``) gets the same names, ``x<name>``.

    Raises:
        DataShapeError: ``X`` is not 2-D.
        InputTypeError: ``X`` is neither a DataFrame nor an array-like.

    Example:
        >>> coerce_features(np.zeros((2, 2))).columns.tolist()
        ['x0', 'x1']
        >>> coerce_features(pd.DataFrame(np.zeros((2, 2)))).columns.tolist()
        ['x0', 'x1']
        >>> [pd.api.types.is_numeric_dtype(t) for t in coerce_features([[1, "a"], [2, "b"]]).dtypes]
        [True, False]
    """
    table = as_table(X, argument=argument)
    if isinstance(table, pd.DataFrame):
        return numbers_from_objects(_named(table, names))
    columns = list(names) if names is not None else [f"x{i}" for i in range(table.shape[1])]
    frame = pd.DataFrame(table, columns=columns)
    return frame.infer_objects() if table.dtype == object else frame


def has_feature_names(X: object) -> bool:
    """Whether ``X`` names its features as scikit-learn counts names (a frame whose column names are all text), so
    that a fitted estimator has ``feature_names_in_``.

    Example:
        >>> has_feature_names(pd.DataFrame({"a": [1]})), has_feature_names(pd.DataFrame([[1]])), has_feature_names([[1]])
        (True, False, False)
    """
    columns = getattr(X, "columns", None)
    return columns is not None and len(columns) > 0 and all(isinstance(c, str) for c in columns)


def _integer_name(name: object) -> bool:
    return isinstance(name, (int, np.integer)) and not isinstance(name, (bool, np.bool_))


#: What fit and predict say of a frame with MultiIndex columns (one text for both).
MULTIINDEX_PROBLEM = ("X has MultiIndex columns; flatten them first, e.g. "
                      "X.columns = ['_'.join(map(str, c)) for c in X.columns]")


def _named(frame: pd.DataFrame, names: Sequence[str] | None = None) -> pd.DataFrame:
    """A frame whose column names are all integers gets the array names ``x<name>`` (scikit-learn
    ignores such names; automl needs text); at predict (``names``: fit's columns) such a frame of a
    model fitted on other names is read by position, as an array is, and beside other names (the target,
    extra columns) each integer name fit saw as ``x<name>`` (its target taken out) is read as that."""
    if isinstance(frame.columns, pd.MultiIndex) or len(frame.columns) == 0:
        return frame
    columns = frame.columns.tolist()
    if not all(_integer_name(c) for c in columns):
        if not any(_integer_name(c) for c in columns):
            return frame  # nothing to rename (set_axis would copy every column)
        known = set(names or ())
        return frame.set_axis([f"x{int(c)}" if _integer_name(c) and str(c) not in known and f"x{int(c)}" in known
                               else c for c in columns], axis=1)
    renamed = [f"x{int(c)}" for c in columns]
    if names is not None and not set(renamed) <= set(names) and len(columns) == len(names):
        renamed = list(names)
    return frame.set_axis(renamed, axis=1)


def _column_vector(y: Any) -> Any:
    """A target shaped ``(n, 1)`` (an array, a list of one-value rows, a one-column frame) as one column,
    with scikit-learn's ``DataConversionWarning``."""
    if isinstance(y, pd.Series) or y is None:
        return y
    column: Any
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InputTypeError(f"y must be one column (a Series or 1-D array), got a DataFrame of shape {y.shape}")
        column = y.iloc[:, 0]
    else:
        array = np.asarray(y)
        if array.ndim != 2 or array.shape[1] != 1:
            return y
        column = array.ravel()
    from sklearn.exceptions import DataConversionWarning

    warn_user("A column-vector y was passed when a 1d array was expected; it is read as one column "
              "(pass y.ravel() or y.iloc[:, 0] to say so)", DataConversionWarning)
    return column


def feature_problems(X: pd.DataFrame) -> list[str]:
    """Every problem that stops ``X`` from being used as features.

    Checks: at least one row and one column; string, unique, single-level
    column names; every column of a supported dtype (see :mod:`automl.data.dtypes`:
    no complex, period, interval, nested, bytes or mixed values); no infinite values;
    no column entirely missing; no time-zone-aware datetimes; no column named like a
    feature derived from a datetime column (``d__year`` beside datetime ``d``).

    Example:
        >>> feature_problems(pd.DataFrame({"a": [1], "b": [None]}))
        ["column 'b' is entirely missing; drop it (X = X.drop(columns=['b']))"]
    """
    problems: list[str] = []
    if isinstance(X.columns, pd.MultiIndex):
        return [MULTIINDEX_PROBLEM]
    if X.shape[0] == 0:
        problems.append("X is empty (0 rows); pass a frame with rows")
    if X.shape[1] == 0:
        problems.append(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required; pass at least one "
                        "column besides the target")
    non_string = [c for c in X.columns if not isinstance(c, str)]
    if non_string:
        problems.append(
            f"column names must be strings, got {non_string[:5]!r}; rename them, e.g. X.columns = X.columns.astype(str)"
        )
    if "" in X.columns:  # a CSV's empty header cell reads back as "Unnamed: N": the saved model could not be fed one
        problems.append("a column name is empty (''); a CSV cannot hold it (pandas reads an empty header cell back as "
                        "'Unnamed: 0', so automl predict on a CSV could not find the column); name it, e.g. "
                        "X = X.rename(columns={'': 'x'})")
    duplicated = sorted({str(c) for c, n in Counter(X.columns).items() if n > 1})
    if duplicated:
        problems.append(f"duplicate column names {duplicated}; give every column a unique name")
    if problems:
        return problems
    problems.extend(derived_name_problems(X))
    found = _numeric_block_problems(X)
    for name in X.columns:
        problem = found[name] if name in found else _column_problem(name, X[name])
        if problem:
            problems.append(problem)
    return problems


def _numeric_block_problems(X: pd.DataFrame) -> dict[Any, str]:
    """:func:`_column_problem` of each plain numeric column (``""``: none), one numpy pass per dtype."""
    found: dict[Any, str] = {}
    for dtype, names, values in numeric_chunks(X):
        if dtype.kind != "f":  # integers can be neither missing nor infinite
            found.update(dict.fromkeys(names, ""))
            continue
        empty = np.isnan(values).all(axis=0)  # True for every column of zero rows, as isna().all() is
        infinite = np.isinf(values).sum(axis=0)
        for name, none, n_inf in zip(names, empty, infinite):
            found[name] = _missing(name) if none else infinite_problem(name, int(n_inf)) if n_inf else ""
    return found


def _column_problem(name: Any, series: pd.Series) -> str:
    """Why one feature column cannot be used (``""``: it can)."""
    dtype = series.dtype
    foreign = foreign_dtype_problem(name, dtype)
    if foreign:
        return foreign
    if pd.api.types.is_complex_dtype(dtype):
        return str(dtype_problem(name, series))
    if series.isna().all():
        return _missing(name)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            return aware_datetimes_problem(name, getattr(dtype, "tz", ""))
        return ""
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return infinite_problem(name, int(np.isinf(values).sum()))
    return dtype_problem(name, series) or ""


def _missing(name: Any) -> str:
    return f"column {name!r} is entirely missing; drop it (X = X.drop(columns=[{name!r}]))"


def target_range_problems(y: pd.Series, name: Any) -> list[str]:
    """A regression target past float32's range (infinite there: every booster's trial fails, the scores overflow)
    or entirely below its smallest normal number (read as 0 there: the boosters learn nothing).

    Example:
        >>> target_range_problems(pd.Series([1e200, 2.0]), "y")  # doctest: +ELLIPSIS
        ["target 'y' reaches 1e+200 in magnitude, past float32's range (about 3.4e+38)...df['y'] = df['y'] / 1e+200, ..."]
        >>> target_range_problems(pd.Series([1e30, -2.0, 0.0]), "y")
        []
    """
    values = np.abs(pd.to_numeric(y, errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
    values = values[np.isfinite(values)]
    largest = float(values.max()) if len(values) else 0.0
    fix = f"rescale it, e.g. df[{name!r}] = df[{name!r}]"
    if largest > FLOAT32_MAX:
        return [f"target {name!r} reaches {largest:.3g} in magnitude, past float32's range (about {FLOAT32_MAX:.2g}) "
                f"in which the boosters and the out-of-fold predictions hold it; {fix} / {10.0 ** np.ceil(np.log10(largest)):.0e}, "
                "and multiply the predictions back"]
    if 0.0 < largest < FLOAT32_TINY:
        return [f"target {name!r} is at most {largest:.3g} in magnitude, below float32's smallest normal number "
                f"(about {FLOAT32_TINY:.2g}), which the boosters read as 0; {fix} * {10.0 ** -np.floor(np.log10(largest)):.0e}, "
                "and divide the predictions back"]
    return []


def derived_name_problems(X: pd.DataFrame) -> list[str]:
    """Columns named like a feature a datetime column is expanded into (``d__year`` beside datetime ``d``).

    They are refused, not renamed: a renamed column would be a name the caller never chose, and a
    frame passed at predict would have to be renamed the same way.

    Example:
        >>> X = pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-02-01"]), "d__year": [1, 2]})
        >>> derived_name_problems(X)  # doctest: +ELLIPSIS
        ["column 'd__year' has the name of a feature automl derives from datetime column 'd' ...]
    """
    names = {str(c) for c in X.columns}
    problems = []
    for name, dtype in X.dtypes.items():
        if not pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        for clash in (n for n in derived_names(str(name)) if n in names):
            problems.append(
                f"column {clash!r} has the name of a feature automl derives from datetime column {name!r} "
                f"(expanded into {name}__year, {name}__month, ...); rename it, e.g. "
                f"X = X.rename(columns={{{clash!r}: {clash.replace('__', '_')!r}}})"
            )
    return problems


@dataclass
class TrainingData:
    """Validated training data.

    Attributes:
        X: Feature frame with a fresh RangeIndex.
        y: Target with missing rows dropped (same index as ``X``).
        groups: Group labels (same rows) or ``None``.
        task: ``binary``, ``multiclass`` or ``regression``.
        n_dropped: Rows dropped because their target was missing.
        weights: Sample weight of each row (float64), or ``None``.
        text: The free-text columns (:func:`automl.data.text.text_columns`).
        inputs: Every feature column given, in order, before constant ones are dropped.
    """

    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series | None
    task: str
    n_dropped: int
    weights: np.ndarray | None = None
    text: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()


def _target_value_problems(y: pd.Series, name: str, task: str | None) -> list[str]:
    """Values no model learns as they are (complex; dates for a regression), else infinite ones."""
    kind = target_kind_problems(y, name, regression=task not in ("binary", "multiclass"))
    if kind or not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        return kind
    n_inf = int(np.isinf(y.to_numpy(dtype="float64", na_value=np.nan)).sum())
    return [infinite_target_problem(name, n_inf)] if n_inf else []


def target_series(y: Any, target_name: str) -> pd.Series:
    """``y`` (a Series, a 1-D array-like or a column vector) as a Series named ``target_name`` with a fresh index."""
    y = _column_vector(y)
    if not isinstance(y, pd.Series) and np.ndim(np.asarray(y, dtype=object)) != 1:
        raise InputTypeError(f"y must be one column (a Series or 1-D array), got shape {np.shape(np.asarray(y))}")
    kept = isinstance(y, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray))  # a nullable Int64 stays integer
    return pd.Series(y if kept else np.asarray(y), name=target_name).reset_index(drop=True)


def warn_reordered_target(X: pd.DataFrame, y: object, target_name: str) -> None:
    """Warn when ``y`` is a Series whose index holds X's row labels in another order: rows are paired by position,
    as scikit-learn pairs them, so a target shuffled apart from its rows (``X.sample(frac=1)`` with the old ``y``)
    would be learnt as noise without a word.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_reordered_target(pd.DataFrame({"a": [1, 2]}, index=[1, 0]), pd.Series([5, 6]), "y")
        >>> str(caught[0].message)[:60]
        "the target 'y' has the row labels of X in another order: row"
    """
    if not isinstance(y, pd.Series) or y.index.equals(X.index):
        return
    if not (y.index.is_unique and X.index.is_unique):
        return
    try:
        same = y.index.sort_values().equals(X.index.sort_values())
    except TypeError:  # labels of mixed types that do not sort
        return
    if same:
        warn_user(f"the target {target_name!r} has the row labels of X in another order: rows are paired by position "
                  "(as scikit-learn pairs them), not by label; if the labels say which target is whose, align them "
                  "first: y = y.loc[X.index]")


def _numbers_of_objects(y: pd.Series) -> pd.Series:
    """A regression target of dtype ``object`` that holds only numbers as float64 (as scikit-learn reads it);
    anything else unchanged (text is refused by the task check, naming the fix)."""
    if y.dtype != object:
        return y
    if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in y.dropna()):
        return y
    return y.astype("float64")


def validate_training_data(
    X: pd.DataFrame,
    y: object,
    *,
    target_name: str = "y",
    task: str | None = None,
    groups: object = None,
    classifier: bool | None = None,
    sample_weight: object = None,
) -> TrainingData:
    """Validate features and target together; raise one error listing every problem.

    Rows whose target is missing are dropped with a warning. ``classifier``
    restricts the inferred task (True: binary or multiclass; False: regression).

    Raises:
        DataValidationError: anything that makes the data unusable.

    Example:
        >>> data = validate_training_data(pd.DataFrame({"a": [1, 2, 3, 4]}), pd.Series([0, 1, 0, 1]))
        >>> data.task
        'binary'
    """
    problems = feature_problems(X)
    if y is None:
        raise DataValidationError("requires y to be passed, but the target y is None; pass the target values")
    y_series = target_series(y, target_name)
    if y_series.ndim != 1 or len(y_series) != len(X):
        problems.append(target_length_problem(len(y_series), len(X)))
        raise DataValidationError(problems)
    warn_reordered_target(X, y, target_name)
    group_series, group_problems = (None, []) if groups is None else row_groups(groups, len(X))
    problems += group_problems
    weights, weight_problems = sample_weight_problems(sample_weight, len(X))
    problems += weight_problems
    missing = y_series.isna()
    if len(y_series) and missing.all():
        problems.append(f"target {target_name!r} is entirely missing; every row needs a target value")
        raise DataValidationError(problems)
    problems += _target_value_problems(y_series, target_name, task)
    if problems:
        raise DataValidationError(problems)

    n_dropped = int(missing.sum())
    X = X.reset_index(drop=True)
    if n_dropped:
        warn_user(f"dropped {n_dropped} row(s) whose target {target_name!r} is missing")
        keep = ~missing.to_numpy()
        X = X.loc[keep].reset_index(drop=True)
        y_series = y_series[keep].reset_index(drop=True)
        if group_series is not None:
            group_series = group_series[keep].reset_index(drop=True)
        if weights is not None:
            weights = weights[keep]
    if isinstance(y_series.dtype, pd.CategoricalDtype):
        y_series = y_series.astype(object)
    inferred = task is None
    if task is None:
        task = infer_task(y_series)
        if classifier is True and task == "regression":
            task = "multiclass" if y_series.nunique() > 2 else "binary"
        if classifier is False:
            task = "regression"
    if task == "regression":
        y_series = _numbers_of_objects(y_series)
    problems += check_task(task, y_series, target_name, classifier and inferred) + (
        target_range_problems(y_series, target_name) if task == "regression" else [])
    if len(X) == 1:
        problems.append("X has 1 row (n_samples=1); a cross-validated search needs at least 2 (one per fold)")
    if weights is not None and not (weights > 0).any():
        problems.append("sample_weight is zero for every row that has a target; at least one needs a positive weight")
    elif weights is not None and task != "regression" and y_series[weights > 0].nunique() < 2:
        problems.append("the rows with a positive sample_weight hold a single class; classification needs at least "
                        "two classes with weight")
    if problems:
        raise DataValidationError(problems)
    warn_constant_target(task, y_series, target_name)
    warn_unweighted_classes(task, y_series, weights)
    return TrainingData(X, y_series, group_series, task, n_dropped, weights)
