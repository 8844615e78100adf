"""The search: one Optuna study over ``family -> family__param``, defaults first.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation import Evaluator, get_metric, make_cv_plan
    >>> from automl.families import resolve_families
    >>> X = pd.DataFrame({"a": np.arange(60.0)}); y = (np.arange(60) % 3 == 0).astype(int)
    >>> ev = Evaluator([get_metric("accuracy", "binary")],
    ...                make_cv_plan(3, "binary").splits(60, y, None), task="binary", n_classes=2)
    >>> result = Search(ev, resolve_families(["linear", "knn"], "binary"), n_trials=3, seed=0).run(X, y)
    >>> len(result.study.trials), sorted(result.oof)
    (3, [0, 1, 2])
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.evaluation.cross_validation import PROBE_FOLD, Evaluator, TrialStopped
from automl.exceptions import AllTrialsFailedError, BudgetExhaustedError, StudyMismatchError
from automl.families.base import ModelFamily
from automl.families.registry import family_import_path
from automl.families.torch_common import free_accelerator_memory
from automl.search.budget import Budget
from automl.search.oof import OOFStore
from automl.search.isolation import (
    IsolatedTrials,
    TrialCrashed,
    TrialRaised,
    WorkerLoadError,
    default_memory_limit_mb,
    preload_packages,
)
from automl.search.leaderboard import (
    ATTR_FIT_TIME,
    ATTR_FRACTION,
    ATTR_ORIGIN,
    ATTR_PROBE,
    ATTR_CURVES,
    ATTR_HINTS,
    ATTR_PARAMS,
    ATTR_PREDICT_TIME,
    ATTR_REASON,
    ATTR_SCORES,
    ATTR_SURPLUS,
    ATTR_WORKER,
    trial_params,
    worker_id,
)
from automl.search.storage import open_study
from automl.spaces import SearchSpace
from automl.spaces.portfolio import portfolio_trials

__all__ = ["Search", "SearchResult"]

logger = logging.getLogger("automl")

ATTR_FINGERPRINT = "automl:fingerprint"
#: Study attributes that let workers join: the sweep's settings, the wall-clock time the
#: search ends (or None), the number of counted trials the study should reach (or None),
#: and whether the search has ended.
ATTR_SWEEP = "automl:sweep"
ATTR_DEADLINE = "automl:deadline"
ATTR_TARGET = "automl:trial_target"
ATTR_DONE = "automl:search_done"
#: Seconds between two looks at the study while the main process waits for workers' trials.
DRAIN_POLL_SECONDS = 0.25
#: Nets report their validation score after each epoch of the first fold at step
#: ``EPOCH_STEP_BASE + epoch``, apart from the per-fold steps 0, 1, ...
EPOCH_STEP_BASE = 1000
#: Epochs a net trains before the pruner may stop it.
MIN_EPOCHS_BEFORE_PRUNING = 4
#: Under a time budget, a net's training in one fold ends (best epoch kept) after
#: ``max(MIN_NET_FOLD_SECONDS, budget / (folds * NET_FOLDS_PER_BUDGET))`` seconds, so
#: one net trial takes about a quarter of the budget at most and several fit in it.
NET_FOLDS_PER_BUDGET = 4
MIN_NET_FOLD_SECONDS = 3.0
#: Trials in a row that were not run for lack of time before the search ends.
MAX_NOT_RUN_IN_A_ROW = 3
#: Successive halving at the probe (large data): once this many trials have a probe score,
#: a trial (not a family's defaults) whose probe is not among the best ``1 / PROBE_ETA`` of
#: them is pruned.
PROBE_MIN_TRIALS = 6
PROBE_ETA = 3
#: A trial that would not fit in the time left trains on a share of each fold's rows sized
#: so that its folds and a refit take about this share of the time left.
FIDELITY_TIME_SHARE = 0.8
#: Fit time grows as (rows) ** this (boosting stops later on more rows; sorting is n log n):
#: a probe on a ninth of the rows predicts a full fold about 1.5x slower than a linear guess.
FIDELITY_EXPONENT = 1.2
#: A share below this many times the probe's is taken down to the probe's: the probe's model is
#: then fold 1's, which saves a fold for a few per cent fewer rows.
FIDELITY_SNAP = 1.5


def fidelity_share(probe_seconds: float, probe_fraction: float, time_left: float, n_splits: int) -> float:
    """The share of each fold's training rows a trial trains on, from its probe's seconds.

    A full fold is predicted to take ``probe_seconds * (1 / probe_fraction) ** FIDELITY_EXPONENT``;
    the trial's folds plus a refit (``n_splits + 2`` fits) must take at most
    ``FIDELITY_TIME_SHARE`` of ``time_left``. Never below the probe's own share, and the
    probe's share itself when the fit would be less than ``FIDELITY_SNAP`` times it (the
    evaluator then reuses the probe as fold 1).

    Example:
        >>> fidelity_share(1.0, 0.1, 1000.0, 3), fidelity_share(1.0, 0.1, 40.0, 3)
        (1.0, 0.4697)
    """
    budget = max(time_left, 0.0) * FIDELITY_TIME_SHARE / (n_splits + 2)
    full = probe_seconds * (1.0 / probe_fraction) ** FIDELITY_EXPONENT
    if full <= budget:
        return 1.0
    share = probe_fraction * (budget / max(probe_seconds, 1e-9)) ** (1.0 / FIDELITY_EXPONENT)
    if share < probe_fraction * FIDELITY_SNAP:
        return round(probe_fraction, 4)  # the probe's own share: the probe then serves as fold 1
    return round(min(1.0, share), 4)


def enqueue_first_trials(study: Any, families: Sequence[ModelFamily], spaces: Mapping[str, SearchSpace],
                         task: str) -> list[str]:
    """Queue every family's defaults, then the families' portfolios in turn (entry 1 of each
    family, then entry 2, ...); return the origins queued, in order.

    Example:
        >>> import optuna
        >>> from automl.families import get_family
        >>> fams = [get_family("knn"), get_family("linear")]
        >>> study = optuna.create_study()
        >>> enqueue_first_trials(study, fams, {f.name: f.space() for f in fams}, "binary")
        ['default', 'default', 'portfolio:autogluon_distance']
    """
    origins = []
    for family in families:
        study.enqueue_trial({"family": family.name, **spaces[family.name].optuna_defaults()},
                            user_attrs={ATTR_ORIGIN: "default"})
        origins.append("default")
    queues = [[(family.name, name, params) for name, params in portfolio_trials(spaces[family.name], task)]
              for family in families]
    for round_ in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if round_ < len(queue):
                family_name, name, params = queue[round_]
                study.enqueue_trial({"family": family_name, **params}, user_attrs={ATTR_ORIGIN: f"portfolio:{name}"})
                origins.append(f"portfolio:{name}")
    return origins


def probe_cut(scores: Sequence[float], greater_is_better: bool, eta: int = PROBE_ETA) -> float:
    """The probe score a trial must reach to stay among the best ``1 / eta`` of ``scores``.

    Example:
        >>> probe_cut([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], greater_is_better=True)
        0.5
    """
    values = np.asarray([s for s in scores if math.isfinite(s)], dtype=float)
    q = 1.0 - 1.0 / eta if greater_is_better else 1.0 / eta
    return float(np.quantile(values, q))


def net_fold_seconds(budget_seconds: float | None, n_splits: int) -> float | None:
    """Seconds a net may train in one fold under ``budget_seconds`` (None: no cap).

    Example:
        >>> net_fold_seconds(120, 5), net_fold_seconds(20, 5), net_fold_seconds(None, 5)
        (6.0, 3.0, None)
    """
    if budget_seconds is None:
        return None
    return max(MIN_NET_FOLD_SECONDS, budget_seconds / (max(n_splits, 1) * NET_FOLDS_PER_BUDGET))


def _plain(scores: Mapping[str, list[float]]) -> dict[str, list[float]]:
    return {k: [float(v) for v in vals] for k, vals in scores.items()}


class _TrialFailed(Exception):
    """Marks a trial as failed; its reason is already recorded on the trial."""


@dataclass
class SearchResult:
    """What a search leaves behind.

    Attributes:
        study: The Optuna study (all trials, including earlier runs of a resumed study).
        best_trial: The best completed trial.
        oof: Trial number → out-of-fold predictions (float32) of the best completed trials of
            this run (at most :data:`~automl.search.oof.KEEP_BEST`; large arrays on disk).
        search_time: Seconds the search took.
        n_new_trials: Trials run in this call.
    """

    study: Any
    best_trial: Any
    oof: Mapping[int, np.ndarray] = field(default_factory=dict)
    search_time: float = 0.0
    n_new_trials: int = 0


def make_sampler(seed: int | None) -> Any:
    """TPE, multivariate and grouped (the conditional space family → params), seeded."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def make_pruner(pruner: object) -> Any:
    """``"percentile"`` (default): stop a trial whose running fold mean is in the worst
    quarter after two folds; ``"median"``; ``None``/``"none"``; or an Optuna pruner."""
    import optuna

    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "percentile":
        return optuna.pruners.PercentilePruner(75.0, n_startup_trials=5, n_warmup_steps=1)
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return pruner


