"""A sweep of several processes logged to a real MLflow tracking server (PostgreSQL store, served artifacts).

``automl sweep --workers 3`` on a PostgreSQL study logs one parent run and exactly one child run per
trial, each from the worker that ran it; the model is uploaded through the server. A worker killed
with ``kill -9`` mid-trial leaves no run RUNNING, and its trial's retry is logged once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from automl.search.trial_record import TrialRecord

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
SCRIPT = str(Path(sys.executable).with_name("automl"))


@pytest.fixture(autouse=True)
def _tracked(monkeypatch):
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    monkeypatch.setenv("AUTOML_HEARTBEAT_SECONDS", "1")  # a dead worker's trial is stale after 3 s


def _sweep(folder: Path, storage: str, tracking_uri: str, study: str, rows: int, **settings: object) -> None:
    X, y = make_classification(rows, 8, n_informative=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(label=y)
    frame.to_csv(folder / "train.csv", index=False)
    lines = ["data: train.csv", "target: label", f"study_name: {study}", f"storage: {storage}",
             f"tracking_uri: {tracking_uri}", "pruner: none", "cv: 3", "n_jobs: 1"]
    lines += [f"{k}: {v}" for k, v in settings.items()]
    (folder / "sweep.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _trials(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    from automl.search.storage import open_storage

    return optuna.load_study(study_name=study, storage=open_storage(storage, study)).get_trials()


def _runs(tracking_uri: str, study: str) -> tuple[list, list]:
    """(parent runs, trial child runs) of the study's experiment."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "automl.trial_number" in r.data.tags]
    return parents, children


def _numbers(children: list) -> list[int]:
    return sorted(int(r.data.tags["automl.trial_number"]) for r in children)


