"""Where studies live: the embedded local file by default, any Optuna storage otherwise.

- ``storage=None, study_name=None``: in memory; nothing is written.
- ``storage=None, study_name="x"``: the embedded default, an Optuna journal
  file ``automl-studies.journal`` in the working directory (or the path in
  ``AUTOML_STORAGE``), so the search can be continued by name and shared by
  several processes on one host.
- a path ending in ``.journal`` or ``.log``, or ``journal:///path``: that journal file.
- an RDB URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``).
- ``journal+postgresql://user@host/db``: an Optuna journal kept in a PostgreSQL table
  (:mod:`automl.search.pg_journal`): one ``INSERT`` per write instead of Optuna's ORM transactions.
- ``env:NAME``: the path or URL in environment variable ``NAME`` (keeps a password
  off command lines, where ``ps`` shows it to every user).
- an ``optuna.storages.BaseStorage`` instance (used as it is).

A journal file whose last record was torn by a crash or a full disk is repaired
when it is opened (the fragment goes to ``<journal>.torn``); one corrupt in the
middle raises :class:`~automl.exceptions.JournalCorruptError` naming the line and
the fix. Any other failure to open a store or a study raises
:class:`~automl.exceptions.StorageError` naming it (passwords masked).

Stores opened from a path or a URL record a heartbeat for every running trial
(Optuna's heartbeat protocol: :class:`optuna.storages.RDBStorage` has it, and
:class:`HeartbeatJournalStorage` adds it to the journal file). A trial whose
process died (``kill -9``, a lost machine) stops beating; after the grace
period the next trial of any worker marks it failed and queues it once more
with the same parameters.

Example:
    >>> describe_storage(None, None)
    'memory'
"""

from __future__ import annotations

import logging
import os
import random
import time
import warnings
from pathlib import Path
from typing import Any, Literal

from automl._redact import is_env_reference, redact_text, redact_url, take_over
from automl.exceptions import AutoMLError, FamilyUnavailableError, InvalidParameterError, StorageError
from automl.search._journal_repair import journal_error, repair_tail, repairing_backend
from automl.search.pg_journal import JOURNAL_PREFIX

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "STORAGE_ENV",
    "HeartbeatJournalStorage",
    "check_storage",
    "check_store_exists",
    "describe_storage",
    "heartbeat_settings",
    "journal_storage",
    "open_storage",
    "open_study",
    "store_relative_to",
]

logger = logging.getLogger("automl")

DEFAULT_STORAGE_FILE = "automl-studies.journal"
#: The environment variable whose path or URL is the storage when none is given (``--workers`` helpers and
#: cluster tasks get theirs there, never on a command line that ``ps`` shows).
STORAGE_ENV = "AUTOML_STORAGE"
_RDB_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql")
_JOURNAL_SUFFIXES = (".journal", ".log")
#: Seconds between two heartbeats of a running trial (``AUTOML_HEARTBEAT_SECONDS`` overrides).
HEARTBEAT_SECONDS = 10
#: A running trial is stale after this many heartbeat intervals without one.
GRACE_INTERVALS = 3
#: A heartbeat-stale trial is queued again this many times at most.
MAX_RETRY = 1
_HEARTBEAT_ATTR = "automl:heartbeat"
#: Attempts to open a store or a study when several processes start at the same moment.
_OPEN_ATTEMPTS = 8


def _journal_path(storage: str) -> str | None:
    """The journal file a storage string names (``journal:///path`` or ``*.journal`` / ``*.log``), else None."""
    if storage.startswith("journal:///"):
        return storage[len("journal:///"):]
    return storage if storage.endswith(_JOURNAL_SUFFIXES) else None


def _default_path() -> str:
    return os.environ.get(STORAGE_ENV, DEFAULT_STORAGE_FILE)


def store_relative_to(storage: str, base_dir: Path) -> str:
    """A journal file or SQLite file named by a relative path, read relative to ``base_dir`` (the sweep file's
    folder, as its data and output are); other stores as given.

    Example:
        >>> store_relative_to("s.journal", Path("/runs")), store_relative_to("sqlite:///s.db", Path("/runs"))
        ('/runs/s.journal', 'sqlite:////runs/s.db')
    """
    if storage.endswith((".journal", ".log")) and "://" not in storage and not os.path.isabs(storage):
        return str(base_dir / Path(storage).expanduser())
    if storage.startswith("sqlite:///") and not storage.startswith(("sqlite:////", "sqlite:///:memory:")):
        return "sqlite:///" + str(base_dir / storage[len("sqlite:///"):])
    return storage


