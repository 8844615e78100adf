"""What MLflow tracking costs per trial, on a SQLite store.

The same search (a fast family on a small synthetic frame, fixed seed, no
pruning) runs twice in this process: without tracking and with the MLflow
tracker on a fresh ``sqlite:///`` store (plots and model logging off, so only
the per-trial runs are measured). Reported:

- the median (and p90) extra wall time of a trial on the search's critical
  path: trial duration with tracking minus without, trial by trial;
- the extra wall time of the whole fit divided by the number of trials, which
  includes creating the parent run and waiting for the background writer at
  the end.

Usage:
    python -m benchmarks.tracking_cost --trials 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 8)), columns=[f"f{i}" for i in range(8)])
    return X.assign(y=(X["f0"] + rng.normal(size=n) > 0).astype(int))


def _fit(df: pd.DataFrame, trials: int, tracking: object) -> tuple[float, pd.DataFrame]:
    import automl

    started = time.perf_counter()
    model = automl.fit(df, target="y", n_trials=trials, families=["linear"], cv=3, n_jobs=1, pruner="none",
                       seed=0, tracking=tracking)
    return time.perf_counter() - started, model.leaderboard().sort_values("trial")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args(argv)

    from automl.tracking.mlflow_tracker import MLflowTracker

    df = _fit_df = _frame()
    _fit(df, 3, False)  # warm up imports and caches
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        MLflowTracker(uri, plots=False, log_model=False).client.search_experiments()  # create the schema first
        plain_wall, plain = _fit(df, args.trials, False)
        tracker = MLflowTracker(uri, plots=False, log_model=False)
        tracked_wall, tracked = _fit(df, args.trials, tracker)
        import mlflow

        client = mlflow.MlflowClient(uri)
        experiment = client.get_experiment_by_name("automl")
        n_runs = len(client.search_runs([experiment.experiment_id], max_results=50000))
    extra = (tracked["duration"].to_numpy() - plain["duration"].to_numpy()) * 1000
    print(f"{args.trials} trials, family linear, cv=3, 300 x 8 synthetic frame, sqlite store, plots/model off")
    print(f"runs in the store: {n_runs} (parent + {n_runs - 1} children)")
    print("| measure | value |")
    print("|---|---|")
    print(f"| median trial duration, no tracking | {np.median(plain['duration']) * 1000:.1f} ms |")
    print(f"| median trial duration, tracking | {np.median(tracked['duration']) * 1000:.1f} ms |")
    print(f"| critical-path cost per trial, median (p90) | {np.median(extra):.1f} ms ({np.percentile(extra, 90):.1f} ms) |")
    print(f"| whole-fit cost per trial (incl. parent run, final flush) | "
          f"{(tracked_wall - plain_wall) / args.trials * 1000:.1f} ms |")
    print(f"| fit wall, no tracking / tracking | {plain_wall:.1f} s / {tracked_wall:.1f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
