"""Histogram gradient boosting (scikit-learn) with native categories and early stopping.

Each fold stops early on an internal validation split; the refit on all rows
then runs the mean number of iterations the folds needed, without a split.

Example:
    >>> from automl.families.base import BuildContext
    >>> est = FAMILY.build(FAMILY.space().defaults(), BuildContext("binary", 2, 100, 3, (2,), (4,)))
    >>> est.categorical_features
    [False, False, True]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from automl.families._early_stopping import validation_rows
from automl.families.base import BuildContext, ModelFamily
from automl.spaces.portfolio import cap_high

__all__ = ["FAMILY"]

_MAX_CATEGORIES = 250  # HistGradientBoosting needs fewer levels than max_bins (255)
_VALIDATION_FRACTION = 0.1


class _FoldSafe:
    """scikit-learn's estimator, fitted on what a fold may hold: a column with fewer values in the fold's rows
    than a leaf's least rows (at least 2) is read as a constant. No split can use it (a split on it would leave
    fewer rows than that in a leaf), and with none or its few values all in the early-stopping part,
    scikit-learn 1.9 refused it ("window shape cannot be larger than input array shape"). The early-stopping
    split is the boosters' rule (:mod:`automl.families._early_stopping`: one row per class held out at least,
    none where a class has one row; scikit-learn's 10 % refused a class of one row or more classes than
    held-out rows, and every trial failed)."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        X = np.asarray(X, dtype="float64")
        settings: dict[str, Any] = vars(self)  # scikit-learn's parameters, as get_params reads them
        empty = np.isfinite(X).sum(axis=0) < max(2, int(settings["min_samples_leaf"]))
        if empty.any():
            X = X.copy()
            X[:, empty] = 0.0
        saved = settings["early_stopping"], settings["validation_fraction"]
        if saved[0] is True:
            held = validation_rows(np.asarray(y), not isinstance(self, HistGradientBoostingRegressor),
                                   _VALIDATION_FRACTION)
            settings.update(early_stopping=held is not None, validation_fraction=held or _VALIDATION_FRACTION)
        try:
            return super().fit(X, y, sample_weight=sample_weight)  # type: ignore[misc]
        finally:
            settings.update(early_stopping=saved[0], validation_fraction=saved[1])


class FoldSafeHGBClassifier(_FoldSafe, HistGradientBoostingClassifier):
    """:class:`HistGradientBoostingClassifier` on what a fold may hold (see ``_FoldSafe``)."""


class FoldSafeHGBRegressor(_FoldSafe, HistGradientBoostingRegressor):
    """:class:`HistGradientBoostingRegressor` on what a fold may hold (see ``_FoldSafe``)."""


def build(params: Mapping[str, Any], ctx: BuildContext) -> Any:
    """Build the estimator; high-cardinality categoricals are left as ordinal codes."""
    mask = [False] * ctx.n_features
    for index, count in zip(ctx.categorical_indices, ctx.category_counts):
        mask[index] = count <= _MAX_CATEGORIES
    early = params.get("early_stopping", True)
    regression = ctx.task == "regression"
    cls = FoldSafeHGBRegressor if regression else FoldSafeHGBClassifier
    loss = {"loss": str(params.get("loss", "squared_error"))} if regression else {}  # poisson: FAMILY.poisson_params
    return cls(
        **loss,
        learning_rate=float(params["learning_rate"]),
        max_leaf_nodes=int(params["max_leaf_nodes"]),
        min_samples_leaf=int(params["min_samples_leaf"]),
        l2_regularization=float(params["l2_regularization"]),
        max_features=float(params["max_features"]),
        max_iter=int(params["max_iter"]),
        categorical_features=mask if any(mask) else None,
        early_stopping=bool(early) and ctx.n_rows >= 50,
        n_iter_no_change=20,
        validation_fraction=_VALIDATION_FRACTION,
        random_state=ctx.seed,
    )


def fitted_hints(estimator: Any) -> dict[str, Any]:
    """Iterations run in this fold."""
    return {"n_iter": int(estimator.n_iter_)}


def learning_curves(estimator: Any) -> dict[str, list[float]]:
    """Training and validation loss after each iteration (when early stopping scored them)."""
    curves = {}
    for name, attribute in (("train_loss", "train_score_"), ("valid_loss", "validation_score_")):
        values = np.asarray(getattr(estimator, attribute, ()), dtype=float)
        if values.size > 1:  # scores are negated losses; the first entry is before any iteration
            curves[name] = (-values[1:]).tolist()
    return curves


def refit_params(params: Mapping[str, Any], hints: list[dict[str, Any]]) -> dict[str, Any]:
    """Refit with the folds' mean iterations (+10 % for the larger data), no early stopping."""
    iters = [h["n_iter"] for h in hints if "n_iter" in h]
    if not iters:
        return dict(params)
    return {**params, "max_iter": max(1, int(round(np.mean(iters) * 1.1))), "early_stopping": False}


def adapt_space(space: Any, n_rows: int) -> Any:
    """Leaves no larger than a 20th of the rows, and no more leaves than a 10th of them."""
    return cap_high(space, {"min_samples_leaf": max(10, n_rows // 20), "max_leaf_nodes": max(16, n_rows // 10)})


FAMILY = ModelFamily(
    name="hist_gradient_boosting",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="native",
    build=build,
    description="Histogram gradient boosting (scikit-learn) with native categories and early stopping",
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    adapt_space=adapt_space,
    poisson_params={"loss": "poisson"},
)
