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

from automl.data.dtypes import infinite_target_problem, target_length_problem
from automl.data.validation import target_series
from automl.exceptions import DataValidationError

__all__ = ["scoring_truth"]


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
    if task == "regression":
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        text = np.flatnonzero(keep & np.isnan(numbers))
        if len(text):
            problems.append(f"target {name!r} must hold numbers to score a regression model; {len(text)} value(s) "
                            f"are not (e.g. {series.iloc[int(text[0])]!r}); convert it with pd.to_numeric")
        n_inf = int(np.isinf(numbers).sum())
        if n_inf:
            problems.append(infinite_target_problem(name, n_inf))
        truth = numbers[keep]
    else:
        lookup = {label: i for i, label in enumerate(list(classes if classes is not None else []))}
        unknown = sorted({str(v) for v in series[keep] if v not in lookup})
        if unknown:
            problems.append(f"y holds classes not seen at fit: {unknown[:5]}")
        truth = np.array([lookup.get(v, -1) for v in series[keep]], dtype=np.int64)
    if problems:
        raise DataValidationError(problems)
    return keep, truth
