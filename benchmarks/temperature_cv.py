"""Would temperature scaling (Guo et al. 2017; AutoGluon applies it for log loss) lower our log loss? CV only.

On a suite data set's training split (the test part is never read), three models' out-of-fold class
probabilities under 3-fold stratified CV (LightGBM with 300 rounds and no early stopping, scikit-learn's
HistGradientBoosting with its own early stopping, ExtraTrees), each alone and averaged; for each, one
temperature per fold is chosen on the other folds' out-of-fold rows (cross-fitted) and the fold is scored
with it. Prints the log loss before and after, and the temperatures.

    python -m benchmarks.temperature_cv satellite
"""

from __future__ import annotations

import argparse

import numpy as np


def _scaled(proba: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(proba, 1e-15, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> None:
    import lightgbm as lgb
    import pandas as pd
    from scipy.optimize import minimize_scalar
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    from benchmarks.tasks import load_split, load_tasks

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--outer-seed", type=int, default=0)
    args = parser.parse_args(argv)
    task = load_tasks(names=[args.dataset])[0]
    train, _ = load_split(task, args.outer_seed)  # the test part is not used
    X = train.drop(columns=[task.target])
    y = train[task.target].astype("category").cat.codes.to_numpy()
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]):
            X[column] = X[column].astype("category").cat.codes  # ordinal codes: every model here reads them
    labels = list(range(len(np.unique(y))))
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))

    def oof(make) -> np.ndarray:
        out = np.zeros((len(y), len(labels)))
        for fit_rows, valid in folds:
            out[valid] = make().fit(X.iloc[fit_rows], y[fit_rows]).predict_proba(X.iloc[valid])
        return out

    models = {
        "lightgbm": oof(lambda: lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, verbose=-1, n_jobs=1)),
        "hist_gb": oof(lambda: HistGradientBoostingClassifier(random_state=0)),
        "extra_trees": oof(lambda: ExtraTreesClassifier(300, n_jobs=1, random_state=0)),
    }
    models["average of the three"] = sum(models.values()) / 3
    for name, proba in models.items():
        calibrated, temperatures = proba.copy(), []
        for k, (_, valid) in enumerate(folds):
            rows = np.concatenate([v for j, (_, v) in enumerate(folds) if j != k])
            seen, truth = proba[rows], y[rows]
            best = minimize_scalar(lambda t, p=seen, yt=truth: log_loss(yt, _scaled(p, np.exp(t)), labels=labels),
                                   bounds=(-3, 3), method="bounded").x
            temperatures.append(float(np.exp(best)))
            calibrated[valid] = _scaled(proba[valid], temperatures[-1])
        print(f"{name:22s} log loss {log_loss(y, proba, labels=labels):.4f} -> cross-fitted temperature "
              f"{log_loss(y, calibrated, labels=labels):.4f} (T = {', '.join(f'{t:.2f}' for t in temperatures)})")


if __name__ == "__main__":
    main()
