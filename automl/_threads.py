"""Cap the threads of OpenMP and BLAS (and torch's) while a model fits or predicts.

Without a cap, OpenMP in scikit-learn's HistGradientBoosting (and BLAS) spawn
one thread per core in every fold, and on a busy machine the threads wait on
each other: one fold of a tiny data set took 15 s instead of 0.2 s. A
``ThreadpoolController`` is cached (building one costs about 6 ms) and rebuilt
only when new modules, hence possibly new native libraries, were imported.

The limits belong to the process, not to a thread, so a model predicting on
several threads at once must not let each thread save and restore them: the
threads' exits interleave, and one restored the limit another had set (a
caller's ``threadpool_limits(4)`` was left at 1 for good, and so was torch's
thread count). A :class:`SharedLimit` is held from its first holder's entry to
its last holder's exit, of whatever thread; then the setting from before comes
back. A limit asked while one is held (nested, or on another thread) runs under
the held one.

Example:
    >>> with limit_threads(1):
    ...     pass
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["SharedLimit", "limit_threads"]

_cache: dict[str, Any] = {"modules": -1, "controller": None}


class SharedLimit:
    """A process-wide setting applied by its first holder and undone when its last holder leaves.

    Example:
        >>> setting = {"threads": 8}
        >>> def one_thread():
        ...     before, setting["threads"] = setting["threads"], 1
        ...     return lambda: setting.update(threads=before)
        >>> limit = SharedLimit()
        >>> with limit.held(one_thread):
        ...     with limit.held(one_thread):
        ...         inside = setting["threads"]
        >>> inside, setting["threads"]
        (1, 8)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._undo: Callable[[], None] | None = None

    @contextmanager
    def held(self, apply: Callable[[], Callable[[], None]]) -> Iterator[None]:
        """Hold the limit inside the block; ``apply`` sets it (when nobody holds it) and returns its undo."""
        with self._lock:
            if self._holders == 0:
                self._undo = apply()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._undo is not None:
                    undo, self._undo = self._undo, None
                    undo()


_POOLS = SharedLimit()


def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    if _cache["modules"] != len(sys.modules):
        _cache["controller"] = ThreadpoolController()
        _cache["modules"] = len(sys.modules)
    return _cache["controller"]


def limit_threads(n_threads: int) -> Any:
    """A context manager limiting OpenMP and BLAS pools to ``n_threads`` (see the module docstring for threads)."""
    return _POOLS.held(lambda: _controller().limit(limits=max(1, int(n_threads))).restore_original_limits)
