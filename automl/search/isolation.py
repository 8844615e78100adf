"""Trials and refits in a separate, reused process: a crash, a hang or a memory hog never ends the fit.

Each fit's trials *and* its final refits run in one worker process started with ``spawn``
(never ``fork``: LightGBM and OpenMP can hang in a forked child). The process is reused
from request to request, and kept warm between fits, so isolation costs a few
milliseconds per trial, not a Python start-up. The fit's process keeps the Optuna trial:
the worker sends it each probe, fold and epoch event and waits for the typed answer
(see :mod:`automl.evaluation.monitor`), exactly as an in-process monitor would answer.

What the fit's process does when a trial or a refit misbehaves:

- raises (``MemoryError`` included): it fails with ``"Type: message"``; after a
  ``MemoryError`` the worker is replaced;
- crashes its process (segfault, ``os.abort``, killed by the OS): it fails with the signal
  or exit code, and a new worker takes the next request;
- runs past ``trial_timeout`` seconds: the worker is killed (within :data:`POLL_SECONDS`
  of the limit) and it fails;
- runs past its deadline (the time budget's): the worker is killed; a trial is stopped
  (pruned), a refit raises :class:`DeadlineKilled`;
- grows its resident memory past ``trial_memory_limit`` MiB: the worker is killed and it
  fails with the size it reached.

:class:`InProcessRunner` has the same interface and runs everything in the fit's own
process (``isolation="none"``): nothing can be killed there, so deadlines are only
checked between folds and epochs.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation import Evaluator, get_metric, make_cv_plan
    >>> X = pd.DataFrame({"a": np.arange(40.0)}); y = np.arange(40) % 2
    >>> ev = Evaluator([get_metric("accuracy", "binary")], make_cv_plan(2, "binary").splits(40, y, None),
    ...                task="binary", n_classes=2)
    >>> with IsolatedRunner(ev, X, y, {"linear": "automl.families.linear:FAMILY"}) as runner:
    ...     result = runner.evaluate("linear", {})
    ...     model = runner.refit("linear", {}, seed=0)
    >>> len(result.fold_scores["accuracy"]), model.family
    (2, 'linear')
"""

from __future__ import annotations

import atexit
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

from automl._spawn import start_without_main
from automl.evaluation.cross_validation import CVResult, Evaluator
from automl.evaluation.monitor import EpochDone, FoldDone, ProbeDone, TrialMonitor, TrialStopped
from automl.search.worker_process import fit_rows, serve

__all__ = [
    "DeadlineKilled",
    "ISOLATION_MODES",
    "InProcessRunner",
    "IsolatedRunner",
    "Runner",
    "TrialCrashed",
    "TrialRaised",
    "WorkerLoadError",
    "default_memory_limit_mb",
    "make_runner",
    "preload_packages",
    "resident_mb",
]

logger = logging.getLogger("automl")

#: ``"process"``: trials and refits run in a reused spawned worker; ``"none"``: in the fit's own process.
ISOLATION_MODES = ("process", "none")
#: Seconds between two looks at a running trial (time and memory limits, a dead worker).
POLL_SECONDS = 0.05
#: Seconds a trial may keep running past its deadline before it is killed, so that the
#: trial's own checks (between folds and epochs) stop it first when they can (a refit has none).
DEADLINE_GRACE_SECONDS = 1.0
#: Seconds to wait for a worker to start and load the data before giving up on it (or less: the deadline).
START_TIMEOUT_SECONDS = 300.0
#: Warm workers kept for the next fit.
MAX_IDLE_WORKERS = 2


