"""Tests of the parameter dataclasses and SearchSpace (suggest, defaults, overrides)."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna
import pytest
import yaml

from automl.exceptions import SearchSpaceError
from automl.spaces import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    SearchSpace,
    load_builtin_space,
    space_from_dict,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(
        "lightgbm",
        (
            FloatParam("learning_rate", 0.005, 0.3, 0.05, log=True),
            IntParam("num_leaves", 4, 256, 31, log=True),
            CategoricalParam("class_weight", (None, "balanced"), None),
            FixedParam("n_estimators", 2000),
        ),
    )


# --- problems() of single parameters -------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "fragments"),
    [
        (IntParam("num_leaves", 8, 256, 500),
         ["parameter 'num_leaves'", "default 500 is above high=256", "inside [8, 256]"]),
        (FloatParam("lr", 0.1, 0.3, 0.01), ["parameter 'lr'", "default 0.01 is below low=0.1"]),
        (FloatParam("lr", 0.3, 0.1, 0.2), ["parameter 'lr'", "low=0.3 is not below high=0.1"]),
        (FloatParam("lr", 0.0, 0.3, 0.1, log=True), ["log=true needs low > 0", "low=0.0"]),
        (IntParam("k", 1.5, 10, 5), ["parameter 'k'", "low 1.5 is not an integer"]),
        (IntParam("k", 1, 10, True), ["parameter 'k'", "default True is a boolean"]),
        (FloatParam("lr", "abc", 1.0, 0.5), ["parameter 'lr'", "low 'abc' is not a number"]),
        (FloatParam("lr", 0.1, float("inf"), 0.5), ["high inf is not finite"]),
        (FloatParam("lr", 0.1, 1.0, 0.5, log="yes"), ["log 'yes' is not a boolean"]),
        (FloatParam("2lr", 0.1, 1.0, 0.5), ["parameter '2lr'", "not a valid identifier"]),
        (FloatParam("a__b", 0.1, 1.0, 0.5), ["parameter 'a__b'", "contains '__'"]),
        (CategoricalParam("w", (), None), ["parameter 'w'", "choices is empty"]),
        (CategoricalParam("w", ("a", "a"), "a"), ["choice 'a' appears more than once"]),
        (CategoricalParam("w", (1, True), 1), ["choices 1 and True are equal"]),
        (CategoricalParam("w", ("uniform", "distance"), "distanse"),
         ["default 'distanse' is not one of the choices", "did you mean 'distance'?"]),
        (CategoricalParam("w", ("a", [1]), "a"), ["choice [1] is not a string, number"]),
        (FixedParam("n", {"a": 1}), ["parameter 'n'", "value {'a': 1} is not a string"]),
    ],
)
def test_param_problems_name_parameter_rule_and_value(param, fragments):
    problems = param.problems()
    assert problems, f"{param!r} should be invalid"
    text = "\n".join(problems)
    for fragment in fragments:
        assert fragment in text


def test_valid_params_have_no_problems(space):
    assert space.problems() == []
    assert [p.problems() for p in space.params] == [[], [], [], []]


def test_duplicate_names_are_reported():
    problems = SearchSpace("knn", (FixedParam("p", 1), IntParam("p", 1, 3, 2))).problems()
    assert problems == ["parameter 'p': defined 2 times; keep one definition"]


def test_validate_names_the_source():
    bad = SearchSpace("knn", (IntParam("k", 1, 3, 9),), source="my.yaml")
    with pytest.raises(SearchSpaceError, match=r"^my\.yaml: parameter 'k': default 9 is above"):
        bad.validate()


def test_categorical_list_choices_become_tuple_and_params_are_hashable(space):
    param = CategoricalParam("w", ["a", "b"], "a")
    assert param.choices == ("a", "b")
    assert len({param, CategoricalParam("w", ("a", "b"), "a")}) == 1
    assert hash(space) == hash(SearchSpace(space.family, list(space.params), source="other"))


# --- defaults, suggest, enqueue -------------------------------------------------------------


def test_defaults_and_optuna_defaults(space):
    assert space.names == ["learning_rate", "num_leaves", "class_weight", "n_estimators"]
    assert space.defaults() == {
        "learning_rate": 0.05, "num_leaves": 31, "class_weight": None, "n_estimators": 2000,
    }
    assert space.optuna_defaults() == {
        "lightgbm__learning_rate": 0.05, "lightgbm__num_leaves": 31, "lightgbm__class_weight": None,
    }


def test_suggest_with_fixed_trial_uses_prefixed_keys(space):
    trial = optuna.trial.FixedTrial({
        "lightgbm__learning_rate": 0.1, "lightgbm__num_leaves": 64,
        "lightgbm__class_weight": "balanced",
    })
    assert space.suggest(trial) == {
        "learning_rate": 0.1, "num_leaves": 64, "class_weight": "balanced", "n_estimators": 2000,
    }


def test_suggest_with_real_study_returns_unprefixed_names_in_bounds(space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        values = space.suggest(trial)
        assert set(values) == set(space.names)
        assert set(trial.params) == {
            "lightgbm__learning_rate", "lightgbm__num_leaves", "lightgbm__class_weight"}
        assert values["n_estimators"] == 2000
        assert 0.005 <= values["learning_rate"] <= 0.3
        assert isinstance(values["num_leaves"], int) and 4 <= values["num_leaves"] <= 256
        assert trial.params["lightgbm__num_leaves"] == values["num_leaves"]
        study.tell(trial, 0.0)


def test_fixed_param_does_not_touch_the_trial():
    class Boom:
        def __getattr__(self, name):
            raise AssertionError(f"trial.{name} was called")

    assert FixedParam("max_iter", 1000).suggest(Boom(), "x__max_iter") == 1000


@pytest.mark.parametrize("family", ["lightgbm", "random_forest", "linear", "knn"])
def test_enqueued_defaults_come_back_from_ask(family):
    space = load_builtin_space(family)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.optuna_defaults())
    trial = study.ask()
    assert space.suggest(trial) == space.active(space.defaults())  # a conditional parameter unused by the defaults is left out
    assert trial.params == space.optuna_defaults()


# --- with_overrides -------------------------------------------------------------------------


def test_override_scalar_pins_the_value(space):
    new = space.with_overrides({"num_leaves": 63, "class_weight": "balanced"})
    assert new["num_leaves"] == FixedParam("num_leaves", 63)
    assert new.defaults()["class_weight"] == "balanced"
    assert "lightgbm__num_leaves" not in new.optuna_defaults()
    assert space["num_leaves"].kind == "int"  # the original is unchanged


def test_override_value_mapping_pins(space):
    assert space.with_overrides({"learning_rate": {"value": 0.2}})["learning_rate"] == \
        FixedParam("learning_rate", 0.2)


def test_override_mapping_narrows_and_keeps_other_fields(space):
    new = space.with_overrides({"learning_rate": {"low": 0.01, "high": 0.1}})
    assert new["learning_rate"] == FloatParam("learning_rate", 0.01, 0.1, 0.05, log=True)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        assert 0.01 <= new.suggest(study.ask())["learning_rate"] <= 0.1


def test_override_moves_an_excluded_default_to_the_nearest_bound(space):
    new = space.with_overrides({"num_leaves": {"low": 64}, "class_weight": {"choices": ["balanced"]}})
    assert new["num_leaves"] == IntParam("num_leaves", 64, 256, 64, log=True)
    assert new["class_weight"] == CategoricalParam("class_weight", ("balanced",), "balanced")


def test_override_with_explicit_bad_default_is_reported(space):
    with pytest.raises(SearchSpaceError) as info:
        space.with_overrides({"num_leaves": {"low": 64, "default": 8}}, source="cli")
    assert str(info.value) == ("cli: parameter 'num_leaves': default 8 is below low=64; "
                               "choose a default inside [64, 256]")


def test_override_accepts_numeric_strings_for_floats(space):
    assert space.with_overrides({"learning_rate": {"low": "1e-3"}})["learning_rate"].low == 0.001


def test_override_problems_are_collected_with_did_you_mean(space):
    with pytest.raises(SearchSpaceError) as info:
        space.with_overrides({
            "num_leafs": 3,
            "learning_rate": {"lowe": 0.1},
            "class_weight": ["a", "b"],
            "n_estimators": {"low": 10},
            "num_leaves": {"choices": [1, 2]},
        }, source="cli")
    problems = info.value.problems
    assert len(problems) == 5
    assert all(p.startswith("cli: ") for p in problems)
    text = "\n".join(problems)
    assert "unknown parameter 'num_leafs' for family 'lightgbm' (did you mean 'num_leaves'?)" in text
    assert "parameter 'learning_rate': unknown key 'lowe' (did you mean 'low'?)" in text
    assert "parameter 'class_weight': override must be a single value" in text
    assert "parameter 'n_estimators': is fixed (value=2000)" in text
    assert "key 'choices' does not apply to an int parameter" in text


def test_override_value_with_other_keys_is_refused(space):
    with pytest.raises(SearchSpaceError, match="'value' pins the parameter and cannot be combined"):
        space.with_overrides({"num_leaves": {"value": 3, "low": 2}})


def test_getitem_suggests_close_names(space):
    with pytest.raises(KeyError, match="did you mean 'num_leaves'"):
        space["num_leavs"]


# --- serialisation and import hygiene -------------------------------------------------------


def test_to_yaml_round_trips(space):
    text = space.to_yaml()
    assert "learning_rate: {type: float, low: 0.005, high: 0.3, log: true, default: 0.05}" in text
    assert space_from_dict(yaml.safe_load(text)) == space


def test_modules_do_not_import_heavy_packages_at_import_time():
    folder = Path(__file__).resolve().parents[2] / "automl" / "spaces"
    for name in ("__init__.py", "params.py", "loader.py"):
        tree = ast.parse((folder / name).read_text())
        top = set()
        for node in tree.body:  # module level only; lazy imports inside functions are fine
            if isinstance(node, ast.Import):
                top |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                top.add(node.module.split(".")[0])
        assert not top & {"optuna", "torch", "lightgbm", "mlflow"}, (name, top)
