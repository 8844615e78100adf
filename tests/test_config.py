"""Settings are declared once (automl/config.py); every copy is generated from the table or held to it here."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.cli import build_parser
from automl.config import SETTINGS, readme_table, resolve_settings, setting_names
from automl.exceptions import InvalidParameterError
from automl.sweep import ALIASES, SETTING_KEYS, sweep_from_mapping

ROOT = Path(__file__).resolve().parents[1]


def test_the_estimators_and_fit_take_exactly_the_settings_of_the_table_with_its_defaults():
    table = {s.name: s.default for s in SETTINGS}
    classifier = automl.AutoMLClassifier().get_params()
    assert classifier == table
    assert automl.AutoMLRegressor().get_params() == {k: v for k, v in table.items() if k in setting_names("regressor")}
    fit = inspect.signature(automl.fit).parameters
    assert {n: p.default for n, p in fit.items() if n in table} == {s.name: s.default_for("any") for s in SETTINGS}
    for name in table:
        assert f"        {name}: " in automl.AutoMLClassifier.__doc__, name


def test_sweep_keys_and_cli_flags_come_from_the_table():
    assert set(SETTING_KEYS) == {s.name for s in SETTINGS}
    assert ALIASES == {"study": "study_name", "space": "search_space"}
    fit = next(a for a in build_parser()._actions if a.dest == "command").choices["fit"]
    flags = {flag for action in fit._actions for flag in action.option_strings}
    assert {s.flag for s in SETTINGS} <= flags


def test_the_readme_settings_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "regenerate it: python -c 'import automl.config as c; print(c.readme_table())'"


def test_every_problem_is_reported_at_once_and_unknown_settings_get_a_suggestion():
    with pytest.raises(InvalidParameterError) as info:
        resolve_settings({"time_budget": 0, "n_jobs": 0, "pruner": "hyperband", "isolation": "thread", "cv": "x"})
    assert len(info.value.problems) == 5
    with pytest.raises(TypeError, match="did you mean 'time_budget'"):
        automl.fit(pd.DataFrame({"a": [1, 2], "y": [0, 1]}), target="y", time_budgett=5)
    with pytest.raises(TypeError, match="did you mean 'n_trials'"):
        automl.AutoMLRegressor(n_trial=3)


# -- one cv grammar: every entry point accepts and refuses the same spellings, with the same message ------
ACCEPTED = ["5", 5, "kfold:3", "0.25", 0.25, "holdout:0.25", "repeated:3x2", "time:3", "group:3"]
REFUSED = ["kfold:1", "weekly", "holdout:2", "repeated:3xa", "1", True]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "g": np.repeat(np.arange(6), 10)})
    return frame.assign(y=(frame["a"] > 0).astype(int))


def _sweep_message(tmp_path: Path, cv: object) -> str | None:
    _frame().to_csv(tmp_path / "d.csv", index=False)
    try:
        sweep_from_mapping({"data": "d.csv", "target": "y", "cv": cv, "groups": "g"}, "s.yaml", base=tmp_path)
    except InvalidParameterError as exc:
        return str(exc)
    return None


def _fit_message(cv: object) -> str | None:
    try:
        automl.fit(_frame(), target="y", groups="g", cv=cv, n_trials=1, families=["linear"], tracking=False)
    except InvalidParameterError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("cv", ACCEPTED)
def test_a_cv_spelling_accepted_anywhere_is_accepted_everywhere(cv, tmp_path):
    assert _fit_message(cv) is None
    assert _sweep_message(tmp_path, cv) is None
    automl.AutoMLClassifier(cv=cv, n_trials=1, families=["linear"], tracking=False).fit(
        _frame()[["a"]], _frame()["y"], groups=_frame()["g"])


@pytest.mark.parametrize("cv", REFUSED)
def test_a_cv_spelling_refused_anywhere_is_refused_everywhere_with_the_same_message(cv, tmp_path):
    message = _fit_message(cv)
    assert message is not None and message.startswith("cv")
    assert _sweep_message(tmp_path, cv) == f"s.yaml: {message}"
    with pytest.raises(InvalidParameterError) as info:
        automl.AutoMLClassifier(cv=cv).fit(_frame()[["a"]], _frame()["y"])
    assert str(info.value) == message


def test_group_column_spelling_works_in_fit_the_estimators_and_sweeps(tmp_path):
    frame = _frame()
    model = automl.fit(frame, target="y", cv="group:g", n_trials=1, families=["linear"], tracking=False)
    assert model.cv_ == "group:5" and "g" not in model.feature_names_in_
    clf = automl.AutoMLClassifier(cv="group:g", n_trials=1, families=["linear"], tracking=False)
    assert clf.fit(frame[["a", "g"]], frame["y"]).cv_ == "group:5"
    assert list(clf.feature_names_in_) == ["a"]
    assert _sweep_message(tmp_path, "group:g") is None
    with pytest.raises(automl.DataValidationError, match="did you mean 'g'"):
        automl.AutoMLClassifier(cv="group:gg").fit(frame[["a", "g"]], frame["y"])


def test_the_readme_states_the_default_families_in_the_order_their_defaults_run():
    import re

    from automl.families import get_family
    from automl.spaces.loader import builtin_family_order

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    stated = re.search(r"each family's defaults not yet run, in the order ([a-z_, ]+?) \(", readme)
    assert stated, "README: the sentence that lists the default families' order is gone"
    # every built-in family a table search takes by default, installed here or not (README: "where installed")
    defaults = [name for name in builtin_family_order()
                if get_family(name).searched_by_default and "table" in get_family(name).inputs]
    assert stated.group(1).split(", ") == defaults
