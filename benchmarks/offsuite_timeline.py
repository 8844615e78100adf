"""One off-suite fit's timeline and board, on its training part only: why a stack ran or not, where time went.

The table is split as :mod:`benchmarks.ab` splits it (its 20 % test part is never read here); ``automl.fit`` runs
with its defaults, ``time_budget=BUDGET``, ``n_jobs=1``, ``seed=0`` and tracking off, and every INFO message of
the ``automl`` logger is printed with the seconds since the call began, then the top of the leaderboard.

``taskset -c 1 python -m benchmarks.offsuite_timeline hpc_job_class 60``
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("budget", type=float)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import automl
    from benchmarks.ab import pool_tasks
    from benchmarks.offsuite import load_offsuite_split

    task = pool_tasks("both", [args.dataset])[0]
    train, _ = load_offsuite_split(task, 0)
    started = time.monotonic()

    class Timeline(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            print(f"{time.monotonic() - started:7.1f} {record.getMessage()[:240]}", flush=True)

    logger = logging.getLogger("automl")
    logger.addHandler(Timeline())
    logger.setLevel(logging.INFO)
    model = automl.fit(train, target=task.target, time_budget=args.budget, n_jobs=1, seed=0, tracking=False,
                       task=task.task)
    print(f"fit {time.monotonic() - started:.1f} s; {model.model_source_}; CV {model.best_score_:.5g}")
    board = model.leaderboard()
    print(board[["rank", "trial", "family", board.columns[4], "fit_time", "state"]].head(12).to_string())


if __name__ == "__main__":
    main()
