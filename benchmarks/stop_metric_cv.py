"""Issue 16: a booster's early stopping on the target's own units under a target transform (off-suite, training parts).

Under ``target_transform="log"`` or ``"sqrt"`` the boosters learn ``f(y)`` and stop early on their default loss of
``f(y)`` (l2 on the compressed scale), while the search scores RMSE in the target's units. For each regression table
of :mod:`benchmarks.ab`'s pools with at least 500 training rows and no negative target (training part of outer seed
0; the test part is never read), 5-fold CV of LightGBM (learning rate 0.05, up to 5,000 rounds, 50 rounds of
patience on 10 % of each fold's training rows) under each transform, stopping on (``model``) l2 of ``f(y)`` or
(``orig``) RMSE of the predictions mapped back. Printed: each table's CV RMSE and mean rounds per variant, the gain
of ``orig`` over ``model`` per transform, and the mean gain and wins / losses (by 0.1 %) at the end.

    python -m benchmarks.stop_metric_cv
"""

from __future__ import annotations

import argparse
import warnings

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import KFold, train_test_split

from benchmarks.ab import pool_tasks
from benchmarks.offsuite import load_offsuite_split

FWD = {"sqrt": np.sqrt, "log": np.log1p}
INV = {"sqrt": np.square, "log": np.expm1}


def prep(df):
    """Text columns as pandas categories (LightGBM's own categorical handling)."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype).startswith(("string", "category", "str")):
            df[c] = df[c].astype("category")
        elif df[c].dtype == bool:
            df[c] = df[c].astype(int)
    return df


def rmse_in_units(inverse):
    """LightGBM's ``eval_metric``: RMSE of the predictions mapped back to the target's units (lower is better)."""
    def metric(y_true, y_pred):
        error = inverse(y_true) - inverse(np.maximum(y_pred, 0))
        return "rmse_in_units", float(np.sqrt(np.mean(error ** 2))), False
    return metric


def cv_rmse(X, y, transform: str, mode: str) -> tuple[float, float]:
    """``(CV RMSE in the target's units, mean rounds kept)`` of LightGBM stopping on ``mode``'s loss."""
    preds, rounds = np.zeros(len(y)), []
    z = FWD[transform](y)
    for k, (fold_train, fold_valid) in enumerate(KFold(5, shuffle=True, random_state=0).split(X)):
        fit_rows, held_rows = train_test_split(fold_train, test_size=0.1, random_state=k)
        model = lgb.LGBMRegressor(n_estimators=5000, learning_rate=0.05, verbose=-1, n_jobs=1, random_state=0)
        extra = {}
        if mode == "orig":
            extra["eval_metric"] = rmse_in_units(INV[transform])
            model.set_params(metric="None")
        model.fit(X.iloc[fit_rows], z[fit_rows], eval_set=[(X.iloc[held_rows], z[held_rows])],
                  callbacks=[lgb.early_stopping(50, verbose=False)], **extra)
        preds[fold_valid] = INV[transform](model.predict(X.iloc[fold_valid]))
        rounds.append(model.best_iteration_)
    return float(np.sqrt(np.mean((preds - y) ** 2))), float(np.mean(rounds))


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    warnings.filterwarnings("ignore")
    gains = []
    for task in (t for t in pool_tasks("both") if t.task == "regression"):
        train, _ = load_offsuite_split(task, 0)
        y = train[task.target].to_numpy(float)
        if len(y) < 500 or y.min() < 0:
            continue
        X = prep(train.drop(columns=[task.target]))
        res = {(tr, mode): cv_rmse(X, y, tr, mode) for tr in FWD for mode in ("model", "orig")}
        line = [f"{tr}/{mode}: {res[(tr, mode)][0]:.4g} ({res[(tr, mode)][1]:.0f})" for tr, mode in res]
        gain = [100 * (res[(tr, "model")][0] - res[(tr, "orig")][0]) / res[(tr, "model")][0] for tr in FWD]
        print(task.name, len(y), *line, f"gain sqrt {gain[0]:+.2f}% log {gain[1]:+.2f}%", flush=True)
        gains.append(gain)
    g = np.array(gains)
    for i, tr in enumerate(FWD):
        print(f"{tr}: mean gain {g[:, i].mean():+.2f}%, better / worse by 0.1 %: {(g[:, i] > 0.1).sum()} / "
              f"{(g[:, i] < -0.1).sum()} of {len(g)}")


if __name__ == "__main__":
    main()
