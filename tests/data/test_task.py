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
        ([3, 5, 6, 7, 5, 4], "multiclass"),
        (list(range(30)), "regression"),
        ([0.5, 1.2, 3.3], "regression"),
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
