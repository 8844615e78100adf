"""MLflow tracking: one parent run per search, one child run per trial, the final model as a pyfunc.

The tracker talks to MLflow through an injectable ``MlflowClient`` (a stand-in in
unit tests). Child runs, artifacts and the final model are written by a spawned
writer process (:mod:`automl.tracking.writer`) so that SQLite writes (20-35 ms each)
stay off the search's critical path; ``finish`` waits for them until the fit's
tracking deadline and then stops the writer. A resumed study keeps its parent run
(its id is stored on the study) and never logs a trial twice; a trial whose worker died is logged
by the main process (:mod:`automl.tracking.lost_runs`). The tracker is fed the
fit's report, never the estimator.

What was promised and not logged (trial runs, files, plots, the model, its signature)
is named on the parent run, tag ``automl.logging_failed`` (the parts, comma-separated)
and ``automl.tracking_incomplete`` (each part and why), and said once in one
``RuntimeWarning``. The parent run stays FINISHED only when everything was logged; it is
FAILED when a part failed and KILLED when parts were only left out at the deadline.
The fit itself never fails because of tracking. The tracking URI is used as given to
connect, and shown, logged and stored (study attribute, ``tracking_uri_``) with its
password masked (:func:`automl._redact.redact_url`).

Example:
    >>> tracker = MLflowTracker(tracking_uri="sqlite:///:memory:")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from automl._redact import MASK, redact_text, redact_url, take_over
from automl._sqlite_urls import sqlite_folder
from automl._warnings import warn_user
from automl.search.trial_record import StudyRecord, StudyWriter, TrialRecord, worker_id
from automl.tracking.base import SearchInfo, TrackingResult
from automl.tracking.lost_runs import lost_trials, settle_lost_trials
from automl.tracking.failures import OUT_OF_TIME, failure_tags, final_status, warning_text
from automl.tracking.payloads import ensemble_payload, trial_payload
from automl.tracking.run_data import dataset_entity, log_dataset, parent_metrics
from automl.tracking.run_data import key as mlflow_key
from automl.tracking.run_data import text as _text
from automl.tracking.writer import ProcessWriter, ThreadWriter, write_child_run
from automl.tracking.store import DeletedExperiment, creating_store, default_tracking_uri, patient_once, refuse_deleted

__all__ = ["MLflowTracker", "default_tracking_uri"]

logger = logging.getLogger("automl")

DEFAULT_EXPERIMENT = "automl"


def _dataset(info: SearchInfo) -> dict[str, str] | None:
    """The training data's dataset input (see :func:`~automl.tracking.run_data.dataset_entity`), or None."""
    try:
        return dataset_entity(info.frame, str(info.tags.get("dataset_fingerprint", "")))
    except Exception:  # noqa: BLE001 - runs without a Dataset column rather than no tracking
        return None


#: Seconds the plots are expected to take; they are left out when less time is left before the deadline.
PLOTS_SECONDS = 3.0


