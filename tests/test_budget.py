"""The time budget and the refit's isolation, tested from outside: real processes, a wall clock around the call.

The ``slow_refit`` family (benchmarks/shapes.py) is a logistic regression with an interaction term
(it ranks first on its frame) whose fit sleeps much longer on all rows than on a fold, or crashes
there (``refit_fault``). Each budget case runs ``automl.fit`` in a fresh interpreter that times
the call with its own clock; the test process times the whole child too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import automl
from automl.families import register_family, unregister_family
from benchmarks.shapes import linear_frame

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from automl.families import register_family
register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")
import automl
from benchmarks.shapes import linear_frame
kwargs = json.loads(sys.argv[1])
frame = linear_frame(kwargs.pop("rows", 1500))
start = time.monotonic()
try:
    model = automl.fit(frame, target="y", **kwargs)
    out = {"wall": time.monotonic() - start, "family": model.best_family_, "model": type(model.model_).__name__,
           "fallbacks": model.refit_fallbacks_, "run": getattr(model, "tracking_run_id_", None)}
except automl.AutoMLError as exc:
    out = {"wall": time.monotonic() - start, "error": type(exc).__name__, "message": str(exc)}
print(json.dumps(out))
"""


def _fit_in_child(**kwargs: object) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kwargs)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_wall"] = time.monotonic() - started
    return out


def test_a_refit_slower_than_the_budget_is_killed_and_the_fit_ends_on_time():
    # Folds of slow_refit sleep 0.5 s; its refit on all rows would sleep 13 s, longer than the whole budget.
    out = _fit_in_child(time_budget=5, families=["slow_refit", "linear"], cv=3, tracking=False, final_model="refit",
                        search_space={"slow_refit": {"fold_seconds": 0.5}})
    assert out["wall"] <= 5 * 1.1 + 10, out
    assert "error" not in out, out
    assert out["fallbacks"] and "deadline" in out["fallbacks"][0]["reason"], out


@pytest.mark.parametrize("final_model", ["auto", "bag"])
def test_by_default_a_refit_killed_at_its_deadline_gives_way_to_the_trials_own_fold_models(final_model):
    # auto: the refit is tried (its folds said it would fit), killed at the deadline, and the same trial's
    # fold models are used; bag: no refit at all. Neither falls back to another trial.
    out = _fit_in_child(time_budget=5, families=["slow_refit", "linear"], cv=3, tracking=False, ensemble=False,
                        final_model=final_model, search_space={"slow_refit": {"fold_seconds": 0.5}})
    assert out["wall"] <= 5 * 1.1 + 10, out
    assert out.get("family") == "slow_refit" and out["model"] == "BaggedModel", out
    if final_model == "bag":
        assert out["fallbacks"] == [], out  # no refit was tried
    else:  # the killed refit is named (before, it was only a log line)
        assert [f["family"] for f in out["fallbacks"]] == ["slow_refit"], out
        assert "deadline" in out["fallbacks"][0]["reason"] and "fold models are used instead" in out["fallbacks"][0][
            "reason"], out


def test_with_the_ensemble_on_slow_member_refits_give_way_to_their_fold_models_and_the_fit_ends_on_time():
    # The defaults (ensemble on, final_model "auto"). Every refit on all rows sleeps about 26 times a fold (the
    # estimate says 1.5 times), so the best one's refit is killed at its deadline and the members that would end
    # late are their trials' fold models: the fit still ends within the promise.
    out = _fit_in_child(time_budget=8, families=["slow_refit", "linear"], cv=3, tracking=False,
                        search_space={"slow_refit": {"fold_seconds": 0.3}})
    assert "error" not in out, out
    assert out["wall"] <= 8 * 1.1 + 10 and out["process_wall"] <= 8 * 1.1 + 10 + 15, out


def test_a_fold_longer_than_the_budget_is_killed_and_a_cheaper_family_still_gives_a_model():
    out = _fit_in_child(time_budget=5, families=["slow_refit", "linear"], cv=3, tracking=False,
                        search_space={"slow_refit": {"fold_seconds": 30.0}})
    assert out["wall"] <= 5 * 1.1 + 10, out
    assert out.get("family") == "linear", out


def test_the_budget_covers_tracking_to_a_real_mlflow_store(tmp_path):
    # 15 s: MLflow's import and store alone take 4-8 s of it on a loaded machine (at 10 s a clean-clone CI run
    # here once ended with no trial completed, which is the promised error there, not a model)
    out = _fit_in_child(time_budget=15, families=["slow_refit", "linear"], cv=3, tracking=True,
                        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                        search_space={"slow_refit": {"fold_seconds": 1.0}})
    assert out["wall"] <= 15 * 1.1 + 10, out
    assert "error" not in out and out["run"], out


@pytest.fixture
def slow_refit():
    register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")
    yield
    unregister_family("slow_refit")