class TrialCrashed(Exception):
    """The worker running a trial or a refit died or was killed (crash, time limit, memory limit).

    Attributes:
        reason: What happened, as recorded on the trial.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeadlineKilled(TrialCrashed):
    """A refit was killed at its deadline (the time budget's)."""


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


# -- the fit's side: worker processes and the warm pool ------------------------------------------------------------------
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
        self.process = context.Process(target=serve, args=(child,), name="automl-trial-worker", daemon=True)
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



class Runner(Protocol):
    """Runs a fit's trials and refits: in a worker process, or in the fit's own process."""

    isolated: bool

    def evaluate(self, family: str, params: Mapping[str, Any], *, seed: int | None = None,
                 monitor: TrialMonitor | None = None, deadline: float | None = None) -> CVResult:
        """Cross-validate one configuration (see :meth:`Evaluator.evaluate`)."""

    def refit(self, family: str, params: Mapping[str, Any], *, seed: int, fraction: float = 1.0,
              deadline: float | None = None) -> Any:
        """``family`` with ``params`` fitted on all rows (or the share ``fraction``)."""

    def start(self, deadline: float | None = None) -> None:
        """Have the worker ready (started, data loaded) by ``deadline`` if it can be."""

    def promote(self) -> None:
        """The last trial evaluated is the best so far: keep its fold-1 model."""

    def kept_model(self, deadline: float | None = None) -> Any:
        """The fold-1 model of the trial promoted last (None if it is lost, e.g. with a crashed worker)."""

    def close(self) -> None:
        """Release the worker."""


class InProcessRunner:
    """Trials and refits in the fit's own process (``isolation="none"``): nothing can be killed,
    so deadlines are checked between folds and epochs only (by the monitor).

    Args:
        evaluator: The fit's evaluator.
        X: Canonical frame (all rows).
        y: Encoded target.
    """

    isolated = False

    def __init__(self, evaluator: Evaluator, X: Any, y: Any) -> None:
        self.evaluator, self.X, self.y = evaluator, X, y
        self._pending: Any = None
        self._best: Any = None

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate(self, family: str, params: Mapping[str, Any], *, seed: int | None = None,
                 monitor: TrialMonitor | None = None, deadline: float | None = None) -> CVResult:
        """Cross-validate here (``deadline`` is the monitor's to check)."""
        self._pending = None
        result = self.evaluator.evaluate(family, params, self.X, self.y, monitor=monitor, seed=seed, keep_model=True)
        self._pending, result.model = result.model, None
        return result

    def refit(self, family: str, params: Mapping[str, Any], *, seed: int, fraction: float = 1.0,
              deadline: float | None = None) -> Any:
        """Fit here; a refit that cannot start before ``deadline`` raises :class:`DeadlineKilled`."""
        if deadline is not None and time.monotonic() >= deadline:
            raise DeadlineKilled("not started: the time budget's deadline has passed")
        return fit_rows(self.evaluator, self.X, self.y, family, params, seed, fraction)

    def start(self, deadline: float | None = None) -> None:
        """Nothing to start."""

    def promote(self) -> None:
        """Keep the last trial's fold-1 model as the best's."""
        self._best = self._pending

    def kept_model(self, deadline: float | None = None) -> Any:
        """The best trial's fold-1 model."""
        return self._best

    def close(self) -> None:
        """Drop the kept models."""
        self._pending = self._best = None


class IsolatedRunner:
    """Runs a fit's trials and refits in a reused worker process.

    Args:
        evaluator: The fit's evaluator (sent to the worker once, with ``X`` and ``y``).
        X: Canonical frame (all rows).
        y: Encoded target.
        families: Family name → registry import path, registered in the worker.
        trial_timeout: Seconds a trial or a refit may run before its worker is killed (None: no limit).
        memory_limit_mb: Resident MiB the worker may reach (None: no limit).

    Raises:
        TypeError: the evaluator or data cannot be pickled.
    """

    isolated = True

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
        self._local = InProcessRunner(evaluator, X, y)
        self._degraded = False
        self._path = _pickle_payload(evaluator, X, y)
        self._worker: _Worker | None = None
        self._ready = False
        self._start()

    def __enter__(self) -> IsolatedRunner:
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

    def _wait_ready(self, deadline: float | None) -> _Worker:
        worker = self._worker or self._start()
        if self._ready:
            return worker
        wait = START_TIMEOUT_SECONDS
        if deadline is not None:
            wait = max(0.0, min(wait, deadline + DEADLINE_GRACE_SECONDS - time.monotonic()))
        if not worker.conn.poll(wait):
            self._discard()
            if wait < START_TIMEOUT_SECONDS:
                raise DeadlineKilled(f"the worker process had not started by the time budget's deadline ({wait:.1f} s)")
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
        """Kill the current worker; the next request starts a new one."""
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
        """The current worker's process id (None between a crash and the next request)."""
        return None if self._worker is None else self._worker.process.pid

    # -- requests ------------------------------------------------------------------------------
    def evaluate(self, family: str, params: Mapping[str, Any], *, seed: int | None = None,
                 monitor: TrialMonitor | None = None, deadline: float | None = None) -> CVResult:
        """Cross-validate one configuration in the worker.

        Args:
            family: Family name.
            params: Its parameters.
            seed: The trial's seed.
            monitor: Answers the trial's events, here in the fit's process.
            deadline: Monotonic time past which the trial is out of time (None: none); the
                worker is killed :data:`DEADLINE_GRACE_SECONDS` after it.

        Raises:
            TrialStopped: the monitor stopped it, or it was killed at its deadline (``kind="timeout"``).
            TrialRaised: it raised an exception in the worker.
            TrialCrashed: the worker crashed, or was killed at the time or memory limit.
        """
        if not self._degraded:
            try:
                message = self._exchange(("trial", family, dict(params), seed, monitor is not None), "trial", family,
                                         deadline, monitor)
                return message[1]  # type: ignore[no-any-return]
            except WorkerLoadError as exc:
                self._degrade(exc)
        return self._local.evaluate(family, params, seed=seed, monitor=monitor, deadline=deadline)

    def _degrade(self, exc: WorkerLoadError) -> None:
        """Run everything in this process from now on (the worker cannot load the fit)."""
        warnings.warn(
            f"{exc}; trials now run in the search's own process (as with isolation='none'). "
            "Register families from an importable module to keep them isolated.",
            RuntimeWarning, stacklevel=4,
        )
        self._degraded = True
        self.isolated = False

    def refit(self, family: str, params: Mapping[str, Any], *, seed: int, fraction: float = 1.0,
              deadline: float | None = None) -> Any:
        """``family`` with ``params`` fitted in the worker on all rows (or the share ``fraction``).

        Raises:
            DeadlineKilled: killed at ``deadline``.
            TrialRaised: it raised an exception in the worker.
            TrialCrashed: the worker crashed, or was killed at the time or memory limit.
        """
        if self._degraded:
            return self._local.refit(family, params, seed=seed, fraction=fraction, deadline=deadline)
        message = self._exchange(("refit", family, dict(params), seed, fraction), "refit", family, deadline, None)
        if message[0] == "unpicklable":
            warnings.warn(
                f"the {family!r} model cannot be sent back from the worker process ({message[1]}); it is refitted "
                "in the fit's own process instead, where a crash or the deadline cannot be contained",
                RuntimeWarning, stacklevel=2,
            )
            return self._local.refit(family, params, seed=seed, fraction=fraction, deadline=deadline)
        return pickle.loads(message[1])

    def start(self, deadline: float | None = None) -> None:
        """Wait (until ``deadline`` at most) for the worker to start and load the data, so that the
        first trial's time is its own; a worker that cannot load the fit degrades to this process."""
        if self._degraded:
            return
        try:
            self._wait_ready(deadline)
        except WorkerLoadError as exc:
            self._degrade(exc)
        except TrialCrashed:
            pass  # the first trial starts another worker and reports what happens

    def promote(self) -> None:
        """Tell the worker to keep the last trial's fold-1 model as the best's."""
        if self._degraded:
            self._local.promote()
        elif self._worker is not None and self._ready:
            try:
                self._worker.conn.send(("promote",))
            except (OSError, ValueError):
                self._discard()

    def kept_model(self, deadline: float | None = None) -> Any:
        """The best trial's fold-1 model, fetched from the worker (None if it was lost or does not pickle)."""
        if self._degraded:
            return self._local.kept_model(deadline)
        if self._worker is None or not self._ready:
            return None  # the worker that held it is gone
        try:
            message = self._exchange(("kept",), "transfer", "kept model", deadline, None)
        except (TrialStopped, TrialRaised, TrialCrashed):
            return None
        return None if message[1] is None else pickle.loads(message[1])

    def _exchange(self, request: tuple[Any, ...], what: str, family: str, deadline: float | None,
                  monitor: TrialMonitor | None) -> tuple[Any, ...]:
        """Send ``request``, answer its events, enforce its limits; return the final message."""
        worker = self._wait_ready(deadline)
        started = time.monotonic()
        try:
            worker.conn.send(request)
            while True:
                if worker.conn.poll(POLL_SECONDS):
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        code = self._discard()
                        raise TrialCrashed(f"the {what}'s process {_describe_exit(code)} ({family})") from None
                    if message[0] == "event":
                        worker.conn.send(("answer", _dispatch(monitor, message[1])))
                        continue
                    return self._outcome(message)
                self._check_limits(worker, what, family, started, deadline)
        except (TrialStopped, TrialRaised, TrialCrashed):
            raise
        except BaseException:
            # Ctrl-C, or the monitor failed: the worker is mid-request, so it goes.
            if self._worker is worker:
                self._discard()
            raise

    def _check_limits(self, worker: _Worker, what: str, family: str, started: float, deadline: float | None) -> None:
        """Kill the worker when it died, or passed the timeout, the deadline or the memory limit."""
        if not worker.alive:
            code = self._discard()
            raise TrialCrashed(f"the {what}'s process {_describe_exit(code)} ({family})")
        now = time.monotonic()
        if self.trial_timeout is not None and now - started > self.trial_timeout:
            self._discard()
            raise TrialCrashed(
                f"killed after {now - started:.1f} s: the {what} ran past trial_timeout={self.trial_timeout:g} s"
            )
        grace = DEADLINE_GRACE_SECONDS if what == "trial" else 0.0
        if deadline is not None and now > deadline + grace:
            self._discard()
            reason = f"stopped after {now - started:.1f} s: killed at the time budget's deadline"
            if what == "trial":
                raise TrialStopped(reason, kind="timeout")
            raise DeadlineKilled(reason)
        if self.memory_limit_mb is not None:
            rss = resident_mb(worker.process.pid)  # type: ignore[arg-type]
            if rss is not None and rss > self.memory_limit_mb:
                self._discard()
                raise TrialCrashed(
                    f"killed at {rss:.0f} MiB resident: the {what} went over "
                    f"trial_memory_limit={self.memory_limit_mb:g} MiB"
                )

    def _outcome(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        """The final message of a request; raise for a stopped, failed or interrupted one."""
        kind = message[0]
        if kind in ("done", "model", "unpicklable", "kept"):
            return message
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
        raise TrialCrashed(f"the worker sent an unexpected message {kind!r}")  # pragma: no cover


def _dispatch(monitor: TrialMonitor | None, event: object) -> Any:
    """The monitor's answer to ``event`` (a probe, fold or epoch)."""
    from automl.evaluation.monitor import Go

    if monitor is None:
        return Go()
    if isinstance(event, ProbeDone):
        return monitor.probe(event)
    if isinstance(event, FoldDone):
        return monitor.fold(event)
    if isinstance(event, EpochDone):
        return monitor.epoch(event)
    raise TypeError(f"unexpected event from the worker: {event!r}")  # pragma: no cover


def make_runner(evaluator: Evaluator, X: Any, y: Any, families: Mapping[str, str], *, isolation: str = "process",
                trial_timeout: float | None = None, memory_limit_mb: float | None = None) -> Runner:
    """The runner of a fit: isolated (the default), or in this process for ``isolation="none"`` or when
    the fit cannot be sent to a worker (a metric or data that do not pickle: with a warning).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from automl.evaluation import Evaluator, get_metric
        >>> ev = Evaluator([get_metric("rmse", "regression")], [], task="regression", n_classes=0)
        >>> make_runner(ev, pd.DataFrame({"a": [1.0]}), np.ones(1), {}, isolation="none").isolated
        False
    """
    if isolation == "none":
        return InProcessRunner(evaluator, X, y)
    limit = memory_limit_mb if memory_limit_mb is not None else default_memory_limit_mb()
    try:
        return IsolatedRunner(evaluator, X, y, families, trial_timeout=trial_timeout, memory_limit_mb=limit)
    except Exception as exc:  # noqa: BLE001 - e.g. a metric or data that cannot be pickled
        warnings.warn(
            f"trials run in the fit's own process (as with isolation='none'): the fit cannot be sent to a worker "
            f"process ({type(exc).__name__}: {exc})",
            RuntimeWarning, stacklevel=3,
        )
        return InProcessRunner(evaluator, X, y)
