"""``stack`` (``"auto"`` by default): a second level over the blend, tested on real fits (isolated workers, real crashes and hangs, a
wall clock around the call), and its pieces on their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl._fit.stack import every_row_once, second_level, stack_refit_factor
from automl.config import resolve_settings
from automl.ensemble import blend
from automl.evaluation import make_cv_plan
from automl.exceptions import AutoMLError, InvalidParameterError
from automl.stacking import StackedModel, stack_columns

ROOT = Path(__file__).resolve().parents[1]


def two_signals(rows: int = 1200, seed: int = 0) -> pd.DataFrame:
    """A binary target with a linear part (``x0``) and a local one (a disc in ``x2, x3``): the linear family
    sees the first, k-NN mostly the second, and a second level over both adds them up."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 4))
    logit = 3.0 * X[:, 0] + 5.0 * (X[:, 2] ** 2 + X[:, 3] ** 2 < 1.2) - 2.5
    y = (logit + rng.logistic(size=rows) > 0).astype(int)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(y=y)


@pytest.fixture(scope="module")
def stacked():
    frame = two_signals()
    # stack is left at its default ("auto"): a fit with a blend stacks
    model = automl.fit(frame, target="y", n_trials=6, families=["knn", "linear"], cv=3, tracking=False, seed=0,
                       pruner="none")
    assert model.get_params()["stack"] == "auto"
    return model, frame.drop(columns="y")


def test_a_kept_stack_predicts_the_blend_of_its_base_models_and_its_second_level(stacked):
    model, X = stacked
    assert model.model_source_.startswith("stack of trial"), model.model_source_
    stack = model.ensemble_["stack"]
    base, trials = model.model_.base, stack["base_trials"]
    assert trials == model.ensemble_["trials"] and len(base) == len(trials) >= 2
    assert stack["weights"][-1] > 0 and np.isclose(sum(stack["weights"]), 1.0)
    # the same prediction, written out again: the base models' scores, the second level on X plus their
    # positive-class probabilities as columns, blended with the stack's weights
    scores = [m.predict_scores(X) for m in base]
    columns = {f"__stack_{t}_1": s[:, 1] for t, s in zip(trials, scores)}
    second = model.model_.top.predict_scores(X.assign(**columns))
    expected = blend([*scores, second], stack["weights"])
    assert np.allclose(model.predict_proba(X), expected)


def test_the_stack_row_leads_the_board_only_because_it_beats_the_blend(stacked):
    model, _ = stacked
    board = model.leaderboard()
    assert list(board["family"][:2]) == ["stack", "ensemble"]
    assert board["rank"].iloc[0] == 1 and pd.isna(board["trial"].iloc[0])
    stack, blend_score = board.iloc[0], board.iloc[1]["roc_auc_mean"]
    assert stack["roc_auc_mean"] > blend_score == pytest.approx(model.ensemble_["stack"]["blend_score"])
    assert stack["roc_auc_mean"] == pytest.approx(model.best_score_)
    assert stack["n_folds"] == 3 and stack["origin"] == "stack"


def test_a_saved_stack_loads_and_predicts_the_same_and_explains(stacked, tmp_path):
    model, X = stacked
    model.save(tmp_path / "model")
    loaded = automl.load(tmp_path / "model")
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))
    frame = model.explain(X.head(5), n_background=20, n_permutations=2)
    assert frame.shape[0] == 5 and "permutation" in frame.attrs["method"]
    assert frame.attrs["method"].startswith("stack of ")  # named as a stack, not as its second level's family


