"""Issue 16: early-stopping rules compared on the same held-out curves (LightGBM's defaults, off-suite tables).

For each table of :mod:`benchmarks.ab`'s pools with at most ``--max-rows`` training rows (training part of outer
seed 0; the test part is never read) and each of 5 folds (stratified for classes), LightGBM's defaults (learning
rate 0.05, 31 leaves; category columns as codes) train on 90 % of the fold's training rows, recording the held-out
10 %'s loss after every round, until the most patient rule below would stop (at most 4,000 rounds). Every rule is
then applied to that one curve: the round it keeps (its best so far when it stops) predicts the fold's validation
rows. So the rules differ only in where they stop, not in the trees. Printed per table: each rule's relative gain
over a fixed 50 rounds on the mean fold score (roc_auc, log_loss or rmse), and the rounds it trains as a multiple
of the fixed rule's; then the mean per task.

    python -m benchmarks.patience_curves --datasets NAME,... [--max-rows 20000]

Rules: ``fixed50`` (the boosters' default patience), ``rows`` (300 rounds up to 10,000
training rows, shrinking above, at least 50: AutoGluon's older rule), ``adapt50`` (50 + 0.3 x the best round: ``early_stopping_rate=0.3``,
:func:`automl.families._early_stopping.patience_rounds`), ``adapt20`` (20 + 0.3 x the best round),
``ag`` (0.3 x the best round + the ``rows`` offset, at least 20: AutoGluon's ``AdaptiveES``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from automl.families._early_stopping import PATIENCE_BASE, patience_rounds
from benchmarks.ab import load_frame, pool_tasks
from benchmarks.offsuite import load_offsuite_split


def _rows_offset(n: int, least: int) -> int:
    return max(least, round(300 * min(1.0, 10_000 / n)))


RULES: dict[str, Callable[[int, int], float]] = {
    "fixed50": lambda best, n: 50,
    "rows": lambda best, n: _rows_offset(n, 50),
    "adapt50": lambda best, n: patience_rounds(PATIENCE_BASE, 0.3, best),
    "adapt20": lambda best, n: 20 + 0.3 * best,
    "ag": lambda best, n: 0.3 * best + _rows_offset(n, 20),
}


def stop(curve: list[float], rule: Callable[[int, int], float], n: int) -> tuple[int, int]:
    """``(rounds kept, rounds trained)`` when ``rule`` watches ``curve`` (a loss per round)."""
    best, kept = np.inf, 0
    for i, value in enumerate(curve):
        if value < best:
            best, kept = value, i
        if i - kept >= rule(kept + 1, n):
            return kept + 1, i + 1
    return kept + 1, len(curve)


def codes(frame: object) -> np.ndarray:
    """The features as floats: numbers as they are, other columns as category codes (NaN when missing)."""
    import pandas as pd

    columns = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            columns.append(values.to_numpy(dtype="float64", na_value=np.nan))
        else:
            coded = pd.factorize(values)[0].astype("float64")
            coded[coded < 0] = np.nan
            columns.append(coded)
    return np.column_stack(columns)


def fold_curve(params: dict, Z: np.ndarray, y: np.ndarray, fit_rows: np.ndarray, held_rows: np.ndarray) -> tuple:
    """``(booster, held-out loss per round)``, trained until the most patient rule would stop."""
    import lightgbm as lgb

    record: dict = {}
    state = {"best": np.inf, "kept": 0}

    def until_the_last_rule(env: object) -> None:
        value = env.evaluation_result_list[0][2]
        if value < state["best"]:
            state["best"], state["kept"] = value, env.iteration
        if env.iteration - state["kept"] >= max(rule(state["kept"] + 1, len(fit_rows)) for rule in RULES.values()):
            raise lgb.callback.EarlyStopException(state["kept"], env.evaluation_result_list)

    booster = lgb.train(params, lgb.Dataset(Z[fit_rows], y[fit_rows]), 4000,
                        valid_sets=[lgb.Dataset(Z[held_rows], y[held_rows])],
                        callbacks=[lgb.record_evaluation(record), until_the_last_rule])
    return booster, list(record["valid_0"].values())[0]


def table(task: object) -> dict[str, tuple[float, float]]:
    """Each rule's ``(relative gain over fixed50, rounds trained over fixed50's)`` on one table."""
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    train, _ = load_offsuite_split(task, 0)
    y = train[task.target].to_numpy()
    Z = codes(train.drop(columns=[task.target]))
    params = dict(learning_rate=0.05, num_leaves=31, verbose=-1, num_threads=1, deterministic=True, seed=0)
    if task.task == "regression":
        y = y.astype("float64")
        params["objective"] = "regression"
        folds = KFold(5, shuffle=True, random_state=0).split(Z)
    else:
        classes, y = np.unique(y, return_inverse=True)
        params.update(objective="binary") if len(classes) == 2 else params.update(objective="multiclass",
                                                                                   num_class=len(classes))
        folds = StratifiedKFold(5, shuffle=True, random_state=0).split(Z, y)
    scores: dict[str, list[float]] = {r: [] for r in RULES}
    trained = dict.fromkeys(RULES, 0)
    for k, (fold_train, fold_valid) in enumerate(folds):
        try:
            fit_rows, held_rows = train_test_split(fold_train, test_size=0.1, random_state=k,
                                                   stratify=None if task.task == "regression" else y[fold_train])
        except ValueError:  # a class too small to stratify
            fit_rows, held_rows = train_test_split(fold_train, test_size=0.1, random_state=k)
        booster, curve = fold_curve(params, Z, y, fit_rows, held_rows)
        for name, rule in RULES.items():
            kept, rounds = stop(curve, rule, len(fit_rows))
            p = booster.predict(Z[fold_valid], num_iteration=kept)
            trained[name] += rounds
            if task.task == "regression":
                scores[name].append(float(np.sqrt(np.mean((p - y[fold_valid]) ** 2))))
            elif task.task == "binary":
                scores[name].append(float(roc_auc_score(y[fold_valid], p)))
            else:
                scores[name].append(float(log_loss(y[fold_valid], p, labels=np.arange(len(classes)))))
    base = float(np.mean(scores["fixed50"]))
    sign = 1.0 if task.task == "binary" else -1.0
    return {name: (sign * (float(np.mean(scores[name])) - base) / abs(base), trained[name] / trained["fixed50"])
            for name in RULES if name != "fixed50"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="")
    parser.add_argument("--max-rows", type=int, default=20000)
    args = parser.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    by_task: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for task in pool_tasks("both", names):
        if len(load_frame(task)) * 0.8 > args.max_rows:
            continue
        result = table(task)
        print(task.name, task.task, *(f"{r}:{g:+.2%}/x{c:.2f}" for r, (g, c) in result.items()), flush=True)
        for rule, value in result.items():
            by_task.setdefault((rule, task.task), []).append(value)
            by_task.setdefault((rule, "all"), []).append(value)
    for (rule, what), values in sorted(by_task.items()):
        a = np.asarray(values)
        print(f"{rule} {what}: {len(a)} tables, mean {a[:, 0].mean():+.3%}, better / worse by 0.1 % "
              f"{(a[:, 0] > 0.001).sum()} / {(a[:, 0] < -0.001).sum()}, rounds x{np.median(a[:, 1]):.2f} (median)")


if __name__ == "__main__":
    main()
