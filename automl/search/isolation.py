"""Trials in a separate, reused process: a trial that crashes, hangs or eats memory never ends the search.

Each fit's trials run in one worker process started with ``spawn`` (never
``fork``: LightGBM and OpenMP can hang in a forked child). The process is
reused from trial to trial, and kept warm between fits, so isolation costs
a few milliseconds per trial, not a Python start-up. The search process
keeps the Optuna trial: the worker sends it each fold's running score and
each epoch's validation score, and waits for the answer (go on, or stop:
pruned or out of time), exactly as the in-process callbacks would.

What the search process does when a trial misbehaves:

- raises (``MemoryError`` included): the trial fails with ``"Type: message"``;
  after a ``MemoryError`` the worker is replaced;
- crashes its process (segfault, ``os.abort``, killed by the OS): the trial
  fails with the signal or exit code, and a new worker takes the next trial;
- runs past ``trial_timeout`` seconds: the worker is killed (within
  :data:`POLL_SECONDS` of the limit) and the trial fails;
- runs past the time budget's deadline: the worker is killed and the trial
  is stopped (pruned), as a fold that would overrun the budget is;
- grows its resident memory past ``trial_memory_limit`` MiB: the worker is
  killed and the trial fails with the size it reached.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation import Evaluator, get_metric, make_cv_plan
    >>> X = pd.DataFrame({"a": np.arange(40.0)}); y = np.arange(40) % 2
    >>> ev = Evaluator([get_metric("accuracy", "binary")], make_cv_plan(2, "binary").splits(40, y, None),
    ...                task="binary", n_classes=2)
    >>> with IsolatedTrials(ev, X, y, {"linear": "automl.families.linear:FAMILY"}) as trials:
    ...     len(trials.evaluate("linear", {}).fold_scores["accuracy"])
    2
"""

from __future__ import annotations

import atexit
import importlib
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from automl._spawn import start_without_main
from automl.evaluation.cross_validation import CVResult, Evaluator, TrialStopped

__all__ = [
    "ISOLATION_MODES",
    "IsolatedTrials",
    "TrialCrashed",
    "TrialRaised",
    "WorkerLoadError",
    "default_memory_limit_mb",
    "preload_packages",
    "resident_mb",
]

logger = logging.getLogger("automl")

#: ``"process"``: trials run in a reused spawned worker; ``"none"``: in the search's own process.
ISOLATION_MODES = ("process", "none")
#: Seconds between two looks at a running trial (time and memory limits, a dead worker).
POLL_SECONDS = 0.05
#: Seconds a killed trial may keep running past the budget's deadline, so that the
#: trial's own checks (between folds and epochs) stop it first when they can.
DEADLINE_GRACE_SECONDS = 1.0
#: Seconds to wait for a worker to start and load the data before giving up on it.
START_TIMEOUT_SECONDS = 300.0
#: Warm workers kept for the next fit.
MAX_IDLE_WORKERS = 2


class TrialCrashed(Exception):
    """The worker running a trial died or was killed (crash, time limit, memory limit).

    Attributes:
        reason: What happened, as recorded on the trial.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WorkerLoadError(RuntimeError):
    """The worker process could not load the fit (a family or metric that only exists in this process)."""


class TrialRaised(Exception):
    """A trial raised an exception in the worker process.

    Attributes:
        type_name: Name of the exception's class (``"ValueError"``).
        reason: ``"Type: message"``, as the same error raised in-process is recorded.
        remote_traceback: The worker's traceback.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.reason = f"{type_name}: {message}"
        self.remote_traceback = remote_traceback


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
        import psutil  # type: ignore[import-untyped]

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:  # noqa: BLE001 - no psutil, or the process is gone
        return None


_PRELOADING: set[str] = set()


