"""``calibrate`` (``"auto"`` by default): the final model's probabilities temperature-scaled when that scores better
on cross-fitted folds. Tested on real fits of a family whose probabilities are over-confident by design
(``benchmarks.shapes.SHARP_LOGIT``), judged on fresh rows the fit never saw, and its pieces on their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import automl
from automl.calibration import TemperatureScaled, fit_temperature, scale_probabilities
from automl.config import resolve_settings
from automl.ensemble import cross_fitted_scores
from automl.evaluation.metrics import get_metric
from automl.exceptions import AutoMLError, InvalidParameterError
from benchmarks.shapes import blobs

ROOT = Path(__file__).resolve().parents[1]
FIT = {"n_trials": 3, "cv": 3, "tracking": False, "seed": 0, "pruner": "none"}


def _log_loss(model, frame: pd.DataFrame) -> float:
    proba = model.predict_proba(frame.drop(columns="y"))
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(frame)), frame["y"].to_numpy()], 1e-15, 1))))


@pytest.fixture(scope="module")
def sharp_family():
    """The over-confident family, registered for the module (saving a model needs it too)."""
    from automl.families import register_family, unregister_family

    register_family("sharp_logit", "benchmarks.shapes:SHARP_LOGIT", replace=True)
    yield "sharp_logit"
    unregister_family("sharp_logit")


@pytest.fixture(scope="module")
def sharp(sharp_family):
    frame = blobs(900)
    scaled = automl.fit(frame, target="y", families=[sharp_family], ensemble=False, **FIT)
    left = automl.fit(frame, target="y", families=[sharp_family], ensemble=False, calibrate=False, **FIT)
    return scaled, left


def test_the_fitted_temperature_undoes_a_known_sharpening():
    rng = np.random.default_rng(0)
    p = scale_probabilities(np.exp(1.5 * rng.standard_normal((20000, 3))), 1.0)
    y = np.array([rng.choice(3, p=row) for row in p])
    assert fit_temperature(scale_probabilities(p, 0.5), y) == pytest.approx(2.0, rel=0.05)
    assert fit_temperature(p, y) == pytest.approx(1.0, rel=0.05)
    assert fit_temperature(p, np.zeros(len(y), dtype=int)) == 1.0  # one class: nothing to fit


def test_scaling_keeps_each_rows_class_order_and_a_temperature_of_one_changes_nothing():
    p = scale_probabilities(np.random.default_rng(1).random((50, 4)), 1.0)
    for t in (0.3, 1.0, 7.0):
        scaled = scale_probabilities(p, t)
        assert np.allclose(scaled.sum(axis=1), 1.0) and (scaled.argmax(axis=1) == p.argmax(axis=1)).all()
    assert np.allclose(scale_probabilities(p, 1.0), p)


def test_each_folds_temperature_is_fitted_without_the_fold_it_scores():
    """Fold 0's predictions are over-confident, fold 1's calibrated: fold 0's temperature comes from fold 1 (about 1,
    so its score hardly moves) and fold 1's from fold 0 (softening, so its score gets worse). A temperature fitted on
    all rows would have improved fold 0 a lot."""
    rng = np.random.default_rng(0)
    n = 4000
    truth = scale_probabilities(np.exp(1.5 * rng.standard_normal((n, 3))), 1.0)
    y = np.array([rng.choice(3, p=row) for row in truth])
    first, second = np.arange(n // 2), np.arange(n // 2, n)
    oof = truth.copy()
    oof[first] = scale_probabilities(truth[first], 0.25)
    evaluator = SimpleNamespace(metrics=[get_metric("log_loss", "multiclass")], splits=[(second, first), (first, second)],
                                weights=None, classes=None)
    plain = cross_fitted_scores([oof[None]], y, evaluator, rounds=1)["log_loss"]
    scaled = cross_fitted_scores([oof[None]], y, evaluator, rounds=1, temperature=True)["log_loss"]
    assert scaled[0] == pytest.approx(plain[0], rel=0.05)
    assert scaled[1] > plain[1] * 1.05
    everywhere = fit_temperature(oof, y)
    looked_ahead = get_metric("log_loss", "multiclass").compute(y[first], scale_probabilities(oof[first], everywhere))
    assert looked_ahead < plain[0] * 0.8


def test_the_temperature_and_the_cross_fitted_scores_stop_at_their_deadline_within_one_step():
    """Before, the temperature's search had no deadline: on 8,000 rows of 1,000 classes it took 3 s past the refit
    deadline (7.8 s with the folds' own), and a 20 s fit on a loaded core ended at 33.5 s, past its promise."""
    import time

    from automl.evaluation.deadlines import OutOfTime

    rng = np.random.default_rng(0)
    p = scale_probabilities(np.exp(rng.standard_normal((3000, 300))), 1.0)
    y = rng.integers(0, 300, 3000)
    clock = time.monotonic()
    alone = fit_temperature(p, y)
    step = time.monotonic() - clock  # the whole search, many steps
    deadline = time.monotonic() + step / 4
    with pytest.raises(OutOfTime, match="the temperature's search ran past its deadline"):
        fit_temperature(p, y, deadline=deadline)
    assert time.monotonic() - deadline < step / 2 and alone > 0
    evaluator = SimpleNamespace(metrics=[get_metric("log_loss", "multiclass")], weights=None, classes=None,
                                splits=[(np.arange(1500, 3000), np.arange(1500)), (np.arange(1500), np.arange(1500, 3000))])
    with pytest.raises(OutOfTime):
        cross_fitted_scores([p[None]], y, evaluator, rounds=1, deadline=time.monotonic() - 1, temperature=True)


def test_an_over_confident_model_is_scaled_and_scores_better_on_rows_the_fit_never_saw(sharp):
    scaled, left = sharp
    fresh = blobs(3000, seed=7)
    assert isinstance(scaled.model_, TemperatureScaled) and not isinstance(left.model_, TemperatureScaled)
    calibration = scaled.calibration_
    assert calibration["applied"] and calibration["temperature"] > 2.0, calibration
    assert _log_loss(scaled, fresh) < 0.9 * _log_loss(left, fresh)
    X = fresh.drop(columns="y")
    wrapper = scaled.model_
    try:
        scaled.model_ = wrapper.model  # the same fit without its temperature
        unscaled = scaled.predict_proba(X)
    finally:
        scaled.model_ = wrapper
    assert np.allclose(scaled.predict_proba(X), scale_probabilities(unscaled, calibration["temperature"]))
    assert not np.allclose(unscaled, scaled.predict_proba(X))
    assert (scaled.predict(X) == left.predict(X)).mean() > 0.99  # the class order of each row is kept
    assert left.calibration_ is None and "temperature" not in left.model_source_
    assert "temperature-scaled" in scaled.model_source_


def test_the_calibrated_row_leads_the_board_with_the_score_the_fit_reports(sharp):
    scaled, _ = sharp
    board = scaled.leaderboard()
    top = board.iloc[0]
    assert top["family"] == "calibrated" and pd.isna(top["trial"]) and top["rank"] == 1
    assert top["log_loss_mean"] == pytest.approx(scaled.best_score_)
    assert top["log_loss_mean"] == pytest.approx(np.mean(scaled.calibration_["fold_scores"]["log_loss"]))
    assert scaled.best_score_ < np.mean(scaled.calibration_["uncalibrated_fold_scores"]["log_loss"])
    assert board.iloc[1]["trial"] == scaled.best_trial_


def test_a_blend_and_its_stack_are_scaled_as_a_whole():
    """Two signals, one for the linear family and one for k-NN (as tests/test_stacking.py): the fit blends and
    stacks them; ``calibrate=True`` scales that final model, whatever its metric."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1200, 4))
    logit = 3.0 * X[:, 0] + 5.0 * (X[:, 2] ** 2 + X[:, 3] ** 2 < 1.2) - 2.5
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(y=(logit + rng.logistic(size=1200) > 0) * 1)
    model = automl.fit(frame, target="y", n_trials=6, families=["knn", "linear"], cv=3, tracking=False, seed=0,
                       pruner="none", calibrate=True)
    calibration = model.calibration_
    assert calibration["of"].startswith("stack of trial") and calibration["applied"], calibration
    assert isinstance(model.model_, TemperatureScaled) and model.model_source_.startswith("stack of trial")
    X = frame.drop(columns="y")
    inner = model.model_.model
    assert np.allclose(model.predict_proba(X), scale_probabilities(inner.predict_scores(model.schema_.transform(X)),
                                                                   calibration["temperature"]))
    assert list(model.leaderboard()["family"][:2]) == ["calibrated", "stack"]


def test_a_rank_metric_is_left_alone_unless_calibrate_is_true():
    frame = blobs(600, classes=2)
    auto = automl.fit(frame, target="y", families=["linear"], ensemble=False, **FIT)
    assert auto.metric_.name == "roc_auc" and auto.calibration_ is None
    forced = automl.fit(frame, target="y", families=["linear"], ensemble=False, calibrate=True, **FIT)
    assert forced.calibration_ is not None and forced.calibration_["temperature"] > 0
    X = frame.drop(columns="y")
    assert (forced.predict(X) == auto.predict(X)).all()  # the same trial, scaled or not: the same labels


def test_calibrate_is_auto_or_a_bool_and_true_is_refused_for_regression_with_nothing_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidParameterError, match=r"calibrate must be 'auto', True or False, got 'yes'"):
        resolve_settings({"calibrate": "yes"}, "classifier")
    frame = blobs(200).assign(y=lambda f: f["x0"] * 2.0)
    with pytest.raises(InvalidParameterError, match=r"calibrate=True scales predicted class probabilities") as info:
        automl.fit(frame, target="y", n_trials=2, calibrate=True, tracking=True,
                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert isinstance(info.value, (AutoMLError, ValueError))
    assert list(tmp_path.iterdir()) == []
    model = automl.fit(frame, target="y", n_trials=2, families=["linear"], tracking=False)  # auto: regression as is
    assert model.calibration_ is None


def test_a_saved_calibrated_model_loads_predicts_the_same_and_explains(sharp, tmp_path):
    scaled, _ = sharp
    X = blobs(40, seed=3).drop(columns="y")
    scaled.save(tmp_path / "model")
    loaded = automl.load(tmp_path / "model")
    assert np.allclose(loaded.predict_proba(X), scaled.predict_proba(X))
    frame = scaled.explain(X.head(5), n_background=20, n_permutations=2)
    assert frame.shape[0] == 5 and "permutation" in frame.attrs["method"]


def test_a_tracked_calibrated_fit_logs_its_temperature_and_its_pyfunc_predicts_the_same(tmp_path, sharp_family):
    import mlflow

    frame = blobs(600)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model = automl.fit(frame, target="y", families=[sharp_family], ensemble=False, n_trials=2, cv=3, seed=0,
                       pruner="none", tracking=True, tracking_uri=uri, study_name="scaled")
    assert model.calibration_["applied"], model.calibration_
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("scaled").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.metrics["temperature"] == pytest.approx(model.calibration_["temperature"])
    assert parent.data.metrics["log_loss"] == pytest.approx(model.best_score_)
    frame.to_pickle(tmp_path / "df.pkl")
    code = (
        "import mlflow, pandas as pd\n"
        "from automl.families import register_family\n"
        "register_family('sharp_logit', 'benchmarks.shapes:SHARP_LOGIT')\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        f"df = pd.read_pickle({str(tmp_path / 'df.pkl')!r})\n"
        f"print(list(mlflow.pyfunc.load_model({model.model_uri_!r}).predict(df.drop(columns='y'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == str(list(model.predict(frame)))


def test_the_command_line_takes_calibrate_no(tmp_path):
    blobs(300).to_csv(tmp_path / "train.csv", index=False)
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "fit", "train.csv", "--target", "y", "--n-trials", "2", "--families", "linear",
                          "--calibrate", "no", "--no-tracking", "--output", "model"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    loaded = automl.load(tmp_path / "model")
    assert loaded.get_params()["calibrate"] is False and loaded.calibration_ is None
