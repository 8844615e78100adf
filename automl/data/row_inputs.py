"""The per-row inputs given beside the features: the group labels, read as one column, and the sample weights.

Example:
    >>> series, problems = group_series(np.array([["a"], ["b"]]), 2)
    >>> series.tolist(), problems
    (['a', 'b'], [])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["group_series", "sample_weight_problems"]


def group_series(groups: Any, n_rows: int) -> tuple[pd.Series | None, list[str]]:
    """``groups`` (one label per row, or a column vector of them, as a target may be) as a Series with a fresh
    index, and what is wrong with it: another shape, another length, missing labels.

    Example:
        >>> group_series(np.zeros((3, 2)), 3)[1]
        ['groups must be one label per row (a Series, list or 1-D array), got shape (3, 2)']
    """
    values = np.asarray(groups)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        return None, [f"groups must be one label per row (a Series, list or 1-D array), got shape {values.shape}"]
    series = pd.Series(values).reset_index(drop=True)
    if len(series) != n_rows:
        return series, [f"groups has {len(series)} values but X has {n_rows} rows"]
    if series.isna().any():
        return series, [f"groups has {int(series.isna().sum())} missing value(s); give every row a group"]
    return series, []


def sample_weight_problems(sample_weight: object, n_rows: int) -> tuple[np.ndarray | None, list[str]]:
    """Check sample weights: one finite, non-negative number per row, not all zero.

    Returns:
        ``(weights as float64 or None, problems)``.

    Example:
        >>> sample_weight_problems([1.0, -2.0, float("nan")], 3)[1]
        ['sample_weight holds 1 missing value(s) (rows [2]); give every row a weight (1.0 is neutral)', 'sample_weight holds 1 negative value(s) (rows [1]); weights must be >= 0 (0 leaves a row out of training)']
    """
    if sample_weight is None:
        return None, []
    if isinstance(sample_weight, pd.DataFrame):
        return None, [f"sample_weight must be one column (a Series, list or 1-D array), got a DataFrame of shape {sample_weight.shape}"]
    values = sample_weight.to_numpy() if isinstance(sample_weight, pd.Series) else np.asarray(sample_weight, dtype=object)
    if values.ndim != 1:
        return None, [f"sample_weight must be one weight per row (1-D), got shape {values.shape}"]
    if len(values) != n_rows:
        return None, [f"sample_weight has {len(values)} values but the data has {n_rows} rows; pass one weight per row"]
    weights = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    not_numbers = np.flatnonzero(np.isnan(weights) & ~pd.isna(pd.Series(values)).to_numpy())
    if len(not_numbers):
        row = int(not_numbers[0])
        return None, [
            f"sample_weight must hold numbers; {len(not_numbers)} value(s) are not (e.g. {values[row]!r} in row {row}); "
            "convert the column with pd.to_numeric"
        ]
    problems = []
    for label, mask, fix in (
        ("missing", np.isnan(weights), "give every row a weight (1.0 is neutral)"),
        ("infinite", np.isinf(weights), "weights must be finite"),
        ("negative", weights < 0, "weights must be >= 0 (0 leaves a row out of training)"),
    ):
        if mask.any():
            rows = np.flatnonzero(mask)
            problems.append(f"sample_weight holds {len(rows)} {label} value(s) (rows {rows[:5].tolist()}); {fix}")
    if not problems and not (weights > 0).any():
        problems.append("sample_weight is zero for every row; at least one row needs a positive weight")
    return (None if problems else weights), problems
