"""Conditional parameters (``when:``): declared in the YAML grammar, validated at load, never suggested while unused."""

from __future__ import annotations

import optuna
import pytest

from automl.exceptions import AutoMLError, SearchSpaceError
from automl.spaces import load_builtin_space, load_space_file, space_from_dict

OPTIMIZER = {"type": "categorical", "choices": ["adamw", "sgd"], "default": "adamw"}


def _space(when, parent=OPTIMIZER, first="optimizer"):
    momentum = {"type": "float", "low": 0.8, "high": 0.99, "default": 0.9, "when": when}
    params = {first: parent, "momentum": momentum} if first == "optimizer" else {"momentum": momentum, "optimizer": parent}
    return space_from_dict({"family": "net", "params": params}, source="net.yaml")


def _problems(when, **kwargs):
    with pytest.raises(SearchSpaceError) as caught:
        _space(when, **kwargs)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, AutoMLError)
    return str(caught.value)


def test_an_unknown_parent_is_refused_at_load_with_a_suggestion():
    message = _problems({"optimiser": "sgd"})
    assert "net.yaml: parameter 'momentum': when names unknown parameter 'optimiser' (did you mean 'optimizer'?)" in message


def test_a_value_the_parent_cannot_take_is_refused_at_load_with_a_suggestion():
    message = _problems({"optimizer": ["sdg"]})
    assert "when: optimizer='sdg' is not one of its choices ['adamw', 'sgd'] (did you mean 'sgd'?)" in message


@pytest.mark.parametrize("kwargs,expected", [
    ({"first": "momentum"}, "declared below it; move 'optimizer' above 'momentum'"),
    ({"parent": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.5}}, "a float parameter; a parent must be categorical"),
])
def test_a_parent_must_be_a_categorical_declared_above(kwargs, expected):
    assert expected in _problems({"optimizer": "sgd"}, **kwargs)


@pytest.mark.parametrize("when", ["optimizer", {}, {"optimizer": []}, {"optimizer": [["sgd"]]}])
def test_a_malformed_when_is_refused(when):
    assert "when" in _problems(when)


def test_a_misspelt_when_key_is_suggested():
    with pytest.raises(SearchSpaceError, match=r"unknown key 'whn' \(did you mean 'when'\?\)"):
        space_from_dict({"family": "net", "params": {"k": {"type": "int", "low": 1, "high": 3, "default": 2, "whn": {}}}})


def test_the_yaml_form_round_trips_through_a_file(tmp_path):
    space = _space({"optimizer": "sgd"})
    path = tmp_path / "net.yaml"
    path.write_text(space.to_yaml())
    assert "when: {optimizer: sgd}" in path.read_text()
    assert load_space_file(path).conditions == space.conditions
    assert "when" not in space.to_dict(conditions=False)["params"]["momentum"]


def _sampled(space, n=40):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    out = []
    for _ in range(n):
        trial = study.ask()
        suggested = space.suggest(trial)
        study.tell(trial, 0.0)
        assert set(trial.params) == {space.key(name) for name in suggested if space[name].kind != "fixed"}
        out.append(suggested)
    return out


@pytest.mark.parametrize("family,child,parent,values", [
    ("torch_mlp", "momentum", "optimizer", {"sgd"}),
    ("torch_mlp", "embedding_dim", "categorical_encoding", {"embedding"}),
    ("torch_mlp", "shape", "architecture", {"mlp"}),
    ("cnn", "momentum", "optimizer", {"sgd"}),
    ("linear", "l1_ratio", "penalty", {"elasticnet"}),
])
def test_a_built_in_conditional_parameter_is_suggested_only_where_it_is_used(family, child, parent, values):
    sampled = _sampled(load_builtin_space(family))
    assert {p[parent] for p in sampled} >= values and {p[parent] for p in sampled} - values  # both regimes ran
    for params in sampled:
        assert (child in params) == (params[parent] in values), params
    defaults = load_builtin_space(family).optuna_defaults()
    assert (f"{family}__{child}" in defaults) == (load_builtin_space(family).defaults()[parent] in values)


def test_an_override_narrowing_the_parent_leaves_the_child_unused_without_error():
    space = load_builtin_space("torch_mlp").with_overrides({"optimizer": "adamw"})
    assert all("momentum" not in p for p in _sampled(space, 10))
    space = load_builtin_space("torch_mlp").with_overrides({"optimizer": "sgd", "momentum": {"low": 0.5}})
    assert all(0.5 <= p["momentum"] <= 0.99 for p in _sampled(space, 10))


def test_a_portfolio_entry_switching_the_parent_brings_the_child_default():
    space = space_from_dict({"family": "net", "params": {
        "optimizer": OPTIMIZER, "momentum": {"type": "float", "low": 0.8, "high": 0.99, "default": 0.9, "when": {"optimizer": "sgd"}}},
        "portfolio": [{"name": "sgd", "params": {"optimizer": "sgd"}}]})
    from automl.spaces.portfolio import portfolio_trials

    assert portfolio_trials(space, "binary") == [("sgd", {"net__optimizer": "sgd", "net__momentum": 0.9})]
    assert space.optuna_defaults() == {"net__optimizer": "adamw"}


def test_best_params_leave_out_what_the_spaces_conditions_leave_unused_as_the_leaderboard_does(tmp_path):
    """best_params_ (and the saved manifest) listed l1_ratio=0.5 beside penalty='l2', a parameter the model never
    used and the leaderboard did not list: a user copying them into search_space pinned a dead parameter."""
    import json

    import numpy as np
    import pandas as pd

    import automl

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=list("abc"))
    y = (X["a"] + rng.normal(size=120) > 0).astype(int)
    model = automl.AutoMLClassifier(families=["linear"], n_trials=2, cv=2, isolation="none", tracking=False,
                                    search_space={"linear": {"penalty": "l2"}}).fit(X, y)
    best = model.leaderboard().iloc[0]
    assert model.best_params_["penalty"] == "l2" and "l1_ratio" not in model.best_params_
    assert model.best_params_ == best["params"]
    model.save(tmp_path / "m")
    assert "l1_ratio" not in json.dumps(json.loads((tmp_path / "m" / "manifest.json").read_text()))
