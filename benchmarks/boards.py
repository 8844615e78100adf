"""Each system's own leaderboard on a suite data set's training split; the test part is never read.

    taskset -c 0 python -m benchmarks.boards satellite --system automl --budget 60
    taskset -c 1 ../agvenv/bin/python -m benchmarks.boards satellite --system autogluon --budget 60

fits ``automl`` (3-fold CV, its defaults, tracking off) or AutoGluon (``medium_quality`` at 60 s, as in
``benchmarks.systems``; its holdout carved from the same training split) on the training part of the
outer split (``--outer-seed``, 0 by default) and prints what the system itself measured: per trial or
model, its validation score (automl: the trial's CV score; AutoGluon: ``score_val``, higher is better,
so RMSE and log loss show negated) and its fit time. This is how issue 16 item 4 reads *why* a data
set is lost, from the systems' own validation numbers rather than from the test rows. ``--save`` writes
the board as CSV; ``--log`` prints automl's timeline (each trial's end, the refit's and the ensemble's start).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from benchmarks.tasks import Task, load_split, load_tasks


def automl_board(task: Task, train: pd.DataFrame, budget: float, seed: int) -> pd.DataFrame:
    """automl's leaderboard after a default fit: one row per trial, the ensemble's row too."""
    import automl

    started = time.perf_counter()
    model = automl.fit(train, target=task.target, time_budget=budget, n_jobs=1, seed=seed, tracking=False)
    print(f"automl fit {time.perf_counter() - started:.1f} s; best {model.best_family_}; "
          f"ensemble {getattr(model, 'ensemble_', None)}")
    return model.leaderboard()


def autogluon_board(task: Task, train: pd.DataFrame, budget: float, seed: int) -> pd.DataFrame:
    """AutoGluon's own leaderboard (``score_val`` on its holdout) after the benchmark's fit."""
    import tempfile

    from autogluon.tabular import TabularPredictor

    from benchmarks.systems import AUTOGLUON_METRICS, autogluon_preset

    metric = AUTOGLUON_METRICS[task.metric]
    with tempfile.TemporaryDirectory() as folder:
        predictor = TabularPredictor(label=task.target, problem_type=task.task, eval_metric=metric, path=folder,
                                     verbosity=0)
        started = time.perf_counter()
        predictor.fit(train, time_limit=budget, presets=autogluon_preset(budget), num_cpus=1, num_gpus=0)
        print(f"autogluon fit {time.perf_counter() - started:.1f} s; best {predictor.model_best}")
        board = predictor.leaderboard(silent=True)
    return board[["model", "score_val", "fit_time", "pred_time_val", "stack_level"]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--system", choices=("automl", "autogluon"), default="automl")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--outer-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--suite", default=None)
    parser.add_argument("--save", default=None)
    parser.add_argument("--log", action="store_true", help="print automl's timeline (its INFO log, ms from the start)")
    args = parser.parse_args(argv)
    if args.log:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(relativeCreated)8.0f %(name)s %(message)s")
        logging.getLogger("automl").setLevel(logging.INFO)
    task = load_tasks(args.suite, [args.dataset])[0]
    train, _ = load_split(task, args.outer_seed)  # the test part is dropped unread
    make = automl_board if args.system == "automl" else autogluon_board
    board = make(task, train, args.budget, args.seed)
    with pd.option_context("display.max_rows", 200, "display.width", 200, "display.max_columns", 20):
        print(board)
    if args.save:
        board.to_csv(args.save, index=False)


if __name__ == "__main__":
    main()
