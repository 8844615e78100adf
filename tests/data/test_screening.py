"""What the screening before the search says of a column: copies of the target whatever their type, identifiers
whatever their dtype."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import automl
from automl.data.screening import screen_features

Y = pd.Series(np.random.default_rng(0).integers(0, 2, 500), name="y")


def _said(X: pd.DataFrame, y: pd.Series) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        screen_features(X, y)
    return " ".join(str(w.message) for w in caught)


@pytest.mark.parametrize(("copy", "target"), [
    (Y.astype(float), Y), (Y.astype(bool), Y), (Y.astype(int), Y.astype(bool)), (Y.astype("Int64"), Y),
    (Y.astype("category"), Y), (Y.astype(float), Y.astype(str)),
], ids=["float-of-int", "bool-of-int", "int-of-bool", "Int64", "category", "float-of-text"])
def test_a_copy_of_the_target_in_another_type_is_warned_about_as_a_leak(copy, target):
    """Before, values were compared as str: a 0.0/1.0 copy of a 0/1 target ("0.0" != "0") and an int copy of a
    bool target were not warned about, and a fit took the leak as its best feature."""
    X = pd.DataFrame({"a": np.random.default_rng(1).normal(size=500), "copy": copy.to_numpy()})
    assert "'copy'" in _said(X, target) and "leak" in _said(X, target)


def test_halves_and_other_numbers_are_not_taken_for_a_copy():
    X = pd.DataFrame({"half": Y.to_numpy() + 0.5, "a": np.random.default_rng(1).normal(size=500)})
    assert "leak" not in _said(X, Y)


def test_an_identifier_stored_as_a_category_is_warned_about_as_one_stored_as_text():
    """Before, only text and integer dtypes were looked at."""
    ids = [f"id{i}" for i in range(500)]
    for column in (ids, pd.Categorical(ids)):
        X = pd.DataFrame({"a": np.random.default_rng(1).normal(size=500), "id": column})
        assert "'id'" in _said(X, Y) and "identifier" in _said(X, Y)


def test_an_identifier_like_column_is_told_what_it_may_be_instead_of_something_false():
    """A real table's state population (int64, a different value in each of 1,200 rows) was told it "cannot
    generalise to new rows", while it was the model's signal (R² 1.0 held out) and is used as a number; ISO
    timestamps stored as text were told to be dropped, not converted."""
    import warnings

    import automl

    rng = np.random.default_rng(0)
    n = 300
    population = rng.choice(np.arange(100_000, 10_000_000), n, replace=False)
    X = pd.DataFrame({"population": population,
                      "stamp": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n * 10)[:n], unit="h"))
                      .strftime("%Y-%m-%dT%H:%M:%S"),
                      "note": [f"ref-{i:05d}x" for i in rng.permutation(n)]})
    y = pd.Series(population / 1e6 + rng.normal(size=n) * 0.01, name="y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        screen_features(X, y)
    said = {str(w.message).split("'")[1]: str(w.message) for w in caught}
    assert "if it is a quantity (a count, an amount) it is used as a number" in said["population"]
    assert "cannot generalise to new rows: drop it;" in said["population"]
    assert "dates stored as text" in said["stamp"] and "pd.to_datetime(X['stamp'])" in said["stamp"]
    assert said["note"].endswith("drop it unless it carries meaning")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(X.assign(y=y).head(240), target="y", n_trials=2, families=["linear"], cv=2,
                           isolation="none", tracking=False)
        prediction = model.predict(X.iloc[240:])  # the held-out stamps and notes are unseen levels: warned
    assert np.corrcoef(prediction, y.iloc[240:])[0, 1] > 0.99  # the quantity is the signal


def test_dates_as_text_with_summer_and_winter_offsets_are_warned_with_the_utc_fix_and_fit():
    # Once a bare ValueError ("Mixed timezones detected") from the identifier warning's date sniff: what
    # df.to_csv of a Europe/Paris column writes.
    stamps = pd.date_range("2020-03-01", periods=200, freq="D", tz="Europe/Paris").astype(str)
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=200), "d": stamps})
    y = pd.Series(np.arange(200) % 2, name="y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        screen_features(X, y)
    said = " ".join(str(w.message) for w in caught)
    assert "dates stored as text" in said and "pd.to_datetime(X['d'], utc=True).dt.tz_convert(None)" in said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(X.assign(y=y), target="y", n_trials=1, families=["linear"], cv=2, isolation="none",
                           tracking=False)
    assert len(model.predict(X)) == 200


def test_whole_numbers_past_2_53_that_floats_merge_are_warned_with_the_text_fix():
    # Once silent: 2**60 and 2**60 + 1 are one float64, so the column's signal was lost (score 0.55 for a perfect
    # feature), and it was not even dropped as constant.
    k = np.arange(200) % 2
    top = np.iinfo("uint64").max
    X = pd.DataFrame({"c": (2**60 + k).astype("int64"), "u": np.array([top - int(j) for j in k], dtype="uint64"),
                      "big_but_apart": (2**60 + 4096 * k).astype("int64"), "n": np.arange(200)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        screen_features(X, pd.Series(k, name="y"))
    said = [str(w.message) for w in caught if "2**53" in str(w.message)]
    assert len(said) == 2 and "'c'" in said[0] and "'u'" in said[1]
    assert "X['c'] = X['c'].astype(str)" in said[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.AutoMLClassifier(n_trials=1, families=["linear"], cv=2, isolation="none").fit(
            X[["c"]].astype(str), k)
    assert model.score(X[["c"]].astype(str), k) == 1.0  # the fix keeps the signal
