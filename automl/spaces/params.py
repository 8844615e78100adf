"""Search-space parameters: float, int, categorical and fixed (the :class:`SearchSpace` is in :mod:`automl.spaces.space`).

A parameter knows its bounds and default, reports rule violations with
:meth:`problems` and asks an Optuna trial (duck-typed: only ``suggest_float``,
``suggest_int`` and ``suggest_categorical`` are used) for a value.  Optuna is
never imported here.

Example:
    >>> IntParam("n_neighbors", 1, 50, 5, log=True).problems(), FixedParam("p", 2).default
    ([], 2)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

from automl._suggest import close_names

__all__ = ["FloatParam", "IntParam", "CategoricalParam", "FixedParam", "Param", "probe_values"]

#: Types a categorical choice or a fixed value may have (``None`` is YAML ``null``).
SCALAR_TYPES = (str, int, float, bool, type(None))


def _is_scalar(value: object) -> bool:
    return isinstance(value, SCALAR_TYPES)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _name_problems(name: object, what: str = "parameter") -> list[str]:
    example = "num_leaves" if what == "parameter" else "lightgbm"
    if not isinstance(name, str) or not name.isidentifier():
        return [f"{what} {name!r}: name is not a valid identifier; use letters, digits and "
                f"underscores, not starting with a digit (e.g. {example})"]
    if "__" in name:
        return [f"{what} {name!r}: name contains '__', which joins family and parameter names "
                "in Optuna keys; use a single underscore"]
    return []


def _range_problems(p: _BoundedParam, kind: str) -> list[str]:
    """Problems shared by float and int parameters."""
    check = _is_real if kind == "float" else _is_int
    noun = "a number" if kind == "float" else "an integer"
    head = f"parameter {p.name!r}: "
    out = _name_problems(p.name)
    valid = {}
    for fld in ("low", "high", "default"):
        value = getattr(p, fld)
        if isinstance(value, bool):
            out.append(head + f"{fld} {value!r} is a boolean, not {noun}; write {noun} instead")
        elif not check(value):
            hint = " (a number in quotes is text)" if isinstance(value, str) else ""
            out.append(head + f"{fld} {value!r} is not {noun}{hint}; write {noun} such as "
                       f"{fld}: {'0.01' if kind == 'float' else '8'}")
        elif not math.isfinite(value):
            out.append(head + f"{fld} {value!r} is not finite; use a finite {fld}")
        else:
            valid[fld] = value
    if not isinstance(p.log, bool):
        out.append(head + f"log {p.log!r} is not a boolean; write log: true or log: false")
    low, high = valid.get("low"), valid.get("high")
    if low is not None and high is not None:
        if not low < high:
            out.append(head + f"low={low!r} is not below high={high!r}; make low smaller than "
                       "high (use a fixed parameter to pin a single value)")
        elif p.log is True and low <= 0:
            out.append(head + f"log=true needs low > 0 but low={low!r}; use a positive low "
                       "or set log: false")
        elif "default" in valid:
            default = valid["default"]
            where = "below low" if default < low else "above high" if default > high else ""
            if where:
                bound = low if default < low else high
                out.append(head + f"default {default!r} is {where}={bound!r}; choose a default "
                           f"inside [{low!r}, {high!r}]")
    return out


@dataclass(frozen=True)
class _BoundedParam:
    """Shared body of :class:`FloatParam` and :class:`IntParam`."""

    kind: ClassVar[str] = ""
    name: str
    low: Any
    high: Any
    default: Any
    log: bool = False

    def problems(self) -> list[str]:
        """Return the rule violations of this parameter (empty when valid).

        Example:
            >>> IntParam("num_leaves", 8, 256, 500).problems()
            ["parameter 'num_leaves': default 500 is above high=256; choose a default inside [8, 256]"]
        """
        return _range_problems(self, self.kind)

    def to_dict(self) -> dict[str, object]:
        """Return the YAML form of this parameter.

        Example:
            >>> IntParam("num_leaves", 4, 256, 31, log=True).to_dict()
            {'type': 'int', 'low': 4, 'high': 256, 'log': True, 'default': 31}
        """
        out: dict[str, object] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        out["default"] = self.default
        return out


@dataclass(frozen=True)
class FloatParam(_BoundedParam):
    """A float searched in ``[low, high]``, on a log scale when ``log`` is true.

    Example:
        >>> FloatParam("learning_rate", 0.005, 0.3, 0.05, log=True).problems()
        []
        >>> FloatParam("learning_rate", 0.0, 0.3, 0.05, log=True).problems()
        ["parameter 'learning_rate': log=true needs low > 0 but low=0.0; use a positive low or set log: false"]
    """

    kind: ClassVar[str] = "float"
    low: float
    high: float
    default: float

    def suggest(self, trial: Any, key: str) -> float:
        """Ask ``trial`` for a float under the Optuna name ``key``.

        Example:
            >>> import optuna
            >>> FloatParam("subsample", 0.5, 1.0, 1.0).suggest(optuna.trial.FixedTrial({"s": 0.7}), "s")
            0.7
        """
        return trial.suggest_float(key, float(self.low), float(self.high), log=self.log)


@dataclass(frozen=True)
class IntParam(_BoundedParam):
    """An integer searched in ``[low, high]`` (both included), log scale when ``log``.

    Example:
        >>> IntParam("num_leaves", 4.5, 256, 31).problems()
        ["parameter 'num_leaves': low 4.5 is not an integer; write an integer such as low: 8"]
    """

    kind: ClassVar[str] = "int"
    low: int
    high: int
    default: int

    def suggest(self, trial: Any, key: str) -> int:
        """Ask ``trial`` for an integer under the Optuna name ``key``.

        Example:
            >>> import optuna
            >>> IntParam("k", 1, 50, 5).suggest(optuna.trial.FixedTrial({"knn__k": 7}), "knn__k")
            7
        """
        return trial.suggest_int(key, int(self.low), int(self.high), log=self.log)


@dataclass(frozen=True)
class CategoricalParam:
    """One of ``choices`` (strings, numbers, booleans or ``None``).

    A list given as ``choices`` is stored as a tuple so the parameter stays hashable.

    Example:
        >>> CategoricalParam("penalty", ["l2", "elasticnet"], "l2").choices
        ('l2', 'elasticnet')
    """

    kind: ClassVar[str] = "categorical"
    name: str
    choices: tuple
    default: Any

    def __post_init__(self) -> None:
        if isinstance(self.choices, list):
            object.__setattr__(self, "choices", tuple(self.choices))

    def problems(self) -> list[str]:
        """Return the rule violations of this parameter (empty when valid).

        Example:
            >>> CategoricalParam("penalty", ("l2", "elasticnet"), "elasticnt").problems()
            ["parameter 'penalty': default 'elasticnt' is not one of the choices ['l2', 'elasticnet']; choose one of them (did you mean 'elasticnet'?)"]
        """
        head = f"parameter {self.name!r}: "
        out = _name_problems(self.name)
        if not isinstance(self.choices, tuple):
            return out + [head + f"choices {self.choices!r} is not a list; write choices: [a, b]"]
        if not self.choices:
            out.append(head + "choices is empty; list at least one value")
        for i, choice in enumerate(self.choices):
            if not _is_scalar(choice):
                out.append(head + f"choice {choice!r} is not a string, number, boolean or null; "
                           "use scalar choices only")
            elif any(_is_scalar(c) and c == choice for c in self.choices[:i]):
                twin = next(c for c in self.choices[:i] if c == choice)
                what = (f"choice {choice!r} appears more than once" if repr(twin) == repr(choice)
                        else f"choices {twin!r} and {choice!r} are equal (Optuna cannot tell "
                        "them apart)")
                out.append(head + f"{what} in {list(self.choices)!r}; list each choice once")
        if not _is_scalar(self.default):
            out.append(head + f"default {self.default!r} is not a string, number, boolean or null")
        elif self.choices and self.default not in self.choices:
            hint = close_names(self.default, [c for c in self.choices if isinstance(c, str)])
            tail = f" (did you mean {hint[0]!r}?)" if hint and isinstance(self.default, str) else ""
            out.append(head + f"default {self.default!r} is not one of the choices "
                       f"{list(self.choices)!r}; choose one of them{tail}")
        return out

    def suggest(self, trial: Any, key: str) -> Any:
        """Ask ``trial`` for one of the choices under the Optuna name ``key``.

        Example:
            >>> import optuna
            >>> p = CategoricalParam("weights", ("uniform", "distance"), "uniform")
            >>> p.suggest(optuna.trial.FixedTrial({"w": "distance"}), "w")
            'distance'
        """
        return trial.suggest_categorical(key, list(self.choices))

    def to_dict(self) -> dict[str, object]:
        """Return the YAML form of this parameter.

        Example:
            >>> CategoricalParam("p", (1, 2), 2).to_dict()
            {'type': 'categorical', 'choices': [1, 2], 'default': 2}
        """
        return {"type": "categorical", "choices": list(self.choices), "default": self.default}


@dataclass(frozen=True)
class FixedParam:
    """A pinned value: never suggested to Optuna, always returned as is.

    Example:
        >>> FixedParam("n_estimators", 2000).default
        2000
    """

    kind: ClassVar[str] = "fixed"
    name: str
    value: Any

    @property
    def default(self) -> Any:
        """The pinned value (a fixed parameter's default is its value).

        Example:
            >>> FixedParam("subsample_freq", 1).default
            1
        """
        return self.value

    def problems(self) -> list[str]:
        """Return the rule violations of this parameter (empty when valid).

        Example:
            >>> FixedParam("max_iter", [1000]).problems()
            ["parameter 'max_iter': value [1000] is not a string, number, boolean or null; pin a single value"]
        """
        out = _name_problems(self.name)
        if not _is_scalar(self.value):
            out.append(f"parameter {self.name!r}: value {self.value!r} is not a string, number, "
                       "boolean or null; pin a single value")
        return out

    def suggest(self, trial: Any, key: str) -> Any:
        """Return the pinned value without touching ``trial``.

        Example:
            >>> FixedParam("max_iter", 1000).suggest(None, "hgb__max_iter")
            1000
        """
        return self.value

    def to_dict(self) -> dict[str, object]:
        """Return the YAML form of this parameter.

        Example:
            >>> FixedParam("max_iter", 1000).to_dict()
            {'type': 'fixed', 'value': 1000}
        """
        return {"type": "fixed", "value": self.value}


Param = FloatParam | IntParam | CategoricalParam | FixedParam


def probe_values(param: Any) -> list[Any]:
    """The values of ``param`` that stand for all it can take when a rule is checked before the search: a fixed
    value, every choice, or a range's ends and default.

    Example:
        >>> probe_values(IntParam("n", 1, 50, 5)), probe_values(FixedParam("p", 2))
        ([1, 50, 5], [2])
    """
    if param.kind == "fixed":
        return [param.value]
    if param.kind == "categorical":
        return list(param.choices)
    return [param.low, param.high, param.default]
