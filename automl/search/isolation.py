"""Trials and refits in a separate, reused process: a crash, a hang or a memory hog never ends the fit.

Each fit's trials *and* its final refits run in one worker process started with ``spawn``
(never ``fork``: LightGBM and OpenMP can hang in a forked child). The process is reused
from request to request, and kept warm between fits, so isolation costs a few
milliseconds per trial, not a Python start-up. The fit's process keeps the Optuna trial:
the worker sends it each probe, fold and epoch event and waits for the typed answer
(see :mod:`automl.evaluation.monitor`), exactly as an in-process monitor would answer.

When a trial or a refit raises (``MemoryError`` included: the worker is then replaced), crashes its process, runs
past ``trial_timeout`` or grows past ``trial_memory_limit`` MiB (the worker and its child processes), it fails with
the reason and a new worker takes the next request; past its deadline the worker is killed, a trial is stopped
(pruned) and a refit raises :class:`DeadlineKilled`. Where workers may be killed (a time budget or
``trial_timeout``), a spare worker waits with its packages imported, so that a kill does not cost the next trial a
Python start-up. The limits are checked at every message the worker sends (a net that reports an epoch every few
milliseconds) and every :data:`POLL_SECONDS` of silence. The worker processes and their warm pool are in
:mod:`automl.search.worker_pool`; they die with the fit's process, and the data reaches them in a file without a
name (nothing is left in the temporary folder, even after kill -9).

:class:`InProcessRunner` has the same interface and runs everything in the fit's own process (``isolation="none"``):
nothing can be killed there, so deadlines are only checked between folds and epochs, and ``trial_timeout`` /
``trial_memory_limit`` are refused (:class:`~automl.exceptions.InvalidParameterError`), as they are when the fit
cannot be sent to a worker.

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

import functools
import logging
import pickle
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from automl._spawn import raise_if_stopped
from automl.evaluation.cross_validation import CVResult, Evaluator
from automl.evaluation.monitor import EpochDone, FoldDone, Go, ProbeDone, TrialMonitor, TrialStopped
from automl.evaluation.packed_cv import MemberEvent
from automl.exceptions import InvalidParameterError
from automl.search.failures import DeadlineKilled, TrialCrashed, TrialRaised, WorkerLoadError
from automl.search.failures import _limits_text, limits_refused_without_isolation
from automl.search.in_process import InProcessRunner, Runner
from automl.search.kept_models import KeptModels, kept_limits
from automl.search.packs import PackMonitors, member_outcome
from automl.search.worker_pool import (
    Payload,
    Worker,
    default_memory_limit_mb,
    describe_exit,
    keep_worker,
    resident_mb,
    take_worker,
    tree_resident_mb,
)
from automl.search.preload import loads_preloaded, preload_packages

__all__ = ["DeadlineKilled", "ISOLATION_MODES", "InProcessRunner", "IsolatedRunner", "Runner", "TrialCrashed",
           "TrialRaised", "WorkerLoadError", "limits_refused_without_isolation", "default_memory_limit_mb",
           "make_runner", "preload_packages", "resident_mb"]

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
#: Where a worker may be killed (a time budget or ``trial_timeout``), this many spare workers wait, their
#: packages imported, to replace a killed one at once: a Python start-up that imports numpy, pandas and
#: scikit-learn takes seconds, which a short budget cannot spare after each kill.
SPARE_WORKERS = 1


class IsolatedRunner:
    """Runs a fit's trials and refits in a reused worker process.

    Args:
        evaluator: The fit's evaluator (sent to the worker once, with ``X`` and ``y``).
        X: Canonical frame (all rows).
        y: Encoded target.
        families: Family name → registry import path, registered in the worker.
        trial_timeout: Seconds a trial or a refit may run before its worker is killed (None: no limit).
        memory_limit_mb: Resident MiB the worker (with its child processes) may reach (None: no limit).
        required: The limits were asked for (``trial_timeout``, ``trial_memory_limit``): a fit the
            worker cannot load then raises instead of going on unlimited in this process.

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
        required: bool = False,
    ) -> None:
        self.evaluator = evaluator
        self.trial_timeout = trial_timeout
        self.memory_limit_mb = memory_limit_mb
        self.required = required
        self.n_replaced = 0
        self._families = dict(families)
        self._local = InProcessRunner(evaluator, X, y)
        self._degraded = False
        self._payload: Payload | None = Payload(evaluator, X, y)
        self._worker: Worker | None = None
        self._spares: list[Worker] = []
        self._keep_spares = False
        self._ready = False
        self._kept = KeptModels(True, *kept_limits(memory_limit_mb))  # the best trials' fold models, pickled
        self._start()

    def __enter__(self) -> IsolatedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- worker management ------------------------------------------------------------------
    def _start(self) -> Worker:
        """Take a warm worker (or spawn one) and send it the data; does not wait."""
        if self._payload is None:
            raise TrialCrashed("the runner is closed")
        worker = self._take_spare() or take_worker()
        self._refill_spares()
        filters: Any = list(warnings.filters)
        try:
            pickle.dumps(filters)
        except Exception:  # noqa: BLE001 - filters that do not pickle are not sent
            filters = None
        self._payload.send(worker, self._families, filters)
        self._worker = worker
        self._ready = False
        return worker

    def _wait_ready(self, deadline: float | None) -> Worker:
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
            raise TrialCrashed(f"the trial worker {describe_exit(code)} while loading the data") from None
        if answer[0] == "load_error":
            self._discard()
            raise WorkerLoadError(f"the trial worker could not load the search: {answer[1]}")
        self._ready = True
        return worker

    def _take_spare(self) -> Worker | None:
        """A waiting spare worker (None if there is none alive)."""
        while self._spares:
            spare = self._spares.pop(0)
            if spare.alive:
                return spare
            spare.kill()
        return None

    def _refill_spares(self) -> None:
        """Start spare workers up to :data:`SPARE_WORKERS` when kills are expected (see :meth:`start`)."""
        while self._keep_spares and self._payload is not None and len(self._spares) < SPARE_WORKERS:
            self._spares.append(take_worker())

    def _drop_spares(self) -> None:
        """No more spares; those waiting (never loaded) go to the warm pool for the next fit."""
        self._keep_spares = False
        while self._spares:
            keep_worker(self._spares.pop())

    def _discard(self) -> int | None:
        """Kill the current worker; the next request starts a new one."""
        worker, self._worker = self._worker, None
        self._ready = False
        if worker is None:
            return None
        self.n_replaced += 1
        return worker.kill()

    def close(self) -> None:
        """Return the worker to the warm pool (or stop it) and drop the data file."""
        worker, self._worker = self._worker, None
        if worker is not None:
            if self._ready and worker.alive:
                keep_worker(worker)
            else:
                worker.kill()
        self._drop_spares()
        payload, self._payload = self._payload, None
        if payload is not None:
            payload.close()
        self._kept.clear()

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None between a crash and the next request)."""
        return None if self._worker is None else self._worker.process.pid

    # -- requests ------------------------------------------------------------------------------
    def evaluate(self, family: str, params: Mapping[str, Any], *, seed: int | None = None,
                 monitor: TrialMonitor | None = None, deadline: float | None = None,
                 extra: Mapping[str, Any] | None = None) -> CVResult:
        """Cross-validate one configuration in the worker.

        Args:
            family: Family name.
            params: Its parameters.
            seed: The trial's seed.
            monitor: Answers the trial's events, here in the fit's process.
            deadline: Monotonic time past which the trial is out of time (None: none); the
                worker is killed :data:`DEADLINE_GRACE_SECONDS` after it.
            extra: Columns added to the data for this trial only (name -> one value per row).

        Raises:
            TrialStopped: the monitor stopped it, or it was killed at its deadline (``kind="timeout"``).
            TrialRaised: it raised an exception in the worker.
            TrialCrashed: the worker crashed, or was killed at the time or memory limit.
        """
        if not self._degraded:
            try:
                message = self._exchange(("trial", family, dict(params), seed, monitor is not None, extra), "trial",
                                         family, deadline, monitor)
                return message[1]
            except WorkerLoadError as exc:
                self._degrade(exc)
        return self._local.evaluate(family, params, seed=seed, monitor=monitor, deadline=deadline, extra=extra)

    def evaluate_pack(self, family: str, params: Sequence[Mapping[str, Any]], *, seed: int | None = None,
                      monitors: Sequence[TrialMonitor | None] | None = None,
                      deadline: float | None = None) -> list[CVResult | BaseException]:
        """Cross-validate net configurations in the worker as packs (see ``evaluate_packed``): per member its
        result or what ended it; a crash or a kill (deadline, limit) ends every member with that reason. The
        members' fold models stay in the worker until :meth:`keep` fetches them (its ``member``)."""
        monitors = list(monitors) if monitors is not None else [None] * len(params)
        if not self._degraded:
            request = ("pack", family, [dict(p) for p in params], seed, [m is not None for m in monitors])
            try:
                message = self._exchange(request, "trial", family, deadline, PackMonitors(monitors))
                return [member_outcome(outcome) for outcome in message[1]]
            except (TrialStopped, TrialRaised, TrialCrashed) as exc:
                return [exc] * len(params)
            except WorkerLoadError as exc:
                self._degrade(exc)
        return self._local.evaluate_pack(family, params, seed=seed, monitors=monitors, deadline=deadline)

    def _degrade(self, exc: WorkerLoadError) -> None:
        """Run everything in this process from now on (the worker cannot load the fit); refuse to when
        limits were asked for, since nothing can be killed in this process."""
        if self.required:
            raise InvalidParameterError(
                f"{_limits_text(self.trial_timeout, self.memory_limit_mb)} cannot be enforced: {exc}. Register "
                "the families from an importable module so that the worker process can load them, or drop the limit"
            ) from exc
        warnings.warn(
            f"{exc}; trials now run in the search's own process (as with isolation='none'). "
            "Register families from an importable module to keep them isolated.",
            RuntimeWarning, stacklevel=4,
        )
        self._degraded = True
        self.isolated = False
        self._drop_spares()

    def refit(self, family: str, params: Mapping[str, Any], *, seed: int, fraction: float = 1.0,
              deadline: float | None = None, stop_at: float | None = None,
              extra: Mapping[str, Any] | None = None) -> Any:
        """``family`` with ``params`` fitted in the worker on all rows (or the share ``fraction``) and the ``extra``
        columns; nets and boosters end their training at ``stop_at`` (the worker shares this process's clock).

        Raises:
            DeadlineKilled: killed at ``deadline``.
            TrialRaised: it raised an exception in the worker.
            TrialCrashed: the worker crashed, or was killed at the time or memory limit.
        """
        local = functools.partial(self._local.refit, family, params, seed=seed, fraction=fraction, deadline=deadline,
                                  stop_at=stop_at, extra=extra)
        if self._degraded:
            return local()
        message = self._exchange(("refit", family, dict(params), seed, fraction, stop_at, extra), "refit", family,
                                 deadline, None)
        if message[0] == "unpicklable":
            warnings.warn(
                f"the {family!r} model cannot be sent back from the worker process ({message[1]}); it is refitted "
                "in the fit's own process instead, where a crash or the deadline cannot be contained",
                RuntimeWarning, stacklevel=2,
            )
            return local()
        return loads_preloaded(message[1], deadline)

    def start(self, deadline: float | None = None) -> None:
        """Wait (until ``deadline`` at most) for the worker to start and load the data, so that the
        first trial's time is its own; a worker that cannot load the fit degrades to this process.
        Under a ``deadline`` or ``trial_timeout`` a spare worker then starts (see :data:`SPARE_WORKERS`)."""
        if self._degraded:
            return
        try:
            self._wait_ready(deadline)
        except WorkerLoadError as exc:
            self._degrade(exc)
            return
        except TrialCrashed:
            pass  # the first trial starts another worker and reports what happens
        self._keep_spares = deadline is not None or self.trial_timeout is not None
        self._refill_spares()

    def keep(self, number: int, retain: Sequence[int], member: int | None = None) -> None:
        """Fetch the last trial's (or the last pack's ``member``-th member's) fold models from the worker,
        pickled, if it is in ``retain`` (the trials to keep, best first), and keep only the trials of
        ``retain``: kept here, they outlive the worker."""
        if self._degraded:
            self._kept.add(number, None, retain)  # those kept before the fit moved here go as they would
            return self._local.keep(number, retain, member)
        payload = None
        if number in retain and self._worker is not None and self._ready:
            request = ("keep", self._kept.max_bag_bytes, member)
            try:
                payload = self._exchange(request, "transfer", "kept models", None, None)[1]
            except (TrialStopped, TrialRaised, TrialCrashed, DeadlineKilled):
                payload = None
        self._kept.add(number, payload, retain)

    def holds(self, number: int) -> bool:
        """Whether trial ``number``'s fold models are kept (fetched from the worker, or, once the fit runs in
        this process, kept by it)."""
        return self._kept.holds(number) or self._local.holds(number)

    def kept_models(self, number: int) -> list[Any] | None:
        """Trial ``number``'s fold models (None if they are not kept)."""
        return self._kept.models(number) if self._kept.holds(number) else self._local.kept_models(number)

    def _exchange(self, request: tuple[Any, ...], what: str, family: str, deadline: float | None,
                  monitor: TrialMonitor | PackMonitors | None) -> tuple[Any, ...]:
        """Send ``request``, answer its events, enforce its limits; return the final message."""
        worker = self._wait_ready(deadline)
        started = time.monotonic()
        try:
            worker.conn.send(request)
            while True:
                raise_if_stopped()  # a SIGTERM or Ctrl-C lost on its way up stops the request here
                # Limits are checked after each event of a chatty trial and each POLL_SECONDS of silence.
                if worker.conn.poll(POLL_SECONDS):
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        code = self._discard()
                        raise TrialCrashed(f"the {what}'s process {describe_exit(code)} ({family})") from None
                    if message[0] == "event":
                        self._check_limits(worker, what, family, started, deadline, alive=True)
                        worker.conn.send(("answer", _dispatch(monitor, message[1])))
                        continue
                    self._recycle_if_over(worker)
                    return self._outcome(message)
                self._check_limits(worker, what, family, started, deadline)
        except (TrialStopped, TrialRaised, TrialCrashed):
            raise
        except BaseException:
            # Ctrl-C, or the monitor failed: the worker is mid-request, so it goes.
            if self._worker is worker:
                self._discard()
            raise

    def _check_limits(self, worker: Worker, what: str, family: str, started: float, deadline: float | None,
                      alive: bool = False) -> None:
        """Kill the worker when it died (unless known ``alive``: it just sent an event), or passed the
        timeout, the deadline or the memory limit."""
        if not alive and not worker.alive:
            code = self._discard()
            raise TrialCrashed(f"the {what}'s process {describe_exit(code)} ({family})")
        now = time.monotonic()
        if self.trial_timeout is not None and now - started > self.trial_timeout:
            self._discard()
            raise TrialCrashed(f"killed after {now - started:.1f} s: the {what} ran past trial_timeout="
                               f"{self.trial_timeout:g} s (raise trial_timeout to let such trials end)")
        grace = DEADLINE_GRACE_SECONDS if what == "trial" else 0.0
        if deadline is not None and now > deadline + grace:
            self._discard()
            reason = f"stopped after {now - started:.1f} s: killed at the time budget's deadline"
            if what == "trial":
                raise TrialStopped(reason, kind="timeout")
            raise DeadlineKilled(reason)
        if self.memory_limit_mb is not None:
            rss = tree_resident_mb(worker.process.pid)  # type: ignore[arg-type]
            if rss is not None and rss > self.memory_limit_mb:
                self._discard()
                raise TrialCrashed(f"killed at {rss:.0f} MiB resident: the {what} went over trial_memory_limit="
                                   f"{self.memory_limit_mb:g} MiB (raise trial_memory_limit to let such trials end)")

    def _recycle_if_over(self, worker: Worker) -> None:
        """A worker left above the memory limit by a finished request is replaced before the next one
        (whose trial would otherwise be killed for memory it did not take); the result is kept."""
        if self.memory_limit_mb is None or self._worker is not worker:
            return
        rss = tree_resident_mb(worker.process.pid)  # type: ignore[arg-type]
        if rss is not None and rss > self.memory_limit_mb:
            logger.info("replacing the trial worker: %.0f MiB resident after its request, over "
                        "trial_memory_limit=%g MiB", rss, self.memory_limit_mb)
            self._discard()

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


