"""Everything that can be refused before the search is: settings and data in one error, numpy numbers
accepted, the CLI's ``--output`` checked before the search, typed errors from ``SearchSpace``.

The bad-input battery (tests/test_bad_input.py) runs each refused call with tracking on; these are the
checks that do not fit its one-call-one-error shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl.exceptions import (
    AutoMLError,
    DataValidationError,
    InputTypeError,
    InvalidParameterError,
    SearchSpaceError,
)
from automl.spaces import FloatParam, IntParam, SearchSpace, load_builtin_space

N = 30


def _frame(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": np.arange(n) % 2})


def _nothing_written(folder) -> None:
    assert list(folder.iterdir()) == []


# -- settings and data problems: one error ---------------------------------------------------------
def test_setting_and_data_problems_come_in_one_error_of_both_kinds(tmp_path) -> None:
    frame = _frame().assign(b=np.nan)
    with pytest.raises(AutoMLError) as info:
        automl.fit(frame, target="y", n_trials=0, metric="nope", families=["linear"], study_name="s")
    error = info.value
    assert isinstance(error, DataValidationError) and isinstance(error, InvalidParameterError)
    text = str(error)
    assert "3 problems found" in text
    assert "n_trials" in text and "metric 'nope'" in text and "column 'b'" in text
    _nothing_written(tmp_path)


def test_estimator_setting_and_data_problems_come_in_one_error(tmp_path) -> None:
    X = _frame()[["a", "b"]].assign(b=np.inf)
    model = automl.AutoMLRegressor(time_budget=-1, families=["linear"], study_name="s")
    with pytest.raises(DataValidationError) as info:
        model.fit(X, np.arange(N, dtype=float))
    assert isinstance(info.value, InvalidParameterError)
    assert "time_budget" in str(info.value) and "infinite" in str(info.value)
    _nothing_written(tmp_path)


def test_a_bad_override_is_listed_with_the_data_problems(tmp_path) -> None:
    frame = _frame().assign(c=np.arange(N) + 1j)
    with pytest.raises(DataValidationError) as info:
        automl.fit(frame, target="y", n_trials=1, families=["linear"], study_name="s",
                   search_space={"linear": {"penalty": "l3"}})
    assert isinstance(info.value, InvalidParameterError)
    assert "column 'c'" in str(info.value) and "'penalty'" in str(info.value)
    _nothing_written(tmp_path)


# -- numpy numbers are numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize(("cv", "folds"), [(np.int64(3), 3), (np.int32(2), 2), (np.float32(0.25), 1)])
def test_numpy_cv_values_are_accepted(cv, folds) -> None:
    model = automl.fit(_frame(40), target="y", n_trials=1, families=["linear"], cv=cv, n_jobs=1,
                       isolation="none", ensemble=False)
    assert int(model.leaderboard()["n_folds"].iloc[0]) == folds


def test_numpy_values_can_pin_a_parameter() -> None:
    space = load_builtin_space("knn").with_overrides({"n_neighbors": np.int64(3), "p": np.int64(1)})
    assert space["n_neighbors"].value == 3 and type(space["n_neighbors"].value) is int
    assert space["p"].value == 1


# -- SearchSpace raises typed errors naming the culprit ------------------------------------------------
def test_unknown_parameter_is_a_typed_key_error_with_a_suggestion() -> None:
    space = load_builtin_space("knn")
    with pytest.raises(KeyError) as info:
        space["n_neighbours"]
    assert isinstance(info.value, AutoMLError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("no parameter 'n_neighbours' in the knn search space; did you mean 'n_neighbors'")


def test_search_space_params_of_the_wrong_type_are_refused_by_name() -> None:
    with pytest.raises(InputTypeError, match=r"SearchSpace\('knn'\): params must be a tuple or list"):
        SearchSpace("knn", 5)  # type: ignore[arg-type]


def test_a_space_that_cannot_suggest_says_which_parameter() -> None:
    import optuna

    space = SearchSpace("knn", (IntParam("k", 1, 9, 3), FloatParam("lr", "abc", 1.0, 0.5)))  # type: ignore[arg-type]
    with pytest.raises(SearchSpaceError, match=r"parameter 'lr': low 'abc' is not a number"):
        space.suggest(optuna.create_study().ask())


# -- the command line: --output is checked before the search ---------------------------------------------
@pytest.fixture
def tracked(tmp_path_factory, monkeypatch):
    """Tracking on, into a SQLite store outside the working directory; returns a run counter."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    def runs() -> int:
        client = MlflowClient(uri)
        ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
        return len(client.search_runs(ids, run_view_type=ViewType.ALL)) if ids else 0

    return runs


@pytest.mark.parametrize(("command", "expected"), [
    ("fit", "already exists and is not empty"),
    ("fit --overwrite", "replaces only a saved automl model"),
    ("sweep", "already exists and is not empty"),
])
def test_cli_refuses_an_output_folder_it_could_not_save_to_before_the_search(
        command, expected, tmp_path, tracked, capsys, monkeypatch) -> None:
    from automl.cli import main

    work = tmp_path / "work"
    work.mkdir()
    _frame().to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before = tracked()
    monkeypatch.chdir(work)
    if command == "sweep":
        sweep_file = tmp_path / "sweep.yaml"
        sweep_file.write_text(f"data: {tmp_path / 'train.csv'}\ntarget: y\noutput: {out}\nn_trials: 1\n"
                              "families: [linear]\nstudy_name: s\ncv: 2\n")
        code = main(["sweep", str(sweep_file)])
    else:
        code = main(["fit", str(tmp_path / "train.csv"), "--target", "y", "--output", str(out), "--n-trials", "1",
                     "--families", "linear", "--study", "s", "--cv", "2", *command.split()[1:]])
    assert code != 0
    err = capsys.readouterr().err
    assert expected in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert list(work.iterdir()) == []  # no study journal: the search never started
    assert tracked() == before


def test_a_missing_target_column_is_listed_with_the_setting_problems(tmp_path) -> None:
    with pytest.raises(DataValidationError) as info:
        automl.fit(_frame(), target="label", time_budget=0, families=["linear"], study_name="s")
    assert isinstance(info.value, InvalidParameterError)
    assert "'label'" in str(info.value) and "time_budget" in str(info.value)
    _nothing_written(tmp_path)


def _build_nothing(params, ctx):  # never called: the family is refused before
    raise AssertionError("built")


UNAVAILABLE = None  # set below, imported by the registry as tests.test_validation_early:UNAVAILABLE


def test_a_family_whose_package_is_missing_is_a_setting_error_before_the_search(tmp_path) -> None:
    from automl.families.base import ModelFamily
    from automl.families.registry import register_family, unregister_family

    global UNAVAILABLE
    UNAVAILABLE = ModelFamily("needs_missing", frozenset({"binary"}), "onehot", _build_nothing,
                              requires=("automl_no_such_package_xyz",))
    register_family("needs_missing", "tests.test_validation_early:UNAVAILABLE")
    try:
        with pytest.raises(automl.FamilyUnavailableError) as info:
            automl.fit(_frame(), target="y", n_trials=1, families=["needs_missing"], study_name="s")
    finally:
        unregister_family("needs_missing")
    assert isinstance(info.value, InvalidParameterError) and isinstance(info.value, ImportError)
    assert "automl_no_such_package_xyz" in str(info.value) and "leave 'needs_missing' out" in str(info.value)
    _nothing_written(tmp_path)