def trial_seed(seed: int | None, number: int) -> int:
    """The seed of trial ``number``'s models, derived from the study seed and the trial number.

    Every trial gets its own stream (no two trials share model randomness), and
    the same study seed gives the same seeds, hence the same results on the CPU.

    Example:
        >>> trial_seed(0, 3) == trial_seed(0, 3), trial_seed(0, 3) == trial_seed(0, 4)
        (True, False)
    """
    digest = hashlib.sha256(f"{0 if seed is None else int(seed)}:{int(number)}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def counted_trials(trials: Sequence[Any]) -> int:
    """Trials that count towards a study's trial target.

    Complete and pruned trials count, and failed trials with a recorded reason;
    surplus trials (started after the target was reached) and trials failed by
    a lost heartbeat (queued again) do not.

    Example:
        >>> counted_trials([])
        0
    """
    import optuna

    state = optuna.trial.TrialState
    n = 0
    for t in trials:
        if t.state in (state.COMPLETE, state.PRUNED) and not t.user_attrs.get(ATTR_SURPLUS):
            n += 1
        elif t.state == state.FAIL and ATTR_REASON in t.user_attrs:
            n += 1
    return n


class Search:
    """Runs the study.

    Args:
        evaluator: Runs the fixed folds for one configuration.
        families: Families to choose from, in the order their defaults are tried.
        spaces: Search space per family name (defaults to each family's built-in one).
        time_budget: Seconds for the whole fit (refit included), or ``None``.
        n_trials: Trials to run in this call, or ``None``.
        seed: Seed of the sampler.
        study_name: Name of the study (``None``: a fresh in-memory one).
        storage: Where the study lives (see :mod:`automl.search.storage`).
        pruner: ``"percentile"``, ``"median"``, ``"none"`` or an Optuna pruner.
        fingerprint: Hash of data and settings; a stored study must match it.
        budget: A :class:`Budget` already started (else one starts now).
        refit_scale: All rows over training-part rows (time estimate of the refit).
        tracker: Told when the study opens and after every trial (see :mod:`automl.tracking`).
        tracker_settings: What the tracker records about the search (params and tags).
        role: ``"main"`` creates or resumes the study, enqueues the defaults and
            records the budget and trial target on it; ``"worker"`` joins a study
            that a main process started and runs trials until its deadline or
            target is reached (it never refits).
        sweep: Settings stored on the study (main role) so that workers can rebuild the search.
        isolation: ``"process"``: each trial runs in a reused spawned worker process, which
            is killed and replaced when the trial crashes it, runs past ``trial_timeout``
            or the budget's deadline, or goes over ``trial_memory_limit``; ``"none"``: in
            this process (faster to debug, but a crash ends the search).
        trial_timeout: Seconds a trial may run before it is killed and failed (None: no
            limit of its own; the time budget still applies).
        trial_memory_limit: Resident MiB a trial's process may reach (None: three
            quarters of the machine's memory).
    """

    def __init__(
        self,
        evaluator: Evaluator,
        families: Sequence[ModelFamily],
        spaces: Mapping[str, SearchSpace] | None = None,
        *,
        time_budget: float | None = None,
        n_trials: int | None = None,
        seed: int | None = 0,
        study_name: str | None = None,
        storage: object = None,
        pruner: object = "percentile",
        fingerprint: str = "",
        budget: Budget | None = None,
        refit_scale: float = 1.25,
        tracker: Any = None,
        tracker_settings: Mapping[str, Any] | None = None,
        role: str = "main",
        sweep: Mapping[str, Any] | None = None,
        isolation: str = "process",
        trial_timeout: float | None = None,
        trial_memory_limit: float | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.families = list(families)
        self.spaces = dict(spaces or {})
        for family in self.families:
            self.spaces.setdefault(family.name, family.space())
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.seed = seed
        self.study_name = study_name
        self.storage = storage
        self.pruner = pruner
        self.fingerprint = fingerprint
        self.budget = budget or Budget(time_budget)
        self.refit_scale = refit_scale
        self.tracker = tracker
        self.tracker_settings = dict(tracker_settings or {})
        self.role = role
        self.sweep = dict(sweep) if sweep is not None else None
        self.isolation = isolation
        self.trial_timeout = trial_timeout
        self.trial_memory_limit = trial_memory_limit
        self.study: Any = None
        self._target: int | None = None
        #: Called as ``callback(study, trial)`` after each trial (after the tracker).
        self.callbacks: list[Any] = []

    # -- study ------------------------------------------------------------------------------
    def open_study(self, direction: str) -> Any:
        """Create the study, or load it by name and check it was made for the same data."""
        study, created = open_study(
            self.storage, self.study_name, direction=direction, sampler=make_sampler(self.seed),
            pruner=make_pruner(self.pruner), create=self.role == "main",
        )
        stored = study.user_attrs.get(ATTR_FINGERPRINT)
        if stored is None and self.role == "main":
            study.set_user_attr(ATTR_FINGERPRINT, self.fingerprint)
        elif stored != self.fingerprint:
            raise StudyMismatchError(
                f"study {self.study_name!r} was created for other data or settings (target, columns, task, "
                "metric, cv or families differ); pass a new study_name= to start a fresh search, "
                "or the same data and settings to resume it"
            )
        if study.direction.name.lower() != direction:
            raise StudyMismatchError(f"study {self.study_name!r} was created to {study.direction.name.lower()}")
        if self.role == "main":
            if created:
                enqueue_first_trials(study, self.families, self.spaces, self.evaluator.task)
            if self.study_name is not None:
                self._publish(study)
        return study

    def _publish(self, study: Any) -> None:
        """Record the sweep's settings, deadline and trial target so that workers can join."""
        if self.sweep is not None:
            study.set_user_attr(ATTR_SWEEP, self.sweep)
        deadline = self.budget.search_deadline()
        wall = None if deadline is None else time.time() + (deadline - time.monotonic())
        study.set_user_attr(ATTR_DEADLINE, wall)
        if self.n_trials is not None:
            self._target = counted_trials(study.get_trials(deepcopy=False)) + int(self.n_trials)
        study.set_user_attr(ATTR_TARGET, self._target)
        study.set_user_attr(ATTR_DONE, False)

    def _worker_limits(self, study: Any) -> tuple[bool, int | None, float | None]:
        """For a worker: ``(the search is over, trial target, wall-clock deadline)``, read from the study at once."""
        attrs = study.user_attrs
        deadline = attrs.get(ATTR_DEADLINE)
        deadline = None if deadline is None else float(deadline)
        over = bool(attrs.get(ATTR_DONE)) or (deadline is not None and time.time() >= deadline)
        target = attrs.get(ATTR_TARGET)
        return over, None if target is None else int(target), deadline

    # -- the run ----------------------------------------------------------------------------
    def run(self, X: pd.DataFrame, y: np.ndarray) -> SearchResult:
        """Run trials until ``n_trials`` or the time budget is spent.

        Raises:
            AllTrialsFailedError: no trial completed and some failed (reasons grouped by family).
            BudgetExhaustedError: no trial completed within the time budget.
        """
        import optuna

        primary = self.evaluator.metrics[0]
        optuna_verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            return self._run(X, y, primary)
        finally:
            optuna.logging.set_verbosity(optuna_verbosity)

    def _run(self, X: pd.DataFrame, y: np.ndarray, primary: Any) -> SearchResult:
        import optuna

        study = self.open_study(primary.direction)
        self.study = study
        stored = self.study_name is not None
        me = worker_id()
        if self.role == "worker":
            over, self._target, deadline = self._worker_limits(study)
            if deadline is not None:
                self.budget = Budget(max(0.0, deadline - time.time()))
            if over:
                return SearchResult(study=study, best_trial=None)
        callbacks = []
        if self.tracker is not None:
            self.tracker.on_start(study, self.tracker_settings)
            callbacks.append(self.tracker.on_trial)
        callbacks += self.callbacks
        budget = self.budget
        names = [f.name for f in self.families]
        oof = OOFStore(greater_is_better=primary.greater_is_better)
        fold_seconds: dict[str, list[float]] = defaultdict(list)
        best_so_far: list[float] = []
        not_run = [0]  # trials in a row not run for lack of time
        asked: list[int] = []  # the numbers of the trials this process started

        def typical_fold(family: str) -> float:
            """Median seconds of one fold of ``family`` so far (0 before its first fold)."""
            return float(np.median(fold_seconds[family])) if fold_seconds[family] else 0.0
        n_splits = len(self.evaluator.splits)
        complete_before = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        fold_cap = net_fold_seconds(budget.seconds, n_splits)
        probe_fraction = self.evaluator.probe_fraction
        prune_probes = self.pruner not in (None, "none")
        isolated: list[IsolatedTrials | None] = [self._isolated_trials(X, y)]

        def deadline_for(has_complete: bool) -> float | None:
            """Past this, a trial is out of time (the first one may run to the hard limit)."""
            return budget.search_deadline() if has_complete else budget.hard_deadline()

        def evaluate(family: str, params: dict[str, Any], seed: int, has_complete: bool, **callbacks: Any) -> Any:
            trials = isolated[0]
            if trials is not None:
                try:
                    return trials.evaluate(
                        family, params, seed=seed, deadline=lambda: deadline_for(has_complete), **callbacks
                    )
                except WorkerLoadError as exc:
                    warnings.warn(
                        f"{exc}; trials now run in the search's own process (as with isolation='none'). "
                        "Register families from an importable module to keep them isolated.",
                        RuntimeWarning, stacklevel=2,
                    )
                    trials.close()
                    isolated[0] = None
            return self.evaluator.evaluate(family, params, X, y, seed=seed, **callbacks)

        def objective(trial: optuna.Trial) -> float:
            asked.append(trial.number)
            if stored:
                trial.set_user_attr(ATTR_WORKER, me)
                self._skip_if_surplus(trial)
            family = trial.suggest_categorical("family", names)
            params = self.spaces[family].suggest(trial)
            trial.set_user_attr(ATTR_PARAMS, params)
            has_complete = bool(best_so_far) or complete_before > 0
            typical = typical_fold(family)
            if has_complete and budget.search_time_left() < typical:
                not_run[0] += 1
                if not_run[0] >= MAX_NOT_RUN_IN_A_ROW:
                    trial.study.stop()
                self._stop(trial, "not run: the time budget left is shorter than one fold of this family")
            not_run[0] = 0

            def on_probe(score: float, seconds: float) -> float:
                """Successive halving at the probe; the share of rows the folds train on."""
                if math.isfinite(score):
                    trial.set_user_attr(ATTR_PROBE, float(score))
                if prune_probes and math.isfinite(score) and trial.user_attrs.get(ATTR_ORIGIN) != "default":
                    others = [
                        t.user_attrs[ATTR_PROBE] for t in trial.study.get_trials(deepcopy=False)
                        if t.number != trial.number and ATTR_PROBE in t.user_attrs
                    ]
                    if len(others) >= PROBE_MIN_TRIALS:
                        cut = probe_cut(others, primary.greater_is_better)
                        if not (score >= cut if primary.greater_is_better else score <= cut):
                            raise TrialStopped(
                                f"pruned at the probe: {primary.name}={score:.5g} on {probe_fraction:.0%} of fold 1's "
                                f"training rows is not among the best 1/{PROBE_ETA} of {len(others)} probed trials "
                                f"(needs {cut:.5g})"
                            )
                left = budget.search_time_left()
                if not math.isfinite(left) or not probe_fraction:
                    return 1.0
                return fidelity_share(seconds, float(probe_fraction), left, n_splits)

            def on_fold(fold: int, running: float, seconds: float) -> Any:
                if fold == PROBE_FOLD:
                    return on_probe(running, seconds)
                fold_seconds[family].append(seconds)
                if math.isfinite(running):
                    trial.report(running, fold)
                if fold == n_splits - 1:
                    return
                if trial.should_prune():
                    raise TrialStopped(
                        f"pruned after fold {fold + 1}/{n_splits}: running mean {primary.name}={running:.5g} "
                        "is among the worst of the trials at that fold"
                    )
                deadline = deadline_for(has_complete)
                if deadline is not None and time.monotonic() + seconds > deadline:
                    raise TrialStopped(
                        f"stopped after fold {fold + 1}/{n_splits}: the next fold would overrun the time budget",
                        kind="timeout",
                    )

            def on_epoch(fold: int, epoch: int, value: float, seconds: float) -> bool:
                deadline = deadline_for(has_complete)
                if deadline is not None and time.monotonic() > deadline:
                    where = "the probe" if fold == PROBE_FOLD else f"fold {fold + 1}/{n_splits}"
                    raise TrialStopped(f"stopped in {where} at epoch {epoch + 1}: out of time budget", kind="timeout")
                if fold == PROBE_FOLD:
                    return fold_cap is not None and seconds > fold_cap
                if fold == 0 and math.isfinite(value):
                    trial.report(value, EPOCH_STEP_BASE + epoch)
                    if epoch + 1 >= MIN_EPOCHS_BEFORE_PRUNING and trial.should_prune():
                        raise TrialStopped(
                            f"pruned at epoch {epoch + 1} of fold 1: validation {primary.name}={value:.5g} "
                            "is among the worst of the nets at that epoch"
                        )
                return fold_cap is not None and seconds > fold_cap

            try:
                result = evaluate(
                    family, params, trial_seed(self.seed, trial.number), has_complete,
                    on_fold=on_fold, on_epoch=on_epoch,
                )
            except TrialStopped as stop:
                trial.set_user_attr(ATTR_SCORES, _plain(stop.fold_scores))
                self._stop(trial, stop.reason)
            except Exception as exc:  # noqa: BLE001 - a failing trial never ends the search
                if isinstance(exc, (TrialCrashed, TrialRaised)):
                    reason = exc.reason
                else:
                    reason = f"{type(exc).__name__}: {exc}"
                trial.set_user_attr(ATTR_REASON, reason[:2000])
                logger.warning("trial %d (%s) failed: %s", trial.number, family, reason)
                raise _TrialFailed(reason) from exc
            finally:
                free_accelerator_memory()
            trial.set_user_attr(ATTR_SCORES, _plain(result.fold_scores))
            trial.set_user_attr(ATTR_FIT_TIME, round(result.fit_time, 4))
            trial.set_user_attr(ATTR_PREDICT_TIME, round(result.predict_time, 4))
            trial.set_user_attr(ATTR_HINTS, result.refit_hints)
            if result.fraction < 1.0:
                trial.set_user_attr(ATTR_FRACTION, round(float(result.fraction), 6))
            if result.curves:
                trial.set_user_attr(ATTR_CURVES, {k: [list(p) for p in v] for k, v in result.curves.items()})
            value = result.mean(primary.name)
            if not math.isfinite(value):
                reason = f"{primary.name} is not finite on any fold (got {result.fold_scores[primary.name]})"
                trial.set_user_attr(ATTR_REASON, reason)
                logger.warning("trial %d (%s) failed: %s", trial.number, family, reason)
                raise _TrialFailed(reason)
            oof.add(trial.number, value, result.oof)
            if not best_so_far or primary.is_better(value, best_so_far[0]):
                best_so_far[:] = [value]
                budget.reserve_refit(result.fit_time / max(n_splits, 1), self.refit_scale)
                if isolated[0] is not None:
                    preload_packages(family)  # the refit runs here: import the leader's packages meanwhile
            logger.info("trial %d %s %s=%.5g", trial.number, family, primary.name, value)
            return value

        def stop_when_out_of_time(study: optuna.Study, trial: Any) -> None:
            if self.role == "worker":
                over, self._target, _ = self._worker_limits(study)
                if over:
                    study.stop()
            if stored and self._target_reached(study):
                study.stop()  # the trials under way reach the target: do not start another
            if budget.seconds is None:
                return
            left = budget.search_time_left()
            cheapest = min((typical_fold(n) for n in names), default=0.0)
            if left <= 0 or ((best_so_far or complete_before) and left < cheapest):
                study.stop()

        n_before = len(study.trials)
        started = time.monotonic()

        def optimize(n_trials: int | None) -> None:
            while True:
                started_before = len(asked)
                try:
                    study.optimize(
                        objective,
                        n_trials=n_trials,
                        callbacks=[*callbacks, stop_when_out_of_time],
                        catch=(_TrialFailed,),
                        gc_after_trial=False,
                    )
                    return
                except ValueError as exc:
                    lost = self._lost_trial(study, asked[-1] if len(asked) > started_before else None, exc)
                    if lost is None:
                        raise
                logger.warning(
                    "trial %d was failed by another process while this one ran it (its heartbeat came later than "
                    "the grace period, e.g. on an overloaded machine); it was queued again and the search goes on",
                    lost,
                )
                if n_trials is not None:  # the lost trial does not count: it was queued again
                    n_trials -= len(asked) - started_before - 1
                    if n_trials <= 0:
                        return

        try:
            optimize(self.n_trials)
            if stored and self.role == "main":
                self._drain(study, optimize)
        finally:
            if isolated[0] is not None:
                isolated[0].close()
            if stored and self.role == "main":
                study.set_user_attr(ATTR_DONE, True)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete and self.role == "main":  # a worker may end with nothing: the main process refits
            raise self._nothing_completed(study)
        return SearchResult(
            study=study,
            best_trial=study.best_trial if complete else None,
            oof=oof,
            search_time=time.monotonic() - started,
            n_new_trials=len(study.trials) - n_before,
        )

    def _isolated_trials(self, X: pd.DataFrame, y: np.ndarray) -> IsolatedTrials | None:
        """The worker process for this search's trials (None: they run in this process)."""
        if self.isolation == "none":
            return None
        limit = self.trial_memory_limit if self.trial_memory_limit is not None else default_memory_limit_mb()
        try:
            paths = {f.name: family_import_path(f.name) for f in self.families}
            return IsolatedTrials(
                self.evaluator, X, y, paths, trial_timeout=self.trial_timeout, memory_limit_mb=limit
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a metric or data that cannot be pickled
            warnings.warn(
                f"trials run in the search's own process (as with isolation='none'): the search cannot be "
                f"sent to a worker process ({type(exc).__name__}: {exc})",
                RuntimeWarning, stacklevel=3,
            )
            return None

    def _target_reached(self, study: Any, before: int | None = None) -> bool:
        """Whether the counted trials plus the running ones (numbered below ``before``, if given)
        reach the trial target (never without a target; the study is only read when there is one)."""
        import optuna

        if self._target is None:
            return False
        trials = study.get_trials(deepcopy=False)
        running = sum(
            t.state == optuna.trial.TrialState.RUNNING and (before is None or t.number < before) for t in trials
        )
        return counted_trials(trials) + running >= self._target

    def _skip_if_surplus(self, trial: Any) -> None:
        """Prune ``trial`` unrun when the counted trials plus those started before it reach the target."""
        if self._target_reached(trial.study, before=trial.number):
            trial.set_user_attr(ATTR_SURPLUS, True)
            trial.study.stop()
            self._stop(trial, f"not run: the study already has its {self._target} trials")

    def _drain(self, study: Any, optimize: Any) -> None:
        """Wait for the trials other workers are running; run the trials queued again after a lost worker.

        Stale trials (no heartbeat for the grace period) are failed and queued
        once more; the main process runs what is queued while the target and
        the time budget allow it.
        """
        import optuna

        state = optuna.trial.TrialState
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            trials = study.get_trials(deepcopy=False)
            out_of_time = self.budget.search_time_left() <= 0
            reached = self._target is not None and counted_trials(trials) >= self._target
            if any(t.state == state.WAITING for t in trials) and not out_of_time and not reached:
                optimize(None)
                continue
            if not any(t.state == state.RUNNING for t in trials) or out_of_time:
                return
            time.sleep(DRAIN_POLL_SECONDS)

    @staticmethod
    def _lost_trial(study: Any, number: int | None, error: ValueError) -> int | None:
        """``number`` when that trial, run by this process, was finished by another one (failed as stale).

        Optuna cannot tell a finished trial, so ``study.optimize`` raises at the end
        of such a trial; the trial itself is already failed (and queued again by the
        heartbeat's retry callback), so the search can go on.
        """
        import optuna

        if number is None or not str(error).startswith("Cannot tell a"):
            return None
        trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
        if trial is None or trial.state != optuna.trial.TrialState.FAIL:
            return None
        return number

    @staticmethod
    def _stop(trial: Any, reason: str) -> None:
        import optuna

        trial.set_user_attr(ATTR_REASON, reason)
        raise optuna.TrialPruned(reason)

    def _nothing_completed(self, study: Any) -> Exception:
        import optuna

        by_family: dict[str, list[str]] = defaultdict(list)
        failed = False
        for t in study.trials:
            if t.state == optuna.trial.TrialState.WAITING:
                continue  # queued (defaults, portfolio) but never started
            family, _ = trial_params(t.params)
            reason = t.user_attrs.get(ATTR_REASON, t.state.name.lower())
            by_family[family or "?"].append(reason)
            failed |= t.state == optuna.trial.TrialState.FAIL
        lines = []
        for family, reasons in sorted(by_family.items()):
            counts: dict[str, int] = defaultdict(int)
            for r in reasons:
                counts[r] += 1
            detail = "; ".join(f"{r} (x{n})" if n > 1 else r for r, n in counts.items())
            lines.append(f"  {family}: {detail}")
        body = "\n".join(lines)
        if failed:
            return AllTrialsFailedError(f"every trial failed; reasons by family:\n{body}")
        return BudgetExhaustedError(
            "no trial completed within the time budget; raise time_budget= or use fewer folds "
            f"or lighter families. Trials:\n{body}"
        )