def heartbeat_settings() -> tuple[int, int]:
    """``(interval, grace)`` in seconds, from ``AUTOML_HEARTBEAT_SECONDS`` (default 10).

    Example:
        >>> heartbeat_settings() if "AUTOML_HEARTBEAT_SECONDS" not in os.environ else (10, 30)
        (10, 30)
    """
    raw = os.environ.get("AUTOML_HEARTBEAT_SECONDS", "")
    try:
        interval = max(1, int(float(raw))) if raw.strip() else HEARTBEAT_SECONDS
    except ValueError:
        raise InvalidParameterError(
            f"AUTOML_HEARTBEAT_SECONDS must be a whole number of seconds >= 1, got {raw!r}"
        ) from None
    return interval, interval * GRACE_INTERVALS


def describe_storage(storage: object, study_name: str | None) -> str:
    """A printable description of where the study is stored (for logs and the manifest).

    Passwords and secret-looking query values (``?password=``, ``?token=``, ...) in URLs
    are masked (:func:`automl._redact.redact_url`).

    Example:
        >>> describe_storage("runs.journal", "s")
        'journal:runs.journal'
        >>> describe_storage("postgresql://me:secret@db/studies?sslpassword=x", "s")
        'postgresql://me:***@db/studies?sslpassword=***'
    """
    if storage is None:
        return "memory" if study_name is None else describe_storage(_default_path(), study_name)
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    if isinstance(storage, str):
        try:
            storage = _resolve(storage)
        except InvalidParameterError:
            return storage  # an unset env:NAME reference: the name is all there is to show
        journal = _journal_path(storage)
        return "journal:" + journal if journal is not None else redact_url(storage)
    return type(storage).__name__


def _resolve(storage: str) -> str:
    """The path or URL an ``env:NAME`` storage stands for (followed up to 5 times); any other string as it is."""
    for _ in range(5):
        if not is_env_reference(storage):
            break
        storage = take_over(storage) or ""
    return storage


def check_storage(storage: object) -> list[str]:
    """Problems with a ``storage=`` argument, checked before anything is written.

    Example:
        >>> check_storage("ftp://x")
        ["storage='ftp://x' is not understood; pass a journal file path ending in .journal, 'journal:///path', an RDB URL such as sqlite:///studies.db or postgresql://user@host/db, a journal in PostgreSQL (journal+postgresql://user@host/db), or an optuna storage object"]
    """
    if storage is None:
        return []
    if isinstance(storage, str):
        if is_env_reference(storage):
            try:
                storage = _resolve(storage)
            except InvalidParameterError as exc:
                return [str(exc)]
        if _journal_path(storage) is not None or storage.startswith(_RDB_PREFIXES + (JOURNAL_PREFIX,)):
            from automl.search.store_contents import store_contents_problems

            return store_contents_problems(storage, _journal_path(storage))  # a file of another program: untouched
        return [
            f"storage={redact_url(storage)!r} is not understood; pass a journal file path ending in .journal, "
            "'journal:///path', an RDB URL such as sqlite:///studies.db or postgresql://user@host/db, "
            "a journal in PostgreSQL (journal+postgresql://user@host/db), or an optuna storage object"
        ]
    if isinstance(storage, os.PathLike):
        return check_storage(os.fspath(storage))
    from optuna.storages import BaseStorage

    if isinstance(storage, BaseStorage):
        return []
    return [f"storage must be a path, a URL or an optuna storage, got {type(storage).__name__}"]


def check_store_exists(storage: object, study_name: str | None) -> None:
    """Refuse a journal file or SQLite database that does not exist: opening it would create it, and a
    command that only reads a study (``resume``, ``worker``, ``leaderboard``) must write nothing.

    Raises:
        StudyNotFoundError: the file is missing (the message names it and the fix).

    Example:
        >>> check_store_exists("/nowhere/s.journal", "s")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        automl.exceptions.StudyNotFoundError: no study named 's': the study storage /nowhere/s.journal does not exist; ...
    """
    from automl.exceptions import StudyNotFoundError

    where = describe_storage(storage, study_name)
    path = where[len("journal:"):] if where.startswith("journal:") else None
    if where.startswith("sqlite:///") and where[len("sqlite:///"):] not in ("", ":memory:"):
        path = where[len("sqlite:///"):].split("?", 1)[0]
    if path is not None and not Path(path).exists():
        raise StudyNotFoundError(
            f"no study named {study_name!r}: the study storage {path} does not exist; pass the storage the "
            "sweep used (storage=, --storage or $AUTOML_STORAGE) or run from the folder that holds it"
        )


