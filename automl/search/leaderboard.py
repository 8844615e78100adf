"""The leaderboard: one row per trial, read back from the study alone.

Every trial stores its per-fold scores, times and (if any) failure reason on the study (see
:mod:`automl.search.trial_record`), so a leaderboard can be rebuilt from any storage, from
another process or after a resume.

Example:
    >>> import optuna
    >>> study = optuna.create_study(direction="maximize")
    >>> leaderboard(study, ["accuracy"]).columns[:4].tolist()
    ['rank', 'trial', 'family', 'params']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl.evaluation.stats import finite_mean_std
from automl.search.trial_record import TrialRecord

__all__ = ["COLUMNS_AFTER_METRICS", "leaderboard", "leaderboard_columns"]

#: The columns after each metric's mean and std (``p_vs_next`` and ``significant`` follow on a fit's board).
COLUMNS_AFTER_METRICS = ("n_folds", "rows_fraction", "origin", "fit_time", "duration", "state", "reason", "worker")


def leaderboard_columns(metrics: Sequence[str]) -> list[str]:
    """The leaderboard's columns for ``metrics``.

    Example:
        >>> leaderboard_columns(["rmse"])[:6]
        ['rank', 'trial', 'family', 'params', 'rmse_mean', 'rmse_std']
    """
    columns = ["rank", "trial", "family", "params"]
    for name in metrics:
        columns += [f"{name}_mean", f"{name}_std"]
    return columns + list(COLUMNS_AFTER_METRICS)


def _lost_reason(record: TrialRecord, retried_as: dict[int, int]) -> str:
    if record.number in retried_as:
        return f"its process stopped (no heartbeat); run again as trial {retried_as[record.number]}"
    return "its process stopped before the trial ended (interrupted or killed)"


def _row(record: TrialRecord, metrics: Sequence[str], retried_as: dict[int, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"trial": record.number, "family": record.family, "params": record.params}
    complete = record.state == "complete"
    for name in metrics:
        # A stopped trial's few folds are not comparable with full CV scores: they stay on the
        # trial (and in MLflow as per-fold metrics) but its mean and std are left empty here.
        row[f"{name}_mean"], row[f"{name}_std"] = finite_mean_std(record.fold_scores.get(name, []) if complete else [])
    row["n_folds"] = record.n_folds
    row["rows_fraction"] = record.rows_fraction
    row["origin"] = record.origin
    row["fit_time"] = record.fit_time
    row["duration"] = record.duration
    row["state"] = record.state
    row["value"] = record.value if complete and record.value is not None else math.nan
    row["reason"] = record.reason
    if record.state == "fail" and not row["reason"]:
        row["reason"] = _lost_reason(record, retried_as)
    row["worker"] = record.worker
    return row


def _refuse_several_objectives(study: Any) -> None:
    if len(study.directions) > 1:  # Optuna's study.direction raises for these
        from automl.exceptions import StudyMismatchError

        raise StudyMismatchError(f"study {study.study_name!r} has {len(study.directions)} objectives and was not made "
                                 "by automl, which ranks trials by one metric; pass the name of an automl study")


def stored_leaderboard(study: Any) -> pd.DataFrame:
    """:func:`leaderboard` of a stored study, with every metric its trials recorded."""
    _refuse_several_objectives(study)
    metrics: list[str] = []
    for record in map(TrialRecord.read, study.get_trials(deepcopy=False)):
        metrics += [name for name in record.fold_scores if name not in metrics]
    return leaderboard(study, metrics)


def leaderboard(study: Any, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per trial: rank, trial, family, params, mean and std of each metric, folds run, share of
    rows trained on, origin (``default``, ``zero_shot:<family>:<name>``, ``portfolio:<name>`` or ``sampler``), times, state, reason.

    Completed trials come first, ranked by the study's objective; then
    pruned, failed and running ones (rank NaN, metric columns empty, the
    folds they ran in ``n_folds``). ``params`` holds every
    parameter of the family, pinned ones included.
    """
    _refuse_several_objectives(study)
    maximize = study.direction.name == "MAXIMIZE"
    records = [TrialRecord.read(t) for t in study.get_trials(deepcopy=False)]
    retried_as = {number: r.number for r in records for number in r.retry_of}
    rows = [_row(r, metrics, retried_as) for r in records if r.state != "waiting"]  # queued, not run: no result
    columns = leaderboard_columns(metrics)
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
