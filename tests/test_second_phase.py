"""The time the final stage left, searched on (:mod:`automl._fit.time_left`).

The search keeps time for the final stage from estimates; when the stage takes less, the fit searches on with the
same study and builds the final model again, keeping the better on CV. Tested from outside where it is a promise (a
child interpreter, a wall clock around it, the refits' start times written by the model itself to a file), and in
this process for the stage's own rules (what it never does, what a failure leaves).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl._fit import time_left
from automl.evaluation import Evaluator, get_metric, make_cv_plan
from automl.families import resolve_families
from automl.search.budget import OVERRUN_FACTOR, OVERRUN_SECONDS, Budget
from automl.search.isolation import InProcessRunner
from automl.search.objective import Objective
from automl.search.oof import OOFStore
from automl.search.policy import NOT_RUN_FOR_TIME, SearchPolicy
from automl.search.trial_record import StudyRecord, origin_attrs
from benchmarks.shapes import linear_frame

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from automl.families import register_family
register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")
import automl
from benchmarks.shapes import linear_frame
budget, mark = float(sys.argv[1]), sys.argv[2]
frame = linear_frame(1500)
start = time.monotonic()
model = automl.fit(frame, target="y", time_budget=budget, families=["slow_refit"], cv=3, tracking=False, seed=0,
                   stack=False, search_space={"slow_refit": {"fold_seconds": 0.15, "power": 1, "mark": mark}})
wall = time.monotonic() - start
done = [t.datetime_complete.timestamp() for t in model.study_.trials if t.state.name == "COMPLETE"]
proba = model.predict_proba(frame.drop(columns="y").head(50))
print(json.dumps({"wall": wall, "completed": done, "source": model.model_source_,
                  "finite": bool((proba >= 0).all() and (proba <= 1).all())}))
"""


def test_when_the_final_stage_ends_early_trials_complete_after_it_and_the_fit_keeps_its_budget(tmp_path):
    # Each trial sleeps 3 x 0.15 s; the search keeps ~3.8 s for the final stage (the best refit estimated with its
    # margin, twice more for the ensemble's members), which takes well under a second (each refit sleeps 0.23 s).
    mark, budget = tmp_path / "refits.txt", 10.0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", CHILD, str(budget), str(mark)], capture_output=True, text=True,
                          env=env, timeout=300)
    process_wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["wall"] <= budget * OVERRUN_FACTOR + OVERRUN_SECONDS and out["finite"]
    assert process_wall <= budget * OVERRUN_FACTOR + OVERRUN_SECONDS + 30  # the interpreter's start and imports
    refits = [float(line) for line in mark.read_text().split()]
    first_refit = min(refits)
    after = [t for t in out["completed"] if t > first_refit]
    assert after, f"no trial completed after the first final stage's refit at {first_refit} ({out})"


def _search_with_no_time_left(enqueued: bool) -> optuna.Study:
    X = pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0) % 7})
    y = (np.arange(60) % 3 == 0).astype(int)
    evaluator = Evaluator([get_metric("log_loss", "binary")], make_cv_plan(3, "binary").splits(60, y, None),
                          task="binary", n_classes=2)
    fams = resolve_families(["linear"], "binary")
    spaces = {f.name: f.space() for f in fams}
    # A budget already spent, a trial completed before (a resumed study), one fold of linear timed at 0.5 s
    policy = SearchPolicy(Budget(5.0, time.monotonic() - 100.0), evaluator.metrics[0], n_splits=3, complete_before=1)
    policy.fold_done("linear", 0.5)
    study = optuna.create_study(direction="minimize")
    if enqueued:
        study.enqueue_trial({"family": "linear", **spaces["linear"].optuna_defaults()}, user_attrs=origin_attrs("default"))
    objective = Objective(["linear"], spaces, evaluator.metrics[0], InProcessRunner(evaluator, X, y), policy,
                          OOFStore(greater_is_better=False), seed=0)
    study.optimize(objective, n_trials=1)
    return study


def test_a_queued_trial_not_run_for_lack_of_time_is_queued_again_as_it_was():
    study = _search_with_no_time_left(enqueued=True)
    first, again = study.get_trials()
    assert first.state.name == "PRUNED" and first.user_attrs["automl:reason"].startswith(NOT_RUN_FOR_TIME)
    assert first.user_attrs.get("automl:deferred") is True  # not counted towards n_trials
    assert again.state.name == "WAITING" and again.user_attrs["automl:origin"] == "default"
    assert again.system_attrs["fixed_params"] == first.params


