"""Cluster benchmark: trials per minute with W workers launched as Dask tasks against W hand-started ones.

Same study kind as benchmarks/workers.py: a synthetic binary frame (``--rows`` 500 x 10 numeric
columns, seed 0) in a CSV, family ``linear``, 5-fold CV, ``pruner: none``, ``n_jobs: 1``, tracking
off, a ``--budget`` (default 30 s) per run, on one store (``--store``: ``postgresql``, a throw-away
local server started as in the tests, or ``--postgres-url``; ``journal+postgresql``, the journal in a
table of that server; or ``journal``). For each W in
``--workers`` (default 1, 2, 4), two runs of W + 1 processes on this host:

- ``hand``: ``automl sweep`` plus W ``automl worker --study NAME`` started at the same moment;
- ``cluster``: ``automl sweep --workers W+1 --cluster ADDRESS``, its W helpers run as Dask tasks on a
  ``distributed.LocalCluster`` of ``max(W)`` worker processes (one thread each), started once before
  the runs (its start-up time is printed, not counted).

Measured from the study after the run (start-up and imports not counted):

    trials/min = completed trials / (last datetime_complete - first datetime_start) * 60
    per-process trial ms = (last datetime_complete - first datetime_start) * processes / completed trials

The engine's cost per trial is the per-process trial time of ``cluster`` minus that of ``hand``
with the same W (what running the helpers under Dask adds to each trial; noise is a few ms).

    python -m benchmarks.cluster --budget 30 --workers 1,2,4 --store postgresql
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.tasks import REPO_ROOT, write_rows
from benchmarks.workers import _env, measure, store_url, sweep_file, write_data

SCRIPT = str(Path(sys.executable).with_name("automl"))
FIELDS = ["mode", "workers", "processes", "budget_s", "complete", "failed", "window_s", "trials_per_min",
          "per_process_trial_ms", "median_trial_ms", "distinct_workers", "errors"]


def start_cluster(n_workers: int) -> tuple[object, object, float]:
    """A LocalCluster of ``n_workers`` processes (one thread each) and its client; the seconds it took."""
    os.environ.update(_env())  # the Dask workers, and their automl workers, inherit it
    started = time.perf_counter()
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(n_workers)
    return cluster, client, time.perf_counter() - started


def run(folder: Path, url: str, mode: str, workers: int, budget: float, address: str) -> dict:
    study = f"{mode}-{workers}"
    path = sweep_file(folder, url, budget, study)
    if mode == "cluster":
        commands = [[SCRIPT, "sweep", str(path), "--workers", str(workers + 1), "--cluster", address]]
    else:
        commands = [[SCRIPT, "sweep", str(path)]]
        commands += [[SCRIPT, "worker", "--study", study, "--storage", url] for _ in range(workers)]
    processes = [subprocess.Popen(c, cwd=folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]
    errors = []
    for process in processes:
        out, err = process.communicate(timeout=budget * 3 + 180)
        if process.returncode != 0 or "Traceback" in err or "warning" in err:
            errors.append(f"rc={process.returncode}: {err.strip()[-300:]}")
    import optuna

    from automl.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    trials = optuna.load_study(study_name=study, storage=open_storage(url, study)).get_trials()
    row = {"mode": mode, "workers": workers, "processes": workers + 1, "budget_s": budget, **measure(trials),
           "errors": " | ".join(errors)}
    row["per_process_trial_ms"] = (round(row["window_s"] * (workers + 1) / row["complete"] * 1000, 2)
                                   if row["complete"] else float("nan"))
    return row


def report(rows: list[dict], counts: list[int], startup: float) -> None:
    print(f"\nLocalCluster of {max(counts)} worker processes + client started in {startup:.2f} s (not counted)")
    print(f"{'mode':8s} {'W':>2s} {'procs':>5s} {'complete':>8s} {'trials/min':>10s} {'ms/trial/proc':>13s} "
          f"{'median ms':>9s} {'ids':>3s}")
    for row in rows:
        print(f"{row['mode']:8s} {row['workers']:2d} {row['processes']:5d} {row['complete']:8d} "
              f"{row['trials_per_min']:10.1f} {row['per_process_trial_ms']:13.2f} {row['median_trial_ms']:9.2f} "
              f"{row.get('distinct_workers', 0):3d}  {row['errors']}")
    print("\nengine cost per trial (cluster - hand, per process):")
    for workers in counts:
        hand = next(r for r in rows if r["mode"] == "hand" and r["workers"] == workers)
        dask = next(r for r in rows if r["mode"] == "cluster" and r["workers"] == workers)
        ratio = dask["trials_per_min"] / hand["trials_per_min"] if hand["trials_per_min"] else float("nan")
        print(f"  W={workers}: {dask['per_process_trial_ms'] - hand['per_process_trial_ms']:+.2f} ms "
              f"(trials/min cluster / hand = {ratio:.2f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per run (default 30)")
    parser.add_argument("--workers", default="1,2,4", help="helper counts W (default 1,2,4)")
    parser.add_argument("--store", default="postgresql", choices=["postgresql", "journal+postgresql", "journal"])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database (default: start a local server)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "cluster.csv"))
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    servers: list = []
    rows: list[dict] = []
    cluster, client, startup = start_cluster(max(counts))
    try:
        with tempfile.TemporaryDirectory(prefix="automl-cluster-") as tmp:
            folder = Path(tmp)
            write_data(folder, args.rows)
            for workers in counts:
                for mode in ("hand", "cluster"):
                    url = store_url(args.store, folder, f"{mode}-{workers}", servers, args.postgres_url)
                    row = run(folder, url, mode, workers, args.budget, cluster.scheduler_address)  # type: ignore[attr-defined]
                    rows.append(row)
                    print(f"{mode:8s} W={workers}: {row['trials_per_min']:8.1f} trials/min, {row['complete']} complete "
                          f"by {row.get('distinct_workers')} processes {row['errors']}", flush=True)
    finally:
        client.close()  # type: ignore[attr-defined]
        cluster.close()  # type: ignore[attr-defined]
        for server in servers:
            server.stop()
    report(rows, counts, startup)
    write_rows(args.out, FIELDS, rows)
    print(f"\n{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, store {args.store}; results in {args.out}")


if __name__ == "__main__":
    main()
