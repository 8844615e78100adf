"""Stage 1: settings and data → a :class:`Problem`, with everything that can be refused refused here.

Validates the frame (typed errors naming the column), infers the task and metric, freezes the
schema, resolves the families and their spaces (bounds adapted to the rows of a fold, then
the user's overrides), plans the folds and fingerprints the lot. Nothing is written: no
study, no run, no file exists before this stage has passed.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from automl.config import resolve_settings
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> problem = prepare_problem(resolve_settings({"cv": 3, "families": ["knn"]}, "classifier"), X, y)
    >>> problem.task, problem.metric.name, problem.plan.description, len(problem.splits)
    ('multiclass', 'log_loss', 'stratified_kfold:3', 3)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl._warnings import warn_user
from automl.config import FitSettings
from automl.data.images import as_image_frame
from automl.data.schema import Schema
from automl.data.task import encode_labels
from automl.data.validation import TrainingData, coerce_features, screen_features, validate_training_data
from automl.evaluation.cross_validation import Evaluator, cap_validation_rows, probe_fraction_for
from automl.evaluation.metrics import Metric, default_metric, get_metric, report_metrics
from automl.evaluation.splitters import CVPlan, make_cv_plan
from automl.exceptions import DataValidationError, InvalidParameterError
from automl.families.base import ModelFamily
from automl.families.registry import resolve_families
from automl.spaces import SearchSpace
from automl.spaces.overrides import family_space, load_overrides

__all__ = ["Problem", "fingerprint", "prepare_problem", "resolve_n_jobs"]


def resolve_n_jobs(n_jobs: int) -> int:
    """Threads to use: ``-1`` is every core, ``-2`` all but one, and so on.

    Example:
        >>> resolve_n_jobs(1)
        1
    """
    import os

    cores = os.cpu_count() or 1
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)


@dataclass(frozen=True)
class Problem:
    """What a search runs on: validated data and every decision that follows from it.

    Attributes:
        settings: The fit's settings.
        data: The validated training data (features as given, target, groups, weights).
        task: ``binary``, ``multiclass`` or ``regression``.
        metric: The metric optimised.
        metrics: Every reported metric (``metric`` first).
        families: The families searched, in the order their defaults run.
        spaces: Search space per family (adapted to the data size, then overridden).
        plan: The cross-validation plan.
        schema: The frozen schema of the features.
        X: The canonical feature frame (all rows).
        y: The encoded target.
        classes: The original class labels (None for regression).
        splits: The folds, drawn once.
        evaluator: Runs the folds for one configuration.
        image_shape: ``(height, width, channels)`` for image data, else None.
        fingerprint: Hash of the data and settings (a stored study must match it).
    """

    settings: FitSettings
    data: TrainingData
    task: str
    metric: Metric
    metrics: list[Metric]
    families: list[ModelFamily]
    spaces: dict[str, SearchSpace]
    plan: CVPlan
    schema: Schema
    X: pd.DataFrame
    y: np.ndarray
    classes: Any
    splits: list[tuple[np.ndarray, np.ndarray]]
    evaluator: Evaluator
    image_shape: tuple[int, int, int] | None
    fingerprint: str

    @property
    def train_rows(self) -> float:
        """Mean rows of a training part."""
        return float(np.mean([len(train) for train, _ in self.splits]))

    @property
    def refit_scale(self) -> float:
        """All rows over a training part's rows (how much bigger the refit is than a fold)."""
        return len(self.y) / max(self.train_rows, 1.0)

    @property
    def test_fraction(self) -> float:
        """Mean share of the rows a validation part holds (for the corrected t-test)."""
        return float(np.mean([len(valid) for _, valid in self.splits])) / max(len(self.y), 1)


def _group_column(settings: FitSettings, X: Any, groups: Any) -> tuple[Any, Any]:
    """``cv="group:COLUMN"``: the groups come from that column of ``X``, which leaves the features."""
    column = settings.cv.column
    if column is None:
        return X, groups
    if groups is not None:
        raise InvalidParameterError(f"cv='group:{column}' names the group column; do not pass groups= as well")
    if not isinstance(X, pd.DataFrame) or column not in X.columns:
        from automl._suggest import unknown_name_message

        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else []
        raise DataValidationError(f"cv='group:{column}' (the group column): {unknown_name_message('column', column, names)}")
    return X.drop(columns=[column]), X[column].to_numpy()


def _validated(settings: FitSettings, X: Any, y: Any, groups: Any, sample_weight: Any,
               ) -> tuple[TrainingData, list[str], tuple[int, int, int] | None]:
    X, groups = _group_column(settings, X, groups)
    X, image_shape = as_image_frame(X, settings.image_shape)
    X = coerce_features(X)
    classifier = settings.estimator == "classifier"
    task = settings.task if classifier else "regression" if settings.estimator == "regressor" else settings.task
    data = validate_training_data(
        X, y, target_name=str(getattr(y, "name", None) or "y"), task=task, groups=groups,
        classifier=classifier if settings.estimator != "any" else None, sample_weight=sample_weight,
    )
    data.X, dropped = screen_features(data.X, data.y, drop_constant=image_shape is None)
    if data.X.shape[1] == 0:
        raise DataValidationError(
            f"every feature column is constant ({dropped}); a model needs at least one column that varies"
        )
    return data, dropped, image_shape


