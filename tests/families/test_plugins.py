"""Families of a third party: declared by an installed package, registered in code, or broken.

Each case runs as a user meets it: a real installed distribution (its ``.dist-info`` with an
``automl.families`` entry point) seen by the ``automl`` command in a fresh process, and a plugin whose
module has gone, which must not stop a default fit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.exceptions import AutoMLError, FamilyUnavailableError, InvalidParameterError
from automl.families import ModelFamily, get_family, register_family, unregister_family
from automl.spaces import space_from_dict

AUTOML = str(Path(sys.executable).with_name("automl"))

_PLUGIN = '''
from sklearn.linear_model import LogisticRegression, Ridge

from automl.families import ModelFamily
from automl.spaces import space_from_dict


def _build(params, context):
    if context.task == "regression":
        return Ridge(alpha=params["strength"])
    return LogisticRegression(C=1.0 / params["strength"], max_iter=500)


FAMILY = ModelFamily(
    "plugged", frozenset({"binary", "multiclass", "regression"}), "onehot", _build, "a ridge from a plugin",
    search_space=space_from_dict({"family": "plugged", "params": {
        "strength": {"type": "float", "low": 0.01, "high": 10.0, "log": True, "default": 1.0}}}),
)
'''


def _install(root: Path, entries: str) -> dict[str, str]:
    """An installed distribution under ``root`` declaring ``entries`` (its entry_points.txt lines), with the module
    ``plugged_pkg``; the environment of a process that sees it."""
    (root / "plugged_pkg").mkdir(parents=True)
    (root / "plugged_pkg" / "__init__.py").write_text(_PLUGIN)
    info = root / "plugged_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugged-pkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[automl.families]\n" + textwrap.dedent(entries))
    return {**os.environ, "PYTHONPATH": str(root)}


def _binary(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return frame.assign(y=np.where(frame.a + 0.3 * rng.normal(size=n) > 0, "p", "q"))


def test_a_family_an_installed_package_declares_is_listed_and_fitted_by_the_command(tmp_path):
    env = _install(tmp_path / "site", "plugged = plugged_pkg:FAMILY\n")
    listed = subprocess.run([AUTOML, "families"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["plugged", "installed"] for line in listed.stdout.splitlines())
    shown = subprocess.run([AUTOML, "spaces", "show", "plugged"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "strength" in shown.stdout, shown.stderr
    _binary().to_csv(tmp_path / "data.csv", index=False)
    fitted = subprocess.run(
        [AUTOML, "fit", str(tmp_path / "data.csv"), "--target", "y", "--families", "plugged", "--n-trials", "2",
         "--cv", "3", "--n-jobs", "1", "--no-tracking", "--output", str(tmp_path / "model")],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", "import automl, sys; m = automl.load(sys.argv[1]); print(m.best_family_)",
         str(tmp_path / "model")], env=env, capture_output=True, text=True, timeout=120)
    assert loaded.stdout.split()[-1] == "plugged", loaded.stderr


def test_a_declared_family_never_takes_a_built_in_name(tmp_path):
    env = _install(tmp_path / "site", "linear = plugged_pkg:FAMILY\n")
    code = ("import warnings\nimport automl.families.registry as f\nwith warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n    print(f.family_import_path('linear'))\n"
            "print(any('is left out' in str(x.message) for x in w))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["automl.families.linear:FAMILY", "True"], out.stderr


def test_a_registered_family_whose_module_is_gone_leaves_the_default_fit_running():
    register_family("gone", "no_such_plugin_module_xyz:FAMILY")
    register_family("noattr", "automl.families.linear:NO_SUCH_ATTRIBUTE")
    try:
        with pytest.warns(UserWarning, match="'gone' is registered from .* could not be loaded"):
            names = automl.available_families("binary")
        assert "gone" not in names and "noattr" not in names and "linear" in names
        with pytest.raises(FamilyUnavailableError, match="ModuleNotFoundError.*unregister_family"):
            get_family("gone")
        with pytest.raises(FamilyUnavailableError, match="NO_SUCH_ATTRIBUTE"):
            get_family("noattr")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = automl.fit(_binary(), target="y", n_trials=3, cv=3, n_jobs=1, tracking=False)
        assert model.best_family_ in names
        with pytest.raises(FamilyUnavailableError):
            automl.fit(_binary(), target="y", families=["gone"], n_trials=1, tracking=False)
    finally:
        unregister_family("gone")
        unregister_family("noattr")


_SPACE = {"family": "mine", "params": {"level": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.5}}}


@pytest.mark.parametrize(("changes", "rule"), [
    ({"encoding": "one_hot"}, "encoding must be one of 'onehot', 'ordinal', 'native', got 'one_hot'"),
    ({"tasks": frozenset({"classification"})}, "tasks must be a set of"),
    ({"tasks": "binary"}, "tasks must be a set of"),
    ({"build": "not callable"}, "build must be a callable"),
    ({"inputs": frozenset({"tabular"})}, "inputs must be a set of 'table', 'image'"),
    ({"search_space": space_from_dict({**_SPACE, "family": "other"})}, "declared for family 'other'"),
    ({"search_space": space_from_dict({"family": "mine", "params": {
        "target_transform": {"type": "categorical", "choices": ["a", "b"], "default": "a"}}})},
     "names 'target_transform', which the search sets itself"),
    ({"search_space": space_from_dict({"family": "mine", "params": {
        "text_dims": {"type": "int", "low": 1, "high": 3, "default": 2}}})}, "names 'text_dims'"),
])
def test_a_family_is_checked_when_it_is_made_not_after_the_search(changes, rule):
    fields = {"name": "mine", "tasks": frozenset({"binary"}), "encoding": "ordinal", "build": print,
              "search_space": space_from_dict(_SPACE), **changes}
    with pytest.raises(InvalidParameterError, match=rule) as caught:
        ModelFamily(**fields)
    assert isinstance(caught.value, AutoMLError) and isinstance(caught.value, ValueError)


def test_a_family_given_lists_gets_sets():
    family = ModelFamily("mine", ["binary"], "ordinal", print, inputs=["table"], search_space=space_from_dict(_SPACE))
    assert family.tasks == frozenset({"binary"}) and family.inputs == frozenset({"table"})


def test_a_family_without_a_space_is_told_how_to_give_one():
    family = ModelFamily("nospace_here", frozenset({"binary"}), "ordinal", print)
    with pytest.raises(AutoMLError, match=r"search_space=load_space_file\(path\)"):
        family.space()


def test_a_family_named_twice_is_told_the_list_to_give():
    with pytest.raises(InvalidParameterError, match=r"families=\['linear', 'knn'\]"):
        automl.fit(_binary(), target="y", families=["linear", "knn", "linear"], n_trials=1, tracking=False)
