"""The fold loop: fit on each training part, score the validation part, keep out-of-fold predictions.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation.metrics import get_metric
    >>> from automl.evaluation.splitters import make_cv_plan
    >>> X = pd.DataFrame({"a": np.arange(40.0)}); y = (np.arange(40) % 2)
    >>> splits = make_cv_plan(4, "binary").splits(40, y, None)
    >>> ev = Evaluator([get_metric("accuracy", "binary")], splits, task="binary", n_classes=2)
    >>> result = ev.evaluate("linear", {}, X, y)
    >>> len(result.fold_scores["accuracy"]), result.oof.shape
    (4, (40, 2))
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.data import text_cache
from automl.evaluation.metrics import Metric
from automl.evaluation.monitor import Answer, EpochDone, FoldDone, Go, ProbeDone, Stop, TrialMonitor, TrialStopped
from automl.exceptions import NonFinitePredictionError
from automl.families.epochs import epoch_reporting
from automl.families.pipeline import FamilyPipeline

__all__ = [
    "CVResult", "Evaluator", "TrialStopped", "average_curves", "subsample", "probe_fraction_for",
    "cap_validation_rows", "MAX_CURVE_POINTS", "VALIDATION_MAX_ROWS",
]

#: Points kept per learning curve (evenly spaced steps, the last one always kept).
MAX_CURVE_POINTS = 100
#: Training folds of at least this many rows get a probe; it trains on a ninth of them
#: (at least ``PROBE_MIN_SAMPLE``, at most ``PROBE_MAX_SAMPLE`` rows: on the 1M-row frame of
#: ``benchmarks/scale.py``, seed 1, a 20,000-row probe gave 20 trials and a test AUC of 0.9315 at 300 s
#: against 19 and 0.9287 with 50,000 rows; CatBoost converges on it within a trial's share of the time).
PROBE_MIN_ROWS = 10_000
PROBE_MIN_SAMPLE = 2_000
PROBE_MAX_SAMPLE = 20_000
#: Most validation rows a fold is scored on: predicting is a large share of a trial's cost on big
#: data (LightGBM with 600 trees takes longer to predict 333,000 rows than to train on 100,000),
#: and 50,000 rows rank trials well; the rest of a large fold's validation rows go unscored.
VALIDATION_MAX_ROWS = 50_000


def probe_fraction_for(train_rows: int) -> float | None:
    """The share of fold 1's training rows a probe trains on (None: no probe, small data).

    Example:
        >>> probe_fraction_for(5_000), probe_fraction_for(18_000), probe_fraction_for(1_800_000)
        (None, 0.1111, 0.0111)
    """
    if train_rows < PROBE_MIN_ROWS:
        return None
    rows = min(PROBE_MAX_SAMPLE, max(PROBE_MIN_SAMPLE, train_rows // 9))
    return round(rows / train_rows, 4)


def subsample(rows: np.ndarray, y: np.ndarray, fraction: float, seed: int, classification: bool) -> np.ndarray:
    """A seeded subsample of ``rows`` (sorted), ``fraction`` of them; for classification
    stratified, with at least 2 rows of every class (all of a class that has fewer).

    Example:
        >>> y = np.array([0] * 90 + [1] * 10)
        >>> picked = subsample(np.arange(100), y, 0.2, seed=0, classification=True)
        >>> len(picked), int(y[picked].sum())
        (20, 2)
    """
    rows = np.asarray(rows)
    if fraction >= 1.0:
        return rows
    rng = np.random.default_rng(seed)
    if not classification:
        size = max(1, int(round(len(rows) * fraction)))
        return np.sort(rng.choice(rows, size=size, replace=False))
    labels = y[rows]
    picked = []
    for label in np.unique(labels):
        members = rows[labels == label]
        size = min(len(members), max(2, int(round(len(members) * fraction))))
        picked.append(rng.choice(members, size=size, replace=False))
    return np.sort(np.concatenate(picked))


def cap_validation_rows(splits: Sequence[tuple[np.ndarray, np.ndarray]], y: np.ndarray, seed: int,
                        classification: bool, max_rows: int | None = None
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The splits with each validation part cut to about ``max_rows`` rows (seeded, stratified
    for classification); training parts are kept whole. Rows left out of every validation part
    have no out-of-fold prediction (NaN), as with a holdout. ``max_rows`` defaults to
    :data:`VALIDATION_MAX_ROWS`.

    Example:
        >>> y = np.arange(10) % 2
        >>> cut = cap_validation_rows([(np.arange(5), np.arange(5, 10))], y, 0, True, max_rows=4)
        >>> [len(train) for train, _ in cut], [len(valid) for _, valid in cut]
        ([5], [4])
    """
    max_rows = VALIDATION_MAX_ROWS if max_rows is None else max_rows
    capped = []
    for fold, (train, valid) in enumerate(splits):
        if len(valid) > max_rows:
            valid = subsample(valid, y, max_rows / len(valid), seed + fold, classification)
        capped.append((train, valid))
    return capped