def preload_packages(family_name: str) -> None:
    """Import the packages of ``family_name`` in a background thread (once per process).

    With isolated trials the refit is this process's first use of the winning
    family; importing lightgbm or torch takes seconds, better spent while
    other trials run in the worker.

    Example:
        >>> preload_packages("linear")  # scikit-learn only: nothing to import
    """
    from automl.families.registry import get_family

    for module in get_family(family_name).requires:
        if module in sys.modules or module in _PRELOADING:
            continue
        _PRELOADING.add(module)
        threading.Thread(target=_import_quietly, args=(module,), name=f"automl-preload-{module}", daemon=True).start()


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - the refit will report a broken package itself
        logger.debug("preloading %s failed", module, exc_info=True)


# -- the worker process -----------------------------------------------------------------------
def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _load_payload(path: str, families: Mapping[str, str], filters: Any) -> tuple[Evaluator, Any, Any]:
    from automl.families.registry import get_family, register_family

    if filters is not None:
        warnings.filters[:] = list(filters)
    for name, import_path in families.items():
        register_family(name, import_path, replace=True)
        get_family(name)  # a family that only exists in the search's process fails here, not in a trial
    with open(path, "rb") as handle:
        import pickle

        return pickle.load(handle)


def _serve(conn: Any) -> None:
    """The worker's loop: load a fit's data, then evaluate one configuration per request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the search process's to handle
    _die_with_parent()
    loaded: tuple[Evaluator, Any, Any] | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "exit":
            return
        if kind == "unload":
            loaded = None
            continue
        if kind == "load":
            try:
                loaded = _load_payload(*message[1:])
                conn.send(("loaded", os.getpid()))
            except BaseException as exc:  # noqa: BLE001 - reported to the search process
                conn.send(("load_error", f"{type(exc).__name__}: {exc}"))
            continue
        if kind == "trial" and loaded is not None:
            _run_trial(conn, loaded, *message[1:])


def _run_trial(conn: Any, loaded: tuple[Evaluator, Any, Any], family: str, params: Any, seed: Any) -> None:
    from automl.families.torch_common import free_accelerator_memory

    evaluator, X, y = loaded

    def ask(message: tuple[Any, ...]) -> Any:
        conn.send(message)
        answer = conn.recv()
        if answer[0] == "stop":
            raise TrialStopped(answer[1], kind=answer[2])
        return answer[1]

    def on_fold(fold: int, running: float, seconds: float) -> Any:
        return ask(("fold", fold, running, seconds))

    def on_epoch(fold: int, epoch: int, value: float, seconds: float) -> Any:
        return ask(("epoch", fold, epoch, value, seconds))

    try:
        result = evaluator.evaluate(family, params, X, y, on_fold=on_fold, on_epoch=on_epoch, seed=seed)
        conn.send(("done", result))
    except TrialStopped as stop:
        conn.send(("stopped", stop.reason, stop.kind, stop.fold_scores))
    except MemoryError as exc:
        conn.send(("error", "MemoryError", str(exc) or "out of memory", traceback.format_exc(), True))
        os._exit(3)  # a process that ran out of memory is not trusted with another trial
    except KeyboardInterrupt:
        conn.send(("interrupt",))  # raised by the trial's own code: the search stops, as it would in-process
    except BaseException as exc:  # noqa: BLE001 - reported to the search process
        fatal = not isinstance(exc, Exception)  # SystemExit and the like: a fresh worker takes the next trial
        conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc(), fatal))
    finally:
        free_accelerator_memory()


# -- the search process's side ------------------------------------------------------------------
def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class _Worker:
    """One spawned worker process and its end of the pipe."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), name="automl-trial-worker", daemon=True)
        start_without_main(self.process)
        child.close()
        self.payload: str | None = None

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


_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()


def _take_worker() -> _Worker:
    with _IDLE_LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.alive:
                return worker
            worker.kill()
    return _Worker()


def _keep_worker(worker: _Worker) -> None:
    """Keep a healthy worker warm for the next fit (its data dropped), or stop it."""
    try:
        worker.conn.send(("unload",))
        worker.payload = None
    except (OSError, ValueError):
        worker.kill()
        return
    with _IDLE_LOCK:
        if len(_IDLE) < MAX_IDLE_WORKERS:
            _IDLE.append(worker)
            return
    _stop_worker(worker)


