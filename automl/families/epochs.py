"""Per-epoch progress from inside a model's ``fit``, for pruning and time limits.

A family that trains in epochs (the torch nets) calls :func:`report_epoch`
after each epoch with its validation labels and scores. While the search
cross-validates a trial it installs a reporter with :func:`epoch_reporting`;
the reporter scores the epoch with the search metric, tells the Optuna pruner
and raises :class:`~automl.evaluation.cross_validation.TrialStopped` to end a
hopeless or overlong trial. Outside a search (the final refit, direct use)
:func:`report_epoch` does nothing, unless a fit deadline is installed.

A refit that must end by a moment (a final refit grown to more rows, see
:func:`automl.search.policy.grown_fraction`) installs it with :func:`fit_deadline`: past it,
:func:`report_epoch` answers "end now" (a net keeps its best epoch) and a booster's own
per-round callback, a :class:`RoundClock`, ends its boosting with the rounds it has. This module imports nothing heavy.

Example:
    >>> seen = []
    >>> with epoch_reporting(lambda epoch, y, scores: seen.append(epoch)):
    ...     stop = report_epoch(0, [0, 1], [[0.9, 0.1], [0.2, 0.8]])
    >>> report_epoch(1, [0], [[1.0, 0.0]])  # no reporter installed: ignored
    False
    >>> seen
    [0]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["ROUND_REPORT_SECONDS", "EpochReporter", "RoundClock", "epoch_reporting", "fit_deadline", "past_fit_deadline", "report_epoch",
           "reporting_active", "reporting_mapped"]

#: ``reporter(epoch, y_true, scores) -> stop``: ``y_true`` are encoded labels (or values) of the
#: validation rows, ``scores`` probabilities ``(n, n_classes)`` or values ``(n,)``. A true
#: return asks the model to end its training now, keeping its best epoch (out of time for this fold).
EpochReporter = Callable[[int, Any, Any], Any]

_REPORTER: ContextVar[EpochReporter | None] = ContextVar("automl_epoch_reporter", default=None)
#: A booster reports how long it has trained at most this often (a report may cross to the fit's process).
ROUND_REPORT_SECONDS = 0.5
_DEADLINE: ContextVar[float | None] = ContextVar("automl_fit_deadline", default=None)


@contextmanager
def fit_deadline(moment: float | None) -> Iterator[None]:
    """Inside the block, models that train in epochs or rounds end their training at ``moment``
    (``time.monotonic()``; None: no deadline), keeping what they have learned.

    Example:
        >>> with fit_deadline(time.monotonic() - 1.0):
        ...     past_fit_deadline(), report_epoch(0, [0], [[1.0, 0.0]])
        (True, True)
        >>> past_fit_deadline()
        False
    """
    token = _DEADLINE.set(moment)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def past_fit_deadline() -> bool:
    """Whether the installed fit deadline (if any) has passed: the model should end its training now."""
    moment = _DEADLINE.get()
    return moment is not None and time.monotonic() >= moment


@contextmanager
def epoch_reporting(reporter: EpochReporter | None) -> Iterator[None]:
    """Install ``reporter`` for the ``fit`` calls made inside the ``with`` block."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


@contextmanager
def reporting_mapped(mapping: Callable[[Any], Any] | None) -> Iterator[None]:
    """Inside the block the installed reporter (if any) sees ``mapping(y_true)`` and ``mapping(scores)``:
    a model that learns a transformed target reports in the target's own units, the search metric's.

    Example:
        >>> seen = []
        >>> with epoch_reporting(lambda epoch, y, s: seen.append((y, s))), reporting_mapped(lambda v: 2 * v):
        ...     report_epoch(0, 1, 3)
        False
        >>> seen
        [(2, 6)]
    """
    reporter = _REPORTER.get()
    if mapping is None or reporter is None:
        yield
    else:
        with epoch_reporting(lambda epoch, y_true, scores: reporter(epoch, mapping(y_true), mapping(scores))):
            yield


def report_epoch(epoch: int, y_true: Any, scores: Any) -> bool:
    """Tell the installed reporter (if any) how the model does after ``epoch`` (0-based).

    Returns:
        True when the model should end its training now and keep its best epoch
        (its time for this fold is spent, or the fit deadline has passed); False otherwise.

    Raises:
        TrialStopped: the reporter decided the trial should stop (pruned or out of time).
    """
    reporter = _REPORTER.get()
    stop = bool(reporter(epoch, y_true, scores)) if reporter is not None else False
    return stop or past_fit_deadline()


def reporting_active() -> bool:
    """Whether a reporter or a fit deadline is installed (a family may skip computing scores otherwise).

    Example:
        >>> reporting_active()
        False
    """
    return _REPORTER.get() is not None or _DEADLINE.get() is not None


class RoundClock:
    """A booster's per-round hook: whether to end its boosting now.

    Cheap enough to call after every round: past the fit deadline it answers True; with a reporter
    installed (a search's fold) it tells the reporter, at most every :data:`ROUND_REPORT_SECONDS`, how
    long the booster has trained (``report_epoch(round, None, None)``, no score) and answers what the
    reporter says (the fold's time is spent). A :class:`~automl.evaluation.monitor.TrialStopped` the
    reporter raises (out of time, killed) is kept in :attr:`stopped` and answered True, for boosters that
    call the hook from native code; call :meth:`raise_if_stopped` after the fit.

    Example:
        >>> clock = RoundClock()
        >>> clock(0), clock(1)  # no reporter, no deadline: never
        (False, False)
        >>> with fit_deadline(time.monotonic() - 1.0):
        ...     clock(2)
        True
    """

    def __init__(self) -> None:
        self._next = time.monotonic() + ROUND_REPORT_SECONDS
        self.stopped: BaseException | None = None

    def __call__(self, boosting_round: int) -> bool:
        if past_fit_deadline():
            return True
        if _REPORTER.get() is None:
            return False
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + ROUND_REPORT_SECONDS
        try:
            return report_epoch(boosting_round, None, None)
        except Exception as exc:  # noqa: BLE001 - kept for raise_if_stopped, after the native loop returns
            self.stopped = exc
            return True

    @property
    def active(self) -> bool:
        """Whether anything can end the boosting (a reporter or a fit deadline is installed)."""
        return reporting_active()

    def raise_if_stopped(self) -> None:
        """Raise what the reporter raised during the fit, if anything."""
        if self.stopped is not None:
            raise self.stopped
