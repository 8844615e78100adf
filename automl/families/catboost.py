"""CatBoost with native categorical features and early stopping on a split of the training fold.

The category columns (integer codes, NaN when missing) reach CatBoost as integer ``cat_features``
(missing as its own code, -1), so CatBoost encodes them itself (one-hot up to ``one_hot_max_size``
levels, ordered target statistics and their combinations beyond). ``catboost`` is imported only
when a model is fitted; it never writes its ``catboost_info`` folder.

Example:
    >>> import numpy as np
    >>> from automl.families.base import BuildContext
    >>> params = {**FAMILY.space().defaults(), "learning_rate": 0.2}
    >>> est = FAMILY.build(params, BuildContext("regression", 0, 200, 2))
    >>> X = np.random.default_rng(0).normal(size=(200, 2)); y = X[:, 0] * 3
    >>> est.fit(X, y).refit_hints_["n_estimators"] > 10
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from automl.families._boosting import EarlyStoppingBooster, Held, depth_cap, fitted_hints, refit_params
from automl.families._early_stopping import Patience
from automl.families.base import BuildContext, ModelFamily
from automl.families.epochs import RoundClock

__all__ = ["FAMILY", "EarlyStoppingCatBoost"]

#: The code CatBoost sees for a missing (or unseen) category.
MISSING_CODE = -1


class EarlyStoppingCatBoost(EarlyStoppingBooster):
    """CatBoost that holds out ``validation_fraction`` of its rows to stop early (``use_best_model``).

    Takes the arguments of :class:`~automl.families._boosting.EarlyStoppingBooster`; ``params`` are
    CatBoost's (learning_rate, depth, l2_leaf_reg, ...).
    """

    def _frame(self, X: np.ndarray) -> Any:
        """``X`` as a frame whose category columns hold integer codes (``MISSING_CODE`` when missing)."""
        import pandas as pd

        categorical = set(self.categorical_feature)
        columns = {}
        for i in range(X.shape[1]):
            column = X[:, i]
            if i in categorical:
                column = np.where(np.isnan(column), MISSING_CODE, column).astype("int64")
            columns[f"f{i}"] = column
        return pd.DataFrame(columns)

    def _pool(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None) -> Any:
        from catboost import Pool

        return Pool(self._frame(X), label=y, weight=weight, cat_features=list(self.categorical_feature))

    def _train(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, rounds: int,
               held: Held | None) -> tuple[Any, int]:
        import catboost

        if self.task == "regression":
            model = catboost.CatBoostRegressor(loss_function="RMSE", **self._options(rounds))
        else:
            loss = "Logloss" if len(self.classes_) <= 2 else "MultiClass"
            model = catboost.CatBoostClassifier(loss_function=loss, **self._options(rounds))
        clock = RoundClock()
        callbacks: list[Any] = [_StopOnClock(clock)] if clock.active else []
        if held is None:
            model.fit(self._pool(X, y, weight), callbacks=callbacks or None)
        else:  # use_best_model keeps the best round on the held-out rows when the patience ends the boosting
            model.fit(self._pool(X, y, weight), eval_set=self._pool(*held), use_best_model=True,
                      callbacks=[_StopOnPatience(Patience(self.early_stopping_rounds, self.early_stopping_rate)), *callbacks])
        clock.raise_if_stopped()
        return model, int(model.tree_count_)

    def _options(self, rounds: int) -> dict[str, Any]:
        return dict(
            iterations=int(rounds),
            random_seed=int(self.seed),
            thread_count=int(self.n_jobs),
            allow_writing_files=False,  # else catboost_info/ is written into the working directory
            logging_level="Silent",
            **dict(self.params or {}),
        )

    def _scores(self, X: np.ndarray) -> np.ndarray:
        frame = self._frame(X)
        if self.task == "regression":
            return np.asarray(self.model_.predict(frame), dtype="float64")
        return np.asarray(self.model_.predict_proba(frame), dtype="float64")


class _StopOnPatience:
    """CatBoost's per-iteration callback: go on until :class:`~automl.families._early_stopping.Patience` runs out on
    the held-out loss (CatBoost's own ``early_stopping_rounds`` is a fixed number of rounds)."""

    def __init__(self, patience: Patience) -> None:
        self.patience = patience

    def after_iteration(self, info: Any) -> bool:
        """Whether to go on."""
        for values in (info.metrics.get("validation") or {}).values():
            return not self.patience.update(int(info.iteration), float(values[-1]))
        return True


class _StopOnClock:
    """CatBoost's per-iteration callback: go on until ``clock`` says to end (``use_best_model`` still keeps
    the best iteration); see :class:`~automl.families.epochs.RoundClock`."""

    def __init__(self, clock: RoundClock) -> None:
        self.clock = clock

    def after_iteration(self, info: Any) -> bool:
        """Whether to go on."""
        return not self.clock(int(info.iteration))


def build(params: Mapping[str, Any], ctx: BuildContext) -> EarlyStoppingCatBoost:
    """Build the estimator from the ``catboost`` space's parameters."""
    return EarlyStoppingCatBoost.from_params(params, ctx)


def learning_curves(estimator: EarlyStoppingCatBoost) -> dict[str, list[float]]:
    """Loss on the early-stopping split after each boosting round (empty without that split)."""
    for values in (estimator.model_.get_evals_result().get("validation") or {}).values():
        return {"valid_loss": [float(v) for v in values]}
    return {}


def adapt_space(space: Any, n_rows: int) -> Any:
    """Trees no deeper than ``log2(rows) - 2`` (never capped under depth 6)."""
    return depth_cap(space, "depth", n_rows)


FAMILY = ModelFamily(
    name="catboost",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="native",
    build=build,
    description="CatBoost gradient boosting with native categories (target statistics) and early stopping",
    requires=("catboost",),
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    adapt_space=adapt_space,
)
