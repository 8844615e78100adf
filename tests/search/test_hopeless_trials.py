"""A trial far behind the best is stopped between folds: its error (the distance from a perfect score) more than
HOPELESS_ERROR_RATIO times the best trial's. Such a model earns next to no weight in the blend, and the time of
its other folds goes to the trials after it."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.evaluation.metrics import Metric, get_metric
from automl.evaluation.monitor import FoldDone, Go, Stop
from automl.search.budget import Budget
from automl.search.policy import SearchPolicy
from automl.search.trial_monitor import HOPELESS_ERROR_RATIO, HOPELESS_MIN_ERROR, TrialPolicyMonitor


def _monitor(metric: Metric, best: float | None, pruner: optuna.pruners.BasePruner | None = None,
             best_folds: tuple[float, ...] = ()):
    policy = SearchPolicy(Budget(None, time.monotonic()), metric, n_splits=3)
    if best is not None:
        policy.completed("lightgbm", best, fit_time=1.0, folds=best_folds)
    study = optuna.create_study(direction=metric.direction, pruner=pruner)
    return TrialPolicyMonitor(policy, study.ask(), "knn")


def _after_fold(monitor: TrialPolicyMonitor, running: float, fold: int = 0):
    return monitor.fold(FoldDone(fold=fold, n_folds=3, running=running, seconds=0.1))


@pytest.mark.parametrize("metric, task, best, error_of", [
    ("rmse", "regression", 40.0, lambda e: e),
    ("log_loss", "multiclass", 0.25, lambda e: e),
    ("roc_auc", "binary", 0.9, lambda e: 1.0 - e),
    ("r2", "regression", 0.8, lambda e: 1.0 - e),
])
def test_a_trial_more_than_the_ratio_as_far_from_perfect_as_the_best_is_stopped_after_its_fold(
        metric, task, best, error_of):
    m = get_metric(metric, task)
    best_error = m.error(best)
    behind = _after_fold(_monitor(m, best), error_of(best_error * HOPELESS_ERROR_RATIO * 1.05))
    assert isinstance(behind, Stop) and "as far from a perfect score as the best trial's" in behind.reason
    assert behind.reason.startswith("stopped after fold 1/3")
    assert isinstance(_after_fold(_monitor(m, best), error_of(best_error * HOPELESS_ERROR_RATIO * 0.95)), Go)
    # the last fold is never judged: the trial has cost all it will
    assert isinstance(_after_fold(_monitor(m, best), error_of(best_error * 10), fold=2), Go)


def test_the_rule_is_off_before_a_trial_completes_near_a_perfect_score_for_a_users_metric_and_without_a_pruner():
    auc = get_metric("roc_auc", "binary")
    assert isinstance(_after_fold(_monitor(auc, None), 0.6), Go)
    near_perfect = 1.0 - HOPELESS_MIN_ERROR / 2  # fold-to-fold noise is as large as the error itself
    assert isinstance(_after_fold(_monitor(auc, near_perfect), 0.97), Go)
    mine = Metric("neg_max_error", lambda t, p: -float(np.max(np.abs(t - p))), True, "prediction",
                  frozenset({"regression"}))
    assert mine.error(-1.0) is None
    assert isinstance(_after_fold(_monitor(mine, -1.0), -100.0), Go)
    assert isinstance(_after_fold(_monitor(auc, 0.9, pruner=optuna.pruners.NopPruner()), 0.6), Go)


def test_a_running_mean_is_judged_against_the_best_trials_mean_on_the_same_folds():
    # fold 1 holds the rows every model misses most: the best trial scored 70 there, 40 over its three folds
    rmse, folds = get_metric("rmse", "regression"), (70.0, 20.0, 30.0)
    for fold, best_so_far in ((0, 70.0), (1, 45.0)):
        edge = HOPELESS_ERROR_RATIO * best_so_far
        assert isinstance(_after_fold(_monitor(rmse, 40.0, best_folds=folds), edge * 0.95, fold=fold), Go)
        behind = _after_fold(_monitor(rmse, 40.0, best_folds=folds), edge * 1.05, fold=fold)
        assert isinstance(behind, Stop) and f"best trial's {best_so_far:.5g} on the same folds" in behind.reason
    # 80 on fold 1 is 2 x the best trial's mean over all folds, but within the ratio of its 70 on that fold
    assert isinstance(_after_fold(_monitor(rmse, 40.0, best_folds=folds), 80.0), Go)


def test_in_a_fit_a_first_fold_harder_than_the_rest_stops_no_trial_that_keeps_up_with_the_best():
    # the first third of the rows holds a few extreme targets, and unshuffled folds put them all in fold 1: every
    # model's fold-1 RMSE is far above its mean over the three folds (before the rule compared a trial's fold 1
    # with the best trial's mean over all folds, and stopped the four trials after the first: fold 1 at 63 RMSE
    # against the best's 27.5 over its three folds)
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1200, 4)), columns=[f"x{i}" for i in range(4)])
    frame["y"] = 10.0 * frame["x0"] + rng.normal(scale=1.0, size=len(frame))
    frame.loc[:9, "y"] += 400.0 * rng.choice([-1.0, 1.0], size=10)
    model = automl.fit(frame, target="y", families=["lightgbm", "hist_gradient_boosting", "random_forest"],
                       n_trials=5, cv=KFold(3), n_jobs=1, tracking=False, ensemble=False, seed=0)
    board = model.leaderboard()
    trials = board[board["trial"].notna()]
    assert not trials["reason"].fillna("").str.contains("as far from a perfect score").any(), trials["reason"]
    assert (trials["state"] == "complete").all() and (trials["n_folds"] == 3).all()


def _frame(rows: int = 1500, noise_columns: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, noise_columns + 1)),
                         columns=["signal", *(f"noise{i}" for i in range(noise_columns))])
    frame["y"] = 10.0 * frame["signal"] + rng.normal(scale=0.5, size=rows)  # a booster finds it; kNN drowns
    return frame


@pytest.mark.parametrize("pruner, knn_folds", [("percentile", 1), ("none", 3)])
def test_in_a_fit_a_hopeless_default_stops_after_one_fold_unless_the_pruner_is_off(pruner, knn_folds):
    model = automl.fit(_frame(), target="y", families=["lightgbm", "knn"], n_trials=2, cv=3, n_jobs=1,
                       tracking=False, ensemble=False, pruner=pruner)
    board = model.leaderboard().set_index("family")
    assert board.loc["lightgbm", "state"] == "complete" and model.best_family_ == "lightgbm"
    knn = board.loc["knn"]
    assert knn["n_folds"] == knn_folds
    if knn_folds == 1:
        assert knn["state"] == "pruned" and "as far from a perfect score" in knn["reason"]
    else:
        assert knn["state"] == "complete"
        assert knn["rmse_mean"] > HOPELESS_ERROR_RATIO * board.loc["lightgbm", "rmse_mean"]  # it was that far
