"""Linear models: logistic regression for classes, ridge or elastic net for values.

Example:
    >>> from automl.families.base import BuildContext
    >>> FAMILY.build({"alpha": 1.0, "penalty": "l2", "l1_ratio": 0.5, "class_weight": None},
    ...              BuildContext(task="regression", n_classes=0, n_rows=10, n_features=2))
    Ridge(random_state=0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

from automl.families.base import BuildContext, ModelFamily

__all__ = ["FAMILY"]


def build(params: Mapping[str, Any], ctx: BuildContext) -> Any:
    """Build the estimator from the ``linear`` space's parameters."""
    alpha = float(params["alpha"])
    elastic = params["penalty"] == "elasticnet"
    if ctx.task == "regression":
        if elastic:
            return ElasticNet(alpha=alpha, l1_ratio=float(params["l1_ratio"]), random_state=ctx.seed, max_iter=5000)
        return Ridge(alpha=alpha, random_state=ctx.seed)
    return LogisticRegression(
        C=1.0 / alpha,
        l1_ratio=float(params["l1_ratio"]) if elastic else 0.0,
        solver="saga" if elastic else "lbfgs",
        max_iter=1000,
        class_weight=params["class_weight"],
        random_state=ctx.seed,
    )


FAMILY = ModelFamily(
    name="linear",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="onehot",
    build=build,
    description="Logistic regression (classes) or ridge / elastic net (values) on scaled, one-hot data",
)
