"""The CatBoost and XGBoost families: native categories, early stopping and its refit, sample weights,
nothing written to the working directory, and whole searches that save and load."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import automl
from automl.families import get_family
from automl.families.pipeline import FamilyPipeline

pytest.importorskip("catboost")
pytest.importorskip("xgboost")

BOOSTERS = ["catboost", "xgboost"]
FAST = {"learning_rate": 0.3}  # fewer rounds: the tests stay quick


def _levels_frame(n: int = 600, levels: int = 40, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A frame whose label is set by a 40-level string column (levels in a random order), plus noise."""
    rng = np.random.default_rng(seed)
    names = np.array([f"level_{i:02d}" for i in range(levels)])
    effect = rng.permutation(levels) % 2  # half the levels say 1, in no order of their names
    code = rng.integers(0, levels, n)
    frame = pd.DataFrame({"noise": rng.normal(size=n), "city": pd.Series(names[code], dtype="str")})
    frame.loc[::13, "city"] = None
    y = np.where(frame["city"].isna(), 0, effect[code])
    return _typed(frame), y


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the column types a search gives a family pipeline (strings as categories)."""
    from automl.data import Schema

    return Schema.from_frame(frame).transform(frame, warn=False)


def _booster(pipeline: FamilyPipeline):  # noqa: ANN202 - the family's estimator
    return pipeline.estimator_


def test_the_conformance_suite_runs_over_both():
    from tests.families.test_conformance import CHECKS

    for family in BOOSTERS:
        names = [c.name for c in CHECKS if c.name.startswith(f"{family}: ")]
        assert f"{family}: isolated" in names and f"{family}: fit_predict (multiclass, table)" in names, names


@pytest.mark.parametrize("family", BOOSTERS)
def test_a_categorical_column_reaches_the_booster_as_categories_and_carries_the_signal(family):
    frame, y = _levels_frame()
    model = FamilyPipeline(family, FAST, task="binary", n_classes=2).fit(frame.iloc[:450], y[:450])
    estimator = _booster(model)
    city = model.preprocessor_.categorical_indices_
    assert len(city) == 1
    if family == "catboost":
        assert estimator.model_.get_cat_feature_indices() == list(city)
    else:
        types = estimator.model_.get_booster().feature_types
        assert [i for i, t in enumerate(types) if t == "c"] == list(city)
    accuracy = (model.predict_scores(frame.iloc[450:]).argmax(axis=1) == y[450:]).mean()
    assert accuracy > 0.9, accuracy


@pytest.mark.parametrize("family", BOOSTERS)
def test_early_stopping_keeps_fewer_rounds_and_the_refit_takes_the_folds_mean(family):
    frame, y = _levels_frame(400)
    y = np.where(np.random.default_rng(3).random(len(y)) < 0.15, 1 - y, y)  # noise: the held-out loss stops falling
    fam = get_family(family)
    hints = []
    for seed in (0, 1):
        fold = FamilyPipeline(family, FAST, task="binary", n_classes=2, seed=seed).fit(frame, y)
        hints.append(fold.refit_hints())
        assert 0 < hints[-1]["n_estimators"] < 2000, hints[-1]
    refit = fam.refit_params({**fam.space().defaults(), **FAST}, hints)
    assert refit["n_estimators"] == round(np.mean([h["n_estimators"] for h in hints]) * 1.1)
    assert refit["early_stopping_rounds"] == 0
    trained = _booster(FamilyPipeline(family, refit, task="binary", n_classes=2).fit(frame, y)).model_
    rounds = trained.tree_count_ if family == "catboost" else trained.get_booster().num_boosted_rounds()
    assert rounds == refit["n_estimators"]
    assert fam.learning_curves(_booster(fold))["valid_loss"], "the early-stopping loss is logged per round"


@pytest.mark.parametrize("family", BOOSTERS)
@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_sample_weights_change_the_model(family, task):
    rng = np.random.default_rng(2)
    frame = _typed(pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)}))
    y = frame["a"].to_numpy() + 0.5 * rng.normal(size=300)
    y = np.digitize(y, [-0.5, 0.5]) if task == "multiclass" else y
    n_classes = 3 if task == "multiclass" else 0
    weights = np.where(frame["b"] > 0, 5.0, 0.2)
    plain = FamilyPipeline(family, FAST, task=task, n_classes=n_classes).fit(frame, y)
    weighted = FamilyPipeline(family, FAST, task=task, n_classes=n_classes).fit(frame, y, sample_weight=weights)
    assert not np.allclose(plain.predict_scores(frame), weighted.predict_scores(frame))


@pytest.mark.parametrize("family", BOOSTERS)
def test_fitting_writes_nothing_into_the_working_directory(family, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame, y = _levels_frame(200)
    FamilyPipeline(family, FAST, task="binary", n_classes=2).fit(frame, y)  # with early stopping
    FamilyPipeline(family, {**FAST, "early_stopping_rounds": 0, "n_estimators": 20}, task="binary",
                   n_classes=2).fit(frame, y)  # without
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _frame_with_gaps(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=n),
        "size": rng.normal(size=n),
        "colour": pd.Series(rng.choice(["red", "green", "blue", "teal"], n), dtype="str"),
    })
    frame.loc[::6, "x"] = np.nan
    frame.loc[::7, "colour"] = None
    return frame


SMALL = {family: {"n_estimators": 300, "learning_rate": 0.2} for family in BOOSTERS}


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_a_search_over_both_saves_a_model_that_predicts_the_same_in_a_fresh_process(task, tmp_path):
    frame = _frame_with_gaps(240, 5)
    signal = np.nan_to_num(frame["size"].to_numpy()) + frame["colour"].map({"red": 1.5, "blue": -1.5}).fillna(0)
    frame["label"] = np.where(signal > 0, "yes", "no") if task == "binary" else 2.0 * signal
    model = automl.fit(frame, "label", families=BOOSTERS, n_trials=4, cv=3, n_jobs=1, tracking=False,
                       search_space=SMALL, seed=0)
    ran = {t.params.get("family") for t in model.study_.trials if t.state.name == "COMPLETE"}
    assert ran == set(BOOSTERS)
    assert model.best_family_ in BOOSTERS
    folder = model.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    used = getattr(model, "families_used_", None) or [model.best_family_]  # an ensemble may use both
    assert set(manifest["requires"]) == {m for f in used for m in get_family(f).requires}
    features = frame.drop(columns="label")
    features.to_pickle(tmp_path / "data.pkl")
    method = "predict_proba" if task == "binary" else "predict"
    code = (
        "import automl, pandas as pd, numpy as np\n"
        f"m = automl.load({str(folder)!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.asarray(m.{method}(pd.read_pickle({str(tmp_path / 'data.pkl')!r}))))\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.asarray(getattr(model, method)(features)))


def test_the_classifier_searches_both_on_strings_with_gaps():
    frame = _frame_with_gaps(200, 6)
    y = np.where(frame["colour"].fillna("teal").isin(["red", "teal"]), "a", "b")
    model = automl.AutoMLClassifier(families=BOOSTERS, n_trials=2, cv=3, n_jobs=1, tracking=False,
                                    search_space=SMALL).fit(frame, y)
    assert set(model.predict(frame)) <= {"a", "b"}
    assert (model.predict(frame) == y).mean() > 0.9


def test_the_default_families_include_both_after_lightgbm():
    order = automl.available_families("binary")
    assert order.index("lightgbm") < order.index("catboost") and order.index("lightgbm") < order.index("xgboost")


@pytest.mark.parametrize("family", BOOSTERS)
def test_a_missing_package_names_the_extra_to_install(family, monkeypatch):
    import importlib.util

    from automl.exceptions import FamilyUnavailableError
    from automl.families import resolve_families

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == family else real(name, *a))
    with pytest.raises(FamilyUnavailableError, match=rf'pip install "automl\[{family}\]"'):
        resolve_families([family], "binary")
    assert family not in automl.available_families("binary")


def test_a_saved_xgboost_model_records_the_version_of_the_wheel_that_provides_the_module(tmp_path):
    frame = _frame_with_gaps(120, 7)
    frame["label"] = frame["size"] * 2.0
    model = automl.fit(frame, "label", families=["xgboost"], n_trials=1, cv=2, n_jobs=1, tracking=False,
                       search_space={"xgboost": SMALL["xgboost"]})
    model.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["requires"] == ["xgboost"]
    assert manifest["versions"]["xgboost"] == __import__("xgboost").__version__


def test_served_requirements_name_the_wheel_that_provides_the_module():
    pytest.importorskip("mlflow")
    from automl.persistence import installed_distribution
    from automl.tracking.pyfunc import pip_requirements

    wheel, version = installed_distribution("xgboost")
    assert f"{wheel}=={version.split('+')[0]}" in pip_requirements(("xgboost",))
