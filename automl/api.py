"""The one-call entry points: :func:`fit` on a DataFrame and :func:`load` of a saved model.

Example:
    >>> import automl
    >>> from sklearn.datasets import load_diabetes
    >>> df = load_diabetes(as_frame=True).frame
    >>> model = automl.fit(df, target="target", n_trials=2, families=["linear"], cv=3)
    >>> model.task_, model.metric_.name
    ('regression', 'rmse')
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from automl._suggest import unknown_name_message
from automl.config import SAME, fit_signature, setting, setting_names
from automl.data.images import as_image_frame, pixel_columns
from automl.data.task import infer_task, validate_task_name
from automl.data.validation import array_like, coerce_features, feature_problems, target_series, warn_reordered_target
from automl.estimators import AutoMLClassifier, AutoMLRegressor
from automl.exceptions import AutoMLError, DataValidationError, InputTypeError, InvalidParameterError

__all__ = ["fit", "load", "prepare_fit"]


def _column(df: pd.DataFrame, name: object, argument: str) -> str:
    if not isinstance(name, str):
        raise InvalidParameterError(f"{argument} must be a column name (a string), got {name!r}")
    if name not in df.columns:
        message = unknown_name_message("column", name, [str(c) for c in df.columns])
        label = argument if "=" in argument or "(" in argument else f"{argument}={name!r}"
        raise DataValidationError(f"{label}: {message}")
    return name


def _labelled_target(data: Any, target: Any) -> tuple[Any, Any]:
    """``(data, target)`` for a target named by a label that is not a string (``0``, ``1.5``, a ``pd.NA``): the
    column it names taken out as the target's values (a frame with integer column names, as ``pd.DataFrame(array)``
    makes), else a typed error; a string, None or the target's values pass through."""
    if target is None or isinstance(target, str) or np.ndim(target) != 0:
        return data, target
    columns = list(data.columns) if isinstance(data, pd.DataFrame) else []
    matches = []
    for column in columns:
        try:
            if column is target or bool(column == target):
                matches.append(column)
        except (TypeError, ValueError):  # pd.NA and other labels that compare ambiguously
            continue
    if len(matches) == 1:  # named as the features' integer names are (x3 for column 3), so that predict drops it
        name = matches[0]
        label = f"x{int(name)}" if isinstance(name, (int, np.integer)) and not isinstance(name, bool) else str(name)
        return data.drop(columns=matches), data[name].rename(label)
    message = unknown_name_message("column", str(target), [str(c) for c in columns])
    raise InputTypeError(
        f"target={target!r} ({type(target).__name__}): target must be the name of a column of data (a string) or "
        f"the target's values (one per row); {message}"
    )


def fit(data: Any, target: Any = None, *, groups: Any = None, sample_weight: Any = None,
        **settings: Any) -> AutoMLClassifier | AutoMLRegressor:
    """Search model families on ``data`` and return the refitted best model.

    Args:
        data: The training frame, target included (or features only, with ``target`` an
            array); or images, an array shaped ``(N, H, W)`` or ``(N, H, W, C)`` with
            ``target`` the labels (see ``image_shape`` for a frame of pixel columns).
        target: Name of the target column (or the target values).
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or None (inferred from the target).
        groups: Column name (removed from the features) or labels, for group k-fold.
            ``cv="group:COLUMN"`` is the same as ``groups="COLUMN"``.
        sample_weight: Column name (removed from the features) or values: the weight of
            each row in training and in the CV scores (see ``AutoMLClassifier.fit``).
        **settings: Every setting of :class:`automl.AutoMLClassifier` (``metric``, ``time_budget``,
            ``n_trials``, ``cv``, ``families``, ...), with the same defaults; the signature lists them.

    Returns:
        A fitted :class:`~automl.AutoMLClassifier` or :class:`~automl.AutoMLRegressor`
        with ``leaderboard()``, ``predict``, ``predict_proba`` (classifiers),
        ``score``, ``evaluate`` and ``save``.

    Raises:
        InputTypeError: ``data`` is not a DataFrame or 2-D array, or a setting does not exist.
        DataValidationError: the target or groups column is missing, or the data is unusable.
        InvalidParameterError: a setting is invalid.
    """
    try:
        model, X, y, fit_args = prepare_fit(data, target, groups=groups, sample_weight=sample_weight, **settings)
    except DataValidationError as exc:  # the settings' problems too, in one error
        from automl._fit.problem import with_setting_problems

        raise with_setting_problems(exc, settings) from None
    return model.fit(X, y, **fit_args)


fit.__signature__ = fit_signature()  # type: ignore[attr-defined]


def _data_frame(data: Any, target: Any, image_shape: Any) -> tuple[pd.DataFrame, Any]:
    """``(data as a frame, image shape)``: images as pixel columns, arrays and lists with columns x0, x1, ..."""
    if isinstance(data, np.ndarray) and data.ndim in (3, 4):
        if target is None or isinstance(target, str):
            raise InvalidParameterError(
                f"data is an array of images (shape {data.shape}); pass their labels as target= "
                "(an array or list, one per image)"
            )
        data, image_shape = as_image_frame(data, image_shape, argument="data")
    if not array_like(data):
        raise InputTypeError(
            f"data must be a pandas DataFrame, a 2-D array-like with target= values, or images shaped (N, H, W[, C]), "
            f"got {type(data).__name__}; for example automl.fit(pd.read_csv('train.csv'), target='label')"
        )
    if isinstance(data, np.ndarray) and data.ndim == 2 and image_shape is not None:
        data = pd.DataFrame(data, columns=pixel_columns(data.shape[1]))
    return coerce_features(data, argument="data"), image_shape


