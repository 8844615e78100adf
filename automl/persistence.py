"""Saving and loading fitted models as a folder with a manifest.

The folder holds ``model.pkl`` (the fitted estimator, without its study),
``weights.pt`` (the nets' tensors, read with ``torch.load(weights_only=True)``),
``lightgbm/booster_N.txt`` (LightGBM's text model format), ``leaderboard.csv``
and ``manifest.json``: automl and package versions, the schema, the task and
metric, the winning family and parameters, and the SHA-256 of every file (see
:mod:`automl.model_files`).

Saving writes a staging folder beside ``path`` and moves it into place in one
step: on Linux ``renameat2(2)`` swaps it with the model folder already there
(readers see the old model or the new one, never a mix), or puts it at a new
path without replacing what another process put there meanwhile (see
:mod:`automl._folder_swap`; elsewhere the swap is three renames, not atomic).
``overwrite=True`` replaces only a folder that holds an automl model and
nothing else; the old model is removed only after the new one is in place.

Before anything is unpickled, loading checks that every file the manifest
names is a plain file inside the folder (no ``..``, no absolute path, no link)
and that its SHA-256 matches, then loads those same bytes; and that the
installed package versions are the saved ones (``check_versions=False``
overrides that one check). A folder re-saved while it is read is read again.

The hashes catch damage, not an attacker: whoever can rewrite a file can rewrite
the manifest too. To be sure a folder is the one saved, pin its digest
(:func:`model_digest`, also logged by ``save``) and pass it to
``automl.load(path, digest=...)``. Only load model folders you trust:
``model.pkl`` is a pickle, and unpickling runs code.

Example:
    >>> import tempfile, automl
    >>> from sklearn.datasets import load_iris
    >>> df = load_iris(as_frame=True).frame
    >>> model = automl.fit(df, target="target", n_trials=1, families=["linear"], cv=3)
    >>> folder = model.save(tempfile.mkdtemp() + "/iris")
    >>> digest = model_digest(folder)
    >>> automl.load(folder, digest=digest).predict(df.head(2)).tolist()
    [0, 0]
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from automl import _folder_swap, model_files
from automl._redact import redact_url
from automl.data.source import sha256_file
from automl._model_folder import (
    MANIFEST, Snapshot, changed, manifest_problems, missing_folder, not_a_model, parse_digest, read_snapshot,
)
from automl.exceptions import AutoMLError, InputTypeError, InvalidParameterError, ModelFileError, ModelSaveError

__all__ = ["save_model", "load_model", "model_digest", "leaderboard_csv", "read_leaderboard", "MANIFEST", "FORMAT_VERSION"]

_LOG = logging.getLogger(__name__)
LEGACY_MODEL_FILE = "model.joblib"
LEADERBOARD_FILE = "leaderboard.csv"
#: 2: model.pkl with weights.pt and lightgbm/*.txt beside it; 1: one model.joblib.
FORMAT_VERSION = 2
_PACKAGES = ("automl", "numpy", "pandas", "scikit-learn", "lightgbm", "optuna", "joblib", "scipy")


#: Wheels that provide a module under another name (the CPU-only xgboost wheel).
_PROVIDERS = {"xgboost": ("xgboost-cpu",)}


def installed_distribution(name: str) -> tuple[str, str] | None:
    """``(distribution, version)`` installed for the package or module ``name``: the distribution of that
    name, else one known to provide the module (``xgboost-cpu`` for ``xgboost``); None when neither is installed.

    Example:
        >>> installed_distribution("numpy")[0]
        'numpy'
    """
    for distribution in (name, *_PROVIDERS.get(name, ())):
        try:
            return distribution, importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    return {name: (installed_distribution(name) or (name, None))[1] for name in _PACKAGES + extra}


def family_requirements(model: Any) -> tuple[str, ...]:
    """Packages the final model's families need beyond the core ones (``torch`` for the nets)."""
    from automl.families.registry import get_family

    families = getattr(model, "families_used_", None) or [model.best_family_]
    needed = {m for family in families for m in get_family(family).requires if m not in {"lightgbm"}}
    return tuple(sorted(needed))


