"""save / load: identical predictions in a fresh process, a manifest, tamper detection, no half-written folders."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import automl


@pytest.fixture
def fitted(binary_df):
    return automl.fit(binary_df, target="label", n_trials=2, families=["linear", "lightgbm"], cv=3, n_jobs=1)


def test_round_trip_in_a_fresh_process_gives_identical_predictions(fitted, binary_df, tmp_path):
    folder = fitted.save(tmp_path / "model")
    binary_df.to_pickle(tmp_path / "data.pkl")
    expected = fitted.predict_proba(binary_df)
    code = (
        "import automl, pandas as pd, numpy as np, sys\n"
        f"m = automl.load({str(folder)!r})\n"
        f"df = pd.read_pickle({str(tmp_path / 'data.pkl')!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, m.predict_proba(df))\n"
        "print(list(m.predict(df.head(3))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    assert out.stdout.strip() == str(list(fitted.predict(binary_df.head(3))))


def _lightgbm_models(model) -> int:
    """LightGBM pipelines in a refit, a bag (one per fold) or an ensemble (of either): one booster file each."""
    if hasattr(model, "members"):
        return sum(_lightgbm_models(member) for member in model.members)
    return int(getattr(model, "family", None) == "lightgbm")


def test_manifest_records_versions_schema_and_hashes(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["versions"]["scikit-learn"] and manifest["versions"]["automl"] == automl.__version__
    assert [c["name"] for c in manifest["schema"]["columns"]] == list(fitted.feature_names_in_)
    boosters = {f"lightgbm/booster_{i}.txt" for i in range(_lightgbm_models(fitted.model_))}
    assert set(manifest["files"]) == {"model.pkl", "leaderboard.csv"} | boosters
    assert manifest["task"] == "binary" and manifest["classes"] == ["no", "yes"]
    assert manifest["best"]["family"] == fitted.best_family_
    loaded = automl.load(folder)
    assert loaded.leaderboard().shape == fitted.leaderboard().shape
    assert loaded.study_ is None


def test_tampered_or_missing_files_are_refused(fitted, tmp_path):
    folder = tmp_path / "model"
    fitted.save(folder)
    with open(folder / "model.pkl", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(automl.ModelFileError, match="model.pkl.*SHA-256"):
        automl.load(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(automl.ModelFileError, match="manifest.json is missing"):
        automl.load(folder)


def test_existing_folder_is_not_overwritten_unless_asked(fitted, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(automl.InvalidParameterError, match="overwrite=True"):
        fitted.save(folder)
    assert (folder / "keep.txt").read_text() == "mine"
    with pytest.raises(automl.InvalidParameterError, match="not an automl model folder"):
        fitted.save(folder, overwrite=True)  # overwrite replaces a model folder, never the user's files
    assert (folder / "keep.txt").read_text() == "mine"
    (folder / "keep.txt").unlink()
    fitted.save(folder)
    fitted.save(folder, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(automl.NotFittedError):
        automl.AutoMLClassifier().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("path, error, text", [
    (None, "InputTypeError", "path must be the model folder"),
    (5, "InputTypeError", "got 5"),
    ("", "InputTypeError", "got ''"),
    ("no_such_folder", "ModelFileError", "'no_such_folder' does not exist"),
    ("a_file.txt", "ModelFileError", "is a file; a model is a folder"),
])
def test_load_of_what_is_not_a_model_folder_is_a_typed_error_that_says_what_it_is(path, error, text, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file.txt").write_text("x")
    with pytest.raises(getattr(automl, error), match=text) as info:
        automl.load(path)
    assert isinstance(info.value, (TypeError, ValueError))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file.txt"]


def test_a_save_that_cannot_be_written_is_a_typed_error_naming_the_path_given(fitted, tmp_path):
    """Before: FileExistsError from mkdir, a PermissionError naming the hidden staging folder, a TypeError for None,
    and 'File name too long' for a valid 250-character folder name (the staging name added its own characters)."""
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(automl.ModelSaveError, match=r"cannot save the model to '.*a_file/model': '.*a_file' is a "
                                                    r"file, not a folder; choose a folder you can write to"):
        fitted.save(tmp_path / "a_file" / "model")
    with pytest.raises(automl.InputTypeError, match="path must be a folder's path"):
        fitted.save(None)
    long = tmp_path / ("m" * 250)
    assert automl.load(fitted.save(long)).best_trial_ == fitted.best_trial_
    assert isinstance(automl.ModelSaveError("x"), OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "m" * 250]


def test_a_model_whose_package_cannot_be_imported_says_which_to_install_in_another_process(tmp_path):
    """LightGBM is a core package, so a saved LightGBM model does not list it as a requirement; where it cannot be
    imported (a slim serving image) loading raised pickle's bare ModuleNotFoundError."""
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    automl.fit(X.assign(y=(X["a"] > 0).astype(int)), target="y", n_trials=1, families=["lightgbm"], cv=2,
               isolation="none", tracking=False).save(tmp_path / "m")
    code = ("import sys; sys.modules['lightgbm'] = None\n"  # lightgbm cannot be imported in this process
            "import automl\n"
            "try:\n    automl.load(sys.argv[1])\n"
            "except automl.AutoMLError as exc:\n    print(type(exc).__name__, isinstance(exc, ImportError), exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True,
                          timeout=120)
    import lightgbm

    assert done.stdout.startswith(f"FamilyUnavailableError True the model in {tmp_path / 'm'} needs the module "
                                  "'lightgbm', which cannot be imported here"), done.stdout + done.stderr
    assert f'pip install "lightgbm=={lightgbm.__version__}"' in done.stdout


def test_a_model_holding_code_of_its_scripts_main_is_refused_by_a_typed_error_elsewhere(tmp_path):
    # A class defined in the fitting script cannot be found by another process: pickle's AttributeError was raw.
    fit = """
import sys, numpy as np, pandas as pd, automl
from sklearn.linear_model import LogisticRegression
from automl.families import ModelFamily, register_family
from automl.spaces import space_from_dict

class LR(LogisticRegression):
    pass

FAMILY = ModelFamily("mainlr", frozenset({"binary"}), "onehot", lambda p, c: LR(C=p["c"]),
                     search_space=space_from_dict({"family": "mainlr", "params": {
                         "c": {"type": "float", "low": 0.1, "high": 10.0, "default": 1.0}}}))
register_family("mainlr", "__main__:FAMILY")
rng = np.random.default_rng(0)
frame = pd.DataFrame({"a": rng.normal(size=100)}).assign(y=lambda f: (f.a > 0).astype(int))
automl.fit(frame, target="y", families=["mainlr"], n_trials=1, cv=2, tracking=False).save(sys.argv[1])
"""
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", fit, str(tmp_path / "m")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    load = ("import automl, sys\ntry:\n    automl.load(sys.argv[1])\nexcept automl.AutoMLError as e:\n"
            "    print(type(e).__name__, isinstance(e, ImportError), e)")
    done = subprocess.run([sys.executable, "-c", load, str(tmp_path / "m")], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.startswith("FamilyUnavailableError True"), done.stdout + done.stderr
    assert "define it in a module" in done.stdout


def test_a_missing_module_of_yours_is_not_sent_to_pip():
    from automl.model_files import loading_error

    mine = str(loading_error("m", {"lightgbm": "4.6.0"}, ModuleNotFoundError("x", name="my_plugin")))
    assert "pip install" not in mine and "PYTHONPATH" in mine
    assert 'pip install "lightgbm==4.6.0"' in str(loading_error("m", {"lightgbm": "4.6.0"},
                                                               ModuleNotFoundError("x", name="lightgbm")))
