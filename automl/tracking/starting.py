"""A fit's tracker, started once the search has a model rather than before the search.

Opening an MLflow store costs seconds of CPU before the first run can be written: importing MLflow (about
1.5 s on one core) and making its client, which creates a new SQLite store's tables (about 2.4 s more;
0.8 s for a store that exists). A fit that did that before its first trial spent most of a 5 s budget on
it and ended with no model; one that did it on a thread beside the first trial shared the core with it, and
at 5 s on one core it still ended with no model about half of the time. :class:`TrackerStart` connects on a
thread once a trial has completed (the fit then has a model to refit), or when the search ends without one
(to record the failed run); the rest of the tracker's start (the parent run, reading and writing the study)
runs on the fit's thread at the first finished trial after the connection is made, or at the end. Trials
that finish before then are logged at the end with the others the tracker has not seen
(:meth:`~automl.tracking.mlflow_tracker.MLflowTracker.finish` logs every finished trial not yet logged).

Without a time budget or with one of :data:`DEFERRED_BELOW` seconds or more, or without a ``connect`` method (your
own tracker object), the tracker is started as before, on the fit's thread when the study opens: the parent run is
there before the first trial.

Example:
    >>> from automl.config import resolve_settings
    >>> start = TrackerStart(resolve_settings({"tracking": False}))
    >>> start.start(None, SearchInfo("s", False)); start.finish(None, None, "FINISHED")
    TrackingResult(run_id=None, tracking_uri=None, model_uri=None, experiment_id=None)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import suppress
from typing import Any, cast

from automl._warnings import warn_user
from automl.tracking.base import NullTracker, SearchInfo, Tracker, TrackingResult

__all__ = ["DEFERRED_BELOW", "TrackerStart"]

#: Under a time budget shorter than this the store is opened once a trial has completed; from it on (and without a
#: budget) before the first trial, as the parent run's early presence costs under a few percent of the budget there
#: (4-12 s measured on one loaded core is 3-10 % of 120 s), and a Ctrl-C just after the first trial then still finds
#: the run and its writer ready (an interrupted fit gets 6 s to log its trials).
DEFERRED_BELOW = 120.0


class TrackerStart:
    """The fit's tracker, made once the study is opened and checked (a study refused as made for other data
    writes no MLflow store); under a budget shorter than :data:`DEFERRED_BELOW`, connected to its store on a thread
    once the search has completed a trial.

    Attributes:
        tracker: The tracker (a :class:`NullTracker` until :meth:`start`).
        seconds: How long connecting and starting it took, on whichever thread.
        beside: Whether its start is deferred (it has a ``connect`` method and the budget is short) rather than done
            before the search.
    """

    def __init__(self, settings: Any) -> None:
        self.settings, self.tracker, self.seconds = settings, cast(Tracker, NullTracker()), 0.0
        self._pending: tuple[Any, SearchInfo] | None = None
        self._thread: threading.Thread | None = None
        self.beside, self._begun = False, 0.0

    def start(self, study: Any, info: SearchInfo) -> None:
        """Make the tracker; start it here when it cannot connect apart or the fit's time budget is none or long
        (:data:`DEFERRED_BELOW`), else keep its start for later."""
        from automl.tracking import make_tracker

        begun = time.monotonic()
        self.tracker = make_tracker(self.settings)
        budget = getattr(self.settings, "time_budget", None)
        if getattr(self.tracker, "connect", None) is None or not budget or float(budget) >= DEFERRED_BELOW:
            try:
                self.tracker.on_start(study, info)
            finally:
                self.seconds = time.monotonic() - begun
            return
        if study is not None and info.earlier_trials is None:  # the trials there when the study opened, not later
            info = dataclasses.replace(info, earlier_trials=frozenset(t.number for t in study.get_trials(deepcopy=False)))
        self._pending, self.beside = (study, info), True

    def _connect(self) -> None:
        """Start connecting on a thread (once)."""
        if self._thread is not None:
            return
        connect = self.tracker.connect  # type: ignore[attr-defined]
        self._begun = time.monotonic()

        def run() -> None:
            with suppress(Exception):  # the tracker keeps the error and warns when it starts
                connect()
            self.seconds += time.monotonic() - self._begun

        self._thread = threading.Thread(target=run, name="automl-tracking-start", daemon=True)
        self._thread.start()

    def _finish_start(self, wait_until: float | None) -> bool:
        """Start the tracker on this thread once it is connected (waiting at most until ``wait_until``,
        monotonic; None: not at all); whether it is started."""
        if self._pending is None:
            return True
        if self._thread is None:
            return False
        if wait_until is not None:
            self._thread.join(timeout=max(0.0, wait_until - time.monotonic()))
        if self._thread.is_alive():
            return False
        study, info = self._pending
        self._pending = None
        begun = time.monotonic()
        try:
            self.tracker.on_start(study, info)
        finally:
            self.seconds += time.monotonic() - begun
        return True

    def on_trial(self, study: Any, trial: Any) -> None:
        """Connect once a trial has completed; tell the tracker of a finished trial once it is started (the
        trials before are logged at the end)."""
        if self._pending is not None and self._thread is None and getattr(trial.state, "name", "") == "COMPLETE":
            self._connect()
        if self._finish_start(None):
            self.tracker.on_trial(study, trial)

    def finish(self, study: Any, report: Any, status: str, deadline: float | None = None) -> TrackingResult:
        """Finish the tracker by ``deadline``, first connecting (if no trial completed) and waiting for its
        connection until then; a connection not made by then leaves the fit untracked, with a warning."""
        if self._pending is not None:
            self._connect()
        if not self._finish_start(deadline if deadline is not None else time.monotonic() + 3600.0):
            uri = getattr(self.tracker, "shown_uri", "the tracking store")
            warn_user(f"MLflow tracking is off for this fit: opening {uri} had not ended by the fit's tracking "
                      f"deadline ({time.monotonic() - self._begun:.1f} s after it began)", RuntimeWarning)
            return TrackingResult()
        return self.tracker.finish(study, report, status, deadline)
