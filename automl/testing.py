"""The family conformance suite, shipped so that a third-party family can run it too.

Every built-in family passes these checks (the project's own tests run them over each one);
a family of your own should as well before you register it::

    from automl.testing import check_family
    check_family(MY_FAMILY)                     # raises AssertionError naming the failed check

or, with pytest, one test per check::

    import pytest
    from automl.testing import family_checks

    @pytest.mark.parametrize("check", family_checks(MY_FAMILY), ids=lambda c: c.name)
    def test_my_family(check):
        check()

The checks use small generated data (a table of mixed columns, or 4x4 images) whose signal a
reasonable model picks up. For each task and input kind the family supports:

- ``space``: the search space loads without problems, covers every parameter, has a description;
- ``fit_predict``: with its defaults it fits, and predicts finite scores of the right shape
  (probabilities summing to 1), better than chance on held-out rows;
- ``deterministic``: a clone with the same seed predicts the same;
- ``refit_hints``: the hints it records in a fold adapt its parameters to the refit, which fits;
- ``absent_class``: a class missing from the training part gets a zero probability column;
- ``poisson`` (a family with ``poisson_params``): on counts it fits under ``target_transform="poisson"`` and
  predicts non-negative values that follow the signal, whose mean on its training rows is the counts' mean
  (within 15 %: a Poisson loss predicts the mean);
- ``pickle``: a fitted model pickles and predicts the same afterwards;
- ``isolated``: it cross-validates in the isolated worker process (found by its import path)
  with the same scores as in this process.

Example:
    >>> [c.name for c in family_checks("knn")][:3]
    ['knn: space', 'knn: fit_predict (binary, table)', 'knn: deterministic (binary, table)']
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automl._tasks import TASKS

__all__ = ["FamilyCheck", "check_family", "family_checks"]

IMAGE_SHAPE = (4, 4, 1)
ROWS = 90


@dataclass(frozen=True)
class FamilyCheck:
    """One named check of a family; call it to run it (it raises ``AssertionError`` on failure)."""

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()


def _family(family: Any) -> Any:
    from automl.families import ModelFamily, get_family

    return family if isinstance(family, ModelFamily) else get_family(family)


def _frame(kind: str) -> tuple[Any, Any]:
    """``(features, signal)``: mixed columns with gaps (tables) or 4x4 images; the signal drives the target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(4)
    if kind == "image":
        images = rng.normal(size=(ROWS, *IMAGE_SHAPE))
        frame = pd.DataFrame(images.reshape(ROWS, -1), columns=[f"pixel_{i}" for i in range(16)])
        return frame, images[:, :, :2, 0].mean(axis=(1, 2)) * 2
    x = rng.normal(size=ROWS)
    frame = pd.DataFrame({
        "x": x, "count": pd.array(rng.integers(0, 5, ROWS), dtype="Int64"), "flag": rng.random(ROWS) > 0.5,
        "city": pd.Series(rng.choice(["oslo", "rome", "lima"], ROWS), dtype="str"),
        "colour": pd.Categorical(rng.choice(["red", "blue"], ROWS)),
    })
    frame.loc[::7, "count"] = pd.NA
    frame.loc[::5, "city"] = None
    return frame, x


def _data(task: str, kind: str) -> tuple[Any, Any, int]:
    import numpy as np

    from automl.data import Schema

    frame, signal = _frame(kind)
    X = Schema.from_frame(frame).transform(frame, warn=False)
    if task == "regression":
        return X, 2.0 * signal, 0
    cut = [0.0] if task == "binary" else [-0.4, 0.4]
    return X, np.digitize(signal, cut), len(cut) + 1


def _pipeline(family: Any, params: dict[str, Any], task: str, n_classes: int, kind: str) -> Any:
    from automl.families.pipeline import FamilyPipeline

    shape = IMAGE_SHAPE if kind == "image" else None
    return FamilyPipeline(family.name, params, task=task, n_classes=n_classes, seed=0, n_jobs=1, image_shape=shape)


