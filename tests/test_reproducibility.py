"""Reproducibility (issue 8, item 7): the same seed and n_trials give the same search and the same model."""

from __future__ import annotations

import numpy as np
import pytest

import automl
from automl.search.objective import trial_seed

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FAMILIES = ["linear", "lightgbm", "random_forest", "knn", "torch_mlp"]
COMPARED = ["rank", "trial", "family", "roc_auc_mean", "roc_auc_std", "log_loss_mean", "n_folds", "state"]


def _fit(frame, seed: int):
    return automl.fit(frame, target="label", n_trials=8, families=FAMILIES, cv=3, seed=seed, n_jobs=1,
                      device="cpu", tracking=False)


def test_same_seed_twice_gives_an_identical_leaderboard_and_predictions(binary_df):
    pytest.importorskip("torch")
    frame = binary_df.drop(columns="when")
    first, second = _fit(frame, 3), _fit(frame, 3)
    a, b = first.leaderboard(), second.leaderboard()
    assert a[COMPARED].equals(b[COMPARED])
    assert [str(p) for p in a["params"]] == [str(p) for p in b["params"]]
    X = frame.drop(columns="label")
    assert np.array_equal(first.predict_proba(X), second.predict_proba(X))
    other = _fit(frame, 4).leaderboard()
    assert not other[COMPARED].equals(a[COMPARED])  # another seed is another search


def test_each_trial_seed_derives_from_the_study_seed_and_the_trial_number():
    seeds = {trial_seed(0, n) for n in range(200)}
    assert len(seeds) == 200 and all(0 <= s < 2**31 for s in seeds)
    assert trial_seed(1, 0) != trial_seed(0, 0) and trial_seed(None, 5) == trial_seed(0, 5)


def test_seed_none_leaves_the_sampler_unseeded_and_the_folds_and_the_first_trials_as_seed_0(binary_df):
    """As the setting's text says: ``seed=None`` draws other configurations once the queued first trials are done,
    while the folds and the models are seed 0's, so the queued trials score exactly as under ``seed=0``."""
    frame = binary_df.drop(columns="when")

    def fit(seed):
        return automl.fit(frame, target="label", n_trials=14, families=["linear"], cv=3, seed=seed, n_jobs=1,
                          tracking=False, isolation="none", pruner="none")

    zero, none_a, none_b = fit(0), fit(None), fit(None)
    queued = [t for t in zero.study_.trials if "automl:origin" in {**t.user_attrs, **t.system_attrs}]
    sampled = [t for t in none_a.study_.trials if t.number >= len(queued)]
    assert queued and sampled
    for trial in queued:  # same folds, same models: the same scores
        assert none_a.study_.trials[trial.number].value == pytest.approx(trial.value, abs=0, rel=1e-12)
    params = [[t.params for t in fitted.study_.trials[len(queued):]] for fitted in (none_a, none_b)]
    assert params[0] != params[1]  # the sampler was not seeded