def _journal_class() -> type:
    import optuna
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.trial import TrialState

    class _HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
        """Optuna's journal file storage with Optuna's heartbeat protocol.

        The heartbeat is a wall-clock timestamp in a system attribute of the
        running trial; a trial is stale when neither it nor its start is more
        recent than the grace period. Only for processes on one host (one clock).
        """

        def __init__(self, backend: Any, interval: int, grace: int, callback: Any) -> None:
            super().__init__(backend)
            self._heartbeat_interval = interval
            self._grace = grace
            self._stale_callback = callback

        def __reduce__(self) -> tuple[Any, tuple[Any]]:
            """Pickled (a fitted model's ``study_``, a deep copy) as its backend, opened again by
            :func:`journal_storage` where it is read: a class made in a function pickles by its maker."""
            return journal_storage, (self._backend,)

        def record_heartbeat(self, trial_id: int) -> None:
            try:
                self.set_trial_system_attr(trial_id, _HEARTBEAT_ATTR, time.time())
            except Exception:  # noqa: BLE001 - the trial was finished (or failed as stale) meanwhile
                pass

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            now = time.time()
            stale = []
            for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
                beats = [float(trial.system_attrs.get(_HEARTBEAT_ATTR, 0.0))]
                if trial.datetime_start is not None:
                    beats.append(trial.datetime_start.timestamp())
                if now - max(beats) > self._grace:
                    stale.append(trial._trial_id)
            return stale

        def get_heartbeat_interval(self) -> int | None:
            return self._heartbeat_interval

        def get_heartbeat_stale_trial_callback(self) -> Any:
            return self._stale_callback

    return _HeartbeatJournalStorage


def HeartbeatJournalStorage(path: str, repair: bool = True) -> Any:  # noqa: N802 - a factory for a lazy class
    """A journal file storage whose running trials send heartbeats (see the module docstring).

    Example:
        >>> import tempfile, os
        >>> storage = HeartbeatJournalStorage(os.path.join(tempfile.mkdtemp(), "s.journal"))
        >>> storage.get_heartbeat_interval() >= 1
        True
    """
    if repair:  # a reader (automl leaderboard) writes nothing: Optuna reads past a torn last record
        repair_tail(path)
    try:
        return journal_storage(repairing_backend(path))
    except AutoMLError:
        raise
    except Exception as exc:  # noqa: BLE001 - JSONDecodeError, KeyError, ... from Optuna's replay of the file
        raise journal_error(path, exc) from exc


def journal_storage(backend: Any) -> Any:
    """An Optuna journal storage with heartbeats over ``backend`` (a journal file's, or PostgreSQL's)."""
    interval, grace = heartbeat_settings()
    return _journal_class()(backend, interval, grace, _retry_callback())


def _retry_callback() -> Any:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)


def _rdb_storage(url: str) -> Any:
    import optuna

    interval, grace = heartbeat_settings()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        # Writers wait for the file lock instead of failing at once under concurrent workers.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=interval, grace_period=grace,
                heartbeat_stale_trial_callback=_retry_callback(), **kwargs,
            )
        except ImportError as exc:
            raise FamilyUnavailableError(
                f"storage={redact_url(url)!r} needs a database driver that is not installed "
                f"({redact_text(str(exc), url)}); "
                'for PostgreSQL: pip install "automl[postgres]" (psycopg 3); for MySQL: pip install pymysql'
            ) from exc


def open_storage(storage: object, study_name: str | None, read_only: bool = False) -> Any:
    """The Optuna storage to use (``None`` means in memory); ``read_only``: a journal's torn last record is left
    as it is (the next writer sets it aside) rather than moved to ``.torn``.

    Opening an RDB store is retried when several processes create its tables
    at the same moment.
    """
    if storage is None:
        if study_name is None:
            return None
        storage = _default_path()
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    problems = check_storage(storage)
    if problems:
        raise InvalidParameterError(problems)
    if not isinstance(storage, str):
        return storage
    storage = _resolve(storage)
    path = _journal_path(storage)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return HeartbeatJournalStorage(path, repair=not read_only)
    if storage.startswith(JOURNAL_PREFIX):
        from automl.search.pg_journal import PostgresJournalBackend

        return _retrying(lambda: journal_storage(PostgresJournalBackend(storage)),
                         f"open {describe_storage(storage, study_name)}", storage)
    return _retrying(lambda: _rdb_storage(storage), f"open {describe_storage(storage, study_name)}", storage)


