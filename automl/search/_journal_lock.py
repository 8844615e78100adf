"""The study journal's write lock: one the kernel drops when its holder dies, and Optuna's lock file honoured.

Why not Optuna's ``JournalFileSymlinkLock`` alone (the journal backend's default): it is a symbolic
link ``<journal>.lock`` that its holder removes on release. A holder killed by ``kill -9`` (or the
OOM killer, or a lost session) between acquire and release leaves the link behind, and every other
writer of the study then waits its 30 s grace period before breaking it. After ``kill -9`` of
``automl fit --workers 2`` that wait held each helper's clean-up (marking its trial failed) past
its orphan grace, so helpers outlived their fit by 10 s; the next ``automl resume`` stalled 30 s.
Its ``acquire`` also releases, on Ctrl-C while *waiting*, the lock another process holds.

:class:`JournalLock` therefore takes two locks, in this order:

1. ``flock`` on the journal file itself (no extra file; the journal is truncated in place by the
   tail repair, never replaced, so the lock always guards the live file). Linux drops it the
   moment its holder dies, however it dies. Between automl processes this is the lock that counts.
2. Optuna's ``<journal>.lock`` symbolic link, so that a plain Optuna writer of the same journal (a
   script, optuna-dashboard saving a note) and automl still exclude each other. Ours points to
   ``<journal>.automl-<pid>``: holding the ``flock``, a link with that mark can only be a dead automl
   holder's, and it is removed at once. A foreign link is waited on, and broken after
   ``grace_period`` seconds without change, as Optuna does.

The ``flock`` is per open file, so two threads of one process exclude each other as well (each
acquire opens its own descriptor); a thread lock serialises the object's own state.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "s.journal")
    >>> open(path, "ab").close()
    >>> lock = JournalLock(path)
    >>> lock.acquire()
    True
    >>> os.readlink(path + ".lock") == f"{path}.automl-{os.getpid()}"
    True
    >>> lock.release()
    >>> os.path.lexists(path + ".lock")
    False
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import uuid
from typing import Any

__all__ = ["JournalLock", "journal_lock"]

logger = logging.getLogger(__name__)

#: Optuna's lock file suffix (``optuna.storages.journal._file.LOCK_FILE_SUFFIX``), spelled here so that
#: importing this module does not import Optuna.
LINK_SUFFIX = ".lock"
#: What our link points to: the journal's path, this mark and the holder's pid.
OWN_MARK = ".automl-"
#: Seconds a foreign lock file may stay unchanged before it is taken for a dead writer's (Optuna's default).
FOREIGN_GRACE_SECONDS = 30.0
_WARN_EVERY_SECONDS = 10.0
_NO_FLOCK: set[str] = set()  # journals whose file system refused flock (warned once each)


def _flock(fd: int, path: str) -> bool:
    """Take the ``flock`` (blocking; a signal's exception still interrupts it, PEP 475). False where the
    file system has no ``flock`` (an NFS mount without a lock service): then the lock file alone serves."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
            if path not in _NO_FLOCK:
                _NO_FLOCK.add(path)
                logger.warning("no flock on %s (%s): the study journal is locked by its lock file alone", path, exc)
            return False
        raise
    return True


class JournalLock:
    """Exclusive write lock on an Optuna journal file (see the module's docstring).

    Implements the protocol of Optuna's journal locks (``acquire() -> True``, ``release()``; the base class
    is private to Optuna, which calls only these two): ``JournalFileBackend(path, lock_obj=JournalLock(path))``.

    Args:
        path: The journal file (created empty if missing, as Optuna's backend does).
        grace_period: Seconds a foreign (non-automl) lock file may stay unchanged before it is broken.
    """

    def __init__(self, path: str, grace_period: float = FOREIGN_GRACE_SECONDS) -> None:
        self._path = str(path)
        self._link = self._path + LINK_SUFFIX
        self._grace = float(grace_period)
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Block until this process holds both locks; return True. An exception while waiting
        (Ctrl-C, SIGTERM) leaves every lock as it was: nothing another process holds is released."""
        self._thread_lock.acquire()
        fd = None
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
            self._take_link(dead_if_ours=_flock(fd, self._path))
        except BaseException:
            if fd is not None:
                os.close(fd)  # drops the flock, if it was taken
            self._thread_lock.release()
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Remove our lock file, then drop the ``flock``."""
        fd, self._fd = self._fd, None
        if fd is None:
            raise RuntimeError(f"the journal lock on {self._path} is not held")
        try:
            _remove(self._link)
        finally:
            os.close(fd)
            self._thread_lock.release()

    def _take_link(self, dead_if_ours: bool) -> None:
        mark = f"{self._path}{OWN_MARK}{os.getpid()}"
        seen: tuple[float, str] | None = None
        changed = warned = time.monotonic()
        pause = 0.001
        while True:
            try:
                os.symlink(mark, self._link)
                return
            except FileExistsError:
                pass
            try:
                target, mtime = os.readlink(self._link), os.lstat(self._link).st_mtime
            except FileNotFoundError:
                continue  # released meanwhile
            now = time.monotonic()
            if dead_if_ours and target.startswith(self._path + OWN_MARK):
                # We hold the flock, which every automl holder takes first: this holder is dead.
                logger.info("removed the lock file %s left by a stopped automl process (%s)", self._link, target)
                _remove(self._link)
                continue
            if seen != (mtime, target):
                seen, changed = (mtime, target), now
            elif now - changed > self._grace:
                logger.warning("the lock file %s has not changed for %.0f s: taken for a dead writer's and removed",
                               self._link, self._grace)
                _remove(self._link)
                continue
            if now - warned > _WARN_EVERY_SECONDS:
                logger.warning("waiting for the lock file %s, held by another Optuna writer", self._link)
                warned = now
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _remove(link: str) -> None:
    """Remove the lock file by renaming it first (as Optuna does: an ``unlink`` racing a new holder's
    ``symlink`` could remove the new one); a link already gone is fine."""
    aside = f"{link}.{uuid.uuid4().hex}.rm"
    try:
        os.rename(link, aside)
    except FileNotFoundError:
        return
    try:
        os.unlink(aside)
    except OSError as exc:  # pragma: no cover - another process cannot remove our uniquely named file
        if exc.errno != errno.ENOENT:
            raise


def journal_lock(path: str, grace_period: float = FOREIGN_GRACE_SECONDS) -> Any:
    """The journal's write lock: a :class:`JournalLock`, or Optuna's lock file alone where there is no ``flock``."""
    if os.name != "posix":
        from optuna.storages.journal import JournalFileSymlinkLock

        return JournalFileSymlinkLock(path, grace_period=int(grace_period))
    return JournalLock(path, grace_period)
