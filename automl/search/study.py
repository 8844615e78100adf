"""The study of a search: open or join it, queue its first trials, publish and read its limits.

A search runs one Optuna study over the conditional space ``family -> family__param``. The
process that starts it (the *main* role) creates or resumes the study, checks that a stored
one was made for the same data and settings (its fingerprint), queues its first trials
(:mod:`automl.search.first_trials`), and records the deadline and trial target so that other
processes can *join* it (:mod:`automl.search.runner` has both roles).

Example:
    >>> derived_seed(0, 1) == derived_seed(0, 1), derived_seed(0, 1) == derived_seed(0, 2)
    (True, False)
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from automl.exceptions import AllTrialsFailedError, BudgetExhaustedError, StudyMismatchError
from automl.search.storage import open_study
from automl.search.trial_record import StudyRecord, StudyWriter, TrialRecord, counted_trials

__all__ = [
    "DRAIN_POLL_SECONDS", "FOLD_VIEW_MAX_AGE", "FoldPruning", "StudyLimits", "derived_seed", "drain",
    "lost_trial", "make_pruner", "make_sampler", "nothing_completed", "open_checked_study",
    "publish_limits", "read_limits", "target_reached",
]

logger = logging.getLogger("automl")

#: Seconds between two looks at the study while the main process waits for other processes' trials.
DRAIN_POLL_SECONDS = 0.25


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


def running_means(scores: Sequence[float]) -> dict[int, float]:
    """Fold index -> mean of the finite scores up to that fold (folds with none finite yet are left out).

    Example:
        >>> running_means([0.5, float("nan"), 0.7])
        {0: 0.5, 1: 0.5, 2: 0.6}
    """
    out, finite = {}, []
    for fold, score in enumerate(scores):
        if math.isfinite(float(score)):
            finite.append(float(score))
        if finite:
            out[fold] = sum(finite) / len(finite)
    return out


#: Seconds a trial's view of the other trials serves its later folds before it is read again. In one
#: process no other trial finishes meanwhile, so the view is exact; with several workers, a trial judges
#: its folds against the trials that had finished up to this long before (each read of a study in a
#: database costs several round trips: reading it once a fold was most of a short trial's storage cost).
FOLD_VIEW_MAX_AGE = 5.0


class _FoldView:
    """The study as the pruner sees it at a fold: each trial's intermediate values are the running
    means of its ``automl:fold_scores`` (everything else is the study's own). The trials are read once
    and kept for :data:`FOLD_VIEW_MAX_AGE` seconds."""

    def __init__(self, study: Any, metric: str) -> None:
        self._study = study
        self._metric = metric
        self._read_at = -math.inf
        self._trials: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _snapshot(self) -> list[Any]:
        if time.monotonic() - self._read_at > FOLD_VIEW_MAX_AGE:
            self._trials = []
            for trial in self._study.get_trials(deepcopy=False):
                view = copy.copy(trial)
                view.intermediate_values = running_means(TrialRecord.read(trial).fold_scores.get(self._metric, []))
                self._trials.append(view)
            self._read_at = time.monotonic()
        return self._trials

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[Any]:
        return [t for t in self._snapshot() if states is None or t.state in states]

    @property
    def trials(self) -> list[Any]:
        return self.get_trials()


class FoldPruning:
    """Whether the study's pruner stops a live trial on its folds' running means so far.

    Optuna's intermediate values hold what its dashboard charts as one curve per trial: a net's epochs
    (:class:`~automl.search.trial_monitor.TrialPolicyMonitor`). Folds are judged apart from them, on a view of the
    study in which every trial's intermediate values are the running means of its fold scores
    (``automl:fold_scores``, the record every trial keeps) and this trial's are the running means given;
    any pruner that reads trials through ``study.get_trials`` works on it unchanged. Without a pruner
    (``pruner="none"``) the study is never read.

    Args:
        trial: The live Optuna trial.
        metric: The metric its folds are judged on.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=0))
        >>> FoldPruning(study.ask(), "rmse").pruned({0: 0.5})  # no completed trial to compare with
        False
    """

    def __init__(self, trial: Any, metric: str) -> None:
        import optuna

        self.trial = trial
        self._view = _FoldView(trial.study, metric)
        self._active = not isinstance(trial.study.pruner, optuna.pruners.NopPruner)

    @property
    def active(self) -> bool:
        """Whether the study has a pruner (``pruner="none"``: it has none, and no trial is stopped on its scores)."""
        return self._active

    def pruned(self, running: Mapping[int, float]) -> bool:
        """Whether the pruner stops the trial, given its running means ``fold -> mean`` so far."""
        if not self._active or not running:
            return False
        me = next((t for t in self._view.get_trials(deepcopy=False) if t.number == self.trial.number), None)
        if me is None:
            return False
        me = copy.copy(me)
        me.intermediate_values = dict(running)
        return bool(self.trial.study.pruner.prune(self._view, me))


def open_checked_study(storage: object, study_name: str | None, *, direction: Literal["maximize", "minimize"],
                       seed: int | None,
                       pruner: object, fingerprint: str, create: bool, metric: str | None = None,
                       parts: Mapping[str, str] | None = None) -> tuple[Any, bool]:
    """Open (``create``: or create) the study; a stored one must carry ``fingerprint``. ``metric`` names
    the objective for Optuna's own tools (``study.metric_names``, shown by optuna-dashboard).

    Returns:
        ``(study, created_here)``.

    Raises:
        StudyMismatchError: the stored study was made for other data or settings, or the other direction.
        StudyNotFoundError: ``create=False`` and there is no such study.
    """
    study, created = open_study(storage, study_name, direction=direction, sampler=make_sampler(seed),
                                pruner=make_pruner(pruner), create=create)
    record = StudyRecord.read(study)
    _refuse_foreign(study, study_name, record, created, direction)  # before any write to a study not ours
    if record.fingerprint is None and create:
        StudyWriter(study).fingerprint(fingerprint, parts)
    elif record.fingerprint != fingerprint:
        raise StudyMismatchError(
            f"study {study_name!r} was created for other data or settings ({_what_differs(record, parts)}); "
            "pass a new study_name= to start a fresh search, or the same data and settings to resume it"
        )
    if create and metric is not None and study.metric_names is None:
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # experimental in Optuna 3-4
            study.set_metric_names([metric])
    if not created:
        study.sampler = make_sampler(_continued_seed(seed, len(study.get_trials(deepcopy=False)), joining=not create))
    return study, created


def _refuse_foreign(study: Any, study_name: str | None, record: StudyRecord, created: bool, direction: str) -> None:
    """Refuse, before anything is written to it, a stored study automl cannot search: one of several objectives,
    the other direction, or one made by other code (no fingerprint) that already holds trials that ran or
    attributes. A study with no fingerprint and nothing in it is one another process of this search created a
    moment ago (or an empty one), and one holding only queued trials a plan for this search: they are taken."""
    if len(study.directions) > 1:
        raise StudyMismatchError(f"study {study_name!r} has {len(study.directions)} objectives; automl searches one "
                                 "metric: pass another study_name= for a study of its own")
    if study.direction.name.lower() != direction:
        raise StudyMismatchError(f"study {study_name!r} was created to {study.direction.name.lower()}")
    if created or record.fingerprint is not None:
        return
    import optuna

    # Trials queued for automl with Optuna's own tools (waiting, never run) are a plan for this search, not a study
    # of another program's.
    held = sum(t.state != optuna.trial.TrialState.WAITING for t in study.get_trials(deepcopy=False))
    if held or study.user_attrs:
        raise StudyMismatchError(
            f"study {study_name!r} exists in this storage but was not created by automl ({held} trial(s), no "
            "automl fingerprint): automl does not search in another program's study; pass another study_name=")


def _what_differs(record: StudyRecord, parts: Mapping[str, str] | None) -> str:
    """The parts of the fingerprint that differ from the stored study's, settings shown then and now; the generic
    list for a study stored before the parts were (or a caller that gives none).

    Example:
        >>> stored = StudyRecord(fingerprint="x", fingerprint_parts={"the metric": "roc_auc", "the target": "sha256:1"})
        >>> _what_differs(stored, {"the metric": "accuracy", "the target": "sha256:2"})
        'the metric (roc_auc then, accuracy now) and the target differ'
    """
    stored = record.fingerprint_parts or {}
    if not stored or not parts:
        return "target, columns, task, metric, cv or families differ"
    names = []
    for name, value in parts.items():
        if name in stored and stored[name] != value:
            hashed = any(str(v).startswith("sha256:") for v in (stored[name], value))
            names.append(name if hashed else f"{name} ({stored[name]} then, {value} now)")
    if not names:
        return "the settings' format changed"
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    plural = len(names) > 1 or " or " in names[0] or " and " in names[0]  # "the families or their search spaces"
    return listed + (" differ" if plural else " differs")


def _continued_seed(seed: int | None, n_trials: int, joining: bool) -> int | None:
    """The sampler's seed in a process that resumes (or joins) a study holding ``n_trials`` trials.

    The sampler's random start-up phase would otherwise draw, from the same seed, the very configurations
    the first run drew (a resumed study repeated them); a joining process also mixes in its process id,
    so that processes joining at the same moment do not draw the same ones. A fresh study keeps ``seed``.

    Example:
        >>> _continued_seed(0, 5, False) == _continued_seed(0, 5, False) != _continued_seed(0, 6, False)
        True
    """
    if seed is None:
        return None
    return derived_seed(seed, n_trials, os.getpid() if joining else "")


def derived_seed(*parts: object) -> int:
    """A seed in ``[0, 2**31)`` drawn from ``parts`` (the same parts give the same seed, on every machine).

    Example:
        >>> derived_seed(0, 3) == derived_seed(0, 3) != derived_seed(0, 4)
        True
    """
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class StudyLimits:
    """What a joining process reads from the study: whether the search is over, its trial
    target and its wall-clock deadline."""

    over: bool
    target: int | None
    deadline: float | None


def publish_limits(study: Any, search_deadline_wall: float | None, n_trials: int | None,
                   sweep: Mapping[str, Any] | None) -> int | None:
    """Record the sweep's settings, deadline and trial target for joining processes; return the target."""
    writer = StudyWriter(study)
    if sweep is not None:
        writer.sweep(sweep)
    target = None if n_trials is None else counted_trials(study.get_trials(deepcopy=False)) + int(n_trials)
    writer.limits(search_deadline_wall, target)
    return target


