"""The events a trial reports while it cross-validates, and the typed answers it gets.

The fold loop (:class:`~automl.evaluation.Evaluator`) knows nothing of Optuna, budgets or
pruning: after the probe, after each fold and after each epoch of a net it tells a
:class:`TrialMonitor` what happened and obeys the answer. :class:`Go` carries what the trial
should do next (the share of rows the folds train on, after the probe; whether a net ends
this fold's training now, after an epoch); :class:`Stop` ends the trial, pruned or out of
time, with its reason. The search's policy implements the monitor
(:mod:`automl.search.trial_monitor`); with isolated trials the events cross the process boundary
as these same picklable values.

Example:
    >>> Unmonitored().fold(FoldDone(fold=0, n_folds=3, running=0.9, seconds=0.1))
    Go(share=1.0, end_fold=False)
    >>> Stop("pruned after fold 2/5").kind
    'pruned'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Answer", "EpochDone", "FoldDone", "Go", "ProbeDone", "Stop", "TrialMonitor", "TrialStopped",
           "Unmonitored"]


@dataclass(frozen=True)
class ProbeDone:
    """The probe (a model on ``fraction`` of fold 1's training rows) was scored on fold 1.

    Attributes:
        score: Its primary metric on fold 1's validation rows (NaN if not finite).
        seconds: Its fit and predict seconds.
        fraction: The share of fold 1's training rows it trained on.
    """

    score: float
    seconds: float
    fraction: float


@dataclass(frozen=True)
class FoldDone:
    """Fold ``fold`` (0-based) of ``n_folds`` was fitted and scored.

    Attributes:
        fold: The fold's index.
        n_folds: Folds in the plan.
        running: Mean primary metric over the folds so far (NaN if none is finite).
        seconds: This fold's fit and predict seconds.
    """

    fold: int
    n_folds: int
    running: float
    seconds: float


@dataclass(frozen=True)
class EpochDone:
    """A net finished an epoch of training in a fold (or in the probe); or a booster, which trains in many
    cheap rounds, says how long it has trained (``kind="rounds"``, at most every
    :data:`~automl.families.epochs.ROUND_REPORT_SECONDS`, with no score).

    Attributes:
        fold: The fold's index, or None for the probe.
        n_folds: Folds in the plan.
        epoch: The epoch (0-based), or the boosting round.
        value: The primary metric on the net's own validation rows (NaN for rounds).
        seconds: Seconds since this fold's training began.
        kind: ``"epoch"`` (a net's) or ``"rounds"`` (a booster's time-only report).
    """

    fold: int | None
    n_folds: int
    epoch: int
    value: float
    seconds: float
    kind: str = "epoch"


@dataclass(frozen=True)
class Go:
    """Go on.

    Attributes:
        share: After the probe: the share of each fold's training rows the folds train on
            (1: all; the probe's own share makes the probe serve as fold 1).
        end_fold: After an epoch: end this fold's training now, keeping the best epoch.
    """

    share: float = 1.0
    end_fold: bool = False


@dataclass(frozen=True)
class Stop:
    """End the trial.

    Attributes:
        reason: Why, as recorded on the trial.
        kind: ``"pruned"`` (hopeless) or ``"timeout"`` (out of time).
    """

    reason: str
    kind: str = "pruned"


Answer = Go | Stop


class TrialStopped(Exception):
    """Raised inside the fold loop when a monitor answered :class:`Stop`.

    Attributes:
        reason: Why the trial stopped.
        kind: ``"pruned"`` or ``"timeout"``.
        fold_scores: The scores of the folds that ran.
    """

    def __init__(self, reason: str, kind: str = "pruned") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.fold_scores: dict[str, list[float]] = {}


@runtime_checkable
class TrialMonitor(Protocol):
    """Answers a trial's probe, fold and epoch events."""

    def probe(self, event: ProbeDone) -> Answer:
        """After the probe: :class:`Go` with the share of rows for the folds, or :class:`Stop`."""

    def fold(self, event: FoldDone) -> Answer:
        """After a fold: :class:`Go` or :class:`Stop`."""

    def epoch(self, event: EpochDone) -> Answer:
        """After an epoch of a net: :class:`Go` (``end_fold`` to end this fold now) or :class:`Stop`."""


class Unmonitored:
    """A monitor that always answers ``Go()``: every fold runs, on all its rows."""

    def probe(self, event: ProbeDone) -> Answer:
        """Go on with all rows."""
        return Go()

    def fold(self, event: FoldDone) -> Answer:
        """Go on."""
        return Go()

    def epoch(self, event: EpochDone) -> Answer:
        """Go on."""
        return Go()