def _stop_worker(worker: _Worker) -> None:
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


def _pickle_payload(evaluator: Evaluator, X: Any, y: Any) -> str:
    """Write what the worker needs to a private temporary file; return its path."""
    try:
        import cloudpickle as pickler  # lambdas and classes from __main__ (user metrics) pickle too
    except ImportError:  # pragma: no cover - cloudpickle comes with mlflow
        import pickle as pickler  # type: ignore[no-redef]
    handle, path = tempfile.mkstemp(prefix="automl-trial-data-", suffix=".pkl")
    try:
        with os.fdopen(handle, "wb") as out:
            pickler.dump((evaluator, X, y), out, protocol=5)
    except BaseException:
        os.unlink(path)
        raise
    return path


class IsolatedTrials:
    """Runs :meth:`Evaluator.evaluate` for a fit's trials in a reused worker process.

    Args:
        evaluator: The fit's evaluator (sent to the worker once, with ``X`` and ``y``).
        X: Canonical frame (all rows).
        y: Encoded target.
        families: Family name → registry import path, registered in the worker.
        trial_timeout: Seconds a trial may run before its worker is killed (None: no limit).
        memory_limit_mb: Resident MiB the worker may reach during a trial (None: no limit).

    Raises:
        TypeError: the evaluator or data cannot be pickled (see :meth:`open`).
    """

    def __init__(
        self,
        evaluator: Evaluator,
        X: Any,
        y: Any,
        families: Mapping[str, str],
        *,
        trial_timeout: float | None = None,
        memory_limit_mb: float | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.trial_timeout = trial_timeout
        self.memory_limit_mb = memory_limit_mb
        self.n_replaced = 0
        self._families = dict(families)
        self._path = _pickle_payload(evaluator, X, y)
        self._worker: _Worker | None = None
        self._ready = False
        self._start()

    def __enter__(self) -> IsolatedTrials:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- worker management ------------------------------------------------------------------
    def _start(self) -> _Worker:
        """Take a warm worker (or spawn one) and send it the data; does not wait."""
        worker = _take_worker()
        filters = list(warnings.filters)
        try:
            worker.conn.send(("load", self._path, self._families, filters))
        except Exception:  # noqa: BLE001 - filters that do not pickle are not sent
            worker.conn.send(("load", self._path, self._families, None))
        self._worker = worker
        self._ready = False
        return worker

    def _wait_ready(self) -> _Worker:
        worker = self._worker or self._start()
        if self._ready:
            return worker
        if not worker.conn.poll(START_TIMEOUT_SECONDS):
            self._discard()
            raise TrialCrashed(f"the trial worker did not start within {START_TIMEOUT_SECONDS:g} s")
        try:
            answer = worker.conn.recv()
        except (EOFError, OSError):
            code = self._discard()
            raise TrialCrashed(f"the trial worker {_describe_exit(code)} while loading the data") from None
        if answer[0] == "load_error":
            self._discard()
            raise WorkerLoadError(f"the trial worker could not load the search: {answer[1]}")
        self._ready = True
        return worker

    def _discard(self) -> int | None:
        """Kill the current worker; the next trial starts a new one."""
        worker, self._worker = self._worker, None
        self._ready = False
        self.n_replaced += 1
        return worker.kill() if worker is not None else None

    def close(self) -> None:
        """Return the worker to the warm pool (or stop it) and delete the data file."""
        worker, self._worker = self._worker, None
        if worker is not None:
            if self._ready and worker.alive:
                _keep_worker(worker)
            else:
                worker.kill()
        if self._path and os.path.exists(self._path):
            os.unlink(self._path)
        self._path = ""

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None between a crash and the next trial)."""
        return None if self._worker is None else self._worker.process.pid

    # -- one trial ----------------------------------------------------------------------------
    def evaluate(
        self,
        family: str,
        params: Mapping[str, Any],
        *,
        on_fold: Callable[[int, float, float], Any] | None = None,
        on_epoch: Callable[[int, int, float, float], Any] | None = None,
        seed: int | None = None,
        deadline: Callable[[], float | None] | None = None,
    ) -> CVResult:
        """Cross-validate one configuration in the worker.

        Args:
            family: Family name.
            params: Its parameters.
            on_fold: As for :meth:`Evaluator.evaluate`, called in this process.
            on_epoch: As for :meth:`Evaluator.evaluate`, called in this process.
            seed: The trial's seed.
            deadline: Returns the monotonic time past which the trial is out of the time
                budget (None: no budget); the worker is killed a second after it.

        Returns:
            The :class:`CVResult`.

        Raises:
            TrialStopped: pruned, or out of the time budget (``kind="timeout"``).
            TrialRaised: the trial raised an exception in the worker.
            TrialCrashed: the worker crashed, or was killed at the time or memory limit.
        """
        worker = self._wait_ready()
        started = time.monotonic()
        peak = 0.0
        try:
            worker.conn.send(("trial", family, dict(params), seed))
            while True:
                if worker.conn.poll(POLL_SECONDS):
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        code = self._discard()
                        raise TrialCrashed(f"the trial's process {_describe_exit(code)} ({family})") from None
                    outcome = self._answer(worker, message, on_fold, on_epoch)
                    if outcome is not None:
                        return outcome
                    continue
                if not worker.alive:
                    code = self._discard()
                    raise TrialCrashed(f"the trial's process {_describe_exit(code)} ({family})")
                now = time.monotonic()
                if self.trial_timeout is not None and now - started > self.trial_timeout:
                    self._discard()
                    raise TrialCrashed(
                        f"killed after {now - started:.1f} s: the trial ran past trial_timeout={self.trial_timeout:g} s"
                    )
                limit = deadline() if deadline is not None else None
                if limit is not None and now > limit + DEADLINE_GRACE_SECONDS:
                    self._discard()
                    raise TrialStopped(
                        f"stopped after {now - started:.1f} s: killed at the time budget's deadline", kind="timeout"
                    )
                if self.memory_limit_mb is not None:
                    rss = resident_mb(worker.process.pid)  # type: ignore[arg-type]
                    peak = max(peak, rss or 0.0)
                    if rss is not None and rss > self.memory_limit_mb:
                        self._discard()
                        raise TrialCrashed(
                            f"killed at {rss:.0f} MiB resident: the trial went over "
                            f"trial_memory_limit={self.memory_limit_mb:g} MiB"
                        )
        except (TrialStopped, TrialRaised, TrialCrashed):
            raise
        except BaseException:
            # Ctrl-C, or a callback of the search failed: the worker is mid-trial, so it goes.
            if self._worker is worker:
                self._discard()
            raise

    def _answer(
        self, worker: _Worker, message: tuple[Any, ...], on_fold: Any, on_epoch: Any
    ) -> CVResult | None:
        """Handle one message of the worker; return the result when the trial is over."""
        kind = message[0]
        if kind in ("fold", "epoch"):
            callback = on_fold if kind == "fold" else on_epoch
            try:
                value = callback(*message[1:]) if callback is not None else None
            except TrialStopped as stop:
                worker.conn.send(("stop", stop.reason, stop.kind))
                return None
            worker.conn.send(("go", value))
            return None
        if kind == "done":
            return message[1]
        if kind == "stopped":
            stop = TrialStopped(message[1], kind=message[2])
            stop.fold_scores = message[3]
            raise stop
        if kind == "interrupt":
            raise KeyboardInterrupt
        if kind == "error":
            _, type_name, text, remote_tb, fatal = message
            if fatal:
                self._discard()
            raise TrialRaised(type_name, text, remote_tb)
        raise TrialCrashed(f"the trial worker sent an unexpected message {kind!r}")  # pragma: no cover
