"""A single background thread that runs logging calls off the search's critical path.

Example:
    >>> worker = BackgroundWorker()
    >>> out = []
    >>> worker.submit(out.append, 1); worker.flush()
    >>> out, worker.errors
    ([1], [])
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundWorker"]

logger = logging.getLogger("automl")


class BackgroundWorker:
    """Runs submitted calls in order on one daemon thread; errors are kept, never raised."""

    def __init__(self, name: str = "automl-tracking") -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                fn, args = item
                try:
                    fn(*args)
                except Exception as exc:  # noqa: BLE001 - logging must never break the search
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    logger.warning("tracking call %s failed: %s", getattr(fn, "__name__", fn), exc)
            finally:
                self._queue.task_done()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``."""
        self._queue.put((fn, args))

    def flush(self) -> None:
        """Wait until every queued call has run."""
        self._queue.join()

    def close(self) -> None:
        """Flush, then stop the thread."""
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=30)
