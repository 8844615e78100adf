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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl._device import missing_cuda_problems
from automl._setting_checks import limit_problems, sqlite_folder_problems, tracking_uri_problems
from automl._warnings import warn_user
from automl.config import FitSettings
from automl.data.images import as_image_frame
from automl.data.schema import Schema
from automl.data.target import TARGET_PARAM_NAME
from automl.data.text import role_problems, text_cells, text_columns
from automl.data.task import encode_labels
from automl.data.screening import screen_features
from automl.data.validation import TrainingData, coerce_features, validate_training_data
from automl.evaluation.cross_validation import Evaluator, cap_validation_rows, probe_fraction_for
from automl.calibration import calibrate_problems
from automl.evaluation.metrics import Metric, default_metric, get_metric, report_metrics
from automl.evaluation.splitters import CVPlan, count_groups, make_cv_plan
from automl._fit.fingerprint import fingerprint, fingerprint_and_parts
from automl._fit.early_checks import (
    Findings, callable_metric_problems, combined_error, model_problems, positive_class, split_problems, valid_settings,
    ignored_groups_warnings, time_order_warnings, weight_problems,
)
from automl.exceptions import (
    AutoMLError, DataValidationError, FamilyUnavailableError, FamilyUnavailableSettingError, InvalidParameterError,
    SearchSpaceError, SearchSpaceSettingError,
)
from automl.families.base import BuildContext, ModelFamily
from automl.families.pipeline import TEXT_PARAMS, target_spaces, text_override_problems, with_text_params
from automl.families.registry import get_family, registered_families, resolve_families
from automl.spaces import SearchSpace
from automl.spaces.overrides import apply_overrides, family_space, load_overrides

