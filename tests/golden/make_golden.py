"""Write the golden fixtures the redesign must keep working (issue 15's guard rails).

Run once, from the repository root, with the code whose formats are to be kept::

    python -m tests.golden.make_golden

It writes, under ``tests/golden/``:

- ``frames/*.pkl``: the input frames (pandas pickles, so dtypes survive exactly);
- ``models/<name>/``: a saved model folder (format 2) per built-in family, and one ensemble;
- ``expected/<name>.npy``: what that model predicted (``predict_proba`` for classifiers,
  ``predict`` for regressors) on its frame, right after it was fitted;
- ``study/golden.journal`` and ``study/settings.json``: a stored journal study and the exact
  settings it was created with, for the resume test.

``tests/test_golden.py`` loads every model folder with today's code and requires bit-identical
predictions, and resumes the study. The commit that wrote them is in ``study/settings.json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def tabular(n: int, seed: int) -> pd.DataFrame:
    """Mixed columns with gaps: numbers, nullable ints, bools, strings, categories, datetimes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        "x": x,
        "z": rng.normal(size=n),
        "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "flag": rng.random(n) > 0.5,
        "city": pd.Series(rng.choice(["oslo", "rome", "lima"], n), dtype="str"),
        "colour": pd.Categorical(rng.choice(["red", "blue"], n)),
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
    })
    frame.loc[::7, "count"] = pd.NA
    frame.loc[::5, "city"] = None
    return frame


def frames() -> dict[str, pd.DataFrame]:
    binary = tabular(160, 0)
    binary["label"] = np.where(binary["x"] + 0.5 * binary["z"] + 0.3 * binary["flag"] > 0, "yes", "no")
    multiclass = tabular(180, 1)
    multiclass["label"] = pd.cut(multiclass["x"], [-np.inf, -0.5, 0.5, np.inf], labels=["low", "mid", "high"]).astype(str)
    regression = tabular(160, 2)
    regression["label"] = 3.0 * regression["x"] + regression["flag"].astype(float) + np.sin(regression["z"] * 3)
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = pd.DataFrame(digits.data[:300], columns=[f"px{i}" for i in range(64)])
    images["label"] = digits.target[:300]
    return {"binary": binary, "multiclass": multiclass, "regression": regression, "images": images}


#: name -> (frame, settings of automl.fit)
CASES = {
    "lightgbm_binary": ("binary", {"families": ["lightgbm"], "search_space": {"lightgbm": {"n_estimators": 60}}}),
    "hist_gradient_boosting_regression": (
        "regression", {"families": ["hist_gradient_boosting"], "search_space": {"hist_gradient_boosting": {"max_iter": 60}}}),
    "random_forest_multiclass": (
        "multiclass", {"families": ["random_forest"], "search_space": {"random_forest": {"n_estimators": 12}}}),
    "extra_trees_binary": ("binary", {"families": ["extra_trees"], "search_space": {"extra_trees": {"n_estimators": 12}}}),
    "linear_regression": ("regression", {"families": ["linear"]}),
    "linear_multiclass": ("multiclass", {"families": ["linear"]}),
    "knn_binary": ("binary", {"families": ["knn"]}),
    "torch_mlp_binary": ("binary", {"families": ["torch_mlp"], "search_space": {"torch_mlp": {"max_epochs": 4}}}),
    "torch_mlp_regression": ("regression", {"families": ["torch_mlp"], "search_space": {"torch_mlp": {"max_epochs": 4}}}),
    "cnn_images": ("images", {"families": ["cnn"], "image_shape": (8, 8), "search_space": {"cnn": {"max_epochs": 2}}}),
}
#: The ensemble case: searched until the blend wins (the settings are recorded).
ENSEMBLE = ("binary", {"families": ["linear", "knn", "lightgbm"], "n_trials": 8, "cv": 3,
                       "search_space": {"lightgbm": {"n_estimators": 40}}})
#: The stored study.
STUDY = {"families": ["linear", "knn"], "n_trials": 4, "cv": 3, "seed": 0, "study_name": "golden"}


def _predictions(model: object, frame: pd.DataFrame) -> np.ndarray:
    X = frame.drop(columns=["label"])
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))
    return np.asarray(model.predict(X))


def main() -> None:
    import automl

    warnings.simplefilter("ignore")
    for sub in ("frames", "models", "expected", "study"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    data = frames()
    for name, frame in data.items():
        frame.to_pickle(HERE / "frames" / f"{name}.pkl")
    cases = {name: (frame, {"n_trials": 1, "cv": 3, "seed": 0, **settings}) for name, (frame, settings) in CASES.items()}
    for seed in range(20):
        frame_name, settings = ENSEMBLE
        model = automl.fit(data[frame_name], target="label", tracking=False, seed=seed, **settings)
        if model.ensemble_:
            cases["ensemble_binary"] = (frame_name, {**settings, "seed": seed})
            break
    else:
        raise SystemExit("no seed gave an ensemble")
    record = {}
    for name, (frame_name, settings) in cases.items():
        kwargs = {k: tuple(v) if k == "image_shape" else v for k, v in settings.items()}
        model = automl.fit(data[frame_name], target="label", tracking=False, **kwargs)
        model.save(HERE / "models" / name)
        np.save(HERE / "expected" / f"{name}.npy", _predictions(model, data[frame_name]))
        record[name] = {"frame": frame_name, "settings": settings, "family": model.best_family_,
                        "ensemble": bool(model.ensemble_)}
        print(name, model.best_family_, "ensemble" if model.ensemble_ else "")
    journal = HERE / "study" / "golden.journal"
    model = automl.fit(data["binary"], target="label", tracking=False, storage=str(journal), **STUDY)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    (HERE / "study" / "settings.json").write_text(json.dumps({
        "commit": commit, "frame": "binary", "target": "label", "settings": STUDY,
        "n_trials": len(model.study_.trials), "best_trial": model.best_trial_,
    }, indent=2))
    (HERE / "cases.json").write_text(json.dumps({"commit": commit, "cases": record}, indent=2, default=str))


if __name__ == "__main__":
    main()
