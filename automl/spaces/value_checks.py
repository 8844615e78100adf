"""Whether a value given for a parameter (a pin, a bound, a default, a choice) fits the parameter's spec.

The spec is the parameter as the family defines it (its built-in search space): a float or an
int parameter takes numbers of that type, and its built-in range says which numbers make sense
at all (a log-scale parameter is a non-negative quantity, a float searched inside ``[0, 1]`` is a
fraction); a categorical parameter whose choices
are text, booleans or null takes one of them (a number is also accepted where the choices are
numbers: they sample a numeric range); a fixed parameter takes a value of the type it holds.

Example:
    >>> from automl.spaces.params import CategoricalParam, FloatParam
    >>> value_problems(CategoricalParam("penalty", ("l2", "elasticnet"), "l2"), "elasticnt")
    ["value 'elasticnt' is not one of the choices ['l2', 'elasticnet'] (did you mean 'elasticnet'?); pin one of them"]
    >>> value_problems(FloatParam("alpha", 1e-4, 100.0, 1.0, log=True), -1.0)
    ['value -1.0 is negative (alpha is a non-negative quantity, searched on a log scale); give a value >= 0']
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from automl._suggest import close_names
from automl.spaces.params import _is_scalar

__all__ = ["plain", "pin_value", "searched_value_problems", "value_problems"]


def plain(value: Any) -> Any:
    """A numpy scalar (``np.int64(3)``, ``np.float32(0.5)``, ``np.bool_``, ``np.str_``) as the Python value."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def pin_value(param: Any, value: Any) -> Any:
    """``value`` as a pin of ``param``: numeric text (``"0.5"``) for a float parameter is read as the number."""
    if getattr(param, "kind", None) == "float" and isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _numeric_problems(param: Any, value: Any, what: str) -> list[str]:
    """``value`` for a float or int parameter: its type, then the domain its built-in range implies."""
    noun = "an integer" if param.kind == "int" else "a number"
    if not _is_number(value):
        kind = "a boolean" if _is_bool(value) else f"{type(value).__name__}"
        hint = " (a number in quotes is text)" if isinstance(value, str) else ""
        return [f"{what} {value!r} is {kind}, not {noun}{hint}; give {noun} such as {param.default!r} "
                f"({param.name} is searched in [{param.low!r}, {param.high!r}])"]
    if not math.isfinite(value):
        return [f"{what} {value!r} is not finite; give a finite number"]
    if param.kind == "int" and not float(value).is_integer():
        return [f"{what} {value!r} is not an integer; {param.name} is a whole number such as {int(param.default)}"]
    if param.kind == "int" and isinstance(value, float):
        return [f"{what} {value!r} is a float; write the integer {int(value)}"]
    low, high = param.low, param.high
    if param.log and _is_number(low) and low > 0 and what == "value" and value < 0:
        return [f"{what} {value!r} is negative ({param.name} is a non-negative quantity, searched on a log "
                "scale); give a value >= 0"]
    if param.log and _is_number(low) and low > 0 and what != "value" and value <= 0:
        return [f"{what} {value!r} is not positive ({param.name} is searched on a log scale, a positive "
                "quantity); give a value > 0"]
    fraction = param.kind == "float" and not param.log and _is_number(low) and _is_number(high)
    if fraction and low >= 0 and high <= 1 and not 0 <= value <= 1:
        return [f"{what} {value!r} is outside [0, 1] ({param.name} is a fraction, searched in "
                    f"[{low!r}, {high!r}]); give a value between 0 and 1"]
    # No lower limit is guessed for an int from its searched range (n_layers=0 is a linear net;
    # min_child_samples=0 is valid): the estimator's own rules say, checked before the search.
    return []


def _choice_problems(param: Any, value: Any, what: str, also: tuple = ()) -> list[str]:
    choices = tuple(param.choices)
    if any(type(c) is type(value) and c == value for c in choices):
        return []
    if what == "value" and any(type(c) is type(value) and c == value for c in also):
        return []  # the family's estimator takes it when pinned, though the search does not sample it
    numbers_only = [c for c in choices if _is_number(c)]
    if _is_number(value) and numbers_only:  # numeric choices sample a range: another number of that kind is fine
        if not math.isfinite(value):
            return [f"{what} {value!r} is not finite; give a finite number"]
        if all(isinstance(c, numbers.Integral) for c in numbers_only) and not float(value).is_integer():
            return [f"{what} {value!r} is not a whole number like the choices {list(choices)!r}"]
        return []
    allowed = list(dict.fromkeys((*choices, *also))) if what == "value" else list(choices)
    texts = [c for c in allowed if isinstance(c, str)]
    hint = close_names(value, texts) if isinstance(value, str) else []
    tail = f" (did you mean {hint[0]!r}?)" if hint else ""
    verb = "pin one of them" if what == "value" else "use only those"
    return [f"{what} {value!r} is not one of the choices {allowed!r}{tail}; {verb}"]


def _fixed_problems(param: Any, value: Any, what: str) -> list[str]:
    held = param.value
    if held is None or (_is_number(held) and not isinstance(held, numbers.Integral) and _is_number(value)):
        return []
    if isinstance(held, bool):
        ok, noun = _is_bool(value), "true or false"
    elif isinstance(held, numbers.Integral):
        ok, noun = isinstance(value, numbers.Integral) and not _is_bool(value), "an integer"
    elif isinstance(held, str):
        ok, noun = isinstance(value, str), "text"
    else:
        ok, noun = _is_number(value), "a number"
    if ok:
        return []
    return [f"{what} {value!r} is {type(value).__name__}, but {param.name} holds {noun} "
            f"(the family fixes it at {held!r}); give {noun}"]


def value_problems(param: Any, value: Any, what: str = "value", also: tuple = ()) -> list[str]:
    """Why ``value`` cannot be given to ``param`` (the family's own definition); empty when it can.

    ``also``: values a categorical parameter's estimator takes when pinned, beyond its choices
    (:attr:`automl.families.ModelFamily.pin_choices`). A pinned number on a log scale may be 0
    (``weight_decay=0``: none); a searched bound may not (a log scale cannot reach 0).

    Example:
        >>> from automl.spaces.params import IntParam
        >>> value_problems(IntParam("n_neighbors", 1, 50, 5), "many")
        ["value 'many' is str, not an integer (a number in quotes is text); give an integer such as 5 (n_neighbors is searched in [1, 50])"]
    """
    value = plain(value)
    if not _is_scalar(value):
        return [f"{what} {value!r} is not a string, number, boolean or null; give a single value"]
    kind = getattr(param, "kind", None)
    if kind in ("float", "int"):
        return _numeric_problems(param, value, what)
    if kind == "categorical":
        return _choice_problems(param, value, what, tuple(also))
    if kind == "fixed":
        return _fixed_problems(param, value, what)
    return []


def searched_value_problems(original: Any, new: Any, given: Any) -> list[str]:
    """The values an override of bounds, default or choices brings, checked against ``original``."""
    out: list[str] = []
    if new.kind in ("float", "int") and original.kind in ("float", "int"):
        for fld in ("low", "high", "default"):
            if fld in given:
                out += value_problems(original, getattr(new, fld), fld)
    elif new.kind == "categorical" and original.kind == "categorical":
        for choice in new.choices:
            out += value_problems(original, choice, "choice")
    return out
