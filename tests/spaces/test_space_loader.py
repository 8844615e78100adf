"""Tests of reading search spaces from YAML files and mappings."""

from __future__ import annotations

import textwrap

import pytest

from automl.exceptions import SearchSpaceError
from automl.spaces import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    builtin_space_names,
    load_builtin_space,
    load_space_file,
    space_from_dict,
)
from automl.spaces import loader

BUILTINS = {
    "linear": ["alpha", "penalty", "l1_ratio", "class_weight"],
    "random_forest": ["n_estimators", "max_features", "min_samples_leaf", "max_depth",
                      "bootstrap", "class_weight"],
    "extra_trees": ["n_estimators", "max_features", "min_samples_leaf", "max_depth",
                    "bootstrap", "class_weight"],
    "hist_gradient_boosting": ["learning_rate", "max_leaf_nodes", "min_samples_leaf",
                               "l2_regularization", "max_features", "max_iter"],
    "lightgbm": ["learning_rate", "num_leaves", "min_child_samples", "subsample",
                 "subsample_freq", "colsample_bytree", "reg_alpha", "reg_lambda", "extra_trees",
                 "n_estimators", "early_stopping_rounds", "early_stopping_rate"],
    "catboost": ["learning_rate", "depth", "l2_leaf_reg", "random_strength", "rsm", "one_hot_max_size",
                 "max_ctr_complexity", "grow_policy", "n_estimators", "early_stopping_rounds", "early_stopping_rate"],
    "xgboost": ["learning_rate", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "reg_alpha",
                "reg_lambda", "gamma", "n_estimators", "early_stopping_rounds", "early_stopping_rate"],
    "knn": ["n_neighbors", "weights", "p"],
    "torch_mlp": ["architecture", "n_layers", "width", "shape", "dropout", "activation", "normalization",
                  "numeric_scaling", "categorical_encoding", "embedding_dim", "optimizer", "learning_rate",
                  "weight_decay", "momentum", "schedule", "batch_size", "max_epochs", "patience",
                  "validation_fraction", "target_scaling"],
    "tabm": ["arch_type", "k", "n_blocks", "d_block", "dropout", "numeric_embedding", "n_bins", "d_embedding",
             "learning_rate", "weight_decay", "batch_size", "optimizer", "schedule", "gradient_clipping", "max_epochs",
             "patience", "validation_fraction", "target_scaling"],
    "cnn": ["n_blocks", "filters", "kernel_size", "pooling", "head_width", "dropout", "activation",
            "batch_norm", "augmentation", "optimizer", "learning_rate", "weight_decay", "momentum", "schedule",
            "batch_size", "max_epochs", "patience", "validation_fraction", "target_scaling"],
}


@pytest.fixture(autouse=True)
def _fresh_builtin_cache():
    """Built-in spaces are cached; tests that swap the folder must not see (or leave) stale entries."""
    loader.load_builtin_space.cache_clear()
    yield
    loader.load_builtin_space.cache_clear()


