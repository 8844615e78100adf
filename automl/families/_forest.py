"""What random forests and extra trees share: one builder over the same parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.families.base import BuildContext
from automl.spaces.portfolio import cap_high


def adapt_forest_space(space: Any, n_rows: int) -> Any:
    """Leaves no larger than a 50th of the rows; on large data, fewer trees at most
    (about 50 million tree-rows, never under 100 trees)."""
    return cap_high(space, {"min_samples_leaf": max(4, n_rows // 50), "n_estimators": max(100, 50_000_000 // max(n_rows, 1))})


def build_forest(classifier: type, regressor: type, params: Mapping[str, Any], ctx: BuildContext) -> Any:
    """Build a forest of ``classifier`` or ``regressor`` from the shared forest space."""
    common = dict(
        n_estimators=int(params["n_estimators"]),
        max_features=params["max_features"],
        min_samples_leaf=int(params["min_samples_leaf"]),
        max_depth=params["max_depth"],
        bootstrap=bool(params["bootstrap"]),
        n_jobs=ctx.n_jobs,
        random_state=ctx.seed,
    )
    if ctx.task == "regression":
        return regressor(**common)
    return classifier(class_weight=params["class_weight"], **common)
