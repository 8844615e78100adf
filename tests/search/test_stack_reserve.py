"""The time the search keeps for a second level over the blend is the refit of the trial the second level copies
(the best booster so far), not the best trial's: a slow best net beside a fast booster left most of a 60 s budget
unused on mammography (the search stopped at 21 s, the fit ended at 25.6 s)."""

from __future__ import annotations

import time

import pytest

from automl._fit.stack import expected_width, second_level, stack_refit_factor, stack_seconds
from automl.evaluation.metrics import get_metric
from automl.search.budget import STACK_SHARE, Budget
from automl.search.policy import FALLBACK_PAD, SECOND_LEVEL_FAMILIES, SearchPolicy, refit_seconds
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


def _wide_policy(budget_seconds: float, n_splits: int, width: float) -> tuple[SearchPolicy, float]:
    factor = stack_refit_factor(n_splits, 1.11, width)
    budget = Budget(budget_seconds, time.monotonic(), ensemble_factor=2.0, stack_factor=factor)
    return SearchPolicy(budget, get_metric("log_loss", "multiclass"), n_splits=n_splits, refit_scale=1.11), factor


def test_a_second_level_beyond_its_share_of_the_budget_is_not_kept_time_for_a_cheaper_booster_is():
    # cardiotocography at 300 s: 10 folds, 21 columns and 10 classes (five members add 45 columns), a CatBoost best
    # booster whose folds took 67.5 s; the search used to keep 46 % of the budget for a second level it then stopped
    width = expected_width(21, "multiclass", 10)
    assert width == pytest.approx(66 / 21)
    policy, factor = _wide_policy(300.0, 10, width)
    policy.completed("catboost", 0.30, fit_time=67.5)
    slow = policy.refit_seconds(67.5)
    assert slow * factor > STACK_SHARE * 300.0  # its second level would cost more than the share ...
    assert policy.search_time_left() == pytest.approx(300.0 - slow * 3.0, abs=0.5)  # ... so nothing is kept for it
    policy.completed("lightgbm", 0.33, fit_time=4.0)  # worse, but its second level fits in the share
    fast = policy.refit_seconds(4.0)
    assert fast * factor <= STACK_SHARE * 300.0
    assert policy.stack_estimate == pytest.approx(fast)
    assert policy.search_time_left() == pytest.approx(300.0 - slow * 3.0 - fast * factor, abs=0.5)
    policy.completed("xgboost", 0.31, fit_time=5.0)  # better than lightgbm, and fits: it is the one kept for
    assert policy.stack_estimate == pytest.approx(policy.refit_seconds(5.0))


def test_the_search_keeps_for_the_second_level_what_the_stack_stage_expects_of_it():
    # two places size a second level: the search (a refit estimate times stack_refit_factor) and the stack stage
    # (stack_seconds, from the trial's fit time); they differ only by the refit's pads
    for fit_time, n_splits, scale, width in [(67.5, 10, 1.11, 3.14), (9.0, 3, 1.5, 1.0), (120.0, 5, 1.25, 1.7)]:
        kept = refit_seconds(fit_time, n_splits, scale) * stack_refit_factor(n_splits, scale, width)
        expected = stack_seconds(fit_time, n_splits, scale, width)
        assert abs(kept - expected) <= FALLBACK_PAD * stack_refit_factor(n_splits, scale, width)
        assert kept >= expected  # the search keeps at least what the stage will ask for


def test_the_second_level_is_the_best_booster_that_fits_in_the_time_left():
    ranked = [TrialRecord(number=n, state="complete", family=f, params={}, fit_time=t)
              for n, f, t in [(1, "linear", 0.1), (7, "catboost", 60.0), (3, "xgboost", 8.0), (2, "lightgbm", 2.0)]]
    assert second_level(ranked).number == 7
    assert second_level(ranked, lambda r: r.fit_time < 10.0).number == 3
    assert second_level(ranked, lambda r: r.fit_time < 1.0) is None  # the best trial is no booster: never taken
    assert second_level(ranked[:1], lambda r: True).number == 1  # no booster at all: the best trial
