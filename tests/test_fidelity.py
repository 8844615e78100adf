"""Multi-fidelity and honest scores (issue 7, items 3 and 4): the probe on a subsample of fold 1,
successive halving at the probe, trials sized down to the time left, repeated CV on small data."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

import automl
from automl.evaluation import Evaluator, get_metric, make_cv_plan
from automl.evaluation.cross_validation import probe_fraction_for, subsample
from automl.evaluation.monitor import FoldDone, Go, ProbeDone, Unmonitored
from automl.families import ModelFamily, register_family, unregister_family
from automl.search.trial_monitor import probe_cut
from automl.spaces import space_from_dict

#: Rows each fit of the test families saw, in order.
SEEN: list[int] = []


class NoisyLogistic(ClassifierMixin, BaseEstimator):
    """Logistic regression whose probabilities are blended with noise: AUC grows with ``quality``;
    its fit sleeps ``seconds_per_row`` per training row (a model whose cost is known)."""

    def __init__(self, quality: float = 1.0, seconds_per_row: float = 0.0) -> None:
        self.quality = quality
        self.seconds_per_row = seconds_per_row

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NoisyLogistic:
        SEEN.append(len(X))
        time.sleep(len(X) * self.seconds_per_row)
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        noise = np.random.default_rng(len(X)).uniform(size=len(X))
        p = self.quality * self.model_.predict_proba(X)[:, 1] + (1 - self.quality) * noise
        return np.column_stack([1 - p, p])


def _space(name: str, seconds_per_row: float) -> Any:
    return space_from_dict({"family": name, "params": {
        "quality": {"type": "float", "low": 0.0, "high": 1.0, "default": 1.0},
        "seconds_per_row": {"type": "fixed", "value": seconds_per_row},
    }})


def _build(params: Any, ctx: Any) -> NoisyLogistic:
    return NoisyLogistic(params["quality"], params["seconds_per_row"])


NOISY = ModelFamily("noisy", frozenset({"binary"}), "onehot", _build, "noisy logistic", search_space=_space("noisy", 0.0))
SLOW = ModelFamily("slow", frozenset({"binary"}), "onehot", _build, "2.5 s per 10k rows", search_space=_space("slow", 2.5e-4))


@pytest.fixture
def families():
    register_family("noisy", f"{__name__}:NOISY")
    register_family("slow", f"{__name__}:SLOW")
    SEEN.clear()
    yield
    unregister_family("noisy")
    unregister_family("slow")


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X.assign(y=(X["a"] + X["b"] + rng.normal(size=n) > 0).astype(int))


def test_subsample_is_stratified_seeded_and_keeps_every_class():
    y = np.array([0] * 950 + [1] * 47 + [2] * 3)
    rows = np.arange(1000)
    picked = subsample(rows, y, 0.1, seed=1, classification=True)
    assert np.array_equal(picked, np.sort(picked))
    assert np.bincount(y[picked]).tolist() == [95, 5, 2]
    assert np.array_equal(picked, subsample(rows, y, 0.1, seed=1, classification=True))
    assert not np.array_equal(picked, subsample(rows, y, 0.1, seed=2, classification=True))
    assert len(subsample(rows, y.astype(float), 0.25, seed=0, classification=False)) == 250
    assert subsample(rows, y, 1.0, seed=0, classification=True) is rows


def test_only_large_folds_get_a_probe_of_a_ninth_within_limits():
    assert probe_fraction_for(9_999) is None
    assert probe_fraction_for(10_000) == 0.2  # at least 2 000 rows
    assert probe_fraction_for(90_000) == pytest.approx(1 / 9, abs=1e-4)
    assert probe_fraction_for(900_000) == pytest.approx(20_000 / 900_000, abs=1e-4)  # at most 20 000


def test_probe_cut_keeps_the_best_third_in_either_direction():
    scores = [1, 2, 3, 4, 5, 6, 7]
    assert probe_cut(scores, greater_is_better=True) == 5.0
    assert probe_cut(scores, greater_is_better=False) == 3.0
    assert probe_cut([*scores, math.nan], greater_is_better=True) == 5.0


class SharePicker(Unmonitored):
    """Answers the probe with a share of rows; records the events it sees."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.calls: list[Any] = []

    def probe(self, event: ProbeDone) -> Go:
        self.calls.append("probe")
        return Go(share=self.share)

    def fold(self, event: FoldDone) -> Go:
        self.calls.append(event.fold)
        return Go()


