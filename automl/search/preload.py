"""Importing the winning family's packages while trials run, and results unpickled once that import has ended.

With isolated trials the refit is the fit's process's first use of the winning family; importing LightGBM or
torch takes seconds, better spent while other trials run in the worker (:func:`preload_packages`). A result
unpickled here imports its package too, so it first waits for those imports (:func:`loads_preloaded`).

Example:
    >>> preload_modules(["json"])  # imported already: nothing to do
    >>> loads_preloaded(pickle.dumps([1, 2]))
    [1, 2]
"""

from __future__ import annotations

import importlib
import logging
import pickle
import sys
import threading
import time
from typing import Any

__all__ = ["PRELOAD_WAIT_SECONDS", "loads_preloaded", "preload_modules", "preload_packages"]

logger = logging.getLogger("automl")

_PRELOADING: dict[str, threading.Thread] = {}
#: At most this long a result waits for the imports under way before it is unpickled (see :func:`loads_preloaded`).
PRELOAD_WAIT_SECONDS = 30.0


def preload_packages(family_name: str) -> None:
    """Import the packages of ``family_name`` in a background thread (once per process).

    With isolated trials the refit is this process's first use of the winning
    family; importing lightgbm or torch takes seconds, better spent while
    other trials run in the worker.

    Example:
        >>> preload_packages("linear")  # scikit-learn only: nothing to import
    """
    from automl.families.registry import get_family

    preload_modules(get_family(family_name).requires)


def preload_modules(modules: Any) -> None:
    """Import each of ``modules`` in a background thread (once per process), unless it is imported already."""
    for module in modules:
        if module in sys.modules or module in _PRELOADING:
            continue
        thread = threading.Thread(target=_import_quietly, args=(module,), name=f"automl-preload-{module}", daemon=True)
        _PRELOADING[module] = thread
        thread.start()


def loads_preloaded(data: bytes, deadline: float | None = None) -> Any:
    """``pickle.loads(data)`` once the imports :func:`preload_modules` started have ended (until ``deadline``,
    monotonic, or :data:`PRELOAD_WAIT_SECONDS`): unpickling imports the model's package on this thread, and the same
    package imported on two threads at once can deadlock on its submodules' locks. Python then raises
    ``_DeadlockError`` in one of them: a LightGBM refit on a 5 s budget failed with "KeyError: 'lightgbm'"."""
    end = time.monotonic() + PRELOAD_WAIT_SECONDS
    end = end if deadline is None else min(end, deadline)
    for thread in list(_PRELOADING.values()):
        if thread.is_alive():
            thread.join(timeout=max(0.0, end - time.monotonic()))
    return pickle.loads(data)


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - the refit will report a broken package itself
        logger.debug("preloading %s failed", module, exc_info=True)
