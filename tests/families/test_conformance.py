"""One conformance test over every registered family: no per-family branches here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from automl.data import Schema
from automl.families import get_family, registered_families
from automl.families.pipeline import FamilyPipeline
from tests.conftest import mixed_frame

TASKS = ("binary", "multiclass", "regression")


def _data(task: str):
    frame = mixed_frame(90, seed=4)
    X = Schema.from_frame(frame).transform(frame, warn=False)
    if task == "regression":
        y = 2.0 * frame["x"].to_numpy()
        n_classes = 0
    else:
        cut = [0.0] if task == "binary" else [-0.4, 0.4]
        y = np.digitize(frame["x"].to_numpy(), cut)
        n_classes = len(cut) + 1
    return X, y, n_classes


CASES = [(f, t) for f in registered_families() for t in TASKS if get_family(f).supports(t)]


@pytest.mark.parametrize("family,task", CASES)
def test_family_fits_with_defaults_and_predicts_well_formed_scores(family, task):
    X, y, n_classes = _data(task)
    train, valid = np.arange(60), np.arange(60, 90)
    model = FamilyPipeline(family, {}, task=task, n_classes=n_classes, seed=0, n_jobs=1)
    model.fit(X.iloc[train], y[train])
    scores = model.predict_scores(X.iloc[valid])
    assert np.isfinite(scores).all()
    if task == "regression":
        assert scores.shape == (30,)
        assert np.corrcoef(scores, y[valid])[0, 1] > 0.5  # it learned the signal
    else:
        assert scores.shape == (30, n_classes)
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
        assert (scores.argmax(axis=1) == y[valid]).mean() > 1.0 / n_classes
    # Deterministic for a seed, and clone-able.
    again = clone(model).fit(X.iloc[train], y[train]).predict_scores(X.iloc[valid])
    np.testing.assert_allclose(again, scores)


@pytest.mark.parametrize("family", registered_families())
def test_family_space_loads_and_defaults_are_its_first_point(family):
    fam = get_family(family)
    space = fam.space()
    assert space.family == family
    assert space.problems() == []
    assert set(space.defaults()) == set(space.names)
    assert fam.description


@pytest.mark.parametrize("family", registered_families())
def test_refit_hints_round_trip(family):
    X, y, n_classes = _data("binary")
    model = FamilyPipeline(family, {}, task="binary", n_classes=n_classes, seed=0, n_jobs=1).fit(X, y)
    hints = model.refit_hints()
    fam = get_family(family)
    params = fam.space().defaults()
    refit = fam.refit_params(params, [hints, hints]) if fam.refit_params else params
    assert set(params) <= set(refit)
    FamilyPipeline(family, refit, task="binary", n_classes=n_classes, seed=0, n_jobs=1).fit(X, y)


@pytest.mark.parametrize("family", registered_families())
def test_class_absent_from_training_part_gets_a_zero_column(family):
    X, y, _ = _data("multiclass")
    keep = y != 2
    model = FamilyPipeline(family, {}, task="multiclass", n_classes=3, seed=0, n_jobs=1).fit(X[keep], y[keep])
    scores = model.predict_scores(X.head(5))
    assert scores.shape == (5, 3)
    np.testing.assert_allclose(scores[:, 2], 0.0)


def test_unseen_category_in_validation_is_encoded_as_missing():
    frame = pd.DataFrame({"c": pd.Categorical(["a", "b", "c", "a"]), "x": [1.0, 2.0, 3.0, 4.0]})
    from automl.data import TabularPreprocessor

    pre = TabularPreprocessor("native").fit(frame.iloc[:2])  # "c" never seen in training rows
    codes = pre.transform(frame)[:, pre.categorical_indices_[0]]
    assert np.isnan(codes[2]) and not np.isnan(codes[0])
