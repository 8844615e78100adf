"""Read search spaces from YAML files or mappings, collecting every problem.

File format::

    family: lightgbm
    description: One line saying what the family is.
    params:
      learning_rate: {type: float, low: 0.005, high: 0.3, log: true, default: 0.05}
      num_leaves: {type: int, low: 4, high: 256, log: true, default: 31}
      class_weight: {type: categorical, choices: [null, balanced], default: null}
      subsample_freq: {type: fixed, value: 1}

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
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from automl._suggest import close_names, unknown_key_message, unknown_name_message
from automl.exceptions import SearchSpaceError
from automl.spaces.portfolio import PortfolioEntry, parse_portfolio
from automl.spaces.params import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    SearchSpace,
    _is_int,
    _is_real,
    _is_scalar,
    _name_problems,
)

__all__ = ["space_from_dict", "load_space_file", "load_builtin_space", "builtin_space_names"]

_TOP_KEYS = ("family", "description", "params", "portfolio")
_KEYS = {
    "float": ("type", "low", "high", "log", "default"),
    "int": ("type", "low", "high", "log", "default"),
    "categorical": ("type", "choices", "default"),
    "fixed": ("type", "value"),
}
_REQUIRED = {
    "float": ("low", "high", "default"),
    "int": ("low", "high", "default"),
    "categorical": ("choices", "default"),
    "fixed": ("value",),
}
_OVERRIDE_KEYS = ("low", "high", "default", "log", "choices", "value")
# Scientific notation without a dot, which YAML 1.1 leaves as text ("1e-3", "-2E+5").
_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _scalar(value: object) -> object:
    """Undo YAML 1.1's reading of ``1e-3`` as text for scalar values."""
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        return float(value)
    return value


def _float_field(fld: str, value: object, errors: list[str]) -> float | None:
    if _is_real(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    kind = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"
    errors.append(f"{fld} must be a number but is {kind}; write a number such as {fld}: 0.01")
    return None


def _int_field(fld: str, value: object, errors: list[str]) -> int | None:
    if _is_int(value):
        return int(value)
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, float) and value.is_integer():
        kind = f"the float {value!r}; write {int(value)}"
    elif isinstance(value, str):
        kind = f"the text {value!r} (write whole numbers without quotes or exponents)"
    else:
        kind = f"{type(value).__name__} {value!r}"
    errors.append(f"{fld} must be an integer but is {kind}")
    return None


def _parse_param(name: str, spec: object) -> tuple[Param | None, list[str]]:
    """Build one parameter from its YAML mapping, with its structural problems.

    Messages carry no ``"parameter 'x': "`` prefix.  Range and default checks are
    left to :meth:`Param.problems`; the parameter is ``None`` when a field is
    missing or has the wrong type (unknown keys are reported but do not block it).
    """
    if not isinstance(spec, Mapping):
        return None, [f"definition must be a mapping such as {{type: float, low: 0.01, high: 1.0, "
                      f"default: 0.1}}; got {type(spec).__name__} {spec!r}"]
    if "type" not in spec:
        return None, ["missing key 'type'; use one of: " + ", ".join(_KEYS)]
    kind = spec["type"]
    if kind not in _KEYS:
        hint = close_names(kind, _KEYS) if isinstance(kind, str) else []
        tail = f" (did you mean {hint[0]!r}?)" if hint else ""
        return None, [f"unknown type {kind!r}{tail}; use one of: " + ", ".join(_KEYS)]
    errors = []
    for key in spec:
        if key in _KEYS[kind]:
            continue
        owners = [k for k, keys in _KEYS.items() if key in keys]
        if owners:
            errors.append(f"key {key!r} does not apply to {_article(kind)} parameter (it "
                          f"belongs to {' and '.join(owners)} parameters); allowed keys: "
                          + ", ".join(_KEYS[kind]))
        else:
            errors.append(unknown_key_message(key, _KEYS[kind], f"for {_article(kind)} parameter"))
    blocking = [f"missing required key {k!r} for {_article(kind)} parameter"
                for k in _REQUIRED[kind] if k not in spec]
    if kind == "fixed":
        value = _scalar(spec.get("value"))
        if not _is_scalar(value):
            blocking.append(f"value {value!r} is not a string, number, boolean or null; pin a "
                            "single value")
        param = FixedParam(name, value)
    elif kind == "categorical":
        choices = spec.get("choices", ())
        if isinstance(choices, (list, tuple)):
            choices = tuple(_scalar(c) for c in choices)
            blocking += [f"choice {c!r} is not a string, number, boolean or null"
                         for c in choices if not _is_scalar(c)]
        else:
            blocking.append(f"choices must be a list such as [a, b] but is "
                            f"{type(choices).__name__} {choices!r}")
        default = _scalar(spec.get("default"))
        if not _is_scalar(default):
            blocking.append(f"default {default!r} is not a string, number, boolean or null")
        param = CategoricalParam(name, choices, default)
    else:
        read = _float_field if kind == "float" else _int_field
        values = {f: read(f, spec[f], blocking) for f in ("low", "high", "default") if f in spec}
        log = spec.get("log", False)
        if not isinstance(log, bool):
            blocking.append(f"log must be true or false but is {type(log).__name__} {log!r}")
        if not blocking:
            cls = FloatParam if kind == "float" else IntParam
            param = cls(name, values["low"], values["high"], values["default"], log=log)
    return (None if blocking else param), errors + blocking


