"""What MLflow could not log is named on the parent run and said once; the fit itself still succeeds.

The failures are real: the model's artifact folder cannot be created (a file sits where MLflow puts
logged models, so the writer process fails to log it), a plot raises while it is drawn, the store
refuses to close the run.
"""

from __future__ import annotations

import logging
import time
import warnings
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest

import automl
from automl.tracking import plots
from automl.tracking.failures import failure_tags, final_status
from automl.tracking.mlflow_tracker import MLflowTracker
from automl.tracking.writer import ThreadWriter
from tests.tracking.test_tracker_calls import FakeClient


@pytest.fixture
def store_uri(store_path):
    """A fresh store of this test's own (tests/tracking/conftest.py)."""
    return f"sqlite:///{store_path}"


def _data(n=60):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return df.assign(y=np.where(df["a"] > 0, "up", "down"))


def _mlflow_warnings(caught):
    return [w for w in caught if issubclass(w.category, RuntimeWarning) and "MLflow" in str(w.message)]


def test_a_model_and_a_plot_that_fail_mark_the_run_and_warn_once(tmp_path, store_uri, monkeypatch, caplog):
    uri = store_uri
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(uri)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "models").write_text("not a folder")  # MLflow 3 writes logged models under <location>/models/
    client.create_experiment("automl", artifact_location=str(artifacts))

    def broken(*args, **kwargs):
        raise ValueError("the plot cannot be drawn")

    for name in ("optimization_history", "param_importance", "score_by_family", "confusion_matrix_plot",
                 "roc_pr_curves"):  # every plot of a binary task fails (and none takes time to draw)
        monkeypatch.setattr(plots, name, broken)
    caplog.set_level(logging.DEBUG, logger="automl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = automl.fit(_data(), target="y", n_trials=2, families=["linear"], cv=2, n_jobs=1)

    assert model.predict(_data().head(3)).shape == (3,)  # the fit itself succeeded
    assert model.model_uri_ is None
    run = client.get_run(model.tracking_run_id_)
    assert run.info.status == "FAILED"
    assert set(run.data.tags["automl.logging_failed"].split(",")) == {"plots", "model"}
    detail = run.data.tags["automl.tracking_incomplete"]
    assert "optimization_history.png: ValueError: the plot cannot be drawn" in detail and "model:" in detail
    assert "roc_pr_curves.png: ValueError" in detail
    # What did work is still there: the files.
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"leaderboard.csv", "search_space.yaml",
                                                                        "explanations"}
    # Said once: one warning naming both parts and why (not one per plot), nothing else at WARNING level.
    (warning,) = _mlflow_warnings(caught)
    assert "plots not logged" in str(warning.message) and "model not logged" in str(warning.message)
    assert "the plot cannot be drawn" in str(warning.message)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("automl")] == []


class RefusingClient(FakeClient):
    """A store that takes the runs but refuses to close the parent run."""

    def set_terminated(self, run_id, status=None, end_time=None):
        if run_id == "run-0":
            raise ConnectionError("the tracking server went away")
        super().set_terminated(run_id, status, end_time)

    def delete_tag(self, run_id, key):
        self.runs[run_id]["tags"].pop(key)


def test_a_store_that_fails_at_the_end_never_ends_the_fit():
    client = RefusingClient()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = automl.fit(_data(), target="y", n_trials=1, families=["linear"], cv=2, n_jobs=1,
                           tracking=MLflowTracker("sqlite:///unused.db", client=client, plots=False, log_model=False))
    assert model.predict(_data().head(2)).shape == (2,)
    (warning,) = _mlflow_warnings(caught)
    assert "run status not logged" in str(warning.message) and "went away" in str(warning.message)


def test_a_resumed_run_forgets_what_it_failed_to_log_before():
    client = RefusingClient()
    client.runs["run-0"] = {"name": "x", "tags": {"automl.logging_failed": "model"}, "params": {}, "metrics": [],
                            "status": "FAILED", "experiment": "exp-0"}
    client.experiments["resumed"] = "exp-0"
    tracker = MLflowTracker("sqlite:///unused.db", client=client, plots=False, log_model=False)
    study = SimpleNamespace(user_attrs={"automl:mlflow_parent_run": {"run_id": "run-0",
                                                                     "tracking_uri": "sqlite:///unused.db"}},
                            get_trials=lambda deepcopy=False: [])
    tracker._start(study, automl.tracking.SearchInfo("resumed", False))
    assert "automl.logging_failed" not in client.runs["run-0"]["tags"]


def test_the_run_status_says_whether_everything_promised_was_logged():
    assert final_status("FINISHED", []) == "FINISHED"
    assert final_status("FINISHED", [("plots", "out of time: 1 s left")]) == "KILLED"
    assert final_status("FINISHED", [("plots", "out of time: 1 s left"), ("model", "OSError: disk full")]) == "FAILED"
    assert final_status("KILLED", [("model", "OSError: disk full")]) == "KILLED"  # the fit's own status wins
    tags = failure_tags([("plots", "a.png: E: x"), ("plots", "b.png: E: y"), ("model", "OSError: z")])
    assert tags == {"automl.logging_failed": "plots,model",
                    "automl.tracking_incomplete": "plots: a.png: E: x | b.png: E: y; model: OSError: z"}


class SlowClient(FakeClient):
    def log_artifacts(self, run_id, local_dir, artifact_path=None):
        time.sleep(2.0)


def test_parts_still_being_written_at_the_deadline_are_named_out_of_time():
    writer = ThreadWriter(SlowClient(), "sqlite:///unused.db")
    writer.submit(("artifacts", "run-0", ".", None))
    writer.submit(("artifacts", "run-0", ".", "plots"))
    writer.close(time.monotonic() + 0.2)
    assert [part for part, _ in writer.errors] == ["files", "plots"]
    assert final_status("FINISHED", writer.errors) == "KILLED"
