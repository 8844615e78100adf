"""Many processes on one study, for real: console scripts in subprocesses, real stores.

The embedded journal file and a real PostgreSQL server (tests/services.py) get
the same checks: 4 processes reach exactly the trial target with no lock errors,
a worker killed with ``kill -9`` mid-trial has its trial failed by heartbeat and
run again, a killed main process resumes without losing or duplicating
anything, and Ctrl-C stops within 10 s leaving the study and MLflow consistent.
"""

from __future__ import annotations

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
BAD_WORDS = ("Traceback", "database is locked", "deadlock", "could not serialize", "UniqueViolation")


@pytest.fixture(autouse=True)
def _fast_heartbeats(monkeypatch):
    monkeypatch.setenv("AUTOML_HEARTBEAT_SECONDS", "1")  # grace period 3 s


def _data(folder: Path, rows: int, features: int = 6) -> None:
    X, y = make_classification(rows, features, n_informative=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame["label"] = y
    frame.to_csv(folder / "train.csv", index=False)


def _sweep(folder: Path, storage: str, **settings: object) -> Path:
    lines = ["data: train.csv", "target: label", "study_name: s", f"storage: {storage}", "tracking: false",
             "pruner: none", "cv: 3"]
    lines += [f"{k}: {v}" for k, v in settings.items()]
    path = folder / "sweep.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _foreground_sigint() -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    """The command as a user's foreground process: with Ctrl-C's default action even where pytest itself was
    started in the background by a shell without job control (which ignores SIGINT, and an ignored signal
    stays ignored across exec: the sweep would then never see the test's Ctrl-C)."""
    return subprocess.Popen([SCRIPT, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_foreground_sigint)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def _storage(kind: str, folder: Path, request: pytest.FixtureRequest) -> str:
    if kind == "journal":
        return str(folder / "studies.journal")
    url = request.getfixturevalue("postgres_url")
    return "journal+" + url if kind == "journal+postgresql" else url


def _trials(storage: str) -> list[optuna.trial.FrozenTrial]:
    from automl.search.storage import open_storage

    return optuna.load_study(study_name="s", storage=open_storage(storage, "s")).get_trials()


@pytest.mark.parametrize("kind", ["journal", "postgresql", "journal+postgresql"])
def test_four_processes_reach_exactly_the_target(kind, tmp_path, request):
    storage = _storage(kind, tmp_path, request)
    _data(tmp_path, rows=800)
    _sweep(tmp_path, storage, n_trials=100, families="[linear, knn]")
    processes = [_start("sweep", "sweep.yaml", cwd=tmp_path)]
    processes += [_start("worker", "--study", "s", "--storage", storage, cwd=tmp_path) for _ in range(3)]
    for process in processes:
        code, output = _finish(process)
        assert code == 0, output
        assert not any(word in output for word in BAD_WORDS), output
    trials = _trials(storage)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 100
    assert len({t.number for t in trials}) == len(trials)
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in trials)
    assert len({TrialRecord.read(t).worker for t in complete}) >= 2  # the work was shared


@pytest.mark.parametrize("kind", ["journal", "postgresql", "journal+postgresql"])
def test_a_worker_killed_mid_trial_is_failed_by_heartbeat_and_its_trial_runs_again(kind, tmp_path, request):
    storage = _storage(kind, tmp_path, request)
    _data(tmp_path, rows=1500, features=20)
    # Slow trials (a pinned 150-tree forest) so that the kill lands inside one.
    # No ensemble: the sweep's final stages are not what this test is about (about 3.5 s of each run here).
    _sweep(tmp_path, storage, n_trials=4, families="[random_forest]",
           search_space="{random_forest: {n_estimators: 150}}", n_jobs=1, ensemble="false")
    main = _start("sweep", "sweep.yaml", cwd=tmp_path)
    victim = _start("worker", "--study", "s", "--storage", storage, cwd=tmp_path)
    deadline = time.monotonic() + 120
    killed_trial = None
    while killed_trial is None and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            trials = _trials(storage)
        except Exception:  # noqa: BLE001 - the study does not exist yet
            continue
        for t in trials:
            owner = TrialRecord.read(t).worker
            if t.state == optuna.trial.TrialState.RUNNING and owner.endswith(f":{victim.pid}"):
                victim.send_signal(signal.SIGKILL)
                killed_trial = t.number
                break
    assert killed_trial is not None, "the worker never started a trial"
    victim.wait(timeout=30)
    code, output = _finish(main)
    assert code == 0, output
    trials = {t.number: t for t in _trials(storage)}
    assert trials[killed_trial].state == optuna.trial.TrialState.FAIL
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed_trial]
    assert len(retries) == 1 and retries[0].state == optuna.trial.TrialState.COMPLETE
    # Same parameters: all those the killed trial had recorded (a kill during sampling leaves fewer).
    assert trials[killed_trial].params.items() <= retries[0].params.items()
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials.values()) == 4
    code, output = _finish(_start("leaderboard", "--study", "s", "--storage", storage, "--top", "0", cwd=tmp_path))
    assert code == 0 and f"no heartbeat); run again as trial {retries[0].number}" in output


