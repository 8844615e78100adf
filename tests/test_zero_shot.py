"""The first trials learned off-suite (issue 16, item 3): the shipped sequences, how a search queues
them, and the ``first_trials`` setting."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.exceptions import InvalidParameterError, SearchSpaceError
from automl.families import get_family
from automl.search.first_trials import enqueue_first_trials
from automl.spaces import load_builtin_space
from automl.spaces.portfolio import TASKS
from automl.spaces.zero_shot import FirstTrial, _parse, learned_first_trials


@pytest.mark.parametrize("task", TASKS)
def test_the_shipped_sequence_of_each_task_is_valid_for_the_families_spaces(task):
    entries = learned_first_trials(task)
    assert 3 <= len(entries) <= 20
    assert all(entry.source for entry in entries)  # every entry says where it comes from
    seen = []
    for entry in entries:
        space = load_builtin_space(entry.family)
        values = {**space.defaults(), **dict(entry.params)}
        space.suggest(optuna.trial.FixedTrial({space.key(k): v for k, v in space.active(values).items()
                                               if space[k].kind != "fixed"}))
        assert (entry.family, entry.params) not in seen  # no configuration twice
        seen.append((entry.family, entry.params))


def test_a_malformed_sequence_is_refused_with_every_problem_listed():
    entries, problems = _parse([
        {"family": "lightgbm", "name": "a", "params": {"num_leaves": 9999}},
        {"family": "lightgmb", "params": {}},
        {"family": "knn", "params": {"n_neighbours": 3}, "sorce": "x"},
        {"family": "knn", "params": "k=3"},
    ], "first_trials.yaml: binary ")
    text = "\n".join(problems)
    assert "entry 1 (lightgbm): 'num_leaves'=9999 is outside [4, 256]" in text
    assert "entry 2: needs a family among" in text
    assert "entry 3 (knn): unknown parameter 'n_neighbours' (did you mean 'n_neighbors'?)" in text
    assert "entry 3: unknown key 'sorce' (did you mean 'source'?)" in text
    assert "entry 4: params must be a mapping" in text
    with pytest.raises(SearchSpaceError):
        raise SearchSpaceError(problems)


_LEARNED = (
    FirstTrial("knn", "wide", (("n_neighbors", 400),), "test"),  # clipped into the space's bound (50)
    FirstTrial("catboost", "deep", (("depth", 8),), "test"),  # not searched below: skipped
    FirstTrial("linear", "plain", (("class_weight", None),), "test"),  # None is a choice here
    FirstTrial("knn", "gone", (("weights", "nowhere"),), "test"),  # not a choice: skipped
)


def test_the_learned_trials_come_first_then_the_defaults_not_yet_queued_then_the_portfolios():
    families = [get_family("lightgbm"), get_family("knn"), get_family("linear")]
    spaces = {f.name: f.space() for f in families}
    study = optuna.create_study(direction="maximize")
    origins = enqueue_first_trials(study, families, spaces, "binary", _LEARNED)
    assert origins == [
        "zero_shot:knn:wide", "zero_shot:linear:plain",
        "default", "default",  # lightgbm's and knn's defaults; linear's ran as a learned trial
        "portfolio:autogluon_xt", "portfolio:autogluon_distance",
        "portfolio:autogluon_large", "portfolio:flaml_binary_2",
    ]
    waiting = study.get_trials(deepcopy=False)
    assert waiting[0].system_attrs["fixed_params"] == {"family": "knn", "knn__n_neighbors": 50, "knn__weights": "uniform", "knn__p": 2}
    assert [t.user_attrs["automl:origin"] for t in waiting] == origins
    plain = optuna.create_study(direction="maximize")
    assert enqueue_first_trials(plain, families, spaces, "binary")[:3] == ["default"] * 3


def _frame(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(list("xyz"), n)})
    return X.assign(y=np.where(X["a"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"))


def test_a_fit_runs_the_learned_sequence_first_and_the_leaderboard_says_so():
    learned = [e for e in learned_first_trials("binary") if e.family in ("lightgbm", "knn", "linear")]
    assert learned, "the binary sequence has an entry of these families"
    model = automl.fit(_frame(), target="y", families=["lightgbm", "knn", "linear"], n_trials=len(learned) + 1,
                       cv=3, n_jobs=1, isolation="none", ensemble=False, first_trials="learned")
    origins = list(model.leaderboard_.sort_values("trial")["origin"])
    assert origins[:len(learned)] == [e.origin for e in learned]
    defaults = automl.fit(_frame(), target="y", families=["lightgbm", "knn", "linear"], n_trials=3, cv=3,
                          n_jobs=1, isolation="none", ensemble=False)  # the default
    assert list(defaults.leaderboard_.sort_values("trial")["origin"]) == ["default"] * 3


def test_a_bad_first_trials_value_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InvalidParameterError, match="first_trials must be 'defaults'.*did you mean 'learned'"):
        automl.fit(_frame(), target="y", n_trials=1, first_trials="learnt", tracking=True,
                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", storage=f"sqlite:///{tmp_path / 'study.db'}",
                   study_name="s")
    assert list(tmp_path.iterdir()) == []


def test_the_builder_places_a_strong_but_slow_configuration_after_cheap_ones_that_fit_the_allowances():
    from benchmarks.portfolio import ALLOWANCES, greedy, worth

    slow = ALLOWANCES[0] + 1.0  # fits only the larger allowances
    tables = {f"t{i}": {"norm": {"cheap": 0.6, "slow": 1.0, "useless": 0.0},
                        "cost": {"cheap": 1.0, "slow": slow, "useless": 0.5}} for i in range(3)}
    picks = [c for c, _ in greedy(tables)]
    assert picks == ["cheap", "slow"]  # nothing is gained by the useless one: it is left out
    # the slow one first would reach nothing within the smallest allowance
    assert worth(["slow", "cheap"], tables) < worth(["cheap", "slow"], tables)
