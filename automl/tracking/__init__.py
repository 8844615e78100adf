"""Tracking: MLflow runs for every search and trial (``MLflowTracker``), or none (``NullTracker``).

Importing this package does not import mlflow; the MLflow tracker loads it when built.

Example:
    >>> from automl.tracking import NullTracker
    >>> NullTracker().on_trial(None, None)
"""

from __future__ import annotations

from typing import Any

from automl.tracking.base import RUN_STATUS, NullTracker, Tracker

__all__ = ["MLflowTracker", "NullTracker", "RUN_STATUS", "Tracker"]


def __getattr__(name: str) -> Any:
    if name == "MLflowTracker":
        from automl.tracking.mlflow_tracker import MLflowTracker

        return MLflowTracker
    raise AttributeError(f"module 'automl.tracking' has no attribute {name!r}")
