"""Real round trips against a temporary ``sqlite:///`` MLflow store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
import numpy as np
import pandas as pd
import pytest

import automl
from automl.families import ModelFamily, register_family, unregister_family
from automl.spaces import space_from_dict
from automl.tracking.mlflow_tracker import MLflowTracker
from tests.test_ensemble import _frame as ensemble_frame


def _data(n=120):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    return df.assign(y=np.where(df["a"] + 0.3 * rng.normal(size=n) > 0, "up", "down"))


def _children(client, experiment_id, parent):
    return client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'")


def test_search_round_trip_runs_artifacts_and_pyfunc_in_a_fresh_process(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    df = ensemble_frame(1000)  # data where the blend beats the best trial on cross-fitted scores
    model = automl.fit(df, target="y", n_trials=8, families=["linear", "random_forest", "knn"], cv=4, study_name="rt",
                       tracking=True, tracking_uri=uri, register_model="rt-model", n_jobs=1)
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("rt")
    parent = client.get_run(model.tracking_run_id_)
    assert parent.info.status == "FINISHED" and parent.info.run_name == "rt"
    runs = _children(client, experiment.experiment_id, parent.info.run_id)
    children = [r for r in runs if "automl.trial_number" in r.data.tags]
    board = model.leaderboard()
    trials = board.dropna(subset=["trial"])
    assert len(children) == len(trials) == 8
    assert parent.data.metrics["best_roc_auc"] == pytest.approx(board["roc_auc_mean"].max())
    # The ensemble won here: it has a run of its own, with its members and its score per fold.
    assert model.ensemble_ is not None and parent.data.tags["automl.final_model"] == "ensemble"
    (ensemble,) = [r for r in runs if r.info.run_name == "ensemble"]
    assert ensemble.data.tags["automl.ensemble_trials"] == ",".join(map(str, model.ensemble_["trials"]))
    assert ensemble.data.metrics["roc_auc_mean"] == pytest.approx(model.best_score_)
    assert len(client.get_metric_history(ensemble.info.run_id, "roc_auc_fold")) == 4
    states = {int(r.data.tags["automl.trial_number"]): r.info.status for r in children}
    expected = {int(t): {"complete": "FINISHED", "pruned": "FINISHED", "fail": "FAILED"}[s]
                for t, s in zip(trials["trial"], trials["state"])}
    assert states == expected
    # The parent's numbers: best_trial_* are the best trial's, ensemble_* the blend's, counts count trials.
    best_trial = trials[trials["state"] == "complete"].iloc[0]
    assert int(best_trial["trial"]) == model.best_trial_
    for name in ("roc_auc", "accuracy", "log_loss"):
        assert parent.data.metrics[f"best_trial_{name}"] == pytest.approx(best_trial[f"{name}_mean"])
        assert parent.data.metrics[f"ensemble_{name}"] == pytest.approx(ensemble.data.metrics[f"{name}_mean"])
    assert parent.data.metrics["best_trial_roc_auc"] < parent.data.metrics["ensemble_roc_auc"]
    for state in ("complete", "pruned", "fail"):
        assert parent.data.metrics[f"n_trials_{state}"] == (trials["state"] == state).sum()
    # The primary metric under its plain name, on the parent (the final model's), each complete trial and
    # the ensemble; only the params a configuration uses; the training data as every run's dataset input.
    assert parent.data.metrics["roc_auc"] == pytest.approx(model.best_score_)
    for run in children:
        if run.data.tags["automl.state"] == "complete":
            assert run.data.metrics["roc_auc"] == run.data.metrics["roc_auc_mean"]
        assert not [k for k, v in run.data.params.items() if v in ("null", "None")], run.data.params
    assert ensemble.data.metrics["roc_auc"] == pytest.approx(model.best_score_)
    digest = mlflow.data.from_pandas(df.drop(columns="y")).digest
    for run in [parent, ensemble, *children]:
        (given,) = client.get_run(run.info.run_id).inputs.dataset_inputs
        assert given.dataset.name == "training" and given.dataset.digest == digest
        assert [t.value for t in given.tags] == ["training"]
        assert json.loads(given.dataset.profile) == {"num_rows": len(df), "num_elements": len(df) * (df.shape[1] - 1)}
        assert [c["name"] for c in json.loads(given.dataset.schema)["mlflow_colspec"]] == list(df.columns.drop("y"))
    history = client.get_metric_history(children[0].info.run_id, "roc_auc_fold")
    assert sorted(m.step for m in history) in ([0, 1, 2, 3], [0], [0, 1], [0, 1, 2])
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"leaderboard.csv", "search_space.yaml", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/optimization_history.png", "plots/roc_pr_curves.png", "plots/confusion_matrix.png"} <= plots
    # The pyfunc, reloaded in a fresh process, predicts exactly what the model predicts.
    df.to_pickle(tmp_path / "df.pkl")
    code = (
        "import mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        f"df = pd.read_pickle({str(tmp_path / 'df.pkl')!r})\n"
        f"print(list(mlflow.pyfunc.load_model({model.model_uri_!r}).predict(df.drop(columns='y'))))\n"
        "print(list(mlflow.pyfunc.load_model('models:/rt-model/1').predict(df.drop(columns='y').head(3))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == str(list(model.predict(df)))
    assert lines[-1] == str(list(model.predict(df.head(3))))
    # The logged code is the package's source, never this machine's bytecode.
    logged = Path(mlflow.artifacts.download_artifacts(artifact_uri=model.model_uri_, tracking_uri=uri,
                                                      dst_path=str(tmp_path / "logged")))
    assert (logged / "code" / "automl" / "__init__.py").exists()
    assert not [p for p in logged.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]


def _interrupt(params, ctx):
    raise KeyboardInterrupt


INTERRUPT = ModelFamily("interrupt", frozenset({"binary"}), "ordinal", _interrupt, "Ctrl-C",
                        search_space=space_from_dict({"family": "interrupt", "params": {}}))


def test_ctrl_c_marks_the_runs_killed_and_leaves_none_running(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register_family("interrupt", f"{__name__}:INTERRUPT")
    try:
        tracker = MLflowTracker(uri, log_model=False, plots=False)
        with pytest.raises(KeyboardInterrupt):
            automl.fit(_data(), target="y", n_trials=3, families=["linear", "interrupt"], cv=3,
                       tracking=tracker, n_jobs=1)
    finally:
        unregister_family("interrupt")
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("automl")
    runs = client.search_runs([experiment.experiment_id])
    statuses = {r.info.run_name: r.info.status for r in runs}
    assert statuses["automl-search"] == "KILLED"
    assert statuses["trial-0000 linear"] == "FINISHED"
    assert statuses["trial-0001 interrupt"] == "KILLED"
    assert "RUNNING" not in statuses.values()


class PruneSecond(optuna.pruners.BasePruner):
    """Prunes trial 1 at its first report, no other."""

    def prune(self, study, trial):
        return trial.number == 1


def test_a_pruned_trial_is_finished_and_tagged_not_shown_as_a_crash(store_path):
    uri = f"sqlite:///{store_path}"
    model = automl.fit(_data(), target="y", n_trials=2, families=["linear"], cv=3, n_jobs=1, pruner=PruneSecond(),
                       tracking=MLflowTracker(uri, log_model=False, plots=False))
    assert list(model.leaderboard()["state"]) == ["complete", "pruned"]
    client = mlflow.MlflowClient(uri)
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("automl").experiment_id])}
    pruned = runs["trial-0001 linear"]
    assert pruned.info.status == "FINISHED" and pruned.data.tags["automl.state"] == "pruned"
    assert "roc_auc" not in pruned.data.metrics  # no score of its own: it is not ranked
    parent = runs["automl-search"]
    assert parent.data.metrics["n_trials_pruned"] == 1 and parent.data.metrics["n_trials_complete"] == 1


def test_budget_includes_tracking_and_a_resumed_study_continues_its_parent_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    df = _data()
    first = automl.fit(df, target="y", time_budget=6, families=["linear", "knn"], cv=3, study_name="res",
                       tracking=True, tracking_uri=uri, n_jobs=1)
    assert first.fit_time_ <= 6 * 1.1 + 10
    second = automl.fit(df, target="y", n_trials=2, families=["linear", "knn"], cv=3, study_name="res",
                        tracking=MLflowTracker(uri, plots=False, log_model=False), n_jobs=1)
    assert second.tracking_run_id_ == first.tracking_run_id_
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("res")
    children = _children(client, experiment.experiment_id, first.tracking_run_id_)
    numbers = sorted(int(r.data.tags["automl.trial_number"]) for r in children if "automl.trial_number" in r.data.tags)
    assert numbers == sorted(second.leaderboard()["trial"].dropna())  # every trial once, none twice
    assert client.get_run(first.tracking_run_id_).info.status == "FINISHED"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_an_unreachable_tracking_server_leaves_the_fit_untracked_with_a_warning(monkeypatch):
    import time

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    started = time.monotonic()
    with pytest.warns(RuntimeWarning, match="MLflow tracking is off for this fit"):
        model = automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=3, tracking=True,
                           tracking_uri="http://127.0.0.1:9/", n_jobs=1)
    assert time.monotonic() - started < 60  # MLflow's own retries would take minutes
    assert getattr(model, "tracking_run_id_", None) is None and model.predict(_data().head(2)).shape == (2,)


def test_a_worker_that_joins_before_the_parent_run_is_recorded_logs_its_trials_once_it_is(tmp_path, monkeypatch):
    # A worker opens the study as soon as it exists; the main process records the parent run a few seconds
    # later (MLflow's import and the run's creation). The worker's trials must still be logged, each once.
    from contextlib import contextmanager

    import automl.search.trial_record as trial_record
    import automl.tracking.mlflow_tracker as mlflow_tracker
    from automl.search.trial_record import TrialWriter
    from automl.tracking import SearchInfo

    @contextmanager
    def as_worker():  # the calls another process (host "w", pid 1) makes
        with monkeypatch.context() as patch:
            patch.setattr(trial_record, "worker_id", lambda: "w:1")
            patch.setattr(mlflow_tracker, "worker_id", lambda: "w:1")
            yield

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    study = optuna.create_study(direction="maximize")

    def finished_trial(value: float) -> optuna.trial.FrozenTrial:
        trial = study.ask({"family": optuna.distributions.CategoricalDistribution(["linear"])})
        TrialWriter(trial).started({"C": 1.0})
        TrialWriter(trial).scores({"roc_auc": [value, value]})
        study.tell(trial, value)
        return study.trials[-1]

    worker = MLflowTracker(uri, log_model=False, plots=False)
    with as_worker():
        worker.on_start(study, SearchInfo("s", True))  # no parent run recorded yet
    main = MLflowTracker(uri, log_model=False, plots=False)
    main.on_start(study, SearchInfo("s", False))  # records the parent run on the study
    with as_worker():
        worker.on_trial(study, finished_trial(0.7))
        worker.on_trial(study, finished_trial(0.8))
        worker.finish(study, None, "FINISHED")
    main.finish(study, None, "FINISHED")
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("s").experiment_id])
    children = [r for r in runs if "automl.trial_number" in r.data.tags]
    assert sorted(int(r.data.tags["automl.trial_number"]) for r in children) == [0, 1]
    assert {r.data.tags["automl.worker"] for r in children} == {"w:1"}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {main.parent_run_id}


def test_a_tracker_object_of_ours_logs_the_model_and_the_fitted_estimator_still_pickles_and_saves(tmp_path):
    """Before, the estimator held the tracker (a parameter) with its writer process's queues: the model was not
    logged ("Queue objects should only be shared between processes through inheritance"), and pickle.dumps and
    save raised the same error."""
    import pickle
    import warnings

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "MLflow run ... is incomplete" would fail here
        model = automl.AutoMLClassifier(n_trials=2, families=["linear"], cv=3,
                                        tracking=MLflowTracker(uri, plots=False)).fit(_data().drop(columns="y"),
                                                                                     _data()["y"])
    assert model.model_uri_ is not None
    client = mlflow.MlflowClient(uri)
    assert client.get_run(model.tracking_run_id_).info.status == "FINISHED"
    again = pickle.loads(pickle.dumps(model))
    assert list(again.predict(_data().drop(columns="y"))) == list(model.predict(_data().drop(columns="y")))
    model.save(tmp_path / "saved")
    assert (tmp_path / "saved").is_dir()


def test_an_untracked_fit_has_its_tracking_attributes_as_none():
    model = automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=3, tracking=False)
    assert (model.tracking_run_id_, model.tracking_uri_, model.model_uri_, model.tracking_experiment_id_) == (
        None, None, None, None)


RACE_CHILD = """
import sys, warnings
import automl
from tests.tracking.test_tracker_mlflow import _data
with warnings.catch_warnings():
    warnings.simplefilter("error", RuntimeWarning)  # "MLflow tracking is off for this fit" fails the child
    model = automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=3, tracking=True,
                       tracking_uri=sys.argv[1], study_name=sys.argv[2])
