"""Guard rails of the redesign: models and a study written by the code before it must keep working.

``tests/golden/`` was written by ``python -m tests.golden.make_golden`` at the commit named in
``tests/golden/cases.json`` (before the orchestration was rebuilt). Every saved model folder must
load and predict identically (to the rounding of the CPU's matrix kernels); the stored journal study must resume with its fingerprint and
``automl:*`` attributes unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = json.loads((GOLDEN / "cases.json").read_text())["cases"]


def _frame(name: str) -> pd.DataFrame:
    return pd.read_pickle(GOLDEN / "frames" / f"{name}.pkl")


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_model_saved_before_the_redesign_predicts_bit_identically(name, tmp_path):
    case = CASES[name]
    net = case["family"] in ("torch_mlp", "cnn") or name.startswith(("torch", "cnn"))
    if net:
        pytest.importorskip("torch")
    folder = tmp_path / name
    shutil.copytree(GOLDEN / "models" / name, folder)
    model = automl.load(folder, check_versions=False)
    X = _frame(case["frame"]).drop(columns=["label"])
    got = model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
    expected = np.load(GOLDEN / "expected" / f"{name}.npy")
    assert got.dtype == expected.dtype and got.shape == expected.shape
    # Matrix kernels (BLAS, oneDNN) sum in an order set by the CPU they run on (AVX2 vs AVX-512), so models
    # built on them agree across machines to rounding: float32 for the nets, a few float64 ulps for the
    # linear models. Tree models come out bit for bit, and the tolerance below is far under any real change.
    rtol, atol = (1e-5, 1e-6) if net else (1e-12, 0.0)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name}: predictions changed")
    assert model.best_family_ == case["family"]
    assert bool(model.ensemble_) == case["ensemble"]
    assert model.leaderboard().shape[0] >= 1


def test_the_golden_cases_cover_every_built_in_family_and_an_ensemble():
    families = {case["family"] for case in CASES.values()}
    assert families >= {"lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees", "linear", "knn",
                        "torch_mlp", "cnn"}
    assert any(case["ensemble"] for case in CASES.values())


def test_a_study_stored_before_the_redesign_resumes(tmp_path):
    import optuna

    record = json.loads((GOLDEN / "study" / "settings.json").read_text())
    journal = tmp_path / "golden.journal"
    shutil.copy(GOLDEN / "study" / "golden.journal", journal)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    before = optuna.load_study(study_name=record["settings"]["study_name"], storage=storage)
    old_trials = [(t.number, t.state, t.params, t.value) for t in before.get_trials(deepcopy=False)]
    old_attrs = dict(before.user_attrs)
    assert len(old_trials) == record["n_trials"]

    model = automl.fit(_frame(record["frame"]), target=record["target"], tracking=False, storage=str(journal),
                       **record["settings"])

    after = optuna.load_study(study_name=record["settings"]["study_name"],
                              storage=optuna.storages.JournalStorage(
                                  optuna.storages.journal.JournalFileBackend(str(journal))))
    trials = after.get_trials(deepcopy=False)
    assert [(t.number, t.state, t.params, t.value) for t in trials[: len(old_trials)]] == old_trials
    assert len(trials) == len(old_trials) + record["settings"]["n_trials"]  # more trials: it resumed
    assert after.user_attrs["automl:fingerprint"] == old_attrs["automl:fingerprint"]
    assert set(old_attrs) <= set(after.user_attrs)
    # the earlier trials kept their records, and the new ones use the same keys
    old_keys = {k for t in before.get_trials(deepcopy=False) for k in t.user_attrs}
    new_keys = {k for t in trials[len(old_trials):] for k in t.user_attrs}
    assert new_keys <= old_keys | {"automl:worker"}
    assert model.leaderboard()["trial"].notna().sum() == len(trials)
