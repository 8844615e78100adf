"""What would fail inside every trial, found before the search (nothing is written until these pass).

Each check returns problems (text naming the culprit, the value and the fix); :class:`Findings`
gathers the errors of several stages so that one error lists every problem, settings and data
together (:func:`combined_error` picks its class).

- :func:`split_problems`: a fold the metric cannot score (leave-one-out or a single-class
  validation fold under ROC AUC, R² on one row, an empty fold) or a training fold a
  classifier cannot learn from (one class: the first fold of a time split, say);
- :func:`weight_problems`: sample weights whose sums underflow or overflow (the weighted
  metrics are then NaN on every fold);
- :func:`model_problems`: a family's space (its own, or overridden by ``search_space=``)
  whose values its estimator refuses: the estimator is built (not fitted) with the defaults
  and with each overridden value, and scikit-learn's parameter constraints are checked;
- :func:`positive_class`: ``pos_label`` (or the minority class) as the positive class of a binary
  target; a label that is not a class is refused with "did you mean";
- :func:`valid_settings`: the settings that pass their own checks (to validate the data with,
  when others are refused: :func:`automl._fit.problem.checked_settings`).

Example:
    >>> import numpy as np
    >>> weight_problems(np.full(4, 1e-100)), "too small to divide" in weight_problems(np.full(4, 1e-320))[0]
    ([], True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from automl.exceptions import (
    AutoMLError,
    DataValidationError,
    InvalidInputError,
    InvalidParameterError,
    SearchSpaceError,
    SearchSpaceSettingError,
)
from automl.spaces.params import probe_values
from automl.spaces.value_checks import plain

__all__ = ["Findings", "callable_metric_problems", "combined_error", "model_problems", "positive_class", "split_problems",
           "valid_settings", "weight_problems"]

#: The smallest positive normal float: a weight sum below it has lost its precision (subnormal).
_TINY = float(np.finfo(np.float64).tiny)


def combined_error(errors: Sequence[BaseException]) -> BaseException:
    """One error for several: itself when alone; else every problem listed, in a class that each
    kind of problem found is an instance of (settings and data: :class:`InvalidInputError`, both a
    ``DataValidationError`` and an ``InvalidParameterError``)."""
    if len(errors) == 1:
        return errors[0]
    problems = [p for e in errors for p in getattr(e, "problems", [str(e)])]
    data = any(isinstance(e, (DataValidationError, TypeError)) and not isinstance(e, InvalidInputError)
               for e in errors)
    setting = any(not isinstance(e, (DataValidationError, TypeError)) or isinstance(e, InvalidInputError)
                  for e in errors)
    if data and setting:
        return InvalidInputError(problems)
    if data:
        return DataValidationError(problems)
    if all(isinstance(e, SearchSpaceError) for e in errors):
        return SearchSpaceSettingError(problems)
    return InvalidParameterError(problems)


class Findings:
    """The errors of several independent checks, raised together (see :func:`combined_error`)."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    @contextmanager
    def catch(self) -> Iterator[None]:
        """Run a check; keep its typed error instead of raising it."""
        try:
            yield
        except AutoMLError as exc:
            self.errors.append(exc)

    def add(self, error: BaseException) -> None:
        """Keep ``error``."""
        self.errors.append(error)

    def raise_all(self) -> None:
        """Raise what was found, all of it in one error (nothing: return)."""
        if self.errors:
            raise combined_error(self.errors)


