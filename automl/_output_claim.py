"""One process at a time fits into a model folder: the claim a sweep holds on its ``output`` from before its search to
its save.

Two ``automl fit --output DIR`` started together both pass the check that ``DIR`` is free (it is, until one saves),
both search, and the second learns only at its save, after its whole budget, that the folder was taken (the save's
own atomic placement, :mod:`automl._folder_swap`, keeps the first model whole). :func:`claimed_output` makes the
second fail at once instead, before it reads its data.

The claim is a Unix socket bound to a name in Linux's abstract namespace, made from the folder's absolute path: the
kernel frees the name when the process ends however it ends (``kill -9`` included), and nothing is written to any
file system, so a stopped or failed fit leaves nothing behind. Two paths to one folder through different links are
two names (the path is resolved first, so a link to a folder is its target). Where abstract sockets do not exist
(systems other than Linux) nothing is claimed and the save's own check is the guard.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with claimed_output(folder):
    ...     try:
    ...         with claimed_output(folder):
    ...             pass
    ...     except OutputBusyError as exc:
    ...         print("busy")
    busy
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from automl.exceptions import OutputBusyError

__all__ = ["claimed_output"]

#: The abstract socket names' prefix (the folder's resolved path's SHA-256 follows).
_PREFIX = "automl-output-"


def _name(path: Any) -> str:
    resolved = str(Path(os.fspath(path)).expanduser().resolve())
    return "\0" + _PREFIX + hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()


@contextmanager
def claimed_output(path: Any) -> Iterator[None]:
    """Hold the folder ``path`` for this process while the block runs (nothing held for ``path`` None).

    Raises:
        OutputBusyError: another process holds it (a fit or sweep saving there).
    """
    if path is None or not sys.platform.startswith("linux"):
        yield
        return
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(_name(path))
    except OSError as exc:
        claim.close()
        if exc.errno != errno.EADDRINUSE:
            yield  # no abstract namespace here: the save's own check guards the folder
            return
        raise OutputBusyError(
            f"output {os.fspath(path)!r} is the output of another automl process that is fitting now; wait for it to "
            "end, or choose another folder") from None
    try:
        yield
    finally:
        claim.close()