def test_the_evaluator_probes_first_then_trains_the_folds_on_the_share_it_is_told(families):
    frame = _frame(600)
    y = frame.pop("y").to_numpy()
    splits = make_cv_plan(3, "binary").splits(len(y), y, None)
    ev = Evaluator([get_metric("roc_auc", "binary")], splits, task="binary", n_classes=2, probe_fraction=0.25)
    monitor = SharePicker(0.5)
    result = ev.evaluate("noisy", {"quality": 1.0, "seconds_per_row": 0.0}, frame, y, monitor=monitor)
    assert monitor.calls == ["probe", 0, 1, 2]
    assert SEEN == [100, 200, 200, 200]  # the probe: a quarter of fold 1's 400 rows; then half of each fold
    assert result.fraction == 0.5
    assert not np.isnan(result.oof).any()  # every validation row is still predicted and scored
    SEEN.clear()
    assert ev.evaluate("noisy", {"quality": 1.0, "seconds_per_row": 0.0}, frame, y).fraction == 1.0
    assert SEEN == [400, 400, 400]  # no callback, no probe


def test_successive_halving_at_the_probe_prunes_weak_trials_never_the_defaults(families):
    model = automl.fit(_frame(16_000), target="y", families=["noisy"], n_trials=16, seed=0, n_jobs=1,
                       isolation="none", ensemble=False)
    trials = model.study_.trials
    at_probe = [t for t in trials if t.user_attrs.get("automl:reason", "").startswith("pruned at the probe")]
    assert at_probe, "no trial was pruned at the probe"
    assert all(t.user_attrs.get("automl:origin") != "default" for t in at_probe)  # the defaults always run
    assert all(not any(t.user_attrs["automl:fold_scores"].values()) for t in at_probe)  # no fold ran
    probes = {t.number: t.user_attrs["automl:probe_score"] for t in trials}
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    for t in at_probe:  # each was below the best third of the probes before it
        earlier = [probes[o.number] for o in trials if o.number < t.number]
        assert probes[t.number] < probe_cut(earlier, greater_is_better=True)
    board = model.leaderboard_
    assert board.loc[board["state"] == "pruned", "roc_auc_mean"].isna().all()  # never ranked on a probe
    assert set(model.oof_predictions_) <= {t.number for t in complete}


def test_no_probe_without_pruning_or_budget_and_none_on_small_data(families):
    automl.fit(_frame(16_000), target="y", families=["noisy"], n_trials=1, cv=3, pruner="none", n_jobs=1,
               isolation="none", ensemble=False)
    assert sorted(SEEN) == [10_666, 10_667, 10_667, 16_000]  # three folds and the refit: no probe
    SEEN.clear()
    automl.fit(_frame(3_000), target="y", families=["noisy"], n_trials=1, cv=3, n_jobs=1, isolation="none",
               ensemble=False)
    assert SEEN == [2_000, 2_000, 2_000, 3_000]


def test_a_trial_that_cannot_fit_the_time_left_trains_on_a_share_sized_to_it(families):
    # 2.5 s per 10k rows: a full 5-fold trial on 16k rows takes about 16 s, more than the budget.
    frame = _frame(20_000)
    started = time.monotonic()
    model = automl.fit(frame, target="y", families=["slow"], time_budget=8, seed=0, n_jobs=1, isolation="none",
                       ensemble=False, cv=5)
    assert time.monotonic() - started <= 8 * 1.1 + 10
    first = model.study_.trials[0]
    fraction = first.user_attrs["automl:rows_fraction"]
    assert 0.1 <= fraction < 1.0
    board = model.leaderboard_
    assert board.loc[board["trial"] == 0, "rows_fraction"].item() == fraction
    assert board.loc[board["trial"] == 0, "n_folds"].item() == 5  # every fold ran, on fewer rows
    probe_rows, *fold_rows = SEEN[:6]
    assert probe_rows == 2_000
    assert all(abs(rows - 16_000 * fraction) <= 2 for rows in fold_rows)
    best = model.study_.trials[model.best_trial_]
    assert abs(SEEN[-1] - 20_000 * best.user_attrs.get("automl:rows_fraction", 1.0)) <= 2  # the refit: same share
    assert model.predict(frame.drop(columns="y").head(5)).shape == (5,)


