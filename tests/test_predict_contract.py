"""The predict contract (issue 8, item 4): what a fitted model does with frames that differ from the training one."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import automl


@pytest.fixture(scope="module")
def model_and_X():
    rng = np.random.default_rng(0)
    n = 150
    X = pd.DataFrame({
        "x": rng.normal(size=n),
        "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "city": pd.Series(rng.choice(["oslo", "rome", "lima"], n), dtype="str"),
    })
    y = np.where(X["x"] + (X["city"] == "rome") > 0.3, "yes", "no")
    model = automl.fit(X.assign(label=y), target="label", n_trials=2, families=["linear", "lightgbm"], cv=3,
                       tracking=False)
    return model, X


def _quiet(call, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args)


def test_reordered_columns_give_bit_identical_output(model_and_X):
    model, X = model_and_X
    assert np.array_equal(model.predict_proba(X[["city", "count", "x"]]), _quiet(model.predict_proba, X))


def test_missing_columns_are_listed_with_the_available_ones(model_and_X):
    model, X = model_and_X
    with pytest.raises(automl.DataValidationError, match=r"missing: \['count'\]; the frame has \['city', 'x'\]"):
        model.predict(X.drop(columns="count"))


def test_extra_columns_are_dropped_with_one_warning(model_and_X):
    model, X = model_and_X
    with pytest.warns(UserWarning) as record:
        out = model.predict_proba(X.assign(extra=1.0, other="a"))
    assert len(record) == 1 and "['extra', 'other']" in str(record[0].message)
    assert np.array_equal(out, model.predict_proba(X))


def test_unseen_categories_are_missing_values_with_a_warning(model_and_X):
    model, X = model_and_X
    with pytest.warns(UserWarning, match="categories not seen at fit are treated as missing in: 'city'"):
        out = model.predict_proba(X.assign(city="paris"))
    assert np.array_equal(out, model.predict_proba(X.assign(city=pd.Series([None] * len(X), dtype="str"))))


def test_convertible_dtypes_are_converted_and_others_name_the_column(model_and_X):
    model, X = model_and_X
    as_text = X.assign(x=X["x"].astype(str), count=X["count"].astype("float64"))
    assert np.allclose(model.predict_proba(as_text), model.predict_proba(X))
    with pytest.raises(automl.DataValidationError, match="column 'x' has dtype str .*cannot be converted"):
        model.predict(X.assign(x="high"))


def test_zero_rows_and_one_row(model_and_X):
    model, X = model_and_X
    assert model.predict(X.head(0)).shape == (0,)
    assert model.predict_proba(X.head(0)).shape == (0, 2)
    one = model.predict(X.head(1))
    assert one.shape == (1,) and one[0] in {"yes", "no"}


def test_infinite_values_are_refused_at_predict_with_the_message_fit_gives(model_and_X):
    model, X = model_and_X
    bad = X.head(6).copy()
    bad.loc[0, "x"], bad.loc[1, "x"] = np.inf, -np.inf
    with pytest.raises(automl.DataValidationError) as at_fit:
        automl.fit(bad.assign(label=["yes", "no"] * 3), target="label", n_trials=1, families=["linear"], cv=2,
                   tracking=False)
    line = "column 'x' holds 2 infinite value(s); replace them"
    assert line in str(at_fit.value)
    for call in (model.predict, model.predict_proba):
        with pytest.raises(automl.DataValidationError, match=r"column 'x' holds 2 infinite value\(s\)") as at_predict:
            call(bad)
        assert str(at_predict.value) == str(at_fit.value)
    # numbers given as text, and a nullable float column, are read the same way
    as_text = bad.assign(x=bad["x"].astype(str))
    nullable = bad.assign(x=pd.array(bad["x"], dtype="Float64"))
    for frame in (as_text, nullable):
        with pytest.raises(automl.DataValidationError, match="column 'x' holds 2 infinite"):
            model.predict(frame)
    assert np.isfinite(model.predict_proba(bad.assign(x=bad["x"].replace([np.inf, -np.inf], np.nan)))).all()


@pytest.mark.parametrize("family", ["random_forest", "torch_mlp"])
def test_families_that_raised_their_own_error_on_infinite_values_now_give_the_typed_one(family):
    """Before, scikit-learn's forests and the nets raised a bare ValueError ("Input X contains infinity") at
    predict while the boosters read infinity as the training range's end; now every family is behind one rule."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    model = automl.fit(X.assign(y=X["a"] + 0.1 * rng.normal(size=80)), "y", n_trials=1, families=[family], cv=2,
                       ensemble=False, tracking=False)
    with pytest.raises(automl.DataValidationError, match=r"column 'b' holds 1 infinite value\(s\)"):
        model.predict(X.head(3).assign(b=[0.0, np.inf, 1.0]))


