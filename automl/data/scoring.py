"""The target a fitted model is scored against (``evaluate``, ``score``, ``feature_importance``), checked as fit
checks its own: one value per row; for regression, numbers and none infinite; for classification, classes seen at
fit. Rows whose target is missing are left out, as fit leaves them out.

Example:
    >>> keep, truth = scoring_truth([1.5, None, "2"], 3, "regression", "y")
    >>> keep.tolist(), truth.tolist()
    ([True, False, True], [1.5, 2.0])
    >>> scoring_truth(["a"], 2, "regression", "y")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    automl.exceptions.DataValidationError: 2 problems found:
      - y has 1 values but X has 2 rows; pass one target value per row
      - target 'y' must hold numbers to score a regression model; 1 value(s) are not (e.g. 'a')...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl.data.dtypes import FLOAT32_MAX, infinite_target_problem, target_length_problem
from automl.data.task import target_kind_problems
from automl.data.validation import target_series
from automl._suggest import unknown_name_message
from automl.exceptions import DataValidationError, InputTypeError

__all__ = ["named_columns", "scoring_truth"]


def scoring_truth(y: Any, n_rows: int, task: str, name: str,
                  classes: Sequence[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``y`` that have a target, and their values as the metrics take them.

    Args:
        y: The target of the ``n_rows`` rows being scored (a Series, a 1-D array-like or a column vector).
        n_rows: Rows of the features being scored.
        task: The fitted model's task.
        name: The target's name, for the messages.
        classes: The classes seen at fit (classification).

    Returns:
        ``(keep, truth)``: a boolean mask over the rows, and the kept rows' values (floats for regression,
        positions in ``classes`` otherwise).

    Raises:
        DataValidationError: every problem found (lengths, values that are not numbers, infinite values,
            classes not seen at fit); an ``InputTypeError`` for a ``y`` of more than one column.
    """
    series = target_series(y, name)
    problems = []
    if len(series) != n_rows:
        problems.append(target_length_problem(len(series), n_rows))
    keep = series.notna().to_numpy()
    kind = target_kind_problems(series, name, regression=task == "regression")
    if kind:
        problems += kind
        truth = np.zeros(0)
    elif task == "regression":
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        text = np.flatnonzero(keep & np.isnan(numbers))
        if len(text):
            problems.append(f"target {name!r} must hold numbers to score a regression model; {len(text)} value(s) "
                            f"are not (e.g. {series.iloc[int(text[0])]!r}); convert it with pd.to_numeric")
        n_inf = int(np.isinf(numbers).sum())
        if n_inf:
            problems.append(infinite_target_problem(name, n_inf))
        elif (largest := np.nanmax(np.abs(numbers), initial=0.0)) > FLOAT32_MAX:
            problems.append(f"target {name!r} reaches {largest:.3g} in magnitude, past float32's "
                            f"range (about {FLOAT32_MAX:.2g}), where a model fitted here never predicts (fit refuses "
                            "such targets) and the squared errors overflow: check the values' unit")
        truth = numbers[keep]
    else:
        lookup = {label: i for i, label in enumerate(list(classes if classes is not None else []))}
        unknown = sorted({str(v) for v in series[keep] if v not in lookup})
        if unknown:
            problems.append(_unknown_classes(unknown, list(lookup)))
        truth = np.array([lookup.get(v, -1) for v in series[keep]], dtype=np.int64)
    if problems:
        raise DataValidationError(problems)
    return keep, truth


def _unknown_classes(unknown: list[str], classes: list[Any]) -> str:
    """The problem of labels fit never saw, naming the model's classes and their type (``'1'`` is not ``1``).

    Example:
        >>> _unknown_classes(["0", "1"], [0, 1])
        "y holds classes not seen at fit: ['0', '1']; the model's classes are [0, 1] (int): the same as text, so convert y to int first, e.g. y.astype(int)"
        >>> _unknown_classes(["False", "True"], [False, True])[-57:]
        "to bool first, e.g. y.map({'True': True, 'False': False})"
    """
    kinds = sorted({type(c.item() if isinstance(c, np.generic) else c).__name__ for c in classes})
    shown = [c.item() if isinstance(c, np.generic) else c for c in classes[:10]]
    message = f"y holds classes not seen at fit: {unknown[:5]}; the model's classes are {shown} ({', '.join(kinds)})"
    if len(kinds) == 1 and set(unknown) <= {str(c) for c in shown}:
        # astype(bool) reads every non-empty text as True ("False" too): booleans are mapped from their texts
        convert = "y.map({'True': True, 'False': False})" if kinds[0] == "bool" else f"y.astype({kinds[0]})"
        message += f": the same as text, so convert y to {kinds[0]} first, e.g. {convert}"
    return message


def named_columns(X: Any, groups: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """``(X, groups, sample_weight)`` where ``groups`` or ``sample_weight`` name a column of the frame ``X`` (as
    :func:`automl.fit` takes them): that column's values, and the column left out of the features.

    Raises:
        DataValidationError: the name is not a column of ``X`` (with the closest names).
        InputTypeError: a name given with an ``X`` that has no column names.
    """
    taken: list[str] = []
    values = []
    for argument, value in (("groups", groups), ("sample_weight", sample_weight)):
        if not isinstance(value, str):
            values.append(value)
        elif not isinstance(X, pd.DataFrame):
            raise InputTypeError(f"{argument}={value!r} names a column, but X is a {type(X).__name__} without column "
                                 f"names; pass X as a DataFrame holding {value!r}, or the values themselves")
        elif value not in X.columns:
            raise DataValidationError(f"{argument}={value!r}: "
                                      + unknown_name_message("column", value, [str(c) for c in X.columns]))
        else:
            values.append(X[value].to_numpy())
            taken.append(value)
    return (X.drop(columns=taken) if taken else X), values[0], values[1]
