"""``model.feature_importance`` and ``model.explain``: the column that decides the label comes first in
both, contributions add up to the model's own output, bad input is refused as ``predict`` refuses it,
and the CLI command ``automl explain`` writes them (or nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.ensemble import EnsembleModel

FITTED: dict[str, automl.AutoMLClassifier] = {}


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """``key`` decides ``y``; the other columns (number, category, date) are noise."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "noise": rng.normal(size=n),
        "key": rng.normal(size=n),
        "colour": rng.choice(["red", "green", "blue"], n),
        "day": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
    }).assign(y=lambda f: np.where(f["key"] > 0, "yes", "no"))


def _model(family: str) -> automl.AutoMLClassifier:
    if family not in FITTED:
        if family == "ensemble":  # a blend of an exact member (probability space) and an estimated one
            model = _model("knn")
            copy = automl.AutoMLClassifier(n_trials=1, families=["knn"], cv=2)
            copy.__dict__.update(model.__dict__)
            copy.model_ = EnsembleModel([_model("random_forest").model_, model.model_], [0.6, 0.4], [0, 1])
            FITTED[family] = copy
        else:
            FITTED[family] = automl.AutoMLClassifier(n_trials=1, final_model="refit", families=[family], cv=2, n_jobs=1).fit(
                _frame().drop(columns="y"), _frame()["y"])
    return FITTED[family]


