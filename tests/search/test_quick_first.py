"""A short budget on a table where every booster's first fold overruns still ends with a model: once a trial was
stopped for time while none had completed, the other families' queued trials wait (queued again, at the back)
behind the quick family's (``linear``). Before, a 500-row table of 3,000 columns at 10 s, or one of 100 classes,
ended in ``BudgetExhaustedError``: LightGBM, histogram boosting and the random forest each overran in turn."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.evaluation import Evaluator, get_metric, make_cv_plan
from automl.evaluation.monitor import TrialStopped
from automl.families import resolve_families
from automl.search.budget import OVERRUN_FACTOR, OVERRUN_SECONDS, Budget
from automl.search.first_trials import queue_again, waiting_families
from automl.search.isolation import InProcessRunner
from automl.search.objective import Objective
from automl.search.oof import OOFStore
from automl.search.policy import QUICK_FAMILIES, SearchPolicy
from automl.search.trial_record import origin_attrs

WAIT = "not run yet: no trial has completed and one was stopped for time"


def test_on_a_wide_table_whose_boosters_overrun_a_short_budget_the_fit_ends_in_time_with_a_model():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(500, 3000)), columns=[f"f{i}" for i in range(3000)])
    frame["y"] = frame["f0"] + 0.5 * rng.normal(size=500)
    budget = 6.0
    started = time.monotonic()
    model = automl.fit(frame, "y", time_budget=budget, tracking=False, seed=0)
    wall = time.monotonic() - started
    assert wall <= budget * OVERRUN_FACTOR + OVERRUN_SECONDS
    board = model.leaderboard()
    trials = board[board["trial"].notna()].set_index("trial").sort_index()
    assert trials.loc[0, "family"] == "lightgbm" and trials.loc[0, "state"] == "pruned"  # its first fold overran
    assert "overrun" in trials.loc[0, "reason"] or "out of time" in trials.loc[0, "reason"]
    waited = trials[trials["reason"].fillna("").str.startswith(WAIT)]
    assert len(waited) >= 1 and not set(waited["family"]) & set(QUICK_FAMILIES)
    assert (waited["duration"] < 0.5).all()  # they waited; they did not train
    linear = trials[(trials["family"] == "linear") & (trials["state"] == "complete")]
    assert len(linear) >= 1 and linear.index.min() > waited.index.max()
    assert np.isfinite(model.predict(frame.drop(columns="y").head(20))).all()


class _FirstOverruns(InProcessRunner):
    """The in-process runner, but LightGBM's first trial is stopped for time, as a booster far too slow would be."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def evaluate(self, family, params, **kwargs):
        self.calls.append(family)
        if family == "lightgbm":
            raise TrialStopped("stopped after fold 1/3: the next fold would overrun the time budget", kind="timeout")
        return super().evaluate(family, params, **kwargs)


def _search(queue: list[str], families: list[str], n_trials: int) -> tuple[optuna.Study, _FirstOverruns]:
    X = pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0) % 7})
    y = (np.arange(60) % 3 == 0).astype(int)
    evaluator = Evaluator([get_metric("log_loss", "binary")], make_cv_plan(3, "binary").splits(60, y, None),
                          task="binary", n_classes=2)
    fams = resolve_families(families, "binary")
    spaces = {f.name: f.space() for f in fams}
    policy = SearchPolicy(Budget(None, time.monotonic()), evaluator.metrics[0], n_splits=3)
    runner = _FirstOverruns(evaluator, X, y)
    study = optuna.create_study(direction="minimize", pruner=optuna.pruners.NopPruner())
    for name in queue:
        study.enqueue_trial({"family": name, **spaces[name].optuna_defaults()}, user_attrs=origin_attrs("default"))
    objective = Objective([f.name for f in fams], spaces, evaluator.metrics[0], runner, policy,
                          OOFStore(greater_is_better=False), seed=0)
    study.optimize(objective, n_trials=n_trials)
    return study, runner


