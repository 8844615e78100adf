"""Wall-clock budget of a fit: the search stops early enough to leave time for the refit.

Example:
    >>> b = Budget(60.0, started_at=0.0)
    >>> b.reserve_refit(fold_fit_seconds=2.0, scale=1.25)
    >>> round(b.search_deadline(), 2)
    56.0
"""

from __future__ import annotations

import time

__all__ = ["Budget"]


class Budget:
    """Tracks the deadline of a fit with an optional time budget.

    The whole fit, refit included, aims to end by ``started_at + seconds``; the
    search itself stops ``refit_reserve`` seconds earlier. A trial may overrun
    by at most one fold, and the first trial is allowed up to the hard limit
    ``seconds * 1.1 + 5`` so that there is always something to refit.

    Args:
        seconds: The budget, or ``None`` for no time limit.
        started_at: ``time.monotonic()`` when the fit started.
    """

    def __init__(self, seconds: float | None, started_at: float | None = None) -> None:
        self.seconds = seconds
        self.started_at = time.monotonic() if started_at is None else started_at
        self.refit_reserve = 0.0
        self.extra_reserve = 0.0
        #: Extra refits kept time for, as a multiple of the best trial's refit (the ensemble's members).
        self.ensemble_factor = 0.0

    def reserve_refit(self, fold_fit_seconds: float, scale: float) -> None:
        """Keep time for refitting a model whose folds took ``fold_fit_seconds`` each.

        ``scale`` is all rows over the rows of a training part; 20 % and one
        second are added as margin, plus ``extra_reserve`` (time the fit
        needs after the refit, e.g. logging the model to MLflow).
        """
        self.refit_reserve = fold_fit_seconds * scale * 1.2 + 1.0

    def search_deadline(self) -> float | None:
        """Monotonic time by which the search should stop (``None``: no limit)."""
        if self.seconds is None:
            return None
        return self.started_at + self.seconds - self.refit_reserve * (1.0 + self.ensemble_factor) - self.extra_reserve

    def hard_deadline(self) -> float | None:
        """The latest any trial may run to, even the first one."""
        if self.seconds is None:
            return None
        return self.started_at + self.seconds * 1.1 + 5.0

    def search_time_left(self, now: float | None = None) -> float:
        """Seconds left for the search (infinite without a budget)."""
        deadline = self.search_deadline()
        if deadline is None:
            return float("inf")
        return deadline - (time.monotonic() if now is None else now)

    def elapsed(self) -> float:
        """Seconds since the fit started."""
        return time.monotonic() - self.started_at