@pytest.mark.parametrize("fault, logged", [
    ("none", "the blend stays"),  # it runs, and scores worse than the blend
    ("raise", "failed (TrialRaised: injected raise"),
    ("segfault", "failed (TrialCrashed: the trial's process was killed by signal SIGSEGV"),
])
def test_a_second_level_that_scores_worse_or_fails_leaves_the_blend_and_never_ends_the_fit(fault, logged, caplog):
    from automl.families import register_family, unregister_family
    from benchmarks.shapes import linear_frame

    register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT", replace=True)
    try:
        # slow_refit ranks first on this frame and is the second level (no booster searched); with a fault it fails
        # on any fit with more columns than the frame has: the second level's folds, not the trials
        with caplog.at_level("INFO", logger="automl"):
            model = automl.fit(linear_frame(1200), target="y", n_trials=6, families=["slow_refit", "knn", "linear"],
                               cv=3, tracking=False, seed=0, stack=True, pruner="none",
                               search_space={"slow_refit": {"fold_seconds": 0.0, "wide_fault": fault}})
    finally:
        unregister_family("slow_refit")
    assert any("second level" in r.getMessage() and logged in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records if "second level" in r.getMessage()]
    assert model.model_source_.startswith("ensemble of trials"), model.model_source_
    assert "stack" not in model.ensemble_
    assert model.predict_proba(linear_frame(50, seed=1).drop(columns="y")).shape == (50, 2)


CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from automl.families import register_family
register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")
import automl
from benchmarks.shapes import linear_frame
kwargs = json.loads(sys.argv[1])
start = time.monotonic()
model = automl.fit(linear_frame(1200), target="y", **kwargs)
print(json.dumps({"wall": time.monotonic() - start, "source": model.model_source_}))
"""


def _fit_in_child(script: str, kwargs: dict, timeout: float) -> tuple[dict, float]:
    """Run ``script`` (a fit, ``kwargs`` as JSON) in a fresh interpreter; its last printed JSON line and the wall
    clock around the interpreter."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script, json.dumps(kwargs)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=timeout)
    process_wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), process_wall


def test_a_second_level_that_hangs_is_killed_and_the_fit_keeps_its_budget():
    # The second level's first fold hangs (an hour): only killing its worker at the deadline ends it. The wall
    # clock is around the call in a fresh interpreter, and around that interpreter here.
    kwargs = {"time_budget": 10, "families": ["slow_refit", "knn", "linear"], "cv": 3, "tracking": False, "seed": 0,
              "stack": True, "pruner": "none", "search_space": {"slow_refit": {"fold_seconds": 0.0,
                                                                               "wide_fault": "hang"}}}
    out, process_wall = _fit_in_child(CHILD, kwargs, timeout=120)
    assert out["wall"] <= 10 * 1.1 + 10 and process_wall <= 10 * 1.1 + 10 + 15, out
    assert not out["source"].startswith("stack"), out


WIDE_CHILD = """
import json, logging, sys, time, warnings
warnings.simplefilter("ignore")
from automl.families import register_family
register_family("catboost", "benchmarks.shapes:SLOW_CATBOOST", replace=True)
import automl
import numpy as np
import pandas as pd
rng = np.random.default_rng(0)
X = rng.standard_normal((1200, 8))
# linear_frame's signal, which the fake catboost models best, plus a disc that only the trees see
logit = X @ np.array([1.5, -1.0, 0.8, 0.5, -0.5, 0.3, 0.0, 0.0]) + 2.0 * X[:, 0] * X[:, 1]
logit += 1.5 * (X[:, 4] ** 2 + X[:, 5] ** 2 < 1.0) - 0.75
frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]).assign(y=(logit + rng.logistic(size=1200) > 0).astype(int))
said = []
handler = logging.Handler()
handler.emit = lambda record: said.append(record.getMessage())
logging.getLogger("automl").addHandler(handler)
logging.getLogger("automl").setLevel(logging.INFO)
kwargs = json.loads(sys.argv[1])
start = time.monotonic()
model = automl.fit(frame, target="y", **kwargs)
wall = time.monotonic() - start
board = model.leaderboard().dropna(subset=["trial"])
print(json.dumps({"wall": wall, "source": model.model_source_, "said": [m for m in said if "second level" in m],
                  "ranked": [[int(t), f] for t, f in zip(board["trial"], board["family"])]}))
"""


