"""Issue 16: the boosters' early-stopping patience, under 5-fold CV of their defaults, on data outside the suites.

For each off-suite table (:mod:`benchmarks.ab`'s pools; training part of outer seed 0 only, the test part is never
read) and each family, one ``automl.fit`` of the family's defaults (``n_trials=1``, ``cv=5``, ``seed=0``,
``target_transform="none"``, ``ensemble=False``, tracking off) per patience ``ROUNDS:RATE``, pinned with
``search_space={family: {"early_stopping_rounds": ROUNDS, "early_stopping_rate": RATE}}`` (patience ``ROUNDS + RATE
x`` the best round so far: :func:`automl.families._early_stopping.patience_rounds`). Printed and written to ``--out``:
the CV mean of the task's metric (roc_auc, log_loss or rmse), the 5 folds' fit time, and each value's relative gain
over the first.

    python -m benchmarks.patience_cv --families lightgbm,xgboost,catboost --values 50:0,50:0.3 --max-rows 20000 \\
        --out benchmarks/ab_runs/patience_cv.csv
"""

from __future__ import annotations

import argparse
import logging
import warnings

import numpy as np

from benchmarks.ab import pool_tasks
from benchmarks.offsuite import load_offsuite_split
from benchmarks.tasks import relative_gain, write_rows

FIELDS = ["dataset", "task", "metric", "rows", "family", "patience", "cv_score", "fit_time", "error"]


def one_fit(train: object, task: object, family: str, value: str) -> tuple[float, float]:
    """``(CV mean, fit time of the folds)`` of the family's defaults with patience ``value``."""
    import automl

    model = automl.fit(train, target=task.target, families=[family], n_trials=1, cv=5, seed=0, tracking=False,
                       n_jobs=1, ensemble=False, target_transform="none",
                       search_space={family: {"early_stopping_rounds": int(value.split(":")[0]),
                                              "early_stopping_rate": float(value.split(":")[1])}})
    board = model.leaderboard_
    column = f"{task.metric}_mean"
    return float(board[column].iloc[0]), float(board["fit_time"].iloc[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="lightgbm,catboost,xgboost")
    parser.add_argument("--values", default="50:0,50:0.3", help="ROUNDS:RATE patiences, the first the baseline")
    parser.add_argument("--pool", default="both")
    parser.add_argument("--datasets", default="")
    parser.add_argument("--max-rows", type=int, default=20000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    values = args.values.split(",")
    rows: list[dict] = []
    gains: dict[tuple[str, str], list[float]] = {}
    for task in pool_tasks(args.pool, [n for n in args.datasets.split(",") if n]):
        train, _ = load_offsuite_split(task, 0)
        if len(train) > args.max_rows:
            continue
        for family in args.families.split(","):
            scores = {}
            for value in values:
                record = {"dataset": task.name, "task": task.task, "metric": task.metric, "rows": len(train),
                          "family": family, "patience": value, "cv_score": "", "fit_time": "", "error": ""}
                try:
                    score, seconds = one_fit(train, task, family, value)
                    record.update(cv_score=score, fit_time=round(seconds, 2))
                    scores[value] = (score, seconds)
                except Exception as exc:  # noqa: BLE001 - a failing table is reported, the study goes on
                    record["error"] = f"{type(exc).__name__}: {exc}"[:200]
                rows.append(record)
                write_rows(args.out, FIELDS, rows)
            if values[0] not in scores:
                continue
            base, base_s = scores[values[0]]
            parts = []
            for value in values[1:]:
                if value in scores:
                    gain = relative_gain(task.metric, scores[value][0], base)
                    gains.setdefault((family, value), []).append(gain)
                    parts.append(f"{value}: {scores[value][0]:.5g} ({gain:+.2%}, {scores[value][1] / max(base_s, 1e-9):.2f}x time)")
            print(f"{task.name:22s} {len(train):6d} {family:9s} {values[0]}: {base:.5g} ({base_s:.1f}s) | " + " | ".join(parts),
                  flush=True)
    for (family, value), values_ in sorted(gains.items(), key=str):
        g = np.asarray(values_)
        print(f"{family} {value}: {len(g)} tables, wins {(g > 0.001).sum()} / ties {(abs(g) <= 0.001).sum()} / "
              f"losses {(g < -0.001).sum()}, mean {g.mean():+.2%}, median {np.median(g):+.2%}")


if __name__ == "__main__":
    main()
