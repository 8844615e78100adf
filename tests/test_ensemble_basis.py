"""The ensemble's scores on one basis with the trials': per fold, on the fold's own repeat, no look-ahead.

Issue 16, item 5. Under repeated CV each fold of the blend is scored on that repeat's predictions (as the
trials' folds are), not on the repeats' average; under a holdout the weights are never chosen on the rows
they are scored on; under ``time:K`` a fold's weights are chosen on earlier rows only.
"""

from __future__ import annotations

import numpy as np
import pytest

from automl._fit.problem import prepare_problem
from automl.config import resolve_settings
from automl.ensemble import cross_fitted_scores, fold_scores, greedy_selection
from automl.evaluation import get_metric
from tests.test_ensemble import _frame


class _Evaluator:
    def __init__(self, splits, metric="roc_auc", task="binary"):
        self.splits = splits
        self.metrics = [get_metric(metric, task)]
        self.weights = None
        self.classes = None


def _proba(score: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-score))
    return np.c_[1.0 - p, p]


def test_under_repeated_cv_each_fold_is_scored_on_its_own_repeats_predictions_as_the_trials_are():
    frame = _frame(300)
    settings = resolve_settings({"cv": "repeated:3x2", "seed": 0, "tracking": False, "n_trials": 1}, "any")
    problem = prepare_problem(settings, frame.drop(columns="y"), frame["y"])
    result = problem.evaluator.evaluate("knn", {}, problem.X, problem.y, seed=0)
    assert result.oof_repeats is not None and result.oof_repeats.shape == (2, 300, 2)
    per_repeat = fold_scores(result.oof_repeats, problem.y, problem.evaluator)["roc_auc"]
    np.testing.assert_allclose(per_repeat, result.fold_scores["roc_auc"], rtol=1e-5)  # the trial's own six
    averaged = fold_scores(result.oof[None], problem.y, problem.evaluator)["roc_auc"]
    assert np.mean(averaged) > np.mean(per_repeat) + 0.002  # the repeats' average flatters every row


