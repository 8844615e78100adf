"""What the CatBoost and XGBoost families share: labels re-encoded to ``0..K-1``, early stopping on a
split of the training fold, and the rounds it kept reused (x 1.1) for the refit on all rows.

Each family subclasses :class:`EarlyStoppingBooster` with its own ``_train`` and ``_scores``;
its package is imported only there, so registering and listing the families stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from automl.families._early_stopping import (
    PATIENCE_BASE, PATIENCE_RATE, STOPPING_PARAMS, StoppingEstimator, early_stopping_split, stopping_args,
)
from automl.spaces.portfolio import cap_high

__all__ = ["EarlyStoppingBooster", "fitted_hints", "refit_params", "depth_cap"]

_MIN_ROWS_FOR_EARLY_STOPPING = 50

#: ``(X, y, sample_weight or None)`` of the rows held out for early stopping.
Held = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class EarlyStoppingBooster(StoppingEstimator):
    """A gradient-boosting model that holds out ``validation_fraction`` of its rows to stop early.

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
        params: The package's own parameters (learning_rate, depth, ...).
        n_estimators: Most boosting rounds.
        early_stopping_rounds: Rounds without improvement before stopping (plus ``early_stopping_rate`` times
            the best round so far: :func:`~automl.families._early_stopping.patience_rounds`); 0 trains a fixed
            number of rounds.
        early_stopping_rate: How the patience grows with the best round (0: a fixed patience).
        validation_fraction: Share of rows held out for early stopping.
        categorical_feature: Column indices holding category codes (``0..levels-1``, NaN when missing).
        seed: Random seed.
        n_jobs: Threads.
    """

    def __init__(
        self,
        task: str = "binary",
        params: Mapping[str, Any] | None = None,
        n_estimators: int = 2000,
        early_stopping_rounds: int = PATIENCE_BASE,
        early_stopping_rate: float = PATIENCE_RATE,
        validation_fraction: float = 0.1,
        categorical_feature: Sequence[int] = (),
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.task = task
        self.params = params
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_rate = early_stopping_rate
        self.validation_fraction = validation_fraction
        self.categorical_feature = categorical_feature
        self.seed = seed
        self.n_jobs = n_jobs

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: Any) -> Any:
        """The estimator of a family's space parameters (``n_estimators`` and the early stopping's are its own, the
        rest the booster's) for the fold ``ctx`` (a :class:`~automl.families.base.BuildContext`); a trial stored
        before ``early_stopping_rate`` existed keeps its fixed patience
        (:func:`~automl.families._early_stopping.stopping_args`)."""
        return cls(task=ctx.task, params={k: v for k, v in params.items() if k not in STOPPING_PARAMS},
                   **stopping_args(params), categorical_feature=tuple(ctx.categorical_indices), seed=ctx.seed,
                   n_jobs=ctx.n_jobs)

    def _train(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, rounds: int,
               held: Held | None) -> tuple[Any, int]:
        """Fit the package's model; return it and the rounds it kept (with ``held``: stop early on it)."""
        raise NotImplementedError

    def _scores(self, X: np.ndarray) -> np.ndarray:
        """Values (regression) or probabilities over ``0..K-1`` (classification) of the fitted model."""
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> EarlyStoppingBooster:
        """Fit, stopping early on a held-out split (stratified for classes) when there are enough rows
        (weighted training and early-stopping loss when ``sample_weight`` is given)."""
        X = np.asarray(X, dtype="float64")
        y = np.asarray(y)
        classification = self.task != "regression"
        if classification:
            self.classes_, y = np.unique(y, return_inverse=True)
        else:
            y = y.astype("float64")
        split = None
        if self.early_stopping_rounds and len(y) >= _MIN_ROWS_FOR_EARLY_STOPPING:
            split = early_stopping_split(y, classification, self.validation_fraction, self.seed)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        if split is not None:
            fit_rows, val_rows = split
            held = (X[val_rows], y[val_rows], None if weight is None else weight[val_rows])
            self.model_, rounds = self._train(
                X[fit_rows], y[fit_rows], None if weight is None else weight[fit_rows], int(self.n_estimators), held
            )
        else:
            learning_rate = float((self.params or {}).get("learning_rate", 0.1))
            rounds = self.n_estimators if not self.early_stopping_rounds else int(np.clip(10 / learning_rate, 50, 1000))
            self.model_, rounds = self._train(X, y, weight, min(int(rounds), int(self.n_estimators)), None)
        self.n_features_in_ = X.shape[1]
        self.refit_hints_ = {"n_estimators": int(rounds)}
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted values (regression) or labels (classification)."""
        if self.task == "regression":
            return self._scores(np.asarray(X, dtype="float64"))
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._scores(np.asarray(X, dtype="float64"))


def fitted_hints(estimator: EarlyStoppingBooster) -> dict[str, Any]:
    """Boosting rounds kept in this fold."""
    return dict(estimator.refit_hints_)


def refit_params(params: Mapping[str, Any], hints: list[dict[str, Any]]) -> dict[str, Any]:
    """Refit with the folds' mean rounds (+10 % for the larger data) and no held-out split.

    Example:
        >>> refit_params({"n_estimators": 2000, "early_stopping_rounds": 50}, [{"n_estimators": 100}, {"n_estimators": 120}])
        {'n_estimators': 121, 'early_stopping_rounds': 0}
    """
    rounds = [h["n_estimators"] for h in hints if "n_estimators" in h]
    if not rounds:
        return dict(params)
    return {**params, "n_estimators": max(1, int(round(np.mean(rounds) * 1.1))), "early_stopping_rounds": 0}


def depth_cap(space: Any, name: str, n_rows: int) -> Any:
    """``space`` with tree depth ``name`` at most ``log2(rows) - 2`` (never under 6, the usual default).

    Example:
        >>> from automl.spaces import IntParam, SearchSpace
        >>> depth_cap(SearchSpace("x", (IntParam("depth", 4, 10, 6),)), "depth", 300)["depth"].high
        6
    """
    return cap_high(space, {name: max(6, int(np.log2(max(n_rows, 1))) - 2)})
