"""The :class:`ModelFamily` abstraction and the context a builder receives.

Example:
    >>> from sklearn.dummy import DummyRegressor
    >>> fam = ModelFamily(
    ...     name="dummy", tasks=frozenset({"regression"}), encoding="ordinal",
    ...     build=lambda params, ctx: DummyRegressor(), description="predicts the mean")
    >>> fam.supports("regression")
    True
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BuildContext", "INPUT_KINDS", "ModelFamily"]


@dataclass(frozen=True)
class BuildContext:
    """What a builder knows about the data of the fold it builds for.

    Attributes:
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: Number of classes (0 for regression).
        n_rows: Rows of the training part.
        n_features: Columns of the encoded matrix.
        categorical_indices: Encoded columns that hold category codes (``native`` encoding).
        category_counts: Levels of each of those columns.
        seed: Random seed for the estimator.
        n_jobs: Threads the estimator may use.
        device: Where nets train: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        image_shape: ``(height, width, channels)`` when the columns are the pixels of
            images (channels last, row-major), else None.
    """

    task: str
    n_classes: int
    n_rows: int
    n_features: int
    categorical_indices: Sequence[int] = ()
    category_counts: Sequence[int] = ()
    seed: int = 0
    n_jobs: int = 1
    device: str = "auto"
    image_shape: tuple[int, int, int] | None = None


#: Kinds of input data: tables, and images given as pixel columns.
INPUT_KINDS = ("table", "image")


@dataclass(frozen=True)
class ModelFamily:
    """A kind of model the search can pick.

    Args:
        name: Registry key; also the prefix of its Optuna parameters (``name__param``).
        tasks: Tasks it supports.
        encoding: Preprocessing it needs: ``onehot``, ``ordinal`` or ``native``.
        build: ``build(params, context) -> estimator`` (unfitted, scikit-learn API;
            classifiers must have ``predict_proba``). Imports heavy packages inside.
        description: One line for ``automl families``.
        requires: Top-level modules that must be importable (checked without importing them).
        refit_params: ``refit_params(params, fold_hints) -> params`` adapting the
            winning parameters to the refit on all rows (for example the number
            of boosting rounds found by early stopping in each fold).
        fitted_hints: ``fitted_hints(fitted_estimator) -> dict`` collecting, in
            each fold, what ``refit_params`` needs.
        learning_curves: ``learning_curves(fitted_estimator) -> {name: [value per
            epoch or boosting round]}`` (e.g. ``valid_loss``); logged to MLflow with
            step = epoch.
        search_space: A :class:`~automl.spaces.SearchSpace` for families defined
            outside automl; the built-in ones read ``search_spaces/<name>.yaml``.
        inputs: Kinds of data it models: ``table`` and/or ``image`` (pixel columns
            with ``BuildContext.image_shape`` set). Tabular families also take images,
            as flat pixel columns.
        sample_weight: Whether its estimator's ``fit`` takes ``sample_weight`` (families
            that do not are left out of a search given sample weights).
        adapt_space: ``adapt_space(space, n_rows) -> space`` narrowing the search space to
            the rows of a training fold (e.g. leaf sizes), applied before the user's
            overrides; ``None`` keeps the space as it is.
        pin_choices: For a categorical parameter, the values its estimator also takes when
            the user pins it, beyond the choices the search samples (the reference nets pin
            ``optimizer="adam"``, which the search does not try); a pin outside both is
            refused before the search.
        searched_by_default: Whether ``families=None`` (the default) searches it where installed;
            a family that is not is searched only when named in ``families=``.
        packable: Its estimators are torch nets that :func:`~automl.families.packed_fit.fit_packed` can
            train together, so the search may run several of its trials as one pack (``pack_nets``).
        poisson_params: The parameters that give its regression estimator a Poisson loss with a log link
            (predictions ``exp`` of its raw score), merged into a trial's parameters under
            ``target_transform="poisson"`` (:mod:`automl.data.target`); ``None``: it has none, and under that
            setting it learns the target as it is.
    """

    name: str
    tasks: frozenset[str]
    encoding: str
    build: Callable[[Mapping[str, Any], BuildContext], Any]
    description: str = ""
    requires: tuple[str, ...] = ()
    refit_params: Callable[[Mapping[str, Any], list[dict[str, Any]]], dict[str, Any]] | None = field(
        default=None, compare=False
    )
    fitted_hints: Callable[[Any], dict[str, Any]] | None = field(default=None, compare=False)
    search_space: Any = field(default=None, compare=False)
    learning_curves: Callable[[Any], dict[str, list[float]]] | None = field(default=None, compare=False)
    inputs: frozenset[str] = frozenset(INPUT_KINDS)
    sample_weight: bool = True
    adapt_space: Callable[[Any, int], Any] | None = field(default=None, compare=False)
    pin_choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict, compare=False)
    searched_by_default: bool = True
    packable: bool = False
    poisson_params: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        from automl.data.preprocessing import ENCODINGS
        from automl.data.task import TASKS
        from automl.exceptions import InvalidParameterError

        problems = []
        if not isinstance(self.tasks, set | frozenset | list | tuple) or not set(self.tasks) <= set(TASKS):
            problems.append(f"ModelFamily {self.name!r}: tasks must be a set of {', '.join(map(repr, TASKS))}, "
                            f"got {self.tasks!r}")
        if self.encoding not in ENCODINGS:
            problems.append(f"ModelFamily {self.name!r}: encoding must be one of {', '.join(map(repr, ENCODINGS))}, "
                            f"got {self.encoding!r}")
        if not callable(self.build):
            problems.append(f"ModelFamily {self.name!r}: build must be a callable build(params, context), "
                            f"got {type(self.build).__name__}")
        if not isinstance(self.inputs, set | frozenset | list | tuple) or not set(self.inputs) <= set(INPUT_KINDS):
            problems.append(f"ModelFamily {self.name!r}: inputs must be a set of {', '.join(map(repr, INPUT_KINDS))}, "
                            f"got {self.inputs!r}")
        problems += self._reserved_names()
        declared = getattr(self.search_space, "family", None)
        if isinstance(declared, str) and declared and declared != self.name:
            problems.append(f"ModelFamily {self.name!r}: its search_space is declared for family {declared!r}; "
                            f"give the space family: {self.name}")
        if problems:
            raise InvalidParameterError(problems)
        object.__setattr__(self, "tasks", frozenset(self.tasks))
        object.__setattr__(self, "inputs", frozenset(self.inputs))

    def _reserved_names(self) -> list[str]:
        """Parameters of its own ``search_space`` named as those the search adds to every family (the target's scale,
        the text encoder's): the search would take them over, and the family would never receive them."""
        from automl.data.target import TARGET_PARAM_NAME
        from automl.data.text import TEXT_PREFIX

        names = getattr(self.search_space, "names", None) or []
        taken = [n for n in names if n == TARGET_PARAM_NAME or n.startswith(TEXT_PREFIX)]
        return [f"ModelFamily {self.name!r}: its search_space names {', '.join(map(repr, taken))}, which the search "
                f"sets itself ({TARGET_PARAM_NAME!r}: the target's scale; {TEXT_PREFIX}*: the text encoder's); rename "
                "them (e.g. with your family's own prefix)"] if taken else []

    def space_for(self, n_rows: int):  # noqa: ANN201 - SearchSpace, imported lazily
        """The family's search space adapted to ``n_rows`` training rows (see ``adapt_space``).

        Example:
            >>> from automl.families import get_family
            >>> get_family("knn").space_for(40)["n_neighbors"].high
            4
        """
        space = self.space()
        return space if self.adapt_space is None else self.adapt_space(space, int(n_rows))

    def supports(self, task: str) -> bool:
        """Whether this family can model ``task``."""
        return task in self.tasks

    def missing_requirements(self) -> list[str]:
        """Required modules that are not installed (found without importing them).

        Example:
            >>> ModelFamily("x", frozenset(), "ordinal", print, requires=("no_such_mod",)).missing_requirements()
            ['no_such_mod']
        """
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def space(self):  # noqa: ANN201 - SearchSpace, imported lazily
        """The family's search space (its own, else ``search_spaces/<name>.yaml``)."""
        if self.search_space is not None:
            return self.search_space
        from automl.spaces import load_builtin_space

        return load_builtin_space(self.name)