def test_under_a_holdout_the_weights_are_never_chosen_on_the_rows_they_score():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    rows = np.arange(n)
    valid = rows[n // 2:]
    members = [np.full((n, 2), np.nan) for _ in range(12)]  # pure noise, predicted on the holdout only
    for m in members:
        m[valid] = _proba(rng.normal(size=len(valid)))
    evaluator = _Evaluator([(rows[: n // 2], valid)])
    fitted = cross_fitted_scores([m[None] for m in members], y, evaluator)["roc_auc"][0]
    in_sample = greedy_selection([m[valid] for m in members], y[valid], evaluator.metrics[0]).score
    assert in_sample > 0.58  # choosing weights on the scored rows flatters noise
    assert fitted < in_sample - 0.04 and fitted == pytest.approx(0.5, abs=0.06)


def test_under_time_splits_a_folds_weights_never_see_later_rows():
    rng = np.random.default_rng(1)
    n = 100
    rows = np.arange(n)
    y = rng.integers(0, 2, n)
    splits = [(rows[:40], rows[40:60]), (rows[:60], rows[60:80]), (rows[:80], rows[80:])]
    good = np.full((n, 2), np.nan)
    good[40:] = _proba(2.0 * (y[40:] - 0.5) + rng.normal(size=60))  # fairly good everywhere
    late = np.full((n, 2), np.nan)
    late[40:] = _proba(rng.normal(size=60))
    late[80:] = _proba(10.0 * (y[80:] - 0.5))  # perfect on the last fold only
    evaluator = _Evaluator(splits)
    scores = cross_fitted_scores([good[None], late[None]], y, evaluator)["roc_auc"]
    alone = evaluator.metrics[0].compute(y[60:80], good[60:80])
    assert scores[1] == pytest.approx(alone)  # fold 2's weights came from rows 40-60: "late" is noise there
    assert scores[0] == pytest.approx(evaluator.metrics[0].compute(y[40:60], good[40:60]))  # no earlier rows


class _Trial:
    def __init__(self, number: int) -> None:
        self.number, self.fit_time = number, 1.0


def _holdout_plan(seed: int, predictions):
    """plan_ensemble over candidates predicted on the second half of 400 rows (one holdout split)."""
    from automl.ensemble import plan_ensemble

    rng = np.random.default_rng(seed)
    n = 400
    rows = np.arange(n)
    valid = rows[n // 2:]
    y = rng.normal(size=n)
    oof = {}
    for number, prediction in enumerate(predictions(rng, y)):
        oof[number] = np.full(n, np.nan)
        oof[number][valid] = prediction[valid]
    evaluator = _Evaluator([(rows[: n // 2], valid)], "rmse", "regression")
    rmse = {k: evaluator.metrics[0].compute(y[valid], p[valid]) for k, p in oof.items()}
    return plan_ensemble([_Trial(k) for k in sorted(rmse, key=rmse.get)], oof, evaluator, y)


@pytest.mark.parametrize("seed", range(5))
def test_a_blend_that_is_truly_better_is_kept_though_the_best_of_many_trials_on_one_holdout_looks_better(seed):
    # 30 trials share one error (sd 1) and add their own (sd 0.3): each trial's true RMSE is
    # sqrt(1 + 0.09) = 1.044, their average's sqrt(1 + 0.09 / 30) = 1.0015. The best of 30 on
    # 200 holdout rows is flattered by its choice; against it the honest blend was left out on
    # seeds 2, 3 and 4. Chosen the same way (per half), the best single trial scores honestly too.
    def predictions(rng, y):
        common = rng.normal(size=len(y))
        return [y + common + 0.3 * rng.normal(size=len(y)) for _ in range(30)]

    plan = _holdout_plan(seed, predictions)
    assert plan is not None and len(plan.members) >= 5
    blend = np.mean(plan.scores["rmse"])
    assert blend < np.mean(plan.baseline_scores["rmse"])
    assert np.mean(plan.single_scores["rmse"]) < np.mean(plan.baseline_scores["rmse"])  # look-ahead flatters


@pytest.mark.parametrize("seed", range(3))
def test_a_blend_that_cannot_beat_its_best_trial_is_still_left_out(seed):
    # every trial makes the same error, scaled up: no weights do better than the best trial alone
    def predictions(rng, y):
        error = 0.3 * rng.normal(size=len(y))
        return [y + k * error for k in range(1, 12)]

    assert _holdout_plan(seed, predictions) is None


def test_a_candidate_whose_own_refit_does_not_fit_is_left_out_before_one_selection(monkeypatch):
    """Before, each chosen set that did not fit dropped its costliest member and selected again: on 1,000,000 rows
    2.6 s a selection, run again and again until the deadline, 40 s past a 300 s budget."""
    import automl.ensemble as ensemble

    rng = np.random.default_rng(0)
    n = 400
    rows = np.arange(n)
    y = rng.normal(size=n)
    oof = {k: y + rng.normal(0, 0.5 + 0.05 * k, size=n) for k in range(6)}
    evaluator = _Evaluator([(rows[: n // 2], rows[n // 2:]), (rows[n // 2:], rows[: n // 2])], "rmse", "regression")
    calls = []
    real = ensemble.greedy_selection
    monkeypatch.setattr(ensemble, "greedy_selection",
                        lambda *a, **k: calls.append((len(a[0]), len(a[0][0]))) or real(*a, **k))
    too_dear = {1, 3}  # their refits alone would end past the deadline; the others cost nothing
    plan = ensemble.plan_ensemble([_Trial(k) for k in range(6)], oof, evaluator, y,
                                  affordable=lambda members: not too_dear & {m.number for m in members})
    assert plan is not None and not too_dear & {m.number for m in plan.members}
    assert [c for c in calls if c[1] == n] == [(4, n)]  # one selection over every row, of the 4 candidates left