def _parse_params(params: Mapping, head: str) -> tuple[list[Param], list[str]]:
    out: list[Param] = []
    problems: list[str] = []
    for name, spec in params.items():
        if not isinstance(name, str):
            problems.append(f"{head}parameter {name!r}: name must be text, not "
                            f"{type(name).__name__}")
            continue
        param, errors = _parse_param(name, spec)
        problems += [f"{head}parameter {name!r}: {e}" for e in errors]
        if param is not None:
            out.append(param)
            problems += [head + p for p in param.problems()]
    return out, problems


def space_from_dict(data: Mapping, source: str = "<dict>") -> SearchSpace:
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
          - <dict>: unknown key 'parms' (did you mean 'params'?); allowed keys at the top level: family, description, params, portfolio
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
    params: list[Param] = []
    if "params" not in data:
        problems.append(head + "missing required key 'params' (a mapping of parameter name to "
                        "definition)")
    elif not isinstance(data["params"], Mapping):
        problems.append(head + "params must be a mapping of parameter name to definition but "
                        f"is {type(data['params']).__name__}")
    else:
        params, errors = _parse_params(data["params"], head)
        problems += errors
    portfolio: list[PortfolioEntry] = []
    if data.get("portfolio") is not None:
        portfolio, errors = parse_portfolio(data["portfolio"], {p.name: p for p in params}, head)
        problems += errors
    if problems:
        raise SearchSpaceError(problems)
    space = SearchSpace(family, tuple(params), source=source, description=description.strip(),
                        portfolio=tuple(portfolio))
    return space.validate()


def _read_yaml(path: Path | Any, source: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SearchSpaceError(f"{source}: file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SearchSpaceError(f"{source}: cannot read the file ({exc})") from None
    try:
        return yaml.safe_load(text)
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


@functools.lru_cache(maxsize=None)
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
        raise SearchSpaceError(unknown_name_message("built-in search space", family, names))
    resource = _builtin_dir() / f"{family}.yaml"
    source = str(resource)
    data = _read_yaml(resource, source)
    space = space_from_dict(data, source=source)
    if space.family != family:
        raise SearchSpaceError(f"{source}: family {space.family!r} does not match the file name; "
                               f"write family: {family} (or rename the file)")
    return space


def _override_param(param: Param, value: object, head: str) -> tuple[Param | None, list[str]]:
    """Apply one override (see :meth:`SearchSpace.with_overrides`); ``head`` prefixes messages."""
    name = param.name
    if _is_scalar(value):
        return FixedParam(name, _scalar(value)), []
    if not isinstance(value, Mapping):
        return None, [head + f"override must be a single value (pins it) or a mapping of "
                      f"{', '.join(_OVERRIDE_KEYS)}; got {type(value).__name__} {value!r} "
                      "(to search among values write {choices: [...]})"]
    errors = [head + unknown_key_message(k, _OVERRIDE_KEYS, "in an override")
              for k in value if k not in _OVERRIDE_KEYS]
    if errors:
        return None, errors
    if "value" in value:
        others = [k for k in value if k != "value"]
        if others:
            return None, [head + f"'value' pins the parameter and cannot be combined with "
                          f"{', '.join(others)}; give either value or the other keys"]
        spec: dict[str, object] = {"type": "fixed", "value": value["value"]}
    elif param.kind == "fixed":
        return None, [head + f"is fixed (value={param.value!r}); override it with a single value "
                      "or {value: ...}, or edit the search-space file to search it"]
    else:
        spec = {**param.to_dict(), **value}
        if param.kind == "categorical" and "choices" in value and "default" not in value:
            choices = value["choices"]
            if (isinstance(choices, (list, tuple)) and choices
                    and param.default not in [_scalar(c) for c in choices]):
                spec["default"] = _scalar(choices[0])
    new, errors = _parse_param(name, spec)
    errors = [head + e for e in errors]
    if new is not None and new.kind in ("float", "int") and "default" not in value:
        if new.low < new.high:  # move an old default that the new bounds exclude
            new = replace(new, default=min(max(new.default, new.low), new.high))
    return new, errors


def _apply_overrides(space: SearchSpace, overrides: object, source: str) -> SearchSpace:
    """Implementation of :meth:`SearchSpace.with_overrides`."""
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
        param, errors = _override_param(new[name], value, f"{source}: parameter {name!r}: ")
        problems.extend(errors)
        if param is not None:
            new[name] = param
    if problems:
        raise SearchSpaceError(problems)
    result = replace(space, params=tuple(new.values()), source=f"{space.source} with {source}")
    problems = result.problems()
    if problems:
        raise SearchSpaceError([f"{source}: {p}" for p in problems])
    return result