# -- folds ------------------------------------------------------------------------------------------
def _trivial_prediction(y: np.ndarray, train: np.ndarray, valid: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """What a model that learnt only the training part's prior would predict on the validation part."""
    if task == "regression":
        return np.full(len(valid), float(np.mean(y[train])) if len(train) else 0.0)
    prior = np.bincount(y[train].astype(int), minlength=n_classes).astype(float) + 1.0
    return np.tile(prior / prior.sum(), (len(valid), 1))


def _builtin(metric: Any, task: str) -> bool:
    """Whether ``metric`` is one of automl's own (a metric of yours is only tried, not judged on NaN)."""
    from automl.evaluation.metrics import available_metrics

    return metric.name in available_metrics(task) and metric.is_builtin


def _fold_score(metric: Any, y: np.ndarray, train: np.ndarray, valid: np.ndarray, task: str, n_classes: int,
                classes: Any, weights: np.ndarray | None) -> float | None:
    """The metric on one validation part for a trivial prediction (None: a metric of yours, not judged)."""
    if not _builtin(metric, task):
        return None
    prediction = _trivial_prediction(y, train, valid, task, n_classes)
    w = None if weights is None else weights[valid]
    return metric.compute(y[valid], prediction, classes, w)


def _sparse_weights(splits: Sequence[tuple[np.ndarray, np.ndarray]], bad: Sequence[int], y: np.ndarray, task: str,
                    weights: np.ndarray) -> str:
    """Why validation parts ``bad`` cannot be scored when it is their weights' sparseness (no row of positive weight,
    or one class among those rows), else ''."""
    positive = [splits[i][1][weights[splits[i][1]] > 0] for i in bad]
    if all(len(rows) == 0 for rows in positive):
        return "no row of theirs has a positive sample_weight"
    if task != "regression" and all(len(np.unique(y[rows])) < 2 for rows in positive):
        return "their rows of positive sample_weight hold a single class"
    return ""


def _fold_shape_problems(splits: Sequence[tuple[np.ndarray, np.ndarray]], y: np.ndarray, task: str,
                         classes: Any, cv: str) -> list[str]:
    out = []
    empty = [i + 1 for i, (train, valid) in enumerate(splits) if len(train) == 0 or len(valid) == 0]
    if empty:
        out.append(f"cv={cv}: fold(s) {empty} have no training or no validation rows; every fold needs rows on "
                   "both sides (use fewer folds)")
    if task == "regression":
        return out
    single = [(i + 1, y[train][0]) for i, (train, _) in enumerate(splits) if len(train) and len(np.unique(y[train])) < 2]
    if single:
        labels = sorted({repr(plain(classes[int(c)] if classes is not None else c)) for _, c in single})
        where = ("with a time split the first folds see only the earliest rows: use fewer folds (e.g. cv='time:2') "
                 "or a shuffled cv (cv=5)" if cv.startswith("time") else "use a shuffled, stratified cv (cv=5)")
        out.append(f"cv={cv}: the training part of fold(s) {[i for i, _ in single]} holds a single class "
                   f"({', '.join(labels)}), so no classifier can learn from it; {where}")
    return out


def split_problems(splits: Sequence[tuple[np.ndarray, np.ndarray]], y: np.ndarray, task: str, metric: Any,
                   classes: Any, weights: np.ndarray | None, cv: str, lenient: bool = False) -> list[str]:
    """Folds that make every trial fail (or score it on nothing): see the module docstring.

    ``lenient`` (the default cv, which warns about classes smaller than its folds) refuses only
    a metric that no fold can score.

    Example:
        >>> from automl.evaluation.metrics import get_metric
        >>> y = np.array([0, 1, 0, 1])
        >>> loo = [(np.delete(np.arange(4), i), np.array([i])) for i in range(4)]
        >>> split_problems(loo, y, "binary", get_metric("roc_auc", "binary"), None, None, "LeaveOneOut")[0][:62]
        'cv=LeaveOneOut: roc_auc cannot be computed on 4 of the 4 valid'
    """
    out = _fold_shape_problems(splits, y, task, classes, cv)
    if out:
        return out
    n_classes = 0 if classes is None else len(classes)
    scores = [_fold_score(metric, y, tr, va, task, n_classes, classes, weights) for tr, va in splits]
    judged = [s for s in scores if s is not None]
    bad = [i for i, s in enumerate(scores) if s is not None and not math.isfinite(s)]
    if metric.name == "r2" and _builtin(metric, task):
        bad = sorted(set(bad) | {i for i, (_, va) in enumerate(splits) if len(va) < 2})
    if not bad or (lenient and len(bad) < len(judged)):
        return out
    sizes = sorted({len(splits[i][1]) for i in bad})
    single = task != "regression" and all(len(np.unique(y[splits[i][1]])) < 2 for i in bad)
    why = ("they hold a single class (ROC AUC ranks one class against another)" if single and metric.name == "roc_auc"
           else f"they hold {sizes[0]} row(s)" if sizes == [1] else "the metric is undefined there")
    weighted = weights is not None and not single and min(sizes) > 1
    sparse = _sparse_weights(splits, bad, y, task, weights) if weighted and weights is not None else ""
    if sparse:
        why = sparse
    elif weighted:
        why = "the validation weights underflow or overflow"
    fewer = ", or use fewer folds (e.g. cv=2)" if len(splits) > 2 else ", or a larger validation part (e.g. cv=0.3)"
    fix = (f"give more rows a positive sample_weight{fewer}, so that every validation part holds weighted rows"
           + (" of two classes" if task != "regression" else "") if sparse else
           "rescale sample_weight (e.g. w / w.max())" if weighted else
           "use folds with both classes in every validation part (a stratified cv such as cv=5, or fewer folds), "
           "or another metric (e.g. metric='log_loss')" if single else
           "use larger validation parts (cv=5 or cv=0.2 instead of leave-one-out), or another metric")
    return [f"cv={cv}: {metric.name} cannot be computed on {len(bad)} of the {len(splits)} validation part(s): "
            f"{why}; every trial would fail or be scored on fewer folds; {fix}"]


def callable_metric_problems(metric: Any, y: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]], task: str,
                             classes: Any, weights: np.ndarray | None) -> list[str]:
    """A metric callable of yours that raises when called as the trials call it, on the first fold's validation
    part: any error on a trivial prediction, or a ``ValueError`` or ``ZeroDivisionError`` (which a trial reads as
    NaN: it may be that prediction's fault) on the trivial prediction and on a perfect one as well."""
    if _builtin(metric, task) or not splits:
        return []
    train, valid = splits[0]
    n_classes = 0 if classes is None else len(classes)
    trivial = _trivial_prediction(y, train, valid, task, n_classes)
    perfect = (y[valid].astype(float) if task == "regression" else np.eye(n_classes)[y[valid].astype(int)])
    part_weights = None if weights is None else weights[valid]
    error: Exception | None = None
    values: list[float] = []
    for prediction in (trivial, perfect):
        try:
            values.append(metric.compute(y[valid], prediction, classes, part_weights, strict=True))
        except (ValueError, ZeroDivisionError) as exc:
            error, values = error or exc, [*values, math.nan]
        except Exception as exc:  # noqa: BLE001 - whatever else it raises would fail every trial
            if values and math.isfinite(values[0]):
                return []  # the trivial prediction was scored: the perfect one is a trial's rare case
            error = exc
            break
    if any(math.isfinite(v) for v in values):
        return _direction_problems(metric, values[0], values[-1])
    if error is None:  # a value each time, never a finite one: no trial could be scored or compared
        return [f"metric={metric.name!r} returned {values[0]} on a trivial prediction and {values[-1]} on a perfect "
                "one of a validation part, so no trial could be scored; fix the callable so that it returns a finite "
                "number"]
    return [f"metric={metric.name!r} raised {type(error).__name__}: {' '.join(str(error).split())[:200]} when called "
            "as fn(y_true, y_pred) on a validation part (original labels or values), so every trial would fail; "
            "fix the callable, or wrap it in automl.Metric"]


