"""Search spaces: which hyperparameters each model family searches, and how.

Spaces are read from YAML (see :mod:`automl.spaces.loader` for the format);
built-in ones ship in the ``automl.search_spaces`` package.  Optuna is not
imported here: :meth:`SearchSpace.suggest` only calls methods of the trial.

Example:
    >>> from automl.spaces import load_builtin_space
    >>> space = load_builtin_space("lightgbm")
    >>> space.defaults()["num_leaves"]
    31
"""

from automl.spaces.loader import (
    builtin_space_names,
    load_builtin_space,
    load_space_file,
    space_from_dict,
)
from automl.spaces.params import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
)
from automl.spaces.space import SearchSpace

__all__ = [
    "FloatParam",
    "IntParam",
    "CategoricalParam",
    "FixedParam",
    "SearchSpace",
    "space_from_dict",
    "load_space_file",
    "load_builtin_space",
    "builtin_space_names",
]