def _dispatch(monitor: TrialMonitor | PackMonitors | None, event: object) -> Any:
    """The monitor's answer to ``event`` (a probe, fold or epoch; a pack member's goes to its own monitor)."""
    if isinstance(event, MemberEvent):
        assert isinstance(monitor, PackMonitors)
        return _dispatch(monitor.monitors[event.member], event.event)
    if monitor is None or isinstance(monitor, PackMonitors):
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
    required = trial_timeout is not None or memory_limit_mb is not None
    if isolation == "none":
        if required:  # the settings check refuses this first; a direct caller gets the same answer
            raise InvalidParameterError(limits_refused_without_isolation(trial_timeout, memory_limit_mb))
        return InProcessRunner(evaluator, X, y)
    limit = memory_limit_mb if memory_limit_mb is not None else default_memory_limit_mb()
    try:
        return IsolatedRunner(evaluator, X, y, families, trial_timeout=trial_timeout, memory_limit_mb=limit,
                              required=required)
    except Exception as exc:  # noqa: BLE001 - e.g. a metric or data that cannot be pickled
        if required:
            raise InvalidParameterError(
                f"{_limits_text(trial_timeout, memory_limit_mb)} cannot be enforced: the fit cannot be sent to a "
                f"worker process ({type(exc).__name__}: {exc}); make the metric and data picklable, or drop the limit"
            ) from exc
        warnings.warn(
            f"trials run in the fit's own process (as with isolation='none'): the fit cannot be sent to a worker "
            f"process ({type(exc).__name__}: {exc})",
            RuntimeWarning, stacklevel=3,
        )
        return InProcessRunner(evaluator, X, y)
