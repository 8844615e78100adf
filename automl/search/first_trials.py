"""The trials a new study starts with, and the target's scale they settle before the portfolios run.

A new study queues, in order: the learned first trials (:mod:`automl.spaces.zero_shot`), every family's
defaults, then the families' portfolios in turn. Where the target transform is searched (regression on a
target with no negative value, :mod:`automl.data.target`), the first family's defaults also run on each
other scale of the target, after every family's defaults. Those runs of the first family (its defaults on
every scale) are the *scale trials*: once all of them have ended, the scale that scored best becomes the
transform of every portfolio entry that can use it, and only then are the portfolios queued
(:func:`queue_after_scale`; the main process, which creates or resumes the study, calls it after each trial).
Without scale trials the portfolios are queued at once.

The scales are compared on equal rows. On large data a trial trains on a share of its rows sized to the time
left (:func:`~automl.search.policy.fidelity_share`), and the other scales run later, when less is left: on the
public suite's diamonds training split at 60 s LightGBM's defaults trained on 76 % of the rows on the target as it
is (561 RMSE) and on 35-37 % on ``sqrt`` and ``log`` (589-590), so the target as it is won on having more rows,
where on equal rows ``sqrt`` is the better scale (3-fold CV on all rows: 553 as it is, 549 ``sqrt``). So a
scale trial trains on the share of rows the target as it is trained on (:func:`base_scale_trial`; stopped
at its probe when that trial's time would overrun the time left), and :func:`scale_of_target` compares only the scale
trials on that share.

Why learn the scale once and carry it: on the 52 off-suite regression tables of ``benchmarks/`` whose target
has no negative value, no one transform helps LightGBM's defaults everywhere (under 3-fold CV ``sqrt`` won 21,
tied 8, lost 23), while on a target where it helps one booster it tends to help the others (the public suite's
bike sharing training split: LightGBM 40.10 → 39.16 RMSE, CatBoost 39.96 → 38.53 with ``sqrt``), and the
sampler, which keeps each family's transform as a parameter of that family, learns it late, one family at a
time. End to end at 60 s on those 52 tables this won 12, tied 32 and lost 8 against portfolios on their own
scale (benchmarks/README.md, twenty-first session).

Example:
    >>> import optuna
    >>> from automl.families import get_family
    >>> fams = [get_family("knn"), get_family("linear")]
    >>> study = optuna.create_study()
    >>> enqueue_first_trials(study, fams, {f.name: f.space() for f in fams}, "binary")
    ['default', 'default', 'portfolio:autogluon_distance']
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from automl.data.target import TARGET_PARAM_NAME
from automl.families.base import ModelFamily
from automl.search.trial_record import (
    StudyRecord, StudyWriter, TrialRecord, is_scale_trial, origin_attrs, queued_attrs, trial_params,
)
from automl.spaces import SearchSpace
from automl.spaces.params import CategoricalParam
from automl.spaces.portfolio import entry_trial, portfolio_trials
from automl.spaces.zero_shot import FirstTrial

__all__ = ["AS_IT_IS", "base_scale_trial", "enqueue_first_trials", "queue_after_scale", "queue_again", "same_rows",
           "scale_of_target", "waiting_families"]

#: The transform of the target as it is: the scale the other scale trials are compared with.
AS_IT_IS = "none"

logger = logging.getLogger("automl")


def enqueue_first_trials(study: Any, families: Sequence[ModelFamily], spaces: Mapping[str, SearchSpace],
                         task: str, learned: Sequence[FirstTrial] = ()) -> list[str]:
    """Queue the first trials of a new study; return their origins, in order.

    First the ``learned`` sequence (the configurations that did best, for their time, on a corpus of real
    tables), those of its entries whose family is searched, each clipped into the family's current space (an
    entry whose value is no longer a choice is skipped). Then every family's defaults, then the first family's
    defaults on each other scale of the target where the transform is searched. Then the families' portfolios
    in turn (entry 1 of each family, then entry 2, ...): at once without scale trials, else later, on the
    scale they settle (:func:`queue_after_scale`). A configuration already queued is not queued twice.
    """
    queued: list[dict[str, object]] = []
    origins: list[str] = []

    def put(family: str, params: Mapping[str, object] | None, origin: str, scale: bool = False) -> None:
        # params None: a learned entry this space cannot run
        if params is not None and _enqueue(study, queued, family, params, origin, scale):
            origins.append(origin)

    names = [family.name for family in families]
    for entry in learned:
        if entry.family in names:
            put(entry.family, entry_trial(spaces[entry.family], entry.params), entry.origin)
    variants = _transform_variants(spaces[families[0].name]) if families else []
    for index, family in enumerate(families):
        put(family.name, spaces[family.name].optuna_defaults(), "default", scale=index == 0 and bool(variants))
    if variants:  # the first family's defaults on each other scale of the target, once every family has run
        first = spaces[families[0].name]
        for transform in variants:
            put(families[0].name, {**first.optuna_defaults(), first.key(TARGET_PARAM_NAME): transform}, "default",
                scale=True)
        StudyWriter(study).portfolios_queued(False)
        return origins
    origins += _queue_portfolios(study, families, spaces, task, None, queued)
    StudyWriter(study).portfolios_queued(True)
    return origins


def queue_after_scale(study: Any, families: Sequence[ModelFamily], spaces: Mapping[str, SearchSpace],
                      task: str) -> list[str] | None:
    """Queue the portfolios on the scale the scale trials settled, once they have all ended; return the
    origins queued (empty: the portfolios were queued before; None: not yet, a scale trial has not ended).

    Each portfolio entry of a family whose space searches the transform takes the scale chosen by
    :func:`scale_of_target`; an entry identical to a trial the study already has is not queued.
    """
    if StudyRecord.read(study).portfolios_queued is not False:
        return []
    trials = study.get_trials(deepcopy=False)
    scale_trials = [t for t in trials if is_scale_trial(t)]
    if any(not t.state.is_finished() for t in scale_trials):
        return None
    scale = scale_of_target(scale_trials, study.direction.name == "MAXIMIZE")
    seen = [dict(t.params) for t in trials if t.params] + _queued_configurations(trials)
    origins = _queue_portfolios(study, families, spaces, task, scale, seen)
    StudyWriter(study).portfolios_queued(True)
    logger.info("the target's scale settled on %r; %d portfolio trials queued on it", scale, len(origins))
    return origins


def waiting_families(study: Any) -> set[str]:
    """The families of the study's queued trials that no process has started yet."""
    return {str(params.get("family")) for params in _queued_configurations(study.get_trials(deepcopy=False))}


