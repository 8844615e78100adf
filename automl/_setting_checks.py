"""The check of each setting's value (the settings table in :mod:`automl.config` names them).

Each check takes ``(name, value)`` and returns the problems, each naming the setting, the value
received and the fix; an empty list when the value is fine.

Example:
    >>> _check_n_trials("n_trials", 0)
    ['n_trials must be a positive whole number, got 0; for example n_trials=40']
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

from automl._device import device_problems
from automl._suggest import unknown_name_message
from automl.exceptions import AutoMLError

#: The values ``pruner``, ``isolation`` and ``task`` take as text.
PRUNERS = ("percentile", "median", "none")
ISOLATION_MODES = ("process", "none")
TASKS = ("binary", "multiclass", "regression")


def family_list(value: Any) -> Any:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (anything else unchanged, for the check)."""
    if isinstance(value, str):
        return [f.strip() for f in value.split(",") if f.strip()]
    if isinstance(value, tuple):
        return list(value)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _is_whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# -- checks: value -> problems ------------------------------------------------------------------
def _positive(unit: str, example: str, optional: bool = True) -> Callable[[str, Any], list[str]]:
    def check(name: str, value: Any) -> list[str]:
        if value is None or (_is_number(value) and value > 0):
            return []
        tail = " or None" if optional else ""
        return [f"{name} must be a positive number of {unit}{tail}, got {value!r}; for example {example}"]

    return check


def _check_time_budget(name: str, value: Any) -> list[str]:
    if value is None or (_is_number(value) and value > 0):
        return []
    return [f"time_budget must be a positive number of seconds, got {value!r}; for example time_budget=60"]


def _check_n_trials(name: str, value: Any) -> list[str]:
    if value is None or (_is_whole(value) and value >= 1):
        return []
    return [f"n_trials must be a positive whole number, got {value!r}; for example n_trials=40"]


def _check_seed(name: str, value: Any) -> list[str]:
    if value is None or (_is_whole(value) and value >= 0):
        return []
    return [f"seed must be a non-negative whole number or None, got {value!r}"]


def _check_n_jobs(name: str, value: Any) -> list[str]:
    if _is_whole(value) and value != 0:
        return []
    return [f"n_jobs must be a non-zero whole number (-1: all cores), got {value!r}"]


def _check_metric(name: str, value: Any) -> list[str]:
    from automl.evaluation.metrics import Metric, available_metrics

    if isinstance(value, str):
        return [] if value in available_metrics() else [unknown_name_message("metric", value, available_metrics())]
    if value is None or isinstance(value, Metric) or callable(value):
        return []
    return [f"metric must be a name, a callable or automl.Metric, got {type(value).__name__}"]


def _check_families(name: str, value: Any) -> list[str]:
    from automl.families.registry import registered_families

    if value is None:
        return []
    names = family_list(value)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [f"families must be a list of family names, got {value!r}"]
    if not names:
        return ["families= is empty; name at least one family, or pass None for all installed ones"]
    known = registered_families()
    return [unknown_name_message("family", n, known) for n in names if n not in known]


def _check_search_space(name: str, value: Any) -> list[str]:
    if value is None or isinstance(value, (Mapping, str, os.PathLike)):
        return []
    return [f"search_space must be a mapping {{family: {{param: value or range}}}} or a YAML path, "
            f"got {type(value).__name__}"]


def _check_cv(name: str, value: Any) -> list[str]:
    from automl.evaluation.splitters import parse_cv

    try:
        parse_cv(value)
    except AutoMLError as exc:
        return [str(exc)]
    return []


def _check_storage(name: str, value: Any) -> list[str]:
    from automl.search.storage import check_storage

    return check_storage(value)


def _nonempty_text(name: str, value: Any) -> list[str]:
    if value is None or (isinstance(value, str) and value.strip()):
        return []
    return [f"{name} must be a non-empty string or None, got {value!r}"]


def _check_pruner(name: str, value: Any) -> list[str]:
    if not isinstance(value, str) or value in PRUNERS:
        return []  # None is "none"; any other object is taken for an Optuna pruner
    return [f"pruner must be 'percentile', 'median', 'none' or an optuna pruner, got {value!r}"]


def _check_tracking(name: str, value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if all(hasattr(value, m) for m in ("on_start", "on_trial", "finish")):
        return []
    return [f"tracking must be True, False, None or a tracker with on_start/on_trial/finish, got {value!r}"]


def _check_device(name: str, value: Any) -> list[str]:
    return device_problems(value)


def _check_image_shape(name: str, value: Any) -> list[str]:
    from automl.data.images import image_shape_problems

    if isinstance(value, str):  # text that _image_shape could not read
        return [f"image_shape must be (height, width) or (height, width, channels) of positive whole numbers, or "
                f"text HEIGHTxWIDTH[xCHANNELS] such as 28x28; got {value!r}"]
    return image_shape_problems(value)


def _check_isolation(name: str, value: Any) -> list[str]:
    if value in ISOLATION_MODES:
        return []
    return [f"isolation must be 'process' (trials in a worker process) or 'none' (in this process), got {value!r}"]


def _check_ensemble(name: str, value: Any) -> list[str]:
    return [] if isinstance(value, bool) else [f"ensemble must be True or False, got {value!r}"]


def _check_task(name: str, value: Any) -> list[str]:
    if value is None or value in TASKS:
        return []
    return [f"task must be 'binary', 'multiclass', 'regression' or None (inferred), got {value!r}"]
