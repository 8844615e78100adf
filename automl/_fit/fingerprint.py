"""The fingerprint of a fit's data and settings, which a stored study must match to be resumed or joined, and its
parts, so that a study made for other data or settings can say which differ.

The fingerprint's digest is part of the stored-study format (a golden study checks it is unchanged); the parts are
stored beside it (``automl:fingerprint_parts``): the settings as text, the data as short hashes.

Example:
    >>> import numpy as np, pandas as pd
    >>> parts = fingerprint_parts(pd.DataFrame({"a": [1.0, 2.0]}), np.array([0, 1]), "binary", "roc_auc", "kfold:2", {})
    >>> parts["the metric"], parts["cv"]
    ('roc_auc', 'kfold:2')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fingerprint", "fingerprint_and_parts", "fingerprint_parts"]


def fingerprint(X: pd.DataFrame, y: np.ndarray, task: str, metric: str, cv: str, spaces: Mapping[str, Any],
                image_shape: Sequence[int] | None = None, weights: np.ndarray | None = None) -> str:
    """The hash of the data and settings a stored study is made for (part of the stored-study format).

    Example:
        >>> X = pd.DataFrame({"a": [1.0, 2.0]})
        >>> fingerprint(X, np.array([0, 1]), "binary", "roc_auc", "kfold:2", {}) == fingerprint(
        ...     X, np.array([0, 1]), "binary", "roc_auc", "kfold:2", {})
        True
    """
    return fingerprint_and_parts(X, y, task, metric, cv, spaces, image_shape, weights)[0]


def fingerprint_parts(X: pd.DataFrame, y: np.ndarray, task: str, metric: str, cv: str, spaces: Mapping[str, Any],
                      image_shape: Sequence[int] | None = None, weights: np.ndarray | None = None) -> dict[str, str]:
    """What :func:`fingerprint` covers, part by part, named as a message names it: the task, the metric and cv as
    they are (shown then and now), the data as short hashes (``sha256:`` and 16 hex digits, never shown)."""
    return fingerprint_and_parts(X, y, task, metric, cv, spaces, image_shape, weights)[1]


def fingerprint_and_parts(X: pd.DataFrame, y: np.ndarray, task: str, metric: str, cv: str,
                          spaces: Mapping[str, Any], image_shape: Sequence[int] | None = None,
                          weights: np.ndarray | None = None) -> tuple[str, dict[str, str]]:
    """:func:`fingerprint` and :func:`fingerprint_parts` from one pass over the data (each input hashed once)."""
    values = pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes()
    target = np.ascontiguousarray(y).tobytes()
    weight_bytes = None if weights is None else np.ascontiguousarray(weights).tobytes()
    space_dicts = {k: v.to_dict(conditions=False) for k, v in sorted(spaces.items())}  # `when` changes no score
    digest = hashlib.sha256()
    digest.update(values)
    digest.update(target)
    if weight_bytes is not None:
        digest.update(b"weights" + weight_bytes)
    settings: dict[str, Any] = {"columns": list(X.columns), "task": task, "metric": metric, "cv": cv,
                                "spaces": space_dicts}
    if image_shape is not None:
        settings["image_shape"] = list(image_shape)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    parts = {
        "the feature columns": _short(json.dumps([str(c) for c in X.columns]).encode()),
        "the feature values": _short(values),
        "the target": _short(target),
        "the sample weights": "none" if weight_bytes is None else _short(weight_bytes),
        "the task": task, "the metric": metric, "cv": cv,
        "the families or their search spaces": _short(json.dumps(space_dicts, sort_keys=True, default=str).encode()),
        "image_shape": "none" if image_shape is None else "x".join(str(int(d)) for d in image_shape),
    }
    return digest.hexdigest(), parts


def _short(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()[:16]
