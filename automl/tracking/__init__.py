"""Tracking: MLflow runs for every search and trial (``MLflowTracker``), or none (``NullTracker``).

Importing this package does not import mlflow; the MLflow tracker loads it when built.

Example:
    >>> from automl.tracking import NullTracker
    >>> NullTracker().on_trial(None, None)
"""

from __future__ import annotations

from typing import Any

from automl.tracking.base import RUN_STATUS, NullTracker, SearchInfo, Tracker, TrackingResult
from automl.tracking.browse import browse_hint, runs_view_url

__all__ = ["MLflowTracker", "NullTracker", "RUN_STATUS", "SearchInfo", "Tracker", "TrackingResult", "make_tracker",
           "browse_hint", "runs_view_url"]


def make_tracker(settings: Any) -> Tracker:
    """The tracker of a fit's settings: an ``MLflowTracker`` when tracking is on, the tracker object
    given, or a :class:`NullTracker`.

    Example:
        >>> from automl.config import resolve_settings
        >>> type(make_tracker(resolve_settings({"tracking": False}))).__name__
        'NullTracker'
    """
    if not settings.tracking_on:
        return NullTracker()
    if settings.tracking is None or settings.tracking is True:
        from automl.tracking.mlflow_tracker import MLflowTracker

        return MLflowTracker(settings.tracking_uri, register_model=settings.register_model,
                             log_input_example=bool(getattr(settings, "log_input_example", False)))
    return settings.tracking


def __getattr__(name: str) -> Any:
    if name == "MLflowTracker":
        from automl.tracking.mlflow_tracker import MLflowTracker

        return MLflowTracker
    raise AttributeError(f"module 'automl.tracking' has no attribute {name!r}")
