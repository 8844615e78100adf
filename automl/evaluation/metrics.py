"""Metrics: a registry keyed by name, each knowing its direction and what it scores.

Internally a classifier's prediction is always a probability matrix of shape
``(n_rows, n_classes)`` in the order of the encoded classes ``0..K-1``, and a
regressor's is a float vector. Each :class:`Metric` turns ``(y_true, prediction)``
into a float, so every metric can be computed from the same out-of-fold
predictions.

Example:
    >>> import numpy as np
    >>> m = get_metric("accuracy", "binary")
    >>> m.compute(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    0.6666666666666666
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from automl._suggest import close_names, unknown_name_message
from automl._tasks import TASKS
from automl.exceptions import AutoMLError, InputTypeError, InvalidParameterError, UnknownNameError

__all__ = [
    "Metric",
    "get_metric",
    "default_metric",
    "report_metrics",
    "available_metrics",
    "TASKS",
]

_CLASSIFICATION = frozenset({"binary", "multiclass"})
_REGRESSION = frozenset({"regression"})


@dataclass(frozen=True)
class Metric:
    """A named score with its direction.

    Args:
        name: Name shown in the leaderboard and used as a key.
        fn: ``fn(y_true, y_input)`` returning a float. ``y_input`` is the label
            vector, the probability matrix or the regression prediction,
            according to ``needs``.
        greater_is_better: Direction of the score (the study maximises or minimises it).
        needs: ``"label"`` (class labels), ``"proba"`` (probability matrix) or
            ``"prediction"`` (regression values).
        tasks: The tasks the metric applies to.
        decode: For user callables on classification: receive the original class
            labels instead of encoded ``0..K-1``.
        weighted: Whether ``fn`` takes sample weights as a third argument (or a
            ``sample_weight`` keyword, for user callables); other metrics are
            computed unweighted when a fit has sample weights.

    Example:
        >>> import numpy as np
        >>> m = Metric("neg_max_error", lambda t, p: -float(np.max(np.abs(t - p))),
        ...            greater_is_better=True, needs="prediction", tasks=frozenset({"regression"}))
        >>> m.compute(np.array([1.0, 2.0]), np.array([1.5, 2.0]))
        -0.5
    """

    name: str
    fn: Callable[..., float]
    greater_is_better: bool
    needs: str
    tasks: frozenset[str]
    decode: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    weighted: bool = False

    def __post_init__(self) -> None:
        problems = _metric_problems(self)
        if problems:
            raise InvalidParameterError(problems)
        object.__setattr__(self, "greater_is_better", bool(self.greater_is_better))
        object.__setattr__(self, "tasks", frozenset(self.tasks))

    @property
    def is_builtin(self) -> bool:
        """Whether this is one of automl's own metrics, also when turned to another positive class
        (``for_positive``); a callable of yours is False (its range and where it is undefined are not known).

        Example:
            >>> get_metric("roc_auc", "binary").for_positive(0).is_builtin
            True
        """
        registered = _REGISTRY.get(self.name)
        fn = self.fn.fn if isinstance(self.fn, _OtherPositive) else self.fn
        return registered is not None and registered.fn is fn

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """``"maximize"`` or ``"minimize"``, as Optuna spells it."""
        return "maximize" if self.greater_is_better else "minimize"

    def compute(
        self,
        y_true: np.ndarray,
        prediction: np.ndarray,
        classes: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        strict: bool = False,
    ) -> float:
        """Score a prediction in the internal representation.

        Args:
            y_true: Encoded labels (classification) or targets (regression).
            prediction: Probability matrix (classification) or values (regression).
            classes: Original class labels, used to decode for user callables.
            sample_weight: Weight of each row (used when the metric is ``weighted``).
            strict: Raise the ``ValueError`` or ``ZeroDivisionError`` that otherwise reads as NaN (the
                check of a metric callable before the search needs the error itself).

        Returns:
            The score as a float (NaN when it is undefined on these rows, for
            example ROC AUC on a fold holding a single class).
        """
        y_input: np.ndarray = prediction
        if self.needs == "label":
            y_input = np.asarray(prediction).argmax(axis=1)
        if self.decode and classes is not None:
            y_true = np.asarray(classes)[y_true]
            if self.needs == "label":
                y_input = np.asarray(classes)[y_input]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if sample_weight is None or not self.weighted:
                    value = float(self.fn(y_true, y_input))
                elif self.decode:  # a user callable that takes sample_weight=
                    value = float(self.fn(y_true, y_input, sample_weight=sample_weight))
                else:
                    value = float(self.fn(y_true, y_input, sample_weight))
        except AutoMLError:
            raise  # ours, typed, with its own fix (a metric callable a saved model does not hold): never "undefined"
        except (ValueError, ZeroDivisionError):  # e.g. weights summing to zero on these rows
            if strict:
                raise
            return math.nan
        return value

    def for_positive(self, positive: int) -> Metric:
        """This metric with encoded class ``positive`` (0 or 1) as the positive class of a binary target:
        f1, precision and recall (and roc_auc's orientation; its value does not change) are about it.
        Other metrics, user callables and ``positive=1`` (scikit-learn's default) return ``self``.

        Example:
            >>> import numpy as np
            >>> y, proba = np.array([0, 0, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
            >>> f1 = get_metric("f1", "binary")
            >>> f1.compute(y, proba), f1.for_positive(0).compute(y, proba)
            (0.6666666666666666, 0.6666666666666666)
            >>> get_metric("recall", "binary").for_positive(0).compute(y, proba)
            0.5
        """
        registered = _REGISTRY.get(self.name)
        if positive == 1 or self.name not in _POSITIVE_METRICS or registered is None or registered.fn is not self.fn:
            return self
        return dataclasses.replace(self, fn=_OtherPositive(self.fn, self.needs), extra={**self.extra, "positive": 0})

    def is_better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than ``b``.

        Example:
            >>> get_metric("rmse", "regression").is_better(1.0, 2.0)
            True
        """
        return a > b if self.greater_is_better else a < b

    def error(self, score: float) -> float | None:
        """How far ``score`` is from a perfect one, for a built-in metric whose perfect score is known: ``1 - score``
        where greater is better (AUC, accuracy, F1, R²: at most 1), else the score itself (log loss, RMSE, MAE,
        MSE: at least 0). None for a user's metric, whose range is not known.

        Example:
            >>> get_metric("roc_auc", "binary").error(0.9), get_metric("rmse", "regression").error(2.5)
            (0.09999999999999998, 2.5)
            >>> Metric("neg_max_error", abs, True, "prediction", frozenset({"regression"})).error(-0.5) is None
            True
        """
        registered = _REGISTRY.get(self.name)
        if self.decode or registered is None or (registered.greater_is_better, registered.needs) != (
                self.greater_is_better, self.needs):
            return None
        return 1.0 - score if self.greater_is_better else score


_NEEDS = ("label", "proba", "prediction")


def _metric_problems(metric: Metric) -> list[str]:
    """What is wrong with a :class:`Metric`'s fields (a direction given as text would optimise the wrong way)."""
    problems = []
    if not isinstance(metric.name, str) or not metric.name:
        problems.append(f"Metric name must be a non-empty text, got {metric.name!r}")
    if not callable(metric.fn):
        problems.append(f"Metric fn must be a callable fn(y_true, y_input), got {type(metric.fn).__name__}")
    if not isinstance(metric.greater_is_better, bool | np.bool_):
        problems.append(f"Metric greater_is_better must be True or False, got {metric.greater_is_better!r} "
                        f"(a {type(metric.greater_is_better).__name__}); e.g. greater_is_better=False for an error")
    if metric.needs not in _NEEDS:
        hints = close_names(metric.needs, _NEEDS) if isinstance(metric.needs, str) else []
        hint = f"; did you mean {hints[0]!r}?" if hints else ""
        problems.append(f"Metric needs must be one of {', '.join(map(repr, _NEEDS))}, got {metric.needs!r}{hint}")
    tasks = metric.tasks
    if isinstance(tasks, str) or not isinstance(tasks, set | frozenset | list | tuple) or not tasks \
            or not set(tasks) <= set(TASKS):
        problems.append(f"Metric tasks must be a non-empty set of {', '.join(map(repr, TASKS))}, got {tasks!r}; "
                        f"e.g. tasks=frozenset({{'binary'}})")
    return problems


# The built-in metrics are plain numpy: they run for every fold of every trial,
# and scikit-learn's input validation costs about 1-5 ms a call. Tests check
# that each one equals scikit-learn's value.


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney ROC AUC with average ranks for ties (NaN if one class is absent)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _weighted_binary_auc(positive: np.ndarray, score: np.ndarray, w: np.ndarray) -> float:
    """ROC AUC over weighted pairs: a positive above a negative counts 1, a tie 1/2."""
    _, inverse = np.unique(score, return_inverse=True)
    pos = np.bincount(inverse, weights=np.where(positive, w, 0.0))
    neg = np.bincount(inverse, weights=np.where(positive, 0.0, w))
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return math.nan
    below = np.cumsum(neg) - neg  # negative weight strictly below each score
    return float((pos * (below + neg / 2.0)).sum() / (total_pos * total_neg))


def _weighted_roc_auc(y: np.ndarray, proba: np.ndarray, w: np.ndarray) -> float:
    """Weighted ROC AUC: binary, or one-vs-rest averaged over the classes present (scikit-learn's macro)."""
    if proba.shape[1] == 2:
        return _weighted_binary_auc(y == 1, proba[:, 1], w)
    present = np.unique(y)
    if len(present) < 2:
        return math.nan
    return float(np.mean([_weighted_binary_auc(y == c, proba[:, c], w) for c in present]))


def _roc_auc(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None = None) -> float:
    if w is not None:
        return _weighted_roc_auc(y, proba, w)
    if proba.shape[1] == 2:
        return _binary_auc(y == 1, proba[:, 1])
    present = np.unique(y)
    if len(present) < 2:
        return math.nan
    sub = proba[:, present]
    if len(present) < proba.shape[1]:  # one-vs-rest over the classes in this fold, renormalised
        sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-15, None)
        if len(present) == 2:
            return _binary_auc(y == present[1], sub[:, 1])
    return float(np.mean([_binary_auc(y == c, sub[:, i]) for i, c in enumerate(present)]))


def _log_loss(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None = None) -> float:
    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(-np.average(np.log(proba[np.arange(len(y)), y]), weights=w))


def _accuracy(y: np.ndarray, labels: np.ndarray, w: np.ndarray | None = None) -> float:
    return float(np.average(y == labels, weights=w))


def _counts(
    y: np.ndarray, labels: np.ndarray, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = int(max(y.max(initial=0), labels.max(initial=0))) + 1
    hit = y == labels
    true_positive = np.bincount(y[hit], weights=None if w is None else w[hit], minlength=k).astype(float)
    predicted = np.bincount(labels, weights=w, minlength=k).astype(float)
    return true_positive, predicted, np.bincount(y, weights=w, minlength=k).astype(float)


def _balanced_accuracy(y: np.ndarray, labels: np.ndarray, w: np.ndarray | None = None) -> float:
    tp, _, support = _counts(y, labels, w)
    present = support > 0
    return float(np.mean(tp[present] / support[present]))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


_PER_CLASS = {
    "precision": lambda tp, pred, true: _ratio(tp, pred),
    "recall": lambda tp, pred, true: _ratio(tp, true),
    "f1": lambda tp, pred, true: _ratio(2 * tp, pred + true),
}


class _Averaged:
    """precision / recall / f1 with scikit-learn's averaging and zero_division=0 (a class, not a closure,
    so that a metric wrapping it, e.g. for another positive class, pickles with the model)."""

    def __init__(self, kind: str, average: str) -> None:
        self.kind, self.average = kind, average

    def __call__(self, y: np.ndarray, labels: np.ndarray, w: np.ndarray | None = None) -> float:
        tp, pred, true = _counts(y, labels, w)
        values = _PER_CLASS[self.kind](tp, pred, true)
        if self.average == "binary":
            return float(values[1]) if len(values) > 1 else 0.0
        present = (pred + true) > 0
        if self.average == "macro":
            return float(values[present].mean())
        return float((values * true).sum() / true.sum())


#: The binary metrics whose value (or orientation) depends on which class is the positive one.
_POSITIVE_METRICS = frozenset({"precision", "recall", "f1", "roc_auc"})


class _OtherPositive:
    """A binary metric computed with encoded class 0 as the positive class (labels and columns swapped)."""

    def __init__(self, fn: Callable[..., float], needs: str) -> None:
        self.fn, self.needs = fn, needs

    def __call__(self, y: np.ndarray, prediction: np.ndarray, *weights: Any) -> float:
        swapped = 1 - np.asarray(prediction) if self.needs == "label" else np.asarray(prediction)[:, ::-1]
        return self.fn(1 - np.asarray(y), swapped, *weights)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _OtherPositive) and (other.fn, other.needs) == (self.fn, self.needs)

    def __hash__(self) -> int:
        return hash((self.fn, self.needs))


def _mse(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return float(np.average((y - p) ** 2, weights=w))


def _rmse(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return float(np.sqrt(_mse(y, p, w)))


def _mae(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return float(np.average(np.abs(y - p), weights=w))


def _r2(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    w = np.ones(len(y)) if w is None else w
    residual = float(np.sum(w * (y - p) ** 2))
    total = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


_ALL = _CLASSIFICATION | _REGRESSION
_REGISTRY: dict[str, Metric] = {}


def _register(metric: Metric) -> None:
    if metric.name in _REGISTRY:
        raise InvalidParameterError(f"metric {metric.name!r} is already registered")
    _REGISTRY[metric.name] = metric


_register(Metric("accuracy", _accuracy, True, "label", _CLASSIFICATION, weighted=True))
_register(Metric("balanced_accuracy", _balanced_accuracy, True, "label", _CLASSIFICATION, weighted=True))
for _base in ("precision", "recall", "f1"):
    _register(Metric(_base, _Averaged(_base, "binary"), True, "label", frozenset({"binary"}), weighted=True))
    for _avg in ("macro", "weighted"):
        _register(Metric(f"{_base}_{_avg}", _Averaged(_base, _avg), True, "label", _CLASSIFICATION, weighted=True))
_register(Metric("roc_auc", _roc_auc, True, "proba", _CLASSIFICATION, weighted=True))
_register(Metric("log_loss", _log_loss, False, "proba", _CLASSIFICATION, weighted=True))
_register(Metric("rmse", _rmse, False, "prediction", _REGRESSION, weighted=True))
_register(Metric("mse", _mse, False, "prediction", _REGRESSION, weighted=True))
_register(Metric("mae", _mae, False, "prediction", _REGRESSION, weighted=True))
_register(Metric("r2", _r2, True, "prediction", _REGRESSION, weighted=True))

_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
_REPORTED = {
    "binary": ("roc_auc", "log_loss", "accuracy", "f1"),
    "multiclass": ("log_loss", "accuracy", "balanced_accuracy", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}


def available_metrics(task: str | None = None) -> list[str]:
    """Names of the registered metrics, optionally only those for ``task``.

    Example:
        >>> available_metrics("regression")
        ['mae', 'mse', 'r2', 'rmse']
    """
    return sorted(n for n, m in _REGISTRY.items() if task is None or task in m.tasks)


def default_metric(task: str) -> Metric:
    """The metric a search optimises when none is given.

    Example:
        >>> default_metric("multiclass").name
        'log_loss'
    """
    return _REGISTRY[_DEFAULTS[task]]


def get_metric(metric: str | Callable[..., float] | Metric, task: str) -> Metric:
    """Resolve a metric name, a :class:`Metric` or a callable for ``task``.

    A plain callable is called as ``fn(y_true, y_pred)`` with the original class
    labels (classification) or values (regression); greater is better. Wrap it
    in :class:`Metric` for another direction or to score probabilities.

    Raises:
        UnknownNameError: the name is not registered (with close names).
        InvalidParameterError: the metric does not apply to ``task``.

    Example:
        >>> get_metric("f1_macro", "multiclass").greater_is_better
        True
    """
    if isinstance(metric, Metric):
        if metric.name in _REGISTRY and not metric.is_builtin:
            raise InvalidParameterError(
                f"metric: a Metric of yours is named {metric.name!r}, as automl's own metric of that name, which the "
                f"leaderboard and evaluate() would then confuse with it; name it otherwise, e.g. "
                f"name={'my_' + metric.name!r}"
            )
        if task not in metric.tasks:
            raise InvalidParameterError(
                f"metric={metric.name!r} applies to {sorted(metric.tasks)}, not to a {task} task; "
                f"choose one of: {', '.join(available_metrics(task))}"
            )
        return metric
    if callable(metric):
        name = getattr(metric, "__name__", "custom")
        if name == "<lambda>":
            name = "custom"
        needs = "prediction" if task == "regression" else "label"
        return Metric(name, metric, True, needs, _ALL, decode=True, weighted=_takes_sample_weight(metric))
    if not isinstance(metric, str):
        raise InputTypeError(
            f"metric must be a metric name, a callable or automl.Metric, got {type(metric).__name__}; "
            f"for example metric='roc_auc'"
        )
    if metric not in _REGISTRY:
        raise UnknownNameError(unknown_name_message("metric", metric, _REGISTRY))
    found = _REGISTRY[metric]
    if task not in found.tasks:
        hint = ""
        if metric in {"f1", "precision", "recall"} and task == "multiclass":
            hint = f" For several classes use {metric}_macro or {metric}_weighted."
        raise InvalidParameterError(
            f"metric={metric!r} does not apply to a {task} task.{hint} "
            f"Metrics for {task}: {', '.join(available_metrics(task))}"
        )
    return found


def _takes_sample_weight(fn: Callable[..., Any]) -> bool:
    """Whether a user callable accepts ``sample_weight=`` (as scikit-learn's metrics do)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "sample_weight" in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


def report_metrics(task: str, primary: Metric, positive: int = 1) -> list[Metric]:
    """The metrics computed for every trial: the primary one first, then the usual ones, each read with
    encoded class ``positive`` as the positive class of a binary target (see :meth:`Metric.for_positive`).

    Example:
        >>> [m.name for m in report_metrics("regression", get_metric("mae", "regression"))]
        ['mae', 'rmse', 'r2']
    """
    out = [primary.for_positive(positive)]
    for name in _REPORTED[task]:
        if name != primary.name:
            out.append(_REGISTRY[name].for_positive(positive))
    return out
