"""What goes into the MLflow runs of a search: a trial's params and metrics, the parent's numbers, the dataset.

The runs view of the experiment (``#/experiments/<id>/runs?workflowType=machine_learning``) shows
these without the user adding columns by hand:

* the primary metric under its plain name (``roc_auc``): a complete trial's mean over its folds,
  the ensemble's, and on the parent run the final model's CV score (the same as ``best_roc_auc``);
  ``<metric>_mean``, ``_std`` and ``_fold`` (one step per fold) are logged for every reported metric;
* only the parameters a configuration uses: a parameter whose value is None is left out;
* the training data as a dataset input (the Dataset column): name ``training``, MLflow's pandas
  digest of the feature frame, its schema (column names and the types the served model accepts) and
  its size. Only this description is logged, never the rows.

On the parent run, ``best_trial_<metric>`` holds the best trial's scores and ``ensemble_<metric>``
the ensemble's (when there is one); ``n_trials_<state>`` counts trials only, never the ensemble.

Example:
    >>> [m[0] for m in score_metrics({"roc_auc": [0.8, 0.9]}, 0, summary=True, primary="roc_auc")]
    ['roc_auc_fold', 'roc_auc_fold', 'roc_auc_mean', 'roc_auc_std', 'roc_auc']
    >>> used_params("linear", {"alpha": 1.0, "class_weight": None})
    {'family': 'linear', 'linear__alpha': '1.0'}
"""

from __future__ import annotations

import json
import math
import posixpath
import re
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["DATASET_NAME", "dataset_entity", "key", "log_dataset", "parent_metrics", "score_metrics", "text",
           "used_params"]

#: What MLflow refuses in a metric or param name: anything but letters, digits, ``_ - . / :`` and spaces.
_NOT_IN_KEYS = re.compile(r"[^\w.\- :/]")


def key(name: str) -> str:
    """``name`` as an MLflow metric or param key: each character MLflow refuses as ``_``, and no leading ``/`` or
    ``.`` (a metric of yours may be named ``"auc (%) [x]"``; MLflow refused the whole batch of such a run).

    Example:
        >>> key("auc (%) [x]_fold"), key("rmse_mean"), key("a//b")
        ('auc ___ _x__fold', 'rmse_mean', 'a__b')
    """
    cleaned = _NOT_IN_KEYS.sub("_", str(name))
    if posixpath.normpath(cleaned) != cleaned:  # "a//b", "./a", "/a": MLflow refuses a path that is not its own
        cleaned = cleaned.replace("/", "_")
    return "_" + cleaned[1:] if cleaned[:1] == "." else cleaned

#: The name of the training data's dataset input on every run of a search.
DATASET_NAME = "training"

MetricRow = tuple[str, float, int, int]


def text(value: Any) -> str:
    """A param's or tag's value as text: strings as they are, anything else as JSON.

    Example:
        >>> text("a"), text([1, 2])
        ('a', '[1, 2]')
    """
    return value if isinstance(value, str) else json.dumps(value, default=str)


def score_metrics(scores: Mapping[str, list[float]], timestamp: int, summary: bool,
                  primary: str | None = None) -> list[MetricRow]:
    """``name_fold`` per fold (step = fold), then, with ``summary``, ``name_mean`` and ``name_std``, and
    the ``primary`` metric's mean under its plain name (what the runs table, compare view and charts show)."""
    metrics: list[MetricRow] = []
    for name, values in scores.items():
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        for step, value in enumerate(values):
            if math.isfinite(value):
                metrics.append((f"{name}_fold", float(value), timestamp, step))
        if finite and summary:
            mean = sum(finite) / len(finite)
            std = math.sqrt(sum((v - mean) ** 2 for v in finite) / len(finite))
            metrics += [(f"{name}_mean", mean, timestamp, 0), (f"{name}_std", std, timestamp, 0)]
            if name == primary:
                metrics.append((name, mean, timestamp, 0))
    return metrics


