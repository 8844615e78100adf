"""A net too slow to train its epochs in its fold's time is stopped after its first epochs, not left to spend it."""

from __future__ import annotations

import time

import optuna
import pytest

import automl
from automl.evaluation.metrics import get_metric
from automl.evaluation.monitor import EpochDone, Go, Stop
from automl.search.budget import Budget
from automl.search.policy import SearchPolicy
from automl.search.trial_monitor import EPOCHS_TO_TIME, MIN_NET_EPOCHS_IN_CAP, TrialPolicyMonitor


def _monitor(completed: bool):
    policy = SearchPolicy(Budget(60.0, time.monotonic()), get_metric("roc_auc", "binary"), n_splits=3)
    if completed:
        policy.completed("lightgbm", 0.9, fit_time=1.0)
    study = optuna.create_study(direction="maximize")
    return policy, TrialPolicyMonitor(policy, study.ask(), "tabm")


def _epoch(seconds: float, epoch: int = EPOCHS_TO_TIME - 1, fold: int = 0) -> EpochDone:
    return EpochDone(fold=fold, n_folds=3, epoch=epoch, value=0.8, seconds=seconds)


def test_a_net_that_cannot_train_its_epochs_in_its_fold_time_is_stopped_after_its_first_epochs():
    policy, monitor = _monitor(completed=True)
    cap = policy.fold_cap  # 60 s over 3 folds x 4: 5 s
    per_epoch = cap / (MIN_NET_EPOCHS_IN_CAP - 1)  # one epoch short of what it needs
    answer = monitor.epoch(_epoch(EPOCHS_TO_TIME * per_epoch))
    assert isinstance(answer, Stop) and answer.kind == "pruned"
    assert f"fewer than the {MIN_NET_EPOCHS_IN_CAP} it needs" in answer.reason and "5.0 s" in answer.reason
    fast = _monitor(completed=True)[1].epoch(_epoch(EPOCHS_TO_TIME * cap / (MIN_NET_EPOCHS_IN_CAP + 1)))
    assert isinstance(fast, Go) and not fast.end_fold
    first = _monitor(completed=True)[1].epoch(_epoch(cap * 1.2, epoch=0))  # its first epoch alone overran the cap
    assert isinstance(first, Stop) and "stopped at epoch 1 of fold 1" in first.reason


def test_the_epochs_are_timed_after_the_first_which_also_pays_the_folds_setup():
    # 2 s to the end of epoch 1 (a worker's first import of torch, the inputs' transforms), then 0.1 s an epoch:
    # about 31 epochs fit in the 5 s, though the first epoch alone read as 2.5 of them.
    policy, monitor = _monitor(completed=True)
    assert isinstance(monitor.epoch(_epoch(2.0, epoch=0)), Go)
    assert isinstance(monitor.epoch(_epoch(2.1, epoch=1)), Go)
    # the same first epoch, then 0.5 s an epoch: 2 + 2.5 / 0.5 = 7 epochs, short of the 10 it needs
    policy, monitor = _monitor(completed=True)
    monitor.epoch(_epoch(2.0, epoch=0))
    slow = monitor.epoch(_epoch(2.5, epoch=1))
    assert isinstance(slow, Stop) and "about 7 epochs fit in the 5.0 s" in slow.reason


@pytest.mark.parametrize("completed,fold,epoch", [(False, 0, EPOCHS_TO_TIME - 1), (True, 1, EPOCHS_TO_TIME - 1),
                                                  (True, 0, EPOCHS_TO_TIME)])
def test_the_speed_is_judged_in_the_first_epochs_of_the_first_fold_after_a_trial_has_completed(completed, fold, epoch):
    policy, monitor = _monitor(completed)
    answer = monitor.epoch(_epoch(policy.fold_cap, epoch=epoch, fold=fold))  # far too slow
    assert isinstance(answer, Go)


def test_without_a_budget_no_net_is_judged_too_slow():
    policy = SearchPolicy(Budget(None, time.monotonic()), get_metric("roc_auc", "binary"), n_splits=3)
    policy.completed("lightgbm", 0.9, fit_time=1.0)
    monitor = TrialPolicyMonitor(policy, optuna.create_study(direction="maximize").ask(), "tabm")
    assert isinstance(monitor.epoch(_epoch(1000.0)), Go)


@pytest.mark.alone  # its premise is an epoch's time on a free core (tests/cores.py)
def test_in_a_search_the_slow_net_ends_after_its_first_epochs_and_the_budget_holds():
    pytest.importorskip("tabm")
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1500, 10)), columns=[f"x{i}" for i in range(10)])
    frame["label"] = (frame["x0"] + frame["x1"] > 0).astype(int)
    budget = 12.0  # a net's fold may train 3 s (the floor); this net's epoch takes about 1 s on one core
    started = time.monotonic()
    model = automl.fit(
        frame, target="label", families=["linear", "tabm"], time_budget=budget, cv=3, n_jobs=1, tracking=False,
        search_space={"tabm": {"k": 32, "d_block": 512, "n_blocks": 2}},
    )
    elapsed = time.monotonic() - started
    board = model.leaderboard()
    nets = board[board["family"] == "tabm"]
    assert len(nets) and (nets["state"] == "pruned").all()
    ran = nets[~nets["reason"].str.startswith("not run")]
    slow = ran["reason"].str.contains("epochs fit in the 3.0 s a net's fold may train")
    assert slow.iloc[0] and (slow | ran["reason"].str.contains("time budget")).all()  # or at the budget's end
    assert (ran["duration"] < 3 * 3.0).all()  # less than the 3 folds x 3 s it would have spent
    assert elapsed < budget * 1.1 + 10
    assert model.best_family_ == "linear"
