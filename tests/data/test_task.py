"""Task inference and label encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.task import check_task, encode_labels, infer_task


@pytest.mark.parametrize(
    "values,task",
    [
        (["a", "b", "a"], "binary"),
        ([True, False, True], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([0, 1, 1, 0], "binary"),
        ([3, 5, 6, 7, 5, 4, 6, 3, 7, 4], "multiclass"),
        # more than half the values distinct: some class would have one row, which classification refuses
        ([3, 5, 6, 7, 5, 4], "regression"),
        (np.arange(10.0) * 2, "regression"),
        (list(range(30)), "regression"),
        ([0.5, 1.2, 3.3], "regression"),
        ([0.0, 0.5, 0.5, 0.0], "regression"),  # two values, not whole numbers: no classifier takes them
        ([0.0, 1.0, 1.0], "binary"),
        ([2.0, 2.0], "binary"),  # one value: refused by check_task as a single class
        (pd.Categorical(["x", "y", "z"]), "multiclass"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values)) == task


def test_string_labels_are_encoded_and_kept():
    codes, classes = encode_labels(pd.Series(["cat", "dog", "cat", "emu"]))
    assert classes.tolist() == ["cat", "dog", "emu"]
    assert classes[codes].tolist() == ["cat", "dog", "cat", "emu"]


def test_check_task_explains_mismatches():
    assert "task='regression'" in check_task("binary", pd.Series([0.1, 0.7, 0.3]), "y")[0] or \
        "continuous" in check_task("binary", pd.Series([0.1, 0.7, 0.3]), "y")[0]
    assert "use task='multiclass'" in check_task("binary", pd.Series([1, 2, 3]), "y")[0]
    assert "single class" in check_task("binary", pd.Series([1, 1, 1]), "y")[0]
    assert check_task("regression", pd.Series(np.arange(5.0)), "y") == []


@pytest.mark.parametrize("values", [[0.0, 0.5, 0.5, 0.0], [1.5, 2.5], [0.0, 1.0, 1.0], [3, 5, 6, 7, 5, 4], ["a", "b"],
                                    list(range(30)), [0.1, 0.7, 0.3]])
def test_the_inferred_task_is_one_the_check_accepts(values):
    y = pd.Series(values)
    assert check_task(infer_task(y), y, "y") == []


def test_a_fit_on_a_two_valued_fractional_target_is_a_regression(binary_df):
    import automl

    df = binary_df.assign(label=np.where(binary_df["label"] == "yes", 0.5, 0.0))
    model = automl.fit(df, "label", n_trials=1, families=["linear"], tracking=False)
    assert type(model).__name__ == "AutoMLRegressor" and model.predict(df.head(3)).dtype.kind == "f"
