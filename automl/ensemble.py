"""Greedy ensemble selection over the trials' out-of-fold predictions (Caruana et al., 2004).

Starting from the best single trial, each round adds (with replacement) the trial
whose addition most improves the primary metric of the averaged out-of-fold
predictions; a trial's weight is how often it was picked over the rounds. The
weights are chosen on out-of-fold predictions only. The ensemble is scored on
the same folds as every trial, each fold with weights chosen again without it
(cross-fitted, so the score is not flattered by the choice of weights), and it
is kept only when that score beats the best single trial chosen the same way:
each fold's best single candidate is picked on the rows its weights would be
picked on. Against the best trial's own folds the blend would lose to a choice
that has seen the rows it is scored on (the best of many trials on one holdout
is flattered most).

Example:
    >>> import numpy as np
    >>> from automl.evaluation import get_metric
    >>> y = np.array([0, 1, 0, 1, 1, 0])
    >>> a = np.array([[.6, .4], [.4, .6], [.4, .6], [.6, .4], [.3, .7], [.7, .3]], dtype="float32")
    >>> b = np.array([[.7, .3], [.2, .8], [.8, .2], [.45, .55], [.6, .4], [.4, .6]], dtype="float32")
    >>> picked = greedy_selection([a, b], y, get_metric("roc_auc", "binary"), rounds=10)
    >>> picked.counts.tolist(), round(picked.score, 3)
    ([6, 4], 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl.calibration import fit_temperature, scale_probabilities
from automl.evaluation.deadlines import OutOfTime, check_deadline
from automl.evaluation.metrics import Metric
from automl.evaluation.stats import finite_mean_std

__all__ = ["EnsembleModel", "EnsemblePlan", "OutOfTime", "Selection", "blend", "finite_rows", "greedy_selection",
           "oof_by_repeat", "plan_ensemble"]

#: Rounds of greedy selection (the weights are multiples of 1 / rounds).
DEFAULT_ROUNDS = 40

#: Most rows greedy selection scores its candidates on (a seeded sample of the rows beyond it). Its cost is rounds x
#: candidates x a metric over these rows: 8.3 s for 40 rounds of 20 candidates by ROC AUC on 100,000 rows on one core,
#: which on 1,000,000 rows (a 10 % holdout, then cross-fitted halves, again after each candidate too costly to
#: refit is dropped) made a 300 s fit's ensemble stage run 29.5 s past the budget; on 3 folds of such data (a long
#: budget) the folds' training rows, 800,000 each. Weights are multiples of 1 / rounds, and a metric on 50,000 rows
#: tells the candidates apart as well as on more; the blend is still scored on every row of each fold.
SELECTION_MAX_ROWS = 50_000


@dataclass
class Selection:
    """What greedy selection chose.

    Attributes:
        counts: Times each candidate was picked (its weight is ``counts / counts.sum()``).
        score: Primary metric of the blended out-of-fold predictions.
        history: Score after each round.
    """

    counts: np.ndarray
    score: float
    history: list[float] = field(default_factory=list)

    @property
    def weights(self) -> np.ndarray:
        """Normalised weights, one per candidate."""
        return self.counts / self.counts.sum()


def blend(predictions: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weighted average of predictions (probability matrices or values).

    Example:
        >>> blend([np.array([1.0, 2.0]), np.array([3.0, 4.0])], [0.75, 0.25]).tolist()
        [1.5, 2.5]
    """
    total = np.zeros(np.shape(predictions[0]), dtype="float64")
    for prediction, weight in zip(predictions, weights):
        if weight:
            total += float(weight) * np.asarray(prediction, dtype="float64")
    return total / float(np.sum(weights))


def finite_rows(predictions: Sequence[np.ndarray], n: int) -> np.ndarray:
    """The rows (a mask of ``n``) on which every one of ``predictions`` (``(n,)`` or ``(n, K)``) is finite.

    Example:
        >>> finite_rows([np.array([1.0, np.nan, 2.0]), np.array([[1.0, 0.0], [1.0, 0.0], [np.inf, 0.0]])], 3).tolist()
        [True, False, False]
    """
    rows = np.ones(n, dtype=bool)
    for prediction in predictions:
        rows &= np.isfinite(np.asarray(prediction, dtype="float64")).reshape(n, -1).all(axis=1)
    return rows


