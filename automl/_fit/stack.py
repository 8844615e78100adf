"""Stage 3, last step (``stack="auto"`` with a blend, or ``stack=True``): a second level over the blend, kept when blending it in beats the blend.

It runs in two steps around the blend's members' refits: :func:`stack_cv` before them (it needs only their
out-of-fold predictions, and the members' refits used to take its time), :func:`finish_stack` after them.
The blend's members' out-of-fold predictions become columns of the data (:func:`~automl.stacking.stack_columns`;
under repeated folds each row's predictions are averaged over the repeats), and the best booster's configuration
(:func:`second_level`) is cross-validated again on the data with those columns, on the same folds as every trial,
in the isolated worker (:meth:`~automl.search.isolation.IsolatedRunner.evaluate` with ``extra``). Greedy selection
then blends the members and the second level on their out-of-fold predictions; when that blend's cross-fitted
score beats the first blend's, the second level is refitted on all rows (its own refit hints, e.g. the rounds early
stopping found) and ``predict`` uses a :class:`~automl.stacking.StackedModel`: the blend's members, as refitted,
predict the new rows, the second level reads their predictions beside the row's own columns, and the two levels
are blended.

Its cost is sized by the columns it reads (:func:`stack_seconds`): a fold of a booster takes about as much longer
as it has more columns, and the blend's members add ``K - 1`` columns each for ``K`` classes (one each otherwise),
so that on 21 columns and 10 classes five members triple the width. The search keeps time for it
(:func:`stack_refit_factor`, at most :data:`~automl.search.budget.STACK_SHARE` of the budget); the second level is
the best-ranked booster whose cross-validation and refit are expected to end by the ensemble's deadline
(:func:`second_level`), its folds stop there (:class:`_Deadline`), and the worker is killed at the refit deadline.
A second level that fails, runs late or scores worse leaves the blend as it was: a failing stage never ends the
fit. Under ``final_model="bag"`` the second level is its fold models, averaged (no refit runs), as the members are;
under ``"auto"`` they are what it becomes when its refit fails.

Not stacked (the blend stays): a split that does not predict every row the same number of times (a holdout,
``time:K`` folds, validation rows capped on large data), image data, data with a column named ``__stack_...``.

The second level's CV is slightly optimistic: the new columns of its training rows come from fold models that
were trained on its validation rows (AutoGluon accepts the same to reuse the folds); off-suite measurements of
this gap are in benchmarks/README.md.

Example:
    >>> import numpy as np
    >>> rows = np.arange(6)
    >>> every_row_once([(rows[3:], rows[:3]), (rows[:3], rows[3:])], 6), every_row_once([(rows[2:], rows[:2])], 6)
    (True, False)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl._spawn import raise_if_stopped
from automl._fit.trial_config import for_refit, trial_params
from automl._warnings import report_stage
from automl.ensemble import DEFAULT_ROUNDS, cross_fitted_scores, greedy_selection, oof_by_repeat
from automl.evaluation.monitor import EpochDone, FoldDone, Go, ProbeDone, Stop
from automl.evaluation.stats import finite_mean_std
from automl.families.bagged import BaggedModel
from automl.search.budget import Budget
from automl.search.objective import trial_seed
from automl.search.policy import MEMBER_PAD, REFIT_MARGIN, SECOND_LEVEL_FAMILIES, refit_seconds
from automl.search.runner import SearchOutcome
from automl.search.trial_record import TrialRecord
from automl.stacking import STACK_PREFIX, StackedModel, stack_columns

__all__ = ["STACK_CV_MARGIN", "STACK_MEMBERS", "PendingStack", "every_row_once", "expected_width", "finish_stack",
           "second_level", "stack_cv", "stack_refit_factor", "stack_refit_seconds", "stack_seconds"]

logger = logging.getLogger("automl")

#: The second level's cross-validation is expected to take its configuration's fit time times this (the new
#: columns, and a little for its start).
STACK_CV_MARGIN = 1.3
#: The blend's members the search expects when it sizes the second level's columns before the blend exists (the
#: blends of the 300 s boards in benchmarks/README.md had 5, 5 and 6).
STACK_MEMBERS = 5


class _Deadline:
    """Answers the second level's events: go on while its next fold (or epoch) is expected to end by ``at``."""

    def __init__(self, at: float | None) -> None:
        self.at = at

    def _late(self, seconds: float = 0.0) -> bool:
        return self.at is not None and time.monotonic() + seconds > self.at

    def probe(self, event: ProbeDone) -> Go | Stop:
        """All rows: a second level is never sized down."""
        return Go()

    def fold(self, event: FoldDone) -> Go | Stop:
        """Stop when the next fold, as long as this one, would end past the deadline."""
        last = event.fold + 1 >= event.n_folds
        if not last and self._late(event.seconds):
            return Stop("the second level's next fold would end past the ensemble's deadline", "timeout")
        return Go()

    def epoch(self, event: EpochDone) -> Go | Stop:
        """End the fold's training (best epoch kept) once the deadline has passed."""
        return Go(end_fold=self._late())