def _families_and_overrides(settings: FitSettings, data: TrainingData, image: bool,
                            ) -> tuple[list[ModelFamily], dict[str, Any]]:
    families = resolve_families(settings.families, data.task, "image" if image else "table",
                                weighted=data.weights is not None)
    overrides = load_overrides(settings.search_space)
    unknown = [name for name in overrides if name not in {f.name for f in families}]
    if unknown:
        raise InvalidParameterError(
            f"search_space names families not in this search: {unknown}; searched: {[f.name for f in families]}"
        )
    return families, overrides


def _plan(settings: FitSettings, data: TrainingData, task: str) -> CVPlan:
    seed = 0 if settings.seed is None else int(settings.seed)
    # a stored study keeps budget-free folds, so that it can be resumed under another budget
    budget = None if settings.study_name is not None else settings.budget_seconds
    plan = make_cv_plan(settings.cv, task, seed=seed, has_groups=data.groups is not None, y=data.y,
                        time_budget=budget, n_columns=data.X.shape[1])
    problems = plan.data_problems(data.y, task, data.groups)
    if problems:
        raise DataValidationError(problems)
    for message in plan.data_warnings(data.y, task):
        warn_user(message)
    return plan


def prepare_problem(settings: FitSettings, X: Any, y: Any, groups: Any = None, sample_weight: Any = None) -> Problem:
    """Validate the data against the settings and decide everything the search needs (nothing is written).

    Raises:
        DataValidationError: the data cannot be used (all problems listed).
        InvalidParameterError: a setting does not fit the data (e.g. overrides of a family not searched).
        FamilyUnavailableError: a family named needs a package that is not installed.
    """
    data, dropped, image_shape = _validated(settings, X, y, groups, sample_weight)
    task = data.task
    metric = get_metric(settings.metric, task) if settings.metric is not None else default_metric(task)
    families, overrides = _families_and_overrides(settings, data, image_shape is not None)
    plan = _plan(settings, data, task)
    schema = dataclasses.replace(Schema.from_frame(data.X), ignored=tuple(dropped))
    X_canonical = schema.transform(data.X, warn=False)
    if task == "regression":
        y_model, classes = data.y.to_numpy(dtype="float64"), None
    else:
        y_model, classes = encode_labels(data.y)
    seed = 0 if settings.seed is None else int(settings.seed)
    groups = None
    if data.groups is not None and (plan.needs_groups or settings.cv.kind == "splitter"):
        groups = data.groups.to_numpy()
    splits = plan.splits(len(y_model), y_model, groups)
    splits = cap_validation_rows(splits, y_model, seed, task != "regression")
    train_rows = int(np.mean([len(train) for train, _ in splits]))  # bounds follow the rows of a training fold
    spaces = {f.name: family_space(f, train_rows, overrides.get(f.name)) for f in families}
    metrics = report_metrics(task, metric)
    probing = settings.pruner not in (None, "none") or settings.time_budget
    evaluator = Evaluator(
        metrics, splits, task=task, n_classes=0 if classes is None else len(classes), classes=classes, seed=seed,
        n_jobs=resolve_n_jobs(settings.n_jobs), device=settings.device, image_shape=image_shape,
        weights=data.weights, probe_fraction=probe_fraction_for(train_rows) if probing else None,
    )
    return Problem(
        settings=settings, data=data, task=task, metric=metric, metrics=metrics, families=families, spaces=spaces,
        plan=plan, schema=schema, X=X_canonical, y=y_model, classes=classes, splits=splits, evaluator=evaluator,
        image_shape=image_shape,
        fingerprint=fingerprint(X_canonical, y_model, task, metric.name, plan.description, spaces, image_shape,
                                data.weights),
    )


def fingerprint(X: pd.DataFrame, y: np.ndarray, task: str, metric: str, cv: str, spaces: Mapping[str, Any],
                image_shape: Sequence[int] | None = None, weights: np.ndarray | None = None) -> str:
    """The hash of the data and settings a stored study is made for (part of the stored-study format).

    Example:
        >>> X = pd.DataFrame({"a": [1.0, 2.0]})
        >>> fingerprint(X, np.array([0, 1]), "binary", "roc_auc", "kfold:2", {}) == fingerprint(
        ...     X, np.array([0, 1]), "binary", "roc_auc", "kfold:2", {})
        True
    """
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    if weights is not None:
        digest.update(b"weights" + np.ascontiguousarray(weights).tobytes())
    settings: dict[str, Any] = {
        "columns": list(X.columns), "task": task, "metric": metric, "cv": cv,
        "spaces": {k: v.to_dict() for k, v in sorted(spaces.items())},
    }
    if image_shape is not None:
        settings["image_shape"] = list(image_shape)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()
