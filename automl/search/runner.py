"""The optimize loop, for the process that starts a search and for the processes that join it.

:func:`run_search` opens the study (through a role), builds the trial's objective and the
policy, and calls ``study.optimize`` until the trial target or the time budget is reached;
it returns a :class:`SearchOutcome`. The two roles are objects, not flags:

- :class:`MainRole` creates or resumes the study, queues the first trials, publishes the
  deadline and trial target, and at the end waits for the trials other processes still run;
- :class:`JoiningRole` joins a study a main process started, takes its deadline and target
  from the study, and runs trials until either is reached (it never refits).

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation import Evaluator, get_metric, make_cv_plan
    >>> from automl.families import resolve_families
    >>> from automl.search.isolation import InProcessRunner
    >>> X = pd.DataFrame({"a": np.arange(60.0)}); y = (np.arange(60) % 3 == 0).astype(int)
    >>> ev = Evaluator([get_metric("accuracy", "binary")],
    ...                make_cv_plan(3, "binary").splits(60, y, None), task="binary", n_classes=2)
    >>> fams = resolve_families(["linear", "knn"], "binary")
    >>> spec = SearchSpec(ev, fams, {f.name: f.space() for f in fams}, n_trials=3, pruner="none")
    >>> outcome = run_search(spec, InProcessRunner(ev, X, y), MainRole(spec), Budget(None, 0.0))
    >>> len(outcome.study.trials), sorted(outcome.oof)
    (3, [0, 1, 2])
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl._spawn import raise_if_stopped
from automl.data import text_cache
from automl.evaluation.cross_validation import Evaluator
from automl.families.base import ModelFamily
from automl.search.budget import Budget
from automl.search.first_trials import enqueue_first_trials, queue_after_scale
from automl.search.isolation import Runner
from automl.search.objective import Objective, TrialFailed
from automl.search.oof import OOFStore
from automl.search.policy import SearchPolicy
from automl.search.study import (
    counted_trials,
    drain,
    lost_trial,
    nothing_completed,
    open_checked_study,
    publish_limits,
    read_limits,
    target_reached,
)
from automl.search.trial_record import TrialRecord, TrialWriter
from automl.spaces import SearchSpace
from automl.spaces.zero_shot import FirstTrial

__all__ = ["JoiningRole", "KEPT_BAGS", "MainRole", "SearchOutcome", "SearchSpec", "continue_search", "run_search"]

#: The best trials whose fold models the runner keeps (unless ``final_model="refit"``): the finalists and
#: the ensemble's likely members then have a bag, used as such or when their refit does not fit or fails.
KEPT_BAGS = 10

logger = logging.getLogger("automl")

TrialCallback = Callable[[Any, Any], None]


@dataclass(frozen=True)
class SearchSpec:
    """What a search runs over.

    Attributes:
        evaluator: Runs the fixed folds for one configuration.
        families: Families to choose from, in the order their defaults are tried.
        spaces: Search space per family name.
        n_trials: Trials to run in this call (None: until the budget is spent).
        seed: Seed of the sampler and, through :func:`~automl.search.objective.trial_seed`, the models.
        study_name: Name of the study (None: a fresh in-memory one).
        storage: Where the study lives (see :mod:`automl.search.storage`).
        pruner: ``"percentile"``, ``"median"``, ``"none"`` or an Optuna pruner.
        fingerprint: Hash of data and settings; a stored study must match it.
        fingerprint_parts: What the fingerprint covers, part by part (stored beside it, named when they differ).
        refit_scale: All rows over training-part rows (the refit's size).
        sweep: Settings stored on the study so that other processes can join (main role).
        final_model: ``"bag"``, ``"auto"`` or ``"refit"`` (see :mod:`automl._fit.refit`): with the first two
            the runner keeps the best :data:`KEPT_BAGS` trials' fold models (with ``"refit"`` only the best
            trial's, the last resort), and with ``"bag"`` the search keeps no time for the refit of a
            trial whose bag is held.
        first_trials: The learned first trials a new study queues before every family's defaults
            (:mod:`automl.spaces.zero_shot`; empty: the defaults first).
        pack_size: Most trials of a packable net family run as one pack (1: each alone; see
            :mod:`automl.search.packs`).
    """

    evaluator: Evaluator
    families: Sequence[ModelFamily]
    spaces: Mapping[str, SearchSpace]
    n_trials: int | None = None
    seed: int | None = 0
    study_name: str | None = None
    storage: object = None
    pruner: object = "percentile"
    fingerprint: str = ""
    fingerprint_parts: Mapping[str, str] = field(default_factory=dict)
    refit_scale: float = 1.25
    sweep: Mapping[str, Any] | None = None
    final_model: str = "refit"
    first_trials: Sequence[FirstTrial] = ()
    pack_size: int = 1

    @property
    def stored(self) -> bool:
        """Whether the study is stored (named), so that other processes may share it."""
        return self.study_name is not None


@dataclass
class SearchOutcome:
    """What a search leaves behind.

    Attributes:
        study: The Optuna study (all trials, including earlier runs of a resumed study).
        oof: Trial number → out-of-fold predictions (float32) of the best completed trials of
            this run (at most :data:`~automl.search.oof.KEEP_BEST`; large arrays on disk).
        search_time: Seconds the search took.
        n_new_trials: Trials this process started in this call (queued first trials count once run).
        kept_trial: The best trial this process completed: the runner keeps its fold models.
        resumable: What :func:`continue_search` runs more trials with (the main role's search of a study that is
            not stored; None otherwise).
    """

    study: Any
    oof: Mapping[int, np.ndarray] = field(default_factory=dict)
    search_time: float = 0.0
    n_new_trials: int = 0
    kept_trial: int | None = None
    resumable: _Resumable | None = field(default=None, repr=False, compare=False)

    def trials(self) -> list[TrialRecord]:
        """Every trial's record."""
        return [TrialRecord.read(t) for t in self.study.get_trials(deepcopy=False)]

    def ranked(self, greater_is_better: bool) -> list[TrialRecord]:
        """The completed trials, best first (ties: the earlier trial first)."""
        done = [r for r in self.trials() if r.complete]
        return sorted(done, key=lambda r: (-(r.value or 0.0) if greater_is_better else (r.value or 0.0), r.number))

    @property
    def best_trial(self) -> Any:
        """The best completed Optuna trial (None: none completed)."""
        complete = [t for t in self.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        return self.study.best_trial if complete else None


@dataclass(frozen=True)
class _Resumable:
    """A finished search's loop, to run again: its objective (the trials' runner, kept bags, out-of-fold predictions
    and, as ``objective.policy``, what the search learned) and ``study.optimize`` with its callbacks."""

    objective: Objective
    optimize: Callable[[], None]


def continue_search(outcome: SearchOutcome, budget: Budget) -> SearchOutcome:
    """Run more trials of ``outcome``'s search, the same study, objective and policy, until ``budget``'s search
    deadline (its trials' and the policy's rules as before); return the outcome of both runs (``outcome`` itself
    when it cannot be resumed: a stored study, which other processes may share, or a joining process's).

    The trials queued and not run for lack of time run first (:data:`~automl.search.policy.NOT_RUN_FOR_TIME`).
    """
    state = outcome.resumable
    if state is None:
        return outcome
    state.objective.policy.resume(budget)
    started = time.monotonic()
    try:
        with _optuna_quiet():
            state.optimize()
    finally:
        text_cache.clear()
    objective = state.objective
    return dataclasses.replace(outcome, search_time=outcome.search_time + time.monotonic() - started,
                               n_new_trials=len(objective.asked), kept_trial=objective.best_number)


def _open(spec: SearchSpec, create: bool) -> tuple[Any, bool]:
    """The study of ``spec``, checked against its fingerprint (``create``: created if missing)."""
    return open_checked_study(spec.storage, spec.study_name, direction=spec.evaluator.metrics[0].direction,
                              seed=spec.seed, pruner=spec.pruner, fingerprint=spec.fingerprint, create=create,
                              metric=spec.evaluator.metrics[0].name, parts=spec.fingerprint_parts)


class MainRole:
    """The process that starts (or resumes) a search: it owns the study's first trials and limits.

    Args:
        spec: The search.
    """

    refits = True

    def __init__(self, spec: SearchSpec) -> None:
        self.spec = spec
        self.target: int | None = None
        self._scale_settled = False

    def open(self, budget: Budget) -> tuple[Any, Budget]:
        """Create or resume the study; queue the first trials of a new one; publish the limits."""
        spec = self.spec
        study, created = _open(spec, create=True)
        if created:
            enqueue_first_trials(study, spec.families, spec.spaces, spec.evaluator.task, spec.first_trials)
        if spec.stored:
            deadline = budget.wall_time(budget.search_deadline())
            self.target = publish_limits(study, deadline, spec.n_trials, spec.sweep)
        return study, budget

    def over(self, study: Any) -> bool:
        """Whether the search is over for reasons of the study (the trial target)."""
        return self.spec.stored and target_reached(study, self.target)

    def after_trial(self, study: Any, trial: Any) -> None:
        """After each trial: queue the portfolios once the target's scale is settled
        (:func:`~automl.search.first_trials.queue_after_scale`; a no-op once they are queued)."""
        if not self._scale_settled:
            spec = self.spec
            self._scale_settled = queue_after_scale(study, spec.families, spec.spaces, spec.evaluator.task) is not None

    def finish(self, study: Any, optimize: Callable[[], None], out_of_time: Callable[[], bool]) -> None:
        """Wait for the other processes' trials (stored studies); mark the search done."""
        if self.spec.stored:
            try:
                drain(study, optimize, out_of_time, self.target)
            finally:
                from automl.search.trial_record import StudyWriter

                StudyWriter(study).done()


class JoiningRole:
    """A process joining a search another process started: it runs trials until the search's
    deadline or trial target, read from the study, and never refits.

    Args:
        spec: The search (as the main process described it); its ``n_trials`` stops this process
            after that many trials (None: until the search ends).
    """

    refits = False

    def __init__(self, spec: SearchSpec) -> None:
        self.spec = spec
        self.target: int | None = None

    def open(self, budget: Budget) -> tuple[Any, Budget]:
        """Join the study; the budget becomes the time left until the search's deadline."""
        study, _ = _open(self.spec, create=False)
        limits = read_limits(study)
        self.target = limits.target
        return study, Budget.until_wall_time(limits.deadline, enforced=budget.enforced)

    def over(self, study: Any) -> bool:
        """Whether the main process ended the search, its deadline passed or the target is reached."""
        limits = read_limits(study)
        self.target = limits.target
        return limits.over or target_reached(study, self.target)

    def after_trial(self, study: Any, trial: Any) -> None:
        """Nothing: the main process queues the study's trials."""

    def finish(self, study: Any, optimize: Callable[[], None], out_of_time: Callable[[], bool]) -> None:
        """Nothing: the main process waits for the trials and ends the search."""


def run_search(spec: SearchSpec, runner: Runner, role: MainRole | JoiningRole, budget: Budget,
               callbacks: Sequence[TrialCallback] = (), on_open: Callable[[Any], None] | None = None,
               ) -> SearchOutcome:
    """Run trials until ``spec.n_trials``, the study's target or the time budget is reached.

    Args:
        spec: The search.
        runner: Runs each trial's folds (isolated, or here).
        role: :class:`MainRole` or :class:`JoiningRole`.
        budget: The fit's budget.
        callbacks: ``callback(study, frozen_trial)`` after each trial (a tracker's, a progress bar's).
        on_open: Called with the study once it is open (the tracker starts there).

    Raises:
        AllTrialsFailedError: no trial completed and some failed (main role; reasons grouped by family).
        BudgetExhaustedError: no trial completed within the time budget (main role).
    """
    try:
        with _optuna_quiet():
            return _run(spec, runner, role, budget, callbacks, on_open)
    finally:
        text_cache.clear()  # the folds' text encodings kept here by trials run in this process


_QUIET_LOCK = threading.Lock()
_QUIET: dict[str, Any] = {"searches": 0, "verbosity": None}


@contextlib.contextmanager
def _optuna_quiet() -> Iterator[None]:
    """Optuna's logging at ERROR while any search of this process runs, the caller's level back after the last:
    searches in several threads at once (a thread pool of fits) would otherwise restore each other's ERROR."""
    import optuna

    with _QUIET_LOCK:
        if _QUIET["searches"] == 0:
            _QUIET["verbosity"] = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.ERROR)
        _QUIET["searches"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["searches"] -= 1
            if _QUIET["searches"] == 0:
                optuna.logging.set_verbosity(_QUIET["verbosity"])


def _run(spec: SearchSpec, runner: Runner, role: MainRole | JoiningRole, budget: Budget,
         callbacks: Sequence[TrialCallback], on_open: Callable[[Any], None] | None) -> SearchOutcome:
    study, budget = role.open(budget)
    if isinstance(role, JoiningRole) and role.over(study):
        return SearchOutcome(study)
    if on_open is not None:
        on_open(study)
    primary = spec.evaluator.metrics[0]
    policy = SearchPolicy(
        budget, primary, len(spec.evaluator.splits), probe_fraction=spec.evaluator.probe_fraction,
        prune_probes=spec.pruner not in (None, "none"), refit_scale=spec.refit_scale,
        complete_before=sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)),
    )
    names = [f.name for f in spec.families]
    oof = OOFStore(greater_is_better=primary.greater_is_better)
    keep = (1 if spec.final_model == "refit" else KEPT_BAGS) if role.refits else 0
    objective = Objective(names, spec.spaces, primary, runner, policy, oof, spec.seed,
                          before_run=_stored_trial_check(role) if spec.stored else None, keep_models=keep,
                          bagging=spec.final_model == "bag" and role.refits, pack_size=spec.pack_size,
                          callbacks=callbacks)

    def room() -> int | None:
        """Trials this process may still start: within ``n_trials`` and the study's target."""
        left = None if spec.n_trials is None else spec.n_trials - objective.counted
        if role.target is not None:
            trials = study.get_trials(deepcopy=False)
            started = counted_trials(trials) + sum(t.state.name == "RUNNING" for t in trials)
            left = role.target - started if left is None else min(left, role.target - started)
        return None if left is None else max(0, left)

    objective.room = room

    def stop_when_over(study: Any, trial: Any) -> None:
        if role.over(study) or policy.out_of_time(names) or room() == 0:
            study.stop()

    def optimize() -> None:
        if not (role.over(study) or room() == 0):
            _optimize(study, objective, [*callbacks, role.after_trial, stop_when_over])

    started = time.monotonic()
    runner.start(budget.trial_deadline(False))
    optimize()
    role.finish(study, optimize, lambda: policy.search_time_left() <= 0)
    resumable = _Resumable(objective, optimize) if isinstance(role, MainRole) and not spec.stored else None
    outcome = SearchOutcome(study, oof, time.monotonic() - started, len(objective.asked), objective.best_number,
                            resumable)
    if role.refits and outcome.best_trial is None:  # a joining process may end with nothing
        raise nothing_completed(study)
    return outcome