def used_params(family: str, params: Mapping[str, Any]) -> dict[str, str]:
    """A trial run's params: ``family`` and each parameter the configuration uses as ``<family>__<name>``
    (a parameter set to None, i.e. not used, is left out)."""
    out = {"family": family}
    for key, value in params.items():
        if value is not None:
            out[f"{family}__{key}"] = text(value)[:6000]
    return out


def _best_row(board: Any, best_trial: Any) -> Any:
    """The leaderboard row of the best trial (never the ensemble's), or None."""
    trials = board[board["trial"].notna() & (board["state"] == "complete")]
    if not len(trials):
        return None
    chosen = trials[trials["trial"] == best_trial] if best_trial is not None else trials.iloc[:0]
    return (chosen if len(chosen) else trials).iloc[0]


def parent_metrics(report: Any, now: int) -> list[MetricRow]:
    """The parent run's numbers: the final model's score (``best_<metric>`` and ``<metric>``), the best
    trial's (``best_trial_*``), the ensemble's (``ensemble_*``), trial counts and times, and the final model's
    ``temperature`` when its probabilities are temperature-scaled."""
    board = report.leaderboard_
    name = report.metric_.name
    rows: list[MetricRow] = [(f"best_{name}", float(report.best_score_), now, 0), (name, float(report.best_score_), now, 0)]
    best = _best_row(board, report.best_trial_)
    ensemble = board[board["trial"].isna() & (board["family"] == "ensemble")]
    for metric in report.reported_metrics_:
        column = f"{metric}_mean"
        if best is not None and column in best and math.isfinite(float(best[column])):
            rows.append((f"best_trial_{metric}", float(best[column]), now, 0))
        if len(ensemble) and column in ensemble and math.isfinite(float(ensemble[column].iloc[0])):
            rows.append((f"ensemble_{metric}", float(ensemble[column].iloc[0]), now, 0))
    counts = board[board["trial"].notna()]["state"].value_counts().to_dict()
    for state in ("complete", "pruned", "fail"):
        rows.append((f"n_trials_{state}", float(counts.get(state, 0)), now, 0))
    for attribute in ("search_time_", "refit_time_", "fit_time_"):
        rows.append((attribute.rstrip("_"), float(report.attributes[attribute]), now, 0))
    calibration = report.attributes.get("calibration_") or {}
    if calibration.get("applied"):
        rows.append(("temperature", float(calibration["temperature"]), now, 0))
    return rows


def dataset_entity(frame: Any, fallback_digest: str = "") -> dict[str, str] | None:
    """The training data as the fields of an ``mlflow.entities.Dataset`` (plain strings, cheap to pickle):
    MLflow's pandas digest of ``frame``, its schema and size; no row is kept. None without a frame.

    Example:
        >>> import pandas as pd
        >>> entity = dataset_entity(pd.DataFrame({"n": [1, 2], "c": ["a", "b"]}))
        >>> entity["name"], json.loads(entity["profile"])
        ('training', {'num_rows': 2, 'num_elements': 4})
    """
    if frame is None:
        return None
    from mlflow.data.digest_utils import compute_pandas_digest

    from automl.tracking.signature import input_schema

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' notes on MLflow's own code
            digest = compute_pandas_digest(frame)
    except Exception:  # noqa: BLE001 - cells pandas cannot hash (images): the search's fingerprint instead
        digest = fallback_digest[:8] or "unknown"
    try:
        schema: str | None = json.dumps({"mlflow_colspec": input_schema(frame).to_dict()})
    except Exception:  # noqa: BLE001 - a column type MLflow has no name for: the dataset goes without a schema
        schema = None
    rows, columns = frame.shape[0], frame.shape[1]
    return {"name": DATASET_NAME, "digest": digest, "source_type": "code",
            "source": json.dumps({"tags": {"automl.dataset": "training data given to automl.fit"}}),
            "schema": schema or "", "profile": json.dumps({"num_rows": int(rows), "num_elements": int(rows * columns)})}


def log_dataset(client: Any, run_id: str, entity: Mapping[str, str] | None) -> None:
    """Log the dataset described by ``entity`` (see :func:`dataset_entity`) as the run's training input."""
    if not entity:
        return
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(**{k: (v or None) for k, v in entity.items()})  # type: ignore[arg-type]
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
