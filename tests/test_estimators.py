"""The one-call fit and the scikit-learn estimators: dtypes, labels, predict contract, sklearn use."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import automl
from automl import AutoMLClassifier, AutoMLRegressor

FAST = dict(n_trials=3, families=["linear", "lightgbm"], cv=3, n_jobs=1)


@pytest.mark.parametrize("fixture,task,metric", [
    ("binary_df", "binary", "roc_auc"),
    ("multiclass_df", "multiclass", "log_loss"),
    ("regression_df", "regression", "rmse"),
])
def test_fit_on_a_frame_of_every_dtype(request, fixture, task, metric):
    df = request.getfixturevalue(fixture)
    model = automl.fit(df, target="label", **FAST)
    assert model.task_ == task and model.metric_.name == metric
    board = model.leaderboard()
    assert list(board.columns[:4]) == ["rank", "trial", "family", "params"]
    assert {f"{metric}_mean", f"{metric}_std", "fit_time", "state"} <= set(board.columns)
    assert board["rank"].iloc[0] == 1
    predictions = model.predict(df)
    assert len(predictions) == len(df)
    if task == "regression":
        assert np.corrcoef(predictions, df["label"])[0, 1] > 0.9
    else:
        assert set(predictions) <= set(df["label"])  # string labels come back as given
        proba = model.predict_proba(df)
        assert proba.shape == (len(df), df["label"].nunique())
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        assert list(model.classes_) == sorted(df["label"].unique())
        assert (predictions == df["label"]).mean() > 0.7


def test_score_and_evaluate_use_the_search_metric(regression_df, binary_df):
    reg = automl.fit(regression_df, target="label", **FAST)
    scores = reg.evaluate(regression_df)
    assert set(scores) == {"rmse", "mae", "r2"}
    assert reg.score(regression_df) == pytest.approx(-scores["rmse"])  # losses negated: greater is better
    X, y = regression_df.drop(columns="label"), regression_df["label"]
    assert reg.score(X, y) == reg.score(regression_df)
    clf = automl.fit(binary_df, target="label", metric="accuracy", **FAST)
    assert clf.score(binary_df) == pytest.approx((clf.predict(binary_df) == binary_df["label"]).mean())


def test_predict_contract(binary_df):
    model = automl.fit(binary_df, target="label", **FAST)
    X = binary_df.drop(columns="label")
    base = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(X[X.columns[::-1]]), base)  # bit-identical
    with pytest.raises(automl.DataValidationError, match=r"missing: \['city'\]"):
        model.predict(X.drop(columns="city"))
    with pytest.warns(UserWarning, match="dropping 1 column") as record:
        model.predict(X.assign(surprise=1))
    assert len(record) == 1
    with pytest.warns(UserWarning, match="not seen at fit.*'city'"):
        model.predict(X.assign(city="atlantis"))
    assert model.predict(X.iloc[:0]).shape == (0,)
    assert model.predict_proba(X.iloc[:0]).shape == (0, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.predict(X.iloc[:1]).shape == (1,)
        model.predict(binary_df)  # the target column itself is dropped silently


def test_numpy_arrays_and_estimators_work_like_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = (X[:, 0] > 0).astype(int)
    clf = AutoMLClassifier(**FAST)
    assert clone(clf).get_params() == clf.get_params()
    clf.fit(X, y)
    assert clf.n_features_in_ == 4 and (clf.predict(X) == y).mean() > 0.9
    scores = cross_val_score(AutoMLClassifier(n_trials=1, families=["linear"], cv=3), X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.8).all()
    pipe = make_pipeline(FunctionTransformer(lambda a: a * 2.0), AutoMLRegressor(n_trials=1, families=["linear"], cv=3))
    pipe.fit(X, X[:, 1] * 3)
    assert pipe.score(X, X[:, 1] * 3) > -0.1


def test_feature_names_in_only_for_text_column_names_and_no_attribute_outlives_a_refit():
    """As in scikit-learn: ``feature_names_in_`` after a frame with text column names only (an array, or a frame
    with integer names, has none), and a second fit replaces every fitted attribute of the first."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    binary = (X[:, 0] > 0).astype(int)
    three = np.digitize(X[:, 0], [-0.4, 0.4])
    clf = AutoMLClassifier(n_trials=1, families=["linear"], cv=3, n_jobs=1, isolation="none")
    clf.fit(pd.DataFrame(X, columns=["a", "b", "c"]), binary)
    assert list(clf.feature_names_in_) == ["a", "b", "c"] and clf.pos_label_ == 1
    clf.fit(X, three)  # an array, multiclass: neither the names nor the binary fit's positive class stay
    assert not hasattr(clf, "feature_names_in_") and not hasattr(clf, "pos_label_")
    assert clf.n_features_in_ == 3 and list(clf.classes_) == [0, 1, 2]
    clf.fit(pd.DataFrame(X), binary)
    assert not hasattr(clf, "feature_names_in_") and clf.pos_label_ == 1
    assert (clf.predict(X) == clf.predict(pd.DataFrame(X))).all()


