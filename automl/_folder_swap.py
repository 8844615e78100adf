"""Moving a finished folder into place: atomically where the system allows it.

On Linux, ``renameat2(2)`` (glibc 2.28+, read through :mod:`ctypes`) does both moves this needs
in one system call each:

- :func:`place` puts a folder at a path that holds nothing (``RENAME_NOREPLACE``): when another
  process got there first it fails with :class:`FileExistsError` instead of replacing that folder.
  Where ``renameat2`` is missing, ``rename(2)`` does almost as well: it replaces an empty folder
  but never a folder that holds files.
- :func:`exchange` swaps two folders (``RENAME_EXCHANGE``): a reader of the path sees the old
  folder or the new one, never neither and never a mix. Where ``renameat2`` is missing (other
  systems, or a file system without it), it moves the old folder aside, the new one in, and the
  old one to the new one's place; **that is not atomic**: for an instant the path holds nothing.
  When the second move fails, the old folder is put back.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "a").mkdir(); (root / "b").mkdir(); _ = (root / "a" / "x").write_text("new")
    >>> exchange(root / "a", root / "b"); (root / "b" / "x").read_text(), list((root / "a").iterdir())
    ('new', [])
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["place", "exchange", "fsync_tree", "atomic_swap_available"]

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EINVAL), errno.EOPNOTSUPP}
#: Set to False after renameat2 turned out to be missing, so later calls go straight to the fallback.
_STATE: dict[str, Any] = {"renameat2": None}


def _renameat2() -> Any:
    """libc's ``renameat2``, or None where there is none (not Linux, old glibc, musl without it)."""
    if _STATE["renameat2"] is None:
        function: Any = False
        if sys.platform.startswith("linux"):
            try:
                function = ctypes.CDLL(None, use_errno=True).renameat2
                function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                function.restype = ctypes.c_int
            except (OSError, AttributeError):
                function = False
        _STATE["renameat2"] = function
    return _STATE["renameat2"] or None


def _rename2(source: Path, target: Path, flags: int) -> bool:
    """``renameat2(source, target, flags)``; False where the system or file system lacks it."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(source), None, str(target))


def atomic_swap_available(folder: Path) -> bool:
    """Whether :func:`exchange` is atomic for folders inside ``folder`` (tried on two empty folders)."""
    import tempfile

    a, b = Path(tempfile.mkdtemp(dir=folder)), Path(tempfile.mkdtemp(dir=folder))
    try:
        return _rename2(a, b, RENAME_EXCHANGE)
    finally:
        os.rmdir(a)
        os.rmdir(b)


def place(source: Path, target: Path, *, into_empty: bool = False) -> None:
    """Move the folder ``source`` to ``target``, which must hold nothing (or, ``into_empty``, an empty folder).

    Raises:
        FileExistsError: ``target`` holds something (another process saved there first).
    """
    try:
        if into_empty or not _rename2(source, target, RENAME_NOREPLACE):
            os.rename(source, target)  # POSIX: replaces an empty folder, never one that holds files
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR) or isinstance(exc, FileExistsError):
            raise FileExistsError(errno.EEXIST, f"{target} already exists", str(target)) from exc
        raise


def exchange(source: Path, target: Path) -> None:
    """Swap the folders ``source`` and ``target``: afterwards ``target`` holds what ``source`` held.

    Atomic with ``renameat2``; elsewhere three renames (see the module's docstring). On an error
    nothing has moved.
    """
    if _rename2(source, target, RENAME_EXCHANGE):
        return
    aside = source.with_name(source.name + ".old")
    os.rename(target, aside)
    try:
        os.rename(source, target)
    except BaseException:
        os.rename(aside, target)
        raise
    os.rename(aside, source)


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` (and ``folder`` itself) to the disk."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename inside it) to the disk, where the system allows it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