def test_after_a_trial_stopped_for_time_the_queued_trials_wait_behind_linear_and_run_after_it():
    study, runner = _search(["lightgbm", "knn", "random_forest", "linear"],
                            ["lightgbm", "knn", "random_forest", "linear"], n_trials=6)
    trials = study.get_trials()
    assert [t.params["family"] for t in trials] == ["lightgbm", "knn", "random_forest", "linear", "knn",
                                                     "random_forest"]
    assert [t.state.name for t in trials] == ["PRUNED", "PRUNED", "PRUNED", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert all(t.user_attrs["automl:reason"].startswith(WAIT) for t in trials[1:3])
    assert runner.calls == ["lightgbm", "linear", "knn", "random_forest"]  # the waiting ones trained only later
    # queued again as they were: the same configuration and origin
    assert trials[4].params == trials[1].params and trials[4].user_attrs["automl:origin"] == "default"


@pytest.mark.parametrize("families", [["lightgbm", "knn", "random_forest"], ["lightgbm", "knn", "random_forest", "linear"]])
def test_nothing_waits_without_a_quick_trial_in_the_queue(families):
    # linear not searched, or searched but not queued (only the sampler may reach it): no trial waits, none loops
    study, runner = _search(["lightgbm", "knn", "random_forest"], families, n_trials=5)
    reasons = [t.user_attrs.get("automl:reason", "") for t in study.get_trials()]
    assert not any(r.startswith(WAIT) for r in reasons)
    assert [t.params["family"] for t in study.get_trials()][:3] == ["lightgbm", "knn", "random_forest"]
    assert len(study.get_trials()) == 5


def test_a_trial_stopped_for_time_after_one_completed_makes_nothing_wait():
    study, runner = _search(["knn", "lightgbm", "random_forest", "linear"], ["lightgbm", "knn", "random_forest", "linear"],
                            n_trials=4)
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE"]


def test_waiting_families_reads_the_queue_and_queue_again_keeps_the_origin():
    study = optuna.create_study()
    study.enqueue_trial({"family": "linear", "linear__alpha": 1.0}, user_attrs=origin_attrs("portfolio:x"))
    study.enqueue_trial({"family": "knn"}, user_attrs=origin_attrs("default", scale=True))
    assert waiting_families(study) == {"linear", "knn"}
    trial = study.ask()
    trial.suggest_categorical("family", ["linear", "knn"])
    trial.suggest_float("linear__alpha", 0.1, 10.0)
    assert waiting_families(study) == {"knn"}
    queue_again(trial)
    again = study.get_trials(states=(optuna.trial.TrialState.WAITING,))[-1]
    assert again.system_attrs["fixed_params"] == {"family": "linear", "linear__alpha": 1.0}
    assert again.user_attrs == {"automl:origin": "portfolio:x"}


def test_a_deferred_trial_does_not_count_towards_n_trials():
    # n_trials=4: the four trials that ran (LightGBM stopped for time, then linear, then two more) are the four
    # counted; those that waited behind linear are recorded, pruned, and cost the user none of their trials
    from automl.search.runner import MainRole, SearchSpec, run_search
    from automl.search.trial_record import TrialRecord, counted_trials

    X = pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0) % 7})
    y = (np.arange(60) % 3 == 0).astype(int)
    evaluator = Evaluator([get_metric("log_loss", "binary")], make_cv_plan(3, "binary").splits(60, y, None),
                          task="binary", n_classes=2)
    fams = resolve_families(["lightgbm", "random_forest", "knn", "linear"], "binary")
    spec = SearchSpec(evaluator, fams, {f.name: f.space() for f in fams}, n_trials=4, pruner="none")
    runner = _FirstOverruns(evaluator, X, y)
    outcome = run_search(spec, runner, MainRole(spec), Budget(None, time.monotonic()))
    records = [TrialRecord.read(t) for t in outcome.study.get_trials()]
    deferred = [r for r in records if r.deferred]
    assert len(deferred) >= 1 and all(r.reason.startswith(WAIT) and r.state == "pruned" for r in deferred)
    assert len(runner.calls) == 4 and runner.calls[:2] == ["lightgbm", "linear"]  # four trained, as asked
    assert counted_trials(outcome.study.get_trials()) == 4
    assert len([r for r in records if r.state != "waiting"]) == 4 + len(deferred)
