"""Per-epoch progress from inside a model's ``fit``, for pruning and time limits.

A family that trains in epochs (the torch nets) calls :func:`report_epoch`
after each epoch with its validation labels and scores. While the search
cross-validates a trial it installs a reporter with :func:`epoch_reporting`;
the reporter scores the epoch with the search metric, tells the Optuna pruner
and raises :class:`~automl.evaluation.cross_validation.TrialStopped` to end a
hopeless or overlong trial. Outside a search (the final refit, direct use)
:func:`report_epoch` does nothing. This module imports nothing heavy.

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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["EpochReporter", "epoch_reporting", "report_epoch", "reporting_active", "reporting_mapped"]

#: ``reporter(epoch, y_true, scores) -> stop``: ``y_true`` are encoded labels (or values) of the
#: validation rows, ``scores`` probabilities ``(n, n_classes)`` or values ``(n,)``. A true
#: return asks the model to end its training now, keeping its best epoch (out of time for this fold).
EpochReporter = Callable[[int, Any, Any], Any]

_REPORTER: ContextVar[EpochReporter | None] = ContextVar("automl_epoch_reporter", default=None)


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
        (its time for this fold is spent); False otherwise or without a reporter.

    Raises:
        TrialStopped: the reporter decided the trial should stop (pruned or out of time).
    """
    reporter = _REPORTER.get()
    return bool(reporter(epoch, y_true, scores)) if reporter is not None else False


def reporting_active() -> bool:
    """Whether a reporter is installed (a family may skip computing scores otherwise).

    Example:
        >>> reporting_active()
        False
    """
    return _REPORTER.get() is not None
