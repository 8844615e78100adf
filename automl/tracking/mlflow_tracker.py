"""MLflow tracking: one parent run per search, one child run per trial, the final model as a pyfunc.

The tracker talks to MLflow through an injectable ``MlflowClient`` (a mock in
unit tests). Child runs are written by a background thread so that SQLite
writes (20-35 ms each) stay off the search's critical path; ``finish`` waits
for them. A resumed study keeps its parent run (its id is stored on the study)
and never logs a trial twice.

Example:
    >>> tracker = MLflowTracker(tracking_uri="sqlite:///:memory:")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from automl.search.leaderboard import (
    ATTR_CURVES,
    ATTR_FIT_TIME,
    ATTR_FRACTION,
    ATTR_ORIGIN,
    ATTR_PARAMS,
    ATTR_PROBE,
    ATTR_PREDICT_TIME,
    ATTR_REASON,
    ATTR_SCORES,
    ATTR_WORKER,
    worker_id,
)
from automl.tracking.writer import ProcessWriter, ThreadWriter, write_child_run
from automl.tracking.base import RUN_STATUS

__all__ = ["MLflowTracker", "default_tracking_uri", "ATTR_PARENT_RUN"]

logger = logging.getLogger("automl")

ATTR_PARENT_RUN = "automl:mlflow_parent_run"
DEFAULT_EXPERIMENT = "automl"
_MAX_TAG = 5000


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else MLflow 3's default ``sqlite:///<cwd>/mlflow.db``.

    Example:
        >>> default_tracking_uri().startswith(("sqlite:", "http", "file:", "databricks")) or True
        True
    """
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _ms(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def _score_metrics(
    scores: dict[str, list[float]], timestamp: int, summary: bool
) -> list[tuple[str, float, int, int]]:
    """``name_fold`` per fold (step = fold), then, with ``summary``, ``name_mean`` and ``name_std``."""
    metrics: list[tuple[str, float, int, int]] = []
    for name, values in scores.items():
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        for step, value in enumerate(values):
            if math.isfinite(value):
                metrics.append((f"{name}_fold", float(value), timestamp, step))
        if finite and summary:
            mean = sum(finite) / len(finite)
            std = math.sqrt(sum((v - mean) ** 2 for v in finite) / len(finite))
            metrics += [(f"{name}_mean", mean, timestamp, 0), (f"{name}_std", std, timestamp, 0)]
    return metrics


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class MLflowTracker:
    """Logs a search to MLflow.

    Args:
        tracking_uri: Store to log to (default :func:`default_tracking_uri`).
        experiment: Experiment name (default: the study name, else ``"automl"``).
        client: An ``mlflow.MlflowClient`` (or a stand-in with the same methods).
        register_model: Register the final model under this name in the model registry.
        log_model: Log the final model as an MLflow pyfunc.
        plots: Render and log the PNG plots.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        experiment: str | None = None,
        client: Any = None,
        register_model: str | None = None,
        log_model: bool = True,
        plots: bool = True,
    ) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self.experiment = experiment
        self.register_model = register_model
        self.log_model = log_model
        self.plots = plots
        self._injected = client is not None
        if client is None:
            import mlflow

            client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        self.client = client
        self.parent_run_id: str | None = None
        self.experiment_id: str | None = None
        self._logged: set[int] = set()
        self._earlier: set[int] = set()
        self._worker: ThreadWriter | ProcessWriter | None = None
        self.model_uri: str | None = None
        #: ``"main"`` owns the parent run; a ``"worker"`` only adds child runs for its own trials.
        self.role = "main"

    # -- start ------------------------------------------------------------------------------
    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        experiment_id = self.client.create_experiment(name)
        # MLflow 3's UI opens GenAI experiments on a traces overview; this one is about training runs.
        self.client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")
        return experiment_id

    def on_start(self, study: Any, settings: dict[str, Any]) -> None:
        """Create the parent run, or reopen the one a resumed study was logged to.

        A worker attaches to the parent run recorded on the study, and logs nothing
        if there is none (the sweep runs without tracking).
        """
        self._logged, self.model_uri = set(), None
        name = self.experiment or (settings.get("study_name") or DEFAULT_EXPERIMENT)
        stored = study.user_attrs.get(ATTR_PARENT_RUN) if study is not None else None
        if self.role == "worker":
            if not stored:
                logger.info("MLflow: the sweep has no parent run; this worker logs nothing")
                return
            self.tracking_uri = stored["tracking_uri"]
            if not self._injected:
                import mlflow

                self.client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            self.parent_run_id = stored["run_id"]
            self.experiment_id = self.client.get_run(self.parent_run_id).info.experiment_id
            self._worker = ThreadWriter(self.client) if self._injected else ProcessWriter(self.tracking_uri)
            return
        self.experiment_id = self._experiment_id(name)
        # Trials that ended before this run began are logged here unless an earlier run did;
        # trials run meanwhile by other workers are logged by those workers.
        self._earlier = {t.number for t in study.get_trials(deepcopy=False)} if study is not None else set()
        if stored and stored.get("tracking_uri") == self.tracking_uri and self._run_exists(stored["run_id"]):
            self.parent_run_id = stored["run_id"]
            self.client.update_run(self.parent_run_id, status="RUNNING")
            self._logged = self._logged_trials()
            self.client.set_tag(self.parent_run_id, "automl.resumed", "true")
        else:
            tags = {f"automl.{k}": _text(v) for k, v in settings.get("tags", {}).items()}
            run = self.client.create_run(
                self.experiment_id, run_name=settings.get("study_name") or "automl-search", tags=tags
            )
            self.parent_run_id = run.info.run_id
            self._log_batch(self.parent_run_id, params=settings.get("params", {}))
            if study is not None and settings.get("study_name"):
                study.set_user_attr(
                    ATTR_PARENT_RUN, {"run_id": self.parent_run_id, "tracking_uri": self.tracking_uri}
                )
        # An injected client (a stand-in in tests) stays in this process; otherwise a writer
        # process owns its own client, so store writes never compete with the search for the GIL.
        self._worker = ThreadWriter(self.client) if self._injected else ProcessWriter(self.tracking_uri)
        logger.info("MLflow: logging to %s, experiment %r, run %s", self.tracking_uri, name, self.parent_run_id)

    def _mine(self, trial: Any) -> bool:
        """Whether this process logs ``trial``: its own trials, and (main) those that ended before it began."""
        owner = trial.user_attrs.get(ATTR_WORKER)
        if owner is None or owner == worker_id():
            return True
        return self.role == "main" and trial.number in self._earlier

    def _run_exists(self, run_id: str) -> bool:
        try:
            self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - any lookup failure means a fresh parent run
            return False
        return True

    def _logged_trials(self) -> set[int]:
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}'", max_results=50000
        )
        return {int(r.data.tags["automl.trial_number"]) for r in runs if "automl.trial_number" in r.data.tags}

    # -- trials -----------------------------------------------------------------------------
    def on_trial(self, study: Any, trial: Any) -> None:
        """Queue a child run for a finished trial (never twice for the same trial)."""
        if trial.number in self._logged or self._worker is None or not self._mine(trial):
            return
        self._logged.add(trial.number)
        self._worker.submit(self._payload(trial))

    def _payload(self, trial: Any, state: str | None = None) -> dict[str, Any]:
        """A plain dict describing the child run of ``trial`` (cheap to build and to pickle)."""
        state = state or trial.state.name.lower()
        family = trial.params.get("family", "")
        params = {"family": family}
        for key, value in (trial.user_attrs.get(ATTR_PARAMS) or {}).items():
            params[f"{family}__{key}"] = _text(value)[:6000]
        timestamp = _ms(trial.datetime_complete) or int(time.time() * 1000)
        metrics = _score_metrics(trial.user_attrs.get(ATTR_SCORES) or {}, timestamp, summary=state == "complete")
        for key, name in (
            (ATTR_FIT_TIME, "fit_time"), (ATTR_PREDICT_TIME, "predict_time"), (ATTR_PROBE, "probe_score"),
            (ATTR_FRACTION, "rows_fraction"),
        ):
            if key in trial.user_attrs:
                metrics.append((name, float(trial.user_attrs[key]), timestamp, 0))
        if trial.duration is not None:
            metrics.append(("duration", trial.duration.total_seconds(), timestamp, 0))
        for name, points in (trial.user_attrs.get(ATTR_CURVES) or {}).items():
            metrics += [(name, float(value), timestamp, int(step)) for step, value in points]
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            "automl.trial_number": str(trial.number),
            "automl.family": family,
            "automl.state": state,
            "automl.origin": str(trial.user_attrs.get(ATTR_ORIGIN, "sampler")),
        }
        reason = trial.user_attrs.get(ATTR_REASON)
        if reason:
            tags["automl.reason"] = str(reason)[:_MAX_TAG]
        return {
            "experiment_id": self.experiment_id,
            "run_name": f"trial-{trial.number:04d} {family}",
            "start_time": _ms(trial.datetime_start),
            "tags": tags,
            "params": params,
            "metrics": metrics,
            "status": RUN_STATUS.get(state, "FAILED"),
            "end_time": timestamp,
        }

    def _ensemble_payload(self, ensemble: dict[str, Any]) -> dict[str, Any]:
        """The child run of the ensemble: its members and weights, and its score per fold (as a trial's)."""
        now = int(time.time() * 1000)
        metrics = _score_metrics(ensemble["fold_scores"], now, summary=True)
        metrics += [("selection_time", float(ensemble["selection_seconds"]), now, 0),
                    ("refit_time", float(ensemble["refit_seconds"]), now, 0)]
        params = {"family": "ensemble", "members": _text(
            [{"trial": t, "family": f, "weight": round(w, 4)}
             for t, f, w in zip(ensemble["trials"], ensemble["families"], ensemble["weights"])])[:6000]}
        tags = {"mlflow.parentRunId": self.parent_run_id, "automl.family": "ensemble", "automl.state": "complete",
                "automl.ensemble_trials": ",".join(str(t) for t in ensemble["trials"])}
        return {"experiment_id": self.experiment_id, "run_name": "ensemble", "start_time": now, "tags": tags,
                "params": params, "metrics": metrics, "status": "FINISHED", "end_time": now}

    def _log_batch(self, run_id: str, params: dict[str, Any] | None = None, metrics: list[Any] | None = None) -> None:
        from mlflow.entities import Param

        self.client.log_batch(
            run_id,
            metrics=metrics or [],
            params=[Param(str(k), _text(v)[:6000]) for k, v in (params or {}).items()],
        )

    # -- end --------------------------------------------------------------------------------
    def finish(self, model: Any, status: str, extras: dict[str, Any] | None = None) -> None:
        """Log the trials not yet logged, the parent's results and artifacts, and close the runs."""
        if self.parent_run_id is None:
            return
        extras = extras or {}
        study = extras.get("study")
        try:
            if self._worker is not None:
                if study is not None:
                    for trial in study.get_trials(deepcopy=False):
                        state = trial.state.name.lower()
                        if trial.number in self._logged or state in ("waiting", "running") or not self._mine(trial):
                            continue
                        self._logged.add(trial.number)
                        if status == "KILLED" and state == "fail" and ATTR_REASON not in trial.user_attrs:
                            state = "interrupted"
                        self._worker.submit(self._payload(trial, state))
                self._worker.close()
                if self._worker.errors:
                    logger.warning("MLflow: %d child run(s) not written: %s", len(self._worker.errors),
                                   "; ".join(self._worker.errors[:3]))
            if model is not None and status == "FINISHED":
                self._log_results(model, extras)
        except Exception as exc:  # noqa: BLE001 - a tracking failure must not lose the fitted model
            logger.warning("MLflow logging failed: %s: %s", type(exc).__name__, exc)
        finally:
            if self.role == "main":
                self.client.set_terminated(self.parent_run_id, status=status)

    def _log_results(self, model: Any, extras: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        board = model.leaderboard_
        now = int(time.time() * 1000)
        counts = board["state"].value_counts().to_dict()
        metrics = [Metric(f"best_{model.metric_.name}", float(model.best_score_), now, 0)]
        complete = board[board["state"] == "complete"]
        for name in model.reported_metrics_:
            column = f"{name}_mean"
            if len(complete) and column in complete:
                metrics.append(Metric(f"best_trial_{name}", float(complete[column].iloc[0]), now, 0))
        for state in ("complete", "pruned", "fail"):
            metrics.append(Metric(f"n_trials_{state}", float(counts.get(state, 0)), now, 0))
        for name in ("search_time_", "refit_time_", "fit_time_"):
            if hasattr(model, name):
                metrics.append(Metric(name.rstrip("_"), float(getattr(model, name)), now, 0))
        self.client.log_batch(self.parent_run_id, metrics=metrics)
        self.client.set_tag(self.parent_run_id, "automl.best_family", model.best_family_)
        self.client.set_tag(self.parent_run_id, "automl.best_trial", str(model.best_trial_))
        ensemble = getattr(model, "ensemble_", None)
        self.client.set_tag(self.parent_run_id, "automl.final_model", "ensemble" if ensemble else "best trial")
        if ensemble:
            write_child_run(self.client, self._ensemble_payload(ensemble))
        with tempfile.TemporaryDirectory(prefix="automl-mlflow-") as tmp:
            folder = Path(tmp)
            board.to_csv(folder / "leaderboard.csv", index=False)
            spaces = extras.get("spaces") or {}
            import yaml

            (folder / "search_space.yaml").write_text(
                yaml.safe_dump({name: space.to_dict() for name, space in spaces.items()}, sort_keys=False),
                encoding="utf-8",
            )
            self.client.log_artifacts(self.parent_run_id, str(folder))
            if self.plots:
                self._log_plots(model, extras, folder / "plots")
            if self.log_model:
                self._log_pyfunc(model, extras, folder / "saved")

    def _log_plots(self, model: Any, extras: dict[str, Any], folder: Path) -> None:
        from automl.tracking.plots import render_search_plots

        folder.mkdir()
        written = render_search_plots(
            model.leaderboard_,
            extras.get("study"),
            model.metric_.name,
            model.metric_.greater_is_better,
            model.task_,
            extras.get("y"),
            model.oof_predictions_.get(model.best_trial_),
            getattr(model, "classes_", None),
            folder,
        )
        if written:
            self.client.log_artifacts(self.parent_run_id, str(folder), "plots")

    def _log_pyfunc(self, model: Any, extras: dict[str, Any], folder: Path) -> None:
        from automl.tracking.pyfunc import log_pyfunc_model

        saved = model.save(folder)
        with _tracking_uri(self.tracking_uri):
            self.model_uri = log_pyfunc_model(
                self.parent_run_id, saved, model, extras.get("X_example"), self.register_model
            )
        self.client.set_tag(self.parent_run_id, "automl.model_uri", self.model_uri)


@contextmanager
def _tracking_uri(uri: str):  # noqa: ANN202
    """Point MLflow's fluent API at ``uri`` for the duration, then restore the previous URI and env."""
    import mlflow
    import mlflow.tracking._tracking_service.utils as tracking_utils

    previous = getattr(tracking_utils, "_tracking_uri", None)
    env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env