def _stored_trial_check(role: MainRole | JoiningRole) -> Callable[[Any], None]:
    """Before a trial of a stored study runs: do not run it (surplus: the process is recorded on it) when
    the counted trials plus those started before it already reach the target."""

    def check(trial: Any) -> None:
        import optuna

        if target_reached(trial.study, role.target, before=trial.number):
            TrialWriter(trial).surplus(f"not run: the study already has its {role.target} trials")
            trial.study.stop()
            raise optuna.TrialPruned("surplus")

    return check


def _optimize(study: Any, objective: Objective, callbacks: list[TrialCallback]) -> None:
    """``study.optimize`` until a callback stops it, going on when another process failed this one's trial as
    stale. No ``n_trials`` is passed: a trial lost that way, or one deferred behind a quick family's, does not
    count towards the target (``room`` in :func:`_run`, which stops the study), but Optuna would count it."""
    while True:
        started_before = len(objective.asked)
        try:
            study.optimize(objective, callbacks=callbacks, catch=(TrialFailed,), gc_after_trial=False)
            return
        except ValueError as exc:
            raise_if_stopped(exc)
            last = objective.asked[-1] if len(objective.asked) > started_before else None
            lost = lost_trial(study, last, exc)
            if lost is None:
                raise
            objective.lost += 1
        except Exception as exc:
            # A Ctrl-C or SIGTERM landing inside Optuna's own trial bookkeeping can surface as another error
            # (UnboundLocalError for 'updated_state' in _run_trial): it is the interrupt, and is raised as one.
            raise_if_stopped(exc)
            raise
        logger.warning(
            "trial %d was failed by another process while this one ran it (its heartbeat came later than "
            "the grace period, e.g. on an overloaded machine); it was queued again and the search goes on",
            lost,
        )