def _direction_problems(metric: Any, trivial: float, perfect: float) -> list[str]:
    """A metric of yours that scores a perfect prediction worse than a trivial one in its own direction (a loss
    given as a plain callable, which is maximised): the search would prefer the worst models."""
    if not (math.isfinite(trivial) and math.isfinite(perfect)) or perfect == trivial:
        return []
    if (perfect > trivial) == metric.greater_is_better:
        return []
    better = "greater" if metric.greater_is_better else "lower"
    return [f"metric={metric.name!r} scored a perfect prediction {perfect:g} and a trivial one (the training "
            f"part's prior) {trivial:g} on a validation part, but {better} is better for it, so the search would "
            f"prefer the worst models; for a loss give automl.Metric({metric.name!r}, fn, greater_is_better="
            f"{not metric.greater_is_better}), or negate it"]


# -- weights ----------------------------------------------------------------------------------------
def weight_problems(weights: np.ndarray | None) -> list[str]:
    """Weights whose sums cannot be divided by (subnormal or zero) or overflow (see the module docstring)."""
    if weights is None or len(weights) == 0:
        return []
    w = np.asarray(weights, dtype="float64")
    with np.errstate(over="ignore"):
        total = float(w.sum())
        square = total * total
    largest = float(w.max())
    if not math.isfinite(square) or not math.isfinite(total):
        return [f"sample_weight: the weights sum to {total:g} (largest {largest:g}), too large to compute weighted "
                "metrics without overflow; rescale them, e.g. w / w.max()"]
    if square < _TINY:
        return [f"sample_weight: the weights sum to {total:g}, too small to divide by (the weighted metrics "
                f"underflow to NaN); rescale them, e.g. w / w.max() (the largest is {largest:g})"]
    positive = w[w > 0]
    if len(positive) and float(positive.min()) < _TINY:
        return [f"sample_weight: {int((positive < _TINY).sum())} weight(s) are subnormal (below {_TINY:g}; the "
                f"smallest {float(positive.min()):g}), too small to compute with; rescale the weights (e.g. "
                "w / w.max()) or set those to 0"]
    return []


