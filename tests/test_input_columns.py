"""What fit was given, read back the same way: the input's width with a constant column dropped, a target given as
values (a column vector, a nullable Int64 array, column 3 of ``pd.DataFrame(array)``), and a feature that shares the
target's name. Each case failed before (a refused predict on the fit's own array, pandas' bare ``ValueError``, float
class labels, "pass y" for a frame that holds the target, a feature taken for the target)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import DataConversionWarning

import automl
from automl.exceptions import InputTypeError, InvalidParameterError

QUICK = dict(n_trials=1, families=["linear"], cv=2, n_jobs=1, isolation="none")


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})


def test_a_constant_column_is_part_of_the_input_width_and_the_fit_array_predicts():
    X = np.c_[_frame().to_numpy(), np.ones(60)]
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(UserWarning, match="dropping 1 constant column"):
        model = automl.AutoMLClassifier(**QUICK).fit(X, y)
    assert model.n_features_in_ == 3 and model.schema_.names == ["x0", "x1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the constant column is dropped silently
        assert model.predict(X).shape == (60,)
    with pytest.raises(automl.DataValidationError, match="expecting 3 features"):
        model.predict(X[:, :2])
    named = automl.AutoMLClassifier(**QUICK).fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    assert list(named.feature_names_in_) == ["a", "b", "c"] and named.n_features_in_ == 3
    assert named.predict(X).shape == (60,)


@pytest.mark.parametrize("shape", ["column", "frame"])
def test_automl_fit_reads_a_one_column_target_as_the_estimators_do(shape):
    X = _frame()
    y = (X["a"] > 0).astype(int).to_numpy()
    target = y[:, None] if shape == "column" else pd.DataFrame({"t": y})
    with pytest.warns(DataConversionWarning, match="column-vector"):
        model = automl.fit(X, target=target, tracking=False, **QUICK)
    assert list(model.classes_) == [0, 1]
    with pytest.raises(InputTypeError, match="one column"):
        automl.fit(X, target=np.c_[y, y], tracking=False, **QUICK)


def test_a_nullable_integer_target_keeps_integer_labels_through_every_entry_point():
    X = _frame()
    t = pd.array([*((X["a"] > 0).astype(int)[:-1]), None], dtype="Int64")
    for model in (automl.fit(X, target=t, tracking=False, **QUICK),
                  automl.AutoMLClassifier(**QUICK).fit(X, t),
                  automl.fit(X.assign(t=t), target="t", tracking=False, **QUICK)):
        assert list(model.classes_) == [0, 1] and model.predict(X).dtype.kind in "iu"


def test_column_3_of_a_frame_of_an_array_is_the_target_for_predict_score_and_evaluate():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 4))
    A[:, 3] = A[:, 0] > 0
    df = pd.DataFrame(A)
    model = automl.fit(df, target=3, tracking=False, **QUICK)
    assert model.target_name_ == "x3" and model.n_features_in_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the target column is not an unexpected one
        assert model.predict(df).shape == (60,)
    assert model.score(df) > 0.7 and set(model.evaluate(df)) >= {"roc_auc"}


def test_a_feature_named_like_the_target_given_apart_is_never_taken_for_it():
    X = _frame()
    target = (X["a"] > 0).astype(int)  # a Series named "a", as a feature is
    model = automl.AutoMLClassifier(**QUICK).fit(X, target)
    assert model.target_name_ == "a"
    with pytest.raises(InvalidParameterError, match="pass y: the target was given apart from X"):
        model.score(X)
    assert model.score(X, target) > 0.7
