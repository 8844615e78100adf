"""Random forest (scikit-learn), on ordinal-encoded categories with missing values kept.

Example:
    >>> from automl.families.base import BuildContext
    >>> FAMILY.build(FAMILY.space().defaults(), BuildContext("binary", 2, 10, 2)).n_estimators
    100
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from automl.families._forest import adapt_forest_space, build_forest
from automl.families.base import BuildContext, ModelFamily

__all__ = ["FAMILY"]


def build(params: Mapping[str, Any], ctx: BuildContext) -> Any:
    """Build a random forest for ``ctx.task``."""
    return build_forest(RandomForestClassifier, RandomForestRegressor, params, ctx)


FAMILY = ModelFamily(
    name="random_forest",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="ordinal",
    build=build,
    description="Random forest (scikit-learn) on ordinal-encoded categories",
    adapt_space=adapt_forest_space,
)