def average_curves(fold_curves: Sequence[Mapping[str, Sequence[float]]]) -> dict[str, list[tuple[int, float]]]:
    """Average each curve over the folds that reached each step; thin it to ``MAX_CURVE_POINTS``.

    Example:
        >>> average_curves([{"valid_loss": [3.0, 2.0, 1.0]}, {"valid_loss": [1.0, 0.0]}])
        {'valid_loss': [(0, 2.0), (1, 1.0), (2, 1.0)]}
    """
    out: dict[str, list[tuple[int, float]]] = {}
    names = sorted({name for curves in fold_curves for name in curves})
    for name in names:
        series = [np.asarray(c[name], dtype=float) for c in fold_curves if len(c.get(name, ()))]
        length = max(len(s) for s in series)
        padded = np.full((len(series), length), np.nan)
        for row, values in enumerate(series):
            padded[row, : len(values)] = values
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a step no fold has a number for ("Mean of empty slice")
            mean = np.nanmean(padded, axis=0)
        steps = np.unique(np.linspace(0, length - 1, min(length, MAX_CURVE_POINTS)).round().astype(int))
        out[name] = [(int(s), float(mean[s])) for s in steps if np.isfinite(mean[s])]
    return out


def _repeat_buffer(splits: Sequence[tuple[np.ndarray, np.ndarray]], n: int, width: int) -> np.ndarray | None:
    """NaNs ``(R, n, width)`` for each repeat's out-of-fold predictions when some row is validated R > 1
    times (repeated splits), else None."""
    if not splits or n == 0:
        return None
    n_repeats = int(np.bincount(np.concatenate([valid for _, valid in splits]), minlength=n).max())
    return np.full((n_repeats, n, width), np.nan) if n_repeats > 1 else None


def nonfinite_rows(prediction: Any) -> int:
    """How many rows of ``prediction`` (values, or one row of scores per row) hold NaN or infinity."""
    values = np.asarray(prediction, dtype="float64")
    return int((~np.isfinite(values).reshape(len(values), -1).all(axis=1)).sum())


def _check_finite(prediction: np.ndarray, fold: int, n_folds: int) -> None:
    bad = nonfinite_rows(prediction)
    if bad:
        raise NonFinitePredictionError(
            f"predictions are not finite (NaN or inf) for {bad} of {len(prediction)} "
            f"validation rows in fold {fold + 1}/{n_folds}"
        )


def _obey(answer: Answer, scores: dict[str, list[float]]) -> Go:
    """``answer`` if it is :class:`Go`; raise :class:`TrialStopped` (with the scores so far) for :class:`Stop`."""
    if isinstance(answer, Stop):
        stop = TrialStopped(answer.reason, kind=answer.kind)
        stop.fold_scores = scores
        raise stop
    return answer


