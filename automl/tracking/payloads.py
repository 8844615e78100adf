"""What a trial's or the ensemble's MLflow child run holds: plain dicts the run writer logs.

Example:
    >>> from automl.search.trial_record import TrialRecord
    >>> record = TrialRecord(number=3, state="complete", family="knn", params={"n_neighbors": 5}, value=0.9,
    ...                      fold_scores={"roc_auc": [0.9, 0.9]})
    >>> payload = trial_payload(record, "parent", "1", "roc_auc", None)
    >>> payload["run_name"], payload["status"], payload["tags"]["automl.trial_number"]
    ('trial-0003 knn', 'FINISHED', '3')
"""

from __future__ import annotations

import math
import time
from typing import Any

from automl.search.trial_record import TrialRecord
from automl.tracking.base import RUN_STATUS
from automl.tracking.run_data import score_metrics, used_params
from automl.tracking.run_data import text as _text

__all__ = ["ensemble_payload", "trial_payload"]

#: Longest tag value MLflow keeps.
_MAX_TAG = 5000


def _ms(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def trial_payload(record: TrialRecord, parent_run_id: str | None, experiment_id: str | None, metric: str | None,
                  dataset: dict[str, str] | None, state: str | None = None) -> dict[str, Any]:
    """A plain dict describing the child run of a trial (cheap to build and to pickle)."""
    state = state or record.state
    family = record.family
    params = used_params(family, record.params)
    timestamp = _ms(record.completed) or int(time.time() * 1000)
    metrics = score_metrics(record.fold_scores, timestamp, summary=state == "complete", primary=metric)
    for name, value in (("fit_time", record.fit_time), ("predict_time", record.predict_time),
                        ("probe_score", record.probe_score),
                        ("rows_fraction", record.rows_fraction if record.sized_down else None)):
        if value is not None and math.isfinite(value):
            metrics.append((name, float(value), timestamp, 0))
    if math.isfinite(record.duration):
        metrics.append(("duration", record.duration, timestamp, 0))
    for name, points in record.curves.items():
        metrics += [(name, float(value), timestamp, int(step)) for step, value in points]
    tags = {
        "mlflow.parentRunId": parent_run_id, "automl.trial_number": str(record.number),
        "automl.family": family, "automl.state": state, "automl.origin": record.origin,
    }
    if record.reason:
        tags["automl.reason"] = record.reason[:_MAX_TAG]
    if record.worker:
        tags["automl.worker"] = record.worker  # host:pid of the process that ran the trial
    return {
        "experiment_id": experiment_id, "run_name": f"trial-{record.number:04d} {family}",
        "start_time": _ms(record.started), "tags": tags, "params": params, "metrics": metrics,
        "status": RUN_STATUS.get(state, "FAILED"), "end_time": timestamp, "dataset": dataset,
    }


def ensemble_payload(ensemble: dict[str, Any], parent_run_id: str | None, experiment_id: str | None,
                     metric: str | None, dataset: dict[str, str] | None) -> dict[str, Any]:
    """The child run of the ensemble: its members and weights, and its score per fold (as a trial's)."""
    now = int(time.time() * 1000)
    metrics = score_metrics(ensemble["fold_scores"], now, summary=True, primary=metric)
    metrics += [("selection_time", float(ensemble["selection_seconds"]), now, 0),
                ("refit_time", float(ensemble["refit_seconds"]), now, 0)]
    params = {"family": "ensemble", "members": _text(
        [{"trial": t, "family": f, "weight": round(w, 4)}
         for t, f, w in zip(ensemble["trials"], ensemble["families"], ensemble["weights"])])[:6000]}
    tags = {"mlflow.parentRunId": parent_run_id, "automl.family": "ensemble", "automl.state": "complete",
            "automl.ensemble_trials": ",".join(str(t) for t in ensemble["trials"])}
    return {"experiment_id": experiment_id, "run_name": "ensemble", "start_time": now, "tags": tags,
            "params": params, "metrics": metrics, "status": "FINISHED", "end_time": now, "dataset": dataset}
