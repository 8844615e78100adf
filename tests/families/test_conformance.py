"""One conformance suite over every registered family (automl.testing, shipped for third parties)."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import automl.families
from automl.families import get_family, registered_families
from automl.testing import check_family, family_checks

INSTALLED = [f for f in registered_families() if not get_family(f).missing_requirements()]
CHECKS = [check for family in INSTALLED for check in family_checks(family)]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_family_passes_the_conformance_suite(check):
    check()


def test_the_suite_names_each_failed_check_of_a_broken_family():
    from sklearn.dummy import DummyClassifier

    from automl.families import ModelFamily
    from automl.spaces import space_from_dict

    import types

    module = types.ModuleType("automl_test_broken")
    module.FAMILY = ModelFamily("broken", frozenset({"binary"}), "ordinal",
                                lambda p, c: DummyClassifier(strategy="uniform"), "",
                                search_space=space_from_dict({"family": "broken", "params": {}}))
    sys.modules[module.__name__] = module
    automl.families.register_family("broken", "automl_test_broken:FAMILY")
    try:
        with pytest.raises(AssertionError) as info:
            check_family(module.FAMILY)
    finally:
        automl.families.unregister_family("broken")
        del sys.modules[module.__name__]
    text = str(info.value)
    assert "broken: space: a one-line description is needed" in text
    assert "broken: fit_predict (binary, image): it did no better than chance" in text
    assert "broken: isolated: the worker process cannot import the family" in text


def test_a_built_in_family_is_its_module_and_its_yaml_file_nothing_else(tmp_path, monkeypatch):
    from automl.families import registry
    from automl.spaces import loader

    spaces = tmp_path / "spaces"
    shutil.copytree(loader._builtin_dir(), spaces)
    knn = (spaces / "knn.yaml").read_text().replace("family: knn", "family: tiny_knn")
    (spaces / "tiny_knn.yaml").write_text(knn.replace("priority: 60", "priority: 55"))
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "tiny_knn.py").write_text(
        "import dataclasses\nfrom automl.families.knn import FAMILY as KNN\n"
        "FAMILY = dataclasses.replace(KNN, name='tiny_knn', description='knn with 3 neighbours', search_space=None)\n")
    monkeypatch.setattr(loader, "_builtin_dir", lambda: spaces)
    monkeypatch.setattr(automl.families, "__path__", [*automl.families.__path__, str(modules)])
    loader.load_builtin_space.cache_clear()
    try:
        order = registry.builtin_families()
        assert order.index("linear") < order.index("tiny_knn") < order.index("knn")  # priority 55: between them
        registry.register_family("tiny_knn", "automl.families.tiny_knn:FAMILY")
        for check in family_checks("tiny_knn"):
            if not check.name.endswith("isolated"):  # the worker process does not see this test's patched paths
                check()
    finally:
        registry._PATHS.pop("tiny_knn", None)
        registry._LOADED.pop("tiny_knn", None)
        sys.modules.pop("automl.families.tiny_knn", None)
        loader.load_builtin_space.cache_clear()


def test_unseen_category_in_validation_is_encoded_as_missing():
    frame = pd.DataFrame({"c": pd.Categorical(["a", "b", "c", "a"]), "x": [1.0, 2.0, 3.0, 4.0]})
    from automl.data import TabularPreprocessor

    pre = TabularPreprocessor("native").fit(frame.iloc[:2])  # "c" never seen in training rows
    codes = pre.transform(frame)[:, pre.categorical_indices_[0]]
    assert np.isnan(codes[2]) and not np.isnan(codes[0])


def test_without_the_yaml_files_the_built_in_families_are_still_found(monkeypatch):
    # a model served from a copy of the package without its search spaces must still unpickle and predict
    from automl.exceptions import SearchSpaceError
    from automl.families import registry
    from automl.spaces import loader

    def missing():
        raise SearchSpaceError("the built-in search spaces are not installed")

    monkeypatch.setattr(loader, "_builtin_dir", missing)
    assert set(registry.builtin_families()) == set(registered_families()) & set(registry.builtin_families())
    assert {"lightgbm", "linear", "knn"} <= set(registry.builtin_families())
