"""Which trials join a net trial's pack: companions asked from the study with the leader's shape.

When the search runs a trial of a packable net family (``ModelFamily.packable``) and ``pack_nets`` allows
more than one member, :func:`ask_companions` asks the study for up to ``size - 1`` more trials of the same
family whose shape parameters are fixed to the leader's (Optuna's ``enqueue_trial`` then ``ask``): the
sampler still chooses their learning rate, weight decay and the other parameters of
:data:`~automl.families.packed_fit.PACK_FREE_PARAMS`. Each companion is a trial of its own in the study
(its own number, record, pruning and MLflow run). No pack forms while the study has queued trials (the
first trials run first, as queued), when the leader cannot be packed (an optimiser or schedule a pack
does not train: it runs alone), or when the space leaves nothing free to differ.

Example:
    >>> pack_size("auto", "cpu"), pack_size("auto", "cuda"), pack_size(4, "cpu")
    (1, 8, 4)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from automl.evaluation.cross_validation import CVResult
from automl.evaluation.monitor import TrialMonitor, TrialStopped
from automl.families.packed_fit import free_in_pack
from automl.search.failures import TrialRaised

__all__ = ["AUTO_PACK_SIZE", "PACK_ATTR", "PackMonitors", "ask_companions", "free_params", "heartbeats", "member_outcome",
           "pack_size"]

#: Members per pack with ``pack_nets="auto"`` on CUDA (elsewhere 1: see the ``pack_nets`` setting's text in
#: :mod:`automl.config` for the CPU figures).
AUTO_PACK_SIZE = 8
#: The user attribute naming, on a companion trial, the leader trial it was asked for.
PACK_ATTR = "automl_pack_of"


def pack_size(setting: Any, device: str) -> int:
    """Members per pack for the ``pack_nets`` setting on ``device`` (a ``torch.device`` type or setting)."""
    if setting == "auto":
        return AUTO_PACK_SIZE if str(device).startswith("cuda") else 1
    return max(1, int(setting))


def free_params(space: Any, params: Mapping[str, Any]) -> list[str]:
    """The parameters ``space`` searches in which a pack led by a trial with ``params`` may differ (none: no
    pack forms, because the leader cannot be packed or nothing would differ; see
    :func:`~automl.families.packed_fit.free_in_pack`)."""
    filled = {**space.defaults(), **params}
    return [name for name in free_in_pack(filled) if name in space.names and space[name].kind != "fixed"]


def ask_companions(study: Any, leader: Any, family: str, params: Mapping[str, Any], space: Any,
                   count: int) -> list[tuple[Any, bool]]:
    """Ask the study for up to ``count`` trials of ``family`` with ``leader``'s shape parameters.

    Args:
        study: The Optuna study.
        leader: The trial whose pack this is.
        family: Its family.
        params: Its parameters (the non-free ones are fixed in the companions).
        space: The family's search space.
        count: Companions wanted.

    Returns:
        ``(trial, True)`` per companion asked (none when no pack can form). A trial another process queued
        meanwhile, asked instead of a companion, comes last as ``(trial, False)``: the caller runs it alone.
    """
    import optuna

    free = set(free_params(space, params))
    if count <= 0 or not free:
        return []
    if study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        return []
    fixed = {"family": family, **{space.key(k): v for k, v in params.items() if k not in free}}
    companions: list[tuple[Any, bool]] = []
    for _ in range(count):
        study.enqueue_trial(fixed, user_attrs={PACK_ATTR: leader.number}, skip_if_exists=False)
        trial = study.ask()
        ours = trial.user_attrs.get(PACK_ATTR) == leader.number
        companions.append((trial, ours))
        if not ours:
            break
    return companions


@contextlib.contextmanager
def heartbeats(trials: Sequence[Any]) -> Iterator[None]:
    """Record the trials' heartbeats while the block runs, as ``study.optimize`` does for the trial it runs
    (a stored study with heartbeats: a companion of a process that dies is then failed as stale and queued
    again, like any trial). Optuna's own heartbeat thread, from its storages package."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    with contextlib.ExitStack() as stack:
        for trial in trials:
            stack.enter_context(cast(Any, get_heartbeat_thread(trial._trial_id, trial.study._storage)))
        yield


class PackMonitors:
    """The monitors of a pack's members, answering each :class:`MemberEvent` with its member's monitor."""

    def __init__(self, monitors: Sequence[TrialMonitor | None]) -> None:
        self.monitors = list(monitors)


def member_outcome(outcome: Any) -> CVResult | BaseException:
    """A member's outcome as the worker sent it: a result, or a stop or a failure rebuilt here."""
    if isinstance(outcome, tuple) and outcome[0] == "stopped":
        stop = TrialStopped(outcome[1], kind=outcome[2])
        stop.fold_scores = outcome[3]
        return stop
    if isinstance(outcome, tuple) and outcome[0] == "error":
        return TrialRaised(*outcome[1:4])
    return cast(CVResult, outcome)
