"""A column with no value in a fold's rows is filled without numpy's warning reaching the user."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import automl


def test_a_column_empty_in_a_fold_fits_without_numpys_all_nan_warning():
    """Before, "RuntimeWarning: All-NaN slice encountered" reached stderr: np.errstate does not silence it."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=100), "sparse": np.nan})
    frame.loc[[3, 4], "sparse"] = 1.0
    frame["y"] = (frame["a"] > 0).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        automl.fit(frame, target="y", n_trials=2, families=["linear", "torch_mlp"], cv=5, tracking=False,
                   isolation="none", ensemble=False)
    assert not [w for w in caught if "All-NaN" in str(w.message)]
