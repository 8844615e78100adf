"""The :class:`SearchSpace` of one model family: its parameters, defaults and warm-start portfolio.

Example:
    >>> space = SearchSpace("knn", (IntParam("n_neighbors", 1, 50, 5, log=True),
    ...                             FixedParam("p", 2)))
    >>> space.defaults()
    {'n_neighbors': 5, 'p': 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from automl._suggest import close_names
from automl.exceptions import AutoMLError, InputTypeError, SearchSpaceError, UnknownParameterError
from automl.spaces.conditions import condition_problems, is_active, when_dict
from automl.spaces.overrides import apply_overrides
from automl.spaces.params import CategoricalParam, FixedParam, FloatParam, IntParam, Param, _name_problems  # noqa: F401 - the examples use them

__all__ = ["SearchSpace"]


@dataclass(frozen=True)
class SearchSpace:
    """The parameters searched for one model family.

    Optuna sees every parameter as ``f"{family}__{name}"`` so that families in
    one study never share a distribution; callers get the unprefixed names.
    A parameter with :attr:`conditions` (``when:`` in YAML, :mod:`automl.spaces.conditions`) is
    suggested only while they hold; otherwise it is left out and the family uses its default.

    Example:
        >>> import optuna
        >>> space = SearchSpace("lightgbm", (IntParam("num_leaves", 4, 256, 31, log=True),
        ...                                  FixedParam("n_estimators", 2000)))
        >>> space.suggest(optuna.trial.FixedTrial({"lightgbm__num_leaves": 64}))
        {'num_leaves': 64, 'n_estimators': 2000}
        >>> space.optuna_defaults()
        {'lightgbm__num_leaves': 31}
    """

    family: str
    params: tuple = ()
    source: str = field(default="<dict>", compare=False)
    description: str = ""
    #: Warm-start configurations (:class:`~automl.spaces.portfolio.PortfolioEntry`), tried
    #: after the defaults.
    portfolio: tuple = field(default=(), compare=False)
    #: :class:`~automl.spaces.conditions.Condition` s: parameters used only while a parent takes some values.
    conditions: tuple = ()

    def __post_init__(self) -> None:
        if not isinstance(self.params, (list, tuple)):
            raise InputTypeError(
                f"SearchSpace({self.family!r}): params must be a tuple or list of FloatParam, IntParam, "
                f"CategoricalParam or FixedParam, got {type(self.params).__name__} {self.params!r}"
            )
        if isinstance(self.params, list):
            object.__setattr__(self, "params", tuple(self.params))
        if isinstance(self.portfolio, list):
            object.__setattr__(self, "portfolio", tuple(self.portfolio))
        if isinstance(self.conditions, list):
            object.__setattr__(self, "conditions", tuple(self.conditions))

    @property
    def names(self) -> list[str]:
        """Parameter names in definition order.

        Example:
            >>> SearchSpace("knn", (FixedParam("p", 2), FixedParam("n_neighbors", 5))).names
            ['p', 'n_neighbors']
        """
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        """Return the parameter called ``name`` (:class:`~automl.exceptions.UnknownParameterError`, a
        ``KeyError``, with suggestions otherwise).

        Example:
            >>> SearchSpace("knn", (FixedParam("p", 2),))["p"]
            FixedParam(name='p', value=2)
        """
        for p in self.params:
            if p.name == name:
                return p
        hint = close_names(name, [n for n in self.names if isinstance(n, str)])
        tail = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UnknownParameterError(f"no parameter {name!r} in the {self.family} search space{tail}; "
                                    f"its parameters: {', '.join(map(str, self.names))}")

    def problems(self) -> list[str]:
        """Return every rule violation of the family name and the parameters.

        Example:
            >>> SearchSpace("knn", (FixedParam("p", 1), FixedParam("p", 2))).problems()
            ["parameter 'p': defined 2 times; keep one definition"]
        """
        out = _name_problems(self.family, "family")
        for p in self.params:
            if getattr(p, "kind", None) not in ("float", "int", "categorical", "fixed"):
                out.append(f"parameter {p!r} is not a FloatParam, IntParam, CategoricalParam "
                           "or FixedParam")
            else:
                out.extend(p.problems())
        names = [getattr(p, "name", None) for p in self.params]
        for name in dict.fromkeys(names):
            if names.count(name) > 1:
                out.append(f"parameter {name!r}: defined {names.count(name)} times; "
                           "keep one definition")
        out.extend(condition_problems(self.params, self.conditions))
        return out

    def validate(self) -> SearchSpace:
        """Raise :class:`SearchSpaceError` listing all problems (each naming ``source``).

        Example:
            >>> SearchSpace("knn", (IntParam("k", 5, 1, 3),), source="knn.yaml").validate()
            Traceback (most recent call last):
            ...
            automl.exceptions.SearchSpaceError: knn.yaml: parameter 'k': low=5 is not below high=1; make low smaller than high (use a fixed parameter to pin a single value)
        """
        problems = self.problems()
        if problems:
            raise SearchSpaceError([f"{self.source}: {p}" for p in problems])
        return self

    def defaults(self) -> dict[str, object]:
        """Default value of every parameter (fixed ones included), unprefixed.

        Example:
            >>> SearchSpace("knn", (IntParam("n_neighbors", 1, 50, 5),)).defaults()
            {'n_neighbors': 5}
        """
        return {p.name: p.default for p in self.params}

    def active(self, values: Mapping[str, object]) -> dict[str, object]:
        """``values`` (unprefixed, one per parameter) without the parameters their conditions leave unused.

        Example:
            >>> from automl.spaces.conditions import Condition
            >>> space = SearchSpace("m", (CategoricalParam("opt", ("adamw", "sgd"), "adamw"),
            ...                           FloatParam("momentum", 0.8, 0.99, 0.9)),
            ...                     conditions=(Condition("momentum", "opt", ("sgd",)),))
            >>> space.active(space.defaults()), space.active({"opt": "sgd", "momentum": 0.95})
            ({'opt': 'adamw'}, {'opt': 'sgd', 'momentum': 0.95})
        """
        out: dict[str, object] = {}
        for p in self.params:
            if p.name in values and is_active(p.name, self.conditions, out):
                out[p.name] = values[p.name]
        return out

    def optuna_defaults(self) -> dict[str, object]:
        """Defaults of the searched (and active) parameters under their Optuna names (for ``enqueue_trial``).

        Example:
            >>> SearchSpace("knn", (IntParam("k", 1, 50, 5), FixedParam("p", 2))).optuna_defaults()
            {'knn__k': 5}
        """
        return {self.key(name): value for name, value in self.active(self.defaults()).items()
                if self[name].kind != "fixed"}

    def key(self, name: str) -> str:
        """The Optuna parameter name of ``name``.

        Example:
            >>> SearchSpace("knn").key("p")
            'knn__p'
        """
        return f"{self.family}__{name}"

    def suggest(self, trial: Any) -> dict[str, object]:
        """Suggest every active parameter from ``trial``; return them under unprefixed names.

        A parameter whose conditions do not hold is neither suggested nor returned.

        Example:
            >>> import optuna
            >>> space = SearchSpace("knn", (CategoricalParam("p", (1, 2), 2),))
            >>> space.suggest(optuna.trial.FixedTrial({"knn__p": 1}))
            {'p': 1}
        """
        out: dict[str, object] = {}
        for p in self.params:
            if not is_active(p.name, self.conditions, out):
                continue
            try:
                out[p.name] = p.suggest(trial, self.key(p.name))
            except (TypeError, ValueError, AttributeError) as exc:
                if isinstance(exc, AutoMLError):
                    raise
                problems = self.problems() or [f"parameter {getattr(p, 'name', p)!r}: {exc}"]
                raise SearchSpaceError([f"{self.source}: {q}" for q in problems]) from exc
        return out

    def with_overrides(self, overrides: Mapping[str, object], source: str = "<overrides>",
                       pin_choices: Mapping[str, tuple] | None = None) -> SearchSpace:
        """Return a copy with some parameters pinned or changed.

        A scalar pins the parameter (it becomes a :class:`FixedParam`); a mapping
        of ``low``/``high``/``default``/``log``/``choices`` replaces those fields
        (``{value: x}`` pins).  When the bounds or choices change but ``default``
        is not given, an old default that falls outside is moved to the nearest
        bound (or the first choice). ``pin_choices`` maps a categorical parameter to the other
        values its family's estimator takes when pinned
        (:attr:`automl.families.ModelFamily.pin_choices`).

        Example:
            >>> space = SearchSpace("knn", (IntParam("n_neighbors", 1, 50, 5),
            ...                             CategoricalParam("p", (1, 2), 2)))
            >>> new = space.with_overrides({"p": 1, "n_neighbors": {"low": 10}})
            >>> new.defaults()
            {'n_neighbors': 10, 'p': 1}
            >>> space.with_overrides({"n_neighbour": 3})
            Traceback (most recent call last):
            ...
            automl.exceptions.SearchSpaceError: <overrides>: unknown parameter 'n_neighbour' for family 'knn' (did you mean 'n_neighbors'?); known parameters: n_neighbors, p
        """
        return apply_overrides(self, overrides, source, pin_choices)

    def to_dict(self, conditions: bool = True) -> dict[str, object]:
        """Return the YAML form of the space (what :func:`space_from_dict` reads); ``conditions=False``
        leaves out the ``when`` of conditional parameters (the study's fingerprint: a condition
        changes which parameters are sampled, never what a configuration scores).

        Example:
            >>> SearchSpace("knn", (FixedParam("p", 2),)).to_dict()
            {'family': 'knn', 'params': {'p': {'type': 'fixed', 'value': 2}}}
        """
        out: dict[str, object] = {"family": self.family}
        if self.description:
            out["description"] = self.description
        params = {}
        for p in self.params:
            spec = p.to_dict()
            when = when_dict(p.name, self.conditions) if conditions else {}
            params[p.name] = {**spec, "when": when} if when else spec
        out["params"] = params
        if self.portfolio:
            out["portfolio"] = [entry.to_dict() for entry in self.portfolio]
        return out

    def to_yaml(self) -> str:
        """Return the space as YAML text, one parameter per line.

        Example:
            >>> print(SearchSpace("knn", (FixedParam("p", 2),)).to_yaml(), end="")
            family: knn
            params:
              p: {type: fixed, value: 2}
        """
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)