def test_numbers_for_a_datetime_or_timedelta_column_are_refused_and_an_all_missing_column_is_not():
    """Numbers have no time unit nor epoch: pandas read ints given for a datetime column as nanoseconds since 1970,
    silently (timedelta columns already refused them). A column of nulls only (a served request's) still predicts."""
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=60),
                      "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 60), unit="D"),
                      "wait": pd.to_timedelta(rng.integers(0, 50, 60), unit="h")})
    model = automl.fit(X.assign(y=X["x"] > 0), "y", n_trials=1, families=["linear"], cv=2, tracking=False)
    rows = X.head(3)
    for column in ("when", "wait"):
        with pytest.raises(automl.DataValidationError, match=f"column '{column}' has dtype int64 but was"):
            model.predict(rows.assign(**{column: [1, 2, 3]}))
        nulls = model.predict_proba(rows.assign(**{column: [np.nan] * 3}))
        typed_nulls = rows.assign(**{column: pd.Series([None] * 3, dtype=X[column].dtype)})
        np.testing.assert_array_equal(nulls, model.predict_proba(typed_nulls))


def test_bytes_or_lists_in_a_category_column_at_predict_are_refused_as_at_fit():
    """Before, bytes were read as the text "b'x'" (an unseen level, with a warning) where fit refuses them."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "c": rng.choice(["x", "y"], 60)})
    frame["y"] = (frame["a"] > 0).astype(int)
    model = automl.fit(frame, target="y", n_trials=1, families=["linear"], tracking=False, isolation="none", cv=2)
    X = frame.drop(columns="y").head(3)
    for values, said in (([b"x", b"y", b"x"], "holds bytes values"), ([["x"], "y", "x"], "holds list values")):
        with pytest.raises(automl.DataValidationError, match=said):
            model.predict(X.assign(c=pd.Series(values, dtype=object)))
    assert len(model.predict(X.assign(c=pd.Series(["x", 1, "y"], dtype=object)))) == 3  # a code sent as a number


def test_a_frame_missing_many_columns_is_told_in_a_message_of_bounded_size():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(80, 300)), columns=[f"p{i}" for i in range(300)])
    frame["y"] = (frame.p0 > 0).astype(int)
    model = automl.fit(frame, target="y", families=["linear"], n_trials=1, cv=2, tracking=False, isolation="none")
    with pytest.raises(automl.DataValidationError) as caught:
        model.predict(frame[[f"p{i}" for i in range(10)]])
    said = str(caught.value)
    assert "290 column(s) seen at fit are missing" in said and "and 270 more" in said and len(said) < 1000


def test_booleans_sent_as_text_are_told_a_fix_that_keeps_false_false():
    # Once "convert ... to bool, e.g. y.astype(bool)", which makes "False" True: following it corrupted the labels.

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "b": np.arange(200) % 2 == 0})
    y = X["x"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.AutoMLClassifier(n_trials=1, families=["linear"], cv=2, isolation="none").fit(X, y)
    with pytest.raises(automl.DataValidationError, match=r"y.map\(\{'True': True, 'False': False\}\)") as caught:
        model.score(X, y.astype(str))
    assert "astype(bool)" not in str(caught.value)
    assert model.score(X, y.astype(str).map({"True": True, "False": False})) > 0.9
    with pytest.raises(automl.DataValidationError, match=r"X\['b'\] = X\['b'\].map\(") as caught:
        model.predict(X.assign(b=X["b"].astype(str)))
    fixed = X.assign(b=X["b"].astype(str).map({"True": True, "False": False}))
    assert (model.predict(fixed) == model.predict(X)).all()