def second_level(ranked: Sequence[TrialRecord], affordable: Callable[[TrialRecord], bool] = lambda r: True,
                 ) -> TrialRecord | None:
    """The trial whose configuration is the second level: the best-ranked booster
    (:data:`~automl.search.policy.SECOND_LEVEL_FAMILIES`) that is ``affordable``, else, when no booster completed,
    the best trial if affordable; None when none is.

    Example:
        >>> from types import SimpleNamespace as T
        >>> ranked = [T(number=4, family="torch_mlp"), T(number=2, family="xgboost"), T(number=1, family="lightgbm")]
        >>> second_level(ranked).number, second_level(ranked, lambda r: r.number != 2).number
        (2, 1)
        >>> second_level(ranked, lambda r: r.family == "torch_mlp") is None
        True
    """
    boosters = [r for r in ranked if r.family in SECOND_LEVEL_FAMILIES]
    candidates = boosters if boosters else list(ranked[:1])
    return next((r for r in candidates if affordable(r)), None)


def expected_width(n_columns: int, task: str, n_classes: int, members: int = STACK_MEMBERS) -> float:
    """The second level's columns over the data's, before the blend is known: ``members`` members adding
    ``n_classes - 1`` columns each (multiclass) or one (binary, regression).

    Example:
        >>> expected_width(21, "multiclass", 10), expected_width(20, "binary", 2)
        (3.142857142857143, 1.25)
    """
    per_member = max(n_classes - 1, 1) if task == "multiclass" else 1
    return _width(n_columns, members * per_member)


def _width(n_columns: int, added: int) -> float:
    """A second level's columns over the data's, ``added`` columns beside ``n_columns``."""
    return (max(n_columns, 1) + added) / max(n_columns, 1)


def stack_refit_factor(n_splits: int, scale: float, width: float = 1.0) -> float:
    """The second level's cost (its cross-validation and its refit) in refits of the trial it copies (the best
    booster's; :attr:`~automl.search.policy.SearchPolicy.stack_estimate`), which the search keeps for it: its
    ``n_splits`` folds each take a refit's time over ``scale * REFIT_MARGIN``, all of it ``width`` times longer
    (its columns over the data's, :func:`expected_width`).

    Example:
        >>> round(stack_refit_factor(3, 1.5), 2), round(stack_refit_factor(3, 1.5, width=2.0), 2)
        (3.17, 6.33)
    """
    return width * (1.0 + STACK_CV_MARGIN * n_splits / (scale * REFIT_MARGIN))


def stack_seconds(fit_time: float, n_splits: int, scale: float, width: float) -> float:
    """Expected seconds of a second level that copies a trial whose ``n_splits`` folds took ``fit_time`` together:
    its cross-validation and its refit on ``width`` times the columns (the estimate :func:`stack_refit_factor` keeps
    time for, from the trial's fit time rather than its refit).

    Example:
        >>> round(stack_seconds(10.0, 5, 1.25, 1.0), 2), round(stack_seconds(10.0, 5, 1.25, 3.0), 2)
        (16.05, 48.15)
    """
    fit = fit_time if np.isfinite(fit_time) else 0.0
    return width * fit * STACK_CV_MARGIN + stack_refit_seconds(fit, n_splits, scale, width)


def stack_refit_seconds(fit_time: float, n_splits: int, scale: float, width: float) -> float:
    """Expected seconds of the second level's refit on all rows and ``width`` times the columns (a member's pad):
    the part of :func:`stack_seconds` the members' refits keep for it once it is cross-validated.

    Example:
        >>> round(stack_refit_seconds(10.0, 5, 1.25, 3.0), 2)
        9.15
    """
    return width * refit_seconds(fit_time, n_splits, scale, MEMBER_PAD)