@dataclass
class CVResult:
    """Scores and predictions of one configuration under cross-validation.

    Attributes:
        fold_scores: Metric name → one score per fold.
        oof: Out-of-fold predictions (float32): probabilities ``(n, K)`` or values
            ``(n,)``; rows no fold predicted are NaN; repeated splits are averaged.
        oof_repeats: Under repeated splits (a row validated R > 1 times), the out-of-fold predictions
            of each repeat, ``(R, n, K)`` or ``(R, n)`` (the r-th validation of each row in ``[r]``), so
            that a blend can be scored per fold as the trials are; None otherwise.
        fit_time: Seconds spent fitting, all folds together.
        predict_time: Seconds spent predicting, all folds together.
        refit_hints: What each fold's model learned for the refit (see ModelFamily).
        curves: Learning curves averaged over folds: name -> ``[(step, value), ...]``,
            at most :data:`MAX_CURVE_POINTS` points each.
        fraction: Share of each training fold's rows the models were trained on (1: all;
            below 1 when the probe found that a full trial would not fit in the time left).
        models: Every fold's fitted model, in fold order, when asked for with ``keep_model`` (a bag of
            them is the final model, see :class:`~automl.families.bagged.BaggedModel`, or the fit's
            last resort when every refit fails).
    """

    fold_scores: dict[str, list[float]]
    oof: np.ndarray
    fit_time: float
    predict_time: float
    refit_hints: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    fraction: float = 1.0
    models: list[Any] | None = None
    oof_repeats: np.ndarray | None = None

    def by_repeat(self) -> np.ndarray:
        """The out-of-fold predictions per repeat, ``(R, n, ...)``: :attr:`oof_repeats`, or ``R == 1`` without
        repeated splits (as :func:`automl.ensemble.oof_by_repeat` gives a trial's)."""
        return self.oof_repeats if self.oof_repeats is not None else np.asarray(self.oof)[None]

    def mean(self, metric: str) -> float:
        """Mean over folds of ``metric`` (NaN folds ignored; NaN if all are)."""
        values = np.asarray(self.fold_scores[metric], dtype=float)
        return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan

    def std(self, metric: str) -> float:
        """Standard deviation over folds of ``metric``."""
        values = np.asarray(self.fold_scores[metric], dtype=float)
        values = values[np.isfinite(values)]
        return float(values.std()) if len(values) else math.nan


class Tally:
    """One configuration's folds as they come: scores, out-of-fold predictions, times, hints, curves.

    Args:
        evaluator: The evaluator (its metrics, task, classes, weights and splits).
        n: Rows of the whole frame.
        keep_model: Keep each fold's model for :attr:`CVResult.models`.
    """

    def __init__(self, evaluator: Evaluator, n: int, keep_model: bool) -> None:
        self.evaluator = evaluator
        self.width = evaluator.n_classes if evaluator.task != "regression" else 1
        self.total = np.zeros((n, self.width))
        self.counts = np.zeros(n, dtype=int)
        self.repeats = _repeat_buffer(evaluator.splits, n, self.width)
        self.scores: dict[str, list[float]] = {m.name: [] for m in evaluator.metrics}
        self.fit_time = self.predict_time = 0.0
        self.hints: list[dict[str, Any]] = []
        self.fold_curves: list[dict[str, list[float]]] = []
        self.kept: list[Any] | None = [] if keep_model else None

    def add(self, model: Any, prediction: np.ndarray, y: np.ndarray, valid: np.ndarray, fit_seconds: float,
            predict_seconds: float) -> None:
        """Record a fold: its model's validation ``prediction`` of rows ``valid``, scored with every metric."""
        self.fit_time += fit_seconds
        self.predict_time += predict_seconds
        if self.kept is not None:
            self.kept.append(model)
        self.hints.append(model.refit_hints())
        self.fold_curves.append(model.learning_curves())
        shaped = prediction.reshape(len(valid), self.width)
        self.total[valid] += shaped
        if self.repeats is not None:
            self.repeats[self.counts[valid], valid] = shaped
        self.counts[valid] += 1
        weights = None if self.evaluator.weights is None else self.evaluator.weights[valid]
        for metric in self.evaluator.metrics:
            self.scores[metric.name].append(metric.compute(y[valid], prediction, self.evaluator.classes, weights))

    def running_mean(self) -> float:
        """The primary metric's mean over the folds so far (NaN folds ignored)."""
        running = np.asarray(self.scores[self.evaluator.metrics[0].name], dtype=float)
        return float(np.nanmean(running)) if np.isfinite(running).any() else math.nan

    def result(self, fraction: float) -> CVResult:
        """The :class:`CVResult` of the folds recorded."""
        with np.errstate(invalid="ignore", divide="ignore"):
            oof = (self.total / self.counts[:, None]).astype("float32")
        if self.evaluator.task == "regression":
            oof = oof.ravel()
        repeats = self.repeats
        if repeats is not None:
            repeats = repeats[..., 0] if self.evaluator.task == "regression" else repeats
        return CVResult(self.scores, oof, self.fit_time, self.predict_time, self.hints,
                        average_curves(self.fold_curves), fraction, self.kept,
                        None if repeats is None else repeats.astype("float32"))


