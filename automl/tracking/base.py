"""The tracker protocol: what a fit tells a tracker, and a tracker that records nothing.

A tracker is told when the study is open (``on_start``, with a :class:`SearchInfo`), after
each finished trial (``on_trial``), and once at the end (``finish``, with the fit's report, or
None when the fit failed or when the process only joined another's search). It returns a
:class:`TrackingResult` saying where the run went. A tracker may also have a ``connect()`` method, the
slow part of its start that reads and writes no study (opening its store): a fit then calls it on a
thread once a trial has completed, and ``on_start`` once it has returned (:mod:`automl.tracking.starting`). Trackers must never break a fit: they
catch and report their own errors, and ``finish`` ends by its ``deadline``.

Example:
    >>> t = NullTracker()
    >>> t.on_start(None, SearchInfo("s", False, {}, {})); t.finish(None, None, "FINISHED")
    TrackingResult(run_id=None, tracking_uri=None, model_uri=None, experiment_id=None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["NullTracker", "RUN_STATUS", "SearchInfo", "Tracker", "TrackingResult"]

#: Optuna trial state -> MLflow run status. A pruned trial ended as planned: FINISHED (tag
#: ``automl.state=pruned`` and ``automl.reason`` say why); KILLED is kept for a trial that a Ctrl-C or a
#: signal interrupted or whose process died (``lost``: its heartbeat stopped), FAILED for one that raised.
RUN_STATUS = {
    "complete": "FINISHED", "pruned": "FINISHED", "fail": "FAILED", "interrupted": "KILLED", "running": "RUNNING",
    "lost": "KILLED",
}


@dataclass(frozen=True)
class SearchInfo:
    """What a tracker records about a search when it starts.

    Attributes:
        study_name: The study's name (None: an in-memory study).
        joining: This process joins a search another process started (it adds its own trials only).
        params: The search's settings and data shape (the parent run's params).
        tags: Version, task, metric, data fingerprint, target (the parent run's tags).
        frame: The training features (the runs' dataset input is described from it: its schema, size and
            digest; its rows are never logged), or None.
        earlier_trials: The numbers of the trials in the study when this process opened it (None:
            those there when ``on_start`` is called), set when the start is deferred
            (:mod:`automl.tracking.starting`): trials other processes finish meanwhile are theirs to log.
    """

    study_name: str | None
    joining: bool
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    frame: Any = field(default=None, repr=False, compare=False)
    earlier_trials: frozenset[int] | None = None


@dataclass(frozen=True)
class TrackingResult:
    """Where a fit was tracked.

    Attributes:
        run_id: The parent run (None: nothing was recorded).
        tracking_uri: The store it is in, as shown: a password or secret query value in it masked
            (``***``), so it can be printed and saved; connect with the URI you gave.
        model_uri: The logged model (None: not logged).
        experiment_id: The experiment the run is in (see :func:`automl.tracking.browse.runs_view_url`).
    """

    run_id: str | None = None
    tracking_uri: str | None = None
    model_uri: str | None = None
    experiment_id: str | None = None


@runtime_checkable
class Tracker(Protocol):
    """What a fit calls on a tracker."""

    def on_start(self, study: Any, info: SearchInfo) -> None:
        """The study is open."""

    def on_trial(self, study: Any, trial: Any) -> None:
        """A trial finished (complete, pruned or failed)."""

    def finish(self, study: Any, report: Any, status: str, deadline: float | None = None) -> TrackingResult:
        """The fit ended with ``status`` (FINISHED, FAILED or KILLED); ``report`` (a
        :class:`~automl._fit.report.FitReport`) is set when FINISHED; stop by ``deadline`` (monotonic)."""


class NullTracker:
    """Records nothing (``tracking=False``)."""

    def on_start(self, study: Any, info: SearchInfo) -> None:
        """Do nothing."""

    def on_trial(self, study: Any, trial: Any) -> None:
        """Do nothing."""

    def finish(self, study: Any, report: Any, status: str, deadline: float | None = None) -> TrackingResult:
        """Do nothing."""
        return TrackingResult()
