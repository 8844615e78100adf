"""The time budget of one fit: every deadline of every stage, fixed before the search starts.

A fit with ``time_budget=B`` aims to end at ``B`` and promises to end within
``B * OVERRUN_FACTOR + OVERRUN_SECONDS``. The :class:`Budget` is built whole before the
search and never changes; each stage asks it for its own deadline:

- the search stops starting trials at :meth:`Budget.search_deadline`, which keeps time for
  the refit it estimates from the best trial so far (the estimate is the caller's, the
  budget only does the arithmetic), the ensemble's extra refits and tracking;
- a running trial is killed at :meth:`Budget.trial_deadline` (the first trial may run a
  little past ``B``, so that there is something to refit);
- the ensemble's member refits must end by :meth:`Budget.ensemble_deadline` (else the best
  single model is kept);
- the final model's refit (and any fallback refit) is killed at :meth:`Budget.refit_deadline`;
- tracking is stopped at :meth:`Budget.tracking_deadline`;
- :data:`WRAP_UP_SECONDS` are left for what follows a kill (the report, closing runs).

With process isolation each of these is enforced: the worker that runs a trial or a refit
is killed at its deadline. With ``isolation="none"`` the same deadlines are only checked
between folds, epochs and stages, so the budget is best effort (``enforced=False``).

Example:
    >>> b = Budget(60.0, started_at=0.0)
    >>> b.search_deadline(refit_estimate=4.0), b.refit_deadline(), b.limit()
    (56.0, 72.0, 76.0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Budget", "OVERRUN_FACTOR", "OVERRUN_SECONDS", "STACK_SHARE", "WRAP_UP_SECONDS"]

#: The promise: a fit given ``B`` seconds ends within ``B * OVERRUN_FACTOR + OVERRUN_SECONDS``.
OVERRUN_FACTOR = 1.1
OVERRUN_SECONDS = 10.0
#: Seconds kept after the last kill point: receiving the model, the report, closing the runs.
WRAP_UP_SECONDS = 4.0
#: While nothing has completed, trials may run this share of the way from the budget's end to the
#: refit deadline: part of the slack goes to getting a first model at all.
FIRST_TRIAL_SLACK = 0.5
#: The ensemble's members are chosen to end by this share of the budget past it: their refits run in the
#: worker and come back pickled (a few tenths of a second each that an in-process refit did not cost).
ENSEMBLE_OVERRUN = 0.02
#: At most this share of the slack (``limit - end``) is kept for tracking, so that a short budget
#: still leaves the refit some of the slack.
TRACKING_SHARE = 0.5
#: At most this share of the budget is kept for a second level over the blend (an optional stage, skipped when it
#: would run late): a second level that would cost more is not kept time for. On cardiotocography at 300 s
#: (10 folds, a CatBoost best booster, 45 new columns beside 21) an unbounded reserve took 46 % of the budget from
#: the search, for a second level then stopped unfinished.
STACK_SHARE = 0.2



@dataclass(frozen=True)
class Budget:
    """Every deadline of a fit, as monotonic times (``None`` everywhere without a budget).

    Attributes:
        seconds: The budget, or ``None`` for no time limit.
        started_at: ``time.monotonic()`` when the fit started.
        tracking_reserve: Seconds kept at the end for tracking (0 without tracking).
        ensemble_factor: Extra refits the search keeps time for, as a multiple of the best
            trial's refit (the ensemble's members; 0 without an ensemble).
        stack_factor: What the search keeps for a second level over the blend (its cross-validation and
            refit), as a multiple of the refit of the trial that would be the second level (0: no stack); kept
            only while it is at most :data:`STACK_SHARE` of the budget (:meth:`stack_fits`).
        enforced: Whether trials and refits run where they can be killed at their deadline
            (process isolation); ``False``: the deadlines are checked between steps only.
        final_seconds: The final stage's seconds as measured (a second search phase, :mod:`automl._fit.time_left`):
            kept instead of the estimates from ``ensemble_factor`` and ``stack_factor``, or the best trial's
            refit if that is more (None: the estimates).
    """

    seconds: float | None
    started_at: float
    tracking_reserve: float = 0.0
    ensemble_factor: float = 0.0
    stack_factor: float = 0.0
    enforced: bool = True
    final_seconds: float | None = None

    @classmethod
    def until_wall_time(cls, deadline: float | None, enforced: bool = True) -> Budget:
        """The budget of a process joining a search that ends at wall-clock ``deadline`` (``time.time()``).

        Example:
            >>> Budget.until_wall_time(None).seconds is None
            True
        """
        if deadline is None:
            return cls(None, time.monotonic(), enforced=enforced)
        seconds = max(0.0, deadline - time.time())
        return cls(seconds, time.monotonic(), enforced=enforced)

    # -- deadlines --------------------------------------------------------------------------
    def end(self) -> float | None:
        """When the fit aims to end: ``started_at + seconds``."""
        return None if self.seconds is None else self.started_at + self.seconds

    def limit(self) -> float | None:
        """The promise: ``started_at + seconds * OVERRUN_FACTOR + OVERRUN_SECONDS``."""
        if self.seconds is None:
            return None
        return self.started_at + self.seconds * OVERRUN_FACTOR + OVERRUN_SECONDS

    def tracking_seconds(self) -> float:
        """The seconds kept for tracking: ``tracking_reserve``, at most :data:`TRACKING_SHARE` of the slack."""
        if self.seconds is None:
            return self.tracking_reserve
        slack = self.seconds * (OVERRUN_FACTOR - 1.0) + OVERRUN_SECONDS
        return min(self.tracking_reserve, TRACKING_SHARE * slack)

    def search_deadline(self, refit_estimate: float = 0.0, final_reserve: float = 0.0,
                        stack_estimate: float | None = None) -> float | None:
        """When the search stops starting trials, keeping for the final stage ``refit_estimate`` seconds
        (the final refit) and as much again per ``ensemble_factor``, ``stack_estimate`` (the second level's
        refit; None: ``refit_estimate``) per ``stack_factor``, and the tracking reserve. Given a
        ``final_reserve`` (large data: the final refit grows to more rows, see
        :func:`automl.search.policy.grown_fraction`, and the ensemble's members are the fold models the
        runner holds), it keeps that, or one refit if more, instead.

        Example:
            >>> b = Budget(100.0, started_at=0.0, ensemble_factor=2.0)
            >>> b.search_deadline(5.0), b.search_deadline(5.0, final_reserve=25.0), b.search_deadline(30.0, 25.0)
            (85.0, 75.0, 70.0)
            >>> Budget(100.0, started_at=0.0, ensemble_factor=2.0, stack_factor=3.0).search_deadline(5.0, stack_estimate=1.0)
            82.0
            >>> Budget(100.0, started_at=0.0, ensemble_factor=2.0, stack_factor=3.0).search_deadline(5.0, stack_estimate=7.0)
            85.0
            >>> b = Budget(100.0, started_at=0.0, ensemble_factor=2.0, final_seconds=8.0)
            >>> b.search_deadline(5.0), b.search_deadline(12.0)
            (92.0, 88.0)
        """
        end = self.end()
        if end is None:
            return None
        second = refit_estimate if stack_estimate is None else stack_estimate
        stack = second * self.stack_factor if self.stack_fits(second) else 0.0
        reserve = refit_estimate * (1.0 + self.ensemble_factor) + stack
        if self.final_seconds is not None:
            reserve = max(refit_estimate, self.final_seconds)
        if final_reserve > 0.0:
            reserve = max(refit_estimate, final_reserve)
        return end - reserve - self.tracking_seconds()

    def stack_fits(self, refit: float) -> bool:
        """Whether a second level copying a trial that refits in ``refit`` seconds is kept time for: its cost
        (``refit * stack_factor``) is at most :data:`STACK_SHARE` of the budget (any cost without a budget).

        Example:
            >>> b = Budget(100.0, started_at=0.0, stack_factor=4.0)
            >>> b.stack_fits(5.0), b.stack_fits(5.5), Budget(None, 0.0, stack_factor=4.0).stack_fits(1e6)
            (True, False, True)
        """
        return self.seconds is None or refit * self.stack_factor <= STACK_SHARE * self.seconds

    def trial_deadline(self, has_complete: bool, refit_estimate: float = 0.0,
                       final_reserve: float = 0.0, stack_estimate: float | None = None) -> float | None:
        """Past this a running trial is out of time: the search deadline once a trial has
        completed; before that, :data:`FIRST_TRIAL_SLACK` of the way from the budget's end to the
        refit deadline (so that there is something to refit, with time left to refit it)."""
        end, refit = self.end(), self.refit_deadline()
        if end is None or refit is None:
            return None
        if has_complete:
            return self.search_deadline(refit_estimate, final_reserve, stack_estimate)
        return end + FIRST_TRIAL_SLACK * max(0.0, refit - end)

    def ensemble_deadline(self) -> float | None:
        """The ensemble's member refits are chosen to end by this: :data:`ENSEMBLE_OVERRUN` of the budget
        past its end, less the tracking reserve."""
        end = self.end()
        if end is None or self.seconds is None:
            return None
        return end + ENSEMBLE_OVERRUN * self.seconds - self.tracking_seconds()

    def refit_deadline(self) -> float | None:
        """The final model's refit (and a fallback's) is killed at this."""
        limit = self.limit()
        return None if limit is None else limit - WRAP_UP_SECONDS - self.tracking_seconds()

    def tracking_deadline(self) -> float | None:
        """Tracking is stopped at this."""
        limit = self.limit()
        return None if limit is None else limit - WRAP_UP_SECONDS

    def wall_time(self, moment: float | None) -> float | None:
        """The wall-clock time (``time.time()``) of the monotonic ``moment``."""
        return None if moment is None else time.time() + (moment - time.monotonic())

    # -- now ----------------------------------------------------------------------------------
    def left(self, deadline: float | None, now: float | None = None) -> float:
        """Seconds until ``deadline`` (infinite for ``None``)."""
        if deadline is None:
            return float("inf")
        return deadline - (time.monotonic() if now is None else now)

    def elapsed(self) -> float:
        """Seconds since the fit started."""
        return time.monotonic() - self.started_at