def greedy_selection(
    oofs: Sequence[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    *,
    rounds: int = DEFAULT_ROUNDS,
    sample_weight: np.ndarray | None = None,
    classes: np.ndarray | None = None,
    deadline: float | None = None,
) -> Selection:
    """Pick, with replacement, the candidates whose average scores best on ``y``.

    Args:
        oofs: Out-of-fold predictions of each candidate, best single candidate first.
        y: Encoded target.
        metric: The primary metric.
        rounds: Rounds of selection.
        sample_weight: Row weights of the metric.
        classes: Original labels (for user metrics).
        deadline: Monotonic time past which selection stops (checked before each candidate).

    Candidates are scored on the rows where every one has a prediction, at most :data:`SELECTION_MAX_ROWS` of them
    (a seeded sample beyond it).

    Returns:
        The :class:`Selection`; ties keep the earlier (better single) candidate.

    Raises:
        OutOfTime: the deadline passed.
    """
    rows = np.flatnonzero(finite_rows(oofs, len(y)))
    if len(rows) > SELECTION_MAX_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, SELECTION_MAX_ROWS, replace=False))
    y_rows = y[rows]
    w_rows = None if sample_weight is None else sample_weight[rows]
    preds = [np.asarray(o, dtype="float64")[rows] for o in oofs]

    def score(prediction: np.ndarray) -> float:
        return metric.compute(y_rows, prediction, classes, w_rows)

    counts = np.zeros(len(preds), dtype=int)
    total = np.zeros_like(preds[0])
    best_score = np.nan
    history: list[float] = []
    for _ in range(max(1, rounds)):
        n = counts.sum() + 1
        round_best, round_index = np.nan, -1
        for index, prediction in enumerate(preds):
            check_deadline(deadline, "ensemble selection")
            value = score((total + prediction) / n)
            if np.isfinite(value) and (round_index < 0 or metric.is_better(value, round_best)):
                round_best, round_index = value, index
        if round_index < 0:
            break
        counts[round_index] += 1
        total += preds[round_index]
        best_score = round_best
        history.append(float(round_best))
    if counts.sum() == 0:
        counts[0] = 1
        best_score = score(preds[0])
    return Selection(counts, float(best_score), history)


class EnsembleModel:
    """Fitted pipelines averaged with fixed weights (what ``predict`` uses when the ensemble wins).

    Args:
        members: Fitted :class:`~automl.families.pipeline.FamilyPipeline` objects.
        weights: One weight per member (normalised here).
        trials: The trial number each member comes from.
    """

    def __init__(self, members: Sequence[Any], weights: Sequence[float], trials: Sequence[int]) -> None:
        total = float(np.sum(weights))
        self.members = list(members)
        self.weights = [float(w) / total for w in weights]
        self.trials = [int(t) for t in trials]

    @property
    def families(self) -> list[str]:
        """Family of each member."""
        return [m.family for m in self.members]

    def predict_scores(self, X: Any) -> np.ndarray:
        """The members' scores (probabilities or values), averaged with the weights."""
        return blend([m.predict_scores(X) for m in self.members], self.weights)

    def __repr__(self) -> str:
        parts = ", ".join(f"{f}#{t}: {w:.2f}" for f, t, w in zip(self.families, self.trials, self.weights))
        return f"EnsembleModel({parts})"


#: Best trials considered for the ensemble.
MAX_CANDIDATES = 20


