"""Saving and loading fitted models as a folder with a manifest.

The folder holds ``model.pkl`` (the fitted estimator, without its study),
``weights.pt`` (the nets' tensors, read with ``torch.load(weights_only=True)``),
``lightgbm/booster_N.txt`` (LightGBM's text model format), ``leaderboard.csv``
and ``manifest.json``: automl and package versions, the schema, the task and
metric, the winning family and parameters, and the SHA-256 of every file (see
:mod:`automl.model_files`).

Before anything is unpickled, loading checks that every file the manifest
names is a plain file inside the folder (no ``..``, no absolute path, no link),
that its SHA-256 matches, and that the installed package versions are the saved
ones (``check_versions=False`` overrides that one check).

Only load model folders you trust: ``model.pkl`` is a pickle, and unpickling runs code.

Example:
    >>> import tempfile, automl
    >>> from sklearn.datasets import load_iris
    >>> df = load_iris(as_frame=True).frame
    >>> model = automl.fit(df, target="target", n_trials=1, families=["linear"], cv=3)
    >>> folder = model.save(tempfile.mkdtemp() + "/iris")
    >>> automl.load(folder).predict(df.head(2)).tolist()
    [0, 0]
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import tempfile
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from automl import model_files
from automl.exceptions import InvalidParameterError, ModelFileError

__all__ = ["save_model", "load_model", "MANIFEST", "FORMAT_VERSION"]

MANIFEST = "manifest.json"
LEGACY_MODEL_FILE = "model.joblib"
LEADERBOARD_FILE = "leaderboard.csv"
#: 2: model.pkl with weights.pt and lightgbm/*.txt beside it; 1: one model.joblib.
FORMAT_VERSION = 2
_PACKAGES = ("automl", "numpy", "pandas", "scikit-learn", "lightgbm", "optuna", "joblib", "scipy")


def _versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES + extra:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def family_requirements(model: Any) -> tuple[str, ...]:
    """Packages the final model's families need beyond the core ones (``torch`` for the nets)."""
    from automl.families.registry import get_family

    families = getattr(model, "families_used_", None) or [model.best_family_]
    needed = {m for family in families for m in get_family(family).requires if m not in {"lightgbm"}}
    return tuple(sorted(needed))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: Any, path: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Write ``model`` to the folder ``path``; return the folder's path.

    Files are written to a temporary folder beside ``path`` and moved into
    place at the end, so a failure leaves nothing half-written.

    Raises:
        InvalidParameterError: ``path`` exists and is not empty (pass ``overwrite=True``).
    """
    model._check_fitted()
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise InvalidParameterError(
            f"{str(target)!r} already exists and is not an empty folder; choose another path or pass overwrite=True"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)
    try:
        portable = copy.copy(model)
        portable.study_ = None
        portable.oof_predictions_ = {}
        files = model_files.dump(portable, staging)
        model.leaderboard_.to_csv(staging / LEADERBOARD_FILE, index=False)
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
            "files": {name: _sha256(staging / name) for name in (*files, LEADERBOARD_FILE)},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return str(target)


def _unsafe_names(folder: Path, names: list[str]) -> list[str]:
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


def load_model(path: str | os.PathLike, *, check_versions: bool = True) -> Any:
    """Load a model folder written by :func:`save_model`.

    Args:
        path: The folder.
        check_versions: Refuse a model saved with other package versions (the default);
            ``False`` loads it anyway (predictions may then differ).

    Raises:
        ModelFileError: the folder or a file is missing, a file is outside the folder or a link,
            a hash does not match, the package versions differ, or the format is newer than
            this automl understands. Nothing is unpickled before these checks pass.
    """
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if folder.is_symlink() or manifest_path.is_symlink():
        raise ModelFileError(f"{str(folder)!r}: the model folder and its manifest must not be symbolic links")
    if not manifest_path.is_file():
        raise ModelFileError(f"{str(folder)!r} is not a saved automl model: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{manifest_path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelFileError(f"{manifest_path} is not an automl manifest (no 'files' table)")
    version = manifest.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was saved in format {version!r}, newer than this automl reads ({FORMAT_VERSION}); upgrade automl"
        )
    names = list(manifest["files"])
    problems = _unsafe_names(folder, names)
    if not problems:
        for name, expected in manifest["files"].items():
            file = folder / name
            if not file.is_file():
                problems.append(f"{name} is missing from {folder}")
            elif _sha256(file) != expected:
                problems.append(f"{name} in {folder} does not match its SHA-256 in the manifest (changed or corrupt)")
        model_file = model_files.PICKLE_FILE if version >= 2 else LEGACY_MODEL_FILE
        if model_file not in manifest["files"]:
            problems.append(f"the manifest of {folder} does not list {model_file}")
    if problems:
        raise ModelFileError(problems)
    missing = [m for m in manifest.get("requires", []) if importlib.util.find_spec(m) is None]
    if missing:
        from automl.exceptions import FamilyUnavailableError

        hint = ' (pip install "automl[torch]")' if missing == ["torch"] else ""
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
    if version < 2:
        import joblib

        return joblib.load(folder / LEGACY_MODEL_FILE)
    return model_files.load(folder, set(names))