# -- the families' estimators -------------------------------------------------------------------------
def _estimators(estimator: Any) -> Iterator[Any]:
    """``estimator`` and those inside it (pipeline steps, wrapped estimators)."""
    yield estimator
    for step in getattr(estimator, "steps", None) or []:
        yield from _estimators(step[1])
    get_params = getattr(estimator, "get_params", None)
    if callable(get_params):
        try:
            inner = get_params(deep=False)
        except Exception:  # noqa: BLE001 - a foreign estimator's get_params: nothing to walk
            inner = {}
        for value in inner.values():
            if hasattr(value, "fit") and hasattr(value, "get_params"):
                yield from _estimators(value)


def _refusal(build: Callable[[Mapping[str, Any], Any], Any], params: Mapping[str, Any], ctx: Any) -> str | None:
    """Why ``build(params, ctx)`` or the estimator's own parameter constraints refuse ``params`` (None: they do not)."""
    try:
        model = build(params, ctx)
        for estimator in _estimators(model):
            if hasattr(estimator, "_parameter_constraints") and hasattr(estimator, "_validate_params"):
                estimator._validate_params()  # scikit-learn's own parameter rules
            elif type(estimator).__module__.startswith("automl.families.") and callable(
                    getattr(estimator, "_validate", None)):
                estimator._validate()  # the nets' rules (automl.families.torch_estimator)
    except Exception as exc:  # noqa: BLE001 - whatever a builder raises is the reason a trial would fail
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return None


def model_problems(family: Any, space: Any, names: Sequence[str], ctx: Any) -> list[str]:
    """Values of ``names`` (the overridden parameters) that ``family``'s estimator refuses, built but not fitted."""
    defaults = space.defaults()
    head = f"search_space[{family.name!r}]"
    reason = _refusal(family.build, defaults, ctx)
    if reason is not None and not names:
        return [f"{head}: the family's defaults {defaults} are refused by its estimator ({reason})"]
    out = []
    for name in names:
        for value in probe_values(space[name]):
            why = _refusal(family.build, {**defaults, name: value}, ctx)
            if why is not None:
                out.append(f"{head}: parameter {name!r}={value!r} is refused by the {family.name} estimator ({why}); "
                           "give a value it accepts")
                break
    if reason is not None and not out:
        out.append(f"{head}: the overridden defaults {defaults} are refused by the {family.name} estimator ({reason})")
    return out


