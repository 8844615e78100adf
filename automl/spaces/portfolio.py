"""Warm starts: configurations known to be strong across many data sets, tried after the defaults.

A search space may list a ``portfolio`` of configurations (each a partial set of its
parameters, optionally for some tasks only). The search enqueues them right after
every family's defaults, before TPE takes over, so that a short budget already sees a
few strong, diverse configurations. Entries are clipped into the space's bounds at
enqueue time, so a narrowed space (user overrides, bounds adapted to the data size)
still gets the nearest configuration; an entry whose categorical value is no longer a
choice is skipped.

Example:
    >>> from automl.spaces import CategoricalParam, IntParam, SearchSpace
    >>> entry = PortfolioEntry("big", (("k", 80),), tasks=frozenset({"binary"}))
    >>> space = SearchSpace("knn", (IntParam("k", 1, 50, 5), CategoricalParam("w", ("u", "d"), "u")),
    ...                     portfolio=(entry,))
    >>> portfolio_trials(space, "binary")
    [('big', {'knn__k': 50, 'knn__w': 'u'})]
    >>> portfolio_trials(space, "regression")
    []
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from automl._suggest import close_names, unknown_key_message
from automl._tasks import TASKS

__all__ = ["PortfolioEntry", "parse_portfolio", "portfolio_trials", "entry_trial", "values_problems", "cap_high", "TASKS"]

_ENTRY_KEYS = ("name", "source", "tasks", "params")


@dataclass(frozen=True)
class PortfolioEntry:
    """One warm-start configuration of a family.

    Attributes:
        name: Short name (shown on the trial as ``automl:origin = portfolio:<name>``).
        params: ``(parameter, value)`` pairs; parameters left out take their defaults.
        tasks: Tasks it is for (``None``: all).
        source: Where the configuration comes from.
    """

    name: str
    params: tuple = ()
    tasks: frozenset | None = None
    source: str = ""

    def to_dict(self) -> dict[str, object]:
        """The YAML form of the entry.

        Example:
            >>> PortfolioEntry("xt", (("extra_trees", True),)).to_dict()
            {'name': 'xt', 'params': {'extra_trees': True}}
        """
        out: dict[str, object] = {"name": self.name}
        if self.source:
            out["source"] = self.source
        if self.tasks is not None:
            out["tasks"] = [t for t in TASKS if t in self.tasks]
        out["params"] = dict(self.params)
        return out


def _value_problems(param: Any, value: object) -> list[str]:
    """Why ``value`` cannot be given to ``param`` (empty when it can)."""
    if param.kind == "fixed":
        return [f"{param.name!r} is fixed at {param.value!r} in this space; leave it out of the entry"]
    if param.kind == "categorical":
        if value not in param.choices:
            return [f"{param.name!r}={value!r} is not one of the choices {list(param.choices)!r}"]
        return []
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return [f"{param.name!r}={value!r} is not a finite number"]
    if param.kind == "int" and not float(value).is_integer():
        return [f"{param.name!r}={value!r} is not an integer"]
    if not param.low <= value <= param.high:
        return [f"{param.name!r}={value!r} is outside [{param.low!r}, {param.high!r}]"]
    return []


def parse_portfolio(data: object, params: Mapping[str, Any], head: str) -> tuple[list[PortfolioEntry], list[str]]:
    """Read the ``portfolio`` list of a search-space file; return ``(entries, problems)``.

    Every problem is collected (unknown keys and parameters with "did you mean",
    values outside the bounds or choices, unknown tasks, repeated names).

    Example:
        >>> from automl.spaces.params import IntParam
        >>> entries, problems = parse_portfolio(
        ...     [{"name": "a", "params": {"n_neighbours": 3}}], {"n_neighbors": IntParam("n_neighbors", 1, 50, 5)}, "")
        >>> problems
        ["portfolio entry 'a': unknown parameter 'n_neighbours' (did you mean 'n_neighbors'?)"]
    """
    if not isinstance(data, list):
        return [], [head + f"portfolio must be a list of entries (name, params, ...) but is {type(data).__name__}"]
    entries: list[PortfolioEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where = f"{head}portfolio entry {i + 1}"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping with keys name and params, got {type(item).__name__}")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: needs a name (text), got {name!r}")
            name = f"#{i + 1}"
        else:
            where = f"{head}portfolio entry {name!r}"
            if name in seen:
                problems.append(f"{where}: the name is used twice; give each entry its own name")
            seen.add(name)
        problems += [f"{where}: " + unknown_key_message(k, _ENTRY_KEYS, "in a portfolio entry")
                     for k in item if k not in _ENTRY_KEYS]
        tasks = item.get("tasks")
        if tasks is not None:
            if not isinstance(tasks, list) or not tasks:
                problems.append(f"{where}: tasks must be a non-empty list of {list(TASKS)}, got {tasks!r}")
                tasks = None
            else:
                bad = [t for t in tasks if t not in TASKS]
                if bad:
                    problems.append(f"{where}: unknown task(s) {bad}; tasks are {list(TASKS)}")
                tasks = frozenset(t for t in tasks if t in TASKS)
        values = item.get("params")
        if not isinstance(values, Mapping) or not values:
            problems.append(f"{where}: params must be a non-empty mapping of parameter to value, got {values!r}")
            continue
        problems += values_problems(values, params, where)
        source = item.get("source", "")
        entries.append(PortfolioEntry(name, tuple(values.items()), tasks, str(source or "")))
    return entries, problems


_NOT_A_CHOICE = object()


def values_problems(values: Mapping[str, object], params: Mapping[str, Any], where: str) -> list[str]:
    """Why a configuration's ``values`` cannot be run in a space whose parameters are ``params``
    (unknown parameters with "did you mean", values outside the bounds or choices); each problem
    starts with ``where``.

    Example:
        >>> from automl.spaces.params import IntParam
        >>> values_problems({"k": 80}, {"k": IntParam("k", 1, 50, 5)}, "entry 1")
        ["entry 1: 'k'=80 is outside [1, 50]"]
    """
    problems: list[str] = []
    for key, value in values.items():
        if key not in params:
            hint = close_names(str(key), list(params))
            tail = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"{where}: unknown parameter {key!r}{tail}")
        else:
            problems += [f"{where}: {p}" for p in _value_problems(params[key], value)]
    return problems


def _clip(param: Any, value: object) -> object:
    """``value`` moved into ``param``'s current bounds (``_NOT_A_CHOICE``: not a choice any more; a
    choice may itself be None)."""
    if param.kind == "categorical":
        return value if value in param.choices else _NOT_A_CHOICE
    clipped = min(max(value, param.low), param.high)
    return int(round(clipped)) if param.kind == "int" else float(clipped)


def portfolio_trials(space: Any, task: str) -> list[tuple[str, dict[str, object]]]:
    """The space's portfolio for ``task`` as ``(name, Optuna parameters)``, ready to enqueue.

    Parameters an entry leaves out take the defaults; values are clipped into the
    space's current bounds; parameters now fixed, and conditional ones the entry's values leave
    unused, are left out; an entry whose value
    is no longer a choice, or that equals the defaults or an earlier entry, is skipped.
    """
    defaults = space.optuna_defaults()
    seen = [defaults]
    out = []
    for entry in space.portfolio:
        if entry.tasks is not None and task not in entry.tasks:
            continue
        trial = entry_trial(space, entry.params)
        if trial is not None and trial not in seen:
            seen.append(trial)
            out.append((entry.name, trial))
    return out


def entry_trial(space: Any, params: Iterable[tuple[str, object]]) -> dict[str, object] | None:
    """The Optuna parameters of a configuration given as ``(parameter, value)`` pairs, ready to enqueue.

    Parameters left out take the space's defaults; values are clipped into its current bounds;
    parameters it fixes or lacks, and conditional ones the values leave unused, are left out.
    None: a categorical value is no longer a choice (the configuration cannot be run in this space).

    Example:
        >>> from automl.spaces import CategoricalParam, IntParam, SearchSpace
        >>> space = SearchSpace("knn", (IntParam("k", 1, 50, 5), CategoricalParam("w", ("u", "d"), "u")))
        >>> entry_trial(space, [("k", 80)]), entry_trial(space, [("w", "x")])
        ({'knn__k': 50, 'knn__w': 'u'}, None)
    """
    values = space.defaults()
    for name, value in params:
        if name not in space.names or space[name].kind == "fixed":
            continue
        clipped = _clip(space[name], value)
        if clipped is _NOT_A_CHOICE:
            return None
        values[name] = clipped
    # a conditional parameter counts only where its parent's value (maybe the entry's) uses it
    return {space.key(name): value for name, value in space.active(values).items() if space[name].kind != "fixed"}


def cap_high(space: Any, caps: Mapping[str, float]) -> Any:
    """A copy of ``space`` whose numeric parameters' upper bounds are at most ``caps[name]``.

    Used to adapt bounds to the data size (e.g. leaf sizes to the rows of a fold).
    A cap at or below a parameter's low bound leaves it one step above low; fixed and
    categorical parameters, and names the space lacks, are left alone. Defaults above
    the new bound move to it.

    Example:
        >>> from automl.spaces import IntParam, SearchSpace
        >>> space = SearchSpace("knn", (IntParam("n_neighbors", 1, 50, 5),))
        >>> cap_high(space, {"n_neighbors": 3}).defaults()
        {'n_neighbors': 3}
        >>> cap_high(space, {"n_neighbors": 80}) is space
        True
    """
    overrides: dict[str, object] = {}
    for name, cap in caps.items():
        if name not in space.names:
            continue
        param = space[name]
        if param.kind not in ("int", "float") or param.high <= cap:
            continue
        high = int(cap) if param.kind == "int" else float(cap)
        if high <= param.low:
            high = param.low + 1 if param.kind == "int" else param.low * 2 if param.low > 0 else param.low + 1.0
        overrides[name] = {"high": high}
    if not overrides:
        return space
    return space.with_overrides(overrides, source="bounds adapted to the data size")
