"""What the search keeps for the final stage: the best trial's refit, and the refits of the trials likely to be
blended (the RESERVED_MEMBERS best after it), at most ensemble_factor refits like the best's. The fit from outside,
with a slow best trial, is in tests/test_budget.py."""

from __future__ import annotations

import pytest

from automl.evaluation.metrics import get_metric
from automl.search.budget import Budget
from automl.search.policy import MEMBER_PAD, RESERVED_MEMBERS, SearchPolicy, refit_seconds


def _policy(metric: str = "log_loss", task: str = "multiclass") -> SearchPolicy:
    return SearchPolicy(Budget(60.0, 0.0, ensemble_factor=2.0), get_metric(metric, task), n_splits=3, refit_scale=1.5)


def test_a_slow_best_trial_keeps_its_refit_and_the_cheaper_members_refits():
    policy = _policy()
    for value, fit_time in [(0.26, 3.0), (0.28, 1.6), (0.27, 0.8), (0.24, 20.0)]:  # the slow one is best
        policy.completed("family", value, fit_time=fit_time)
    members = sum(refit_seconds(t, 3, 1.5, MEMBER_PAD) for t in (3.0, 1.6, 0.8))
    assert policy.members_estimate == pytest.approx(members)
    best_refit = refit_seconds(20.0, 3, 1.5)
    assert policy.refit_estimate == pytest.approx(best_refit)
    # the search stops that much before the end, where it kept three refits like the best's before
    assert policy.budget.search_deadline(policy.refit_estimate, 0.0, policy.members_estimate) == pytest.approx(
        60.0 - best_refit - members)
    assert 60.0 - best_refit - members > 60.0 - 3 * best_refit + 15.0


def test_members_are_the_best_after_the_best_whichever_the_direction_and_at_most_the_old_reserve():
    policy = _policy("roc_auc", "binary")
    for number in range(RESERVED_MEMBERS + 3):  # a higher score is better; the best is the last
        policy.completed("family", 0.5 + number / 100, fit_time=float(number + 1))
    counted = range(RESERVED_MEMBERS + 2, 2, -1)  # fit times of the RESERVED_MEMBERS trials after the best (7..3)
    assert policy.members_estimate == pytest.approx(sum(refit_seconds(float(t), 3, 1.5, MEMBER_PAD) for t in counted))
    # costlier members than the best: capped at ensemble_factor refits like the best's
    budget = policy.budget
    assert budget.search_deadline(2.0, 0.0, members_estimate=100.0) == budget.search_deadline(2.0)
    assert budget.search_deadline(2.0) == pytest.approx(60.0 - 3 * 2.0)


def test_before_any_trial_completes_there_is_no_members_estimate():
    assert _policy().members_estimate is None
