"""Which folds ``cv=None`` gives each off-suite table at a budget (its seed-0 training split): the tables a change
to the fold rules touches, chosen before any fit.

    python -m benchmarks.cv_plans --budget 60                      # table, task, rows, columns, plan
    python -m benchmarks.cv_plans --budget 60 --plan repeated --names   # the comma list for benchmarks.ab --datasets
"""

from __future__ import annotations

import argparse

from automl.evaluation.splitters import make_cv_plan
from benchmarks.ab import POOLS
from benchmarks.offsuite import load_offsuite_split


def plans(budget: float, pool: str = "both") -> list[tuple[str, str, int, int, str]]:
    """``(table, task, training rows, feature columns, plan)`` per table of ``pool``."""
    rows = []
    for task in POOLS[pool]:
        train, _ = load_offsuite_split(task, 0)
        y = train[task.target].to_numpy()
        plan = make_cv_plan(None, task.task, y=y, time_budget=budget, n_columns=train.shape[1] - 1)
        rows.append((task.name, task.task, len(train), train.shape[1] - 1, plan.description))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--pool", default="both", choices=sorted(POOLS))
    parser.add_argument("--plan", default="", help="only the tables whose plan starts with this (e.g. repeated)")
    parser.add_argument("--names", action="store_true", help="print the tables' names as one comma list")
    args = parser.parse_args(argv)
    chosen = [r for r in plans(args.budget, args.pool) if r[4].startswith(args.plan)]
    if args.names:
        print(",".join(r[0] for r in chosen))
        return
    for row in chosen:
        print(*row, sep="\t")


if __name__ == "__main__":
    main()
