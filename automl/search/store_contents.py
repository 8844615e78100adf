"""What an existing study store holds, read without writing: a file of another program is refused untouched.

Opening a journal file repairs a torn last record (:mod:`automl.search._journal_repair` moves it to ``.torn`` and
truncates the file), and opening an SQLite database creates Optuna's tables in it. Both are right for a study store
and destructive for anything else: ``automl leaderboard --storage notes.journal`` once cut a line off a text file
on each run, and ``--storage sqlite:///mlflow.db`` added Optuna's tables to an MLflow store and then failed on the
two programs' schema versions (both keep theirs in ``alembic_version``). So before a store is opened,
:func:`store_contents_problems` reads what is there:

- a journal file must be empty or start with a journal record (a JSON object with an ``op_code``; a file that is
  one torn record starts like one);
- an SQLite file must be empty, or a database whose tables include Optuna's (``studies``, ``version_info``), or
  no table at all; it is read through a read-only connection (``mode=ro``), which never creates or changes a file;
- an SQLite database in memory (``sqlite://``, ``sqlite:///:memory:``) is refused: it lives in one connection of one
  process, so no worker, no ``resume`` and no heartbeat thread can see the study.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.journal")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("my notes\\n")
    >>> store_contents_problems(path, journal_path=path)[0][-66:]
    'not a study journal; pass a new path, or the journal a sweep wrote'
    >>> with open(path) as handle:
    ...     handle.read()
    'my notes\\n'
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["OPTUNA_TABLES", "store_contents_problems"]

#: Tables every Optuna RDB store has.
OPTUNA_TABLES = frozenset({"studies", "version_info"})
#: Tables that mark an MLflow tracking store.
_MLFLOW_TABLES = frozenset({"experiments", "runs"})
_HEAD = 1 << 16


def store_contents_problems(storage: str, journal_path: str | None = None) -> list[str]:
    """Why the store ``storage`` (a journal file path or an RDB URL, already resolved) must not be opened as a
    study store; ``journal_path`` is the journal file it names, if any. Stores that do not exist yet, and other
    databases than SQLite, pass (what they hold is read when they are opened)."""
    if journal_path is not None:
        return _journal_problems(journal_path)
    if not storage.lower().startswith("sqlite"):
        return []
    rest = storage.partition("://")[2]
    if rest in ("", "/", "/:memory:") or rest.startswith("/:memory:") or "mode=memory" in rest:
        return [f"storage={storage!r} is an SQLite database in memory, which lives in one connection of one "
                "process: no worker, resume or heartbeat can reach it; leave storage out for a study in memory, or "
                "pass a file (sqlite:///studies.db)"]
    return _sqlite_problems(storage, rest[1:].split("?", 1)[0])


def _journal_problems(path: str) -> list[str]:
    if os.path.isdir(path):
        return [f"storage {path!r} is a folder; a journal is a file: pass a path such as {path.rstrip('/')}/s.journal"]
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD)
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [f"storage {path!r} cannot be read ({exc.strerror}); make it readable or pass another path"]
    if not head:
        return []
    first, newline, _ = head.partition(b"\n")
    if _is_record(first) or (not newline and first.startswith(b'{"op_code"')):
        return []
    return [f"storage {path!r} exists and its first line is not a journal record (a JSON object with an "
            "op_code): it is not a study journal; pass a new path, or the journal a sweep wrote"]


def _is_record(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "op_code" in record


def _sqlite_problems(url: str, path: str) -> list[str]:
    if not path or not os.path.exists(path):
        return []
    if os.path.isdir(path):
        return [f"storage={url!r} names a folder; pass an SQLite file inside it, e.g. sqlite:///{path}/studies.db"]
    if os.path.getsize(path) == 0:
        return []
    tables = _tables(path)
    if tables is None:
        return [f"storage={url!r}: {path} is not an SQLite database; pass a new file or the study database"]
    mlflow = tables >= _MLFLOW_TABLES  # Optuna's tables beside MLflow's too: both keep a schema in alembic_version
    if not mlflow and (not tables or tables >= OPTUNA_TABLES):
        return []
    what = "an MLflow tracking store" if mlflow else "a database of another program"
    return [f"storage={url!r}: {path} is {what} (tables {', '.join(sorted(tables)[:5])}, ...), not a study store: "
            "opening it would add Optuna's tables to it; pass another file for the studies (e.g. "
            "sqlite:///studies.db beside it)"]


def _tables(path: str) -> set[str] | None:
    """The tables of SQLite file ``path`` through a read-only connection (None: not an SQLite database)."""
    connection: Any = None
    try:
        connection = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, timeout=5)
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError:
        return None
    finally:
        if connection is not None:
            connection.close()
    return {str(row[0]) for row in rows}