def _one_role_per_column(target: Any, groups: Any, sample_weight: Any, cv: Any) -> None:
    """Refuse one column named for two roles (it would be taken out for the first and then be missing)."""
    from automl.evaluation.splitters import parse_cv

    try:
        column = parse_cv(cv).column  # the cv grammar's own reading of group:COLUMN
    except AutoMLError:
        column = None  # an invalid cv is refused with the other settings
    named = {"target": target, "groups": groups, "sample_weight": sample_weight, f"cv='group:{column}'": column}
    seen: dict[str, str] = {}
    for role, name in named.items():
        if isinstance(name, str):
            if seen.get(name) == "target" and role.startswith("cv="):
                continue  # the groups check says why the target cannot be the groups column
            if name in seen:
                raise InvalidParameterError(f"column {name!r} is named as both {seen[name]} and {role}; a column plays "
                                            "one role: name another column for one of them")
            seen[name] = role


def prepare_fit(
    data: Any, target: Any = None, *, groups: Any = None, sample_weight: Any = None, **settings: Any,
) -> tuple[AutoMLClassifier | AutoMLRegressor, pd.DataFrame, Any, dict[str, Any]]:
    """What :func:`fit` does before fitting: ``(unfitted model, features, target, fit_args)``,
    where ``fit_args`` holds the ``groups`` and ``sample_weight`` values for ``model.fit``.

    The model is a classifier or a regressor depending on ``task`` (inferred
    from the target when None); ``settings`` are the other arguments of :func:`fit`.

    Example:
        >>> import pandas as pd
        >>> model, X, y, fit_args = prepare_fit(pd.DataFrame({"a": [1, 2, 3], "y": [1.5, 2.5, 0.5]}), "y")
        >>> type(model).__name__, list(X.columns), fit_args
        ('AutoMLRegressor', ['a'], {'groups': None, 'sample_weight': None})
    """
    task, image_shape = settings.pop("task", None), settings.pop("image_shape", None)
    data, target = _labelled_target(data, target)
    data, image_shape = _data_frame(data, target, image_shape)
    if isinstance(data.columns, pd.MultiIndex):  # no column, the target's included, can be named until flattened
        raise DataValidationError("; ".join(feature_problems(data)))
    drop: list[str] = []
    if data.shape[1] == 0:
        raise DataValidationError(
            f"data is empty ({data.shape[0]} rows, 0 columns); pass a frame with rows, feature columns and the target column"
        )
    if target is None:
        raise InvalidParameterError("target= is required: the name of the column to predict")
    _one_role_per_column(target, groups, sample_weight, settings.get("cv"))
    if isinstance(target, str):
        _column(data, target, "target")
        y = data[target]
        drop.append(target)
    else:
        name = str(getattr(target, "name", None) or "y")
        warn_reordered_target(data, target, name)
        y = target_series(target, name)  # a column vector warns, as fit's
    if isinstance(groups, str):
        _column(data, groups, "groups")
        group_values = data[groups].to_numpy()
        drop.append(groups)
    else:
        group_values = groups
    if isinstance(sample_weight, str):
        _column(data, sample_weight, "sample_weight")
        weight_values = data[sample_weight]
        drop.append(sample_weight)
    else:
        weight_values = sample_weight
    X = data.drop(columns=drop) if drop else data
    task = validate_task_name(task)
    if task is None:
        known = y.dropna()
        task = infer_task(known) if len(known) else "binary"
    unknown = [name for name in settings if name not in setting_names()]
    if unknown:
        raise InputTypeError([unknown_name_message("setting", name, setting_names()) for name in unknown])
    settings.update(image_shape=image_shape)
    for name in setting_names():  # the one-call defaults (tracking on) where they differ from the classes'
        if setting(name).fit_default != SAME:
            settings.setdefault(name, setting(name).fit_default)
    if task == "regression":
        if settings.pop("pos_label", None) is not None:
            raise InvalidParameterError("pos_label applies to a binary target, but this one is regression (numbers); "
                                        "leave pos_label out, or pass task='binary'")
        model: AutoMLClassifier | AutoMLRegressor = AutoMLRegressor(**settings)
    else:
        model = AutoMLClassifier(task=task, **settings)
    return model, X, y, {"groups": group_values, "sample_weight": weight_values}


def load(path: str | os.PathLike, *, check_versions: bool = True,
         digest: str | None = None) -> AutoMLClassifier | AutoMLRegressor:
    """Load a model saved with ``model.save(path)``.

    Before anything is unpickled, every file is checked (inside the folder, no links,
    SHA-256 as in the manifest) and so are the package versions; ``check_versions=False``
    loads a model saved with other versions anyway. The bytes checked are the bytes loaded,
    and a folder re-saved by another process while it is read is read again.

    The SHA-256 hashes catch damage, not an attacker, who can rewrite the manifest too.
    Pin ``digest=automl.model_digest(path)`` (taken right after saving, kept where the folder's
    writers cannot change it): the folder is then loaded only if it is exactly the one pinned.

    Args:
        path: The model folder.
        check_versions: Refuse a model saved with other package versions (the default).
        digest: ``"sha256:<hex>"``, the pinned digest of the folder (the SHA-256 of its
            ``manifest.json``, which lists every file's SHA-256), or None not to check it.

    Raises:
        ModelFileError: the folder is not a saved model, a file is missing, changed, outside
            the folder or a link, the manifest is malformed, the folder's digest is not the
            pinned one, or the versions differ (all problems listed).
        InvalidParameterError: ``digest`` is not ``"sha256:"`` and 64 hex digits.
    """
    from automl.persistence import load_model

    return load_model(path, check_versions=check_versions, digest=digest)
