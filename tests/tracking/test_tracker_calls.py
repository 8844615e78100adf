"""The MLflow tracker's call shapes, against an injected stand-in client (no MLflow store)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import automl
from automl.search.trial_record import StudyRecord
from automl.tracking.mlflow_tracker import MLflowTracker


class FakeClient:
    """Records every call; hands out run ids ``run-0``, ``run-1``, ..."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.runs: dict[str, dict] = {}
        self.experiments: dict[str, str] = {}

    def _record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))

    def get_experiment_by_name(self, name):
        self._record("get_experiment_by_name", name)
        return SimpleNamespace(experiment_id=self.experiments[name]) if name in self.experiments else None

    def create_experiment(self, name, artifact_location=None):
        self._record("create_experiment", name)
        self.experiments[name] = f"exp-{len(self.experiments)}"
        return self.experiments[name]

    def set_experiment_tag(self, experiment_id, key, value):
        self._record("set_experiment_tag", experiment_id, key, value)

    def create_run(self, experiment_id, start_time=None, tags=None, run_name=None):
        self._record("create_run", experiment_id, start_time=start_time, tags=tags, run_name=run_name)
        run_id = f"run-{len(self.runs)}"
        self.runs[run_id] = {"name": run_name, "tags": dict(tags or {}), "params": {}, "metrics": [],
                             "status": "RUNNING", "experiment": experiment_id}
        return SimpleNamespace(info=SimpleNamespace(run_id=run_id))

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self._record("log_batch", run_id)
        self.runs[run_id]["params"].update({p.key: p.value for p in params})
        self.runs[run_id]["metrics"] += [(m.key, m.value, m.step) for m in metrics]

    def log_inputs(self, run_id, datasets=None, models=None):
        self._record("log_inputs", run_id)
        self.runs[run_id]["datasets"] = [d.dataset.name for d in datasets or []]

    def set_terminated(self, run_id, status=None, end_time=None):
        self._record("set_terminated", run_id, status=status)
        self.runs[run_id]["status"] = status

    def set_tag(self, run_id, key, value):
        self.runs[run_id]["tags"][key] = value

    def log_artifacts(self, run_id, local_dir, artifact_path=None):
        self._record("log_artifacts", run_id, local_dir, artifact_path)

    def get_run(self, run_id):
        if run_id not in self.runs:
            raise KeyError(run_id)
        return self.runs[run_id]

    def update_run(self, run_id, status=None, name=None):
        self.runs[run_id]["status"] = status

    def search_runs(self, experiment_ids, filter_string="", max_results=1000):
        parent = filter_string.split("'")[1]
        return [SimpleNamespace(data=SimpleNamespace(tags=r["tags"])) for r in self.runs.values()
                if r["tags"].get("mlflow.parentRunId") == parent]


def _data(n=90):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return df.assign(y=np.where(df["a"] > 0, "up", "down"))


def _tracker(client):
    return MLflowTracker("sqlite:///unused.db", client=client, log_model=False, plots=False)


def test_one_parent_and_one_child_per_trial_with_namespaced_params_and_fold_steps():
    client = FakeClient()
    model = automl.fit(_data(), target="y", n_trials=4, families=["linear", "knn"], cv=3,
                       study_name="calls", tracking=_tracker(client), n_jobs=1)
    assert client.experiments == {"calls": "exp-0"}
    parent = client.runs["run-0"]
    assert parent["name"] == "calls" and parent["status"] == "FINISHED"
    assert parent["params"]["metric"] == "roc_auc" and parent["params"]["cv"] == "stratified_kfold:3"
    assert parent["tags"]["automl.task"] == "binary" and len(parent["tags"]["automl.dataset_fingerprint"]) == 16
    children = [r for r in client.runs.values() if r["tags"].get("mlflow.parentRunId") == "run-0"]
    assert len(children) == len(model.leaderboard()) == 4
    first = next(r for r in children if r["tags"]["automl.trial_number"] == "0")
    assert first["name"] == "trial-0000 linear"
    assert first["params"]["family"] == "linear" and first["params"]["linear__alpha"] == "1.0"
    folds = [(step, value) for key, value, step in first["metrics"] if key == "roc_auc_fold"]
    assert [step for step, _ in folds] == [0, 1, 2]
    mean = next(v for k, v, _ in first["metrics"] if k == "roc_auc_mean")
    assert mean == pytest.approx(model.leaderboard().query("trial == 0")["roc_auc_mean"].iloc[0])
    assert first["status"] == "FINISHED" and first["tags"]["automl.state"] == "complete"
    assert first["tags"]["automl.origin"] == "default"
    assert {r["tags"]["automl.origin"] for r in children} <= {"default", "sampler"} | {
        f"portfolio:{name}" for name in ("autogluon_distance", "autogluon_xt", "autogluon_large", "flaml_binary_2")
    }
    best = next(v for k, v, _ in parent["metrics"] if k == "best_roc_auc")
    assert best == pytest.approx(model.best_score_)
    # Every child is created with one batch of params and metrics and its dataset input, then closed.
    per_child = [name for name, args, _ in client.calls if args and args[0] == "run-1"]
    assert per_child == ["log_batch", "log_inputs", "set_terminated"]
    assert client.runs["run-1"]["datasets"] == parent["datasets"] == ["training"]