def _queued_configurations(trials: Sequence[Any]) -> list[dict[str, object]]:
    """The configurations of the queued trials no process has started yet (what ``enqueue_trial`` fixed)."""
    return [dict(t.system_attrs.get("fixed_params", {})) for t in trials if t.state.name == "WAITING"]


def queue_again(trial: Any) -> None:
    """Queue a started trial's configuration again, at the back, with the origin it was queued with (a trial that
    waits behind a quick family's, :meth:`~automl.search.policy.SearchPolicy.waits_for_quick`)."""
    trial.study.enqueue_trial(dict(trial.params), user_attrs=queued_attrs(trial))


def scale_of_target(scale_trials: Sequence[Any], maximize: bool) -> str | None:
    """The transform of the best completed scale trial among those trained on the same share of rows as the
    one on the target as it is (None: that one did not complete, so the portfolios keep their scale).

    Example:
        >>> from optuna.distributions import CategoricalDistribution
        >>> from optuna.trial import create_trial
        >>> scales = CategoricalDistribution(["none", "sqrt", "log"])
        >>> family = CategoricalDistribution(["knn"])
        >>> def scale_trial(transform, value, rows=1.0):
        ...     return create_trial(params={"family": "knn", "knn__target_transform": transform}, value=value,
        ...                         distributions={"family": family, "knn__target_transform": scales},
        ...                         user_attrs={"automl:scale_trial": True, "automl:rows_fraction": rows})
        >>> trials = [scale_trial("none", 40.1), scale_trial("sqrt", 39.2), scale_trial("log", 41.5)]
        >>> scale_of_target(trials, maximize=False), scale_of_target(trials, maximize=True), scale_of_target([], False)
        ('sqrt', 'log', None)
        >>> fewer_rows = [scale_trial("none", 561.4, 0.76), scale_trial("sqrt", 549.0, 0.37)]
        >>> scale_of_target(fewer_rows, maximize=False)  # sqrt trained on fewer rows: not compared
        'none'
    """
    done = [t for t in scale_trials if t.state.name == "COMPLETE" and t.value is not None]
    base = base_scale_trial(done)
    if base is None:
        return None
    share = TrialRecord.read(base).rows_fraction
    same = [t for t in done if same_rows(TrialRecord.read(t).rows_fraction, share)]
    best = (max if maximize else min)(same, key=lambda t: float(t.value))
    return _transform(best)


