"""One trial's monitor: the answers to its probe, fold and epoch events, from the search's policy.

The fold loop reports each event to a :class:`~automl.evaluation.monitor.TrialMonitor` and obeys the typed
answer; :class:`TrialPolicyMonitor` gives it, reading what the :class:`~automl.search.policy.SearchPolicy`
has learned (the deadlines, the caps, the fidelity share).

- **Successive halving at the probe** (large data): once :data:`PROBE_MIN_TRIALS` trials have a probe
  score, a trial (not a family's defaults, nor one whose probe is the whole trial) whose probe is not
  among the best ``1 / PROBE_ETA`` of them is stopped there (:func:`probe_cut`).
- **Pruning**: a net reports each epoch of its first fold as Optuna's intermediate value at
  step = epoch (only nets do, so optuna-dashboard charts one learning curve per net), and the pruner
  may stop it after :data:`MIN_EPOCHS_BEFORE_PRUNING` epochs. Folds are judged apart, by the same
  pruner, on the fold running means in ``automl:fold_scores`` (:class:`~automl.search.study.FoldPruning`).
- **Equal rows for the target's scales**: a scale trial (:mod:`automl.search.first_trials`) trains on the share
  of rows the one on the target as it is trained on, whatever the time left would give it (stopped at its probe
  when that trial's time would overrun the time left).
- **Deadlines**: a trial stops between folds when the next fold would overrun its deadline
  (:meth:`~automl.search.budget.Budget.trial_deadline`), and between epochs past it. A booster's fold
  ends its training (the rounds it has) after its share of the time to that deadline
  (:data:`FOLD_SLICE_SHARE`), so its next fold fits; a net's after
  :func:`~automl.search.policy.net_fold_seconds`, and a net too slow to train :data:`MIN_NET_EPOCHS_IN_CAP`
  epochs in that is stopped after its first epochs.

Example:
    >>> probe_cut([0.1, 0.5, 0.7, 0.9], greater_is_better=True)
    0.7
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from automl._spawn import raise_if_stopped
from automl.evaluation.monitor import Answer, EpochDone, FoldDone, Go, ProbeDone, Stop
from automl.families.epochs import ROUND_REPORT_SECONDS
from automl.search.first_trials import base_scale_trial, same_rows
from automl.search.policy import FIDELITY_TIME_SHARE, MIN_NET_FOLD_SECONDS, SearchPolicy, fidelity_share
from automl.search.study import FoldPruning
from automl.search.trial_record import TrialRecord, TrialWriter, chosen_on_purpose, is_scale_trial

__all__ = [
    "EPOCHS_TO_TIME", "EPOCH_STEP_BASE", "FOLD_SLICE_SHARE", "HOPELESS_ERROR_RATIO", "HOPELESS_MIN_ERROR", "MIN_EPOCHS_BEFORE_PRUNING", "MIN_NET_EPOCHS_IN_CAP",
    "PROBE_ETA", "PROBE_MIN_TRIALS", "SLICE_DEADLINE_MARGIN", "TrialPolicyMonitor", "probe_cut",
]

#: Nets report their validation score after each epoch of the first fold at step
#: ``EPOCH_STEP_BASE + epoch`` (the epoch itself: folds are not reported as intermediate values).
EPOCH_STEP_BASE = 0
#: Epochs a net trains before the pruner may stop it.
MIN_EPOCHS_BEFORE_PRUNING = 4

#: Under a budget, once a trial has completed, a net whose first fold could train fewer than this many epochs in
#: its fold's time (judged at its :data:`EPOCHS_TO_TIME`-th epoch, timing the epochs after the first, which pays
#: the fold's setup: ``python -m benchmarks.epoch_clock satellite``) is stopped there, not under-trained per fold.
MIN_NET_EPOCHS_IN_CAP = 10
EPOCHS_TO_TIME = 2

#: With several folds under a budget, a booster's fold ends its training after this share of the time from its
#: start to the trial's deadline over the folds still to train: a slow booster (CatBoost, satellite's six classes:
#: ~15 s a fold at 60 s) ends every fold on fewer rounds, not stopped after fold 1 (benchmarks/README.md).
FOLD_SLICE_SHARE = 0.9
#: A sliced fold ends at least this long before the trial's deadline, floor or not: a booster hears its fold's time
#: only every :data:`~automl.families.epochs.ROUND_REPORT_SECONDS`, and the fold still predicts its held-out rows
#: after it. Without it, a last fold begun with 3-3.5 s left got the 3 s floor and met the deadline mid-training,
#: losing the whole trial (a 20 s CatBoost fit, ``tests/search/test_fold_slices.py``).
SLICE_DEADLINE_MARGIN = 2 * ROUND_REPORT_SECONDS

#: Between folds, once a trial has completed, a trial whose running mean's error (:meth:`Metric.error`: the distance
#: from a perfect score) is more than this many times the best trial's is stopped: a model that far behind earns
#: (next to) no weight in the blend, and its folds' time goes to the trials after it. Off where the best error is
#: under :data:`HOPELESS_MIN_ERROR` (a near-perfect score, whose fold-to-fold noise is of that size), and without a
#: pruner (``pruner="none"``: no trial is stopped on its scores).
HOPELESS_ERROR_RATIO = 1.5
HOPELESS_MIN_ERROR = 0.01
#: Successive halving at the probe (large data): once this many trials have a probe score, a trial (not a
#: family's defaults) whose probe is not among the best ``1 / PROBE_ETA`` of them is pruned.
PROBE_MIN_TRIALS = 6
PROBE_ETA = 3


def probe_cut(scores: Sequence[float], greater_is_better: bool, eta: int = PROBE_ETA) -> float:
    """The probe score a trial must reach to stay among the best ``1 / eta`` of ``scores``.

    Example:
        >>> probe_cut([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], greater_is_better=True)
        0.5
    """
    values = np.asarray([s for s in scores if math.isfinite(s)], dtype=float)
    q = 1.0 - 1.0 / eta if greater_is_better else 1.0 / eta
    return float(np.quantile(values, q))


class TrialPolicyMonitor:
    """Answers one trial's probe, fold and epoch events for the :class:`~automl.search.policy.SearchPolicy`.

    Args:
        policy: The search's policy.
        trial: The Optuna trial (its pruner is asked; its probe score is recorded).
        family: The family it runs.
    """

    def __init__(self, policy: SearchPolicy, trial: Any, family: str) -> None:
        self.policy = policy
        self.trial = trial
        self.family = family
        self.writer = TrialWriter(trial)
        self.deadline = policy.trial_deadline()
        self.net_cap, self.round_cap = policy.trial_caps()
        self._running: dict[int, float] = {}  # fold -> running mean, judged by :class:`FoldPruning`
        self._pruning = FoldPruning(trial, policy.primary.name)
        self._first_epoch: float | None = None  # seconds to the end of fold 1's first epoch, setup included
        self._sliced = False  # a booster: each fold trains for its share of the time to the deadline

    def probe(self, event: ProbeDone) -> Answer:
        """Successive halving at the probe; then the share of rows the folds train on."""
        raise_if_stopped()  # each event of a trial in this process is a place a lost SIGTERM or Ctrl-C ends it
        policy = self.policy
        # sized to the search time left, and to this trial's own deadline (a first trial's is capped)
        left = min(policy.search_time_left(), policy.budget.left(self.deadline))
        share = 1.0
        if math.isfinite(left):
            share = fidelity_share(event.seconds, event.fraction, left, policy.n_splits, policy.trials_ahead())
        if math.isfinite(event.score):
            self.writer.probe(event.score)
            whole = policy.n_splits == 1 and share == round(event.fraction, 4)  # the probe is the whole trial
            stop = None if whole else self._halving(event)
            if stop is not None:
                return stop
        return self._on_equal_rows(event, share, left) if is_scale_trial(self.trial) else Go(share=share)

    def _on_equal_rows(self, event: ProbeDone, share: float, left: float) -> Answer:
        """A scale trial trains on the share of rows the one on the target as it is trained on, so that the scales
        are compared on equal rows (:func:`~automl.search.first_trials.scale_of_target`); it stops at the probe
        when more rows than the time left allows would be needed, judged by that trial's own time."""
        others = [t for t in self.trial.study.get_trials(deepcopy=False) if t.number != self.trial.number]
        base = base_scale_trial(others)
        if base is None:
            return Go(share=share)
        rows = TrialRecord.read(base).rows_fraction
        if same_rows(rows, share):
            return Go(share=share)
        seconds = base.duration.total_seconds() if base.duration is not None else math.inf
        if rows > share and seconds > FIDELITY_TIME_SHARE * left:
            return Stop(f"stopped at the probe: the target's scales are compared on equal rows, and {rows:.0%} of "
                        f"each fold's rows (the share the target as it is trained on, in {seconds:.3g} s) would "
                        "overrun the time left", kind="timeout")
        return Go(share=rows)

    def _halving(self, event: ProbeDone) -> Stop | None:
        policy, primary = self.policy, self.policy.primary
        if not policy.prune_probes or chosen_on_purpose(self.writer.origin):
            return None
        others = [
            r.probe_score for r in map(TrialRecord.read, self.trial.study.get_trials(deepcopy=False))
            if r.number != self.trial.number and r.probe_score is not None
        ]
        if len(others) < PROBE_MIN_TRIALS:
            return None
        cut = probe_cut(others, primary.greater_is_better)
        if event.score >= cut if primary.greater_is_better else event.score <= cut:
            return None
        return Stop(
            f"pruned at the probe: {primary.name}={event.score:.5g} on {event.fraction:.0%} of fold 1's "
            f"training rows is not among the best 1/{PROBE_ETA} of {len(others)} probed trials (needs {cut:.5g})"
        )

    def fold(self, event: FoldDone) -> Answer:
        """Judge the running mean with the pruner; stop a hopeless trial, or one whose next fold would overrun."""
        raise_if_stopped()
        self.policy.fold_done(self.family, event.seconds)
        if math.isfinite(event.running):
            self._running[event.fold] = event.running
        if event.fold == event.n_folds - 1:
            return Go()
        where = f"after fold {event.fold + 1}/{event.n_folds}"
        if self._pruning.pruned(self._running):
            return Stop(
                f"pruned {where}: running mean {self.policy.primary.name}={event.running:.5g} "
                "is among the worst of the trials at that fold"
            )
        hopeless = self._hopeless(event)
        if hopeless is not None:
            return Stop(f"stopped {where}: {hopeless}")
        upcoming = min(event.seconds, MIN_NET_FOLD_SECONDS) if self._sliced else event.seconds  # a slice fits
        if self.deadline is not None and time.monotonic() + upcoming > self.deadline:
            return Stop(f"stopped {where}: the next fold would overrun the time budget", kind="timeout")
        return Go()

    def _hopeless(self, event: FoldDone) -> str | None:
        """Why the trial is too far behind the best to go on (None: it is not), see :data:`HOPELESS_ERROR_RATIO`."""
        primary, best = self.policy.primary, self.policy.best_running(event.fold)
        if best is None or not self._pruning.active or not math.isfinite(event.running):
            return None
        error, best_error = primary.error(event.running), primary.error(best)
        if error is None or best_error is None or best_error < HOPELESS_MIN_ERROR:
            return None
        if error <= HOPELESS_ERROR_RATIO * best_error:
            return None
        return (f"running mean {primary.name}={event.running:.5g} is more than {HOPELESS_ERROR_RATIO:g} x as far from a "
                f"perfect score as the best trial's {best:.5g} on the same folds")

    def epoch(self, event: EpochDone) -> Answer:
        """Stop past the deadline; report the first fold's epochs to the pruner; end a fold past its cap."""
        raise_if_stopped()
        if self.deadline is not None and time.monotonic() > self.deadline:
            where = "the probe" if event.fold is None else f"fold {event.fold + 1}/{event.n_folds}"
            unit = "round" if event.kind == "rounds" else "epoch"
            return Stop(f"stopped in {where} at {unit} {event.epoch + 1}: out of time budget", kind="timeout")
        too_slow = self._too_slow(event)
        if too_slow is not None:
            return too_slow
        if event.fold == 0 and math.isfinite(event.value):
            self.trial.report(event.value, EPOCH_STEP_BASE + event.epoch)
            if event.epoch + 1 >= MIN_EPOCHS_BEFORE_PRUNING and self.trial.should_prune():
                return Stop(
                    f"pruned at epoch {event.epoch + 1} of fold 1: validation {self.policy.primary.name}="
                    f"{event.value:.5g} is among the worst of the nets at that epoch"
                )
        if event.kind != "rounds":
            return Go(end_fold=self.net_cap is not None and event.seconds > self.net_cap)
        self.policy.capped_families.add(self.family)
        self._sliced = True
        caps = [cap for cap in (self.round_cap, self._fold_slice(event)) if cap is not None]
        return Go(end_fold=bool(caps) and event.seconds > min(caps))

    def _fold_slice(self, event: EpochDone) -> float | None:
        """A booster fold's seconds: :data:`FOLD_SLICE_SHARE` of its share of the time to the trial's deadline, at
        least ``MIN_NET_FOLD_SECONDS``, but always ending :data:`SLICE_DEADLINE_MARGIN` before the deadline."""
        if self.deadline is None or event.fold is None or event.n_folds <= 1:
            return None
        left_at_start = self.deadline - (time.monotonic() - event.seconds)
        share = FOLD_SLICE_SHARE * left_at_start / (event.n_folds - event.fold)
        return min(max(MIN_NET_FOLD_SECONDS, share), left_at_start - SLICE_DEADLINE_MARGIN)

    def _too_slow(self, event: EpochDone) -> Stop | None:
        """Stop a net whose fold 1 could train under :data:`MIN_NET_EPOCHS_IN_CAP` epochs in its cap: at epoch 1 only
        past the cap, else at epoch :data:`EPOCHS_TO_TIME`, timing the epochs after the first (that pays the setup)."""
        if (event.kind != "epoch" or event.fold != 0 or event.epoch + 1 > EPOCHS_TO_TIME or self.net_cap is None
                or not self.policy.has_complete):
            return None
        if event.epoch == 0:
            self._first_epoch = event.seconds
        affordable = self._affordable_epochs(event)
        if affordable is None or affordable >= MIN_NET_EPOCHS_IN_CAP:
            return None
        return Stop(
            f"stopped at epoch {event.epoch + 1} of fold 1: about {affordable:.0f} epochs fit in the "
            f"{self.net_cap:.1f} s a net's fold may train under this time budget, fewer than the "
            f"{MIN_NET_EPOCHS_IN_CAP} it needs (a smaller net or a larger time_budget would train)"
        )

    def _affordable_epochs(self, event: EpochDone) -> float | None:
        """Epochs fold 1 could train in :attr:`net_cap` as timed at ``event`` (None: not judged yet)."""
        cap = float(self.net_cap or 0.0)
        whole = (event.epoch + 1) * cap / max(event.seconds, 1e-9)  # every second so far counted as epochs
        if event.epoch + 1 < EPOCHS_TO_TIME:  # the setup is not told apart yet: only a first epoch past the cap
            return whole if event.seconds >= cap else None
        if self._first_epoch is None or event.epoch < 1 or event.seconds <= self._first_epoch:
            return whole  # not told apart
        per_epoch = (event.seconds - self._first_epoch) / event.epoch  # the epochs after the first, setup apart
        return event.epoch + 1 + max(0.0, cap - event.seconds) / per_epoch
