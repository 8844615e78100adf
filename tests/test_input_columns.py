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


# -- targets and messages that said the wrong thing --------------------------------------------------------------
def test_complex_and_date_targets_are_refused_at_fit_and_at_evaluate():
    X = _frame()
    for target, said in ((X["a"].to_numpy() + 1j * X["b"].to_numpy(), "complex numbers"),
                         (pd.Series(pd.date_range("2020", periods=60)), "dates or durations")):
        with pytest.raises(automl.DataValidationError, match=said):
            automl.fit(X.assign(t=target), target="t", tracking=False, **QUICK)
    model = automl.AutoMLRegressor(**QUICK).fit(X, X["a"] * 3)
    with pytest.raises(automl.DataValidationError, match="complex numbers"):
        model.evaluate(X, X["a"].to_numpy() * 3 + 5j)
    with pytest.raises(automl.DataValidationError, match="dates or durations"):
        model.evaluate(X, pd.Series(pd.date_range("2020", periods=60)))
    huge = X["a"].to_numpy() * 3
    huge[0] = 1e308
    with pytest.raises(automl.DataValidationError, match="past float32's range"):
        model.evaluate(X, huge)


def test_refusals_name_a_fix_that_works():
    X = _frame(40)
    with pytest.raises(automl.DataValidationError, match="use AutoMLRegressor"):
        automl.AutoMLClassifier(**QUICK).fit(X, X["a"] * 1.5)
    one_row_class = np.r_[1, np.zeros(39, int)]
    for cv in (2, 0.2):  # neither fewer folds nor a holdout can split a class of one row
        with pytest.raises(automl.DataValidationError, match="merge or drop the classes of one row") as info:
            automl.AutoMLClassifier(**{**QUICK, "cv": cv}).fit(X, one_row_class)
        assert "cv=2 or" not in str(info.value)
    with pytest.raises(automl.DataValidationError, match=r"use cv='group:3'"):
        automl.AutoMLClassifier(**{**QUICK, "cv": "group:5"}).fit(X, np.arange(40) % 2, groups=np.arange(40) % 3)
    model = automl.AutoMLClassifier(**QUICK).fit(X, (X["a"] > 0).astype(int))
    with pytest.raises(automl.DataValidationError, match=r"the model's classes are \[0, 1\] \(int\).*y.astype\(int\)"):
        model.score(X, (X["a"] > 0).astype(int).astype(str))


def test_the_estimators_take_groups_and_sample_weight_as_column_names_as_automl_fit_does():
    X = _frame(40).assign(g=np.repeat([0, 1, 2, 3], 10), w=np.linspace(0.5, 1.5, 40))
    y = (X["a"] > 0).astype(int)
    model = automl.AutoMLClassifier(**{**QUICK, "cv": "group:2"}).fit(X, y, groups="g", sample_weight="w")
    assert list(model.feature_names_in_) == ["a", "b"]
    with pytest.raises(automl.DataValidationError, match="did you mean 'g'"):
        automl.AutoMLClassifier(**QUICK).fit(X, y, groups="gg")
    with pytest.raises(InputTypeError, match="names a column, but X is a ndarray"):
        automl.AutoMLClassifier(**QUICK).fit(X.to_numpy(), y, sample_weight="w")


def test_explaining_no_rows_gives_no_rows():
    X = _frame(40)
    model = automl.AutoMLRegressor(**QUICK).fit(X, 2 * X["a"])
    assert len(model.explain(X.iloc[:0])) == 0


def test_the_fix_given_for_datetimes_of_several_time_zones_runs_and_the_fit_then_takes_them():
    """Before, the message said pd.to_datetime(X['t']), which pandas itself refuses for mixed time zones."""
    utc = pd.date_range("2020-01-01", periods=40, freq="h", tz="UTC")
    X = _frame(40).assign(t=[utc[i] if i % 2 else utc[i].tz_convert("America/New_York") for i in range(40)])
    y = np.arange(40) % 2
    with pytest.raises(automl.DataValidationError, match="convert them: ") as info:
        automl.AutoMLClassifier(**QUICK).fit(X, y)
    fix = str(info.value).split("convert them: ")[1].split("\n")[0]
    exec(fix, {"pd": pd, "X": X})  # noqa: S102 - the line a user would paste
    assert automl.AutoMLClassifier(**QUICK).fit(X, y).n_features_in_ == 3


def test_a_frame_with_multiindex_columns_at_predict_gets_fits_flatten_hint():
    """Before, predict said every column seen at fit was missing, naming tuples."""
    X = _frame(40)
    model = automl.AutoMLRegressor(**QUICK).fit(X, X["a"] * 2.0)
    nested = X.copy()
    nested.columns = pd.MultiIndex.from_tuples([(c, "") for c in X.columns])
    with pytest.raises(automl.DataValidationError, match=r"MultiIndex columns; flatten them first"):
        model.predict(nested)


def test_a_constant_regression_target_is_fitted_with_a_warning():
    """Before, it was fitted silently (a single class is refused for classification)."""
    X = _frame(40)
    with pytest.warns(UserWarning, match=r"target 'y' has a single value \(3.0\): every model will predict it"):
        automl.AutoMLRegressor(**QUICK).fit(X, pd.Series(3.0, index=X.index, name="y"))


def test_an_object_column_of_python_floats_with_none_is_numbers_not_one_category_per_value():
    """A column built from Python floats and None has dtype object: it was used as categories (one level per
    distinct value) and warned as "numbers stored as text". scikit-learn reads it as numbers; so does automl now,
    at fit and at predict, and the caller's frame is left as it was. Whole numbers in an object column stay codes
    (categories, as designed), and the warning no longer calls them text."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120)})
    X["n"] = pd.Series([None if i % 9 == 0 else float(v) for i, v in enumerate(X["a"] * 2 + 1)], dtype=object)
    X["m"] = pd.Series([None if i % 5 == 0 else (1 if i % 2 else 2.5) for i in range(120)], dtype=object)
    y = (X["a"] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "numbers stored as text", no other warning
        model = automl.AutoMLClassifier(**QUICK, tracking=False).fit(X, y)
    kinds = {c.name: c.kind for c in model.schema_.columns}
    assert kinds == {"a": "numeric", "n": "numeric", "m": "numeric"} and X["n"].dtype == object
    as_floats = X.astype({"n": "float64", "m": "float64"})
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(as_floats))
    assert model.predict_proba(as_floats.assign(n=[None] * 120)).shape == (120, 2)  # all missing at predict
    codes = X.assign(k=pd.Series([None if i % 7 == 0 else int(v) for i, v in enumerate(rng.integers(0, 5, 120))],
                                 dtype=object))
    with pytest.warns(UserWarning, match=r"column 'k' holds numbers stored as whole numbers in a column of dtype "
                                         r"object \(codes\); it is used as categories"):
        model = automl.AutoMLClassifier(**QUICK, tracking=False).fit(codes, y)
    assert {c.name: c.kind for c in model.schema_.columns}["k"] == "categorical"
