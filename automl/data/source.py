"""Where a sweep's data comes from, and proof that every process reads the same bytes.

A sweep's data is a local path, a ``file://`` URI or an ``http(s)://`` URL. When the sweep
starts, the SHA-256 of the file's bytes is computed once (streamed in 1 MiB chunks) and stored
on the study with the data's URI; a worker opens the data by that URI (or by ``--data PATH``)
and refuses bytes with another hash (:class:`~automl.exceptions.StudyMismatchError`) before it
runs anything. A URL is downloaded with the standard library into the per-user cache folder
(``$XDG_CACHE_HOME/automl/data``, else ``~/.cache/automl/data``), hashed on the way, and kept
under its hash: a second process on the host reuses the copy after checking its hash again.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.csv"; _ = path.write_text("a,y\\n1,0\\n")
    >>> local, digest = open_data(path.as_uri())
    >>> local == str(path), digest == sha256_file(path), data_uri(str(path)) == path.as_uri()
    (True, True, True)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from automl._redact import redact_url
from automl.exceptions import InvalidParameterError, StudyMismatchError

__all__ = ["cache_folder", "data_uri", "download", "is_url", "local_path", "open_data", "sha256_file"]

_CHUNK = 1 << 20
#: Seconds a download may wait for the server (connect or one read).
DOWNLOAD_TIMEOUT = 60.0


def is_url(value: str) -> bool:
    """Whether ``value`` is an ``http://`` or ``https://`` URL.

    Example:
        >>> is_url("https://example.org/train.csv"), is_url("train.csv")
        (True, False)
    """
    return urllib.parse.urlsplit(str(value)).scheme.lower() in ("http", "https")


def local_path(value: str) -> str:
    """The local path of a path or ``file://`` URI (a URL is returned as it is).

    Example:
        >>> local_path("file:///data/my%20train.csv"), local_path("/data/t.csv")
        ('/data/my train.csv', '/data/t.csv')
    """
    parts = urllib.parse.urlsplit(str(value))
    if parts.scheme.lower() == "file":
        return urllib.request.url2pathname(parts.path)
    return str(value)


def data_uri(value: str) -> str:
    """The URI stored on the study: a URL as it is, a local path as an absolute ``file://`` URI.

    Example:
        >>> data_uri("/data/t.csv"), data_uri("http://host/t.csv")
        ('file:///data/t.csv', 'http://host/t.csv')
    """
    return value if is_url(value) else Path(local_path(value)).resolve().as_uri()


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as f: _ = f.write(b"abc")
        >>> sha256_file(f.name)[:12]
        'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def cache_folder() -> Path:
    """The per-user folder downloads are kept in (made, private to the user, when missing).

    Example:
        >>> cache_folder().name
        'data'
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "automl" / "data"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _suffix(url: str) -> str:
    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1].lower()
    return ".csv.gz" if name.endswith(".csv.gz") else Path(name).suffix


def _mismatch(uri: str, found: str, expected: str, study: str | None) -> StudyMismatchError:
    which = f"sweep {study!r}" if study else "the sweep"
    return StudyMismatchError(
        f"the data at {redact_url(uri)} is not the data {which} started with: its SHA-256 is {found[:12]}, the "
        f"sweep's is {expected[:12]}; pass --data PATH (automl resume, automl worker) to an unchanged copy of the "
        "sweep's file (or restore it), "
        "or start a new sweep (another study_name) for the changed data"
    )


def _sha256_folder(path: str) -> str:
    """SHA-256 (hex) of a folder's files: each one's path inside the folder and its bytes' SHA-256, in name order (a
    file added, removed, renamed or changed gives another digest)."""
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            file = os.path.join(root, name)
            digest.update(os.path.relpath(file, path).encode("utf-8", "surrogateescape") + b"\0")
            digest.update(bytes.fromhex(sha256_file(file)))
    return digest.hexdigest()


def download(url: str, expected: str | None = None, study: str | None = None) -> tuple[str, str]:
    """Download ``url`` into :func:`cache_folder` (a copy with the ``expected`` hash is reused); return
    ``(local path, sha256)``.

    Raises:
        InvalidParameterError: the URL cannot be read (the message says why).
        StudyMismatchError: the bytes downloaded do not have the ``expected`` SHA-256 (nothing is kept).
    """
    folder = cache_folder()
    if expected:
        cached = folder / f"{expected}{_suffix(url)}"
        if cached.is_file() and sha256_file(cached) == expected:
            return str(cached), expected
    digest = hashlib.sha256()
    fd, name = tempfile.mkstemp(dir=folder, prefix=".download-", suffix=_suffix(url))
    try:
        with os.fdopen(fd, "wb") as handle, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            while block := response.read(_CHUNK):
                digest.update(block)
                handle.write(block)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        os.unlink(name)
        raise InvalidParameterError(
            f"cannot download the data from {redact_url(url)}: {exc}; check the URL and that this machine reaches "
            "it, or pass --data PATH (automl resume, automl worker) to a local copy, or a local path as the sweep's data"
        ) from None
    found = digest.hexdigest()
    if expected and found != expected:
        os.unlink(name)
        raise _mismatch(url, found, expected, study)
    target = folder / f"{found}{_suffix(url)}"
    os.replace(name, target)
    return str(target), found


def open_data(source: str, expected: str | None = None, study: str | None = None) -> tuple[str, str]:
    """The local file of a sweep's data (a path, ``file://`` URI or URL) and its SHA-256, checked against
    ``expected`` when given.

    Raises:
        InvalidParameterError: a local file that is not on this machine, or a URL that cannot be read.
        StudyMismatchError: the bytes are not those the sweep started with (``expected``).
    """
    if is_url(source):
        return download(source, expected, study)
    path = local_path(source)
    if os.path.isdir(path):  # a folder of Parquet files (read as one table): its files' names and bytes
        found = _sha256_folder(path)
        if expected and found != expected:
            raise _mismatch(data_uri(path), found, expected, study)
        return path, found
    if not os.path.isfile(path):
        raise InvalidParameterError(
            f"the sweep's data file {path!r} is not on this machine; pass --data PATH (automl resume, automl worker) to "
            "a copy of it, or fix the sweep's data path"
        )
    found = sha256_file(path)
    if expected and found != expected:
        raise _mismatch(data_uri(path), found, expected, study)
    return path, found
