"""Shapes where the time budget is hard to keep, for ``benchmarks.budget`` and the budget tests.

``slow_refit``: a family whose refit is much slower than its folds. Its model is a logistic
regression with an interaction term (so it ranks first on :func:`linear_frame`) whose ``fit`` sleeps
``fold_seconds * (rows / fold_rows) ** 8``: on 3-fold CV the refit on all rows (1.5 times a
fold's rows) sleeps about 26 times as long as a fold. Its fold time is calibrated to the budget
by the caller (a tenth of it), so the refit of the best trial would take 2.6 budgets: a fit can
only keep its budget by killing that refit and falling back to another finalist.

``long_fold``: the built-in families on :func:`benchmarks.scale.synthetic` rows large enough that
one LightGBM fold takes longer than the smallest budgets.

With ``refit_fault`` (``segfault``, ``abort``, ``raise``, ``memory_error``, ``hang``, ``nan``: it predicts NaN) the
refit on all rows misbehaves instead (its folds do not), for the tests of the refit's isolation; with ``wide_fault`` any fit on more
than ``width`` columns does (the second level of a stack, which reads the base models' predictions too). With
``mark`` (a file's path) each refit on all rows appends the wall-clock time it starts at to that file, so that a
test sees from outside when the final stage ran.

Register the family in a child with ``register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")``
(the trial worker imports it from that path). ``SLOW_CATBOOST`` is the same model under a booster's name
(``register_family("catboost", "benchmarks.shapes:SLOW_CATBOOST", replace=True)``, in a child only): a stack takes
it as its second level, for the tests of the stack's cost; with ``power=1`` its fits sleep in proportion to their
rows.

``sharp_logit``: a logistic regression whose probabilities are over-confident by design (``softmax(sharpness *
logits)``, ``sharpness`` 4 by default), for the tests of the final model's temperature scaling
(``register_family("sharp_logit", "benchmarks.shapes:SHARP_LOGIT")``); :func:`blobs` is a multiclass frame for it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from automl.families import ModelFamily
from automl.spaces import space_from_dict

__all__ = ["SHARP_LOGIT", "SLOW_CATBOOST", "SLOW_REFIT", "SharpLogit", "SlowRefitClassifier", "blobs", "linear_frame"]

#: Rows are scaled to this power: the refit on 1.5x a fold's rows sleeps 1.5 ** 8 ≈ 26 times as long.
POWER = 8


def _with_interaction(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return np.column_stack([X, X[:, 0] * X[:, 1]])


class SlowRefitClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression with the ``x0 * x1`` interaction (so it beats the plain linear family on
    :func:`linear_frame`), whose ``fit`` sleeps ``fold_seconds * (rows / fold_rows) ** power``."""

    def __init__(self, fold_seconds: float = 0.5, fold_rows: int = 1000, C: float = 1.0, refit_fault: str = "none",
                 wide_fault: str = "none", width: int = 8, power: float = POWER, mark: str = "") -> None:
        self.fold_seconds = fold_seconds
        self.fold_rows = fold_rows
        self.C = C
        self.refit_fault = refit_fault
        self.wide_fault = wide_fault
        self.width = width
        self.power = power
        self.mark = mark

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SlowRefitClassifier:
        refit = len(y) > self.fold_rows * 1.2  # the refit on all rows
        self.nan_ = refit and self.refit_fault == "nan"  # fits, then predicts NaN
        if refit and self.mark:  # when each refit on all rows starts, on the wall clock, seen from outside the fit
            with open(self.mark, "a") as out:
                out.write(f"{time.time()}\n")
        if refit and self.refit_fault not in ("none", "nan"):
            _fault(self.refit_fault)
        if np.shape(X)[1] > self.width and self.wide_fault != "none":  # more columns: a stack's second level
            _fault(self.wide_fault)
        time.sleep(self.fold_seconds * (len(y) / self.fold_rows) ** self.power)
        self.model_ = LogisticRegression(C=self.C, max_iter=500).fit(_with_interaction(X), y, sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = self.model_.predict_proba(_with_interaction(X))
        return np.full_like(proba, np.nan) if getattr(self, "nan_", False) else proba  # type: ignore[no-any-return]

    def predict(self, X: Any) -> np.ndarray:
        return self.model_.predict(_with_interaction(X))  # type: ignore[no-any-return]


def _fault(kind: str) -> None:
    """Misbehave as ``kind`` says: ``segfault``, ``abort``, ``raise`` or ``memory_error``."""
    import ctypes
    import os

    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "abort":
        os.abort()
    if kind == "memory_error":
        raise MemoryError("injected at the refit")
    if kind == "hang":
        time.sleep(3600)
    raise RuntimeError(f"injected {kind} at the refit")


def _build(params: Any, ctx: Any) -> SlowRefitClassifier:
    return SlowRefitClassifier(params["fold_seconds"], params["fold_rows"], params["C"], params["refit_fault"],
                               params["wide_fault"], params["width"], params["power"], params["mark"])


SLOW_REFIT = ModelFamily(
    "slow_refit", frozenset({"binary", "multiclass"}), "onehot", _build,
    "logistic regression whose refit on all rows is much slower than its folds (benchmarks only)",
    search_space=space_from_dict({"family": "slow_refit", "params": {
        "fold_seconds": {"type": "fixed", "value": 0.5},
        "fold_rows": {"type": "fixed", "value": 1000},
        "C": {"type": "float", "low": 0.1, "high": 10.0, "log": True, "default": 1.0},
        "refit_fault": {"type": "fixed", "value": "none"},
        "wide_fault": {"type": "fixed", "value": "none"},
        "width": {"type": "fixed", "value": 8},
        "power": {"type": "fixed", "value": POWER},
        "mark": {"type": "fixed", "value": ""},
    }}),
)

SLOW_CATBOOST = dataclasses.replace(
    SLOW_REFIT, name="catboost", description="slow_refit under a booster's name (benchmarks and tests only)",
    search_space=dataclasses.replace(SLOW_REFIT.search_space, family="catboost"))


def linear_frame(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """A binary target with an ``x0 * x1`` interaction (8 numeric columns, column ``y``)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 8))
    logit = X @ np.array([1.5, -1.0, 0.8, 0.5, -0.5, 0.3, 0.0, 0.0]) + 2.0 * X[:, 0] * X[:, 1]
    y = (logit + rng.logistic(size=rows) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame["y"] = y
    return frame


class SharpLogit(ClassifierMixin, BaseEstimator):
    """A logistic regression whose probabilities are ``softmax(sharpness * logits)``: the same class order, and
    over-confident by a factor a temperature of ``sharpness`` undoes."""

    def __init__(self, C: float = 1.0, sharpness: float = 4.0) -> None:
        self.C = C
        self.sharpness = sharpness

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SharpLogit:
        self.model_ = LogisticRegression(C=self.C, max_iter=500).fit(X, y, sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        from automl.calibration import scale_probabilities

        return scale_probabilities(self.model_.predict_proba(X), 1.0 / self.sharpness)

    def predict(self, X: Any) -> np.ndarray:
        return self.model_.predict(X)  # type: ignore[no-any-return]


def _build_sharp(params: Any, ctx: Any) -> SharpLogit:
    return SharpLogit(params["C"], params["sharpness"])


SHARP_LOGIT = ModelFamily(
    "sharp_logit", frozenset({"binary", "multiclass"}), "onehot", _build_sharp,
    "logistic regression with over-confident probabilities (tests of temperature scaling only)",
    search_space=space_from_dict({"family": "sharp_logit", "params": {
        "C": {"type": "float", "low": 0.1, "high": 10.0, "log": True, "default": 1.0},
        "sharpness": {"type": "fixed", "value": 4.0},
    }}),
)


def blobs(rows: int = 900, seed: int = 0, classes: int = 3) -> pd.DataFrame:
    """``classes`` overlapping Gaussian blobs in 4 numeric columns (column ``y``): a logistic regression's
    probabilities are calibrated on it, and far from certain."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=rows)
    centres = np.random.default_rng(99).standard_normal((classes, 4)) * 1.2
    X = centres[y] + rng.standard_normal((rows, 4))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    frame["y"] = y
    return frame


def wide_frame(rows: int = 500, columns: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A regression frame of few rows and many columns (``f0`` ... ; target ``y`` = ``f0`` + noise): each booster's
    fold takes seconds (LightGBM 3.4 s, histogram boosting 4.6 s on one core)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"f{i}" for i in range(columns)])
    frame["y"] = frame["f0"] + 0.5 * rng.normal(size=rows)
    return frame


def wide_text_frame(rows: int = 300, columns: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A regression frame of text columns of four levels each (``c0`` ... ; target ``y`` from ``c0`` + noise): every
    column is a categorical matched to its levels at predict."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"c{i}": rng.choice(["a", "b", "c", "d"], rows) for i in range(columns)})
    frame["y"] = frame["c0"].map({"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}) + 0.5 * rng.normal(size=rows)
    return frame


def many_classes_frame(rows: int = 5000, classes: int = 100, seed: int = 0) -> pd.DataFrame:
    """A multiclass frame of ``classes`` classes over 20 columns (the class is the decile pair of ``f0`` and ``f1``,
    with noise): a booster grows a tree per class per round."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 20)), columns=[f"f{i}" for i in range(20)])
    side = int(np.ceil(np.sqrt(classes)))
    cell = [np.clip((pd.Series(frame[c] + 0.3 * rng.normal(size=rows)).rank(pct=True) * side).astype(int), 0, side - 1)
            for c in ("f0", "f1")]
    frame["y"] = [f"c{v}" for v in (cell[0] * side + cell[1]) % classes]
    return frame
