"""The schema frozen at fit and enforced at predict."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl.data import Schema
from automl.exceptions import DataValidationError
from tests.conftest import mixed_frame


def test_every_supported_dtype_gets_a_role_and_a_canonical_column():
    frame = mixed_frame(30)
    schema = Schema.from_frame(frame)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "x": "numeric", "count": "numeric", "ratio": "numeric", "flag": "boolean",
        "city": "categorical", "colour": "categorical", "note": "categorical", "when": "datetime",
    }
    out = schema.transform(frame, warn=False)
    assert [c for c in out.columns if c.startswith("when__")] == [
        "when__year", "when__month", "when__day", "when__day_of_week", "when__day_of_year", "when__elapsed_days"
    ]
    assert out["count"].dtype == "float64" and out["count"].isna().sum() == frame["count"].isna().sum()
    assert out["flag"].tolist() == frame["flag"].astype(float).tolist()
    assert isinstance(out["city"].dtype, pd.CategoricalDtype)
    assert list(out["city"].cat.categories) == ["lima", "oslo", "rome"]


def test_reordered_columns_give_identical_canonical_frames():
    frame = mixed_frame(25)
    schema = Schema.from_frame(frame)
    a = schema.transform(frame, warn=False)
    b = schema.transform(frame[frame.columns[::-1]], warn=False)
    pd.testing.assert_frame_equal(a, b)


def test_missing_columns_raise_listing_them_and_the_available_ones():
    schema = Schema.from_frame(mixed_frame(10))
    with pytest.raises(DataValidationError, match=r"missing: \['x', 'city'\]") as err:
        schema.transform(mixed_frame(10).drop(columns=["x", "city"]))
    assert "'flag'" in str(err.value)  # the available names are listed too


def test_extra_columns_are_dropped_with_one_warning():
    frame = mixed_frame(10)
    schema = Schema.from_frame(frame)
    with pytest.warns(UserWarning, match=r"dropping 2 column\(s\) not seen at fit: \['extra1', 'extra2'\]") as rec:
        out = schema.transform(frame.assign(extra1=1, extra2=2))
    assert len(rec) == 1
    assert "extra1" not in out.columns


def test_unseen_categories_become_missing_with_a_warning():
    schema = Schema.from_frame(pd.DataFrame({"c": ["a", "b"], "n": [1, 2]}))
    with pytest.warns(UserWarning, match="not seen at fit.*'c'"):
        out = schema.transform(pd.DataFrame({"c": ["a", "zzz"], "n": [3, 4]}))
    assert out["c"].isna().tolist() == [False, True]


def test_convertible_dtype_is_converted_and_inconvertible_one_names_the_column():
    schema = Schema.from_frame(pd.DataFrame({"n": [1.5, 2.5]}))
    out = schema.transform(pd.DataFrame({"n": ["3.5", "4"]}), warn=False)
    assert out["n"].tolist() == [3.5, 4.0]
    with pytest.raises(DataValidationError, match="column 'n'.*numeric.*cannot be converted"):
        schema.transform(pd.DataFrame({"n": ["three", "four"]}))


def test_zero_and_one_row_frames():
    schema = Schema.from_frame(mixed_frame(10))
    assert len(schema.transform(mixed_frame(10).iloc[:0], warn=False)) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(schema.transform(mixed_frame(10).iloc[:1])) == 1


def test_schema_round_trips_through_its_dict_form():
    schema = Schema.from_frame(mixed_frame(10))
    assert Schema.from_dict(schema.to_dict()) == schema


def test_nullable_integer_with_pd_na_is_numeric_with_nan():
    frame = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64")})
    out = Schema.from_frame(frame).transform(frame)
    assert np.isnan(out["n"].iloc[1]) and out["n"].iloc[2] == 3.0


def test_learning_a_schema_reads_each_columns_names_once_not_once_per_other_column(monkeypatch):
    # the clash check counted every output name against the whole list: 9 million calls on 3,000 columns
    from automl.data import schema as schema_module

    calls = []
    original = schema_module.ColumnSpec.output_names
    monkeypatch.setattr(schema_module.ColumnSpec, "output_names", lambda self: calls.append(1) or original(self))
    frame = pd.DataFrame(np.zeros((3, 400)), columns=[f"f{i}" for i in range(400)])
    assert len(schema_module.Schema.from_frame(frame).names) == 400
    assert len(calls) <= 2 * 400