def test_groups_from_a_column_never_share_folds():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=60), "patient": np.repeat([f"p{i}" for i in range(12)], 5)})
    df["y"] = (df["x"] > 0).astype(int)
    for kwargs in ({"groups": "patient", "cv": 4}, {"cv": "group:patient"}):
        model = automl.fit(df, target="y", n_trials=1, families=["linear"], n_jobs=1, **kwargs)
        assert model.cv_.startswith("group:")
        assert "patient" not in model.feature_names_in_


def test_other_cv_schemes_through_fit(regression_df):
    for cv in (0.25, "repeated:3x2", "time:3"):
        model = automl.fit(regression_df, target="label", n_trials=1, families=["linear"], cv=cv, n_jobs=1)
        assert model.leaderboard()["state"].iloc[0] == "complete"


def test_string_class_labels_and_explicit_task(binary_df):
    df = binary_df.assign(label=binary_df["label"].map({"yes": 1, "no": 0}))
    model = automl.fit(df, target="label", task="binary", metric="f1", **FAST)
    assert model.classes_.tolist() == [0, 1]
    with pytest.raises(automl.InvalidParameterError, match="task must be one of"):
        automl.fit(df, target="label", task="classification")


def test_an_array_at_predict_is_read_in_fit_column_order(binary_df):
    X = binary_df[["x", "ratio", "flag"]].astype(float)
    model = AutoMLClassifier(n_trials=1, families=["linear"], cv=3).fit(X, binary_df["label"])
    np.testing.assert_array_equal(model.predict_proba(X.to_numpy()), model.predict_proba(X))
    with pytest.raises(automl.DataValidationError, match="X has 2 features, but AutoMLClassifier is expecting 3 features"):
        model.predict(X.to_numpy()[:, :2])


def test_default_cv_tolerates_a_class_smaller_than_the_folds_with_a_warning():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=63)})
    df["y"] = np.where(df["x"] > 0, "a", "b")
    df.loc[:2, "y"] = "rare"  # 3 rows, fewer than the 5 default folds
    with pytest.warns(UserWarning, match=r"'rare' \(3 rows\) have fewer rows than the 5 folds.*cv=3"):
        model = automl.fit(df, target="y", n_trials=1, families=["linear"], n_jobs=1)
    assert model.predict_proba(df).shape == (63, 3)
    with pytest.raises(automl.DataValidationError, match="use fewer folds"):
        automl.fit(df, target="y", n_trials=1, families=["linear"], cv=5)


@pytest.mark.parametrize("cv, warned", [("kfold:3", "kfold:3"), ("repeated:3x2", "repeated:3x2"),
                                        (0.25, "holdout:0.25"), (3, None), ("group:3", None)])
def test_groups_given_with_a_cv_form_that_ignores_them_are_warned_of(cv, warned):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "g": np.repeat(np.arange(12), 10)})
    frame["y"] = frame["a"] + 0.1 * rng.normal(size=120)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = automl.fit(frame, "y", groups="g", cv=cv, families=["linear"], n_trials=1, tracking=False,
                           isolation="none")
    said = [str(w.message) for w in caught if "groups were given but" in str(w.message)]
    if warned is None:
        assert not said and model.cv_.startswith("group:")
    else:
        assert len(said) == 1 and said[0].startswith(f"groups were given but cv={warned} does not use them, so rows "
                                                      "of one group may be both trained on and validated on; use "
                                                      "cv='group:")
