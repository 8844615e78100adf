"""One fit, start to end: settings → problem → search → final model (→ more search and the final model again, when
the final stage left time: :mod:`automl._fit.time_left`) → report → tracking, under one budget.

:func:`run_fit` is what ``AutoMLClassifier.fit`` and ``AutoMLRegressor.fit`` call (through
``automl.fit``, sweeps and the command line too); :func:`join_fit` is what a process joining
another's search runs (``automl worker``). The one :class:`~automl.search.budget.Budget` is built
before the search and never changes; the trials *and* the refits run in one isolated worker
(:func:`~automl.search.isolation.make_runner`) that is killed at each stage's deadline. The
tracker is opened and closed here, and only here.

Example:
    >>> from sklearn.datasets import load_diabetes
    >>> from automl.config import resolve_settings
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> settings = resolve_settings({"n_trials": 2, "families": ["linear"], "cv": 3, "tracking": False}, "regressor")
    >>> report = run_fit(settings, None, X, y)
    >>> report.best_family_, report.task_
    ('linear', 'regression')
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from automl._device import gpu_ruled_out
from automl._spawn import raise_if_stopped, sigterm_as_interrupt, sigterm_deferred
from automl._warnings import report_stage
from automl.config import FitSettings
from automl.exceptions import BudgetExhaustedError
from automl.families.registry import family_import_path
from automl.search.budget import Budget
from automl.search.isolation import Runner, make_runner
from automl.search.runner import JoiningRole, MainRole, SearchOutcome, SearchSpec, run_search
from automl.search.storage import describe_storage
from automl.spaces.zero_shot import FirstTrial, learned_first_trials
from automl.tracking import SearchInfo, Tracker, TrackingResult, make_tracker
from automl.tracking.starting import TrackerStart
from automl._fit.problem import Problem, prepare_problem
from automl._fit.refit import build_final_model
from automl._fit.stack import expected_width, stack_refit_factor
from automl._fit.time_left import search_on
from automl._fit.report import FitReport, build_report

__all__ = ["ENSEMBLE_REFIT_FACTOR", "TRACKING_RESERVE", "join_fit", "run_fit"]

#: Seconds kept at the end of a tracked fit for the last child runs, plots, artifacts and the MLflow model.
TRACKING_RESERVE = 8.0
#: Seconds an interrupted fit (Ctrl-C, SIGTERM) spends at most on its last child runs before it marks the run
#: KILLED and ends: whoever stopped it wants it gone (and docker or systemd send SIGKILL 10 s after SIGTERM).
INTERRUPTED_TRACKING_SECONDS = 6.0
#: With ``ensemble=True`` the search ends early enough to refit this many more models like the best
#: one (the ensemble's members; fewer, cheaper or none are refitted when time is short).
ENSEMBLE_REFIT_FACTOR = 2.0

TrialCallback = Callable[[Any, Any], None]
_F = TypeVar("_F", bound=Callable[..., Any])


def _terminable(function: _F) -> _F:
    """Run ``function`` with SIGTERM handled as Ctrl-C (in the main thread, when nothing else handles
    SIGTERM; the previous handler is restored after): ``timeout``, systemd, docker and CI stop a fit
    with SIGTERM, and it must end as an interrupted one does, workers stopped and the run marked KILLED."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with sigterm_as_interrupt():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _budget(problem: Problem, started: float, tracked: bool) -> Budget:
    """The fit's one budget: the final stage keeps time for the ensemble's members' refits and, when it stacks,
    for the second level's cross-validation and refit (:func:`~automl._fit.stack.stack_refit_factor` refits of the
    trial it copies, on the columns :func:`~automl._fit.stack.expected_width` expects)."""
    settings = problem.settings
    return Budget(
        settings.budget_seconds, started, tracking_reserve=TRACKING_RESERVE if tracked else 0.0,
        ensemble_factor=ENSEMBLE_REFIT_FACTOR if settings.ensemble else 0.0,
        stack_factor=_stack_factor(problem) if settings.stacks else 0.0,
        enforced=settings.isolation == "process",
    )


def _stack_factor(problem: Problem) -> float:
    n_classes = 0 if problem.classes is None else len(problem.classes)
    width = expected_width(problem.X.shape[1], problem.task, n_classes)
    return stack_refit_factor(len(problem.splits), problem.refit_scale, width)


def _search_spec(problem: Problem, n_trials: int | None, sweep: Mapping[str, Any] | None) -> SearchSpec:
    settings = problem.settings
    return SearchSpec(
        problem.evaluator, problem.families, problem.spaces, n_trials=n_trials, seed=settings.seed,
        study_name=settings.study_name, storage=settings.storage, pruner=settings.pruner,
        fingerprint=problem.fingerprint, fingerprint_parts=problem.fingerprint_parts, refit_scale=problem.refit_scale,
        sweep=sweep,
        final_model=settings.final_model,
        first_trials=_first_trials(problem), pack_size=_pack_size(problem),
    )