class MLflowTracker:
    """Logs a search to MLflow.

    Args:
        tracking_uri: Store to log to (default :func:`default_tracking_uri`).
        experiment: Experiment name (default: the study name, else ``"automl"``).
        client: An ``mlflow.MlflowClient`` (or a stand-in with the same methods).
        register_model: Register the final model under this name in the model registry.
        log_model: Log the final model as an MLflow pyfunc.
        plots: Render and log the PNG plots.
        log_input_example: Log five training rows as the model's input example (its signature is
            logged either way).
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
        log_input_example: bool = False,
    ) -> None:
        self.tracking_uri = take_over(tracking_uri) or default_tracking_uri()
        self.log_input_example = log_input_example
        self.experiment = experiment
        self.register_model = register_model
        self.log_model = log_model
        self.plots = plots
        self._injected = client is not None
        # MLflow's client is made in on_start, where a store it refuses (or cannot open) leaves the fit untracked
        # with a warning instead of ending it.
        self._client: Any = client
        self._connect_error: Exception | None = None
        self.parent_run_id: str | None = None
        self.experiment_id: str | None = None
        self._joining = False
        self._waiting = False  # a joining worker whose sweep had not recorded its parent run yet
        self._logged: set[int] = set()
        self._earlier: set[int] = set()
        self._writer: ThreadWriter | ProcessWriter | None = None
        self._failures: list[tuple[str, str]] = []
        self._metric: str | None = None
        self._dataset: dict[str, str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its writer process, its client and a kept error (a fitted estimator holds the tracker
        it was given as a parameter, and is pickled to be saved and logged): a copy connects again on first use."""
        state = dict(self.__dict__)
        state.update(_writer=None, _client=None, _connect_error=None, _injected=False)
        return state

    @property
    def shown_uri(self) -> str:
        """The tracking URI as it is shown, logged and stored: its password masked."""
        return redact_url(self.tracking_uri)

    def _reason(self, exc: BaseException) -> str:
        return redact_text(f"{type(exc).__name__}: {exc}", self.tracking_uri)

    # -- start ------------------------------------------------------------------------------
    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        refuse_deleted(found, name)
        if found is not None:
            return str(found.experiment_id)
        folder = sqlite_folder(self.tracking_uri)
        if folder is None:
            experiment_id = self.client.create_experiment(name)
        else:  # beside the SQLite file, not MLflow's default ./mlruns of whatever folder the fit runs in
            location = (Path(folder).absolute() / "mlruns").as_uri()
            experiment_id = self.client.create_experiment(name, artifact_location=location)
        # MLflow 3's UI opens GenAI experiments on a traces overview; this one is about training runs.
        self.client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")
        return str(experiment_id)

    def _open_writer(self) -> None:
        # An injected client (a stand-in in tests) stays in this process; otherwise a writer
        # process owns its own client, so store writes never compete with the search for the GIL.
        self._writer = ThreadWriter(self.client, self.tracking_uri) if self._injected else ProcessWriter(
            self.tracking_uri)

    @property
    def client(self) -> Any:
        """The MLflow client (made on first use: see :meth:`connect`)."""
        self.connect()
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        self._client = value

    def connect(self) -> None:
        """Import MLflow and make its client on the store (a new SQLite store's tables are created then): the
        part of the start that reads and writes no study, so it may run on another thread (see
        :mod:`automl.tracking.starting`). Its error is kept and raised again by the next call."""
        if self._client is not None:
            return
        if self._connect_error is not None:
            raise self._connect_error
        try:
            import mlflow

            with creating_store(self.tracking_uri):
                self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        except Exception as exc:
            self._connect_error = exc
            raise

    def on_start(self, study: Any, info: SearchInfo) -> None:
        """Create the parent run, or reopen the one a resumed study was logged to.

        A joining process attaches to the parent run recorded on the study. A worker can start
        before the main process has recorded it (the study exists from the moment it is opened; the
        parent run a few seconds later): it then looks again after each of its trials and, once the
        run is there, logs the trials it finished meanwhile. A sweep without tracking never records one.
        A store that cannot be reached leaves the fit untracked, with a warning: tracking never breaks a fit.
        """
        try:
            with patient_once():
                self._start(study, info)
        except Exception as exc:  # noqa: BLE001 - e.g. a tracking server that does not answer
            said = (f"{self.shown_uri}: {exc}" if isinstance(exc, DeletedExperiment)
                    else f"{self.shown_uri} cannot be reached ({self._reason(exc)})")
            logger.warning("MLflow: this fit is not tracked: %s", said)
            warn_user(f"MLflow tracking is off for this fit: {said}", RuntimeWarning)
            self.parent_run_id, self._writer = None, None

    def _start(self, study: Any, info: SearchInfo) -> None:
        # The main process logs the trials that had ended when it opened the study (this is called right
        # after it opened it) unless an earlier run did; trials other processes run from then on are logged
        # by those processes, even those that end before the parent run exists (they join it late).
        self._earlier = (set(info.earlier_trials) if info.earlier_trials is not None
                         else {t.number for t in study.get_trials(deepcopy=False)}
                         if study is not None and not info.joining else set())
        self._logged, self._joining = set(), info.joining
        self._metric = info.tags.get("metric")
        self._dataset = _dataset(info)
        name = self.experiment or (info.study_name or DEFAULT_EXPERIMENT)
        stored = StudyRecord.read(study).parent_run if study is not None else None
        if info.joining:
            self._waiting = not stored
            self._join(stored)
            return
        self.connect()
        self.experiment_id = self._experiment_id(name)
        if (stored and stored.get("tracking_uri") in (self.tracking_uri, self.shown_uri)
                and self._run_exists(stored["run_id"])):
            self.parent_run_id = stored["run_id"]
            self.client.update_run(self.parent_run_id, status="RUNNING")
            self._logged = self._logged_trials()
            self.client.set_tag(self.parent_run_id, "automl.resumed", "true")
            self._clear_failure_tags()
        else:
            if stored and MASK in str(stored.get("tracking_uri")) and stored["tracking_uri"] != self.shown_uri:
                warn_user(f"MLflow: this study's run is in {stored['tracking_uri']}, whose password is not stored; "
                          f"this fit starts a new run in {self.shown_uri} (pass that tracking URI to go on in the "
                          f"study's run)", RuntimeWarning)
            tags = {f"automl.{k}": _text(v) for k, v in info.tags.items()}
            run = self.client.create_run(self.experiment_id, run_name=info.study_name or "automl-search", tags=tags)
            self.parent_run_id = run.info.run_id
            self._log_batch(self.parent_run_id, params=dict(info.params))
            try:
                log_dataset(self.client, self.parent_run_id, self._dataset)
            except Exception as exc:  # noqa: BLE001 - the run goes without its Dataset column
                logger.debug("MLflow: the dataset input was not logged: %s", self._reason(exc))
            if study is not None and info.study_name:
                StudyWriter(study).parent_run(self.parent_run_id, self.shown_uri)  # never the password
        self._open_writer()
        logger.info("MLflow: logging to %s, experiment %r, run %s", self.shown_uri, name, self.parent_run_id)

    def _clear_failure_tags(self) -> None:
        """A resumed run starts over on what it failed to log before."""
        for key in ("automl.logging_failed", "automl.tracking_incomplete"):
            try:
                self.client.delete_tag(self.parent_run_id, key)
            except Exception:  # noqa: BLE001 - the tag was not there
                continue

    def _join(self, stored: dict[str, Any] | None) -> None:
        if not stored:
            logger.info("MLflow: the sweep has no parent run yet; this worker logs its trials once there is one")
            return
        # The study keeps the URI with its password masked: a worker connects with its own URI when it is
        # the same store, else with the stored one when nothing in it was masked.
        if stored["tracking_uri"] not in (self.tracking_uri, self.shown_uri):
            if MASK in stored["tracking_uri"]:
                warn_user(f"MLflow: this worker logs nothing: the sweep logs to {stored['tracking_uri']}, whose "
                          f"password is not stored with the study; give the worker the same tracking URI "
                          f"(--tracking-uri or $MLFLOW_TRACKING_URI)", RuntimeWarning)
                return
            self.tracking_uri = stored["tracking_uri"]
        if not self._injected:
            import mlflow

            with creating_store(self.tracking_uri):
                self.client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        self.parent_run_id = stored["run_id"]
        self.experiment_id = self.client.get_run(self.parent_run_id).info.experiment_id
        self._open_writer()

    def _mine(self, record: TrialRecord) -> bool:
        """Whether this process logs a trial: its own trials, and (main) those that ended before it began."""
        if not record.worker or record.worker == worker_id():
            return True
        return not self._joining and record.number in self._earlier

    def _run_exists(self, run_id: str) -> bool:
        try:  # a run the user deleted takes no more runs: a fresh parent run, as for one not found
            info = getattr(self.client.get_run(run_id), "info", None)  # (an injected client's runs may have none)
            return bool(getattr(info, "lifecycle_stage", "active") != "deleted")
        except Exception:  # noqa: BLE001 - any lookup failure means a fresh parent run
            return False

    def _logged_trials(self) -> set[int]:
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}'", max_results=50000
        )
        return {int(r.data.tags["automl.trial_number"]) for r in runs if "automl.trial_number" in r.data.tags}

    # -- trials -----------------------------------------------------------------------------
    def _late_join(self, study: Any) -> None:
        """Join the parent run the main process recorded after this worker started; log this worker's
        trials that finished meanwhile."""
        stored = StudyRecord.read(study).parent_run
        if not stored:
            return
        self._waiting = False
        try:
            with patient_once():
                self._join(stored)
        except Exception as exc:  # noqa: BLE001 - tracking never breaks a fit
            logger.warning("MLflow: cannot log to %s (%s); this worker logs nothing", self.shown_uri, self._reason(exc))
            self.parent_run_id, self._writer = None, None
            return
        for trial in study.get_trials(deepcopy=False):
            if trial.state.is_finished() and TrialRecord.read(trial).worker == worker_id():
                self.on_trial(study, trial)

    def on_trial(self, study: Any, trial: Any) -> None:
        """Queue a child run for a finished trial (never twice for the same trial)."""
        if self._waiting and study is not None:
            self._late_join(study)
        record = TrialRecord.read(trial)
        if record.number in self._logged or self._writer is None or not self._mine(record):
            return
        self._logged.add(record.number)
        self._writer.submit(("run", self._payload(record)))

    def _payload(self, record: TrialRecord, state: str | None = None) -> dict[str, Any]:
        """A plain dict describing the child run of a trial (cheap to build and to pickle)."""
        return trial_payload(record, self.parent_run_id, self.experiment_id, self._metric, self._dataset, state)

    def _ensemble_payload(self, ensemble: dict[str, Any]) -> dict[str, Any]:
        """The child run of the ensemble: its members and weights, and its score per fold (as a trial's)."""
        return ensemble_payload(ensemble, self.parent_run_id, self.experiment_id, self._metric, self._dataset)

    def _log_batch(self, run_id: str, params: dict[str, Any] | None = None, metrics: list[Any] | None = None) -> None:
        from mlflow.entities import Param

        self.client.log_batch(
            run_id,
            metrics=metrics or [],
            params=[Param(mlflow_key(str(k)), _text(v)[:6000]) for k, v in (params or {}).items()],
        )

    # -- end --------------------------------------------------------------------------------
    def finish(self, study: Any, report: Any, status: str, deadline: float | None = None) -> TrackingResult:
        """Log the trials not yet logged, the fit's results, artifacts and model, and close the runs,
        all by ``deadline`` (monotonic): what is not written by then is left out and named on the run,
        as is what failed (see the module's docstring). Never raises."""
        if self._waiting and study is not None:
            self._late_join(study)
        if self.parent_run_id is None:
            return TrackingResult()
        self._failures = []
        model_uri = None
        staging = Path(tempfile.mkdtemp(prefix="automl-mlflow-"))
        try:
            self._queue_remaining(study, status)
            if report is not None and status == "FINISHED":
                self._queue_results(report, staging, deadline)
            if self._writer is not None:
                with patient_once():  # an interrupted fit may write here: seconds, not MLflow's retries
                    self._writer.close(deadline, here=self.client if status == "KILLED" else None)
                model_uri = self._writer.results.get("model")
                self._failures += self._writer.errors
            if model_uri is not None:
                self.client.set_tag(self.parent_run_id, "automl.model_uri", model_uri)
            if not self._joining and study is not None and self._writer is not None:  # trials dead workers lost
                with patient_once():  # a store gone away costs seconds here, not MLflow's minutes of retries
                    self._attempt("trial runs", settle_lost_trials, self.client, str(self.experiment_id),
                                  str(self.parent_run_id), study, self._logged, self._payload, write_child_run)
        except Exception as exc:  # noqa: BLE001 - a tracking failure must not lose the fitted model
            self._failures.append(("results", self._reason(exc)))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            self._close_parent(status)
        return TrackingResult(self.parent_run_id, self.shown_uri, model_uri, self.experiment_id)

    def _close_parent(self, status: str) -> None:
        """Name what was not logged on the parent run, close it, and say so once."""
        final = final_status(status, self._failures)
        if not self._joining:
            try:
                if self._failures:
                    for key, value in failure_tags(self._failures).items():
                        self.client.set_tag(self.parent_run_id, key, value)
                self.client.set_terminated(self.parent_run_id, status=final)
            except Exception as exc:  # noqa: BLE001 - the store went away: the fit goes on
                self._failures.append(("run status", self._reason(exc)))
        if self._failures:
            logger.debug("MLflow: not logged: %s", self._failures)
            warn_user(warning_text(str(self.parent_run_id), self.shown_uri, final, self._failures), RuntimeWarning)

    def _queue_remaining(self, study: Any, status: str) -> None:
        """Queue a child run for every finished trial not logged yet (a killed fit's last ones included)."""
        if self._writer is None or study is None:
            return
        trials = study.get_trials(deepcopy=False)
        lost = lost_trials(trials)  # the main process logs those (settle_lost_trials), no other process
        for record in map(TrialRecord.read, trials):
            if (record.number in self._logged or record.number in lost or record.state in ("waiting", "running")
                    or not self._mine(record)):
                continue
            self._logged.add(record.number)
            state = "interrupted" if status == "KILLED" and record.state == "fail" and not record.has_reason else None
            self._writer.submit(("run", self._payload(record, state)))

    def _queue_results(self, report: Any, staging: Path, deadline: float | None) -> None:
        """Log the parent's metrics and tags now; queue its artifacts and the model for the writer."""
        try:
            self._log_results(report)
        except Exception as exc:  # noqa: BLE001 - named on the run; the artifacts and model still go
            self._failures.append(("results", self._reason(exc)))
        self._queue_artifacts(report, staging, deadline)

    def _log_results(self, report: Any) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(mlflow_key(name), value, stamp, step)
                   for name, value, stamp, step in parent_metrics(report, int(time.time() * 1000))]
        self.client.log_batch(self.parent_run_id, metrics=metrics)
        self.client.set_tag(self.parent_run_id, "automl.best_family", report.best_family_)
        self.client.set_tag(self.parent_run_id, "automl.best_trial", str(report.best_trial_))
        source = str(report.attributes.get("model_source_", ""))
        final = "ensemble" if report.ensemble_ else "fold model" if source.startswith("fold") else "best trial"
        self.client.set_tag(self.parent_run_id, "automl.final_model", final)
        if report.ensemble_:
            self._writer_submit(("run", self._ensemble_payload(report.ensemble_)))

    def _writer_submit(self, job: tuple[Any, ...]) -> None:
        if self._writer is not None:
            self._writer.submit(job)
        elif job[0] == "run":
            write_child_run(self.client, job[1])

    def _queue_artifacts(self, report: Any, staging: Path, deadline: float | None) -> None:
        """Queue the files, the plots and the model; a part that cannot even be prepared is named as failed."""
        self._attempt("files", self._queue_files, report, staging / "files")
        if self.plots:
            if deadline is None or deadline - time.monotonic() > PLOTS_SECONDS:
                self._attempt("plots", self._queue_plots, report, staging / "plots")
            else:
                self._failures.append(("plots", f"{OUT_OF_TIME}: fewer than {PLOTS_SECONDS:g} s were left"))
        if report.estimator is not None and report.extra.get("explain_rows") is not None:
            self._attempt("explanations", self._queue_explanations, report, staging / "explanations", deadline)
        if self.log_model and report.estimator is not None:
            self._attempt("model", self._queue_model, report, staging / "saved")

    def _queue_explanations(self, report: Any, folder: Path, deadline: float | None) -> None:
        from automl.tracking.explanations import EXPLAIN_SECONDS, write_explanations

        # An extra, left out (the run stays complete) for pixel columns and when too little time is left.
        if getattr(report.estimator, "image_shape_", None) is not None or (
                deadline is not None and deadline - time.monotonic() <= EXPLAIN_SECONDS):
            return
        write_explanations(report.estimator, report.extra["explain_rows"], folder, plot=self.plots,
                           deadline=None if deadline is None else deadline - EXPLAIN_SECONDS)
        self._writer_submit(("artifacts", self.parent_run_id, str(folder), "explanations"))

    def _attempt(self, part: str, queue: Any, *args: Any) -> None:
        try:
            queue(*args)
        except Exception as exc:  # noqa: BLE001 - one part failing never stops the others or the fit
            self._failures.append((part, self._reason(exc)))

    def _queue_files(self, report: Any, files: Path) -> None:
        import yaml

        from automl.persistence import leaderboard_csv

        files.mkdir()
        (files / "leaderboard.csv").write_text(leaderboard_csv(report.leaderboard_), encoding="utf-8")
        (files / "search_space.yaml").write_text(
            yaml.safe_dump({name: space.to_dict() for name, space in report.spaces.items()}, sort_keys=False),
            encoding="utf-8",
        )
        self._writer_submit(("artifacts", self.parent_run_id, str(files), None))

    def _queue_plots(self, report: Any, folder: Path) -> None:
        from automl.tracking.plots import render_search_plots

        folder.mkdir()
        errors: list[str] = []
        written = render_search_plots(
            report.leaderboard_, report.study, report.metric_.name, report.metric_.greater_is_better, report.task_,
            report.y, report.oof_predictions_.get(report.best_trial_), report.attributes.get("classes_"), folder,
            errors=errors, positive=report.attributes.get("pos_label_"),
        )
        self._failures += [("plots", redact_text(error, self.tracking_uri)) for error in errors]
        if written:
            self._writer_submit(("artifacts", self.parent_run_id, str(folder), "plots"))

    def _queue_model(self, report: Any, folder: Path) -> None:
        """Save the model and queue it, with its signature from the training frame's column types (the
        model goes without one, named as failed, when MLflow cannot express them) and, only with
        ``log_input_example``, five training rows as its input example."""
        from automl.persistence import family_requirements
        from automl.tracking.signature import model_signature, served_frame

        saved = report.estimator.save(folder)
        signature = None
        try:
            signature = model_signature(report.X_example, report.task_, report.attributes.get("classes_"))
        except Exception as exc:  # noqa: BLE001 - a column type MLflow has no name for
            self._failures.append(("signature", self._reason(exc)))
        example = None
        if self.log_input_example and report.X_example is not None:
            example = served_frame(report.X_example.head(5))  # as the signature types them
        extra = family_requirements(report.estimator)
        self._writer_submit(("model", self.parent_run_id, saved, signature, example, self.register_model, extra))
