"""Per-trial framework overhead: automl's search loop against a bare Optuna loop doing the same work.

Data: a synthetic binary frame (``make_classification``, default 500 rows x 10 numeric columns,
seed 0). automl runs ``automl.fit(df, target="target", families=["linear"], n_trials=N, cv=5,
n_jobs=1, pruner="none", seed=0)`` (in-memory study). For every completed trial::

    overhead = duration (Optuna: datetime_complete - datetime_start)
               - fit time (user attr automl:fit_time, all folds)
               - predict time (user attr automl:predict_time, all folds)

i.e. everything a trial spends outside the timed fit and predict calls (which include automl's
per-fold preprocessing and row slicing): sampling, out-of-fold bookkeeping, metric computation,
user attributes, pruning reports, storage. Reported: median and p90 in ms.

Reference, measured in the same run: a bare Optuna loop (in-memory, ``TPESampler(seed=0)``) over the
same space (alpha, penalty, l1_ratio, class_weight) fitting ``StandardScaler + LogisticRegression`` on
numpy arrays with a manual stratified 5-fold CV and scikit-learn's ``roc_auc_score`` per fold; its
overhead is defined the same way (trial duration minus the timed fit and predict calls). Two more
bare variants compute the AUC with numpy/scipy ranks instead (scikit-learn's input validation costs
a few ms per call), with the default sampler and with automl's (``multivariate=True, group=True``):
the floor of an Optuna loop. automl computes roc_auc, log_loss, accuracy and f1 per fold (its own
numpy implementations), and that is in its overhead. automl runs twice: ``tracking=False``, and with
``tracking=MLflowTracker(f"sqlite:///{tmp}/mlflow.db", plots=False, log_model=False)`` (a fresh
store whose schema is created before the measured fit). Ratios automl / bare are printed for both.

    python -m benchmarks.overhead --trials 100
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def synthetic(rows: int, cols: int, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=cols, n_informative=min(cols, 5), random_state=seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(cols)])
    frame["target"] = y
    return frame


def summary(overheads_s: list[float]) -> dict[str, float]:
    values = np.asarray(overheads_s) * 1000.0
    return {"n": len(values), "median": float(np.median(values)), "p90": float(np.percentile(values, 90)),
            "mean": float(values.mean())}


def run_automl(frame: pd.DataFrame, trials: int, tracking: object = False, label: str = "") -> dict:
    import optuna

    import automl

    started = time.perf_counter()
    model = automl.fit(frame, target="target", families=["linear"], n_trials=trials, cv=5, n_jobs=1,
                       pruner="none", seed=0, tracking=tracking)
    wall = time.perf_counter() - started
    complete = [t for t in model.study_.trials if t.state == optuna.trial.TrialState.COMPLETE]
    durations = [t.duration.total_seconds() for t in model.study_.trials if t.duration is not None]
    overheads = [
        t.duration.total_seconds() - t.user_attrs["automl:fit_time"] - t.user_attrs["automl:predict_time"]
        for t in complete
    ]
    board = model.leaderboard()
    check = board.loc[board["state"] == "complete", ["fit_time", "duration"]]
    assert len(check) == len(complete), "leaderboard and study disagree"
    return {
        "label": label or "automl (families=['linear'], cv=5)", "stats": summary(overheads), "wall": wall,
        "fit_predict": sum(t.user_attrs["automl:fit_time"] + t.user_attrs["automl:predict_time"] for t in complete),
        "between": model.search_time_ - sum(durations), "setup": model.fit_time_ - model.search_time_ - model.refit_time_,
        "n_trials": len(model.study_.trials),
    }


def run_bare(frame: pd.DataFrame, trials: int, *, multivariate: bool, numpy_auc: bool) -> dict:
    import optuna
    from sklearn.linear_model import LogisticRegression
    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = frame.drop(columns=["target"]).to_numpy(dtype="float64")
    y = frame["target"].to_numpy()
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X, y))

    def objective(trial: optuna.Trial) -> float:
        alpha = trial.suggest_float("alpha", 1e-4, 1e2, log=True)
        penalty = trial.suggest_categorical("penalty", ["l2", "elasticnet"])
        l1_ratio = trial.suggest_float("l1_ratio", 0.05, 0.95)
        class_weight = trial.suggest_categorical("class_weight", [None, "balanced"])
        elastic = penalty == "elasticnet"
        fit_s = predict_s = 0.0
        scores = []
        for train, valid in folds:
            model = make_pipeline(StandardScaler(), LogisticRegression(
                C=1.0 / alpha, l1_ratio=l1_ratio if elastic else 0.0, solver="saga" if elastic else "lbfgs",
                max_iter=1000, class_weight=class_weight, random_state=0))
            t0 = time.perf_counter()
            model.fit(X[train], y[train])
            t1 = time.perf_counter()
            proba = model.predict_proba(X[valid])
            t2 = time.perf_counter()
            fit_s += t1 - t0
            predict_s += t2 - t1
            if numpy_auc:  # Mann-Whitney U, no input validation
                positive = y[valid] == 1
                ranks = rankdata(proba[:, 1])
                n_pos = int(positive.sum())
                n_neg = len(positive) - n_pos
                scores.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
            else:
                scores.append(roc_auc_score(y[valid], proba[:, 1]))
        trial.set_user_attr("fit_time", fit_s)
        trial.set_user_attr("predict_time", predict_s)
        return float(np.mean(scores))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = (optuna.samplers.TPESampler(seed=0, multivariate=True, group=True) if multivariate
                   else optuna.samplers.TPESampler(seed=0))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials, gc_after_trial=False)
    wall = time.perf_counter() - started
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    overheads = [t.duration.total_seconds() - t.user_attrs["fit_time"] - t.user_attrs["predict_time"]
                 for t in complete]
    label = "bare Optuna, " + ("TPE(seed=0, multivariate, group)" if multivariate else "TPESampler(seed=0)")
    label += ", numpy AUC/fold" if numpy_auc else ", sklearn roc_auc_score/fold"
    return {"label": label, "stats": summary(overheads), "wall": wall,
            "fit_predict": sum(t.user_attrs["fit_time"] + t.user_attrs["predict_time"] for t in complete),
            "between": wall - sum(t.duration.total_seconds() for t in study.trials), "setup": float("nan"),
            "n_trials": len(study.trials)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Per-trial overhead (trial duration minus fit and predict time) of automl's search, "
        "against a bare Optuna loop over the same LogisticRegression, measured in the same run."
    )
    parser.add_argument("--trials", type=int, default=100, help="trials per loop (default 100)")
    parser.add_argument("--rows", type=int, default=500, help="rows of the synthetic frame (default 500)")
    parser.add_argument("--cols", type=int, default=10, help="numeric columns (default 10)")
    args = parser.parse_args(argv)

    import optuna
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # saga on some configurations
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("automl").setLevel(logging.WARNING)
    from automl.tracking.mlflow_tracker import MLflowTracker

    frame = synthetic(args.rows, args.cols)
    # Import and warm everything once, so neither loop pays first-use costs.
    run_bare(frame, 2, multivariate=False, numpy_auc=False)
    run_bare(frame, 2, multivariate=False, numpy_auc=True)
    run_automl(frame, 2)
    plain = run_automl(frame, args.trials, label="automl (families=['linear'], cv=5), tracking=False")
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        # Create the store's schema (and import MLflow) before the measured fit: a one-off cost.
        MLflowTracker(uri, plots=False, log_model=False).client.search_experiments()
        tracked = run_automl(frame, args.trials, tracking=MLflowTracker(uri, plots=False, log_model=False),
                             label="automl (families=['linear'], cv=5), MLflow tracking (sqlite, plots/model off)")
    results = [
        plain,
        tracked,
        run_bare(frame, args.trials, multivariate=False, numpy_auc=False),
        run_bare(frame, args.trials, multivariate=False, numpy_auc=True),
        run_bare(frame, args.trials, multivariate=True, numpy_auc=True),
    ]
    print(f"synthetic binary frame {args.rows} x {args.cols}, {args.trials} trials, 5-fold CV, n_jobs=1, "
          "in-memory studies\n")
    print("| loop | completed trials | overhead median ms/trial | overhead p90 ms/trial | overhead mean ms/trial "
          "| fit+predict s (all) | loop wall s | between trials ms/trial |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        s = r["stats"]
        print(f"| {r['label']} | {s['n']} | {s['median']:.2f} | {s['p90']:.2f} | {s['mean']:.2f} | "
              f"{r['fit_predict']:.2f} | {r['wall']:.2f} | {1000 * r['between'] / max(r['n_trials'], 1):.2f} |")
    plain_s, mlflow_s, bare, floor, like = (r["stats"] for r in results)
    print()
    for name, ours in (("automl, tracking=False", plain_s), ("automl, MLflow tracking", mlflow_s)):
        print(f"{name}: ratio / bare (median overhead) {ours['median'] / bare['median']:.2f}x "
              f"(p90 {ours['p90'] / bare['p90']:.2f}x); / bare with numpy AUC {ours['median'] / floor['median']:.2f}x "
              f"(p90 {ours['p90'] / floor['p90']:.2f}x); / bare with numpy AUC and automl's sampler "
              f"{ours['median'] / like['median']:.2f}x (p90 {ours['p90'] / like['p90']:.2f}x)")
    print(f"MLflow tracking adds {mlflow_s['median'] - plain_s['median']:.2f} ms/trial (median overhead) and "
          f"{results[1]['wall'] - results[0]['wall']:.2f} s to the whole fit ({args.trials} trials)")
    print(f"automl fixed cost outside the search and refit (validation, schema, set-up): "
          f"{1000 * results[0]['setup']:.1f} ms without tracking, {1000 * results[1]['setup']:.1f} ms with; "
          "'loop wall' for automl is the whole automl.fit call.")


if __name__ == "__main__":
    main()
