"""The target a fitted model is scored against (evaluate, score, feature_importance): checked as fit checks its own,
with our typed errors; before, a short y raised numpy's IndexError, text for a regression target a bare ValueError,
an infinite one gave rmse=inf."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=90), "b": rng.normal(size=90)})
    fast = dict(n_trials=1, families=["linear"], cv=3, tracking=False)
    return X, automl.fit(X.assign(y=X["a"] + X["b"]), "y", **fast), automl.fit(X.assign(y=X["a"] > 0), "y", **fast)


@pytest.mark.parametrize("call", ["evaluate", "score", "feature_importance"])
def test_a_y_of_another_length_is_named_with_both_lengths(models, call):
    X, regressor, classifier = models
    for model, y in ((regressor, np.arange(3.0)), (classifier, [True, False])):
        with pytest.raises(automl.DataValidationError, match=r"y has \d values but X has 5 rows; pass one"):
            getattr(model, call)(X.head(5), y)


def test_a_regression_target_must_be_finite_numbers_as_at_fit(models):
    X, regressor, _ = models
    with pytest.raises(automl.DataValidationError) as raised:
        regressor.evaluate(X.head(4), ["a", np.inf, 1.0, "b"])
    assert raised.value.problems == [
        "target 'y' must hold numbers to score a regression model; 2 value(s) are not (e.g. 'a'); convert it with "
        "pd.to_numeric",
        "target 'y' holds 1 infinite value(s); drop or fix those rows",
    ]
    with pytest.raises(automl.DataValidationError, match="holds 1 infinite value") as at_fit:
        automl.fit(X.assign(y=[np.inf] + [1.0] * 89), "y", n_trials=1, families=["linear"], tracking=False)
    assert "target 'y' holds 1 infinite value(s); drop or fix those rows" in str(at_fit.value)
    with pytest.raises(automl.InputTypeError, match=r"y must be one column"):
        regressor.score(X.head(5), np.ones((5, 2)))
    # what was accepted still is: numbers as text, booleans, a missing target left out
    mixed = pd.Series(["1.5", 2, None, True], dtype=object)
    assert regressor.evaluate(X.head(4), mixed) == pytest.approx(
        regressor.evaluate(X.head(4).iloc[[0, 1, 3]], [1.5, 2.0, 1.0]))


def test_classes_not_seen_at_fit_are_listed(models):
    X, _, classifier = models
    with pytest.raises(automl.DataValidationError, match=r"y holds classes not seen at fit: \['maybe'\]"):
        classifier.score(X.head(3), pd.Series([True, "maybe", False], dtype=object))
