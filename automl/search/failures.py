"""How a trial or a refit in the worker process can fail (the reason is recorded on the trial or the fit).

Example:
    >>> TrialRaised("ValueError", "bad value").reason
    'ValueError: bad value'
"""

from __future__ import annotations

from typing import Any

__all__ = ["DeadlineKilled", "TrialCrashed", "TrialRaised", "WorkerLoadError"]


class TrialCrashed(Exception):
    """The worker running a trial or a refit died or was killed (crash, time limit, memory limit).

    Attributes:
        reason: What happened, as recorded on the trial.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeadlineKilled(TrialCrashed):
    """A refit was killed at its deadline (the time budget's)."""


class WorkerLoadError(RuntimeError):
    """The worker process could not load the fit (a family or metric that only exists in this process)."""


class TrialRaised(Exception):
    """A trial raised an exception in the worker process.

    Attributes:
        type_name: Name of the exception's class (``"ValueError"``).
        reason: ``"Type: message"``, as the same error raised in-process is recorded.
        remote_traceback: The worker's traceback.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.reason = f"{type_name}: {message}"
        self.remote_traceback = remote_traceback


def _limits_text(trial_timeout: Any, memory_limit_mb: Any) -> str:
    """``trial_timeout=2`` / ``trial_memory_limit=512`` / both, as the settings are named."""
    parts = [f"{name}={value:g}" if isinstance(value, (int, float)) else f"{name}={value!r}"
             for name, value in (("trial_timeout", trial_timeout), ("trial_memory_limit", memory_limit_mb))
             if value is not None]
    return " and ".join(parts) or "the trial limits"


def limits_refused_without_isolation(trial_timeout: Any, memory_limit_mb: Any) -> str:
    """Why ``isolation="none"`` cannot take the limits, and the fix (also the settings check's message).

    Example:
        >>> limits_refused_without_isolation(2, None)  # doctest: +ELLIPSIS
        "trial_timeout=2 cannot be enforced with isolation='none': ...; use isolation='process' ..."
    """
    return (f"{_limits_text(trial_timeout, memory_limit_mb)} cannot be enforced with isolation='none': "
            "nothing running in the fit's own process can be stopped; use isolation='process' (the default), "
            "or drop the limit")
