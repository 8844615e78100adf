"""The tracking URI's secret is never written anywhere; training rows go to MLflow only when asked.

A real SQLite store whose URI carries a secret query parameter (``?token=...``: SQLite ignores it,
the redaction must not) is used end to end through the command line; every place the URI could be
written is read back from outside: printed lines, log records, warnings, the study's journal file
(its attributes and the sweep record), the saved model folder, the MLflow run.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest

import automl
from automl._redact import redact_url
from automl.cli import main
from automl.search.trial_record import StudyRecord
from automl.sweep import SweepSpec
from automl.tracking import SearchInfo
from automl.tracking.mlflow_tracker import MLflowTracker
from automl.tracking.writer import fluent_tracking_uri
from tests.conftest import mixed_frame
from tests.tracking.test_tracker_calls import FakeClient

SECRET = "s3cretTok3nXYZ"


def _model_files(uri, model_uri):
    with fluent_tracking_uri(uri):
        info = mlflow.models.get_model_info(model_uri)
        folder = Path(mlflow.artifacts.download_artifacts(model_uri))
    return info, {p.name for p in folder.rglob("*")}


def test_the_tracking_uri_secret_is_never_printed_logged_or_stored(store_path, tmp_path, monkeypatch, capsys,
                                                                   caplog):
    uri = f"sqlite:///{store_path}?token={SECRET}"
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "n": rng.integers(0, 9, 60)})
    frame.assign(y=np.where(frame["a"] > 0, "up", "down")).to_csv(tmp_path / "d.csv", index=False)
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["-v", "fit", "d.csv", "--target", "y", "--n-trials", "1", "--families", "linear", "--cv", "2",
                     "--n-jobs", "1", "--study", "secret", "--tracking-uri", uri, "--output", "model"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "token=***" in printed.out  # the run is named, with its store masked
    assert "browse it: automl ui --tracking-uri env:NAME" in printed.out  # its store, the secret kept off the line
    assert ", then http://127.0.0.1:5000/#/experiments/" in printed.out  # the runs view
    assert SECRET not in printed.out + printed.err
    assert not [r for r in caplog.records if SECRET in r.getMessage()]
    assert not [w for w in caught if SECRET in str(w.message)]
    # The study: its journal file (every attribute, the sweep record included), and as read back.
    journal = tmp_path / "automl-studies.journal"
    assert journal.exists() and SECRET not in journal.read_text(encoding="utf-8", errors="replace")
    import optuna

    study = optuna.load_study(study_name="secret", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))))
    record = StudyRecord.read(study)
    assert record.parent_run["tracking_uri"] == redact_url(uri) and "tracking_uri" not in record.sweep["settings"]
    # The run: closed as FINISHED, nothing failed, no secret in its params or tags; the model has a
    # signature of every column and, by default, no input example (no training rows in MLflow).
    client = mlflow.MlflowClient(uri)
    run = client.get_run(record.parent_run["run_id"])
    assert run.info.status == "FINISHED" and "automl.logging_failed" not in run.data.tags
    assert SECRET not in repr(run.data.params) + repr(run.data.tags)
    info, files = _model_files(uri, run.data.tags["automl.model_uri"])
    assert info.signature is not None and info.signature.inputs.input_names() == ["a", "n"]
    assert info.saved_input_example_info is None and not [f for f in files if "example" in f]


def test_the_input_example_is_logged_only_when_asked_and_the_signature_serves_missing_values(store_path):
    uri = f"sqlite:///{store_path}"
    df = mixed_frame(80).assign(label=lambda d: np.where(d["x"] > 0, "yes", "no"))
    model = automl.fit(df, target="label", n_trials=1, families=["linear"], cv=2, n_jobs=1, tracking=True,
                       tracking_uri=uri, log_input_example=True)
    info, files = _model_files(uri, model.model_uri_)
    assert info.saved_input_example_info is not None and "input_example.json" in files
    # Every column, typed from the training frame: the nullable integer as Any (the model checks it), so that a served
    # request with a missing value (null in JSON, NaN here) is accepted and predicted like the model does.
    types = {c.name: getattr(c.type, "name", repr(c.type)) for c in info.signature.inputs.inputs}
    assert list(types) == list(df.columns.drop("label"))
    assert types["count"] == "Any" and types["ratio"] == "double" and types["city"] == "string"
    served = df.drop(columns="label").head(6).astype({"count": "float64", "ratio": "float64", "colour": "object"})
    assert served["count"].isna().any()
    with fluent_tracking_uri(uri):
        predicted = mlflow.pyfunc.load_model(model.model_uri_).predict(served)
    assert list(predicted) == list(model.predict(served))


def test_a_column_named_empty_text_is_refused_before_the_search_and_no_run_is_written(store_path):
    """MLflow reads a column named '' as an unnamed input: with it in the signature the logged model's pyfunc refused
    every frame, without one it dropped ``predict_method`` (probabilities came back as labels), and a CSV reads the
    name back as 'Unnamed: 0'. It is refused at fit, before any run."""
    uri = f"sqlite:///{store_path}"
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "": rng.normal(size=60)}).assign(label=lambda d: d["x"] > 0)
    with pytest.raises(automl.DataValidationError, match="a column name is empty"):
        automl.fit(df, target="label", n_trials=1, families=["linear"], cv=2, n_jobs=1, tracking=True,
                   tracking_uri=uri)
    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments) == [] and [e.name for e in client.search_experiments()] == ["Default"]


def test_a_url_password_is_masked_in_the_warning_and_log_of_an_unreachable_server(monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    url = "http://me:hunter2pw@127.0.0.1:9/"
    assert "hunter2pw" not in redact_url(url) and "me:***@127.0.0.1" in redact_url(url)
    caplog.set_level(logging.DEBUG)
    tracker = MLflowTracker(url)
    with pytest.warns(RuntimeWarning, match="MLflow tracking is off") as caught:
        tracker.on_start(None, SearchInfo(None, False))
    assert tracker.parent_run_id is None and tracker.tracking_uri == url  # the real URI is what connects
    assert "me:***@" in str(caught[0].message) and "hunter2pw" not in str(caught[0].message)
    assert caplog.records and not [r for r in caplog.records if "hunter2pw" in r.getMessage()]


def test_a_joining_worker_connects_with_its_own_uri_when_the_study_holds_the_masked_one():
    real = "https://me:hunter2pw@mlflow.example/"
    client = FakeClient()
    client.runs["run-0"] = {"experiment": "exp-0", "tags": {}}
    client.get_run = lambda run_id: SimpleNamespace(info=SimpleNamespace(experiment_id="exp-0"))
    tracker = MLflowTracker(real, client=client)
    tracker._join({"run_id": "run-0", "tracking_uri": redact_url(real)})
    assert tracker.parent_run_id == "run-0" and tracker.tracking_uri == real
    other = MLflowTracker("https://me:otherpw@elsewhere.example/", client=FakeClient())
    with pytest.warns(RuntimeWarning, match="password is not stored"):
        other._join({"run_id": "run-0", "tracking_uri": redact_url(real)})
    assert other.parent_run_id is None


def test_a_resumed_study_whose_run_is_in_a_masked_store_says_it_starts_a_new_run():
    attrs = {"automl:mlflow_parent_run": {"run_id": "run-9", "tracking_uri": "https://me:***@mlflow.example/"}}
    study = SimpleNamespace(user_attrs=attrs, get_trials=lambda deepcopy=False: [], set_user_attr=attrs.__setitem__)
    tracker = MLflowTracker(f"https://me:{SECRET}@other.example/", client=FakeClient(), plots=False, log_model=False)
    with pytest.warns(RuntimeWarning, match="password is not stored; this fit starts a new run") as caught:
        tracker._start(study, SearchInfo("s", False))
    assert tracker.parent_run_id == "run-0" and SECRET not in str(caught[0].message)
    assert attrs["automl:mlflow_parent_run"] == {"run_id": "run-0", "tracking_uri": "https://me:***@other.example/"}


def test_the_sweep_record_keeps_no_tracking_uri_with_a_secret():
    plain = SweepSpec("/d.csv", "y", {"tracking_uri": "sqlite:///runs/mlflow.db"}).record()["settings"]
    assert plain == {"tracking_uri": "sqlite:///runs/mlflow.db"}
    for secret in ("https://me:pw@mlflow.example", f"https://mlflow.example/?token={SECRET}"):
        assert "tracking_uri" not in SweepSpec("/d.csv", "y", {"tracking_uri": secret}).record()["settings"]


def test_a_model_saved_before_the_setting_existed_has_its_default():
    folder = Path(__file__).resolve().parents[1] / "golden" / "models" / "linear_regression"
    model = automl.load(folder, check_versions=False)
    assert model.get_params()["log_input_example"] is False
    assert "log_input_example" not in repr(model)  # a default, as sklearn shows parameters


def test_a_secret_in_the_estimators_urls_is_masked_in_every_repr_scikit_learn_builds_and_the_fit_uses_it(store_path,
                                                                                                        monkeypatch):
    import pickle

    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils import estimator_html_repr

    monkeypatch.setenv("AUTOML_TRACKING", "1")
    uri = f"sqlite:///{store_path}?token={SECRET}"
    storage = f"postgresql://bob:{SECRET}@db.example/optuna"
    model = automl.AutoMLClassifier(storage=storage, tracking_uri=uri, tracking=True, n_trials=1, families=["linear"],
                                    cv=2)
    shown = [repr(model), repr(make_pipeline(StandardScaler(), model)), repr(GridSearchCV(model, {"seed": [0]})),
             estimator_html_repr(model), model._repr_html_(), estimator_html_repr(make_pipeline(model))]
    assert not [text for text in shown if SECRET in text] and all("***" in text for text in shown)
    twin = clone(model)  # the URLs themselves, as values: clone's own check that nothing changed them passes
    assert twin.storage == storage and twin.tracking_uri == uri and str(twin.get_params()["storage"]) == storage
    assert twin.set_params(storage=None, tracking_uri=uri).tracking_uri == uri and SECRET not in repr(twin)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60)})
    twin.fit(X, np.where(X["a"] > 0, "up", "down"))  # the fit is tracked to the store the URL names
    assert twin.tracking_uri_ == redact_url(uri) and mlflow.MlflowClient(uri).get_run(twin.tracking_run_id_).info.status == "FINISHED"
    again = pickle.loads(pickle.dumps(twin))
    assert again.tracking_uri == uri and SECRET not in repr(again) + estimator_html_repr(again)