def every_row_once(splits: Sequence[tuple[np.ndarray, np.ndarray]], n_rows: int) -> bool:
    """Whether the splits validate every row, and every row equally often (k folds, repeated or grouped)."""
    counts = np.zeros(n_rows, dtype=int)
    for _, valid in splits:
        counts[valid] += 1
    return bool(n_rows and counts.min() >= 1 and counts.min() == counts.max())


def why_not_stacked(problem: Any) -> str | None:
    """Why this fit is not stacked (None: it can be)."""
    if problem.image_shape is not None:
        return "image data"
    if any(str(c).startswith(STACK_PREFIX) for c in problem.X.columns):
        return f"the data has a column named {STACK_PREFIX}..."
    if not every_row_once(problem.splits, len(problem.y)):
        return f"cv={problem.plan.description} does not predict every row the same number of times"
    return None


def _base_columns(outcome: SearchOutcome, trials: Sequence[int], task: str) -> dict[str, np.ndarray] | None:
    """The members' out-of-fold predictions as columns (None: one of them is no longer kept)."""
    predictions = []
    for number in trials:
        if number not in outcome.oof:
            return None
        predictions.append(np.asarray(oof_by_repeat(outcome.oof, number), dtype="float64").mean(axis=0))
    return stack_columns(predictions, trials, task)


def _mean(fold_scores: dict[str, list[float]], name: str) -> float:
    return finite_mean_std(fold_scores.get(name, []))[0]


@dataclass
class PendingStack:
    """A second level cross-validated over a blend's out-of-fold predictions and kept by greedy selection, not yet
    refitted (:func:`stack_cv`; :func:`finish_stack` refits it once the members are made)."""

    top: TrialRecord
    params: dict[str, Any]
    seed: int
    columns: dict[str, np.ndarray]
    result: Any
    counts: list[float]
    scores: dict[str, list[float]]
    cv_seconds: float
    #: Expected seconds of its refit (the members' refits keep it).
    refit_seconds: float = 0.0


def stack_cv(problem: Any, outcome: SearchOutcome, runner: Any, trials: Sequence[int], blend_score: float,
             ranked: Sequence[TrialRecord], budget: Budget, members_seconds: float = 0.0) -> PendingStack | None:
    """Cross-validate the second level over the blend of ``trials`` (scored ``blend_score`` on cross-fitted folds)
    with the configuration of :func:`second_level` of ``ranked`` (the completed trials, best first); None when it
    is not built, scores worse or fails (the reason is logged). It needs only the members' out-of-fold
    predictions, so it runs before the members are refitted: they then take the time left, each its bag when its
    refit would end late, instead of leaving the second level none (bike sharing at 300 s: seven member refits
    took 27 s and the second level, 11.5 s expected, was refused). ``members_seconds``: time the members must
    keep (their refits when they cannot be bags).

    Raises:
        KeyboardInterrupt: the fit was stopped (Ctrl-C, SIGTERM) meanwhile.
    """
    reason = why_not_stacked(problem)
    columns = None if reason else _base_columns(outcome, trials, problem.task)
    if reason is None and columns is None:
        reason = "a member's out-of-fold predictions are no longer kept"
    aim, deadline = budget.ensemble_deadline(), budget.refit_deadline()
    width = _width(problem.X.shape[1], len(columns or ()))

    def expected(record: TrialRecord) -> float:
        return stack_seconds(record.fit_time, len(problem.splits), problem.refit_scale, width)

    top = None if reason else second_level(ranked, lambda r: budget.left(aim) - members_seconds >= expected(r))
    if top is None or columns is None:
        first = second_level(ranked)
        if reason is None and first is not None:
            reason = (f"its cross-validation and refit ({expected(first):.1f} s expected for trial {first.number}, "
                      f"{width:.1f} x the columns) would end past the ensemble's deadline, and so would any other "
                      "booster's")
        logger.info("no second level over the blend: %s", reason or "no completed trial")
        return None
    report_stage("stacking a second level over the blend ...")
    logger.info("the second level over the blend: trial %d (%s), %.1f s expected on %.1f x the columns", top.number,
                top.family, expected(top), width)
    started, seed = time.monotonic(), trial_seed(problem.settings.seed, top.number)
    params = trial_params(top, problem.spaces)
    try:
        result = runner.evaluate(top.family, params, seed=seed, monitor=_Deadline(aim), deadline=aim, extra=columns)
        if problem.settings.final_model != "refit":  # its fold models: the model under "bag", the fallback else
            held = (r.number for r in ranked if runner.holds(r.number))
            runner.keep(stack_key(top), list(dict.fromkeys([*trials, stack_key(top), *held])))
        blended = _blend_levels(problem, outcome, trials, result, blend_score, deadline)
    except Exception as exc:  # noqa: BLE001 - a failing second level never ends the fit: the blend stays
        _failed(exc)
        return None
    if blended is None:
        return None
    refit = stack_refit_seconds(top.fit_time, len(problem.splits), problem.refit_scale, width)
    return PendingStack(top, params, seed, columns, result, blended[0], blended[1], time.monotonic() - started,
                        refit)


