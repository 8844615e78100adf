"""XGBoost (``hist`` trees) with native categorical features and early stopping on a split of the
training fold.

The category columns (integer codes, NaN when missing) are declared as categorical
(``feature_types="c"``, ``enable_categorical=True``), so XGBoost splits on sets of categories
(one-hot splits up to ``max_cat_to_onehot`` levels). ``xgboost`` is imported only when a model is
fitted (the ``xgboost`` or ``xgboost-cpu`` wheel: both provide the module).

Example:
    >>> import numpy as np
    >>> from automl.families.base import BuildContext
    >>> est = FAMILY.build(FAMILY.space().defaults(), BuildContext("regression", 0, 200, 2))
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
from automl.spaces.portfolio import cap_high

__all__ = ["FAMILY", "EarlyStoppingXGBoost"]


class EarlyStoppingXGBoost(EarlyStoppingBooster):
    """XGBoost that holds out ``validation_fraction`` of its rows to stop early (predicting with the best round).

    Takes the arguments of :class:`~automl.families._boosting.EarlyStoppingBooster`; ``params`` are
    XGBoost's (learning_rate, max_depth, min_child_weight, ...).
    """

    def _train(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, rounds: int,
               held: Held | None) -> tuple[Any, int]:
        import xgboost

        categorical = set(self.categorical_feature)
        options = dict(
            n_estimators=int(rounds),
            tree_method="hist",
            enable_categorical=True,
            feature_types=["c" if i in categorical else "q" for i in range(X.shape[1])],
            random_state=int(self.seed),
            n_jobs=int(self.n_jobs),
            verbosity=0,
            **dict(self.params or {}),
        )
        clock = RoundClock()
        callbacks = [_clock_callback(xgboost, clock)] if clock.active else []
        if held is not None:
            callbacks.insert(0, _patience_callback(xgboost, Patience(self.early_stopping_rounds, self.early_stopping_rate)))
        if callbacks:
            options["callbacks"] = callbacks
        cls = xgboost.XGBRegressor if self.task == "regression" else xgboost.XGBClassifier
        model = cls(**options)
        if held is None:
            model.fit(X, y, sample_weight=weight, verbose=False)
            model.set_params(callbacks=None)  # the callback's class is local: the model must pickle
            clock.raise_if_stopped()
            return model, int(model.get_booster().num_boosted_rounds())
        held_X, held_y, held_weight = held
        model.fit(X, y, sample_weight=weight, eval_set=[(held_X, held_y)],
                  sample_weight_eval_set=None if held_weight is None else [held_weight], verbose=False)
        model.set_params(callbacks=None)
        clock.raise_if_stopped()
        try:
            return model, int(model.best_iteration) + 1
        except AttributeError:  # the clock ended the boosting before early stopping kept a best round
            return model, int(model.get_booster().num_boosted_rounds())

    def _scores(self, X: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            return np.asarray(self.model_.predict(X), dtype="float64")
        return np.asarray(self.model_.predict_proba(X), dtype="float64")


def _patience_callback(xgboost: Any, patience: Patience) -> Any:
    """XGBoost's early stopping by :class:`~automl.families._early_stopping.Patience` on the held-out split's loss
    (its own ``EarlyStopping`` takes a fixed number of rounds). It records the best round where XGBoost's own
    does (the booster's ``best_iteration`` and ``best_score``), so that ``predict`` uses that round."""

    class StopOnPatience(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            for metrics in evals_log.values():
                for values in metrics.values():
                    done = patience.update(epoch, float(values[-1]))
                    model.set_attr(best_iteration=str(patience.best_round), best_score=str(patience.best))
                    return done
            return False

    return StopOnPatience()


def _clock_callback(xgboost: Any, clock: RoundClock) -> Any:
    """A callback that ends the boosting when ``clock`` says (XGBoost's early stopping, if on, still keeps
    its best round); see :class:`~automl.families.epochs.RoundClock`."""

    class StopOnClock(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return clock(epoch)

    return StopOnClock()


def build(params: Mapping[str, Any], ctx: BuildContext) -> EarlyStoppingXGBoost:
    """Build the estimator from the ``xgboost`` space's parameters."""
    return EarlyStoppingXGBoost.from_params(params, ctx)


def learning_curves(estimator: EarlyStoppingXGBoost) -> dict[str, list[float]]:
    """Loss on the early-stopping split after each boosting round (empty without that split)."""
    results = getattr(estimator.model_, "evals_result_", None) or {}  # none without that split
    for values in (results.get("validation_0") or {}).values():
        return {"valid_loss": [float(v) for v in values]}
    return {}


def adapt_space(space: Any, n_rows: int) -> Any:
    """Trees no deeper than ``log2(rows) - 2`` (never capped under 6), and a leaf weight of at most
    a 20th of the rows."""
    return depth_cap(cap_high(space, {"min_child_weight": max(2.0, n_rows / 20)}), "max_depth", n_rows)


FAMILY = ModelFamily(
    name="xgboost",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="native",
    build=build,
    description="XGBoost gradient boosting (hist trees) with native categories and early stopping",
    requires=("xgboost",),
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    adapt_space=adapt_space,
)
