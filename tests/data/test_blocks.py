"""The plain numeric columns are checked and converted one block per dtype (automl.data.blocks); each block path
must say and give exactly what the per-column path does, column by column, on the values where they could differ:
integers beyond 2**53 (distinct, but equal once rounded to float64), unsigned and 32-bit dtypes, missing and
infinite values, constant columns, identifiers, columns equal to the target as text or only as numbers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from automl.data import screening, validation
from automl.data.blocks import numeric_blocks
from automl.data.schema import Schema, _convert
from automl.exceptions import DataValidationError

N = 60


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    big = 2**60
    target = pd.Series(rng.integers(0, 3, N), name="y")
    X = pd.DataFrame({
        "big_ids": np.arange(big, big + N, dtype="int64"),  # distinct; all equal as float64
        "big_two": np.array([big, big + 1] * (N // 2), dtype="int64"),  # two values, equal as float64
        "ids": np.arange(N, dtype="int64"),
        "uids": np.arange(N, dtype="uint64")[::-1].copy(),
        "small_ids": np.arange(N, dtype="int32"),
        "const_int": np.full(N, 7, dtype="int64"),
        "const_float": np.full(N, 0.5),
        "const_nan": np.where(np.arange(N) % 2, np.nan, 2.0),
        "all_nan": np.full(N, np.nan),
        "inf": np.where(np.arange(N) == 3, np.inf, 1.0 * np.arange(N)),
        "f32": rng.normal(size=N).astype("float32"),
        "leak_int": target.to_numpy(),
        "leak_float": target.to_numpy().astype(float),  # equal in value: a copy too ("1.0" reads as "1")
        "leak_head": np.r_[target.to_numpy()[:20], np.full(N - 20, 9)],  # the first values only
        "text": [f"t{i % 4}" for i in range(N)],
        "flag": np.arange(N) % 2 == 0,
    })
    return X, target


def test_numeric_blocks_group_plain_numpy_numbers_by_dtype_and_nothing_else():
    X, _ = _frame()
    groups = {str(dtype): names for dtype, names in numeric_blocks(X).items()}
    assert groups["int64"] == ["big_ids", "big_two", "ids", "const_int", "leak_int", "leak_head"]
    assert groups["uint64"] == ["uids"] and groups["int32"] == ["small_ids"] and groups["float32"] == ["f32"]
    assert not {"text", "flag"} & {n for names in groups.values() for n in names}
    assert numeric_blocks(X.set_axis(["a"] * X.shape[1], axis=1)) == {}  # names twice: the per-column paths
    assert numeric_blocks(X.astype({"ids": "Int64"})).get(np.dtype("int64"), []).count("ids") == 0


@pytest.mark.parametrize("drop_constant", [True, False])
def test_screening_each_block_column_gets_the_per_column_verdict(drop_constant):
    X, y = _frame()
    X = X.drop(columns="all_nan")  # refused before screening
    block = screening._numeric_block_verdicts(X, y, drop_constant, skip={"small_ids"})
    assert set(block) == {n for names in numeric_blocks(X).values() for n in names}
    for name, verdict in block.items():
        assert verdict == screening._verdict(X[name], y, drop_constant, name == "small_ids"), name
    assert block["big_ids"] == "identifier" and block["leak_int"] == "leak" and block["small_ids"] == ""
    assert block["big_two"] == "" and block["leak_head"] == "" and block["leak_float"] == "leak"
    assert block["const_int"] == block["const_float"] == ("constant" if drop_constant else "")
    assert block["const_nan"] == ""  # one value and missing cells: a flag, kept


def test_screen_features_warns_and_drops_in_the_frames_column_order():
    X, y = _frame()
    X = X.drop(columns="all_nan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept, dropped = screening.screen_features(X, y)
    assert dropped == ["const_int", "const_float"]
    assert list(kept.columns) == [c for c in X.columns if c not in dropped]
    said = [str(w.message) for w in caught]
    assert [s.split("'")[1] for s in said if "like an identifier" in s] == ["big_ids", "ids", "uids", "small_ids"]
    assert [s.split("'")[1] for s in said if "identical to the target" in s] == ["leak_int", "leak_float"]


def test_feature_problems_of_a_block_column_are_the_per_column_ones():
    X, _ = _frame()
    block = validation._numeric_block_problems(X)
    for name, problem in block.items():
        assert problem == validation._column_problem(name, X[name]), name
    assert "entirely missing" in block["all_nan"] and "1 infinite value(s)" in block["inf"]
    problems = validation.feature_problems(X)
    assert [p.split("'")[1] for p in problems] == ["all_nan", "inf"]


def test_the_schema_converts_a_block_to_what_each_column_converts_to():
    X, _ = _frame()
    X = X.drop(columns=["all_nan", "inf"])  # refused at fit and at predict
    schema = Schema.from_frame(X)
    out = schema.transform(X)
    for spec in schema.columns:
        (name, expected), = _convert(spec, X[spec.name].reset_index(drop=True))[0].items()
        pd.testing.assert_series_equal(out[name], expected, check_names=False), name
    assert out["big_ids"].dtype == "float64" and out["flag"].tolist()[:2] == [1.0, 0.0]
    shuffled = X[X.columns[::-1]].set_index(np.arange(N) + 100)  # any order, any index
    pd.testing.assert_frame_equal(schema.transform(shuffled), out)


def _categorical_cases() -> list[tuple[pd.Series, pd.Series]]:
    """(fit column, predict column) pairs whose predict values match the levels by label, by value or not at all."""
    numbers_fit = pd.Series([101, 102, 7, 7], dtype=object)
    codes_fit = pd.Series(["007", "7.5", "x", "101"])
    return [
        (numbers_fit, pd.Series([101.0, None, "102", 101.5, np.int64(7), "7.0", np.nan, "zz", True], dtype=object)),
        (codes_fit, pd.Series([7.0, 7.5, "x", None, "007", 101, "unseen", np.float32(7.5)], dtype=object)),
        (pd.Series(["a", "b", "c"]), pd.Series(["b", pd.NA, "d", "a"], dtype="str")),
        (pd.Series(pd.Categorical(["lo", "hi"], categories=["lo", "hi", "mid"])),
         pd.Series(pd.Categorical(["mid", "new", None], categories=["mid", "new"]))),
        (pd.Series([1, 2, 3], dtype=object), pd.Series(pd.array([2, None, 9], dtype="Int64"))),
    ]


@pytest.mark.parametrize("case", range(5))
def test_a_few_rows_are_matched_to_the_levels_as_many_rows_are(case):
    # the Python pass (to_codes, a served request) and pandas' vectorised calls (to_labels, a batch) agree value by
    # value, and so do the schema's two paths either side of FEW_ROWS
    from automl.data import schema as schema_module
    from automl.data.categories import fitted_levels, to_codes, to_labels

    fit, incoming = _categorical_cases()[case]
    labels, values = fitted_levels(fit)
    spec = schema_module.ColumnSpec("c", "categorical", "object", labels, (), values)
    expected, unseen = to_labels(incoming, labels, values)
    codes, unseen_codes = to_codes(incoming, labels, values, spec.levels()[1])
    got = [labels[c] if c >= 0 else None for c in codes]
    assert got == [None if pd.isna(v) else v for v in expected.tolist()] and unseen_codes == unseen
    many = pd.concat([incoming] * (schema_module.FEW_ROWS // len(incoming) + 1), ignore_index=True)
    few_out, few_unseen = schema_module._convert(spec, incoming)
    many_out, many_unseen = schema_module._convert(spec, many)
    assert len(many) > schema_module.FEW_ROWS >= len(incoming) and few_unseen == many_unseen == unseen
    pd.testing.assert_series_equal(few_out["c"], many_out["c"].iloc[: len(incoming)])


def test_a_specs_cached_levels_are_not_saved_with_it():
    import pickle

    from automl.data.schema import ColumnSpec

    spec = ColumnSpec("c", "categorical", "str", ("a", "b"), (), ("a", "b"))
    before = pickle.dumps(spec)
    assert spec.levels()[1] == {"a": 0, "b": 1}
    assert pickle.dumps(spec) == before
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and again.levels()[1] == {"a": 0, "b": 1}


def test_a_tall_frame_is_checked_a_few_columns_at_a_time_with_the_same_verdicts(monkeypatch):
    from automl.data import blocks

    X, y = _frame()
    X = X.drop(columns="all_nan")
    whole = (screening._numeric_block_verdicts(X, y, True, set()), validation._numeric_block_problems(X))
    monkeypatch.setattr(blocks, "CHUNK_CELLS", 2 * N)  # two columns per chunk
    assert [len(names) for _, names, _ in blocks.numeric_chunks(X)] == [2, 2, 2, 1, 1, 2, 2, 1]
    assert (screening._numeric_block_verdicts(X, y, True, set()), validation._numeric_block_problems(X)) == whole


def test_the_schema_refuses_infinite_values_in_a_block_and_column_by_column_alike():
    X, _ = _frame()
    X = X.drop(columns="all_nan")
    schema = Schema.from_frame(X.assign(inf=1.0))
    message = "column 'inf' holds 1 infinite value(s); replace them"
    with pytest.raises(DataValidationError, match=re.escape(message)):
        schema.transform(X)  # float64: the block path
    with pytest.raises(DataValidationError, match=re.escape(message)):
        schema.transform(X.assign(inf=pd.array(X["inf"], dtype="Float64")))  # nullable: column by column


def test_a_column_of_one_value_and_missing_cells_is_kept_as_the_flag_it_is():
    """Before, it was dropped as constant ("a single value carries no signal") where its missing cells were the
    signal: a pivot's or a merge's 1/NaN column."""
    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"noise": rng.normal(size=90), "y": np.where(np.arange(90) % 3 == 0, "p", "q")})
    frame["flag"] = np.where(frame["y"] == "p", 1.0, np.nan)
    frame["text_flag"] = pd.Series(np.where(frame["y"] == "p", "yes", None), dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = automl.fit(frame, "y", families=["linear"], n_trials=1, cv=3, ensemble=False, tracking=False)
    assert {"flag", "text_flag"} <= set(model.feature_names_in_)
    assert model.best_score_ > 0.95
