"""What a trial and a study store in Optuna, read and written here and nowhere else.

Every trial keeps its per-fold scores, times, parameters and (if any) the reason it
stopped as Optuna user attributes under ``automl:*`` keys, so a leaderboard, a tracker or
a resumed search can rebuild everything from any storage, from another process. The study
keeps what lets other processes join it (the fingerprint of its data and settings, the
sweep's settings, the deadline and trial target) and the MLflow run it is logged to.

:class:`TrialRecord` is the typed, read-only view of one trial; :class:`TrialWriter`
writes onto a running trial; :class:`StudyRecord` and :class:`StudyWriter` do the same
for the study. The key strings are part of the stored-study format: never change them.

Example:
    >>> import optuna
    >>> study = optuna.create_study(direction="maximize")
    >>> trial = study.ask({"family": optuna.distributions.CategoricalDistribution(["knn"])})
    >>> TrialWriter(trial).started({"n_neighbors": 5})
    >>> TrialWriter(trial).scores({"roc_auc": [0.8, 0.9]})
    >>> study.tell(trial, 0.85)
    FrozenTrial(...)
    >>> record = TrialRecord.read(study.trials[0])
    >>> record.family, record.params, record.fold_scores["roc_auc"], record.state
    ('knn', {'n_neighbors': 5}, [0.8, 0.9], 'complete')
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "StudyRecord",
    "StudyWriter",
    "TrialRecord",
    "TrialWriter",
    "compact_curves",
    "counted_trials",
    "chosen_on_purpose",
    "is_scale_trial",
    "origin_attrs",
    "queued_attrs",
    "trial_params",
    "worker_id",
]

# -- the stored keys (the format of a stored study) ----------------------------------------------
_SCORES = "automl:fold_scores"
_REASON = "automl:reason"
_FIT_TIME = "automl:fit_time"
_PREDICT_TIME = "automl:predict_time"
_HINTS = "automl:refit_hints"
_PARAMS = "automl:params"
_CURVES = "automl:curves"
_WORKER = "automl:worker"  # which process ran the trial (host:pid)
_SURPLUS = "automl:surplus"  # started after the trial target was reached: not run
_DEFERRED = "automl:deferred"  # queued again behind a quick family's trial: not run (it runs later, as a new trial)
_ORIGIN = "automl:origin"  # default, zero_shot:<family>:<name>, portfolio:<name>, or absent (the sampler's)
_SCALE = "automl:scale_trial"  # the first family's defaults on one scale of the target (automl.search.first_trials)
_FRACTION = "automl:rows_fraction"  # share of each training fold's rows, when below 1
_PROBE = "automl:probe_score"  # score of the probe on a subsample of fold 1

_FINGERPRINT = "automl:fingerprint"
_FINGERPRINT_PARTS = "automl:fingerprint_parts"
_SWEEP = "automl:sweep"
_DEADLINE = "automl:deadline"
_TARGET = "automl:trial_target"
_DONE = "automl:search_done"
_PARENT_RUN = "automl:mlflow_parent_run"
_PORTFOLIOS = "automl:portfolios_queued"  # False while the portfolios wait for the target's scale
_FINAL = "automl:final_model"  # what predict uses: {"kind": "trial", "trial": n, ...} or {"kind": "ensemble", ...}


def worker_id() -> str:
    """``host:pid`` of this process, recorded on each trial it runs.

    Example:
        >>> worker_id().endswith(str(os.getpid()))
        True
    """
    return f"{socket.gethostname()}:{os.getpid()}"


def trial_params(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split Optuna params ``{"family": f, "f__p": v}`` into ``(f, {"p": v})``.

    Example:
        >>> trial_params({"family": "knn", "knn__p": 1})
        ('knn', {'p': 1})
    """
    family = str(params.get("family", ""))
    prefix = f"{family}__"
    return family, {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


#: Points a learning curve keeps on the trial (evenly spaced steps, the first and last kept), each value
#: to :data:`CURVE_DIGITS` significant digits: a compact shape for the MLflow child run's step metrics,
#: which keeps every trial's user attributes (what optuna-dashboard lists) to a few hundred bytes a curve.
CURVE_POINTS = 16
CURVE_DIGITS = 4


def compact_curves(curves: Mapping[str, Sequence[Sequence[float]]]) -> dict[str, list[list[float]]]:
    """``name -> [[step, value], ...]`` thinned to :data:`CURVE_POINTS` points of :data:`CURVE_DIGITS` digits.

    Example:
        >>> compact_curves({"valid_loss": [(s, 1 / (s + 3)) for s in range(100)]})["valid_loss"][:3]
        [[0, 0.3333], [7, 0.1], [13, 0.0625]]
    """
    out = {}
    for name, points in curves.items():
        points = list(points)
        keep = sorted({round(i * (len(points) - 1) / (CURVE_POINTS - 1)) for i in range(CURVE_POINTS)}) if points else []
        out[str(name)] = [[int(points[i][0]), float(f"{float(points[i][1]):.{CURVE_DIGITS}g}")] for i in keep]
    return out


def chosen_on_purpose(origin: str) -> bool:
    """Whether a trial of ``origin`` was queued as a first trial on its own merits (a family's defaults or
    a learned first trial, :mod:`automl.spaces.zero_shot`): the probe's halving spares it.

    Example:
        >>> chosen_on_purpose("zero_shot:lightgbm:default"), chosen_on_purpose("portfolio:xt")
        (True, False)
    """
    return origin == "default" or origin.startswith("zero_shot:")


def origin_attrs(origin: str, scale: bool = False) -> dict[str, Any]:
    """The user attributes of a trial queued for ``origin`` (``default``, ``zero_shot:<family>:<name>`` or
    ``portfolio:<name>``); ``scale``: one of the scale trials (:mod:`automl.search.first_trials`).

    Example:
        >>> origin_attrs("default"), origin_attrs("default", scale=True)
        ({'automl:origin': 'default'}, {'automl:origin': 'default', 'automl:scale_trial': True})
    """
    return {_ORIGIN: origin, _SCALE: True} if scale else {_ORIGIN: origin}


def queued_attrs(trial: Any) -> dict[str, Any]:
    """The user attributes ``trial`` was queued with (:func:`origin_attrs`: its origin, whether a scale trial).

    Example:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> study.enqueue_trial({"x": 1.0}, user_attrs=origin_attrs("default", scale=True))
        >>> trial = study.ask(); trial.set_user_attr("automl:other", 1)
        >>> queued_attrs(trial)
        {'automl:origin': 'default', 'automl:scale_trial': True}
    """
    return {key: value for key, value in trial.user_attrs.items() if key in (_ORIGIN, _SCALE)}


def is_scale_trial(trial: Any) -> bool:
    """Whether ``trial`` (frozen or live) is one of the scale trials (:mod:`automl.search.first_trials`)."""
    return bool(trial.user_attrs.get(_SCALE, False))


def _plain(scores: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    return {str(k): [float(v) for v in values] for k, values in scores.items()}


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the study stores it (a typed view of an Optuna ``FrozenTrial``).

    Attributes:
        number: The trial's number in the study.
        state: ``complete``, ``pruned``, ``fail``, ``running`` or ``waiting``.
        family: The family it ran.
        params: The parameters its configuration uses: pinned ones included, a conditional one only
            where it was active (``when:`` in the search space; the family's default stands for the others).
        value: Its objective value (complete trials), else None.
        fold_scores: Metric name -> one score per fold it ran.
        fit_time: Seconds spent fitting, all folds together (NaN if unknown).
        predict_time: Seconds spent predicting.
        refit_hints: What each fold's model learned for the refit (e.g. boosting rounds).
        curves: Learning curves ``name -> [(step, value), ...]`` (:func:`compact_curves`).
        reason: Why it stopped or failed ("" if it did not).
        worker: ``host:pid`` of the process that ran it ("" if unknown).
        surplus: Started after the trial target was reached, and not run.
        deferred: Queued again behind a quick family's trial, and not run (its configuration runs later).
        origin: ``default``, ``zero_shot:<family>:<name>``, ``portfolio:<name>`` or ``sampler``.
        rows_fraction: Share of each training fold's rows it trained on.
        probe_score: Score of its probe (large data), or None.
        duration: Seconds from start to end (NaN while running).
        retried_as: For a trial failed by a lost heartbeat: the number it was queued again as.
    """

    number: int
    state: str
    family: str
    params: dict[str, Any]
    value: float | None = None
    fold_scores: dict[str, list[float]] = field(default_factory=dict)
    fit_time: float = math.nan
    predict_time: float = math.nan
    refit_hints: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[list[float]]] = field(default_factory=dict)
    reason: str = ""
    worker: str = ""
    surplus: bool = False
    deferred: bool = False
    origin: str = "sampler"
    rows_fraction: float = 1.0
    probe_score: float | None = None
    duration: float = math.nan
    retry_of: tuple[int, ...] = ()
    has_reason: bool = False
    started: Any = None
    completed: Any = None

    @classmethod
    def read(cls, trial: Any) -> TrialRecord:
        """The record of an Optuna trial (frozen or live)."""
        attrs = trial.user_attrs
        family, suggested = trial_params(trial.params)
        state = trial.state.name.lower()
        duration = trial.duration.total_seconds() if getattr(trial, "duration", None) is not None else math.nan
        return cls(
            number=int(trial.number), state=state, family=family,
            params=dict(attrs.get(_PARAMS, suggested)),
            value=float(trial.value) if state == "complete" and trial.value is not None else None,
            fold_scores=_plain(attrs.get(_SCORES) or {}),
            fit_time=float(attrs.get(_FIT_TIME, math.nan)),
            predict_time=float(attrs.get(_PREDICT_TIME, math.nan)),
            refit_hints=list(attrs.get(_HINTS) or []),
            curves=dict(attrs.get(_CURVES) or {}),
            reason=str(attrs.get(_REASON, "")),
            worker=str(attrs.get(_WORKER, "")),
            surplus=bool(attrs.get(_SURPLUS, False)),
            deferred=bool(attrs.get(_DEFERRED, False)),
            origin=str(attrs.get(_ORIGIN, "sampler")),
            rows_fraction=float(attrs.get(_FRACTION, 1.0)),
            probe_score=float(attrs[_PROBE]) if _PROBE in attrs else None,
            duration=duration,
            retry_of=tuple(int(n) for n in trial.system_attrs.get("retry_history", [])),
            has_reason=_REASON in attrs,
            started=getattr(trial, "datetime_start", None),
            completed=getattr(trial, "datetime_complete", None),
        )

    @property
    def complete(self) -> bool:
        """Whether the trial completed (ran every fold and has a finite value)."""
        return self.state == "complete" and self.value is not None and math.isfinite(self.value)

    @property
    def n_folds(self) -> int:
        """Folds it ran."""
        return len(next(iter(self.fold_scores.values()), []))

    @property
    def sized_down(self) -> bool:
        """Whether its folds trained on a share of their rows (the refit then does too)."""
        return self.rows_fraction < 1.0


def counted_trials(trials: Sequence[Any]) -> int:
    """Trials that count towards a study's trial target.

    Complete and pruned trials count, and failed trials with a recorded reason;
    surplus trials (started after the target was reached), deferred ones (queued
    again behind a quick family's) and trials failed by a lost heartbeat (queued
    again) do not.

    Example:
        >>> counted_trials([])
        0
    """
    n = 0
    for t in trials:
        state = t.state.name.lower()
        not_run = t.user_attrs.get(_SURPLUS) or t.user_attrs.get(_DEFERRED)
        if state in ("complete", "pruned") and not not_run or state == "fail" and _REASON in t.user_attrs:
            n += 1
    return n


class TrialWriter:
    """Writes a running trial's record (``automl:*`` user attributes).

    The attributes a step records together are written together
    (:func:`~automl.search.batched_writes.write_trial_attrs`: one transaction on a database store).

    Args:
        trial: A live ``optuna.Trial``.
    """

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def _write(self, attrs: Mapping[str, Any]) -> None:
        from automl.search.batched_writes import write_trial_attrs

        write_trial_attrs(self.trial, attrs)

    def started(self, params: Mapping[str, Any]) -> None:
        """Record which process runs the trial and the parameters its configuration uses (pinned ones
        included, inactive conditional ones not)."""
        self._write({_WORKER: worker_id(), _PARAMS: dict(params)})

    def probe(self, score: float) -> None:
        """Record the probe's score."""
        self._write({_PROBE: float(score)})

    def scores(self, fold_scores: Mapping[str, Sequence[float]]) -> None:
        """Record the scores of the folds run so far."""
        self._write({_SCORES: _plain(fold_scores)})

    def reason(self, reason: str, fold_scores: Mapping[str, Sequence[float]] | None = None) -> None:
        """Record why the trial stopped or failed (and the scores of the folds it ran, if given)."""
        attrs: dict[str, Any] = {} if fold_scores is None else {_SCORES: _plain(fold_scores)}
        self._write({**attrs, _REASON: str(reason)[:2000]})

    def surplus(self, reason: str) -> None:
        """Mark the trial as started after the target was reached (it is not run), and say why."""
        self._write({_WORKER: worker_id(), _SURPLUS: True, _REASON: str(reason)[:2000]})

    def deferred(self, reason: str) -> None:
        """Mark the trial as not run and not counted towards ``n_trials`` (queued again behind a quick family's, or
        of a family left out: :mod:`automl.search.family_failures`), and say why."""
        self._write({_DEFERRED: True, _REASON: str(reason)[:2000]})

    def result(self, result: Any) -> None:
        """Record a finished cross-validation (:class:`~automl.evaluation.CVResult`)."""
        attrs: dict[str, Any] = {
            _SCORES: _plain(result.fold_scores), _FIT_TIME: round(float(result.fit_time), 4),
            _PREDICT_TIME: round(float(result.predict_time), 4), _HINTS: list(result.refit_hints),
        }
        if result.fraction < 1.0:
            attrs[_FRACTION] = round(float(result.fraction), 6)
        if result.curves:
            attrs[_CURVES] = compact_curves(result.curves)
        self._write(attrs)

    @property
    def origin(self) -> str:
        """Why the trial runs: ``default``, ``portfolio:<name>`` or ``sampler``."""
        return str(self.trial.user_attrs.get(_ORIGIN, "sampler"))


@dataclass(frozen=True)
class StudyRecord:
    """What a study stores for the processes that share it.

    Attributes:
        fingerprint: Hash of the data and settings it was created for (None: not an automl study).
        fingerprint_parts: What the fingerprint covers, part by part (None: a study stored before they were).
        sweep: The sweep's settings (for workers and ``resume``), or None.
        deadline: Wall-clock time (``time.time()``) the search ends, or None.
        target: Counted trials the study should reach, or None.
        done: Whether the main process ended the search.
        parent_run: ``{"run_id", "tracking_uri"}`` of the MLflow parent run, or None.
        final_model: What the last fit's ``predict`` uses (:meth:`StudyWriter.final_model`), or None.
        portfolios_queued: False while the portfolios wait for the scale trials
            (:mod:`automl.search.first_trials`), True once queued, None in a study that did not record it.
    """

    fingerprint: str | None = None
    sweep: dict[str, Any] | None = None
    deadline: float | None = None
    fingerprint_parts: dict[str, str] | None = None
    target: int | None = None
    done: bool = False
    parent_run: dict[str, Any] | None = None
    final_model: dict[str, Any] | None = None
    portfolios_queued: bool | None = None

    @classmethod
    def read(cls, study: Any) -> StudyRecord:
        """The record of ``study`` (one read of its attributes)."""
        attrs = study.user_attrs
        deadline, target = attrs.get(_DEADLINE), attrs.get(_TARGET)
        return cls(
            fingerprint=attrs.get(_FINGERPRINT), sweep=attrs.get(_SWEEP),
            deadline=None if deadline is None else float(deadline), target=None if target is None else int(target),
            done=bool(attrs.get(_DONE, False)), parent_run=attrs.get(_PARENT_RUN), final_model=attrs.get(_FINAL),
            portfolios_queued=attrs.get(_PORTFOLIOS), fingerprint_parts=attrs.get(_FINGERPRINT_PARTS),
        )


class StudyWriter:
    """Writes a study's record.

    Args:
        study: An ``optuna.Study``.
    """

    def __init__(self, study: Any) -> None:
        self.study = study

    def fingerprint(self, value: str, parts: Mapping[str, str] | None = None) -> None:
        """Record the fingerprint of the data and settings (and ``parts``, what it covers part by part)."""
        self.study.set_user_attr(_FINGERPRINT, value)
        if parts:
            self.study.set_user_attr(_FINGERPRINT_PARTS, dict(parts))

    def sweep(self, record: Mapping[str, Any]) -> None:
        """Record the sweep's settings."""
        self.study.set_user_attr(_SWEEP, dict(record))

    def limits(self, deadline: float | None, target: int | None) -> None:
        """Record when the search ends and the trial target; the search is under way."""
        self.study.set_user_attr(_DEADLINE, deadline)
        self.study.set_user_attr(_TARGET, target)
        self.study.set_user_attr(_DONE, False)

    def done(self) -> None:
        """Record that the main process ended the search."""
        self.study.set_user_attr(_DONE, True)

    def portfolios_queued(self, queued: bool) -> None:
        """Record whether the portfolios are queued (False: they wait for the target's scale)."""
        self.study.set_user_attr(_PORTFOLIOS, bool(queued))

    def parent_run(self, run_id: str, tracking_uri: str) -> None:
        """Record the MLflow parent run the study is logged to."""
        self.study.set_user_attr(_PARENT_RUN, {"run_id": run_id, "tracking_uri": tracking_uri})

    def final_model(self, trial: int, family: str, source: str, ensemble: Mapping[str, Any] | None = None) -> None:
        """Record which model ``predict`` uses: trial ``trial``'s configuration (``source`` says how it was
        fitted: ``refit of trial N`` or ``bag of K fold models of trial N``), or the ``ensemble`` of trials (its members,
        families and weights) when it won.

        Example:
            >>> import optuna
            >>> study = optuna.create_study()
            >>> StudyWriter(study).final_model(3, "knn", "refit of trial 3")
            >>> StudyRecord.read(study).final_model
            {'kind': 'trial', 'trial': 3, 'family': 'knn', 'source': 'refit of trial 3'}
        """
        record: dict[str, Any] = {"kind": "trial", "trial": int(trial), "family": str(family), "source": str(source)}
        if ensemble is not None:
            record = {"kind": "ensemble", "members": [int(t) for t in ensemble["trials"]],
                      "families": [str(f) for f in ensemble["families"]],
                      "weights": [round(float(w), 6) for w in ensemble["weights"]], "best_trial": int(trial)}
        self.study.set_user_attr(_FINAL, record)