def _retrying(action: Any, what: str, storage: object) -> Any:
    """Run ``action``, retrying the races of processes that start together (duplicate keys, locks).

    Raises:
        StorageError: ``action`` still failed after the last attempt; the message names the store
            (passwords masked) and the fix.
    """
    secrets = [storage] if isinstance(storage, str) else []
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            return action()
        except (AutoMLError, KeyError, ImportError):
            raise
        except Exception as exc:  # noqa: BLE001 - sqlalchemy errors of concurrent schema/study creation
            reason = f"{type(exc).__name__}: {redact_text(str(exc), *secrets)}"
            if attempt == _OPEN_ATTEMPTS - 1:
                raise StorageError(
                    f"could not {what} after {_OPEN_ATTEMPTS} attempts ({reason}); check that the database is "
                    "reachable, that its user may read and create tables there, and that the URL is right "
                    "(or pass another storage)"
                ) from None  # the original error may quote the URL with its password
            delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
            logger.info("could not %s (%s); retrying in %.2f s", what, reason, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def open_study(
    storage: object, study_name: str | None, *, direction: Literal["maximize", "minimize"], sampler: Any = None,
    pruner: Any = None,
    create: bool = True,
    read_only: bool = False,
) -> tuple[Any, bool]:
    """Create or load a study; return ``(study, created_here)``.

    Of several processes that open the same new study at the same moment,
    exactly one gets ``created_here=True`` (it enqueues the defaults); the
    others load it.

    Raises:
        StudyNotFoundError: ``create=False`` and no study of that name exists, or no journal file or SQLite
            database at the storage's path (it is not created).
        JournalCorruptError: The journal file has a corrupt line before its end (the message names the
            file, the line and the fix).
        StorageError: Optuna failed to open the store or the study otherwise (the message names the
            store, passwords masked).

    Example:
        >>> study, created = open_study(None, None, direction="maximize")
        >>> created, len(study.trials)
        (True, 0)
    """
    import optuna

    from automl.exceptions import StudyNotFoundError

    if not create and study_name is not None:
        check_store_exists(storage, study_name)
    opened = open_storage(storage, study_name, read_only=read_only)
    text = storage if storage is not None or study_name is None else _default_path()
    text = _resolve(os.fspath(text)) if isinstance(text, str | os.PathLike) else None
    journal = _journal_path(text) if text is not None else None

    def attempt() -> tuple[Any, bool]:
        if journal is None:
            return create_or_load()
        try:
            return create_or_load()
        except AutoMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - Optuna's replay of a journal another process broke meanwhile
            raise journal_error(journal, exc) from exc

    def create_or_load() -> tuple[Any, bool]:
        if create and study_name is not None:
            # Loaded first: Optuna's create_study on a study that exists appends a create record to a journal
            # before refusing it, so a fit refused as a mismatch would still have written.
            try:
                return optuna.load_study(storage=opened, study_name=study_name, sampler=sampler, pruner=pruner), False
            except KeyError:
                pass
        if create:
            try:
                study = optuna.create_study(
                    storage=opened, study_name=study_name, direction=direction, sampler=sampler, pruner=pruner,
                )
                return study, True
            except optuna.exceptions.DuplicatedStudyError:
                pass
        try:
            return optuna.load_study(storage=opened, study_name=study_name, sampler=sampler, pruner=pruner), False
        except KeyError:
            names = optuna.study.get_all_study_names(opened) if opened is not None else []
            raise StudyNotFoundError(_not_found(study_name, names, describe_storage(storage, study_name))) from None

    return _retrying(attempt, f"open study {study_name!r} in {describe_storage(storage, study_name)}", text)


def _not_found(name: str | None, names: list[str], where: str) -> str:
    from automl._suggest import close_names

    close = close_names(name, names)
    hint = "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""
    listed = ", ".join(repr(n) for n in sorted(names)[:20]) or "none"
    return f"no study named {name!r} in {where}{hint}; studies there: {listed}"
