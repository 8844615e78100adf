"""One trial: suggest a family and its parameters, run the folds (isolated), record the outcome.

The :class:`Objective` is what ``study.optimize`` calls. A trial that is stopped (pruned, out
of time, not run) ends as Optuna's ``TrialPruned``; a trial that fails (raises, crashes,
predicts NaN) ends as :class:`TrialFailed`, which the loop catches: a failing trial never
ends the search. Either way its reason is on its record first.

Example:
    >>> trial_seed(0, 3) == trial_seed(0, 3), trial_seed(0, 3) == trial_seed(0, 4)
    (True, False)
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from automl._device import free_accelerator_memory
from automl._spawn import raise_if_stopped
from automl.evaluation.metrics import Metric
from automl.evaluation.monitor import TrialStopped
from automl.search.first_trials import queue_again, waiting_families
from automl.search.failures import DeadlineKilled, TrialCrashed, TrialRaised
from automl.search.family_failures import FamilyFailures
from automl.search.in_process import Runner
from automl.search.worker_pool import preload_packages
from automl.search.oof import OOFStore
from automl.search.packs import ask_companions, heartbeats
from automl.search.policy import NOT_RUN_FOR_TIME, SearchPolicy
from automl.search.study import derived_seed
from automl.search.trial_monitor import TrialPolicyMonitor
from automl.search.trial_record import TrialWriter, queued_attrs
from automl.spaces import SearchSpace

__all__ = ["Objective", "TrialFailed", "trial_seed"]

logger = logging.getLogger("automl")


def trial_seed(seed: int | None, number: int) -> int:
    """The seed of trial ``number``'s models, derived from the study seed and the trial number.

    Every trial gets its own stream (no two trials share model randomness), and
    the same study seed gives the same seeds, hence the same results on the CPU.
    """
    return derived_seed(0 if seed is None else int(seed), int(number))


class TrialFailed(Exception):
    """A trial failed; its reason is already recorded on it (the loop catches this and goes on)."""


def _defer(trial: Any, reason: str) -> None:
    """End ``trial`` unrun (pruned, not counted): its configuration was queued again, or its family left out."""
    import optuna

    TrialWriter(trial).deferred(reason)
    raise optuna.TrialPruned(reason)


def _stop(trial: Any, reason: str, fold_scores: Mapping[str, Sequence[float]] | None = None) -> None:
    import optuna

    TrialWriter(trial).reason(reason, fold_scores)
    raise optuna.TrialPruned(reason)


class Objective:
    """Runs one trial per call.

    Args:
        families: Family names to choose from.
        spaces: Search space per family.
        primary: The metric the study optimises.
        runner: Runs the folds (in a worker process, or here).
        policy: Answers the trial's events and says when it runs at all.
        oof: Keeps the best trials' out-of-fold predictions.
        seed: The study's seed (each trial's models get :func:`trial_seed`).
        before_run: Called with the trial before anything runs (a joining process checks the
            trial target there; it may stop the trial).
        keep_models: How many of the best trials' fold models the runner keeps (0: none, a joining
            process; 1: the best's, the last resort).
        bagging: Whether the final model is a bag of the best trial's fold models when the runner holds
            them (the search then keeps no time for that trial's refit).
        pack_size: Most trials of a packable net family run as one pack (1: every trial alone); see
            :mod:`automl.search.packs`.
        room: How many more trials this process may start (None: no limit), so that a pack does not pass
            the trial target.
        callbacks: ``callback(study, frozen_trial)`` for the pack companions this object tells the study
            itself (``study.optimize`` calls them for the trials it runs).
    """

    def __init__(self, families: Sequence[str], spaces: Mapping[str, SearchSpace], primary: Metric, runner: Runner,
                 policy: SearchPolicy, oof: OOFStore, seed: int | None,
                 before_run: Callable[[Any], None] | None = None, keep_models: int = 1,
                 bagging: bool = False, pack_size: int = 1, room: Callable[[], int | None] | None = None,
                 callbacks: Sequence[Callable[[Any, Any], None]] = ()) -> None:
        self.families = list(families)
        self.spaces = spaces
        self.primary = primary
        self.runner = runner
        self.policy = policy
        self.oof = oof
        self.seed = seed
        self.before_run = before_run
        self.keep_models = keep_models
        self.bagging = bagging
        self.pack_size = pack_size
        self.room = room
        self.callbacks = list(callbacks)
        #: The numbers of the trials this process started, in order.
        self.asked: list[int] = []
        #: Trials of ``asked`` another process failed as stale while this one ran them (queued again: not counted).
        self.lost = 0
        #: Trials of ``asked`` queued again behind a quick family's, not run (not counted either).
        self.deferred = 0
        #: The best trial this process completed (its fold models are kept by the runner).
        self.best_number: int | None = None
        #: Each family's failed and completed trials here: a family whose every trial fails is left out.
        self.failures = FamilyFailures()

    @property
    def counted(self) -> int:
        """Trials this process started that count towards ``n_trials`` (not those lost or deferred)."""
        return len(self.asked) - self.lost - self.deferred

    def __call__(self, trial: Any) -> float:
        raise_if_stopped()  # a SIGTERM or Ctrl-C lost in the last trial (or a callback) ends the search here
        self.asked.append(trial.number)
        if self.before_run is not None:
            self.before_run(trial)
        family, params = self._start(trial)
        companions = self._companions(trial, family, params)
        if companions:
            return self._run_pack(trial, family, params, companions)
        return self._settle(trial, family, self._run(trial, family, params))

    def _start(self, trial: Any) -> tuple[str, dict[str, Any]]:
        """Suggest the trial's family and parameters and record them; stop it here if the policy skips it."""
        family, params = self._suggest(trial)
        TrialWriter(trial).started(params)
        left_out = self.failures.left_out_reason(family)
        if left_out is not None:  # not counted, not queued again: the other families get the trials
            self.deferred += 1
            if self.failures.all_left_out(self.families):
                trial.study.stop()
            _defer(trial, left_out)
        wait = self.policy.waits_for_quick(family, lambda: waiting_families(trial.study))
        if wait is not None:
            queue_again(trial)
            self.deferred += 1
            _defer(trial, wait)
        reason = self.policy.skip_reason(family)
        if reason is not None:
            if self.policy.stop_after_skips:
                trial.study.stop()
            if reason == NOT_RUN_FOR_TIME and queued_attrs(trial):  # a chosen configuration waits for more time
                queue_again(trial)
                self.deferred += 1
                _defer(trial, f"{reason}; queued again")
            _stop(trial, reason)
        return family, params

    def _suggest(self, trial: Any) -> tuple[str, dict[str, Any]]:
        """The trial's family and parameters. A trial queued with Optuna's own tools (``study.enqueue_trial``) may
        hold values the space refuses (an unknown family, a bound crossed): it fails with the reason, and the search
        goes on (it raised Optuna's bare ValueError, or blamed the shipped space file, and ended the search)."""
        try:
            family = trial.suggest_categorical("family", self.families)
            return family, self.spaces[family].suggest(trial)
        except ValueError as exc:  # SearchSpaceError is one
            queued = _queued_params(trial)
            if not queued:
                raise
            reason = (f"its queued parameters are outside the search space ({exc}); queued: "
                      f"{dict(queued)}"[:500])
            TrialWriter(trial).reason(reason)
            logger.warning("trial %d failed: %s", trial.number, reason)
            raise TrialFailed(reason) from exc

    def _run(self, trial: Any, family: str, params: Mapping[str, Any]) -> Any:
        """The trial's :class:`CVResult`, or the exception that ended it."""
        monitor = TrialPolicyMonitor(self.policy, trial, family)
        try:
            return self.runner.evaluate(family, params, seed=trial_seed(self.seed, trial.number), monitor=monitor,
                                        deadline=monitor.deadline)
        except (TrialStopped, DeadlineKilled) as stop:  # e.g. the worker had not started by the deadline
            return stop
        except Exception as exc:  # noqa: BLE001 - a failing trial never ends the search
            raise_if_stopped(exc)  # ... unless it is a SIGTERM or Ctrl-C that the code it cut turned into this
            return exc
        finally:
            free_accelerator_memory()

    def _settle(self, trial: Any, family: str, outcome: Any, member: int | None = None) -> float:
        """Record the trial's outcome: its value (returned), or its stop (``TrialPruned``) or failure
        (:class:`TrialFailed`) raised. The runner holds its fold models (of the last pack's ``member``-th
        member if given), to keep if it is among the best."""
        if isinstance(outcome, (TrialStopped, DeadlineKilled)):
            if isinstance(outcome, DeadlineKilled) or outcome.kind == "timeout":
                self.policy.stopped_for_time()
            _stop(trial, outcome.reason, getattr(outcome, "fold_scores", None))
        if isinstance(outcome, BaseException):
            reason = (outcome.reason if isinstance(outcome, (TrialCrashed, TrialRaised))
                      else f"{type(outcome).__name__}: {outcome}")
            self._fail(trial, family, reason, outcome)
        result = outcome
        TrialWriter(trial).result(result)
        value = result.mean(self.primary.name)
        if not math.isfinite(value):
            self._fail(trial, family, f"{self.primary.name} is not finite on any fold (got "
                                       f"{result.fold_scores[self.primary.name]})")
        self.failures.completed(family)
        self.oof.add(trial.number, value, result.oof, result.oof_repeats)
        retain = self.oof.best(self.keep_models)
        if trial.number in retain:  # its fold models: a bag for the final stage, or the last resort
            self.runner.keep(trial.number, retain, member)
        if self.policy.completed(family, value, result.fit_time, result.fraction,
                                 result.fold_scores[self.primary.name]):
            self.best_number = trial.number
            if self.runner.isolated:
                preload_packages(family)  # the final model comes back here: import its packages meanwhile
        best = self.best_number  # set: this trial completed
        self.policy.bagged_best = self.bagging and best is not None and self.runner.holds(best)
        logger.info("trial %d %s %s=%.5g", trial.number, family, self.primary.name, value)
        return value

    # -- packs of net trials (see automl.search.packs) ------------------------------------------
    def _companions(self, trial: Any, family: str, params: Mapping[str, Any]) -> list[tuple[Any, bool]]:
        from automl.families.registry import get_family

        if self.pack_size <= 1 or not get_family(family).packable:
            return []
        room = self.room() if self.room is not None else None
        count = self.policy.pack_members(family, self.pack_size) - 1  # under a budget: as many as time allows
        count = count if room is None else min(count, room)
        return ask_companions(trial.study, trial, family, params, self.spaces[family], count)

    def _run_pack(self, leader: Any, family: str, params: dict[str, Any], companions: list[tuple[Any, bool]]) -> float:
        """Run the leader and its companions as one pack; settle the companions (told to the study here, the
        callbacks called), then the leader (returned to ``study.optimize``). A trial another process queued
        that came instead of a companion runs alone after the pack."""
        import optuna

        members, foreign = [(leader, params)], []
        for other, ours in companions:
            self.asked.append(other.number)
            if not ours:
                foreign.append(other)
                continue
            try:
                if self.before_run is not None:
                    self.before_run(other)
                members.append((other, self._start(other)[1]))
            except optuna.TrialPruned:
                self._tell(other, optuna.trial.TrialState.PRUNED)
        monitors = [TrialPolicyMonitor(self.policy, t, family) for t, _ in members]
        with heartbeats([t for t, _ in members[1:]]):
            try:
                outcomes = self.runner.evaluate_pack(family, [p for _, p in members],
                                                     seed=trial_seed(self.seed, leader.number), monitors=monitors,
                                                     deadline=monitors[0].deadline)
            finally:
                free_accelerator_memory()
        raise_if_stopped()
        for member, ((other, _), outcome) in enumerate(zip(members[1:], outcomes[1:]), start=1):
            self._settle_told(other, functools.partial(self._settle, other, family, outcome, member))
        try:  # the leader before a foreign trial, whose run drops the pack's fold models
            value = self._settle(leader, family, outcomes[0], 0)
        except (optuna.TrialPruned, TrialFailed):  # for study.optimize, once the foreign trials have run
            self._run_foreign(foreign)
            raise
        self._run_foreign(foreign)
        return value

    def _run_foreign(self, trials: list[Any]) -> None:
        for other in trials:
            self._settle_told(other, functools.partial(self._alone, other))

    def _alone(self, trial: Any) -> float:
        family, params = self._start(trial)
        return self._settle(trial, family, self._run(trial, family, params))

    def _settle_told(self, trial: Any, settle: Callable[[], float]) -> None:
        """Settle a trial ``study.optimize`` does not run, and tell the study how it ended."""
        import optuna

        try:
            value = settle()
        except optuna.TrialPruned:
            self._tell(trial, optuna.trial.TrialState.PRUNED)
        except TrialFailed:
            self._tell(trial, optuna.trial.TrialState.FAIL)
        else:
            self._tell(trial, optuna.trial.TrialState.COMPLETE, value)

    def _tell(self, trial: Any, state: Any, value: float | None = None) -> None:
        frozen = trial.study.tell(trial, value, state=state)
        for callback in self.callbacks:
            callback(trial.study, frozen)

    def _fail(self, trial: Any, family: str, reason: str, cause: BaseException | None = None) -> None:
        self.failures.failed(family, reason)
        TrialWriter(trial).reason(reason)
        logger.warning("trial %d (%s) failed: %s", trial.number, family, reason)
        raise TrialFailed(reason) from cause


def _queued_params(trial: Any) -> dict[str, Any]:
    """The parameters ``study.enqueue_trial`` fixed for a live trial (Optuna keeps them in its frozen trial's
    system attributes; a live trial no longer shows them)."""
    frozen = [t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number]
    return dict(frozen[0].system_attrs.get("fixed_params") or {}) if frozen else {}