def valid_settings(params: Mapping[str, Any], estimator: str) -> dict[str, Any]:
    """``params`` without the settings refused on their own (they take their defaults).

    Example:
        >>> valid_settings({"n_trials": 0, "cv": 3}, "classifier")
        {'cv': 3}
    """
    from automl.config import setting, setting_names

    known = setting_names(estimator)
    out = {}
    for name, value in params.items():
        if name not in known:
            continue
        spec = setting(name)
        normal = spec.normalise(value) if spec.normalise is not None else value
        if not spec.check(name, normal):
            out[name] = value
    if estimator == "classifier" and out.get("task") == "regression":
        out.pop("task")
    return out


def positive_class(pos_label: Any, y: np.ndarray, classes: Any, task: str) -> tuple[Any, int]:
    """``(label, encoded index)`` of the positive class of a binary target ``y`` (encoded ``0..1``,
    ``classes`` sorted): ``pos_label``, matched by value or, for a label given as text (the command
    line), by its text; None picks the minority class (on a tie ``classes[1]``, scikit-learn's default).
    Not binary: ``(None, 1)``.

    Raises:
        InvalidParameterError: ``pos_label`` is not a class of the target (with "did you mean"), or
            is given for a target that is not binary.

    Example:
        >>> positive_class(None, np.array([0, 1, 1]), np.array(["churn", "stay"]), "binary")
        ('churn', 0)
        >>> positive_class("chrun", np.array([0, 1, 1]), np.array(["churn", "stay"]), "binary")
        Traceback (most recent call last):
        ...
        automl.exceptions.InvalidParameterError: pos_label='chrun' is not a class of the target; did you mean 'churn'? the classes are ['churn', 'stay']
    """
    if task != "binary":
        if pos_label is not None:
            raise InvalidParameterError(f"pos_label={pos_label!r} applies to a binary target, but this one is "
                                        f"{task}; leave pos_label out")
        return None, 1
    labels = [plain(c) for c in np.asarray(classes).tolist()]
    if pos_label is None:
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
        index = 0 if counts[0] < counts[1] else 1
        return labels[index], index
    wanted = plain(pos_label)
    for index, label in enumerate(labels):
        if label == wanted and isinstance(label, bool) == isinstance(wanted, bool):
            return label, index
    for index, label in enumerate(labels):
        if isinstance(wanted, str) and str(label) == wanted:
            return label, index
    from automl._suggest import close_names

    hints = close_names(str(wanted), [str(c) for c in labels])
    hint = f"did you mean {hints[0]!r}? " if hints else ""
    raise InvalidParameterError(f"pos_label={pos_label!r} is not a class of the target; {hint}"
                                f"the classes are {labels}")


def time_order_warnings(plan: Any, X: Any) -> list[str]:
    """Under ``time:K`` (folds by row order), datetime columns of ``X`` none of which is in row order: the folds
    would then validate on rows earlier than those they train on."""
    if not plan.description.startswith("time:") or not hasattr(X, "select_dtypes"):
        return []
    stamps = X.select_dtypes(include=["datetime", "datetimetz"])
    if stamps.shape[1] == 0 or any(stamps[c].dropna().is_monotonic_increasing for c in stamps.columns):
        return []
    names = ", ".join(repr(c) for c in list(stamps.columns)[:3])
    return [f"cv={plan.description} takes the rows in the order given as time, but no datetime column ({names}) is "
            f"in that order, so some folds validate on rows earlier than those they train on; sort the rows "
            f"first, e.g. X.sort_values({stamps.columns[0]!r})"]


#: The cv forms of automl's own grammar that split rows without looking at groups.
_GROUPLESS_FORMS = ("kfold", "stratified_kfold", "repeated", "holdout", "time")


def ignored_groups_warnings(plan: Any, groups: Any) -> list[str]:
    """Groups given with a ``cv`` form that does not use them (``kfold:K``, ``repeated:KxR``, a holdout,
    ``time:K``): a group's rows may then be on both sides of a split, as scikit-learn's splitters warn."""
    if groups is None or plan.needs_groups or plan.description.split(":")[0] not in _GROUPLESS_FORMS:
        return []
    return [f"groups were given but cv={plan.description} does not use them, so rows of one group may be both "
            f"trained on and validated on; use cv='group:{max(2, plan.n_splits)}' to keep each group in one fold, "
            "or leave groups out"]