def finish_stack(pending: PendingStack, problem: Any, runner: Any, ensemble: Any, blend_score: float,
                 budget: Budget) -> tuple[StackedModel, dict[str, Any]] | None:
    """The stacked model over ``ensemble`` (an :class:`~automl.ensemble.EnsembleModel`, its members made) with
    ``pending``'s second level refitted on all rows, and what it is; None when that refit fails (logged).

    Raises:
        KeyboardInterrupt: the fit was stopped (Ctrl-C, SIGTERM) meanwhile.
    """
    top, aim, deadline = pending.top, budget.ensemble_deadline(), budget.refit_deadline()
    started = time.monotonic()
    folds = runner.kept_models(stack_key(top)) if problem.settings.final_model == "bag" else None
    try:
        if folds:
            fitted = BaggedModel(folds)
        else:
            refit_params = for_refit(top.family, pending.params, pending.result.refit_hints)
            fitted = runner.refit(top.family, refit_params, seed=pending.seed, deadline=deadline, stop_at=aim,
                                  extra=pending.columns)
    except Exception as exc:  # noqa: BLE001 - a failing second level never ends the fit: its bag, or the blend
        raise_if_stopped(exc)
        folds = runner.kept_models(stack_key(top))  # read only now: a refit that ends well needs none
        if not folds:
            _failed(exc)
            return None
        logger.warning("the second level's refit failed (%s: %s); it is its fold models, averaged", type(exc).__name__,
                       exc)
        fitted = BaggedModel(folds)
    model = StackedModel(ensemble.members, ensemble.trials, fitted, pending.counts, top.number)
    return model, {
        "trial": top.number, "family": top.family, "base_trials": list(ensemble.trials), "weights": model.weights,
        "fold_scores": pending.scores, "second_level_fold_scores": pending.result.fold_scores,
        "blend_score": blend_score, "seconds": pending.cv_seconds + time.monotonic() - started,
    }


def stack_key(top: TrialRecord) -> int:
    """The number the runner keeps the second level's fold models under: apart from every trial's (those are 0 or
    more), so that keeping them drops no trial's.

    Example:
        >>> from types import SimpleNamespace
        >>> stack_key(SimpleNamespace(number=7))
        -8
    """
    return -1 - int(top.number)


def _failed(exc: BaseException) -> None:
    """Log a second level that failed (its cross-validation or its refit); re-raise a stop request."""
    raise_if_stopped(exc)
    logger.warning("the second level over the blend failed (%s: %s); the blend stays", type(exc).__name__, exc)


def _blend_levels(problem: Any, outcome: SearchOutcome, trials: Sequence[int], result: Any, blend_score: float,
                  deadline: float | None) -> tuple[list[float], dict[str, list[float]]] | None:
    """The weights of the base models and the second level (greedy selection over their out-of-fold predictions)
    and the blend's scores per fold, cross-fitted as the first blend's are; None when the second level gets no
    weight or the blend does not beat ``blend_score`` (logged)."""
    primary, evaluator, y = problem.metric, problem.evaluator, problem.y
    second = result.by_repeat()
    flat = [outcome.oof[t] for t in trials] + [result.oof]
    selection = greedy_selection(flat, y, primary, rounds=DEFAULT_ROUNDS, sample_weight=evaluator.weights,
                                 classes=evaluator.classes, deadline=deadline)
    scores = cross_fitted_scores([oof_by_repeat(outcome.oof, t) for t in trials] + [second], y, evaluator,
                                 DEFAULT_ROUNDS, deadline)
    score = _mean(scores, primary.name)
    if not selection.counts[-1] or not primary.is_better(score, blend_score):
        logger.info("the second level (%s=%.5g alone, weight %.2f) and the blend scored %.5g on CV, the blend alone "
                    "%.5g: the blend stays", primary.name, _mean(result.fold_scores, primary.name),
                    selection.weights[-1], score, blend_score)
        return None
    return [float(c) for c in selection.counts], scores
