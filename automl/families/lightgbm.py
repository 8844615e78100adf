"""LightGBM with native categories and early stopping on a split of the training fold.

``lightgbm`` is imported only when a model is fitted, so registering and
listing this family stays light.

Example:
    >>> import numpy as np
    >>> from automl.families.base import BuildContext
    >>> est = FAMILY.build(FAMILY.space().defaults(), BuildContext("regression", 0, 200, 2))
    >>> X = np.random.default_rng(0).normal(size=(200, 2)); y = X[:, 0] * 3
    >>> est.fit(X, y).refit_hints_["n_estimators"] > 10
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from automl.families._boosting import fitted_hints, refit_params
from automl.families._early_stopping import (
    PATIENCE_BASE, PATIENCE_RATE, STOPPING_PARAMS, Patience, StoppingEstimator, early_stopping_split, stopping_args,
)
from automl.families.base import BuildContext, ModelFamily
from automl.families.epochs import RoundClock
from automl.spaces.portfolio import cap_high

__all__ = ["FAMILY", "EarlyStoppingLightGBM"]

_MIN_ROWS_FOR_EARLY_STOPPING = 50


class EarlyStoppingLightGBM(StoppingEstimator):
    """LightGBM that holds out ``validation_fraction`` of its rows to stop early.

    Class labels are re-encoded to ``0..K-1`` before training, so the
    validation labels match LightGBM's own encoding.

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
        params: LightGBM parameters (learning_rate, num_leaves, ...).
        n_estimators: Most boosting rounds.
        early_stopping_rounds: Rounds without improvement before stopping (plus ``early_stopping_rate`` times
            the best round so far: :func:`~automl.families._early_stopping.patience_rounds`); 0 trains all rounds.
        early_stopping_rate: How the patience grows with the best round (0: a fixed patience).
        validation_fraction: Share of rows held out for early stopping.
        categorical_feature: Column indices holding category codes.
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

    def _model(self, n_estimators: int) -> Any:
        import lightgbm as lgb

        cls = lgb.LGBMRegressor if self.task == "regression" else lgb.LGBMClassifier
        return cls(
            n_estimators=n_estimators,
            random_state=self.seed,
            n_jobs=self.n_jobs,
            verbose=-1,
            deterministic=True,
            force_col_wise=True,
            **dict(self.params or {}),
        )

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> EarlyStoppingLightGBM:
        """Fit, stopping early on a held-out split when there are enough rows (weighted
        training and early-stopping loss when ``sample_weight`` is given)."""
        classification = self.task != "regression"
        if classification:
            self.classes_, y = np.unique(y, return_inverse=True)
        categorical = list(self.categorical_feature) or "auto"
        split = None
        if self.early_stopping_rounds and len(y) >= _MIN_ROWS_FOR_EARLY_STOPPING:
            split = early_stopping_split(y, classification, self.validation_fraction, self.seed)
        clock = RoundClock()
        if split is not None:
            fit_rows, val_rows = split
            weights = {}
            if sample_weight is not None:
                weights = {"sample_weight": sample_weight[fit_rows], "eval_sample_weight": [sample_weight[val_rows]]}
            model = self._model(self.n_estimators)
            model.fit(
                X[fit_rows],
                y[fit_rows],
                eval_X=(X[val_rows],),
                eval_y=(y[val_rows],),
                categorical_feature=categorical,
                **weights,
                callbacks=[_patience_callback(Patience(self.early_stopping_rounds, self.early_stopping_rate)),
                           *_clock_callbacks(clock)],
            )
            rounds = int(model.best_iteration_ or self.n_estimators)
        else:
            learning_rate = float((self.params or {}).get("learning_rate", 0.1))
            rounds = self.n_estimators if not self.early_stopping_rounds else int(np.clip(10 / learning_rate, 50, 1000))
            rounds = min(rounds, self.n_estimators)
            model = self._model(rounds)
            model.fit(X, y, sample_weight=sample_weight, categorical_feature=categorical, callbacks=_clock_callbacks(clock))
            rounds = int(model.best_iteration_ or rounds)  # fewer when a fit deadline ended the boosting
        clock.raise_if_stopped()
        self.model_ = model
        self.refit_hints_ = {"n_estimators": rounds}
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted values (regression) or labels (classification)."""
        if self.task == "regression":
            return self.model_.predict(X, num_iteration=self.model_.best_iteration_ or None)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self.model_.predict_proba(X, num_iteration=self.model_.best_iteration_ or None)


def _patience_callback(patience: Patience) -> Any:
    """LightGBM's early stopping by :class:`~automl.families._early_stopping.Patience` on the first metric of the
    held-out split (its own callback takes a fixed number of rounds); like LightGBM's, it also ends the last round
    with the best one kept, so that ``best_iteration_`` is the best round and not the last."""
    import lightgbm as lgb

    kept: dict[str, Any] = {"results": []}

    def stop_on_patience(env: Any) -> None:
        results = list(env.evaluation_result_list or [])
        if not results:
            return
        value, higher = results[0][2], results[0][3]
        before = patience.best_round
        done = patience.update(env.iteration - env.begin_iteration, -value if higher else value)
        if patience.best_round != before:
            kept["results"] = results
        if done or env.iteration == env.end_iteration - 1:
            raise lgb.callback.EarlyStopException(env.begin_iteration + patience.best_round, kept["results"])

    stop_on_patience.order = 30  # type: ignore[attr-defined]  # where LightGBM's own early stopping runs
    return stop_on_patience


def _clock_callbacks(clock: RoundClock) -> list[Any]:
    """A callback that ends the boosting when ``clock`` says (a fit deadline, or the search's fold cap; see
    :class:`~automl.families.epochs.RoundClock`), keeping the best round on the early-stopping split so far
    (the last round without one); none when nothing can end it."""
    if not clock.active:
        return []
    import lightgbm as lgb

    best: dict[str, Any] = {"iteration": -1, "value": None, "results": []}

    def stop_on_clock(env: Any) -> None:
        results = list(env.evaluation_result_list or [])
        if results:
            value, higher = results[0][2], results[0][3]
            if best["value"] is None or (value > best["value"] if higher else value < best["value"]):
                best.update(iteration=env.iteration, value=value, results=results)
        if clock(env.iteration):
            if best["iteration"] < 0:
                best.update(iteration=env.iteration, results=results)
            raise lgb.callback.EarlyStopException(best["iteration"], best["results"])

    stop_on_clock.order = 40  # type: ignore[attr-defined]  # after LightGBM's early stopping (30)
    return [stop_on_clock]


def build(params: Mapping[str, Any], ctx: BuildContext) -> EarlyStoppingLightGBM:
    """Build the estimator from the ``lightgbm`` space's parameters."""
    return EarlyStoppingLightGBM(
        task=ctx.task,
        params={k: v for k, v in params.items() if k not in STOPPING_PARAMS},
        **stopping_args(params),
        categorical_feature=tuple(ctx.categorical_indices),
        seed=ctx.seed,
        n_jobs=ctx.n_jobs,
    )


def learning_curves(estimator: EarlyStoppingLightGBM) -> dict[str, list[float]]:
    """Loss on the early-stopping split after each boosting round (empty without that split)."""
    results = getattr(estimator.model_, "evals_result_", None) or {}
    for per_metric in results.values():
        for values in per_metric.values():
            return {"valid_loss": list(values)}
    return {}


def adapt_space(space: Any, n_rows: int) -> Any:
    """Leaves no larger than a 20th of the rows, and no more leaves than a 10th of them."""
    return cap_high(space, {"min_child_samples": max(10, n_rows // 20), "num_leaves": max(16, n_rows // 10)})


FAMILY = ModelFamily(
    name="lightgbm",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="native",
    build=build,
    description="LightGBM gradient boosting with native categories and early stopping",
    requires=("lightgbm",),
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    adapt_space=adapt_space,
    poisson_params={"objective": "poisson"},
)
