"""Start spawned helper processes without running the user's ``__main__`` script again.

``multiprocessing`` with ``spawn`` imports the parent's main script in the child
(as ``__mp_main__``). A user's script without an ``if __name__ == "__main__":``
guard would then run its whole fit again inside our helper. Our helpers
(trial workers, the MLflow writer) need nothing from ``__main__``, so it is
hidden from ``multiprocessing`` while the process starts.

Example:
    >>> import multiprocessing
    >>> p = multiprocessing.get_context("spawn").Process(target=len, args=((),))
    >>> start_without_main(p); p.join(); p.exitcode
    0
"""

from __future__ import annotations

import sys
import threading
from typing import Any

__all__ = ["start_without_main"]

_LOCK = threading.Lock()
_MISSING = object()


def start_without_main(process: Any) -> None:
    """``process.start()`` with ``__main__``'s ``__file__`` and ``__spec__`` hidden from the child."""
    main = sys.modules.get("__main__")
    with _LOCK:
        saved_file = getattr(main, "__file__", _MISSING)
        saved_spec = getattr(main, "__spec__", _MISSING)
        try:
            if saved_file is not _MISSING:
                del main.__file__  # type: ignore[union-attr]
            if saved_spec is not _MISSING:
                main.__spec__ = None  # type: ignore[union-attr]
            process.start()
        finally:
            if saved_file is not _MISSING:
                main.__file__ = saved_file  # type: ignore[union-attr]
            if saved_spec is not _MISSING:
                main.__spec__ = saved_spec  # type: ignore[union-attr]