def test_three_processes_log_one_parent_and_one_child_per_trial_through_the_server(
        mlflow_server, postgres_url, tmp_path):
    # Trials of about a second (a pinned forest): a helper needs a few seconds after the study appears to
    # import, read the data and join, in which the main process ran all of 9 fast (0.4 s) trials alone.
    _sweep(tmp_path, postgres_url, mlflow_server.url, "server", rows=1500, n_trials=9, families="[random_forest]",
           search_space="{random_forest: {n_estimators: 50, max_depth: 8}}", isolation="none", ensemble="false")
    # The two workers start first and wait for the study.
    helpers = [subprocess.Popen([SCRIPT, "worker", "--study", "server", "--quiet", "--wait", "180"], cwd=tmp_path,
                                env={**os.environ, "AUTOML_STORAGE": postgres_url}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    _wait_for_clients(postgres_url, 2)  # both are polling the database for the study
    done = subprocess.run([SCRIPT, "sweep", "sweep.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    for helper in helpers:
        out, err = helper.communicate(timeout=120)
        assert helper.returncode == 0, out + err
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "not logged" not in done.stderr, done.stderr
    trials = _trials(postgres_url, "server")
    parents, children = _runs(mlflow_server.url, "server")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert _numbers(children) == sorted(t.number for t in trials)  # one run per trial, none twice
    workers = {t.number: TrialRecord.read(t).worker for t in trials}
    assert {int(r.data.tags["automl.trial_number"]): r.data.tags["automl.worker"] for r in children} == workers
    assert len(set(workers.values())) >= 2  # the trials were shared, and each logged by its own worker
    assert all(r.info.status == "FINISHED" for r in children)
    # The model went through the server into its artifact folder, and comes back through it.
    import mlflow

    model_uri = parents[0].data.tags["automl.model_uri"]
    mlflow.set_tracking_uri(mlflow_server.url)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(tmp_path / "dl")))
    finally:
        mlflow.set_tracking_uri(None)
    assert (local / "MLmodel").is_file()
    assert list(mlflow_server.artifacts.rglob("MLmodel"))  # stored by the server, not by the client


def _wait_for_clients(url: str, n: int, timeout: float = 120.0) -> None:
    """Wait until ``n`` client processes are connected to the database at ``url``."""
    import psycopg

    database = url.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            count = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                                       "pg_backend_pid()", (database,)).fetchone()[0]
            if count >= n:
                return
            time.sleep(0.2)
    raise AssertionError(f"{n} workers never connected to the study's database")


def _running_helpers(storage: str, study: str, main_pid: int) -> dict[int, int]:
    """``{pid: trial number}`` of the helper workers running a trial now."""
    try:
        trials = _trials(storage, study)
    except Exception:  # noqa: BLE001 - the study does not exist yet
        return {}
    running = {}
    for t in trials:
        pid = int(TrialRecord.read(t).worker.rpartition(":")[2] or 0)
        if t.state == optuna.trial.TrialState.RUNNING and pid not in (0, main_pid):
            running[pid] = t.number
    return running


def _leave_running_run(tracking_uri: str, storage: str, study: str, number: int) -> None:
    """Leave a RUNNING child run of trial ``number``, as its process's writer leaves it when killed between
    creating the run and closing it."""
    import mlflow

    from automl.search.trial_record import StudyRecord
    from automl.search.storage import open_storage

    loaded = optuna.load_study(study_name=study, storage=open_storage(storage, study))
    parent = StudyRecord.read(loaded).parent_run["run_id"]
    record = TrialRecord.read(next(t for t in loaded.get_trials() if t.number == number))
    client = mlflow.MlflowClient(tracking_uri)
    client.create_run(client.get_run(parent).info.experiment_id, run_name=f"trial-{number:04d}", tags={
        "mlflow.parentRunId": parent, "automl.trial_number": str(number), "automl.worker": record.worker})


def test_workers_killed_mid_trial_leave_no_run_running_and_each_trial_is_logged_once(
        mlflow_server, postgres_url, tmp_path):
    # Slow trials (a pinned forest) so that the kills land inside them: with 100 trees both helpers' trials once
    # ended between the poll that saw them running and the kill (a clean-clone CI run), so nothing was lost.
    _sweep(tmp_path, postgres_url, mlflow_server.url, "killed", rows=1000, n_trials=8, families="[random_forest]",
           search_space="{random_forest: {n_estimators: 300}}", isolation="none", ensemble="false")
    main = subprocess.Popen([SCRIPT, "sweep", "sweep.yaml", "--workers", "3"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    running, deadline = {}, time.monotonic() + 120
    while len(running) < 2 and time.monotonic() < deadline and main.poll() is None:
        time.sleep(0.2)
        running = _running_helpers(postgres_url, "killed", main.pid)
    assert len(running) == 2, "the two helper workers were never both inside a trial"
    for pid in running:
        os.kill(pid, signal.SIGKILL)
    # The trials still running once their processes are dead are lost (one may have ended just before).
    states = {t.number: t.state for t in _trials(postgres_url, "killed")}
    lost = sorted(n for n in running.values() if states[n] == optuna.trial.TrialState.RUNNING)
    assert lost
    _leave_running_run(mlflow_server.url, postgres_url, "killed", lost[0])
    out, err = main.communicate(timeout=300)
    assert main.returncode == 0, out + err
    trials = {t.number: t for t in _trials(postgres_url, "killed")}
    retries = {t.system_attrs["failed_trial"]: t.number for t in trials.values() if "failed_trial" in t.system_attrs}
    assert sorted(retries) == lost
    parents, children = _runs(mlflow_server.url, "killed")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert [r.info.run_name for r in parents + children if r.info.status == "RUNNING"] == []
    assert _numbers(children) == sorted(trials)  # each trial once: the lost ones and their retries too
    for run in children:
        number = int(run.data.tags["automl.trial_number"])
        if number in retries:
            assert run.info.status == "KILLED" and run.data.tags["automl.state"] == "lost"
            assert f"stopped sending heartbeats while running it (killed or lost); run again as trial " \
                   f"{retries[number]}" in run.data.tags["automl.reason"]
        else:
            assert run.info.status == "FINISHED", (number, run.data.tags)