def split_repeats(splits: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> list[int]:
    """The repeat each split belongs to: how many earlier splits validated its rows (0 without repeats).

    Example:
        >>> rows = np.arange(4)
        >>> split_repeats([(rows[2:], rows[:2]), (rows[:2], rows[2:]), (rows[1:3], rows[[0, 3]])], 4)
        [0, 0, 1]
    """
    seen = np.zeros(n, dtype=int)
    out = []
    for _, valid in splits:
        out.append(int(seen[valid].min()) if len(valid) else 0)
        seen[valid] += 1
    return out


def fold_scores(by_repeat: np.ndarray, y: np.ndarray, evaluator: Any) -> dict[str, list[float]]:
    """Each reported metric of out-of-fold predictions ``(R, n, ...)`` on each fold's validation rows, each
    fold scored on its own repeat's predictions (as the trials' folds are)."""
    out: dict[str, list[float]] = {m.name: [] for m in evaluator.metrics}
    repeats = split_repeats(evaluator.splits, len(y))
    for (_, valid), r in zip(evaluator.splits, repeats):
        _add_fold_scores(out, _repeat(by_repeat, r)[valid], y, valid, evaluator)
    return out


def _repeat(by_repeat: np.ndarray, r: int) -> np.ndarray:
    """Repeat ``r``'s predictions from ``(R, n, ...)`` (the only one when ``R == 1``), as float64."""
    return np.asarray(by_repeat[min(r, len(by_repeat) - 1)], dtype="float64")


def _add_fold_scores(out: dict[str, list[float]], prediction: np.ndarray, y: np.ndarray, valid: np.ndarray,
                     evaluator: Any) -> None:
    """Append each reported metric of ``prediction`` (on the ``valid`` rows) to ``out``."""
    weights = None if evaluator.weights is None else evaluator.weights[valid]
    for metric in evaluator.metrics:
        out[metric.name].append(metric.compute(y[valid], prediction, evaluator.classes, weights))


@dataclass
class EnsemblePlan:
    """The ensemble chosen on out-of-fold predictions, before its members are refitted.

    Attributes:
        members: The member trials' records, most weighted first.
        counts: Times each was picked.
        scores: Each reported metric of the blend, per fold (cross-fitted).
        single_scores: The same for the best single trial's own predictions.
        baseline_scores: The same for the best single candidate chosen per fold without look-ahead
            (what the blend had to beat).
    """

    members: list[Any]
    counts: list[int]
    scores: dict[str, list[float]]
    single_scores: dict[str, list[float]]
    baseline_scores: dict[str, list[float]] = field(default_factory=dict)


def plan_ensemble(
    ranked: Sequence[Any],
    oof: Any,
    evaluator: Any,
    y: np.ndarray,
    *,
    affordable: Callable[[list[Any]], bool] | None = None,
    rounds: int = DEFAULT_ROUNDS,
    deadline: float | None = None,
) -> EnsemblePlan | None:
    """Greedy selection over the best completed trials; None when no blend beats the best single
    trial chosen, like the blend's weights, without look-ahead (see the module docstring).

    Args:
        ranked: The completed trials' records (:class:`~automl.search.trial_record.TrialRecord`),
            best first; those with predictions in ``oof`` are candidates.
        oof: Trial number → out-of-fold predictions.
        evaluator: The search's evaluator (metrics, folds, sample weights, classes).
        y: Encoded target.
        affordable: ``affordable(members) -> bool``: whether refitting these trials fits in
            the time left; costly candidates are dropped until the chosen set is affordable.
        rounds: Rounds of selection.
        deadline: Monotonic time past which selection gives up (None: no limit).
    """
    primary = evaluator.metrics[0]
    done = [r for r in ranked if r.number in oof]
    if len(done) < 2:
        return None
    pool = done[:MAX_CANDIDATES]
    candidates = pool
    if affordable is not None:
        # A candidate whose own refit does not fit can be in no affordable blend: dropped before selecting, not one
        # selection each (on 1,000,000 rows 2.6 s per selection, run again until the deadline at 40 s past the budget).
        candidates = pool[:1] + [r for r in pool[1:] if affordable([pool[0], r])]
        if len(candidates) < 2:
            return None
    single = fold_scores(oof_by_repeat(oof, done[0].number), y, evaluator)
    try:
        # one round of selection picks the best single candidate on the rows a fold's weights are chosen on
        baseline = cross_fitted_scores([oof_by_repeat(oof, r.number) for r in pool], y, evaluator, 1, deadline)
        while len(candidates) >= 2:
            selection = greedy_selection(
                [oof[r.number] for r in candidates], y, primary, rounds=rounds,
                sample_weight=evaluator.weights, classes=evaluator.classes, deadline=deadline,
            )
            chosen = sorted(((r, int(c)) for r, c in zip(candidates, selection.counts) if c), key=lambda rc: -rc[1])
            if len(chosen) < 2:
                return None
            members = [r for r, _ in chosen]
            if affordable is not None and not affordable(members):
                costliest = max(members[1:], key=lambda r: r.fit_time if np.isfinite(r.fit_time) else 0.0)
                candidates = [r for r in candidates if r.number != costliest.number]
                continue
            counts = [c for _, c in chosen]
            first = min(range(len(members)), key=lambda i: candidates.index(members[i]))
            scores = cross_fitted_scores([oof_by_repeat(oof, r.number) for r in members], y, evaluator, rounds, deadline,
                                         first=first)
            if not primary.is_better(finite_mean_std(scores[primary.name])[0],
                                     finite_mean_std(baseline[primary.name])[0]):
                return None
            return EnsemblePlan(members, counts, scores, single, baseline)
    except OutOfTime:
        return None
    return None


def oof_by_repeat(oof: Any, number: int) -> np.ndarray:
    """Trial ``number``'s out-of-fold predictions per repeat, ``(R, n, ...)``: an
    :class:`~automl.search.oof.OOFStore`'s own, or ``R == 1`` from a plain mapping of arrays.

    Example:
        >>> oof_by_repeat({3: np.zeros(4)}, 3).shape
        (1, 4)
    """
    by_repeat = getattr(oof, "by_repeat", None)
    return np.asarray(by_repeat(number) if by_repeat is not None else np.asarray(oof[number])[None])


def cross_fitted_scores(
    oofs: Sequence[np.ndarray], y: np.ndarray, evaluator: Any, rounds: int = DEFAULT_ROUNDS,
    deadline: float | None = None, first: int = 0, temperature: bool = False,
) -> dict[str, list[float]]:
    """Each metric of the blend per fold, scored as every trial's folds are, with no look-ahead.

    ``oofs`` are the members' out-of-fold predictions per repeat, ``(R, n, ...)`` each (``R == 1``
    without repeated splits); fold k is scored on its own repeat's predictions, as the trials' folds
    are (an average over repeats would score every row with several models and flatter the blend).
    The weights chosen on all out-of-fold rows have seen every validation fold, so fold k's weights
    are chosen again, by greedy selection over the same members, on the rows fold k's models trained
    on (so never on later rows under ``time:K``), and the blend is scored on fold k. Where none of
    those rows has predictions, a single split (a holdout) is cross-fitted in two seeded halves
    (weights chosen on one half score the other), and a fold of several (the first of ``time:K``)
    uses the member ``first`` alone (the best single trial among them). With ``temperature``, each fold's blend is
    then temperature-scaled (:mod:`automl.calibration`) with a temperature fitted on the rows its weights were
    chosen on (none where those are none).
    """
    out: dict[str, list[float]] = {m.name: [] for m in evaluator.metrics}
    n = len(y)
    for (train, valid), r in zip(evaluator.splits, split_repeats(evaluator.splits, n)):
        check_deadline(deadline, "the cross-fitted scores")
        arrays = [_repeat(o, r) for o in oofs]
        allowed = np.zeros(n, dtype=bool)
        allowed[train] = True
        allowed &= finite_rows(arrays, n)
        if allowed.any():
            weights = _chosen(arrays, allowed, y, evaluator, rounds, deadline)
            prediction = blend([a[valid] for a in arrays], weights)
            if temperature:
                prediction = _scaled(prediction, arrays, weights, allowed, y, evaluator, deadline)
        elif len(evaluator.splits) == 1:
            prediction = _halves(arrays, valid, y, evaluator, rounds, deadline, temperature)
        else:
            prediction = arrays[first][valid]
        _add_fold_scores(out, prediction, y, valid, evaluator)
    return out


def _chosen(arrays: Sequence[np.ndarray], rows: np.ndarray, y: np.ndarray, evaluator: Any, rounds: int,
            deadline: float | None) -> np.ndarray:
    """The members' weights (counts) chosen by greedy selection on ``rows`` (a mask or indices)."""
    weights = None if evaluator.weights is None else evaluator.weights[rows]
    selection = greedy_selection([a[rows] for a in arrays], y[rows], evaluator.metrics[0], rounds=rounds,
                                 sample_weight=weights, classes=evaluator.classes, deadline=deadline)
    return selection.counts.astype(float)


def _scaled(prediction: np.ndarray, arrays: Sequence[np.ndarray], weights: np.ndarray, rows: np.ndarray,
            y: np.ndarray, evaluator: Any, deadline: float | None = None) -> np.ndarray:
    """``prediction`` temperature-scaled with the temperature fitted on ``rows`` (a mask or indices) of the blend
    of ``arrays`` with ``weights``."""
    sample_weight = None if evaluator.weights is None else evaluator.weights[rows]
    t = fit_temperature(blend([a[rows] for a in arrays], weights), y[rows], sample_weight, deadline)
    return scale_probabilities(prediction, t)


def _halves(arrays: Sequence[np.ndarray], valid: np.ndarray, y: np.ndarray, evaluator: Any, rounds: int,
            deadline: float | None, temperature: bool = False) -> np.ndarray:
    """The blend's predictions on ``valid`` cross-fitted in two seeded halves (a holdout's only fold)."""
    order = np.random.default_rng(0).permutation(len(valid))
    halves = (order[: len(order) // 2], order[len(order) // 2:])
    prediction = np.array(arrays[0][valid], dtype="float64")  # (a half left empty keeps the first member's)
    for choose, apply in (halves, halves[::-1]):
        if not len(choose) or not len(apply):
            continue
        weights = _chosen(arrays, valid[choose], y, evaluator, rounds, deadline)
        prediction[apply] = blend([a[valid[apply]] for a in arrays], weights)
        if temperature:
            prediction[apply] = _scaled(prediction[apply], arrays, weights, valid[choose], y, evaluator, deadline)
    return prediction
