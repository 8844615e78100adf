"""Statistics of fold scores: finite means, and the corrected paired t-test between two models.

Example:
    >>> finite_mean_std([1.0, float("nan"), 3.0])
    (2.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SIGNIFICANCE_LEVEL", "finite_mean_std", "mark_significance", "paired_difference"]


def finite_mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard deviation of the finite values (NaN, NaN when there are none)."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    if not len(finite):
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std())


#: p-value below which #1 is marked significantly better than #2.
SIGNIFICANCE_LEVEL = 0.05


def paired_difference(
    first: Sequence[float], second: Sequence[float], test_fraction: float, greater_is_better: bool
) -> tuple[float, float]:
    """How much better ``first`` scores than ``second`` on the same folds, and the one-sided p-value.

    The corrected resampled t-test of Nadeau and Bengio (2003): the fold
    differences are not independent (the training parts overlap), so their
    variance is inflated by ``1/k + test_fraction / (1 - test_fraction)``.

    Returns:
        ``(mean difference in favour of first, p-value)``; the p-value is NaN when
        fewer than two folds have both scores.

    Example:
        >>> d, p = paired_difference([0.90, 0.91, 0.92, 0.90, 0.93], [0.85, 0.86, 0.88, 0.84, 0.87], 0.2, True)
        >>> round(d, 3), p < 0.05
        (0.052, True)
    """
    from scipy import stats

    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    both = np.isfinite(a) & np.isfinite(b)
    diff = (a - b)[both] if greater_is_better else (b - a)[both]
    if len(diff) < 2:
        return (float(diff.mean()) if len(diff) else math.nan), math.nan
    mean, var = float(diff.mean()), float(diff.var(ddof=1))
    k = len(diff)
    fraction = min(max(test_fraction, 1e-6), 0.999)
    scale = math.sqrt((1.0 / k + fraction / (1.0 - fraction)) * var)
    if scale == 0.0:
        return mean, 0.0 if mean > 0 else 1.0
    return mean, float(stats.t.sf(mean / scale, df=k - 1))


def mark_significance(
    board: pd.DataFrame, first: Sequence[float], second: Sequence[float], test_fraction: float,
    greater_is_better: bool,
) -> pd.DataFrame:
    """Add ``p_vs_next`` and ``significant`` to the row ranked 1: is it better than the row ranked 2?

    ``first`` and ``second`` are their primary scores per fold (see :func:`paired_difference`);
    the other rows get NaN / NA.

    Example:
        >>> board = pd.DataFrame({"rank": pd.array([1, 2], dtype="Int64"), "trial": [3, 1]})
        >>> mark_significance(board, [0.9, 0.92, 0.91], [0.8, 0.81, 0.83], 0.33, True)["significant"].tolist()
        [True, <NA>]
    """
    board = board.copy()
    board["p_vs_next"] = math.nan
    board["significant"] = pd.array([pd.NA] * len(board), dtype="boolean")
    top = np.flatnonzero((board["rank"] == 1).fillna(False).to_numpy())
    if len(top) == 0 or len(second) == 0:
        return board
    _, p_value = paired_difference(first, second, test_fraction, greater_is_better)
    if math.isfinite(p_value):
        board.loc[board.index[top[0]], "p_vs_next"] = p_value
        board.loc[board.index[top[0]], "significant"] = bool(p_value < SIGNIFICANCE_LEVEL)
    return board
