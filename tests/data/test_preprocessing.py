"""The per-fold encodings: one-hot numbers are clipped to the training range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl.data.preprocessing import TabularPreprocessor


def test_onehot_numbers_are_clipped_to_the_training_range_before_scaling():
    train = pd.DataFrame({"area": [50.0, 100.0, 150.0, np.nan]})
    encoder = TabularPreprocessor("onehot").fit(train)
    far = pd.DataFrame({"area": [10_000.0, -5.0, 120.0, np.nan]})
    inside = pd.DataFrame({"area": [150.0, 50.0, 120.0, np.nan]})
    np.testing.assert_allclose(encoder.transform(far), encoder.transform(inside))
    assert encoder.transform(far)[:, 0].max() == encoder.transform(train)[:, 0].max()


def test_a_linear_model_does_not_extrapolate_past_the_training_values():
    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(50, 150, 300)})
    frame["price"] = 1_000 * frame["area"] + rng.normal(0, 1_000, 300)
    model = automl.fit(frame, target="price", families=["linear"], n_trials=1, cv=3, tracking=False, ensemble=False)
    at_edge, far = model.predict(pd.DataFrame({"area": [frame["area"].max(), 100 * frame["area"].max()]}))
    assert far == at_edge


def test_ordinal_and_native_numbers_are_left_as_they_are():
    train = pd.DataFrame({"area": [50.0, 100.0]})
    for encoding in ("ordinal", "native"):
        out = TabularPreprocessor(encoding).fit(train).transform(pd.DataFrame({"area": [1e6]}))
        assert out[0, 0] == 1e6  # trees cannot extrapolate anyway
