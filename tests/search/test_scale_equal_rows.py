"""The target's scales are compared on equal rows: on large data each trial trains on a share of its rows sized to
the time left, and the scale trials on ``sqrt(y)`` and ``log1p(y)`` run after every family's defaults, when less is
left. Each trains on the share of rows the one on the target as it is trained on, and only trials on that share are
compared (before, the target as it is won on having more rows: the public suite's diamonds at 60 s, 76 % of the rows
against 35-37 %)."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution

import automl
from automl.data.target import SEARCHED_TRANSFORMS
from automl.evaluation.metrics import get_metric
from automl.evaluation.monitor import Go, ProbeDone, Stop
from automl.search.budget import Budget
from automl.search.policy import SearchPolicy
from automl.search.trial_monitor import TrialPolicyMonitor
from automl.search.trial_record import origin_attrs

_DISTRIBUTIONS = {"family": CategoricalDistribution(["lightgbm"]),
                  "lightgbm__target_transform": CategoricalDistribution(["none", "sqrt", "log"])}


def _study_with_base(rows: float, seconds: float) -> optuna.Study:
    """A study whose scale trial on the target as it is completed on ``rows`` of each fold's rows in ``seconds``."""
    study = optuna.create_study()
    base = optuna.trial.create_trial(
        params={"family": "lightgbm", "lightgbm__target_transform": "none"}, distributions=_DISTRIBUTIONS,
        value=561.0, user_attrs={"automl:scale_trial": True, "automl:rows_fraction": rows})
    base.datetime_start = base.datetime_complete - timedelta(seconds=seconds)
    study.add_trial(base)
    return study


def _probe(study: optuna.Study, *, scale: bool, deadline_in: float | None = None):
    transform = "sqrt" if scale else "none"
    study.enqueue_trial({"family": "lightgbm", "lightgbm__target_transform": transform},
                        user_attrs=origin_attrs("default" if scale else "portfolio:x", scale=scale))
    trial = study.ask(_DISTRIBUTIONS)
    policy = SearchPolicy(Budget(60.0, time.monotonic()), get_metric("rmse", "regression"), n_splits=3,
                          probe_fraction=0.1111)
    monitor = TrialPolicyMonitor(policy, trial, "lightgbm")
    if deadline_in is not None:
        monitor.deadline = time.monotonic() + deadline_in
    # a probe of 1 s on a ninth of fold 1's rows: the time left gives the folds well under 90 % of the rows
    return monitor.probe(ProbeDone(score=600.0, seconds=1.0, fraction=0.1111))


def test_a_scale_trial_trains_on_the_share_of_rows_the_target_as_it_is_trained_on():
    other = _probe(_study_with_base(0.9, seconds=6.0), scale=False)
    assert isinstance(other, Go) and other.share < 0.9  # what the time left gives any other trial
    scale = _probe(_study_with_base(0.9, seconds=6.0), scale=True)
    assert isinstance(scale, Go) and scale.share == 0.9
    fewer = _probe(_study_with_base(0.2, seconds=1.0), scale=True)  # fewer rows than the time would allow
    assert isinstance(fewer, Go) and fewer.share == 0.2
    first = _probe(optuna.create_study(), scale=True)  # the target as it is itself: no trial to match yet
    assert isinstance(first, Go) and first.share == other.share


def test_a_scale_trial_that_cannot_match_those_rows_in_the_time_left_stops_at_its_probe():
    answer = _probe(_study_with_base(0.9, seconds=6.0), scale=True, deadline_in=5.0)
    assert isinstance(answer, Stop) and "compared on equal rows" in answer.reason and "90%" in answer.reason


def _scale_trials_of_a_fit(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(16_000, 8)), columns=[f"x{i}" for i in range(8)])
    frame["y"] = np.exp(0.8 * frame["x0"] + 0.5 * frame["x1"] * frame["x2"] + rng.normal(scale=0.3, size=16_000))
    model = automl.fit(frame, "y", time_budget=15, families=["lightgbm", "random_forest"], tracking=False, seed=seed,
                       ensemble=False)
    board = model.leaderboard()
    trials = board[board["trial"].notna()].set_index("trial").sort_index()
    scales = trials[(trials["family"] == "lightgbm") & (trials["origin"] == "default")]
    ran = [p["target_transform"] for p in scales["params"]]
    assert ran == list(SEARCHED_TRANSFORMS[: len(ran)])  # in their order (the last may find no time left to start)
    base = scales.iloc[0]
    if base["state"] != "complete" or not base["rows_fraction"] < 1.0:
        return scales.iloc[:0]  # not sized down (or not done in the time the machine left): not the case in point
    done = scales[scales["state"] == "complete"]
    assert (done["rows_fraction"] == base["rows_fraction"]).all(), done[["rows_fraction", "rmse_mean"]]
    return done


@pytest.mark.alone  # how many scale trials complete depends on the time a free machine leaves them (tests/cores.py)
def test_in_a_fit_on_large_data_the_scale_trials_that_complete_trained_on_the_same_rows():
    # Whether sqrt and log complete depends on the time the machine leaves them: when the one on the target as it is
    # was given many rows, they may not match them in the time left and stop at their probe (which is the rule). The
    # guarantee is checked on every fit; another seed is fitted only when a fit left one scale trial to compare, or
    # its first was not sized down (a clean run at d3ffd90 saw seeds 0 and 1 both leave one).
    for seed in (0, 1, 2):
        done = _scale_trials_of_a_fit(seed=seed)
        if len(done) >= 2:
            break
    assert len(done) >= 2
