"""Sample weights: every family that takes them uses them, zero weight leaves a row out, the rest refuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.families import get_family, registered_families
from automl.families.pipeline import FamilyPipeline

WEIGHTED = [n for n in registered_families() if get_family(n).sample_weight and not get_family(n).missing_requirements()
            and "table" in get_family(n).inputs]
SCRIPT = str(Path(sys.executable).with_name("automl"))


def _contradicting(n: int = 300) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every point twice: once labelled y = (a > 0), once with the label flipped; ``clean`` marks the first."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (X["a"] > 0).astype(int).to_numpy()
    both = pd.concat([X, X], ignore_index=True)
    return both, np.r_[y, 1 - y], np.r_[np.ones(n, bool), np.zeros(n, bool)]


@pytest.mark.parametrize("family", WEIGHTED)
def test_every_family_that_takes_weights_follows_them(family):
    X, y, clean = _contradicting()
    truth = y[clean]
    accuracy = {}
    for favoured in ("clean", "flipped"):
        w = np.where(clean == (favoured == "clean"), 1.0, 0.02)
        model = FamilyPipeline(family, {}, task="binary", n_classes=2, seed=0).fit(X, y, sample_weight=w)
        accuracy[favoured] = float(np.mean(model.predict_scores(X[clean]).argmax(1) == truth))
    assert accuracy["clean"] > 0.85 and accuracy["flipped"] < 0.15, accuracy


def test_zero_weight_rows_are_left_out_of_training():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    noise = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    X_all = pd.concat([X, noise], ignore_index=True)
    y_all = np.r_[y, rng.integers(0, 2, 100)]
    w = np.r_[np.ones(200), np.zeros(100)]
    plain = FamilyPipeline("linear", {}, task="binary", n_classes=2).fit(X, y.to_numpy())
    weighted = FamilyPipeline("linear", {}, task="binary", n_classes=2).fit(X_all, y_all, sample_weight=w)
    # Only the preprocessing (fitted on all rows, unweighted) differs: the predictions agree closely.
    np.testing.assert_allclose(weighted.predict_scores(X), plain.predict_scores(X), atol=0.03)


def test_a_weighted_fit_leaves_out_families_without_weights_and_scores_with_weights(binary_df):
    w = np.where(binary_df["label"] == binary_df["label"].iloc[0], 3.0, 1.0)
    model = automl.fit(binary_df.assign(w=w), "label", sample_weight="w", n_trials=4, cv=3, tracking=False, n_jobs=1)
    queued = {t.params.get("family") or t.system_attrs["fixed_params"]["family"] for t in model.study_.trials}
    boosters = {f for f in ("catboost", "xgboost") if not get_family(f).missing_requirements()}
    assert queued == {"lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees", "linear"} | boosters
    assert "w" not in model.feature_names_in_
    unweighted = automl.fit(binary_df, "label", n_trials=4, cv=3, tracking=False, n_jobs=1)
    ran, ran_unweighted = model.study_.trials[:4], unweighted.study_.trials[:4]
    assert [t.params for t in ran] == [t.params for t in ran_unweighted]
    assert [t.value for t in ran] != [t.value for t in ran_unweighted]  # the CV scores are weighted


def test_a_study_refuses_to_resume_with_other_weights(binary_df, tmp_path):
    storage = str(tmp_path / "s.journal")
    settings = dict(n_trials=1, families=["linear"], cv=3, tracking=False, study_name="w", storage=storage)
    automl.fit(binary_df, "label", sample_weight=np.ones(len(binary_df)), **settings)
    with pytest.raises(automl.StudyMismatchError):
        automl.fit(binary_df, "label", sample_weight=np.arange(1.0, len(binary_df) + 1), **settings)


def test_the_cli_takes_a_weight_column(binary_df, tmp_path):
    binary_df.assign(w=1.5).to_csv(tmp_path / "train.csv", index=False)
    done = subprocess.run(
        [SCRIPT, "fit", "train.csv", "--target", "label", "--sample-weight", "w", "--n-trials", "2",
         "--families", "linear", "--cv", "3", "--no-tracking", "--output", "model"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "w" not in automl.load(tmp_path / "model").feature_names_in_
    bad = subprocess.run(
        [SCRIPT, "fit", "train.csv", "--target", "label", "--sample-weight", "wt", "--n-trials", "1", "--no-tracking"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert bad.returncode == 2 and "did you mean 'w'" in bad.stderr


def test_evaluate_and_score_take_the_weights_column_by_name_as_fit_does():
    """Before, fit took sample_weight='w' but score(df, sample_weight='w') said "must be one weight per row"."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "w": rng.uniform(0.5, 2, 120)})
    frame["y"] = (frame["a"] + rng.normal(size=120) > 0).astype(int)
    model = automl.fit(frame, target="y", sample_weight="w", n_trials=1, families=["linear"], cv=3,
                       tracking=False, isolation="none")
    by_name = model.evaluate(frame, sample_weight="w")
    assert by_name == model.evaluate(frame.drop(columns="w"), sample_weight=frame["w"].to_numpy())
    assert model.score(frame, sample_weight="w") == model.score(frame.drop(columns="w"), sample_weight=frame["w"])
    with pytest.raises(automl.DataValidationError, match="did you mean 'w'"):
        model.evaluate(frame, sample_weight="ww")


def test_weights_that_leave_validation_parts_unweighted_are_told_so_with_a_fix_that_works():
    from automl.exceptions import DataValidationError

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300)})
    frame["y"] = np.where(frame.a + rng.normal(size=300) > 0, "p", "q")
    w = np.zeros(300)
    w[rng.choice(300, 8, replace=False)] = 1.0
    with pytest.raises(DataValidationError) as caught:
        automl.fit(frame, target="y", families=["linear"], n_trials=1, tracking=False, sample_weight=w)
    said = str(caught.value)
    assert "underflow" not in said and "positive sample_weight" in said and "fewer folds" in said
    rare = frame.assign(y=np.where(np.arange(300) < 3, "rare", "common"))  # one rare row weighted, 2 folds already
    weights = np.ones(300)
    weights[[1, 2]] = 0.0
    with pytest.raises(DataValidationError) as caught:
        automl.fit(rare, target="y", families=["linear"], n_trials=1, tracking=False, sample_weight=weights, cv=2)
    said = str(caught.value)
    assert "use fewer folds" not in said and "cv=2)" not in said and "a larger validation part (e.g. cv=0.3)" in said


def test_a_class_weighted_zero_on_every_row_is_warned_about_by_name():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=240)})
    frame["y"] = np.select([frame.a < -0.5, frame.a < 0.5], ["p", "q"], "r")
    w = np.where(frame.y == "r", 0.0, 1.0)
    with pytest.warns(UserWarning, match=r"class\(es\) 'r' have sample_weight 0 on every row"):
        automl.fit(frame, target="y", families=["linear"], n_trials=1, tracking=False, sample_weight=w,
                   isolation="none")
