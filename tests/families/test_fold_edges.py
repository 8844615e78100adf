"""The boosters on what a fold may hold: many classes of few rows, a class of one row, a column with one value.

Before, each of these failed every trial of the family (scikit-learn refused the 10 % early-stopping split with
fewer rows than classes, or a class of one row; histogram boosting refused a column with no value in its rows),
and a fit of only those families ended with no model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl.families._early_stopping import early_stopping_split

BOOSTERS = ["lightgbm", "hist_gradient_boosting", "xgboost", "catboost"]
ONE = dict(n_trials=1, tracking=False, isolation="none", ensemble=False)


def _states(model, family: str) -> list[str]:
    board = model.leaderboard()
    return board.loc[board["family"] == family, "state"].tolist()


@pytest.mark.parametrize("family", BOOSTERS)
def test_a_booster_fits_sixty_classes_of_six_rows(family):
    pytest.importorskip(family if family != "hist_gradient_boosting" else "sklearn")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(60), 6)
    frame = pd.DataFrame({"a": labels / 6 + rng.normal(size=360), "b": rng.normal(size=360),
                          "y": [f"c{v}" for v in labels]})
    model = automl.fit(frame, target="y", families=[family], cv=3, **ONE)
    assert _states(model, family) == ["complete"]
    assert model.predict_proba(frame.head(5)).shape == (5, 60)


def test_histogram_boosting_fits_a_class_of_one_row_per_fold_and_a_column_of_one_value():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "one": np.nan})
    frame.loc[3, "one"] = 1.0
    frame["y"] = 0
    frame.loc[[10, 20], "y"] = 1  # one row of the class in each fold's training part
    model = automl.fit(frame, target="y", families=["hist_gradient_boosting"], cv=2, **ONE)
    assert _states(model, "hist_gradient_boosting") == ["complete"]


def test_the_held_out_rows_hold_every_class_and_the_training_rows_too():
    y = np.repeat(np.arange(300), 4)
    fit_rows, val_rows = early_stopping_split(y, True, 0.1, seed=0)
    assert len(val_rows) == 300 and set(y[val_rows]) == set(y[fit_rows]) == set(range(300))
    assert early_stopping_split(np.r_[0, np.ones(99, int)], True, 0.1, seed=0) is None  # a class of one row
    fit_rows, val_rows = early_stopping_split(np.arange(1000) % 2, True, 0.1, seed=0)
    assert len(val_rows) == 100  # the usual 10 % where it holds every class