FAMILIES = ["lightgbm", "random_forest", "linear", "knn", "ensemble"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_column_that_decides_the_label_ranks_first_in_both(family):
    model = _model(family)
    held_out = _frame(200, seed=1)
    importance = model.feature_importance(held_out)  # the target column inside X
    assert list(importance.columns) == ["feature", "importance_mean", "importance_std"]
    assert importance["feature"].iloc[0] == "key" and sorted(importance["feature"]) == ["colour", "day", "key", "noise"]
    assert importance["importance_mean"].is_monotonic_decreasing
    contributions = model.explain(held_out.drop(columns="y"))
    assert list(contributions.columns) == ["noise", "key", "colour", "day", "base_value"]
    assert contributions.drop(columns="base_value").abs().mean().idxmax() == "key"


@pytest.mark.parametrize("family", ["lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting"])
def test_tree_contributions_sum_to_the_models_own_raw_output(family):
    rows = _frame(150, seed=2).drop(columns="y")
    data = _frame()
    if family == "hist_gradient_boosting":  # exact without native categories (shap reads their splits wrong)
        rows, data = rows.drop(columns="colour"), data.drop(columns="colour")
    model = FITTED.get(family) if family != "hist_gradient_boosting" else None
    if model is None:
        model = automl.AutoMLClassifier(n_trials=1, final_model="refit", families=[family], cv=2, n_jobs=1).fit(data.drop(columns="y"),
                                                                                          data["y"])
    frame = model.explain(rows)
    assert frame.attrs["method"] == f"{family}: exact"
    pipeline = model.model_
    Z = pipeline.preprocessor_.transform(model.schema_.transform(rows))
    estimator = pipeline.estimator_
    yes = list(estimator.classes_).index(list(model.classes_).index("yes"))
    if family == "lightgbm":
        assert frame.attrs["output"] == "log-odds of 'yes'"
        raw = estimator.model_.predict(Z, raw_score=True) * (1 if yes == 1 else -1)
    elif family == "hist_gradient_boosting":
        raw = estimator.decision_function(Z) * (1 if yes == 1 else -1)
    else:
        assert frame.attrs["output"] == "probability of 'yes'"
        raw = estimator.predict_proba(Z)[:, yes]
    assert np.abs(frame.sum(axis=1).to_numpy() - raw).max() < 1e-6


def test_multiclass_contributions_explain_each_rows_predicted_class():
    data = _frame().assign(y=lambda f: np.digitize(f["key"], [-0.5, 0.5]).astype(str))
    model = automl.AutoMLClassifier(n_trials=1, final_model="refit", families=["lightgbm"], cv=2, n_jobs=1).fit(data.drop(columns="y"),
                                                                                          data["y"])
    rows = data.drop(columns="y").head(40)
    frame = model.explain(rows)
    assert list(frame["class"]) == list(model.predict(rows))
    # under calibrate="auto" the model may be temperature-scaled: its raw scores are then the pipeline's over T
    pipeline, temperature = getattr(model.model_, "model", model.model_), getattr(model.model_, "temperature", 1.0)
    raw = pipeline.estimator_.model_.predict(pipeline.preprocessor_.transform(model.schema_.transform(rows)),
                                             raw_score=True) / temperature
    picked = raw[np.arange(40), [list(model.classes_).index(c) for c in frame["class"]]]
    assert np.abs(frame.drop(columns="class").sum(axis=1).to_numpy() - picked).max() < 1e-6
    other = model.explain(rows, target="0")
    assert set(other["class"]) == {"0"}


def test_a_temperature_scaled_booster_is_explained_exactly_in_its_scaled_margin():
    from automl.calibration import TemperatureScaled

    data = _frame().assign(y=lambda f: np.digitize(f["key"], [-0.5, 0.5]).astype(str))
    model = automl.AutoMLClassifier(n_trials=1, final_model="refit", families=["lightgbm"], cv=2, n_jobs=1,
                                    ensemble=False, calibrate=True).fit(data.drop(columns="y"), data["y"])
    assert isinstance(model.model_, TemperatureScaled) and model.model_.temperature != 1.0
    rows = data.drop(columns="y").head(30)
    frame = model.explain(rows)
    assert "exact" in frame.attrs["method"]
    # softmax of the contributions' sums (one class at a time) gives the scaled model's probabilities
    sums = np.column_stack([model.explain(rows, target=c).drop(columns="class").sum(axis=1) for c in model.classes_])
    proba = np.exp(sums - sums.max(axis=1, keepdims=True))
    assert np.abs(proba / proba.sum(axis=1, keepdims=True) - model.predict_proba(rows)).max() < 1e-6


@pytest.mark.parametrize("family", ["knn", "ensemble"])
def test_the_estimate_sums_to_the_predicted_probability(family):
    model = _model(family)
    rows = _frame(60, seed=3).drop(columns="y")
    frame = model.explain(rows, background=_frame(80, seed=4))
    assert frame.attrs["output"] == "probability of 'yes'" and "permutation estimate" in frame.attrs["method"]
    proba = model.predict_proba(rows)[:, list(model.classes_).index("yes")]
    assert np.abs(frame.sum(axis=1).to_numpy() - proba).max() < 1e-6


def test_regression_contributions_sum_to_the_prediction():
    data = _frame().assign(y=lambda f: 3 * f["key"])
    model = automl.AutoMLRegressor(n_trials=1, final_model="refit", families=["lightgbm"], cv=2, n_jobs=1).fit(data.drop(columns="y"),
                                                                                         data["y"])
    frame = model.explain(data.head(50))  # the target column inside X is dropped, as predict drops it
    assert frame.attrs["output"] == "predicted value"
    assert np.abs(frame.sum(axis=1).to_numpy() - model.predict(data.head(50))).max() < 1e-6


def _raised(call):
    with pytest.raises(Exception) as info:
        call()
    return type(info.value)


@pytest.mark.parametrize("family", ["lightgbm", "knn"])
def test_bad_input_raises_what_predict_raises(family):
    model = _model(family)
    rows = _frame(30, seed=5)
    bad = {
        "missing column": rows.drop(columns=["key", "y"]),
        "wrong dtype": rows.drop(columns="y").assign(day=["not a date"] * 30),
        "wrong width": rows.drop(columns=["y", "day"]).to_numpy(),
    }
    for name, X in bad.items():
        expected = _raised(lambda: model.predict(X))
        assert _raised(lambda: model.explain(X)) is expected, name
        assert _raised(lambda: model.feature_importance(X, rows["y"])) is expected, name
    unfitted = automl.AutoMLClassifier()
    expected = _raised(lambda: unfitted.predict(rows))
    assert _raised(lambda: unfitted.explain(rows)) is expected
    assert _raised(lambda: unfitted.feature_importance(rows)) is expected


def _automl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("automl")
    return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_cli_writes_the_contributions_and_refuses_bad_data_writing_nothing(tmp_path):
    model = _model("lightgbm")
    model.save(tmp_path / "model")
    rows = _frame(25, seed=6)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = _automl("explain", str(tmp_path / "model"), str(tmp_path / "rows.csv"), "-o", str(tmp_path / "c.csv"),
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    written = pd.read_csv(tmp_path / "c.csv")
    assert list(written.columns) == ["noise", "key", "colour", "day", "base_value"]
    expected = model.explain(rows)
    assert np.allclose(written.to_numpy(), expected.to_numpy())
    rows.drop(columns="key").to_csv(tmp_path / "bad.csv", index=False)
    out = _automl("explain", str(tmp_path / "model"), str(tmp_path / "bad.csv"), "-o", str(tmp_path / "bad_out.csv"),
                  cwd=tmp_path)
    assert out.returncode != 0 and "missing" in out.stderr and "'key'" in out.stderr
    assert not (tmp_path / "bad_out.csv").exists()
    out = _automl("explain", str(tmp_path / "model"), str(tmp_path / "rows.csv"), "--class", "maybe",
                  "-o", str(tmp_path / "class_out.csv"), cwd=tmp_path)
    assert out.returncode != 0 and "'maybe' is not a class" in out.stderr
    assert not (tmp_path / "class_out.csv").exists()


def test_a_tracked_fit_logs_the_explanation_table_and_plot_on_the_parent_run(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = _frame(150)
    model = automl.fit(data, target="y", n_trials=1, final_model="refit", families=["lightgbm"], cv=2, study_name="explained",
                       tracking=True, tracking_uri=uri, n_jobs=1)
    client = mlflow.MlflowClient(uri)
    parent = client.get_run(model.tracking_run_id_)
    assert parent.info.status == "FINISHED"
    files = {Path(a.path).name for a in client.list_artifacts(parent.info.run_id, "explanations")}
    assert files == {"importance.csv", "importance.png"}
    local = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="explanations/importance.csv",
                                                tracking_uri=uri)
    table = pd.read_csv(local)
    assert table["feature"].iloc[0] == "key" and table["output"].iloc[0] == "log-odds of 'yes'"


def test_the_tracked_explanation_stops_at_its_deadline_and_says_how_many_rows_it_covers(tmp_path):
    """A model whose explanation is slow (1 s per chunk of rows): the tracker's explanation ends by its
    deadline, covering fewer rows, instead of delaying the fit (wall clock around the whole call)."""
    import time as clock

    from automl.tracking.explanations import write_explanations

    class SlowModel:
        schema_ = type("S", (), {"names": ["a", "b"]})()

        def explain(self, rows, **_):
            clock.sleep(1.0)
            frame = pd.DataFrame({"a": np.ones(len(rows)), "b": np.zeros(len(rows)), "base_value": 0.5})
            frame.attrs = {"output": "value", "method": "slow"}
            return frame

    X = pd.DataFrame({"a": np.arange(400.0), "b": np.arange(400.0)})
    started = clock.monotonic()
    written = write_explanations(SlowModel(), X, tmp_path, plot=False, deadline=started + 3.5)
    took = clock.monotonic() - started
    table = pd.read_csv(tmp_path / "importance.csv")
    assert written == ["importance.csv"] and took < 4.6, took
    assert 20 <= table["rows"].iloc[0] < 200 and table["feature"].tolist() == ["a", "b"]


def test_an_input_column_named_like_an_output_column_keeps_its_name():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"base_value": rng.normal(size=120), "class": rng.normal(size=120)})
    y = np.where(X["base_value"] > 0, "a", "b")
    model = automl.AutoMLClassifier(n_trials=1, families=["linear"], cv=2).fit(X, y)
    frame = model.explain(X.head(5))
    assert list(frame.columns) == ["base_value", "class", "base_value_"]
    assert frame["base_value"].abs().mean() > frame["class"].abs().mean()


