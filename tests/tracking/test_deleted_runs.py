"""Runs and experiments a user deleted in MLflow (the UI's bin): the next fit logs to a new parent run, or says
which experiment was deleted and how to get it back (once every later fit went untracked, "cannot be reached")."""

from __future__ import annotations

import warnings

import mlflow
import numpy as np
import pandas as pd
import pytest

import automl


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=80)}).assign(y=lambda f: np.where(f["a"] > 0, "yes", "no"))


def _fit(uri: str, **settings) -> automl.AutoMLClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return automl.fit(_frame(), target="y", **{"n_trials": 1, "families": ["linear"], "cv": 2, "ensemble": False,
                                                   "tracking": True, "tracking_uri": uri, "isolation": "none",
                                                   **settings})


def test_a_resumed_study_whose_run_was_deleted_logs_to_a_new_parent_run(store_path, tmp_path):
    uri = f"sqlite:///{store_path}"
    client = mlflow.MlflowClient(uri)
    first = _fit(uri, study_name="e1", storage=str(tmp_path / "s.journal"))
    client.delete_run(first.tracking_run_id_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "tracking is off"
        second = _fit(uri, study_name="e1", storage=str(tmp_path / "s.journal"), n_trials=2)
    assert second.model_uri_ is not None and second.tracking_run_id_ != first.tracking_run_id_
    parent = client.get_run(second.tracking_run_id_)
    assert parent.info.status == "FINISHED" and parent.info.lifecycle_stage == "active"
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{second.tracking_run_id_}'")
    numbers = sorted(int(r.data.tags["automl.trial_number"]) for r in children if "automl.trial_number" in r.data.tags)
    assert numbers == [0, 1, 2]  # every trial of the study once, the one logged to the deleted run too


def test_a_deleted_experiment_is_named_with_the_way_back(store_path):
    uri = f"sqlite:///{store_path}"
    client = mlflow.MlflowClient(uri)
    _fit(uri, study_name="gone")
    experiment = client.get_experiment_by_name("gone")
    client.delete_experiment(experiment.experiment_id)
    with pytest.warns(RuntimeWarning, match=rf"experiment 'gone' \(id {experiment.experiment_id}\) was deleted: "
                                            r"restore it \(mlflow experiments restore") as caught:
        model = _fit(uri, study_name="gone")
    assert not any("cannot be reached" in str(w.message) for w in caught)
    assert model.model_uri_ is None and len(model.predict(_frame())) == 80  # the fit itself goes on
