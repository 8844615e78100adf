"""Cross-validate several configurations of one net family at once: each fold's nets train as one pack.

:func:`evaluate_packed` runs the same folds as :meth:`Evaluator.evaluate` for every member, fitting a
fold's members together with :func:`~automl.families.packed_pipelines.fit_pipelines_packed`. Each member
has its own monitor, told of its own epochs and folds exactly as a trial alone tells it; a member its
monitor stops (pruned, out of time), or whose fit fails or predicts non-finite values, leaves the pack
with that outcome, and the others go on. The seconds a member reports are the pack's seconds shared
among the members training, its share of the machine.

A fit with a probe (large data) or sample weights runs the members one after the other with
:meth:`Evaluator.evaluate` (the probe answers one share of rows per member, which one pack cannot follow),
and so do members that cannot share a pack (``pipeline_pack_problems``: another shape, an optimiser or
schedule a pack does not train): a pack that cannot form costs its members nothing but the time saved.

Events from a member reach the fit's process as :class:`MemberEvent` (see
:class:`~automl.search.isolation.IsolatedRunner`).

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation import Evaluator, get_metric, make_cv_plan
    >>> X = pd.DataFrame({"a": np.linspace(-2, 2, 90)}); y = (X["a"] > 0).astype(int).to_numpy()
    >>> ev = Evaluator([get_metric("accuracy", "binary")], make_cv_plan(3, "binary").splits(90, y, None),
    ...                task="binary", n_classes=2, device="cpu")
    >>> results = evaluate_packed(ev, "torch_mlp", [{"learning_rate": 1e-3, "max_epochs": 2},
    ...                                             {"learning_rate": 3e-2, "max_epochs": 2}], X, y)
    >>> [len(r.fold_scores["accuracy"]) for r in results]
    [3, 3]
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.data import text_cache
from automl.evaluation.cross_validation import CVResult, Evaluator, Tally, _check_finite, _obey
from automl.evaluation.monitor import EpochDone, FoldDone, TrialMonitor, TrialStopped
from automl.families.packed_pipelines import fit_pipelines_packed, pipeline_pack_problems

__all__ = ["MemberEvent", "MemberMonitor", "evaluate_packed", "take_models"]


@dataclass(frozen=True)
class MemberEvent:
    """An event of one member of a pack, for that member's monitor.

    Attributes:
        member: The member's position in the pack.
        event: Its :class:`~automl.evaluation.monitor.FoldDone`, ``EpochDone`` or ``ProbeDone``.
    """

    member: int
    event: object


class MemberMonitor:
    """A member's monitor that wraps its events as :class:`MemberEvent` for a monitor of the whole pack
    (the worker's :class:`~automl.search.worker_process.RemoteMonitor`).

    Args:
        member: The member's position.
        pack: Answers ``MemberEvent`` (its ``_ask``).
    """

    def __init__(self, member: int, pack: Any) -> None:
        self.member, self.pack = member, pack

    def probe(self, event: Any) -> Any:
        """Ask the pack's monitor about this member."""
        return self.pack._ask(MemberEvent(self.member, event))

    fold = epoch = probe


def evaluate_packed(
    evaluator: Evaluator,
    family: str,
    params: Sequence[Mapping[str, Any]],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    monitors: Sequence[TrialMonitor | None] | None = None,
    seed: int | None = None,
    keep_models: bool = False,
) -> list[CVResult | BaseException]:
    """Cross-validate each of ``params`` (one net family, one shape), the members of a fold trained as one pack.

    Args:
        evaluator: The fit's evaluator.
        family: A packable net family.
        params: Each member's parameters (they may differ only in
            :data:`~automl.families.packed_fit.PACK_FREE_PARAMS`).
        X: Canonical frame (all rows).
        y: Encoded target.
        monitors: Each member's monitor (None: every fold runs).
        seed: The pack's seed (every member's models: one split, one batch order).
        keep_models: Keep each member's fold models on its result (``CVResult.models``; see :func:`take_models`).

    Returns:
        Per member, its :class:`CVResult` or what ended it: :class:`TrialStopped` (with ``fold_scores``)
        or the exception its fit raised (a pack that cannot be fitted ends every member with it).
    """
    monitors = list(monitors) if monitors is not None else [None] * len(params)
    if (evaluator.probe_fraction is not None or evaluator.weights is not None
            or pipeline_pack_problems([evaluator.pipeline(family, p, seed) for p in params])):
        return [_alone(evaluator, family, p, X, y, m, seed, keep_models) for p, m in zip(params, monitors)]
    tallies = [Tally(evaluator, len(y), keep_model=keep_models) for _ in params]
    outcomes: list[CVResult | BaseException | None] = [None] * len(params)
    n_folds = len(evaluator.splits)
    for fold, (train, valid) in enumerate(evaluator.splits):
        active = [i for i, outcome in enumerate(outcomes) if outcome is None]
        if not active:
            break
        pipelines = [evaluator.pipeline(family, params[i], seed) for i in active]
        clock = _PackClock(len(active))
        reporters = [_reporter(evaluator, fold, monitors[i], clock) for i in active]
        with text_cache.reuse():  # the fold's text encoding, as the trials run alone share it
            try:
                errors = fit_pipelines_packed(pipelines, X.iloc[train], y[train], reporters)
            except Exception as exc:  # noqa: BLE001 - the whole pack failed (out of memory, a bad shape)
                errors = [exc] * len(active)
            fit_seconds = clock.share()
            for i, pipeline, error in zip(active, pipelines, errors):
                outcomes[i] = _fold_outcome(evaluator, (fold, n_folds, valid), pipeline, error, X, y, tallies[i],
                                            monitors[i], fit_seconds)
    return [outcome if outcome is not None else tally.result(1.0) for outcome, tally in zip(outcomes, tallies)]


def take_models(outcomes: Sequence[CVResult | BaseException]) -> list[list[Any] | None]:
    """Each member's fold models (None for a member that did not complete), taken off its result.

    Example:
        >>> take_models([ValueError("failed")])
        [None]
    """
    models = []
    for outcome in outcomes:
        if isinstance(outcome, CVResult):
            models.append(outcome.models)
            outcome.models = None
        else:
            models.append(None)
    return models


def _alone(evaluator: Evaluator, family: str, params: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray,
           monitor: TrialMonitor | None, seed: int | None, keep_models: bool) -> CVResult | BaseException:
    try:
        return evaluator.evaluate(family, params, X, y, monitor=monitor, seed=seed, keep_model=keep_models)
    except Exception as exc:  # noqa: BLE001 - returned: one member's failure never ends the others
        return exc


class _PackClock:
    """The seconds of a fold's pack, each member's share being the elapsed time over the members training."""

    def __init__(self, members: int) -> None:
        self.started = time.perf_counter()
        self.members = max(1, members)

    def share(self) -> float:
        return (time.perf_counter() - self.started) / self.members


def _reporter(evaluator: Evaluator, fold: int, monitor: TrialMonitor | None, clock: _PackClock) -> Any:
    """A member's epoch reporter: its epoch scored with the primary metric, its monitor told its share of time."""
    if monitor is None:
        return None
    primary = evaluator.metrics[0]
    n_folds = len(evaluator.splits)

    def reporter(epoch: int, y_true: Any, scores: Any) -> bool:
        value = primary.compute(np.asarray(y_true), np.asarray(scores), evaluator.classes)
        event = EpochDone(fold, n_folds, epoch, float(value), clock.share())
        return _obey(monitor.epoch(event), {m.name: [] for m in evaluator.metrics}).end_fold

    return reporter


def _fold_outcome(evaluator: Evaluator, where: tuple[int, int, np.ndarray], pipeline: Any,
                  error: BaseException | None, X: pd.DataFrame, y: np.ndarray, tally: Tally,
                  monitor: TrialMonitor | None, fit_seconds: float) -> BaseException | None:
    """Record a member's fold; None while it goes on, else what ended it."""
    fold, n_folds, valid = where
    if isinstance(error, TrialStopped):
        error.fold_scores = tally.scores
    if error is not None:
        return error
    try:
        started = time.perf_counter()
        prediction = pipeline.predict_scores(X.iloc[valid])
        _check_finite(prediction, fold, n_folds)
        predict_seconds = time.perf_counter() - started
        tally.add(pipeline, prediction, y, valid, fit_seconds, predict_seconds)
        if monitor is not None:
            _obey(monitor.fold(FoldDone(fold, n_folds, tally.running_mean(), fit_seconds + predict_seconds)),
                  tally.scores)
    except Exception as exc:  # noqa: BLE001 - this member's outcome (stopped or failed); the others go on
        return exc
    return None
