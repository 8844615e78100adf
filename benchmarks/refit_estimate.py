"""How the search's estimate of a refit compares with the refit itself, on off-suite tables.

    taskset -c 0 python -m benchmarks.refit_estimate hotel_rate star_math trump_vote --budget 40

Fits each table's training part (outer seed 0; the test part is not read) with ``ensemble=False`` and
``final_model="refit"``, so that the best trial is always refitted on all rows, and prints one JSON line per
table: the best trial's family, its folds' mean seconds, the estimate the search reserved for its refit
(:func:`automl.search.policy.refit_seconds`) and the refit's own seconds (``refit_time_``: the final stage's
single-model time, worker overhead included). The search stops that estimate (three times over with the ensemble
on) before the budget's end, so an estimate far above the refit leaves the budget's end unused.
"""

from __future__ import annotations

import argparse
import json
import warnings


def measure(name: str, budget: float) -> dict[str, object]:
    """One table's best trial: its refit's estimate and its refit's seconds."""
    import automl
    from automl._fit.problem import prepare_problem
    from automl.config import resolve_settings
    from automl.search.policy import refit_seconds
    from benchmarks.ab import pool_tasks
    from benchmarks.offsuite import load_offsuite_split

    task = pool_tasks("both", [name])[0]
    train, _ = load_offsuite_split(task, 0)  # the test part is dropped unread
    target = task.as_task().target
    settings = {"time_budget": budget, "n_jobs": 1, "seed": 0, "tracking": False, "ensemble": False,
                "final_model": "refit"}
    model = automl.fit(train, target=target, **settings)
    # the refit's scale as the search had it (repeated folds and holdouts included), from the fit's own plan
    scale = prepare_problem(resolve_settings(settings), train.drop(columns=[target]), train[target]).refit_scale
    board = model.leaderboard_
    row = board[board["trial"] == model.best_trial_].iloc[0]
    folds = int(row["n_folds"])
    return {"table": name, "family": model.best_family_, "rows": len(train), "folds": folds,
            "fold_s": round(float(row["fit_time"]) / folds, 2),
            "estimate": round(refit_seconds(float(row["fit_time"]), folds, scale), 2),
            "actual": round(float(model.refit_time_), 2), "source": model.model_source_}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tables", nargs="+", help="off-suite table names (benchmarks.ab's pool 'both')")
    parser.add_argument("--budget", type=float, default=40.0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    for name in args.tables:
        print(json.dumps(measure(name, args.budget)), flush=True)


if __name__ == "__main__":
    main()
