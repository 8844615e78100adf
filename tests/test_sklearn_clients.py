"""The estimators as scikit-learn's own tools use them: meta-estimators with worker processes, the inputs
scikit-learn accepts, no MLflow run per fold, and the positive class of binary metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score

import automl
from automl.exceptions import DataValidationError


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


# -- 2. the inputs scikit-learn accepts ---------------------------------------------------------------
FAST = dict(families=["linear"], n_trials=1, isolation="none", ensemble=False, tracking=False)


def test_a_list_of_lists_and_a_frame_of_an_array_are_read_like_the_array():
    X, y = _frame()
    array = X.to_numpy()
    model = automl.AutoMLClassifier(cv=3, **FAST).fit(array.tolist(), y.tolist())
    expected = model.predict_proba(array)
    assert list(model.schema_.names) == ["x0", "x1", "x2"]
    np.testing.assert_allclose(model.predict_proba(array.tolist()), expected)
    np.testing.assert_allclose(model.predict_proba(pd.DataFrame(array)), expected)  # integer column names
    framed = automl.AutoMLClassifier(cv=3, **FAST).fit(pd.DataFrame(array), y)
    np.testing.assert_allclose(framed.predict_proba(pd.DataFrame(array)), expected)
    np.testing.assert_allclose(framed.predict_proba(array), expected)


def test_a_frame_of_an_array_with_its_target_column_predicts_as_at_fit_target_and_extra_columns_included():
    X, y = _frame()
    frame = pd.DataFrame(X.to_numpy())  # integer names 0, 1, 2
    frame["label"] = y
    model = automl.fit(frame, "label", cv=3, **FAST)
    assert list(model.schema_.names) == ["x0", "x1", "x2"]
    expected = model.predict_proba(frame.drop(columns="label"))
    np.testing.assert_allclose(model.predict_proba(frame), expected)  # the frame fit took, its target in it
    with pytest.warns(UserWarning, match="not seen at fit: \\['note'\\]"):
        np.testing.assert_allclose(model.predict_proba(frame.assign(note="n")), expected)
    assert model.score(frame) == pytest.approx(model.score(frame[[2, 0, 1, "label"]]))
    with pytest.raises(DataValidationError, match=r"missing: \['x1'\]"):
        model.predict(frame.drop(columns=[1]))


def test_a_column_vector_target_is_raveled_with_scikit_learns_warning():
    from sklearn.exceptions import DataConversionWarning

    X, y = _frame()
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        model = automl.AutoMLClassifier(cv=3, **FAST).fit(X, y.reshape(-1, 1))
    assert sorted(model.classes_.tolist()) == ["no", "yes"]
    with pytest.warns(DataConversionWarning):
        automl.AutoMLClassifier(cv=3, **FAST).fit(X, pd.DataFrame({"label": y}))


def test_cv_as_train_test_index_pairs_is_used_as_given():
    from sklearn.model_selection import KFold

    X, y = _frame()
    pairs = list(KFold(3).split(X))
    model = automl.AutoMLClassifier(cv=pairs, **FAST).fit(X, y)
    assert model.leaderboard().shape[0] == 1
    from_generator = automl.AutoMLClassifier(cv=KFold(3).split(X), **FAST).fit(X, y)
    np.testing.assert_allclose(from_generator.predict_proba(X), model.predict_proba(X))
    with pytest.raises(automl.InvalidParameterError, match="not a pair of 1-D integer index arrays"):
        automl.AutoMLClassifier(cv=[(0.5, 1.5)], **FAST).fit(X, y)


def test_what_is_truly_wrong_is_still_refused_with_the_exception_scikit_learn_expects():
    X, y = _frame()
    with pytest.raises(ValueError, match="Reshape your data") as info:
        automl.AutoMLClassifier(cv=3, **FAST).fit(X["a"].to_numpy(), y)
    assert isinstance(info.value, (automl.AutoMLError, TypeError))  # was an InputTypeError: still one
    with pytest.raises(ValueError, match=r"Reshape your data: X.to_frame\(\) if it is one feature"):
        automl.AutoMLClassifier(cv=3, **FAST).fit(X["a"], y)  # a Series has no reshape
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        automl.AutoMLClassifier(cv=3, **FAST).fit(X, None)
    with pytest.raises(automl.InputTypeError, match="rows of different lengths"):
        automl.AutoMLClassifier(cv=3, **FAST).fit([[1, 2], [3]] * 20, [0, 1] * 20)
    with pytest.raises(automl.InputTypeError, match="DataFrame of shape"):
        automl.AutoMLClassifier(cv=3, **FAST).fit(X, pd.DataFrame({"a": y, "b": y}))


def test_an_unknown_setting_is_refused_by_the_constructor_and_set_params_with_the_closest_name():
    with pytest.raises(automl.InputTypeError, match="unexpected keyword argument 'familes'.*did you mean 'families'"):
        automl.AutoMLRegressor(familes=["linear"])
    model = automl.AutoMLClassifier(**FAST)
    with pytest.raises(ValueError, match="unknown setting 'n_trial'; did you mean 'n_trials'") as info:
        model.set_params(n_trials=2, n_trial=3)
    assert isinstance(info.value, automl.InvalidParameterError) and model.n_trials == 1  # nothing set
    assert model.set_params(n_trials=2, seed=3).get_params()["n_trials"] == 2


def test_a_score_undefined_on_the_rows_given_is_nan_with_scikit_learns_warning_naming_why():
    from sklearn.exceptions import UndefinedMetricWarning

    X, y = _frame()
    model = automl.AutoMLClassifier(cv=3, **FAST).fit(X, y)
    one_class = y == y[0]
    with pytest.warns(UndefinedMetricWarning, match=r"roc_auc undefined on these rows \(y holds 1 of the 2 classes\)"):
        assert np.isnan(model.score(X[one_class], y[one_class]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.score(X, y) > 0.5  # both classes: no warning
    regressor = automl.AutoMLRegressor(cv=3, **FAST).fit(X, X["a"] * 2.0)
    y_none = pd.Series([np.nan] * 5)  # rows whose target is missing are left out of the scores: none left
    with pytest.warns(UndefinedMetricWarning, match=r"rmse, mae, r2 undefined on these rows \(0 row\(s\) with a target\)"):
        assert np.isnan(regressor.score(X.head(5), y_none))


def test_a_classifier_scored_on_no_rows_gives_nan_for_every_metric_with_the_warning():
    """Before, a classifier's evaluate and score on zero rows (or on rows whose targets are all missing) raised
    numpy's IndexError: the empty truth array was float, and log loss indexes the probabilities with it."""
    from sklearn.exceptions import UndefinedMetricWarning

    X, y = _frame()
    model = automl.AutoMLClassifier(cv=3, **FAST).fit(X, y)
    for rows, truth in ((X.head(0), y[:0]), (X.head(4), pd.Series([None] * 4, dtype=object))):
        with pytest.warns(UndefinedMetricWarning, match="undefined on these rows"):
            values = model.evaluate(rows, truth)
        assert sorted(values) == ["accuracy", "f1", "log_loss", "roc_auc"] and all(np.isnan(list(values.values())))


