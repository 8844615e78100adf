"""Cap the threads of OpenMP and BLAS while a model fits or predicts.

Without a cap, OpenMP in scikit-learn's HistGradientBoosting (and BLAS) spawn
one thread per core in every fold, and on a busy machine the threads wait on
each other: one fold of a tiny data set took 15 s instead of 0.2 s. A
``ThreadpoolController`` is cached (building one costs about 6 ms) and rebuilt
only when new modules, hence possibly new native libraries, were imported.

Example:
    >>> with limit_threads(1):
    ...     pass
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["limit_threads"]

_cache: dict[str, Any] = {"modules": -1, "controller": None}


def limit_threads(n_threads: int) -> AbstractContextManager[Any]:
    """A context manager limiting OpenMP and BLAS pools to ``n_threads``."""
    from threadpoolctl import ThreadpoolController

    if _cache["modules"] != len(sys.modules):
        _cache["controller"] = ThreadpoolController()
        _cache["modules"] = len(sys.modules)
    return _cache["controller"].limit(limits=max(1, int(n_threads)))
