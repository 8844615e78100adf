"""Read search spaces from YAML files or mappings, collecting every problem.

File format::

    family: lightgbm
    description: One line saying what the family is.
    params:
      learning_rate: {type: float, low: 0.005, high: 0.3, log: true, default: 0.05}
      num_leaves: {type: int, low: 4, high: 256, log: true, default: 31}
      class_weight: {type: categorical, choices: [null, balanced], default: null}
      subsample_freq: {type: fixed, value: 1}
      boosting: {type: categorical, choices: [gbdt, dart], default: gbdt}
      drop_rate: {type: float, low: 0.05, high: 0.5, default: 0.1, when: {boosting: dart}}

``when`` makes a parameter conditional: it is searched only while the named parent (a categorical
parameter declared above it) takes that value or one of a list of values (:mod:`automl.spaces.conditions`).

YAML 1.1 (what PyYAML implements) reads ``1e-3`` as the *string* ``"1e-3"``;
such strings are accepted as numbers for float fields, categorical choices and
fixed values (never for int fields, which must be written as integers).

Example:
    >>> space = space_from_dict({"family": "knn", "params": {
    ...     "n_neighbors": {"type": "int", "low": 1, "high": 50, "default": 5}}})
    >>> space.defaults()
    {'n_neighbors': 5}
"""

from __future__ import annotations

import functools

import importlib.resources
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from automl._suggest import unknown_key_message, unknown_name_message
from automl.exceptions import SearchSpaceError
from automl.spaces.conditions import Condition, choice_problems, condition_problems, parse_when
from automl.spaces.portfolio import PortfolioEntry, parse_portfolio
from automl.spaces.param_specs import parse_param
from automl.spaces.params import Param, _name_problems
from automl.spaces.space import SearchSpace
from automl.spaces.yaml_files import load_yaml

__all__ = ["DEFAULT_PRIORITY", "builtin_family_order", "builtin_space_names", "load_builtin_space", "load_space_file",
           "space_from_dict"]

#: The priority of a search space that gives none (the built-in families' defaults run in priority order).
DEFAULT_PRIORITY = 1000

_TOP_KEYS = ("family", "description", "priority", "params", "portfolio")
def _parse_params(params: Mapping, head: str) -> tuple[list[Param], list[Condition], list[str]]:
    out: list[Param] = []
    conditions: list[Condition] = []
    problems: list[str] = []
    for name, spec in params.items():
        if not isinstance(name, str):
            problems.append(f"{head}parameter {name!r}: name must be text, not "
                            f"{type(name).__name__}")
            continue
        param, errors = parse_param(name, spec)
        problems += [f"{head}parameter {name!r}: {e}" for e in errors]
        if isinstance(spec, Mapping) and "when" in spec:
            found, errors = parse_when(name, spec["when"])
            conditions += found
            problems += [f"{head}parameter {name!r}: {e}" for e in errors]
        if param is not None:
            out.append(param)
            problems += [head + p for p in param.problems()]
    return out, conditions, problems


def space_from_dict(data: object, source: str = "<dict>") -> SearchSpace:
    """Build and validate a :class:`SearchSpace` from its YAML form.

    All problems are collected and raised together as one
    :class:`~automl.exceptions.SearchSpaceError`, each message starting with ``source``.

    Example:
        >>> space_from_dict({"family": "knn", "params": {"p": {"type": "fixed", "value": 2}}}).names
        ['p']
        >>> space_from_dict({"family": "knn", "parms": {}})
        Traceback (most recent call last):
        ...
        automl.exceptions.SearchSpaceError: 2 problems found:
          - <dict>: unknown key 'parms' (did you mean 'params'?); allowed keys at the top level: family, description, priority, params, portfolio
          - <dict>: missing required key 'params' (a mapping of parameter name to definition)
    """
    head = f"{source}: "
    if data is None:
        raise SearchSpaceError(head + "the search space is empty; write a mapping with keys "
                               "family and params")
    if not isinstance(data, Mapping):
        raise SearchSpaceError(head + "the search space must be a mapping with keys family, "
                               f"description and params; got {type(data).__name__}")
    problems = [head + unknown_key_message(k, _TOP_KEYS, "at the top level")
                for k in data if k not in _TOP_KEYS]
    family = data.get("family")
    if "family" not in data:
        problems.append(head + "missing required key 'family' (the model family, e.g. "
                        "family: lightgbm)")
    elif not isinstance(family, str):
        problems.append(head + f"family must be text but is {type(family).__name__} {family!r}")
    else:
        problems += [head + p for p in _name_problems(family, "family")]
    description = data.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        problems.append(head + f"description must be one line of text but is "
                        f"{type(description).__name__}")
    priority = data.get("priority", DEFAULT_PRIORITY)
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(head + f"priority must be a whole number (lower runs its defaults first) but is {priority!r}")
    params: list[Param] = []
    conditions: list[Condition] = []
    if "params" not in data:
        problems.append(head + "missing required key 'params' (a mapping of parameter name to "
                        "definition)")
    elif not isinstance(data["params"], Mapping):
        problems.append(head + "params must be a mapping of parameter name to definition but "
                        f"is {type(data['params']).__name__}")
    else:
        params, conditions, errors = _parse_params(data["params"], head)
        problems += errors
        problems += [head + p for p in condition_problems(params, conditions) + choice_problems(params, conditions)]
    portfolio: list[PortfolioEntry] = []
    if data.get("portfolio") is not None:
        portfolio, errors = parse_portfolio(data["portfolio"], {p.name: p for p in params}, head)
        problems += errors
    if problems:
        raise SearchSpaceError(problems)
    space = SearchSpace(str(family), tuple(params), source=source, description=description.strip(),
                        portfolio=tuple(portfolio), conditions=tuple(conditions))
    return space.validate()