class Evaluator:
    """Runs the same folds for every configuration.

    Args:
        metrics: Metrics to compute; the first is reported to the pruner.
        splits: ``(train_idx, valid_idx)`` pairs, fixed for the whole search.
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: Number of classes (0 for regression).
        classes: Original class labels (decoding for user metrics).
        seed: Seed given to every model.
        n_jobs: Threads per model.
        device: Where nets train.
        image_shape: ``(height, width, channels)`` when the columns are image pixels.
        weights: Sample weight of every row (``None``: unweighted). Each fold's model trains
            with its training rows' weights and is scored with its validation rows' weights.
        probe_fraction: When set (large data), every configuration is first trained on this
            share of fold 1's training rows and scored on fold 1's validation rows; the monitor
            gets that score (:class:`~automl.evaluation.monitor.ProbeDone`) and may stop the
            trial, or answer the share of rows the real folds train on (see :meth:`evaluate`).
    """

    def __init__(
        self,
        metrics: Sequence[Metric],
        splits: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        task: str,
        n_classes: int,
        classes: np.ndarray | None = None,
        seed: int = 0,
        n_jobs: int = 1,
        device: str = "auto",
        image_shape: tuple[int, int, int] | None = None,
        weights: np.ndarray | None = None,
        probe_fraction: float | None = None,
    ) -> None:
        self.metrics = list(metrics)
        self.splits = list(splits)
        self.task = task
        self.n_classes = n_classes
        self.classes = classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.device = device
        self.image_shape = image_shape
        self.weights = None if weights is None else np.asarray(weights, dtype="float64")
        self.probe_fraction = probe_fraction

    def pipeline(self, family: str, params: Mapping[str, Any], seed: int | None = None) -> FamilyPipeline:
        """An unfitted pipeline for ``family`` with ``params`` (``seed``: the trial's, default the evaluator's)."""
        return FamilyPipeline(
            family, dict(params), task=self.task, n_classes=self.n_classes,
            seed=self.seed if seed is None else seed, n_jobs=self.n_jobs,
            device=self.device, image_shape=self.image_shape,
        )

    def evaluate(
        self,
        family: str,
        params: Mapping[str, Any],
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        monitor: TrialMonitor | None = None,
        seed: int | None = None,
        keep_model: bool = False,
    ) -> CVResult:
        """Cross-validate one configuration.

        Args:
            family: Family name.
            params: Its parameters.
            X: Canonical frame (all rows).
            y: Encoded target.
            monitor: Told of the probe (with a ``probe_fraction``), of each fold and of each
                epoch of a net (see :mod:`automl.evaluation.monitor`); its :class:`Stop`
                ends the trial with :class:`TrialStopped`. None: every fold runs, no probe.
            seed: Seed of this trial's models (default: the evaluator's); see
                :func:`automl.search.objective.trial_seed`.
            keep_model: Keep every fold's fitted model on the result (``CVResult.models``).

        Returns:
            The :class:`CVResult`.

        Raises:
            TrialStopped: the monitor stopped the trial (pruned or out of time).
        """
        tally = Tally(self, len(y), keep_model)
        fraction, probed = 1.0, None
        if self.probe_fraction is not None and monitor is not None and self.splits:
            fraction, probed = self._probe(family, params, X, y, seed, monitor)
        classification = self.task != "regression"
        base_seed = self.seed if seed is None else seed
        n_folds = len(self.splits)
        for fold, (train, valid) in enumerate(self.splits):
            if fold == 0 and probed is not None and fraction == float(self.probe_fraction or 0.0):
                # The folds train on the probe's share: fold 1 is the probe itself (same rows, same model).
                model, prediction, fit_seconds, predict_seconds = probed
                probed = None
            else:
                if fraction < 1.0:
                    train = subsample(train, y, fraction, base_seed + fold + 1, classification)
                model, prediction, fit_seconds, predict_seconds = self._fold(
                    family, params, X, y, (fold, train, valid), seed, monitor, tally.scores)
            tally.add(model, prediction, y, valid, fit_seconds, predict_seconds)
            if monitor is not None:
                _obey(monitor.fold(FoldDone(fold, n_folds, tally.running_mean(), fit_seconds + predict_seconds)),
                      tally.scores)
        return tally.result(fraction)

    def _fold(self, family: str, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray,
              split: tuple[int, np.ndarray, np.ndarray], seed: int | None, monitor: TrialMonitor | None,
              scores: dict[str, list[float]]) -> tuple[Any, np.ndarray, float, float]:
        """Fit fold ``split = (fold, train, valid)``'s model and predict its validation rows:
        ``(model, prediction, fit seconds, predict seconds)``."""
        fold, train, valid = split
        started = time.perf_counter()
        with text_cache.reuse():  # a fold's text encoding is computed by the first trial that fits it
            try:
                with epoch_reporting(self._epoch_reporter(fold, monitor, started)):
                    model = self.pipeline(family, params, seed).fit(
                        X.iloc[train], y[train], sample_weight=None if self.weights is None else self.weights[train])
            except TrialStopped as stop:  # a net stopped between epochs
                stop.fold_scores = scores
                raise
            fitted = time.perf_counter()
            prediction = model.predict_scores(X.iloc[valid])
        _check_finite(prediction, fold, len(self.splits))
        return model, prediction, fitted - started, time.perf_counter() - fitted

    def _probe(
        self, family: str, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray, seed: int | None,
        monitor: TrialMonitor,
    ) -> tuple[float, tuple[Any, np.ndarray, float, float]]:
        """Fit on ``probe_fraction`` of fold 1's training rows, score fold 1; return the share of
        rows the folds train on (the monitor's answer) and the probe's model, its fold-1
        prediction, and its fit and predict seconds (fold 1 itself when the share is the probe's)."""
        train, valid = self.splits[0]
        base_seed = self.seed if seed is None else seed
        fraction = float(self.probe_fraction or 1.0)
        rows = subsample(train, y, fraction, base_seed, self.task != "regression")
        no_scores: dict[str, list[float]] = {m.name: [] for m in self.metrics}
        started = time.perf_counter()
        try:
            with epoch_reporting(self._epoch_reporter(None, monitor, started)):
                model = self.pipeline(family, params, seed).fit(
                    X.iloc[rows], y[rows], sample_weight=None if self.weights is None else self.weights[rows]
                )
            fitted = time.perf_counter()
            prediction = model.predict_scores(X.iloc[valid])
        except TrialStopped as stop:
            stop.fold_scores = no_scores
            raise
        _check_finite(prediction, 0, len(self.splits))
        weights = None if self.weights is None else self.weights[valid]
        score = self.metrics[0].compute(y[valid], prediction, self.classes, weights)
        predicted = time.perf_counter()
        answer = _obey(monitor.probe(ProbeDone(float(score), predicted - started, fraction)), no_scores)
        probed = (model, prediction, fitted - started, predicted - fitted)
        share = float(answer.share)
        return (share if 0.0 < share < 1.0 else 1.0), probed

    def _epoch_reporter(self, fold: int | None, monitor: TrialMonitor | None, started: float) -> Any:
        """Scores a net's epoch with the primary metric and tells the monitor."""
        if monitor is None:
            return None
        primary = self.metrics[0]
        n_folds = len(self.splits)

        def reporter(epoch: int, y_true: Any, scores: Any) -> bool:
            if y_true is None:  # a booster's time-only report (see automl.families.epochs.RoundClock)
                event = EpochDone(fold, n_folds, epoch, math.nan, time.perf_counter() - started, kind="rounds")
            else:
                value = primary.compute(np.asarray(y_true), np.asarray(scores), self.classes)
                event = EpochDone(fold, n_folds, epoch, float(value), time.perf_counter() - started)
            return _obey(monitor.epoch(event), {m.name: [] for m in self.metrics}).end_fold

        return reporter
