"""Fit several torch estimators of one shape at once, as one packed model (see :mod:`.packed_training`).

:func:`fit_packed` takes estimators of one class whose parameters differ at most in
:data:`PACK_FREE_PARAMS` (learning rate, weight decay, gradient clipping, patience, epochs) and the same
training rows, learns the inputs once (the preprocessing, the target encoding and the validation split
are the same for all), and trains the members together: each ends fitted as it would be by its own
``fit`` (same weights up to float rounding, dropout masks aside). Each member may have its own
per-epoch reporter (a search's pruning and time limits); a member whose reporter raises, or whose
training diverges, is left unfitted and its exception returned, and the others go on.

Example:
    >>> import numpy as np
    >>> from automl.families.torch_mlp import TabularNet
    >>> X = np.random.default_rng(0).normal(size=(120, 3)); y = (X[:, 0] > 0).astype(int)
    >>> nets = [TabularNet(learning_rate=lr, max_epochs=5, dropout=0.0, device="cpu") for lr in (1e-3, 1e-2)]
    >>> fit_packed(nets, X, y)
    [None, None]
    >>> alone = TabularNet(learning_rate=1e-2, max_epochs=5, dropout=0.0, device="cpu").fit(X, y)
    >>> bool(np.allclose(nets[1].predict_proba(X), alone.predict_proba(X), atol=1e-5))
    True
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from automl.exceptions import InvalidParameterError
from automl.families.epochs import EpochReporter, past_fit_deadline
from automl.families.packed_training import PackMember, packable, train_packed
from automl.families.torch_estimator import Prepared, TorchEstimator, train_config

__all__ = ["PACK_FREE_PARAMS", "fit_packed", "free_in_pack", "pack_problems"]

#: The parameters in which the members of a pack may differ (the rest builds the same inputs and module shape).
PACK_FREE_PARAMS = ("learning_rate", "weight_decay", "gradient_clipping", "patience", "max_epochs")


def free_in_pack(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The parameters in which the other members of a pack led by a net with ``params`` (its training
    parameters, defaults filled) may differ from it: none when that net cannot be packed (an optimiser or
    schedule a pack does not train), and not ``max_epochs`` under a cosine schedule (its length).

    Example:
        >>> free_in_pack({"optimizer": "adamw", "schedule": "cosine"})
        ('learning_rate', 'weight_decay', 'gradient_clipping', 'patience')
        >>> free_in_pack({"optimizer": "sgd", "schedule": "constant"})
        ()
    """
    config = train_config(params)
    if packable([config]):
        return ()
    return tuple(n for n in PACK_FREE_PARAMS if not (n == "max_epochs" and config.schedule == "cosine"))


def pack_problems(estimators: Sequence[Any]) -> list[str]:
    """Why these estimators cannot be fitted as one pack (empty: they can).

    Example:
        >>> from automl.families.torch_mlp import TabularNet
        >>> pack_problems([TabularNet(learning_rate=1e-3), TabularNet(learning_rate=3e-3, weight_decay=0.1)])
        []
        >>> pack_problems([TabularNet(width=64), TabularNet(width=128)])
        ['the members differ in width ([64, 128]); only learning_rate, weight_decay, gradient_clipping, patience, max_epochs may differ']
    """
    if not estimators:
        return []
    kinds = sorted({type(e).__name__ for e in estimators})
    if len(kinds) > 1 or not isinstance(estimators[0], TorchEstimator):
        return [f"a pack holds torch estimators of one class, got {kinds}"]
    problems = []
    first = estimators[0].get_params()
    free = ", ".join(PACK_FREE_PARAMS)
    for name in sorted(first):
        values = [e.get_params()[name] for e in estimators]
        if name not in PACK_FREE_PARAMS and any(v != values[0] for v in values):
            problems.append(f"the members differ in {name} ({values}); only {free} may differ")
    if any(e._augment() is not None for e in estimators):
        problems.append(f"{kinds[0]} augments its training batches, which a pack does not; fit it alone")
    return problems + packable([e._config() for e in estimators])


def fit_packed(estimators: Sequence[TorchEstimator], X: Any, y: Any,
               reporters: Sequence[EpochReporter | None] | None = None) -> list[BaseException | None]:
    """Fit the estimators on ``(X, y)`` as one packed model.

    Args:
        estimators: Torch estimators of one class (see :func:`pack_problems`).
        X: Training rows, as for their ``fit``.
        y: Training target.
        reporters: Per member, ``reporter(epoch, y_true, scores) -> stop`` after each epoch (as the
            search's :func:`~automl.families.epochs.epoch_reporting` reporter), or None. A member whose
            reporter raises ends there. An installed fit deadline ends every member (keeping its best epoch).

    Returns:
        Per member, None (fitted) or the exception that ended it (the estimator is then left unfitted).

    Raises:
        InvalidParameterError: the estimators cannot share a pack, or ``reporters`` has the wrong length.
    """
    estimators = list(estimators)
    reporters = list(reporters) if reporters is not None else [None] * len(estimators)
    problems = pack_problems(estimators)
    if len(reporters) != len(estimators):
        problems.append(f"reporters must have one entry per estimator ({len(estimators)}), got {len(reporters)}")
    if problems:
        raise InvalidParameterError(problems)
    if not estimators:
        return []
    import torch

    from automl.families.torch_common import torch_runtime

    leader = estimators[0]
    with torch_runtime(leader.seed, leader.n_jobs):
        prepared = leader._prepare(X, y)
        learned = {k: v for k, v in vars(leader).items() if k.endswith("_") and not k.startswith("_")}
        for other in estimators[1:]:
            other._validate()
            other.__dict__.update(copy.deepcopy(learned))
        if prepared is None:  # one class: nothing to learn, every member predicts it
            return [None] * len(estimators)
        members = [PackMember(_builder(e, prepared.n_outputs), e._config(), _on_epoch(e, prepared, r))
                   for e, r in zip(estimators, reporters)]
        outcomes = train_packed(members, leader._loss(prepared.n_outputs), prepared.inputs, prepared.target,
                                prepared.valid, torch.device(leader.device_), seed=int(leader.seed))
    errors: list[BaseException | None] = []
    for estimator, outcome in zip(estimators, outcomes):
        if outcome.error is not None:
            for name in ("module_", "train_result_"):
                estimator.__dict__.pop(name, None)
        elif outcome.result is not None:
            estimator.module_, estimator.train_result_ = outcome.module, outcome.result
        errors.append(outcome.error)
    return errors


def _builder(estimator: TorchEstimator, n_outputs: int) -> Any:
    return lambda: estimator._make_module(n_outputs)


def _on_epoch(estimator: TorchEstimator, prepared: Prepared, reporter: EpochReporter | None) -> Any:
    if prepared.valid is None:
        return None

    def on_epoch(epoch: int, outputs: Any) -> bool:
        stop = False
        if reporter is not None:
            stop = bool(reporter(epoch, prepared.truth, estimator._full_scores(estimator._scores(outputs))))
        return stop or past_fit_deadline()

    return on_epoch
