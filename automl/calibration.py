"""Temperature scaling of a classifier's probabilities (Guo et al., 2017), fitted on out-of-fold predictions.

A model's class probabilities ``p`` become ``softmax(log(p) / T)``: one number ``T`` above 1 softens
over-confident probabilities, below 1 sharpens timid ones, and the order of the classes in each row never
changes (accuracy and, for two classes, AUC are the same). ``T`` is fitted to minimise the log loss of the
final model's out-of-fold predictions, which is how AutoGluon calibrates its best model (``calibrate="auto"``
for metrics on probabilities). The fit's stage (:mod:`automl._fit.calibrate`) decides whether to use it on
cross-fitted folds: fold k's temperature is fitted on the other folds' rows only.

We write this ourselves (about 30 lines) rather than take scikit-learn's ``CalibratedClassifierCV``: that
refits the model per fold and calibrates each class one-vs-rest (sigmoid or isotonic), where the fit already
holds every trial's out-of-fold predictions and needs one multiclass parameter over a blend of models.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    >>> timid = np.array([[.6, .4], [.4, .6], [.3, .7], [.7, .3], [.45, .55], [.55, .45], [.35, .65], [.4, .6]])
    >>> t = fit_temperature(timid, y)
    >>> t < 1.0, scale_probabilities(timid, t).argmax(axis=1).tolist() == timid.argmax(axis=1).tolist()
    (True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.evaluation.deadlines import check_deadline
from automl.evaluation.metrics import get_metric

__all__ = ["TEMPERATURE_RANGE", "TemperatureScaled", "calibrate_problems",
           "fit_temperature", "scale_probabilities", "tries_temperature"]

#: The temperatures searched (a bounded search on ``log T``): wide enough for any model seen, and bounded so
#: that a degenerate fold (one class) cannot send ``T`` to 0 or infinity.
TEMPERATURE_RANGE = (0.05, 20.0)
#: The primary metrics ``calibrate="auto"`` tries a temperature for: proper scores of the probabilities, which a
#: better-calibrated model improves (a rank or a label metric does not change with ``T``).
AUTO_METRICS = frozenset({"log_loss"})
#: Rows a temperature is fitted on at most (a seeded sample of them beyond): one number needs few, and the fit stays
#: well under a second on any data (it evaluates the log loss about 30 times).
TEMPERATURE_ROWS = 20_000
_FLOOR = 1e-15  # as the log loss clips (automl.evaluation.metrics)


def scale_probabilities(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(proba) / temperature)`` row by row, as float64 (``temperature == 1``: ``proba`` renormalised).

    Example:
        >>> scale_probabilities(np.array([[0.8, 0.2]]), 2.0).round(3).tolist()
        [[0.667, 0.333]]
    """
    logits = np.log(np.clip(np.asarray(proba, dtype="float64"), _FLOOR, 1.0)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                    deadline: float | None = None) -> float:
    """The temperature in :data:`TEMPERATURE_RANGE` that minimises the (weighted) log loss of ``proba`` on ``y``
    (encoded labels; at most :data:`TEMPERATURE_ROWS` of them, a seeded sample beyond); 1.0 when there is nothing
    to fit (no row, or one class only).

    Example:
        >>> y = np.array([0, 1, 0, 1])
        >>> sure = np.array([[.99, .01], [.02, .98], [.01, .99], [.97, .03]])  # confident and wrong half the time
        >>> fit_temperature(sure, y) > 1.0, fit_temperature(sure[:0], y[:0])
        (True, 1.0)
    """
    from scipy.optimize import minimize_scalar

    loss = get_metric("log_loss", "multiclass").fn  # the search's own log loss, with its row weights
    proba, y = np.asarray(proba, dtype="float64"), np.asarray(y, dtype=int)
    if len(y) > TEMPERATURE_ROWS:
        rows = np.random.default_rng(0).choice(len(y), TEMPERATURE_ROWS, replace=False)
        proba, y = proba[rows], y[rows]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
    if len(y) == 0 or len(np.unique(y)) < 2:
        return 1.0
    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])

    def objective(log_t: float) -> float:
        check_deadline(deadline, "the temperature's search")  # each try costs seconds on many classes
        return float(loss(y, scale_probabilities(proba, np.exp(log_t)), sample_weight))

    found = minimize_scalar(objective, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    best = float(np.exp(found.x))
    # the bounded search never evaluates T = 1 itself: keep the probabilities as they are unless it is better
    unchanged = loss(y, scale_probabilities(proba, 1.0), sample_weight)
    return best if float(found.fun) < unchanged else 1.0


def tries_temperature(setting: Any, metric_name: str, task: str) -> bool:
    """Whether a fit with ``calibrate=setting`` fits a temperature: for classification, ``True``, or ``"auto"`` when
    the primary metric is one of :data:`AUTO_METRICS`.

    Example:
        >>> tries_temperature("auto", "log_loss", "multiclass"), tries_temperature("auto", "roc_auc", "binary")
        (True, False)
        >>> tries_temperature(True, "roc_auc", "binary"), tries_temperature(True, "rmse", "regression")
        (True, False)
    """
    if task == "regression" or setting is False:
        return False
    return setting is True or metric_name in AUTO_METRICS


def calibrate_problems(setting: Any, task: str) -> list[str]:
    """Why ``calibrate=setting`` cannot be used with this task (empty: it can).

    Example:
        >>> calibrate_problems(True, "regression")[0][:51], calibrate_problems("auto", "regression")
        ('calibrate=True scales predicted class probabilities', [])
    """
    if setting is True and task == "regression":
        return [f"calibrate=True scales predicted class probabilities, so it applies to classification only, and "
                f"the task is {task!r}; use calibrate='auto' (which leaves regression as it is) or False"]
    return []


class TemperatureScaled:
    """A fitted classifier (a pipeline, a bag, an ensemble or a stack) whose probabilities are temperature-scaled.

    Args:
        model: The fitted model (anything with ``predict_scores``).
        temperature: ``T`` of :func:`scale_probabilities`.

    Example:
        >>> from types import SimpleNamespace
        >>> inner = SimpleNamespace(predict_scores=lambda X: np.array([[0.8, 0.2]]), family="lightgbm", task="binary")
        >>> TemperatureScaled(inner, 2.0).predict_scores(None).round(3).tolist()
        [[0.667, 0.333]]
    """

    def __init__(self, model: Any, temperature: float) -> None:
        self.model = model
        self.temperature = float(temperature)

    @property
    def family(self) -> str:
        """The model's family (an ensemble's or a stack's as they name it)."""
        return str(getattr(self.model, "family", "ensemble"))

    @property
    def task(self) -> str:
        """``binary`` or ``multiclass``."""
        task = getattr(self.model, "task", None)
        return str(task if task is not None else self.model.members[0].task)

    @property
    def families(self) -> list[str]:
        """The families the model uses."""
        return list(getattr(self.model, "families", [self.family]))

    def predict_scores(self, X: Any) -> np.ndarray:
        """The model's class probabilities, temperature-scaled."""
        return scale_probabilities(self.model.predict_scores(X), self.temperature)

    def __repr__(self) -> str:
        return f"TemperatureScaled({self.model!r}, temperature={self.temperature:.4g})"
