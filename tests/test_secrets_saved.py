"""A password in ``storage`` or ``tracking_uri`` never reaches a repr or a saved model folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import automl

SECRET = "hunter2pw"


def test_repr_masks_passwords_in_urls():
    clf = automl.AutoMLClassifier(storage=f"postgresql://me:{SECRET}@db/s",
                                  tracking_uri=f"https://u:{SECRET}@mlflow.example/?token={SECRET}")
    text = repr(clf)
    assert SECRET not in text
    assert "postgresql://me:***@db/s" in text


def test_a_saved_model_folder_holds_no_password(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    df["y"] = (df["a"] > 0).astype(int)
    clf = automl.AutoMLClassifier(n_trials=1, families=["linear"], cv=2, ensemble=False, isolation="none",
                                  storage=str(tmp_path / "s.journal"), study_name="s", tracking=True,
                                  tracking_uri=f"sqlite:///{tmp_path}/m.db?token={SECRET}")
    clf.fit(df[["a", "b"]], df["y"])
    folder = Path(clf.save(tmp_path / "model"))
    for file in folder.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), f"{file.name} holds the password"
    loaded = automl.load(folder)
    assert SECRET not in repr(loaded) and SECRET not in str(loaded.get_params())
    assert loaded.predict(df[["a", "b"]]).shape == (60,)
