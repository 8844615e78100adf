"""Plots for the MLflow parent run: figures on tiny synthetic inputs, PNGs from real tiny fits."""

from __future__ import annotations

import contextlib
import logging
import sys

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.tracking import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEARCH_FILES = ["optimization_history.png", "param_importance.png", "score_by_family.png"]


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def assert_png(path, min_bytes: int = 5_000) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    assert len(data) > min_bytes, (path, len(data))


# ----------------------------------------------------------------------------- real tiny fits


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({
        "x": x,
        "z": rng.normal(size=n),
        "city": pd.Series(rng.choice(["oslo", "rome", "lima"], n), dtype="str"),
    })


def _fit_inputs(df: pd.DataFrame, folder) -> dict:
    # Module-scoped fixtures run before the per-test working directory is set: fit in a folder of our own,
    # with MLflow tracking off (these tests only need the search results).
    with contextlib.chdir(folder):
        # pruner="none": every trial runs all its folds, so the importance plot has complete trials to read
        # (with a pruner, a knn trial far behind the best stops after its first fold).
        model = automl.fit(df, target="y", n_trials=6, families=["linear", "knn"], cv=3, n_jobs=1, seed=0,
                           tracking=False, pruner="none")
    classification = model.task_ != "regression"
    y = df["y"].to_numpy()
    return {
        "leaderboard": model.leaderboard(),
        "study": model.study_,
        "metric_name": model.metric_.name,
        "greater_is_better": model.metric_.greater_is_better,
        "task": model.task_,
        "y_true": np.searchsorted(model.classes_, y) if classification else y.astype(float),
        "oof": model.oof_predictions_[model.best_trial_],
        "classes": model.classes_ if classification else None,
    }


@pytest.fixture(scope="module")
def binary_fit(tmp_path_factory) -> dict:
    df = _frame(120, 0)
    df["y"] = np.where(df["x"] + 0.5 * df["z"] > 0, "yes", "no")
    return _fit_inputs(df, tmp_path_factory.mktemp("fit"))


@pytest.fixture(scope="module")
def multiclass_fit(tmp_path_factory) -> dict:
    df = _frame(150, 1)
    df["y"] = pd.cut(df["x"], [-np.inf, -0.5, 0.5, np.inf], labels=["low", "mid", "high"]).astype(str)
    return _fit_inputs(df, tmp_path_factory.mktemp("fit"))


@pytest.fixture(scope="module")
def regression_fit(tmp_path_factory) -> dict:
    df = _frame(120, 2)
    df["y"] = 3.0 * df["x"] + df["z"] + np.random.default_rng(3).normal(0, 0.3, 120)
    return _fit_inputs(df, tmp_path_factory.mktemp("fit"))


# ----------------------------------------------------------------------------- synthetic inputs


@pytest.fixture
def synthetic_leaderboard() -> pd.DataFrame:
    return pd.DataFrame({
        "rank": pd.array([1, 2, 3, 4, None, None], dtype="Int64"),
        "trial": [3, 0, 1, 4, 2, 5],
        "family": ["lightgbm", "linear", "lightgbm", "knn", "knn", "lightgbm"],
        "params": [{}] * 6,
        "roc_auc_mean": [0.93, 0.90, 0.88, 0.70, 0.55, np.nan],
        "roc_auc_std": [0.01] * 6,
        "n_folds": [3, 3, 3, 3, 2, 0],
        "state": ["complete", "complete", "complete", "complete", "pruned", "fail"],
        "reason": ["", "", "", "", "pruned", "boom"],
    })


def test_optimization_history_labels_and_legend(synthetic_leaderboard):
    fig = plots.optimization_history(synthetic_leaderboard, "roc_auc", greater_is_better=True)
    ax = fig.axes[0]
    assert ax.get_title() == "Optimisation history"
    assert ax.get_xlabel() == "trial"
    assert ax.get_ylabel() == "roc_auc (CV mean)"
    assert legend_texts(ax) == [
        "knn", "lightgbm", "linear", "best so far (highest)", "best: trial 3 (0.93)", "pruned / failed (2)"]
    best_line = next(line for line in ax.get_lines() if line.get_label().startswith("best so far"))
    # Complete trials in order 0, 1, 3, 4 score .90, .88, .93, .70: the running best is .90, .90, .93, .93.
    assert best_line.get_ydata().tolist() == pytest.approx([0.90, 0.90, 0.93, 0.93, 0.93])


def test_optimization_history_loss_runs_a_minimum(synthetic_leaderboard):
    lb = synthetic_leaderboard.rename(columns={"roc_auc_mean": "log_loss_mean"})
    ax = plots.optimization_history(lb, "log_loss", greater_is_better=False).axes[0]
    best_line = next(line for line in ax.get_lines() if line.get_label().startswith("best so far"))
    assert best_line.get_ydata().tolist() == pytest.approx([0.90, 0.88, 0.88, 0.70, 0.70])


