"""How a booster's fit time grows with its columns: the cost model of a stack's second level.

A second level reads the data plus the blend's members' predictions (``K - 1`` columns each for ``K`` classes), so
:func:`automl._fit.stack.stack_seconds` takes its folds to last ``width`` times a first-level fold (its columns
over the data's). This times LightGBM, CatBoost and XGBoost (200 rounds, one thread) on a 10-class frame of 1,500
rows and 21 columns, then with five members' worth of class scores beside them (66 columns, cardiotocography's
shape at 300 s), and prints each ratio beside the width ratio.

``taskset -c 1 python -m benchmarks.stack_width`` (about 30 s)
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import make_classification


def main() -> None:
    import catboost
    import lightgbm
    import xgboost

    rows, columns, classes, members = 1500, 21, 10, 5
    X, y = make_classification(rows, columns, n_informative=10, n_classes=classes, random_state=0)
    scores = np.random.default_rng(0).dirichlet(np.ones(classes), size=(rows, members))[:, :, 1:]
    wide = np.hstack([X, scores.reshape(rows, members * (classes - 1))])
    makers = {
        "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=200, verbose=-1, n_jobs=1),
        "catboost": lambda: catboost.CatBoostClassifier(iterations=200, depth=6, verbose=0, thread_count=1),
        "xgboost": lambda: xgboost.XGBClassifier(n_estimators=200, n_jobs=1, tree_method="hist"),
    }
    print(f"width ratio {wide.shape[1]}/{columns} = {wide.shape[1] / columns:.2f}")
    for name, make in makers.items():
        seconds = []
        for data in (X, wide):
            started = time.perf_counter()
            make().fit(data, y)
            seconds.append(time.perf_counter() - started)
        print(f"{name}: {seconds[0]:.2f} s on {columns} columns, {seconds[1]:.2f} s on {wide.shape[1]}: "
              f"{seconds[1] / seconds[0]:.2f} x")


if __name__ == "__main__":
    main()
