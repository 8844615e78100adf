"""The second level is cross-validated before the blend's members are made: it needs only their out-of-fold
predictions, and the members' refits had taken its time (bike sharing at 300 s: seven member refits took 27 s,
then the second level, 11.5 s expected, was refused). The members then take the time left, keeping the second
level's refit; a member whose refit would end later is its bag (``final_model="auto"``)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from automl._fit import refit as refit_stage
from automl._fit.stack import PendingStack
from automl.ensemble import EnsemblePlan
from automl.search.budget import Budget
from automl.search.trial_record import TrialRecord


def _record(number: int, family: str) -> TrialRecord:
    return TrialRecord(number=number, state="complete", family=family, params={}, fit_time=3.0)


class _Refitter:
    """Records each member's refit and the time it aimed at."""

    def __init__(self, calls: list, final_model: str = "auto") -> None:
        self.calls, self.final_model, self.runner = calls, final_model, None

    def estimate(self, record, pad=0.0, bag=None) -> float:
        return 2.0

    def refit(self, record, deadline, aim=None):
        self.calls.append(("member refit", record.number, aim))
        return SimpleNamespace(family=record.family)


def _setup(monkeypatch, calls, final_model="auto"):
    ranked = [_record(1, "catboost"), _record(2, "lightgbm"), _record(3, "torch_mlp")]
    plan = EnsemblePlan(ranked, [2, 1, 1], {"rmse": [1.0, 1.1]}, {"rmse": [1.2, 1.2]})
    monkeypatch.setattr(refit_stage, "plan_ensemble", lambda *a, **k: plan)

    def stack_cv(problem, outcome, runner, trials, blend_score, ranked_, budget, members_seconds=0.0):
        calls.append(("second level cv", list(trials), members_seconds))
        return PendingStack(ranked_[1], {}, 0, {}, SimpleNamespace(refit_hints={}, fold_scores={}), [1.0] * 4,
                            {"rmse": [0.9, 1.0]}, 5.0, refit_seconds=7.0)

    monkeypatch.setattr(refit_stage, "stack_cv", stack_cv)
    problem = SimpleNamespace(settings=SimpleNamespace(stacks=True), metric=SimpleNamespace(name="rmse"),
                              evaluator=None, y=np.zeros(4))
    budget = Budget(100.0, time.monotonic())
    return refit_stage._ensemble(_Refitter(calls, final_model), SimpleNamespace(oof={}), problem, ranked,
                                 SimpleNamespace(family="catboost"), budget), budget


def test_the_second_level_is_cross_validated_before_the_members_are_made_and_they_keep_its_refit(monkeypatch):
    calls: list = []
    (model, info, pending), budget = _setup(monkeypatch, calls)
    assert calls[0] == ("second level cv", [1, 2, 3], 0.0)  # first, over the plan's members; bags may give way
    refits = calls[1:]
    assert [c[1] for c in refits] == [2, 3]  # the best trial's model is already made
    assert all(c[2] == pytest.approx(budget.ensemble_deadline() - 7.0) for c in refits)
    assert pending.top.number == 2 and model.trials == [1, 2, 3] and info["trials"] == [1, 2, 3]


def test_under_refit_only_the_second_level_keeps_the_members_refits_time(monkeypatch):
    calls: list = []
    _setup(monkeypatch, calls, final_model="refit")
    assert calls[0] == ("second level cv", [1, 2, 3], 4.0)  # two members' refits of 2 s each: no bag to fall back to
