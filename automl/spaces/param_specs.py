"""A parameter from its mapping (a YAML line such as ``{type: float, low: 0.01, high: 1, default: 0.1}``).

YAML 1.1 (what PyYAML implements) reads ``1e-3`` as the *string* ``"1e-3"``; such strings
are accepted as numbers for float fields, categorical choices and fixed values (never for
int fields, which must be written as integers).

Example:
    >>> param, problems = parse_param("k", {"type": "int", "low": 1, "high": 50, "default": 5})
    >>> param.default, problems
    (5, [])
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping

from automl._suggest import close_names, unknown_key_message
from automl.spaces.value_checks import plain
from automl.spaces.params import CategoricalParam, FixedParam, FloatParam, IntParam, Param, _is_int, _is_real, _is_scalar

__all__ = ["KEYS", "OVERRIDE_KEYS", "REQUIRED", "parse_param", "scalar"]

KEYS = {
    "float": ("type", "low", "high", "log", "default", "when"),
    "int": ("type", "low", "high", "log", "default", "when"),
    "categorical": ("type", "choices", "default", "when"),
    "fixed": ("type", "value", "when"),
}
REQUIRED = {
    "float": ("low", "high", "default"),
    "int": ("low", "high", "default"),
    "categorical": ("choices", "default"),
    "fixed": ("value",),
}
OVERRIDE_KEYS = ("low", "high", "default", "log", "choices", "value")
# Scientific notation without a dot, which YAML 1.1 leaves as text ("1e-3", "-2E+5").
_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def scalar(value: object) -> object:
    """Undo YAML 1.1's reading of ``1e-3`` as text for scalar values; a numpy scalar becomes its Python value."""
    value = plain(value)
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        return float(value)
    return value


def _float_field(fld: str, value: object, errors: list[str]) -> float | None:
    if isinstance(value, numbers.Real) and _is_real(value):
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
    if isinstance(value, numbers.Integral) and _is_int(value):
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


def parse_param(name: str, spec: object) -> tuple[Param | None, list[str]]:
    """Build one parameter from its YAML mapping, with its structural problems.

    Messages carry no ``"parameter 'x': "`` prefix.  Range and default checks are
    left to :meth:`Param.problems`; the parameter is ``None`` when a field is
    missing or has the wrong type (unknown keys are reported but do not block it).
    ``when`` (a condition, :mod:`automl.spaces.conditions`) is read by the loader, not here.
    """
    if not isinstance(spec, Mapping):
        return None, [f"definition must be a mapping such as {{type: float, low: 0.01, high: 1.0, "
                      f"default: 0.1}}; got {type(spec).__name__} {spec!r}"]
    if "type" not in spec:
        return None, ["missing key 'type'; use one of: " + ", ".join(KEYS)]
    kind = spec["type"]
    if kind not in KEYS:
        hint = close_names(kind, KEYS) if isinstance(kind, str) else []
        tail = f" (did you mean {hint[0]!r}?)" if hint else ""
        return None, [f"unknown type {kind!r}{tail}; use one of: " + ", ".join(KEYS)]
    errors = []
    for key in spec:
        if key in KEYS[kind]:
            continue
        owners = [k for k, keys in KEYS.items() if key in keys]
        if owners:
            errors.append(f"key {key!r} does not apply to {_article(kind)} parameter (it "
                          f"belongs to {' and '.join(owners)} parameters); allowed keys: "
                          + ", ".join(KEYS[kind]))
        else:
            errors.append(unknown_key_message(key, KEYS[kind], f"for {_article(kind)} parameter"))
    blocking = [f"missing required key {k!r} for {_article(kind)} parameter"
                for k in REQUIRED[kind] if k not in spec]
    param: Param | None = None
    if kind == "fixed":
        value = scalar(spec.get("value"))
        if not _is_scalar(value):
            blocking.append(f"value {value!r} is not a string, number, boolean or null; pin a "
                            "single value")
        param = FixedParam(name, value)
    elif kind == "categorical":
        choices = spec.get("choices", ())
        if isinstance(choices, (list, tuple)):
            choices = tuple(scalar(c) for c in choices)
            blocking += [f"choice {c!r} is not a string, number, boolean or null"
                         for c in choices if not _is_scalar(c)]
        else:
            blocking.append(f"choices must be a list such as [a, b] but is "
                            f"{type(choices).__name__} {choices!r}")
        default = scalar(spec.get("default"))
        if not _is_scalar(default):
            blocking.append(f"default {default!r} is not a string, number, boolean or null")
        param = CategoricalParam(name, choices, default)
    else:
        read = _float_field if kind == "float" else _int_field
        values = {f: read(f, spec[f], blocking) for f in ("low", "high", "default") if f in spec}
        log = spec.get("log", False)
        if not isinstance(log, bool):
            blocking.append(f"log must be true or false but is {type(log).__name__} {log!r}")
        low, high, default = values.get("low"), values.get("high"), values.get("default")
        if not blocking and low is not None and high is not None and default is not None:
            if kind == "float":
                param = FloatParam(name, float(low), float(high), float(default), log=log)
            else:
                param = IntParam(name, int(low), int(high), int(default), log=log)
    return (None if blocking else param), errors + blocking


