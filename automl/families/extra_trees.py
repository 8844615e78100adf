"""Extremely randomised trees (scikit-learn), on ordinal-encoded categories.

Example:
    >>> from automl.families.base import BuildContext
    >>> FAMILY.build(FAMILY.space().defaults(), BuildContext("regression", 0, 10, 2)).bootstrap
    False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

from automl.families._forest import adapt_forest_space, build_forest
from automl.families.base import BuildContext, ModelFamily

__all__ = ["FAMILY"]


def build(params: Mapping[str, Any], ctx: BuildContext) -> Any:
    """Build extra trees for ``ctx.task``."""
    return build_forest(ExtraTreesClassifier, ExtraTreesRegressor, params, ctx)


FAMILY = ModelFamily(
    name="extra_trees",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="ordinal",
    build=build,
    description="Extremely randomised trees (scikit-learn) on ordinal-encoded categories",
    adapt_space=adapt_forest_space,
)
