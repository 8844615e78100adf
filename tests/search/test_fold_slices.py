"""A booster slower than its trial's time ends every fold on the rounds it has, instead of being stopped after
fold 1 with nothing to show: each fold trains for its share of the time to the trial's deadline."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.evaluation.metrics import get_metric
from automl.evaluation.monitor import EpochDone, FoldDone, Go, Stop
from automl.search.budget import Budget
from automl.search.policy import MIN_NET_FOLD_SECONDS, SearchPolicy
from automl.search.trial_monitor import FOLD_SLICE_SHARE, SLICE_DEADLINE_MARGIN, TrialPolicyMonitor


def _monitor(family: str = "catboost", n_splits: int = 3, budget: float = 60.0):
    policy = SearchPolicy(Budget(budget, time.monotonic()), get_metric("roc_auc", "binary"), n_splits=n_splits)
    policy.completed("linear", 0.9, fit_time=0.3)
    monitor = TrialPolicyMonitor(policy, optuna.create_study(direction="maximize").ask(), family)
    return monitor, monitor.deadline - time.monotonic()  # the trial's seconds to its deadline


def _rounds(seconds: float, fold: int = 0, n_folds: int = 3) -> EpochDone:
    return EpochDone(fold=fold, n_folds=n_folds, epoch=10, value=float("nan"), seconds=seconds, kind="rounds")


def test_a_boosters_fold_ends_after_its_share_of_the_time_to_the_trials_deadline():
    monitor, left = _monitor()
    # a fold that started s seconds ago may train FOLD_SLICE_SHARE * (left + s) / 3: it ends past s = edge
    edge = FOLD_SLICE_SHARE * left / (3 - FOLD_SLICE_SHARE)
    assert not monitor.epoch(_rounds(edge * 0.95)).end_fold
    assert monitor.epoch(_rounds(edge * 1.05)).end_fold
    assert not monitor.epoch(_rounds(edge * 1.05, fold=2)).end_fold  # the last fold has all the time left


def test_a_single_split_keeps_its_round_cap_and_a_slice_is_never_under_the_floor():
    one, left = _monitor(n_splits=1, budget=600.0)  # one split: the booster's share of the search, as before
    assert one.round_cap is not None and one.round_cap < FOLD_SLICE_SHARE * left
    assert not one.epoch(_rounds(one.round_cap * 0.9, n_folds=1)).end_fold
    assert one.epoch(_rounds(one.round_cap * 1.1, n_folds=1)).end_fold
    short, _ = _monitor()
    short.deadline = time.monotonic() + 3.0  # 3 s to the trial's deadline, 3 folds to go: the floor
    assert not short.epoch(_rounds(MIN_NET_FOLD_SECONDS - 0.5)).end_fold
    assert short.epoch(_rounds(MIN_NET_FOLD_SECONDS + 0.5)).end_fold


def test_a_fold_begun_near_the_deadline_ends_its_margin_before_it_even_under_the_floor():
    # the last fold began 3.2 s before the trial's deadline: its share (0.9 x 3.2 s) is under the floor, and the
    # floor (3 s) would end it only 0.2 s before the deadline, less than a booster's report interval: it ends
    # SLICE_DEADLINE_MARGIN before the deadline instead (before this, the deadline stopped the trial mid-fold)
    began = 3.2
    cut = began - SLICE_DEADLINE_MARGIN
    assert cut < MIN_NET_FOLD_SECONDS
    for seconds, ends in ((cut - 0.2, False), (cut + 0.2, True)):
        monitor, _ = _monitor()
        monitor.deadline = time.monotonic() + began - seconds  # so the fold began `began` s before the deadline
        assert monitor.epoch(_rounds(seconds, fold=2)).end_fold is ends, seconds


def test_after_a_sliced_fold_the_next_runs_while_a_fold_that_cannot_be_sliced_is_stopped():
    # 5 s to the trial's deadline after a fold of 6 s: a booster's next fold is sliced to fit, a forest's is not
    for family, rounds, expected in (("catboost", True, Go), ("random_forest", False, Stop)):
        monitor, _ = _monitor(family=family)
        monitor.deadline = time.monotonic() + 5.0
        if rounds:
            monitor.epoch(_rounds(1.0))  # it reports its rounds: its folds are sliced
        answer = monitor.fold(FoldDone(fold=0, n_folds=3, running=0.9, seconds=6.0))
        assert isinstance(answer, expected), family
        assert expected is Go or "the next fold would overrun" in answer.reason


def test_in_a_fit_a_booster_far_slower_than_the_budget_completes_its_folds_and_the_budget_holds():
    pytest.importorskip("catboost")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2000, 10)), columns=[f"x{i}" for i in range(10)])
    frame["grade"] = (2 * frame["x0"] + frame["x1"] + rng.normal(size=2000)).round().clip(-3, 3).astype(int)
    # depth 8, 7 classes, learning rate 0.01: about 40 ms a round on one core, 2,000 rounds: a fold of ~50 s
    budget = 20.0
    started = time.monotonic()
    model = automl.fit(frame, target="grade", families=["catboost"], time_budget=budget, cv=3, n_jobs=1,
                       tracking=False, search_space={"catboost": {"depth": 8, "learning_rate": 0.01}})
    elapsed = time.monotonic() - started
    board = model.leaderboard()
    done = board[(board["family"] == "catboost") & (board["state"] == "complete")]
    assert len(done) >= 1 and model.best_family_ == "catboost"
    assert (done["duration"] < budget).all()
    assert elapsed < budget * 1.1 + 10
    assert model.predict_proba(frame.drop(columns="grade").head(5)).shape == (5, 7)