def test_a_best_booster_too_slow_to_stack_in_the_time_left_gives_way_to_the_next_booster():
    # "catboost" here is a logistic regression (it ranks first on this frame) whose folds sleep 4 s: a second level
    # copying it would take about 30 s on the wider data, more than the time left after the search, and its wide fits
    # hang. The stack stage takes the best booster whose second level fits (LightGBM's); the search kept no time for
    # the slow one (more than STACK_SHARE of the budget). Wall clock around the call and around the interpreter.
    budget = 40
    kwargs = {"time_budget": budget, "families": ["lightgbm", "linear", "catboost"], "cv": 3, "tracking": False,
              "seed": 0, "stack": True, "pruner": "none",
              "search_space": {"catboost": {"fold_seconds": 4.0, "fold_rows": 800, "power": 1, "wide_fault": "hang"}}}
    out, process_wall = _fit_in_child(WIDE_CHILD, kwargs, timeout=240)
    assert out["ranked"][0][1] == "catboost", out["ranked"]  # the slow booster is the best trial and the best booster
    chosen = [m for m in out["said"] if m.startswith("the second level over the blend: trial")]
    # once per final stage: a second search phase, when the first stage left time, runs the stage again
    assert 1 <= len(chosen) <= 2 and all("(lightgbm)" in m for m in chosen), out["said"]
    assert not any("failed" in m or "past the" in m for m in out["said"]), out["said"]
    assert out["wall"] <= budget * 1.1 + 10 and process_wall <= budget * 1.1 + 10 + 15, out


def test_stack_needs_the_ensemble_and_a_bool_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = two_signals(200)
    with pytest.raises(InvalidParameterError, match=r"stack=True needs ensemble=True") as info:
        automl.fit(frame, target="y", n_trials=2, stack=True, ensemble=False, tracking=True,
                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert isinstance(info.value, (AutoMLError, ValueError))
    with pytest.raises(InvalidParameterError, match=r"stack must be 'auto', True or False, got 'yes'"):
        resolve_settings({"stack": "yes"}, "classifier")
    assert list(tmp_path.iterdir()) == []


def test_stack_false_and_no_blend_leave_the_first_level():
    frame = two_signals()
    kwargs = {"n_trials": 6, "families": ["knn", "linear"], "cv": 3, "tracking": False, "seed": 0, "pruner": "none"}
    off = automl.fit(frame, target="y", stack=False, **kwargs)
    assert off.model_source_.startswith("ensemble of trials") and "stack" not in off.ensemble_, off.model_source_
    # the default ("auto") without a blend: no stack and no refusal, unlike stack=True
    alone = automl.fit(frame, target="y", ensemble=False, **kwargs)
    assert "trial" in alone.model_source_ and not alone.ensemble_, alone.model_source_
    assert resolve_settings({"ensemble": False}, "classifier").stacks is False


@pytest.mark.parametrize(("word", "value"), [("yes", True), ("no", False), ("auto", "auto")])
def test_the_command_line_takes_stack_auto_yes_or_no(tmp_path, word, value):
    two_signals(300).to_csv(tmp_path / "train.csv", index=False)
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "fit", "train.csv", "--target", "y", "--n-trials", "4", "--families",
                          "knn,linear", "--stack", word, "--no-tracking", "--output", "model"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert automl.load(tmp_path / "model").get_params()["stack"] == value


def test_the_command_line_refuses_another_stack_word(tmp_path):
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "fit", "train.csv", "--target", "y", "--stack", "maybe", "--no-tracking"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 2 and "invalid auto/yes/no value: 'maybe'" in out.stderr, out.stderr
    assert list(tmp_path.iterdir()) == []


def test_stack_columns_name_every_class_but_the_first():
    cols = stack_columns([np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([1.0, 2.0])], [3, 9], "binary")
    assert list(cols) == ["__stack_3_1", "__stack_9_0"]
    assert cols["__stack_3_1"].dtype == np.float32 and cols["__stack_9_0"].tolist() == [1.0, 2.0]
    three = stack_columns([np.full((2, 3), 1 / 3)], [0], "multiclass")
    assert list(three) == ["__stack_0_1", "__stack_0_2"]


def test_only_splits_that_predict_every_row_equally_often_are_stacked():
    y = np.arange(120) % 2
    kfold = make_cv_plan(3, "binary").splits(120, y, None)
    repeated = make_cv_plan("repeated:3x2", "binary").splits(120, y, None)
    holdout = make_cv_plan("holdout:0.2", "binary").splits(120, y, None)
    time_k = make_cv_plan("time:3", "binary").splits(120, y, None)
    assert every_row_once(kfold, 120) and every_row_once(repeated, 120)
    assert not every_row_once(holdout, 120) and not every_row_once(time_k, 120)


def test_the_second_level_is_the_best_booster_else_the_best_trial():
    from types import SimpleNamespace as T

    ranked = [T(number=1, family="knn"), T(number=7, family="catboost"), T(number=3, family="lightgbm")]
    assert second_level(ranked).number == 7
    assert second_level(ranked[:1]).number == 1
    assert stack_refit_factor(5, 1.25) > stack_refit_factor(3, 1.5) > 1.0


def test_a_stacked_model_reads_a_regression_base_as_one_column():
    from automl.families.pipeline import FamilyPipeline

    X = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 4})
    y = 2 * X["a"].to_numpy() + X["b"].to_numpy()
    base = FamilyPipeline("linear", {}, task="regression", n_classes=0).fit(X, y)
    top = FamilyPipeline("linear", {}, task="regression", n_classes=0).fit(
        X.assign(**stack_columns([base.predict_scores(X)], [4], "regression")), y)
    model = StackedModel([base], [4], top, [1, 1], 4)
    assert model.families == ["linear"] and model.task == "regression"
    assert np.allclose(model.predict_scores(X), 0.5 * base.predict_scores(X) + 0.5 * top.predict_scores(
        X.assign(__stack_4_0=base.predict_scores(X).astype("float32"))))


