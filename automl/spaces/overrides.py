"""Overrides of a search space: pin a parameter, or change its bounds, default or choices.

Example:
    >>> from automl.spaces import load_builtin_space
    >>> space = apply_overrides(load_builtin_space("knn"), {"n_neighbors": {"high": 20}, "p": 1}, "mine")
    >>> space["n_neighbors"].high, space["p"].kind
    (20, 'fixed')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from automl._suggest import close_names, unknown_key_message
from automl.exceptions import SearchSpaceError
from automl.spaces.param_specs import OVERRIDE_KEYS, parse_param, scalar
from automl.spaces.params import FixedParam, FloatParam, IntParam, Param, _is_scalar
from automl.spaces.value_checks import pin_value as _pin_value
from automl.spaces.value_checks import plain, value_problems
from automl.spaces.value_checks import searched_value_problems as _searched_value_problems

__all__ = ["apply_overrides", "override_param"]


def override_param(param: Param, value: object, head: str, also: tuple = ()) -> tuple[Param | None, list[str]]:
    """Apply one override (see :meth:`SearchSpace.with_overrides`); ``head`` prefixes messages.

    Every value the override brings (a pinned value, new bounds, default or choices) is checked
    against ``param``, the parameter as the family defines it (:func:`value_problems`).
    """
    name = param.name
    value = plain(value)
    if isinstance(value, Mapping):
        value = {k: plain(v) for k, v in value.items()}
    if _is_scalar(value):
        pinned = _pin_value(param, scalar(value))
        problems = [head + p for p in value_problems(param, pinned, also=also)]
        return (None, problems) if problems else (FixedParam(name, pinned), [])
    if not isinstance(value, Mapping):
        return None, [head + f"override must be a single value (pins it) or a mapping of "
                      f"{', '.join(OVERRIDE_KEYS)}; got {type(value).__name__} {value!r} "
                      "(to search among values write {choices: [...]})"]
    errors = [head + unknown_key_message(k, OVERRIDE_KEYS, "in an override")
              for k in value if k not in OVERRIDE_KEYS]
    if errors:
        return None, errors
    if "value" in value:
        others = [k for k in value if k != "value"]
        if others:
            return None, [head + f"'value' pins the parameter and cannot be combined with "
                          f"{', '.join(others)}; give either value or the other keys"]
        pinned = _pin_value(param, scalar(value["value"]))
        problems = [head + p for p in value_problems(param, pinned, also=also)] if _is_scalar(pinned) else []
        if problems:
            return None, problems
        spec: dict[str, object] = {"type": "fixed", "value": pinned}
    elif isinstance(param, FixedParam):
        return None, [head + f"is fixed (value={param.value!r}); override it with a single value "
                      "or {value: ...}, or edit the search-space file to search it"]
    else:
        spec = {**param.to_dict(), **value}
        if param.kind == "categorical" and "choices" in value and "default" not in value:
            choices = value["choices"]
            if (isinstance(choices, (list, tuple)) and choices
                    and param.default not in [scalar(c) for c in choices]):
                spec["default"] = scalar(choices[0])
    new, errors = parse_param(name, spec)
    errors = [head + e for e in errors]
    if new is not None and new.kind != "fixed":
        errors += [head + p for p in _searched_value_problems(param, new, value)]
    if isinstance(new, FloatParam) and "default" not in value and new.low < new.high:
        new = replace(new, default=min(max(new.default, new.low), new.high))  # an old default the bounds exclude
    elif isinstance(new, IntParam) and "default" not in value and new.low < new.high:
        new = replace(new, default=min(max(new.default, new.low), new.high))
    return new, errors


def apply_overrides(space: Any, overrides: object, source: str,
                    pin_choices: Mapping[str, tuple] | None = None) -> Any:
    """``space`` with ``overrides`` applied (see :meth:`SearchSpace.with_overrides`), all problems at once.

    ``pin_choices``: the family's :attr:`~automl.families.ModelFamily.pin_choices`.
    """
    if not isinstance(overrides, Mapping):
        raise SearchSpaceError(f"{source}: overrides must be a mapping of parameter name to "
                               f"a value or {{low, high, ...}}; got {type(overrides).__name__}")
    problems: list[str] = []
    new = {p.name: p for p in space.params}
    for name, value in overrides.items():
        if name not in new:
            hint = close_names(name, new)
            tail = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"{source}: unknown parameter {name!r} for family {space.family!r}"
                            f"{tail}; known parameters: {', '.join(new)}")
            continue
        param, errors = override_param(new[name], value, f"{source}: parameter {name!r}: ",
                                       tuple((pin_choices or {}).get(name, ())))
        problems.extend(errors)
        if param is not None:
            new[name] = param
    result = replace(space, params=tuple(new.values()), source=f"{space.source} with {source}")
    problems += [f"{source}: {p}" for p in result.problems()]  # the overrides that applied, checked as one space
    if problems:
        raise SearchSpaceError(problems)
    return result


def load_overrides(search_space: object) -> dict[str, Any]:
    """The ``search_space=`` setting as ``{family: overrides}``: a mapping, or a YAML file of one.

    Raises:
        SearchSpaceError: the file cannot be read, or does not hold a mapping.

    Example:
        >>> load_overrides(None), load_overrides({"knn": {"p": 1}})
        ({}, {'knn': {'p': 1}})
    """
    import os

    import yaml

    from automl.spaces.yaml_files import load_yaml

    if search_space is None:
        return {}
    if isinstance(search_space, (str, os.PathLike)):
        path = os.fspath(search_space)
        try:
            with open(path, encoding="utf-8") as handle:
                data = load_yaml(handle.read())
        except (OSError, yaml.YAMLError) as exc:
            raise SearchSpaceError(f"search_space={path!r} cannot be read: {' '.join(str(exc).split())}") from exc
        if not isinstance(data, Mapping):
            raise SearchSpaceError(f"{path}: must map family names to parameter overrides")
        return dict(data)
    return dict(search_space)  # type: ignore[call-overload]


def family_space(family: Any, train_rows: int, overrides: Mapping[str, Any] | None) -> Any:
    """``family``'s space with its bounds adapted to ``train_rows``, then the user's overrides (a
    parameter the user overrides keeps its built-in bounds underneath: the user's choice wins)."""
    space = family.space_for(train_rows)
    if not overrides:
        return space
    original = family.space()
    params = tuple(original[p.name] if p.name in overrides and p.name in original.names else p for p in space.params)
    return apply_overrides(replace(space, params=params), overrides, f"search_space[{family.name!r}]",
                           getattr(family, "pin_choices", None))
