"""The tracker protocol: what the search tells a tracker, and a tracker that records nothing.

A tracker is told when the study is open (``on_start``), after each finished
trial (``on_trial``), and once at the end (``finish``) with the fitted model or
the status the fit ended in. Trackers must never break a search: they catch
and report their own errors.

Example:
    >>> t = NullTracker()
    >>> t.on_start(None, {}); t.finish(None, "FINISHED")
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Tracker", "NullTracker", "RUN_STATUS"]

#: Optuna trial state -> MLflow run status.
RUN_STATUS = {
    "complete": "FINISHED", "pruned": "KILLED", "fail": "FAILED", "interrupted": "KILLED", "running": "RUNNING",
}


@runtime_checkable
class Tracker(Protocol):
    """What the search calls on a tracker."""

    def on_start(self, study: Any, settings: dict[str, Any]) -> None:
        """The study is open; ``settings`` describe the search (budget, cv, metric, data shape...)."""

    def on_trial(self, study: Any, trial: Any) -> None:
        """A trial finished (complete, pruned or failed)."""

    def finish(self, model: Any, status: str, extras: dict[str, Any] | None = None) -> None:
        """The fit ended with ``status`` (FINISHED, FAILED or KILLED); ``model`` is set when FINISHED."""


class NullTracker:
    """Records nothing (``tracking=False``)."""

    def on_start(self, study: Any, settings: dict[str, Any]) -> None:
        """Do nothing."""

    def on_trial(self, study: Any, trial: Any) -> None:
        """Do nothing."""

    def finish(self, model: Any, status: str, extras: dict[str, Any] | None = None) -> None:
        """Do nothing."""
