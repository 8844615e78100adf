"""Warm starts (issue 7, item 2): portfolios in the search-space files, queued after the defaults,
and bounds adapted to the rows of a training fold."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.exceptions import SearchSpaceError
from automl.families import get_family
from automl.search.first_trials import enqueue_first_trials
from automl.spaces import load_builtin_space, space_from_dict
from automl.spaces.portfolio import PortfolioEntry, cap_high, portfolio_trials

_KNN = {
    "family": "knn",
    "params": {
        "n_neighbors": {"type": "int", "low": 1, "high": 50, "default": 5},
        "weights": {"type": "categorical", "choices": ["uniform", "distance"], "default": "uniform"},
        "p": {"type": "fixed", "value": 2},
    },
}


def _space(portfolio):
    return space_from_dict({**_KNN, "portfolio": portfolio})


def test_a_portfolio_entry_fills_in_the_defaults_and_keeps_its_tasks():
    space = _space([
        {"name": "wide", "source": "paper", "params": {"n_neighbors": 30}},
        {"name": "dist", "tasks": ["regression"], "params": {"weights": "distance"}},
    ])
    assert portfolio_trials(space, "binary") == [("wide", {"knn__n_neighbors": 30, "knn__weights": "uniform"})]
    assert [name for name, _ in portfolio_trials(space, "regression")] == ["wide", "dist"]
    assert space.portfolio[0].source == "paper"
    assert space_from_dict(space.to_dict()).portfolio == space.portfolio  # round trip through the YAML form


def test_bad_portfolio_entries_are_all_listed_with_fixes():
    with pytest.raises(SearchSpaceError) as info:
        _space([
            {"name": "a", "params": {"n_neighbours": 3}},
            {"name": "b", "params": {"n_neighbors": 80, "weights": "distanse"}},
            {"name": "c", "tasks": ["clustering"], "params": {"p": 1}},
            {"name": "a", "params": {"n_neighbors": 2.5}, "sorce": "x"},
            {"params": {}},
            "knn",
        ])
    text = str(info.value)
    assert "portfolio entry 'a': unknown parameter 'n_neighbours' (did you mean 'n_neighbors'?)" in text
    assert "'n_neighbors'=80 is outside [1, 50]" in text
    assert "'weights'='distanse' is not one of the choices ['uniform', 'distance']" in text
    assert "unknown task(s) ['clustering']" in text
    assert "'p' is fixed at 2 in this space; leave it out of the entry" in text
    assert "the name is used twice" in text
    assert "'n_neighbors'=2.5 is not an integer" in text
    assert "unknown key 'sorce' (did you mean 'source'?)" in text
    assert "portfolio entry 5: needs a name" in text
    assert "portfolio entry 6: must be a mapping" in text
    with pytest.raises(SearchSpaceError, match="portfolio must be a list"):
        _space({"name": "a"})


def test_entries_are_clipped_into_narrowed_bounds_and_skipped_when_no_longer_possible():
    space = _space([
        {"name": "wide", "params": {"n_neighbors": 40}},
        {"name": "dist", "params": {"weights": "distance"}},
        {"name": "same_as_defaults", "params": {"n_neighbors": 5}},
    ])
    narrowed = space.with_overrides({"n_neighbors": {"high": 20}, "weights": {"choices": ["uniform"]}})
    assert portfolio_trials(narrowed, "binary") == [("wide", {"knn__n_neighbors": 20, "knn__weights": "uniform"})]
    pinned = space.with_overrides({"n_neighbors": 7})  # a pinned parameter is not searched: left out
    assert portfolio_trials(pinned, "binary") == [("dist", {"knn__weights": "distance"})]


@pytest.mark.parametrize("family", ["lightgbm", "knn", "extra_trees"])
def test_every_builtin_portfolio_is_valid_for_its_space_and_differs_from_the_defaults(family):
    space = load_builtin_space(family)
    assert space.portfolio
    for task in ("binary", "multiclass", "regression"):
        for name, params in portfolio_trials(space, task):
            assert params != space.optuna_defaults(), (family, name)
            space.suggest(optuna.trial.FixedTrial(params))  # every value is inside the space


def test_defaults_come_first_then_the_portfolios_in_turn():
    families = [get_family("lightgbm"), get_family("knn"), get_family("linear")]
    spaces = {f.name: f.space() for f in families}
    study = optuna.create_study(direction="maximize")
    origins = enqueue_first_trials(study, families, spaces, "binary")
    assert origins == [
        "default", "default", "default",
        "portfolio:autogluon_xt", "portfolio:autogluon_distance",
        "portfolio:autogluon_large", "portfolio:flaml_binary_2",
    ]
    waiting = study.get_trials(deepcopy=False)
    assert [t.user_attrs["automl:origin"] for t in waiting] == origins


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X.assign(y=np.where(X["a"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"))


def test_a_fit_runs_defaults_then_portfolio_and_the_leaderboard_says_which():
    model = automl.fit(_frame(), target="y", families=["knn", "linear"], n_trials=4, cv=3, n_jobs=1,
                       isolation="none", ensemble=False, first_trials="defaults")
    board = model.leaderboard_.sort_values("trial")
    assert list(board["origin"]) == ["default", "default", "portfolio:autogluon_distance", "sampler"]
    third = model.study_.trials[2]
    assert third.params["knn__weights"] == "distance"


def test_bounds_follow_the_rows_of_a_training_fold():
    small = get_family("lightgbm").space_for(300)
    assert small["min_child_samples"].high == 15 and small["num_leaves"].high == 30
    assert small["min_child_samples"].default == 15  # the default moves inside the new bounds
    large = get_family("lightgbm").space_for(200_000)
    assert large["min_child_samples"].high == 100 and large["num_leaves"].high == 256
    assert get_family("random_forest").space_for(1_000_000)["n_estimators"].high == 100
    assert get_family("knn").space_for(60)["n_neighbors"].high == 6
    assert get_family("linear").space_for(60) == get_family("linear").space()  # no rule: unchanged


def test_cap_high_keeps_a_valid_range_when_the_cap_is_below_low():
    space = space_from_dict(_KNN).with_overrides({"n_neighbors": {"low": 10, "default": 12}})
    capped = cap_high(space, {"n_neighbors": 3, "weights": 1, "missing": 4})
    assert (capped["n_neighbors"].low, capped["n_neighbors"].high, capped["n_neighbors"].default) == (10, 11, 11)


def test_a_fit_searches_the_adapted_bounds_but_the_users_override_wins():
    model = automl.fit(_frame(90), target="y", families=["knn"], n_trials=1, cv=3, n_jobs=1,
                       isolation="none", ensemble=False)
    assert model.study_.trials[0].params["knn__n_neighbors"] == 5
    fold_rows = 60
    space = get_family("knn").space_for(fold_rows)
    assert space["n_neighbors"].high == 6
    overridden = automl.fit(_frame(90), target="y", families=["knn"], n_trials=1, cv=3, n_jobs=1,
                            isolation="none", ensemble=False,
                            search_space={"knn": {"n_neighbors": {"low": 20, "high": 40, "default": 30}}})
    assert overridden.study_.trials[0].params["knn__n_neighbors"] == 30


def test_portfolio_entry_type_is_hashable_and_printable():
    entry = PortfolioEntry("x", (("k", 1),), frozenset({"binary"}), "src")
    assert hash(entry) == hash(PortfolioEntry("x", (("k", 1),), frozenset({"binary"}), "src"))
    assert entry.to_dict() == {"name": "x", "source": "src", "tasks": ["binary"], "params": {"k": 1}}