def test_failed_and_pruned_trials_get_matching_statuses_and_reasons():
    from tests.search.test_search import EXPLODING  # a family whose build raises RuntimeError("boom")

    automl.families.register_family("exploding", "tests.search.test_search:EXPLODING")
    try:
        client = FakeClient()
        automl.fit(_data(), target="y", n_trials=3, families=["exploding", "linear"], cv=3,
                   tracking=_tracker(client), n_jobs=1)
    finally:
        automl.families.unregister_family("exploding")
    failed = [r for r in client.runs.values() if r["tags"].get("automl.family") == "exploding"]
    assert failed and all(r["status"] == "FAILED" for r in failed)
    assert all("RuntimeError: boom" in r["tags"]["automl.reason"] for r in failed)
    assert EXPLODING.name == "exploding"


def test_a_fit_that_raises_marks_the_parent_failed():
    automl.families.register_family("exploding", "tests.search.test_search:EXPLODING")
    try:
        client = FakeClient()
        with pytest.raises(automl.AllTrialsFailedError):
            automl.fit(_data(), target="y", n_trials=2, families=["exploding"], cv=3, tracking=_tracker(client))
    finally:
        automl.families.unregister_family("exploding")
    assert client.runs["run-0"]["status"] == "FAILED"
    assert all(r["status"] != "RUNNING" for r in client.runs.values())


def test_resumed_study_reuses_the_parent_and_never_duplicates_a_child():
    client = FakeClient()
    kwargs = dict(target="y", families=["linear", "knn"], cv=3, study_name="again", n_jobs=1)
    first = automl.fit(_data(), n_trials=2, tracking=_tracker(client), **kwargs)
    assert StudyRecord.read(first.study_).parent_run["run_id"] == "run-0"
    automl.fit(_data(), n_trials=2, tracking=_tracker(client), **kwargs)
    children = [r for r in client.runs.values() if r["tags"].get("mlflow.parentRunId") == "run-0"]
    trial_runs = [r for r in children if r["tags"]["automl.family"] != "ensemble"]  # a fit's blend has a run too
    numbers = sorted(int(r["tags"]["automl.trial_number"]) for r in trial_runs)
    assert numbers == [0, 1, 2, 3]
    assert sum(1 for r in client.runs.values() if "mlflow.parentRunId" not in r["tags"]) == 1
    assert client.runs["run-0"]["status"] == "FINISHED" and client.runs["run-0"]["tags"]["automl.resumed"] == "true"


def test_tracking_is_off_with_false_and_with_the_environment_variable(monkeypatch, tmp_path):
    automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=3, tracking=False)
    monkeypatch.setenv("AUTOML_TRACKING", "off")
    automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=3)
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
    with pytest.raises(automl.InvalidParameterError, match="tracking must be"):
        automl.fit(_data(), target="y", n_trials=1, tracking="yes please")


@pytest.mark.parametrize("family,curves", [("lightgbm", {"valid_loss"}),
                                           ("hist_gradient_boosting", {"train_loss", "valid_loss"})])
def test_learning_curves_are_logged_with_step_per_round(family, curves):
    client = FakeClient()
    automl.fit(_data(300), target="y", n_trials=1, families=[family], cv=3, tracking=_tracker(client), n_jobs=1)
    child = next(r for r in client.runs.values() if "mlflow.parentRunId" in r["tags"])
    logged = {}
    for key, value, step in child["metrics"]:
        if key in curves:
            logged.setdefault(key, []).append((step, value))
    assert set(logged) == curves
    for points in logged.values():
        steps = [s for s, _ in points]
        assert steps == sorted(steps) and steps[0] == 0 and 2 <= len(steps) <= 100
        assert all(np.isfinite(v) and v >= 0 for _, v in points)


class RecordingTracker:
    """A tracker of one's own, with the protocol's three methods (its finish returns nothing)."""

    def __init__(self):
        self.events = []

    def on_start(self, study, info):
        self.events.append(("start", info))

    def on_trial(self, study, trial):
        self.events.append(("trial", trial.number))

    def finish(self, study, report, status, deadline=None):
        self.events.append(("finish", report, status, deadline))


def test_a_tracker_of_ones_own_is_fed_the_search_info_each_trial_and_the_fit_report():
    from automl.tracking import SearchInfo

    tracker = RecordingTracker()
    model = automl.fit(_data(), target="y", n_trials=3, families=["linear", "knn"], cv=3, time_budget=60,
                       tracking=tracker, n_jobs=1)
    (kind, info), *trials, (last, report, status, deadline) = tracker.events
    assert kind == "start" and isinstance(info, SearchInfo) and not info.joining
    assert info.params["cv"] == "stratified_kfold:3" and info.tags["task"] == "binary"
    assert [e[1] for e in trials] == [0, 1, 2]
    assert last == "finish" and status == "FINISHED" and deadline is not None
    assert report.best_trial_ == model.best_trial_ and report.leaderboard_.equals(model.leaderboard_)
    assert report.estimator.predict(_data().head(3)).tolist() == model.predict(_data().head(3)).tolist()
    assert model.tracking_run_id_ is None and model.model_uri_ is None  # it returned no TrackingResult: nothing
