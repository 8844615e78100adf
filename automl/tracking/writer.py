"""Writing child runs off the search's critical path: in a thread, or in a separate process.

A child run costs three store writes (create, one batch of params and metrics,
terminate): about 70 ms of mostly-Python work on SQLite. In a thread of the
search's own process that work competes for the GIL and slowed trials by
~47 ms each; in a spawned writer process it runs on another core and the
search only pickles a small dict. An injected client (a mock in tests) cannot
cross processes, so it is written to from a thread.

Example:
    >>> payload = {"experiment_id": "1", "run_name": "trial-0000 knn", "start_time": None, "tags": {},
    ...            "params": {"family": "knn"}, "metrics": [("duration", 0.1, 0, 0)], "status": "FINISHED",
    ...            "end_time": 0}
    >>> sorted(payload) == sorted(PAYLOAD_KEYS)
    True
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import queue as queue_module
from typing import Any

from automl._spawn import start_without_main
from automl.tracking.background import BackgroundWorker

__all__ = ["write_child_run", "ThreadWriter", "ProcessWriter", "PAYLOAD_KEYS"]

logger = logging.getLogger("automl")

PAYLOAD_KEYS = ("experiment_id", "run_name", "start_time", "tags", "params", "metrics", "status", "end_time")


def write_child_run(client: Any, payload: dict[str, Any]) -> str:
    """Create, fill and close one child run from a plain payload; return its run id."""
    from mlflow.entities import Metric, Param

    run = client.create_run(
        payload["experiment_id"], start_time=payload["start_time"], tags=payload["tags"], run_name=payload["run_name"]
    )
    run_id = run.info.run_id
    metrics = [Metric(k, v, ts, step) for k, v, ts, step in payload["metrics"]]
    params = [Param(k, v) for k, v in payload["params"].items()]
    # MLflow takes at most 1000 metrics and 100 params per batch: usually one batch does it all.
    batches = max(math.ceil(len(metrics) / 1000), math.ceil(len(params) / 100), 1)
    for i in range(batches):
        client.log_batch(run_id, metrics=metrics[i * 1000 : (i + 1) * 1000], params=params[i * 100 : (i + 1) * 100])
    client.set_terminated(run_id, status=payload["status"], end_time=payload["end_time"])
    return run_id


class ThreadWriter:
    """Writes payloads with ``client`` on a background thread."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._worker = BackgroundWorker()

    @property
    def errors(self) -> list[str]:
        """Errors met so far."""
        return self._worker.errors

    def submit(self, payload: dict[str, Any]) -> None:
        """Queue one child run."""
        self._worker.submit(write_child_run, self.client, payload)

    def close(self) -> None:
        """Write everything queued, then stop."""
        self._worker.close()


def _writer_main(tracking_uri: str, jobs: Any, results: Any) -> None:
    import signal

    import mlflow

    # Ctrl-C reaches the whole process group: the parent decides when the writer stops
    # (after writing what is queued), and a parent killed outright ends the writer too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    while True:
        try:
            payload = jobs.get(timeout=1.0)
        except queue_module.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if payload is None:
            results.put(("done", None))
            return
        try:
            write_child_run(client, payload)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, never raised here
            results.put(("error", f"{type(exc).__name__}: {exc}"))


class ProcessWriter:
    """Writes payloads from a spawned process with its own ``MlflowClient`` on ``tracking_uri``."""

    def __init__(self, tracking_uri: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._jobs = context.Queue()
        self._results = context.Queue()
        self._process = context.Process(
            target=_writer_main, args=(tracking_uri, self._jobs, self._results), name="automl-mlflow-writer",
            daemon=True,
        )
        start_without_main(self._process)
        self.errors: list[str] = []

    def submit(self, payload: dict[str, Any]) -> None:
        """Queue one child run (pickles a small dict; returns at once)."""
        self._jobs.put(payload)

    def close(self, timeout: float = 300.0) -> None:
        """Wait until every queued run is written (at most ``timeout`` s), then stop the process."""
        self._jobs.put(None)
        while True:
            try:
                kind, detail = self._results.get(timeout=timeout)
            except queue_module.Empty:
                self.errors.append(f"the MLflow writer did not finish within {timeout:g} s")
                break
            if kind == "done":
                break
            self.errors.append(detail)
            logger.warning("MLflow child run not written: %s", detail)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        if not self.errors and self._process.exitcode not in (0, None):
            self.errors.append(f"the MLflow writer exited with code {self._process.exitcode}")