def _read_yaml(path: Path | Any, source: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SearchSpaceError(f"{source}: file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SearchSpaceError(f"{source}: cannot read the file ({exc})") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise SearchSpaceError(f"{source}: not valid YAML: {detail}") from None


def load_space_file(path: str | os.PathLike) -> SearchSpace:
    """Read and validate a search-space YAML file.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "knn.yaml").write_text(
        ...     "family: knn\\nparams:\\n  p: {type: categorical, choices: [1, 2], default: 2}\\n")
        >>> load_space_file(folder / "knn.yaml").defaults()
        {'p': 2}
    """
    source = os.fspath(path)
    return space_from_dict(_read_yaml(Path(source), source), source=source)


def _builtin_dir() -> Any:
    """The folder of built-in YAML files (``automl.search_spaces``).

    Falls back to the ``search_spaces`` folder of a source checkout when the
    package is not installed.
    """
    try:
        return importlib.resources.files("automl.search_spaces")
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "search_spaces"
        if checkout.is_dir():
            return checkout
        raise SearchSpaceError("the built-in search spaces (package automl.search_spaces) are "
                               "not installed; reinstall automl") from None


def builtin_space_names() -> list[str]:
    """Families that ship a built-in search space, sorted.

    Example:
        >>> "lightgbm" in builtin_space_names()
        True
    """
    return sorted(f.name[: -len(".yaml")] for f in _builtin_dir().iterdir()
                  if f.name.endswith(".yaml") and f.is_file())


def builtin_family_order() -> list[str]:
    """The built-in search spaces' families by their ``priority:`` (then by name): the order in which
    the built-in families are registered, and their defaults run.

    Example:
        >>> builtin_family_order()[:2]
        ['lightgbm', 'hist_gradient_boosting']
    """
    ranked = []
    for name in builtin_space_names():
        resource = _builtin_dir() / f"{name}.yaml"
        data = _read_yaml(resource, str(resource))
        priority = data.get("priority", DEFAULT_PRIORITY) if isinstance(data, Mapping) else DEFAULT_PRIORITY
        ranked.append((priority if isinstance(priority, int) else DEFAULT_PRIORITY, name))
    return [name for _, name in sorted(ranked)]


@functools.cache
def load_builtin_space(family: str) -> SearchSpace:
    """Load (once, then from a cache) the built-in search space of ``family`` (``search_spaces/<family>.yaml``).

    Example:
        >>> load_builtin_space("knn").defaults()
        {'n_neighbors': 5, 'weights': 'uniform', 'p': 2}
        >>> load_builtin_space("lightgmb")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        automl.exceptions.SearchSpaceError: unknown built-in search space 'lightgmb'; did you mean 'lightgbm'? ...
    """
    names = builtin_space_names()
    if family not in names:
        raise SearchSpaceError(unknown_name_message("built-in search space", family, names)
                               + f" A family of your own gives its space: ModelFamily({family!r}, ..., "
                               "search_space=load_space_file(path) or space_from_dict({...})).")
    resource = _builtin_dir() / f"{family}.yaml"
    source = str(resource)
    data = _read_yaml(resource, source)
    space = space_from_dict(data, source=source)
    if space.family != family:
        raise SearchSpaceError(f"{source}: family {space.family!r} does not match the file name; "
                               f"write family: {family} (or rename the file)")
    return space
