"""Stage 3: the search's finalists → the :class:`FinalModel` that ``predict`` uses.

A finalist's final model is its refit on all rows, or the bag of its fold models
(:class:`~automl.families.bagged.BaggedModel`), which the runner kept from the search for its best
trials, as ``final_model`` says:

- ``"auto"`` (the default): the refit when it is expected to end in the time left (with ``ensemble=True``, by the
  ensemble's deadline, so that blending keeps its time), else the bag; a
  refit that fails (crashes, raises, runs out of memory or past its deadline) gives way to the bag;
- ``"bag"``: the bag, no refit (the trial's out-of-fold predictions are exactly the model's);
- ``"refit"``: the refit only.

A trial with no bag (not kept: too large, or outside the best few) is refitted. The refit runs on all
rows, in the isolated worker, under the budget's refit deadline. A trial sized down to a share of its
rows to fit the time left is refitted on that share; with one split (a holdout on large data, where the
search kept time for it) the single final model's refit grows to as many rows as are expected to
fit before the budget's end (:func:`~automl.search.policy.grown_fraction`; its bag, if kept, is the
fallback when that refit fails or runs late); as an ensemble member, on its own share. A finalist that gives no model falls back to
the next finalist, and then to the cheapest completed trial, with the time that one needs kept aside.
When every finalist fails, ``predict`` uses the best trial's fold models, averaged, if they are kept;
the fit fails only when nothing is left.

With ``ensemble=True`` the best trials are then blended by greedy selection on their
out-of-fold predictions; when the cross-fitted blend beats the best trial, its other members are
made the same way before the ensemble deadline (when the fit stacks, after the second level's cross-validation
and keeping its refit's time). A member that fails or runs late leaves the best single model in place.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automl._spawn import raise_if_stopped
from automl._warnings import report_stage, warn_user
from automl._fit.calibrate import BlendParts, blend_parts, calibrate_final, single_parts, wanted
from automl._fit.stack import PendingStack, finish_stack, stack_cv
from automl._fit.trial_config import refit_config
from automl.ensemble import EnsembleModel, plan_ensemble
from automl.evaluation.stats import finite_mean_std
from automl.exceptions import RefitFailedError
from automl.families.bagged import BaggedModel
from automl.search.budget import Budget
from automl.search.isolation import Runner, TrialCrashed, TrialRaised
from automl.search.objective import trial_seed
from automl.search.policy import BAG_FETCH_SECONDS, FALLBACK_PAD, MEMBER_PAD, grown_fraction, refit_seconds
from automl.search.runner import SearchOutcome
from automl.search.trial_record import StudyWriter, TrialRecord

__all__ = ["FinalModel", "MAX_FINALISTS", "build_final_model", "record_final_model"]

logger = logging.getLogger("automl")

#: The best trials whose refit is tried in turn (then the cheapest completed trial).
MAX_FINALISTS = 3
#: Seconds a fresh worker process takes to start and load the data, after one was killed at a deadline.
WORKER_RESTART_SECONDS = 3.0


@dataclass
class FinalModel:
    """The model ``predict`` uses, and how it came to be.

    Attributes:
        model: A fitted :class:`~automl.families.pipeline.FamilyPipeline` (a refit), a
            :class:`~automl.families.bagged.BaggedModel` (a trial's fold models), or an
            :class:`~automl.ensemble.EnsembleModel` (of either).
        trial: The record of the single trial refitted (the best one, unless its refit failed).
        params: Its parameters; ``refit_params`` as adapted for all rows.
        score: The CV score of ``model`` (the ensemble's when it won).
        families: The families ``model`` uses.
        ensemble: What the ensemble is (members, weights, fold scores, times), or None.
        refit_seconds: Seconds spent refitting the single model (fallbacks included).
        ensemble_seconds: Seconds spent on the ensemble (selection and member refits).
        fallbacks: ``{"trial", "family", "reason"}`` of each finalist whose refit failed, and of each refit (a
            member's too) that failed and gave way to its trial's bag.
        source: What ``model`` is: ``"refit of trial N"``, ``"bag of K fold models of trial N"`` or
            ``"ensemble of trials ..."`` (``", temperature-scaled (T=...)"`` after it when it is).
        calibration: The temperature tried for ``model``'s probabilities and the scores with and without it
            (:func:`~automl._fit.calibrate.calibrate_final`), or None when none was tried.
        made: Trial number -> the model made for it here (a refit or a bag), which a later final stage of the same
            fit reuses (:mod:`automl._fit.time_left`).
    """

    model: Any
    trial: TrialRecord
    params: dict[str, Any]
    refit_params: dict[str, Any]
    score: float
    families: list[str]
    ensemble: dict[str, Any] | None = None
    refit_seconds: float = 0.0
    ensemble_seconds: float = 0.0
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    calibration: dict[str, Any] | None = None
    made: dict[int, Any] = field(default_factory=dict, repr=False)


def finalists(ranked: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The refits to try, in order: the best :data:`MAX_FINALISTS` trials, then the cheapest one.

    Example:
        >>> from types import SimpleNamespace as T
        >>> picked = finalists([T(number=n, fit_time=t) for n, t in [(4, 9.0), (2, 5.0), (7, 8.0), (1, 0.5)]])
        >>> [r.number for r in picked]
        [4, 2, 7, 1]
    """
    chosen = list(ranked[:MAX_FINALISTS])
    if ranked:
        cheapest = min(ranked, key=lambda r: r.fit_time if math.isfinite(r.fit_time) else math.inf)
        if all(r.number != cheapest.number for r in chosen):
            chosen.append(cheapest)
    return chosen


class _Refitter:
    """Turns trials into final models in the runner, under the budget, as ``final_model`` says (see the
    module's docstring): a refit of the configuration, or the bag of the fold models the runner holds."""

    def __init__(self, runner: Runner, spaces: Mapping[str, Any], seed: int | None, n_splits: int,
                 scale: float, final_model: str = "refit", made: dict[int, Any] | None = None) -> None:
        self.runner, self.spaces, self.seed = runner, spaces, seed
        self.n_splits, self.scale, self.final_model = n_splits, scale, final_model
        #: Trial number -> its final model, made here or by an earlier final stage of the same fit (a second
        #: search phase's stage reuses them: the same trial, the same rows, the same seed).
        self.made: dict[int, Any] = {} if made is None else made
        #: Trial number -> the share of all rows its refit was grown to (see :meth:`refit`).
        self.grown: dict[int, float] = {}
        #: ``{"trial", "family", "reason"}`` of each refit that failed and gave way to its trial's bag (``auto``).
        self.bagged_after_failure: list[dict[str, Any]] = []

    def bagged(self, record: TrialRecord, deadline: float | None = None) -> bool:
        """Whether ``record``'s final model is its bag: asked for, or (``auto``) its refit is not expected to
        end by ``deadline``; and the runner holds it."""
        if self.final_model == "refit" or not self.runner.holds(record.number):
            return False
        late = deadline is not None and time.monotonic() + self.estimate(record, bag=False) > deadline
        return self.final_model == "bag" or late

    def estimate(self, record: TrialRecord, pad: float = FALLBACK_PAD, bag: bool | None = None) -> float:
        """Seconds ``record``'s final model takes: fetching its bag, or its refit (``bag`` None: as it will be;
        none for a model already made)."""
        if record.number in self.made:
            return 0.0
        if bag or (bag is None and self.final_model != "refit" and self.runner.holds(record.number)):
            return min(BAG_FETCH_SECONDS, pad + 0.2)
        return refit_seconds(record.fit_time, self.n_splits, self.scale, pad)

    def refit(self, record: TrialRecord, deadline: float | None, aim: float | None = None,
              grow_until: float | None = None) -> Any:
        """``record``'s final model: its bag or its refit on all rows (killed at ``deadline``; ``auto``: the
        bag when the refit is not expected to end by ``aim``, default ``deadline``, or fails). A trial sized
        down to a share of its rows is refitted on that share, grown to what fits before ``grow_until``. A model
        already made for ``record`` is that model."""
        if record.number not in self.made:
            self.made[record.number] = self._make(record, deadline, aim, grow_until)
        return self.made[record.number]

    def _make(self, record: TrialRecord, deadline: float | None, aim: float | None,
              grow_until: float | None) -> Any:
        if self.bagged(record, deadline if aim is None else aim):
            return BaggedModel(self.runner.kept_models(record.number) or [])
        family, params, refit_params = refit_config(record, self.spaces)
        fraction, stop_at = record.rows_fraction, None
        if grow_until is not None and fraction < 1.0 and math.isfinite(record.fit_time):
            fold_seconds = record.fit_time / max(record.n_folds, 1)
            fraction = grown_fraction(fraction, fold_seconds, grow_until - time.monotonic() - FALLBACK_PAD)
            if fraction > record.rows_fraction:
                # On more rows the trial's own stopping rule (early stopping, epochs) applies, not the rounds or
                # epochs its share needed; nets and boosters end their training at grow_until with what they have.
                refit_params, stop_at = params, grow_until
                self.grown[record.number] = fraction
                logger.info("trial %d (%s) trained on %.1f%% of its rows; refitted on %.1f%% of all rows",
                            record.number, record.family, 100 * record.rows_fraction, 100 * fraction)
        try:
            return self.runner.refit(family, refit_params, seed=trial_seed(self.seed, record.number),
                                     fraction=fraction, deadline=deadline, stop_at=stop_at)
        except Exception as exc:  # noqa: BLE001 - the trial's own fold models, if kept
            raise_if_stopped(exc)
            models = self.runner.kept_models(record.number) if self.final_model == "auto" else None
            if not models:
                raise
            reason = _failure(exc)
            self.bagged_after_failure.append({"trial": record.number, "family": record.family,
                                              "reason": f"{reason}; its fold models are used instead"})
            warn_user(f"the refit of trial {record.number} ({record.family}) failed ({reason}); predict uses its "
                      "fold models, averaged (each trained on its fold's training rows)", RuntimeWarning)
            return BaggedModel(models)


def _made(model: Any, record: TrialRecord, grown: float | None = None) -> str:
    """What the final model of ``record`` is, in words (``grown``: the share of rows a grown refit used)."""
    if isinstance(model, BaggedModel):
        return f"bag of {len(model.members)} fold models of trial {record.number}"
    if grown is not None:
        return f"refit of trial {record.number} on {grown:.1%} of the rows (it trained on {record.rows_fraction:.1%})"
    return f"refit of trial {record.number}"


def _failure(exc: BaseException) -> str:
    if isinstance(exc, (TrialCrashed, TrialRaised)):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def _refit_single(refitter: _Refitter, ranked: Sequence[TrialRecord], budget: Budget, aim: float | None = None,
                  ) -> tuple[Any, TrialRecord | None, list[dict[str, Any]]]:
    """Refit the first finalist whose refit succeeds, keeping time for the cheapest; return
    ``(model, its record, the failures before it)``, or ``(None, None, failures)``. ``aim``: under ``auto``, a
    finalist whose refit is not expected to end by then is its bag (where the runner holds it)."""
    order = finalists(ranked)
    last = order[-1]
    fallbacks: list[dict[str, Any]] = []
    for record in order:
        deadline = budget.refit_deadline()
        if deadline is not None and record is not last:
            deadline -= refitter.estimate(last) + WORKER_RESTART_SECONDS  # the last resort keeps its time
            if budget.left(deadline) < refitter.estimate(record) and fallbacks:
                fallbacks.append({"trial": record.number, "family": record.family,
                                  "reason": "not refitted: its refit would not fit in the time left"})
                continue
        try:
            # One split on large data: the search kept time to grow the refit (members are the runner's bags);
            # under k folds that time is the ensemble members' refits'.
            grow_until = budget.end() if refitter.n_splits == 1 else None
            aim_here = None if aim is None or deadline is None else min(aim, deadline)
            return refitter.refit(record, deadline, aim_here, grow_until=grow_until), record, fallbacks
        except Exception as exc:  # noqa: BLE001 - a failing refit never ends the fit: the next finalist
            raise_if_stopped(exc)  # ... but a SIGTERM or Ctrl-C that the refit's code turned into this does
            reason = _failure(exc)
            fallbacks.append({"trial": record.number, "family": record.family, "reason": reason})
            logger.warning("the refit of trial %d (%s) failed: %s", record.number, record.family, reason)
    return None, None, fallbacks


def _last_resort(runner: Runner, outcome: SearchOutcome, ranked: Sequence[TrialRecord],
                 ) -> tuple[Any, TrialRecord] | None:
    """The fold models, averaged, of the best trial this process completed (the best of all, unless a
    resumed study or another process holds a better one), if its runner still holds them."""
    record = next((r for r in ranked if r.number == outcome.kept_trial), None)
    if record is None:
        return None
    try:
        models = runner.kept_models(record.number)
    except Exception as exc:  # noqa: BLE001 - no last resort, then
        raise_if_stopped(exc)
        return None
    return None if not models else (BaggedModel(models), record)


def _single(refitter: _Refitter, runner: Runner, outcome: SearchOutcome, ranked: Sequence[TrialRecord],
            budget: Budget, aim: float | None = None) -> tuple[Any, TrialRecord, list[dict[str, Any]], str]:
    """The single model: a finalist's bag or refit (``aim``: see :func:`_refit_single`), or the best trial's fold
    models when every refit failed."""
    model, record, fallbacks = _refit_single(refitter, ranked, budget, aim)
    if model is not None and record is not None:
        if fallbacks:
            warn_user(f"the best trial's refit failed ({fallbacks[0]['reason']}); predict uses trial "
                      f"{record.number} ({record.family}), the next finalist whose refit succeeded", RuntimeWarning)
        return model, record, fallbacks, _made(model, record, refitter.grown.get(record.number))
    detail = "; ".join(f"trial {f['trial']} ({f['family']}): {f['reason']}" for f in fallbacks)
    kept = _last_resort(runner, outcome, ranked)  # kept in this process: it outlives the worker
    if kept is None:
        raise RefitFailedError(f"every finalist's refit on all rows failed: {detail}")
    model, record = kept
    warn_user(f"every finalist's refit failed ({detail}); predict uses trial {record.number}'s models from its "
              "folds, averaged (each trained on its fold's training rows)", RuntimeWarning)
    return model, record, fallbacks, _made(model, record)


def _ensemble(refitter: _Refitter, outcome: SearchOutcome, problem: Any, ranked: Sequence[TrialRecord],
              best_model: Any, budget: Budget) -> tuple[EnsembleModel, dict[str, Any], PendingStack | None] | None:
    """The ensemble when it beats the best trial and its members refit in time, with the second level over it
    cross-validated (when the fit stacks, before the members are made: :func:`~automl._fit.stack.stack_cv`);
    else None.

    Members are chosen so that their refits are expected to end by the ensemble deadline (the budget's
    end); selection and the refits themselves are only stopped at the refit deadline (the promise's)."""
    started = time.monotonic()
    aim, deadline = budget.ensemble_deadline(), budget.refit_deadline()
    best = ranked[0]

    def affordable(members: list[TrialRecord]) -> bool:
        return _members_seconds(refitter, members, best) <= budget.left(aim)

    plan = plan_ensemble(ranked, outcome.oof, problem.evaluator, problem.y, affordable=affordable, deadline=deadline)
    selected = time.monotonic()
    if plan is None:
        return None
    pending = _stack_first(refitter, outcome, problem, plan, ranked, budget) if problem.settings.stacks else None
    members_aim = aim if pending is None or aim is None else aim - pending.refit_seconds  # keep the stack's refit
    refits_started = time.monotonic()
    members = []
    for record in plan.members:
        if record.number == best.number:
            members.append(best_model)
            continue
        try:
            members.append(refitter.refit(record, deadline, members_aim))
        except Exception as exc:  # noqa: BLE001 - the best single model stays
            raise_if_stopped(exc)
            warn_user(f"the ensemble is left out: the refit of its member trial {record.number} ({record.family}) "
                      f"failed ({_failure(exc)}); predict uses the best single trial", RuntimeWarning)
            return None
    model = EnsembleModel(members, plan.counts, [r.number for r in plan.members])
    return model, {
        "trials": model.trials, "families": model.families, "weights": model.weights,
        "fold_scores": plan.scores, "best_trial_fold_scores": plan.single_scores,
        "baseline_fold_scores": plan.baseline_scores,
        "selection_seconds": selected - started, "refit_seconds": time.monotonic() - refits_started,
    }, pending


def _members_seconds(refitter: _Refitter, members: Sequence[TrialRecord], best: TrialRecord) -> float:
    """Expected seconds to make the blend's ``members`` other than ``best`` (whose model is already made)."""
    return sum(refitter.estimate(r, MEMBER_PAD) for r in members if r.number != best.number)


def _stack_first(refitter: _Refitter, outcome: SearchOutcome, problem: Any, plan: Any, ranked: Sequence[TrialRecord],
                 budget: Budget) -> PendingStack | None:
    """The second level over ``plan``'s blend, cross-validated before its members are made; under
    ``final_model="refit"`` (a member cannot be its bag) it keeps the members' refits' time."""
    blend_score = finite_mean_std(plan.scores[problem.metric.name])[0]
    keep = 0.0 if refitter.final_model == "auto" else _members_seconds(refitter, plan.members, ranked[0])
    return stack_cv(problem, outcome, refitter.runner, [r.number for r in plan.members], blend_score, ranked, budget,
                    members_seconds=keep)


def build_final_model(problem: Any, outcome: SearchOutcome, runner: Runner, budget: Budget,
                      made: Mapping[int, Any] | None = None) -> FinalModel:
    """The final model: the best finalist refitted (with fallbacks), then, with ``ensemble=True``,
    the ensemble when it wins and its members refit in time (``made``: trials' models an earlier final stage of
    this fit made, used as they are).

    Raises:
        RefitFailedError: every finalist's refit failed (each reason listed).
    """
    primary = problem.metric
    ranked = outcome.ranked(primary.greater_is_better)
    refitter = _Refitter(runner, problem.spaces, problem.settings.seed, len(problem.splits), problem.refit_scale,
                         problem.settings.final_model, dict(made or {}))
    started = time.monotonic()
    # With the ensemble on, the best trial's refit aims at the ensemble's deadline, not at the promise's: a refit
    # that would end past it leaves no time to blend (wine quality at 60 s: CatBoost, the last trial to complete
    # and the best, refitted for 7.7 s from 56 s on, and the blend was left out, 0.920 log loss on CV where the
    # blend of ExtraTrees, the net, the forest and CatBoost scored 0.796); its bag of fold models is the model.
    aim = budget.ensemble_deadline() if problem.settings.ensemble else None
    model, record, fallbacks, source = _single(refitter, runner, outcome, ranked, budget, aim)
    family, params, refit_params = refit_config(record, problem.spaces)
    if record.number in refitter.grown and not isinstance(model, BaggedModel):
        refit_params = params  # grown to more rows: its own stopping rule, not its share's rounds
    score = math.nan if record.value is None else float(record.value)  # a score of 0.0 is a score
    final = FinalModel(model, record, params, refit_params, score, [family],
                       refit_seconds=time.monotonic() - started, fallbacks=fallbacks, source=source)
    pending = None
    if problem.settings.ensemble and not fallbacks:
        started = time.monotonic()
        report_stage("building the ensemble ...")
        blended = _ensemble(refitter, outcome, problem, ranked, model, budget)
        final.ensemble_seconds = time.monotonic() - started
        if blended is not None:
            final.model, final.ensemble, pending = blended
            final.source = "ensemble of trials " + ", ".join(str(t) for t in final.ensemble["trials"])
            final.score = finite_mean_std(final.ensemble["fold_scores"][primary.name])[0]
            final.families = sorted(set(final.model.families))
            if pending is not None:
                _stack(final, problem, runner, pending, budget)
    if wanted(problem):
        _calibrate(final, problem, outcome, pending, budget)
    final.fallbacks = [*fallbacks, *refitter.bagged_after_failure]  # each failure named, whatever took its place
    final.made = refitter.made
    record_final_model(outcome.study, final)
    return final


def _calibrate(final: FinalModel, problem: Any, outcome: SearchOutcome, pending: PendingStack | None,
               budget: Budget) -> None:
    """Temperature-scale the final model when it scores better (see :mod:`automl._fit.calibrate`)."""
    stack = (final.ensemble or {}).get("stack")
    trials = [*(final.ensemble or {}).get("trials", []), *((stack or {}).get("base_trials", []))]
    if any(t not in outcome.oof for t in trials):
        return  # a member's out-of-fold predictions are no longer kept
    parts: BlendParts | None
    if stack and pending is not None:
        parts = blend_parts(outcome.oof, stack["base_trials"], stack["weights"], pending.result)
        scores = stack["fold_scores"]
    elif final.ensemble:
        parts = blend_parts(outcome.oof, final.ensemble["trials"], final.ensemble["weights"])
        scores = final.ensemble["fold_scores"]
    else:
        parts, scores = single_parts(outcome.oof, final.trial.number), final.trial.fold_scores
    if parts is not None:
        calibrate_final(final, parts, scores, problem, budget.refit_deadline())


def _stack(final: FinalModel, problem: Any, runner: Runner, pending: PendingStack, budget: Budget) -> None:
    """Put ``pending``'s second level over ``final``'s blend, refitted (see :mod:`automl._fit.stack`)."""
    started = time.monotonic()
    stacked = finish_stack(pending, problem, runner, final.model, final.score, budget)
    final.ensemble_seconds += time.monotonic() - started
    if stacked is None or final.ensemble is None:
        return
    final.model, final.ensemble["stack"] = stacked
    info = stacked[1]
    final.source = f"stack of trial {info['trial']} ({info['family']}) over trials " + ", ".join(
        str(t) for t in final.ensemble["trials"])
    final.score = finite_mean_std(info["fold_scores"][problem.metric.name])[0]
    final.families = sorted(set(final.model.families))


def record_final_model(study: Any, final: FinalModel) -> None:
    """Record on the study which model ``predict`` uses, for Optuna's own tools (optuna-dashboard shows
    the study's user attributes); a storage that refuses the write costs the fit nothing."""
    try:
        StudyWriter(study).final_model(final.trial.number, final.trial.family, final.source, final.ensemble)
    except Exception as exc:  # noqa: BLE001 - a note for other tools, never worth the fit
        logger.warning("could not record the final model on the study: %s: %s", type(exc).__name__, exc)
