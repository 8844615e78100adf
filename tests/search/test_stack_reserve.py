"""The time the search keeps for a second level over the blend is the refit of the trial the second level copies
(the best booster so far), not the best trial's: a slow best net beside a fast booster left most of a 60 s budget
unused on mammography (the search stopped at 21 s, the fit ended at 25.6 s)."""

from __future__ import annotations

import time

import pytest

from automl._fit.stack import second_level, stack_refit_factor
from automl.evaluation.metrics import get_metric
from automl.search.budget import Budget
from automl.search.policy import SECOND_LEVEL_FAMILIES, SearchPolicy
from automl.search.trial_record import TrialRecord


def _policy(stack_factor: float) -> SearchPolicy:
    budget = Budget(600.0, time.monotonic(), ensemble_factor=2.0, stack_factor=stack_factor)
    return SearchPolicy(budget, get_metric("roc_auc", "binary"), n_splits=5)


def test_the_stack_keeps_the_best_boosters_refit_not_the_slow_best_trials():
    factor = stack_refit_factor(5, 1.25)
    policy = _policy(factor)
    policy.completed("torch_mlp", 0.959, fit_time=13.1)
    net_only = policy.search_time_left()
    # no booster yet: the best trial's refit is kept for the stack (the second level would copy it)
    assert policy.stack_estimate is None
    slow = policy.refit_seconds(13.1)
    assert net_only == pytest.approx(600.0 - slow * (1.0 + 2.0 + factor), abs=0.5)
    policy.completed("lightgbm", 0.951, fit_time=1.2)  # worse than the net, so not the best trial
    fast = policy.refit_seconds(1.2)
    assert policy.stack_estimate == pytest.approx(fast)
    assert policy.refit_estimate == pytest.approx(slow)  # the best trial's refit and the blend's stay as they were
    assert policy.search_time_left() - net_only == pytest.approx((slow - fast) * factor, abs=0.5)


def test_a_slow_booster_behind_a_fast_best_trial_gets_its_own_time():
    factor = stack_refit_factor(5, 1.25)
    policy = _policy(factor)
    policy.completed("linear", 0.95, fit_time=0.1)
    policy.completed("catboost", 0.90, fit_time=20.0)
    policy.completed("xgboost", 0.89, fit_time=1.0)  # worse than catboost: catboost stays the second level
    assert policy.stack_estimate == pytest.approx(policy.refit_seconds(20.0))
    expected = 600.0 - policy.refit_seconds(0.1) * 3.0 - policy.refit_seconds(20.0) * factor
    assert policy.search_time_left() == pytest.approx(expected, abs=0.5)


def test_without_a_stack_nothing_is_kept_for_it():
    policy = _policy(0.0)
    policy.completed("torch_mlp", 0.959, fit_time=13.1)
    policy.completed("lightgbm", 0.951, fit_time=1.2)
    assert policy.search_time_left() == pytest.approx(600.0 - policy.refit_seconds(13.1) * 3.0, abs=0.5)


def test_the_stack_copies_the_best_of_the_families_the_search_keeps_time_for():
    assert "lightgbm" in SECOND_LEVEL_FAMILIES and "torch_mlp" not in SECOND_LEVEL_FAMILIES
    ranked = [TrialRecord(number=6, state="complete", family="torch_mlp", params={}), TrialRecord(number=0, state="complete", family="lightgbm", params={})]
    assert second_level(ranked).number == 0