__all__ = ["Problem", "available_cores", "checked_settings", "fingerprint", "prepare_problem", "resolve_n_jobs",
           "validated_data", "with_setting_problems"]


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a container's cpuset, a pinned test
    worker), which ``os.cpu_count()`` ignores; every core where the system has no affinity call.

    Example:
        >>> available_cores() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``-1`` is every core this process may run on (:func:`available_cores`), ``-2`` all but
    one, and so on; None is 1 (scikit-learn's meaning outside a joblib context).

    Example:
        >>> resolve_n_jobs(1), resolve_n_jobs(None)
        (1, 1)
    """
    if n_jobs is None:
        return 1
    return n_jobs if n_jobs > 0 else max(1, available_cores() + 1 + n_jobs)


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
        fingerprint_parts: What the fingerprint covers, part by part (:func:`fingerprint_parts`), so that a study
            made for other data or settings can say which differ.
        pos_label: The positive class of a binary target (the metrics read it), else None.
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
    pos_label: Any = None
    fingerprint_parts: Mapping[str, str] = dataclasses.field(default_factory=dict)

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


def _group_column(settings: FitSettings, X: Any, y: Any, groups: Any) -> tuple[Any, Any]:
    """``cv="group:COLUMN"``: the groups come from that column of ``X``, which leaves the features."""
    column = settings.cv.column
    if column is None:
        return X, groups
    if groups is not None:
        raise InvalidParameterError(f"cv='group:{column}' names the group column; do not pass groups= as well")
    if column == getattr(y, "name", None) and not (isinstance(X, pd.DataFrame) and column in X.columns):
        raise InvalidParameterError(
            f"cv='group:{column}': {column!r} is the target, and the target cannot be the groups column (the column "
            "whose values keep rows together in one fold); pass cv='group:COLUMN' with another column, such as a "
            "customer or patient id")
    if not isinstance(X, pd.DataFrame) or column not in X.columns:
        from automl._suggest import unknown_name_message

        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else []
        raise DataValidationError(f"cv='group:{column}' (the group column): {unknown_name_message('column', column, names)}")
    return X.drop(columns=[column]), X[column].to_numpy()


def validated_data(settings: FitSettings, X: Any, y: Any, groups: Any, sample_weight: Any,
                   ) -> tuple[TrainingData, list[str], tuple[int, int, int] | None]:
    """The data validated against the settings: ``(data, dropped constant columns, image shape)``.

    Raises:
        DataValidationError: every problem of the data, listed.
    """
    X, groups = _group_column(settings, X, y, groups)
    X, image_shape = as_image_frame(X, settings.image_shape)
    X = coerce_features(X)
    classifier = settings.estimator == "classifier"
    task = settings.task if classifier else "regression" if settings.estimator == "regressor" else settings.task
    data = validate_training_data(
        X, y, target_name=str(getattr(y, "name", None) or "y"), task=task, groups=groups,
        classifier=classifier if settings.estimator != "any" else None, sample_weight=sample_weight,
    )
    roles = settings.get("column_roles")
    problems = role_problems(data.X, roles, target=str(getattr(y, "name", None) or "y"))
    if problems:
        raise InvalidParameterError(problems)
    data.text = tuple(text_columns(data.X, roles)) if image_shape is None else ()
    data.inputs = tuple(str(c) for c in data.X.columns)
    data.X, dropped = screen_features(data.X, data.y, drop_constant=image_shape is None, free_text=data.text)
    data.text = tuple(c for c in data.text if c not in dropped)
    if data.X.shape[1] == 0:
        raise DataValidationError(
            f"every feature column is constant ({dropped}); a model needs at least one column that varies"
        )
    problems = weight_problems(data.weights)
    if problems:
        raise DataValidationError(problems)
    return data, dropped, image_shape


def _families(settings: FitSettings, data: TrainingData, image: bool) -> list[ModelFamily]:
    try:
        families = resolve_families(settings.families, data.task, "image" if image else "table",
                                    weighted=data.weights is not None)
    except FamilyUnavailableError as exc:  # a setting refused: an InvalidParameterError too
        raise FamilyUnavailableSettingError(str(exc)) from None
    problems: list[str] = []
    for family in families:
        try:
            space = family.space()
            if not isinstance(space, SearchSpace):
                raise SearchSpaceError(f"family {family.name!r}: its search space is a {type(space).__name__}, "
                                       "not an automl.spaces.SearchSpace")
            space.validate()
        except AutoMLError as exc:
            problems += getattr(exc, "problems", [str(exc)])
    if problems:
        raise SearchSpaceError(problems)
    return families


def _overrides(settings: FitSettings, families: Sequence[ModelFamily] | None) -> dict[str, Any]:
    """The ``search_space=`` overrides, their family names checked against the families searched."""
    from automl._suggest import close_names

    try:
        overrides = load_overrides(settings.search_space)
    except SearchSpaceError as exc:
        raise SearchSpaceSettingError(exc.problems) from None
    searched = [f.name for f in families] if families is not None else None
    problems = []
    for name in overrides:
        if searched is not None and name not in searched:
            hint = close_names(name, searched) if isinstance(name, str) else []
            tail = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"search_space names family {name!r}, which is not in this search{tail}; "
                            f"searched: {searched}")
        elif not isinstance(overrides[name], Mapping):
            problems.append(f"search_space[{name!r}] must map parameter names to a value or {{low, high, ...}}, "
                            f"got {type(overrides[name]).__name__} {overrides[name]!r}")
        elif isinstance(name, str) and name in registered_families():  # the values, whatever the data
            if TARGET_PARAM_NAME in overrides[name]:
                problems.append(f"search_space[{name!r}] sets {TARGET_PARAM_NAME!r}, which is not a family's "
                                f"parameter: the target's scale is the setting {TARGET_PARAM_NAME}= (for every "
                                f"family), e.g. {TARGET_PARAM_NAME}={overrides[name][TARGET_PARAM_NAME]!r}")
            try:
                family = get_family(name)
                with_text_params(family.space()).with_overrides(  # text_*: checked against the data in _spaces
                    {k: v for k, v in overrides[name].items() if k != TARGET_PARAM_NAME},
                    source=f"search_space[{name!r}]", pin_choices=family.pin_choices)
            except AutoMLError as exc:
                problems += getattr(exc, "problems", [str(exc)])
    if problems:
        raise SearchSpaceSettingError(problems)
    return overrides


def _plan(settings: FitSettings, data: TrainingData, task: str) -> CVPlan:
    seed = 0 if settings.seed is None else int(settings.seed)
    # a stored study keeps budget-free folds, so that it can be resumed under another budget
    budget = None if settings.study_name is not None else settings.budget_seconds
    columns = data.X.shape[1] + sum(text_cells(data.X[name]) - 1.0 for name in data.text)  # text: by its length
    plan = make_cv_plan(settings.cv, task, seed=seed, has_groups=data.groups is not None, y=data.y,
                        time_budget=budget, n_columns=columns,
                        n_groups=None if data.groups is None else count_groups(data.groups))
    problems = plan.data_problems(data.y, task, data.groups)
    if problems:
        raise DataValidationError(problems)
    for message in (plan.data_warnings(data.y, task) + time_order_warnings(plan, data.X)
                    + ignored_groups_warnings(plan, data.groups)):
        warn_user(message)
    return plan


def _spaces(families: Sequence[ModelFamily], overrides: Mapping[str, Any], train_rows: int,
            context: BuildContext, text: bool = False) -> dict[str, SearchSpace]:
    """Each family's space for ``train_rows`` with the overrides (and, for data with free text, the text
    encoder's parameters, which overrides may pin or narrow too); every value refused is reported at once."""
    spaces: dict[str, SearchSpace] = {}
    problems: list[str] = []
    text_names = {p.name for p in TEXT_PARAMS}
    for family in families:
        own = {k: v for k, v in (overrides.get(family.name) or {}).items() if k not in text_names}
        for_text = {k: v for k, v in (overrides.get(family.name) or {}).items() if k in text_names}
        if for_text and not text:
            problems.append(f"search_space[{family.name!r}] sets {sorted(for_text)}, but the data has no free-text "
                            "column; leave them out (or give the column the text role: column_roles)")
        try:
            spaces[family.name] = family_space(family, train_rows, own)
            if own:
                problems += model_problems(family, spaces[family.name], list(own), context)
            if text:
                spaces[family.name] = apply_overrides(with_text_params(spaces[family.name]), for_text,
                                                      f"search_space[{family.name!r}]")
                problems += text_override_problems(spaces[family.name], for_text, f"search_space[{family.name!r}]: ")
        except SearchSpaceError as exc:
            problems += exc.problems
    if problems:
        raise SearchSpaceSettingError(problems)
    return spaces


def _first_stage(settings: FitSettings, X: Any, y: Any, groups: Any, sample_weight: Any, found: Findings,
                 ) -> tuple[Any, Metric | None, list[ModelFamily] | None, dict[str, Any]]:
    """The checks that need only the settings and the data: ``(validated, metric, families, overrides)``."""
    validated = None
    with found.catch():
        validated = validated_data(settings, X, y, groups, sample_weight)
    task = validated[0].task if validated is not None else settings.get("task")
    metric, families, overrides = None, None, {}
    limits = limit_problems(settings.trial_timeout, settings.trial_memory_limit)
    if settings.tracking_on and settings.tracking in (None, True):
        limits += tracking_uri_problems(settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))
    limits += sqlite_folder_problems("storage", settings.storage)
    if limits:
        found.add(InvalidParameterError(limits))
    with found.catch():
        if task is not None:
            metric = get_metric(settings.metric, task) if settings.metric is not None else default_metric(task)
    if validated is not None:
        with found.catch():
            families = _families(settings, validated[0], validated[2] is not None)
        cuda = missing_cuda_problems(settings.device, [f.name for f in families or () if "torch" in f.requires])
        if cuda:
            found.add(InvalidParameterError(cuda))
    with found.catch():
        overrides = _overrides(settings, families)
    return validated, metric, families, overrides


