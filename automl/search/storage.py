"""Where studies live: the embedded local file by default, any Optuna storage otherwise.

- ``storage=None, study_name=None``: in memory; nothing is written.
- ``storage=None, study_name="x"``: the embedded default, an Optuna journal
  file ``automl-studies.journal`` in the working directory (or the path in
  ``AUTOML_STORAGE``), so the search can be continued by name.
- a path ending in ``.journal`` or ``.log``, or ``journal:///path``: that journal file.
- an RDB URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``).
- an ``optuna.storages.BaseStorage`` instance.

Example:
    >>> describe_storage(None, None)
    'memory'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from automl.exceptions import InvalidParameterError

__all__ = ["DEFAULT_STORAGE_FILE", "check_storage", "describe_storage", "open_storage"]

DEFAULT_STORAGE_FILE = "automl-studies.journal"
_RDB_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql")
_JOURNAL_SUFFIXES = (".journal", ".log")


def _default_path() -> str:
    return os.environ.get("AUTOML_STORAGE", DEFAULT_STORAGE_FILE)


def describe_storage(storage: object, study_name: str | None) -> str:
    """A printable description of where the study is stored (for logs and the manifest).

    Example:
        >>> describe_storage("runs.journal", "s")
        'journal:runs.journal'
    """
    if storage is None:
        return "memory" if study_name is None else describe_storage(_default_path(), study_name)
    if isinstance(storage, str):
        if storage.startswith("journal:///"):
            return "journal:" + storage[len("journal:///"):]
        if storage.endswith(_JOURNAL_SUFFIXES):
            return "journal:" + storage
        return storage
    return type(storage).__name__


def check_storage(storage: object) -> list[str]:
    """Problems with a ``storage=`` argument, checked before anything is written.

    Example:
        >>> check_storage("ftp://x")
        ["storage='ftp://x' is not understood; pass a journal file path ending in .journal, 'journal:///path', an RDB URL such as sqlite:///studies.db or postgresql://user@host/db, or an optuna storage object"]
    """
    if storage is None:
        return []
    if isinstance(storage, str):
        if storage.startswith("journal:///") or storage.endswith(_JOURNAL_SUFFIXES):
            return []
        if storage.startswith(_RDB_PREFIXES):
            return []
        return [
            f"storage={storage!r} is not understood; pass a journal file path ending in .journal, "
            "'journal:///path', an RDB URL such as sqlite:///studies.db or postgresql://user@host/db, "
            "or an optuna storage object"
        ]
    if isinstance(storage, os.PathLike):
        return check_storage(os.fspath(storage))
    from optuna.storages import BaseStorage

    if isinstance(storage, BaseStorage):
        return []
    return [f"storage must be a path, a URL or an optuna storage, got {type(storage).__name__}"]


def open_storage(storage: object, study_name: str | None) -> Any:
    """The Optuna storage to use (``None`` means in memory)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if storage is None:
        if study_name is None:
            return None
        storage = _default_path()
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    problems = check_storage(storage)
    if problems:
        raise InvalidParameterError(problems)
    if isinstance(storage, str):
        path = storage[len("journal:///"):] if storage.startswith("journal:///") else storage
        if path.endswith(_JOURNAL_SUFFIXES) or storage.startswith("journal:///"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(path))
    return storage
