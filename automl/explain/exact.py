"""Exact contributions of one fitted family pipeline's encoded features, where its model allows.

Each function returns ``(phi, base, space)``: ``phi`` is ``(n, encoded features)``, ``base`` is
``(n,)`` and ``space`` is ``"margin"`` (the model's raw output: log-odds, raw class score) or
``"score"`` (the probability or value ``predict`` blends); or None when the family has no exact
method here (the caller then estimates). ``targets`` is the class index (of the whole problem)
explained for each row of a classifier, None for a regressor.

- ``lightgbm``: the booster's own ``pred_contrib`` output (TreeSHAP), in its margin.
- ``random_forest``, ``extra_trees``: ``shap``'s TreeExplainer, in probability (value).
- ``hist_gradient_boosting``: ``shap``'s TreeExplainer, in its margin, only without native
  categorical splits (shap reads those splits as numeric thresholds: its sums came out wrong).
- ``linear``: ``coef * (z - mean of z over the background)`` of the decision function.

Example:
    >>> exact_space("lightgbm", "binary"), exact_space("random_forest", "binary"), exact_space("knn", "binary")
    ('margin', 'score', None)
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

__all__ = ["exact_contributions", "exact_space", "raw_output"]

_MARGIN = {"lightgbm", "hist_gradient_boosting", "linear"}
_SCORE = {"random_forest", "extra_trees"}


def exact_space(family: str, task: str) -> str | None:
    """The output space in which ``family`` is explained exactly (None: estimated)."""
    if family in _SCORE or (family in _MARGIN and task == "regression"):
        return "score"
    return "margin" if family in _MARGIN else None


def _positions(estimator: Any, targets: np.ndarray) -> np.ndarray:
    """Column of each row's target class among the estimator's own classes."""
    own = np.asarray(estimator.classes_).tolist()
    return np.array([own.index(int(t)) for t in targets])


def _pick(values: np.ndarray, columns: np.ndarray | None, n: int) -> np.ndarray:
    """``values`` per row ``(n, ...)``; from ``(n, ..., K)`` the class column of each row."""
    values = np.asarray(values, dtype="float64")
    return values if columns is None else values[np.arange(n), ..., columns]


def _lightgbm(estimator: Any, Z: np.ndarray, targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    booster = estimator.model_
    raw = np.asarray(booster.predict(Z, pred_contrib=True, num_iteration=booster.best_iteration_ or None))
    n, width = len(Z), Z.shape[1] + 1
    if targets is None:
        return raw[:, :-1], raw[:, -1]
    positions = _positions(estimator, targets)
    if raw.shape[1] == width:  # binary: the log-odds of the estimator's second class
        sign = np.where(positions == 1, 1.0, -1.0)[:, None]
        return sign * raw[:, :-1], sign[:, 0] * raw[:, -1]
    block = raw.reshape(n, -1, width)[np.arange(n), positions]
    return block[:, :-1], block[:, -1]


def _tree_shap(estimator: Any, Z: np.ndarray, targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap 0.51's import sets matplotlib colours in a way marked for deprecation
        import shap  # optional: pip install automl[explain]

    explainer = shap.TreeExplainer(estimator)
    values = np.asarray(explainer.shap_values(Z, check_additivity=False), dtype="float64")
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype="float64"))
    n = len(Z)
    if targets is None or values.ndim == 2:  # a regressor, or a binary margin (of the second class)
        sign = np.ones(n) if targets is None else np.where(_positions(estimator, targets) == 1, 1.0, -1.0)
        return sign[:, None] * values.reshape(n, -1), sign * expected[0]
    positions = _positions(estimator, targets)
    return _pick(values, positions, n), expected[positions]


def _linear(estimator: Any, Z: np.ndarray, Z_background: np.ndarray,
            targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype="float64"))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype="float64"))
    mean = Z_background.mean(axis=0)
    n = len(Z)
    if targets is None or coef.shape[0] == 1:
        sign = np.ones(n) if targets is None else np.where(_positions(estimator, targets) == 1, 1.0, -1.0)
        phi = (Z - mean) * coef[0]
        return sign[:, None] * phi, sign * (intercept[0] + mean @ coef[0])
    rows = _positions(estimator, targets)
    return (Z - mean) * coef[rows], intercept[rows] + coef[rows] @ mean


def raw_output(pipeline: Any, Z: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
    """The pipeline's own output for each row in its exact space (what the contributions sum to).

    ``Z`` is the encoded matrix (``pipeline.preprocessor_.transform``).
    """
    estimator, n = pipeline.estimator_, len(Z)
    if exact_space(pipeline.family, pipeline.task) == "score":
        if targets is None:
            return np.asarray(estimator.predict(Z), dtype="float64").ravel()
        return _pick(estimator.predict_proba(Z), _positions(estimator, targets), n)
    if pipeline.family == "lightgbm":
        model = estimator.model_
        raw = np.asarray(model.predict(Z, raw_score=True, num_iteration=model.best_iteration_ or None))
    else:
        raw = np.asarray(estimator.decision_function(Z), dtype="float64")
    assert targets is not None  # a margin is a classifier's (a regressor's output space is "score")
    positions = _positions(estimator, targets)
    if raw.ndim == 1:
        return np.where(positions == 1, raw, -raw)
    return _pick(raw, positions, n)


def exact_contributions(pipeline: Any, Z: np.ndarray, Z_background: np.ndarray,
                        targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(phi, base, space)`` of the pipeline's encoded features, or None (see the module docstring)."""
    space = exact_space(pipeline.family, pipeline.task)
    estimator = pipeline.estimator_
    if space is None:
        return None
    native_categories = pipeline.family == "hist_gradient_boosting" and bool(
        np.any(getattr(estimator, "is_categorical_", None) is not None and estimator.is_categorical_))
    if pipeline.family == "lightgbm":
        phi, base = _lightgbm(estimator, Z, targets)
    elif pipeline.family == "linear":
        phi, base = _linear(estimator, Z, Z_background, targets)
    elif native_categories or importlib.util.find_spec("shap") is None:  # shap: the optional extra automl[explain]
        return None
    else:
        phi, base = _tree_shap(estimator, Z, targets)
    return phi, base, space