def _folds(settings: FitSettings, data: TrainingData, y_model: np.ndarray, found: Findings,
           ) -> tuple[CVPlan | None, list[tuple[np.ndarray, np.ndarray]]]:
    plan, splits = None, []
    with found.catch():
        plan = _plan(settings, data, data.task)
        groups = None
        if data.groups is not None and (plan.needs_groups or settings.cv.kind == "splitter"):
            groups = data.groups.to_numpy()
        seed = 0 if settings.seed is None else int(settings.seed)
        splits = cap_validation_rows(plan.splits(len(y_model), y_model, groups), y_model, seed,
                                     data.task != "regression")
    return plan, splits


def prepare_problem(settings: FitSettings, X: Any, y: Any, groups: Any = None, sample_weight: Any = None) -> Problem:
    """Validate the data against the settings and decide everything the search needs (nothing is written).

    Every check whose inputs are there runs, and one error lists all their problems
    (:func:`~automl._fit.early_checks.combined_error`): the data's, the metric's, the families',
    the overrides' (each value the family's estimator refuses) and the folds' (a metric they
    cannot score, a training part of a single class).

    Raises:
        DataValidationError: the data cannot be used (all problems listed).
        InvalidParameterError: a setting does not fit the data (e.g. overrides of a family not searched).
        InvalidInputError: both kinds at once (it is a DataValidationError and an InvalidParameterError).
        FamilyUnavailableError: a family named needs a package that is not installed.
    """
    found = Findings()
    validated, metric, families, overrides = _first_stage(settings, X, y, groups, sample_weight, found)
    if validated is None:
        found.raise_all()
    data, dropped, image_shape = validated
    task = data.task
    schema = dataclasses.replace(Schema.from_frame(data.X, text=data.text), ignored=tuple(dropped), inputs=data.inputs)
    X_canonical = schema.transform(data.X, warn=False)
    if task == "regression":
        y_model, classes = data.y.to_numpy(dtype="float64"), None
    else:
        y_model, classes = encode_labels(data.y)
    if calibrate_problems(settings.calibrate, task):
        found.add(InvalidParameterError(calibrate_problems(settings.calibrate, task)))
    pos_label, positive = None, 1
    with found.catch():
        pos_label, positive = positive_class(settings.get("pos_label"), y_model, classes, task)
    metric = metric.for_positive(positive) if metric is not None else None
    plan, splits = _folds(settings, data, y_model, found)
    train_rows = int(np.mean([len(train) for train, _ in splits])) if splits else len(y_model)
    if plan is not None and metric is not None:
        problems = split_problems(splits, y_model, task, metric, classes, data.weights, plan.description,
                                  lenient=plan.lenient_classes)
        if problems:
            found.add(DataValidationError(problems))
        elif callable_metric_problems(metric, y_model, splits, task, classes, data.weights):
            found.add(InvalidParameterError(callable_metric_problems(metric, y_model, splits, task, classes,
                                                                     data.weights)))
    seed = 0 if settings.seed is None else int(settings.seed)
    context = BuildContext(task=task, n_classes=0 if classes is None else len(classes), n_rows=train_rows,
                           n_features=X_canonical.shape[1], seed=seed, n_jobs=1, device=settings.device,
                           image_shape=image_shape)
    spaces: dict[str, SearchSpace] = {}
    if families is not None:
        with found.catch():
            spaces = _spaces(families, overrides, train_rows, context, text=bool(data.text))
        with found.catch():
            spaces = target_spaces(settings.target_transform, task, y_model, spaces)
    found.raise_all()
    assert plan is not None and metric is not None and families is not None
    metrics = report_metrics(task, metric, positive)
    probing = settings.pruner not in (None, "none") or settings.time_budget
    evaluator = Evaluator(
        metrics, splits, task=task, n_classes=0 if classes is None else len(classes), classes=classes, seed=seed,
        n_jobs=resolve_n_jobs(settings.n_jobs), device=settings.device, image_shape=image_shape,
        weights=data.weights, probe_fraction=probe_fraction_for(train_rows) if probing else None,
    )
    digest, parts = fingerprint_and_parts(X_canonical, y_model, task, _metric_key(metric, positive), plan.description,
                                          spaces, image_shape, data.weights)
    problem = Problem(
        settings=settings, data=data, task=task, metric=metric, metrics=metrics, families=families, spaces=spaces,
        plan=plan, schema=schema, X=X_canonical, y=y_model, classes=classes, splits=splits, evaluator=evaluator,
        image_shape=image_shape, pos_label=pos_label,
        fingerprint=digest, fingerprint_parts=parts,
    )
    from automl._fit.stack import why_not_stacked

    if settings.stack is True and (why := why_not_stacked(problem)):  # asked for by name: said before the search
        warn_user(f"stack=True: no second level over the blend will be built, for {why}")
    return problem


