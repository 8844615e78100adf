"""``AutoMLClassifier`` and ``AutoMLRegressor``: scikit-learn estimators around one fit.

The estimators store their settings (constructor) and their fitted attributes (``fit``)
and predict; everything else is the fit's pipeline (:mod:`automl._fit`): ``fit`` hands the
checked settings and the data to :func:`automl._fit.run.run_fit` and copies the fitted
attributes of the report it returns. Their parameters, defaults and documentation come
from the one settings table (:mod:`automl.config`).

Example:
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = AutoMLClassifier(n_trials=3, families=["linear", "knn"], cv=3).fit(X, y)
    >>> clf.predict(X.head(2)).tolist()
    [0, 0]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import Tags

from automl._suggest import unknown_name_message
from automl._warnings import warn_user
from automl.config import estimator_docs, estimator_signature, setting
from automl.data.images import as_image_frame
from automl.data.row_inputs import sample_weight_problems
from automl.data.scoring import named_columns, scoring_truth
from automl.data.validation import (
    MULTIINDEX_PROBLEM, as_table, coerce_features, has_feature_names,
)
from automl.evaluation.metrics import report_metrics
from automl.exceptions import DataValidationError, InputTypeError, InvalidParameterError, ModelFileError, NotFittedError
from automl.model_files import UnsavedCallable, picklable_setting

__all__ = ["AutoMLClassifier", "AutoMLRegressor"]


def _settings_init(estimator: str) -> Callable[..., None]:
    """An ``__init__`` that stores every setting of ``estimator`` (signature and defaults from the table)."""
    signature = estimator_signature(estimator)
    names = [name for name in signature.parameters if name != "self"]

    def __init__(self: Any, **params: Any) -> None:
        unknown = [name for name in params if name not in names]
        if unknown:
            raise InputTypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}; "
                                 + unknown_name_message("setting", unknown[0], names))
        for name in names:
            setattr(self, name, params[name] if name in params else setting(name).default)
        _mask_urls(self)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__doc__ = "Store the settings (see the class docstring); ``fit`` checks them."
    return __init__


#: The settings that may hold a URL with a secret (masked in every repr).
_URL_SETTINGS = ("storage", "tracking_uri")


def _mask_urls(estimator: Any) -> None:
    """Store ``storage`` and ``tracking_uri`` so that every ``repr`` of them masks their secrets, ours and those
    scikit-learn builds from ``get_params`` (a Pipeline's, a search's, the HTML view): :class:`~automl._redact.
    SecretURL`, the URL itself as a string."""
    from automl._redact import masked_setting

    for name in _URL_SETTINGS:
        if name in vars(estimator):
            setattr(estimator, name, masked_setting(getattr(estimator, name)))


def _by_position_if_unnamed_at_fit(estimator: Any, X: Any) -> Any:
    """A frame with named columns given to a model fitted without names (on an array), as wide as fit's data, is
    read by position with scikit-learn's warning, as its estimators do: scikit-learn's tools hand a frame to a
    model fitted on an array (``permutation_importance``, a stack's final estimator under pandas output)."""
    names = estimator.schema_.input_names
    if (not isinstance(X, pd.DataFrame) or hasattr(estimator, "feature_names_in_") or not has_feature_names(X)
            or X.shape[1] != len(names) or set(X.columns) == set(names)):
        return X
    warn_user(f"X has feature names, but {type(estimator).__name__} was fitted without feature names; its columns "
              "are read by position, as fit's array columns", UserWarning)
    return X.set_axis(names, axis=1)


def _warn_undefined(values: dict[str, float], truth: np.ndarray, classes: np.ndarray | None) -> None:
    """One ``UndefinedMetricWarning`` (scikit-learn's) naming the metrics that are NaN on these rows, and why."""
    undefined = [name for name, value in values.items() if np.isnan(value)]
    if not undefined:
        return
    if classes is None:
        why, fix = f"{len(truth)} row(s) with a target", "score more rows"
    else:
        why, fix = f"y holds {len(np.unique(truth))} of the {len(classes)} classes", "score rows that hold every class"
    warn_user(f"{', '.join(undefined)} undefined on these rows ({why}): NaN; {fix}", UndefinedMetricWarning)


class _AutoMLBase(BaseEstimator):
    """What the classifier and regressor share; see :class:`AutoMLClassifier` for the arguments."""

    _estimator = "any"

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A model saved before a setting existed gets its default (``get_params``, ``repr`` and ``clone`` work)."""
        from automl.config import setting_names

        for name in setting_names(self._estimator):
            state.setdefault(name, setting(name).default)
        super().__setstate__(state)

    def __getstate__(self) -> dict[str, Any]:
        """scikit-learn's state, with each setting in a form pickle takes (:func:`~automl.model_files.
        picklable_setting`): a fitted model pickles, deep-copies, saves and is logged to MLflow whatever form its
        settings were given in (``cv`` as a generator of pairs keeps the pairs the fit read)."""
        from automl.config import setting_names

        state = dict(super().__getstate__())  # object's own is the live __dict__
        read = state.pop("_cv_read", None)
        for name in setting_names(self._estimator):
            if name in state:
                state[name] = picklable_setting(name, state[name], read if name == "cv" else None)
        return state

    def __sklearn_clone__(self) -> _AutoMLBase:
        """scikit-learn's ``clone`` (``cross_val_score``, ``GridSearchCV`` ...) of the settings in the form a pickle
        keeps (:meth:`__getstate__`): a mapping proxy as a dict, a fitted model's ``cv`` generator as the pairs its
        fit read. A one-shot iterator not yet read cannot be copied: refused, naming the setting.

        Raises:
            InputTypeError: a setting is an iterator that no fit has read.
        """
        import copy
        from collections.abc import Iterator

        read = getattr(self, "_cv_read", None)
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, Iterator) and not (name == "cv" and read is not None):
                raise InputTypeError(f"{name} is a one-shot iterator ({type(value).__name__}), which clone (and so "
                                     f"cross_val_score, GridSearchCV ...) cannot copy for each fit; give a list, "
                                     f"e.g. {name}=list(...)")
        return super(_AutoMLBase, copy.copy(self)).__sklearn_clone__()

    def set_params(self, **params: Any) -> _AutoMLBase:
        """scikit-learn's ``set_params``; an unknown name raises :class:`InvalidParameterError` (a ``ValueError``,
        as scikit-learn's) naming the closest setting. The values are checked by ``fit``, as the constructor's.

        Example:
            >>> AutoMLClassifier().set_params(n_trials=5).n_trials
            5
        """
        known = self.get_params(deep=False)
        unknown = [name for name in params if name not in known]
        if unknown:
            raise InvalidParameterError(f"{type(self).__name__}.set_params: "
                                        + unknown_name_message("setting", unknown[0], sorted(known)))
        super().set_params(**params)
        _mask_urls(self)
        return self

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:  # noqa: N803 - scikit-learn's own argument name
        """scikit-learn's repr with passwords in ``storage`` and ``tracking_uri`` masked (it ends up in logs)."""
        from automl._redact import redact_text

        urls = [u for u in (getattr(self, name, None) for name in _URL_SETTINGS) if isinstance(u, str)]
        return redact_text(super().__repr__(N_CHAR_MAX), *urls)

    def fit(self, X: Any, y: Any, *, groups: Any = None, sample_weight: Any = None) -> _AutoMLBase:
        """Search the families under cross-validation, then refit the best on all rows.

        Args:
            X: Features: a pandas DataFrame (numeric, bool, string, category,
                nullable and datetime columns) or a 2-D array.
            y: Target, one value per row; rows with a missing target are dropped (with a warning).
            groups: Group label per row, for group k-fold, or the name of a column of ``X`` (it leaves the features).
            sample_weight: Weight of each row, or the name of a column of ``X`` holding them (it leaves the features)
                (finite, >= 0, not all zero): every fold's
                model trains with its rows' weights, the CV scores are weighted, and so
                is the refit. Families that cannot take weights (``knn``, the nets) are
                left out of the search.

        Returns:
            self, fitted.

        Raises:
            InvalidParameterError: a setting is invalid (all problems listed).
            DataValidationError: the data cannot be used (all problems listed).
            AllTrialsFailedError: every trial failed (reasons grouped by family).
            RefitFailedError: every finalist's refit failed (reasons listed).
        """
        from automl._fit.problem import checked_settings
        from automl._fit.run import run_fit

        X, groups, sample_weight = named_columns(X, groups, sample_weight)
        settings = checked_settings(self.get_params(deep=False), self._estimator, X, y, groups, sample_weight)
        report = run_fit(settings, type(self), X, y, groups, sample_weight)
        self._set_fitted(report.attributes, has_feature_names(X))
        # a cv given as an iterator of pairs is read once: what was read is what a pickle keeps (__getstate__)
        self.__dict__["_cv_read"] = settings.cv.splitter if isinstance(self.cv, Iterator) else None
        return self

    def _set_fitted(self, attributes: dict[str, Any], named: bool) -> None:
        """Replace every attribute an earlier fit left (a binary fit's ``pos_label_`` must not outlive a multiclass
        refit) with this fit's; ``feature_names_in_`` only for ``X`` with text column names, as in scikit-learn
        (an array's columns are named ``x0, x1, ...`` inside, in ``schema_``)."""
        from automl._fit.report import FITTED_ATTRIBUTES

        for name in FITTED_ATTRIBUTES:
            self.__dict__.pop(name, None)
        self.__dict__.update({k: v for k, v in attributes.items() if named or k != "feature_names_in_"})

    # -- predict ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, y) (or automl.fit) before using it"
            )

    def _features(self, X: Any) -> pd.DataFrame:
        """``X`` read as ``predict`` reads it (fitted, right width, coerced, target dropped), before the schema."""
        self._check_fitted()
        if getattr(self, "image_shape_", None) is not None and isinstance(X, np.ndarray) and X.ndim in (3, 4):
            # the pixels in fit's column order, whatever the fit's pixel columns were named
            X = as_image_frame(X, self.image_shape_, fitted=True)[0].to_numpy()
        X = as_table(X)
        if isinstance(X, np.ndarray) and X.shape[1] != self.n_features_in_:
            raise DataValidationError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                f"features as input ({self.schema_.input_names}); pass the same columns, in that order for an array"
            )
        X = _by_position_if_unnamed_at_fit(self, X)
        X = coerce_features(X, names=self.schema_.input_names)  # an array is read in fit's column order
        if isinstance(X.columns, pd.MultiIndex):  # said as fit says it, not as fit's columns all missing
            raise DataValidationError(MULTIINDEX_PROBLEM)
        if self.target_name_ in X.columns and self.target_name_ not in self.schema_.input_names:
            X = X.drop(columns=[self.target_name_])  # the target itself is not an unexpected column
        return X

    def _scores(self, X: Any) -> np.ndarray:
        features = self._features(X)  # checks that the model is fitted first
        canonical = self.schema_.transform(features)
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
            name, features = self.target_name_, self.schema_.input_names
            if isinstance(X, pd.DataFrame):  # integer names as fit read them (column 3 of pd.DataFrame(array) is x3)
                X = coerce_features(X, names=features + [name])
            if isinstance(X, pd.DataFrame) and name in X.columns and name not in features:
                return X.drop(columns=[name]), X[name]
            if name in features:  # fit took y apart from X, and its name is a feature's: that column is not y
                raise InvalidParameterError(f"pass y: the target was given apart from X at fit, and {name!r}, its "
                                            "name, is a feature's name, so the column of X named so is not the target")
            raise InvalidParameterError(
                f"pass y, or a frame that holds the target column {self.target_name_!r}"
            )
        return X, y

    def evaluate(self, X: Any, y: Any = None, sample_weight: Any = None) -> dict[str, float]:
        """Every reported metric on ``(X, y)`` (``y`` may be the target column inside ``X``).

        ``sample_weight`` (one finite, non-negative number per row of ``X``, or the name of a column of ``X``
        holding them, as ``fit`` takes it) weights the metrics that take weights, as the fit's cross-validation
        scores do. Rows without a target are left out; a metric
        undefined on the rows left (any metric on no rows) is NaN, with scikit-learn's ``UndefinedMetricWarning``.

        Example:
            >>> from sklearn.datasets import load_diabetes
            >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
            >>> reg = AutoMLRegressor(n_trials=1, families=["linear"], cv=3).fit(X, y)
            >>> sorted(reg.evaluate(X, y))
            ['mae', 'r2', 'rmse']
        """
        X, _, sample_weight = named_columns(X, None, sample_weight)
        X, y = self._split_target(X, y)
        scores = self._scores(X)
        weights, problems = sample_weight_problems(sample_weight, len(scores))
        classes = getattr(self, "classes_", None)
        try:
            keep, truth = scoring_truth(y, len(scores), self.task_, self.target_name_,
                                        None if classes is None else classes.tolist())
        except DataValidationError as exc:
            raise DataValidationError(problems + exc.problems) from None
        if problems:
            raise DataValidationError(problems)
        positive = 1
        if getattr(self, "pos_label_", None) is not None:  # a binary model (fitted before pos_label_: class 1)
            positive = int(self.classes_.tolist().index(self.pos_label_))
        metrics = report_metrics(self.task_, self.metric_, positive)
        kept = None if weights is None else weights[keep]
        values: dict[str, float] = {}
        unsaved: dict[str, str] = {}
        for m in metrics:
            try:
                values[m.name] = m.compute(truth, scores[keep], classes, kept) if len(truth) else np.nan
            except ModelFileError as exc:  # a metric callable the saved model could not hold: the others still count
                values[m.name], unsaved[m.name] = np.nan, str(exc)
        for name, why in unsaved.items():
            warn_user(f"{name}: NaN; {why}", UserWarning)
        _warn_undefined({k: v for k, v in values.items() if k not in unsaved}, truth, classes)
        return values

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """The search metric on ``(X, y)``, greater is better (``sample_weight`` as in :meth:`evaluate`).

        Losses (log_loss, rmse, mse, mae) are returned negated, as scikit-learn's
        ``neg_*`` scorers do, so ``cross_val_score`` and grid searches rank
        models correctly. ``y`` may be omitted when ``X`` holds the target column.
        """
        self._check_fitted()
        if isinstance(self.metric_.fn, UnsavedCallable):
            self.metric_.fn()  # raises ModelFileError: a saved model's search metric whose callable was not saved
        value = self.evaluate(X, y, sample_weight)[self.metric_.name]
        return value if self.metric_.greater_is_better else -value

    def feature_importance(self, X: Any, y: Any = None, *, n_repeats: int = 5, random_state: int | None = 0,
                           sample_weight: Any = None) -> pd.DataFrame:
        """Permutation importance of each input column for the model ``predict`` uses.

        Each column of ``X`` is shuffled ``n_repeats`` times; a column's importance is how much the
        search metric (:meth:`score`, greater is better) drops. Pass held-out rows: on the
        training rows it measures what the model memorised too. ``y`` may be the target column
        inside ``X``. See :func:`automl.explain.feature_importance`.

        Returns:
            DataFrame with columns ``feature``, ``importance_mean``, ``importance_std``, most important first.
        """
        from automl.explain import feature_importance

        return feature_importance(self, X, y, n_repeats=n_repeats, random_state=random_state,
                                  sample_weight=sample_weight)

    def explain(self, X: Any, *, background: Any = None, target: Any = None, n_background: int = 100,
                n_permutations: int = 10, random_state: int | None = 0) -> pd.DataFrame:
        """Per-row contributions (SHAP values) of each input column; with ``base_value`` they sum to
        the model's output for the row, in the space named by ``frame.attrs["output"]``.

        Exact for LightGBM (log-odds or value), forests, histogram boosting (numeric columns) and
        linear models; a permutation-sampling estimate against ``background`` rows (default: a
        sample of ``X``) otherwise, and for ensembles. See :func:`automl.explain.explain`.
        """
        from automl.explain import explain

        return explain(self, X, background=background, target=target, n_background=n_background,
                       n_permutations=n_permutations, random_state=random_state)

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
        # a time budget (how many trials run depends on the machine's speed), or no seed: another search each fit
        tags.non_deterministic = self.time_budget is not None or self.n_trials is None or self.seed is None
        return tags



class AutoMLClassifier(ClassifierMixin, _AutoMLBase):
    __doc__ = (
        "Searches classifiers under cross-validation and refits the best one.\n\n"
        + estimator_docs("classifier")
        + """
    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> clf = AutoMLClassifier(n_trials=2, families=["linear"], cv=3).fit(X, y)
        >>> clf.predict_proba(X.head(1)).shape
        (1, 2)
"""
    )

    _estimator = "classifier"
    __init__ = _settings_init("classifier")
    score = _AutoMLBase.score  # the search metric, not ClassifierMixin's accuracy

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class in the order of ``classes_``."""
        return self._scores(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba` (``-inf`` where a probability is 0), as scikit-learn's classifiers
        give it (``cross_val_predict(method="predict_log_proba")``)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class AutoMLRegressor(RegressorMixin, _AutoMLBase):
    __doc__ = (
        "Searches regressors under cross-validation and refits the best one.\n\n"
        + estimator_docs("regressor")
        + """
    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
        >>> reg = AutoMLRegressor(n_trials=2, families=["linear"], cv=3).fit(X, y)
        >>> reg.predict(X.head(3)).shape
        (3,)
"""
    )

    _estimator = "regressor"
    __init__ = _settings_init("regressor")
    score = _AutoMLBase.score  # the search metric, not RegressorMixin's R²