def test_optimization_history_without_complete_trials_still_draws():
    lb = pd.DataFrame({"trial": [0], "family": ["knn"], "state": ["fail"], "rmse_mean": [np.nan]})
    ax = plots.optimization_history(lb, "rmse", greater_is_better=False).axes[0]
    assert ax.get_title() == "Optimisation history"
    assert any("no completed trials" in t.get_text() for t in ax.texts)


def test_unknown_metric_column_is_a_clear_error(synthetic_leaderboard):
    with pytest.raises(ValueError, match="f1_mean"):
        plots.score_by_family(synthetic_leaderboard, "f1", greater_is_better=True)


def test_score_by_family_orders_best_first_with_counts(synthetic_leaderboard):
    ax = plots.score_by_family(synthetic_leaderboard, "roc_auc", greater_is_better=True).axes[0]
    assert ax.get_title() == "Score by family"
    assert ax.get_xlabel() == "roc_auc (CV mean)"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # Bottom to top: the best family (lightgbm, best .93) is at the top; pruned/failed trials do not count.
    assert labels == ["knn (n=1)", "linear (n=1)", "lightgbm (n=2)"]
    lower = plots.score_by_family(synthetic_leaderboard, "roc_auc", greater_is_better=False).axes[0]
    assert [t.get_text() for t in lower.get_yticklabels()][-1] == "knn (n=1)"


def _study(n_complete: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    dists = {
        "family": optuna.distributions.CategoricalDistribution(["knn", "linear"]),
        "knn__n_neighbors": optuna.distributions.IntDistribution(1, 30),
        "linear__alpha": optuna.distributions.FloatDistribution(1e-3, 10.0, log=True),
    }
    rng = np.random.default_rng(0)
    for i in range(n_complete):
        family = ["knn", "linear"][i % 2]
        params = {"family": family}
        if family == "knn":
            params["knn__n_neighbors"] = int(rng.integers(1, 31))
        else:
            params["linear__alpha"] = float(10 ** rng.uniform(-3, 1))
        used = {k: dists[k] for k in params}
        value = 0.9 - 0.01 * params.get("knn__n_neighbors", 0) if family == "knn" else 0.7
        study.add_trial(optuna.trial.create_trial(params=params, distributions=used, value=value))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    return study


def test_param_importance_bars_name_optuna_params():
    fig = plots.param_importance(_study(16))
    assert fig is not None
    ax = fig.axes[0]
    assert ax.get_title() == "Hyperparameter importance (PED-ANOVA)"
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert labels <= {"family", "knn__n_neighbors", "linear__alpha"}
    assert "family" in labels and "knn__n_neighbors" in labels
    assert len(plots.param_importance(_study(16), top=1).axes[0].get_yticklabels()) == 1


def test_param_importance_needs_two_complete_trials():
    assert plots.param_importance(_study(0)) is None
    assert plots.param_importance(_study(1)) is None


def test_confusion_matrix_counts_and_skips_nan_rows():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    proba = np.array([
        [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [np.nan, np.nan, np.nan],
        [0.1, 0.1, 0.8], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2],
    ])
    ax = plots.confusion_matrix_plot(y, proba, ["a", "b", "c"]).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert ax.get_title().startswith("Confusion matrix (n=6")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    counts = np.array([int(t.get_text()) for t in ax.texts if t.get_gid() == "count"]).reshape(3, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    shares = [t.get_text() for t in ax.texts if t.get_gid() == "share"]
    assert shares == ["50%", "50%", "0%", "0%", "100%", "0%", "33%", "0%", "67%"]


def test_roc_pr_binary_uses_positive_class():
    y = np.array([0, 0, 1, 1, 0, 1])
    proba = np.column_stack([1 - np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9]), [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]])
    fig = plots.roc_pr_curves(y, proba, ["no", "yes"])
    roc, pr = fig.axes[:2]
    assert (roc.get_title(), roc.get_xlabel(), roc.get_ylabel()) == (
        "ROC curve", "false positive rate", "true positive rate")
    assert (pr.get_title(), pr.get_xlabel(), pr.get_ylabel()) == ("Precision-recall curve", "recall", "precision")
    assert legend_texts(roc) == ["yes (AUC = 0.889)", "chance"]
    assert legend_texts(pr)[0].startswith("yes (AP = ")
    assert legend_texts(pr)[1] == "prevalence = 0.50"


