"""Conditional parameters: a parameter searched only while other parameters take some values.

In a search-space file a parameter may carry ``when``, a mapping of *parent* parameter to the
value (or list of values) under which it is used; with several parents all must match::

    optimizer: {type: categorical, choices: [adamw, sgd], default: adamw}
    momentum: {type: float, low: 0.8, high: 0.99, default: 0.9, when: {optimizer: sgd}}

A parent is a categorical (or pinned) parameter declared *above* its children. While a parameter
is inactive it is not suggested to Optuna at all (it is absent from ``trial.params``, so the
sampler and the importance evaluators see it only where it was used) and the family's estimator
gets its default. A child of an inactive parent is inactive.

Example:
    >>> conditions, problems = parse_when("momentum", {"optimizer": "sgd"})
    >>> conditions, problems
    ([Condition(param='momentum', parent='optimizer', values=('sgd',))], [])
    >>> is_active("momentum", conditions, {"optimizer": "adamw"})
    False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from automl._suggest import close_names
from automl.spaces.params import _is_scalar

__all__ = ["Condition", "choice_problems", "condition_problems", "is_active", "parse_when", "when_dict"]


@dataclass(frozen=True)
class Condition:
    """``param`` is used only while ``parent`` takes one of ``values``.

    Example:
        >>> Condition("l1_ratio", "penalty", ("elasticnet",)).holds({"penalty": "l2"})
        False
    """

    param: str
    parent: str
    values: tuple

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the parent is set (active) in ``values`` and takes one of :attr:`values`."""
        return self.parent in values and any(_same(values[self.parent], v) for v in self.values)


def _same(a: object, b: object) -> bool:
    """Equal and of the same kind (``True`` is not ``1`` for a choice)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def parse_when(name: str, when: object) -> tuple[list[Condition], list[str]]:
    """The conditions of parameter ``name`` from its ``when`` mapping, with the problems found.

    Example:
        >>> parse_when("l1_ratio", {"penalty": ["elasticnet"]})[0][0].values
        ('elasticnet',)
        >>> parse_when("l1_ratio", "penalty")[1]
        ["when must be a mapping of parent parameter to value(s), such as when: {optimizer: sgd}; got str 'penalty'"]
    """
    if not isinstance(when, Mapping) or not when:
        return [], ["when must be a mapping of parent parameter to value(s), such as when: {optimizer: sgd}; "
                    f"got {type(when).__name__} {when!r}"]
    out, problems = [], []
    for parent, values in when.items():
        if not isinstance(parent, str):
            problems.append(f"when: parent {parent!r} must be a parameter name (text)")
            continue
        listed = tuple(values) if isinstance(values, (list, tuple)) else (values,)
        bad = [v for v in listed if not _is_scalar(v)]
        if not listed or bad:
            problems.append(f"when: {parent}: give a value or a non-empty list of values (strings, numbers, "
                            f"booleans or null); got {values!r}")
            continue
        out.append(Condition(name, parent, listed))
    return out, problems


def condition_problems(params: Sequence[Any], conditions: Iterable[Condition]) -> list[str]:
    """Structural problems of ``conditions`` over ``params`` (in declaration order).

    A condition must name a parameter of the space; its parent must be another categorical or fixed
    parameter declared above it.

    Example:
        >>> from automl.spaces.params import CategoricalParam, FloatParam
        >>> params = [CategoricalParam("optimizer", ("adamw", "sgd"), "adamw"), FloatParam("momentum", 0.8, 0.99, 0.9)]
        >>> condition_problems(params, [Condition("momentum", "optimiser", ("sgd",))])
        ["parameter 'momentum': when names unknown parameter 'optimiser' (did you mean 'optimizer'?); parameters above it: optimizer"]
    """
    order = {getattr(p, "name", None): i for i, p in enumerate(params)}
    out = []
    for c in conditions:
        head = f"parameter {c.param!r}: "
        if c.param not in order:
            out.append(f"condition on unknown parameter {c.param!r}; known parameters: {', '.join(map(str, order))}")
            continue
        above = [str(n) for n, i in order.items() if i < order[c.param]]
        if c.parent == c.param:
            out.append(head + "when names the parameter itself; name another parameter declared above it")
        elif c.parent not in order:
            hint = close_names(c.parent, [str(n) for n in order])
            tail = f" (did you mean {hint[0]!r}?)" if hint else ""
            out.append(head + f"when names unknown parameter {c.parent!r}{tail}; parameters above it: "
                       + (", ".join(above) or "none"))
        elif order[c.parent] > order[c.param]:
            out.append(head + f"when names {c.parent!r}, which is declared below it; move {c.parent!r} above "
                       f"{c.param!r} (a parent is decided before its children)")
        elif getattr(params[order[c.parent]], "kind", None) not in ("categorical", "fixed"):
            out.append(head + f"when names {c.parent!r}, a {getattr(params[order[c.parent]], 'kind', '?')} parameter; a parent "
                       "must be categorical (a parameter searched among named choices)")
    return out


def choice_problems(params: Sequence[Any], conditions: Iterable[Condition]) -> list[str]:
    """Values in ``when`` that the parent can never take (checked when a space is loaded, not after
    overrides: narrowing a parent's choices may leave a child never used, which is fine).

    Example:
        >>> from automl.spaces.params import CategoricalParam, FloatParam
        >>> params = [CategoricalParam("optimizer", ("adamw", "sgd"), "adamw"), FloatParam("momentum", 0.8, 0.99, 0.9)]
        >>> choice_problems(params, [Condition("momentum", "optimizer", ("sdg",))])
        ["parameter 'momentum': when: optimizer='sdg' is not one of its choices ['adamw', 'sgd'] (did you mean 'sgd'?)"]
    """
    by_name = {getattr(p, "name", None): p for p in params}
    out = []
    for c in conditions:
        parent = by_name.get(c.parent)
        if parent is None or getattr(parent, "kind", None) not in ("categorical", "fixed"):
            continue  # reported by condition_problems
        choices = parent.choices if parent.kind == "categorical" else (parent.value,)
        for value in c.values:
            if not any(_same(value, choice) for choice in choices):
                hint = close_names(value, [x for x in choices if isinstance(x, str)]) if isinstance(value, str) else []
                tail = f" (did you mean {hint[0]!r}?)" if hint else ""
                out.append(f"parameter {c.param!r}: when: {c.parent}={value!r} is not one of its choices "
                           f"{list(choices)!r}{tail}")
    return out


def is_active(name: str, conditions: Iterable[Condition], values: Mapping[str, Any]) -> bool:
    """Whether parameter ``name`` is used given the active ``values`` decided so far.

    Example:
        >>> is_active("k", [], {})
        True
    """
    return all(c.holds(values) for c in conditions if c.param == name)


def when_dict(name: str, conditions: Iterable[Condition]) -> dict[str, Any]:
    """The YAML ``when`` mapping of ``name`` (empty when it is not conditional).

    Example:
        >>> when_dict("m", [Condition("m", "optimizer", ("sgd",)), Condition("m", "a", ("x", "y"))])
        {'optimizer': 'sgd', 'a': ['x', 'y']}
    """
    return {c.parent: c.values[0] if len(c.values) == 1 else list(c.values) for c in conditions if c.param == name}