def test_a_sampled_trial_not_run_for_lack_of_time_is_not_queued_again():
    (only,) = study_trials = _search_with_no_time_left(enqueued=False).get_trials()
    assert len(study_trials) == 1 and only.state.name == "PRUNED"
    assert only.user_attrs["automl:reason"] == NOT_RUN_FOR_TIME


@pytest.fixture
def frame() -> pd.DataFrame:
    return linear_frame(400)


@pytest.fixture
def phase_calls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every second phase started (the search goes on whenever any time is left: the share set to 0)."""
    calls: list[float] = []
    real = time_left.continue_search

    def counted(outcome, budget):
        calls.append(budget.final_seconds)
        return real(outcome, budget)

    monkeypatch.setattr(time_left, "SECOND_PHASE_SHARE", 0.0)
    monkeypatch.setattr(time_left, "continue_search", counted)
    return calls


def test_without_a_time_budget_or_with_a_stored_study_the_search_does_not_go_on(frame, phase_calls, tmp_path):
    automl.fit(frame, "y", n_trials=3, families=["linear"], cv=3, tracking=False)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    automl.fit(frame, "y", time_budget=6, families=["linear"], cv=3, tracking=False, storage=storage,
               study_name="shared")
    assert phase_calls == []


def test_a_second_final_stage_that_raises_leaves_the_first_model(frame, phase_calls, monkeypatch, caplog):
    def failing(*args, **kwargs):
        raise RuntimeError("injected in the second final stage")

    monkeypatch.setattr(time_left, "build_final_model", failing)
    with caplog.at_level("WARNING", logger="automl"):
        model = automl.fit(frame, "y", time_budget=6, families=["linear", "knn"], cv=3, tracking=False, seed=0)
    assert phase_calls, "the search did not go on"
    assert "injected in the second final stage" in caplog.text and "the first one stays" in caplog.text
    assert np.isfinite(model.predict_proba(frame.drop(columns="y"))).all()
    recorded = StudyRecord.read(model.study_).final_model  # what predict uses, as Optuna's tools read it
    assert recorded is not None and recorded.get("source", model.model_source_) == model.model_source_


def test_the_second_final_model_is_kept_only_when_it_scores_better_on_cv(frame, phase_calls, monkeypatch):
    firsts: list[float] = []
    real = time_left.search_on

    def spy(problem, outcome, final, *args):
        firsts.append(final.score)
        return real(problem, outcome, final, *args)

    monkeypatch.setattr("automl._fit.run.search_on", spy)
    model = automl.fit(frame, "y", time_budget=6, families=["linear", "knn"], cv=3, tracking=False, seed=0)
    assert phase_calls and firsts
    metric = get_metric(model.metric_, model.task_)
    assert np.isfinite(model.best_score_) and not metric.is_better(firsts[0], model.best_score_)


def test_a_single_trial_never_replaces_a_blend_and_a_better_blend_does():
    from types import SimpleNamespace as Final

    rmse = get_metric("rmse", "regression")
    blend, single = Final(score=2.10, ensemble={"trials": [1, 2]}), Final(score=2.00, ensemble=None)
    assert not time_left._replaces(rmse, single, blend)  # its score is the best of many, flattered by the choice
    assert time_left._replaces(rmse, Final(score=2.05, ensemble={"trials": [1, 3]}), blend)
    assert not time_left._replaces(rmse, Final(score=2.15, ensemble={"trials": [1, 3]}), blend)
    assert time_left._replaces(rmse, single, Final(score=2.01, ensemble=None))
    assert not time_left._replaces(rmse, Final(score=float("nan"), ensemble=None), Final(score=2.01, ensemble=None))


def test_a_second_search_that_raises_leaves_the_first_model(frame, monkeypatch, caplog):
    def failing(outcome, budget):
        raise RuntimeError("injected in the second search")

    monkeypatch.setattr(time_left, "SECOND_PHASE_SHARE", 0.0)
    monkeypatch.setattr(time_left, "continue_search", failing)
    with caplog.at_level("WARNING", logger="automl"):
        model = automl.fit(frame, "y", time_budget=6, families=["linear", "knn"], cv=3, tracking=False, seed=0)
    assert "injected in the second search" in caplog.text and "the first final model stays" in caplog.text
    assert np.isfinite(model.predict_proba(frame.drop(columns="y"))).all()
