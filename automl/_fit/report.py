"""Stage 4: problem, search outcome and final model → the :class:`FitReport`.

The report holds the leaderboard (with the ensemble as a row of its own and whether #1 beats
#2 significantly) and every fitted attribute of the estimator. Tracking is fed this value, and
the estimator copies its attributes; neither reads the other's internals.

Example:
    >>> sorted(FITTED_ATTRIBUTES)[:3]
    ['best_family_', 'best_params_', 'best_score_']
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.evaluation.metrics import Metric
from automl.evaluation.stats import finite_mean_std, mark_significance
from automl.search.leaderboard import leaderboard
from automl.search.runner import SearchOutcome
from automl.search.storage import describe_storage
from automl.search.trial_record import TrialRecord

__all__ = ["FITTED_ATTRIBUTES", "FitReport", "build_report"]

logger = logging.getLogger("automl")

#: Every attribute a fit sets on the estimator (the tracking ones only when tracked).
FITTED_ATTRIBUTES = (
    "model_", "best_trial_", "best_family_", "best_params_", "refit_params_", "best_score_", "families_used_",
    "ensemble_", "ensemble_time_", "refit_time_", "refit_fallbacks_", "model_source_", "task_", "metric_", "schema_",
    "target_name_", "feature_names_in_", "n_features_in_", "classes_", "cv_", "study_", "study_name_", "storage_",
    "reported_metrics_", "leaderboard_", "oof_predictions_", "n_rows_dropped_", "search_time_", "fit_time_",
    "image_shape_", "tracking_run_id_", "tracking_uri_", "model_uri_", "tracking_experiment_id_", "pos_label_",
    "calibration_",
)


@dataclass
class FitReport:
    """Everything a fit learned, as values.

    Attributes:
        attributes: Fitted attribute name -> value (see :data:`FITTED_ATTRIBUTES`).
        study: The Optuna study.
        spaces: The search space of each family searched.
        y: The encoded target (for the tracker's plots).
        X_example: A few rows of the features as given (the MLflow signature).
        estimator: The fitted estimator (what the tracker saves as the MLflow model); set by the pipeline.
    """

    attributes: dict[str, Any]
    study: Any
    spaces: Mapping[str, Any]
    y: np.ndarray
    X_example: pd.DataFrame
    estimator: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        attributes = self.__dict__.get("attributes", {})
        if name.endswith("_") and name in attributes:
            return attributes[name]
        raise AttributeError(name)


def _blend_row(family: str, params: Any, fold_scores: Mapping[str, list[float]],
               metrics: Sequence[str]) -> dict[str, Any]:
    """A leaderboard row of a model made of trials (the ensemble, the stack): no trial number of its own."""
    row: dict[str, Any] = {
        "trial": pd.NA, "family": family, "params": params,
        "n_folds": len(next(iter(fold_scores.values()))), "rows_fraction": 1.0, "origin": family,
        "fit_time": np.nan, "duration": np.nan, "state": "complete", "reason": "", "worker": "",
    }
    for name in metrics:
        row[f"{name}_mean"], row[f"{name}_std"] = finite_mean_std(fold_scores.get(name, []))
    return row


def with_ensemble_row(board: pd.DataFrame, ensemble: Mapping[str, Any] | None, metric: Metric,
                      metrics: Sequence[str], calibration: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The leaderboard with the ensemble as a row of its own (trial empty, family ``ensemble``), the stack
    over it (family ``stack``) when it was kept, and the final model temperature-scaled (family ``calibrated``)
    when that was kept, ranked."""
    rows = []
    if calibration and calibration.get("applied"):
        scaled = {"temperature": round(float(calibration["temperature"]), 4), "of": calibration["of"]}
        rows.append(_blend_row("calibrated", scaled, calibration["fold_scores"], metrics))
    stack = (ensemble or {}).get("stack")
    if stack:
        second = {"second_level": f"{stack['family']}#{stack['trial']}", "over": list(stack["base_trials"])}
        rows.append(_blend_row("stack", second, stack["fold_scores"], metrics))
    if ensemble:
        params = {f"{f}#{t}": round(w, 4)
                  for f, t, w in zip(ensemble["families"], ensemble["trials"], ensemble["weights"])}
        rows.append(_blend_row("ensemble", params, ensemble["fold_scores"], metrics))
    frame = pd.concat([pd.DataFrame(rows), board], ignore_index=True)
    complete = frame["state"] == "complete"
    key = frame[f"{metric.name}_mean"]
    frame["rank"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame.loc[complete, "rank"] = key[complete].rank(ascending=not metric.greater_is_better, method="min").astype(int)
    frame["trial"] = frame["trial"].astype("Int64")
    order = np.where(complete, 0, 1)
    frame = frame.assign(_o=order).sort_values(["_o", "rank"], kind="stable").reset_index(drop=True)
    return frame[list(board.columns)]


def mark_top(board: pd.DataFrame, records: Mapping[int, TrialRecord], ensemble: Mapping[str, Any] | None,
             metric: Metric, test_fraction: float, calibration: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Mark whether the leaderboard's #1 beats its #2 significantly, on their fold scores."""
    complete = board[board["state"] == "complete"]
    if len(complete) < 2:
        return mark_significance(board, [], [], test_fraction, metric.greater_is_better)
    made = {"stack": (ensemble or {}).get("stack"), "calibrated": calibration, "ensemble": ensemble}

    def folds(row: Any) -> list[float]:
        if pd.isna(row["trial"]):
            scored = made.get(str(row["family"]))
            return list((scored or {}).get("fold_scores", {}).get(metric.name, []))
        return list(records[int(row["trial"])].fold_scores.get(metric.name, []))

    return mark_significance(board, folds(complete.iloc[0]), folds(complete.iloc[1]), test_fraction,
                             metric.greater_is_better)


def build_report(problem: Any, outcome: SearchOutcome, final: Any, fit_seconds: float) -> FitReport:
    """The report of a fit: its leaderboard and every fitted attribute."""
    settings = problem.settings
    metrics = [m.name for m in problem.metrics]
    board = leaderboard(outcome.study, metrics)
    if final.ensemble or (final.calibration or {}).get("applied"):
        board = with_ensemble_row(board, final.ensemble, problem.metric, metrics, final.calibration)
    records = {r.number: r for r in outcome.trials()}
    board = mark_top(board, records, final.ensemble, problem.metric, problem.test_fraction, final.calibration)
    attributes: dict[str, Any] = {
        "model_": final.model, "best_trial_": final.trial.number, "best_family_": final.trial.family,
        "best_params_": final.params, "refit_params_": final.refit_params, "best_score_": float(final.score),
        "families_used_": list(final.families), "ensemble_": final.ensemble, "ensemble_time_": final.ensemble_seconds,
        "refit_time_": final.refit_seconds, "refit_fallbacks_": list(final.fallbacks),
        "model_source_": final.source, "task_": problem.task,
        "metric_": problem.metric, "schema_": problem.schema, "target_name_": str(problem.data.y.name),
        "feature_names_in_": np.asarray(problem.schema.input_names, dtype=object),
        "n_features_in_": len(problem.schema.input_names), "cv_": problem.plan.description, "study_": outcome.study,
        "study_name_": outcome.study.study_name, "storage_": describe_storage(settings.storage, settings.study_name),
        "reported_metrics_": metrics, "leaderboard_": board, "oof_predictions_": outcome.oof,
        "n_rows_dropped_": problem.data.n_dropped, "search_time_": outcome.search_time, "fit_time_": fit_seconds,
        "image_shape_": problem.image_shape, "calibration_": final.calibration,
    }
    if problem.classes is not None:
        attributes["classes_"] = problem.classes
    if problem.task == "binary":  # the class f1, precision and recall are about, stated in the leaderboard too
        attributes["pos_label_"] = problem.pos_label
        board["pos_label"] = [problem.pos_label] * len(board)
    logger.info("final model: %s, %s=%.5g on CV; best trial %d (%s) %s=%.5g (%d trials, %.1fs)", final.source,
                problem.metric.name, final.score, final.trial.number, final.trial.family, problem.metric.name,
                math.nan if final.trial.value is None else final.trial.value, outcome.n_new_trials, fit_seconds)
    explain_rows = problem.data.X.sample(min(len(problem.data.X), 200), random_state=0)  # the tracker's explanation
    return FitReport(attributes, outcome.study, problem.spaces, problem.y, problem.data.X.head(5),
                     extra={"explain_rows": explain_rows})
