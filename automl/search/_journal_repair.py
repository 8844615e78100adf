"""Check a study journal file before Optuna opens it: set a torn last record aside, locate a corrupt middle.

Optuna's journal is one JSON record per line, appended under a lock
(:mod:`automl.search._journal_lock`). A crash or a full disk during an append
leaves a torn last line (no newline, or not a whole record). Optuna skips that
line while it is the last one, but the next append lands right after it and
glues both into one unreadable line: from then on the whole study fails to load. :func:`repair_tail` therefore moves a
torn tail to ``<journal>.torn`` (so nothing is lost) and truncates the journal
to its last complete record, under the journal's own lock, before any write.

Example:
    >>> import os, tempfile, warnings
    >>> path = os.path.join(tempfile.mkdtemp(), "s.journal")
    >>> with open(path, "wb") as handle:
    ...     _ = handle.write(b'{"op_code":0,"worker_id":"w"}\\n{"op_code":4,"wor')
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     repair_tail(path)
    17
    >>> open(path, "rb").read()
    b'{"op_code":0,"worker_id":"w"}\\n'
"""

from __future__ import annotations

import errno
import json
import os
import time
from typing import Any

from automl._warnings import warn_user
from automl.exceptions import JournalCorruptError, StorageError
from automl.search._journal_lock import journal_lock

__all__ = ["TORN_SUFFIX", "corrupt_line", "journal_error", "repair_tail", "repairing_backend"]

#: Torn tails are appended to ``<journal>`` + this suffix, each after a header line.
TORN_SUFFIX = ".torn"
_CHUNK = 1 << 16


def _is_record(line: bytes) -> bool:
    """Whether ``line`` is one whole journal record (a JSON object with an ``op_code``)."""
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
    return isinstance(record, dict) and "op_code" in record


def _last_line_start(handle: object, size: int) -> int:
    """Offset where the last line of the file starts (its trailing newline, if any, belongs to it)."""
    position = size - 1  # skip the file's final byte: a trailing newline ends the last line
    while position > 0:
        start = max(0, position - _CHUNK)
        handle.seek(start)  # type: ignore[attr-defined]
        chunk = handle.read(position - start)  # type: ignore[attr-defined]
        found = chunk.rfind(b"\n")
        if found != -1:
            return start + found + 1
        position = start
    return 0


def _tail(path: str) -> tuple[int, bytes]:
    """``(offset, bytes)`` of the journal's last line; ``(0, b"")`` for an empty file."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0, b""
        start = _last_line_start(handle, size)
        handle.seek(start)
        return start, handle.read()


def _sound(line: bytes) -> bool:
    return line == b"" or (line.endswith(b"\n") and _is_record(line))


def repair_tail(path: str) -> int:
    """Set a torn last line of journal ``path`` aside; return how many bytes were set aside (0: none).

    A last line that is a whole record without its newline gets the newline. A
    last line that is not a whole record (cut short, or garbage) is appended to
    ``path + ".torn"`` after a header line with the time, and the journal is
    truncated to the line before it; a :class:`UserWarning` says so. The check
    runs under the journal's lock file, so a write in progress is never taken
    for a torn one.

    Raises:
        StorageError: The file cannot be read or written (the message names it).
    """
    try:
        if not os.path.isfile(path) or _sound(_tail(path)[1]):
            return 0
        lock = journal_lock(path)
        lock.acquire()
        try:
            return _repair_locked(path)
        finally:
            lock.release()
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            # Read-only: Optuna reads past a torn last line, and nothing can be appended after it anyway.
            warn_user(f"the study journal {path} ends with a torn record, which cannot be set aside here "
                      f"({exc.strerror}); the study reads without it, but make the file and its folder writable "
                      "before adding trials to it")
            return 0
        raise StorageError(
            f"cannot check the study journal {path} for a torn last record ({type(exc).__name__}: {exc}); "
            "make the file and its folder readable and writable, or pass another storage"
        ) from exc


def repairing_backend(path: str) -> Any:
    """Optuna's ``JournalFileBackend`` on ``path`` that, under its lock, repairs a torn tail before each append.

    A peer process that dies in the middle of an append leaves a torn record while this
    one runs; appending after it would glue the two into one unreadable line.
    """
    from optuna.storages.journal import JournalFileBackend

    class _RepairingBackend(JournalFileBackend):
        def __reduce__(self) -> tuple[Any, tuple[str]]:  # a class made in a function pickles by its maker
            return repairing_backend, (self._file_path,)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
            self._lock.acquire()
            try:
                _repair_locked(self._file_path)
                with open(self._file_path, "ab") as handle:
                    handle.write(text.encode("utf-8"))
                    handle.flush()
                    os.fsync(handle.fileno())
            finally:
                self._lock.release()

    return _RepairingBackend(path, lock_obj=journal_lock(path))


def _repair_locked(path: str) -> int:
    start, line = _tail(path)
    if _sound(line):  # another process repaired it meanwhile
        return 0
    if not line.endswith(b"\n") and _is_record(line):
        with open(path, "ab") as handle:
            handle.write(b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return 0
    if not os.access(path, os.W_OK):  # set nothing aside that could not be cut from the journal
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with open(path + TORN_SUFFIX, "ab") as aside:
        aside.write(f"# {len(line)} bytes set aside from the end of {path} at {stamp}\n".encode())
        aside.write(line if line.endswith(b"\n") else line + b"\n")
        aside.flush()
        os.fsync(aside.fileno())
    with open(path, "r+b") as handle:
        handle.truncate(start)
        handle.flush()
        os.fsync(handle.fileno())
    warn_user(
        f"the study journal {path} ended with a torn record ({len(line)} bytes: a write cut short by a crash "
        f"or a full disk); it was moved to {path}{TORN_SUFFIX} and the journal now ends at its last complete "
        "record, so the trials recorded before it are intact"
    )
    return len(line)


def corrupt_line(path: str) -> tuple[int, int, bytes] | None:
    """``(line number, byte offset, first bytes)`` of the first line of ``path`` that is not a whole record.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "s.journal")
        >>> with open(path, "wb") as handle:
        ...     _ = handle.write(b'{"op_code":0}\\nnot json\\n{"op_code":1}\\n')
        >>> corrupt_line(path)
        (2, 14, b'not json\\n')
    """
    offset = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not _is_record(line):
                return number, offset, line[:80]
            offset += len(line)
    return None


def journal_error(path: str, exc: BaseException) -> StorageError:
    """The typed error for a journal that Optuna failed to read, naming the file, the bad line and the fix."""
    reason = f"{type(exc).__name__}: {exc}"
    try:
        bad = corrupt_line(path)
    except OSError as error:
        return StorageError(f"cannot read the study journal {path} ({type(error).__name__}: {error}); "
                            "make it readable, or pass another storage")
    if bad is None:
        return StorageError(
            f"Optuna cannot replay the study journal {path} ({reason}); every line is a JSON record, so one of "
            "them is not a valid Optuna record (an edited file, or one written by another Optuna version): "
            "restore the file from a backup, or move it aside and start a new study"
        )
    number, offset, head = bad
    kept = number - 1
    return JournalCorruptError(
        f"the study journal {path} is corrupt at line {number} (byte {offset}): {head!r} is not a complete JSON "
        "record, so Optuna cannot read the study. Fix: keep the "
        f"{kept} lines before it (the trials recorded after it are lost): "
        f"head -n {kept} {path} > {path}.fixed && mv {path} {path}.corrupt && mv {path}.fixed {path}"
        " ; or restore the file from a backup"
    )
