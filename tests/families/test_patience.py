"""The boosters' early stopping: a patience of 50 rounds plus ``early_stopping_rate`` times the best round (issue 16).

Checked on each booster's own record of its held-out loss (LightGBM's ``evals_result_``, XGBoost's
``evals_result()``, CatBoost's ``get_evals_result()``), not on a count our code keeps: the round kept is the best on
that record, the boosting went on for the patience after it, and the model predicts with that round.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import automl
from automl.exceptions import InvalidParameterError
from automl.families import get_family
from automl.families._early_stopping import PATIENCE_BASE, PATIENCE_RATE, Patience, patience_rounds
from automl.families.base import BuildContext

BOOSTERS = ["lightgbm", "xgboost", "catboost"]
GROWN = 0.3  # AutoGluon's rate, pinned (the default is 0: a fixed patience)


def test_patience_grows_with_the_best_round_and_a_rate_of_zero_keeps_it_fixed():
    improving_until = 1000
    grown, fixed = Patience(50, 0.3), Patience(50, 0.0)
    stops = {}
    for name, patience in (("grown", grown), ("fixed", fixed)):
        for r in range(5000):
            if patience.update(r, 1.0 / (r + 1) if r < improving_until else 1.0):
                stops[name] = r
                break
    assert grown.best_round == fixed.best_round == improving_until - 1
    assert stops["fixed"] == improving_until - 1 + 50
    assert stops["grown"] == improving_until - 1 + 50 + int(0.3 * improving_until)
    assert patience_rounds(50, -1.0, 1000) == 50  # a negative rate is no rate


def _slow_data(n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 1.0 * rng.normal(size=n)
    return X, y


def _held_out_curve(family: str, estimator) -> list[float]:
    curves = get_family(family).learning_curves(estimator)
    return list(curves["valid_loss"])


@functools.cache
def _fit(family: str, rate: float):
    X, y = _slow_data()
    params = {**get_family(family).space().defaults(), "learning_rate": 0.05, "early_stopping_rate": rate}
    estimator = get_family(family).build(params, BuildContext("regression", 0, len(y), 1))
    return estimator.fit(X, y), X


@pytest.mark.parametrize("family", BOOSTERS)
def test_each_booster_keeps_its_best_held_out_round_after_the_grown_patience(family):
    assert get_family(family).space().defaults()["early_stopping_rate"] == PATIENCE_RATE == 0.0
    grown, X = _fit(family, GROWN)
    fixed, _ = _fit(family, PATIENCE_RATE)
    curve, fixed_curve = _held_out_curve(family, grown), _held_out_curve(family, fixed)
    best = int(np.argmin(curve))
    kept = grown.refit_hints_["n_estimators"]
    assert kept == best + 1  # the round kept is the best on the booster's own record
    assert len(curve) - 1 - best >= patience_rounds(PATIENCE_BASE, GROWN, best + 1)
    # the same trees up to where the fixed patience stopped: the grown one went on, and did no worse there
    assert len(curve) > len(fixed_curve)
    np.testing.assert_allclose(curve[:len(fixed_curve)], fixed_curve, rtol=1e-6)
    assert min(curve) <= min(fixed_curve)
    assert len(fixed_curve) - 1 - int(np.argmin(fixed_curve)) == PATIENCE_BASE


@pytest.mark.parametrize("family", BOOSTERS)
def test_each_booster_predicts_with_the_round_it_kept(family):
    estimator, X = _fit(family, GROWN)
    kept = estimator.refit_hints_["n_estimators"]
    model = estimator.model_
    if family == "lightgbm":
        expected = model.booster_.predict(X, num_iteration=kept)
    elif family == "xgboost":
        expected = model.get_booster().predict(__import__("xgboost").DMatrix(X), iteration_range=(0, kept))
        assert kept < model.get_booster().num_boosted_rounds()
    else:  # CatBoost's use_best_model drops the rounds after the best one
        assert model.tree_count_ == kept
        return
    np.testing.assert_allclose(estimator.predict(X), expected, rtol=1e-6)


def test_a_patience_pin_of_the_wrong_type_is_refused_before_the_search(tmp_path):
    X, y = _slow_data(200)
    import pandas as pd

    frame = pd.DataFrame(X, columns=list("abcd")).assign(y=y)
    with pytest.raises(InvalidParameterError, match="early_stopping_rate"):
        automl.fit(frame, target="y", families=["lightgbm"], n_trials=1,
                   search_space={"lightgbm": {"early_stopping_rate": "slow"}})
    with pytest.raises(InvalidParameterError, match="early_stopping_rounds"):
        automl.fit(frame, target="y", families=["xgboost"], n_trials=1,
                   search_space={"xgboost": {"early_stopping_rounds": 2.5}})


@pytest.mark.parametrize("family", BOOSTERS)
def test_a_booster_saved_before_the_rate_loads_with_its_fixed_patience(family):
    import pickle

    estimator, X = _fit(family, GROWN)
    old = pickle.loads(pickle.dumps(estimator))
    del old.__dict__["early_stopping_rate"]  # as a model pickled before the rate existed
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.get_params()["early_stopping_rate"] == 0.0 and repr(loaded).startswith("EarlyStopping")
    np.testing.assert_allclose(loaded.predict(X), estimator.predict(X))
