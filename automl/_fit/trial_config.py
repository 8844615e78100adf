"""A completed trial's configuration as the final stages fit it again.

One definition read by the refit stage (a finalist refitted on all rows) and the stack stage (the
second level cross-validated with a trial's parameters, then refitted with the hints of that
cross-validation): the space's defaults filled in under the trial's parameters, then adapted to a fit
on all rows by the family's ``refit_params`` (e.g. the rounds early stopping found).

Example:
    >>> from types import SimpleNamespace
    >>> from automl.spaces import load_builtin_space
    >>> record = SimpleNamespace(family="knn", params={"n_neighbors": 7}, refit_hints=[])
    >>> refit_config(record, {"knn": load_builtin_space("knn")})[2]
    {'n_neighbors': 7, 'weights': 'uniform', 'p': 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.families.registry import get_family

__all__ = ["for_refit", "refit_config", "trial_params"]


def trial_params(record: Any, spaces: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's parameters over its family space's defaults, less the parameters the space's conditions leave
    unused: ``best_params_`` listed ``l1_ratio`` beside ``penalty='l2'``, which the leaderboard did not (the
    family's pipeline fills the defaults it needs when it builds the model).

    Example:
        >>> from types import SimpleNamespace
        >>> from automl.spaces import load_builtin_space
        >>> record = SimpleNamespace(family="linear", params={"penalty": "l2"})
        >>> "l1_ratio" in trial_params(record, {"linear": load_builtin_space("linear")})
        False
    """
    space = spaces[record.family]
    merged = {**space.defaults(), **record.params}
    active, declared = space.active(merged), set(space.names)
    return {name: value for name, value in merged.items() if name in active or name not in declared}


def for_refit(family_name: str, params: Mapping[str, Any], hints: Any) -> dict[str, Any]:
    """``params`` adapted to a fit on all rows by the family's ``refit_params``, from a cross-validation's
    ``hints`` (unchanged where the family has no such rule)."""
    family = get_family(family_name)
    if family.refit_params is None:
        return dict(params)
    return family.refit_params(dict(params), hints)


def refit_config(record: Any, spaces: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(family, params, refit_params)`` of a completed trial, refitted with its own cross-validation's hints."""
    params = trial_params(record, spaces)
    return record.family, params, for_refit(record.family, params, record.refit_hints)