#: A search that completed no trial names the tracker's start when it took at least this share of the time budget.
TRACKING_START_SHARE = 0.2


def _tracking_took_the_budget(seconds: float, settings: FitSettings) -> bool:
    return bool(settings.time_budget) and seconds >= TRACKING_START_SHARE * float(settings.time_budget)


def _tracking_start_note(tracking: TrackerStart, settings: FitSettings) -> str:
    """Why no trial completed when the tracker's start took much of the budget: opening (or first creating) its
    store, before the search (a tracker of yours without ``connect``; MLflow's connects once a trial has completed,
    :mod:`automl.tracking.starting`, so it never keeps the first trial from completing)."""
    where = getattr(tracking.tracker, "shown_uri", None) or "the tracking store"
    return (f"MLflow tracking's start (opening {where}; a new store is created on first use) took "
            f"{tracking.seconds:.1f} s of the {float(settings.time_budget):g} s budget before the search; raise "
            "time_budget=, or turn tracking off (tracking=False, --no-tracking)")


def _pack_size(problem: Problem) -> int:
    """Members per pack of net trials: ``pack_nets``, with ``"auto"`` read for the device the nets train on."""
    from automl.search.packs import pack_size

    setting, device = problem.settings.pack_nets, str(problem.settings.device)
    if setting == "auto" and device == "auto":
        if not any(f.packable for f in problem.families):
            return 1
        if gpu_ruled_out():
            return pack_size(setting, "cpu")  # no GPU driver: known without the seconds of an import torch
        from automl.families.torch_common import resolve_device

        device = resolve_device("auto").type  # imports torch: a packable net is searched
    return pack_size(setting, device)


def _first_trials(problem: Problem) -> Sequence[FirstTrial]:
    """The learned first trials: for tables (they were learned on tables, never on images)."""
    if problem.settings.first_trials != "learned" or problem.image_shape is not None:
        return ()
    return learned_first_trials(problem.evaluator.task)


def _runner(problem: Problem) -> Runner:
    settings = problem.settings
    paths = {f.name: family_import_path(f.name) for f in problem.families}
    return make_runner(problem.evaluator, problem.X, problem.y, paths, isolation=settings.isolation,
                       trial_timeout=settings.trial_timeout, memory_limit_mb=settings.trial_memory_limit)


def search_info(problem: Problem, budget: Budget, joining: bool = False) -> SearchInfo:
    """What the tracker records about the search (the parent run's params and tags)."""
    from automl._version import __version__

    settings, data = problem.settings, problem.data
    pruner = settings.pruner if isinstance(settings.pruner, str) or settings.pruner is None else type(settings.pruner).__name__
    params = {
        "families": ",".join(f.name for f in problem.families), "time_budget": budget.seconds,
        "n_trials": settings.n_trials, "cv": problem.plan.description, "metric": problem.metric.name,
        "task": problem.task, "seed": settings.seed, "n_jobs": settings.n_jobs, "pruner": pruner,
        "study_name": settings.study_name, "storage": describe_storage(settings.storage, settings.study_name),
        "n_rows": len(data.y), "n_columns": data.X.shape[1], "n_rows_dropped": data.n_dropped,
        "sample_weight": data.weights is not None, "device": settings.device,
        "image_shape": None if problem.image_shape is None else "x".join(map(str, problem.image_shape)),
        "isolation": settings.isolation, "trial_timeout": settings.trial_timeout,
        "trial_memory_limit": settings.trial_memory_limit, "ensemble": settings.ensemble,
        "pos_label": problem.pos_label,
    }
    tags = {"version": __version__, "task": problem.task, "metric": problem.metric.name,
            "dataset_fingerprint": problem.fingerprint[:16], "target": str(data.y.name)}
    return SearchInfo(settings.study_name, joining, params, tags, frame=data.X)


def _status(exc: BaseException) -> str:
    return "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"


def _end_deadline(exc: BaseException | None, deadline: float | None) -> float | None:
    """The tracking deadline of a fit ending with ``exc``: sooner for an interrupted one."""
    if not isinstance(exc, KeyboardInterrupt):
        return deadline
    soon = time.monotonic() + INTERRUPTED_TRACKING_SECONDS
    return soon if deadline is None else min(deadline, soon)


def fitted_estimator(estimator_class: Any, settings: FitSettings, attributes: Mapping[str, Any]) -> Any:
    """An estimator of ``estimator_class`` with ``settings`` and the fitted ``attributes`` (None: no class)."""
    if estimator_class is None:
        return None
    estimator = estimator_class(**settings.raw)
    estimator.__dict__.update(attributes)
    return estimator


