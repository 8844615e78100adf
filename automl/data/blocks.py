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

from collections.abc import Hashable, Iterator

import numpy as np
import pandas as pd

__all__ = ["CHUNK_CELLS", "NUMERIC_KINDS", "numeric_blocks", "numeric_chunks"]

#: numpy kinds of the columns handled as blocks: signed and unsigned integers, floats (not bool, not complex).
NUMERIC_KINDS = "iuf"

#: Most cells a check reads at once (32 MiB of float64). pandas copies when the columns asked for are not one
#: consolidated block (a frame built column by column), so on a tall frame a block is read a few columns at a time:
#: one copy of the whole frame at once doubled the memory of the checks on 1,000,000 rows (343 MiB against 48).
CHUNK_CELLS = 1 << 22


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


def numeric_chunks(X: pd.DataFrame, max_cells: int | None = None,
                   ) -> Iterator[tuple[np.dtype, list[Hashable], np.ndarray]]:
    """Each block of :func:`numeric_blocks` as ``(dtype, names, values)``, ``values`` of shape ``(rows, len(names))``
    and of that dtype, at most ``max_cells`` cells at a time (default :data:`CHUNK_CELLS`; at least one column).

    Example:
        >>> X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5, 6]})
        >>> [(str(dtype), names, values.tolist()) for dtype, names, values in numeric_chunks(X, max_cells=2)]
        [('float64', ['a'], [[1.0], [2.0]]), ('float64', ['b'], [[3.0], [4.0]]), ('int64', ['c'], [[5], [6]])]
    """
    width = max(1, (max_cells or CHUNK_CELLS) // max(len(X), 1))
    for dtype, names in numeric_blocks(X).items():
        for start in range(0, len(names), width):
            part = names[start:start + width]
            yield dtype, part, X[part].to_numpy()