@pytest.mark.parametrize("fault,reason", [("segfault", "SIGSEGV"), ("abort", "SIGABRT"),
                                          ("memory_error", "MemoryError"), ("raise", "RuntimeError"),
                                          ("nan", "predicts NaN or inf")])  # nan: before, the model predicted NaN
def test_a_crash_in_the_refit_falls_back_to_the_next_finalist_and_this_process_lives_on(slow_refit, fault, reason):
    with pytest.warns(RuntimeWarning, match="refit failed"):
        # pruner="none": every trial runs all its folds, so a second finalist is there to fall back to
        model = automl.fit(linear_frame(), target="y", n_trials=4, families=["slow_refit", "linear"], cv=3,
                           tracking=False, final_model="refit", pruner="none",
                           search_space={"slow_refit": {"fold_seconds": 0.0, "refit_fault": fault}})
    failed = model.refit_fallbacks_[0]
    assert failed["family"] == "slow_refit" and reason in failed["reason"]
    board = model.leaderboard()
    assert board.iloc[0]["family"] == "slow_refit"  # it was the best trial; its refit failed
    assert model.best_family_ != "slow_refit" or model.best_trial_ != failed["trial"]
    assert model.predict_proba(linear_frame(20, seed=1).drop(columns="y")).shape == (20, 2)


def test_when_every_refit_crashes_predict_uses_the_best_trials_fold_models(slow_refit):
    with pytest.warns(RuntimeWarning, match="every finalist's refit failed"):
        model = automl.fit(linear_frame(), target="y", n_trials=2, families=["slow_refit"], cv=3, tracking=False,
                           final_model="refit",
                           search_space={"slow_refit": {"fold_seconds": 0.0, "refit_fault": "segfault"}})
    assert len(model.refit_fallbacks_) == 2 and all("SIGSEGV" in f["reason"] for f in model.refit_fallbacks_)
    assert model.model_source_ == f"bag of 3 fold models of trial {model.best_trial_}"
    X = linear_frame(200, seed=1)
    assert model.score(X) > 0.8  # a real model: the folds', each trained on two thirds of the rows


@pytest.mark.parametrize("ensemble", [False, True])
def test_by_default_a_crashed_refit_gives_way_to_the_same_trials_fold_models_and_is_named(slow_refit, ensemble):
    # Before, the crash was only a log line: refit_fallbacks_ was [] and nothing warned.
    with pytest.warns(RuntimeWarning, match=r"the refit of trial \d+ \(slow_refit\) failed \(.*SIGSEGV.*\); predict "
                      r"uses its fold models, averaged"):
        model = automl.fit(linear_frame(), target="y", n_trials=2, families=["slow_refit", "linear"], cv=3,
                           tracking=False, ensemble=ensemble,
                           search_space={"slow_refit": {"fold_seconds": 0.0, "refit_fault": "segfault"}})
    assert model.best_family_ == "slow_refit"
    assert [(f["trial"], f["family"]) for f in model.refit_fallbacks_] == [(model.best_trial_, "slow_refit")]
    assert "SIGSEGV" in model.refit_fallbacks_[0]["reason"]
    if not ensemble:
        assert model.model_source_ == f"bag of 3 fold models of trial {model.best_trial_}"


def test_when_every_refit_fails_and_no_fold_model_is_left_the_error_lists_each_reason():
    from types import SimpleNamespace

    from automl._fit.refit import _single, _Refitter
    from automl.search.budget import Budget
    from automl.search.isolation import TrialCrashed
    from automl.spaces import load_builtin_space

    class Broken:
        isolated = True

        def refit(self, family, params, **kwargs):
            raise TrialCrashed(f"the refit's process was killed by signal SIGSEGV ({family})")

        def holds(self, number):
            return False

        def kept_models(self, number, deadline=None):
            return None

    record = SimpleNamespace(number=0, family="knn", params={}, refit_hints=[], fit_time=0.1, rows_fraction=1.0)
    refitter = _Refitter(Broken(), {"knn": load_builtin_space("knn")}, 0, 3, 1.5)
    outcome = SimpleNamespace(kept_trial=0)
    with pytest.raises(automl.RefitFailedError, match=r"trial 0 \(knn\): the refit's process was killed by signal SIGSEGV"):
        _single(refitter, Broken(), outcome, [record], Budget(None, 0.0))