def _tracked_forest_sweep(folder: Path, monkeypatch: pytest.MonkeyPatch, n_estimators: int, **settings: object):
    """A sweep of slow trials (a pinned forest) tracked in a fresh MLflow store; ``(tracking_uri, storage)``."""
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    tracking = f"sqlite:///{folder / 'mlflow.db'}"
    storage = str(folder / "studies.journal")
    _data(folder, rows=1500, features=20)
    path = _sweep(folder, storage, families="[random_forest]", n_jobs=1,
                  search_space=f"{{random_forest: {{n_estimators: {n_estimators}}}}}", **settings)
    path.write_text(path.read_text().replace("tracking: false", f"tracking_uri: {tracking}"))
    return tracking, storage


def _wait_for_complete(storage: str, n: int, timeout: float = 120) -> None:
    """Poll the study until ``n`` trials are complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in _trials(storage))
        except Exception:  # noqa: BLE001 - the study does not exist yet
            continue
        if done >= n:
            return
    raise AssertionError(f"fewer than {n} trials completed within {timeout} s")


def _child_runs(tracking_uri: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("s")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def test_a_killed_sweep_resumes_with_its_trials_and_no_duplicated_runs(tmp_path, monkeypatch):
    tracking, storage = _tracked_forest_sweep(tmp_path, monkeypatch, n_trials=30, n_estimators=60, output="model")
    main = _start("sweep", "sweep.yaml", cwd=tmp_path)
    _wait_for_complete(storage, 3)
    main.send_signal(signal.SIGKILL)
    main.wait(timeout=30)
    before = {t.number: t for t in _trials(storage) if t.state == optuna.trial.TrialState.COMPLETE}
    assert len(before) >= 3
    code, output = _finish(_start("resume", "--study", "s", "--storage", storage, "--n-trials", "4", cwd=tmp_path))
    assert code == 0, output
    after = {t.number: t for t in _trials(storage)}
    for number, trial in before.items():  # every completed trial kept, as it was
        assert after[number].state == optuna.trial.TrialState.COMPLETE and after[number].value == trial.value
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in after.values()) >= len(before) + 3
    numbers = [r.data.tags["automl.trial_number"] for r in _child_runs(tracking) if r.info.run_name != "ensemble"]
    assert len(numbers) == len(set(numbers))  # no trial logged twice
    assert {str(n) for n, t in after.items() if t.state == optuna.trial.TrialState.COMPLETE} <= set(numbers)
    assert (tmp_path / "model" / "manifest.json").is_file()


def test_ctrl_c_stops_within_ten_seconds_and_leaves_the_study_and_runs_consistent(tmp_path, monkeypatch):
    tracking, storage = _tracked_forest_sweep(tmp_path, monkeypatch, time_budget=300, n_estimators=100)
    main = _start("sweep", "sweep.yaml", cwd=tmp_path)
    _wait_for_complete(storage, 1)
    time.sleep(0.5)  # inside the next trial
    main.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, output = _finish(main, timeout=60)
    assert time.monotonic() - sent < 10
    assert code == 130, output
    assert "interrupted" in output and "Traceback" not in output
    trials = _trials(storage)
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in trials)
    import mlflow

    client = mlflow.MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("s").experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.status for p in parents] == ["KILLED"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags and r.info.run_name != "ensemble"]
    assert len(children) == len(trials)
    assert all(r.info.status != "RUNNING" for r in children)