def test_roc_pr_multiclass_caps_at_ten_classes_by_support():
    rng = np.random.default_rng(0)
    k = 12
    y = np.repeat(np.arange(k), np.arange(k) + 3)  # class 11 has most rows, class 0 fewest
    proba = rng.dirichlet(np.ones(k), size=len(y))
    proba[np.arange(len(y)), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    proba[:4] = np.nan
    fig = plots.roc_pr_curves(y, proba, [f"c{i}" for i in range(k)])
    curves = [t for t in legend_texts(fig.axes[0]) if "AUC" in t]
    assert len(curves) == 10
    assert curves[0].startswith("c11 ") and not any(t.startswith(("c0 ", "c1 ")) for t in curves)


def test_regression_figures_label_units():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    pred = np.array([1.2, 1.8, np.nan, 4.4, 4.9, 3.0])
    ax = plots.predicted_vs_actual(y, pred).axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Predicted vs actual", "actual", "predicted")
    assert legend_texts(ax)[0].startswith("n=4, RMSE=")
    assert legend_texts(ax)[1] == "predicted = actual"
    fig = plots.residuals_plot(y, pred)
    assert [a.get_title() for a in fig.axes] == ["Residuals vs predicted", "Residual distribution"]
    assert fig.axes[0].get_xlabel() == "predicted"
    assert fig.axes[0].get_ylabel() == "residual (actual − predicted)"


def test_constant_predictions_do_not_break_the_axes():
    y = np.ones(5)
    plots.predicted_vs_actual(y, y)
    plots.residuals_plot(y, y)


# ----------------------------------------------------------------------------- the driver on real fits


def test_render_binary_search(binary_fit, tmp_path):
    paths = plots.render_search_plots(**binary_fit, out_dir=tmp_path / "plots")
    expected = SEARCH_FILES + ["confusion_matrix.png", "roc_pr_curves.png"]
    assert [p.name for p in paths] == expected
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(expected)
    for path in paths:
        assert_png(path)


def test_render_multiclass_search(multiclass_fit, tmp_path):
    assert multiclass_fit["task"] == "multiclass"
    paths = plots.render_search_plots(**multiclass_fit, out_dir=tmp_path)
    assert [p.name for p in paths] == SEARCH_FILES + ["confusion_matrix.png", "roc_pr_curves.png"]
    for path in paths:
        assert_png(path)


def test_render_regression_search(regression_fit, tmp_path):
    assert regression_fit["task"] == "regression"
    paths = plots.render_search_plots(**regression_fit, out_dir=tmp_path)
    assert [p.name for p in paths] == SEARCH_FILES + ["predicted_vs_actual.png", "residuals.png"]
    for path in paths:
        assert_png(path)


def test_render_with_nan_oof_rows(binary_fit, tmp_path):
    oof = np.array(binary_fit["oof"], copy=True)
    oof[::5] = np.nan  # rows no fold predicted
    inputs = {**binary_fit, "leaderboard": None, "study": None, "oof": oof}
    paths = plots.render_search_plots(**inputs, out_dir=tmp_path)
    assert [p.name for p in paths] == ["confusion_matrix.png", "roc_pr_curves.png"]
    n_drawn = len(oof) - len(oof[::5])
    title = plots.confusion_matrix_plot(binary_fit["y_true"], oof, binary_fit["classes"]).axes[0].get_title()
    assert f"n={n_drawn}," in title


def test_render_with_one_complete_trial_skips_importance(binary_fit, tmp_path, caplog):
    study = optuna.create_study(direction="maximize")
    study.add_trial(binary_fit["study"].trials[0])
    inputs = {**binary_fit, "study": study, "leaderboard": None, "oof": None}  # only the importance plot applies
    with caplog.at_level(logging.WARNING, logger="automl"):
        paths = plots.render_search_plots(**inputs, out_dir=tmp_path)
    assert paths == []
    assert list(tmp_path.iterdir()) == []
    assert not [r for r in caplog.records if r.name.startswith("automl")]


def test_render_skips_missing_inputs(tmp_path):
    assert plots.render_search_plots(None, None, "rmse", False, "regression", None, None, None, tmp_path) == []
    empty = pd.DataFrame(columns=["rank", "trial", "family", "params", "rmse_mean", "state"])
    assert plots.render_search_plots(empty, None, "rmse", False, "regression", np.array([]), np.array([]),
                                     None, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_render_logs_and_continues_when_one_plot_fails(synthetic_leaderboard, tmp_path, caplog):
    y = np.array([0, 1, 0, 1])
    bad_proba = np.full((4, 3), 0.3)  # three columns for two classes: both classification plots fail
    with caplog.at_level(logging.WARNING, logger="automl"):
        paths = plots.render_search_plots(synthetic_leaderboard, None, "f1", True, "binary", y, bad_proba,
                                          ["no", "yes"], tmp_path)
    assert paths == []  # no f1 column either: every plot failed, none raised
    messages = [r.getMessage() for r in caplog.records]
    assert any("confusion_matrix.png" in m for m in messages)
    assert any("roc_pr_curves.png" in m for m in messages)
    assert any("optimization_history.png" in m and "f1_mean" in m for m in messages)


def test_import_is_light():
    heavy = ("mlflow", "torch", "lightgbm")
    code = (
        "import sys, automl.tracking.plots; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m == 'matplotlib.pyplot'))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_does_not_touch_pyplot_or_the_backend(synthetic_leaderboard):
    import matplotlib

    backend = matplotlib.get_backend() if "matplotlib.pyplot" in sys.modules else None
    plots.optimization_history(synthetic_leaderboard, "roc_auc", True)
    if backend is None:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        assert matplotlib.get_backend() == backend
