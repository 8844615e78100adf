"""Fit several :class:`~automl.families.pipeline.FamilyPipeline` of one net family at once, as one pack.

The pipelines must differ only in :data:`~automl.families.packed_fit.PACK_FREE_PARAMS`, so the first
one's preprocessing (fitted once, then copied to the others) encodes the rows for every member, and the
estimators train together with :func:`~automl.families.packed_fit.fit_packed`. Each member's epoch
reporter sees the target's own units (a member that learns ``log(y)`` reports in ``y``), as
:meth:`FamilyPipeline.fit` arranges for one net.

Example:
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": np.linspace(-2, 2, 120)}); y = (X["a"] > 0).astype(int).to_numpy()
    >>> pipes = [FamilyPipeline("torch_mlp", {"learning_rate": lr, "max_epochs": 3}, task="binary", n_classes=2,
    ...                         device="cpu") for lr in (1e-3, 1e-2)]
    >>> fit_pipelines_packed(pipes, X, y)
    [None, None]
    >>> pipes[1].predict_scores(X).shape
    (120, 2)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pandas as pd

from automl._threads import limit_threads
from automl.exceptions import InvalidParameterError
from automl.families.epochs import EpochReporter
from automl.families.packed_fit import PACK_FREE_PARAMS, fit_packed, pack_problems
from automl.families.packed_training import packable
from automl.families.pipeline import FamilyPipeline
from automl.families.registry import get_family
from automl.families.torch_estimator import train_config

__all__ = ["fit_pipelines_packed", "pipeline_pack_problems"]

#: What the members' pipelines must share besides the family and its shape parameters.
_SHARED = ("family", "task", "n_classes", "seed", "device", "image_shape", "n_jobs")


def pipeline_pack_problems(pipelines: Sequence[FamilyPipeline]) -> list[str]:
    """Why these pipelines cannot be fitted as one pack, before anything is fitted (empty: they can).

    Example:
        >>> a = FamilyPipeline("torch_mlp", {"learning_rate": 1e-3}); b = FamilyPipeline("torch_mlp", {"width": 64})
        >>> pipeline_pack_problems([a, b])[0]
        'the members differ in width ([128, 64]); only learning_rate, weight_decay, gradient_clipping, patience, max_epochs may differ'
    """
    if not pipelines:
        return []
    problems = []
    for name in _SHARED:
        values = [getattr(p, name) for p in pipelines]
        if any(v != values[0] for v in values):
            problems.append(f"the members differ in {name} ({values}); a pack shares it")
    if problems:
        return problems
    if not get_family(pipelines[0].family).packable:
        return [f"family {pipelines[0].family!r} is not packed (ModelFamily.packable); fit its members alone"]
    split = [p._split_params() for p in pipelines]
    params = [{**estimator, **{f"text_{k}": v for k, v in text.items()}, "target_transform": target}
              for estimator, text, target in split]
    free = ", ".join(PACK_FREE_PARAMS)
    for name in sorted(set().union(*params)):
        values = [p.get(name) for p in params]
        if name not in PACK_FREE_PARAMS and any(v != values[0] for v in values):
            problems.append(f"the members differ in {name} ({values}); only {free} may differ")
    return problems or packable([train_config(p) for p, _, _ in split])


def fit_pipelines_packed(pipelines: Sequence[FamilyPipeline], X: pd.DataFrame, y: Any,
                         reporters: Sequence[EpochReporter | None] | None = None) -> list[BaseException | None]:
    """Fit the pipelines on ``(X, y)``, their nets as one pack.

    Args:
        pipelines: Unfitted pipelines of one net family (see :func:`pipeline_pack_problems`).
        X: Training rows (canonical frame).
        y: Encoded target.
        reporters: Per member, an epoch reporter (in the target's units), or None.

    Returns:
        Per member, None (fitted) or the exception that ended its training (that pipeline is unusable).

    Raises:
        InvalidParameterError: the pipelines (or their estimators) cannot share a pack.
    """
    pipelines = list(pipelines)
    problems = pipeline_pack_problems(pipelines)
    if problems:
        raise InvalidParameterError(problems)
    if not pipelines:
        return []
    leader = pipelines[0]
    Z, y_model, mapped = leader.prepare(X, y)
    for other in pipelines[1:]:  # the same preprocessing: copy it rather than fit it again
        for name in ("target_transform_", "n_threads_", "preprocessor_"):
            setattr(other, name, copy.deepcopy(getattr(leader, name)))
        other.build_estimator(Z)
    estimators = [p.estimator_ for p in pipelines]
    problems = pack_problems(estimators)
    if problems:
        raise InvalidParameterError(problems)
    given = list(reporters) if reporters is not None else [None] * len(pipelines)
    with limit_threads(leader.n_threads_):
        return fit_packed(estimators, Z, y_model, [_in_target_units(r, mapped) for r in given])


def _in_target_units(reporter: EpochReporter | None, mapped: Any) -> EpochReporter | None:
    if reporter is None or mapped is None:
        return reporter
    return lambda epoch, y_true, scores: reporter(epoch, mapped(y_true), mapped(scores))
