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


IMAGE_SHAPE = (4, 4, 1)


def _data(task: str, kind: str = "table"):
    """A small problem whose signal is in column ``x`` (tables) or in the left half of 4x4 images."""
    if kind == "table":
        frame = mixed_frame(90, seed=4)
        signal = frame["x"].to_numpy()
    else:
        rng = np.random.default_rng(4)
        images = rng.normal(size=(90,) + IMAGE_SHAPE)
        signal = images[:, :, :2, 0].mean(axis=(1, 2)) * 2
        frame = pd.DataFrame(images.reshape(90, -1), columns=[f"pixel_{i}" for i in range(16)])
    X = Schema.from_frame(frame).transform(frame, warn=False)
    if task == "regression":
        y = 2.0 * signal
        n_classes = 0
    else:
        cut = [0.0] if task == "binary" else [-0.4, 0.4]
        y = np.digitize(signal, cut)
        n_classes = len(cut) + 1
    return X, y, n_classes


def _pipeline(family: str, params: dict, task: str, n_classes: int, kind: str) -> FamilyPipeline:
    shape = IMAGE_SHAPE if kind == "image" else None
    return FamilyPipeline(family, params, task=task, n_classes=n_classes, seed=0, n_jobs=1, image_shape=shape)


def _first_kind(family: str) -> str:
    return sorted(get_family(family).inputs, reverse=True)[0]  # "table" where supported, else "image"


CASES = [
    (f, t, k)
    for f in registered_families()
    for t in TASKS
    for k in sorted(get_family(f).inputs, reverse=True)
    if get_family(f).supports(t) and get_family(f).missing_requirements() == []
]


@pytest.mark.parametrize("family,task,kind", CASES)
def test_family_fits_with_defaults_and_predicts_well_formed_scores(family, task, kind):
    X, y, n_classes = _data(task, kind)
    train, valid = np.arange(60), np.arange(60, 90)
    model = _pipeline(family, {}, task, n_classes, kind)
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


INSTALLED = [f for f in registered_families() if not get_family(f).missing_requirements()]


@pytest.mark.parametrize("family", INSTALLED)
def test_refit_hints_round_trip(family):
    kind = _first_kind(family)
    X, y, n_classes = _data("binary", kind)
    model = _pipeline(family, {}, "binary", n_classes, kind).fit(X, y)
    hints = model.refit_hints()
    fam = get_family(family)
    params = fam.space().defaults()
    refit = fam.refit_params(params, [hints, hints]) if fam.refit_params else params
    assert set(params) <= set(refit)
    _pipeline(family, refit, "binary", n_classes, kind).fit(X, y)


@pytest.mark.parametrize("family", INSTALLED)
def test_class_absent_from_training_part_gets_a_zero_column(family):
    kind = _first_kind(family)
    X, y, _ = _data("multiclass", kind)
    keep = y != 2
    model = _pipeline(family, {}, "multiclass", 3, kind).fit(X[keep], y[keep])
    scores = model.predict_scores(X.head(5))
    assert scores.shape == (5, 3)
    np.testing.assert_allclose(scores[:, 2], 0.0)


@pytest.mark.parametrize("family", INSTALLED)
def test_fitted_family_pickles_and_predicts_the_same(family):
    import pickle

    kind = _first_kind(family)
    X, y, n_classes = _data("multiclass", kind)
    model = _pipeline(family, {}, "multiclass", n_classes, kind).fit(X, y)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(copy.predict_scores(X), model.predict_scores(X))


def test_unseen_category_in_validation_is_encoded_as_missing():
    frame = pd.DataFrame({"c": pd.Categorical(["a", "b", "c", "a"]), "x": [1.0, 2.0, 3.0, 4.0]})
    from automl.data import TabularPreprocessor

    pre = TabularPreprocessor("native").fit(frame.iloc[:2])  # "c" never seen in training rows
    codes = pre.transform(frame)[:, pre.categorical_indices_[0]]
    assert np.isnan(codes[2]) and not np.isnan(codes[0])