#: Readings of a folder that another process re-saved meanwhile, before giving up.
_ATTEMPTS = 8
_STAGING_SUFFIX = ".saving"


def save_model(model: Any, path: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Write ``model`` to the folder ``path``; return the folder's path.

    Files are written to a staging folder beside ``path`` and moved into place in one step at
    the end, so a failure leaves nothing half-written and the folder that was there intact.
    The digest to pin (see :func:`model_digest`) is logged at INFO on the ``automl.persistence`` logger.

    Raises:
        InputTypeError: ``path`` is not a path.
        ModelSaveError: the folder cannot be written there (a file in its way, no permission, a full disk).
        InvalidParameterError: ``path`` is a file or a link; or a folder that holds files and is not
            an automl model folder (never replaced, even with ``overwrite=True``); or an automl
            model folder and ``overwrite`` is False; or another process saved to ``path`` meanwhile.
    """
    model._check_fitted()
    if not isinstance(path, str | os.PathLike):
        raise InputTypeError(f"path must be a folder's path (a str or a pathlib.Path), got {path!r} of type "
                             f"{type(path).__name__}")
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise InvalidParameterError(f"path must name the model folder itself, such as 'model_dir', got {str(path)!r}")
    _target_state(target, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # the staging folder's name keeps a long target name's start only: NAME_MAX (255) is the target's to use
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name[:64]}.", suffix=_STAGING_SUFFIX, dir=target.parent))
    except OSError as exc:
        raise _save_error(target, exc) from exc
    swap = {"foreign": False}
    try:
        staging.chmod(0o755)
        manifest_bytes = _write_folder(model, staging)
        _folder_swap.fsync_tree(staging)
        _move_into_place(staging, target, overwrite, swap)
        _folder_swap.fsync_dir(target.parent)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: said of the path given
        if isinstance(exc, AutoMLError):
            raise
        raise _save_error(target, exc) from exc
    finally:
        if swap["foreign"]:  # a folder that is not a model was swapped out and could not be put back: keep it
            _LOG.error("the folder that was at %s is now at %s; move it back", target, staging)
        else:
            shutil.rmtree(staging, ignore_errors=True)  # our files, or (after a swap) the old model
    _LOG.info("saved the model to %s; its digest, to pin in automl.load(path, digest=...): sha256:%s",
              target, hashlib.sha256(manifest_bytes).hexdigest())
    return str(target)


def _save_error(target: Path, exc: OSError) -> ModelSaveError:
    """What stopped a save at ``target`` (the path the user gave, not the staging folder's), with the fix."""
    blocking = next((p for p in [target.parent, *target.parent.parents] if p.exists() and not p.is_dir()), None)
    why = f"{str(blocking)!r} is a file, not a folder" if blocking is not None else exc.strerror or str(exc)
    error = ModelSaveError(f"cannot save the model to {str(target)!r}: {why}; choose a folder you can write to "
                           "(nothing was written)")
    for note in getattr(exc, "__notes__", []):  # what the swap says of the folder that was there
        error.add_note(note)
    return error


def _write_folder(model: Any, staging: Path) -> bytes:
    """Write the model's files and manifest into ``staging``; return the manifest's bytes."""
    portable = copy.copy(model)
    for name in ("storage", "tracking_uri"):  # a saved model carries no password (a URL is masked, not dropped)
        if isinstance(getattr(portable, name, None), str):
            setattr(portable, name, redact_url(getattr(portable, name)))
    portable.study_ = None
    portable.oof_predictions_ = {}
    files = model_files.dump(portable, staging)
    (staging / LEADERBOARD_FILE).write_text(leaderboard_csv(model.leaderboard_), encoding="utf-8")
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "estimator": type(model).__name__,
        "python": platform.python_version(),
        "versions": _versions(family_requirements(model)),
        "requires": list(family_requirements(model)),
        "task": model.task_,
        "metric": model.metric_.name,
        "target": model.target_name_,
        "classes": [str(c) for c in getattr(model, "classes_", [])],
        "best": {
            "trial": model.best_trial_,
            "family": model.best_family_,
            "params": model.best_params_,
            "cv_score": model.best_score_,
            "cv": model.cv_,
            "ensemble": None if not getattr(model, "ensemble_", None) else {
                k: model.ensemble_[k] for k in ("trials", "families", "weights")
            },
        },
        "study": {"name": model.study_name_, "storage": model.storage_},
        "schema": model.schema_.to_dict(),
        "files": {name: sha256_file(staging / name) for name in (*files, LEADERBOARD_FILE)},
    }
    data = json.dumps(manifest, indent=2, default=str).encode("utf-8")
    (staging / MANIFEST).write_bytes(data)
    return data


def _json_value(value: Any) -> Any:
    """A JSON value for what ``json`` cannot write itself (numpy scalars, tuples, anything else as text)."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


def leaderboard_csv(board: Any) -> str:
    """The text of ``leaderboard.csv``: the leaderboard with each row's ``params`` as one JSON object.

    Example:
        >>> import pandas as pd
        >>> print(leaderboard_csv(pd.DataFrame({"trial": [0], "params": [{"C": 0.5, "penalty": None}]})))
        trial,params
        0,"{""C"": 0.5, ""penalty"": null}"
        <BLANKLINE>
    """
    board = board.copy()
    if "params" in board.columns:
        board["params"] = [json.dumps(p, default=_json_value) if isinstance(p, dict) else p for p in board["params"]]
    return board.to_csv(index=False)


def _params_of(text: Any) -> Any:
    """A ``params`` cell read back: JSON, or the Python literal that folders saved before JSON hold."""
    if not isinstance(text, str):
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return text


def read_leaderboard(path: str | os.PathLike) -> Any:
    """The leaderboard saved in a model folder (its ``leaderboard.csv``), with ``params`` as dicts.

    Reads the folder only (it is checked like :func:`load_model` checks it, but nothing is unpickled).

    Example:
        >>> import tempfile, automl
        >>> from sklearn.datasets import load_iris
        >>> df = load_iris(as_frame=True).frame
        >>> model = automl.fit(df, target="target", n_trials=1, families=["linear"], cv=3, tracking=False)
        >>> board = read_leaderboard(model.save(tempfile.mkdtemp() + "/iris"))
        >>> sorted(board.loc[0, "params"]) == sorted(model.leaderboard().loc[0, "params"])
        True

    Raises:
        ModelFileError: the folder is not an intact saved model, or has no leaderboard.
    """
    import pandas as pd

    folder = _model_folder(path)  # a file or nothing there: said as load says it
    snap = _verified_snapshot(folder, None)
    data = snap.contents.get(LEADERBOARD_FILE)
    if data is None:
        raise ModelFileError(f"the model in {folder} was saved without a {LEADERBOARD_FILE}; load it with automl.load "
                             "and call model.leaderboard()")
    board = pd.read_csv(io.BytesIO(data))
    if "params" in board.columns:
        board["params"] = [_params_of(text) for text in board["params"]]
    if "trial" in board.columns:
        board["trial"] = board["trial"].astype("Int64")
    return board


def _target_state(target: Path, overwrite: bool) -> str:
    """``"absent"``, ``"empty"`` (an empty folder) or ``"model"`` (a model folder, ``overwrite`` True).

    Raises:
        InvalidParameterError: anything else is at ``target``: it is never replaced.
    """
    shown = repr(str(target))
    if target.is_symlink():
        raise InvalidParameterError(
            f"{shown} is a symbolic link; automl saves to a real folder: pass the path it points to, or another path"
        )
    if not target.exists():
        return "absent"
    if not target.is_dir():
        raise InvalidParameterError(
            f"{shown} is a file, not a model folder, and saving never replaces a file: move it away or choose another path"
        )
    if not any(target.iterdir()):
        return "empty"
    problem = not_a_model(target)
    if problem is not None:
        how = "save(overwrite=True) replaces only a folder holding an automl model and nothing else"
        raise InvalidParameterError(
            f"{shown} already exists and {problem}; {how}: move those files away or choose another path"
        )
    if not overwrite:
        raise InvalidParameterError(
            f"{shown} already holds an automl model; choose another path or pass overwrite=True to replace it"
        )
    return "model"


def _move_into_place(staging: Path, target: Path, overwrite: bool, swap: dict[str, bool]) -> None:
    """Move ``staging`` to ``target``, checking ``target`` again just before; after a swap, ``staging``
    holds the folder that was at ``target``, checked once more after it left (and put back if it changed).

    ``swap["foreign"]`` is True while ``staging`` holds a folder not yet known to be a model (never deleted).
    """
    try:
        for _ in range(3):
            state = _target_state(target, overwrite)
            if state in ("absent", "empty"):
                try:
                    _folder_swap.place(staging, target, into_empty=state == "empty")
                    return
                except FileExistsError:
                    continue  # another process saved there meanwhile: look again
            try:
                _folder_swap.exchange(staging, target)
            except FileNotFoundError:
                continue  # removed meanwhile: look again
            swap["foreign"] = True
            problem = not_a_model(staging) if any(staging.iterdir()) else None
            if problem is None:
                swap["foreign"] = False
                return
            _folder_swap.exchange(staging, target)  # what was swapped out changed after the check: put it back
            swap["foreign"] = False
            raise InvalidParameterError(
                f"{str(target)!r} changed while the model was being saved and now {problem}; it was left as it was: "
                "choose another path"
            )
    except OSError as exc:
        exc.add_note(f"automl: the model was not saved; {target} is as it was before")
        raise
    raise InvalidParameterError(
        f"other processes kept saving to {str(target)!r} while this model was being saved; nothing was replaced: "
        "choose another path" + ("" if overwrite else " or pass overwrite=True to replace their model")
    )


def load_model(path: str | os.PathLike, *, check_versions: bool = True, digest: str | None = None) -> Any:
    """Load a model folder written by :func:`save_model`.

    Args:
        path: The folder.
        check_versions: Refuse a model saved with other package versions (the default);
            ``False`` loads it anyway (predictions may then differ).
        digest: The folder's pinned digest, ``"sha256:<hex>"`` from :func:`model_digest`:
            the folder is refused unless its ``manifest.json`` has exactly this SHA-256.

    Raises:
        InvalidParameterError: ``digest`` is not ``"sha256:"`` and 64 hex digits.
        ModelFileError: the folder or a file is missing, a file is outside the folder or a link,
            a hash does not match, the manifest is malformed, the digest differs, the package
            versions differ, or the format is newer than this automl understands. Nothing is
            unpickled before these checks pass.
    """
    folder = _model_folder(path)
    snap = _verified_snapshot(folder, None if digest is None else parse_digest(digest))
    manifest = snap.manifest
    # The top-level name only: find_spec("a.b") would import the package "a" to look inside it.
    missing = [m for m in manifest.get("requires", []) if importlib.util.find_spec(m.partition(".")[0]) is None]
    if missing:
        from automl.exceptions import FamilyUnavailableError

        hint = f' (pip install "automl[{missing[0]}]")' if missing in (["torch"], ["catboost"], ["xgboost"]) else ""
        raise FamilyUnavailableError(
            f"the model in {folder} is a {manifest.get('best', {}).get('family')!r} model and needs "
            f"{', '.join(missing)}, which is not installed; install it{hint} to load this model"
        )
    if check_versions:
        saved, now = manifest.get("versions", {}), _versions(tuple(manifest.get("requires", [])))
        differ = {k: (saved.get(k), now.get(k)) for k in saved if saved.get(k) != now.get(k)}
        if differ:
            detail = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in sorted(differ.items()))
            raise ModelFileError(
                f"the model in {folder} was saved with other package versions ({detail}); install the saved "
                "versions, or pass check_versions=False to load it anyway (predictions may differ)"
            )
    if manifest.get("format_version", 1) < 2:
        import joblib

        return joblib.load(io.BytesIO(snap.contents[LEGACY_MODEL_FILE]))
    try:
        return model_files.load_files(snap.contents)
    except (ModuleNotFoundError, AttributeError) as exc:  # code this process lacks: named, not raw
        raise model_files.loading_error(folder, manifest.get("versions", {}), exc) from None


def model_digest(path: str | os.PathLike) -> str:
    """The digest to pin for the model folder ``path``: ``"sha256:"`` and the SHA-256 of its ``manifest.json``.

    The manifest lists the SHA-256 of every file, so this one digest covers them all. The folder is
    checked first (every file present and matching its hash). Take it right after saving, keep it
    where the folder's writers cannot change it, and load with ``automl.load(path, digest=...)``.

    Raises:
        ModelFileError: the folder is not an intact saved model.
    """
    return _verified_snapshot(Path(path), None).digest


def _check_manifest(folder: Path, expected_digest: str | None) -> Any:
    """The check :func:`read_snapshot` runs on the manifest before it reads any other file."""
    manifest_path = folder / MANIFEST

    def check(snap: Snapshot) -> None:
        if expected_digest is not None and snap.digest != f"sha256:{expected_digest}":
            raise ModelFileError(
                f"{manifest_path} has digest {snap.digest}, not the pinned sha256:{expected_digest}: this is not "
                "the model folder that was pinned (it was re-saved, or changed); refusing to load"
            )
        try:
            manifest = json.loads((snap.manifest_bytes or b"").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{manifest_path} cannot be read: {exc}") from exc
        problems = manifest_problems(manifest)
        if problems:
            raise ModelFileError([f"{manifest_path} is not a valid automl manifest: {p}" for p in problems])
        version = manifest.get("format_version", 1)
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"{folder} was saved in format {version!r}, newer than this automl reads ({FORMAT_VERSION}); "
                "upgrade automl"
            )
        model_file = model_files.PICKLE_FILE if version >= 2 else LEGACY_MODEL_FILE
        if model_file not in manifest["files"]:
            raise ModelFileError(f"the manifest of {folder} does not list {model_file}")
        snap.manifest = manifest

    return check


def _model_folder(path: object) -> Path:
    """``path`` as a folder that exists (a link is refused later, with the manifest's checks).

    Raises:
        InputTypeError: ``path`` is not a path (None, a number).
        ModelFileError: nothing is at ``path``, or a file is.
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise InputTypeError(f"path must be the model folder, a str or os.PathLike, got {path!r}; pass the folder "
                             "model.save(...) or automl fit --output wrote")
    folder = Path(path)
    if not folder.exists() and not folder.is_symlink():
        raise ModelFileError(missing_folder(folder))
    if folder.is_file():
        raise ModelFileError(f"{str(folder)!r} is a file; a model is a folder (the one model.save(...) or automl fit "
                             "--output wrote)")
    return folder


def _verified_snapshot(folder: Path, expected_digest: str | None) -> Snapshot:
    """Read ``folder`` whole and check it; read it again while another process is re-saving it.

    Raises:
        ModelFileError: a file is missing, a link, or does not match its hash, and the folder did
            not change meanwhile (real damage); or the manifest is refused.
    """
    if folder.is_symlink() or (folder / MANIFEST).is_symlink():
        raise ModelFileError(f"{str(folder)!r}: the model folder and its manifest must not be symbolic links")
    check = _check_manifest(folder, expected_digest)
    for attempt in range(_ATTEMPTS):
        snap = read_snapshot(folder, check)
        if not snap.problems:
            return snap
        if attempt == _ATTEMPTS - 1 or not changed(folder, snap):
            break
        time.sleep(0.005 * (attempt + 1))
    raise ModelFileError(snap.problems)
