"""Validation of the settings shared by ``automl.fit`` and the estimators, all problems at once."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import Any

from automl.data.images import image_shape_problems
from automl.evaluation.metrics import Metric, available_metrics
from automl.evaluation.splitters import make_cv_plan
from automl.exceptions import AutoMLError
from automl.families.registry import registered_families
from automl.families.torch_common import device_problems
from automl._suggest import unknown_name_message
from automl.search.storage import check_storage

__all__ = ["settings_problems", "resolve_n_jobs"]


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def settings_problems(params: Mapping[str, Any]) -> list[str]:
    """Every problem with the search settings that can be seen without the data.

    Example:
        >>> settings_problems({"time_budget": -5, "n_jobs": 1, "cv": 5})
        ['time_budget must be a positive number of seconds, got -5; for example time_budget=60']
    """
    problems: list[str] = []
    budget = params.get("time_budget")
    if budget is not None and (not _is_number(budget) or not budget > 0 or budget != budget):
        problems.append(f"time_budget must be a positive number of seconds, got {budget!r}; for example time_budget=60")
    n_trials = params.get("n_trials")
    if n_trials is not None and (not isinstance(n_trials, numbers.Integral) or isinstance(n_trials, bool) or n_trials < 1):
        problems.append(f"n_trials must be a positive whole number, got {n_trials!r}; for example n_trials=40")
    seed = params.get("seed")
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0):
        problems.append(f"seed must be a non-negative whole number or None, got {seed!r}")
    n_jobs = params.get("n_jobs")
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        problems.append(f"n_jobs must be a non-zero whole number (-1: all cores), got {n_jobs!r}")
    metric = params.get("metric")
    if isinstance(metric, str) and metric not in available_metrics():
        problems.append(unknown_name_message("metric", metric, available_metrics()))
    elif metric is not None and not isinstance(metric, (str, Metric)) and not callable(metric):
        problems.append(f"metric must be a name, a callable or automl.Metric, got {type(metric).__name__}")
    families = params.get("families")
    if families is not None:
        names = [families] if isinstance(families, str) else families
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            problems.append(f"families must be a list of family names, got {families!r}")
        else:
            known = registered_families()
            problems += [unknown_name_message("family", n, known) for n in names if n not in known]
            if not names:
                problems.append("families= is empty; name at least one family, or pass None for all installed ones")
    space = params.get("search_space")
    if space is not None and not isinstance(space, (Mapping, str, os.PathLike)):
        problems.append(
            f"search_space must be a mapping {{family: {{param: value or range}}}} or a YAML path, got {type(space).__name__}"
        )
    cv = params.get("cv")
    try:
        if isinstance(cv, str) and cv.startswith("group:") and not cv[6:].isdigit():
            pass  # group:COLUMN, resolved by automl.fit
        else:
            make_cv_plan(cv, "regression")
    except AutoMLError as exc:
        problems.append(str(exc))
    problems += check_storage(params.get("storage"))
    name = params.get("study_name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"study_name must be a non-empty string or None, got {name!r}")
    tracking = params.get("tracking")
    if tracking is not None and not isinstance(tracking, bool):
        if not all(hasattr(tracking, m) for m in ("on_start", "on_trial", "finish")):
            problems.append(
                f"tracking must be True, False, None or a tracker with on_start/on_trial/finish, got {tracking!r}"
            )
    for name in ("tracking_uri", "register_model"):
        value = params.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"{name} must be a non-empty string or None, got {value!r}")
    if "device" in params:
        problems += device_problems(params["device"])
    problems += image_shape_problems(params.get("image_shape"))
    pruner = params.get("pruner")
    if isinstance(pruner, str) and pruner not in {"percentile", "median", "none"}:
        problems.append(f"pruner must be 'percentile', 'median', 'none' or an optuna pruner, got {pruner!r}")
    if not isinstance(params.get("ensemble", True), bool):
        problems.append(f"ensemble must be True or False, got {params['ensemble']!r}")
    isolation = params.get("isolation", "process")
    if isolation not in ("process", "none"):
        problems.append(
            f"isolation must be 'process' (trials in a worker process) or 'none' (in this process), got {isolation!r}"
        )
    for name, example in (("trial_timeout", "trial_timeout=600"), ("trial_memory_limit", "trial_memory_limit=4096")):
        value = params.get(name)
        if value is not None and (not _is_number(value) or not value > 0 or value != value):
            unit = "seconds" if name == "trial_timeout" else "MiB"
            problems.append(f"{name} must be a positive number of {unit} or None, got {value!r}; for example {example}")
    return problems


def resolve_n_jobs(n_jobs: int) -> int:
    """Threads to use: ``-1`` is every core, ``-2`` all but one, and so on.

    Example:
        >>> resolve_n_jobs(1)
        1
    """
    cores = os.cpu_count() or 1
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
