"""The search loop: defaults first, failures recorded, pruning, budget, resume, reproducibility."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor

import automl
from automl.exceptions import AllTrialsFailedError, StudyMismatchError
from automl.families import ModelFamily, get_family, register_family, unregister_family
from automl.spaces import space_from_dict

_SPACE = {"params": {"level": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.5}}}


def _explode(params: Any, ctx: Any) -> Any:
    raise RuntimeError("boom")


class _NaNRegressor(DummyRegressor):
    def predict(self, X, return_std=False):
        return np.full(len(X), np.nan)


EXPLODING = ModelFamily("exploding", frozenset({"binary", "multiclass", "regression"}), "ordinal", _explode,
                        "always fails", search_space=space_from_dict({"family": "exploding", **_SPACE}))
NAN = ModelFamily("nan_scores", frozenset({"regression"}), "ordinal", lambda p, c: _NaNRegressor(),
                  "predicts NaN", search_space=space_from_dict({"family": "nan_scores", **_SPACE}))
CONSTANT = ModelFamily("constant", frozenset({"binary"}), "ordinal",
                       lambda p, c: DummyClassifier(strategy="prior"), "predicts the prior",
                       search_space=space_from_dict({"family": "constant", **_SPACE}))


@pytest.fixture
def test_families():
    for fam in (EXPLODING, NAN, CONSTANT):
        register_family(fam.name, f"{__name__}:{fam.name.upper() if fam is not NAN else 'NAN'}")
    yield
    for fam in (EXPLODING, NAN, CONSTANT):
        unregister_family(fam.name)


def _binary(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["u", "v"], n)})
    y = np.where(X["a"] + 0.5 * X["b"] > 0, "pos", "neg")
    return X.assign(y=y)


def test_each_family_default_is_tried_first_in_registry_order():
    names = ["lightgbm", "linear", "knn"]
    model = automl.fit(_binary(), target="y", n_trials=3, families=names, cv=3, n_jobs=1)
    trials = sorted(model.study_.trials, key=lambda t: t.number)
    train_rows = len(_binary()) * 2 // 3  # the defaults follow the rows of a training fold (3 folds)
    for trial, name in zip(trials, names):
        space = get_family(name).space_for(train_rows)
        assert trial.params == {"family": name, **space.optuna_defaults()}
        assert trial.user_attrs["automl:params"] == space.active(space.defaults())  # (l1_ratio: not with l2)
        assert trial.user_attrs["automl:origin"] == "default"


def test_failing_and_nan_trials_are_recorded_and_the_search_goes_on(test_families):
    data = _binary()
    model = automl.fit(data, target="y", n_trials=4, families=["exploding", "linear"], cv=3, n_jobs=1)
    board = model.leaderboard()
    failed = board[board["family"] == "exploding"]
    assert len(failed) >= 1 and set(failed["state"]) == {"fail"}
    assert failed["reason"].str.contains("RuntimeError: boom").all()
    assert (board["state"] == "complete").any()
    assert model.best_family_ == "linear"

    reg = _binary().assign(y=lambda d: d["a"] * 2.0)
    model = automl.fit(reg, target="y", n_trials=3, families=["nan_scores", "linear"], cv=3, n_jobs=1)
    nan_rows = model.leaderboard().query("family == 'nan_scores'")
    assert set(nan_rows["state"]) == {"fail"}
    assert nan_rows["reason"].str.contains("not finite").all()


def test_every_trial_failing_raises_with_reasons_grouped_by_family(test_families):
    with pytest.raises(AllTrialsFailedError, match=r"exploding: RuntimeError: boom \(x3\)"):
        automl.fit(_binary(), target="y", n_trials=3, families=["exploding"], cv=3, n_jobs=1)


def test_a_hopeless_trial_is_pruned_with_its_reason(test_families):
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    model = automl.fit(_binary(200), target="y", n_trials=2, families=["linear", "constant"], cv=5,
                       pruner=pruner, n_jobs=1)
    row = model.leaderboard().query("family == 'constant'").iloc[0]
    assert row["state"] == "pruned"
    assert row["reason"].startswith("pruned after fold 1/5")
    assert row["n_folds"] == 1  # the folds it ran are counted ...
    assert np.isnan(row["roc_auc_mean"])  # ... but a partial mean is not shown beside full CV scores


def test_same_seed_and_n_trials_give_the_same_leaderboard():
    data = _binary(120, seed=3)
    cols = ["trial", "family", "params", "roc_auc_mean", "roc_auc_std", "state"]
    runs = [
        automl.fit(data, target="y", n_trials=10, families=["linear", "knn", "lightgbm"], cv=3, seed=7, n_jobs=1)
        .leaderboard()[cols]
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert len(set(map(str, runs[0]["params"]))) > 3  # really searched, not repeated defaults


def test_time_budget_is_kept_refit_included():
    # 8 s: the worker's start (about 2 s) and the time kept for the refit and the ensemble's refits
    # (about 3.5 s here) leave room for more than one trial.
    model = automl.fit(_binary(300), target="y", time_budget=8, cv=3, n_jobs=1)
    assert model.fit_time_ <= 8 * 1.1 + 10
    assert len(model.leaderboard()) >= 2
    assert model.search_time_ < model.fit_time_


class _SlowClassifier(DummyClassifier):
    def fit(self, X, y, sample_weight=None):
        import time

        time.sleep(1.0)
        return super().fit(X, y, sample_weight)


SLOW = ModelFamily("slow", frozenset({"binary"}), "ordinal", lambda p, c: _SlowClassifier(strategy="prior"),
                   "sleeps 1 s per fold", search_space=space_from_dict({"family": "slow", **_SPACE}))


def test_the_search_ends_instead_of_spinning_when_no_fold_fits_in_the_time_left():
    register_family("slow", f"{__name__}:SLOW")
    try:
        model = automl.fit(_binary(), target="y", families=["slow"], time_budget=8, cv=2, n_jobs=1,
                           tracking=False)
    finally:
        unregister_family("slow")
    board = model.leaderboard()
    not_run = board["reason"].fillna("").str.startswith("not run").sum()
    assert len(board) <= 6 and not_run <= 3


def test_a_named_study_is_stored_locally_and_resumed(tmp_path):
    data = _binary()
    first = automl.fit(data, target="y", n_trials=3, families=["linear", "knn"], cv=3, study_name="s1", n_jobs=1)
    assert (tmp_path / "automl-studies.journal").is_file()
    second = automl.fit(data, target="y", n_trials=2, families=["linear", "knn"], cv=3, study_name="s1", n_jobs=1)
    trials = second.leaderboard().dropna(subset=["trial"])  # the ensemble, if any, has a row of its own
    assert len(trials) == 5
    assert sorted(trials["trial"]) == list(range(5))
    first_trials = first.leaderboard().dropna(subset=["trial"])
    assert trials["roc_auc_mean"].max() >= first_trials["roc_auc_mean"].max()  # the earlier trials still count
    assert set(second.oof_predictions_) <= {3, 4}  # only this run's trials carry predictions
    with pytest.raises(StudyMismatchError, match=r"other data or settings \(the feature values and the target "
                       r"differ\); pass a new study_name"):
        automl.fit(_binary(seed=9), target="y", n_trials=1, families=["linear", "knn"], cv=3, study_name="s1")
    size = (tmp_path / "automl-studies.journal").stat().st_size
    with pytest.raises(StudyMismatchError, match=r"\(the metric \(roc_auc then, accuracy now\), cv "
                       r"\(stratified_kfold:3 then, stratified_kfold:5 now\) and the families or their search spaces "
                       r"differ\)"):
        automl.fit(data, target="y", n_trials=1, families=["linear"], cv=5, metric="accuracy", study_name="s1",
                   tracking=True, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert (tmp_path / "automl-studies.journal").stat().st_size == size  # refused: nothing appended
    assert not (tmp_path / "mlflow.db").exists()  # nor an MLflow store made (the tracker is made once it is checked)


def test_out_of_fold_predictions_are_kept_for_every_completed_trial():
    model = automl.fit(_binary(), target="y", n_trials=4, families=["linear", "knn"], cv=4, n_jobs=1)
    board = model.leaderboard()
    complete = set(board.loc[board["state"] == "complete", "trial"])
    assert complete == set(model.oof_predictions_)
    for oof in model.oof_predictions_.values():
        assert oof.shape == (80, 2) and oof.dtype == np.float32 and not np.isnan(oof).any()


def test_refit_reuses_the_boosting_rounds_found_by_early_stopping():
    model = automl.fit(_binary(300), target="y", n_trials=1, families=["lightgbm"], cv=3, n_jobs=1, final_model="refit")
    assert model.refit_params_["early_stopping_rounds"] == 0
    assert 1 <= model.refit_params_["n_estimators"] < 2000
    assert model.model_.estimator_.model_.n_estimators == model.refit_params_["n_estimators"]


def test_search_space_overrides_pin_and_narrow(tmp_path):
    overrides = {"knn": {"weights": "distance", "n_neighbors": {"low": 3, "high": 7}}}
    model = automl.fit(_binary(), target="y", n_trials=5, families=["knn"], cv=3, search_space=overrides)
    board = model.leaderboard()
    params = board.loc[board["trial"].notna(), "params"]  # the trials' (an ensemble row holds its weights)
    assert len(params) == 5 and all(p["weights"] == "distance" and 3 <= p["n_neighbors"] <= 7 for p in params)
    with pytest.raises(automl.SearchSpaceError, match="did you mean 'n_neighbors'"):
        automl.fit(_binary(), target="y", n_trials=1, families=["knn"], search_space={"knn": {"n_neighbor": 3}})
    assert math.isfinite(model.best_score_)


def test_a_family_whose_every_trial_fails_is_left_out_and_the_others_get_the_trials(test_families):
    """A family failing on every configuration was drawn, and failed, for the whole search (failed trials teach
    the sampler nothing). After FAILURES_TO_DROP failures and no completion it is left out: its later trials end
    unrun with the reason, and are not counted, so the other family gets the trials asked for."""
    from automl.search.family_failures import FAILURES_TO_DROP

    model = automl.fit(_binary(), target="y", n_trials=14, families=["exploding", "linear"], cv=3, n_jobs=1,
                       seed=0, tracking=False)
    board = model.leaderboard()
    exploding = board[board["family"] == "exploding"]
    assert (exploding["state"] == "fail").sum() == FAILURES_TO_DROP
    left_out = exploding[exploding["state"] == "pruned"]
    assert len(left_out) >= 1 and left_out["reason"].str.startswith(
        f"not run: the {FAILURES_TO_DROP} trials of 'exploding' in this search failed and none completed (the "
        "last: RuntimeError: boom)").all()
    assert (board["state"] == "complete").sum() == 14 - FAILURES_TO_DROP  # the left-out trials are not counted


def test_when_every_family_is_left_out_the_search_ends_at_once_with_the_failures(test_families):
    from automl.search.family_failures import FAILURES_TO_DROP

    with pytest.raises(AllTrialsFailedError, match=rf"exploding: RuntimeError: boom \(x{FAILURES_TO_DROP}\)"):
        automl.fit(_binary(), target="y", n_trials=50, families=["exploding"], cv=3, n_jobs=1, tracking=False)


def test_searches_overlapping_in_threads_leave_optunas_logging_as_the_caller_set_it():
    import threading

    from automl.search.runner import _optuna_quiet

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        first, second = _optuna_quiet(), _optuna_quiet()
        first.__enter__()
        second.__enter__()  # a second fit's search starts while the first runs
        first.__exit__(None, None, None)  # the first ends first: the second is still quiet
        assert optuna.logging.get_verbosity() == optuna.logging.ERROR
        second.__exit__(None, None, None)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
        frame = pd.DataFrame({"a": np.random.default_rng(0).normal(size=90)})
        frame["y"] = np.where(frame.a > 0, "p", "q")
        fits = [threading.Thread(target=lambda s=s: automl.fit(frame, "y", families=["linear"], n_trials=2, cv=3,
                                                                isolation="none", tracking=False, seed=s))
                for s in range(3)]
        [fit.start() for fit in fits]
        [fit.join() for fit in fits]
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(before)
