"""A frame's plain numeric columns, grouped by dtype, so that checks and conversions run once per block.

pandas pays tens of microseconds per ``X[name]``; on a table of 20,000 columns, the per-column loops of
validation, screening and the schema cost seconds per fit and about two seconds per ``predict`` call, even
for one row. pandas already stores columns of one dtype as one 2-D block, so ``X[names].to_numpy()`` on
columns of a single dtype is one copy, and a check over its axis 0 is one numpy call. Columns of other
dtypes (text, categories, datetimes, pandas' nullable types) keep their per-column paths.

Example:
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2], "c": ["x", "y"], "d": [0.5, 0.5], "e": [True, False]})
    >>> {str(dtype): names for dtype, names in numeric_blocks(X).items()}
    {'float64': ['a', 'd'], 'int64': ['b']}
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

__all__ = ["numeric_blocks"]

#: numpy kinds of the columns handled as blocks: signed and unsigned integers, floats (not bool, not complex).
NUMERIC_KINDS = "iuf"


def numeric_blocks(X: pd.DataFrame) -> dict[np.dtype, list[Hashable]]:
    """The names of ``X``'s columns of a plain numpy integer or float dtype, grouped by that dtype (each group in
    the frame's column order). Empty when the column names are not unique (the per-column paths name the
    duplicates).

    Columns of one dtype are converted together without changing their values (no int64 to float64 rounding
    of large integers, which would make distinct values equal).
    """
    if not X.columns.is_unique:
        return {}
    groups: dict[np.dtype, list[Hashable]] = {}
    for name, dtype in X.dtypes.items():
        if isinstance(dtype, np.dtype) and dtype.kind in NUMERIC_KINDS:
            groups.setdefault(dtype, []).append(name)
    return groups
