"""Guard rails of the redesign: the public surface written down by the code before it.

``tests/golden/api.json`` was written by ``python -m tests.golden.make_api_snapshot`` at the commit it
names. The same description, rebuilt from today's code, must match: ``automl.fit``'s and ``load``'s
signatures and both estimators' parameters (new keyword ones with a default may be added, none removed
or changed); every CLI command with its flags, choices and defaults (new flags and short aliases may be added, none removed
or changed); the fitted attributes and MLflow keys
(new ones may be added, none removed); the leaderboard's columns and the MLflow run names exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden import make_api_snapshot as snapshot

SNAPSHOT = json.loads((Path(__file__).resolve().parent / "golden" / "api.json").read_text())


def test_signatures_and_parameters_are_unchanged():
    now, old = snapshot.signatures(), dict(SNAPSHOT["signatures"])
    assert set(old.pop("public_names")) <= set(now.pop("public_names"))  # new public names may be added
    assert set(now) == set(old)
    for name, params in old.items():
        # New keyword parameters (with a default) may be added; none removed, renamed or changed.
        kept = {k: v for k, v in now[name].items() if k in params}
        assert kept == params, f"{name}: a parameter was removed or its default changed"


def test_every_cli_command_keeps_its_flags_choices_and_defaults():
    now = snapshot.cli()
    for command, options in SNAPSHOT["cli"].items():
        assert command in now, f"automl {command} is gone"
        by_flag = {flag: o for o in now[command] for flag in o["flags"]}
        for option in options:
            flag = option["flags"][-1]  # the long form; a short alias may be added (fit's -o for --output)
            assert flag in by_flag, f"automl {command}: {option['flags']} is gone"
            current = by_flag[flag]
            assert set(option["flags"]) <= set(current["flags"]), f"automl {command}: {option['flags']} changed"
            assert {**current, "flags": option["flags"]} == option, f"automl {command}: {option['flags']} changed"


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One tracked fit for the module, made from inside its folder: a module fixture runs before each test's
    own working folder is set, and MLflow puts a new experiment's artifacts under the working folder."""
    folder = tmp_path_factory.mktemp("snapshot")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return snapshot.fitted_and_mlflow(folder)


def test_fitted_attributes_and_leaderboard_columns_are_kept(tracked):
    assert set(SNAPSHOT["fitted_attributes"]) <= set(tracked["fitted_attributes"])
    assert tracked["leaderboard_columns"] == SNAPSHOT["leaderboard_columns"]


def test_the_mlflow_run_layout_and_names_are_kept(tracked):
    old, new = SNAPSHOT["mlflow"], tracked["mlflow"]
    for key in ("experiment", "parent_run_name", "trial_run_names", "ensemble_won", "parent_artifacts"):
        assert new[key] == old[key], key
    assert set(old["experiment_tags"]) <= set(new["experiment_tags"])
    for run in ("parent", "complete_trial", "ensemble"):
        for kind in ("tags", "params", "metrics"):
            missing = set(old[run][kind]) - set(new[run][kind])
            assert not missing, f"{run} run lost {kind} {sorted(missing)}"
