"""The worker processes behind isolated trials: spawning, the warm pool, memory readings, the data file.

A worker is a process started with ``spawn`` that runs :func:`automl.search.worker_process.serve`.
Healthy workers are kept warm (their data dropped) for the next fit in the same Python process,
up to :data:`MAX_IDLE_WORKERS`; all of them stop when the process exits, however it exits
(:func:`automl._spawn.start_without_main` makes them die with it). The data reaches them in a
:class:`Payload`, a file without a name in the temporary folder.

Example:
    >>> resident_mb(os.getpid()) > 0
    True
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

from automl._spawn import start_without_main
from automl.evaluation.cross_validation import Evaluator
from automl.search.preload import loads_preloaded, preload_modules, preload_packages
from automl.search.worker_process import serve

__all__ = ["MAX_IDLE_WORKERS", "Payload", "default_memory_limit_mb", "describe_exit", "loads_preloaded", "preload_modules", "preload_packages",
           "resident_mb", "tree_resident_mb", "Worker", "keep_worker", "take_worker"]

logger = logging.getLogger("automl")

#: Warm workers kept for the next fit.
MAX_IDLE_WORKERS = 2


def default_memory_limit_mb() -> float | None:
    """Three quarters of the machine's physical memory, in MiB (None where it cannot be read).

    Example:
        >>> default_memory_limit_mb() > 0
        True
    """
    try:
        return 0.75 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (AttributeError, OSError, ValueError):
        return None


def resident_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MiB (Linux ``/proc``, else psutil if installed; None if unknown).

    Example:
        >>> resident_mb(os.getpid()) > 0
        True
    """
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:  # noqa: BLE001 - no psutil, or the process is gone
        return None


def tree_resident_mb(pid: int) -> float | None:
    """Resident MiB of process ``pid`` and of its descendants (a model's own helper processes);
    None if ``pid`` cannot be read. Children are found in Linux's ``/proc``; elsewhere ``pid`` alone.

    Example:
        >>> tree_resident_mb(os.getpid()) >= resident_mb(os.getpid()) > 0
        True
    """
    total = resident_mb(pid)
    if total is None:
        return None
    seen, todo = {pid}, _children(pid)
    while todo and len(seen) < 256:
        child = todo.pop()
        if child in seen:
            continue
        seen.add(child)
        total += resident_mb(child) or 0.0
        todo += _children(child)
    return total


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc/PID/task/*/children``; empty elsewhere)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                found += [int(c) for c in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Worker:
    """One spawned worker process and its end of the pipe."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child,), name="automl-trial-worker", daemon=True)
        start_without_main(self.process)
        child.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> int | None:
        """Kill the process at once; return its exit code."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()
        return self.process.exitcode


_IDLE: list[Worker] = []
_IDLE_LOCK = threading.Lock()


def take_worker() -> Worker:
    with _IDLE_LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.alive:
                return worker
            worker.kill()
    return Worker()


def keep_worker(worker: Worker) -> None:
    """Keep a healthy worker warm for the next fit (its data dropped), or stop it."""
    try:
        worker.conn.send(("unload",))
    except (OSError, ValueError):
        worker.kill()
        return
    with _IDLE_LOCK:
        if len(_IDLE) < MAX_IDLE_WORKERS:
            _IDLE.append(worker)
            return
    _stop_worker(worker)


def _stop_worker(worker: Worker) -> None:
    try:
        worker.conn.send(("exit",))
        worker.process.join(timeout=2)
    except (OSError, ValueError):
        pass
    worker.kill()


@atexit.register
def _stop_idle_workers() -> None:
    with _IDLE_LOCK:
        idle, _IDLE[:] = list(_IDLE), []
    for worker in idle:
        _stop_worker(worker)


class Payload:
    """The fit's evaluator and data, pickled once for the workers, in a file no one else can see.

    On Linux the file has no name at all (``O_TMPFILE``); elsewhere on POSIX its name is removed as soon
    as it is created. Either way only open descriptors keep it, so it is gone when this process ends,
    however it ends (kill -9 included), and the temporary folder never holds a copy of the data.
    Each worker gets the descriptor over its pipe (:meth:`send`) and maps it to read. Where descriptors
    cannot be passed (Windows) the file keeps its name until :meth:`close`.

    Example:
        >>> import numpy as np
        >>> from automl.evaluation import Evaluator, get_metric
        >>> ev = Evaluator([get_metric("rmse", "regression")], [], task="regression", n_classes=0)
        >>> payload = Payload(ev, np.zeros((2, 1)), np.ones(2))
        >>> payload.path is None or not hasattr(socket, "SCM_RIGHTS")
        True
        >>> payload.close()
    """

    def __init__(self, evaluator: Evaluator, X: Any, y: Any) -> None:
        try:
            import cloudpickle as pickler  # lambdas and classes from __main__ (user metrics) pickle too
        except ImportError:  # pragma: no cover - cloudpickle comes with mlflow
            import pickle as pickler
        self.fd, self.path = _private_file()
        try:
            with os.fdopen(os.dup(self.fd), "wb") as out:
                pickler.dump((evaluator, X, y), out, protocol=5)
        except BaseException:
            self.close()
            raise

    def send(self, worker: Worker, families: Mapping[str, str], filters: Any) -> None:
        """Send ``worker`` the load request and the file (its descriptor, or its path)."""
        source = ("fd",) if self.path is None else ("path", self.path)
        worker.conn.send(("load", source, dict(families), filters))
        if self.path is None:
            from multiprocessing.reduction import send_handle

            send_handle(worker.conn, self.fd, worker.process.pid)

    def close(self) -> None:
        """Drop the file (the workers hold no copy of it: they read it once)."""
        fd, path, self.fd, self.path = self.fd, self.path, -1, None
        if fd >= 0:
            os.close(fd)
        if path is not None and os.path.exists(path):
            os.unlink(path)


def _private_file() -> tuple[int, str | None]:
    """``(descriptor, path)`` of a new file for the data: unnamed where descriptors can be sent to the
    workers (path None), else named (the path, unlinked by :meth:`Payload.close`)."""
    if hasattr(socket, "SCM_RIGHTS") and os.name == "posix":
        flags = getattr(os, "O_TMPFILE", 0)
        if flags:
            try:
                return os.open(tempfile.gettempdir(), flags | os.O_RDWR | os.O_CLOEXEC, 0o600), None
            except OSError:  # a file system without O_TMPFILE
                pass
        fd, path = tempfile.mkstemp(prefix="automl-trial-data-", suffix=".pkl")
        os.unlink(path)
        return fd, None
    fd, path = tempfile.mkstemp(prefix="automl-trial-data-", suffix=".pkl")
    return fd, path
