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
#: Why the trial was run: ``default``, ``portfolio:<name>`` (enqueued) or absent (the sampler's).
ATTR_ORIGIN = "automl:origin"
#: Share of each training fold's rows the trial trained on, when below 1 (see the probe).
ATTR_FRACTION = "automl:rows_fraction"
#: Score of the probe: the configuration trained on a subsample of fold 1 (large data).
ATTR_PROBE = "automl:probe_score"


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


def finite_mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard deviation of the finite values (NaN, NaN when there are none).

    Example:
        >>> finite_mean_std([1.0, float("nan"), 3.0])
        (2.0, 1.0)
    """
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    if not len(finite):
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std())


def leaderboard(study: Any, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per trial: rank, trial, family, params, mean and std of each metric, folds run, share of
    rows trained on, origin (``default``, ``portfolio:<name>`` or ``sampler``), times, state, reason.

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
            row[f"{name}_mean"], row[f"{name}_std"] = finite_mean_std(scores.get(name, []) if complete else [])
        row["n_folds"] = len(next(iter(scores.values()), [])) if scores else 0
        row["rows_fraction"] = float(t.user_attrs.get(ATTR_FRACTION, 1.0))
        row["origin"] = t.user_attrs.get(ATTR_ORIGIN, "sampler")
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
    columns += ["n_folds", "rows_fraction", "origin", "fit_time", "duration", "state", "reason", "worker"]
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


#: p-value below which #1 is marked significantly better than #2.
SIGNIFICANCE_LEVEL = 0.05


def paired_difference(
    first: Sequence[float], second: Sequence[float], test_fraction: float, greater_is_better: bool
) -> tuple[float, float]:
    """How much better ``first`` scores than ``second`` on the same folds, and the one-sided p-value.

    The corrected resampled t-test of Nadeau and Bengio (2003): the fold
    differences are not independent (the training parts overlap), so their
    variance is inflated by ``1/k + test_fraction / (1 - test_fraction)``.

    Returns:
        ``(mean difference in favour of first, p-value)``; the p-value is NaN when
        fewer than two folds have both scores.

    Example:
        >>> d, p = paired_difference([0.90, 0.91, 0.92, 0.90, 0.93], [0.85, 0.86, 0.88, 0.84, 0.87], 0.2, True)
        >>> round(d, 3), p < 0.05
        (0.052, True)
    """
    from scipy import stats

    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    both = np.isfinite(a) & np.isfinite(b)
    diff = (a - b)[both] if greater_is_better else (b - a)[both]
    if len(diff) < 2:
        return (float(diff.mean()) if len(diff) else math.nan), math.nan
    mean, var = float(diff.mean()), float(diff.var(ddof=1))
    k = len(diff)
    fraction = min(max(test_fraction, 1e-6), 0.999)
    scale = math.sqrt((1.0 / k + fraction / (1.0 - fraction)) * var)
    if scale == 0.0:
        return mean, 0.0 if mean > 0 else 1.0
    return mean, float(stats.t.sf(mean / scale, df=k - 1))


def mark_significance(
    board: pd.DataFrame, first: Sequence[float], second: Sequence[float], test_fraction: float,
    greater_is_better: bool,
) -> pd.DataFrame:
    """Add ``p_vs_next`` and ``significant`` to the row ranked 1: is it better than the row ranked 2?

    ``first`` and ``second`` are their primary scores per fold (see :func:`paired_difference`);
    the other rows get NaN / NA.

    Example:
        >>> board = pd.DataFrame({"rank": pd.array([1, 2], dtype="Int64"), "trial": [3, 1]})
        >>> mark_significance(board, [0.9, 0.92, 0.91], [0.8, 0.81, 0.83], 0.33, True)["significant"].tolist()
        [True, <NA>]
    """
    board = board.copy()
    board["p_vs_next"] = math.nan
    board["significant"] = pd.array([pd.NA] * len(board), dtype="boolean")
    top = np.flatnonzero((board["rank"] == 1).fillna(False).to_numpy())
    if len(top) == 0 or len(second) == 0:
        return board
    _, p_value = paired_difference(first, second, test_fraction, greater_is_better)
    if math.isfinite(p_value):
        board.loc[board.index[top[0]], "p_vs_next"] = p_value
        board.loc[board.index[top[0]], "significant"] = bool(p_value < SIGNIFICANCE_LEVEL)
    return board