def base_scale_trial(trials: Sequence[Any]) -> Any | None:
    """The completed scale trial on the target as it is (None: it has not completed, or ``trials`` holds no
    scale trial): the other scales train on the share of rows it trained on.

    Example:
        >>> from optuna.trial import create_trial
        >>> base = create_trial(params={}, distributions={}, value=561.4,
        ...                     user_attrs={"automl:scale_trial": True, "automl:rows_fraction": 0.7625})
        >>> base_scale_trial([base]).value, base_scale_trial([])
        (561.4, None)
    """
    for trial in trials:
        if is_scale_trial(trial) and trial.state.name == "COMPLETE" and _transform(trial) == AS_IT_IS:
            return trial
    return None


def same_rows(share: float, other: float) -> bool:
    """Whether two shares of rows are the same (recorded to 4 digits, :func:`~automl.search.policy.fidelity_share`).

    Example:
        >>> same_rows(0.7625, 0.762500001), same_rows(0.7625, 0.37)
        (True, False)
    """
    return math.isclose(share, other, abs_tol=1e-4)


def _transform(trial: Any) -> str:
    """The target transform a trial's parameters name (the target as it is where they name none)."""
    return str(trial_params(trial.params)[1].get(TARGET_PARAM_NAME, AS_IT_IS))


def _queue_portfolios(study: Any, families: Sequence[ModelFamily], spaces: Mapping[str, SearchSpace], task: str,
                      scale: str | None, queued: list[dict[str, object]]) -> list[str]:
    """Queue the families' portfolios in turn (entry 1 of each, then entry 2, ...) on ``scale`` (None: as
    listed), skipping those in ``queued``; return their origins."""
    queues = [[(family.name, name, _on_scale(spaces[family.name], params, scale))
               for name, params in portfolio_trials(spaces[family.name], task)] for family in families]
    origins: list[str] = []
    for round_ in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if round_ < len(queue):
                family_name, name, params = queue[round_]
                if _enqueue(study, queued, family_name, params, f"portfolio:{name}"):
                    origins.append(f"portfolio:{name}")
    return origins


def _enqueue(study: Any, queued: list[dict[str, object]], family: str, params: Mapping[str, object], origin: str,
             scale: bool = False) -> bool:
    """Queue ``family`` with ``params`` unless ``queued`` holds the same configuration; return whether it was."""
    trial = {"family": family, **params}
    if trial in queued:
        return False
    study.enqueue_trial(trial, user_attrs=origin_attrs(origin, scale=scale))
    queued.append(trial)
    return True


def _on_scale(space: SearchSpace, params: dict[str, object], scale: str | None) -> dict[str, object]:
    """``params`` with the target transform set to ``scale`` where the space searches it and allows it."""
    param, key = _scale_param(space), space.key(TARGET_PARAM_NAME)
    if scale is None or param is None or scale not in param.choices or key not in params:
        return params
    return {**params, key: scale}


def _transform_variants(space: SearchSpace) -> list[str]:
    """The searched target transforms other than the default (none where it is not searched)."""
    param = _scale_param(space)
    return [] if param is None else [c for c in param.choices if c != param.default]


def _scale_param(space: SearchSpace) -> CategoricalParam | None:
    """The space's target-transform parameter (None where the transform is not searched)."""
    param = space[TARGET_PARAM_NAME] if TARGET_PARAM_NAME in space.names else None
    return param if isinstance(param, CategoricalParam) else None
