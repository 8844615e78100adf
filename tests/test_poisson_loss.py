"""``target_transform="poisson"``: the target as it is, under the family's own Poisson loss (a log link).

Checked from the outside: the families that declare one train with it and predict the mean of the target (where a
model of ``log1p(y)`` predicts a geometric mean, biased low); pinned, only those families are given it and the
others learn the target as it is; ``auto`` does not search it (measured: benchmarks/README.md, forty-third session);
a refused value names the rule, with nothing written; a Poisson model saves, loads and is explained in the target's
units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl.data.target import SEARCHED_TRANSFORMS, TARGET_TRANSFORMS, target_problems
from automl.families import get_family
from automl.families.pipeline import FamilyPipeline, target_spaces

POISSON_FAMILIES = ("lightgbm", "hist_gradient_boosting")


def _counts(n: int = 800, seed: int = 0) -> pd.DataFrame:
    """Overdispersed counts (a gamma-Poisson mixture) whose log-mean is linear with an interaction: multiplicative
    effects, a long right tail."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"x{i}" for i in range(4)])
    mean = np.exp(1.0 + 1.1 * X["x0"] + 0.6 * X["x1"] * (X["x2"] > 0))
    return X.assign(y=rng.poisson(mean * rng.gamma(1.0, 1.0, size=n)).astype(float))


def _transforms(model: automl.AutoMLRegressor, family: str) -> list[str | None]:
    board = model.leaderboard()
    rows = board[board["trial"].notna() & (board["family"] == family)]
    return [params.get("target_transform") for params in rows["params"]]


def _objective(pipeline: FamilyPipeline) -> str:
    estimator = pipeline.estimator_
    if pipeline.family == "lightgbm":
        return str(estimator.model_.get_params()["objective"])
    return str(estimator.loss)


@pytest.mark.parametrize("family", POISSON_FAMILIES)
def test_a_poisson_trial_trains_the_familys_own_poisson_loss_and_predicts_the_mean(family):
    frame = _counts()
    X, y = frame.drop(columns="y"), frame["y"].to_numpy()
    fitted = {name: FamilyPipeline(family, {"target_transform": name}, task="regression", n_classes=0).fit(X, y)
              for name in ("poisson", "log", "none")}
    assert _objective(fitted["poisson"]) == "poisson"
    assert _objective(fitted["none"]) != "poisson" and _objective(fitted["log"]) != "poisson"
    poisson, log = fitted["poisson"].predict_scores(X), fitted["log"].predict_scores(X)
    assert np.isfinite(poisson).all() and (poisson >= 0).all()
    assert abs(poisson.mean() / y.mean() - 1.0) < 0.05, (poisson.mean(), y.mean())  # the mean, in y's units
    assert log.mean() < 0.8 * y.mean()  # log1p's geometric mean: what the Poisson loss is there to avoid
    assert np.corrcoef(poisson, y)[0, 1] > np.corrcoef(fitted["none"].predict_scores(X), y)[0, 1]


def test_a_pinned_poisson_is_given_only_to_the_families_with_a_poisson_loss_and_auto_does_not_search_it():
    y = _counts()["y"].to_numpy()
    names = ["lightgbm", "hist_gradient_boosting", "xgboost", "catboost", "knn", "linear"]
    spaces = {name: get_family(name).space() for name in names}
    pinned = target_spaces("poisson", "regression", y, spaces)
    for name in names:
        has_loss = get_family(name).poisson_params is not None
        assert has_loss == (name in POISSON_FAMILIES)
        if has_loss:
            assert pinned[name]["target_transform"].value == "poisson"
        else:
            assert "target_transform" not in pinned[name].names, name  # it learns the target as it is
    searched = target_spaces("auto", "regression", y, spaces)
    assert {searched[name]["target_transform"].choices for name in names} == {SEARCHED_TRANSFORMS}
    assert "poisson" in TARGET_TRANSFORMS and "poisson" not in SEARCHED_TRANSFORMS


def test_a_target_of_zeros_is_refused_the_poisson_loss_with_the_rule():
    assert target_problems("poisson", "regression", np.zeros(30)) == [
        "target_transform='poisson' needs a target with a value above 0 (a Poisson loss models the log of its mean), "
        "and every value is 0; use 'none' or 'auto'"]
    assert target_problems("sqrt", "regression", np.zeros(30)) == []


def test_a_family_without_a_poisson_loss_given_one_is_refused_with_what_to_use():
    frame = _counts(100)
    with pytest.raises(automl.InvalidParameterError, match=r"'knn' has none; use 'none', 'sqrt' or 'log'"):
        FamilyPipeline("knn", {"target_transform": "poisson"}, task="regression", n_classes=0).fit(
            frame.drop(columns="y"), frame["y"].to_numpy())


def test_a_pinned_poisson_holds_for_the_families_that_have_it_and_the_others_learn_the_target_as_it_is():
    model = automl.fit(_counts(400), "y", task="regression", n_trials=4, families=["lightgbm", "knn"], cv=3,
                       tracking=False, seed=0, ensemble=False, target_transform="poisson")
    assert set(_transforms(model, "lightgbm")) == {"poisson"}
    assert set(_transforms(model, "knn")) == {None}
    assert (model.predict(_counts(50, seed=1).drop(columns="y")) >= 0).all()


def test_auto_searches_no_poisson_trial_and_its_scale_trials_stay_the_three_transforms():
    model = automl.fit(_counts(400), "y", task="regression", n_trials=5, families=["lightgbm", "knn"], cv=3,
                       tracking=False, seed=0, ensemble=False)
    board = model.leaderboard().set_index("trial").sort_index()
    assert [board.loc[k, "params"]["target_transform"] for k in (0, 2, 3)] == list(SEARCHED_TRANSFORMS)
    assert "poisson" not in set(_transforms(model, "lightgbm")) | set(_transforms(model, "knn"))


@pytest.mark.parametrize("value,message", [
    ("poisson", r"target_transform='poisson' needs a target with no negative value .*nor is a Poisson loss"),
    ("poison", r"target_transform must be .*got 'poison'; did you mean 'poisson'"),
])
def test_a_refused_poisson_states_the_rule_and_nothing_is_written_with_tracking_on(tmp_path, value, message):
    frame = _counts(120)
    with pytest.raises(automl.InvalidParameterError, match=message):
        automl.fit(frame.assign(y=frame["y"] - 3.0), "y", task="regression", n_trials=2, target_transform=value,
                   tracking=True, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                   storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s")
    assert list(tmp_path.iterdir()) == []


def test_a_poisson_model_saves_loads_and_is_explained_in_the_targets_units(tmp_path):
    frame = _counts(300)
    X = frame.drop(columns="y")
    model = automl.AutoMLRegressor(n_trials=1, families=["lightgbm"], cv=3, tracking=False, ensemble=False,
                                   target_transform="poisson").fit(X, frame["y"])
    assert model.model_.target_transform_.name == "poisson" and _objective(model.model_) == "poisson"
    model.save(tmp_path / "m")
    loaded = automl.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    explained = model.explain(X.iloc[:20], n_permutations=20)
    assert "permutation estimate" in explained.attrs["method"]  # exact tree values would be of the log-mean
    total = explained.drop(columns="base_value").sum(axis=1) + explained["base_value"]
    np.testing.assert_allclose(total, model.predict(X.iloc[:20]), rtol=1e-6, atol=1e-6)