def test_score_and_evaluate_take_sample_weight_as_scikit_learns_score_does():
    X, y = _frame()
    model = automl.AutoMLClassifier(cv=3, **FAST).fit(X, y)
    half = np.r_[np.zeros(45), np.ones(45)]
    assert model.score(X, y, sample_weight=half) == pytest.approx(model.score(X.iloc[45:], y[45:]))
    assert model.evaluate(X, y, sample_weight=np.ones(90)) == model.evaluate(X, y)
    with pytest.raises(DataValidationError, match=r"sample_weight has 3 values but the data has 90 rows"):
        model.score(X, y, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(DataValidationError, match=r"sample_weight holds 90 negative value\(s\)"):
        model.evaluate(X, y, sample_weight=-np.ones(90))


# -- 4. tracking: the one-call fit tracks, the estimator classes (cloned per fold) do not ---------------
def _runs(uri: str) -> list:
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(ids, run_view_type=ViewType.ALL) if ids else []


def test_cross_val_score_logs_nothing_by_default_and_automl_fit_logs_its_run(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOML_TRACKING", raising=False)  # the users' default: tracking not turned off
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    X, y = _frame()
    scores = cross_val_score(automl.AutoMLClassifier(families=["linear"], n_trials=2, cv=3), X, y, cv=3)
    assert np.isfinite(scores).all()
    assert list(work.iterdir()) == []  # no mlruns, no mlflow.db
    assert _runs(uri) == []
    model = automl.fit(X.assign(label=y), "label", families=["linear"], n_trials=2, cv=3)
    assert model.tracking_run_id_ in {run.info.run_id for run in _runs(uri)}
    assert automl.AutoMLClassifier().get_params()["tracking"] is False


# -- 5. the positive class of a binary target: the minority class by default, or pos_label -------------
def _churn(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X, np.where(X["a"] + 0.5 * rng.normal(size=n) > 1.0, "churn", "stay")  # churn: about a fifth


def test_binary_metrics_are_about_the_minority_class_churn_by_default(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from sklearn.metrics import f1_score, precision_score, recall_score

    X, y = _churn()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model = automl.fit(X.assign(y=y), "y", metric="f1", families=["linear"], n_trials=1, cv=3, isolation="none",
                       tracking=True, tracking_uri=uri)
    assert model.pos_label_ == "churn" and model.classes_.tolist() == ["churn", "stay"]  # classes_ stay sorted
    predicted = model.predict(X)
    scores = model.evaluate(X, y)
    assert scores["f1"] == pytest.approx(f1_score(y, predicted, pos_label="churn"))
    assert scores["f1"] != pytest.approx(f1_score(y, predicted, pos_label="stay"))
    board = model.leaderboard()
    assert board["pos_label"].tolist() == ["churn"]
    assert board["f1_mean"].iloc[0] == pytest.approx(model.best_score_)
    run = MlflowClient(uri).get_run(model.tracking_run_id_)
    assert run.data.params["pos_label"] == "churn"
    assert "automl.logging_failed" not in run.data.tags and model.model_uri_  # the model (and its metric) was logged
    saved = automl.load(model.save(tmp_path / "model"))  # the metric about class 0 pickles with the model
    assert saved.evaluate(X, y)["f1"] == pytest.approx(scores["f1"])
    stay = automl.AutoMLClassifier(metric="precision", pos_label="stay", families=["linear"], n_trials=1, cv=3,
                                   isolation="none").fit(X, y)
    assert stay.pos_label_ == "stay"
    assert stay.evaluate(X, y)["precision"] == pytest.approx(precision_score(y, stay.predict(X), pos_label="stay"))
    assert stay.evaluate(X, y)["f1"] == pytest.approx(f1_score(y, stay.predict(X), pos_label="stay"))
    assert recall_score(y, stay.predict(X), pos_label="stay") > 0.9


def test_a_pos_label_that_is_not_a_class_is_refused_before_the_search_with_a_suggestion(tmp_path):
    X, y = _churn()
    with pytest.raises(automl.InvalidParameterError, match="pos_label='chrun' is not a class.*did you mean 'churn'"):
        automl.AutoMLClassifier(pos_label="chrun", families=["linear"], n_trials=1, study_name="s",
                                storage=str(tmp_path / "s.journal")).fit(X, y)
    assert not (tmp_path / "s.journal").exists()
    with pytest.raises(automl.InvalidParameterError, match="applies to a binary target"):
        automl.fit(X.assign(y=X["a"]), "y", pos_label="churn", families=["linear"], n_trials=1)


def test_a_frame_of_an_array_at_predict_is_read_by_position_like_the_array():
    X, y = _frame()
    model = automl.AutoMLClassifier(cv=3, **FAST).fit(X, y)  # named columns a, b, c
    np.testing.assert_allclose(model.predict_proba(pd.DataFrame(X.to_numpy())), model.predict_proba(X))


def test_n_jobs_none_means_one_thread_as_in_scikit_learn():
    """Before, n_jobs=None (scikit-learn's default meaning one job) was refused as not a whole number."""
    from sklearn.base import clone

    from automl._fit.problem import resolve_n_jobs

    X, y = _frame()
    model = clone(automl.AutoMLClassifier(**{**FAST, "n_jobs": None})).fit(X, y)
    assert model.n_jobs is None and resolve_n_jobs(None) == 1
    with pytest.raises(automl.InvalidParameterError, match=r"or None \(1, as in scikit-learn\), got 0"):
        automl.AutoMLClassifier(**{**FAST, "n_jobs": 0}).fit(X, y)


def test_a_best_score_of_zero_is_zero_not_nan():
    """Before, ``float(value or nan)`` turned a best trial's score of 0.0 (ROC AUC 0 on 4 rows, a perfect RMSE) into
    NaN in ``best_score_`` while the leaderboard showed 0.0."""
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(frame, target="y", cv=2, **FAST)
    assert model.leaderboard()["roc_auc_mean"].iloc[0] == 0.0
    assert model.best_score_ == 0.0


def test_a_model_fitted_on_an_array_reads_a_named_frame_by_position_with_scikit_learns_warning():
    from sklearn import config_context
    from sklearn.ensemble import StackingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression

    X, y = _frame()
    model = automl.AutoMLClassifier(families=["linear"], n_trials=1, cv=3, isolation="none", ensemble=False,
                                    tracking=False).fit(X.to_numpy(), y)
    assert not hasattr(model, "feature_names_in_")
    shuffled = X[list(reversed(X.columns))].set_axis(list(X.columns), axis=1)  # names that say nothing of order
    with pytest.warns(UserWarning, match="fitted without feature names; its columns are read by position"):
        by_frame = model.predict_proba(shuffled)
    np.testing.assert_array_equal(by_frame, model.predict_proba(shuffled.to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert permutation_importance(model, X, y, n_repeats=2, random_state=0).importances.shape == (X.shape[1], 2)
        with config_context(transform_output="pandas"):  # the final estimator is fitted on an array, given a frame
            stack = StackingClassifier([("lr", LogisticRegression())], final_estimator=automl.AutoMLClassifier(
                families=["linear"], n_trials=1, cv=2, isolation="none", ensemble=False, tracking=False), cv=3)
            assert stack.fit(X, y).predict(X.head(4)).shape == (4,)
    with pytest.raises(DataValidationError, match="missing"):  # another width is not read by position
        model.predict(X.iloc[:, :-1])


def test_groups_and_sample_weight_are_keywords_so_a_third_positional_argument_is_not_read_as_groups():
    X, y = _frame()
    model = automl.AutoMLClassifier(families=["linear"], n_trials=1, cv=3, isolation="none", tracking=False)
    with pytest.raises(TypeError, match="positional argument"):  # scikit-learn's fit(X, y, sample_weight) habit
        model.fit(X, y, np.ones(len(y)))
    assert not hasattr(model, "best_params_")
    assert model.fit(X, y, sample_weight=np.ones(len(y))).cv_ == "stratified_kfold:3"  # no groups read


def test_clone_copies_settings_in_the_form_a_pickle_keeps_and_names_an_unread_iterator():
    import types

    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from automl.exceptions import InputTypeError

    X, y = _frame()
    fresh = automl.AutoMLClassifier(families=["linear"], n_trials=1, isolation="none", ensemble=False, tracking=False,
                                    cv=KFold(3).split(X))
    with pytest.raises(InputTypeError, match=r"cv is a one-shot iterator \(generator\), which clone"):
        clone(fresh)
    fitted = fresh.fit(X, y)  # its fit read the pairs: a clone takes them
    twin = clone(fitted)
    assert [(list(a), list(b)) for a, b in twin.cv.pairs] == [(list(a), list(b)) for a, b in KFold(3).split(X)]
    assert twin.fit(X, y).cv_ == fitted.cv_
    proxy = automl.AutoMLClassifier(families=["linear"], n_trials=1, cv=3, isolation="none", ensemble=False,
                                    tracking=False, search_space=types.MappingProxyType({"linear": {"alpha": 1.0}}))
    copied = clone(proxy)
    assert copied.search_space == {"linear": {"alpha": 1.0}} and copied.fit(X, y).best_params_["alpha"] == 1.0


def test_log_probabilities_groups_as_a_column_vector_and_the_unseeded_tag_read_as_scikit_learn_reads_them():
    from sklearn.model_selection import cross_val_predict

    X, y = _frame()
    model = automl.AutoMLClassifier(families=["linear"], n_trials=1, cv=3, isolation="none", ensemble=False,
                                    tracking=False)
    logs = cross_val_predict(model, X, y, cv=2, method="predict_log_proba")
    assert logs.shape == (len(y), 2) and np.allclose(np.exp(logs).sum(axis=1), 1.0)
    groups = np.repeat(np.arange(9), 10)[:, None]  # (n, 1), as a target may be
    assert model.fit(X, y, groups=groups).cv_.startswith("group:")
    with pytest.raises(DataValidationError, match=r"groups must be one label per row .* got shape \(90, 2\)"):
        model.fit(X, y, groups=np.zeros((90, 2)))
    assert model.__sklearn_tags__().non_deterministic is False
    assert model.set_params(seed=None).__sklearn_tags__().non_deterministic is True
