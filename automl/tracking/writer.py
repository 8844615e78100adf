"""Writing to MLflow off the fit's critical path: in a spawned process that is stopped at a deadline.

A child run costs four store writes (create, one batch of params and metrics,
its dataset input, terminate): about 70 ms of mostly-Python work on SQLite. In a thread of the
fit's own process that work competes for the GIL and slowed trials by
~47 ms each; in a spawned writer process it runs on another core and the
fit only pickles a small dict. At the end of a fit the writer also uploads the
artifacts and logs the final model; :meth:`ProcessWriter.close` waits for all of
it until the fit's tracking deadline and then kills the process, so a slow store
can never stretch the fit past its time budget. An injected client (a stand-in in
tests) cannot cross processes, so it is written to from a thread (best effort).

An interrupted fit (Ctrl-C) has a few seconds to log its finished trials. On a busy machine the writer
can still be importing MLflow then (12 s measured on a shared core), with every run of the search
queued: the fit's own process, whose client is connected (it made the parent run), takes the queue
over and writes it, and the writer is stopped before it writes anything. Whichever of the two claims
the queue first owns it (:data:`WRITER`, :data:`PARENT`), so no run is written twice.

Jobs, as tuples: ``("run", payload)`` (a child run, see :data:`PAYLOAD_KEYS`),
``("artifacts", run_id, local_folder, artifact_path)`` and ``("model", run_id, saved_folder,
signature, example, registered_model_name, extra_requirements)`` (its result is the model's URI).
A job that fails is reported as ``(part, reason)`` (see :func:`job_part`), never raised or logged
as a warning here: the tracker names every failure on the run and warns once. A URI's password
never appears in a reason (:func:`automl._redact.redact_text`).

Example:
    >>> payload = {"experiment_id": "1", "run_name": "trial-0000 knn", "start_time": None, "tags": {},
    ...            "params": {"family": "knn"}, "metrics": [("duration", 0.1, 0, 0)], "status": "FINISHED",
    ...            "end_time": 0, "dataset": None}
    >>> sorted(payload) == sorted(PAYLOAD_KEYS)
    True
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue as queue_module
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from automl._redact import redact_text
from automl._spawn import start_without_main
from automl.tracking.run_data import key, log_dataset
from automl.tracking.store import creating_store

__all__ = ["PAYLOAD_KEYS", "ProcessWriter", "ThreadWriter", "fluent_tracking_uri", "job_part", "run_job",
           "write_child_run"]

logger = logging.getLogger("automl")

PAYLOAD_KEYS = ("experiment_id", "run_name", "start_time", "tags", "params", "metrics", "status", "end_time", "dataset")
#: Seconds the writer may take to finish without a deadline.
DEFAULT_TIMEOUT = 300.0
#: Who writes the queued jobs: nobody yet, the writer process (once its client is ready), or the fit's own
#: process (an interrupted fit whose writer was not ready, :meth:`ProcessWriter.close`).
UNCLAIMED, WRITER, PARENT = 0, 1, 2


def write_child_run(client: Any, payload: dict[str, Any]) -> str:
    """Create, fill and close one child run from a plain payload; return its run id."""
    from mlflow.entities import Metric, Param

    run = client.create_run(
        payload["experiment_id"], start_time=payload["start_time"], tags=payload["tags"], run_name=payload["run_name"]
    )
    run_id = run.info.run_id
    metrics = [Metric(key(k), v, ts, step) for k, v, ts, step in payload["metrics"]]
    params = [Param(key(k), v) for k, v in payload["params"].items()]
    # MLflow takes at most 1000 metrics and 100 params per batch: usually one batch does it all.
    batches = max(math.ceil(len(metrics) / 1000), math.ceil(len(params) / 100), 1)
    for i in range(batches):
        client.log_batch(run_id, metrics=metrics[i * 1000 : (i + 1) * 1000], params=params[i * 100 : (i + 1) * 100])
    log_dataset(client, run_id, payload.get("dataset"))
    client.set_terminated(run_id, status=payload["status"], end_time=payload["end_time"])
    return run_id


def job_part(job: tuple[Any, ...]) -> str:
    """The part of the tracked search a job writes: ``trial runs``, ``files``, ``plots`` or ``model``.

    Example:
        >>> job_part(("artifacts", "run", "/tmp/x", "plots")), job_part(("run", {}))
        ('plots', 'trial runs')
    """
    if job[0] == "run":
        return "trial runs"
    if job[0] == "artifacts":
        return str(job[3] or "files")
    return str(job[0])


def _reason(exc: BaseException, tracking_uri: str) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}", tracking_uri)[:1000]


def run_job(client: Any, tracking_uri: str, job: tuple[Any, ...]) -> Any:
    """Carry out one job with ``client`` (the model through MLflow's fluent API on ``tracking_uri``)."""
    kind = job[0]
    if kind == "run":
        return write_child_run(client, job[1])
    if kind == "artifacts":
        _, run_id, folder, artifact_path = job
        client.log_artifacts(run_id, folder, artifact_path)
        return None
    if kind == "model":
        from automl.tracking.pyfunc import log_pyfunc_model

        with fluent_tracking_uri(tracking_uri):
            return log_pyfunc_model(*job[1:])
    raise ValueError(f"unknown tracking job {kind!r}")  # pragma: no cover


def _try_job(client: Any, tracking_uri: str, job: tuple[Any, ...]) -> tuple[Any, tuple[str, str] | None]:
    """Carry out one job: ``(its result, None)``, or ``(None, (its part, why it failed))`` (never raises)."""
    try:
        return run_job(client, tracking_uri, job), None
    except Exception as exc:  # noqa: BLE001 - tracking must never break the fit
        return None, (job_part(job), _reason(exc, tracking_uri))


class ThreadWriter:
    """Carries out jobs with an injected ``client`` on a background thread (best effort at the deadline)."""

    def __init__(self, client: Any, tracking_uri: str) -> None:
        self.client, self.tracking_uri = client, tracking_uri
        self.errors: list[tuple[str, str]] = []
        self.results: dict[str, Any] = {}
        self._pending: list[str] = []
        self._jobs: queue_module.Queue[tuple[Any, ...] | None] = queue_module.Queue()
        self._thread = threading.Thread(target=self._run, name="automl-tracking", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            result, error = _try_job(self.client, self.tracking_uri, job)
            if error is not None:
                self.errors.append(error)
                logger.debug("MLflow %s not written: %s", *error)
            elif job[0] == "model":
                self.results["model"] = result
            _discard(self._pending, job_part(job))

    def submit(self, job: tuple[Any, ...]) -> None:
        """Queue one job."""
        self._pending.append(job_part(job))
        self._jobs.put(job)

    def close(self, deadline: float | None = None, here: Any = None) -> None:
        """Carry out everything queued, waiting at most until ``deadline`` (monotonic); ``here`` is the
        injected client already (:meth:`ProcessWriter.close` takes it)."""
        self._jobs.put(None)
        wait = DEFAULT_TIMEOUT if deadline is None else max(0.0, deadline - time.monotonic())
        self._thread.join(timeout=wait)
        if self._thread.is_alive():
            self.errors += _out_of_time(list(self._pending))
            self._pending.clear()


def _discard(parts: list[str], part: str) -> None:
    if part in parts:
        parts.remove(part)


def _out_of_time(pending: list[str]) -> list[tuple[str, str]]:
    """One ``(part, "out of time ...")`` per part still being written at the deadline."""
    reason = "out of time: not written by the fit's tracking deadline"
    return [(part, reason) for part in dict.fromkeys(pending)] or [("writes", reason)]


def _claim(claim: Any, owner: int) -> bool:
    """Claim the queue for ``owner``; True if it is (or already was) the owner's."""
    with claim.get_lock():
        if claim.value == UNCLAIMED:
            claim.value = owner
        return bool(claim.value == owner)


def _writer_main(tracking_uri: str, jobs: Any, results: Any, claim: Any) -> None:
    import signal

    import mlflow

    # Ctrl-C reaches the whole process group: the parent decides when the writer stops
    # (after writing what is queued), and a parent killed outright ends the writer too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    with creating_store(tracking_uri):  # the parent made it; another process may be making it still
        client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    if not _claim(claim, WRITER):  # the fit's process took the queue over while this one was starting
        return
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue_module.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if job is None:
            results.put(("done", None))
            return
        result, error = _try_job(client, tracking_uri, job)  # reported to the parent, never raised here
        if error is not None:
            results.put(("error", error))
            continue
        if job[0] == "model":
            results.put(("model", result))
        results.put(("ok", job_part(job)))


class ProcessWriter:
    """Carries out jobs in a spawned process with its own ``MlflowClient`` on ``tracking_uri``."""

    def __init__(self, tracking_uri: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._jobs = context.Queue()
        self._results = context.Queue()
        self._claim = context.Value("b", UNCLAIMED)
        self._process = context.Process(
            target=_writer_main, args=(tracking_uri, self._jobs, self._results, self._claim),
            name="automl-mlflow-writer", daemon=True,
        )
        start_without_main(self._process)
        self.tracking_uri = tracking_uri
        self.errors: list[tuple[str, str]] = []
        self.results: dict[str, Any] = {}
        self._pending: list[str] = []
        self._unclaimed: list[tuple[Any, ...]] = []  # queued while nobody owned the queue (see the module)

    def submit(self, job: tuple[Any, ...]) -> None:
        """Queue one job (pickles a small tuple; returns at once)."""
        self._pending.append(job_part(job))
        if self._claim.value == WRITER:
            self._unclaimed.clear()
        else:
            self._unclaimed.append(job)
        self._jobs.put(job)

    def close(self, deadline: float | None = None, here: Any = None) -> None:
        """Wait until every queued job is done, at most until ``deadline`` (monotonic); then stop the
        process (killed if it is still writing). What was not written is in :attr:`errors`.

        Args:
            deadline: Monotonic time by which the writing ends (None: :data:`DEFAULT_TIMEOUT` from now).
            here: A client of this process (an interrupted fit's): when the writer has not started writing
                yet, the writer is stopped and the queued jobs are written with ``here`` until ``deadline``.
        """
        end = time.monotonic() + DEFAULT_TIMEOUT if deadline is None else deadline
        if here is not None and _claim(self._claim, PARENT):
            self._process.kill()
            self._process.join(timeout=5)
            self._write_here(here, end)
            return
        self._jobs.put(None)
        while self._take(end):
            pass
        self._process.join(timeout=max(0.0, min(5.0, end - time.monotonic())))
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        elif self._pending:
            reason = f"the MLflow writer process exited with code {self._process.exitcode}"
            self.errors += [(part, reason) for part in dict.fromkeys(self._pending)]
            self._pending.clear()

    def _write_here(self, client: Any, end: float) -> None:
        """Write the queued jobs with ``client`` in this process, in order, until ``end``."""
        for job in self._unclaimed:
            if time.monotonic() >= end:
                break
            _, error = _try_job(client, self.tracking_uri, job)
            if error is not None:
                self.errors.append(error)
            _discard(self._pending, job_part(job))
        if self._pending:
            self.errors += _out_of_time(self._pending)
            self._pending.clear()
        self._unclaimed.clear()

    def _take(self, end: float) -> bool:
        """Take one message from the writer; False once it is done, dead or out of time."""
        try:
            kind, detail = self._results.get(timeout=max(0.01, min(1.0, end - time.monotonic())))
        except queue_module.Empty:
            if time.monotonic() >= end:
                self.errors += _out_of_time(self._pending)
                self._pending.clear()
                return False
            if self._process.is_alive():
                return True
            try:  # it ended: what it sent before is still read
                kind, detail = self._results.get(timeout=0.5)
            except queue_module.Empty:
                return False
        return self._handle(kind, detail)

    def _handle(self, kind: str, detail: Any) -> bool:
        if kind == "done":
            return False
        if kind == "model":
            self.results["model"] = detail
        elif kind == "ok":
            _discard(self._pending, detail)
        else:
            _discard(self._pending, detail[0])
            self.errors.append(tuple(detail))
            logger.debug("MLflow %s not written: %s", *detail)
        return True


@contextmanager
def fluent_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for the duration, then restore the previous URI and env."""
    import mlflow
    import mlflow.tracking._tracking_service.utils as tracking_utils

    previous = getattr(tracking_utils, "_tracking_uri", None)
    env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type] # None resets MLflow to its default URI
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env
