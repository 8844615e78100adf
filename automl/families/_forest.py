"""What random forests and extra trees share: one builder over the same parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.families.base import BuildContext


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
