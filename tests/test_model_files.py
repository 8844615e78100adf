"""Safe model files: weights and boosters out of the pickle, every file checked before unpickling."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import automl
from automl import model_files


@pytest.fixture
def fitted(binary_df):
    return automl.fit(binary_df.drop(columns="when"), target="label", n_trials=1, families=["linear"], cv=3, n_jobs=1)


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if anything is unpickled."""

    def refuse(*args, **kwargs):
        raise AssertionError("unpickled before the checks")

    monkeypatch.setattr(model_files.pickle, "load", refuse)


def _fit(binary_df, family: str):
    return automl.fit(binary_df.drop(columns="when"), target="label", families=[family], n_trials=1, cv=3,
                      device="cpu")


def _rewrite_manifest(folder, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_lightgbm_boosters_are_stored_in_lightgbm_text_format(binary_df, tmp_path):
    model = _fit(binary_df, "lightgbm")
    folder = tmp_path / "m"
    model.save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.pkl", "lightgbm/booster_0.txt", "leaderboard.csv"}
    text = (folder / "lightgbm" / "booster_0.txt").read_text()
    assert text.startswith("tree\n") and "Tree=0" in text
    assert b"Tree=0" not in (folder / "model.pkl").read_bytes()  # the model is not inside the pickle
    X = binary_df.drop(columns=["when", "label"])
    code = (
        "import sys, numpy as np, automl, pandas as pd\n"
        "m = automl.load(sys.argv[1]); X = pd.read_pickle(sys.argv[2])\n"
        "np.save(sys.argv[3], m.predict_proba(X))\n"
    )
    X.to_pickle(tmp_path / "X.pkl")
    subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path / "X.pkl"), str(tmp_path / "p.npy")],
                   check=True, timeout=300)
    assert np.array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(X))


def test_net_weights_are_stored_without_pickle(binary_df, tmp_path):
    torch = pytest.importorskip("torch")
    model = _fit(binary_df, "torch_mlp")
    folder = tmp_path / "m"
    model.save(folder)
    assert "weights.pt" in json.loads((folder / "manifest.json").read_text())["files"]
    weights = torch.load(folder / "weights.pt", weights_only=True)
    assert weights and all(isinstance(t, torch.Tensor) for t in weights.values())
    assert b"_rebuild_tensor" not in (folder / "model.pkl").read_bytes()
    assert b"_rebuild_parameter" not in (folder / "model.pkl").read_bytes()
    X = binary_df.drop(columns=["when", "label"])
    assert np.array_equal(automl.load(folder).predict_proba(X), model.predict_proba(X))


def test_a_truncated_or_changed_file_is_caught_before_unpickling(fitted, tmp_path, no_unpickling):
    folder = tmp_path / "m"
    fitted.save(folder)
    data = (folder / "model.pkl").read_bytes()
    (folder / "model.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(automl.ModelFileError, match="model.pkl .*does not match its SHA-256"):
        automl.load(folder)


@pytest.mark.parametrize("name", ["../outside.csv", "/etc/passwd", "sub/../../x"])
def test_paths_out_of_the_folder_are_refused(fitted, tmp_path, no_unpickling, name):
    folder = tmp_path / "m"
    fitted.save(folder)
    _rewrite_manifest(folder, lambda m: m["files"].__setitem__(name, "0" * 64))
    with pytest.raises(automl.ModelFileError, match="outside the model folder"):
        automl.load(folder)


def test_links_are_refused(fitted, tmp_path, no_unpickling):
    folder = tmp_path / "m"
    fitted.save(folder)
    outside = tmp_path / "elsewhere.csv"
    os.replace(folder / "leaderboard.csv", outside)
    (folder / "leaderboard.csv").symlink_to(outside)  # same bytes, same hash: only the link gives it away
    with pytest.raises(automl.ModelFileError, match="leaderboard.csv .*symbolic link"):
        automl.load(folder)


def test_other_package_versions_are_refused_unless_overridden(fitted, tmp_path, binary_df):
    folder = tmp_path / "m"
    fitted.save(folder)
    _rewrite_manifest(folder, lambda m: m["versions"].__setitem__("scikit-learn", "0.1"))
    with pytest.raises(automl.ModelFileError, match=r"scikit-learn 0\.1 -> .*check_versions=False"):
        automl.load(folder)
    loaded = automl.load(folder, check_versions=False)
    X = binary_df.drop(columns=["when", "label"])
    assert np.array_equal(loaded.predict(X), fitted.predict(X))


def test_parts_are_only_read_through_a_verified_load(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match="through automl.load"):
        model_files._booster("lightgbm/booster_0.txt")
    token = model_files._LOADING.set({"folder": tmp_path, "allowed": {"model.pkl"}, "tensors": None})
    try:
        with pytest.raises(automl.ModelFileError, match="'lightgbm/booster_9.txt', which its manifest does not list"):
            model_files._booster("lightgbm/booster_9.txt")
    finally:
        model_files._LOADING.reset(token)


def test_format_1_folders_still_load(fitted, tmp_path, binary_df):
    import hashlib

    import joblib

    folder = tmp_path / "m"
    fitted.save(folder)
    portable = automl.load(folder)
    (folder / "model.pkl").unlink()
    joblib.dump(portable, folder / "model.joblib")
    digest = hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()

    def legacy(manifest):
        manifest["format_version"] = 1
        del manifest["files"]["model.pkl"]
        manifest["files"]["model.joblib"] = digest

    _rewrite_manifest(folder, legacy)
    X = binary_df.drop(columns=["when", "label"])
    assert np.array_equal(automl.load(folder).predict(X), fitted.predict(X))
