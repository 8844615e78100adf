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

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from automl._device import free_accelerator_memory
from automl._spawn import raise_if_stopped
from automl.evaluation.metrics import Metric
from automl.evaluation.monitor import TrialStopped
from automl.search.failures import DeadlineKilled, TrialCrashed, TrialRaised
from automl.search.in_process import Runner
from automl.search.worker_pool import preload_packages
from automl.search.oof import OOFStore
from automl.search.policy import SearchPolicy
from automl.search.study import derived_seed
from automl.search.trial_record import TrialWriter
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
    """

    def __init__(self, families: Sequence[str], spaces: Mapping[str, SearchSpace], primary: Metric, runner: Runner,
                 policy: SearchPolicy, oof: OOFStore, seed: int | None,
                 before_run: Callable[[Any], None] | None = None, keep_models: int = 1,
                 bagging: bool = False) -> None:
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
        #: The numbers of the trials this process started, in order.
        self.asked: list[int] = []
        #: The best trial this process completed (its fold models are kept by the runner).
        self.best_number: int | None = None

    def __call__(self, trial: Any) -> float:
        raise_if_stopped()  # a SIGTERM or Ctrl-C lost in the last trial (or a callback) ends the search here
        self.asked.append(trial.number)
        if self.before_run is not None:
            self.before_run(trial)
        family = trial.suggest_categorical("family", self.families)
        params = self.spaces[family].suggest(trial)
        writer = TrialWriter(trial)
        writer.started(params)
        reason = self.policy.skip_reason(family)
        if reason is not None:
            if self.policy.stop_after_skips:
                trial.study.stop()
            _stop(trial, reason)
        result = self._run(trial, family, params, writer)
        writer.result(result)
        value = result.mean(self.primary.name)
        if not math.isfinite(value):
            self._fail(trial, family, f"{self.primary.name} is not finite on any fold (got "
                                       f"{result.fold_scores[self.primary.name]})")
        self.oof.add(trial.number, value, result.oof, result.oof_repeats)
        retain = self.oof.best(self.keep_models)
        if trial.number in retain:  # its fold models: a bag for the final stage, or the last resort
            self.runner.keep(trial.number, retain)
        if self.policy.completed(family, value, result.fit_time, result.fraction):
            self.best_number = trial.number
            if self.runner.isolated:
                preload_packages(family)  # the final model comes back here: import its packages meanwhile
        best = self.best_number  # set: this trial completed
        self.policy.bagged_best = self.bagging and best is not None and self.runner.holds(best)
        logger.info("trial %d %s %s=%.5g", trial.number, family, self.primary.name, value)
        return value

    def _run(self, trial: Any, family: str, params: Mapping[str, Any], writer: TrialWriter) -> Any:
        monitor = self.policy.monitor(trial, family)
        try:
            return self.runner.evaluate(family, params, seed=trial_seed(self.seed, trial.number), monitor=monitor,
                                        deadline=monitor.deadline)
        except TrialStopped as stop:
            _stop(trial, stop.reason, stop.fold_scores)
        except DeadlineKilled as late:  # e.g. the worker had not started by the deadline: out of time, not failed
            _stop(trial, late.reason)
        except Exception as exc:  # noqa: BLE001 - a failing trial never ends the search
            raise_if_stopped(exc)  # ... unless it is a SIGTERM or Ctrl-C that the code it cut turned into this
            reason = exc.reason if isinstance(exc, (TrialCrashed, TrialRaised)) else f"{type(exc).__name__}: {exc}"
            self._fail(trial, family, reason, exc)
        finally:
            free_accelerator_memory()
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _fail(trial: Any, family: str, reason: str, cause: BaseException | None = None) -> None:
        TrialWriter(trial).reason(reason)
        logger.warning("trial %d (%s) failed: %s", trial.number, family, reason)
        raise TrialFailed(reason) from cause