print(model.tracking_run_id_, model.model_uri_ is not None)
"""


def test_two_processes_that_open_one_new_sqlite_store_at_once_are_both_tracked(tmp_path):
    """Before, both ran MLflow's table creation and migrations at once: each fit went untracked ("table runs
    already exists", "duplicate column name") and the store was left half-migrated for good."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}  # run in tmp_path: MLflow puts the artifacts in ./mlruns
    children = [subprocess.Popen([sys.executable, "-c", RACE_CHILD, uri, f"race{i}"], cwd=tmp_path, text=True, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    outs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err[-2000:] for _, err in outs]
    runs = [out.split()[0] for out, _ in outs]
    client = mlflow.MlflowClient(uri)
    assert all(client.get_run(run).info.status == "FINISHED" for run in runs)
    later = automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=3, tracking=True, tracking_uri=uri)
    assert client.get_run(later.tracking_run_id_).info.status == "FINISHED"  # the store is whole


def _auc(y_true, proba):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y_true, proba[:, 1])


def test_a_metric_named_with_characters_mlflow_refuses_is_logged_under_a_key_it_takes(tmp_path):
    """Before, MLflow refused 'best_auc (%) [x]' and each batch it was in: the run was FAILED with its results, its
    model and its trial runs not logged."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    metric = automl.Metric("auc (%) [x]", _auc, greater_is_better=True, needs="proba", tasks=frozenset({"binary"}))
    model = automl.fit(_data(), target="y", n_trials=2, families=["linear"], cv=3, metric=metric, tracking=True,
                       tracking_uri=uri)
    client = mlflow.MlflowClient(uri)
    parent = client.get_run(model.tracking_run_id_)
    assert parent.info.status == "FINISHED" and "automl.logging_failed" not in parent.data.tags, parent.data.tags
    assert "best_auc ___ _x_" in parent.data.metrics and model.model_uri_ is not None
    children = _children(client, parent.info.experiment_id, parent.info.run_id)
    assert len(children) == 2 and all("auc ___ _x__mean" in run.data.metrics for run in children)
    assert model.leaderboard().columns[model.leaderboard().columns.str.startswith("auc (%) [x]")].size


def test_a_sqlite_stores_artifacts_go_beside_its_file_not_into_the_callers_working_folder(store_path, tmp_path,
                                                                                         monkeypatch):
    from automl.tracking.writer import fluent_tracking_uri

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    uri = f"sqlite:///{store_path}"
    frame = pd.DataFrame({"a": np.random.default_rng(0).normal(size=80)})
    frame["y"] = np.where(frame["a"] > 0, "up", "down")
    model = automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, tracking=True, tracking_uri=uri)
    assert not list(elsewhere.iterdir())  # nothing in the folder the fit ran in
    assert (store_path.parent / "mlruns").is_dir()
    with fluent_tracking_uri(uri):
        served = mlflow.pyfunc.load_model(model.model_uri_)
    assert list(served.predict(frame.drop(columns="y").head(3))) == list(model.predict(frame.head(3)))
