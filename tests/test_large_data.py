"""Large data gets a real search (issue 16, item 6): one holdout split chosen by ``cv=None`` when the
budget is short for the data, trials sized to leave room for many more, the best trial refitted on
more rows at the end, and nets and boosters that end their training at a fit deadline."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import automl
from automl.evaluation import make_cv_plan
from automl.evaluation.splitters import HOLDOUT_MIN_ROWS, HOLDOUT_MIN_WORK
from automl.families import register_family, unregister_family
from automl.families.epochs import fit_deadline
from automl.families.pipeline import FamilyPipeline
from automl.search.budget import Budget
from automl.search.policy import MIN_SEARCH_TRIALS, SearchPolicy, fidelity_share, grown_fraction
from automl.evaluation.metrics import get_metric
from automl.spaces import load_builtin_space
from tests.test_fidelity import SEEN, _frame


@pytest.mark.parametrize(
    "rows, columns, budget, groups, expected",
    [
        (1_000_000, 20, 300, False, "holdout:0.1"),  # 66,667 cells per second of budget
        (1_000_000, 20, 3600, False, "stratified_kfold:3"),  # 5,556: enough time for folds
        (1_000_000, 20, None, False, "stratified_kfold:5"),  # no budget: no hurry
        (HOLDOUT_MIN_ROWS - 1, 400, 10, False, "stratified_kfold:3"),  # too few rows for a holdout to rank trials
        (1_000_000, 20, 300, True, "group:3"),  # groups keep their folds
    ],
)
def test_the_default_cv_is_one_holdout_on_large_data_under_a_short_budget(rows, columns, budget, groups, expected):
    y = np.arange(rows) % 2
    plan = make_cv_plan(None, "binary", y=y, time_budget=budget, n_columns=columns, has_groups=groups)
    assert plan.description == expected
    if expected.startswith("holdout"):
        assert rows * columns / budget >= HOLDOUT_MIN_WORK and plan.n_splits == 1


def test_with_one_split_a_trial_shares_the_time_left_with_the_trials_still_to_reach_the_minimum():
    metric = get_metric("roc_auc", "binary")
    policy = SearchPolicy(Budget(300.0, time.monotonic()), metric, n_splits=1, probe_fraction=0.05)
    assert policy.trials_ahead() == MIN_SEARCH_TRIALS
    assert policy.final_reserve == 0.0  # nothing sized down yet
    policy.completed("lightgbm", 0.9, fit_time=8.0, fraction=0.05)
    assert policy.trials_ahead() == MIN_SEARCH_TRIALS - 1
    assert policy.final_reserve == pytest.approx(75.0)  # the best trained on a share: room to grow it at the end
    policy.completed("linear", 0.95, fit_time=1.0, fraction=1.0)
    assert policy.final_reserve == 0.0  # the best trained on all its rows: nothing to grow
    folds = SearchPolicy(Budget(300.0, time.monotonic()), metric, n_splits=3, probe_fraction=0.05)
    assert folds.trials_ahead() == 1  # k folds: as before
    # A probe of 8 s on 5 % of the rows: a trial alone would train on a quarter of them; sharing the time
    # left with 20 trials, it is the probe alone.
    assert fidelity_share(8.0, 0.05, 280.0, 1) > 0.2
    assert fidelity_share(8.0, 0.05, 280.0, 1, trials_ahead=20) == 0.05


def test_while_trials_share_the_time_boosters_are_capped_and_a_slow_family_runs_again_only_if_it_is_the_best():
    metric = get_metric("roc_auc", "binary")
    policy = SearchPolicy(Budget(300.0, time.monotonic()), metric, n_splits=1, probe_fraction=0.05)
    net_cap, round_cap = policy.trial_caps()
    assert net_cap == policy.fold_cap == 75.0  # nets keep their own cap
    assert round_cap == pytest.approx(300.0 / (MIN_SEARCH_TRIALS * 2), rel=0.02)  # a booster's fit: its share
    policy.fold_done("lightgbm", 7.0)
    policy.completed("lightgbm", 0.91, fit_time=7.0, fraction=0.05)
    policy.fold_done("knn", 40.0)
    policy.completed("knn", 0.80, fit_time=5.0, fraction=0.05)
    assert "not run: one fold of this family takes 40.0 s" in (policy.skip_reason("knn") or "")
    assert policy.skip_reason("lightgbm") is None
    policy.fold_done("xgboost", 40.0)
    policy.capped_families.add("xgboost")  # it reported its rounds: its next trials end at the round cap
    assert policy.skip_reason("xgboost") is None
    assert not policy.stop_after_skips  # skipping a slow family never ends the search
    policy.completed("knn", 0.95, fit_time=5.0, fraction=0.05)
    assert policy.skip_reason("knn") is None  # it holds the best score: worth its time
    for _ in range(MIN_SEARCH_TRIALS):
        policy.completed("linear", 0.5, fit_time=0.1, fraction=0.05)
    assert policy.trials_ahead() == 1
    assert policy.trial_caps()[1] == pytest.approx(min(policy.fold_cap, policy.search_time_left() / 2), rel=0.02)
    folds = SearchPolicy(Budget(300.0, time.monotonic()), metric, n_splits=3, probe_fraction=0.05)
    folds.fold_done("knn", 40.0)
    assert folds.trial_caps() == (folds.fold_cap, None) and folds.skip_reason("knn") is None  # k folds: as before


def test_with_the_search_time_up_and_nothing_complete_no_family_is_called_slow():
    # Seen on 160k rows: "one fold of this family takes 0.0 s, more than 2 x the -0.1 s a trial's fit may take".
    metric = get_metric("roc_auc", "binary")
    policy = SearchPolicy(Budget(10.0, time.monotonic() - 30.0), metric, n_splits=1, probe_fraction=0.05)
    policy.fold_done("linear", 0.0)
    policy.fold_done("knn", 3.0)
    assert policy.fit_share() is not None and policy.fit_share() <= 0.0
    assert policy.skip_reason("linear") is None and policy.skip_reason("knn") is None


def test_a_refit_grows_with_the_time_left_and_never_shrinks():
    assert grown_fraction(0.1, 2.0, 0.5) == 0.1
    assert 0.1 < grown_fraction(0.1, 2.0, 10.0) < grown_fraction(0.1, 2.0, 30.0) < 1.0
    assert grown_fraction(0.1, 0.01, 100.0) == 1.0
    assert grown_fraction(1.0, 100.0, 1.0) == 1.0


@pytest.fixture
def slow_family():
    register_family("slow", "tests.test_fidelity:SLOW")
    SEEN.clear()
    yield
    unregister_family("slow")


def test_a_holdout_search_on_data_too_large_for_its_budget_runs_many_probe_sized_trials_then_grows_the_best(
        slow_family):
    # 2.5 s per 10k rows: one trial on the 18,000 training rows takes 4.5 s, a third of the budget; the
    # probe (2,000 rows) takes 0.5 s.
    frame = _frame(20_000)
    started = time.monotonic()
    model = automl.fit(frame, target="y", families=["slow"], time_budget=15, seed=0, n_jobs=1, isolation="none",
                       ensemble=False, cv=0.1)
    wall = time.monotonic() - started
    assert wall <= 15 * 1.1 + 10
    trials = model.study_.trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) >= 8, [(t.state.name, t.user_attrs.get("automl:reason")) for t in trials]
    probe_share = complete[0].user_attrs["automl:rows_fraction"]
    assert probe_share == pytest.approx(2_000 / 18_000, abs=1e-3)
    assert all(t.user_attrs.get("automl:rows_fraction") == probe_share for t in complete)
    reasons = [t.user_attrs.get("automl:reason") or "" for t in trials]
    assert not any(r.startswith("pruned at the probe") for r in reasons)  # a probe that is the whole trial stays
    refit_rows = SEEN[-1]  # the final refit, seen by the model itself
    assert refit_rows > 2 * 20_000 * probe_share
    assert model.predict(frame.drop(columns="y").head(5)).shape == (5,)


def test_in_the_isolated_worker_the_grown_refit_ends_in_time_and_is_named(slow_family):
    frame = _frame(20_000)
    started = time.monotonic()
    model = automl.fit(frame, target="y", families=["slow"], time_budget=15, seed=0, n_jobs=1, ensemble=False,
                       cv=0.1)  # process isolation (the default): the refit's stop_at crosses to the worker
    assert time.monotonic() - started <= 15 * 1.1 + 10
    best = model.study_.trials[model.best_trial_]
    share = best.user_attrs["automl:rows_fraction"]
    assert share < 0.2
    assert model.model_source_.startswith(f"refit of trial {best.number} on "), model.model_source_
    grown = float(model.model_source_.split(" on ")[1].split("%")[0]) / 100
    assert grown > 2 * share
    assert model.predict(frame.drop(columns="y").head(5)).shape == (5,)


def _data(rows: int = 4_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 6)), columns=[f"x{i}" for i in range(6)])
    y = (X["x0"] + np.sin(3 * X["x1"]) + rng.normal(scale=0.5, size=rows) > 0).astype(int).to_numpy()
    return X, y


#: Parameters that would train for minutes: a tiny learning rate, many rounds or epochs, patience to match.
SLOW_PARAMS = {
    "lightgbm": {"learning_rate": 1e-4, "n_estimators": 1_000_000, "early_stopping_rounds": 1_000_000},
    "xgboost": {"learning_rate": 1e-4, "n_estimators": 1_000_000, "early_stopping_rounds": 1_000_000},
    "catboost": {"learning_rate": 1e-4, "n_estimators": 1_000_000, "early_stopping_rounds": 1_000_000},
    "torch_mlp": {"learning_rate": 1e-6, "max_epochs": 100_000, "patience": 100_000},
}


@pytest.mark.parametrize("family", sorted(SLOW_PARAMS))
def test_nets_and_boosters_end_their_training_at_the_fit_deadline(family):
    pytest.importorskip({"torch_mlp": "torch"}.get(family, family))  # imported before the clock starts
    space = load_builtin_space(family)
    params = {**space.defaults(), **{k: v for k, v in SLOW_PARAMS[family].items() if k in space.defaults()}}
    X, y = _data()
    with fit_deadline(time.monotonic() - 1.0):  # already past: one round or epoch (and the one-off imports)
        first = FamilyPipeline(family, params, task="binary", n_classes=2, seed=0, n_jobs=1, device="cpu").fit(X, y)
    assert min(first.refit_hints().values()) <= 2, first.refit_hints()
    pipeline = FamilyPipeline(family, params, task="binary", n_classes=2, seed=0, n_jobs=1, device="cpu")
    started = time.monotonic()
    with fit_deadline(started + 1.5):
        pipeline.fit(X, y)
    wall = time.monotonic() - started
    assert wall < 1.5 + 3.0, wall  # the last round or epoch ends, the model is built, and that is all
    proba = pipeline.predict_scores(X.head(50))
    assert proba.shape == (50, 2) and np.isfinite(proba).all()


def test_without_a_fit_deadline_nothing_is_cut(monkeypatch):
    X, y = _data(500)
    space = load_builtin_space("lightgbm")
    params = {**space.defaults(), "n_estimators": 40, "early_stopping_rounds": 0}
    pipeline = FamilyPipeline("lightgbm", params, task="binary", n_classes=2, seed=0, n_jobs=1)
    pipeline.fit(X, y)
    assert pipeline.refit_hints()["n_estimators"] == 40
    with fit_deadline(time.monotonic() - 1.0):  # already past: one round, then stop
        cut = FamilyPipeline("lightgbm", params, task="binary", n_classes=2, seed=0, n_jobs=1).fit(X, y)
    assert cut.refit_hints()["n_estimators"] < 40