@pytest.mark.parametrize(("kwargs", "said"), [
    ({"n_permutations": 1.5}, "n_permutations must be a whole number"),
    ({"n_permutations": "10"}, "n_permutations must be a whole number"),
    ({"n_background": None}, "n_background must be a whole number"),
    ({"n_background": True}, "n_background must be a whole number"),
])
def test_explain_counts_are_whole_numbers_or_a_typed_error(kwargs, said):
    with pytest.raises(automl.InvalidParameterError, match=said):
        _model("knn").explain(_frame(5, seed=3).drop(columns="y"), **kwargs)


def test_feature_importance_repeats_are_a_number_not_a_flag():
    with pytest.raises(automl.InvalidParameterError, match="n_repeats"):
        _model("knn").feature_importance(_frame(20, seed=3), n_repeats=True)


def test_one_row_explained_against_itself_is_warned_about():
    with pytest.warns(UserWarning, match="one row against itself"):
        _model("knn").explain(_frame(1, seed=3).drop(columns="y"))


def test_feature_importance_takes_weights_as_score_does_and_says_when_it_is_undefined():
    model, rows = _model("lightgbm"), _frame(200, seed=4)
    plain = model.feature_importance(rows, n_repeats=2)
    # all the weight on rows of one class: ROC AUC is undefined there, so is every importance
    one_class = np.where(rows["y"] == "yes", 1.0, 0.0)
    with pytest.warns(UserWarning, match="is undefined on these"):
        weighted = model.feature_importance(rows, n_repeats=2, sample_weight=one_class)
    assert weighted["importance_mean"].isna().all() and not plain["importance_mean"].isna().any()
    named = model.feature_importance(rows.assign(w=np.linspace(0.1, 1.0, 200)), n_repeats=2, sample_weight="w")
    assert set(named["feature"]) == set(plain["feature"]) and not named["importance_mean"].equals(
        plain["importance_mean"])
