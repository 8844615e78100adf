"""Where the MLflow tracker connects: the default store, and a first connection that does not wait minutes.

Example:
    >>> with patient_once():
    ...     os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") is not None
    True
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["DeletedExperiment", "creating_store", "default_tracking_uri", "patient_once", "refuse_deleted"]


#: While the parent run is opened: one retry and a 10 s timeout per request (MLflow's own defaults retry
#: for minutes, which would spend the fit's time budget waiting for a server that is down); a value the
#: user set in the environment wins.
_START_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@contextmanager
def patient_once() -> Iterator[None]:
    """MLflow's HTTP retries and timeout set to :data:`_START_HTTP` for the duration (unless set by the user)."""
    added = {k: v for k, v in _START_HTTP.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else MLflow 3's default ``sqlite:///<cwd>/mlflow.db``.

    Example:
        >>> default_tracking_uri().startswith(("sqlite:", "http", "file:", "databricks")) or True
        True
    """
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


@contextmanager
def creating_store(tracking_uri: str) -> Iterator[None]:
    """For a SQLite store, one process at a time in its folder while MLflow's client opens it (a lock on the
    folder, which writes nothing): MLflow creates a new store's tables and migrates them on first use with no
    lock of its own, and two processes doing that at once (``cross_validate(..., n_jobs=2)`` on a new store)
    each failed ("table runs already exists", "duplicate column name") and left the store half-migrated for
    good. Other stores, and systems without ``fcntl``, are not locked.

    Example:
        >>> with creating_store("http://localhost:5000"):
        ...     pass
    """
    from automl._setting_checks import sqlite_folder

    try:
        import fcntl
    except ImportError:  # not on this system: as MLflow does alone
        fcntl = None  # type: ignore[assignment]
    folder = sqlite_folder(tracking_uri)
    if folder is None or fcntl is None:
        yield
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # no folder to lock: MLflow says what is wrong
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        with suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


class DeletedExperiment(RuntimeError):
    """The fit's experiment is in the store's bin: MLflow logs no run to it, and refuses a new one of its name."""


def refuse_deleted(found: object, name: str) -> None:
    """Raise :class:`DeletedExperiment`, naming the ways out, when the experiment ``found`` (MLflow's, or None)
    was deleted (the tracker said the store "cannot be reached", and every later fit of that name went untracked).
    """
    if found is not None and getattr(found, "lifecycle_stage", "active") == "deleted":
        number = getattr(found, "experiment_id", "?")
        raise DeletedExperiment(f"its experiment {name!r} (id {number}) was deleted: restore it (mlflow experiments "
                                f"restore --experiment-id {number}), delete it for good (mlflow gc), or log under "
                                "another study name")
