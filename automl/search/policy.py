"""The search's policy: which trials run, on how many rows, and when they stop.

Mechanism apart from policy: the fold loop reports a trial's probe, folds and epochs to a
:class:`~automl.evaluation.monitor.TrialMonitor` and obeys its typed answers; this module holds what the
search learns and decides (:class:`SearchPolicy`), and :mod:`automl.search.trial_monitor` answers one
trial's events from it (successive halving at the probe, pruning, the deadlines between folds and epochs).

- **Fidelity**: under a time budget, a trial whose folds and refit would not fit in
  :data:`FIDELITY_TIME_SHARE` of the search time left trains each fold on a share of its rows, sized
  from the probe's time (:func:`fidelity_share`). With one split (``cv=None`` on large data) a trial
  also takes at most the search time left over the trials still to complete before
  :data:`MIN_SEARCH_TRIALS` have: its first trials are the probe alone, a booster's training in one
  fold ends after its share of that time (:meth:`SearchPolicy.trial_caps`; it reports how long it has
  trained, see :class:`~automl.families.epochs.RoundClock`), and a family that does not report rounds
  and whose folds take more than :data:`SLOW_FAMILY_FACTOR` times that share is not run again unless
  it holds the best score.
- **Growth at the end**: a best trial sized down to a share of the rows is refitted on as many rows as
  fit before the budget's end (:func:`grown_fraction`); with one split on large data the search keeps
  :data:`FINAL_GROWTH_SHARE` of the budget for it.
- **Caps**: a net's training in one fold ends after :func:`net_fold_seconds` under a budget.

Example:
    >>> fidelity_share(1.0, 0.1, 1000.0, 3), net_fold_seconds(120, 5)
    (1.0, 6.0)
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence

import numpy as np

from automl.evaluation.metrics import Metric
from automl.search.budget import Budget

__all__ = [
    "BAG_FETCH_SECONDS", "FIDELITY_EXPONENT", "FIDELITY_SNAP", "FIDELITY_TIME_SHARE", "FINAL_GROWTH_SHARE",
    "GROWTH_EXPONENT", "MAX_NOT_RUN_IN_A_ROW", "MIN_NET_FOLD_SECONDS", "MIN_SEARCH_TRIALS", "NOT_RUN_FOR_TIME", "PACK_TIME_SHARE",
    "REFIT_MARGIN", "SECOND_LEVEL_FAMILIES", "SLOW_FAMILY_FACTOR", "SearchPolicy", "fidelity_share", "grown_fraction",
    "net_fold_seconds", "refit_seconds", "FALLBACK_PAD", "MEMBER_PAD",
]

#: Under a time budget, a net's training in one fold ends (best epoch kept) after
#: ``max(MIN_NET_FOLD_SECONDS, budget / (folds * NET_FOLDS_PER_BUDGET))`` seconds, so
#: one net trial takes about a quarter of the budget at most and several fit in it.
NET_FOLDS_PER_BUDGET = 4
MIN_NET_FOLD_SECONDS = 3.0
#: Trials in a row that were not run for lack of time before the search ends.
MAX_NOT_RUN_IN_A_ROW = 3
#: Why a trial is not run when the search time left is shorter than one fold of its family. A queued trial (a
#: default, a scale trial, a portfolio entry) skipped so is queued again (:class:`~automl.search.objective.Objective`):
#: the search's second phase (:mod:`automl._fit.time_left`) or a resumed study runs it.
NOT_RUN_FOR_TIME = "not run: the time budget left is shorter than one fold of this family"
#: A trial that would not fit in the time left trains on a share of each fold's rows: folds and refit take this share.
FIDELITY_TIME_SHARE = 0.8
#: Fit time grows as (rows) ** this (boosting stops later on more rows; sorting is n log n):
#: a probe on a ninth of the rows predicts a full fold about 1.5x slower than a linear guess.
FIDELITY_EXPONENT = 1.2
#: A share below this many times the probe's is taken down to the probe's (its model is then fold 1's).
FIDELITY_SNAP = 1.5
#: While no trial has completed, one trial may take at most this share of the budget, so that one family slower
#: than the budget leaves time for the next family's defaults.
FIRST_TRIALS_SHARE = 0.5
#: Under a budget, a pack of net trials (``pack_nets``) may take at most this share of the search time left, at
#: the family's typical trial time per member, leaving other families' trials their time.
PACK_TIME_SHARE = 0.5
#: The refit of a model whose folds took ``s`` seconds each is estimated at ``s * scale * REFIT_MARGIN + pad``
#: (``scale``: all rows over a training part's rows; see :func:`refit_seconds`).
REFIT_MARGIN = 1.2
#: Seconds added to a refit's estimate: a margin for a final model that must fit, next to nothing for an
#: ensemble member (whose refit is killed at its deadline if it runs late, leaving the best single model).
FALLBACK_PAD, MEMBER_PAD = 1.0, 0.05
#: Seconds kept for handing over a bag of fold models the runner holds (see :mod:`automl.search.kept_models`).
BAG_FETCH_SECONDS = 1.0
#: With one split under a time budget, a trial takes at most the search time left over the trials still to
#: complete before this many have (in this search), so that large data gets a real search (issue 16, item 6).
MIN_SEARCH_TRIALS = 20
#: The families a second level over the blend is taken from: the best-ranked completed trial of any of them
#: (:func:`automl._fit.stack.second_level`; the order here does not matter). Boosted trees read a few strong columns
#: beside many weak ones well, and AutoGluon's second levels are mostly its boosters. The search keeps the best of
#: them's refit for the stack.
SECOND_LEVEL_FAMILIES = ("lightgbm", "catboost", "xgboost", "hist_gradient_boosting")
#: Families that give a model quickly on any table: a linear model is one solver's pass over rows x columns with one
#: coefficient vector per class, where a booster grows a tree per class per round, each over every column. While no
#: trial has completed and one was stopped for time, the other families' queued trials wait behind these
#: (:meth:`SearchPolicy.waits_for_quick`): on a 500-row table of 3,000 columns, or one of 100 classes, at 10 s every
#: booster's and forest's first fold overran and the fit ended with no model.
QUICK_FAMILIES = ("linear",)
#: On large data (a probe plan) under a time budget, the search keeps this share of the budget for the final
#: refit of a best trial sized down to a share of the rows, grown to as many rows as fit in it.
FINAL_GROWTH_SHARE = 0.25
#: While trials share the time left, a family whose folds take more than this many times a trial's share of
#: it is not run again, unless it holds the best score (kNN and forests on large data: one trial of theirs
#: costs several of the others, and their first score says whether that is worth it).
SLOW_FAMILY_FACTOR = 2.0
#: A refit's fit time grows as (rows) ** this: its boosting rounds are fixed (the trial's), so it grows about
#: linearly in rows; a little more for sorting and for deeper trees.
GROWTH_EXPONENT = 1.1


def fidelity_share(probe_seconds: float, probe_fraction: float, time_left: float, n_splits: int,
                   trials_ahead: int = 1) -> float:
    """The share of each fold's training rows a trial trains on, from its probe's seconds.

    A full fold is predicted to take ``probe_seconds * (1 / probe_fraction) ** FIDELITY_EXPONENT``;
    the trial's folds plus a refit (``n_splits + 2`` fits) must take at most
    ``FIDELITY_TIME_SHARE`` of ``time_left``, and its probe and folds (``n_splits + 1`` fits) at most
    ``time_left / trials_ahead``. Never below the probe's own share, and the probe's share itself when
    the fit would be less than ``FIDELITY_SNAP`` times it (the evaluator then reuses the probe as fold 1).

    Example:
        >>> fidelity_share(1.0, 0.1, 1000.0, 3), fidelity_share(1.0, 0.1, 40.0, 3)
        (1.0, 0.4697)
        >>> fidelity_share(1.0, 0.1, 1000.0, 1, trials_ahead=20), fidelity_share(1.0, 0.1, 40.0, 1, trials_ahead=20)
        (1.0, 0.1)
    """
    budget = max(time_left, 0.0) * FIDELITY_TIME_SHARE / (n_splits + 2)
    if trials_ahead > 1:
        budget = min(budget, max(time_left, 0.0) / (trials_ahead * (n_splits + 1)))
    full = probe_seconds * (1.0 / probe_fraction) ** FIDELITY_EXPONENT
    if full <= budget:
        return 1.0
    share = probe_fraction * (budget / max(probe_seconds, 1e-9)) ** (1.0 / FIDELITY_EXPONENT)
    if share < probe_fraction * FIDELITY_SNAP:
        return round(probe_fraction, 4)  # the probe's own share: the probe then serves as fold 1
    return round(min(1.0, share), 4)


def grown_fraction(fraction: float, fit_seconds: float, seconds_left: float) -> float:
    """The share of all rows a refit trains on: a trial that trained on ``fraction`` of its rows, its fit
    taking ``fit_seconds``, grows to as many rows as fit in ``seconds_left`` (at ``REFIT_MARGIN``, time
    growing as rows ** ``GROWTH_EXPONENT``); never below ``fraction``, at most all rows.

    Example:
        >>> grown_fraction(0.05, 8.0, 60.0), grown_fraction(0.05, 8.0, 5.0), grown_fraction(0.5, 1.0, 60.0)
        (0.2645, 0.05, 1.0)
    """
    if fraction >= 1.0:
        return 1.0
    room = max(seconds_left, 0.0) / (max(fit_seconds, 1e-3) * REFIT_MARGIN)
    if room <= 1.0:
        return fraction
    return round(min(1.0, fraction * room ** (1.0 / GROWTH_EXPONENT)), 4)


def refit_seconds(fit_time: float, n_splits: int, scale: float, pad: float = FALLBACK_PAD) -> float:
    """Estimated seconds of a refit on all rows of a trial whose ``n_splits`` folds took ``fit_time`` together
    (``scale``: all rows over a training part's rows; a fit time not known counts as 0).

    Example:
        >>> round(refit_seconds(9.0, 3, 1.5), 4), round(refit_seconds(9.0, 3, 1.5, pad=MEMBER_PAD), 4)
        (6.4, 5.45)
    """
    fit = fit_time if np.isfinite(fit_time) else 0.0
    return fit / max(n_splits, 1) * scale * REFIT_MARGIN + pad


def net_fold_seconds(budget_seconds: float | None, n_splits: int) -> float | None:
    """Seconds a net may train in one fold under ``budget_seconds`` (None: no cap).

    Example:
        >>> net_fold_seconds(120, 5), net_fold_seconds(20, 5), net_fold_seconds(None, 5)
        (6.0, 3.0, None)
    """
    if budget_seconds is None:
        return None
    return max(MIN_NET_FOLD_SECONDS, budget_seconds / (max(n_splits, 1) * NET_FOLDS_PER_BUDGET))


class SearchPolicy:
    """What the search learns as it goes, and the decisions taken from it.

    Args:
        budget: The fit's budget.
        primary: The metric the search optimises.
        n_splits: Folds per trial.
        probe_fraction: Share of fold 1's rows a probe trains on (None: no probe).
        prune_probes: Whether successive halving applies at the probe.
        refit_scale: All rows over a training part's rows (the refit's size).
        complete_before: Trials the study had completed before this search began.
    """

    def __init__(self, budget: Budget, primary: Metric, n_splits: int, *, probe_fraction: float | None = None,
                 prune_probes: bool = True, refit_scale: float = 1.25, complete_before: int = 0) -> None:
        self.budget = budget
        self.primary = primary
        self.n_splits = n_splits
        self.probe_fraction = probe_fraction
        self.prune_probes = prune_probes
        self.refit_scale = refit_scale
        self.complete_before = complete_before
        self.best_value: float | None = None
        #: The best trial's primary score on each fold, in order (empty: unknown).
        self.best_folds: list[float] = []
        #: Whether the final stage can use the best trial so far as a bag of its fold models, which the
        #: runner holds (then only fetching the bag is reserved, not a refit on all rows).
        self.bagged_best = False
        self._best_refit = 0.0
        self._best_fraction = 1.0
        self._best_family: str | None = None
        #: Each completed booster's (:data:`SECOND_LEVEL_FAMILIES`) score and refit estimate: a second level's cost.
        self._boosters: list[tuple[float, float]] = []
        #: Families seen reporting their boosting rounds: their training ends at the round cap.
        self.capped_families: set[str] = set()
        #: Trials completed in this search.
        self.completed_here = 0
        self.fold_cap = net_fold_seconds(budget.seconds, n_splits)
        self._fold_seconds: dict[str, list[float]] = defaultdict(list)
        self._not_run = 0
        #: Whether a trial was stopped for time while none had completed, and the quick families started since.
        self._stopped_first = False
        self._quick_started: set[str] = set()

    def resume(self, budget: Budget) -> None:
        """Go on under ``budget`` (a second search phase: the final stage's time as measured, see
        :class:`~automl.search.budget.Budget`), with what the search learned; the skips in a row start again."""
        self.budget = budget
        self._not_run = 0

    # -- what the search knows ------------------------------------------------------------------
    @property
    def has_complete(self) -> bool:
        """Whether some trial has completed (in this search or before it)."""
        return self.best_value is not None or self.complete_before > 0

    def typical_fold(self, family: str) -> float:
        """Median seconds of one fold of ``family`` so far (0 before its first fold)."""
        seconds = self._fold_seconds.get(family)
        return float(np.median(seconds)) if seconds else 0.0

    def search_time_left(self) -> float:
        """Seconds until the search deadline (infinite without a budget)."""
        return self.budget.left(self.budget.search_deadline(self.refit_estimate, self.final_reserve,
                                                            self.stack_estimate))

    def trial_deadline(self) -> float | None:
        """When a trial starting now is out of time: the search deadline once a trial has completed;
        before that the budget's first-trial deadline, and at most :data:`FIRST_TRIALS_SHARE` of the
        budget from now."""
        deadline = self.budget.trial_deadline(self.has_complete, self.refit_estimate, self.final_reserve,
                                              self.stack_estimate)
        if deadline is None or self.has_complete:
            return deadline
        return min(deadline, time.monotonic() + FIRST_TRIALS_SHARE * float(self.budget.seconds or 0.0))

    @property
    def refit_estimate(self) -> float:
        """Seconds kept for the final model of the best trial so far (the search stops that much earlier):
        fetching its bag (:data:`BAG_FETCH_SECONDS`) when the runner holds it, else its refit on all rows."""
        return BAG_FETCH_SECONDS if self.bagged_best else self._best_refit

    @property
    def stack_estimate(self) -> float | None:
        """Seconds of a refit of the trial a second level over the blend would copy: the best-ranked booster so far
        whose second level the budget keeps time for (:meth:`~automl.search.budget.Budget.stack_fits`; the stack
        stage picks the same way, :func:`automl._fit.stack.second_level`), else the best booster's (not kept for);
        None before a booster completes (the best trial's is kept)."""
        if not self._boosters:
            return None
        ranked = sorted(self._boosters, key=lambda b: b[0], reverse=self.primary.greater_is_better)
        return next((refit for _, refit in ranked if self.budget.stack_fits(refit)), ranked[0][1])

    @property
    def final_reserve(self) -> float:
        """Seconds kept for growing the best trial's refit to more rows: :data:`FINAL_GROWTH_SHARE` of the
        budget while trials share the time left (one split on large data, a probe plan) and the best trial
        trained on a share of its rows, else 0."""
        if self.budget.seconds is None or self.probe_fraction is None or self.n_splits != 1:
            return 0.0
        if self._best_fraction >= 1.0:
            return 0.0
        return FINAL_GROWTH_SHARE * float(self.budget.seconds)

    def trials_ahead(self) -> int:
        """Trials a trial starting now shares the search time left with (see :func:`fidelity_share`): with
        one split, those still to complete before :data:`MIN_SEARCH_TRIALS` have; else 1."""
        if self.n_splits != 1 or self.budget.seconds is None:
            return 1
        return max(1, MIN_SEARCH_TRIALS - self.completed_here)

    def fit_share(self) -> float | None:
        """With one split under a budget: the seconds of one fit of a trial starting now, its share of the search
        time left (with :meth:`trials_ahead` others; its probe and fold share its part); else None. Once
        :data:`MIN_SEARCH_TRIALS` have completed a trial may take half the time left, so that a booster's
        training ends before the search deadline would stop the trial."""
        if self.budget.seconds is None or self.n_splits != 1:
            return None
        return self.search_time_left() / (self.trials_ahead() * (self.n_splits + 1))

    def trial_caps(self) -> tuple[float | None, float | None]:
        """Seconds a net's and a booster's training in one fold of a trial starting now may take (None: no cap).

        A net's is :attr:`fold_cap` (nets need their epochs: on the 1M-row frame of ``benchmarks/scale.py`` a
        net capped at the share below scored 0.896 AUC against 0.922 at its own cap). While trials share the
        time left, a booster's is that share per fit (never under :data:`MIN_NET_FOLD_SECONDS`; LightGBM lost
        0.913 against 0.917 there); otherwise boosters are not capped.
        """
        share = self.fit_share()
        if share is None or self.fold_cap is None:
            return self.fold_cap, None
        return self.fold_cap, min(self.fold_cap, max(MIN_NET_FOLD_SECONDS, share))

    def pack_members(self, family: str, wanted: int) -> int:
        """How many trials of ``family`` may train as one pack starting now (at most ``wanted``).

        Without a time budget, ``wanted``. Under one, 1 until some trial has completed and ``family`` has
        timed a fold (the first result comes soonest alone, and a pack's time is not known before), then as
        many as fit in :data:`PACK_TIME_SHARE` of the search time left at the family's typical trial time
        per member (a member's fold seconds are its share of the pack's, so this is the pack's time).
        """
        if self.budget.seconds is None or wanted <= 1:
            return max(1, wanted)
        fold = self.typical_fold(family)
        if not self.has_complete or fold <= 0.0:
            return 1
        affordable = PACK_TIME_SHARE * self.search_time_left() / (fold * max(self.n_splits, 1))
        return max(1, min(wanted, int(affordable)))

    def refit_seconds(self, fit_time: float, pad: float = FALLBACK_PAD) -> float:
        """Estimated seconds of a refit on all rows of a trial whose folds took ``fit_time`` together."""
        return refit_seconds(fit_time, self.n_splits, self.refit_scale, pad)

    # -- decisions -----------------------------------------------------------------------------------
    def skip_reason(self, family: str) -> str | None:
        """Why a trial of ``family`` should not run now (None: it runs); counts trials not run in a row."""
        if self.has_complete and self.search_time_left() < self.typical_fold(family):
            self._not_run += 1
            return NOT_RUN_FOR_TIME
        share = self.fit_share()
        fold = self.typical_fold(family)
        # No share left (the search's time is up while nothing has completed: a first trial may still use the slack,
        # bounded by its own deadline) makes no family slow: "0.0 s, more than 2 x the -0.1 s" said it did.
        slow = (share is not None and share > 0.0 and fold > SLOW_FAMILY_FACTOR * share
                and family not in self.capped_families)
        if slow and family != self._best_family:
            return (f"not run: one fold of this family takes {fold:.1f} s, more than {SLOW_FAMILY_FACTOR:g} x the "
                    f"{share:.1f} s a trial's fit may take while trials share the time left, and it does not hold "
                    "the best score")
        self._not_run = 0
        return None

    def stopped_for_time(self) -> None:
        """Learn that a trial was stopped for time (out of time, or its next fold would overrun)."""
        if not self.has_complete:
            self._stopped_first = True

    def waits_for_quick(self, family: str, waiting: Callable[[], Collection[str]]) -> str | None:
        """Why a trial of ``family`` waits behind a quick family's (None: it runs now).

        While no trial has completed and one was stopped for time, a trial of a family not in
        :data:`QUICK_FAMILIES` waits (the caller queues it again, at the back) as long as a quick family's trial is
        queued (``waiting()``: the families of the queued trials, asked only then) and none has started here. A
        quick family's trial that starts ends the wait, whatever its outcome; so does any completed trial.

        Example:
            >>> from automl.evaluation.metrics import get_metric
            >>> policy = SearchPolicy(Budget(10.0, 0.0), get_metric("rmse", "regression"), n_splits=3)
            >>> policy.waits_for_quick("random_forest", lambda: {"linear"}) is None  # nothing stopped yet
            True
            >>> policy.stopped_for_time()
            >>> policy.waits_for_quick("random_forest", lambda: {"linear"})[:40]
            'not run yet: no trial has completed and '
            >>> policy.waits_for_quick("linear", lambda: set()), policy.waits_for_quick("random_forest", lambda: set())
            (None, None)
        """
        if family in QUICK_FAMILIES:
            self._quick_started.add(family)
            return None
        if self.has_complete or not self._stopped_first:
            return None
        pending = [name for name in QUICK_FAMILIES if name not in self._quick_started]
        if not pending:
            return None
        queued = waiting()
        quick = next((name for name in pending if name in queued), None)
        if quick is None:
            return None
        return (f"not run yet: no trial has completed and one was stopped for time, so the quick family "
                f"{quick!r} runs first to give the fit a model; queued again after it")

    @property
    def stop_after_skips(self) -> bool:
        """Whether enough trials in a row were not run for lack of time to end the search."""
        return self._not_run >= MAX_NOT_RUN_IN_A_ROW

    def out_of_time(self, families: Sequence[str]) -> bool:
        """Whether the search should start no more trials: past its deadline, or (once a trial
        has completed) with less time left than one fold of the cheapest family."""
        if self.budget.seconds is None:
            return False
        if not self.has_complete:  # nothing to refit yet: trials may start until the first-trial deadline
            return self.budget.left(self.budget.trial_deadline(False)) <= 0
        left = self.search_time_left()
        cheapest = min((self.typical_fold(name) for name in families), default=0.0)
        return left <= 0 or (self.has_complete and left < cheapest)

    def completed(self, family: str, value: float, fit_time: float, fraction: float = 1.0,
                  folds: Sequence[float] = ()) -> bool:
        """Learn from a completed trial (which trained on ``fraction`` of its rows and scored ``folds``, its primary
        score on each fold); return whether it is the best so far (its refit is then reserved)."""
        self.completed_here += 1
        if family in SECOND_LEVEL_FAMILIES and np.isfinite(value):
            self._boosters.append((float(value), self.refit_seconds(fit_time)))
        if self.best_value is not None and not self.primary.is_better(value, self.best_value):
            return False
        self.best_value = value
        self.best_folds = [float(v) for v in folds]
        self._best_refit = self.refit_seconds(fit_time)
        self._best_fraction = float(fraction)
        self._best_family = family
        return True

    def best_running(self, fold: int) -> float | None:
        """The best trial's mean primary score over folds ``0..fold`` (its mean over all folds where they are not
        known; None before a trial has completed here): what a running mean after ``fold`` compares with.

        Example:
            >>> from automl.evaluation.metrics import get_metric
            >>> policy = SearchPolicy(Budget(None, 0.0), get_metric("rmse", "regression"), n_splits=3)
            >>> policy.completed("lightgbm", 40.0, fit_time=1.0, folds=[70.0, 20.0, 30.0])
            True
            >>> policy.best_running(0), policy.best_running(1), policy.best_running(2)
            (70.0, 45.0, 40.0)
        """
        if self.best_value is None:
            return None
        so_far = np.asarray(self.best_folds[: fold + 1], dtype=float)
        if fold < len(self.best_folds) and np.isfinite(so_far).any():  # NaN folds ignored, as in a running mean
            return float(np.nanmean(so_far))
        return self.best_value

    def fold_done(self, family: str, seconds: float) -> None:
        """Learn how long a fold of ``family`` took."""
        self._fold_seconds[family].append(seconds)
