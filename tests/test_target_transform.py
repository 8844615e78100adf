"""Regression target transforms (``target_transform``): the models may learn sqrt(y) or log1p(y).

Checked from the outside: a transform that suits the target lowers the error measured in the target's
own units (the scores, the predictions and a net's per-epoch reports are never on the model's scale);
``auto`` searches the transforms the target allows and tries each on the first family's defaults;
a pinned transform holds for every trial; refused values name the rule and write nothing (tracking
on); a transformed model saves, loads and is explained in the target's units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl._setting_checks import TARGET_SETTINGS as CHECKED
from automl.data.target import TARGET_SETTINGS, TargetTransform
from automl.families.epochs import epoch_reporting
from automl.families.pipeline import FamilyPipeline, target_spaces


def _skewed(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A target that is exp(linear): a linear model fits it on the log scale, not on its own."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"x{i}" for i in range(4)])
    return X.assign(y=np.exp(1.2 * X["x0"] - 0.8 * X["x1"] + rng.normal(scale=0.1, size=n)) * 50)


def _transforms(model: automl.AutoMLRegressor) -> list[str | None]:
    board = model.leaderboard()
    return [params.get("target_transform") for params in board.loc[board["trial"].notna(), "params"]]


def test_the_setting_has_one_definition():
    assert CHECKED == TARGET_SETTINGS


def test_the_inverse_undoes_the_transform_and_clips_extrapolations():
    y = np.array([0.0, 1.0, 10.0, 1000.0])
    for name in ("none", "sqrt", "log"):
        t = TargetTransform(name).fit(y)
        np.testing.assert_allclose(t.inverse(t.forward(y)), y, rtol=1e-12, atol=1e-12)
    log = TargetTransform("log").fit(y)
    assert np.isfinite(log.inverse(np.array([1e6]))).all()  # expm1 of a wild prediction does not overflow
    assert log.inverse(np.array([1e6]))[0] <= np.expm1(2 * np.log1p(1000.0)) + 1e-6
    assert TargetTransform("sqrt").fit(y).inverse(np.array([-3.0]))[0] == 0.0  # never the square of a negative


def test_a_transform_that_suits_the_target_lowers_the_error_in_its_own_units():
    frame = _skewed(600)
    train, test = frame.iloc[:450], frame.iloc[450:]
    X, y = train.drop(columns="y"), train["y"].to_numpy()
    errors = {}
    for name in ("none", "log"):
        pipeline = FamilyPipeline("linear", {"target_transform": name}, task="regression", n_classes=0).fit(X, y)
        prediction = pipeline.predict_scores(test.drop(columns="y"))
        errors[name] = float(np.sqrt(np.mean((prediction - test["y"].to_numpy()) ** 2)))
    assert errors["log"] < 0.5 * errors["none"], errors


def test_auto_tries_each_transform_on_the_first_familys_defaults_after_all_defaults_in_the_targets_units():
    frame = _skewed()
    model = automl.fit(frame, "y", n_trials=5, families=["linear", "knn"], cv=3, tracking=False, seed=0,
                       ensemble=False)
    board = model.leaderboard().set_index("trial")
    # every family's defaults first (knn's: trial 1), then the first family's on the other scales
    assert board.loc[1, "family"] == "knn" and board.loc[1, "params"]["target_transform"] == "none"
    assert [board.loc[k, "params"]["target_transform"] for k in (0, 2, 3)] == ["none", "sqrt", "log"]
    assert (board.loc[[0, 2, 3], "family"] == "linear").all() and (board.loc[[0, 2, 3], "origin"] == "default").all()
    by_transform = {board.loc[k, "params"]["target_transform"]: board.loc[k, "rmse_mean"] for k in (0, 2, 3)}
    assert by_transform["log"] < by_transform["none"]  # the scores are RMSE of y, not of log1p(y)
    assert model.best_params_["target_transform"] == "log"
    X = frame.drop(columns="y")
    assert np.sqrt(np.mean((model.predict(X) - frame["y"]) ** 2)) < 0.5 * by_transform["none"]


def test_the_portfolios_run_on_the_scale_the_first_familys_defaults_settled():
    model = automl.fit(_skewed(), "y", n_trials=8, families=["linear", "knn", "lightgbm"], cv=3, tracking=False,
                       seed=0, ensemble=False)
    board = model.leaderboard().set_index("trial").sort_index()
    portfolio = board[board["origin"].str.startswith("portfolio:")]
    assert len(portfolio) == 3 and set(portfolio["family"]) == {"lightgbm", "knn"}
    assert portfolio.index.min() > 4  # queued only once the three scale trials (0, 3, 4) had ended
    # log scored best on linear's defaults, so every portfolio entry runs on that scale
    assert [params["target_transform"] for params in portfolio["params"]] == ["log"] * len(portfolio)


def test_scale_trials_that_all_fail_leave_the_portfolios_on_their_own_scale():
    import optuna

    from automl.families import get_family
    from automl.search.first_trials import enqueue_first_trials, queue_after_scale
    from automl.search.trial_record import is_scale_trial

    y = _skewed()["y"].to_numpy()
    families = [get_family("linear"), get_family("knn")]
    spaces = target_spaces("auto", "regression", y, {f.name: f.space() for f in families})
    study = optuna.create_study()
    origins = enqueue_first_trials(study, families, spaces, "regression")
    assert origins == ["default"] * 4  # the portfolios wait for the target's scale
    scale_trials = []
    for _ in origins:
        trial = study.ask()
        assert queue_after_scale(study, families, spaces, "regression") is None  # a scale trial is still running
        scale_trials.append(trial)
    for trial in scale_trials:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert sum(is_scale_trial(t) for t in study.trials) == 3
    queued = queue_after_scale(study, families, spaces, "regression")
    assert queued and all(origin.startswith("portfolio:") for origin in queued)
    waiting = [t for t in study.get_trials(deepcopy=False) if t.state.name == "WAITING"]
    assert {t.system_attrs["fixed_params"][f"{t.system_attrs['fixed_params']['family']}__target_transform"]
            for t in waiting} == {"none"}
    assert queue_after_scale(study, families, spaces, "regression") == []  # queued once


def test_a_target_with_a_negative_value_searches_no_transform_and_a_pinned_one_holds_for_every_trial():
    frame = _skewed(200)
    negative = automl.fit(frame.assign(y=frame["y"] - 60), "y", n_trials=3, families=["linear"], cv=3,
                          tracking=False, ensemble=False)
    assert set(_transforms(negative)) == {None}
    pinned = automl.fit(frame, "y", n_trials=3, families=["linear", "knn"], cv=3, tracking=False, ensemble=False,
                        target_transform="sqrt")
    assert set(_transforms(pinned)) == {"sqrt"}
    assert pinned.model_.target_transform_.name == "sqrt"


@pytest.mark.parametrize("frame_of,value,message", [
    (lambda f: f, "lgo", r"target_transform must be .*got 'lgo'; did you mean 'log'"),
    (lambda f: f.assign(y=f["y"] - 60), "log", r"target_transform='log' needs a target with no negative value"),
    (lambda f: f.assign(y=(f["y"] > 50).astype(int)), "sqrt", r"target_transform='sqrt' applies to regression only"),
])
def test_a_refused_value_states_the_rule_and_nothing_is_written_with_tracking_on(tmp_path, frame_of, value, message):
    frame = frame_of(_skewed(120))
    with pytest.raises(automl.InvalidParameterError, match=message):
        automl.fit(frame, "y", n_trials=2, target_transform=value, tracking=True,
                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", storage=f"sqlite:///{tmp_path / 'study.db'}",
                   study_name="s")
    assert list(tmp_path.iterdir()) == []


def test_the_transform_set_in_search_space_is_refused_with_the_setting_to_use_instead(tmp_path):
    with pytest.raises(automl.InvalidParameterError, match=r"search_space\['linear'\] sets 'target_transform', which is "
                       r"not a family's parameter: .*setting target_transform= .*target_transform='log'"):
        automl.fit(_skewed(100), "y", n_trials=1, families=["linear"], search_space={"linear": {"target_transform": "log"}},
                   tracking=True, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(tmp_path.iterdir()) == []


def test_a_net_reports_its_epochs_in_the_targets_units():
    pytest.importorskip("torch")
    frame = _skewed(300)
    X, y = frame.drop(columns="y"), frame["y"].to_numpy()
    seen: list[float] = []

    def reporter(epoch, y_true, scores):
        seen.append(float(np.max(y_true)))
        return False

    with epoch_reporting(reporter):
        FamilyPipeline("torch_mlp", {"target_transform": "log", "max_epochs": 3}, task="regression",
                       n_classes=0).fit(X, y)
    assert seen and min(seen) > np.log1p(y.max())  # y itself, not log1p(y)
    assert max(seen) <= y.max()


def test_a_transformed_model_saves_loads_and_is_explained_in_the_targets_units(tmp_path):
    frame = _skewed(300)
    X = frame.drop(columns="y")
    model = automl.AutoMLRegressor(n_trials=1, families=["lightgbm"], cv=3, tracking=False, ensemble=False,
                                   target_transform="log").fit(X, frame["y"])
    assert model.model_.target_transform_.name == "log"
    model.save(tmp_path / "m")
    loaded = automl.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    explained = model.explain(X.iloc[:20], n_permutations=20)
    assert "permutation estimate" in explained.attrs["method"]  # exact tree values would be of log1p(y)
    total = explained.drop(columns="base_value").sum(axis=1) + explained["base_value"]
    np.testing.assert_allclose(total, model.predict(X.iloc[:20]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("family", ["lightgbm", "catboost", "torch_mlp"])
def test_a_target_far_from_zero_with_a_narrow_spread_is_learnt_by_float32_models(family):
    """y = 1e9 + 1e-3 * a: float32 (the boosters', the nets') holds it as one value. Before, LightGBM predicted one
    value for every row (R² -96 on held-out rows) and every CatBoost trial failed ("All train targets are equal")."""
    pytest.importorskip(family if family != "torch_mlp" else "torch")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=1200), "b": rng.normal(size=1200)})
    frame["y"] = 1e9 + frame["a"] * 1e-3
    train, test = frame.iloc[:1000], frame.iloc[1000:]
    model = automl.fit(train, target="y", families=[family], n_trials=1, cv=3, tracking=False, isolation="none",
                       ensemble=False)
    assert model.evaluate(test)["r2"] > 0.9