def _metric_key(metric: Metric, positive: int) -> str:
    """The metric as the fingerprint names it: with ``@0`` when its value is about encoded class 0
    (f1, precision, recall with ``pos_label`` the first class); the stored studies of before stay valid."""
    return metric.name + ("@0" if positive == 0 and metric.name in ("f1", "precision", "recall") else "")


def checked_settings(params: Mapping[str, Any], estimator: str, X: Any, y: Any, groups: Any = None,
                     sample_weight: Any = None) -> FitSettings:
    """:func:`automl.config.resolve_settings`; when it refuses settings, the data is validated too (with the
    settings that are valid) and one error lists the settings' problems and the data's.

    Raises:
        InvalidParameterError: settings refused (the data has no problem).
        InvalidInputError: settings and data refused (both listed).
    """
    from automl.config import resolve_settings

    try:
        return resolve_settings(params, estimator)
    except InvalidParameterError as exc:
        refused = exc
    try:
        settings = resolve_settings(valid_settings(params, estimator), estimator)
    except AutoMLError:
        raise refused from None
    found = Findings()
    found.add(refused)
    with found.catch():
        validated_data(settings, X, y, groups, sample_weight)
    raise combined_error(found.errors) from None


def with_setting_problems(error: BaseException, params: Mapping[str, Any]) -> BaseException:
    """``error`` (the data's problems, found first), or one error listing it and the problems of the
    settings ``params`` (as :func:`automl.fit` takes them)."""
    from automl.config import resolve_settings

    try:
        resolve_settings(params)
    except InvalidParameterError as refused:
        return combined_error([refused, error])
    except AutoMLError:  # a setting that does not exist: the data's error stands
        return error
    return error
