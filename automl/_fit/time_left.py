"""Stage 3b: the time the final stage left, searched on (a second search phase).

The search stops early enough to keep time for the final stage, from estimates made before that stage exists: the
best trial's refit, as many again per ensemble member, a second level's cross-validation and refit. The final stage
often takes far less: under ``final_model="auto"`` a member whose refit would end late is the bag of its fold models,
and a second level is only kept time for when it fits. On bike sharing at 60 s the search kept 29.5 s and the final
stage took 10 s, so the fit ended at 38.9 s with its queued trials (the target's scales, the portfolio) not run.

So once the final model is built, a fit under a time budget that has time to spare searches on: the same study,
objective and policy (:func:`~automl.search.runner.continue_search`), its trials not run for lack of time first
(they were queued again), until the budget's end less the final stage's time *as measured*
(x :data:`SECOND_PHASE_MARGIN`; the new best trial's refit if more). Then the final stage runs again over every
trial, reusing the models the first one made (a trial's refit is the same refit). The second final model replaces
the first only when its cross-validated score is better on the same basis (a single trial never replaces a blend:
see :func:`_replaces`); whatever happens to the second (a refit that fails, an
exception, a stage that runs late and is cut at the budget's deadlines), the first stays.

There is no second phase without a time budget, for a stored study (other processes may share it and its deadline
is published), with one split (large data: the final refit already grows to the budget's end), after a finalist's
refit failed, or when the time left would leave the search under :data:`SECOND_PHASE_SHARE` of the budget.

Example:
    >>> SECOND_PHASE_SHARE, SECOND_PHASE_MARGIN
    (0.1, 1.25)
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

from automl._spawn import raise_if_stopped
from automl._warnings import report_stage
from automl._fit.refit import FinalModel, build_final_model, record_final_model
from automl.search.budget import Budget
from automl.search.isolation import Runner
from automl.search.runner import SearchOutcome, continue_search

__all__ = ["SECOND_PHASE_MARGIN", "SECOND_PHASE_SHARE", "search_on"]

logger = logging.getLogger("automl")

#: The search goes on only when it would get at least this share of the budget.
SECOND_PHASE_SHARE = 0.1
#: The second phase keeps the first final stage's seconds times this for its own final stage.
SECOND_PHASE_MARGIN = 1.25


def search_on(problem: Any, outcome: SearchOutcome, final: FinalModel, runner: Runner, budget: Budget,
              final_seconds: float) -> tuple[SearchOutcome, FinalModel]:
    """Search on with the time the final stage left, then build the final model again (see the module).

    Args:
        problem: The prepared problem.
        outcome: The search's outcome.
        final: The final model built from it.
        runner: The runner of the trials and refits.
        budget: The fit's budget.
        final_seconds: Seconds the final stage took.

    Returns:
        ``(outcome, final)``: the outcome of both phases and the better final model (``outcome`` and ``final`` as
        given when the search did not go on).
    """
    phase = dataclasses.replace(budget, final_seconds=final_seconds * SECOND_PHASE_MARGIN)
    if not _worth_it(problem, outcome, final, phase):
        return outcome, final
    completed = _completed(outcome)
    report_stage(f"searching on: the final model took {final_seconds:.1f} s of the time kept for it ...")
    try:
        more = continue_search(outcome, phase)
    except Exception as exc:  # noqa: BLE001 - a failing second search never ends the fit: the first model stays
        raise_if_stopped(exc)
        logger.warning("the second search phase failed (%s: %s); the first final model stays", type(exc).__name__, exc)
        return outcome, final
    new = _completed(more) - completed
    logger.info("the second search phase completed %d more trial(s) in %.1f s", new,
                more.search_time - outcome.search_time)
    if new == 0:
        return more, final
    report_stage("building the final model again over the new trials ...")
    try:
        second = build_final_model(problem, more, runner, phase, made=final.made)
    except Exception as exc:  # noqa: BLE001 - a failing second final stage never ends the fit: the first model stays
        raise_if_stopped(exc)
        logger.warning("the final model built after the second search phase failed (%s: %s); the first one stays",
                       type(exc).__name__, exc)
    else:
        if _replaces(problem.metric, second, final):
            return more, second
        logger.info("the final model after the second search phase (%s, %.5g) is not better on CV than the first "
                    "(%s, %.5g); the first stays", second.source, second.score, final.source, final.score)
    record_final_model(more.study, final)  # the second stage recorded its own model: predict uses the first
    return more, final


def _worth_it(problem: Any, outcome: SearchOutcome, final: FinalModel, phase: Budget) -> bool:
    """Whether the search goes on: a budget, a resumable search over k folds, no refit failed, and time for it."""
    if phase.seconds is None or outcome.resumable is None or len(problem.splits) < 2 or final.fallbacks:
        return False
    deadline = phase.search_deadline(outcome.resumable.objective.policy.refit_estimate)
    return deadline is not None and phase.left(deadline) >= SECOND_PHASE_SHARE * phase.seconds


def _completed(outcome: SearchOutcome) -> int:
    return sum(t.state.name == "COMPLETE" for t in outcome.study.get_trials(deepcopy=False))


def _replaces(metric: Any, second: FinalModel, first: FinalModel) -> bool:
    """Whether the second final model replaces the first: its CV score is better (a non-finite score never is), on
    the same basis. A blend's or a stack's score is cross-fitted (its weights chosen without the fold it is scored
    on), a single trial's is the best of many trials' on the same folds, flattered by that choice; so a single trial
    never replaces a blend (off-suite, the two fits where it did lost on their test parts)."""
    if not math.isfinite(second.score):
        return False
    if second.ensemble is None and first.ensemble is not None:
        return False
    return not math.isfinite(first.score) or bool(metric.is_better(second.score, first.score))
