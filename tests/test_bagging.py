"""Bagged fold models: the final model is the chosen trial's fold models, averaged (``final_model``).

Checked from the outside: the bag's members are the very models the trial's folds scored (each reproduces
its fold's recorded score on that fold's validation rows); ``"auto"`` refits when the refit fits and falls
back to the trial's own bag when it does not or fails (tests/test_budget.py); a bag outlives the worker
that trained it; kept bags respect their byte limits; a bag (alone or in an ensemble) saves, loads,
explains and predicts as the model it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import automl
from automl.ensemble import EnsembleModel
from automl.families import register_family, unregister_family
from automl.families.bagged import BaggedModel
from automl.families.pipeline import FamilyPipeline
from automl.search.trial_record import TrialRecord
from tests.test_ensemble import _frame as ensemble_frame


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"x{i}" for i in range(5)])
    logit = 1.5 * X["x0"] - X["x1"] + 2.0 * np.sign(X["x2"] * X["x3"])
    return X.assign(y=(logit + rng.logistic(size=n) > 0).astype(int))


def _trial(model: automl.AutoMLClassifier, number: int) -> TrialRecord:
    return TrialRecord.read(next(t for t in model.study_.get_trials() if t.number == number))


def test_the_bag_is_the_trials_own_fold_models_each_scoring_its_fold_as_recorded():
    frame = _frame()
    X = frame.drop(columns="y")
    rows = np.arange(len(frame))
    folds = [(np.setdiff1d(rows, valid), valid) for valid in np.array_split(np.random.default_rng(1).permutation(rows), 3)]
    model = automl.fit(frame, "y", n_trials=3, families=["lightgbm", "linear"], cv=folds, ensemble=False,
                       tracking=False, seed=0, final_model="bag")
    assert isinstance(model.model_, BaggedModel) and len(model.model_.members) == 3
    assert model.model_source_ == f"bag of 3 fold models of trial {model.best_trial_}"
    canonical = model.schema_.transform(X)
    recorded = _trial(model, model.best_trial_).fold_scores["roc_auc"]
    for member, (_, valid), score in zip(model.model_.members, folds, recorded):
        assert roc_auc_score(frame["y"].iloc[valid], member.predict_scores(canonical.iloc[valid])[:, 1]) == pytest.approx(score)
    by_hand = np.mean([m.predict_scores(canonical) for m in model.model_.members], axis=0)
    np.testing.assert_allclose(model.predict_proba(X), by_hand, rtol=1e-9)


@pytest.mark.parametrize("cv,members", [(4, 4), ("repeated:3x2", 6), (0.25, 1), ("time:3", 3)])
def test_bag_is_the_fold_models_under_any_folds_and_auto_refits_when_the_refit_fits(cv, members):
    frame = _frame(240)
    bagged = automl.fit(frame, "y", n_trials=2, families=["linear"], cv=cv, ensemble=False, tracking=False,
                        final_model="bag")
    assert isinstance(bagged.model_, BaggedModel) and len(bagged.model_.members) == members
    assert bagged.model_source_ == f"bag of {members} fold models of trial {bagged.best_trial_}"
    auto = automl.fit(frame, "y", n_trials=2, families=["linear"], cv=cv, ensemble=False, tracking=False)
    assert isinstance(auto.model_, FamilyPipeline) and auto.model_source_ == f"refit of trial {auto.best_trial_}"


def test_refit_and_bag_can_be_asked_for_and_a_bad_value_is_refused_with_a_suggestion(tmp_path):
    frame = _frame(200)
    refit = automl.fit(frame, "y", n_trials=2, families=["linear"], cv=3, final_model="refit", ensemble=False,
                       tracking=False)
    assert isinstance(refit.model_, FamilyPipeline) and refit.model_source_.startswith("refit of trial ")
    with pytest.raises(automl.InvalidParameterError, match=r"final_model must be .*got 'bagg'; did you mean 'bag'"):
        automl.AutoMLClassifier(final_model="bagg", tracking=True, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                                n_trials=1).fit(frame.drop(columns="y"), frame["y"])
    assert list(tmp_path.iterdir()) == []  # refused before anything was written, tracking on


@pytest.fixture
def faulty():
    register_family("faulty", "tests.faulty_family:FAULTY")
    yield
    unregister_family("faulty")


def test_a_bag_outlives_the_worker_that_trained_it(faulty):
    # Trial 0 (linear) completes and its fold models are handed over; trial 1 kills the worker.
    model = automl.fit(_frame(200), "y", n_trials=2, families=["linear", "faulty"], cv=3, ensemble=False,
                       tracking=False, final_model="bag", search_space={"faulty": {"fault": "segfault"}})
    assert _trial(model, 1).state == "fail" and "SIGSEGV" in _trial(model, 1).reason
    assert model.best_trial_ == 0 and model.model_source_ == "bag of 3 fold models of trial 0"
    assert model.refit_fallbacks_ == []


def test_the_kept_bags_are_the_best_trials_within_their_byte_limits():
    from automl.search.kept_models import KeptModels, dumps

    small, large = dumps(list(range(100))), dumps(list(range(1000)))
    assert 2 * len(small) < 1000 < len(large)
    kept = KeptModels(pickled=True, max_bag_bytes=1000, max_total_bytes=2 * len(small))
    assert kept.add(3, large, retain=[3]) == ()  # over the bag limit: not kept (refitted if chosen)
    assert kept.add(5, small, retain=[5]) == (5,)
    assert kept.add(6, small, retain=[6, 5]) == (6, 5)
    assert kept.add(8, small, retain=[6, 8, 5]) == (6, 8)  # over the total: the worst kept goes
    assert kept.add(9, small, retain=[9, 6]) == (9, 6) and kept.models(8) is None
    assert kept.models(9) == list(range(100))


def test_an_ensemble_of_bags_saves_loads_and_explains(tmp_path):
    frame = ensemble_frame(1000)  # where the blend beats the best trial
    X = frame.drop(columns="y")
    model = automl.fit(frame, "y", n_trials=8, families=["linear", "random_forest", "knn"], cv=4, seed=0,
                       n_jobs=1, tracking=False, final_model="bag")
    assert isinstance(model.model_, EnsembleModel), model.leaderboard()
    assert all(isinstance(m, BaggedModel) and len(m.members) == 4 for m in model.model_.members)
    assert model.ensemble_["refit_seconds"] < 5  # fetched, not refitted
    model.save(tmp_path / "m")
    loaded = automl.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    explained = model.explain(X.iloc[:20])
    assert explained.shape[0] == 20


def test_a_bag_of_forests_is_explained_exactly_and_its_contributions_add_up_to_its_output():
    frame = _frame(300)
    X = frame.drop(columns="y")
    model = automl.fit(frame, "y", n_trials=1, families=["random_forest"], cv=3, ensemble=False, tracking=False,
                       final_model="bag")
    assert isinstance(model.model_, BaggedModel)
    explained = model.explain(X.iloc[:25])
    assert explained.attrs["method"] == "random_forest: exact"  # each fold's forest, once
    total = explained.drop(columns="base_value").sum(axis=1) + explained["base_value"]
    positive = list(model.classes_).index(model.pos_label_)
    np.testing.assert_allclose(total, model.predict_proba(X.iloc[:25])[:, positive], atol=1e-6)
