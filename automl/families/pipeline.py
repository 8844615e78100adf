"""``FamilyPipeline``: per-fold preprocessing plus a family's estimator, built at fit time.

The estimator is built inside :meth:`FamilyPipeline.fit`, once the preprocessing
has been fitted on the training rows, so the builder knows the encoded width and
which columns hold categories.

Example:
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": np.arange(20.0)})
    >>> y = (np.arange(20) >= 10).astype(int)
    >>> p = FamilyPipeline("linear", {}, task="binary", n_classes=2).fit(X, y)
    >>> p.predict_scores(X).shape
    (20, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from automl._threads import limit_threads
from automl.data.preprocessing import TabularPreprocessor
from automl.data.target import (
    LOSS_TRANSFORMS,
    TARGET_PARAM_NAME,
    TargetTransform,
    split_target_param,
    target_choices,
    target_problems,
)
from automl.data.text import TEXT_CHOICES, TEXT_DEFAULTS, TEXT_PREFIX, TEXT_SEED, split_text_params, text_value_problems
from automl.families.base import BuildContext
from automl.families.epochs import reporting_mapped
from automl.families.registry import get_family

__all__ = ["FamilyPipeline", "TEXT_PARAMS", "family_target_choices", "threads_for", "with_text_params", "text_override_problems",
           "ROWS_PER_THREAD", "target_spaces", "with_target_param"]

#: Rows of training data per extra thread. On small data, threads only wait on
#: each other (OpenMP spin-waits): on a busy 2-core machine a LightGBM fold of
#: 400 rows took 1.8 s with 2 threads and well under 0.1 s with one.
ROWS_PER_THREAD = 20_000


def _text_params() -> tuple[Any, ...]:
    from automl.spaces.params import CategoricalParam, IntParam

    low, high = TEXT_CHOICES["dims"]
    return (
        CategoricalParam(f"{TEXT_PREFIX}analyzer", TEXT_CHOICES["analyzer"], TEXT_DEFAULTS["analyzer"]),
        CategoricalParam(f"{TEXT_PREFIX}ngram_max", TEXT_CHOICES["ngram_max"], TEXT_DEFAULTS["ngram_max"]),
        IntParam(f"{TEXT_PREFIX}dims", low, high, TEXT_DEFAULTS["dims"], log=True),
    )


#: The text encoder's parameters, searched with every family when the data has a free-text column.
TEXT_PARAMS = _text_params()


def with_text_params(space: Any) -> Any:
    """``space`` with :data:`TEXT_PARAMS` added (those it defines already, e.g. fixed by an override, are kept).

    Example:
        >>> from automl.families.registry import get_family
        >>> with_text_params(get_family("knn").space()).names[-3:]
        ['text_analyzer', 'text_ngram_max', 'text_dims']
    """
    import dataclasses

    extra = tuple(p for p in TEXT_PARAMS if p.name not in space.names)
    return dataclasses.replace(space, params=space.params + extra)


def text_override_problems(space: Any, names: Any, head: str) -> list[str]:
    """What is wrong with the text encoder's parameters ``names`` in ``space`` (after overrides), each value an
    override can give probed (a fixed value, every choice, a range's ends): one rule for fit and the sweep file.

    Example:
        >>> from automl.families.registry import get_family
        >>> space = with_text_params(get_family("knn").space()).with_overrides({"text_dims": 0}, source="o")
        >>> text_override_problems(space, ["text_dims"], "search_space['knn']: ")
        ["search_space['knn']: text_dims=0: the reduced size must be a whole number of at least 1; for example 32"]
    """
    from automl.spaces.params import probe_values

    text = {p.name for p in TEXT_PARAMS}  # a family's own parameter named text_... is its own to check
    return [f"{head}{problem}" for name in names if name in text and name in space.names
            for value in probe_values(space[name]) for problem in text_value_problems(name, value)]


def with_target_param(space: Any, choices: tuple[str, ...]) -> Any:
    """``space`` with the :data:`TARGET_PARAM_NAME` parameter: searched among ``choices`` (default
    ``none``), fixed when there is one choice other than ``none``, absent for ``()`` or ``("none",)``.

    Example:
        >>> from automl.families.registry import get_family
        >>> space = with_target_param(get_family("linear").space(), ("none", "log"))
        >>> space["target_transform"].choices
        ('none', 'log')
    """
    import dataclasses

    from automl.spaces.params import CategoricalParam, FixedParam

    if not choices or choices == ("none",) or TARGET_PARAM_NAME in space.names:
        return space
    param = (FixedParam(TARGET_PARAM_NAME, choices[0]) if len(choices) == 1
             else CategoricalParam(TARGET_PARAM_NAME, choices, "none"))
    return dataclasses.replace(space, params=space.params + (param,))


def target_spaces(setting: str, task: str, y: np.ndarray, spaces: dict[str, Any]) -> dict[str, Any]:
    """Every family's space with the transform parameter the setting and the target call for.

    Raises:
        InvalidParameterError: the setting names a transform this task or target cannot use.
    """
    problems = target_problems(setting, task, y)
    if problems:
        from automl.exceptions import InvalidParameterError

        raise InvalidParameterError(problems)
    choices = target_choices(setting, task, y)
    return {name: with_target_param(space, family_target_choices(name, choices)) for name, space in spaces.items()}


def family_target_choices(family: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    """``choices`` less the losses ``family`` does not have (:data:`~automl.data.target.LOSS_TRANSFORMS`; a family
    left with none of a pinned loss learns the target as it is).

    Example:
        >>> family_target_choices("lightgbm", ("none", "poisson")), family_target_choices("knn", ("none", "poisson"))
        (('none', 'poisson'), ('none',))
        >>> family_target_choices("knn", ("poisson",))
        ()
    """
    if get_family(family).poisson_params is not None:
        return choices
    return tuple(c for c in choices if c not in LOSS_TRANSFORMS)


def threads_for(n_rows: int, n_jobs: int) -> int:
    """Threads a model gets: at most ``n_jobs``, one more per ``ROWS_PER_THREAD`` rows.

    Example:
        >>> threads_for(500, 8), threads_for(50_000, 8), threads_for(50_000, 1)
        (1, 3, 1)
    """
    return max(1, min(n_jobs, 1 + n_rows // ROWS_PER_THREAD))


def _three(shape: Any) -> tuple[int, int, int]:
    """``(height, width, channels)`` of an image shape given with or without its channels."""
    height, width, *rest = (int(s) for s in shape)
    return height, width, rest[0] if rest else 1


class FamilyPipeline(BaseEstimator):
    """Preprocessing fitted on the training rows, then the family's estimator.

    Args:
        family: Registered family name.
        params: The family's parameters (unprefixed); missing ones take the space defaults.
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: Number of classes of the whole problem (0 for regression);
            class scores always have this many columns, even when a training
            part lacks a class.
        seed: Random seed.
        n_jobs: Threads for the estimator.
        device: Where nets train (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).
        image_shape: ``(height, width, channels)`` when the columns are image pixels.
    """

    def __init__(
        self,
        family: str,
        params: Mapping[str, Any] | None = None,
        *,
        task: str = "binary",
        n_classes: int = 2,
        seed: int = 0,
        n_jobs: int = 1,
        device: str = "auto",
        image_shape: tuple[int, int, int] | None = None,
    ) -> None:
        self.family = family
        self.params = params
        self.task = task
        self.n_classes = n_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.device = device
        self.image_shape = image_shape

    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None) -> FamilyPipeline:
        """Fit the preprocessing, build the estimator for this data, fit it (weighted if
        ``sample_weight`` is given: the preprocessing itself is not weighted)."""
        Z, y_model, mapped = self.prepare(X, y)
        with limit_threads(self.n_threads_), reporting_mapped(mapped):  # a net's epochs: in the target's units
            if sample_weight is None:
                self.estimator_.fit(Z, y_model)
            else:
                self.estimator_.fit(Z, y_model, sample_weight=np.asarray(sample_weight, dtype="float64"))
        return self

    def prepare(self, X: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        """Fit the preprocessing and build the (unfitted) estimator: ``(encoded rows, the target the estimator
        learns, the map from its units back to the target's or None)``. :meth:`fit` then fits the estimator;
        :func:`automl.families.packed_pipelines.fit_pipelines_packed` fits several at once."""
        params, text_options, transform = self._split_params()
        self.target_transform_ = TargetTransform(transform if self.task == "regression" else "none").fit(y)
        self.n_threads_ = threads_for(len(X), self.n_jobs)
        with limit_threads(self.n_threads_):  # the text encoder's SVD calls BLAS too
            self.preprocessor_ = TabularPreprocessor(get_family(self.family).encoding, text_options=text_options,
                                                     seed=TEXT_SEED, task=self.task, n_classes=self.n_classes)
            Z = self.preprocessor_.fit_transform(X, y)  # text scores of the training rows out of fold
        self.build_estimator(Z)
        mapped = None if self.target_transform_.identity else self.target_transform_.inverse
        y_model = y if mapped is None else self.target_transform_.forward(y)
        return Z, y_model, mapped

    def _split_params(self) -> tuple[dict[str, Any], dict[str, Any], str]:
        """``(the estimator's parameters, the text encoder's options, the target transform)``, defaults filled."""
        family = get_family(self.family)
        params, text_options = split_text_params({**family.space().defaults(), **dict(self.params or {})})
        params, transform = split_target_param(params)  # regression: the model may learn f(y) (automl.data.target)
        if transform in LOSS_TRANSFORMS and self.task == "regression":  # the family's own loss on y as it is
            if family.poisson_params is None:
                from automl.exceptions import InvalidParameterError

                raise InvalidParameterError(f"target_transform={transform!r} needs a family with a Poisson loss, "
                                            f"and {self.family!r} has none; use 'none', 'sqrt' or 'log' for it")
            params = {**params, **family.poisson_params}
        return params, text_options, transform

    def build_estimator(self, Z: np.ndarray) -> None:
        """Build ``estimator_`` (unfitted) for the encoded rows ``Z``, from the fitted ``preprocessor_``."""
        context = BuildContext(
            task=self.task,
            n_classes=self.n_classes,
            n_rows=Z.shape[0],
            n_features=Z.shape[1],
            categorical_indices=tuple(self.preprocessor_.categorical_indices_),
            category_counts=tuple(self.preprocessor_.category_counts()),
            seed=self.seed,
            n_jobs=self.n_threads_,
            device=self.device,
            image_shape=None if self.image_shape is None else _three(self.image_shape),
        )
        self.estimator_ = get_family(self.family).build(self._split_params()[0], context)

    def predict_scores(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` for classification, values for regression."""
        with limit_threads(self.n_threads_):
            Z = self.preprocessor_.transform(X)
            if self.task == "regression":
                values = np.asarray(self.estimator_.predict(Z), dtype="float64").ravel()
                transform = getattr(self, "target_transform_", None)  # absent in models saved before it
                return values if transform is None else transform.inverse(values)
            proba = np.asarray(self.estimator_.predict_proba(Z), dtype="float64")
        classes = np.asarray(self.estimator_.classes_, dtype=int)
        if proba.shape[1] == self.n_classes and np.array_equal(classes, np.arange(self.n_classes)):
            return proba
        full = np.zeros((len(Z), self.n_classes))
        full[:, classes] = proba
        return full

    def learning_curves(self) -> dict[str, list[float]]:
        """Per-epoch (or per-round) curves of the fitted estimator, if its family records any."""
        family = get_family(self.family)
        if family.learning_curves is None:
            return {}
        return {k: [float(v) for v in values] for k, values in family.learning_curves(self.estimator_).items()}

    def refit_hints(self) -> dict[str, Any]:
        """What the fitted estimator learned that a refit on all rows should reuse."""
        family = get_family(self.family)
        return dict(family.fitted_hints(self.estimator_)) if family.fitted_hints else {}
