"""The per-row inputs given beside the features: the group labels, read as one column.

Example:
    >>> series, problems = group_series(np.array([["a"], ["b"]]), 2)
    >>> series.tolist(), problems
    (['a', 'b'], [])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["group_series"]


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
