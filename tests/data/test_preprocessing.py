"""The per-fold encodings: one-hot numbers are clipped to the training range, the others to float32's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_ordinal_and_native_numbers_past_float32_are_clipped_to_its_range_and_others_untouched():
    big = float(np.finfo(np.float32).max)
    train = pd.DataFrame({"area": [50.0, 1e300, -1e39, np.nan]})
    for encoding in ("ordinal", "native"):
        encoder = TabularPreprocessor(encoding).fit(train)
        assert encoder.transform(train)[:, 0].tolist()[:3] == [50.0, big, -big]
        assert np.isnan(encoder.transform(train)[3, 0])
        assert np.isfinite(encoder.transform(train)[:3].astype(np.float32)).all()
        usual = pd.DataFrame({"area": [3.0e38, -7.25, 1e-300, np.nan]})
        np.testing.assert_array_equal(encoder.transform(usual)[:, 0], usual["area"].to_numpy())


@pytest.mark.parametrize("family", ["random_forest", "extra_trees", "xgboost"])
def test_families_that_read_float32_fit_and_predict_numbers_past_its_range(family):
    """Before, scikit-learn's forests failed every trial (and raised at predict) on a number past float32's range,
    and XGBoost's trials failed: "Input X contains infinity or a value too large for dtype('float32')"."""
    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["y"] = frame["a"] + 0.1 * rng.normal(size=120)
    frame.loc[0, "a"], frame.loc[1, "b"] = 1e300, -1e39
    model = automl.fit(frame, "y", families=[family], n_trials=1, cv=2, ensemble=False, tracking=False)
    assert model.leaderboard()["state"].tolist() == ["complete"]
    rows = pd.DataFrame({"a": [1e308, float(np.finfo(np.float32).max)], "b": [0.0, 0.0]})
    first, second = model.predict(rows)
    assert first == second


def test_onehot_scaling_of_numbers_near_float64s_limit_stays_finite():
    """Before, a column of 1e308s overflowed the one-hot encoding's mean and spread to infinity, every value became
    NaN, and every linear and k-NN trial failed as "Input X contains NaN" on data without a missing value."""
    train = pd.DataFrame({"big": [1e308, 1e308, 0.0, 0.0, np.nan], "low": [-1e308, 1.0, 2.0, -1e308, 3.0]})
    encoder = TabularPreprocessor("onehot").fit(train)
    out = encoder.transform(train)
    assert np.isfinite(out).all()
    assert out[0, 0] > out[2, 0] and out[0, 1] < out[1, 1]  # the order of the values is kept


@pytest.mark.parametrize("family", ["linear", "knn"])
def test_scaled_families_learn_from_a_column_near_float64s_limit(family):
    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"noise": rng.normal(size=90), "y": np.where(np.arange(90) % 3 == 0, "p", "q")})
    frame["flag"] = np.where(frame["y"] == "p", 1e308, 0.0)
    model = automl.fit(frame, "y", families=[family], n_trials=1, cv=3, ensemble=False, tracking=False)
    assert model.leaderboard()["state"].tolist() == ["complete"]
    assert model.best_score_ > 0.95
