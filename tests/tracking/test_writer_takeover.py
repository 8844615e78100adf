"""An interrupted fit whose MLflow writer process is still starting writes the queued runs itself.

On a busy machine the writer (a spawned process importing MLflow) was not ready 12 s after the search began; a
Ctrl-C then left every finished trial's run in its queue and the fit's 6 s to log them ran out waiting for it
("trial runs not logged"). The fit's own process, whose client is connected, takes the queue over; whichever
of the two claims the queue first owns it, so no run is written twice. Real processes, a real SQLite store.
"""

from __future__ import annotations

import time

import mlflow
import pytest

from automl.tracking.writer import WRITER, ProcessWriter


def _payload(experiment_id: str, parent: str, number: int) -> dict:
    return {"experiment_id": experiment_id, "run_name": f"trial-{number:04d} linear", "start_time": None,
            "tags": {"mlflow.parentRunId": parent, "automl.trial_number": str(number)},
            "params": {"family": "linear"}, "metrics": [("roc_auc", 0.9, 0, 0)], "status": "FINISHED",
            "end_time": None, "dataset": None}


@pytest.fixture
def parent_run(store_path):
    uri = f"sqlite:///{store_path}"
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("s")
    return uri, client, experiment_id, client.create_run(experiment_id, run_name="s").info.run_id


def _children(client: mlflow.MlflowClient, experiment_id: str) -> list[tuple[str, str]]:
    runs = client.search_runs([experiment_id], max_results=100)
    return sorted((r.data.tags["automl.trial_number"], r.info.status) for r in runs
                  if "mlflow.parentRunId" in r.data.tags)


def test_a_writer_still_starting_is_stopped_and_this_process_writes_its_queue_once(parent_run):
    uri, client, experiment_id, parent = parent_run
    writer = ProcessWriter(uri)
    for number in range(3):
        writer.submit(("run", _payload(experiment_id, parent, number)))
    writer.close(time.monotonic() + 30, here=client)  # the writer has not imported MLflow yet
    assert not writer._process.is_alive()
    assert writer.errors == []
    assert _children(client, experiment_id) == [("0", "FINISHED"), ("1", "FINISHED"), ("2", "FINISHED")]


def test_a_ready_writer_keeps_its_queue_and_writes_each_run_once(parent_run):
    uri, client, experiment_id, parent = parent_run
    writer = ProcessWriter(uri)
    end = time.monotonic() + 120
    while writer._claim.value != WRITER and time.monotonic() < end:
        time.sleep(0.05)
    assert writer._claim.value == WRITER
    for number in range(3):
        writer.submit(("run", _payload(experiment_id, parent, number)))
    writer.close(time.monotonic() + 60, here=client)  # the writer owns the queue: it writes, not this process
    assert writer.errors == []
    assert _children(client, experiment_id) == [("0", "FINISHED"), ("1", "FINISHED"), ("2", "FINISHED")]


def test_what_this_process_cannot_write_by_the_deadline_is_named_out_of_time(parent_run):
    uri, client, experiment_id, parent = parent_run
    writer = ProcessWriter(uri)
    for number in range(3):
        writer.submit(("run", _payload(experiment_id, parent, number)))
    writer.close(time.monotonic() - 1, here=client)  # the deadline has passed: nothing is written
    assert writer.errors == [("trial runs", "out of time: not written by the fit's tracking deadline")]
    assert _children(client, experiment_id) == []
    assert not writer._process.is_alive()
