"""The leaderboard: one row per trial, read back from the study alone.

Every trial stores its per-fold scores, times and (if any) failure reason as
Optuna user attributes, so a leaderboard can be rebuilt from any storage,
from another process or after a resume.

Example:
    >>> import optuna
    >>> study = optuna.create_study(direction="maximize")
    >>> leaderboard(study, ["accuracy"]).columns[:4].tolist()
    ['rank', 'trial', 'family', 'params']
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["leaderboard", "trial_params", "ATTR_SCORES", "ATTR_REASON", "ATTR_FIT_TIME", "ATTR_PREDICT_TIME"]

ATTR_SCORES = "automl:fold_scores"
ATTR_REASON = "automl:reason"
ATTR_FIT_TIME = "automl:fit_time"
ATTR_PREDICT_TIME = "automl:predict_time"
ATTR_HINTS = "automl:refit_hints"
ATTR_PARAMS = "automl:params"
ATTR_CURVES = "automl:curves"
#: Which process ran the trial (``host:pid``), and whether it was skipped as surplus.
ATTR_WORKER = "automl:worker"
ATTR_SURPLUS = "automl:surplus"


def worker_id() -> str:
    """``host:pid`` of this process, recorded on each trial it runs.

    Example:
        >>> worker_id().endswith(str(os.getpid()))
        True
    """
    return f"{socket.gethostname()}:{os.getpid()}"


def trial_params(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split Optuna params ``{"family": f, "f__p": v}`` into ``(f, {"p": v})``.

    Example:
        >>> trial_params({"family": "knn", "knn__p": 1})
        ('knn', {'p': 1})
    """
    family = params.get("family", "")
    prefix = f"{family}__"
    return family, {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def leaderboard(study: Any, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per trial: rank, trial, family, params, mean and std of each metric, times, state, reason.

    Completed trials come first, ranked by the study's objective; then
    pruned, failed and running ones (rank NaN, metric columns empty, the
    folds they ran in ``n_folds``). ``params`` holds every
    parameter of the family, pinned ones included.
    """
    import optuna

    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    rows = []
    trials = study.get_trials(deepcopy=False)
    retried_as = {}
    for t in trials:
        for number in t.system_attrs.get("retry_history", []):
            retried_as[number] = t.number
    for t in trials:
        if t.state == optuna.trial.TrialState.WAITING:
            continue  # enqueued but not run (yet): not a result
        family, params = trial_params(t.params)
        params = t.user_attrs.get(ATTR_PARAMS, params)
        scores = t.user_attrs.get(ATTR_SCORES, {})
        row: dict[str, Any] = {"trial": t.number, "family": family, "params": params}
        complete = t.state == optuna.trial.TrialState.COMPLETE
        for name in metrics:
            # A stopped trial's few folds are not comparable with full CV scores: they stay on the
            # trial (and in MLflow as per-fold metrics) but its mean and std are left empty here.
            values = np.asarray(scores.get(name, []) if complete else [], dtype=float)
            finite = values[np.isfinite(values)]
            row[f"{name}_mean"] = float(finite.mean()) if len(finite) else math.nan
            row[f"{name}_std"] = float(finite.std()) if len(finite) else math.nan
        row["n_folds"] = len(next(iter(scores.values()), [])) if scores else 0
        row["fit_time"] = t.user_attrs.get(ATTR_FIT_TIME, math.nan)
        row["duration"] = t.duration.total_seconds() if t.duration is not None else math.nan
        row["state"] = t.state.name.lower()
        row["value"] = t.value if t.state == optuna.trial.TrialState.COMPLETE else math.nan
        row["reason"] = t.user_attrs.get(ATTR_REASON, "")
        if t.state == optuna.trial.TrialState.FAIL and not row["reason"]:
            row["reason"] = (
                f"its process stopped (no heartbeat); run again as trial {retried_as[t.number]}"
                if t.number in retried_as else "its process stopped before the trial ended (interrupted or killed)"
            )
        row["worker"] = t.user_attrs.get(ATTR_WORKER, "")
        rows.append(row)
    columns = ["rank", "trial", "family", "params"]
    for name in metrics:
        columns += [f"{name}_mean", f"{name}_std"]
    columns += ["n_folds", "fit_time", "duration", "state", "reason", "worker"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    complete = frame["state"] == "complete"
    frame["rank"] = np.nan
    frame.loc[complete, "rank"] = frame.loc[complete, "value"].rank(ascending=not maximize, method="min")
    frame["_order"] = np.where(complete, 0, 1)
    frame = frame.sort_values(["_order", "rank", "trial"]).reset_index(drop=True)
    frame["rank"] = frame["rank"].astype("Int64")
    return frame[columns]