def read_limits(study: Any) -> StudyLimits:
    """The limits a main process published (one read of the study's attributes)."""
    record = StudyRecord.read(study)
    over = record.done or (record.deadline is not None and time.time() >= record.deadline)
    return StudyLimits(over, record.target, record.deadline)


def target_reached(study: Any, target: int | None, before: int | None = None) -> bool:
    """Whether the counted trials plus the running ones (numbered below ``before``, if given)
    reach ``target`` (never without one; the study is only read when there is one)."""
    if target is None:
        return False
    trials = study.get_trials(deepcopy=False)
    running = sum(t.state.name == "RUNNING" and (before is None or t.number < before) for t in trials)
    return counted_trials(trials) + running >= target


def drain(study: Any, optimize: Callable[[], None], out_of_time: Callable[[], bool],
          target: int | None) -> None:
    """Wait for the trials other processes are running; run the trials queued again after a lost one.

    Stale trials (no heartbeat for the grace period) are failed and queued once more; the
    main process runs what is queued while the target and the time budget allow it.
    """
    import optuna

    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        late = out_of_time()
        reached = target is not None and counted_trials(trials) >= target
        if any(t.state.name == "WAITING" for t in trials) and not late and not reached:
            optimize()
            continue
        if not any(t.state.name == "RUNNING" for t in trials) or late:
            return
        time.sleep(DRAIN_POLL_SECONDS)


def lost_trial(study: Any, number: int | None, error: ValueError) -> int | None:
    """``number`` when that trial, run by this process, was finished by another one (failed as stale).

    Optuna cannot tell a finished trial, so ``study.optimize`` raises at the end of such a
    trial; the trial itself is already failed (and queued again by the heartbeat's retry
    callback), so the search can go on.
    """
    if number is None or not str(error).startswith("Cannot tell a"):
        return None
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None or trial.state.name != "FAIL":
        return None
    return number


def nothing_completed(study: Any) -> Exception:
    """The error of a search where no trial completed: every failure reason, grouped by family."""
    by_family: dict[str, list[str]] = defaultdict(list)
    failed = False
    for record in map(TrialRecord.read, study.get_trials(deepcopy=False)):
        if record.state == "waiting":
            continue  # queued (defaults, portfolio) but never started
        by_family[record.family or "?"].append(record.reason if record.has_reason else record.state)
        failed |= record.state == "fail"
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
