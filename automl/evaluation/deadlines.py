"""A deadline passed by work the fit cannot kill (it runs in the fit's own process): one exception, one check.

Greedy selection, the cross-fitted scores and the temperature's search check it between their steps, so that a
final stage on large out-of-fold predictions (8,000 rows of 1,000 classes: 3 s a temperature) gives up at the
refit deadline instead of running past the budget's promise.

Example:
    >>> import time
    >>> check_deadline(None, "x"), check_deadline(time.monotonic() + 60, "x")
    (None, None)
    >>> check_deadline(time.monotonic() - 1, "the temperature")
    Traceback (most recent call last):
    ...
    automl.evaluation.deadlines.OutOfTime: the temperature ran past its deadline
"""

from __future__ import annotations

import time

__all__ = ["OutOfTime", "check_deadline"]


class OutOfTime(Exception):
    """Work in the fit's process passed its deadline (what it was making is then given up)."""


def check_deadline(deadline: float | None, what: str) -> None:
    """Raise :class:`OutOfTime` when the monotonic time is past ``deadline`` (None: no limit)."""
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime(f"{what} ran past its deadline")
