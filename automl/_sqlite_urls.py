"""SQLite URLs as the settings read them: the folder of a ``sqlite:///PATH`` file, and the file two stores share.

Example:
    >>> sqlite_folder("sqlite:////data/m.db")
    '/data'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["shared_sqlite_problems", "sqlite_folder", "sqlite_folder_problems", "sqlite_path"]


def sqlite_folder(uri: Any) -> str | None:
    """The folder of a ``sqlite:///PATH`` URL's file (None: not a SQLite file URL, or an in-memory database).

    Example:
        >>> sqlite_folder("sqlite:////data/m.db"), sqlite_folder("sqlite:///m.db"), sqlite_folder("http://h")
        ('/data', '.', None)
    """
    path = sqlite_path(uri)
    return None if path is None else os.path.dirname(path) or "."


def sqlite_path(uri: Any) -> str | None:
    """The file of a ``sqlite:///PATH`` URL, as written (None: not a SQLite file URL, or an in-memory database).

    Example:
        >>> sqlite_path("sqlite:////data/m.db?timeout=5"), sqlite_path("sqlite://")
        ('/data/m.db', None)
    """
    if not isinstance(uri, str) or not uri.lower().startswith("sqlite"):
        return None
    rest = uri.partition("://")[2]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        return None
    return rest[1:].split("?")[0]


def sqlite_folder_problems(name: str, uri: Any) -> list[str]:
    """A ``sqlite:///PATH`` URL whose file's folder does not exist (SQLite cannot create the file there).

    Example:
        >>> sqlite_folder_problems("storage", "sqlite:////no-such-folder-x/s.db")[0][:52]
        "storage='sqlite:////no-such-folder-x/s.db': the fold"
    """
    path = sqlite_path(uri)
    if path is None:
        return []
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        return [f"{name}={uri!r}: the folder {folder!r} of the SQLite file does not exist; create it or choose "
                "another path"]
    if os.path.isdir(path):  # SQLite retries opening it for minutes before it fails
        file = "mlflow.db" if name == "tracking_uri" else "studies.db"
        return [f"{name}={uri!r} names a folder; pass an SQLite file inside it, e.g. sqlite:///{path.rstrip('/')}/{file}"]
    if os.path.isfile(path) and os.path.getsize(path) and not _sqlite_header(path):
        return [f"{name}={uri!r}: {path} is not an SQLite database; pass a new file or an SQLite store"]
    return []


def _sqlite_header(path: str) -> bool:
    """Whether the file at ``path`` starts as every SQLite database does (False when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def shared_sqlite_problems(values: Mapping[str, Any]) -> list[str]:
    """``storage`` and the tracking store (``tracking_uri``, else ``$MLFLOW_TRACKING_URI``) in one SQLite file: Optuna
    and MLflow each keep their schema's version in its ``alembic_version`` table, so the second to open it fails.

    Example:
        >>> shared_sqlite_problems({"storage": "sqlite:///a.db", "tracking_uri": "sqlite:///a.db"})[0][:45]
        'storage and tracking_uri are one SQLite file '
    """
    storage, tracking = values.get("storage"), values.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if values.get("tracking") is False or not isinstance(storage, str) or not isinstance(tracking, str):
        return []
    files = [None if path is None else os.path.abspath(path) for path in map(sqlite_path, (storage, tracking))]
    if files[0] is None or files[0] != files[1]:
        return []
    return [f"storage and tracking_uri are one SQLite file ({files[0]}): Optuna's studies and MLflow's runs each keep "
            "their schema's version in its alembic_version table, so they cannot share it; pass two files, e.g. "
            "storage='sqlite:///studies.db' and tracking_uri='sqlite:///mlflow.db'"]
