"""An Optuna journal kept in a PostgreSQL table: ``storage="journal+postgresql://user@host/db"``.

Optuna's RDB storage (``postgresql://``) maps every step of a trial to its own ORM transaction:
asking, each parameter, each attribute, each read of the study. Measured here it costs tens of
milliseconds of the worker's own CPU per trial (``python -m benchmarks.storage``). Optuna's
*journal* storage keeps the study as an append-only log of operations, replays it in memory and
only asks its backend for two things: append a record, and read the records after the last one
seen. Optuna ships file and Redis backends; this is the same small interface over one PostgreSQL
table, so every write is one ``INSERT`` and every read one ``SELECT`` of the new rows, and the
study lives in the database that many machines already share.

Why our own code: Optuna has no PostgreSQL journal backend (its interface,
:class:`optuna.storages.journal.BaseJournalBackend`, is public and made for this).

The table (``automl_journal`` by default) holds ``(seq, log)``: ``seq`` numbers the records
0, 1, 2, ... with no gap, ``log`` is the record as JSON text, the same text as a line of a journal
file. An append computes its ``seq`` as one more than the largest in the table in the same
statement; two processes appending at once collide on the primary key, the database makes the
second wait for the first and refuse it, and it tries again. So a record is only visible after
every record before it, which is what a journal's readers need. Exporting the table, ordered by
``seq``, gives a journal file that optuna-dashboard and plain Optuna open::

    psql -At -c "SELECT log FROM automl_journal ORDER BY seq" postgresql://me@db/studies > study.journal

Example:
    >>> journal_table_name("journal+postgresql://me@db/studies?table=team_a")
    'team_a'
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from automl._redact import redact_text, redact_url
from automl.exceptions import FamilyUnavailableError, InvalidParameterError, StorageError

__all__ = ["JOURNAL_PREFIX", "PostgresJournalBackend", "connection_url", "journal_table_name"]

#: The URL scheme of a journal kept in PostgreSQL.
JOURNAL_PREFIX = "journal+postgresql://"
DEFAULT_TABLE = "automl_journal"
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Attempts of an append that collided with another process's append.
_APPEND_ATTEMPTS = 50
_CLASS: Any = None


def journal_table_name(url: str) -> str:
    """The table a ``journal+postgresql://`` URL names (``?table=NAME``, default ``automl_journal``).

    Raises:
        InvalidParameterError: the name is not a plain lower-case SQL identifier.
    """
    query = dict(parse_qsl(urlsplit(url).query))
    table = query.get("table", DEFAULT_TABLE)
    if not _TABLE_NAME.match(table):
        raise InvalidParameterError(
            f"storage {redact_url(url)!r}: table={table!r} must be lower-case letters, digits and underscores, "
            "starting with a letter or underscore (at most 63 characters)"
        )
    return table


def connection_url(url: str) -> str:
    """The ``postgresql://`` connection URL of a ``journal+postgresql://`` storage URL, without ``table=``.

    Example:
        >>> connection_url("journal+postgresql://me@db:5432/studies?table=t&sslmode=require")
        'postgresql://me@db:5432/studies?sslmode=require'
    """
    parts = urlsplit(url[len("journal+"):])
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "table"])
    return urlunsplit(parts._replace(query=query))


class _PostgresJournal:
    """Optuna journal records in one PostgreSQL table (see the module docstring); the methods of
    :class:`optuna.storages.journal.BaseJournalBackend`, which :func:`PostgresJournalBackend` mixes in
    (so that Optuna loads only when such a store is opened)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._table = journal_table_name(url)
        self._lock = threading.Lock()
        self._connection: Any = None
        with self._lock:
            self._run(self._create_table)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return PostgresJournalBackend, (self._url,)  # a copy opens its own connection

    def _connect(self) -> Any:
        if self._connection is None or self._connection.closed:
            try:
                import psycopg
            except ImportError as exc:
                raise FamilyUnavailableError(
                    f"storage={redact_url(self._url)!r} needs the PostgreSQL driver psycopg 3, which is not "
                    'installed: pip install "automl[postgres]"'
                ) from exc
            self._connection = psycopg.connect(connection_url(self._url), autocommit=True)
        return self._connection

    def _run(self, action: Any, *, retry: bool = True) -> Any:
        """``action(connection)``; a read is tried once more on a new connection if the first one broke."""
        import psycopg

        for attempt in (0, 1):
            try:
                return action(self._connect())
            except psycopg.OperationalError as exc:
                self._connection = None
                if attempt or not retry:
                    raise StorageError(
                        f"the study journal in {redact_url(self._url)} could not be reached "
                        f"({redact_text(str(exc), self._url)}); check that the database is up and reachable"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_table(self, connection: Any) -> None:
        import psycopg

        try:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {self._table} (seq BIGINT PRIMARY KEY, log TEXT NOT NULL)")
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            pass  # another process created it at the same moment

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        with self._lock:
            rows = self._run(lambda c: c.execute(
                f"SELECT log FROM {self._table} WHERE seq >= %s ORDER BY seq", (log_number_from,)).fetchall())
        return [json.loads(row[0]) for row in rows]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        import psycopg

        texts = [json.dumps(log) for log in logs]
        statement = (
            f"INSERT INTO {self._table} (seq, log) SELECT (SELECT coalesce(max(seq), -1) FROM {self._table}) "
            "+ u.ord, u.log FROM unnest(%s::text[]) WITH ORDINALITY AS u(log, ord)"
        )
        with self._lock:
            for attempt in range(_APPEND_ATTEMPTS):
                try:
                    # An append is not retried on a broken connection: it may have been written.
                    self._run(lambda c: c.execute(statement, (texts,)), retry=False)
                    return
                except psycopg.errors.UniqueViolation:
                    time.sleep(min(0.05, 0.001 * 2**attempt) * random.random())
        raise StorageError(
            f"could not append to the study journal in {redact_url(self._url)}: {_APPEND_ATTEMPTS} attempts "
            "collided with other processes' appends; use fewer processes on this study or a faster database"
        )


def PostgresJournalBackend(url: str) -> Any:  # noqa: N802 - a factory standing for a lazily defined class
    """The journal backend of a ``journal+postgresql://`` URL: it creates its table if missing.

    Raises:
        InvalidParameterError: the table name is malformed.
        FamilyUnavailableError: psycopg 3 is not installed.
        StorageError: the database cannot be reached (the message names it, password masked).
    """
    from optuna.storages.journal import BaseJournalBackend

    global _CLASS
    if _CLASS is None:
        _CLASS = type("PostgresJournalBackend", (_PostgresJournal, BaseJournalBackend), {})
    return _CLASS(url)