@_terminable
def run_fit(settings: FitSettings, estimator_class: Any, X: Any, y: Any, groups: Any = None,
            sample_weight: Any = None, *, callbacks: Sequence[TrialCallback] = (),
            sweep: Mapping[str, Any] | None = None) -> FitReport:
    """Run one fit: validate, search, build the final model, report, track.

    Args:
        settings: The fit's settings (:func:`automl.config.resolve_settings`).
        estimator_class: The estimator the fitted model is saved as (for the MLflow model).
        X, y, groups, sample_weight: The data, as ``fit`` takes them.
        callbacks: ``callback(study, frozen_trial)`` after each trial (after the tracker's).
        sweep: Settings stored on a named study so that other processes can join it.

    Raises:
        InvalidParameterError, DataValidationError: before anything is written.
        AllTrialsFailedError, BudgetExhaustedError: no trial completed.
        RefitFailedError: every finalist's refit failed.
    """
    started = time.monotonic()
    problem = prepare_problem(settings, X, y, groups, sample_weight)
    budget = _budget(problem, started, tracked=settings.tracking_on)
    spec = _search_spec(problem, settings.n_trials, sweep if settings.study_name else None)
    opened: list[Any] = []
    tracking = TrackerStart(settings)

    def on_open(study: Any) -> None:
        opened.append(study)
        tracking.start(study, search_info(problem, budget))

    runner = _runner(problem)
    try:
        outcome = run_search(spec, runner, MainRole(spec), budget, [tracking.on_trial, *callbacks], on_open)
        raise_if_stopped()  # a SIGTERM or Ctrl-C the search's last steps lost: no refit, the run is KILLED
        report_stage("refitting the best model on all rows ...")
        final_started = time.monotonic()
        final = build_final_model(problem, outcome, runner, budget)
        raise_if_stopped()
        outcome, final = search_on(problem, outcome, final, runner, budget, time.monotonic() - final_started)
        raise_if_stopped()
    except BaseException as exc:
        deadline = _end_deadline(exc, budget.tracking_deadline())
        tracking.finish(opened[0] if opened else None, None, _status(exc), deadline)
        if (isinstance(exc, BudgetExhaustedError) and not tracking.beside
                and _tracking_took_the_budget(tracking.seconds, settings)):
            raise BudgetExhaustedError(f"{exc}\n{_tracking_start_note(tracking, settings)}") from exc
        raise
    finally:
        runner.close()
    report = build_report(problem, outcome, final, time.monotonic() - started)
    report.estimator = fitted_estimator(estimator_class, settings, report.attributes)
    if settings.tracking_on:
        report_stage("logging to MLflow ...")
    with sigterm_deferred():  # bounded by the tracking deadline; a SIGTERM then ends the fit after it
        result = tracking.finish(outcome.study, report, "FINISHED", budget.tracking_deadline())
    if not isinstance(result, TrackingResult) or result.run_id is None:  # a tracker of yours may return nothing
        result = TrackingResult()  # untracked: each attribute None (README: "model_uri_ is None when ...")
    report.attributes.update(tracking_run_id_=result.run_id, tracking_uri_=result.tracking_uri,
                             model_uri_=result.model_uri, tracking_experiment_id_=result.experiment_id)
    report.attributes["fit_time_"] = time.monotonic() - started
    if report.estimator is not None:
        report.estimator.__dict__.update({k: v for k, v in report.attributes.items() if k.startswith(("tracking", "model_uri"))})
    return report


@_terminable
def join_fit(settings: FitSettings, X: Any, y: Any, groups: Any = None, sample_weight: Any = None, *,
             n_trials: int | None = None, callbacks: Sequence[TrialCallback] = ()) -> SearchOutcome:
    """Join the named study another process started: run trials until its deadline or target; no refit."""
    problem = prepare_problem(settings, X, y, groups, sample_weight)
    tracker: Tracker = make_tracker(settings)
    budget = Budget(None, time.monotonic(), enforced=settings.isolation == "process")  # the study's deadline rules
    spec = _search_spec(problem, n_trials, None)
    opened: list[Any] = []

    def on_open(study: Any) -> None:
        opened.append(study)
        tracker.on_start(study, search_info(problem, budget, joining=True))

    runner = _runner(problem)
    status, deadline = "FAILED", None
    try:
        outcome = run_search(spec, runner, JoiningRole(spec), budget, [tracker.on_trial, *callbacks], on_open)
        raise_if_stopped()
        status = "FINISHED"
        return outcome
    except KeyboardInterrupt as exc:
        status, deadline = "KILLED", _end_deadline(exc, None)
        raise
    finally:
        runner.close()
        if opened:
            tracker.finish(opened[0], None, status, deadline)