@pytest.mark.parametrize(
    "n, y_kind, expected",
    [
        (2_000, "binary", "repeated:5x2"),
        (2_501, "binary", "stratified_kfold:5"),
        (300, "regression", "repeated:5x2"),
        (300, "rare_class", "stratified_kfold:5"),
    ],
)
def test_small_data_gets_repeated_folds_by_default(n, y_kind, expected):
    y = np.arange(n) % 2 if y_kind != "regression" else np.linspace(0, 1, n)
    if y_kind == "rare_class":
        y = np.where(np.arange(n) < 3, 2, y)
    task = "regression" if y_kind == "regression" else "multiclass" if y_kind == "rare_class" else "binary"
    assert make_cv_plan(None, task, y=y).description == expected
    assert make_cv_plan(None, task).description != "repeated:5x2"  # without the target: plain folds
    assert make_cv_plan(None, task, has_groups=True, y=y).description.startswith("group")
    assert make_cv_plan(3, task, y=y).n_splits == 3  # an explicit cv= is kept


def test_a_small_fit_scores_every_trial_on_ten_folds(families):
    model = automl.fit(_frame(200), target="y", families=["noisy"], n_trials=2, n_jobs=1, isolation="none",
                       ensemble=False, pruner="none")  # no trial stopped on its scores: each runs every fold
    assert model.cv_ == "repeated:5x2"
    assert (model.leaderboard_["n_folds"] == 10).all()


def test_the_share_of_rows_shrinks_with_the_time_left_and_never_below_the_probe():
    from automl.search.policy import FIDELITY_EXPONENT, FIDELITY_TIME_SHARE, fidelity_share

    shares = [fidelity_share(2.0, 0.1, left, 5) for left in (5.0, 50.0, 200.0, 400.0, 10_000.0)]
    assert shares == sorted(shares) and shares[0] == 0.1 and shares[-1] == 1.0
    share = shares[2]
    assert 0.1 < share < 1.0
    # the folds and the refit at that share, with fit time growing as rows ** exponent, fill the share of the time
    predicted = 2.0 * (share / 0.1) ** FIDELITY_EXPONENT * (5 + 2)
    assert predicted == pytest.approx(200.0 * FIDELITY_TIME_SHARE, rel=1e-3)


def test_large_validation_folds_are_cut_to_a_sample_that_is_the_same_for_every_trial(families, monkeypatch):
    from automl.evaluation import cross_validation

    monkeypatch.setattr(cross_validation, "VALIDATION_MAX_ROWS", 500)
    frame = _frame(3_000)
    model = automl.fit(frame, target="y", families=["noisy"], n_trials=2, cv=3, n_jobs=1, isolation="none",
                       ensemble=False, pruner="none")
    oof = model.oof_predictions_
    covered = [np.flatnonzero(np.isfinite(np.asarray(o, dtype=float).reshape(3_000, -1)).all(axis=1))
               for o in oof.values()]
    assert len(covered) == 2 and all(len(rows) == 1_500 for rows in covered)  # 3 folds x 500 rows
    np.testing.assert_array_equal(covered[0], covered[1])
    assert sorted(SEEN[:3]) == [2_000, 2_000, 2_000]  # the training parts stay whole


def test_folds_at_the_probes_share_reuse_the_probe_as_fold_one(families):
    from automl.evaluation.splitters import make_cv_plan as plan_for

    frame = _frame(16_000)
    X, y = frame[["a", "b"]], frame["y"].to_numpy()
    splits = plan_for(3, "binary", seed=0).splits(len(y), y, None)
    fraction = probe_fraction_for(len(splits[0][0]))
    at_the_probes_share = SharePicker(fraction)
    evaluator = Evaluator([get_metric("roc_auc", "binary")], splits, task="binary", n_classes=2,
                          probe_fraction=fraction)
    result = evaluator.evaluate("noisy", {"quality": 1.0, "seconds_per_row": 0.0}, X, y,
                                monitor=at_the_probes_share)
    assert at_the_probes_share.calls == ["probe", 0, 1, 2]
    assert len(SEEN) == 3  # the probe (fold 1) and folds 2 and 3: no fit is repeated
    assert result.fraction == fraction and len(result.fold_scores["roc_auc"]) == 3
    assert np.isfinite(result.oof[splits[0][1]]).all()
    SEEN.clear()
    evaluator.evaluate("noisy", {"quality": 1.0, "seconds_per_row": 0.0}, X, y,
                       monitor=SharePicker(0.5))
    assert len(SEEN) == 4  # a larger share: the probe, then 3 folds of their own
