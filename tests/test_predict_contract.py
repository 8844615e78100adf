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