def write(tmp_path, text: str, name: str = "space.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# --- built-in spaces ------------------------------------------------------------------------


def test_builtin_space_names():
    assert builtin_space_names() == sorted(BUILTINS)


@pytest.mark.parametrize("family", sorted(BUILTINS))
def test_builtin_spaces_load_with_expected_params_and_defaults_in_bounds(family):
    space = load_builtin_space(family)
    assert space.family == family
    assert space.names == BUILTINS[family]
    assert space.description and "\n" not in space.description
    assert space.problems() == []
    for param in space.params:
        if isinstance(param, (FloatParam, IntParam)):
            assert param.low <= param.default <= param.high, param
        elif isinstance(param, CategoricalParam):
            assert param.default in param.choices, param


def test_builtin_details_that_family_builders_rely_on():
    lgbm = load_builtin_space("lightgbm")
    assert lgbm["learning_rate"] == FloatParam("learning_rate", 0.005, 0.3, 0.05, log=True)
    assert lgbm["reg_alpha"] == FloatParam("reg_alpha", 1e-8, 10.0, 1e-8, log=True)
    assert lgbm["n_estimators"] == FixedParam("n_estimators", 2000)
    assert load_builtin_space("hist_gradient_boosting")["l2_regularization"].low == 1e-6
    assert load_builtin_space("random_forest").defaults()["bootstrap"] is True
    assert load_builtin_space("extra_trees").defaults()["bootstrap"] is False
    assert load_builtin_space("random_forest")["max_features"].choices == ("sqrt", "log2", 0.5, 1.0)
    assert load_builtin_space("linear").defaults() == {
        "alpha": 1.0, "penalty": "l2", "l1_ratio": 0.5, "class_weight": None}
    assert load_builtin_space("knn")["p"].choices == (1, 2)


def test_unknown_builtin_suggests_close_names():
    with pytest.raises(SearchSpaceError, match=r"unknown built-in search space 'lightgmb'; "
                                               r"did you mean 'lightgbm'\?"):
        load_builtin_space("lightgmb")


def test_builtin_family_must_match_file_name(tmp_path, monkeypatch):
    write(tmp_path, """\
        family: lightgbm
        params:
          p: {type: fixed, value: 1}
        """, name="knn.yaml")
    monkeypatch.setattr(loader, "_builtin_dir", lambda: tmp_path)
    assert builtin_space_names() == ["knn"]
    with pytest.raises(SearchSpaceError) as info:
        load_builtin_space("knn")
    message = str(info.value)
    assert message.startswith(str(tmp_path / "knn.yaml") + ": ")
    assert "family 'lightgbm' does not match the file name; write family: knn" in message


# --- files ----------------------------------------------------------------------------------


def test_load_space_file_reads_all_types(tmp_path):
    path = write(tmp_path, """\
        family: lightgbm
        description: A test space.
        params:
          learning_rate: {type: float, low: 0.005, high: 0.3, log: true, default: 0.05}
          num_leaves: {type: int, low: 4, high: 256, log: true, default: 31}
          class_weight: {type: categorical, choices: [null, balanced], default: null}
          subsample_freq: {type: fixed, value: 1}
        """)
    space = load_space_file(path)
    assert space.source == str(path)
    assert space.description == "A test space."
    assert space.params == (
        FloatParam("learning_rate", 0.005, 0.3, 0.05, log=True),
        IntParam("num_leaves", 4, 256, 31, log=True),
        CategoricalParam("class_weight", (None, "balanced"), None),
        FixedParam("subsample_freq", 1),
    )


def test_numeric_strings_are_accepted_for_floats(tmp_path):
    # YAML 1.1 reads 1e-3 (no dot) as the string "1e-3".
    path = write(tmp_path, """\
        family: demo
        params:
          alpha: {type: float, low: 1e-4, high: 1e+2, log: true, default: 1e-3}
          tol: {type: categorical, choices: [1e-4, 1e-3], default: 1e-3}
          eps: {type: fixed, value: 1e-8}
        """)
    space = load_space_file(path)
    assert space["alpha"] == FloatParam("alpha", 1e-4, 100.0, 1e-3, log=True)
    assert space["tol"] == CategoricalParam("tol", (1e-4, 1e-3), 1e-3)
    assert space.defaults()["eps"] == 1e-8
    assert isinstance(space["alpha"].low, float)


def test_numeric_strings_are_refused_for_ints(tmp_path):
    path = write(tmp_path, """\
        family: demo
        params:
          n: {type: int, low: 1, high: 1e3, default: 10}
        """)
    with pytest.raises(SearchSpaceError, match=r"parameter 'n': high must be an integer but is "
                                               r"the text '1e3'"):
        load_space_file(path)


PARAM = "family: demo\nparams:\n  {}\n"

BAD_CASES = {
    "not_a_mapping": ("- a\n- b\n", ["must be a mapping", "got list"]),
    "empty_file": ("", ["is empty"]),
    "invalid_yaml": ("family: [demo\n", ["not valid YAML"]),
    "missing_family": ("params: {}\n", ["missing required key 'family'"]),
    "missing_params": ("family: demo\n", ["missing required key 'params'"]),
    "unknown_top_key": ("family: demo\nparams: {}\nparms: {}\n",
                        ["unknown key 'parms'", "did you mean 'params'?"]),
    "params_not_mapping": ("family: demo\nparams: [a, b]\n",
                           ["params must be a mapping", "is list"]),
    "bad_family_name": ("family: light gbm\nparams: {}\n",
                        ["family 'light gbm'", "not a valid identifier"]),
    "definition_not_mapping": (PARAM.format("lr: 0.1"),
                               ["parameter 'lr'", "definition must be a mapping", "got float 0.1"]),
    "unknown_param_key": (PARAM.format("lr: {type: float, lowe: 0.1, low: 0.1, high: 1, default: 0.5}"),
                          ["parameter 'lr'", "unknown key 'lowe'", "did you mean 'low'?"]),
    "key_of_other_type": (PARAM.format("lr: {type: float, choices: [1], low: 0.1, high: 1, default: 0.5}"),
                          ["parameter 'lr'", "key 'choices' does not apply to a float parameter"]),
    "missing_type": (PARAM.format("lr: {low: 0.1, high: 1, default: 0.5}"),
                     ["parameter 'lr'", "missing key 'type'"]),
    "unknown_type": (PARAM.format("lr: {type: flaot, low: 0.1, high: 1, default: 0.5}"),
                     ["parameter 'lr'", "unknown type 'flaot'", "did you mean 'float'?"]),
    "missing_low": (PARAM.format("lr: {type: float, high: 1, default: 0.5}"),
                    ["parameter 'lr'", "missing required key 'low' for a float parameter"]),
    "missing_choices": (PARAM.format("w: {type: categorical, default: a}"),
                        ["parameter 'w'", "missing required key 'choices'"]),
    "missing_value": (PARAM.format("n: {type: fixed}"),
                      ["parameter 'n'", "missing required key 'value' for a fixed parameter"]),
    "text_for_number": (PARAM.format("lr: {type: float, low: small, high: 1, default: 0.5}"),
                        ["parameter 'lr'", "low must be a number but is str 'small'"]),
    "float_for_int": (PARAM.format("k: {type: int, low: 1.5, high: 10, default: 5}"),
                      ["parameter 'k'", "low must be an integer but is float 1.5"]),
    "bool_for_int": (PARAM.format("k: {type: int, low: 1, high: 10, default: true}"),
                     ["parameter 'k'", "default must be an integer but is a boolean"]),
    "log_not_bool": (PARAM.format("lr: {type: float, low: 0.1, high: 1, default: 0.5, log: 1}"),
                     ["parameter 'lr'", "log must be true or false but is int 1"]),
    "low_not_below_high": (PARAM.format("lr: {type: float, low: 1.0, high: 0.1, default: 0.5}"),
                           ["parameter 'lr'", "low=1.0 is not below high=0.1"]),
    "log_needs_positive_low": (PARAM.format("lr: {type: float, low: 0, high: 1, default: 0.5, log: true}"),
                               ["parameter 'lr'", "log=true needs low > 0 but low=0.0"]),
    "default_above_high": (PARAM.format("k: {type: int, low: 8, high: 256, default: 500}"),
                           ["parameter 'k'", "default 500 is above high=256", "inside [8, 256]"]),
    "default_not_a_choice": (PARAM.format("w: {type: categorical, choices: [uniform, distance], default: unifrom}"),
                             ["parameter 'w'", "default 'unifrom' is not one of the choices",
                              "did you mean 'uniform'?"]),
    "duplicate_choice": (PARAM.format("w: {type: categorical, choices: [a, b, a], default: a}"),
                         ["parameter 'w'", "choice 'a' appears more than once"]),
    "empty_choices": (PARAM.format("w: {type: categorical, choices: [], default: a}"),
                      ["parameter 'w'", "choices is empty"]),
    "choices_not_list": (PARAM.format("w: {type: categorical, choices: abc, default: a}"),
                         ["parameter 'w'", "choices must be a list"]),
    "bad_param_name": (PARAM.format("2lr: {type: fixed, value: 1}"),
                       ["parameter '2lr'", "not a valid identifier"]),
    "fixed_value_not_scalar": (PARAM.format("n: {type: fixed, value: [1, 2]}"),
                               ["parameter 'n'", "value [1, 2] is not a string, number"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_file_is_reported_with_source_parameter_and_rule(tmp_path, case):
    text, fragments = BAD_CASES[case]
    path = write(tmp_path, text, name=f"{case}.yaml")
    with pytest.raises(SearchSpaceError) as info:
        load_space_file(path)
    assert info.value.problems, case
    for problem in info.value.problems:
        assert problem.startswith(f"{path}: "), problem
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_all_problems_in_one_file_are_reported_together(tmp_path):
    path = write(tmp_path, """\
        family: demo
        descripton: typo at the top
        params:
          lr: {type: float, low: 0.5, high: 0.1, default: 0.3}
          k: {type: int, low: 1, high: 10, default: 50}
          w: {type: categorical, choices: [a, b], default: c, lowe: 1}
          n: {type: fixd, value: 1}
        """)
    with pytest.raises(SearchSpaceError) as info:
        load_space_file(path)
    problems = info.value.problems
    assert len(problems) == 6, problems
    assert str(info.value).startswith("6 problems found:\n")
    text = "\n".join(problems)
    assert "unknown key 'descripton' (did you mean 'description'?)" in text
    assert "parameter 'lr': low=0.5 is not below high=0.1" in text
    assert "parameter 'k': default 50 is above high=10" in text
    assert "parameter 'w': unknown key 'lowe'" in text
    assert "parameter 'w': default 'c' is not one of the choices ['a', 'b']" in text
    assert "parameter 'n': unknown type 'fixd' (did you mean 'fixed'?)" in text


def test_missing_file_is_a_search_space_error(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SearchSpaceError, match="nope.yaml: file not found"):
        load_space_file(path)


# --- mappings -------------------------------------------------------------------------------


def test_space_from_dict_default_source_and_not_a_mapping():
    with pytest.raises(SearchSpaceError, match=r"^<dict>: the search space must be a mapping"):
        space_from_dict(["family", "params"])
    with pytest.raises(SearchSpaceError, match=r"^<mine>: parameter 1: name must be text"):
        space_from_dict({"family": "demo", "params": {1: {"type": "fixed", "value": 1}}},
                        source="<mine>")


def test_space_from_dict_builds_space():
    space = space_from_dict({"family": "demo", "params": {
        "k": {"type": "int", "low": 1, "high": 9, "default": 3},
        "eps": {"type": "fixed", "value": None},
    }})
    assert space.defaults() == {"k": 3, "eps": None}
    assert space.optuna_defaults() == {"demo__k": 3}
    assert space.source == "<dict>"


def test_overrides_report_every_problem_at_once_unknown_names_and_bad_bounds():
    import numpy as np
    import pandas as pd

    import automl

    frame = pd.DataFrame({"a": np.arange(60.0)}).assign(y=lambda f: (f.a > 30).astype(int))
    with pytest.raises(SearchSpaceError) as caught:
        automl.fit(frame, target="y", families=["lightgbm"], n_trials=1, tracking=False,
                   search_space={"lightgbm": {"num_leaves": {"low": 64, "high": 8}, "learning_rat": 0.1}})
    said = str(caught.value)
    assert "'learning_rat'" in said and "low=64 is not below high=8" in said
