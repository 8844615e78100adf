"""``AutoMLClassifier`` and ``AutoMLRegressor``: scikit-learn estimators around the search.

``fit`` validates everything first (nothing is written before the data and
settings pass), runs the cross-validated Optuna search and refits the best
configuration on all rows.

Example:
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = AutoMLClassifier(n_trials=3, families=["linear", "knn"], cv=3).fit(X, y)
    >>> clf.predict(X.head(2)).tolist()
    [0, 0]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import Tags

from automl._params import resolve_n_jobs, settings_problems
from automl.data.images import as_image_frame
from automl.data.schema import Schema
from automl.data.task import encode_labels, validate_task_name
from automl.data.validation import coerce_features, screen_features, validate_training_data
from automl.evaluation.cross_validation import Evaluator, cap_validation_rows, probe_fraction_for, subsample
from automl.evaluation.metrics import default_metric, get_metric, report_metrics
from automl.evaluation.splitters import make_cv_plan
from automl.exceptions import (
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
    SearchSpaceError,
)
from automl.families.registry import resolve_families
from automl.search.budget import Budget
from automl.ensemble import EnsembleModel, plan_ensemble, refit_config
from automl.search.leaderboard import ATTR_FIT_TIME, ATTR_FRACTION, ATTR_SCORES, finite_mean_std, leaderboard, mark_significance
from automl.search.runner import Search, trial_seed
from automl.search.storage import describe_storage

__all__ = ["AutoMLClassifier", "AutoMLRegressor"]

logger = logging.getLogger("automl")
DEFAULT_TIME_BUDGET = 60.0
#: Seconds kept at the end of a tracked fit for plots, artifacts and the pyfunc model.
TRACKING_RESERVE = 8.0
#: With ``ensemble=True`` the search ends early enough to refit this many more models like the best
#: one (the ensemble's members; fewer, cheaper or none are refitted when time is short).
ENSEMBLE_REFIT_FACTOR = 2.0


def _family_space(family: Any, train_rows: int, overrides: Mapping[str, Any] | None) -> Any:
    """``family``'s space adapted to ``train_rows``, then the user's overrides (a parameter the
    user overrides keeps its built-in bounds underneath: the user's choice wins)."""
    space = family.space_for(train_rows)
    if not overrides:
        return space
    original = family.space()
    params = tuple(original[p.name] if p.name in overrides and p.name in original.names else p for p in space.params)
    return dataclasses.replace(space, params=params).with_overrides(
        overrides, source=f"search_space[{family.name!r}]"
    )


def _load_overrides(search_space: object) -> dict[str, Any]:
    if search_space is None:
        return {}
    if isinstance(search_space, (str, os.PathLike)):
        path = os.fspath(search_space)
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except OSError as exc:
            raise SearchSpaceError(f"search_space={path!r} cannot be read: {exc}") from exc
        if not isinstance(data, Mapping):
            raise SearchSpaceError(f"{path}: must map family names to parameter overrides")
        return dict(data)
    return dict(search_space)  # type: ignore[arg-type]


@dataclass
class _Prepared:
    """Validated data and settings, ready for a search."""

    data: Any
    task: str
    metric: Any
    metrics: list[Any]
    families: list[Any]
    spaces: dict[str, Any]
    plan: Any
    schema: Schema
    X: pd.DataFrame
    y: np.ndarray
    classes: Any
    splits: list[Any]
    evaluator: Evaluator
    image_shape: Any


class _AutoMLBase(BaseEstimator):
    """What the classifier and regressor share; see :class:`AutoMLClassifier` for the arguments."""

    _is_classifier: bool = False

    def _settings(self) -> dict[str, Any]:
        return self.get_params(deep=False)

    # -- fit --------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, groups: Any = None, sample_weight: Any = None) -> _AutoMLBase:
        """Search the families under cross-validation, then refit the best on all rows.

        Args:
            X: Features: a pandas DataFrame (numeric, bool, string, category,
                nullable and datetime columns) or a 2-D array.
            y: Target, one value per row; rows with a missing target are dropped (with a warning).
            groups: Group label per row, for group k-fold.
            sample_weight: Weight of each row (finite, >= 0, not all zero): every fold's
                model trains with its rows' weights, the CV scores are weighted, and so
                is the refit. Families that cannot take weights (``knn``, the nets) are
                left out of the search.

        Returns:
            self, fitted.

        Raises:
            InvalidParameterError: a setting is invalid (all problems listed).
            DataValidationError: the data cannot be used (all problems listed).
            AllTrialsFailedError: every trial failed (reasons grouped by family).
        """
        return self._fit(X, y, groups, sample_weight=sample_weight)

    def _fit(
        self, X: Any, y: Any, groups: Any = None, sweep: Mapping[str, Any] | None = None,
        callbacks: Sequence[Any] = (), sample_weight: Any = None,
    ) -> _AutoMLBase:
        """``fit``, storing ``sweep`` (the settings workers rebuild the search from) on a named study;
        ``callbacks(study, trial)`` run after each trial."""
        started = time.monotonic()
        prep = self._prepare(X, y, groups, sample_weight)
        search = self._make_search(prep, started, role="main", sweep=sweep)
        search.callbacks = list(callbacks)
        if self.ensemble:
            search.budget.ensemble_factor = ENSEMBLE_REFIT_FACTOR
        tracker = self._make_tracker()
        if tracker is not None:
            search.tracker = tracker
            search.budget.extra_reserve = TRACKING_RESERVE
            search.tracker_settings = self._tracking_settings(
                prep.data, prep.task, prep.metric.name, prep.plan.description, prep.families, search.fingerprint,
                search.time_budget, prep.image_shape,
            )
        try:
            result = search.run(prep.X, prep.y)
            self._refit(result, prep.spaces, prep.evaluator, prep.X, prep.y, search)
        except BaseException as exc:
            if tracker is not None:
                status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
                tracker.finish(None, status, {"study": search.study})
            raise
        self.image_shape_ = prep.image_shape
        self._set_fitted(
            result, prep.data, prep.task, prep.metric, prep.schema, prep.classes, prep.plan, prep.metrics, started,
            float(np.mean([len(valid) for _, valid in prep.splits])) / max(len(prep.y), 1),
        )
        if tracker is not None:
            tracker.finish(
                self, "FINISHED",
                {"study": result.study, "spaces": prep.spaces, "y": prep.y, "X_example": prep.data.X.head(5)},
            )
            self.tracking_run_id_ = getattr(tracker, "parent_run_id", None)
            self.tracking_uri_ = getattr(tracker, "tracking_uri", None)
            self.model_uri_ = getattr(tracker, "model_uri", None)
        self.fit_time_ = time.monotonic() - started
        return self

    def _work(
        self, X: Any, y: Any, groups: Any = None, n_trials: int | None = None, callbacks: Sequence[Any] = (),
        sample_weight: Any = None,
    ) -> Any:
        """Join the named study as a worker: run trials until its deadline or target; no refit.

        Returns:
            The :class:`~automl.search.SearchResult` of this worker's trials.
        """
        prep = self._prepare(X, y, groups, sample_weight)
        search = self._make_search(prep, time.monotonic(), role="worker")
        search.n_trials = n_trials
        search.callbacks = list(callbacks)
        tracker = self._make_tracker()
        if tracker is not None:
            tracker.role = "worker"
            search.tracker = tracker
            search.tracker_settings = {"study_name": self.study_name}
        status = "FAILED"
        try:
            result = search.run(prep.X, prep.y)
            status = "FINISHED"
            return result
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            if tracker is not None:
                tracker.finish(None, status, {"study": search.study})

    def _prepare(self, X: Any, y: Any, groups: Any, sample_weight: Any = None) -> _Prepared:
        """Validate the settings and the data and build the evaluator (nothing is written)."""
        problems = settings_problems(self._settings())
        task = validate_task_name(getattr(self, "task", None)) if self._is_classifier else "regression"
        if task == "regression" and self._is_classifier:
            problems.append("AutoMLClassifier cannot do regression; use AutoMLRegressor or task=None")
        if problems:
            raise InvalidParameterError(problems)
        X, image_shape = as_image_frame(X, self.image_shape)
        X = coerce_features(X)
        target_name = str(getattr(y, "name", None) or "y")
        data = validate_training_data(
            X, y, target_name=target_name, task=task, groups=groups, classifier=self._is_classifier,
            sample_weight=sample_weight,
        )
        task = data.task
        data.X, dropped = screen_features(data.X, data.y, drop_constant=image_shape is None)
        if data.X.shape[1] == 0:
            raise DataValidationError(
                f"every feature column is constant ({dropped}); a model needs at least one column that varies"
            )
        metric = get_metric(self.metric, task) if self.metric is not None else default_metric(task)
        families = resolve_families(
            self.families, task, "image" if image_shape else "table", weighted=data.weights is not None
        )
        overrides = _load_overrides(self.search_space)
        unknown = [name for name in overrides if name not in {f.name for f in families}]
        if unknown:
            raise InvalidParameterError(
                f"search_space names families not in this search: {unknown}; searched: {[f.name for f in families]}"
            )
        seed = 0 if self.seed is None else int(self.seed)
        plan = make_cv_plan(
            self.cv, task, seed=seed, has_groups=data.groups is not None, y=data.y,
            time_budget=self._planning_budget(), n_columns=data.X.shape[1],
        )
        data_problems = plan.data_problems(data.y, task, data.groups)
        if data_problems:
            raise DataValidationError(data_problems)
        for message in plan.data_warnings(data.y, task):
            warnings.warn(message, UserWarning, stacklevel=4)

        schema = dataclasses.replace(Schema.from_frame(data.X), ignored=tuple(dropped))
        X_canonical = schema.transform(data.X, warn=False)
        if task == "regression":
            y_model = data.y.to_numpy(dtype="float64")
            classes = None
        else:
            y_model, classes = encode_labels(data.y)
        splits = plan.splits(len(y_model), y_model, None if data.groups is None else data.groups.to_numpy())
        splits = cap_validation_rows(splits, y_model, seed, task != "regression")
        # bounds follow the rows of a training fold (e.g. leaf sizes); the user's overrides come last
        train_rows = int(np.mean([len(train) for train, _ in splits]))
        spaces = {f.name: _family_space(f, train_rows, overrides.get(f.name)) for f in families}
        metrics = report_metrics(task, metric)
        evaluator = Evaluator(
            metrics, splits, task=task, n_classes=0 if classes is None else len(classes),
            classes=classes, seed=seed, n_jobs=resolve_n_jobs(self.n_jobs), device=self.device,
            image_shape=image_shape, weights=data.weights,
            probe_fraction=probe_fraction_for(train_rows) if self.pruner not in (None, "none") or self.time_budget else None,
        )
        return _Prepared(
            data=data, task=task, metric=metric, metrics=metrics, families=families, spaces=spaces, plan=plan,
            schema=schema, X=X_canonical, y=y_model, classes=classes, splits=splits, evaluator=evaluator,
            image_shape=image_shape,
        )

    def _time_budget(self, role: str = "main") -> float | None:
        """The search's time budget: ``time_budget=``, or :data:`DEFAULT_TIME_BUDGET` for a main
        search given neither a budget nor ``n_trials``."""
        if self.time_budget is None and self.n_trials is None and role == "main":
            return DEFAULT_TIME_BUDGET
        return self.time_budget

    def _planning_budget(self) -> float | None:
        """The time budget the default folds follow (None: no budget, or a stored study, whose
        folds must not change when it is resumed under another budget)."""
        return None if self.study_name is not None else self._time_budget()

    def _make_search(
        self, prep: _Prepared, started: float, role: str, sweep: Mapping[str, Any] | None = None
    ) -> Search:
        time_budget = self._time_budget(role)
        train_rows = np.mean([len(tr) for tr, _ in prep.splits])
        return Search(
            prep.evaluator,
            prep.families,
            prep.spaces,
            time_budget=time_budget,
            n_trials=self.n_trials,
            seed=self.seed,
            study_name=self.study_name,
            storage=self.storage,
            pruner=self.pruner,
            fingerprint=self._fingerprint(
                prep.X, prep.y, prep.task, prep.metric.name, prep.plan.description, prep.spaces, prep.image_shape,
                prep.evaluator.weights,
            ),
            budget=Budget(time_budget, started),
            refit_scale=len(prep.y) / max(train_rows, 1.0),
            role=role,
            sweep=sweep,
            isolation=self.isolation,
            trial_timeout=self.trial_timeout,
            trial_memory_limit=self.trial_memory_limit,
        )

    def _refit(
        self, result: Any, spaces: Mapping[str, Any], evaluator: Evaluator, X_canonical: pd.DataFrame,
        y_model: np.ndarray, search: Search | None = None,
    ) -> None:
        best = result.best_trial
        family_name, params, refit_params = refit_config(best, spaces)
        refit_started = time.monotonic()
        self.model_ = self._fit_trial_model(best, family_name, refit_params, evaluator, X_canonical, y_model)
        self.best_trial_ = best.number
        self.best_family_ = family_name
        self.best_params_ = params
        self.refit_params_ = refit_params
        self.best_score_ = float(best.value)
        self.families_used_ = [family_name]
        self.ensemble_ = None
        self.ensemble_time_ = 0.0
        if self.ensemble and search is not None:
            self._ensemble(result, spaces, evaluator, X_canonical, y_model, search)
        self.refit_time_ = time.monotonic() - refit_started - self.ensemble_time_

    def _fit_trial_model(
        self, trial: Any, family_name: str, refit_params: Mapping[str, Any], evaluator: Evaluator,
        X_canonical: pd.DataFrame, y_model: np.ndarray,
    ) -> Any:
        """Refit ``trial``'s configuration on all rows, or on the same share of them its folds
        trained on (a trial the probe sized down to fit the time left)."""
        seed = trial_seed(self.seed, trial.number)
        fraction = float(trial.user_attrs.get(ATTR_FRACTION, 1.0))
        weights = evaluator.weights
        if fraction < 1.0:
            rows = subsample(np.arange(len(y_model)), y_model, fraction, seed, evaluator.task != "regression")
            X_canonical, y_model = X_canonical.iloc[rows], y_model[rows]
            weights = None if weights is None else weights[rows]
        return evaluator.pipeline(family_name, refit_params, seed).fit(X_canonical, y_model, sample_weight=weights)

    def _ensemble(
        self, result: Any, spaces: Mapping[str, Any], evaluator: Evaluator, X_canonical: pd.DataFrame,
        y_model: np.ndarray, search: Search,
    ) -> None:
        """Blend the best trials (greedy selection on their out-of-fold predictions) when that scores
        better than the best trial; refit the other members on all rows, within the time left."""
        started = time.monotonic()
        budget = search.budget
        n_splits = max(len(evaluator.splits), 1)

        def cost(trial: Any) -> float:
            return float(trial.user_attrs.get(ATTR_FIT_TIME, 0.0)) / n_splits * search.refit_scale * 1.2 + 0.05

        def affordable(members: list[Any]) -> bool:
            if budget.seconds is None:
                return True
            left = budget.seconds - budget.elapsed() - budget.extra_reserve
            return sum(cost(t) for t in members if t.number != self.best_trial_) <= left

        plan = plan_ensemble(result.study, result.oof, evaluator, y_model, affordable=affordable)
        selected = time.monotonic()
        if plan is None:
            self.ensemble_time_ = selected - started
            return
        members, trials = [], []
        for trial in plan.trials:
            if trial.number == self.best_trial_:
                members.append(self.model_)
            else:
                family_name, _, refit_params = refit_config(trial, spaces)
                members.append(self._fit_trial_model(trial, family_name, refit_params, evaluator, X_canonical, y_model))
            trials.append(trial.number)
        self.model_ = EnsembleModel(members, plan.counts, trials)
        primary = evaluator.metrics[0].name
        self.ensemble_ = {
            "trials": trials,
            "families": self.model_.families,
            "weights": self.model_.weights,
            "fold_scores": plan.scores,
            "best_trial_fold_scores": plan.single_scores,
            "selection_seconds": selected - started,
            "refit_seconds": time.monotonic() - selected,
        }
        self.best_score_ = finite_mean_std(plan.scores[primary])[0]
        self.families_used_ = sorted(set(self.model_.families))
        self.ensemble_time_ = time.monotonic() - started

    def _set_fitted(
        self, result: Any, data: Any, task: str, metric: Any, schema: Schema, classes: Any, plan: Any,
        metrics: list[Any], started: float, test_fraction: float = 0.2,
    ) -> None:
        self.task_ = task
        self.metric_ = metric
        self.schema_ = schema
        self.target_name_ = str(data.y.name)
        self.feature_names_in_ = np.asarray(schema.names, dtype=object)
        self.n_features_in_ = len(schema.names)
        if classes is not None:
            self.classes_ = classes
        self.cv_ = plan.description
        self.study_ = result.study
        self.study_name_ = result.study.study_name
        self.storage_ = describe_storage(self.storage, self.study_name)
        self.reported_metrics_ = [m.name for m in metrics]
        self.leaderboard_ = leaderboard(result.study, self.reported_metrics_)
        if getattr(self, "ensemble_", None):
            self.leaderboard_ = _with_ensemble_row(self.leaderboard_, self.ensemble_, metric, self.reported_metrics_)
        self.leaderboard_ = self._mark_top(self.leaderboard_, result.study, metric, test_fraction)
        self.oof_predictions_ = result.oof
        self.n_rows_dropped_ = data.n_dropped
        self.search_time_ = result.search_time
        self.fit_time_ = time.monotonic() - started
        logger.info(
            "best: trial %d %s %s=%.5g (%d trials, %.1fs)",
            self.best_trial_, self.best_family_, metric.name, self.best_score_, result.n_new_trials, self.fit_time_,
        )

    def _mark_top(self, board: pd.DataFrame, study: Any, metric: Any, test_fraction: float) -> pd.DataFrame:
        """Mark whether the leaderboard's #1 beats its #2 significantly, on their fold scores."""
        complete = board[board["state"] == "complete"]
        if len(complete) < 2:
            return mark_significance(board, [], [], test_fraction, metric.greater_is_better)
        trials = {t.number: t for t in study.get_trials(deepcopy=False)}

        def folds(row: Any) -> list[float]:
            if pd.isna(row["trial"]):
                return list(self.ensemble_["fold_scores"][metric.name])
            return list(trials[int(row["trial"])].user_attrs.get(ATTR_SCORES, {}).get(metric.name, []))

        return mark_significance(
            board, folds(complete.iloc[0]), folds(complete.iloc[1]), test_fraction, metric.greater_is_better
        )

    def _make_tracker(self) -> Any:
        tracking = self.tracking
        if tracking is None:
            tracking = os.environ.get("AUTOML_TRACKING", "1").strip().lower() not in {"0", "false", "no", "off"}
        if tracking is False:
            return None
        if tracking is True:
            from automl.tracking.mlflow_tracker import MLflowTracker

            return MLflowTracker(self.tracking_uri, register_model=self.register_model)
        return tracking

    def _tracking_settings(
        self, data: Any, task: str, metric: str, cv: str, families: Any, fingerprint: str, time_budget: Any,
        image_shape: Any = None,
    ) -> dict[str, Any]:
        from automl import __version__

        return {
            "study_name": self.study_name,
            "params": {
                "families": ",".join(f.name for f in families),
                "time_budget": time_budget,
                "n_trials": self.n_trials,
                "cv": cv,
                "metric": metric,
                "task": task,
                "seed": self.seed,
                "n_jobs": self.n_jobs,
                "pruner": self.pruner if isinstance(self.pruner, str) else type(self.pruner).__name__,
                "study_name": self.study_name,
                "storage": describe_storage(self.storage, self.study_name),
                "n_rows": len(data.y),
                "n_columns": data.X.shape[1],
                "n_rows_dropped": data.n_dropped,
                "sample_weight": data.weights is not None,
                "device": self.device,
                "image_shape": None if image_shape is None else "x".join(map(str, image_shape)),
                "isolation": self.isolation,
                "trial_timeout": self.trial_timeout,
                "trial_memory_limit": self.trial_memory_limit,
                "ensemble": self.ensemble,
            },
            "tags": {
                "version": __version__,
                "task": task,
                "metric": metric,
                "dataset_fingerprint": fingerprint[:16],
                "target": str(data.y.name),
            },
        }

    @staticmethod
    def _fingerprint(
        X: pd.DataFrame, y: np.ndarray, task: str, metric: str, cv: str, spaces: Mapping[str, Any],
        image_shape: Any = None, weights: np.ndarray | None = None,
    ) -> str:
        digest = hashlib.sha256()
        digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        if weights is not None:
            digest.update(b"weights" + np.ascontiguousarray(weights).tobytes())
        settings = {
            "columns": list(X.columns),
            "task": task,
            "metric": metric,
            "cv": cv,
            "spaces": {k: v.to_dict() for k, v in sorted(spaces.items())},
        }
        if image_shape is not None:
            settings["image_shape"] = list(image_shape)
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
        return digest.hexdigest()

    # -- predict ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, y) (or automl.fit) before using it"
            )

    def _scores(self, X: Any) -> np.ndarray:
        self._check_fitted()
        if getattr(self, "image_shape_", None) is not None and isinstance(X, np.ndarray) and X.ndim in (3, 4):
            X, _ = as_image_frame(X, self.image_shape_)
        if isinstance(X, np.ndarray) and X.ndim == 2:
            if X.shape[1] != self.n_features_in_:
                raise DataValidationError(
                    f"X has {X.shape[1]} columns but the model was fitted on {self.n_features_in_} "
                    f"({list(self.schema_.names)}); pass the same columns, in that order for an array"
                )
            X = pd.DataFrame(X, columns=list(self.schema_.names))  # an array is read in fit's column order
        X = coerce_features(X)
        if self.target_name_ in X.columns and self.target_name_ not in self.schema_.names:
            X = X.drop(columns=[self.target_name_])  # the target itself is not an unexpected column
        canonical = self.schema_.transform(X)
        if len(canonical) == 0:
            width = len(getattr(self, "classes_", [])) if self.task_ != "regression" else 0
            return np.empty((0, width)) if width else np.empty(0)
        return self.model_.predict_scores(canonical)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (as given at fit) or values for the rows of ``X``.

        Columns may come in any order; missing columns raise, listing them;
        extra columns are dropped with a warning (the target column silently);
        unseen categories are treated as missing.
        """
        scores = self._scores(X)
        if self.task_ == "regression":
            return scores
        if len(scores) == 0:
            return self.classes_[:0]
        return self.classes_[np.argmax(scores, axis=1)]

    def _split_target(self, X: Any, y: Any) -> tuple[Any, Any]:
        if y is None:
            if isinstance(X, pd.DataFrame) and self.target_name_ in X.columns:
                return X.drop(columns=[self.target_name_]), X[self.target_name_]
            raise InvalidParameterError(
                f"pass y, or a frame that holds the target column {self.target_name_!r}"
            )
        return X, y

    def evaluate(self, X: Any, y: Any = None) -> dict[str, float]:
        """Every reported metric on ``(X, y)`` (``y`` may be the target column inside ``X``).

        Example:
            >>> from sklearn.datasets import load_diabetes
            >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
            >>> reg = AutoMLRegressor(n_trials=1, families=["linear"], cv=3).fit(X, y)
            >>> sorted(reg.evaluate(X, y))
            ['mae', 'r2', 'rmse']
        """
        X, y = self._split_target(X, y)
        scores = self._scores(X)
        y = pd.Series(np.asarray(y))
        keep = y.notna().to_numpy()
        if self.task_ == "regression":
            truth = y[keep].to_numpy(dtype="float64")
        else:
            lookup = {label: i for i, label in enumerate(self.classes_.tolist())}
            unknown = sorted({str(v) for v in y[keep] if v not in lookup})
            if unknown:
                raise DataValidationError(f"y holds classes not seen at fit: {unknown[:5]}")
            truth = np.array([lookup[v] for v in y[keep]])
        metrics = report_metrics(self.task_, self.metric_)
        classes = getattr(self, "classes_", None)
        return {m.name: m.compute(truth, scores[keep], classes) for m in metrics}

    def score(self, X: Any, y: Any = None) -> float:
        """The search metric on ``(X, y)``, greater is better.

        Losses (log_loss, rmse, mse, mae) are returned negated, as scikit-learn's
        ``neg_*`` scorers do, so ``cross_val_score`` and grid searches rank
        models correctly. ``y`` may be omitted when ``X`` holds the target column.
        """
        value = self.evaluate(X, y)[self.metric_.name]
        return value if self.metric_.greater_is_better else -value

    def leaderboard(self) -> pd.DataFrame:
        """One row per trial: rank, trial, family, params, CV mean and std of each metric, times, state."""
        self._check_fitted()
        return self.leaderboard_.copy()

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> str:
        """Save the fitted model to the folder ``path`` (see :func:`automl.load`)."""
        from automl.persistence import save_model

        return save_model(self, path, overwrite=overwrite)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.time_budget is not None
        return tags


def _with_ensemble_row(board: pd.DataFrame, ensemble: Mapping[str, Any], metric: Any, metrics: Sequence[str]) -> pd.DataFrame:
    """The leaderboard with the ensemble as a row of its own (trial empty, family ``ensemble``), ranked."""
    row: dict[str, Any] = {
        "trial": pd.NA, "family": "ensemble",
        "params": {f"{f}#{t}": round(w, 4) for f, t, w in zip(ensemble["families"], ensemble["trials"], ensemble["weights"])},
        "n_folds": len(next(iter(ensemble["fold_scores"].values()))), "rows_fraction": 1.0, "origin": "ensemble",
        "fit_time": np.nan, "duration": np.nan,
        "state": "complete", "reason": "", "worker": "",
    }
    for name in metrics:
        row[f"{name}_mean"], row[f"{name}_std"] = finite_mean_std(ensemble["fold_scores"].get(name, []))
    frame = pd.concat([pd.DataFrame([row]), board], ignore_index=True)
    complete = frame["state"] == "complete"
    key = frame[f"{metric.name}_mean"]
    frame["rank"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame.loc[complete, "rank"] = key[complete].rank(ascending=not metric.greater_is_better, method="min").astype(int)
    frame["trial"] = frame["trial"].astype("Int64")
    order = np.where(complete, 0, 1)
    frame = frame.assign(_o=order).sort_values(["_o", "rank"], kind="stable").reset_index(drop=True)
    return frame[list(board.columns)]


_DOC_ARGS = """
    Args:
        metric: Metric to optimise: a name (``roc_auc``, ``log_loss``, ``accuracy``,
            ``balanced_accuracy``, ``f1``/``precision``/``recall`` and their ``_macro`` /
            ``_weighted`` forms, ``rmse``, ``mse``, ``mae``, ``r2``), a callable
            ``fn(y_true, y_pred)`` (greater is better) or :class:`automl.Metric`.
            Default: roc_auc (binary), log_loss (multiclass), rmse (regression).
        time_budget: Seconds for the whole fit, refit included (it ends within
            ``time_budget * 1.1 + 10``). Default 60 when ``n_trials`` is not given either.
        n_trials: Trials to run (on a resumed study: more trials).
        cv: Cross-validation: None (5 folds, stratified for classification; classes
            smaller than 5 rows tolerated with a warning), folds (int, strict), holdout fraction (float), ``"repeated:5x3"``,
            ``"group:5"``, ``"time:5"``, ``"holdout:0.2"`` or a scikit-learn splitter.
        families: Family names to search (default: all installed); see
            ``automl.available_families()``.
        search_space: Overrides ``{family: {param: value or {low, high, ...}}}`` or a YAML
            file of them; a plain value pins the parameter.
        seed: Seed of the sampler, the folds and the models.
        n_jobs: Threads per model (-1: all cores).
        study_name: Name of the study; with it the study is stored (by default in
            ``automl-studies.journal``) and a later fit with the same name resumes it.
        storage: Where the study is stored: a ``.journal`` path, an RDB URL or an optuna storage.
        pruner: ``"percentile"`` (stop trials in the worst quarter after 2 folds),
            ``"median"``, ``"none"`` or an optuna pruner.
        tracking: Log to MLflow: True, False, or a tracker object (see :mod:`automl.tracking`).
            Default (None): on, unless the environment variable ``AUTOML_TRACKING`` is ``0``/``false``.
        tracking_uri: MLflow store; default ``$MLFLOW_TRACKING_URI``, else MLflow 3's own
            default ``sqlite:///mlflow.db`` in the working directory.
        register_model: Register the final model in the MLflow model registry under this name.
        device: Where the nets train: ``"auto"`` (CUDA, then MPS, then the CPU), ``"cpu"``,
            ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        image_shape: ``(height, width[, channels])`` when ``X`` is a frame or 2-D array of
            pixel columns (channels last, row-major). Not needed for image arrays shaped
            ``(N, H, W)`` or ``(N, H, W, C)``, which ``fit`` and ``predict`` take directly.
        isolation: ``"process"`` (default): trials run in a separate worker process,
            started with spawn and reused from trial to trial. A trial that crashes it
            (segfault, abort), raises ``MemoryError``, runs past ``trial_timeout`` or
            goes over ``trial_memory_limit`` is recorded as failed with its reason, the
            worker is replaced and the search goes on. ``"none"``: trials run in the
            fit's own process (for debuggers; a crash then ends the fit).
        trial_timeout: Seconds one trial may run before it is killed and recorded as
            failed (None: no limit of its own; a time budget still stops trials).
        trial_memory_limit: Resident memory in MiB a trial's process may reach before
            it is killed (None: three quarters of the machine's memory).
        ensemble: After the search, blend the best trials by greedy ensemble selection
            (Caruana et al. 2004) on their out-of-fold predictions; when the blend's CV
            score beats the best trial's, its members are refitted on all rows and
            ``predict`` uses it (``ensemble_`` describes it, and it heads the
            leaderboard). False: the best single trial, always.
"""


class AutoMLClassifier(ClassifierMixin, _AutoMLBase):
    __doc__ = (
        "Searches classifiers under cross-validation and refits the best one.\n"
        + _DOC_ARGS
        + """        task: ``"binary"``, ``"multiclass"`` or None (inferred).

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> clf = AutoMLClassifier(n_trials=2, families=["linear"], cv=3).fit(X, y)
        >>> clf.predict_proba(X.head(1)).shape
        (1, 2)
"""
    )

    _is_classifier = True
    score = _AutoMLBase.score  # the search metric, not ClassifierMixin's accuracy

    def __init__(
        self,
        *,
        metric: Any = None,
        time_budget: float | None = None,
        n_trials: int | None = None,
        cv: Any = None,
        families: Any = None,
        search_space: Any = None,
        seed: int | None = 0,
        n_jobs: int = -1,
        study_name: str | None = None,
        storage: Any = None,
        pruner: Any = "percentile",
        tracking: Any = None,
        tracking_uri: str | None = None,
        register_model: str | None = None,
        device: str = "auto",
        image_shape: Any = None,
        isolation: str = "process",
        trial_timeout: float | None = None,
        trial_memory_limit: float | None = None,
        ensemble: bool = True,
        task: str | None = None,
    ) -> None:
        self.metric = metric
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.cv = cv
        self.families = families
        self.search_space = search_space
        self.seed = seed
        self.n_jobs = n_jobs
        self.study_name = study_name
        self.storage = storage
        self.pruner = pruner
        self.tracking = tracking
        self.tracking_uri = tracking_uri
        self.register_model = register_model
        self.device = device
        self.image_shape = image_shape
        self.isolation = isolation
        self.trial_timeout = trial_timeout
        self.trial_memory_limit = trial_memory_limit
        self.ensemble = ensemble
        self.task = task

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class in the order of ``classes_``."""
        return self._scores(X)


class AutoMLRegressor(RegressorMixin, _AutoMLBase):
    __doc__ = (
        "Searches regressors under cross-validation and refits the best one.\n"
        + _DOC_ARGS
        + """
    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
        >>> reg = AutoMLRegressor(n_trials=2, families=["linear"], cv=3).fit(X, y)
        >>> reg.predict(X.head(3)).shape
        (3,)
"""
    )

    score = _AutoMLBase.score  # the search metric, not RegressorMixin's R²

    def __init__(
        self,
        *,
        metric: Any = None,
        time_budget: float | None = None,
        n_trials: int | None = None,
        cv: Any = None,
        families: Any = None,
        search_space: Any = None,
        seed: int | None = 0,
        n_jobs: int = -1,
        study_name: str | None = None,
        storage: Any = None,
        pruner: Any = "percentile",
        tracking: Any = None,
        tracking_uri: str | None = None,
        register_model: str | None = None,
        device: str = "auto",
        image_shape: Any = None,
        isolation: str = "process",
        trial_timeout: float | None = None,
        trial_memory_limit: float | None = None,
        ensemble: bool = True,
    ) -> None:
        self.metric = metric
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.cv = cv
        self.families = families
        self.search_space = search_space
        self.seed = seed
        self.n_jobs = n_jobs
        self.study_name = study_name
        self.storage = storage
        self.pruner = pruner
        self.tracking = tracking
        self.tracking_uri = tracking_uri
        self.register_model = register_model
        self.device = device
        self.image_shape = image_shape
        self.isolation = isolation
        self.trial_timeout = trial_timeout
        self.trial_memory_limit = trial_memory_limit
        self.ensemble = ensemble