def _check_space(family: Any) -> None:
    space = family.space()
    assert space.family == family.name, f"its space is for {space.family!r}"
    assert space.problems() == [], space.problems()
    assert set(space.defaults()) == set(space.names), "every parameter needs a default"
    assert family.description, "a one-line description is needed"


def _check_fit_predict(family: Any, task: str, kind: str) -> None:
    import numpy as np

    X, y, n_classes = _data(task, kind)
    model = _pipeline(family, {}, task, n_classes, kind).fit(X.iloc[:60], y[:60])
    scores = model.predict_scores(X.iloc[60:])
    assert np.isfinite(scores).all(), "predictions must be finite"
    if task == "regression":
        assert scores.shape == (30,), scores.shape
        corr = float(np.corrcoef(scores, y[60:])[0, 1])
        assert corr > 0.5, f"it did not learn the signal: its predictions' correlation with the target is {corr:.3f}, " \
                           "not above 0.5"
    else:
        assert scores.shape == (30, n_classes), scores.shape
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6, err_msg="probabilities must sum to 1")
        hits = float((scores.argmax(axis=1) == y[60:]).mean())
        assert hits > 1.0 / n_classes, f"it did no better than chance: accuracy {hits:.3f}, chance {1.0 / n_classes:.3f}"


def _check_deterministic(family: Any, task: str, kind: str) -> None:
    import numpy as np
    from sklearn.base import clone

    X, y, n_classes = _data(task, kind)
    model = _pipeline(family, {}, task, n_classes, kind)
    first = clone(model).fit(X.iloc[:60], y[:60]).predict_scores(X.iloc[60:])
    again = clone(model).fit(X.iloc[:60], y[:60]).predict_scores(X.iloc[60:])
    np.testing.assert_allclose(again, first, err_msg="the same seed must give the same predictions")


def _first_kind(family: Any) -> str:
    return sorted(family.inputs, reverse=True)[0]  # "table" where supported, else "image"


def _first_task(family: Any) -> str:
    return next(t for t in TASKS if family.supports(t))


def _check_refit_hints(family: Any) -> None:
    task, kind = _first_task(family), _first_kind(family)
    X, y, n_classes = _data(task, kind)
    hints = _pipeline(family, {}, task, n_classes, kind).fit(X, y).refit_hints()
    params = family.space().defaults()
    refit = family.refit_params(params, [hints, hints]) if family.refit_params else params
    assert set(params) <= set(refit), "refit_params must keep every parameter"
    _pipeline(family, refit, task, n_classes, kind).fit(X, y)


def _check_absent_class(family: Any) -> None:
    import numpy as np

    kind = _first_kind(family)
    X, y, _ = _data("multiclass", kind)
    keep = y != 2
    scores = _pipeline(family, {}, "multiclass", 3, kind).fit(X[keep], y[keep]).predict_scores(X.head(5))
    assert scores.shape == (5, 3), scores.shape
    np.testing.assert_allclose(scores[:, 2], 0.0, err_msg="a class absent from training gets probability 0")


def _check_poisson(family: Any) -> None:
    import numpy as np

    kind = _first_kind(family)
    X, signal, _ = _data("regression", kind)
    counts = np.random.default_rng(5).poisson(np.exp(1.0 + signal)).astype(float)
    model = _pipeline(family, {"target_transform": "poisson"}, "regression", 0, kind).fit(X, counts)
    scores = model.predict_scores(X)
    assert np.isfinite(scores).all(), "predictions must be finite"
    assert (scores >= 0).all(), "a Poisson loss predicts non-negative values"
    corr = float(np.corrcoef(scores, counts)[0, 1])
    assert corr > 0.5, f"it did not learn the signal: its predictions' correlation with the counts is {corr:.3f}, not " \
                       "above 0.5"
    assert abs(scores.mean() / counts.mean() - 1.0) < 0.15, (
        f"its mean prediction {scores.mean():.3g} is not the counts' mean {counts.mean():.3g}, which a Poisson loss "
        "predicts")