def test_a_tracked_stack_logs_its_runs_as_a_blend_does_and_its_pyfunc_predicts_the_same(tmp_path):
    import mlflow

    frame = two_signals()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model = automl.fit(frame, target="y", n_trials=6, families=["knn", "linear"], cv=3, seed=0, stack=True,
                       pruner="none", tracking=True, tracking_uri=uri, study_name="stacked")
    assert model.model_source_.startswith("stack of trial"), model.model_source_
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("stacked").experiment_id])
    names = sorted(r.info.run_name for r in runs)
    assert names.count("ensemble") == 1 and len(names) == 1 + 1 + 6, names  # parent, the blend, the trials
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.metrics["roc_auc"] == pytest.approx(model.best_score_)
    frame.to_pickle(tmp_path / "df.pkl")
    code = (
        "import mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        f"df = pd.read_pickle({str(tmp_path / 'df.pkl')!r})\n"
        f"print(list(mlflow.pyfunc.load_model({model.model_uri_!r}).predict(df.drop(columns='y'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == str(list(model.predict(frame)))


@pytest.mark.parametrize("isolation", ["none", "process"])
def test_under_final_model_bag_the_second_level_is_its_fold_models_too(isolation, tmp_path):
    # "bag" runs no refit: the second level was refitted on all rows, beside bagged members.
    from sklearn.datasets import make_classification

    from automl.families.bagged import BaggedModel

    X, y = make_classification(300, 6, random_state=0, flip_y=0.1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(y=y)
    model = automl.fit(frame, target="y", tracking=False, seed=0, n_trials=2, families=["torch_mlp"],
                       isolation=isolation, final_model="bag", calibrate=False, n_jobs=1,
                       search_space={"torch_mlp": {"max_epochs": 5}})
    stack = model.model_
    while not isinstance(stack, StackedModel):  # the case in point: this data and seed give a stack
        stack = stack.model
    assert isinstance(stack.top, BaggedModel) and len(stack.top.members) > 1
    assert all(isinstance(b, BaggedModel) for b in stack.base)
    proba = model.predict_proba(frame.drop(columns="y"))
    assert proba.shape == (300, 2) and np.allclose(proba.sum(axis=1), 1.0)
    reloaded = automl.load(model.save(tmp_path / "m"))
    assert np.array_equal(reloaded.predict_proba(frame.drop(columns="y")), proba)
