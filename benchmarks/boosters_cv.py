"""Issue 16, item 2: the defaults of lightgbm, catboost and xgboost under 5-fold CV (no test split).

For each data set and family: ``Evaluator([metric], make_cv_plan(5, task).splits(...))`` over the frame
as a search sees it (``Schema`` transform), the family's defaults (``params={}``), seed 0, ``n_jobs=1``
(BLAS/OpenMP at one thread). Printed: the mean and std of the fold scores (the task's default metric:
roc_auc, log_loss or rmse) and the fit time of the 5 folds together (``CVResult.fit_time``).
Data: scikit-learn's breast cancer (569 x 30, binary) and diabetes (442 x 10, regression), wine
(178 x 13, 3 classes), and ``benchmarks.scale.synthetic(5000)`` (binary, 15 numeric and 5 string
columns of 5 to 50 levels, three of which carry signal).

    python -m benchmarks.boosters_cv [--families lightgbm,catboost,xgboost] [--rows 5000]
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def datasets(rows: int) -> list[tuple[str, str, object, object]]:
    """``(name, task, features, target)`` of each data set."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    from benchmarks.scale import synthetic

    out = []
    for name, task, loader in (("breast_cancer", "binary", load_breast_cancer), ("wine", "multiclass", load_wine),
                               ("diabetes", "regression", load_diabetes)):
        frame = loader(as_frame=True).frame
        out.append((name, task, frame.drop(columns="target"), frame["target"].to_numpy()))
    frame = synthetic(rows)
    out.append((f"synthetic_{rows}_cat", "binary", frame.drop(columns="y"), frame["y"].to_numpy()))
    return out


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    from automl.data import Schema
    from automl.evaluation import Evaluator, default_metric, make_cv_plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="lightgbm,catboost,xgboost")
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args(argv)
    print("| data set | task | metric | family | CV mean | CV std | fit s (5 folds) |")
    print("|---|---|---|---|---|---|---|")
    for name, task, features, target in datasets(args.rows):
        X = Schema.from_frame(features).transform(features, warn=False)
        y = target if task == "regression" else np.unique(target, return_inverse=True)[1]
        metric = default_metric(task)
        splits = make_cv_plan(5, task).splits(len(y), y, None)
        n_classes = 0 if task == "regression" else int(y.max()) + 1
        evaluator = Evaluator([metric], splits, task=task, n_classes=n_classes, seed=0, n_jobs=1)
        for family in args.families.split(","):
            result = evaluator.evaluate(family, {}, X, y)
            scores = np.asarray(result.fold_scores[metric.name])
            print(f"| {name} | {task} | {metric.name} | {family} | {scores.mean():.4f} | {scores.std():.4f} "
                  f"| {result.fit_time:.1f} |", flush=True)


if __name__ == "__main__":
    main()