def _check_pickle(family: Any) -> None:
    import pickle

    import numpy as np

    task, kind = _first_task(family), _first_kind(family)
    X, y, n_classes = _data(task, kind)
    model = _pipeline(family, {}, task, n_classes, kind).fit(X, y)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict_scores(X), model.predict_scores(X))


def _check_isolated(family: Any) -> None:
    from automl.evaluation import Evaluator, default_metric, make_cv_plan
    from automl.families.registry import family_import_path
    from automl.search.isolation import IsolatedRunner

    task, kind = _first_task(family), _first_kind(family)
    X, y, n_classes = _data(task, kind)
    splits = make_cv_plan(3, task).splits(len(y), y, None)
    evaluator = Evaluator([default_metric(task)], splits, task=task, n_classes=n_classes,
                          image_shape=IMAGE_SHAPE if kind == "image" else None)
    local = evaluator.evaluate(family.name, {}, X, y, seed=1)
    with warnings.catch_warnings(), IsolatedRunner(evaluator, X, y, {family.name: family_import_path(family.name)}) as runner:
        warnings.simplefilter("ignore", RuntimeWarning)
        remote = runner.evaluate(family.name, {}, seed=1)
        assert runner.isolated, ("the worker process cannot import the family: register it from an importable "
                                 "module (register_family(name, 'package.module:ATTRIBUTE'))")
    assert remote.fold_scores == local.fold_scores, "the worker process must give the same scores"


def family_checks(family: Any) -> list[FamilyCheck]:
    """Every check of ``family``: a registered name, or the :class:`~automl.families.ModelFamily` registered
    under its name (``automl.register_family(name, "package.module:ATTRIBUTE")``: the worker process
    imports it from that path, as a search's would).

    Raises:
        UnknownNameError: the family is not registered.
    """
    from automl.families.registry import family_import_path

    fam = _family(family)
    name = fam.name
    family_import_path(name)  # registered, or an UnknownNameError that says so
    checks = [FamilyCheck(f"{name}: space", lambda: _check_space(fam))]
    for task in (t for t in TASKS if fam.supports(t)):
        for kind in sorted(fam.inputs, reverse=True):
            checks.append(FamilyCheck(f"{name}: fit_predict ({task}, {kind})",
                                      functools.partial(_check_fit_predict, fam, task, kind)))
            checks.append(FamilyCheck(f"{name}: deterministic ({task}, {kind})",
                                      functools.partial(_check_deterministic, fam, task, kind)))
    checks.append(FamilyCheck(f"{name}: refit_hints", lambda: _check_refit_hints(fam)))
    if fam.supports("multiclass"):
        checks.append(FamilyCheck(f"{name}: absent_class", lambda: _check_absent_class(fam)))
    if fam.poisson_params is not None and fam.supports("regression"):
        checks.append(FamilyCheck(f"{name}: poisson", lambda: _check_poisson(fam)))
    checks.append(FamilyCheck(f"{name}: pickle", lambda: _check_pickle(fam)))
    checks.append(FamilyCheck(f"{name}: isolated", lambda: _check_isolated(fam)))
    return checks


def check_family(family: Any) -> None:
    """Run every check of ``family``; raise ``AssertionError`` naming each one that failed.

    Raises:
        AssertionError: the failed checks, one per line, with what each found.
    """
    failed = []
    for check in family_checks(family):
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - every failed check is listed
            failed.append(f"{check.name}: {exc}" if isinstance(exc, AssertionError)
                          else f"{check.name}: {type(exc).__name__}: {exc}")
    if failed:
        raise AssertionError("the family fails the conformance suite:\n" + "\n".join(failed))
