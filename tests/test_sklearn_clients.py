"""The estimators as scikit-learn's own tools use them: meta-estimators with worker processes, the inputs
scikit-learn accepts, no MLflow run per fold, and the positive class of binary metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score

import automl


def _frame(n: int = 90, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + 0.5 * rng.normal(size=n) > 0, "yes", "no")
    return X, y


# -- 1. joblib's loky workers (n_jobs=2) start our spawned trial workers ------------------------------
def test_cross_val_score_with_two_joblib_workers_runs_isolated_trials():
    X, y = _frame()
    clf = automl.AutoMLClassifier(families=["linear"], n_trials=2, cv=3, tracking=False)
    scores = cross_val_score(clf, X, y, cv=2, n_jobs=2, error_score="raise")
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_grid_search_with_two_joblib_workers_runs_isolated_trials():
    X, y = _frame()
    clf = automl.AutoMLClassifier(families=["linear"], n_trials=2, cv=3, tracking=False)
    search = GridSearchCV(clf, {"seed": [0, 1]}, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    assert search.best_params_["seed"] in (0, 1)
    assert search.best_estimator_.predict(X.head(3)).shape == (3,)
