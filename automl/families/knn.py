"""k-nearest neighbours on standardised, one-hot encoded data.

Example:
    >>> from automl.families.base import BuildContext
    >>> FAMILY.build({"n_neighbors": 5, "weights": "uniform", "p": 2},
    ...              BuildContext(task="binary", n_classes=2, n_rows=3, n_features=2))
    KNeighborsClassifier(n_jobs=1, n_neighbors=3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from automl.families.base import BuildContext, ModelFamily
from automl.spaces.portfolio import cap_high

__all__ = ["FAMILY"]


def build(params: Mapping[str, Any], ctx: BuildContext) -> Any:
    """Build the estimator; ``n_neighbors`` is capped by the rows available."""
    cls = KNeighborsRegressor if ctx.task == "regression" else KNeighborsClassifier
    return cls(
        n_neighbors=max(1, min(int(params["n_neighbors"]), ctx.n_rows)),
        weights=params["weights"],
        p=int(params["p"]),
        n_jobs=ctx.n_jobs,
    )


def adapt_space(space: Any, n_rows: int) -> Any:
    """At most a 10th of the rows as neighbours."""
    return cap_high(space, {"n_neighbors": max(2, n_rows // 10)})


FAMILY = ModelFamily(
    name="knn",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="onehot",
    build=build,
    description="k-nearest neighbours on standardised, one-hot encoded data",
    sample_weight=False,
    adapt_space=adapt_space,
)
