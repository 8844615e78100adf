"""Reading a saved model folder safely: the manifest's shape, its files' bytes, and what may be replaced.

:func:`read_snapshot` opens the folder once and reads the manifest and every file it lists relative
to that open folder, each path component opened without following links, so what is hashed is
what is loaded (no file can change between the check and the use), and a folder swapped for
another one while it is read is read whole, old or new. :func:`manifest_problems` names every
field of a manifest that has the wrong shape. :func:`not_a_model` says why a folder is not one
that ``save(overwrite=True)`` may replace.

The SHA-256 hashes in the manifest catch damage (a truncated, changed or missing file). They are
not signed: whoever can rewrite a file can rewrite the manifest too. The pinned digest (the
SHA-256 of ``manifest.json``, which lists every file's SHA-256) is what catches that.

Example:
    >>> for problem in manifest_problems({"format_version": True, "files": {"model.pkl": "00"}}):
    ...     print(problem)
    'files' must map each file name to its SHA-256 (64 hex digits), got 'model.pkl': '00'
    'format_version' must be a whole number, got True
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from automl.exceptions import InvalidParameterError

__all__ = ["MANIFEST", "Snapshot", "changed", "manifest_problems", "missing_folder", "not_a_model", "parse_digest",
           "read_snapshot", "unsafe_names"]

MANIFEST = "manifest.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: Optional top-level fields and the JSON kinds save writes for them.
_KINDS: dict[str, tuple[type, ...]] = {
    "created": (str,), "estimator": (str,), "python": (str,), "task": (str,), "metric": (str,),
    "classes": (list,), "schema": (dict,), "study": (dict,), "best": (dict,),
    "requires": (list,), "versions": (dict,),
}
_HAS_DIR_FD = hasattr(os, "O_DIRECTORY") and hasattr(os, "O_NOFOLLOW") and os.open in os.supports_dir_fd


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def manifest_problems(manifest: Any) -> list[str]:
    """Every field of a parsed manifest with the wrong shape, one sentence each (empty when well formed)."""
    if not isinstance(manifest, dict):
        return [f"it must be a JSON object, got {_kind(manifest)}"]
    problems = []
    files = manifest.get("files")
    if not isinstance(files, dict):
        problems.append(f"'files' must map each file name to its SHA-256, got {_kind(files)} (not an automl manifest)")
    else:
        bad = [f"{k!r}: {v!r}" for k, v in files.items() if not (isinstance(v, str) and _HEX64.fullmatch(v))]
        if bad:
            problems.append(f"'files' must map each file name to its SHA-256 (64 hex digits), got {', '.join(bad[:3])}")
    version = manifest.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        problems.append(f"'format_version' must be a whole number, got {version!r}")
    for key, kinds in _KINDS.items():
        if key in manifest and not isinstance(manifest[key], kinds):
            problems.append(f"{key!r} must be a JSON {'object' if kinds == (dict,) else kinds[0].__name__}, "
                            f"got {_kind(manifest[key])} {manifest[key]!r:.60}")
    requires = manifest.get("requires", [])
    if isinstance(requires, list) and not all(
        isinstance(m, str) and m and all(p.isidentifier() for p in m.split(".")) for m in requires
    ):
        problems.append(f"'requires' must list module names, got {requires!r:.80}")
    versions = manifest.get("versions", {})
    if isinstance(versions, dict) and not all(v is None or isinstance(v, str) for v in versions.values()):
        problems.append(f"'versions' must map package names to version strings, got {versions!r:.80}")
    best = manifest.get("best", {})
    if isinstance(best, dict) and not isinstance(best.get("family"), (str, type(None))):
        problems.append(f"'best.family' must be a family name, got {best.get('family')!r:.60}")
    return problems


def parse_digest(digest: object) -> str:
    """The 64 hex digits of a pinned digest, ``"sha256:<hex>"`` or the bare hex (any case).

    Raises:
        InvalidParameterError: it is not one.
    """
    text = digest.strip().lower() if isinstance(digest, str) else ""
    text = text.removeprefix("sha256:")
    if not _HEX64.fullmatch(text):
        raise InvalidParameterError(
            f"digest must be 'sha256:' followed by 64 hex digits, as automl.model_digest(path) returns, got {digest!r}"
        )
    return text


def not_a_model(folder: Path) -> str | None:
    """Why ``folder`` is not a model folder that may be replaced, or None when it is one.

    It is one when its ``manifest.json`` is a plain file with a well-formed manifest and the folder
    holds nothing else than the files that manifest lists (and the folders they are in).
    """
    manifest_path = folder / MANIFEST
    if manifest_path.is_symlink() or not manifest_path.is_file():
        return f"holds no {MANIFEST} (it is not an automl model folder)"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"has a {MANIFEST} that is not an automl manifest ({exc})"
    problems = manifest_problems(manifest)
    if problems:
        return f"has a {MANIFEST} that is not an automl manifest ({'; '.join(problems)})"
    listed = {MANIFEST, *manifest["files"]}
    parents = {str(p) for name in listed for p in PurePosixPath(name).parents if str(p) != "."}
    extra = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            relative = path.relative_to(folder).as_posix()
            keep = relative in parents if name in dirs and not path.is_symlink() else relative in listed
            if not keep or path.is_symlink():
                extra.append(relative)
    if extra:
        return f"holds files its {MANIFEST} does not list ({', '.join(sorted(extra)[:5])})"
    return None


@dataclass
class Snapshot:
    """What one reading of a model folder found: the manifest's bytes, the files' bytes, the problems."""

    identity: tuple[int, int] | None = None
    manifest_bytes: bytes | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """``"sha256:<hex>"`` of ``manifest.json``, the digest to pin."""
        return "sha256:" + hashlib.sha256(self.manifest_bytes or b"").hexdigest()


def unsafe_names(folder: Path, names: list[str]) -> list[str]:
    """Manifest entries that are not plain files inside ``folder`` (``..``, absolute paths, links)."""
    root = folder.resolve()
    problems = []
    for name in names:
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts:  # JSON keys are always strings
            problems.append(f"the manifest names {name!r}, a path outside the model folder; refusing to load")
            continue
        path = folder / name
        if any((folder.joinpath(*parts[: i + 1])).is_symlink() for i in range(len(parts))):
            problems.append(f"{name} in {folder} is a symbolic link; a model folder holds plain files only")
        elif path.exists() and root not in path.resolve().parents:
            problems.append(f"{name} resolves outside {folder}; refusing to load")
    return problems


def _open_dir(folder: Path) -> int | None:
    if not _HAS_DIR_FD:
        return None
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def read_bytes(folder: Path, dir_fd: int | None, name: str) -> bytes:
    """The bytes of ``name`` inside the open folder, no component followed if it is a link.

    Raises:
        FileNotFoundError: it is missing. ``OSError`` with ``ELOOP``: a component is a link.
        IsADirectoryError: it is not a plain file (a folder, a pipe, a device).
    """
    if dir_fd is None:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, "missing", str(path))
        return path.read_bytes()
    parts, fd, opened = PurePosixPath(name).parts, dir_fd, []
    try:
        for part in parts[:-1]:
            fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            opened.append(fd)
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        opened.append(fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a plain file", name)
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        for each in opened:
            os.close(each)


def _read_error(folder: Path, name: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{name} is missing from {folder}"
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return f"{name} in {folder} is a symbolic link; a model folder holds plain files only"
    if isinstance(exc, IsADirectoryError):
        return f"{name} in {folder} is not a plain file; a model folder holds plain files only"
    return f"{name} in {folder} cannot be read: {exc}"


def missing_folder(folder: Path) -> str:
    """What a command or ``automl.load`` says of a model folder that does not exist (one text for both).

    Example:
        >>> missing_folder(Path("m"))
        "'m' does not exist; pass the folder model.save(...) or automl fit --output wrote"
    """
    return f"{str(folder)!r} does not exist; pass the folder model.save(...) or automl fit --output wrote"


def read_snapshot(folder: Path, check: Any) -> Snapshot:
    """Read ``folder``'s manifest, call ``check(snapshot)`` (which raises on a bad manifest), then every file.

    Missing or changed files are returned as ``problems`` (a concurrent re-save may explain them:
    see :func:`changed`); what ``check`` raises is raised.
    """
    snap = Snapshot()
    try:
        dir_fd = _open_dir(folder)
    except FileNotFoundError:  # the folder itself: "manifest.json is missing" sent users looking for a file
        snap.problems.append(missing_folder(folder))
        return snap
    except OSError as exc:
        snap.problems.append(f"{str(folder)!r} cannot be opened as a model folder: {exc}")
        return snap
    try:
        if dir_fd is not None:
            snap.identity = (os.fstat(dir_fd).st_dev, os.fstat(dir_fd).st_ino)
        try:
            snap.manifest_bytes = read_bytes(folder, dir_fd, MANIFEST)
        except FileNotFoundError:
            snap.problems.append(f"{str(folder)!r} is not a saved automl model: {MANIFEST} is missing")
            return snap
        except OSError as exc:
            snap.problems.append(_read_error(folder, MANIFEST, exc))
            return snap
        check(snap)
        snap.problems.extend(unsafe_names(folder, list(snap.manifest["files"])))
        if snap.problems:
            return snap
        for name, expected in snap.manifest["files"].items():
            try:
                data = read_bytes(folder, dir_fd, name)
            except OSError as exc:
                snap.problems.append(_read_error(folder, name, exc))
                continue
            if hashlib.sha256(data).hexdigest() != expected:
                snap.problems.append(f"{name} in {folder} does not match its SHA-256 in the manifest (changed or corrupt)")
            snap.contents[name] = data
        return snap
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def changed(folder: Path, snap: Snapshot) -> bool:
    """Whether ``folder`` is no longer what ``snap`` read: another folder now, or another manifest."""
    try:
        now = os.stat(folder, follow_symlinks=False)
        if snap.identity is not None and (now.st_dev, now.st_ino) != snap.identity:
            return True
        return (folder / MANIFEST).read_bytes() != snap.manifest_bytes
    except OSError:
        return snap.manifest_bytes is not None  # it was there when read, and is gone now
