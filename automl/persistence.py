"""Saving and loading fitted models as a folder with a manifest.

The folder holds ``model.joblib`` (the fitted estimator, without its study),
``leaderboard.csv`` and ``manifest.json``: automl and package versions, the
schema, the task and metric, the winning family and parameters, and the
SHA-256 of every file. Loading checks the hashes before unpickling anything,
and warns when the installed package versions differ from the saved ones.

Only load model folders you trust: ``model.joblib`` is a pickle.

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
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from automl.exceptions import InvalidParameterError, ModelFileError

__all__ = ["save_model", "load_model", "MANIFEST", "FORMAT_VERSION"]

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
LEADERBOARD_FILE = "leaderboard.csv"
FORMAT_VERSION = 1
_PACKAGES = ("automl", "numpy", "pandas", "scikit-learn", "lightgbm", "optuna", "joblib", "scipy")


def _versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES + extra:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _family_requirements(family: str) -> tuple[str, ...]:
    """Packages the winning family needs beyond the core ones (``torch`` for the nets)."""
    from automl.families.registry import get_family

    return tuple(m for m in get_family(family).requires if m not in {"lightgbm"})


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
    import joblib

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
        joblib.dump(portable, staging / MODEL_FILE)
        model.leaderboard_.to_csv(staging / LEADERBOARD_FILE, index=False)
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "estimator": type(model).__name__,
            "python": platform.python_version(),
            "versions": _versions(_family_requirements(model.best_family_)),
            "requires": list(_family_requirements(model.best_family_)),
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
            },
            "study": {"name": model.study_name_, "storage": model.storage_},
            "schema": model.schema_.to_dict(),
            "files": {name: _sha256(staging / name) for name in (MODEL_FILE, LEADERBOARD_FILE)},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return str(target)


def load_model(path: str | os.PathLike, *, check_versions: bool = True) -> Any:
    """Load a model folder written by :func:`save_model`.

    Raises:
        ModelFileError: the folder or a file is missing, a hash does not match,
            or the format is newer than this automl understands.
    """
    import joblib

    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ModelFileError(f"{str(folder)!r} is not a saved automl model: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{manifest_path} cannot be read: {exc}") from exc
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was saved in format {manifest.get('format_version')}, newer than this automl reads "
            f"({FORMAT_VERSION}); upgrade automl"
        )
    problems = []
    for name, expected in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            problems.append(f"{name} is missing from {folder}")
        elif _sha256(file) != expected:
            problems.append(f"{name} in {folder} does not match its SHA-256 in the manifest (changed or corrupt)")
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
            warnings.warn(
                f"model in {folder} was saved with other package versions ({detail}); predictions may differ",
                UserWarning,
                stacklevel=3,
            )
    return joblib.load(folder / MODEL_FILE)