@pytest.mark.parametrize("ensemble, made", [(True, "BaggedModel"), (False, "refit")])
def test_with_the_ensemble_on_a_best_refit_that_would_end_past_the_ensembles_deadline_is_its_bag(ensemble, made):
    # The best trial completed last, 2 s before the budget's end, and its refit is estimated at about 8 s: within the
    # promise's deadline, past the ensemble's. With the ensemble on its bag is the model, so that blending keeps its
    # time (wine quality at 60 s: CatBoost's refit ran to 63.8 s and the blend was left out); without it, the refit.
    from types import SimpleNamespace

    from automl._fit.refit import _single, _Refitter
    from automl.families.bagged import BaggedModel
    from automl.search.budget import Budget
    from automl.spaces import load_builtin_space

    class Holding:
        isolated = True

        def refit(self, family, params, **kwargs):
            return "refit"

        def holds(self, number):
            return True

        def kept_models(self, number, deadline=None):
            return ["fold model 1", "fold model 2", "fold model 3"]

    record = SimpleNamespace(number=0, family="knn", params={}, refit_hints=[], fit_time=15.0, n_folds=3,
                             rows_fraction=1.0)
    budget = Budget(60.0, time.monotonic() - 58.0)
    problem_aim = budget.ensemble_deadline() if ensemble else None
    refitter = _Refitter(Holding(), {"knn": load_builtin_space("knn")}, 0, 3, 1.5, final_model="auto")
    estimate = refitter.estimate(record, bag=False)
    assert budget.left(budget.ensemble_deadline()) < estimate < budget.left(budget.refit_deadline())
    model, chosen, fallbacks, source = _single(refitter, Holding(), SimpleNamespace(kept_trial=0), [record], budget,
                                               problem_aim)
    assert (type(model).__name__ if isinstance(model, BaggedModel) else model) == made and fallbacks == []


class _SlowStartTracker:
    """A tracker whose start takes longer than the whole budget, as opening (first creating) MLflow's SQLite store
    does on one loaded core (9 s measured)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_start(self, study, info) -> None:
        time.sleep(self.seconds)

    def on_trial(self, study, trial) -> None:
        pass

    def finish(self, study, report, status, deadline):
        return None


class _SlowConnectTracker(_SlowStartTracker):
    """The same slow start as a ``connect()`` that touches no study, as MLflow's tracker opens its store: the fit
    connects it once a trial has completed. Records what it was told, in order."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.calls: list[str] = []

    def connect(self) -> None:
        time.sleep(self.seconds)
        self.calls.append("connect")

    def on_start(self, study, info) -> None:
        self.calls.append("start")

    def on_trial(self, study, trial) -> None:
        self.calls.append("trial")

    def finish(self, study, report, status, deadline):
        self.calls.append(f"finish:{status}:{report is not None}")


def test_a_tracker_that_connects_slower_than_the_budget_no_longer_keeps_the_search_from_a_model():
    """Before, the search waited for the tracker's start (a fresh SQLite store: 5.4 s on one core), and a 5 s fit
    ended with no trial completed. Here the start takes 4 s of a 3 s budget; the fit still has its model."""
    tracker = _SlowConnectTracker(4.0)
    started = time.monotonic()
    model = automl.fit(linear_frame(), target="y", time_budget=3, families=["linear"], cv=3, tracking=tracker)
    assert time.monotonic() - started <= 3 * 1.1 + 10
    assert model.best_family_ == "linear"
    assert tracker.calls[:2] == ["connect", "start"] and tracker.calls[-1] == "finish:FINISHED:True", tracker.calls


def test_a_tracker_that_has_not_connected_by_the_tracking_deadline_leaves_the_fit_untracked_with_a_warning():
    tracker = _SlowConnectTracker(60.0)
    started = time.monotonic()
    with pytest.warns(RuntimeWarning, match="MLflow tracking is off for this fit: opening the tracking store had not "
                      "ended by the fit's tracking deadline"):
        model = automl.fit(linear_frame(), target="y", time_budget=3, families=["linear"], cv=3, tracking=tracker)
    assert time.monotonic() - started <= 3 * 1.1 + 10
    assert model.best_family_ == "linear" and tracker.calls == []


def test_a_tracker_start_that_takes_the_budget_is_named_in_the_error_instead_of_the_worker():
    """Before, the reason was only "the worker process had not started by the time budget's deadline (0.0 s)"."""
    started = time.monotonic()
    with pytest.raises(automl.BudgetExhaustedError, match=r"tracking's start \(opening the tracking store; a new store "
                       r"is created on first use\) took [34]\.\d s of the 3 s budget before the search; raise time_budget=, or turn "
                       r"tracking off"):
        automl.fit(linear_frame(), target="y", time_budget=3, families=["linear"], cv=3,
                   tracking=_SlowStartTracker(4.0))
    assert time.monotonic() - started <= 3 * 1.1 + 10


@pytest.mark.parametrize("budget,deferred", [(3.0, True), (119.0, True), (120.0, False), (None, False)])
def test_only_a_budget_shorter_than_the_line_defers_the_tracker_and_readme_states_the_line(budget, deferred):
    from types import SimpleNamespace

    from automl.tracking import SearchInfo
    from automl.tracking.starting import DEFERRED_BELOW, TrackerStart

    tracker = _SlowConnectTracker(0.0)
    start = TrackerStart(SimpleNamespace(tracking_on=True, tracking=tracker, time_budget=budget))
    start.start(None, SearchInfo("s", False))
    assert tracker.calls == ([] if deferred else ["start"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"budget shorter than {DEFERRED_BELOW:g} s" in readme and f"time budget shorter than {DEFERRED_BELOW:g} s" \
        in readme
